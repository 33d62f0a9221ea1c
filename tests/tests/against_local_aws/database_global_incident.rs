//! `database-failover` and an Aurora Global Database across a whole incident, against the local AWS: a later
//! event never acts alone while an approval is pending or was just rejected, and measures at the first onset;
//! with two secondaries only the lowest secondary region's stack acts; a decision resumed after a crash keeps
//! who approved it and closes its approval.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use failover_core::ledger::{Begin, Begun, DynamoLedger, Ledger, Record, State};
use failover_core::outcome::Outcome;
use failover_core::time::{format_time, now_secs};
use integration_tests::database::*;
use integration_tests::Account;
use serde_json::{json, Value};

use super::database_global::{
    asked, global_database, global_records_resource, global_writer, primary_alarm, rpo_lag, west_stack, GLOBAL,
};

/// `AuroraGlobalDBRPOLag` of `cluster` (ms), in `account`'s region: one datapoint `ago` seconds before now.
async fn rpo_lag_ago(account: &Account, cluster: &str, ago: u64, ms: f64) {
    let datum = MetricDatum::builder()
        .metric_name("AuroraGlobalDBRPOLag")
        .dimensions(Dimension::builder().name("DBClusterIdentifier").value(cluster).build())
        .timestamp(DateTime::from(SystemTime::now() - Duration::from_secs(ago)))
        .value(ms)
        .unit(StandardUnit::Milliseconds)
        .build();
    account.cloudwatch().put_metric_data().namespace("AWS/RDS").metric_data(datum).send().await.expect("rpo lag");
}

/// The primary's writer alarm, which went off `ago` seconds before now.
fn primary_alarm_ago(env: &Env, ago: i64) -> Value {
    let mut alarm = primary_alarm(env);
    let at = format_time(now_secs() - ago);
    alarm["time"] = json!(at);
    alarm["alarmData"]["state"]["timestamp"] = json!(format!("{}.000+0000", at.trim_end_matches('Z')));
    alarm
}

/// RDS-EVENT-0069 (the cluster's failover failed) about the primary, now: a later event of the same incident.
fn failover_failed(env: &Env) -> Value {
    rds_event(&env.account.id, "us-east-1", "orders-east", "RDS-EVENT-0069", "CLUSTER")
}

#[tokio::test]
async fn a_later_event_reading_no_loss_waits_for_the_pending_approval_and_a_rejection_holds_it_back() {
    let env = Env::new().await;
    let (west, east_arn, _) = global_database(&env).await;
    // 40 s of loss when the primary was lost (the alarm, 5 min ago); the lag reads 0 after.
    rpo_lag_ago(&west, "orders-west", 390, 40_000.0).await;
    rpo_lag_ago(&west, "orders-west", 90, 0.0).await;
    let app = west_stack(&env, &west, &[]);
    let first = ok(&app, primary_alarm_ago(&env, 300)).await;
    assert_eq!(first.status, Outcome::Refused, "{first:?}");
    let (id, _) = asked(&env.notifications().await[0]);

    let later = ok(&app, failover_failed(&env)).await;

    assert_eq!(later.status, Outcome::Skipped, "{later:?}");
    let said = format!("{later:?}");
    assert!(said.contains(&format!("awaiting approval {id} (loss 40 s measured at")), "{said}");
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 0, "never alone while an approval is pending");
    assert_eq!(global_writer(&env).await, east_arn);
    let notes = env.notifications().await;
    assert!(outcomes(&notes).is_empty(), "no new approval, no new notification: {:?}", outcomes(&notes));
    let records = env.records_in(&west, &global_records_resource()).await;
    assert_eq!(records.len(), 1, "{records:?}");

    let rejected = ok(&app, json!({"command": "reject", "decision": id, "by": "bo"})).await;
    assert_eq!(rejected.status, Outcome::Info, "{rejected:?}");
    let after = ok(&app, failover_failed(&env)).await;

    assert_eq!(after.status, Outcome::Refused, "{after:?}");
    let said = format!("{after:?}");
    assert!(said.contains("rejected by bo at"), "{said}");
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 0, "a rejection holds later events back");
    assert_eq!(global_writer(&env).await, east_arn);
}

