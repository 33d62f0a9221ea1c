//! target-failover across a whole incident, against the local AWS: the capacity baseline that keeps a group
//! from draining alarm after alarm, target states as the load balancer means them (`initial` targets of a
//! group scaling out), and the group's own `target_group_health` thresholds.

use crate::shop;

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, TargetDescription, TargetGroupAttribute, TargetTypeEnum,
};
use failover_core::outcome::Outcome;
use failover_core::shell::{Handler, Invocation};
use integration_tests::forward;
use integration_tests::Received;
use serde_json::{json, Value};
use shop::*;
use test_support::memory_ledger::EndFailsOnce;

#[tokio::test]
async fn nine_instance_alarms_on_a_group_of_ten_with_a_half_floor_leave_five_and_the_refusals_name_the_baseline() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(10);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app(&[("MIN_HEALTHY_PERCENT", "50")]);

    for (n, id) in ids.iter().take(9).enumerate() {
        let event = shop.alarm_action(&format!("i-{n}-5xx"), "ALARM", "OK", json!({"InstanceId": id}));
        app.handle(event).await.unwrap();
    }

    let health = shop.health(&web).await;
    assert_eq!(health.len(), 5, "{health:?}");
    assert!(health.values().all(|s| s == "healthy"), "{health:?}");
    let received = shop.received().await;
    let removals: Vec<_> = received.iter().filter(|r| r.attribute("outcome") == "succeeded").collect();
    assert_eq!(removals.len(), 5);
    let refusals: Vec<_> = received.iter().filter(|r| r.attribute("outcome") == "refused").collect();
    assert_eq!(refusals.len(), 4);
    for refusal in refusals {
        let body = refusal.body();
        assert!(body.to_string().contains("baseline of 10"), "{body}");
        assert_eq!(body["details"]["counts"]["baseline"], 10, "{body}");
    }
    // Each removal record carries the baseline of the first.
    let records = shop.records(&web).await;
    let removals: Vec<_> = records.iter().filter(|(key, _)| key.starts_with("removal#")).collect();
    assert_eq!(removals.len(), 5);
    assert!(removals.iter().all(|(_, r)| r["data"]["baseline"] == 10), "{removals:?}");
}

/// `instances` instances; the first `serving` in group `web`, the rest in its backup `web-dr`; a listener sends
/// all traffic to `web`.
async fn web_and_dr(shop: &mut Shop, instances: usize, serving: usize) -> (Vec<String>, String, String) {
    let ids = shop.account.instances(instances);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids[..serving]).await;
    let dr = shop.group("web-dr", TargetTypeEnum::Instance, true, &ids[serving..]).await;
    shop.tag(&web, BACKUP_TAG, &dr).await;
    shop.listener(&[(web.as_str(), 100)]).await;
    (ids, web, dr)
}

#[tokio::test]
async fn a_group_scaling_out_with_initial_targets_is_not_shifted_and_its_new_targets_stay() {
    let mut shop = Shop::new().await;
    let (ids, web, _dr) = web_and_dr(&mut shop, 11, 10).await;
    // Three serve, one fails, six were just registered.
    shop.set_health(&web, &[&ids[3]], "unhealthy");
    shop.set_health(&web, &ids[4..10].iter().collect::<Vec<_>>(), "initial");
    let before = shop.listener_weights().await;

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, before, "traffic stays on the group");
    let health = shop.health(&web).await;
    assert!(!health.contains_key(&ids[3]), "{health:?}");
    assert_eq!(health.values().filter(|s| *s == "initial").count(), 6, "{health:?}");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "warning".into(), "deregister-targets".into())]);
    assert_eq!(received[0].body()["details"]["counts_before"]["registered"], 4);
    // The incident's baseline is the group's capacity, its initial targets included.
    let records = shop.records(&web).await;
    let removal = records.iter().find(|(key, _)| key.starts_with("removal#")).expect("the removal's record").1;
    assert_eq!(removal["data"]["baseline"], 10, "{removal:?}");
    assert_eq!(removal["data"]["registered_before"], 4, "{removal:?}");
}

#[tokio::test]
async fn named_initial_targets_are_deregistered_without_counting_them_out_of_the_registered_ones() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(3);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[1], &ids[2]], "initial");

    let command = json!({"command": "deregister", "target_group_arn": web, "targets": ids[1..]});
    let response = shop.app(&[]).handle(command).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.health(&web).await.len(), 1);
    let received = shop.received().await;
    assert_eq!(received[0].body()["details"]["registered_after"], 1, "{}", received[0].body());
}

