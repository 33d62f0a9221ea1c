//! Zone evacuation on the target group's alarm path, against the local AWS: targets of one zone removed or
//! failing within the window evacuate the zone instead of draining it further, and deferring to a zonal shift
//! already in place (nothing deregistered in the zone shifted away), and serving as traffic sees it (no zone
//! that takes traffic left without a serving target). The shop's load balancer spans us-east-1a and
//! us-east-1b; its group `web` has two instances in us-east-1a and three in us-east-1b, all healthy.

use crate::shop;

use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use failover_core::outcome::Outcome;
use integration_tests::Received;
use serde_json::{json, Value};
use shop::{assert_status, tg_dimension, Shop, OPT_IN};
use target_failover::adapters::ElbClient;
use target_failover::model::{ActiveShift, ShiftKind};
use target_failover::ports::Zonal;
use test_support::pair;

const ZONE_A: &str = "us-east-1a";
const ZONE_B: &str = "us-east-1b";

/// The shop, its group `web` behind the listener, its instances in us-east-1a and in us-east-1b; the load
/// balancer opted in, and registered with ARC when `registered`.
async fn zonal_shop(registered: bool) -> (Shop, String, Vec<String>, Vec<String>) {
    let mut shop = Shop::new().await;
    let a = shop.account.instances_in(ZONE_A, 2);
    let b = shop.account.instances_in(ZONE_B, 3);
    let all: Vec<String> = a.iter().chain(&b).cloned().collect();
    let web = shop.group("web", TargetTypeEnum::Instance, true, &all).await;
    shop.set_health(&web, &all.iter().collect::<Vec<_>>(), "healthy");
    shop.listener(&[(web.as_str(), 1)]).await;
    shop.tag(&shop.lb.clone(), OPT_IN, "true").await;
    if registered {
        shop.account.register_with_arc(&shop.lb, true).await;
    }
    (shop, web, a, b)
}

/// The AZ ID of a zone name in the shop's account (EC2, through the adapter).
async fn az_id(shop: &Shop, zone: &str) -> String {
    let ids = ElbClient::from_sdk(&shop.account.sdk).zone_ids().await.expect("zone ids");
    ids.get(zone).cloned().unwrap_or_else(|| panic!("no AZ ID for {zone}: {ids:?}"))
}

/// The shifts ARC applies to the shop's load balancer now (none when it is not registered).
async fn shifts(shop: &Shop) -> Vec<ActiveShift> {
    let resource =
        ElbClient::from_sdk(&shop.account.sdk).managed_resource(&shop.lb).await.expect("get managed resource");
    resource.map(|r| r.shifts).unwrap_or_default()
}

/// An instance alarm on one instance (its own alarm, as a per-instance 5xx alarm is).
fn instance_alarm(shop: &Shop, id: &str) -> Value {
    shop.alarm_action(&format!("{id}-5xx"), "ALARM", "OK", json!({"InstanceId": id}))
}

/// (action, outcome) of each entry of a notification (itself when it is one report).
fn entries(received: &Received) -> Vec<(String, String)> {
    let body = received.body();
    match body["details"]["entries"].as_array() {
        Some(list) => list
            .iter()
            .map(|e| (e["action"].as_str().unwrap_or("").to_owned(), e["outcome"].as_str().unwrap_or("").to_owned()))
            .collect(),
        None => vec![(received.attribute("action").to_owned(), received.attribute("outcome").to_owned())],
    }
}

