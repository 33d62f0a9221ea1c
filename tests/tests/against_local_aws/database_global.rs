//! `database-failover` and an Aurora Global Database, against the local AWS (`tools/local_aws/rds_global.py`
//! emulates SwitchoverGlobalCluster, which moto lacks): `switchover-global` to a healthy secondary in sync makes
//! it the primary with no `AllowDataLoss`; a lagging one is refused, with the lag, and nothing changes.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use failover_core::ledger::State;
use failover_core::outcome::Outcome;
use integration_tests::database::*;
use integration_tests::Account;
use serde_json::{json, Value};

pub(crate) const GLOBAL: &str = "orders-global";

/// orders-global: orders-east (us-east-1, primary: writer e1, reader e2) and orders-west (us-west-2, secondary:
/// readers w1, w2), both clusters opted in. Returns the west account and the two cluster ARNs.
pub(crate) async fn global_database(env: &Env) -> (Account, String, String) {
    let west = env.account.in_region("us-west-2").await;
    let (east_rds, west_rds) = (env.account.rds(), west.rds());
    east_rds
        .create_db_cluster()
        .db_cluster_identifier("orders-east")
        .engine("aurora-postgresql")
        .master_username("admin")
        .master_user_password("password1")
        .tags(tag(OPT_IN, "true"))
        .send()
        .await
        .expect("east cluster");
    let east_arn = format!("arn:aws:rds:us-east-1:{}:cluster:orders-east", env.account.id);
    east_rds
        .create_global_cluster()
        .global_cluster_identifier(GLOBAL)
        .source_db_cluster_identifier(&east_arn)
        .send()
        .await
        .expect("global cluster");
    west_rds
        .create_db_cluster()
        .db_cluster_identifier("orders-west")
        .engine("aurora-postgresql")
        .global_cluster_identifier(GLOBAL)
        .tags(tag(OPT_IN, "true"))
        .send()
        .await
        .expect("west cluster");
    for (rds, cluster, ids) in [(&east_rds, "orders-east", ["e1", "e2"]), (&west_rds, "orders-west", ["w1", "w2"])] {
        for id in ids {
            rds.create_db_instance()
                .db_instance_identifier(id)
                .db_cluster_identifier(cluster)
                .engine("aurora-postgresql")
                .db_instance_class("db.r5.large")
                .send()
                .await
                .expect("instance");
        }
    }
    let west_arn = format!("arn:aws:rds:us-west-2:{}:cluster:orders-west", env.account.id);
    (west, east_arn, west_arn)
}

/// `AuroraGlobalDBReplicationLag` of orders-west (ms), in its region: one datapoint 30 s ago, with the dimensions
/// Aurora publishes it under (`DBClusterIdentifier` and `SourceRegion`, the primary's region; CloudWatch matches
/// the whole set, so a read by `DBClusterIdentifier` alone would not find it).
pub(crate) async fn replication_lag(west: &Account, ms: f64) {
    let datum = MetricDatum::builder()
        .metric_name("AuroraGlobalDBReplicationLag")
        .dimensions(Dimension::builder().name("DBClusterIdentifier").value("orders-west").build())
        .dimensions(Dimension::builder().name("SourceRegion").value("us-east-1").build())
        .timestamp(DateTime::from(SystemTime::now() - Duration::from_secs(30)))
        .value(ms)
        .unit(StandardUnit::Milliseconds)
        .build();
    west.cloudwatch().put_metric_data().namespace("AWS/RDS").metric_data(datum).send().await.expect("lag");
}