#[tokio::test]
async fn a_group_resized_below_an_open_baseline_is_not_shifted_by_an_alarm() {
    let mut shop = Shop::new().await;
    let (ids, web, _dr) = web_and_dr(&mut shop, 12, 10).await;
    let app = shop.app(&[("MIN_HEALTHY_PERCENT", "50")]);
    // An instance alarm that never returns to OK leaves a removal open with a baseline of 10.
    app.handle(shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}))).await.unwrap();
    // Then the group is scaled in to four.
    let scaled_in: Vec<_> = ids[1..6].iter().map(|id| TargetDescription::builder().id(id).build()).collect();
    let elbv2 = shop.account.elbv2();
    elbv2.deregister_targets().target_group_arn(&web).set_targets(Some(scaled_in)).send().await.unwrap();
    assert_eq!(shop.health(&web).await.len(), 4);
    let before = shop.listener_weights().await;
    let _ = shop.received().await;

    let response =
        app.handle(shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Skipped);
    assert_eq!(shop.listener_weights().await, before, "traffic stays on the group");
    assert!(shop.open_shifts(&web).await.is_empty());
    assert!(shop.received().await.is_empty());
}

#[tokio::test]
async fn a_group_whose_unhealthy_state_routing_threshold_is_above_the_floor_keeps_that_many() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(6);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let threshold = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count";
    shop.account
        .elbv2()
        .modify_target_group_attributes()
        .target_group_arn(&web)
        .attributes(TargetGroupAttribute::builder().key(threshold).value("4").build())
        .send()
        .await
        .expect("set the group's threshold");
    // The settings alone would keep 3 of 6.
    let (app, counter) = shop.counted_app(&[("MIN_HEALTHY_PERCENT", "50")]);

    let response =
        app.handle(json!({"command": "deregister", "target_group_arn": web, "targets": ids[..5]})).await.unwrap();

    // One removed, four kept: one notification with both, the worse outcome on top.
    assert_status(&response, Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 4);
    assert_eq!(calls(counter).iter().find(|(name, _)| *name == "health_thresholds"), Some(&("health_thresholds", 1)));
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "critical".into(), "deregister-targets".into())]);
    let entries = received[0].body()["details"]["entries"].clone();
    let refusal = entries.as_array().unwrap().iter().find(|e| e["outcome"] == "refused").expect("the refusal").clone();
    assert_eq!(refusal["details"]["counts"]["floor"], 4, "{refusal}");
}

#[tokio::test]
async fn an_instance_removed_on_alarm_is_registered_again_with_its_port_on_that_alarms_ok() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app(&[]);
    let gray = &ids[0];
    app.handle(shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": gray}))).await.unwrap();
    assert!(!shop.health(&web).await.contains_key(gray));
    // Another alarm's OK brings nothing back.
    let other = app.handle(shop.alarm_action("other", "OK", "ALARM", json!({"InstanceId": gray}))).await.unwrap();
    assert_status(&other, Outcome::Skipped);
    assert!(!shop.health(&web).await.contains_key(gray));

    let response = app.handle(shop.alarm_action("i-5xx", "OK", "ALARM", json!({"InstanceId": gray}))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.health(&web).await.len(), 4);
    let ports = shop.ports(&web).await;
    assert_eq!(ports[gray], 80, "registered again with its port");
    assert_eq!(shop.keys(&web, "removal#", &["closed"]).await.len(), 1, "the removal is closed");
    let received = shop.received().await;
    assert_eq!(
        outcomes(&received),
        [
            ("succeeded".into(), "info".into(), "register-targets".into()),
            ("succeeded".into(), "warning".into(), "deregister-targets".into())
        ]
    );
    // The same OK again: nothing more.
    let again = app.handle(shop.alarm_action("i-5xx", "OK", "ALARM", json!({"InstanceId": gray}))).await.unwrap();
    assert_status(&again, Outcome::Skipped);
    assert!(shop.received().await.is_empty(), "no second notification");
}

#[tokio::test]
async fn with_restore_manual_the_ok_leaves_the_target_out_and_names_the_restore_command() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app(&[("RESTORE", "manual")]);
    let gray = &ids[0];
    app.handle(shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": gray}))).await.unwrap();

    let response = app.handle(shop.alarm_action("i-5xx", "OK", "ALARM", json!({"InstanceId": gray}))).await.unwrap();

    assert_status(&response, Outcome::Info);
    assert!(!shop.health(&web).await.contains_key(gray));
    assert_eq!(shop.keys(&web, "removal#", &["done"]).await.len(), 1, "the removal stays open");
    let received = shop.received().await;
    let ready = received.iter().find(|r| r.attribute("outcome") == "info").expect("a notification");
    let body = ready.body();
    assert_eq!(ready.attribute("action"), "register-targets");
    let steps = body["next_steps"].to_string();
    assert!(steps.contains("restore") && steps.contains(gray.as_str()), "{body}");
}

#[tokio::test]
async fn a_retried_alarm_delivered_after_its_ok_changes_nothing_and_notifies_nothing() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app(&[]);
    let gray = &ids[0];
    let alarm = shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": gray}));
    app.handle(alarm.clone()).await.unwrap();
    app.handle(shop.alarm_action("i-5xx", "OK", "ALARM", json!({"InstanceId": gray}))).await.unwrap();
    assert_eq!(shop.health(&web).await.len(), 4, "removed, then registered again");
    let _ = shop.received().await;

    // Lambda retries the ALARM minutes later.
    let response = app.handle(alarm).await.unwrap();

    assert_status(&response, Outcome::Skipped);
    assert!(response.message.contains("stale"), "{response:?}");
    assert_eq!(shop.health(&web).await.len(), 4, "the recovered instance stays");
    assert!(shop.received().await.is_empty());
    let transition = shop.transition(&shop.alarm_arn("i-5xx")).await;
    assert_eq!(transition["data"]["state"], "OK", "{transition:?}");
}