#[tokio::test]
async fn two_instance_alarms_in_one_zone_within_the_window_evacuate_the_zone_instead_of_draining_further() {
    let (shop, web, a, _) = zonal_shop(true).await;
    let app = shop.app(&[]);

    let first = app.handle(instance_alarm(&shop, &a[0])).await.unwrap();

    assert_status(&first, Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&a[0]), "the first target is removed as before");
    assert!(shifts(&shop).await.is_empty(), "one target is no zonal failure");

    app.handle(instance_alarm(&shop, &a[1])).await.unwrap();

    assert!(shop.health(&web).await.contains_key(&a[1]), "the second target of the zone stays registered");
    assert_eq!(shop.health(&web).await.len(), 4);
    let shifts = shifts(&shop).await;
    assert_eq!(shifts.len(), 1, "{shifts:?}");
    assert_eq!(shifts[0].kind, ShiftKind::ZonalShift);
    assert_eq!(shifts[0].away_from, az_id(&shop, ZONE_A).await);
    let received = shop.received().await;
    assert_eq!(received.len(), 2);
    let second = entries(&received[1]);
    assert!(second.contains(&pair("zonal-shift", "succeeded")), "{second:?}");
    assert!(second.contains(&pair("zonal-shift", "info")), "{second:?}");
    assert!(!second.iter().any(|(action, _)| action == "deregister-targets"), "{second:?}");
    let body = received[1].body().to_string();
    assert!(body.contains("2 targets of zone us-east-1a failed or were removed within 10 minutes"), "{body}");
    // No zonal alarm started it, so no alarm's OK will cancel it: the notification names return-zone instead.
    assert!(body.contains("return-zone") && !body.contains("When the alarm returns to OK"), "{body}");
}

#[tokio::test]
async fn the_same_two_alarms_in_two_zones_do_not_evacuate_and_both_targets_are_removed() {
    let (shop, web, a, b) = zonal_shop(true).await;
    both_removed_as_before(&shop, &web, &a[0], &b[0]).await;
}

/// Two instance alarms, each removing its target as before: no shift, one deregistration per notification.
async fn both_removed_as_before(shop: &Shop, web: &str, first: &str, second: &str) {
    let app = shop.app(&[]);
    assert_status(&app.handle(instance_alarm(shop, first)).await.unwrap(), Outcome::Succeeded);
    assert_status(&app.handle(instance_alarm(shop, second)).await.unwrap(), Outcome::Succeeded);

    let health = shop.health(web).await;
    assert!(!health.contains_key(first) && !health.contains_key(second), "{health:?}");
    assert_eq!(health.len(), 3);
    assert!(shifts(shop).await.is_empty());
    let received = shop.received().await;
    assert_eq!(received.len(), 2);
    for notification in &received {
        assert_eq!(entries(notification), [pair("deregister-targets", "succeeded")]);
        assert!(notification.body()["details"].get("zonal_checks").is_none(), "{}", notification.body());
    }
}

#[tokio::test]
async fn an_active_autoshift_away_from_the_failing_zone_removes_nothing_there_and_starts_no_shift() {
    let (shop, web, a, _) = zonal_shop(true).await;
    let zone_a = az_id(&shop, ZONE_A).await;
    shop.account.autoshift(&zone_a, true, &[&shop.lb]);

    let response = shop.app(&[]).handle(instance_alarm(&shop, &a[0])).await.unwrap();

    assert_status(&response, Outcome::Info);
    assert_eq!(shop.health(&web).await.len(), 5, "nothing is deregistered");
    let shifts = shifts(&shop).await;
    assert_eq!(shifts.len(), 1, "only the autoshift: {shifts:?}");
    assert_eq!((shifts[0].kind, shifts[0].away_from.as_str()), (ShiftKind::Autoshift, zone_a.as_str()));
    let received = shop.received().await;
    assert_eq!(received.len(), 1);
    assert_eq!(entries(&received[0]), [pair("zonal-shift", "info")]);
    assert_eq!(received[0].attribute("severity"), "info");
    let summary = received[0].body()["summary"].as_str().unwrap_or_default().to_owned();
    assert!(summary.contains(&format!("zone us-east-1a ({zone_a}) is already shifted away by autoshift")), "{summary}");
}

#[tokio::test]
async fn an_autoshift_away_from_another_zone_leaves_the_removal_as_before() {
    let (shop, web, a, _) = zonal_shop(true).await;
    shop.account.autoshift(&az_id(&shop, ZONE_B).await, true, &[&shop.lb]);

    let response = shop.app(&[]).handle(instance_alarm(&shop, &a[0])).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&a[0]));
    assert_eq!(entries(&shop.received().await[0]), [pair("deregister-targets", "succeeded")]);
}

