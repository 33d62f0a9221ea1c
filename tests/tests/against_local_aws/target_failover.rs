//! target-failover against the local AWS: each test builds its load balancer in its own account, sends an
//! event through the handler, and asserts the load balancer's state, the ledger table's items and the
//! notifications received.

use crate::shop;

use std::collections::BTreeMap;

use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use failover_core::outcome::Outcome;
use serde_json::{json, Value};

use shop::*;

// ---------------------------------------------------------------------------------------------- target-group alarms

#[tokio::test]
async fn target_group_alarm_deregisters_the_unhealthy_targets_and_notifies() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[2], &ids[3]], "unhealthy");
    let (app, counter) = shop.counted_app(&[]);

    let response =
        app.handle(shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    let health = shop.health(&web).await;
    let mut kept = vec![ids[0].clone(), ids[1].clone()];
    kept.sort();
    assert_eq!(health.keys().cloned().collect::<Vec<_>>(), kept, "{health:?}");
    // The planned removal reads the group's load balancers (to defer to a zonal shift in place); it has none.
    let expected =
        [("balancers_of", 1), ("deregister", 1), ("health_thresholds", 1), ("tags", 1), ("target_health", 1)];
    assert_eq!(calls(counter), expected);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "warning".into(), "deregister-targets".into())]);
    let body = received[0].body();
    assert_eq!(body["details"]["healthy_after"], 2);
    assert_eq!(body["details"]["counts_before"]["floor"], 2);
    assert_eq!(body["resources"][0], web.as_str());
    assert!(body["summary"].as_str().unwrap().contains(&ids[2]), "{body}");
    assert!(body["next_steps"].to_string().contains("restore"), "{body}");
}

#[tokio::test]
async fn ip_targets_are_deregistered_like_instances() {
    let shop = Shop::new().await;
    let ips: Vec<String> = (1..=3).map(|i| format!("172.31.0.{i}")).collect();
    let api = shop.group("api", TargetTypeEnum::Ip, true, &ips).await;
    shop.set_health(&api, &[&ips[0]], "unhealthy");

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("api", "ALARM", "OK", tg_dimension(&api))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.health(&api).await.len(), 2);
    assert!(!shop.health(&api).await.contains_key(&ips[0]));
}

#[tokio::test]
async fn each_delivery_path_deregisters_the_unhealthy_target() {
    for delivery in ["eventbridge", "sns", "alarm-action"] {
        let shop = Shop::new().await;
        let ids = shop.account.instances(3);
        let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
        shop.set_health(&web, &[&ids[0]], "unhealthy");
        let event = match delivery {
            "eventbridge" => shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web)),
            "sns" => shop.alarm_sns("web", "ALARM", "OK", tg_dimension(&web)),
            _ => shop.alarm_action("web", "ALARM", "OK", tg_dimension(&web)),
        };

        let response = shop.app(&[]).handle(event).await.unwrap();

        assert_status(&response, Outcome::Succeeded);
        assert!(!shop.health(&web).await.contains_key(&ids[0]), "{delivery}");
        assert_eq!(shop.received().await.len(), 1, "{delivery}");
    }
}

#[tokio::test]
async fn the_same_event_three_times_changes_and_notifies_once() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(3);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[0]], "unhealthy");
    let app = shop.app(&[]);
    let event = shop.alarm_sns("web", "ALARM", "OK", tg_dimension(&web));

    let statuses = [
        app.handle(event.clone()).await.unwrap().status,
        app.handle(event.clone()).await.unwrap().status,
        app.handle(event).await.unwrap().status,
    ];

    assert_eq!(statuses, [Outcome::Succeeded, Outcome::Skipped, Outcome::Skipped]);
    assert_eq!(shop.health(&web).await.len(), 2);
    assert_eq!(shop.received().await.len(), 1);
}

