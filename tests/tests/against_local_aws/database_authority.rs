//! One authority per primary across regions, against the local AWS: the stacks of two regions, both with
//! `ALLOW_CROSS_REGION=true`, see one failure of a primary in us-east-1. Each writes its decision in the ledger
//! of the primary's region (the table of the same name there), so exactly one replica is promoted and the other
//! stack reports the decision it found. When that ledger cannot be reached, the other stack decides alone and
//! says so; when it refuses (AccessDenied), nothing is promoted and the failure names the fix. A pause of either
//! stack holds for a decision written in the home ledger.

use failover_core::outcome::Outcome;
use integration_tests::database::*;
use integration_tests::Account;
use serde_json::{json, Value};

const CROSS: &[(&str, &str)] = &[("ALLOW_CROSS_REGION", "true")];

/// orders (us-east-1, failed) with r-east (us-east-1, lag 1 s) and orders-west (us-west-2, lag 3 s).
async fn orders_in_two_regions(env: &Env) -> Account {
    let west = env.account.in_region("us-west-2").await;
    let primary = env.primary("orders", true).await;
    env.replica("r-east", "orders", &[]).await;
    env.lag("r-east", &[1.0, 0.5]).await;
    env.replica_in(&west, "orders-west", primary.db_instance_arn().unwrap(), &[]).await;
    env.lag_in(&west, "orders-west", &[3.0, 2.0]).await;
    env.set_status("orders", "failed");
    west
}

fn replication_stopped(west: &Account) -> Value {
    rds_event(&west.id, "us-west-2", "orders-west", "RDS-EVENT-0045", "DB_INSTANCE")
}

const EAST_PRIMARY: &str = "db-instance:us-east-1/orders";

#[tokio::test]
async fn two_stacks_in_two_regions_promote_one_replica_and_the_other_reports_the_decision_it_found() {
    let env = Env::new().await;
    let west = orders_in_two_regions(&env).await;
    let east_stack = env.app(CROSS);
    let west_stack = env.app_in(&west, CROSS);
    // RDS takes minutes over a promotion: r-east stays `modifying`, still a replica, meanwhile.
    env.hold_promotion("r-east");

    // The east stack acts first: r-east is being promoted (a retryable "promotion in progress").
    let east_first = east_stack.handle(env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert!(east_first.is_err(), "the promotion is in progress: {east_first:?}");
    // The west stack sees the failure from orders-west: the decision is in us-east-1's ledger.
    let west_first = west_stack.handle(replication_stopped(&west)).await;
    let error = west_first.expect_err("the west stack waits for the east stack's promotion").to_string();
    assert!(error.contains("promotion in progress") && error.contains("r-east"), "{error}");

    env.finish_promotion("r-east", "promoted");
    ok(&east_stack, env.failure_event("orders", "RDS-EVENT-0031")).await;
    let west_again = ok(&west_stack, replication_stopped(&west)).await;

    assert_eq!(env.calls_answered("PromoteReadReplica"), 1, "exactly one promotion");
    assert!(!env.is_replica("r-east").await, "r-east must be promoted");
    let west_replica = env.describe_in(&west, "orders-west").await;
    assert!(west_replica.read_replica_source_db_instance_identifier.is_some(), "orders-west must stay a replica");
    assert_eq!(west_again.status, Outcome::Info, "{west_again:?}");
    assert!(
        west_again.message.contains("already failed over") && west_again.message.contains("r-east"),
        "the west stack reports the decision it found: {west_again:?}"
    );
    // Told once: the next event the west stack sees is a logged skip.
    let west_later = ok(&west_stack, replication_stopped(&west)).await;
    assert_eq!(west_later.status, Outcome::Skipped, "{west_later:?}");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1, "still exactly one promotion");
    let notes = env.notifications().await;
    assert_eq!(
        outcomes(&notes),
        ["succeeded", "info"],
        "one failover notified by the stack that made it, told once by the other"
    );
    assert!(notes[0].body()["title"].as_str().unwrap().contains("r-east promoted"), "{:?}", notes[0].body());
    assert_eq!(notes[1].body()["details"]["decided_in"], "us-east-1", "{:?}", notes[1].body());
    assert_eq!(env.promotion("orders").await, Some((failover_core::ledger::State::Done, "r-east".into())));
    assert!(env.records_in(&west, EAST_PRIMARY).await.is_empty(), "nothing in the west stack's own ledger");
}

