//! `database-failover` across an incident, against the local AWS: the DNS record a primary's
//! `failover:dns-record` tag names follows that primary only (Route 53 state and notifications asserted).

use database_failover::adapters::{CloudWatchLag, RdsDatabases, Route53Dns};
use database_failover::ports::LagMetric;
use database_failover::App;
use failover_core::ledger::{DynamoLedger, State};
use failover_core::outcome::Outcome;
use failover_core::report::{Notifier, NotifyError, Report};
use failover_core::shell::{Handler, Invocation};
use integration_tests::database::*;
use serde_json::{json, Value};

#[tokio::test]
async fn a_record_shared_by_two_primaries_should_follow_only_the_primary_it_points_at() {
    let env = Env::new().await;
    for (primary, replica) in [("orders", "orders-r"), ("billing", "billing-r")] {
        env.primary(primary, true).await;
        env.replica(replica, primary, &[]).await;
        env.lag(replica, &[1.0, 0.5]).await;
    }
    let orders = endpoint(&env, "orders").await;
    let zone_id = zone_with_record(&env, &orders).await;
    for primary in ["orders", "billing"] {
        tag_dns_record(&env, primary, &zone_id).await;
    }
    let app = env.app(&[]);

    // billing fails: its replica is promoted, but the record points at orders: it is left as it is, with a warning.
    env.set_status("billing", "failed");
    let response = ok(&app, env.failure_event("billing", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("billing-r").await, "billing-r promoted");
    assert_eq!(record(&env, &zone_id).await, (Some(300), vec![orders.clone()]), "the record still points at orders");
    assert!(env.is_replica("orders-r").await, "orders' replica untouched");
    let notes = env.notifications().await;
    assert_eq!(notes.len(), 1);
    let body = notes[0].body();
    assert!(body["title"].as_str().unwrap().contains("DNS record not changed"), "{body}");
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains("writer.shop.internal was NOT changed") && summary.contains(&orders), "{summary}");
    assert_eq!(body["details"]["dns"]["result"], "elsewhere", "{body}");

    // orders fails: the record follows it to its replica.
    env.set_status("orders", "failed");
    let response = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("orders-r").await, "orders-r promoted");
    let promoted = endpoint(&env, "orders-r").await;
    assert_eq!(record(&env, &zone_id).await, (Some(30), vec![promoted.clone()]));
    let notes = env.notifications().await;
    assert_eq!(notes.len(), 1, "one notification for this failover");
    let body = notes[0].body();
    assert_eq!(body["details"]["dns"]["result"], "repointed", "{body}");
    assert!(body["next_steps"][0]
        .as_str()
        .unwrap()
        .contains(&format!("writer.shop.internal now points to {promoted}")));
}

