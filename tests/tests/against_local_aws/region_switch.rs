//! Both functions as an ARC Region switch custom action step (`CustomActionLambda`), with the payload the
//! Region switch API reference describes: the step's command with `InvokedBy`, `PlanArn`, `ExecutionId` and
//! `StepName` merged into its top level. Accepted, recorded with the action's ledger records, named in the
//! notification; and a refusal is the handler's error (which fails the step) with nothing changed, while the
//! same command from a person answers as it always did.

use crate::shop::{self, Shop, BACKUP_TAG};

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use failover_core::invoke::InvokeError;
use failover_core::outcome::Outcome;
use integration_tests::database::{ok, orders, outcomes, Env};
use serde_json::{json, Value};

const PLAN: &str = "arn:aws:arc-region-switch::123456789012:plan/orders-failover:a1b2c3";

/// Region switch's execution metadata for `step`, as it merges it into the step's payload.
fn metadata(step: &str) -> Value {
    json!({"InvokedBy": "ARC Region switch", "PlanArn": PLAN, "ExecutionId": "e-7f3a", "StepName": step})
}

/// `command` as Region switch sends it for `step`.
fn from_plan(mut command: Value, step: &str) -> Value {
    command.as_object_mut().unwrap().extend(metadata(step).as_object().unwrap().clone());
    command
}

// ------------------------------------------------------------------ database-failover