#[tokio::test]
async fn guardrail_refuses_to_remove_the_last_healthy_targets_and_notifies_critical() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(2);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app(&[("MIN_HEALTHY_TARGETS", "2")]);

    let response =
        app.handle(shop.alarm_eventbridge("5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}))).await.unwrap();

    assert_status(&response, Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 2);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "critical".into(), "deregister-targets".into())]);
    let body = received[0].body();
    assert_eq!(body["details"]["counts"], json!({"registered": 2, "healthy": 2, "floor": 2}));
    assert!(body["summary"].as_str().unwrap().contains("below the floor"), "{body}");
    assert!(!body["next_steps"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn every_target_failing_without_a_backup_is_refused_and_nothing_removed() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(3);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &ids.iter().collect::<Vec<_>>(), "unhealthy");

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 3);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "critical".into(), "deregister-targets".into())]);
    assert!(received[0].body()["summary"].as_str().unwrap().contains(BACKUP_TAG));
}

#[tokio::test]
async fn an_alarm_for_a_group_that_does_not_exist_is_skipped_without_error() {
    let shop = Shop::new().await;
    let missing =
        format!("arn:aws:elasticloadbalancing:us-east-1:{}:targetgroup/gone/0123456789abcdef", shop.account.id);

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("gone", "ALARM", "OK", tg_dimension(&missing))).await.unwrap();

    assert_status(&response, Outcome::Skipped);
    assert!(shop.received().await.is_empty());
}

#[tokio::test]
async fn alarms_that_are_not_ours_are_skipped_quietly() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(2);
    let web = shop.group("web", TargetTypeEnum::Instance, false, &ids).await;
    shop.set_health(&web, &[&ids[0]], "unhealthy");
    let app = shop.app(&[]);
    let mut foreign = shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web));
    foreign["resources"][0] = json!(format!("arn:aws:cloudwatch:eu-west-1:{}:alarm:web", shop.account.id));

    for (event, expected) in [
        (shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web)), "not opted in"),
        (foreign, "region eu-west-1"),
        (shop.alarm_eventbridge("db", "ALARM", "OK", json!({"DBInstanceIdentifier": "orders"})), "database"),
        (shop.alarm_eventbridge("web", "ALARM", "ALARM", tg_dimension(&web)), "only a change into ALARM"),
        (shop.alarm_eventbridge("web", "INSUFFICIENT_DATA", "OK", tg_dimension(&web)), "only a change into ALARM"),
    ] {
        let response = app.handle(event).await.unwrap();
        assert_status(&response, Outcome::Skipped);
        assert!(response.message.contains(expected), "{expected}: {response:?}");
    }
    assert_eq!(shop.health(&web).await.len(), 2);
    assert!(shop.received().await.is_empty());
}

// ---------------------------------------------------------------------------------------------- instance alarms

#[tokio::test]
async fn instance_alarm_deregisters_it_from_every_opted_in_group_only() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(5);
    let gray = &ids[0];
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids[..4]).await;
    let admin = shop.group("admin", TargetTypeEnum::Instance, true, &[gray.clone(), ids[4].clone()]).await;
    let legacy = shop.group("legacy", TargetTypeEnum::Instance, false, &[gray.clone(), ids[1].clone()]).await;
    let other = shop.group("other", TargetTypeEnum::Instance, true, &ids[1..3]).await;
    let (app, counter) = shop.counted_app(&[]);

    let response = app.handle(shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": gray}))).await.unwrap();

    // admin has 2 targets, floor max(1, ceil(50% of 2)) = 1: one may go.
    assert_status(&response, Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(gray));
    assert!(!shop.health(&admin).await.contains_key(gray));
    assert!(shop.health(&legacy).await.contains_key(gray), "a group not opted in is not touched");
    assert_eq!(shop.health(&other).await.len(), 2);
    // One listing (which also names each group's load balancers: no read of its own), one tag batch, one
    // health read per opted-in group, one attribute read and one deregistration per group involved.
    let expected =
        [("deregister", 2), ("health_thresholds", 2), ("instance_groups", 1), ("tags", 1), ("target_health", 3)];
    assert_eq!(calls(counter), expected);
    // One notification for the event, one entry per group changed.
    let received = shop.received().await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].attribute("outcome"), "succeeded");
    assert_eq!(received[0].body()["details"]["entries"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn instance_alarm_for_an_instance_in_no_opted_in_group_is_skipped() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(2);
    shop.group("legacy", TargetTypeEnum::Instance, false, &ids).await;

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("x", "ALARM", "OK", json!({"InstanceId": ids[0]}))).await.unwrap();

    assert_status(&response, Outcome::Skipped);
    assert!(shop.received().await.is_empty());
}