#[tokio::test]
async fn a_storage_full_event_should_notify_with_the_fix_listed_or_not_and_promote_only_on_a_forced_promote() {
    let env = Env::new().await;
    env.primary("orders", true).await;
    env.replica("orders-r", "orders", &[]).await;
    env.lag("orders-r", &[1.0]).await;
    env.set_status("orders", "storage-full");

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0221")).await;

    assert_eq!((response.status, response.action.as_str()), (Outcome::Refused, "fix-in-place"), "{response:?}");
    assert!(env.is_replica("orders-r").await, "not promoted");
    assert_eq!(env.describe("orders").await.db_instance_status.as_deref(), Some("storage-full"));
    assert!(env.records("db-instance:us-east-1/orders").await.is_empty(), "nothing recorded");
    let notes = env.notifications().await;
    assert_eq!(notes.len(), 1);
    let body = notes[0].body();
    assert_eq!(notes[0].attribute("severity"), "critical");
    let fix = body["next_steps"][0].as_str().unwrap();
    assert!(
        fix.contains(
            "aws rds modify-db-instance --region us-east-1 --db-instance-identifier orders --allocated-storage"
        ),
        "{fix}"
    );
    assert!(body["next_steps"][1].as_str().unwrap().contains(r#""db_instance_identifier":"orders-r""#), "{body}");

    // Listed in FAILURE_EVENT_IDS, the same event still promotes nothing: the primary is fixed in place.
    let response = ok(
        &env.app(&[("FAILURE_EVENT_IDS", "RDS-EVENT-0031,RDS-EVENT-0221")]),
        env.failure_event("orders", "RDS-EVENT-0221"),
    )
    .await;
    assert_eq!((response.status, response.action.as_str()), (Outcome::Refused, "fix-in-place"), "{response:?}");
    assert!(env.is_replica("orders-r").await, "not promoted");
    assert_eq!(outcomes(&env.notifications().await), ["refused"]);

    // A person who gives up on the fix promotes with "force": true.
    let forced = json!({"command": "promote", "db_instance_identifier": "orders-r", "force": true});
    assert_eq!(ok(&env.app(&[]), forced).await.status, Outcome::Succeeded);
    assert!(!env.is_replica("orders-r").await, "promoted");
    env.notifications().await;

    // Once it failed over, a repeated storage-full event has nothing to fix: a logged skip.
    let again = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0221")).await;
    assert_eq!(again.status, Outcome::Skipped, "{again:?}");
    assert!(again.message.contains("already failed over to orders-r"), "{}", again.message);
    assert!(env.notifications().await.is_empty(), "nothing published");
}

/// The RDS event subscription's own SNS message about `id` (no EventBridge in between), as SNS hands it to Lambda.
fn subscription_event(env: &Env, id: &str, event_id: &str) -> serde_json::Value {
    let (region, account) = (&env.account.region, &env.account.id);
    let now = failover_core::time::format_time(failover_core::time::now_secs());
    let event_time = format!("{}.000", now.replace('T', " ").trim_end_matches('Z'));
    let message = serde_json::json!({
        "Event Source": "db-instance", "Event Time": event_time,
        "Identifier Link": format!("https://console.aws.amazon.com/rds/home?region={region}#dbinstance:id={id}"),
        "Source ID": id, "Source ARN": format!("arn:aws:rds:{region}:{account}:db:{id}"),
        "Event ID": format!("http://docs.amazonwebservices.com/AmazonRDS/latest/UserGuide/USER_Events.html#{event_id}"),
        "Event Message": "DB instance put into failed state."
    });
    serde_json::json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {
        "Type": "Notification", "MessageId": "m-1", "TopicArn": format!("arn:aws:sns:{region}:{account}:rds-events"),
        "Subject": "RDS Notification Message", "Message": message.to_string(), "Timestamp": now,
        "MessageAttributes": {"EventID": {"Type": "String", "Value": event_id}}}}]})
}

#[tokio::test]
async fn an_rds_event_subscription_message_should_promote_as_the_eventbridge_event_does() {
    let env = Env::new().await;
    env.primary("orders", true).await;
    for (replica, lag) in [("r-slow", 9.0), ("r-fast", 1.0)] {
        env.replica(replica, "orders", &[]).await;
        env.lag(replica, &[lag]).await;
    }
    env.set_status("orders", "failed");
    let app = env.app(&[]);

    let response = ok(&app, subscription_event(&env, "orders", "RDS-EVENT-0031")).await;

    assert_eq!((response.status, response.action.as_str()), (Outcome::Succeeded, "promote-replica"), "{response:?}");
    assert!(!env.is_replica("r-fast").await && env.is_replica("r-slow").await, "the safest replica, once");
    let notes = env.notifications().await;
    assert_eq!(notes.len(), 1);
    assert!(notes[0].body()["summary"].as_str().unwrap().contains("Trigger: RDS-EVENT-0031"), "{:?}", notes[0]);
    // The same failure through EventBridge afterwards finds the decision: nothing else is promoted.
    let again = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert_eq!(again.status, Outcome::Skipped, "{again:?}");
    assert!(env.is_replica("r-slow").await);
}

/// orders (opted in, failed) with one eligible replica, orders-r.
async fn failed_orders() -> Env {
    let env = Env::new().await;
    env.primary("orders", true).await;
    env.replica("orders-r", "orders", &[]).await;
    env.lag("orders-r", &[1.0]).await;
    env.set_status("orders", "failed");
    env
}

/// Nothing promoted, recorded or published.
async fn nothing_changed(env: &Env) {
    assert!(env.is_replica("orders-r").await, "nothing promoted");
    assert!(env.records("db-instance:us-east-1/orders").await.is_empty(), "nothing recorded");
    assert!(env.notifications().await.is_empty(), "a skip publishes nothing");
}

