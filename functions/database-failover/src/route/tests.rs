use failover_core::intake::parse;
use serde_json::json;

use super::*;

/// Routed by a function deployed in the event's own region.
#[test]
fn an_event_from_another_account_is_a_logged_skip_and_one_from_the_own_account_is_routed() {
    let event = sample("rds-instance-failure.json");
    let Event::Rds(rds) = &event else { panic!("an RDS event") };
    let own = "arn:aws:lambda:us-east-1:999999999999:function:database-failover";
    let skip = foreign_account(&event, &Home::new(own, "us-east-1")).expect("another account's event");
    assert!(matches!(&skip, Route::Skip(r) if r.contains("not this function's account 999999999999")), "{skip:?}");
    let same = format!("arn:aws:lambda:us-east-1:{}:function:database-failover", rds.account);
    assert_eq!(foreign_account(&event, &Home::new(&same, "us-east-1")), None);
    assert_eq!(foreign_account(&event, &Home::new("not-an-arn", "us-east-1")), None, "unknown: nothing to compare");
}

fn route(event: &Event, failure_event_ids: &[String]) -> Route {
    let region = match event {
        Event::Rds(rds) => rds.region.clone(),
        Event::Alarm(alarm) => alarm.region.clone(),
        _ => EAST.to_owned(),
    };
    super::route(event, failure_event_ids, &region)
}

#[test]
fn an_event_about_another_region_is_skipped() {
    let event = sample("rds-instance-failure.json");
    assert!(matches!(super::route(&event, &ids(), EAST), Route::Instance { .. }));
    assert!(matches!(super::route(&event, &ids(), WEST), Route::Skip(r) if r.contains("not this function's region")));
    let alarm = sample("alarm-action-db-instance.json");
    assert!(matches!(super::route(&alarm, &ids(), WEST), Route::Skip(_)));
}

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";

fn sample(name: &str) -> failover_core::intake::Event {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events").join(name);
    parse(&serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()).unwrap()
}

#[test]
fn the_failure_time_is_read_from_each_delivery_paths_timestamp() {
    // 2024-05-01T10:05:00Z: the alarm action writes `+0000`, as CloudWatch does.
    assert_eq!(failure_time(&sample("alarm-action-db-instance.json")), Some(1_714_557_900));
    assert!(failure_time(&sample("rds-instance-failure.json")).is_some());
    assert!(failure_time(&sample("sns-rds-subscription-failure.json")).is_some());
    assert_eq!(failure_time(&sample("manual-database-status.json")), None);
}

fn ids() -> Vec<String> {
    crate::config::FAILURE_EVENT_IDS.default.unwrap_or_default().split(',').map(str::to_owned).collect()
}

#[test]
fn routing_sends_each_sample_where_it_belongs() {
    assert!(matches!(route(&sample("rds-instance-failure.json"), &ids()),
        Route::Instance { at, trigger: Trigger::FailureEvent { .. } } if at == DbRef::new(EAST, "orders-primary")));
    assert!(matches!(route(&sample("sns-eventbridge-rds-failure.json"), &ids()), Route::Instance { .. }));
    assert!(matches!(route(&sample("rds-instance-storage-full.json"), &ids()),
        Route::FixInPlace { event_id, .. } if event_id == "RDS-EVENT-0221"));
    let with_0221 = vec!["RDS-EVENT-0221".to_owned()];
    assert!(matches!(route(&sample("rds-instance-storage-full.json"), &with_0221), Route::Instance { .. }));
    assert!(matches!(route(&sample("rds-replica-replication-stopped.json"), &ids()),
        Route::Replica { at, .. } if at == DbRef::new(WEST, "orders-replica-west")));
    assert!(matches!(route(&sample("rds-cluster-failover-failed.json"), &ids()),
        Route::Cluster { id, .. } if id == "catalog-cluster"));
    assert!(matches!(route(&sample("rds-instance-failover-completed.json"), &ids()),
        Route::Inform(Info { event_id, cluster: false, .. }) if event_id == "RDS-EVENT-0049"));
    // AWS's own failovers, as sequences (Multi-AZ, Aurora): told, never acted on as failures.
    for (file, id, on_cluster) in [
        ("rds-multi-az-failover-1-started.json", "RDS-EVENT-0013", false),
        ("rds-multi-az-failover-2-completed.json", "RDS-EVENT-0015", false),
        ("rds-aurora-self-failover-1-started.json", "RDS-EVENT-0073", true),
        ("rds-aurora-self-failover-2-completed.json", "RDS-EVENT-0071", true),
    ] {
        let routed = route(&sample(file), &ids());
        assert!(
            matches!(&routed, Route::Inform(Info { event_id, cluster, .. }) if event_id == id && *cluster == on_cluster),
            "{file}: {routed:?}"
        );
    }
    assert!(matches!(
        route(&sample("alarm-action-db-instance.json"), &ids()),
        Route::Instance { trigger: Trigger::Alarm { .. }, .. }
    ));
    assert!(matches!(route(&sample("alarm-action-aurora-cluster.json"), &ids()), Route::Cluster { .. }));
}

