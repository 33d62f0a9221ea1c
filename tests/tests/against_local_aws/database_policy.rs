//! `database-failover`'s policy on the primary's status, against the local AWS: a primary fixed in place
//! is never promoted away from but by a forced `promote`; RDS-EVENT-0004 (shutdown, with every reboot) is not a
//! failure by default; a manual `promote` without `force` acts only away from a primary that takes no writes.
//! The status of an instance is set through the local AWS (`POST /_failover/rds/instance-status`); every test
//! asserts the RDS state, the ledger and the notifications after each invocation.

use failover_core::ledger::State;
use failover_core::outcome::Outcome;
use integration_tests::database::*;
use serde_json::{json, Value};

/// orders (opted in) with one replica, orders-r (lag 1 s), and orders in `status`.
async fn orders_in(env: &Env, status: &str) {
    env.primary("orders", true).await;
    env.replica("orders-r", "orders", &[]).await;
    env.lag("orders-r", &[1.0, 0.5]).await;
    env.set_status("orders", status);
}

/// Nothing was promoted or decided: orders-r is still orders' replica and the ledger holds no promotion.
async fn assert_nothing_promoted(env: &Env, after: &str) {
    assert!(env.is_replica("orders-r").await, "{after}: orders-r must still be a replica");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 0, "{after}: PromoteReadReplica was called");
    assert_eq!(env.promotion("orders").await, None, "{after}: a promotion was recorded");
}

