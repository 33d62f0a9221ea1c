//! `database-failover` and RDS Proxy, against the local AWS: the target group a primary's `failover:rds-proxy`
//! tag names follows that primary to the promoted replica, compare-and-swap style; one a person moved is left
//! alone. Proxy targets (`DescribeDBProxyTargets`), the ledger and the notifications are asserted after each
//! invocation.

use database_failover::model::PROXY_TAG;
use failover_core::ledger::State;
use failover_core::outcome::Outcome;
use integration_tests::database::*;
use serde_json::{json, Value};

/// orders (failed, three replicas, r-fast the one promoted) bound to `orders-proxy`, whose target is `target`.
async fn failed_orders_behind_a_proxy(env: &Env, target: Option<&str>) {
    orders(env).await;
    proxy(env, "orders-proxy", target).await;
    bind(env, "orders", "orders-proxy").await;
    env.set_status("orders", "failed");
}

/// The `rds-proxy` entry of a notification's `details.client_paths`.
fn proxy_path(body: &Value) -> &Value {
    let paths = body["details"]["client_paths"].as_array().expect("client_paths");
    paths.iter().find(|p| p["path"] == "rds-proxy").expect("an rds-proxy path")
}

#[tokio::test]
async fn a_proxy_bound_primary_that_fails_should_leave_the_proxy_pointing_at_the_new_primary() {
    let env = Env::new().await;
    failed_orders_behind_a_proxy(&env, Some("orders")).await;

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("r-fast").await);
    assert_eq!(targets(&env, "orders-proxy").await, ["r-fast"], "the proxy's target is the new primary");
    let records = env.records("db-instance:us-east-1/orders").await;
    assert_eq!(records[0].state, State::Done);
    assert_eq!(records[0].data["proxy"], json!({"name": "orders-proxy", "target_group": "default", "from": "orders"}));
    assert_eq!(records[0].data["proxy_result"]["result"], "moved", "kept for a notification rebuilt from the record");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let body = notes[0].body();
    assert_eq!(body["details"]["proxy"]["result"], "moved");
    assert_eq!(
        proxy_path(&body),
        &json!({"path": "rds-proxy", "tag": PROXY_TAG, "name": "orders-proxy/default",
        "state": "moved"})
    );
    let summary = body["summary"].as_str().unwrap();
    assert!(
        summary.contains("RDS Proxy orders-proxy (target group default) was moved from orders to r-fast"),
        "{summary}"
    );
    assert!(
        summary.contains("Client paths: DNS record: not tagged; RDS Proxy orders-proxy/default: moved."),
        "{summary}"
    );
    assert!(!notes[0].subject.as_deref().unwrap().contains("not moved"));
}

#[tokio::test]
async fn a_proxy_a_person_moved_should_be_left_alone_and_the_notification_should_say_where_it_points() {
    let env = Env::new().await;
    env.primary("billing", false).await;
    failed_orders_behind_a_proxy(&env, Some("billing")).await;

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "the promotion itself went ahead: {response:?}");
    assert!(!env.is_replica("r-fast").await);
    assert_eq!(targets(&env, "orders-proxy").await, ["billing"], "left as the person set it");
    assert_eq!(env.calls_answered("DeregisterDBProxyTargets"), 0);
    assert_eq!(env.calls_answered("RegisterDBProxyTargets"), 1, "only the test's own registration");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    assert!(notes[0].subject.as_deref().unwrap().contains("RDS Proxy target not moved"), "{:?}", notes[0].subject);
    let body = notes[0].body();
    assert_eq!(proxy_path(&body)["state"], "left alone: points at billing");
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains("was left alone: it points to billing, not to the failed primary orders"), "{summary}");
    let steps = body["next_steps"].to_string();
    assert!(
        steps.contains(
            "aws rds deregister-db-proxy-targets --db-proxy-name orders-proxy --target-group-name default \
             --db-instance-identifiers billing"
        ),
        "{steps}"
    );
}