/// The ARNs of the global database's writer clusters (one), as AWS describes it, joined by commas.
pub(crate) async fn global_writer(env: &Env) -> String {
    let out = env.account.rds().describe_global_clusters().global_cluster_identifier(GLOBAL).send().await;
    let out = out.expect("describe global");
    let members = out.global_clusters()[0].global_cluster_members();
    members
        .iter()
        .filter(|m| m.is_writer() == Some(true))
        .filter_map(|m| m.db_cluster_arn())
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn switchover(target: &str) -> Value {
    json!({"command": "switchover-global", "global_cluster_identifier": GLOBAL, "target_db_cluster_identifier": target})
}

#[tokio::test]
async fn switchover_global_to_a_healthy_secondary_in_sync_makes_it_the_primary() {
    let env = Env::new().await;
    let (west, east_arn, west_arn) = global_database(&env).await;
    replication_lag(&west, 80.0).await;
    assert_eq!(global_writer(&env).await, east_arn);

    let response = ok(&env.app(&[]), switchover(&west_arn)).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(global_writer(&env).await, west_arn);
    assert_eq!(env.calls_answered("SwitchoverGlobalCluster"), 1);
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 0, "a switchover, never a failover with data loss");
    let records = env.records(&format!("global-cluster:{GLOBAL}")).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!((records[0].state, records[0].data["to"].as_str()), (State::Done, Some(west_arn.as_str())));
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let body = notes[0].body();
    assert_eq!(body["details"]["replication_lag_ms"], json!(80.0), "{body}");
    assert!(body["summary"].as_str().unwrap().contains("global writer endpoint"), "{body}");

    // The same command again: the target is the primary already; nothing is called.
    let again = ok(&env.app(&[]), switchover(&west_arn)).await;
    assert_eq!(again.status, Outcome::Info, "{again:?}");
    assert_eq!(env.calls_answered("SwitchoverGlobalCluster"), 1);
    let notes = env.notifications().await;
    let actions: Vec<&str> = notes.iter().map(|n| n.attribute("action")).collect();
    assert_eq!((actions, again.action.as_str()), (vec!["switchover-global"], "switchover-global"), "{notes:?}");
}

/// `status` and `readiness` show each member's place in the global database: the primary in its region, the
/// secondary in its own, read from `DescribeGlobalClusters`; and they follow a switchover.
#[tokio::test]
async fn status_and_readiness_show_a_global_database_member_as_primary_or_secondary() {
    let env = Env::new().await;
    let (west, _, west_arn) = global_database(&env).await;
    replication_lag(&west, 80.0).await;
    let kind = |response: &failover_core::response::Response| response.details["topology"].clone();
    let east_status = ok(&env.app(&[]), json!({"command": "status", "db_cluster_identifier": "orders-east"})).await;
    assert_eq!(kind(&east_status), json!({"kind": "global-primary", "global_cluster": GLOBAL}), "{east_status:?}");
    let west_app = west_stack(&env, &west, &[]);
    let status = json!({"command": "status", "db_cluster_identifier": "orders-west"});
    let west_status = ok(&west_app, status.clone()).await;
    assert_eq!(kind(&west_status), json!({"kind": "global-secondary", "global_cluster": GLOBAL}), "{west_status:?}");
    let readiness = ok(&env.app(&[]), json!({"command": "readiness", "dry_run": true})).await;
    let judged = readiness.details["judged"].as_array().expect("judged").clone();
    let east = judged.iter().find(|j| j["cluster"] == "orders-east").expect("orders-east judged");
    assert_eq!(east["topology"]["kind"], "global-primary", "{readiness:?}");
    assert!(readiness.summary.contains("- cluster orders-east (global-primary"), "{readiness:?}");

    assert_eq!(ok(&env.app(&[]), switchover(&west_arn)).await.status, Outcome::Succeeded);
    let after = ok(&west_app, status).await;
    assert_eq!(kind(&after), json!({"kind": "global-primary", "global_cluster": GLOBAL}), "{after:?}");
}

#[tokio::test]
async fn switchover_global_to_a_lagging_secondary_is_refused_with_the_lag_and_changes_nothing() {
    let env = Env::new().await;
    let (west, east_arn, west_arn) = global_database(&env).await;
    replication_lag(&west, 4_200.0).await;

    let response = ok(&env.app(&[]), switchover(&west_arn)).await;

    assert_eq!(response.status, Outcome::Refused, "{response:?}");
    assert_eq!(global_writer(&env).await, east_arn);
    assert_eq!(env.calls_answered("SwitchoverGlobalCluster"), 0);
    assert!(env.records(&format!("global-cluster:{GLOBAL}")).await.is_empty(), "a refusal writes nothing");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused"]);
    let summary = notes[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("lags 4200 ms") && summary.contains("at most 1000 ms"), "{summary}");
}

