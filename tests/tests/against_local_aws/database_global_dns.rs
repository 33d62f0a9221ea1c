//! The clients of an Aurora Global Database that use a record of their own (`failover:dns-record` on the member
//! clusters) follow a change of primary, against the local AWS: the record is repointed from the old primary's
//! writer endpoint to the new primary's, in an unplanned failover (the old region not answering) and in a
//! switchover; a record that points anywhere else is left, and the notification warns; a later event of the
//! same incident completes a DNS step the first run did not make.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use database_failover::model::DNS_RECORD_TAG;
use failover_core::ledger::State;
use failover_core::outcome::Outcome;
use integration_tests::database::*;
use integration_tests::Account;
use serde_json::{json, Value};

use super::database_global::{
    global_database, global_records_resource, global_writer, lost, primary_alarm, replication_lag, rpo_lag, switchover,
    west_stack,
};

/// `cluster`'s writer endpoint, as `DescribeDBClusters` gives it in its region.
async fn cluster_endpoint(account: &Account, cluster: &str) -> String {
    let out = account.rds().describe_db_clusters().db_cluster_identifier(cluster).send().await.expect("cluster");
    out.db_clusters()[0].endpoint().expect("endpoint").to_owned()
}

/// Tags `cluster` (an ARN) with `failover:dns-record=<zone>/writer.shop.internal`.
async fn tag_cluster(account: &Account, arn: &str, zone_id: &str) {
    let value = format!("{zone_id}/writer.shop.internal");
    let tagged = account.rds().add_tags_to_resource().resource_name(arn).tags(tag(DNS_RECORD_TAG, &value)).send();
    tagged.await.expect("tag");
}

/// `AuroraGlobalDBReplicationLag` of orders-east, a secondary now, in its region: 80 ms, 30 s ago.
async fn east_replication_lag(east: &Account) {
    let datum = MetricDatum::builder()
        .metric_name("AuroraGlobalDBReplicationLag")
        .dimensions(Dimension::builder().name("DBClusterIdentifier").value("orders-east").build())
        .timestamp(DateTime::from(SystemTime::now() - Duration::from_secs(30)))
        .value(80.0)
        .unit(StandardUnit::Milliseconds)
        .build();
    east.cloudwatch().put_metric_data().namespace("AWS/RDS").metric_data(datum).send().await.expect("lag");
}

fn summary(body: &Value) -> &str {
    body["summary"].as_str().unwrap_or_default()
}

/// The primary region lost (RPO lag 0): the global database, `writer.shop.internal` pointing at `at` (`None`:
/// the old primary's writer endpoint), orders-west tagged with it when `tagged`.
struct Lost {
    env: Env,
    west: Account,
    west_arn: String,
    east_endpoint: String,
    west_endpoint: String,
    zone: String,
}

async fn lost_region(at: Option<&str>, tagged: bool) -> Lost {
    let env = Env::new().await;
    let (west, _, west_arn) = global_database(&env).await;
    let (east_endpoint, west_endpoint) =
        (cluster_endpoint(&env.account, "orders-east").await, cluster_endpoint(&west, "orders-west").await);
    let zone = zone_with_record(&env, at.unwrap_or(&east_endpoint)).await;
    if tagged {
        tag_cluster(&west, &west_arn, &zone).await;
    }
    rpo_lag(&west, 0.0).await;
    lost(&env, "orders-east");
    Lost { env, west, west_arn, east_endpoint, west_endpoint, zone }
}

#[tokio::test]
async fn the_primary_region_lost_a_tagged_record_at_the_old_writer_follows_the_new_primary() {
    let Lost { env, west, west_arn, west_endpoint, zone, .. } = lost_region(None, true).await;

    let response = ok(&west_stack(&env, &west, &[]), primary_alarm(&env)).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(global_writer(&env).await, west_arn);
    assert_eq!(record(&env, &zone).await, (Some(30), vec![west_endpoint.clone()]), "repointed, with the short TTL");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let body = notes[0].body();
    assert_eq!(body["details"]["dns"]["result"], json!("repointed"), "{body}");
    assert!(summary(&body).contains(&format!("writer.shop.internal was repointed to {west_endpoint}")), "{body}");
    let records = env.records_in(&west, &global_records_resource()).await;
    assert_eq!((records[0].state, records[0].data["dns"]["result"].as_str()), (State::Done, Some("repointed")));
}

#[tokio::test]
async fn a_switchover_repoints_the_record_its_old_primary_names_and_back_again() {
    let env = Env::new().await;
    let (west, east_arn, west_arn) = global_database(&env).await;
    let (east_endpoint, west_endpoint) =
        (cluster_endpoint(&env.account, "orders-east").await, cluster_endpoint(&west, "orders-west").await);
    let zone = zone_with_record(&env, &east_endpoint).await;
    // Only the primary is tagged: a switchover reads its tags (its region answers).
    tag_cluster(&env.account, &east_arn, &zone).await;
    replication_lag(&west, 80.0).await;

    let dry = ok(
        &env.app(&[]),
        json!({"command": "switchover-global", "global_cluster_identifier": "orders-global",
        "target_db_cluster_identifier": west_arn, "dry_run": true}),
    )
    .await;
    assert_eq!(dry.status, Outcome::DryRun, "{dry:?}");
    assert_eq!(record(&env, &zone).await.1, vec![east_endpoint.clone()], "a dry run changes nothing");

    let response = ok(&env.app(&[]), switchover(&west_arn)).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(record(&env, &zone).await.1, vec![west_endpoint.clone()]);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["dry-run", "succeeded"]);
    assert!(summary(&notes[0].body()).contains("Would repoint writer.shop.internal"), "{:?}", notes[0].body());
    assert_eq!(notes[1].body()["details"]["dns"]["result"], json!("repointed"));
    let steps = notes[1].body()["next_steps"].to_string();
    assert!(steps.contains("rolls the switchover back"), "repointed as AWS accepted it: {steps}");

    // Back, within the cooldown (so forced): the same record follows, from west's endpoint to east's.
    east_replication_lag(&env.account).await;
    let mut back = switchover(&east_arn);
    back["force"] = json!(true);
    let response = ok(&env.app(&[]), back).await;
    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(global_writer(&env).await, east_arn);
    assert_eq!(record(&env, &zone).await.1, vec![east_endpoint]);
}

