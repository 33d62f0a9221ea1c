//! `database-failover` fences the old primary (FENCE=security-group), against the local AWS: once a replica
//! replaced it, its VPC security groups are replaced by the fence group as soon as it can be modified, its
//! original groups recorded in the ledger, and `unfence` restores them. Each test asserts the instance's groups
//! on the emulated RDS, the ledger's `fence#<DbiResourceId>` record and the notifications.

use failover_core::ledger::State;
use failover_core::outcome::Outcome;
use integration_tests::database::*;
use serde_json::json;

const FENCE: &[(&str, &str)] = &[("FENCE_SECURITY_GROUP", "sg-fence")];
const ORIGINAL: [&str; 2] = ["sg-app", "sg-admin"];

/// orders (opted in, in sg-app and sg-admin) with one replica, orders-r (lag 1 s).
async fn orders(env: &Env) {
    env.primary("orders", true).await;
    env.account
        .rds()
        .modify_db_instance()
        .db_instance_identifier("orders")
        .set_vpc_security_group_ids(Some(ORIGINAL.map(String::from).to_vec()))
        .apply_immediately(true)
        .send()
        .await
        .expect("groups");
    env.replica("orders-r", "orders", &[]).await;
    env.lag("orders-r", &[1.0, 0.5]).await;
}

/// Someone (a Terraform apply) puts orders back in sg-app.
async fn restored_by_hand(env: &Env) {
    env.account
        .rds()
        .modify_db_instance()
        .db_instance_identifier("orders")
        .set_vpc_security_group_ids(Some(vec!["sg-app".into()]))
        .apply_immediately(true)
        .send()
        .await
        .expect("restore");
}

async fn groups(env: &Env, id: &str) -> Vec<String> {
    let db = env.describe(id).await;
    db.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id().map(str::to_owned)).collect()
}

/// The fence record of orders: (state, original groups, fence group).
async fn fence_record(env: &Env) -> Option<(State, Vec<String>, String)> {
    let id = env.describe("orders").await.dbi_resource_id.expect("resource id");
    let records = env.records("db-instance:us-east-1/orders").await;
    let r = records.into_iter().find(|r| r.key == format!("fence#{id}"))?;
    let original = r.data["original_groups"].as_array()?.iter().filter_map(|g| g.as_str().map(String::from)).collect();
    Some((r.state, original, r.data["fence_group"].as_str()?.to_owned()))
}