#[tokio::test]
async fn an_event_about_a_database_in_another_region_should_be_a_logged_skip_that_changes_nothing() {
    let env = failed_orders().await;
    let elsewhere = rds_event(&env.account.id, "eu-west-1", "orders", "RDS-EVENT-0031", "DB_INSTANCE");

    let response = ok(&env.app(&[]), elsewhere).await;

    assert_eq!(response.status, Outcome::Skipped, "{response:?}");
    assert!(response.message.contains("not this function's region us-east-1"), "{}", response.message);
    nothing_changed(&env).await;
}

#[tokio::test]
async fn an_event_from_another_account_should_be_a_logged_skip_in_code_too() {
    let env = failed_orders().await;
    let app = env.app(&[]);
    // The function's own account is in the Lambda context's invoked_function_arn.
    let arn = format!("arn:aws:lambda:{}:{}:function:database-failover", env.account.region, env.account.id);
    let foreign = rds_event("999999999999", &env.account.region, "orders", "RDS-EVENT-0031", "DB_INSTANCE");

    let lambda = |id: &str| Invocation { request_id: Some(id.into()), function_arn: Some(arn.clone()), deadline: None };
    let response = app.invoke(foreign, &lambda("req-1")).await.expect("a skip");

    assert_eq!(response.status, Outcome::Skipped, "{response:?}");
    assert!(response.message.contains("event from account 999999999999"), "{}", response.message);
    nothing_changed(&env).await;

    // The same event from the function's own account acts.
    let own = env.failure_event("orders", "RDS-EVENT-0031");
    let response = app.invoke(own, &lambda("req-2")).await.expect("a promotion");
    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("orders-r").await);
}

// ------------------------------------------------------------------ decisions expire and are re-checked

#[tokio::test]
async fn an_interrupted_promotion_should_be_abandoned_with_its_reason_when_a_reboot_event_follows_recovery() {
    let env = Env::new().await;
    orders(&env).await;
    // Decided while orders was down; the function died before promoting; orders has recovered (available).
    env.crashed_decision("orders", "r-fast", 120).await;
    // A stack that lists the shutdown (RDS-EVENT-0004, not a failure event by default).
    let app = env.app(&[("FAILURE_EVENT_IDS", "RDS-EVENT-0031,RDS-EVENT-0004")]);

    let reboot = ok(&app, env.failure_event("orders", "RDS-EVENT-0004")).await;
    assert_eq!(reboot.status, Outcome::Refused, "{reboot:?}");
    assert!(env.is_replica("r-fast").await, "the recorded replica was not promoted");
    assert!(env.is_replica("r-lag").await && env.is_replica("r-mid").await, "nor any other");
    assert_eq!(env.promotion("orders").await, Some((State::Abandoned, "r-fast".to_owned())));
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused"]);
    assert_eq!(notes[0].attribute("severity"), "warning");
    let summary = notes[0].body()["summary"].as_str().unwrap_or_default().to_owned();
    assert!(summary.contains("r-fast") && summary.contains("abandoned"), "{summary}");
    assert!(summary.contains("orders is available again"), "the reason: {summary}");

    // The abandoned decision blocks nothing: a real failure later decides afresh and promotes.
    env.set_status("orders", "failed");
    let failure = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert_eq!(failure.status, Outcome::Succeeded, "{failure:?}");
    assert!(!env.is_replica("r-fast").await);
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".to_owned())));
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"], "one more notification");
}

#[tokio::test]
async fn an_interrupted_promotion_should_be_completed_by_a_retry_while_the_primary_is_still_down() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    env.crashed_decision("orders", "r-mid", 120).await;
    let app = env.app(&[]);

    let retry = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert_eq!(retry.status, Outcome::Succeeded, "{retry:?}");
    assert!(!env.is_replica("r-mid").await, "the recorded choice is completed, though r-fast lags less now");
    assert!(env.is_replica("r-fast").await && env.is_replica("r-lag").await);
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-mid".to_owned())));
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"]);
}

/// Once orders' promotion (of r-fast) is notified, `event` again is a logged skip: nothing published or promoted.
async fn the_same_event_again_changes_and_publishes_nothing(env: &Env, app: &TestApp, event: Value) {
    let again = ok(app, event).await;
    assert_eq!(again.status, Outcome::Skipped, "{again:?}");
    assert!(env.notifications().await.is_empty(), "the notification went out once");
    assert!(env.is_replica("r-mid").await && env.is_replica("r-lag").await, "nothing else promoted");
    assert_eq!(notified(env, "orders").await, Some(true));
}

