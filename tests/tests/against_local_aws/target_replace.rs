//! target-failover's `REPLACE_INSTANCES`, against the local AWS (Auto Scaling's SetInstanceHealth replaces the
//! instance there as on AWS: `tools/local_aws/autoscaling.py`): a removed instance of an opted-in Auto Scaling
//! group is marked unhealthy and replaced, and the replacement registers itself in the target group; with the
//! setting off, in a dry run, for a group not opted in, or for an instance in no group, Auto Scaling is not
//! asked to change anything; a failed call is notified with the command that does it by hand, leaves the
//! removal done, and Lambda's retry of the event marks what is owed, once.

use crate::shop;

use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use failover_core::outcome::Outcome;
use serde_json::{json, Value};
use shop::*;

const ASG: &str = "web-asg";

/// A group `web` fed by a three-instance Auto Scaling group (opted in or not), the first instance failing.
async fn shop_with_scaling_group(opted_in: bool) -> (Shop, String, Vec<String>) {
    shop_with_grace_period(opted_in, 0).await
}

async fn shop_with_grace_period(opted_in: bool, grace_seconds: i32) -> (Shop, String, Vec<String>) {
    let shop = Shop::new().await;
    let web = shop.group("web", TargetTypeEnum::Instance, true, &[]).await;
    let ids = shop.scaling_group(ASG, &web, 3, opted_in, grace_seconds).await;
    assert_eq!(shop.health(&web).await.keys().cloned().collect::<Vec<_>>(), ids, "the group registers its instances");
    shop.set_health(&web, &[&ids[0]], "unhealthy");
    (shop, web, ids)
}

fn alarm(shop: &Shop, web: &str, state: &str, previous: &str) -> Value {
    shop.alarm_eventbridge("web-unhealthy", state, previous, tg_dimension(web))
}

/// The Auto Scaling health status of an instance still in a group (`HEALTHY` / `UNHEALTHY`), `None` when gone.
async fn asg_health(shop: &Shop, id: &str) -> Option<String> {
    let out = shop.account.autoscaling().describe_auto_scaling_instances().instance_ids(id).send().await.unwrap();
    out.auto_scaling_instances().first().and_then(|i| i.health_status()).map(str::to_uppercase)
}

/// The group's one removal record's data.
async fn removal(shop: &Shop, web: &str) -> (String, Value) {
    let records = shop.records(web).await;
    let removals: Vec<_> = records.iter().filter(|(k, _)| k.starts_with("removal#")).collect();
    assert_eq!(removals.len(), 1, "{records:?}");
    let (_, record) = removals[0];
    (record["state"].as_str().unwrap().to_owned(), record["data"].clone())
}