#[tokio::test]
async fn an_old_primary_that_returns_available_is_fenced_within_one_invocation_and_unfence_restores_its_groups() {
    let env = Env::new().await;
    orders(&env).await;
    let app = env.app(FENCE);
    env.set_status("orders", "failed");
    let promoted = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert_eq!(promoted.status, Outcome::Succeeded, "{promoted:?}");
    assert!(!env.is_replica("orders-r").await);
    assert_eq!(groups(&env, "orders").await, ORIGINAL, "a failed primary cannot be modified: not yet fenced");
    assert_eq!(fence_record(&env).await, None);

    env.set_status("orders", "available");
    let returned = ok(&app, env.failure_event("orders", "RDS-EVENT-0006")).await;
    assert_eq!(returned.status, Outcome::Succeeded, "{returned:?}");
    assert_eq!(groups(&env, "orders").await, ["sg-fence"], "fenced in that one invocation");
    let original = ORIGINAL.map(String::from).to_vec();
    assert_eq!(fence_record(&env).await, Some((State::Done, original.clone(), "sg-fence".into())));
    // A repeat changes nothing and says nothing.
    let again = ok(&app, env.failure_event("orders", "RDS-EVENT-0006")).await;
    assert_eq!(again.status, Outcome::Skipped, "{again:?}");
    assert_eq!(env.calls_answered("ModifyDBInstance"), 2, "the test's own, and the one fence");

    let unfence = json!({"command": "unfence", "db_instance_identifier": "orders", "by": "ana", "reason": "drill"});
    let mut dry = unfence.clone();
    dry["dry_run"] = json!(true);
    assert_eq!(ok(&app, dry).await.status, Outcome::DryRun);
    assert_eq!(groups(&env, "orders").await, ["sg-fence"], "a dry run changes nothing");
    assert_eq!(fence_record(&env).await.map(|r| r.0), Some(State::Done), "a dry run writes nothing");
    let released = ok(&app, unfence).await;
    assert_eq!(released.status, Outcome::Succeeded, "{released:?}");
    assert_eq!(groups(&env, "orders").await, ORIGINAL, "restored, in order");
    assert_eq!(fence_record(&env).await.map(|r| r.0), Some(State::Closed));
    // Released: out of the lineage, never fenced again automatically.
    assert_eq!(ok(&app, env.failure_event("orders", "RDS-EVENT-0006")).await.status, Outcome::Skipped);
    assert_eq!(groups(&env, "orders").await, ORIGINAL);

    let notes = env.notifications().await;
    let actions: Vec<&str> = notes.iter().map(|n| n.attribute("action")).collect();
    assert_eq!(actions, ["promote-replica", "fence-primary", "unfence-primary", "unfence-primary"]);
    assert_eq!(outcomes(&notes), ["succeeded", "succeeded", "dry-run", "succeeded"]);
    let promotion = notes[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(
        promotion.contains("orders is failed: it is fenced as soon as RDS reports it available again"),
        "{promotion}"
    );
    let fenced = notes[1].body()["summary"].as_str().unwrap().to_owned();
    assert!(fenced.contains("sg-app, sg-admin") && fenced.contains("sg-fence"), "{fenced}");
    let unfenced = notes[3].body()["summary"].as_str().unwrap().to_owned();
    assert!(unfenced.contains("ana") && unfenced.contains("drill"), "{unfenced}");
}

/// orders, `available`, and the function with a fence group and PROMOTE_WHEN_AVAILABLE; the alarm on orders.
async fn available_orders() -> (Env, TestApp, serde_json::Value) {
    let env = Env::new().await;
    orders(&env).await;
    let settings = [FENCE, &[("PROMOTE_WHEN_AVAILABLE", "true")]].concat();
    let app = env.app(&settings);
    let alarm = alarm_action(&env.account.id, "failover-orders-latency", ("DBInstanceIdentifier", "orders"));
    (env, app, alarm)
}

#[tokio::test]
async fn with_promote_when_available_the_fence_comes_before_promote_read_replica() {
    let (env, app, alarm) = available_orders().await;
    env.account.reset_calls();
    let response = ok(&app, alarm).await;
    let (fence, promote) =
        (env.account.first_answered("ModifyDBInstance"), env.account.first_answered("PromoteReadReplica"));
    assert!(
        matches!((fence, promote), (Some(f), Some(p)) if f < p),
        "ModifyDBInstance {fence:?}, then PromoteReadReplica {promote:?}"
    );
    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("orders-r").await);
    assert_eq!(groups(&env, "orders").await, ["sg-fence"]);
    let original = ORIGINAL.map(String::from).to_vec();
    assert_eq!(fence_record(&env).await, Some((State::Done, original, "sg-fence".into())));
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let summary = notes[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("orders was available and was fenced before the promotion"), "{summary}");
    assert!(!summary.contains("NOT fenced"), "{summary}");
    let done = &notes[0].body()["details"]["failure"];
    assert!(done.is_null(), "{done}");
}