#[tokio::test]
async fn a_group_whose_load_balancer_is_not_registered_with_arc_keeps_the_last_serving_target_of_a_zone() {
    let (shop, web, a, _) = zonal_shop(false).await;
    let app = shop.app(&[]);
    assert_status(&app.handle(instance_alarm(&shop, &a[0])).await.unwrap(), Outcome::Succeeded);

    let response = app.handle(instance_alarm(&shop, &a[1])).await.unwrap();

    // No zonal shift can take us-east-1a's traffic away, so its last serving target stays.
    assert_status(&response, Outcome::Refused);
    let health = shop.health(&web).await;
    assert!(!health.contains_key(&a[0]) && health.contains_key(&a[1]), "{health:?}");
    assert_eq!(health.len(), 4);
    assert!(shifts(&shop).await.is_empty());
    let received = shop.received().await;
    assert_eq!(received.len(), 2);
    assert_eq!(entries(&received[0]), [pair("deregister-targets", "succeeded")]);
    assert_eq!(entries(&received[1]), [pair("deregister-targets", "refused")]);
    let summary = summary(&received[1]);
    assert!(summary.contains("would leave zone us-east-1a, which takes traffic, with no serving target"), "{summary}");
    assert!(
        summary.contains("us-east-1a: 1 serving of 1 registered; us-east-1b: 3 serving of 3 registered"),
        "{summary}"
    );
}

/// The summary of a notification.
fn summary(received: &Received) -> String {
    received.body()["summary"].as_str().unwrap_or_default().to_owned()
}

/// Serving means serving traffic: with us-east-1b shifted away by a person, the two targets of us-east-1a serve all
/// of `web`'s traffic. The first instance alarm removes one of them (the floor, 50 % of the two registered where
/// traffic goes, is one); the second would leave us-east-1a, which takes traffic, with no serving target: refused,
/// naming the zones and their numbers. No evacuation is tried (no other zone serves), and nothing else changes.
#[tokio::test]
async fn with_the_other_zone_shifted_away_the_last_serving_target_of_a_zone_stays_and_the_refusal_names_the_zones() {
    let (shop, web, a, b) = zonal_shop(true).await;
    shop.account.shift_by_others(&shop.lb, &az_id(&shop, ZONE_B).await, "ZONAL_SHIFT");
    let app = shop.app(&[]);

    assert_status(&app.handle(instance_alarm(&shop, &a[0])).await.unwrap(), Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&a[0]), "one of the two serving targets may leave");

    let response = app.handle(instance_alarm(&shop, &a[1])).await.unwrap();

    assert_status(&response, Outcome::Refused);
    let registered: Vec<String> = shop.health(&web).await.into_keys().collect();
    let mut expected: Vec<String> = b.iter().chain([&a[1]]).cloned().collect();
    expected.sort();
    assert_eq!(registered, expected, "the last serving target of us-east-1a stays; nothing else changed");
    let shifts = shifts(&shop).await;
    assert_eq!(shifts.len(), 1, "only the person's shift: {shifts:?}");
    assert_eq!(shifts[0].away_from, az_id(&shop, ZONE_B).await);
    let records = shop.records(&web).await;
    assert_eq!(records.keys().filter(|k| k.starts_with("removal#")).count(), 1, "only the first removal: {records:?}");
    let received = shop.received().await;
    assert_eq!(received.len(), 2);
    assert_eq!(entries(&received[0]), [pair("deregister-targets", "succeeded")]);
    let removed = summary(&received[0]);
    assert!(
        removed.contains(
            "1 of the 1 remaining targets are healthy (floor 1; 2 of 2 before; 3 more in zones traffic is \
                          shifted away from serve none)"
        ),
        "{removed}"
    );
    assert_eq!(entries(&received[1]), [pair("deregister-targets", "refused")]);
    assert_eq!(received[1].attribute("severity"), "critical");
    let refused = summary(&received[1]);
    assert!(refused.contains("would leave zone us-east-1a, which takes traffic, with no serving target"), "{refused}");
    let numbers = "us-east-1a: 1 serving of 1 registered; us-east-1b: 0 serving of 3 registered, traffic shifted away";
    assert!(refused.contains(numbers), "{refused}");
    assert_eq!(received[1].body()["details"]["kept_targets"][0]["zone"], "us-east-1a");
}