#[tokio::test]
async fn with_replace_instances_a_removed_instance_of_an_opted_in_group_is_replaced_and_the_notification_names_it() {
    let (shop, web, ids) = shop_with_scaling_group(true).await;
    let app = shop.app(&[("REPLACE_INSTANCES", "true")]);

    let response = app.handle(alarm(&shop, &web, "ALARM", "OK")).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    let members = shop.members(ASG).await;
    assert_eq!(members.len(), 3, "the group keeps its capacity: {members:?}");
    assert!(!members.contains(&ids[0]), "the removed instance left its group: {members:?}");
    assert!(members.contains(&ids[1]) && members.contains(&ids[2]), "{members:?}");
    assert_eq!(asg_health(&shop, &ids[0]).await, None, "terminated and gone from Auto Scaling");
    let health = shop.health(&web).await;
    assert_eq!(health.keys().cloned().collect::<Vec<_>>(), members, "the replacement registered itself");
    assert_eq!(shop.account.calls_answered("SetInstanceHealth"), 1);

    let received = shop.received().await;
    assert_eq!(received.len(), 1, "one notification for the event");
    let body = received[0].body();
    let entries = body["details"]["entries"].as_array().expect("the removal and the replacement");
    let replaced = entries.iter().find(|e| e["action"] == "set-instance-health").expect("a replacement entry");
    assert_eq!(replaced["outcome"], "succeeded", "{replaced}");
    assert_eq!(replaced["details"]["handed"], json!([{"instance": ids[0], "group": ASG}]));
    let summary = replaced["summary"].as_str().unwrap();
    assert!(summary.contains(&ids[0]) && summary.contains(ASG), "{summary}");
    assert!(summary.contains("ignores the mark while an instance is in its group's health check grace"), "{summary}");
    let fix = format!("aws autoscaling set-instance-health --instance-id {} --health-status Unhealthy", ids[0]);
    assert!(replaced["next_steps"].to_string().contains(&fix), "{replaced}");
    let removed = entries.iter().find(|e| e["action"] == "deregister-targets").expect("the removal entry");
    assert!(removed["next_steps"].to_string().contains(&format!("Auto Scaling replaces {}", ids[0])), "{removed}");

    let (state, data) = removal(&shop, &web).await;
    assert_eq!(state, "done");
    assert_eq!(data["replacement"]["handed"], json!([{"instance": ids[0], "group": ASG}]), "{data}");
    assert_eq!(data["replacement"]["owed"], json!([]), "{data}");

    // The next event on the group (here the alarm's OK) finds the instance gone from its group: the removal
    // closes (its baseline no longer holds the floor), nothing is registered again, the replacement serves.
    let ok = app.handle(alarm(&shop, &web, "OK", "ALARM")).await.unwrap();
    assert_status(&ok, Outcome::Skipped);
    let (state, data) = removal(&shop, &web).await;
    assert_eq!(state, "closed", "{data}");
    assert!(data["closed_because"].as_str().unwrap().contains("replaced by Auto Scaling"), "{data}");
    assert_eq!(shop.health(&web).await.keys().cloned().collect::<Vec<_>>(), shop.members(ASG).await);
    assert!(!shop.health(&web).await.contains_key(&ids[0]));
    assert!(shop.received().await.is_empty(), "nothing to notify");
}

#[tokio::test]
async fn an_instance_still_in_its_grace_period_is_marked_but_kept_by_its_group_and_the_removal_stays_open() {
    let (shop, web, ids) = shop_with_grace_period(true, 3600).await;
    let app = shop.app(&[("REPLACE_INSTANCES", "true")]);

    app.handle(alarm(&shop, &web, "ALARM", "OK")).await.unwrap();

    assert_eq!(shop.members(ASG).await, ids, "Auto Scaling does not act on the mark during the grace period");
    assert_eq!(asg_health(&shop, &ids[0]).await.as_deref(), Some("UNHEALTHY"));
    assert!(!shop.health(&web).await.contains_key(&ids[0]));
    let (state, data) = removal(&shop, &web).await;
    assert_eq!((state.as_str(), &data["replacement"]["handed"][0]["instance"]), ("done", &json!(ids[0])));

    // Another alarm on the group: the instance is still in its group, so the removal stays open.
    let other = shop.alarm_eventbridge("web-latency", "ALARM", "OK", tg_dimension(&web));
    app.handle(other).await.unwrap();
    assert_eq!(removal(&shop, &web).await.0, "done");
    assert_eq!(shop.account.calls_answered("SetInstanceHealth"), 1, "marked once");

    // `status` shows what was handed to Auto Scaling.
    let status = app.handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();
    let ledger = status.details["ledger"].as_array().expect("the open records");
    let handed = ledger.iter().find_map(|r| r["data"]["replacement"]["handed"].as_array()).expect("a removal");
    assert_eq!(handed, &[json!({"instance": ids[0], "group": ASG})], "{status:?}");
}

#[tokio::test]
async fn without_replace_instances_or_in_a_dry_run_auto_scaling_is_not_asked() {
    for settings in
        [vec![], vec![("REPLACE_INSTANCES", "false")], vec![("REPLACE_INSTANCES", "true"), ("DRY_RUN", "true")]]
    {
        let (shop, web, ids) = shop_with_scaling_group(true).await;
        let dry_run = settings.contains(&("DRY_RUN", "true"));
        let calls = ["SetInstanceHealth", "DescribeAutoScalingInstances", "DescribeTags"];
        let before: Vec<u64> = calls.iter().map(|c| shop.account.calls_answered_by(Some("autoscaling"), c)).collect();

        shop.app(&settings).handle(alarm(&shop, &web, "ALARM", "OK")).await.unwrap();

        let after: Vec<u64> = calls.iter().map(|c| shop.account.calls_answered_by(Some("autoscaling"), c)).collect();
        assert_eq!(after, before, "no Auto Scaling call with {settings:?}");
        assert_eq!(shop.health(&web).await.contains_key(&ids[0]), dry_run, "{settings:?}");
        assert_eq!(shop.members(ASG).await, ids, "{settings:?}");
        assert_eq!(asg_health(&shop, &ids[0]).await.as_deref(), Some("HEALTHY"), "{settings:?}");
        let body = shop.received().await[0].body();
        assert!(!body.to_string().contains("set-instance-health"), "{body}");
    }
}