#[tokio::test]
async fn switchover_global_as_a_dry_run_writes_nothing_and_names_the_command() {
    let env = Env::new().await;
    let (west, east_arn, west_arn) = global_database(&env).await;
    replication_lag(&west, 10.0).await;
    let mut command = switchover("orders-west");
    command["region"] = json!("us-west-2");
    command["dry_run"] = json!(true);

    let response = ok(&env.app(&[]), command).await;

    assert_eq!(response.status, Outcome::DryRun, "{response:?}");
    assert_eq!(global_writer(&env).await, east_arn);
    assert_eq!(env.calls_answered("SwitchoverGlobalCluster"), 0);
    assert!(env.records(&format!("global-cluster:{GLOBAL}")).await.is_empty());
    let notes = env.notifications().await;
    assert!(notes[0].body()["next_steps"].to_string().contains(&west_arn), "{}", notes[0].message);
}

// ---------------------------------------------------------------- the primary region lost

/// `AuroraGlobalDBRPOLag` of orders-west (ms), in its region: one datapoint 90 s before now (its minute ends
/// before a failure now).
pub(super) async fn rpo_lag(west: &Account, ms: f64) {
    let datum = MetricDatum::builder()
        .metric_name("AuroraGlobalDBRPOLag")
        .dimensions(Dimension::builder().name("DBClusterIdentifier").value("orders-west").build())
        .dimensions(Dimension::builder().name("SourceRegion").value("us-east-1").build())
        .timestamp(DateTime::from(SystemTime::now() - Duration::from_secs(90)))
        .value(ms)
        .unit(StandardUnit::Milliseconds)
        .build();
    west.cloudwatch().put_metric_data().namespace("AWS/RDS").metric_data(datum).send().await.expect("rpo lag");
}

/// The stack of us-west-2 (the secondary's region), cross-region allowed, for which us-east-1's RDS API does not
/// answer (the connection is refused): the primary region is lost.
pub(super) fn west_stack(env: &Env, west: &Account, settings: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("ALLOW_CROSS_REGION", "true")];
    all.extend_from_slice(settings);
    env.app_with_rds(west, &all, |home, region| {
        let builder = home.config().to_builder().region(aws_sdk_rds::config::Region::new(region.to_owned()));
        let builder = if region == "us-east-1" { builder.endpoint_url("http://127.0.0.1:9") } else { builder };
        aws_sdk_rds::Client::from_conf(builder.build())
    })
}

/// The primary's writer alarm (us-east-1), forwarded to the secondary region's stack.
pub(super) fn primary_alarm(env: &Env) -> Value {
    alarm_action(&env.account.id, "orders-east-writer", ("DBClusterIdentifier", "orders-east"))
}

pub(super) fn global_records_resource() -> String {
    format!("global-cluster:{GLOBAL}")
}

/// `cluster` (in us-east-1) as AWS would find it with its region lost: not `available`.
pub(super) fn lost(env: &Env, cluster: &str) {
    let status = json!({"db_cluster_identifier": cluster, "status": "inaccessible-encryption-credentials"});
    env.account.control("/_failover/rds/cluster-status", status);
}

#[tokio::test]
async fn the_primary_region_lost_with_rpo_lag_0_fails_over_with_allow_data_loss() {
    let env = Env::new().await;
    let (west, _, west_arn) = global_database(&env).await;
    rpo_lag(&west, 0.0).await;
    // The lost region's cluster is not available, so AWS switches over to west only with AllowDataLoss (a
    // FailoverGlobalCluster without it is a switchover, which needs every member available).
    lost(&env, "orders-east");

    let response = ok(&west_stack(&env, &west, &[]), primary_alarm(&env)).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(global_writer(&env).await, west_arn);
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 1);
    assert_eq!(env.calls_answered("SwitchoverGlobalCluster"), 0);
    let records = env.records_in(&west, &global_records_resource()).await;
    assert_eq!(records.len(), 1, "no approval asked: {records:?}");
    assert_eq!((records[0].state, records[0].data["action"].as_str()), (State::Done, Some("failover")));
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let body = notes[0].body();
    assert_eq!(body["details"]["loss_window_ms"], json!(0.0), "{body}");
    assert!(body["summary"].as_str().unwrap().contains("no DNS change"), "{body}");
}