#[tokio::test]
async fn an_alarm_retried_after_an_ok_that_had_nothing_to_do_is_stale_and_removes_nothing() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let (app, _, fail) = shop.flaky_app(&[]);
    let gray = &ids[0];
    let alarm = shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": gray}));
    // The ALARM's first attempt fails transiently: Lambda will retry it.
    fail.lock().unwrap().insert("deregister", 1);
    assert!(app.handle(alarm.clone()).await.is_err());
    assert_eq!(shop.health(&web).await.len(), 4);
    // The instance recovers; the OK finds nothing to do.
    let ok = app.handle(shop.alarm_action("i-5xx", "OK", "ALARM", json!({"InstanceId": gray}))).await.unwrap();
    assert_status(&ok, Outcome::Skipped);
    let _ = shop.received().await;

    // Lambda's retry of the ALARM, minutes later.
    let response = app.handle(alarm).await.unwrap();

    assert_status(&response, Outcome::Skipped);
    assert!(response.message.contains("stale"), "{response:?}");
    assert_eq!(shop.health(&web).await.len(), 4, "the recovered instance stays");
    assert!(shop.received().await.is_empty());
    let transition = shop.transition(&shop.alarm_arn("i-5xx")).await;
    assert_eq!(transition["data"]["state"], "OK", "{transition:?}");
}

#[tokio::test]
async fn an_alarm_delivered_after_the_later_ok_removes_nothing() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app(&[]);
    let gray = &ids[0];
    let alarm = shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": gray}));
    let ok = shop.alarm_action("i-5xx", "OK", "ALARM", json!({"InstanceId": gray}));
    assert_status(&app.handle(ok).await.unwrap(), Outcome::Skipped);

    let response = app.handle(alarm).await.unwrap();

    assert_status(&response, Outcome::Skipped);
    assert!(response.message.contains("stale"), "{response:?}");
    assert_eq!(shop.health(&web).await.len(), 4, "nothing removed");
    assert!(shop.received().await.is_empty());
}

/// Lambda's deliveries of `event` while SNS fails once: the first run makes the change but cannot publish (an
/// error Lambda retries; `made` checks that the change stands); the retry publishes what the first run owed; a
/// further retry is stale, and `made` still holds (nothing done twice). What the topic received, to check.
async fn delivered_while_one_publish_fails(shop: &Shop, event: Value, made: impl AsyncFn()) -> Vec<Received> {
    let app = shop.app_publishing_after(1);
    let first = app.handle(event.clone()).await;
    assert!(first.unwrap_err().to_string().contains("not published"));
    made().await;
    assert!(shop.received().await.is_empty());

    let retry = app.handle(event.clone()).await.unwrap();
    let again = app.handle(event).await.unwrap();

    assert_status(&retry, Outcome::Succeeded);
    assert_status(&again, Outcome::Skipped);
    made().await;
    shop.received().await
}

#[tokio::test]
async fn a_removal_whose_notification_failed_is_notified_once_by_lambdas_retry() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let alarm = shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}));
    let removal_stands = async || assert_eq!(shop.health(&web).await.len(), 3, "the removal stands");

    let received = delivered_while_one_publish_fails(&shop, alarm, removal_stands).await;

    assert_eq!(outcomes(&received), [("succeeded".into(), "warning".into(), "deregister-targets".into())]);
    assert_eq!(received[0].body()["details"]["recovered_from_ledger"], true);
}

#[tokio::test]
async fn targets_registered_again_whose_notification_failed_are_notified_once_by_lambdas_retry() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let gray = &ids[0];
    shop.app(&[]).handle(shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": gray}))).await.unwrap();
    assert!(!shop.health(&web).await.contains_key(gray));
    let _ = shop.received().await;
    let ok = shop.alarm_action("i-5xx", "OK", "ALARM", json!({"InstanceId": gray}));
    let back = async || {
        assert_eq!(shop.health(&web).await.len(), 4, "the target is back");
        assert_eq!(shop.ports(&web).await[gray], 80, "registered with its port");
        assert_eq!(shop.keys(&web, "removal#", &["closed"]).await.len(), 1, "the removal is closed");
    };

    let received = delivered_while_one_publish_fails(&shop, ok, back).await;

    assert_eq!(outcomes(&received), [("succeeded".into(), "info".into(), "register-targets".into())]);
    let body = received[0].body();
    assert_eq!(body["details"]["recovered_from_ledger"], true);
    assert_eq!(body["details"]["targets"][0]["id"], gray.as_str(), "{body}");
    // The removal was the incident's only record: the retry's notification closes the incident, with its
    // durations from the ledger's times.
    let resource = format!("target-group:{web}");
    let ledger = failover_core::ledger::Ledger::read(&shop.dynamo_ledger(), &resource, 0).await.unwrap();
    let [removal] = ledger.records.as_slice() else { panic!("one record: {ledger:?}") };
    let alarm = removal.data["event_at"].as_i64().unwrap() / 1000;
    let durations = json!({"time_to_mitigate_secs": removal.created_at - alarm,
                           "time_to_recover_secs": removal.updated_at - alarm});
    assert_eq!(body["details"]["recovered"], durations, "{body}");
}