#[tokio::test]
async fn a_promotion_rds_refuses_after_the_fence_restores_the_old_primarys_groups_and_a_retry_fences_again() {
    let (env, app, alarm) = available_orders().await;
    env.account.control("/_failover/iam/deny", json!({"actions": ["rds:PromoteReadReplica"]}));
    let refused = ok(&app, alarm.clone()).await;
    assert_eq!(refused.status, Outcome::Failed, "{refused:?}");
    assert!(env.is_replica("orders-r").await, "not promoted");
    assert_eq!(groups(&env, "orders").await, ORIGINAL, "the fence undone: orders takes writes again");
    assert_eq!(env.calls_answered("ModifyDBInstance"), 3, "the test's own, the fence, the restore");
    let original = ORIGINAL.map(String::from).to_vec();
    let pending = Some((State::Pending, original.clone(), "sg-fence".into()));
    assert_eq!(fence_record(&env).await, pending, "not settled done without a promotion");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["failed"]);
    assert_eq!(notes[0].attribute("action"), "promote-replica");
    let text = &refused.summary;
    assert!(text.contains("RDS did not accept the promotion, so the fence was undone"), "{text}");
    assert!(text.contains("groups sg-app, sg-admin are restored"), "{text}");
    assert_eq!(refused.details["fence_undone"], json!({"restored": true, "error": null}), "{refused:?}");

    // Allowed again: the same decision is completed, fenced again with the recorded groups, then promoted.
    env.account.control("/_failover/iam/deny", json!({"actions": []}));
    let retried = ok(&app, alarm).await;
    assert_eq!(retried.status, Outcome::Succeeded, "{retried:?}");
    assert!(!env.is_replica("orders-r").await);
    assert_eq!(groups(&env, "orders").await, ["sg-fence"]);
    assert_eq!(fence_record(&env).await, Some((State::Done, original, "sg-fence".into())));
}

#[tokio::test]
async fn unfence_releases_a_fence_left_pending() {
    let (env, app, alarm) = available_orders().await;
    env.account.control("/_failover/iam/deny", json!({"actions": ["rds:PromoteReadReplica"]}));
    assert_eq!(ok(&app, alarm).await.status, Outcome::Failed);
    assert_eq!(fence_record(&env).await.map(|r| r.0), Some(State::Pending));
    // As if ModifyDBInstance had been applied and its answer lost: orders in the fence group, the record pending.
    let rds = env.account.rds();
    let fence = rds.modify_db_instance().db_instance_identifier("orders").vpc_security_group_ids("sg-fence");
    fence.apply_immediately(true).send().await.expect("fence");
    let unfence = json!({"command": "unfence", "db_instance_identifier": "orders", "by": "ana", "reason": "stuck"});
    let released = ok(&app, unfence).await;
    assert_eq!(released.status, Outcome::Succeeded, "{released:?}");
    assert_eq!(groups(&env, "orders").await, ORIGINAL, "restored from the pending record");
    assert_eq!(fence_record(&env).await.map(|r| r.0), Some(State::Closed));
}