/// `can_serve` counts serving targets: with us-east-1b shifted away, the group whose two us-east-1a targets fail
/// serves nothing, though three healthy targets are registered in us-east-1b. Removing the failing targets would
/// empty the only zone that takes traffic; without a backup group the alarm is refused and nothing changes.
#[tokio::test]
async fn with_the_other_zone_shifted_away_a_group_whose_serving_zone_fails_cannot_serve_and_removes_nothing() {
    let (shop, web, a, _) = zonal_shop(true).await;
    shop.account.shift_by_others(&shop.lb, &az_id(&shop, ZONE_B).await, "ZONAL_SHIFT");
    shop.set_health(&web, &a.iter().collect::<Vec<_>>(), "unhealthy");

    let event = shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web));
    let response = shop.app(&[]).handle(event).await.unwrap();

    assert_status(&response, Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 5, "nothing is deregistered");
    assert_eq!(shifts(&shop).await.len(), 1, "only the person's shift");
    let received = shop.received().await;
    assert_eq!(received.len(), 1);
    assert_eq!(entries(&received[0]), [pair("deregister-targets", "refused")]);
    assert_eq!(received[0].attribute("severity"), "critical");
    let refused = summary(&received[0]);
    let why = "the group cannot serve (0 of 2 registered targets healthy, floor 1; 3 more in zones traffic is shifted \
               away from serve none)";
    assert!(refused.contains(why), "{refused}");
}

/// A person's `deregister` weighs serving as an alarm does: with us-east-1b shifted away, of the two us-east-1a
/// targets named, one leaves and the zone's last serving target stays, named in the refusal beside the removal.
#[tokio::test]
async fn a_persons_deregister_keeps_the_last_serving_target_of_a_zone_that_takes_traffic() {
    let (shop, web, a, _) = zonal_shop(true).await;
    shop.account.shift_by_others(&shop.lb, &az_id(&shop, ZONE_B).await, "ZONAL_SHIFT");

    let command = json!({"command": "deregister", "target_group_arn": web, "targets": [a[0], a[1]]});
    shop.app(&[]).handle(command).await.unwrap();

    let health = shop.health(&web).await;
    assert!(!health.contains_key(&a[0]) && health.contains_key(&a[1]), "{health:?}");
    assert_eq!(health.len(), 4);
    let received = shop.received().await;
    assert_eq!(received.len(), 1);
    assert_eq!(entries(&received[0]), [pair("deregister-targets", "succeeded"), pair("deregister-targets", "refused")]);
    let refused = received[0].body()["details"]["entries"][1]["summary"].as_str().unwrap_or_default().to_owned();
    assert!(refused.contains("removing them would leave zone us-east-1a, which takes traffic"), "{refused}");
    assert!(refused.contains(&format!("{}:80 (healthy): removing it would leave zone us-east-1a", a[1])), "{refused}");
}

#[tokio::test]
async fn a_transient_failure_of_a_zonal_read_fails_the_group_for_a_retry_and_changes_nothing() {
    for call in ["balancers_of", "managed_resource", "zone_ids", "instance_zones"] {
        let (shop, web, a, _) = zonal_shop(true).await;
        shop.account.autoshift(&az_id(&shop, ZONE_A).await, true, &[&shop.lb]);
        let (app, _, fail) = shop.flaky_app(&[]);
        fail.lock().unwrap().insert(call, 1);
        // An instance alarm's listing of the groups names their load balancers: the group's own alarm reads them.
        let alarm = if call == "balancers_of" {
            shop.set_health(&web, &[&a[0]], "unhealthy");
            shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))
        } else {
            instance_alarm(&shop, &a[0])
        };

        assert!(app.handle(alarm.clone()).await.is_err(), "{call}: Lambda retries the event");

        assert_eq!(shop.health(&web).await.len(), 5, "{call}");
        let received = shop.received().await;
        assert_eq!(entries(&received[0]), [pair("deregister-targets", "failed")], "{call}");
        // Lambda's retry defers to the autoshift as a run without the fault does.
        assert_status(&app.handle(alarm).await.unwrap(), Outcome::Info);
        assert_eq!(shop.health(&web).await.len(), 5, "{call}");
        assert_eq!(shifts(&shop).await.len(), 1, "{call}: only the autoshift");
    }
}