#[tokio::test]
async fn one_transition_delivered_three_times_by_each_path_changes_once_and_notifies_once() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[0]], "unhealthy");
    let app = shop.app(&[]);
    let time = shop.next_time();
    let dims = tg_dimension(&web);
    let events = [
        shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", dims.clone()),
        shop.alarm_sns("web-unhealthy", "ALARM", "OK", dims.clone()),
        shop.alarm_action("web-unhealthy", "ALARM", "OK", dims),
    ];

    let mut statuses = Vec::new();
    for event in events {
        let event = at_time(event, &time);
        for _ in 0..3 {
            statuses.push(app.handle(event.clone()).await.unwrap().status);
        }
    }

    assert_eq!(statuses[0], Outcome::Succeeded);
    assert!(statuses[1..].iter().all(|s| *s == Outcome::Skipped), "{statuses:?}");
    assert_eq!(shop.health(&web).await.len(), 3);
    assert_eq!(shop.received().await.len(), 1);
}

/// Groups A and B share the listener 50/50 with a standby; both fail and are shifted to it.
async fn both_shifted(shop: &mut Shop) -> (String, String, String, String, Vec<String>) {
    let ids = shop.account.instances(6);
    let a = shop.group("a", TargetTypeEnum::Instance, true, &ids[..2]).await;
    let b = shop.group("b", TargetTypeEnum::Instance, true, &ids[2..4]).await;
    let standby = shop.group("standby", TargetTypeEnum::Instance, true, &ids[4..]).await;
    shop.tag(&a, BACKUP_TAG, &standby).await;
    shop.tag(&b, BACKUP_TAG, &standby).await;
    let listener = shop.listener(&[(&a, 50), (&b, 50)]).await;
    shop.set_health(&a, &ids[..2].iter().collect::<Vec<_>>(), "unhealthy");
    shop.set_health(&b, &ids[2..4].iter().collect::<Vec<_>>(), "unhealthy");
    let app = shop.app(&[]);
    app.handle(shop.alarm_eventbridge("a-down", "ALARM", "OK", tg_dimension(&a))).await.unwrap();
    app.handle(shop.alarm_eventbridge("b-down", "ALARM", "OK", tg_dimension(&b))).await.unwrap();
    let weights = shop.listener_weights().await;
    assert_eq!(weights, [(a.clone(), 0), (b.clone(), 0), (standby.clone(), 100)].into_iter().collect());
    let _ = shop.received().await;
    (a, b, standby, listener, ids)
}

#[tokio::test]
async fn one_alarm_shifting_two_groups_that_share_a_listener_action_moves_both_shares() {
    let mut shop = Shop::new().await;
    let ids = shop.account.instances(4);
    // The instance is registered in both groups, which share the listener's action with a standby.
    let a = shop.group("a", TargetTypeEnum::Instance, true, &ids[..2]).await;
    let b = shop.group("b", TargetTypeEnum::Instance, true, &ids[..2]).await;
    let standby = shop.group("standby", TargetTypeEnum::Instance, true, &ids[2..]).await;
    shop.tag(&a, BACKUP_TAG, &standby).await;
    shop.tag(&b, BACKUP_TAG, &standby).await;
    shop.listener(&[(&a, 50), (&b, 50)]).await;
    let failing: Vec<_> = ids[..2].iter().collect();
    shop.set_health(&a, &failing, "unhealthy");
    shop.set_health(&b, &failing, "unhealthy");

    let event = shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}));
    let response = shop.app(&[]).handle(event).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    let weights = shop.listener_weights().await;
    assert_eq!(weights, [(a.clone(), 0), (b.clone(), 0), (standby.clone(), 100)].into_iter().collect());
    assert_eq!(shop.open_shifts(&a).await.len(), 1);
    assert_eq!(shop.open_shifts(&b).await.len(), 1);

    // Both recover: the OK fails both back, each its own share.
    shop.set_health(&a, &failing, "healthy");
    shop.set_health(&b, &failing, "healthy");
    let ok = shop.alarm_action("i-5xx", "OK", "ALARM", json!({"InstanceId": ids[0]}));
    assert_status(&shop.app(&[]).handle(ok).await.unwrap(), Outcome::Succeeded);
    let weights = shop.listener_weights().await;
    assert_eq!((weights[&a], weights[&b]), (50, 50), "{weights:?}");
    assert_eq!(weights.get(&standby).copied().unwrap_or(0), 0, "{weights:?}");
}