/// us-east-1's DynamoDB as a region that is down: the connection is refused (one attempt).
fn east_dynamodb_down(home: &aws_sdk_dynamodb::Client, region: &str) -> aws_sdk_dynamodb::Client {
    let config = home.config().to_builder().region(aws_sdk_dynamodb::config::Region::new(region.to_owned()));
    aws_sdk_dynamodb::Client::from_conf(config.endpoint_url("http://127.0.0.1:9").build())
}

#[tokio::test]
async fn when_the_home_regions_ledger_cannot_be_reached_the_other_stack_decides_alone_and_says_so() {
    let env = Env::new().await;
    let west = orders_in_two_regions(&env).await;
    let west_stack = env.app_with_ledgers(&west, CROSS, east_dynamodb_down);

    let response = ok(&west_stack, replication_stopped(&west)).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let summary = notes[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.starts_with("decided alone: the home region's ledger could not be reached ("), "{summary}");
    assert_eq!(notes[0].body()["details"]["authority"]["alone"], json!(true));
    let decided: Vec<_> = env.records_in(&west, EAST_PRIMARY).await;
    assert_eq!(decided.len(), 1, "the decision is in the west stack's own ledger: {decided:?}");
    assert!(env.records(EAST_PRIMARY).await.is_empty());
    // status and timeline read the decision where it is, and say that it is not the primary's region's ledger.
    for command in ["status", "timeline"] {
        let asked = json!({"command": command, "db_instance_identifier": "orders", "region": "us-east-1"});
        let told = ok(&west_stack, asked).await;
        let note = "read from this stack's own ledger, not the primary's region's: this stack decided about it alone";
        assert!(told.summary.starts_with(note), "{command}: {told:?}");
        assert_eq!(told.details["authority"]["alone"], json!(true), "{command}: {told:?}");
    }

    // us-east-1 answers again, and the event comes again: the decision made alone is found, nothing else promoted.
    let again = ok(&env.app_in(&west, CROSS), replication_stopped(&west)).await;
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1, "no second promotion: {again:?}");
    assert!(again.summary.starts_with("decided alone: this stack decided about it alone earlier"), "{again:?}");
}

#[tokio::test]
async fn when_the_home_regions_ledger_refuses_nothing_is_promoted_and_the_fix_is_named() {
    let env = Env::new().await;
    let west = orders_in_two_regions(&env).await;
    let west_stack = env.app_in(&west, CROSS);
    env.account.control("/_failover/iam/deny", json!({"actions": ["dynamodb:Query"]}));

    let response = west_stack.handle(replication_stopped(&west)).await;
    env.account.control("/_failover/iam/deny", json!({"actions": []}));

    let response = response.expect("a permanent error is answered, not retried");
    assert_eq!(response.status, Outcome::Failed, "{response:?}");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 0, "nothing promoted");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["failed"]);
    let text = notes[0].message.clone();
    assert!(text.contains("AccessDenied") && text.contains("HOME_LEDGER_TABLES"), "{text}");
    assert!(env.records_in(&west, EAST_PRIMARY).await.is_empty());
}

fn pause(by: &str) -> Value {
    json!({"command": "pause", "reason": "planned maintenance of orders", "by": by})
}

#[tokio::test]
async fn a_pause_of_either_stack_holds_for_a_decision_in_the_home_regions_ledger() {
    let env = Env::new().await;
    let west = orders_in_two_regions(&env).await;
    let east_stack = env.app(CROSS);
    let west_stack = env.app_in(&west, CROSS);

    // The east stack is paused: its ledger decides about its primaries, whichever stack writes there.
    ok(&east_stack, pause("east on-call")).await;
    let response = ok(&west_stack, replication_stopped(&west)).await;
    assert_eq!(response.status, Outcome::Refused, "{response:?}");
    assert!(response.summary.contains("east on-call"), "{response:?}");
    ok(&east_stack, json!({"command": "resume"})).await;

    // The west stack is paused: it writes nothing in another region's ledger either.
    ok(&west_stack, pause("west on-call")).await;
    let response = ok(&west_stack, replication_stopped(&west)).await;
    assert_eq!(response.status, Outcome::Refused, "{response:?}");
    assert!(response.summary.contains("west on-call"), "{response:?}");

    assert_eq!(env.calls_answered("PromoteReadReplica"), 0, "nothing promoted while paused");
    assert!(env.records(EAST_PRIMARY).await.is_empty(), "no decision recorded");
}