/// orders-ohio (us-east-2), a second secondary of the global database, opted in, with reader o1.
async fn second_secondary(env: &Env) -> (Account, String) {
    let ohio = env.account.in_region("us-east-2").await;
    ohio.rds()
        .create_db_cluster()
        .db_cluster_identifier("orders-ohio")
        .engine("aurora-postgresql")
        .global_cluster_identifier(GLOBAL)
        .tags(tag(OPT_IN, "true"))
        .send()
        .await
        .expect("ohio cluster");
    ohio.rds()
        .create_db_instance()
        .db_instance_identifier("o1")
        .db_cluster_identifier("orders-ohio")
        .engine("aurora-postgresql")
        .db_instance_class("db.r5.large")
        .send()
        .await
        .expect("ohio instance");
    (ohio, format!("arn:aws:rds:us-east-2:{}:cluster:orders-ohio", env.account.id))
}

#[tokio::test]
async fn with_two_secondaries_only_the_lowest_secondary_region_fails_over_and_the_other_refuses_naming_it() {
    let env = Env::new().await;
    let (west, east_arn, _) = global_database(&env).await;
    let (ohio, ohio_arn) = second_secondary(&env).await;
    rpo_lag(&west, 0.0).await;
    rpo_lag_ago(&ohio, "orders-ohio", 90, 0.0).await;

    let refused = ok(&west_stack(&env, &west, &[]), primary_alarm(&env)).await;

    assert_eq!(refused.status, Outcome::Refused, "{refused:?}");
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 0);
    assert_eq!(global_writer(&env).await, east_arn);
    assert!(env.records_in(&west, &global_records_resource()).await.is_empty(), "a refusal writes nothing");
    let summary = env.notifications().await.pop().unwrap().body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("only the stack in us-east-2") && summary.contains("--region us-east-2"), "{summary}");

    let acted = ok(&west_stack(&env, &ohio, &[]), primary_alarm(&env)).await;

    assert_eq!(acted.status, Outcome::Succeeded, "{acted:?}");
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 1);
    assert_eq!(global_writer(&env).await, ohio_arn);
}

/// An `approve` that died right after recording its failover (`global#<time>` pending, naming the approval and
/// who approved it; its lease run out): nothing was called at AWS, and the approval is still pending.
async fn crashed_approved_failover(env: &Env, west: &Account, id: &str, east_arn: &str, west_arn: &str) {
    crashed_approved(env, west, id, "failover", east_arn, west_arn).await;
}

/// A run acting on approval `id` (`action`: `failover` or `detach`) recorded its decision pending 30 s ago and
/// was cut short (its lease expired).
async fn crashed_approved(env: &Env, west: &Account, id: &str, action: &str, east_arn: &str, west_arn: &str) {
    let ledger = DynamoLedger::new(west.dynamodb(), env.ledger.clone());
    let resource = global_records_resource();
    let at = now_secs() - 30;
    let data = json!({"action": action, "from": east_arn, "to": west_arn, "decided_at": at, "lag_ms": 40000.0,
        "approval": id, "approved_by": "ana", "onset": at - 60});
    let record = Record::pending(&resource, &format!("global#{at}"), "crashed", "approval", at, 86_400).with_data(data);
    let snapshot = ledger.read(&resource, now_secs()).await.expect("ledger read");
    let begin =
        Begin { owner: "crashed", now: at, hold_secs: -1, retention_secs: 86_400, records: &[record], force: false };
    assert!(matches!(ledger.begin(&snapshot, &begin).await.expect("begin"), Begun::Started { .. }));
}

/// The global database with its primary region lost and the global APIs failing (impaired): the west stack's
/// first run asks to detach; returns the west account, both ARNs, the west stack and the decision's id.
async fn detach_asked(env: &Env) -> (Account, String, String, TestApp, String) {
    let (west, east_arn, west_arn) = global_database(env).await;
    rpo_lag(&west, 0.0).await;
    env.account.control("/_failover/rds/global-impaired", json!({"impaired": true}));
    let app = west_stack(env, &west, &[]);
    assert!(Box::pin(app.handle(primary_alarm(env))).await.is_err());
    let body = env.notifications().await.pop().unwrap().body();
    let id = body["details"]["asked"]["decision"].as_str().unwrap_or_else(|| panic!("{body}")).to_owned();
    (west, east_arn, west_arn, app, id)
}