#[tokio::test]
async fn failback_of_one_group_moves_back_only_its_share_the_still_failing_group_stays_at_zero_and_edits_survive() {
    let mut shop = Shop::new().await;
    let (a, b, standby, listener, ids) = both_shifted(&mut shop).await;
    // During the shift a person sends a little traffic to a canary group.
    let canary = shop.group("canary", TargetTypeEnum::Instance, true, &ids[4..]).await;
    let edited = forward(&[(&a, 0), (&b, 0), (&standby, 100), (&canary, 7)]);
    shop.account.elbv2().modify_listener().listener_arn(&listener).default_actions(edited).send().await.unwrap();
    shop.set_health(&a, &ids[..2].iter().collect::<Vec<_>>(), "healthy");

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("a-down", "OK", "ALARM", tg_dimension(&a))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    let expected = [(a.clone(), 50), (b.clone(), 0), (standby.clone(), 50), (canary.clone(), 7)];
    assert_eq!(shop.listener_weights().await, expected.into_iter().collect());
    assert!(shop.open_shifts(&a).await.is_empty());
    assert_eq!(shop.open_shifts(&b).await.len(), 1, "B's shift stays open");
    assert_eq!(outcomes(&shop.received().await), [("succeeded".into(), "info".into(), "failback".into())]);
}

#[tokio::test]
async fn a_failback_whose_notification_failed_is_notified_once_by_lambdas_retry() {
    let mut shop = Shop::new().await;
    let (a, b, standby, _listener, ids) = both_shifted(&mut shop).await;
    shop.set_health(&a, &ids[..2].iter().collect::<Vec<_>>(), "healthy");
    let ok = shop.alarm_eventbridge("a-down", "OK", "ALARM", tg_dimension(&a));
    let failed_back = async || {
        let expected = [(a.clone(), 50), (b.clone(), 0), (standby.clone(), 50)];
        assert_eq!(shop.listener_weights().await, expected.into_iter().collect(), "A's share is back, once");
        assert!(shop.open_shifts(&a).await.is_empty());
        assert_eq!(shop.open_shifts(&b).await.len(), 1, "B's shift stays open");
    };

    let received = delivered_while_one_publish_fails(&shop, ok, failed_back).await;

    assert_eq!(outcomes(&received), [("succeeded".into(), "info".into(), "failback".into())]);
    let body = received[0].body();
    assert_eq!(body["details"]["recovered_from_ledger"], true);
    assert_eq!(body["details"]["restored"].as_array().map(Vec::len), Some(1), "{body}");
}