#[tokio::test]
async fn a_dry_run_should_say_it_would_move_the_proxy_and_change_no_target() {
    let env = Env::new().await;
    failed_orders_behind_a_proxy(&env, Some("orders")).await;

    let response = ok(&env.app(&[("DRY_RUN", "true")]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::DryRun, "{response:?}");
    assert_eq!(targets(&env, "orders-proxy").await, ["orders"], "nothing changed");
    assert_eq!(env.calls_answered("DescribeDBProxyTargets"), 1, "the test's own read only");
    assert_eq!(env.records("db-instance:us-east-1/orders").await, [], "dry run writes nothing");
    let notes = env.notifications().await;
    let body = notes[0].body();
    assert_eq!(proxy_path(&body)["state"], "would move");
    let summary = body["summary"].as_str().unwrap();
    assert!(
        summary.contains("Would move RDS Proxy orders-proxy (target group default) from orders to r-fast"),
        "{summary}"
    );
}

/// The run is cut short between the two calls: `DeregisterDBProxyTargets` went through, `RegisterDBProxyTargets`
/// was refused (IAM, as the local AWS answers a denied call). The decision stays pending; the retry of the same
/// event finds the group empty and registers the new primary, and says so.
#[tokio::test]
async fn a_retry_after_a_run_cut_short_between_deregister_and_register_should_register_the_new_primary() {
    let env = Env::new().await;
    failed_orders_behind_a_proxy(&env, Some("orders")).await;
    let app = env.app(&[]);
    env.account.control("/_failover/iam/deny", json!({"actions": ["rds:RegisterDBProxyTargets"]}));

    let first = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(first.status, Outcome::Failed, "{first:?}");
    assert!(targets(&env, "orders-proxy").await.is_empty(), "cut short after the deregistration");
    assert_eq!(env.promotion("orders").await, Some((State::Pending, "r-fast".into())), "left for the retry");
    env.account.control("/_failover/iam/deny", json!({"actions": []}));

    let retry = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(retry.status, Outcome::Succeeded, "{retry:?}");
    assert_eq!(targets(&env, "orders-proxy").await, ["r-fast"]);
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".into())));
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["failed", "succeeded"]);
    // (Its body quotes the SDK's error, whose escapes the local SNS does not keep intact: read as text.)
    assert!(notes[0].message.contains(r#"Step \"move the RDS Proxy target\" failed"#), "{}", notes[0].message);
    assert!(notes[0]
        .message
        .contains("register r-fast by hand: aws rds register-db-proxy-targets --db-proxy-name orders-proxy"));
    let body = notes[1].body();
    assert_eq!(body["details"]["proxy"]["result"], "registered");
    let summary = body["summary"].as_str().unwrap();
    assert!(
        summary.contains("had no target (an earlier run deregistered orders and stopped): r-fast was registered"),
        "{summary}"
    );
}

/// Compare-and-swap: a group found empty on the decision's FIRST run was emptied by someone else (perhaps on
/// purpose), not by this decision: it stays empty, and the notification says how to fill it.
#[tokio::test]
async fn a_group_found_empty_on_the_first_run_should_be_left_empty_and_the_notification_should_say_so() {
    let env = Env::new().await;
    failed_orders_behind_a_proxy(&env, None).await;

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "the promotion itself went ahead: {response:?}");
    assert!(!env.is_replica("r-fast").await);
    assert!(targets(&env, "orders-proxy").await.is_empty(), "not refilled");
    assert_eq!(env.calls_answered("RegisterDBProxyTargets"), 0);
    assert_eq!(env.calls_answered("DeregisterDBProxyTargets"), 0);
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".into())));
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    assert!(notes[0].subject.as_deref().unwrap().contains("RDS Proxy target not moved"), "{:?}", notes[0].subject);
    let body = notes[0].body();
    assert_eq!(body["details"]["proxy"]["result"], "left-empty");
    assert_eq!(proxy_path(&body)["state"], "left alone: no target");
    let summary = body["summary"].as_str().unwrap();
    assert!(
        summary.contains("it has no target, and this decision did not deregister the failed primary orders"),
        "{summary}"
    );
    let steps = body["next_steps"].to_string();
    assert!(
        steps.contains(
            "aws rds register-db-proxy-targets --db-proxy-name orders-proxy --target-group-name default \
             --db-instance-identifiers r-fast"
        ),
        "{steps}"
    );
}

#[tokio::test]
async fn a_proxy_that_does_not_exist_should_be_reported_and_nothing_changed() {
    let env = Env::new().await;
    orders(&env).await;
    bind(&env, "orders", "orders-proxy/writers").await;
    proxy(&env, "orders-proxy", Some("orders")).await;
    env.set_status("orders", "failed");

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(targets(&env, "orders-proxy").await, ["orders"], "the default group is not the one named");
    let notes = env.notifications().await;
    let body = notes[0].body();
    assert_eq!(proxy_path(&body)["state"], "not found: no such target group");
    assert!(notes[0].subject.as_deref().unwrap().contains("RDS Proxy target not moved"));
}

/// IAM moves targets only on an opted-in proxy (no IAM in the local AWS): readiness says so before an incident.
#[tokio::test]
async fn readiness_should_report_a_bound_proxy_without_the_opt_in_tag_with_the_command_that_tags_it() {
    let env = Env::new().await;
    env.primary("orders", true).await;
    bind(&env, "orders", "orders-proxy").await;
    proxy_tagged(&env, "orders-proxy", Some("orders"), false).await;
    env.primary("billing", true).await;
    bind(&env, "billing", "billing-proxy").await;
    proxy(&env, "billing-proxy", Some("billing")).await;
    let arn =
        env.account.rds().describe_db_proxies().db_proxy_name("orders-proxy").send().await.expect("proxy").db_proxies()
            [0]
        .db_proxy_arn()
        .expect("arn")
        .to_owned();

    let response = ok(&env.app(&[]), json!({"command": "readiness"})).await;

    assert_eq!(response.status, Outcome::Info, "{response:?}");
    let body = env.notifications().await[0].body();
    let gaps: Vec<&Value> = body["details"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"].as_str().unwrap_or_default().starts_with("rds-proxy"))
        .collect();
    assert_eq!(gaps.len(), 1, "only orders-proxy lacks the tag: {body}");
    assert_eq!(gaps[0]["kind"], "rds-proxy-not-opted-in");
    assert!(gaps[0]["resource"].as_str().unwrap().ends_with(":db:orders"), "{}", gaps[0]);
    let fix = format!("aws rds add-tags-to-resource --resource-name {arn} --tags Key={OPT_IN},Value=true");
    assert!(gaps[0].to_string().contains(&fix), "{}", gaps[0]);
    assert_eq!(targets(&env, "orders-proxy").await, ["orders"], "readiness changes nothing");
}

/// After a failover the old primary (here back `available`) still carries its bindings; its DNS record and proxy
/// rightly follow the new primary. Readiness must not tell anyone to point them back at it.
#[tokio::test]
async fn readiness_should_not_ask_to_point_the_proxy_or_dns_back_at_an_old_primary_that_was_replaced() {
    let env = Env::new().await;
    failed_orders_behind_a_proxy(&env, Some("orders")).await;
    let endpoint = env.describe("orders").await.endpoint.and_then(|e| e.address).expect("endpoint");
    let zone = zone_with_record(&env, &endpoint).await;
    tag_dns_record(&env, "orders", &zone).await;
    let app = env.app(&[]);
    assert_eq!(ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await.status, Outcome::Succeeded);
    assert_eq!(targets(&env, "orders-proxy").await, ["r-fast"]);
    env.set_status("orders", "available");

    let readiness = ok(&app, json!({"command": "readiness", "db_instance_identifier": "orders"})).await;

    let findings = readiness.details["findings"].to_string();
    assert!(!findings.contains("rds-proxy-target-elsewhere"), "{findings}");
    assert!(!findings.contains("dns-record-elsewhere"), "{findings}");
    assert!(!findings.contains("register-db-proxy-targets"), "never: register the old primary: {findings}");
    assert_eq!(readiness.details["judged"][0]["replaced_by"], "r-fast", "{}", readiness.details);
    assert_eq!(targets(&env, "orders-proxy").await, ["r-fast"], "readiness changes no target");
    assert!(!record(&env, &zone).await.1.contains(&endpoint), "nor the record");
}

#[tokio::test]
async fn readiness_should_report_a_malformed_proxy_tag_and_a_missing_proxy_or_target_group_and_change_nothing() {
    let env = Env::new().await;
    for (id, value) in [("badtag", "not a proxy!"), ("noproxy", "ghost-proxy"), ("nogroup", "fine-proxy/writers")] {
        env.primary(id, true).await;
        bind(&env, id, value).await;
    }
    env.primary("fine", true).await;
    bind(&env, "fine", "fine-proxy").await;
    proxy(&env, "fine-proxy", Some("fine")).await;

    let response = ok(&env.app(&[]), json!({"command": "readiness"})).await;

    assert_eq!(response.status, Outcome::Info, "{response:?}");
    let notes = env.notifications().await;
    let body = notes[0].body();
    let mut gaps: Vec<(String, String)> = body["details"]["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["kind"].as_str().unwrap_or_default().starts_with("rds-proxy"))
        .map(|f| {
            (
                f["kind"].as_str().unwrap().to_owned(),
                f["resource"].as_str().unwrap().rsplit(':').next().unwrap().to_owned(),
            )
        })
        .collect();
    gaps.sort();
    let expected = [
        ("rds-proxy-missing", "noproxy"),
        ("rds-proxy-tag-invalid", "badtag"),
        ("rds-proxy-target-group-missing", "nogroup"),
    ];
    assert_eq!(gaps, expected.map(|(k, id)| (k.to_owned(), id.to_owned())), "{body}");
    assert_eq!(targets(&env, "fine-proxy").await, ["fine"], "readiness changes nothing");
}