// ---------------------------------------------------------------------------------------------- backup group

/// web (3 targets, opted in, backup web-dr) behind the listener and a /api rule; web-dr with 2 healthy targets.
async fn with_backup(shop: &mut Shop) -> (String, String, String, Vec<String>) {
    let ids = shop.account.instances(5);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids[..3]).await;
    let dr = shop.group("web-dr", TargetTypeEnum::Instance, true, &ids[3..]).await;
    shop.tag(&web, BACKUP_TAG, &dr).await;
    let listener = shop.listener(&[(&web, 100), (&dr, 0)]).await;
    let rule = shop.rule(&listener, "/api/*", &[(&web, 1)]).await;
    (web, dr, rule, ids)
}

#[tokio::test]
async fn every_target_failing_with_a_backup_shifts_all_traffic_and_remembers_the_weights() {
    let mut shop = Shop::new().await;
    let (web, dr, rule, ids) = with_backup(&mut shop).await;
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");
    let (app, counter) = shop.counted_app(&[]);

    let response = app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 1)]));
    assert_eq!(shop.health(&web).await.len(), 3, "nothing is removed from a group that cannot serve");
    // The weights before are in the ledger, one done shift record per action, with the trigger; no tag written.
    let records = shop.records(&web).await;
    assert_eq!(shop.open_shifts(&web).await.len(), 2, "one shift record per action: {records:?}");
    for record in records.values() {
        assert_eq!(record["state"], json!("done"), "{records:?}");
        assert_eq!(record["trigger"], json!("alarm web"), "{records:?}");
        assert_eq!(record["data"]["backup"], json!(dr), "{records:?}");
        assert_eq!(
            record["data"]["before"][0],
            json!({"group_arn": web, "weight": record["data"]["before"][0]["weight"]})
        );
    }
    assert_eq!(shop.tags(&web).await.keys().collect::<Vec<_>>(), [BACKUP_TAG, OPT_IN], "no state in tags");
    // The group's own ALARM, no removal open: its thresholds and load balancers are read beside its health (a
    // removal is likely; here the shift uses the load balancers and the thresholds are the one read it wastes).
    let expected = [
        ("balancers_of", 1),
        ("forwards_to", 1),
        ("health_thresholds", 1),
        ("set_weights", 2),
        ("tags", 2),
        ("target_health", 2),
    ];
    assert_eq!(calls(counter), expected);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "critical".into(), "shift-traffic".into())]);
    assert_eq!(received[0].body()["details"]["backup_counts"]["healthy"], 2);

    // A repeat changes nothing and notifies nothing.
    let again = app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    assert_status(&again, Outcome::Skipped);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));
    assert!(shop.received().await.is_empty());
}

/// web and web-dr as in [`with_backup`], every web target failing, the listener and the rule opted in or not.
async fn with_backup_opted_in(shop: &mut Shop, listener: bool, rule: bool) -> (String, String, String, String) {
    let ids = shop.account.instances(5);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids[..3]).await;
    let dr = shop.group("web-dr", TargetTypeEnum::Instance, true, &ids[3..]).await;
    shop.tag(&web, BACKUP_TAG, &dr).await;
    let listener_arn = shop.listener_opted_in(&[(&web, 100), (&dr, 0)], listener).await;
    let rule_arn = shop.rule_opted_in(&listener_arn, "/api/*", &[(&web, 1)], rule).await;
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");
    (web, dr, listener_arn, rule_arn)
}