/// The decision id and the approve command a notification asking for approval carries.
pub(super) fn asked(note: &integration_tests::Received) -> (String, Value) {
    let body = note.body();
    let id = body["details"]["decision"].as_str().unwrap_or_else(|| panic!("no decision: {body}")).to_owned();
    let command: Value = serde_json::from_str(body["details"]["approve"].as_str().unwrap()).unwrap();
    (id, command)
}

#[tokio::test]
async fn rpo_lag_40_s_asks_for_approval_once_and_approve_fails_over_after_rechecking() {
    let env = Env::new().await;
    let (west, east_arn, west_arn) = global_database(&env).await;
    rpo_lag(&west, 40_000.0).await;
    let app = west_stack(&env, &west, &[]);

    let first = ok(&app, primary_alarm(&env)).await;
    let repeated = ok(&app, primary_alarm(&env)).await;

    assert_eq!((first.status, repeated.status), (Outcome::Refused, Outcome::Skipped), "{first:?} {repeated:?}");
    assert_eq!(global_writer(&env).await, east_arn);
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 0, "no data-losing action without approval");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused"], "asked once");
    let (id, command) = asked(&notes[0]);
    assert_eq!(command, json!({"command": "approve", "decision": id, "by": "<name>"}));
    assert_eq!(notes[0].body()["details"]["loss_window_ms"], json!(40000.0));
    let pending = env.records_in(&west, &global_records_resource()).await;
    assert_eq!((pending.len(), pending[0].state), (1, State::Pending), "{pending:?}");

    let approved = ok(&app, json!({"command": "approve", "decision": id, "by": "ana"})).await;

    assert_eq!(approved.status, Outcome::Succeeded, "{approved:?}");
    assert_eq!(global_writer(&env).await, west_arn);
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 1);
    let records = env.records_in(&west, &global_records_resource()).await;
    let approval = records.iter().find(|r| r.key.starts_with("approval#")).expect("approval record");
    assert_eq!((approval.state, approval.data["by"].as_str()), (State::Done, Some("ana")));
    let failover = records.iter().find(|r| r.key.starts_with("global#")).expect("failover record");
    assert_eq!((failover.state, failover.data["approved_by"].as_str()), (State::Done, Some("ana")));
    let done = env.notifications().await.pop().expect("told").body();
    let snapshot = "rds:unplanned-global-failover-orders-east-";
    assert!(done["next_steps"].to_string().contains(snapshot), "where the lost writes survive: {done}");

    let again = ok(&app, json!({"command": "approve", "decision": id, "by": "bo"})).await;
    assert_eq!(again.status, Outcome::Refused, "{again:?}");
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 1, "an approval acts once");
}

#[tokio::test]
async fn an_expired_or_rejected_approval_is_refused_and_nothing_changes() {
    let env = Env::new().await;
    let (west, east_arn, _) = global_database(&env).await;
    rpo_lag(&west, 40_000.0).await;
    ok(&west_stack(&env, &west, &[("APPROVAL_TTL_MINUTES", "1")]), primary_alarm(&env)).await;
    let (id, _) = asked(&env.notifications().await[0]);

    let later = west_stack(&env, &west, &[]).with_clock(|| failover_core::time::now_secs() + 120);
    let expired = ok(&later, json!({"command": "approve", "decision": id, "by": "ana"})).await;

    assert_eq!(expired.status, Outcome::Refused, "{expired:?}");
    let note = env.notifications().await.pop().unwrap().body();
    assert!(note["summary"].as_str().unwrap().contains("expired"), "{note}");
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 0);
    assert_eq!(global_writer(&env).await, east_arn);

    let app = west_stack(&env, &west, &[]);
    let rejected = ok(&app, json!({"command": "reject", "decision": id, "by": "bo"})).await;
    assert_eq!(rejected.status, Outcome::Info, "{rejected:?}");
    let after = ok(&app, json!({"command": "approve", "decision": id, "by": "ana"})).await;
    assert_eq!(after.status, Outcome::Refused, "{after:?}");
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 0);
    let unknown = ok(&app, json!({"command": "approve", "decision": "global-cluster:nope@1", "by": "ana"})).await;
    assert_eq!(unknown.status, Outcome::Refused, "{unknown:?}");
    assert_eq!(global_writer(&env).await, east_arn);
}