/// An approved detach whose run was cut short after RemoveFromGlobalCluster, before it recorded or told it: the
/// next event about the lost primary finds orders-west standing alone, records the detach done (and its
/// approval, by who approved it), and tells it once, with the old writer's fence; later events change nothing.
#[tokio::test]
async fn a_detach_a_run_made_before_it_was_cut_short_is_recorded_and_told_by_the_next_event() {
    let env = Env::new().await;
    let (west, east_arn, west_arn, app, id) = detach_asked(&env).await;
    crashed_approved(&env, &west, &id, "detach", &east_arn, &west_arn).await;
    let detach =
        west.rds().remove_from_global_cluster().global_cluster_identifier(GLOBAL).db_cluster_identifier(&west_arn);
    detach.send().await.expect("the cut-short run's detach");

    let next = ok(&app, primary_alarm(&env)).await;

    assert_eq!(next.status, Outcome::Succeeded, "{next:?}");
    let records = env.records_in(&west, &global_records_resource()).await;
    let decision = records.iter().find(|r| r.key.starts_with("global#")).expect("decision");
    assert_eq!(decision.state, State::Done, "{decision:?}");
    assert!(decision.data["done_at"].as_i64().is_some(), "{decision:?}");
    let approval = records.iter().find(|r| r.key.starts_with("approval#")).expect("approval");
    assert_eq!((approval.state, approval.data["by"].as_str()), (State::Done, Some("ana")), "{approval:?}");
    let notes = env.notifications().await;
    assert_eq!(notes.len(), 1, "told once");
    let done = notes[0].body();
    assert!(done["title"].as_str().unwrap().contains("done: detach orders-west"), "{done}");
    assert!(done["next_steps"].to_string().contains("--db-cluster-identifier orders-east"), "the fence: {done}");

    let later = ok(&app, primary_alarm(&env)).await;
    assert_eq!(later.status, Outcome::Skipped, "{later:?}");
    assert!(env.notifications().await.is_empty(), "told once");
    assert_eq!(env.calls_answered("RemoveFromGlobalCluster"), 1, "detached once, by the cut-short run");
    env.account.control("/_failover/rds/global-impaired", json!({"impaired": false}));
}

#[tokio::test]
async fn a_trigger_that_resumes_an_approved_failover_keeps_who_approved_and_closes_the_approval() {
    let env = Env::new().await;
    let (west, east_arn, west_arn) = global_database(&env).await;
    rpo_lag(&west, 40_000.0).await;
    let app = west_stack(&env, &west, &[]);
    ok(&app, primary_alarm(&env)).await;
    let (id, _) = asked(&env.notifications().await[0]);
    crashed_approved_failover(&env, &west, &id, &east_arn, &west_arn).await;

    let resumed = ok(&app, primary_alarm(&env)).await;

    assert_eq!(resumed.status, Outcome::Succeeded, "{resumed:?}");
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 1);
    assert_eq!(global_writer(&env).await, west_arn);
    let records = env.records_in(&west, &global_records_resource()).await;
    let approval = records.iter().find(|r| r.key.starts_with("approval#")).expect("approval record");
    assert_eq!((approval.state, approval.data["by"].as_str()), (State::Done, Some("ana")), "{approval:?}");
    let failover = records.iter().find(|r| r.key.starts_with("global#")).expect("failover record");
    assert_eq!((failover.state, failover.data["approved_by"].as_str()), (State::Done, Some("ana")), "{failover:?}");
    assert!(failover.data["done_at"].as_i64().is_some(), "the cooldown runs from done_at: {failover:?}");

    let again = ok(&app, json!({"command": "approve", "decision": id, "by": "bo"})).await;
    assert_eq!(again.status, Outcome::Refused, "{again:?}");
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 1, "an approval acts once");
}

#[tokio::test]
async fn a_detach_approved_after_the_global_apis_recovered_fails_over_instead_and_keeps_the_global_database() {
    let env = Env::new().await;
    let (west, _, west_arn, app, id) = detach_asked(&env).await;
    env.account.control("/_failover/rds/global-impaired", json!({"impaired": false}));

    let approved = ok(&app, json!({"command": "approve", "decision": id, "by": "ana"})).await;

    assert_eq!(approved.status, Outcome::Succeeded, "{approved:?}");
    assert_eq!(env.calls_answered("RemoveFromGlobalCluster"), 0, "not detached: the failover worked");
    assert_eq!(global_writer(&env).await, west_arn, "the secondary is the global database's primary");
    let records = env.records_in(&west, &global_records_resource()).await;
    let done = records.iter().find(|r| r.key.starts_with("global#") && r.state == State::Done).expect("done record");
    assert_eq!(done.data["action"].as_str(), Some("failover"), "{done:?}");
    let approval = records.iter().find(|r| r.key.starts_with("approval#")).expect("approval record");
    assert_eq!((approval.state, approval.data["by"].as_str()), (State::Done, Some("ana")));
}
