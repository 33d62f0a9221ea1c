use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use super::*;

fn events_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../events")
}

fn sample(name: &str) -> Value {
    let path = events_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name} is not JSON: {e}"))
}

fn alarm(name: &str) -> AlarmChange {
    match parse(&sample(name)) {
        Ok(Event::Alarm(alarm)) => alarm,
        other => panic!("{name}: expected an alarm, got {other:?}"),
    }
}

fn rds(name: &str) -> RdsEvent {
    match parse(&sample(name)) {
        Ok(Event::Rds(event)) => event,
        other => panic!("{name}: expected an RDS event, got {other:?}"),
    }
}

const TG: &str = "targetgroup/web/73e2d6bc24d8a067";
const LB: &str = "app/shop-alb/50dc6c495c0c9188";

/// The kind every sample must parse into. A sample added to `events/` without a line here fails the test, so
/// no sample goes unchecked.
fn expected_kind(file: &str) -> &'static str {
    match file {
        f if f.starts_with("alarm-") => "alarm",
        f if f.starts_with("rds-") || f.starts_with("sns-eventbridge-rds") || f.starts_with("sns-rds-subscription") => {
            "rds"
        }
        f if f.starts_with("manual-") || f.starts_with("region-switch-") => "manual",
        // Not ours to parse: target-failover routes the restore holds' schedule tick from it.
        "eventbridge-ec2-state-change.json" | "schedule-restore-holds.json" => "unsupported",
        other => panic!("no expectation for events/{other}: name it alarm-*, rds-*, manual-* or add it here"),
    }
}