/// The `notified` flag of the primary's promotion record.
async fn notified(env: &Env, primary: &str) -> Option<bool> {
    let records = env.records(&format!("db-instance:{}/{primary}", env.account.region)).await;
    records.iter().find(|r| r.key.starts_with("promotion#")).and_then(|r| r.data["notified"].as_bool())
}

/// orders failed (its three replicas, see [`orders`]), and its failure event.
async fn orders_down() -> (Env, Value) {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let event = env.failure_event("orders", "RDS-EVENT-0031");
    (env, event)
}

/// A run promoted r-fast for orders and did not publish (the record is done, not notified): the retry of
/// `event` publishes that promotion's notification once and promotes nothing else; the same event again
/// publishes nothing.
fn ten_minutes_later() -> i64 {
    failover_core::time::now_secs() + 600
}

fn a_minute_later() -> i64 {
    failover_core::time::now_secs() + 60
}

async fn the_retry_should_publish_the_owed_notification_once(env: &Env, event: Value) {
    assert!(!env.is_replica("r-fast").await, "promoted");
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".to_owned())));
    assert_eq!(notified(env, "orders").await, Some(false));
    assert!(env.notifications().await.is_empty());

    // Lambda retries a minute later, once the run that died can no longer be publishing.
    let app = env.app(&[]).with_clock(a_minute_later);
    let retry = ok(&app, event.clone()).await;
    assert_eq!(retry.status, Outcome::Succeeded, "{retry:?}");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let body = notes[0].body().to_string();
    assert!(body.contains("r-fast") && body.contains("from the ledger"), "{body}");
    assert!(env.is_replica("r-mid").await && env.is_replica("r-lag").await, "no second promotion");
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".to_owned())));
    assert_eq!(notified(env, "orders").await, Some(true));

    the_same_event_again_changes_and_publishes_nothing(env, &app, event).await;
}

#[tokio::test]
async fn a_promotion_whose_notification_was_not_published_should_be_notified_once_by_the_retry_and_never_again() {
    let (env, event) = orders_down().await;
    let missing = format!("arn:aws:sns:{}:{}:does-not-exist", env.account.region, env.account.id);
    let refused = env.app(&[("NOTIFICATION_TOPIC_ARN", missing.as_str())]).handle(event.clone()).await;

    let error = refused.expect_err("a notification not published asks for Lambda's retry");
    assert!(error.to_string().contains("not published"), "{error}");
    the_retry_should_publish_the_owed_notification_once(&env, event).await;
}

/// SNS reached by a run that dies there: after the promotion, before the notification.
struct Dying;

impl Notifier for Dying {
    async fn publish(&self, _: &Report) -> Result<(), NotifyError> {
        panic!("the invocation dies between the promotion and the publish")
    }
}

#[tokio::test]
async fn a_promotion_whose_run_died_before_publishing_should_be_notified_once_by_the_retry_and_never_again() {
    let (env, event) = orders_down().await;
    let dying = App::with_ports(
        env.config(&[]),
        env.account.region.clone(),
        RdsDatabases::new(env.account.rds()),
        CloudWatchLag::new(env.account.cloudwatch()),
        Route53Dns::new(env.account.route53()),
        Dying,
        DynamoLedger::new(env.account.dynamodb(), env.ledger.clone()),
    );

    let died = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(dying.handle(event.clone()))).await;

    assert!(died.is_err(), "the run died");
    the_retry_should_publish_the_owed_notification_once(&env, event).await;
}

#[tokio::test]
async fn a_promotion_notified_at_once_should_be_marked_so_and_its_retry_should_publish_nothing() {
    let (env, event) = orders_down().await;
    let app = env.app(&[]);

    let first = ok(&app, event.clone()).await;
    assert_eq!(first.status, Outcome::Succeeded, "{first:?}");
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"]);
    assert_eq!(notified(&env, "orders").await, Some(true));

    the_same_event_again_changes_and_publishes_nothing(&env, &app, event).await;
}