#[tokio::test]
async fn a_fence_that_can_never_be_made_blocks_automatic_promotions_and_a_forced_promote_goes_on_critical() {
    let (env, app, alarm) = available_orders().await;
    env.account.control("/_failover/iam/deny", json!({"actions": ["rds:ModifyDBInstance"]}));
    let refused = ok(&app, alarm).await;
    assert_eq!(refused.status, Outcome::Failed, "{refused:?}");
    assert!(env.is_replica("orders-r").await, "an automatic trigger does not promote away from an unfenced primary");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 0);
    let told = refused.summary.clone();
    assert!(told.contains(r#""command":"promote","db_instance_identifier":"orders-r""#), "{told}");
    assert!(told.contains(r#""force":true"#), "{told}");

    let forced = json!({"command": "promote", "db_instance_identifier": "orders-r", "force": true});
    let promoted = ok(&app, forced).await;
    assert_eq!(promoted.status, Outcome::Succeeded, "{promoted:?}");
    assert!(!env.is_replica("orders-r").await, "a person's forced promote goes on");
    assert_eq!(groups(&env, "orders").await, ORIGINAL, "not fenced");
    let summary = promoted.summary.clone();
    assert!(summary.contains("CRITICAL: orders was available and is NOT fenced"), "{summary}");
    assert!(summary.contains("AccessDenied"), "{summary}");
    let notes = env.notifications().await;
    let last = notes.last().expect("the forced promotion notified");
    assert_eq!((last.attribute("outcome"), last.attribute("severity")), ("succeeded", "critical"));
}

#[tokio::test]
async fn a_fence_found_undone_is_fenced_again_and_notified_critical() {
    let (env, app, alarm) = available_orders().await;
    assert_eq!(ok(&app, alarm.clone()).await.status, Outcome::Succeeded);
    assert_eq!(groups(&env, "orders").await, ["sg-fence"]);
    // A Terraform apply puts the groups back.
    restored_by_hand(&env).await;
    let again = ok(&app, alarm).await;
    assert_eq!(again.status, Outcome::Succeeded, "{again:?}");
    assert_eq!(groups(&env, "orders").await, ["sg-fence"], "fenced again");
    let original = ORIGINAL.map(String::from).to_vec();
    assert_eq!(fence_record(&env).await, Some((State::Done, original, "sg-fence".into())), "the originals kept");
    let notes = env.notifications().await;
    assert_eq!(notes.len(), 2);
    assert_eq!((notes[1].attribute("action"), notes[1].attribute("severity")), ("fence-primary", "critical"));
    let summary = notes[1].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("sg-app") && summary.contains("Terraform"), "{summary}");
    let steps = notes[1].body()["next_steps"].to_string();
    assert!(steps.contains(r#"\"command\":\"unfence\""#), "{steps}");
}

#[tokio::test]
async fn with_fence_none_a_promotion_leaves_the_old_primary_groups_and_says_so() {
    let env = Env::new().await;
    orders(&env).await;
    let app = env.app(&[("FENCE", "none"), ("FENCE_SECURITY_GROUP", "sg-fence"), ("PROMOTE_WHEN_AVAILABLE", "true")]);
    let alarm = alarm_action(&env.account.id, "failover-orders-latency", ("DBInstanceIdentifier", "orders"));
    assert_eq!(ok(&app, alarm).await.status, Outcome::Succeeded);
    assert!(!env.is_replica("orders-r").await);
    env.set_status("orders", "available");
    assert_eq!(ok(&app, env.failure_event("orders", "RDS-EVENT-0006")).await.status, Outcome::Skipped);
    assert_eq!(groups(&env, "orders").await, ORIGINAL, "nothing fenced");
    assert_eq!(env.calls_answered("ModifyDBInstance"), 1, "only the test's own");
    let notes = env.notifications().await;
    let summary = notes[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("not fenced (FENCE=none)"), "{summary}");
}

/// orders failed and was promoted away from (FENCE on); orders is still failed.
async fn promoted_away_from_failed_orders() -> (Env, TestApp) {
    let env = Env::new().await;
    orders(&env).await;
    let app = env.app(FENCE);
    env.set_status("orders", "failed");
    assert_eq!(ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await.status, Outcome::Succeeded);
    (env, app)
}

#[tokio::test]
async fn readiness_fences_a_returned_old_primary_and_status_shows_the_fence_without_changing_anything() {
    let (env, app) = promoted_away_from_failed_orders().await;
    env.set_status("orders", "available");
    // No event told it: the readiness run finds it available and unfenced.
    let status = json!({"command": "status", "db_instance_identifier": "orders"});
    let before = ok(&app, status.clone()).await;
    assert!(before.summary.contains("orders is to be fenced"), "{}", before.summary);
    assert_eq!(groups(&env, "orders").await, ORIGINAL, "status changes nothing");
    let mut dry = json!({"command": "readiness", "dry_run": true});
    ok(&app, dry.take()).await;
    assert_eq!(groups(&env, "orders").await, ORIGINAL, "a dry run changes nothing");
    let readiness = ok(&app, json!({"command": "readiness"})).await;
    assert_eq!(groups(&env, "orders").await, ["sg-fence"], "fenced by the readiness run");
    let gaps = readiness.details["findings"].to_string();
    assert!(gaps.contains("old-primary-unfenced") && gaps.contains("sg-app, sg-admin"), "{gaps}");
    let after = ok(&app, status).await;
    assert!(after.summary.contains("orders is fenced (only in sg-fence)"), "{}", after.summary);
}

#[tokio::test]
async fn without_a_fence_group_the_promotion_goes_on_warns_and_readiness_names_the_gap() {
    let env = Env::new().await;
    orders(&env).await;
    let app = env.app(&[("FENCE", "security-group"), ("PROMOTE_WHEN_AVAILABLE", "true")]);
    let alarm = alarm_action(&env.account.id, "failover-orders-latency", ("DBInstanceIdentifier", "orders"));
    assert_eq!(ok(&app, alarm).await.status, Outcome::Succeeded);
    assert!(!env.is_replica("orders-r").await, "not blocked by a missing setting");
    assert_eq!(groups(&env, "orders").await, ORIGINAL);
    let summary = env.notifications().await[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("WARNING: orders cannot be fenced: no fence group"), "{summary}");
    let readiness = ok(&app, json!({"command": "readiness", "db_instance_identifier": "orders"})).await;
    assert!(readiness.details["findings"].to_string().contains("no-fence-group"), "{:?}", readiness.details);
}

#[tokio::test]
async fn a_new_instance_under_the_old_primarys_name_is_never_fenced() {
    let (env, app) = promoted_away_from_failed_orders().await;
    // The old one comes back, is set aside, and a new instance takes the name (a restore renamed into place).
    env.set_status("orders", "available");
    let rds = env.account.rds();
    let rename = |from: &'static str, to: &'static str| {
        rds.modify_db_instance()
            .db_instance_identifier(from)
            .new_db_instance_identifier(to)
            .apply_immediately(true)
            .send()
    };
    rename("orders", "orders-old").await.expect("rename");
    env.primary("orders-new", true).await;
    rename("orders-new", "orders").await.expect("rename");
    let before = groups(&env, "orders").await;

    let event = ok(&app, env.failure_event("orders", "RDS-EVENT-0006")).await;
    assert_eq!(event.status, Outcome::Skipped, "{event:?}");
    let alarm = alarm_action(&env.account.id, "failover-orders-latency", ("DBInstanceIdentifier", "orders"));
    let _ = ok(&app, alarm).await;
    assert_eq!(groups(&env, "orders").await, before, "the new instance is not the one the promotion replaced");
    assert_eq!(env.calls_answered("ModifyDBInstance"), 3, "the test's own groups and two renames, no fence");
}

#[tokio::test]
async fn a_fence_outlives_the_promotion_record_and_still_fences_again() {
    let env = Env::new().await;
    orders(&env).await;
    let app = env.app(FENCE);
    env.set_status("orders", "failed");
    assert_eq!(ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await.status, Outcome::Succeeded);
    env.set_status("orders", "available");
    ok(&app, env.failure_event("orders", "RDS-EVENT-0006")).await;
    assert_eq!(groups(&env, "orders").await, ["sg-fence"]);
    // LEDGER_RETENTION_DAYS later the promotion record has expired; the fence record, kept open, has not.
    let resource = "db-instance:us-east-1/orders";
    let promotion =
        env.records(resource).await.into_iter().find(|r| r.key.starts_with("promotion#")).expect("promotion");
    let expired = aws_sdk_dynamodb::types::AttributeValue::N((failover_core::time::now_secs() - 1).to_string());
    env.account
        .dynamodb()
        .update_item()
        .table_name(&env.ledger)
        .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(resource.into()))
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S(promotion.key.clone()))
        .update_expression("SET expires_at = :t")
        .expression_attribute_values(":t", expired)
        .send()
        .await
        .expect("expire the promotion record");
    assert!(env.records(resource).await.iter().all(|r| !r.key.starts_with("promotion#")), "expired");
    restored_by_hand(&env).await;

    ok(&app, env.failure_event("orders", "RDS-EVENT-0006")).await;

    assert_eq!(groups(&env, "orders").await, ["sg-fence"], "fenced again");
    let notes = env.notifications().await;
    let last = notes.last().expect("notified");
    assert_eq!((last.attribute("action"), last.attribute("severity")), ("fence-primary", "critical"));
}
