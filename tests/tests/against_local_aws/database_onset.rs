//! `database-failover` judges replica lag as of the failure's onset, against the local AWS: an alarm fires
//! minutes after a MySQL primary crashed, when its replicas already report -1 (replication cannot connect).
//! The onset is where replication broke, and the replica that was in sync then is promoted.

use database_failover::ports::LagMetric;
use failover_core::outcome::Outcome;
use integration_tests::database::*;
use serde_json::json;

#[tokio::test]
async fn an_alarm_minutes_after_a_mysql_crash_promotes_the_replica_that_was_in_sync_when_it_broke() {
    let env = Env::new().await;
    env.primary("orders", true).await;
    env.replica("r-sync", "orders", &[]).await;
    env.replica("r-slow", "orders", &[]).await;
    // The primary crashed about 3.5 minutes ago: from then on both replicas report -1.
    let crashed = |before: [f64; 2]| [(330, before[0]), (270, before[1]), (210, -1.0), (150, -1.0), (90, -1.0)];
    put_lag_aged(&env.account, LagMetric::ReplicaLag, "r-sync", &crashed([0.5, 0.4])).await;
    put_lag_aged(&env.account, LagMetric::ReplicaLag, "r-slow", &crashed([40.0, 45.0])).await;
    env.set_status("orders", "failed");
    let alarm = alarm_action(&env.account.id, "failover-orders-down", ("DBInstanceIdentifier", "orders"));

    let response = ok(&env.app(&[]), alarm).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("r-sync").await, "r-sync, in sync when replication broke, is promoted");
    assert!(env.is_replica("r-slow").await);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let replicas = notes[0].body()["details"]["replicas"].clone();
    let verdict = |id: &str| replicas.as_array().unwrap().iter().find(|r| r["id"] == id).cloned().unwrap();
    assert_eq!(
        (verdict("r-sync")["eligible"].clone(), verdict("r-sync")["max_lag"].clone()),
        (json!(true), json!(0.5))
    );
    let slow = verdict("r-slow");
    assert!(slow["reason"].as_str().unwrap().contains("above MAX_REPLICA_LAG_SECONDS"), "{slow}");
    // The onset shown is where replication broke (the minute of the first -1, 3 to 4.5 minutes back), not the
    // alarm's time.
    let onset = notes[0].body()["details"]["onset"].as_str().and_then(failover_core::time::parse_time);
    let ago = failover_core::time::now_secs() - onset.expect("details.onset");
    assert!((180..=300).contains(&ago), "onset {ago} s ago");
}

#[tokio::test]
async fn a_replica_whose_replication_broke_before_the_onset_window_is_not_promoted() {
    let env = Env::new().await;
    env.primary("orders", true).await;
    env.replica("r-old", "orders", &[]).await;
    // Replication broke 20 minutes ago (before the 15-minute window): an older failure, not this one's onset.
    let mut points = vec![(1260, 0.5), (1200, -1.0)];
    points.extend((0..18).map(|i| (1140 - 60 * i, -1.0)));
    put_lag_aged(&env.account, LagMetric::ReplicaLag, "r-old", &points).await;
    env.set_status("orders", "failed");

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Refused, "{response:?}");
    assert!(env.is_replica("r-old").await);
    assert_eq!(env.calls_answered("PromoteReadReplica"), 0);
    let notes = env.notifications().await;
    let reason = notes[0].body()["details"]["replicas"][0]["reason"].as_str().unwrap().to_owned();
    assert!(reason.contains("not running before the failure"), "{reason}");
}