#[tokio::test]
async fn a_removed_instance_of_a_group_not_opted_in_is_left_and_listed_with_the_reason() {
    let (shop, web, ids) = shop_with_scaling_group(false).await;

    shop.app(&[("REPLACE_INSTANCES", "true")]).handle(alarm(&shop, &web, "ALARM", "OK")).await.unwrap();

    assert!(!shop.health(&web).await.contains_key(&ids[0]), "the removal itself is made");
    assert_eq!(shop.members(ASG).await, ids);
    assert_eq!(asg_health(&shop, &ids[0]).await.as_deref(), Some("HEALTHY"));
    assert_eq!(shop.account.calls_answered("SetInstanceHealth"), 0);
    let received = shop.received().await;
    assert_eq!(received.len(), 1);
    let body = received[0].body();
    assert_eq!(body["details"]["replacement"]["handed"], json!([]), "{body}");
    let left = &body["details"]["replacement"]["left"][0];
    assert_eq!((&left["instance"], &left["group"]), (&json!(ids[0]), &json!(ASG)), "{body}");
    assert!(left["why"].as_str().unwrap().contains("not opted in (tag failover:enabled=true missing)"), "{left}");
    assert_eq!(removal(&shop, &web).await.1["replacement"]["left"][0]["instance"], json!(ids[0]));
}

#[tokio::test]
async fn a_removed_instance_in_no_auto_scaling_group_is_left_and_listed() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(3);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[0]], "unhealthy");

    shop.app(&[("REPLACE_INSTANCES", "true")]).handle(alarm(&shop, &web, "ALARM", "OK")).await.unwrap();

    assert_eq!(shop.account.calls_answered("DescribeAutoScalingInstances"), 1);
    assert_eq!(shop.account.calls_answered_by(Some("autoscaling"), "DescribeTags"), 0, "no group to read");
    assert!(!shop.health(&web).await.contains_key(&ids[0]));
    assert_eq!(shop.account.calls_answered("SetInstanceHealth"), 0);
    let body = shop.received().await[0].body();
    let left = &body["details"]["replacement"]["left"];
    assert_eq!(left, &json!([{"instance": ids[0], "why": "in no Auto Scaling group"}]), "{body}");
}

#[tokio::test]
async fn a_transient_fault_on_a_replacement_call_is_notified_keeps_the_removal_and_the_retry_marks_it_once() {
    // The Auto Scaling read, the read of the other target groups (is the instance still serving elsewhere?),
    // and the mark itself.
    for port in ["scaling_groups", "instance_groups", "mark_unhealthy"] {
        let (shop, web, ids) = shop_with_scaling_group(true).await;
        let (app, calls, fail) = shop.flaky_app(&[("REPLACE_INSTANCES", "true")]);
        let event = alarm(&shop, &web, "ALARM", "OK");
        fail.lock().unwrap().insert(port, 1);

        assert!(app.handle(event.clone()).await.is_err(), "{port}: Lambda retries the event");

        assert!(!shop.health(&web).await.contains_key(&ids[0]), "{port}: the removal stays made");
        assert_eq!(shop.members(ASG).await, ids, "{port}: nothing replaced yet");
        let received = shop.received().await;
        assert_eq!(received.len(), 1, "{port}");
        let body = received[0].body();
        let entries = body["details"]["entries"].as_array().expect("the removal and the failure");
        let failed = entries.iter().find(|e| e["action"] == "set-instance-health").expect("a failed entry");
        assert_eq!(failed["outcome"], "failed", "{port}: {failed}");
        assert_eq!(failed["details"]["owed"], json!([ids[0]]), "{port}: {failed}");
        let steps = failed["next_steps"].to_string();
        let fix = format!("aws autoscaling set-instance-health --instance-id {} --health-status Unhealthy", ids[0]);
        assert!(steps.contains(&fix), "{port}: {steps}");
        let (state, data) = removal(&shop, &web).await;
        assert_eq!((state.as_str(), &data["replacement"]["owed"]), ("done", &json!([ids[0]])), "{port}: {data}");

        // Lambda's retry of the same event marks what is owed, and records it.
        let retry = app.handle(event.clone()).await.unwrap();
        assert_status(&retry, Outcome::Succeeded);
        assert!(!shop.members(ASG).await.contains(&ids[0]), "{port}: replaced on the retry");
        let (state, data) = removal(&shop, &web).await;
        assert_eq!(state, "done");
        assert_eq!(data["replacement"]["handed"], json!([{"instance": ids[0], "group": ASG}]), "{port}: {data}");
        assert_eq!(data["replacement"]["owed"], json!([]), "{port}: {data}");
        let notified = shop.received().await;
        assert_eq!(notified.len(), 1, "{port}");
        assert_eq!(notified[0].attribute("action"), "set-instance-health", "{port}");

        // A further delivery of the event changes nothing.
        app.handle(event).await.unwrap();
        assert_eq!(shop.account.calls_answered("SetInstanceHealth"), 1, "{port}: marked once");
        assert_eq!(calls.lock().unwrap()["mark_unhealthy"], if port == "mark_unhealthy" { 2 } else { 1 }, "{port}");
    }
}

