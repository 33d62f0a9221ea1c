//! `database-failover` and a primary's identity, against the local AWS: a decision belongs to the primary's
//! `DbiResourceId`, not to its name, so an instance that takes an old primary's name (a rename, a restore) is
//! failed over on its own.

use failover_core::ledger::State;
use failover_core::outcome::Outcome;
use integration_tests::database::*;
use serde_json::json;

/// Renames `from` to `to` at once (`ModifyDBInstance` with `NewDBInstanceIdentifier`).
async fn rename(env: &Env, from: &str, to: &str) {
    env.account
        .rds()
        .modify_db_instance()
        .db_instance_identifier(from)
        .new_db_instance_identifier(to)
        .apply_immediately(true)
        .send()
        .await
        .unwrap_or_else(|e| panic!("rename {from} to {to}: {e:?}"));
}

#[tokio::test]
async fn a_new_instance_under_an_old_primarys_name_should_have_its_own_replica_promoted_when_it_fails() {
    let env = Env::new().await;
    let app = env.app(&[]);
    // orders fails and is promoted away from: orders-r1 takes over.
    let old = env.primary("orders", true).await.dbi_resource_id.expect("DbiResourceId");
    env.replica("orders-r1", "orders", &[]).await;
    env.lag("orders-r1", &[1.0]).await;
    env.set_status("orders", "failed");
    let first = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert_eq!(first.status, Outcome::Succeeded, "{first:?}");
    assert!(!env.is_replica("orders-r1").await);
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"]);

    // The failed instance comes back (RDS refuses to modify, and so to rename, a failed one) and is set aside;
    // a new one takes the name (as a restore renamed into place does), with its own replica.
    env.set_status("orders", "available");
    rename(&env, "orders", "orders-old").await;
    let new = env.primary("orders-restored", true).await.dbi_resource_id.expect("DbiResourceId");
    rename(&env, "orders-restored", "orders").await;
    assert_ne!(old, new, "another instance, another DbiResourceId");
    env.replica("orders-r2", "orders", &[]).await;
    env.lag("orders-r2", &[1.0]).await;

    // The new orders fails: the old instance's decision does not count for it.
    env.set_status("orders", "failed");
    let second = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(second.status, Outcome::Succeeded, "{second:?}");
    assert!(!env.is_replica("orders-r2").await, "the new primary's own replica is promoted");
    assert_eq!(env.promotion("orders").await, Some((State::Done, "orders-r2".to_owned())));
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"], "{notes:?}");
    let body = notes[0].body();
    assert_eq!(body["details"]["primary_resource_id"], new.as_str(), "{body}");
    let summary = body["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("orders-r2") && summary.contains(&format!("orders ({new})")), "{body}");

    // The same failure again finds the new instance's own decision: nothing else is promoted.
    let again = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert_eq!(again.status, Outcome::Skipped, "{again:?}");
    assert!(env.notifications().await.is_empty(), "nothing published");
    assert_eq!(env.promotion("orders").await, Some((State::Done, "orders-r2".to_owned())));

    // `status` shows the name, the resource id and the decision about this instance.
    let status = ok(&app, json!({"command": "status", "db_instance_identifier": "orders"})).await;
    let primary = &status.details["primary"];
    assert_eq!((primary["id"].as_str(), primary["resource_id"].as_str()), (Some("orders"), Some(new.as_str())));
    assert_eq!(primary["record"]["subject"]["id"], "orders-r2", "{status:?}");
    assert_eq!(primary["record"]["primary_resource_id"], new.as_str(), "{status:?}");
}