#[tokio::test]
async fn an_interrupted_promotion_older_than_the_decision_ttl_should_be_abandoned_though_the_primary_is_down() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    env.crashed_decision("orders", "r-mid", 11 * 60).await;
    let app = env.app(&[("DECISION_TTL_MINUTES", "10")]);

    let late = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert_eq!(late.status, Outcome::Refused, "{late:?}");
    assert!(env.is_replica("r-mid").await && env.is_replica("r-fast").await && env.is_replica("r-lag").await);
    assert_eq!(env.promotion("orders").await, Some((State::Abandoned, "r-mid".to_owned())));
    let notes = env.notifications().await;
    let summary = notes[0].body()["summary"].as_str().unwrap_or_default().to_owned();
    assert!(summary.contains("DECISION_TTL_MINUTES (10 min)"), "{summary}");
}

/// orders failed (its three replicas, see [`orders`]), tagged with `writer.shop.internal`, which points at its
/// endpoint: the environment, the zone's id and orders' endpoint.
async fn failed_orders_with_a_dns_record() -> (Env, String, String) {
    let env = Env::new().await;
    orders(&env).await;
    let orders_endpoint = endpoint(&env, "orders").await;
    let zone_id = zone_with_record(&env, &orders_endpoint).await;
    tag_dns_record(&env, "orders", &zone_id).await;
    env.set_status("orders", "failed");
    (env, zone_id, orders_endpoint)
}

#[tokio::test]
async fn a_promotion_cut_short_while_the_replica_is_modifying_should_be_waited_for_and_its_dns_step_completed_by_the_retry(
) {
    let (env, zone_id, orders_endpoint) = failed_orders_with_a_dns_record().await;
    // The invocation recorded its decision, asked for the promotion of r-mid and died: r-mid is modifying.
    env.crashed_decision("orders", "r-mid", 60).await;
    env.set_status("r-mid", "modifying");
    let app = env.app(&[]);

    let retry = app.handle(env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert!(retry.is_err(), "a transient error, so that Lambda retries: {retry:?}");
    assert_eq!(env.promotion("orders").await, Some((State::Pending, "r-mid".to_owned())), "neither abandoned nor done");
    assert!(env.is_replica("r-fast").await && env.is_replica("r-lag").await, "no other replica chosen");
    assert_eq!(record(&env, &zone_id).await.1, std::slice::from_ref(&orders_endpoint), "DNS not changed yet");

    // AWS finishes the promotion; Lambda's next retry completes the DNS step and the record.
    env.account.rds().promote_read_replica().db_instance_identifier("r-mid").send().await.expect("promoted");
    env.set_status("r-mid", "available");
    let done = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert_eq!(done.status, Outcome::Succeeded, "{done:?}");
    assert_eq!(record(&env, &zone_id).await.1, [endpoint(&env, "r-mid").await], "the record follows r-mid");
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-mid".to_owned())));
    assert!(env.is_replica("r-fast").await && env.is_replica("r-lag").await);
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"], "one notification: the success");
}

static CLOCK: std::sync::OnceLock<i64> = std::sync::OnceLock::new();

fn fixed_clock() -> i64 {
    *CLOCK.get().expect("clock set")
}

#[tokio::test]
async fn a_decision_abandoned_in_the_same_second_should_not_block_the_next_one() {
    let env = Env::new().await;
    orders(&env).await;
    // Every invocation below sees the same second as the decision that died.
    let second = failover_core::time::now_secs() - 5;
    env.crashed_decision_at("orders", "r-mid", second).await;
    CLOCK.set(second).expect("clock");
    // A stack that lists the shutdown (RDS-EVENT-0004, not a failure event by default).
    let app = env.app(&[("FAILURE_EVENT_IDS", "RDS-EVENT-0031,RDS-EVENT-0004")]).with_clock(fixed_clock);

    let reboot = ok(&app, env.failure_event("orders", "RDS-EVENT-0004")).await;
    assert_eq!(reboot.status, Outcome::Refused, "abandoned: {reboot:?}");
    env.set_status("orders", "failed");
    let failure = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(failure.status, Outcome::Succeeded, "{failure:?}");
    let keys: Vec<(String, State)> = env
        .records("db-instance:us-east-1/orders")
        .await
        .into_iter()
        .filter(|r| r.key.starts_with("promotion#"))
        .map(|r| (r.key, r.state))
        .collect();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let plain = format!("promotion#{second}");
    assert!(keys.iter().any(|(k, s)| *k == plain && *s == State::Abandoned), "{keys:?}");
    assert!(keys.iter().any(|(k, s)| k.starts_with(&format!("{plain}#")) && *s == State::Done), "{keys:?}");
    assert!(
        keys.iter().any(|(_, s)| *s == State::Abandoned) && keys.iter().any(|(_, s)| *s == State::Done),
        "{keys:?}"
    );
    assert!(!env.is_replica("r-fast").await, "the new decision chose afresh");
}

// ------------------------------------------------------------------ lag as of the failure

#[tokio::test]
async fn mysql_like_lag_should_be_judged_as_of_the_failure_minus_one_after_it_does_not_count_before_it_does() {
    let env = Env::new().await;
    env.primary("orders", true).await;
    env.replica("r-was-fine", "orders", &[]).await;
    env.replica("r-had-stopped", "orders", &[]).await;
    // The failure 100 s ago: since then both replicas report -1 (their source is gone).
    put_lag_aged(&env.account, LagMetric::ReplicaLag, "r-was-fine", &[(30, -1.0), (150, 3.0)]).await;
    put_lag_aged(&env.account, LagMetric::ReplicaLag, "r-had-stopped", &[(30, -1.0), (150, -1.0)]).await;
    env.set_status("orders", "failed");
    let mut event = env.failure_event("orders", "RDS-EVENT-0031");
    let failed_at = failover_core::time::now_secs() - 100;
    event["time"] = serde_json::json!(failover_core::time::format_time(failed_at));
    event["detail"]["Date"] = event["time"].clone();

    let response = ok(&env.app(&[]), event).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("r-was-fine").await, "3 s behind when the primary failed: promoted");
    assert!(env.is_replica("r-had-stopped").await, "replication had stopped before the failure");
    let notes = env.notifications().await;
    let replicas = notes[0].body()["details"]["replicas"].clone();
    let judged = |id: &str| replicas.as_array().unwrap().iter().find(|v| v["id"] == id).cloned().expect(id);
    let fine = judged("r-was-fine");
    assert_eq!((fine["max_lag"].as_f64(), fine["eligible"].as_bool()), (Some(3.0), Some(true)), "{fine}");
    let at = fine["lag_at"].as_str().and_then(failover_core::time::parse_time).expect("the datapoint's time");
    assert!(at <= failed_at, "the datapoint judged is from before the failure: {fine}");
    let stopped = judged("r-had-stopped");
    assert!(stopped["reason"].as_str().unwrap().contains("not running before the failure"), "{stopped}");
    let summary = notes[0].body()["summary"].as_str().unwrap_or_default().to_owned();
    assert!(summary.contains(&format!("ReplicaLag 3 s at {}", failover_core::time::format_time(at))), "{summary}");
}