#[test]
fn every_sample_in_events_parses_into_its_kind() {
    let mut count = 0;
    for entry in std::fs::read_dir(events_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("json") {
            continue;
        }
        let file = path.file_name().unwrap().to_str().unwrap().to_owned();
        let event = parse(&sample(&file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let kind = match event {
            Event::Alarm(_) => "alarm",
            Event::Rds(_) => "rds",
            Event::Manual(_) => "manual",
            Event::Unsupported { .. } => "unsupported",
        };
        assert_eq!(kind, expected_kind(&file), "{file}");
        count += 1;
    }
    assert!(count >= 15, "events/ must hold at least 15 samples, found {count}");
}

#[test]
fn eventbridge_target_group_alarm_is_normalised() {
    let a = alarm("alarm-eventbridge-target-group.json");
    assert_eq!(a.delivery, Delivery::EventBridge);
    assert_eq!(a.alarm_name, "failover-web-unhealthy-hosts");
    assert_eq!(a.alarm_arn, "arn:aws:cloudwatch:us-east-1:123456789012:alarm:failover-web-unhealthy-hosts");
    assert_eq!((a.account.as_str(), a.region.as_str()), ("123456789012", "us-east-1"));
    assert_eq!((a.state, a.previous_state), (AlarmState::Alarm, Some(AlarmState::Ok)));
    assert!(a.entered_alarm());
    assert_eq!(a.time.as_deref(), Some("2024-05-01T10:00:00.120+0000"));
    assert_eq!(a.kind, AlarmKind::Metric);
    assert_eq!(a.metrics.len(), 1);
    let m = &a.metrics[0];
    assert_eq!(m.namespace.as_deref(), Some("AWS/ApplicationELB"));
    assert_eq!(m.name.as_deref(), Some("UnHealthyHostCount"));
    assert_eq!(m.period, Some(60));
    assert_eq!(a.dimension_values("TargetGroup"), vec![TG]);
    assert_eq!(a.dimension_values("LoadBalancer"), vec![LB]);
    assert!(a.reason.starts_with("Threshold Crossed"));
    assert_eq!(a.delivery_id.as_deref(), Some("c4c1c1c9-6542-e61b-6ef0-8c4d36933a92"));
}

#[test]
fn sns_alarm_takes_region_from_the_arn_and_dimensions_from_a_list() {
    let a = alarm("alarm-sns-target-group.json");
    let b = alarm("alarm-eventbridge-target-group.json");
    assert_eq!(a.delivery, Delivery::Sns);
    assert_eq!(a.region, "us-east-1", "never the display name 'US East (N. Virginia)'");
    assert_eq!(a.account, "123456789012");
    assert_eq!(a.description, None, "AlarmDescription null is absent");
    assert_eq!(a.metrics[0].dimensions, b.metrics[0].dimensions, "list and map give the same dimensions");
    assert_eq!(a.metrics[0].stat.as_deref(), Some("MAXIMUM"));
    assert_eq!((a.alarm_name, a.state, a.previous_state), (b.alarm_name, b.state, b.previous_state));
}

#[test]
fn metric_math_alarms_keep_expressions_and_their_metrics_on_every_path() {
    for file in ["alarm-eventbridge-metric-math.json", "alarm-sns-metric-math.json"] {
        let a = alarm(file);
        assert_eq!(a.kind, AlarmKind::MetricMath, "{file}");
        assert_eq!(a.metrics.len(), 3, "{file}");
        assert_eq!(a.metrics[0].expression.as_deref(), Some("m1/m2*100"), "{file}");
        assert_eq!(a.metrics[0].namespace, None, "{file}");
        assert_eq!(a.dimension_values("TargetGroup"), vec![TG], "{file}: deduplicated across metrics");
    }
}

#[test]
fn anomaly_alarm_without_reason_data_or_description_parses() {
    let a = alarm("alarm-eventbridge-anomaly.json");
    assert_eq!(a.kind, AlarmKind::MetricMath);
    assert_eq!(a.description, None);
    assert!(a.metrics[0].expression.as_deref().unwrap().starts_with("ANOMALY_DETECTION_BAND"));
    assert_eq!(a.metrics[1].stat.as_deref(), Some("p99"));
}

#[test]
fn composite_alarm_has_no_metrics() {
    let a = alarm("alarm-eventbridge-composite.json");
    assert_eq!(a.kind, AlarmKind::Composite);
    assert!(a.metrics.is_empty());
    assert_eq!(a.description.as_deref(), Some("Web tier is failing"));
}

#[test]
fn periods_above_65535_seconds_and_other_states_parse() {
    let a = alarm("alarm-eventbridge-long-period.json");
    assert_eq!(a.metrics[0].period, Some(86_400));
    assert_eq!(a.previous_state, Some(AlarmState::InsufficientData));
    let i = alarm("alarm-eventbridge-insufficient-data.json");
    assert_eq!(i.state, AlarmState::InsufficientData);
    assert!(!i.entered_alarm());
    let ok = alarm("alarm-eventbridge-target-group-ok.json");
    assert_eq!((ok.state, ok.previous_state), (AlarmState::Ok, Some(AlarmState::Alarm)));
}

#[test]
fn instance_alarm_names_the_instance() {
    let a = alarm("alarm-eventbridge-instance.json");
    assert_eq!(a.dimension_values("InstanceId"), vec!["i-0abc1234def567890"]);
    assert!(a.dimension_values("TargetGroup").is_empty());
}

#[test]
fn a_blank_dimension_value_names_nothing() {
    for blank in ["", "  "] {
        let mut payload = sample("alarm-action-aurora-cluster.json");
        payload["alarmData"]["configuration"]["metrics"][0]["metricStat"]["metric"]["dimensions"]
            ["DBClusterIdentifier"] = json!(blank);
        let Ok(Event::Alarm(a)) = parse(&payload) else { panic!("{blank:?}: still an alarm") };
        assert!(a.dimension_values("DBClusterIdentifier").is_empty(), "{blank:?}");
    }
}

#[test]
fn direct_alarm_actions_parse_like_eventbridge() {
    let a = alarm("alarm-action-db-instance.json");
    assert_eq!(a.delivery, Delivery::AlarmAction);
    assert_eq!(a.alarm_name, "failover-orders-primary-write-latency");
    assert_eq!(a.region, "us-east-1");
    assert_eq!(a.dimension_values("DBInstanceIdentifier"), vec!["orders-primary"]);
    let c = alarm("alarm-action-aurora-cluster.json");
    assert_eq!(c.dimension_values("DBClusterIdentifier"), vec!["catalog-cluster"]);
    assert_eq!(c.metrics[0].dimensions.get("Role").map(String::as_str), Some("WRITER"));
}

#[test]
fn rds_events_take_the_identifier_from_the_arn() {
    let e = rds("rds-instance-failure.json");
    assert_eq!(e.source_type, RdsSourceType::Instance);
    assert_eq!(e.source_id, "orders-primary", "not 'rds:orders-primary'");
    assert_eq!(e.event_id, "RDS-EVENT-0031");
    assert_eq!(e.categories, vec!["failure"]);
    assert_eq!(e.message, "DB instance put into failed state.");
    assert_eq!(e.tags, BTreeMap::from([("failover:enabled".into(), "true".into()), ("team".into(), "orders".into())]));
    assert_eq!(rds("rds-instance-storage-full.json").event_id, "RDS-EVENT-0221");
    assert_eq!(rds("rds-instance-failover-completed.json").source_id, "billing-db");
    let c = rds("rds-cluster-failover-failed.json");
    assert_eq!((c.source_type, c.source_id.as_str()), (RdsSourceType::Cluster, "catalog-cluster"));
    let r = rds("rds-replica-replication-stopped.json");
    assert_eq!((r.region.as_str(), r.event_id.as_str()), ("us-west-2", "RDS-EVENT-0045"));
}

#[test]
fn an_eventbridge_event_inside_sns_is_unwrapped() {
    assert_eq!(rds("sns-eventbridge-rds-failure.json"), rds("rds-instance-failure.json").without_tags());
}

impl RdsEvent {
    fn without_tags(mut self) -> Self {
        self.tags.clear();
        self
    }
}

#[test]
fn an_rds_event_subscription_message_reads_like_the_eventbridge_event() {
    let subscription = rds("sns-rds-subscription-failure.json");
    let eventbridge = rds("rds-instance-failure.json");
    assert_eq!(subscription.time.as_deref(), Some("2024-05-01T10:07:12.123Z"));
    assert_eq!(subscription.categories, Vec::<String>::new(), "the native message names no category");
    assert_eq!(
        subscription,
        RdsEvent { categories: Vec::new(), time: Some("2024-05-01T10:07:12.123Z".into()), ..eventbridge }
    );
    // No fragment in the URL: the EventID message attribute; no Source ARN: the topic's region and account.
    let storage = rds("sns-rds-subscription-storage-full.json");
    assert_eq!((storage.event_id.as_str(), storage.source_id.as_str()), ("RDS-EVENT-0221", "orders-primary"));
    assert_eq!(
        (storage.source_type, storage.region.as_str(), storage.account.as_str()),
        (RdsSourceType::Instance, "us-east-1", "123456789012")
    );
}

#[test]
fn an_rds_event_subscription_message_without_an_event_id_is_rejected_with_its_path() {
    let mut v = sample("sns-rds-subscription-storage-full.json");
    v["Records"][0]["Sns"]["MessageAttributes"] = serde_json::json!({});
    let error = error_of(v);
    assert!(error.contains("Event ID") && error.contains("#RDS-EVENT-"), "{error}");
}

#[test]
fn rds_event_without_arn_falls_back_to_the_identifier_without_prefix() {
    let mut v = sample("rds-instance-failure.json");
    v["detail"].as_object_mut().unwrap().remove("SourceArn");
    match parse(&v) {
        Ok(Event::Rds(e)) => assert_eq!((e.source_id.as_str(), e.region.as_str()), ("orders-primary", "us-east-1")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn other_eventbridge_events_are_unsupported_not_errors() {
    assert_eq!(
        parse(&sample("eventbridge-ec2-state-change.json")),
        Ok(Event::Unsupported {
            source: "aws.ec2".into(),
            detail_type: "EC2 Instance State-change Notification".into()
        })
    );
}

#[test]
fn manual_commands_keep_their_body_and_dry_run() {
    let body = json!({"command": " status ", "dry_run": true, "target_group_arn": "arn:x"});
    match parse(&body) {
        Ok(Event::Manual(m)) => {
            assert_eq!(m.command, "status");
            assert_eq!(m.dry_run, Some(true));
            assert_eq!(m.body, body);
            assert_eq!(m.region_switch, None);
        }
        other => panic!("{other:?}"),
    }
}

fn error_of(payload: Value) -> String {
    parse(&payload).expect_err("must be rejected").to_string()
}

#[test]
fn missing_fields_are_named_with_the_event_kind() {
    let mut v = sample("alarm-eventbridge-target-group.json");
    v["detail"]["state"].as_object_mut().unwrap().remove("value");
    assert_eq!(error_of(v), "missing field detail.state.value in CloudWatch alarm event");

    let mut v = sample("alarm-action-db-instance.json");
    v.as_object_mut().unwrap().remove("alarmArn");
    assert_eq!(error_of(v), "missing field alarmArn in CloudWatch alarm action");

    let mut v = sample("rds-instance-failure.json");
    v["detail"].as_object_mut().unwrap().remove("EventID");
    assert_eq!(error_of(v), "missing field detail.EventID in RDS event");

    assert_eq!(
        error_of(json!({"Records": []})),
        "unrecognised event: an SNS notification carries exactly one record, got 0"
    );
}

#[test]
fn sns_alarm_message_errors_point_into_the_message() {
    let mut v = sample("alarm-sns-target-group.json");
    let mut message: Value = serde_json::from_str(v["Records"][0]["Sns"]["Message"].as_str().unwrap()).unwrap();
    message.as_object_mut().unwrap().remove("AlarmArn");
    v["Records"][0]["Sns"]["Message"] = Value::String(message.to_string());
    assert_eq!(error_of(v), "missing field Records[0].Sns.Message.AlarmArn in CloudWatch alarm SNS message");

    let mut v = sample("alarm-sns-target-group.json");
    v["Records"][0]["Sns"]["Message"] = json!("{not json");
    assert!(error_of(v).starts_with("field Records[0].Sns.Message in SNS notification is not valid JSON"));
}

#[test]
fn wrong_types_and_values_are_described() {
    let mut v = sample("alarm-eventbridge-target-group.json");
    v["detail"]["state"]["value"] = json!(3);
    assert_eq!(error_of(v), "field detail.state.value in CloudWatch alarm event must be a string, got number 3");
    let mut v = sample("alarm-eventbridge-target-group.json");
    v["detail"]["state"]["value"] = json!("BROKEN");
    assert_eq!(
        error_of(v),
        "field detail.state.value in CloudWatch alarm event has value \"BROKEN\", expected OK, ALARM or INSUFFICIENT_DATA"
    );
    let mut v = sample("alarm-eventbridge-target-group.json");
    v["resources"] = json!(["not-an-arn"]);
    assert!(error_of(v).contains("expected a CloudWatch alarm ARN"));
    let mut v = sample("alarm-eventbridge-target-group.json");
    v["detail"]["configuration"]["metrics"][0]["metricStat"]["period"] = json!("often");
    assert!(error_of(v).contains("metricStat.period in CloudWatch alarm event must be a non-negative whole number"));
}

#[test]
fn payloads_of_the_wrong_shape_are_rejected_clearly() {
    assert_eq!(error_of(json!({})), "unrecognised event: expected a CloudWatch alarm (EventBridge, SNS or alarm action), an RDS event or a manual command with a \"command\" field; got an object with keys []");
    assert!(error_of(json!([1, 2])).contains("must be a JSON object, got an array of 2 items"));
    assert!(error_of(json!("ALARM")).contains("must be a JSON object, got string \"ALARM\""));
    assert!(error_of(json!(null)).contains("got null"));
    assert_eq!(
        error_of(json!({"command": ""})),
        "field command in manual command has value \"\", expected a command name"
    );
    assert!(error_of(json!({"command": "status", "dry_run": "maybe"}))
        .contains("dry_run in manual command must be true or false"));
}

#[test]
fn huge_strings_are_cut_in_error_messages() {
    let huge = "A".repeat(1_000_000);
    let mut v = sample("alarm-eventbridge-target-group.json");
    v["detail"]["state"]["value"] = json!(huge);
    let message = error_of(v);
    assert!(message.len() < 300, "{} bytes", message.len());
    assert!(message.contains("(1000000 characters)"));
    let mut keys = serde_json::Map::new();
    for i in 0..1000 {
        keys.insert(format!("{i}{huge:.100}"), json!(i));
    }
    assert!(error_of(Value::Object(keys)).len() < 1000);
}

#[test]
fn split_arn_reads_every_part() {
    let parts = split_arn("arn:aws:elasticloadbalancing:eu-west-1:111122223333:targetgroup/web/1a2b").unwrap();
    assert_eq!(parts.partition, "aws");
    assert_eq!(parts.service, "elasticloadbalancing");
    assert_eq!(parts.region, "eu-west-1");
    assert_eq!(parts.account, "111122223333");
    assert_eq!(parts.resource, "targetgroup/web/1a2b");
    assert_eq!(split_arn("arn:aws:rds:us-east-1:1:db:a:b").unwrap().resource, "db:a:b");
    assert!(split_arn("nope").is_none());
    assert!(split_arn("arn:aws:sns").is_none());
}

#[test]
fn force_and_text_read_null_as_absent_and_reject_blank_or_mistyped_values() {
    use serde_json::json;
    assert_eq!(super::force(None), Ok(false));
    assert_eq!(super::force(Some(&json!(null))), Ok(false));
    assert_eq!(super::force(Some(&json!(true))), Ok(true));
    assert!(super::force(Some(&json!("yes"))).unwrap_err().0.contains("force must be true or false"));
    assert_eq!(super::text(Some(&json!(null)), "reason"), Ok(None));
    assert_eq!(super::text(Some(&json!("  drill ")), "reason"), Ok(Some("drill".to_owned())));
    assert!(super::text(Some(&json!("  ")), "reason").unwrap_err().0.contains("reason must be a non-empty string"));
    assert!(super::text(Some(&json!(3)), "by").is_err());
}