#[tokio::test]
async fn a_shift_with_no_listener_or_rule_opted_in_is_refused_naming_each_and_changes_nothing() {
    let mut shop = Shop::new().await;
    let (web, dr, listener, rule) = with_backup_opted_in(&mut shop, false, false).await;
    let (app, counter) = shop.counted_app(&[]);

    let response = app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Refused);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 1)]));
    assert!(shop.records(&web).await.is_empty(), "nothing recorded for a refused shift");
    let read = [("balancers_of", 1), ("forwards_to", 1), ("health_thresholds", 1), ("tags", 2), ("target_health", 2)];
    assert_eq!(calls(counter), read, "nothing changed");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "critical".into(), "shift-traffic".into())]);
    let body = received[0].body();
    let text = body.to_string();
    assert!(body["summary"].as_str().unwrap().contains(&listener), "{body}");
    assert!(body["summary"].as_str().unwrap().contains(&rule), "{body}");
    assert!(
        text.contains(&format!("aws elbv2 add-tags --resource-arns {listener} {rule} --tags Key={OPT_IN},Value=true")),
        "{body}"
    );

    // The status command and a dry run say the same.
    let status = shop.app(&[]).handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();
    assert_eq!(status.details["not_opted_in"].as_array().map(Vec::len), Some(2), "{status:?}");
    assert!(status.details["alarm_now_would"].as_str().unwrap().starts_with("refuse:"), "{status:?}");
    let dry = shop.app(&[("DRY_RUN", "true")]);
    assert_status(&dry.handle(json!({"command": "shift", "target_group_arn": web})).await.unwrap(), Outcome::Refused);
    assert_eq!(shop.listener_weights().await[&web], 100);
}

#[tokio::test]
async fn a_shift_moves_the_opted_in_listener_leaves_the_rule_that_is_not_and_says_so() {
    let mut shop = Shop::new().await;
    let (web, dr, _, rule) = with_backup_opted_in(&mut shop, true, false).await;
    let app = shop.app(&[]);

    let response = app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 1)]), "the rule is untouched");
    assert_eq!(shop.open_shifts(&web).await.len(), 1, "weights recorded for the listener only");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "critical".into(), "shift-traffic".into())]);
    let body = received[0].body();
    assert!(body["title"].as_str().unwrap().contains("partly shifted"), "{body}");
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains(&format!("Left out: rule {rule}")) && summary.contains("not tagged"), "{body}");
    assert_eq!(body["details"]["not_opted_in"][0]["arn"], json!(rule), "{body}");
    assert!(body.to_string().contains(&format!("--resource-arns {rule} --tags")), "{body}");

    // Failback restores only what was saved: the listener.
    shop.set_health(&web, &shop.health(&web).await.keys().collect::<Vec<_>>(), "healthy");
    let back = app.handle(shop.alarm_eventbridge("web", "OK", "ALARM", tg_dimension(&web))).await.unwrap();
    assert_status(&back, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 1)]));
    assert!(shop.open_shifts(&web).await.is_empty());
    assert_eq!(shop.keys(&web, "shift#", &["closed"]).await.len(), 1, "the listener's shift, closed");
}

#[tokio::test]
async fn a_backup_that_cannot_serve_either_is_refused() {
    let mut shop = Shop::new().await;
    let (web, dr, _, ids) = with_backup(&mut shop).await;
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");
    shop.set_health(&dr, &ids[3..].iter().collect::<Vec<_>>(), "unhealthy");

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Refused);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web, 100), (dr, 0)]));
    assert_eq!(outcomes(&shop.received().await), [("refused".into(), "critical".into(), "shift-traffic".into())]);
}

#[tokio::test]
async fn failback_on_ok_restores_the_weights_when_auto() {
    let mut shop = Shop::new().await;
    let (web, dr, rule, ids) = with_backup(&mut shop).await;
    let failing: Vec<&String> = ids[..3].iter().collect();
    shop.set_health(&web, &failing, "unhealthy");
    let app = shop.app(&[]);
    app.handle(shop.alarm_sns("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    shop.received().await;

    // Still failing: OK alone does not fail back.
    let early = app.handle(shop.alarm_sns("web", "OK", "ALARM", tg_dimension(&web))).await.unwrap();
    assert_status(&early, Outcome::Refused);
    assert_eq!(shop.listener_weights().await[&web], 0);
    shop.received().await;

    shop.set_health(&web, &failing, "healthy");
    let response = app.handle(shop.alarm_sns("web", "OK", "ALARM", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 1)]));
    assert!(shop.open_shifts(&web).await.is_empty());
    assert_eq!(shop.keys(&web, "shift#", &["closed"]).await.len(), 2, "both shifts closed");
    assert_eq!(outcomes(&shop.received().await), [("succeeded".into(), "info".into(), "failback".into())]);

    // OK again: nothing open any more, nothing read beyond the tags and the ledger, nothing notified.
    let again = app.handle(shop.alarm_sns("web", "OK", "ALARM", tg_dimension(&web))).await.unwrap();
    assert_status(&again, Outcome::Skipped);
    assert!(shop.received().await.is_empty());
}