fn two_hours_later() -> i64 {
    failover_core::time::now_secs() + 2 * 3600
}

#[tokio::test]
async fn a_promoted_replica_whose_dns_step_failed_should_be_completed_two_hours_later_with_nothing_abandoned() {
    let (env, zone_id, orders_endpoint) = failed_orders_with_a_dns_record().await;
    let event = env.failure_event("orders", "RDS-EVENT-0031");

    // Route 53 cannot be reached: r-fast is promoted, the DNS step fails, the decision stays pending.
    let first = env.app_without_route53(&[]).handle(event.clone()).await;
    assert!(first.is_err(), "a transient error, so that Lambda retries: {first:?}");
    assert!(!env.is_replica("r-fast").await, "promoted");
    assert_eq!(env.promotion("orders").await, Some((State::Pending, "r-fast".to_owned())));
    assert_eq!(record(&env, &zone_id).await.1, std::slice::from_ref(&orders_endpoint), "DNS not changed");
    assert_eq!(outcomes(&env.notifications().await), ["failed"]);

    // Two hours later, past DECISION_TTL_MINUTES (60): the next event finishes what was promoted.
    let app = env.app(&[]).with_clock(two_hours_later);
    let done = ok(&app, event).await;
    assert_eq!(done.status, Outcome::Succeeded, "{done:?}");
    assert_eq!(record(&env, &zone_id).await.1, [endpoint(&env, "r-fast").await], "the record follows r-fast");
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".to_owned())));
    let records = env.records("db-instance:us-east-1/orders").await;
    assert!(records.iter().all(|r| r.state != State::Abandoned), "nothing abandoned: {records:?}");
    assert!(env.is_replica("r-mid").await && env.is_replica("r-lag").await, "nothing else promoted");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"], "{notes:?}");
    assert!(!notes[0].body()["summary"].as_str().unwrap_or_default().contains("Nothing was changed"));
}