#[tokio::test]
async fn an_instance_alarm_on_a_gray_instance_gets_it_removed_and_replaced() {
    let (shop, web, ids) = shop_with_scaling_group(true).await;
    shop.set_health(&web, &[&ids[0]], "healthy");
    let app = shop.app(&[("REPLACE_INSTANCES", "true")]);

    let event = shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}));
    let response = app.handle(event).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    let members = shop.members(ASG).await;
    assert!(!members.contains(&ids[0]) && members.len() == 3, "{members:?}");
    assert_eq!(shop.health(&web).await.keys().cloned().collect::<Vec<_>>(), members);
    let body = shop.received().await[0].body();
    assert!(body.to_string().contains("set-instance-health"), "{body}");
}

#[tokio::test]
async fn an_instance_in_two_target_groups_of_one_event_is_replaced_once_without_a_false_failure() {
    let (shop, web, ids) = shop_with_scaling_group(true).await;
    let api = shop.group("api", TargetTypeEnum::Instance, true, &[]).await;
    shop.attach(ASG, &api).await;
    assert!(shop.health(&api).await.contains_key(&ids[0]), "the group registers its instances in both");
    let app = shop.app(&[("REPLACE_INSTANCES", "true")]);

    let event = shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}));
    let response = app.handle(event).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.members(ASG).await.len(), 3);
    assert!(!shop.members(ASG).await.contains(&ids[0]));
    assert!(!shop.health(&web).await.contains_key(&ids[0]) && !shop.health(&api).await.contains_key(&ids[0]));
    let body = shop.received().await[0].body();
    let entries = body["details"]["entries"].as_array().expect("both groups");
    let handed: Vec<_> = entries.iter().filter(|e| e["action"] == "set-instance-health").collect();
    assert_eq!(handed.len(), 1, "handed over by one group: {body}");
    assert!(entries.iter().all(|e| e["outcome"] != "failed"), "{body}");
}

#[tokio::test]
async fn an_instance_removed_from_one_group_but_still_serving_in_another_is_left_and_not_marked() {
    let (shop, web, ids) = shop_with_scaling_group(true).await;
    let api = shop.group("api", TargetTypeEnum::Instance, false, &[]).await;
    shop.attach(ASG, &api).await;
    assert_eq!(shop.health(&api).await.get(&ids[0]).map(String::as_str), Some("healthy"), "it serves in api");
    let app = shop.app(&[("REPLACE_INSTANCES", "true")]);

    let response = app.handle(alarm(&shop, &web, "ALARM", "OK")).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&ids[0]), "the removal from web is made");
    assert!(shop.health(&api).await.contains_key(&ids[0]), "api keeps it");
    assert_eq!(shop.members(ASG).await, ids, "nothing replaced");
    assert_eq!(asg_health(&shop, &ids[0]).await.as_deref(), Some("HEALTHY"));
    assert_eq!(shop.account.calls_answered_by(Some("autoscaling"), "SetInstanceHealth"), 0);
    let received = shop.received().await;
    assert_eq!(received.len(), 1);
    let body = received[0].body();
    assert!(!body.to_string().contains("\"set-instance-health\""), "{body}");
    assert_eq!(body["details"]["replacement"]["handed"], json!([]), "{body}");
    let left = &body["details"]["replacement"]["left"][0];
    assert_eq!((&left["instance"], &left["group"]), (&json!(ids[0]), &json!(ASG)), "{body}");
    assert_eq!(left["why"], json!(format!("still serving in target group {api}")), "{left}");
    assert_eq!(removal(&shop, &web).await.1["replacement"]["left"][0]["why"], left["why"]);
}