#[tokio::test]
async fn a_record_that_points_elsewhere_is_left_and_the_notification_warns() {
    let Lost { env, west, west_arn, zone, .. } = lost_region(Some("billing.example.com"), true).await;

    let response = ok(&west_stack(&env, &west, &[]), primary_alarm(&env)).await;

    assert_eq!(response.status, Outcome::Succeeded, "the failover itself is done: {response:?}");
    assert_eq!(global_writer(&env).await, west_arn);
    assert_eq!(record(&env, &zone).await.1, vec!["billing.example.com".to_owned()], "not ours to change");
    let body = env.notifications().await[0].body();
    assert!(body["title"].as_str().unwrap().contains("clients may not follow"), "{body}");
    assert!(summary(&body).contains("WARNING: writer.shop.internal was NOT changed"), "{body}");
    assert!(summary(&body).contains("billing.example.com"), "{body}");
}

/// While automation is paused, the failover's DNS step waits for the events of the incident, but a person's
/// forced `switchover-global` to the Region that is already primary applies it (force overrides a pause, as it
/// does for every change), and nothing is failed over again.
#[tokio::test]
async fn a_forced_switchover_to_the_primary_applies_the_dns_step_while_paused_and_an_unforced_one_does_not() {
    let Lost { env, west, west_arn, east_endpoint, west_endpoint, zone } = lost_region(None, false).await;
    let app = west_stack(&env, &west, &[]);
    assert_eq!(ok(&app, primary_alarm(&env)).await.status, Outcome::Succeeded);
    assert_eq!(record(&env, &zone).await.1, vec![east_endpoint.clone()], "untagged: the record is not ours");
    tag_cluster(&west, &west_arn, &zone).await;
    ok(&app, json!({"command": "pause", "reason": "dns by hand", "by": "ana"})).await;

    let unforced = ok(&app, switchover(&west_arn)).await;
    assert_eq!(record(&env, &zone).await.1, vec![east_endpoint.clone()], "paused: not repointed: {unforced:?}");
    assert!(unforced.summary.contains("automation is paused (by ana: dns by hand)"), "{}", unforced.summary);

    let mut forced = switchover(&west_arn);
    forced["force"] = json!(true);
    let response = ok(&app, forced).await;
    assert_eq!(record(&env, &zone).await.1, vec![west_endpoint], "forced: repointed: {response:?}");
    assert!(!response.summary.contains("paused"), "{}", response.summary);
    assert_eq!(global_writer(&env).await, west_arn);
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 1, "nothing failed over twice");
    assert_eq!(env.calls_answered("SwitchoverGlobalCluster"), 0, "the target is the primary already");
}

#[tokio::test]
async fn a_later_event_of_the_incident_completes_the_dns_step_and_one_past_the_change_does_not_repeat_it() {
    let Lost { env, west, west_arn, east_endpoint, west_endpoint, zone } = lost_region(None, false).await;
    let app = west_stack(&env, &west, &[]);
    let first = ok(&app, primary_alarm(&env)).await;
    assert_eq!(first.status, Outcome::Succeeded, "{first:?}");
    assert_eq!(record(&env, &zone).await.1, vec![east_endpoint.clone()], "untagged: the record is not ours");

    // The tag added (as a person would, reading the notification); the alarm fires again within the window,
    // first while automation is paused (nothing changes), then after resume.
    tag_cluster(&west, &west_arn, &zone).await;
    ok(&app, json!({"command": "pause", "reason": "dns by hand", "by": "ana"})).await;
    let paused = ok(&app, primary_alarm(&env)).await;
    assert_eq!(record(&env, &zone).await.1, vec![east_endpoint.clone()], "paused: not repointed: {paused:?}");
    ok(&app, json!({"command": "resume"})).await;
    env.notifications().await;
    let again = ok(&app, primary_alarm(&env)).await;

    assert_eq!(again.status, Outcome::Info, "{again:?}");
    assert_eq!(record(&env, &zone).await.1, vec![west_endpoint.clone()]);
    assert_eq!(env.calls_answered("FailoverGlobalCluster"), 1, "nothing failed over twice");
    let notes = env.notifications().await;
    assert_eq!(notes.len(), 1, "told once");
    assert!(summary(&notes[0].body()).contains("was repointed"), "{:?}", notes[0].body());
    // Told as the failover it completes, not as a switchover (subscribers filter on the action).
    assert_eq!((notes[0].attribute("action"), again.action.as_str()), ("failover-global", "failover-global"));
    assert_eq!(notes[0].body()["action"], json!("failover-global"), "{:?}", notes[0].body());

    // Once it points at the new primary, a repeat changes nothing and tells nothing (no page per re-evaluation).
    let third = ok(&app, primary_alarm(&env)).await;
    assert_eq!(third.status, Outcome::Skipped, "{third:?}");
    assert_eq!(record(&env, &zone).await.1, vec![west_endpoint]);
    assert!(env.notifications().await.is_empty(), "told once");
}