#[tokio::test]
async fn a_removal_with_no_zonal_signal_reads_the_load_balancers_their_shifts_and_the_zones_once() {
    let (shop, web, a, _) = zonal_shop(true).await;
    let (app, counter, _) = shop.flaky_app(&[]);

    assert_status(&app.handle(instance_alarm(&shop, &a[0])).await.unwrap(), Outcome::Succeeded);

    assert!(!shop.health(&web).await.contains_key(&a[0]));
    let calls = shop::calls(counter);
    let zonal: Vec<_> = calls
        .iter()
        .filter(|(name, _)| ["balancers_of", "managed_resource", "zone_ids", "instance_zones"].contains(name))
        .collect();
    // The zones of the instances, once: the removal takes a serving target, so the zone rule weighs it. The load
    // balancer came with the listing of the groups (no `balancers_of`), and its shifts were read.
    assert_eq!(zonal, [&("instance_zones", 1), &("managed_resource", 1)], "{calls:?}");
}

#[tokio::test]
async fn a_group_alarm_with_the_minimum_unhealthy_in_one_zone_evacuates_it_and_removes_none() {
    let (shop, web, a, _) = zonal_shop(true).await;
    shop.set_health(&web, &a.iter().collect::<Vec<_>>(), "unhealthy");

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.health(&web).await.len(), 5, "the zone's targets stay registered");
    let shifts = shifts(&shop).await;
    assert_eq!(shifts.len(), 1, "{shifts:?}");
    assert_eq!(shifts[0].away_from, az_id(&shop, ZONE_A).await);
    let received = shop.received().await;
    assert_eq!(entries(&received[0]), [pair("zonal-shift", "succeeded"), pair("zonal-shift", "info")]);
}

#[tokio::test]
async fn in_a_dry_run_a_zonal_failure_says_what_it_would_do_and_changes_nothing() {
    let (shop, web, a, _) = zonal_shop(true).await;
    shop.set_health(&web, &a.iter().collect::<Vec<_>>(), "unhealthy");

    let event = shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web));
    shop.app(&[("DRY_RUN", "true")]).handle(event).await.unwrap();

    assert_eq!(shop.health(&web).await.len(), 5);
    assert!(shifts(&shop).await.is_empty());
    let received = shop.received().await;
    assert_eq!(entries(&received[0]), [pair("zonal-shift", "dry-run"), pair("zonal-shift", "info")]);
    let kept = &received[0].body()["details"]["entries"][1]["summary"];
    assert!(kept.as_str().is_some_and(|s| s.starts_with("Dry run: ")), "{kept}");
}

#[tokio::test]
async fn a_transient_failure_of_the_evacuation_removes_nothing_and_the_retry_evacuates() {
    let (shop, web, a, _) = zonal_shop(true).await;
    shop.set_health(&web, &a.iter().collect::<Vec<_>>(), "unhealthy");
    let (app, _, fail) = shop.flaky_app(&[]);
    fail.lock().unwrap().insert("start_shift", 1);
    let alarm = shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web));

    assert!(app.handle(alarm.clone()).await.is_err(), "Lambda retries the event");

    assert_eq!(shop.health(&web).await.len(), 5, "nothing removed while the evacuation is undecided");
    assert!(shifts(&shop).await.is_empty());
    assert_eq!(entries(&shop.received().await[0]), [pair("zonal-shift", "failed")]);

    assert_status(&app.handle(alarm).await.unwrap(), Outcome::Succeeded);

    assert_eq!(shop.health(&web).await.len(), 5);
    assert_eq!(shifts(&shop).await.len(), 1);
}