#[tokio::test]
async fn when_the_other_target_groups_cannot_be_read_for_good_the_instance_is_left_with_the_reason() {
    let (shop, web, ids) = shop_with_scaling_group(true).await;
    let (app, _calls, fail) = shop.flaky_app(&[("REPLACE_INSTANCES", "true")]);
    fail.lock().unwrap().insert("instance_groups:denied", 1);

    let response = app.handle(alarm(&shop, &web, "ALARM", "OK")).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&ids[0]), "the removal is made");
    assert_eq!(shop.members(ASG).await, ids, "nothing replaced");
    assert_eq!(shop.account.calls_answered_by(Some("autoscaling"), "SetInstanceHealth"), 0);
    let body = shop.received().await[0].body();
    let left = &body["details"]["replacement"]["left"][0];
    assert_eq!((&left["instance"], &left["group"]), (&json!(ids[0]), &json!(ASG)), "{body}");
    let why = left["why"].as_str().unwrap();
    assert!(why.starts_with("cannot tell whether it still serves in another target group"), "{why}");
    let (state, data) = removal(&shop, &web).await;
    assert_eq!((state.as_str(), &data["replacement"]["owed"]), ("done", &json!([])), "{data}");
}

#[tokio::test]
async fn an_instance_alarm_across_three_opted_in_groups_reads_each_candidate_group_once_and_hands_the_instance_over_once(
) {
    let (shop, web, ids) = shop_with_scaling_group(true).await;
    shop.set_health(&web, &[&ids[0]], "healthy");
    let mut groups = vec![web];
    for name in ["api", "admin"] {
        let group = shop.group(name, TargetTypeEnum::Instance, true, &[]).await;
        shop.attach(ASG, &group).await;
        assert!(shop.health(&group).await.contains_key(&ids[0]), "{name} registers the group's instances");
        groups.push(group);
    }
    // A fourth instance-type group, not opted in and without the instance: a candidate the hand-over reads too.
    let batch = shop.group("batch", TargetTypeEnum::Instance, false, &shop.account.instances(1)).await;
    let (app, counter) = shop.counted_app(&[("REPLACE_INSTANCES", "true")]);

    let event = shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}));
    let response = app.handle(event).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    for group in &groups {
        assert!(!shop.health(group).await.contains_key(&ids[0]), "removed from {group}");
    }
    assert!(!shop.members(ASG).await.contains(&ids[0]), "replaced");
    assert_eq!(shop.members(ASG).await.len(), 3);
    assert_eq!(shop.account.calls_answered_by(Some("autoscaling"), "SetInstanceHealth"), 1, "handed over once");
    let called = calls(counter);
    let count = |port: &str| called.iter().find(|(name, _)| *name == port).map_or(0, |(_, n)| *n);
    assert_eq!(count("instance_groups"), 1, "the instance-type groups are listed once: {called:?}");
    assert_eq!(count("target_health"), 4, "each of web, api, admin and {batch} read once: {called:?}");
    assert_eq!(count("mark_unhealthy"), 1, "{called:?}");
    let body = shop.received().await[0].body();
    let entries = body["details"]["entries"].as_array().expect("the three groups");
    let handed: Vec<_> = entries.iter().filter(|e| e["action"] == "set-instance-health").collect();
    assert_eq!(handed.len(), 1, "{body}");
    assert_eq!(handed[0]["details"]["handed"], json!([{"instance": ids[0], "group": ASG}]), "{body}");
    assert!(entries.iter().all(|e| e["outcome"] != "failed"), "{body}");
}