#[tokio::test]
async fn failback_on_ok_only_notifies_when_manual() {
    let mut shop = Shop::new().await;
    let (web, dr, _, ids) = with_backup(&mut shop).await;
    let failing: Vec<&String> = ids[..3].iter().collect();
    shop.set_health(&web, &failing, "unhealthy");
    let app = shop.app(&[("FAILBACK", "manual")]);
    app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    shop.received().await;
    shop.set_health(&web, &failing, "healthy");

    let response = app.handle(shop.alarm_eventbridge("web", "OK", "ALARM", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Info);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr, 100)]));
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("info".into(), "warning".into(), "failback".into())]);
    assert!(received[0].body()["next_steps"].to_string().contains("failback"), "{:?}", received[0].body());
}

// ---------------------------------------------------------------------------------------------- dry run

#[tokio::test]
async fn dry_run_publishes_the_plan_and_changes_nothing() {
    let mut shop = Shop::new().await;
    let (web, dr, _, ids) = with_backup(&mut shop).await;
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");
    let app = shop.app(&[("DRY_RUN", "true")]);

    let response = app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::DryRun);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));
    assert!(shop.records(&web).await.is_empty(), "a dry run writes nothing in the ledger");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("dry-run".into(), "info".into(), "shift-traffic".into())]);
    assert!(received[0].body()["summary"].as_str().unwrap().contains("would change"), "{:?}", received[0].body());

    // Per command, too: a deregistration that would happen, does not.
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "healthy");
    let command = json!({"command": "deregister", "target_group_arn": web, "targets": [ids[0]], "dry_run": true});
    let response = shop.app(&[]).handle(command).await.unwrap();
    assert_status(&response, Outcome::DryRun);
    assert_eq!(shop.health(&web).await.len(), 3);
    assert_eq!(outcomes(&shop.received().await), [("dry-run".into(), "info".into(), "deregister-targets".into())]);
}

// ---------------------------------------------------------------------------------------------- manual commands

#[tokio::test]
async fn manual_commands_status_deregister_restore_shift_and_failback() {
    let mut shop = Shop::new().await;
    let (web, dr, _, ids) = with_backup(&mut shop).await;
    let app = shop.app(&[]);

    let status = app.handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();
    assert_status(&status, Outcome::Info);
    assert_eq!(status.details["counts"], json!({"registered": 3, "healthy": 3, "floor": 2}));
    assert_eq!(outcomes(&shop.received().await), [("info".into(), "info".into(), "status".into())]);

    let deregister = json!({"command": "deregister", "target_group_arn": web, "targets": [{"id": ids[0], "port": 80}]});
    assert_status(&app.handle(deregister).await.unwrap(), Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&ids[0]));
    let records = shop.records(&web).await;
    let removals: Vec<&String> = records.keys().filter(|k| k.starts_with("removal#")).collect();
    assert_eq!(removals.len(), 1, "one record for the removal: {records:?}");
    let removal = removals[0].clone();
    assert_eq!(records[&removal]["state"], json!("done"), "{records:?}");
    assert_eq!(records[&removal]["trigger"], json!("manual command deregister"), "{records:?}");
    assert_eq!(records[&removal]["data"]["registered_before"], json!(3), "{records:?}");
    assert_eq!(records[&removal]["data"]["targets"], json!([{"id": ids[0], "port": 80}]), "{records:?}");

    // status lists the open record.
    let status = app.handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();
    assert_eq!(status.details["ledger"][0]["key"], json!(removal), "{status:?}");
    assert_eq!(status.details["ledger"][0]["state"], json!("done"), "{status:?}");
    assert_eq!(status.details["paused"], Value::Null, "{status:?}");
    let details = status.details.to_string();
    assert!(details.contains("manual command deregister"), "the record's trigger: {details}");

    let restore = json!({"command": "restore", "target_group_arn": web, "targets": [{"id": ids[0], "port": 80}]});
    assert_status(&app.handle(restore.clone()).await.unwrap(), Outcome::Succeeded);
    assert!(shop.health(&web).await.contains_key(&ids[0]));
    assert_eq!(
        shop.keys(&web, "removal#", &["closed"]).await,
        std::slice::from_ref(&removal),
        "restore closes the removal"
    );
    assert_status(&app.handle(restore).await.unwrap(), Outcome::Succeeded);
    assert_eq!(shop.health(&web).await.len(), 3, "restoring twice registers once");

    assert_status(&app.handle(json!({"command": "shift", "target_group_arn": web})).await.unwrap(), Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));

    let failback = json!({"command": "failback", "target_group_arn": web});
    assert_status(&app.handle(failback).await.unwrap(), Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));

    assert_eq!(
        outcomes(&shop.received().await),
        [
            ("info".into(), "info".into(), "status".into()),
            ("succeeded".into(), "critical".into(), "shift-traffic".into()),
            ("succeeded".into(), "info".into(), "failback".into()),
            ("succeeded".into(), "info".into(), "register-targets".into()),
            ("succeeded".into(), "info".into(), "register-targets".into()),
            ("succeeded".into(), "warning".into(), "deregister-targets".into()),
        ]
    );

    let bad = app.handle(json!({"command": "reboot", "target_group_arn": web})).await.unwrap_err();
    assert_eq!(bad.error_type(), "InvalidCommand");
}