/// The one notification published: the fix in place of orders, with its `fix` command and the forced promote.
async fn assert_fix_notified(env: &Env, after: &str, status: &str, fix: &str) -> Value {
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused"], "{after}: one notification");
    let note = &notes[0];
    assert_eq!((note.attribute("action"), note.attribute("severity")), ("fix-in-place", "critical"), "{after}");
    let body = note.body();
    assert_eq!(body["details"]["status"], status, "{after}: {body}");
    let steps: Vec<&str> = body["next_steps"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    assert!(steps[0].starts_with("Fix orders in place: ") && steps[0].contains(fix), "{after}: {steps:?}");
    assert!(steps[1].contains(r#""db_instance_identifier":"orders-r""#) && steps[1].contains(r#""force":true"#));
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains("Nothing was changed") && summary.contains(r#""force": true"#), "{after}: {summary}");
    body
}

fn alarm(env: &Env, id: &str) -> Value {
    alarm_action(&env.account.id, &format!("failover-{id}-write-latency"), ("DBInstanceIdentifier", id))
}

fn promote(replica: &str, force: bool) -> Value {
    json!({"command": "promote", "db_instance_identifier": replica, "force": force})
}

// ------------------------------------------------------------------ fix in place means never promote

#[tokio::test]
async fn a_storage_full_primary_with_an_alarm_should_promote_nothing_and_notify_the_fix() {
    let env = Env::new().await;
    orders_in(&env, "storage-full").await;

    let response = ok(&env.app(&[]), alarm(&env, "orders")).await;

    assert_eq!((response.status, response.action.as_str()), (Outcome::Refused, "fix-in-place"), "{response:?}");
    assert_nothing_promoted(&env, "the alarm").await;
    assert_eq!(env.describe("orders").await.db_instance_status.as_deref(), Some("storage-full"), "left as it is");
    let body = assert_fix_notified(&env, "the alarm", "storage-full", "--allocated-storage").await;
    assert_eq!(body["details"]["trigger"]["kind"], "alarm", "{body}");
    assert_eq!(body["details"]["kind"], "storage", "{body}");
    assert!(body["title"].as_str().unwrap().contains("orders ran out of storage"), "{body}");
}

#[tokio::test]
async fn fix_in_place_primaries_should_not_be_promoted_away_from_by_failure_replica_or_listed_events() {
    for (status, fix) in [
        ("storage-full", "--allocated-storage"),
        ("incompatible-parameters", "--db-parameter-group-name"),
        ("inaccessible-encryption-credentials", "aws rds start-db-instance"),
    ] {
        let env = Env::new().await;
        orders_in(&env, status).await;
        let replica_side = rds_event(&env.account.id, &env.account.region, "orders-r", "RDS-EVENT-0045", "DB_INSTANCE");
        // A restart error (a default failure event), replication stopped on the replica, an alarm on the replica,
        // and storage full listed as a failure event: none promotes.
        let listed = env.app(&[("FAILURE_EVENT_IDS", "RDS-EVENT-0031,RDS-EVENT-0221")]);
        for (after, app, event) in [
            ("RDS-EVENT-0022", env.app(&[]), env.failure_event("orders", "RDS-EVENT-0022")),
            ("RDS-EVENT-0045 on the replica", env.app(&[]), replica_side),
            ("an alarm on the replica", env.app(&[]), alarm(&env, "orders-r")),
            ("RDS-EVENT-0221 listed in FAILURE_EVENT_IDS", listed, env.failure_event("orders", "RDS-EVENT-0221")),
        ] {
            let after = format!("{status}, {after}");
            let response = ok(&app, event).await;
            assert_eq!((response.status, response.action.as_str()), (Outcome::Refused, "fix-in-place"), "{after}");
            assert_nothing_promoted(&env, &after).await;
            assert_fix_notified(&env, &after, status, fix).await;
        }
    }
}

#[tokio::test]
async fn a_fixed_in_place_primary_should_be_promoted_away_from_only_by_a_forced_promote() {
    let env = Env::new().await;
    orders_in(&env, "storage-full").await;
    let app = env.app(&[]);

    let unforced = ok(&app, promote("orders-r", false)).await;
    assert_eq!((unforced.status, unforced.action.as_str()), (Outcome::Refused, "fix-in-place"), "{unforced:?}");
    assert_nothing_promoted(&env, "promote without force").await;
    assert_fix_notified(&env, "promote without force", "storage-full", "--allocated-storage").await;

    let forced = ok(&app, promote("orders-r", true)).await;
    assert_eq!(forced.status, Outcome::Succeeded, "{forced:?}");
    assert!(!env.is_replica("orders-r").await, "promoted");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1);
    assert_eq!(env.promotion("orders").await, Some((State::Done, "orders-r".to_owned())));
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let summary = notes[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("manual promote of orders-r (forced)"), "{summary}");
    assert!(!summary.contains("NOT fenced"), "a storage-full primary takes no writes: {summary}");
}

// ------------------------------------------------------------------ RDS-EVENT-0004 is no failure by default

#[tokio::test]
async fn a_shutdown_event_should_neither_notify_nor_refuse_by_default() {
    let env = Env::new().await;
    orders(&env).await;

    // Every reboot, patch and scale of an available primary sends it.
    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0004")).await;

    assert_eq!(response.status, Outcome::Skipped, "{response:?}");
    assert!(response.message.contains("RDS-EVENT-0004") && response.message.contains("not a failure"), "{response:?}");
    assert!(env.notifications().await.is_empty(), "nothing published");
    for id in ["r-lag", "r-fast", "r-mid"] {
        assert!(env.is_replica(id).await, "{id} untouched");
    }
    assert_eq!(env.calls_answered("Query") + env.calls_answered("TransactWriteItems"), 0, "no ledger call");
    assert!(env.records("db-instance:us-east-1/orders").await.is_empty(), "nothing recorded");

    // A stack that lists it still acts on it: a failed primary is promoted away from.
    env.set_status("orders", "failed");
    let listed = env.app(&[("FAILURE_EVENT_IDS", "RDS-EVENT-0031,RDS-EVENT-0004")]);
    let response = ok(&listed, env.failure_event("orders", "RDS-EVENT-0004")).await;
    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("r-fast").await);
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"]);
}

// ------------------------------------------------------------------ manual promote: only away from no writes

#[tokio::test]
async fn manual_promote_on_a_backing_up_primary_should_be_refused_without_force_and_promoted_with_it() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "backing-up");
    let app = env.app(&[]);

    let unforced = ok(&app, promote("r-mid", false)).await;

    assert_eq!((unforced.status, unforced.action.as_str()), (Outcome::Refused, "promote-replica"), "{unforced:?}");
    for id in ["r-lag", "r-fast", "r-mid"] {
        assert!(env.is_replica(id).await, "{id} untouched");
    }
    assert_eq!(env.calls_answered("PromoteReadReplica"), 0);
    assert_eq!(env.promotion("orders").await, None, "no decision recorded");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused"]);
    assert_eq!(notes[0].attribute("severity"), "warning");
    let summary = notes[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("reports backing-up, in which it may still take writes"), "{summary}");
    assert!(summary.contains("two writable databases") && summary.contains("not fenced"), "{summary}");
    assert!(summary.contains(r#"add "force": true"#), "{summary}");

    let forced = ok(&app, promote("r-mid", true)).await;

    assert_eq!(forced.status, Outcome::Succeeded, "{forced:?}");
    assert!(!env.is_replica("r-mid").await, "promoted");
    assert!(env.is_replica("r-fast").await && env.is_replica("r-lag").await, "only the named one");
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-mid".to_owned())));
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let summary = notes[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("orders was backing-up and was NOT fenced: it may still accept writes"), "{summary}");
}

#[tokio::test]
async fn manual_promote_on_a_primary_that_takes_no_writes_should_act_without_force() {
    for status in ["stopped", "failed"] {
        let env = Env::new().await;
        orders_in(&env, status).await;

        let response = ok(&env.app(&[]), promote("orders-r", false)).await;

        assert_eq!(response.status, Outcome::Succeeded, "{status}: {response:?}");
        assert!(!env.is_replica("orders-r").await, "{status}: promoted");
        let notes = env.notifications().await;
        assert_eq!(outcomes(&notes), ["succeeded"], "{status}");
        let summary = notes[0].body()["summary"].as_str().unwrap().to_owned();
        assert!(!summary.contains("NOT fenced"), "{status} takes no writes: {summary}");
    }
}