#[tokio::test]
async fn a_region_switch_promote_is_accepted_recorded_with_the_step_and_notified() {
    let env = Env::new().await;
    orders(&env).await;
    let command = json!({"command": "promote", "db_instance_identifier": "r-mid", "force": true});

    let response = ok(&env.app(&[]), from_plan(command, "promote-orders")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(response.region_switch.as_ref().map(|o| o.step_name.as_str()), Some("promote-orders"));
    assert!(!env.is_replica("r-mid").await, "promoted");
    let primary = format!("db-instance:{}/orders", env.account.region);
    let records = env.records(&primary).await;
    let promotion = records.iter().find(|r| r.key.starts_with("promotion#")).expect("the promotion record");
    assert_eq!(promotion.data["region_switch"], metadata("promote-orders"), "{promotion:?}");
    assert_eq!(promotion.data["replica"]["id"], "r-mid");
    let lineage = env.records(&format!("db-instance:{}/r-mid", env.account.region)).await;
    assert!(!lineage.is_empty(), "the lineage on the new primary");
    assert!(lineage.iter().all(|r| r.data["region_switch"]["ExecutionId"] == "e-7f3a"), "{lineage:?}");

    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    assert_eq!(notes[0].attribute("region_switch_plan"), PLAN);
    assert_eq!(notes[0].body()["region_switch"], metadata("promote-orders"));
}

#[tokio::test]
async fn a_refused_promote_under_region_switch_fails_the_step_and_changes_nothing_and_a_persons_is_as_before() {
    let env = Env::new().await;
    orders(&env).await;
    let app = env.app(&[]);
    // orders is available: promoting away from it needs "force": true, which this plan's payload left out.
    let command = json!({"command": "promote", "db_instance_identifier": "r-mid"});

    let error = Box::pin(app.handle(from_plan(command.clone(), "promote-orders"))).await.unwrap_err();

    assert!(matches!(error, InvokeError::Step { outcome: Outcome::Refused, .. }), "{error:?}");
    assert_eq!(error.error_type(), "ActionRefused");
    let message = error.to_string();
    assert!(message.contains("refused under ARC Region switch step promote-orders"), "{message}");
    assert!(message.contains(r#"add "force": true"#), "the reason: {message}");
    assert!(message.contains("--execution-id e-7f3a --step-name promote-orders --action-to-take skip"), "{message}");
    assert!(env.is_replica("r-mid").await, "nothing promoted");
    assert_eq!(env.promotion("orders").await, None, "nothing recorded");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused"], "published before failing the step");
    assert_eq!(notes[0].body()["region_switch"]["StepName"], "promote-orders");
    assert!(notes[0].body()["next_steps"].to_string().contains("update-plan-execution-step"));

    let response = ok(&app, command).await;
    assert_eq!((response.status, response.region_switch), (Outcome::Refused, None), "a person's command: Ok");
    let notes = env.notifications().await;
    assert_eq!((outcomes(&notes), notes[0].attribute("region_switch_plan")), (vec!["refused"], ""));
    assert!(notes[0].body().get("region_switch").is_none());
    assert!(env.is_replica("r-mid").await);
}

#[tokio::test]
async fn bad_region_switch_metadata_or_no_command_is_an_invalid_event_that_changes_nothing() {
    let env = Env::new().await;
    orders(&env).await;
    let app = env.app(&[]);
    let command = json!({"command": "promote", "db_instance_identifier": "r-mid", "force": true});
    let mut not_a_plan = from_plan(command.clone(), "promote-orders");
    not_a_plan["PlanArn"] = json!("orders-failover");
    let mut not_a_string = from_plan(command, "promote-orders");
    not_a_string["StepName"] = json!(["promote-orders"]);

    for (payload, expected) in
        [(not_a_plan, "PlanArn"), (not_a_string, "StepName"), (metadata("promote-orders"), "without a command")]
    {
        match Box::pin(app.handle(payload.clone())).await {
            Err(InvokeError::InvalidEvent(e)) => assert!(e.to_string().contains(expected), "{payload}: {e}"),
            other => panic!("{payload}: expected InvalidEvent, got {other:?}"),
        }
    }
    assert!(env.is_replica("r-mid").await);
    assert_eq!(env.promotion("orders").await, None);
    assert!(env.notifications().await.is_empty());
}

#[tokio::test]
async fn a_region_switch_dry_run_succeeds_and_writes_nothing() {
    let env = Env::new().await;
    orders(&env).await;
    let command = json!({"command": "promote", "db_instance_identifier": "r-mid", "force": true, "dry_run": true});

    let response = ok(&env.app(&[]), from_plan(command, "promote-orders")).await;

    assert_eq!(response.status, Outcome::DryRun, "{response:?}");
    assert!(env.is_replica("r-mid").await);
    assert_eq!(env.records(&format!("db-instance:{}/orders", env.account.region)).await, []);
    assert_eq!(env.notifications().await[0].body()["region_switch"]["StepName"], "promote-orders");
}

#[tokio::test]
async fn a_region_switch_step_on_a_dry_run_stack_fails_and_changes_nothing_unless_its_payload_asked_for_it() {
    let env = Env::new().await;
    orders(&env).await;
    let app = env.app(&[("DRY_RUN", "true")]);
    let command = json!({"command": "promote", "db_instance_identifier": "r-mid", "force": true});

    let error = Box::pin(app.handle(from_plan(command.clone(), "promote-orders"))).await.unwrap_err();

    assert!(matches!(error, InvokeError::Step { outcome: Outcome::DryRun, .. }), "{error:?}");
    assert_eq!(error.error_type(), "DryRunOnly");
    let message = error.to_string();
    assert!(
        message.contains("the stack runs with DRY_RUN=true") && message.contains("nothing was changed"),
        "{message}"
    );
    assert!(message.contains("--step-name promote-orders --action-to-take skip"), "{message}");
    assert!(env.is_replica("r-mid").await, "nothing promoted");
    assert_eq!(env.records(&format!("db-instance:{}/orders", env.account.region)).await, []);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["dry-run"], "published before failing the step");
    assert!(notes[0].body()["next_steps"].to_string().contains("DRY_RUN=false"), "{}", notes[0].body());

    // "dry_run": true in the step's payload is a rehearsal: it succeeds. A person's command answers as before.
    let mut rehearsal = command.clone();
    rehearsal["dry_run"] = json!(true);
    assert_eq!(ok(&app, from_plan(rehearsal, "promote-orders")).await.status, Outcome::DryRun);
    let response = ok(&app, command).await;
    assert_eq!((response.status, response.region_switch), (Outcome::DryRun, None));
    assert!(env.is_replica("r-mid").await);
    assert_eq!(env.promotion("orders").await, None);
}

/// A `switchover-global` step run again while AWS still switches over to the same target (Region switch reruns a
/// step that has not succeeded): not refused, a retryable `PromotionInProgress`, with nothing asked of AWS again;
/// once AWS is done, the rerun succeeds (the target is the primary).
#[tokio::test]
async fn a_switchover_global_step_rerun_while_aws_switches_over_to_it_waits_and_then_succeeds() {
    use crate::database_global::{global_database, global_writer, replication_lag, switchover, GLOBAL};
    let env = Env::new().await;
    let (west, east_arn, west_arn) = global_database(&env).await;
    replication_lag(&west, 80.0).await;
    env.account.control("/_failover/rds/global-hold", json!({"global_cluster_identifier": GLOBAL}));
    let app = env.app(&[]);
    let step = || from_plan(switchover(&west_arn), "switch-orders");

    assert_eq!(ok(&app, step()).await.status, Outcome::Succeeded);
    assert_eq!(global_writer(&env).await, east_arn, "AWS still switching over");

    let error = Box::pin(app.handle(step())).await.unwrap_err();

    assert_eq!(error.error_type(), "PromotionInProgress", "{error}");
    assert!(error.to_string().contains("orders-west becomes the primary when it ends"), "{error}");
    let person = Box::pin(app.handle(switchover(&west_arn))).await.unwrap_err();
    assert_eq!(person.error_type(), "PromotionInProgress", "a person's command: the same, not a refusal");
    assert_eq!(env.calls_answered("SwitchoverGlobalCluster"), 1, "not asked again");
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"], "only the switchover itself");

    env.account.control("/_failover/rds/global-finish", json!({"global_cluster_identifier": GLOBAL}));
    let done = ok(&app, step()).await;

    assert_eq!(done.status, Outcome::Info, "{done:?}");
    assert_eq!(global_writer(&env).await, west_arn);
    assert_eq!(env.calls_answered("SwitchoverGlobalCluster"), 1);
}

// ------------------------------------------------------------------ target-failover

/// web (3 targets, opted in, backup web-dr) behind the listener, opted in or not; web-dr with 2 targets.
async fn web_with_backup(shop: &mut Shop, listener_opted_in: bool) -> (String, String) {
    let ids = shop.account.instances(5);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids[..3]).await;
    let dr = shop.group("web-dr", TargetTypeEnum::Instance, true, &ids[3..]).await;
    shop.tag(&web, BACKUP_TAG, &dr).await;
    shop.listener_opted_in(&[(&web, 100), (&dr, 0)], listener_opted_in).await;
    (web, dr)
}

#[tokio::test]
async fn a_region_switch_shift_moves_the_traffic_records_the_step_and_notifies() {
    let mut shop = Shop::new().await;
    let (web, dr) = web_with_backup(&mut shop, true).await;

    let command = json!({"command": "shift", "target_group_arn": web});
    let response = shop.app(&[]).handle(from_plan(command, "shift-web")).await.expect("accepted");

    shop::assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr, 100)]));
    let records = shop.records(&web).await;
    assert!(!records.is_empty());
    for (key, record) in &records {
        assert_eq!(record["data"]["region_switch"], metadata("shift-web"), "{key}: {record:?}");
    }
    let received = shop.received().await;
    assert_eq!(shop::outcomes(&received), [("succeeded".into(), "critical".into(), "shift-traffic".into())]);
    assert_eq!(received[0].attribute("region_switch_plan"), PLAN);
    assert_eq!(received[0].body()["region_switch"], metadata("shift-web"));

    // The step run again (Region switch reruns a step, e.g. after a timeout): its goal holds, so it succeeds,
    // says so and changes nothing; a person's repeated command stays a logged skip.
    let again = from_plan(json!({"command": "shift", "target_group_arn": web}), "shift-web");
    let response = shop.app(&[]).handle(again).await.expect("the goal holds: the step succeeds");
    shop::assert_status(&response, Outcome::Info);
    assert_eq!(shop.listener_weights().await[&web], 0);
    let received = shop.received().await;
    assert_eq!(shop::outcomes(&received), [("info".into(), "info".into(), "shift-traffic".into())]);
    assert!(received[0].body()["title"].as_str().unwrap().contains("already shifted"), "{}", received[0].body());
    let person = shop.app(&[]).handle(json!({"command": "shift", "target_group_arn": web})).await.unwrap();
    shop::assert_status(&person, Outcome::Skipped);
    assert!(shop.received().await.is_empty(), "a person's skip is not notified");
}