#[tokio::test]
async fn an_ok_that_registered_a_target_again_and_failed_back_but_could_not_notify_is_notified_of_both_once() {
    let mut shop = Shop::new().await;
    let (ids, web, dr) = web_and_dr(&mut shop, 6, 4).await;
    let app = shop.app(&[]);
    shop.set_health(&web, &[&ids[0]], "unhealthy");
    app.handle(shop.alarm_eventbridge("web-down", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    shop.set_health(&web, &ids[1..4].iter().collect::<Vec<_>>(), "unhealthy");
    app.handle(shop.alarm_eventbridge("web-down", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    assert_eq!(shop.health(&web).await.len(), 3, "one target removed");
    assert_eq!(shop.listener_weights().await[&web], 0, "then the traffic shifted");
    let _ = shop.received().await;
    shop.set_health(&web, &ids[1..4].iter().collect::<Vec<_>>(), "healthy");
    // On the group's own metric: its OK registers at once (an UnHealthyHostCount OK holds, target_hold.rs).
    let ok = own_metric(shop.alarm_eventbridge("web-down", "OK", "ALARM", tg_dimension(&web)));
    let undone = async || {
        assert_eq!(shop.health(&web).await.len(), 4, "the target is back");
        let weights = shop.listener_weights().await;
        assert_eq!((weights[&web], weights.get(&dr).copied().unwrap_or(0)), (100, 0), "and the traffic, once");
    };

    let received = delivered_while_one_publish_fails(&shop, ok, undone).await;

    assert_eq!(received.len(), 1, "one notification");
    let body = received[0].body();
    let entries = body["details"]["entries"].as_array().cloned().unwrap_or_default();
    let actions: Vec<_> = entries.iter().map(|e| (e["action"].clone(), e["outcome"].clone())).collect();
    assert_eq!(actions, [(json!("register-targets"), json!("succeeded")), (json!("failback"), json!("succeeded"))]);
    assert!(entries.iter().all(|e| e["details"]["recovered_from_ledger"] == true), "{body}");
}

#[tokio::test]
async fn a_shift_made_by_the_shift_command_is_not_failed_back_by_an_ok_only_by_the_failback_command() {
    let mut shop = Shop::new().await;
    let (_ids, web, _dr) = web_and_dr(&mut shop, 4, 2).await;
    let app = shop.app(&[]);
    let shifted = app.handle(json!({"command": "shift", "target_group_arn": web})).await.unwrap();
    assert_status(&shifted, Outcome::Succeeded);
    let _ = shop.received().await;

    let ok = app.handle(shop.alarm_eventbridge("web-5xx", "OK", "ALARM", tg_dimension(&web))).await.unwrap();

    assert_status(&ok, Outcome::Skipped);
    assert_eq!(shop.listener_weights().await[&web], 0, "the person's shift stands");
    assert!(shop.received().await.is_empty());
    let back = app.handle(json!({"command": "failback", "target_group_arn": web})).await.unwrap();
    assert_status(&back, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, [(web.clone(), 100)].into_iter().collect());
}

#[tokio::test]
async fn an_instance_alarm_over_fifty_groups_publishes_one_notification_listing_each() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(3);
    let mut groups = Vec::new();
    for n in 0..50 {
        groups.push(shop.group(&format!("web-{n}"), TargetTypeEnum::Instance, true, &ids).await);
    }
    let gray = &ids[0];

    let response =
        shop.app(&[]).handle(shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": gray}))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    for group in &groups {
        assert!(!shop.health(group).await.contains_key(gray), "{group}");
    }
    let received = shop.received().await;
    assert_eq!(received.len(), 1);
    let body = received[0].body();
    assert_eq!(received[0].attribute("outcome"), "succeeded");
    assert_eq!(received[0].attribute("severity"), "warning");
    let entries = body["details"]["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 50);
    assert!(entries
        .iter()
        .all(|e| e["outcome"] == "succeeded" && e["summary"].as_str().unwrap().contains(gray.as_str())));
    assert_eq!(body["resources"].as_array().unwrap().len(), 50);
}

#[tokio::test]
async fn a_removed_target_that_no_longer_exists_is_skipped_and_listed_when_its_alarm_is_ok() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(6);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[0], &ids[1]], "unhealthy");
    let app = shop.app(&[]);
    app.handle(shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    assert_eq!(shop.health(&web).await.len(), 4);
    let _ = shop.received().await;
    // An Auto Scaling group replaced the first one meanwhile.
    shop.account.control("/_failover/ec2/instances/terminate", json!({"instance_ids": [ids[0]]}));

    // On the group's own metric: its OK registers at once (an UnHealthyHostCount OK holds, target_hold.rs).
    let ok = own_metric(shop.alarm_eventbridge("web-unhealthy", "OK", "ALARM", tg_dimension(&web)));
    let response = app.handle(ok).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    let health = shop.health(&web).await;
    assert!(health.contains_key(&ids[1]) && !health.contains_key(&ids[0]), "{health:?}");
    assert_eq!(shop.keys(&web, "removal#", &["closed"]).await.len(), 1, "the removal is closed");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "info".into(), "register-targets".into())]);
    let body = received[0].body();
    assert_eq!(body["details"]["missing"][0]["id"], ids[0].as_str(), "{body}");
    assert!(body["summary"].as_str().unwrap().contains("no longer exist"), "{body}");
}

#[tokio::test]
async fn a_shift_and_its_failback_on_a_network_load_balancer_point_the_listener_at_the_backup_and_back() {
    use aws_sdk_elasticloadbalancingv2::types::ProtocolEnum;
    let shop = Shop::new().await;
    let elb = shop.account.elbv2();
    let nlb = shop.network_load_balancer().await;
    let ids = shop.account.instances(4);
    let (tcp, dr) = (shop.tcp_group("tcp", &ids[..2]).await, shop.tcp_group("tcp-dr", &ids[2..]).await);
    shop.tag(&tcp, BACKUP_TAG, &dr).await;
    let plain = Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(&tcp).build();
    let listener = elb
        .create_listener()
        .load_balancer_arn(&nlb)
        .protocol(ProtocolEnum::Tcp)
        .port(80)
        .default_actions(plain)
        .send()
        .await
        .expect("create the TCP listener");
    let listener = listener.listeners()[0].listener_arn().unwrap().to_owned();
    shop.tag(&listener, OPT_IN, "true").await;
    let forwarding_to = || async {
        let out = elb.describe_listeners().listener_arns(&listener).send().await.unwrap();
        let action = out.listeners()[0].default_actions()[0].clone();
        (action.target_group_arn().map(str::to_owned), action.forward_config().is_some())
    };
    shop.set_health(&tcp, &ids[..2].iter().collect::<Vec<_>>(), "unhealthy");
    let app = shop.app(&[]);

    let shifted = app.handle(shop.alarm_eventbridge("tcp-down", "ALARM", "OK", tg_dimension(&tcp))).await.unwrap();

    assert_status(&shifted, Outcome::Succeeded);
    assert_eq!(forwarding_to().await, (Some(dr.clone()), false), "pointed at the backup, not weighted");
    assert_eq!(shop.open_shifts(&tcp).await.len(), 1);

    shop.set_health(&tcp, &ids[..2].iter().collect::<Vec<_>>(), "healthy");
    let back = app.handle(shop.alarm_eventbridge("tcp-down", "OK", "ALARM", tg_dimension(&tcp))).await.unwrap();

    assert_status(&back, Outcome::Succeeded);
    assert_eq!(forwarding_to().await, (Some(tcp.clone()), false), "pointed back at the group");
    assert!(shop.open_shifts(&tcp).await.is_empty());
    let received = shop.received().await;
    assert_eq!(
        outcomes(&received),
        [
            ("succeeded".into(), "critical".into(), "shift-traffic".into()),
            ("succeeded".into(), "info".into(), "failback".into())
        ]
    );
}