#[tokio::test]
async fn when_the_global_apis_fail_the_secondary_is_detached_and_promoted_only_after_approval() {
    let env = Env::new().await;
    let (west, east_arn, west_arn) = global_database(&env).await;
    rpo_lag(&west, 0.0).await;
    env.account.control("/_failover/rds/global-impaired", json!({"impaired": true}));
    let app = west_stack(&env, &west, &[]);

    // A server error: the invocation fails (Lambda retries it) after publishing what it asks.
    let failed = Box::pin(app.handle(primary_alarm(&env))).await;

    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(env.calls_answered("RemoveFromGlobalCluster"), 0, "never detached alone");
    let note = env.notifications().await.pop().unwrap();
    let body = note.body();
    let id = body["details"]["asked"]["decision"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned();
    assert!(body["summary"].as_str().unwrap().contains("RemoveFromGlobalCluster"), "{body}");

    let approved = ok(&app, json!({"command": "approve", "decision": id, "by": "ana"})).await;

    assert_eq!(approved.status, Outcome::Succeeded, "{approved:?}");
    assert_eq!(env.calls_answered("RemoveFromGlobalCluster"), 1);
    assert_eq!(global_writer(&env).await, east_arn, "the global database keeps its old primary only");
    let detached = west.rds().describe_db_clusters().db_cluster_identifier("orders-west").send().await.unwrap();
    let members = detached.db_clusters()[0].db_cluster_members();
    assert!(members.iter().any(|m| m.is_cluster_writer() == Some(true)), "standalone with a writer: {members:?}");
    let global = env.account.rds().describe_global_clusters().global_cluster_identifier(GLOBAL).send().await.unwrap();
    let arns: Vec<_> =
        global.global_clusters()[0].global_cluster_members().iter().filter_map(|m| m.db_cluster_arn()).collect();
    assert!(!arns.contains(&west_arn.as_str()), "{arns:?}");
    let done = env.notifications().await.last().expect("told").body();
    let steps = done["next_steps"].to_string();
    assert!(steps.contains("--db-cluster-identifier orders-east"), "the old writer's fence named: {done}");
    env.account.control("/_failover/rds/global-impaired", json!({"impaired": false}));
}

#[tokio::test]
async fn approve_re_checks_the_guards_and_a_primary_that_came_back_is_not_failed_over() {
    let env = Env::new().await;
    let (west, east_arn, _) = global_database(&env).await;
    rpo_lag(&west, 40_000.0).await;
    ok(&west_stack(&env, &west, &[]), primary_alarm(&env)).await;
    let (id, _) = asked(&env.notifications().await[0]);

    // The primary's region answers again, and its cluster is available.
    let back = env.app_in(&west, &[("ALLOW_CROSS_REGION", "true")]);
    let response = ok(&back, json!({"command": "approve", "decision": id, "by": "ana"})).await;

    assert_eq!(response.status, Outcome::Refused, "{response:?}");
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 0);
    assert_eq!(global_writer(&env).await, east_arn);
    let note = env.notifications().await.pop().unwrap().body();
    assert!(note["summary"].as_str().unwrap().contains("answers and is available"), "{note}");
    let records = env.records_in(&west, &global_records_resource()).await;
    let approval = records.iter().find(|r| r.key.starts_with("approval#")).expect("approval record");
    assert_eq!(approval.state, State::Pending, "not consumed by a refused approve");
}