/// A done promotion's DNS step applied again by a later event (within the repoint window) waits while automation
/// is paused, and is made by the next event after resume.
#[tokio::test]
async fn a_done_promotions_dns_step_applied_again_should_wait_while_paused_and_be_made_after_resume() {
    let (env, zone_id, orders_endpoint) = failed_orders_with_a_dns_record().await;
    let app = env.app(&[]);
    let event = env.failure_event("orders", "RDS-EVENT-0031");
    assert_eq!(ok(&app, event.clone()).await.status, Outcome::Succeeded);
    let promoted = endpoint(&env, "r-fast").await;
    assert_eq!(record(&env, &zone_id).await.1, std::slice::from_ref(&promoted));

    // A person pauses automation to work by hand; meanwhile a pipeline puts the record's old value back.
    ok(&app, json!({"command": "pause", "reason": "dns by hand", "by": "ana"})).await;
    point_record(&env, &zone_id, &orders_endpoint).await;
    env.notifications().await;

    // A later event within the repoint window: the record is left, and the answer says why.
    let paused = ok(&app, event.clone()).await;
    assert_eq!(paused.status, Outcome::Skipped, "{paused:?}");
    assert_eq!(record(&env, &zone_id).await.1, std::slice::from_ref(&orders_endpoint), "paused: not repointed");
    assert!(paused.message.contains("automation is paused (by ana: dns by hand)"), "{}", paused.message);
    assert!(env.is_replica("r-mid").await && env.is_replica("r-lag").await, "nothing else promoted");
    assert!(env.notifications().await.is_empty(), "a logged skip");

    // After resume, the next event makes the change.
    ok(&app, json!({"command": "resume"})).await;
    let again = ok(&app, event).await;
    assert_eq!(again.status, Outcome::Skipped, "{again:?}");
    assert!(!again.message.contains("paused"), "{}", again.message);
    assert_eq!(record(&env, &zone_id).await.1, [promoted], "the record follows r-fast again");
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".to_owned())));
}

/// orders failed (see [`failed_orders_with_a_dns_record`]) and its failure event, handled twice while RDS holds
/// r-fast's promotion under way: PromoteReadReplica is accepted, r-fast is modifying and still a replica, so DNS
/// waits and each run answers PromotionInProgress (Lambda retries). The environment, the app, the event and
/// the zone's id.
async fn a_promotion_under_way() -> (Env, TestApp, serde_json::Value, String) {
    let (env, zone_id, orders_endpoint) = failed_orders_with_a_dns_record().await;
    env.hold_promotion("r-fast");
    let app = env.app(&[]);
    let event = env.failure_event("orders", "RDS-EVENT-0031");
    for _ in 0..2 {
        let error = app.handle(event.clone()).await.expect_err("promotion in progress: Lambda retries");
        assert_eq!(error.error_type(), "PromotionInProgress", "{error}");
        assert!(error.to_string().contains("promotion in progress"), "{error}");
        assert!(env.is_replica("r-fast").await, "under way");
        assert_eq!(record(&env, &zone_id).await.1, std::slice::from_ref(&orders_endpoint), "DNS not changed yet");
        assert_eq!(env.promotion("orders").await, Some((State::Pending, "r-fast".to_owned())), "not done yet");
    }
    (env, app, event, zone_id)
}

#[tokio::test]
async fn a_promotion_under_way_should_repoint_dns_only_once_the_replica_is_writable_and_the_retry_should_finish_it() {
    let (env, app, event, zone_id) = a_promotion_under_way().await;
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1, "asked for once; the retry only waits");
    assert!(env.notifications().await.is_empty(), "nothing to tell yet");

    // RDS finishes the promotion: the retry repoints DNS and marks the decision done.
    env.finish_promotion("r-fast", "promoted");
    let done = ok(&app, event).await;
    assert_eq!(done.status, Outcome::Succeeded, "{done:?}");
    assert_eq!(record(&env, &zone_id).await.1, [endpoint(&env, "r-fast").await], "the record follows r-fast");
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".to_owned())));
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1);
    assert!(env.is_replica("r-mid").await && env.is_replica("r-lag").await, "nothing else promoted");
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"]);
}