/// Five minutes from now: the lease of a run that died a moment ago has run out.
fn five_minutes_later() -> i64 {
    failover_core::time::now_secs() + 300
}

#[tokio::test]
async fn a_retry_with_the_same_request_id_that_removes_a_third_target_keeps_the_first_removal_and_the_ok_returns_all_three(
) {
    let shop = Shop::new().await;
    let ids = shop.account.instances(6);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let alarm = shop.alarm_action("web-5xx", "ALARM", "OK", tg_dimension(&web));
    // Lambda's retry of an event keeps its request id; a short deadline keeps the lease short.
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(10);
    let lambda = Invocation { request_id: Some("req-1".into()), function_arn: None, deadline: Some(deadline) };
    shop.set_health(&web, &[&ids[0], &ids[1]], "unhealthy");
    // The first run deregisters two targets, then dies before its ledger `end`.
    let dying =
        shop.app_on(&[], EndFailsOnce::new(shop.dynamo_ledger(), "target-group:"), failover_core::time::now_secs);
    let first = dying.invoke(alarm.clone(), &lambda).await;
    assert!(first.is_err(), "Lambda retries: {first:?}");
    assert_eq!(shop.health(&web).await.len(), 4);
    let _ = shop.received().await;

    // By the retry, a third target fails too.
    shop.set_health(&web, &[&ids[2]], "unhealthy");
    let later = shop.app_on(&[], shop.dynamo_ledger(), five_minutes_later);
    let retry = later.invoke(alarm, &lambda).await.unwrap();

    assert_status(&retry, Outcome::Succeeded);
    assert_eq!(shop.health(&web).await.len(), 3);
    let removals = shop.records(&web).await;
    let removals: Vec<_> = removals.iter().filter(|(key, _)| key.starts_with("removal#")).collect();
    assert_eq!(removals.len(), 2, "the first run's record is kept beside the retry's: {removals:?}");
    assert!(removals.iter().all(|(_, r)| r["state"] == "done"), "{removals:?}");
    let _ = shop.received().await;

    // The alarm's OK brings all three back.
    let ok = later.handle(shop.alarm_action("web-5xx", "OK", "ALARM", tg_dimension(&web))).await.unwrap();

    assert_status(&ok, Outcome::Succeeded);
    let health = shop.health(&web).await;
    assert_eq!(health.len(), 6, "{health:?}");
    assert!(ids[..3].iter().all(|id| health.contains_key(id)), "{health:?}");
    assert_eq!(shop.keys(&web, "removal#", &["closed"]).await.len(), 2, "both removals are closed");
}

/// Two days from now: past a retention of one day.
fn two_days_later() -> i64 {
    failover_core::time::now_secs() + 2 * 86_400
}

#[tokio::test]
async fn a_removal_open_longer_than_the_retention_keeps_its_baseline_and_is_restored_by_its_ok() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let settings = [("LEDGER_RETENTION_DAYS", "1"), ("MIN_HEALTHY_PERCENT", "60")];
    let alarm = |n: usize, state, previous| {
        shop.alarm_action(&format!("i-{n}-5xx"), state, previous, json!({"InstanceId": ids[n]}))
    };
    shop.app(&settings).handle(alarm(0, "ALARM", "OK")).await.unwrap();
    assert_eq!(shop.health(&web).await.len(), 3);
    let _ = shop.received().await;
    let later = shop.app_on(&settings, shop.dynamo_ledger(), two_days_later);

    // Past the retention, the open removal still holds the incident's baseline: 60 % of 4 keeps 3.
    let second = later.handle(alarm(1, "ALARM", "OK")).await.unwrap();

    assert_status(&second, Outcome::Refused);
    assert!(shop.health(&web).await.contains_key(&ids[1]), "the second target stays");
    let open = shop.records(&web).await;
    let removal = open.iter().find(|(key, _)| key.starts_with("removal#")).expect("the removal").1;
    assert!(!removal.contains_key("expires_at"), "an open removal has no TTL: {removal:?}");
    let received = shop.received().await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body()["details"]["counts"]["baseline"], 4, "{}", received[0].body());

    // And the first alarm's OK still finds its removal.
    let ok = later.handle(alarm(0, "OK", "ALARM")).await.unwrap();

    assert_status(&ok, Outcome::Succeeded);
    assert_eq!(shop.health(&web).await.len(), 4);
    let closed = shop.records(&web).await;
    let removal = closed.values().find(|r| r["state"] == "closed").expect("the removal, closed");
    assert!(removal.contains_key("expires_at"), "a closed record expires: {removal:?}");
}

