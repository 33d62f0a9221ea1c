//! target-failover's recovery that does not flap, against the local AWS: an alarm whose metric the removal
//! itself silences (`UnHealthyHostCount`) holds the targets out after its OK, the schedule's tick registers
//! only those that pass their health check once the hold has passed, and a target removed twice within the
//! flap window stays out until a person restores it. Each test runs the app on a clock it moves by hand.

use crate::shop;

use crate::hand_clock;
use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use failover_core::ledger::DynamoLedger;
use failover_core::notify::SnsNotifier;
use failover_core::outcome::Outcome;
use serde_json::{json, Value};
use shop::*;
use std::sync::atomic::Ordering::SeqCst;
use target_failover::adapters::ElbClient;

/// A group `web` of `n` instances whose first one `web-unhealthy` (`UnHealthyHostCount`) removed, held out
/// after the alarm's OK; the app runs on `clock`.
async fn held_out(
    n: usize,
    clock: fn() -> i64,
) -> (Shop, String, Vec<String>, target_failover::App<ElbClient, SnsNotifier, DynamoLedger>) {
    let shop = Shop::new().await;
    let ids = shop.account.instances(n);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app_on(&[], shop.dynamo_ledger(), clock);
    shop.set_health(&web, &[&ids[0]], "unhealthy");
    app.handle(shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    app.handle(shop.alarm_eventbridge("web-unhealthy", "OK", "ALARM", tg_dimension(&web))).await.unwrap();
    assert!(!shop.health(&web).await.contains_key(&ids[0]), "held out");
    (shop, web, ids, app)
}

fn titles(received: &[integration_tests::Received]) -> Vec<String> {
    received.iter().map(|r| r.body()["title"].as_str().unwrap_or_default().to_owned()).collect()
}

#[tokio::test]
async fn an_unhealthy_host_count_ok_holds_the_targets_out_and_after_the_hold_brings_back_only_those_passing_health_checks(
) {
    let (later, clock) = hand_clock!();
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app_on(&[], shop.dynamo_ledger(), clock);
    let (repaired, broken) = (&ids[0], &ids[1]);
    shop.set_health(&web, &[repaired], "unhealthy");
    shop.set_sticky_health(&web, &[broken], "unhealthy");
    app.handle(shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    assert_eq!(shop.health(&web).await.len(), 2, "both unhealthy targets removed");
    let _ = shop.received().await;

    // The removal itself turned UnHealthyHostCount OK: nothing comes back yet.
    let ok = app.handle(shop.alarm_eventbridge("web-unhealthy", "OK", "ALARM", tg_dimension(&web))).await.unwrap();

    assert_status(&ok, Outcome::Info);
    let health = shop.health(&web).await;
    assert!(!health.contains_key(repaired) && !health.contains_key(broken), "{health:?}");
    let received = shop.received().await;
    assert_eq!(received.len(), 1);
    let body = received[0].body();
    assert!(body["title"].as_str().unwrap().contains("2 targets held out until"), "{body}");
    assert!(body["summary"].as_str().unwrap().contains("RESTORE_HOLD_MINUTES=10"), "{body}");
    assert_eq!(shop.items("restore-holds").await.len(), 1, "the hold is indexed");

    // A tick before the hold has passed changes nothing and tells nothing.
    later.store(9 * 60, SeqCst);
    let early = app.handle(shop.tick()).await.unwrap();
    assert_status(&early, Outcome::Skipped);
    assert_eq!(shop.health(&web).await.len(), 2);
    assert!(shop.received().await.is_empty());

    // After the hold: the repaired target passes its health check and stays; the broken one fails it and is
    // taken out again, for good.
    later.store(11 * 60, SeqCst);
    app.handle(shop.tick()).await.unwrap();

    let health = shop.health(&web).await;
    assert_eq!(health.get(repaired).map(String::as_str), Some("healthy"), "{health:?}");
    assert!(!health.contains_key(broken), "{health:?}");
    let received = shop.received().await;
    assert_eq!(titles(&received), ["web: 1 target failed after the hold, out until restored"]);
    let body = received[0].body();
    assert_eq!(body["details"]["serving"], json!([{"id": repaired, "port": 80}]), "{body}");
    assert_eq!(body["details"]["stays_out"], json!([{"id": broken, "port": 80}]), "{body}");
    assert!(body["summary"].as_str().unwrap().contains("until a person runs"), "{body}");
    let records = shop.records(&web).await;
    let removal: Vec<&std::collections::BTreeMap<String, Value>> =
        records.iter().filter(|(key, _)| key.starts_with("removal#")).map(|(_, r)| r).collect();
    assert_eq!(removal.len(), 1);
    assert_eq!(removal[0]["state"], "done", "the broken target's removal stays open: {removal:?}");
    assert_eq!(removal[0]["data"]["targets"], json!([{"id": broken, "port": 80}]));

    // Later ticks leave it out, and the hold's index entry is closed.
    later.store(30 * 60, SeqCst);
    app.handle(shop.tick()).await.unwrap();
    assert!(!shop.health(&web).await.contains_key(broken));
    assert!(shop.received().await.is_empty());
    let index = shop.items("restore-holds").await;
    assert!(index.values().all(|entry| entry["state"] == "closed"), "{index:?}");
}

#[tokio::test]
async fn a_persons_restore_during_a_hold_brings_the_target_back_at_once_and_the_tick_then_does_nothing() {
    let (later, clock) = hand_clock!();
    let (shop, web, ids, app) = held_out(3, clock).await;
    let _ = shop.received().await;

    let restore = json!({"command": "restore", "target_group_arn": web, "targets": [{"id": ids[0], "port": 80}]});
    let restored = app.handle(restore).await.unwrap();

    assert_status(&restored, Outcome::Succeeded);
    assert!(shop.health(&web).await.contains_key(&ids[0]));
    assert!(shop.keys(&web, "removal#", &["pending", "done"]).await.is_empty(), "the removal is closed");
    let _ = shop.received().await;
    later.store(11 * 60, SeqCst);
    app.handle(shop.tick()).await.unwrap();
    assert!(shop.received().await.is_empty(), "nothing left to tell");
    assert_eq!(shop.health(&web).await.len(), 3);
    let index = shop.items("restore-holds").await;
    assert!(index.values().all(|entry| entry["state"] == "closed"), "{index:?}");
}

#[tokio::test]
async fn a_target_removed_twice_within_the_flap_window_stays_out_on_the_ok_until_a_person_restores_it() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app(&[]);
    let gray = &ids[0];
    let alarm = |state, previous| shop.alarm_action("i-5xx", state, previous, json!({"InstanceId": gray}));
    // The instance's own metric: its OK is evidence of repair, and the first one brings it back at once.
    app.handle(alarm("ALARM", "OK")).await.unwrap();
    app.handle(alarm("OK", "ALARM")).await.unwrap();
    assert!(shop.health(&web).await.contains_key(gray), "back after the first OK");
    app.handle(alarm("ALARM", "OK")).await.unwrap();
    assert!(!shop.health(&web).await.contains_key(gray), "removed a second time");
    let _ = shop.received().await;

    let ok = app.handle(alarm("OK", "ALARM")).await.unwrap();

    assert_status(&ok, Outcome::Info);
    assert!(!shop.health(&web).await.contains_key(gray), "it stays out");
    let received = shop.received().await;
    assert_eq!(received.len(), 1);
    let body = received[0].body();
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains("removed twice within 60 minutes") && summary.contains("\"restore\""), "{body}");
    assert_eq!(shop.keys(&web, "removal#", &["done"]).await.len(), 1, "its removal stays open");

    let restore = json!({"command": "restore", "target_group_arn": web, "targets": [{"id": gray, "port": 80}]});
    assert_status(&app.handle(restore).await.unwrap(), Outcome::Succeeded);
    assert!(shop.health(&web).await.contains_key(gray));
    assert!(shop.keys(&web, "removal#", &["pending", "done"]).await.is_empty());
}