#[tokio::test]
async fn a_promotion_that_fails_after_promote_read_replica_returns_should_record_nothing_as_done_and_say_so() {
    let (env, app, event, zone_id) = a_promotion_under_way().await;

    // RDS gives up: r-fast is available again, still a replica. A retry moments after the call cannot tell that
    // from a promotion RDS does not show yet: it waits.
    env.finish_promotion("r-fast", "failed");
    let soon = app.handle(event.clone()).await.expect_err("still waited for");
    assert_eq!(soon.error_type(), "PromotionInProgress", "{soon}");
    // Ten minutes later, the retry finds it failed.
    let retry = ok(&env.app(&[]).with_clock(ten_minutes_later), event).await;

    assert_eq!(retry.status, Outcome::Refused, "{retry:?}");
    assert_eq!(env.promotion("orders").await, Some((State::Abandoned, "r-fast".to_owned())), "not done");
    assert!(env.is_replica("r-fast").await && env.is_replica("r-mid").await && env.is_replica("r-lag").await);
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1, "not asked again by itself");
    assert_eq!(record(&env, &zone_id).await.1, [endpoint(&env, "orders").await], "DNS not changed");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused"], "{notes:?}");
    let summary = notes[0].body()["summary"].as_str().unwrap_or_default().to_owned();
    assert!(
        summary.contains("its promotion failed") && summary.contains("r-fast is available and still a read replica"),
        "{summary}"
    );
    assert!(summary.contains("nothing is recorded as done"), "{summary}");
}

// ------------------------------------------------------------------ DNS propagation (GetChange)

/// Route 53's GetChange as the local AWS's call log names it (REST: method and path, the id generalised).
const GET_CHANGE: &str = "GET /2013-04-01/change/{id}";

#[tokio::test]
async fn a_repointed_record_should_be_reported_insync_once_route53_says_so() {
    let (env, zone_id, _) = failed_orders_with_a_dns_record().await;
    // Route 53 takes 3 s to reach all its servers: the first GetChange answers PENDING.
    env.account.control("/_failover/route53/propagation", json!({"seconds": 3}));

    let done = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(done.status, Outcome::Succeeded, "{done:?}");
    assert_eq!(record(&env, &zone_id).await.1, [endpoint(&env, "r-fast").await]);
    assert!(env.calls_answered(GET_CHANGE) >= 2, "asked again while PENDING: {}", env.calls_answered(GET_CHANGE));
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let body = notes[0].body();
    assert_eq!(body["details"]["dns"]["propagation"]["status"], "in-sync", "{body}");
    assert!(body["summary"].as_str().unwrap_or_default().contains("Route 53 reports the change INSYNC"), "{body}");
}

#[tokio::test]
async fn a_repoint_still_pending_when_the_run_must_stop_waiting_should_be_done_and_say_pending() {
    let (env, zone_id, _) = failed_orders_with_a_dns_record().await;
    env.account.control("/_failover/route53/propagation", json!({"seconds": 600}));
    // 25 s left: the run keeps 15 s for the rest, so it asks for up to 10 s (every 5 s), then goes on.
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(25);
    let lambda = Invocation { request_id: Some("req-dns".into()), function_arn: None, deadline: Some(deadline) };

    let done = env.app(&[]).invoke(env.failure_event("orders", "RDS-EVENT-0031"), &lambda).await.expect("done");

    assert_eq!(done.status, Outcome::Succeeded, "{done:?}");
    assert_eq!(record(&env, &zone_id).await.1, [endpoint(&env, "r-fast").await], "repointed all the same");
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".to_owned())));
    let asked = env.calls_answered(GET_CHANGE);
    assert!((2..=3).contains(&asked), "asked every 5 s within the 10 s: {asked}");
    let notes = env.notifications().await;
    let body = notes[0].body();
    let propagation = &body["details"]["dns"]["propagation"];
    let waited = (asked - 1) * 5;
    assert_eq!((propagation["status"].as_str(), propagation["waited_secs"].as_u64()), (Some("pending"), Some(waited)));
    let summary = body["summary"].as_str().unwrap_or_default();
    assert!(summary.contains(&format!("still reported the change PENDING after {waited} s")), "{summary}");
    assert!(summary.contains("aws route53 get-change --id"), "{summary}");
}