#[test]
fn routing_skips_what_is_not_ours() {
    for name in [
        "alarm-eventbridge-target-group.json",
        "alarm-eventbridge-target-group-ok.json",
        "eventbridge-ec2-state-change.json",
    ] {
        assert!(matches!(route(&sample(name), &ids()), Route::Skip(_)), "{name}");
    }
    // A failure event id that is not configured.
    let only_0004 = vec!["RDS-EVENT-0004".to_owned()];
    assert!(matches!(route(&sample("rds-instance-failure.json"), &only_0004), Route::Skip(_)));
}

#[test]
fn routing_skips_database_alarms_that_leave_alarm_and_refuses_alarms_over_several_databases() {
    let text = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/alarm-action-db-instance.json"),
    )
    .unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    v["alarmData"]["state"]["value"] = json!("OK");
    v["alarmData"]["previousState"]["value"] = json!("ALARM");
    assert!(matches!(route(&parse(&v).unwrap(), &ids()), Route::Skip(r) if r.contains("never fails back")));
    v["alarmData"]["state"]["value"] = json!("ALARM");
    v["alarmData"]["previousState"]["value"] = json!("OK");
    let mut second = v["alarmData"]["configuration"]["metrics"][0].clone();
    second["metricStat"]["metric"]["dimensions"]["DBInstanceIdentifier"] = json!("billing");
    v["alarmData"]["configuration"]["metrics"].as_array_mut().unwrap().push(second);
    assert!(
        matches!(route(&parse(&v).unwrap(), &ids()), Route::Refuse(r) if r.reason.contains("orders-primary, billing"))
    );
}

#[test]
fn commands_name_their_database_in_the_given_region_or_the_home_one() {
    let promote = Command::Promote { region: None, replica: "orders-r1".into() };
    assert!(matches!(command(promote, EAST, false),
        Route::Promote { at, trigger: Trigger::ManualPromote { replica, force: false } } if at == DbRef::new(EAST, "orders-r1") && replica == at));
    let status = Command::Status { region: Some(WEST.into()), subject: Subject::Instance("orders".into()) };
    assert!(
        matches!(command(status, EAST, false), Route::Status { region, subject: Subject::Instance(id) } if region == WEST && id == "orders")
    );
    let failover =
        Command::FailoverCluster { region: None, cluster: "catalog".into(), target: Some("reader-b".into()) };
    assert!(matches!(command(failover, EAST, false),
        Route::Cluster { region, id, trigger: Trigger::ManualFailover { target: Some(t), force: false } } if region == EAST && id == "catalog" && t == "reader-b"));
}