#[tokio::test]
async fn a_target_still_initial_after_the_hold_is_checked_at_the_next_ticks_and_taken_out_once_its_probation_ends() {
    let (later, clock) = hand_clock!();
    let shop = Shop::new().await;
    let ids = shop.account.instances(3);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app_on(&[], shop.dynamo_ledger(), clock);
    let slow = &ids[0];
    // Its health check never passes: registered again, it stays `initial`.
    shop.set_sticky_health(&web, &[slow], "initial");
    let dimensions = json!({"TargetGroup": suffix(&web), "InstanceId": slow});
    app.handle(shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", dimensions.clone())).await.unwrap();
    app.handle(shop.alarm_eventbridge("web-unhealthy", "OK", "ALARM", dimensions)).await.unwrap();
    assert!(!shop.health(&web).await.contains_key(slow), "held out");
    let _ = shop.received().await;

    later.store(11 * 60, SeqCst);
    app.handle(shop.tick()).await.unwrap();

    assert_eq!(shop.health(&web).await.get(slow).map(String::as_str), Some("initial"), "registered, on probation");
    let received = shop.received().await;
    assert_eq!(titles(&received), ["web: 1 target back after the hold"]);
    assert_eq!(received[0].body()["details"]["waiting"], json!([{"id": slow, "port": 80}]));
    // Still initial within the probation (RESTORE_HOLD_MINUTES, 10): nothing changes, nothing is told.
    later.store(20 * 60, SeqCst);
    app.handle(shop.tick()).await.unwrap();
    assert!(shop.health(&web).await.contains_key(slow));
    assert!(shop.received().await.is_empty());

    later.store(22 * 60, SeqCst);
    app.handle(shop.tick()).await.unwrap();

    assert!(!shop.health(&web).await.contains_key(slow), "taken out again");
    let received = shop.received().await;
    assert_eq!(titles(&received), ["web: 1 target failed after the hold, out until restored"]);
    assert_eq!(shop.keys(&web, "removal#", &["done"]).await.len(), 1, "its removal stays open");
}

#[tokio::test]
async fn status_shows_a_pending_restore_hold_and_a_target_the_flap_window_keeps_out() {
    let (_later, clock) = hand_clock!();
    let (shop, web, ids, app) = held_out(5, clock).await;
    let (held, gray) = (&ids[0], &ids[1]);
    let alarm = |state, previous| shop.alarm_action("i-5xx", state, previous, json!({"InstanceId": gray}));
    app.handle(alarm("ALARM", "OK")).await.unwrap();
    app.handle(alarm("OK", "ALARM")).await.unwrap();
    app.handle(alarm("ALARM", "OK")).await.unwrap();
    assert!(!shop.health(&web).await.contains_key(gray), "removed a second time");
    let records = shop.records(&web).await;
    let due = records.values().find_map(|r| r["data"]["hold_until"].as_i64()).expect("the hold's record");
    let _ = shop.received().await;

    let status = app.handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();

    let holds = status.details["holds"].as_array().expect("the group's holds");
    let pending = holds.iter().find(|h| h["state"] == "held").expect("the pending hold");
    assert_eq!(pending["targets"], json!([{"id": held, "port": 80}]), "{holds:?}");
    assert_eq!(pending["alarm"], "web-unhealthy", "{holds:?}");
    assert_eq!(pending["due_at"], json!(due), "{holds:?}");
    let due_text = failover_core::time::format_time(due);
    assert_eq!(pending["due"], json!(due_text));
    let out = holds.iter().find(|h| h["state"] == "stays_out").expect("the flapping target");
    assert_eq!(out["targets"], json!([{"id": gray, "port": 80}]), "{holds:?}");
    assert_eq!(out["alarm"], "i-5xx", "{holds:?}");
    assert!(out["why"].as_str().unwrap().contains("removed twice within 60 minutes"), "{holds:?}");
    assert_eq!(holds.len(), 2, "{holds:?}");
    let summary = &status.summary;
    let hold = format!("Restore hold: {held}:80 (removed on alarm web-unhealthy) held out until {due_text}");
    assert!(summary.contains(&hold), "{summary}");
    let out = format!("Removed on alarm i-5xx, {gray}:80 was (removed twice within 60 minutes");
    assert!(summary.contains(&out), "{summary}");
    assert!(summary.contains("\"restore\""), "{summary}");
    assert!(shop.health(&web).await.len() == 3, "status changes nothing");
}