#[tokio::test]
async fn a_failback_command_while_the_group_cannot_serve_needs_force() {
    let mut shop = Shop::new().await;
    let (web, dr, _, ids) = with_backup(&mut shop).await;
    let app = shop.app(&[]);
    app.handle(json!({"command": "shift", "target_group_arn": web})).await.unwrap();
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");

    let refused = app.handle(json!({"command": "failback", "target_group_arn": web})).await.unwrap();
    assert_status(&refused, Outcome::Refused);
    assert_eq!(shop.listener_weights().await[&web], 0);

    let forced = app.handle(json!({"command": "failback", "target_group_arn": web, "force": true})).await.unwrap();
    assert_status(&forced, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web, 100), (dr, 0)]));
}

// ---------------------------------------------------------------------------------------------- the ledger

#[tokio::test]
async fn two_invocations_of_the_same_alarm_at_once_shift_once_and_notify_once() {
    let mut shop = Shop::new().await;
    let (web, dr, rule, ids) = with_backup(&mut shop).await;
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");
    let ((first, first_calls), (second, second_calls)) = (shop.counted_app(&[]), shop.counted_app(&[]));
    let event = shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web));

    let (a, b) = tokio::join!(first.handle(event.clone()), second.handle(event.clone()));

    // One acts; the other waits for it and finds the work done, or (on a slow machine) gives up waiting with
    // a retryable error, and Lambda's retry finds the work done.
    let acted = [&a, &b].iter().filter(|r| matches!(r, Ok(r) if r.status == Outcome::Succeeded)).count();
    assert_eq!(acted, 1, "{a:?} {b:?}");
    for result in [a, b] {
        match result {
            Ok(response) => assert!(matches!(response.status, Outcome::Succeeded | Outcome::Skipped), "{response:?}"),
            Err(error) => {
                assert_eq!(error.error_type(), "ResourceBusy", "{error}");
                assert_status(&second.handle(event.clone()).await.unwrap(), Outcome::Skipped);
            }
        }
    }
    let set_weights: usize = [first_calls, second_calls]
        .iter()
        .map(|c| calls(c).iter().filter(|(k, _)| *k == "set_weights").map(|(_, n)| n).sum::<usize>())
        .sum();
    assert_eq!(set_weights, 2, "each action re-weighted once");
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 1)]));
    assert_eq!(shop.keys(&web, "shift#", &["done"]).await.len(), 2);
    assert_eq!(outcomes(&shop.received().await), [("succeeded".into(), "critical".into(), "shift-traffic".into())]);
}

