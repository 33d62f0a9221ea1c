//! `database-failover` and replicas in other regions, against the local AWS: a replica that cannot be described
//! (its region denies the call, as IAM does when the stack's RDS reads are granted in its own region only) is
//! ineligible, with why, and the primary still fails over to a replica that can be judged. The denial is IAM's
//! answer as the local AWS gives it (`POST /_failover/iam/deny`).

use integration_tests::database::*;
use integration_tests::Account;
use serde_json::{json, Value};

/// orders (us-east-1, failed) with r-here (us-east-1, lag 3 s) and orders-west (us-west-2, lag 1 s: the better
/// one when it can be judged); the account's RDS reads in us-west-2 denied.
async fn orders_with_a_denied_region(env: &Env) -> Account {
    let west = env.account.in_region("us-west-2").await;
    let primary = env.primary("orders", true).await;
    env.replica("r-here", "orders", &[]).await;
    env.lag("r-here", &[3.0, 2.0]).await;
    env.replica_in(&west, "orders-west", primary.db_instance_arn().unwrap(), &[]).await;
    env.lag_in(&west, "orders-west", &[1.0, 0.5]).await;
    env.set_status("orders", "failed");
    deny(&west, json!(["rds:DescribeDBInstances"]));
    west
}

fn deny(account: &Account, actions: Value) {
    account.control("/_failover/iam/deny", json!({ "actions": actions }));
}

/// The failover went to r-here, orders-west is still a replica (read once the denial is lifted), and the
/// notification judges orders-west ineligible, naming the denial.
async fn assert_failed_over_here(env: &Env, west: &Account, settings: &str) {
    deny(west, json!([]));
    assert!(!env.is_replica("r-here").await, "{settings}: r-here must be promoted");
    let west_replica = env.describe_in(west, "orders-west").await;
    assert!(west_replica.read_replica_source_db_instance_identifier.is_some(), "{settings}: orders-west promoted");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1, "{settings}");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"], "{settings}");
    let replicas = notes[0].body()["details"]["replicas"].clone();
    let west_verdict = replicas.as_array().unwrap().iter().find(|r| r["id"] == "orders-west");
    let west_verdict = west_verdict.unwrap_or_else(|| panic!("{settings}: orders-west not judged: {replicas}"));
    assert_eq!((&west_verdict["eligible"], &west_verdict["status"]), (&json!(false), &json!("unknown")), "{settings}");
    let reason = west_verdict["reason"].as_str().unwrap();
    assert!(
        reason.contains("could not be described") && reason.contains("us-west-2") && reason.contains("AccessDenied"),
        "{settings}: {reason}"
    );
}

#[tokio::test]
async fn a_replica_in_a_region_the_stack_may_not_read_is_ineligible_and_the_one_here_is_promoted() {
    let env = Env::new().await;
    let west = orders_with_a_denied_region(&env).await;

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, failover_core::outcome::Outcome::Succeeded, "{response:?}");
    assert_failed_over_here(&env, &west, "default settings").await;
}

#[tokio::test]
async fn with_cross_region_allowed_a_replica_that_cannot_be_described_is_still_not_promoted() {
    let env = Env::new().await;
    let west = orders_with_a_denied_region(&env).await;

    let app = env.app(&[("ALLOW_CROSS_REGION", "true")]);
    let response = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, failover_core::outcome::Outcome::Succeeded, "{response:?}");
    assert_failed_over_here(&env, &west, "ALLOW_CROSS_REGION=true").await;
}