#[tokio::test]
async fn a_restore_that_closes_150_removal_records_succeeds() {
    let shop = Shop::new().await;
    let ids: Vec<String> = [shop.account.instances(100), shop.account.instances(52)].concat();
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app(&[("MIN_HEALTHY_PERCENT", "1")]);
    // 150 instance alarms, each its own removal record: more than one ledger transaction holds.
    for (n, id) in ids.iter().take(150).enumerate() {
        let event = shop.alarm_action(&format!("i-{n}-5xx"), "ALARM", "OK", json!({"InstanceId": id}));
        assert_status(&app.handle(event).await.unwrap(), Outcome::Succeeded);
    }
    assert_eq!(shop.health(&web).await.len(), 2);
    assert_eq!(shop.keys(&web, "removal#", &["done"]).await.len(), 150);
    let _ = shop.received().await;
    let targets: Vec<Value> = ids[..150].iter().map(|id| json!({"id": id, "port": 80})).collect();

    let response =
        app.handle(json!({"command": "restore", "target_group_arn": web, "targets": targets})).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.health(&web).await.len(), 152);
    assert_eq!(shop.keys(&web, "removal#", &["closed"]).await.len(), 150, "every removal record is closed");
    assert!(shop.keys(&web, "removal#", &["done", "pending"]).await.is_empty());
    // The group's lease was given back: a later removal acts at once.
    let later = shop.alarm_action("i-150-5xx", "ALARM", "OK", json!({"InstanceId": ids[150]}));
    assert_status(&app.handle(later).await.unwrap(), Outcome::Succeeded);
}

#[tokio::test]
async fn a_run_killed_after_deregister_targets_is_notified_once_by_its_retry() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let alarm = shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}));
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(10);
    let lambda = Invocation { request_id: Some("req-1".into()), function_arn: None, deadline: Some(deadline) };
    let (app, _, fail) = shop.flaky_app(&[]);
    fail.lock().unwrap().insert("deregister:then-hang", 1);

    // The run is killed right after DeregisterTargets: no ledger `end`, no notification.
    let killed = tokio::time::timeout(std::time::Duration::from_secs(5), app.invoke(alarm.clone(), &lambda)).await;
    assert!(killed.is_err(), "killed: {killed:?}");
    assert_eq!(shop.health(&web).await.len(), 3, "the removal was made");
    assert!(shop.received().await.is_empty(), "and not told");

    // Lambda's retry, once the run's leases ran out, completes it and tells it.
    let later = shop.app_on(&[], shop.dynamo_ledger(), five_minutes_later);
    let retry = later.invoke(alarm.clone(), &lambda).await.unwrap();

    assert_status(&retry, Outcome::Succeeded);
    assert_eq!(shop.keys(&web, "removal#", &["done"]).await.len(), 1, "the removal's record is settled");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "warning".into(), "deregister-targets".into())]);
    let body = received[0].body();
    assert_eq!(body["details"]["recovered_from_ledger"], true, "{body}");
    assert!(body.to_string().contains(ids[0].as_str()), "{body}");
    // Once told, the event is stale.
    let again = later.invoke(alarm, &lambda).await.unwrap();
    assert_status(&again, Outcome::Skipped);
    assert!(shop.received().await.is_empty(), "told once");
}

#[tokio::test]
async fn a_run_killed_after_modify_listener_is_notified_once_by_its_retry() {
    let mut shop = Shop::new().await;
    let (ids, web, dr) = web_and_dr(&mut shop, 4, 2).await;
    shop.set_health(&web, &ids[..2].iter().collect::<Vec<_>>(), "unhealthy");
    let alarm = shop.alarm_action("web-down", "ALARM", "OK", tg_dimension(&web));
    let deadline = std::time::SystemTime::now() + std::time::Duration::from_secs(10);
    let lambda = Invocation { request_id: Some("req-1".into()), function_arn: None, deadline: Some(deadline) };
    let (app, _, fail) = shop.flaky_app(&[]);
    fail.lock().unwrap().insert("set_weights:then-hang", 1);

    // The run is killed right after ModifyListener: no ledger `end`, no notification.
    let killed = tokio::time::timeout(std::time::Duration::from_secs(5), app.invoke(alarm.clone(), &lambda)).await;
    assert!(killed.is_err(), "killed: {killed:?}");
    let shifted = [(web.clone(), 0), (dr.clone(), 100)].into_iter().collect();
    assert_eq!(shop.listener_weights().await, shifted, "the shift was made");
    assert!(shop.received().await.is_empty(), "and not told");

    // Lambda's retry, once the run's leases ran out, completes it and tells it.
    let later = shop.app_on(&[], shop.dynamo_ledger(), five_minutes_later);
    let retry = later.invoke(alarm.clone(), &lambda).await.unwrap();

    assert_status(&retry, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, shifted);
    assert_eq!(shop.keys(&web, "shift#", &["done"]).await.len(), 1, "the shift's record is settled");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "critical".into(), "shift-traffic".into())]);
    assert_eq!(received[0].body()["details"]["recovered_from_ledger"], true, "{}", received[0].body());
    // Once told, the event is stale.
    let again = later.invoke(alarm, &lambda).await.unwrap();
    assert_status(&again, Outcome::Skipped);
    assert!(shop.received().await.is_empty(), "told once");
}