#[tokio::test]
async fn a_paused_stack_refuses_alarms_and_unforced_commands_acts_when_forced_and_again_after_resume() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[3]], "unhealthy");
    let app = shop.app(&[]);

    let paused = app.handle(json!({"command": "pause", "reason": "bad deploy", "by": "alice"})).await.unwrap();
    assert_status(&paused, Outcome::Succeeded);
    assert_eq!(outcomes(&shop.received().await), [("succeeded".into(), "warning".into(), "pause".into())]);

    // An alarm: planned, refused, notified with who and why; nothing changed.
    let alarm = shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web));
    assert_status(&app.handle(alarm.clone()).await.unwrap(), Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 4);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "warning".into(), "deregister-targets".into())]);
    let summary = received[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("paused by alice (bad deploy)"), "{summary}");
    assert!(shop.records(&web).await.is_empty(), "nothing recorded while paused");

    // A manual command: refused without force, done with it.
    let command = json!({"command": "deregister", "target_group_arn": web, "targets": [ids[3]]});
    assert_status(&app.handle(command.clone()).await.unwrap(), Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 4);
    let mut forced = command.clone();
    forced["force"] = json!(true);
    assert_status(&app.handle(forced).await.unwrap(), Outcome::Succeeded);
    assert_eq!(shop.health(&web).await.len(), 3);

    // status shows the pause.
    let status = app.handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();
    assert_eq!(status.details["paused"]["by"], json!("alice"), "{status:?}");
    shop.received().await;

    // Resumed: a retry of the refused transition is stale (the paused run recorded it); the next one acts.
    assert_status(&app.handle(json!({"command": "resume"})).await.unwrap(), Outcome::Succeeded);
    shop.set_health(&web, &[&ids[2]], "unhealthy");
    let retried = app.handle(alarm).await.unwrap();
    assert!(retried.message.contains("stale"), "{retried:?}");
    assert_eq!(shop.health(&web).await.len(), 3);
    let alarm = shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web));
    assert_status(&app.handle(alarm).await.unwrap(), Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&ids[2]));
    assert_eq!(
        outcomes(&shop.received().await),
        [
            ("succeeded".into(), "info".into(), "resume".into()),
            ("succeeded".into(), "warning".into(), "deregister-targets".into()),
        ]
    );
}

/// The README's pause that needs no free Lambda slot (during a storm, queued alarm events keep every slot busy and
/// a `pause` invocation can be throttled): its `aws dynamodb put-item` item, written as the README writes it,
/// stops the next change at once, `status` shows it, and `resume` ends it.
#[tokio::test]
async fn the_pause_item_the_readme_writes_into_the_ledger_stops_changes_until_resume() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[3]], "unhealthy");
    let app = shop.app(&[]);

    let item = readme_pause_item();
    shop.account.dynamodb().put_item().table_name(&shop.ledger).set_item(Some(item)).send().await.expect("put-item");

    let alarm = shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web));
    assert_status(&app.handle(alarm).await.unwrap(), Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 4, "nothing removed while paused");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "warning".into(), "deregister-targets".into())]);
    let summary = received[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("paused by alice (alarm storm)"), "{summary}");
    let status = app.handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();
    assert_eq!(status.details["paused"]["by"], json!("alice"), "{status:?}");
    shop.received().await;

    assert_status(&app.handle(json!({"command": "resume"})).await.unwrap(), Outcome::Succeeded);
    let alarm = shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web));
    assert_status(&app.handle(alarm).await.unwrap(), Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&ids[3]), "acts again after resume");
}

/// The item of the README's `aws dynamodb put-item` pause command, as the shell hands it to the CLI (its
/// `$(date +%s)` a fixed time).
fn readme_pause_item() -> std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).expect("README.md");
    let line = readme.lines().find(|l| l.contains(r#"--item '{"pk": {"S": "control"}"#)).expect("the README's pause");
    let quoted = line.split_once("--item '").expect("--item").1.trim_end().strip_suffix('\'').expect("quoted");
    let item: Value = serde_json::from_str(&quoted.replace(r#"'"$(date +%s)"'"#, "1765000000")).expect("JSON");
    let attribute = |v: &Value| match (v["S"].as_str(), v["N"].as_str()) {
        (Some(s), _) => AttributeValue::S(s.to_owned()),
        (None, Some(n)) => AttributeValue::N(n.to_owned()),
        _ => panic!("only S and N attributes: {v}"),
    };
    item.as_object().expect("an object").iter().map(|(k, v)| (k.clone(), attribute(v))).collect()
}