fn described_instance(source: Option<&str>, cluster: Option<&str>) -> Instance {
    Instance {
        source: source.map(|s| DbRef::new(EAST, s)),
        cluster: cluster.map(str::to_owned),
        ..Instance::bare(EAST, "db-1")
    }
}

#[test]
fn a_described_instance_is_a_primary_or_is_reached_through_only_by_alarms() {
    let alarm = Trigger::Alarm { name: "latency".into() };
    let event = Trigger::FailureEvent { event_id: "RDS-EVENT-0031".into(), message: String::new() };
    assert_eq!(described(&DbRef::new(EAST, "db-1"), &described_instance(None, None), &event), Described::Primary);
    assert_eq!(described(&DbRef::new(EAST, "db-1"), &described_instance(None, None), &alarm), Described::Primary);

    let replica = described_instance(Some("orders"), None);
    assert!(matches!(described(&replica.at, &replica, &alarm),
        Described::ReplicaSide(Trigger::ReplicaSide { replica: r, cause }) if r == replica.at && cause == "alarm latency"));
    assert!(
        matches!(described(&replica.at, &replica, &event), Described::Skip(r) if r.contains("a failed replica is not failed over"))
    );

    let member = described_instance(None, Some("catalog"));
    assert_eq!(described(&member.at, &member, &alarm), Described::ClusterMember { cluster: "catalog".into() });
    assert!(
        matches!(described(&member.at, &member, &event), Described::Skip(r) if r.contains("over by itself on instance failures"))
    );
}

#[test]
fn a_region_switch_step_is_routed_as_its_command_and_bad_metadata_never_reaches_the_command() {
    let lookup = |name: &str| match name {
        "NOTIFICATION_TOPIC_ARN" => Some("arn:aws:sns:us-east-1:123456789012:failover".to_owned()),
        "LEDGER_TABLE" => Some("failover-ledger".to_owned()),
        _ => None,
    };
    let config = Config::from_lookup(&lookup).unwrap();
    let home = Home::new("arn:aws:sns:us-east-1:123456789012:failover", EAST);
    let event = sample("region-switch-database-promote.json");
    assert_eq!(event.region_switch().map(|o| o.step_name.as_str()), Some("promote-orders-database"));
    let routed = invocation(&event, &home, &config).unwrap();
    let at = DbRef::new(EAST, "orders-replica-west");
    assert_eq!(
        routed,
        Routed {
            route: Route::Promote { trigger: Trigger::ManualPromote { replica: at.clone(), force: true }, at },
            dry_run: false,
            force: true
        },
        "the same route as the command without the metadata"
    );
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events/region-switch-database-promote.json");
    let mut payload: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    payload["PlanArn"] = json!("orders-failover");
    assert!(parse(&payload).unwrap_err().to_string().contains("PlanArn"));
}

#[test]
fn a_cluster_alarm_or_failed_failover_in_another_region_is_a_global_primary_to_decide_on() {
    let alarm = parse(&json!({
        "source": "aws.cloudwatch", "alarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:writer",
        "accountId": "123456789012", "time": "2026-12-07T10:00:00Z", "region": "us-east-1",
        "alarmData": {"alarmName": "writer",
            "state": {"value": "ALARM", "reason": "r", "timestamp": "2026-12-07T10:00:00.000+0000"},
            "previousState": {"value": "OK", "reason": "r", "timestamp": "2026-12-07T09:00:00.000+0000"},
            "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/RDS",
                "name": "WriteLatency", "dimensions": {"DBClusterIdentifier": "orders-east"}}, "period": 60,
                "stat": "Maximum"}, "returnData": true}]}}
    }))
    .unwrap();
    assert_eq!(
        super::global_primary(&alarm, "us-west-2"),
        Some(Route::GlobalPrimary {
            region: "us-east-1".into(),
            id: "orders-east".into(),
            cause: "alarm writer".into()
        })
    );
    assert_eq!(super::global_primary(&alarm, "us-east-1"), None, "the own region's cluster: the cluster path");
}