#[tokio::test]
async fn a_region_switch_shift_on_a_dry_run_stack_fails_the_step_and_moves_nothing_unless_asked_for() {
    let mut shop = Shop::new().await;
    let (web, dr) = web_with_backup(&mut shop, true).await;
    let app = shop.app(&[("DRY_RUN", "true")]);
    let command = json!({"command": "shift", "target_group_arn": web});

    let error = app.handle(from_plan(command.clone(), "shift-web")).await.unwrap_err();

    assert_eq!(error.error_type(), "DryRunOnly", "{error}");
    assert!(error.to_string().contains("the stack runs with DRY_RUN=true"), "{error}");
    assert!(error.to_string().contains("--step-name shift-web --action-to-take skip"), "{error}");
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));
    assert!(shop.records(&web).await.is_empty(), "a dry run writes nothing");

    let mut rehearsal = command;
    rehearsal["dry_run"] = json!(true);
    let response = app.handle(from_plan(rehearsal, "shift-web")).await.expect("a rehearsal succeeds");
    shop::assert_status(&response, Outcome::DryRun);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web, 100), (dr, 0)]));
}

#[tokio::test]
async fn a_refused_shift_under_region_switch_fails_the_step_and_changes_nothing_and_a_persons_is_as_before() {
    let mut shop = Shop::new().await;
    let (web, dr) = web_with_backup(&mut shop, false).await;
    let app = shop.app(&[]);
    let command = json!({"command": "shift", "target_group_arn": web});

    let error = app.handle(from_plan(command.clone(), "shift-web")).await.unwrap_err();

    assert_eq!(error.error_type(), "ActionRefused", "{error}");
    assert!(error.to_string().contains("--step-name shift-web --action-to-take skip"), "{error}");
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));
    assert!(shop.records(&web).await.is_empty(), "nothing recorded for a refused shift");
    let received = shop.received().await;
    assert_eq!(shop::outcomes(&received), [("refused".into(), "critical".into(), "shift-traffic".into())]);
    assert_eq!(received[0].body()["region_switch"]["ExecutionId"], "e-7f3a");

    let response = app.handle(command).await.expect("a person's refused command is Ok");
    shop::assert_status(&response, Outcome::Refused);
    assert_eq!(response.region_switch, None);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web, 100), (dr, 0)]));
}
