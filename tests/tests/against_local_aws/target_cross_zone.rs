//! Per-zone thresholds when cross-zone load balancing is off, against the local AWS: a network load balancer over
//! two zones (cross-zone off, its default), its TCP group `web` with three healthy instances in each zone and the
//! `target_group_health` threshold `unhealthy_state_routing` count 2, and gray failures (instance alarms) on two
//! instances of the first zone. Each zone's nodes send traffic only to that zone's targets, and AWS applies the
//! threshold per zone: below two healthy, the zone fails open to its unhealthy targets. So two must serve in
//! each zone, not only two (and 50 % of the 6 registered when the incident began) across the group.

use crate::shop;

use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ProtocolEnum, TargetGroupAttribute};
use failover_core::outcome::Outcome;
use serde_json::{json, Value};
use shop::{assert_status, outcomes, Shop};
use target_failover::adapters::ElbClient;
use target_failover::ports::Zonal;

/// The shop's network load balancer and its group `web` (3 instances in the first zone, 3 in the second, all
/// healthy) behind a TCP listener; the group's `load_balancing.cross_zone.enabled` set when `cross_zone` says.
async fn nlb_site(cross_zone: Option<&str>) -> (Shop, String, Vec<String>) {
    let shop = Shop::new().await;
    let elb = shop.account.elbv2();
    let nlb = shop.network_load_balancer().await;
    let zones = ElbClient::from_sdk(&shop.account.sdk).balancer(&nlb).await.expect("describe").expect("the NLB").zones;
    let a = shop.account.instances_in(&zones[0], 3);
    let b = shop.account.instances_in(&zones[1], 3);
    let all: Vec<String> = a.iter().chain(&b).cloned().collect();
    let web = shop.tcp_group("web", &all).await;
    shop.set_health(&web, &all.iter().collect::<Vec<_>>(), "healthy");
    let threshold = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count";
    let mut attributes = vec![TargetGroupAttribute::builder().key(threshold).value("2").build()];
    if let Some(value) = cross_zone {
        attributes.push(TargetGroupAttribute::builder().key("load_balancing.cross_zone.enabled").value(value).build());
    }
    let set = elb.modify_target_group_attributes().target_group_arn(&web).set_attributes(Some(attributes));
    set.send().await.expect("set the group's attributes");
    let forward = Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(&web).build();
    elb.create_listener()
        .load_balancer_arn(&nlb)
        .protocol(ProtocolEnum::Tcp)
        .port(80)
        .default_actions(forward)
        .send()
        .await
        .expect("create the TCP listener");
    (shop, web, a)
}

fn instance_alarm(shop: &Shop, id: &str) -> Value {
    shop.alarm_action(&format!("{id}-5xx"), "ALARM", "OK", json!({"InstanceId": id}))
}

/// Two instances of the first zone removed or failing are a zonal failure; what is tested here is the floor, so
/// the zonal signal is set out of reach.
const NO_ZONAL_SIGNAL: (&str, &str) = ("ZONE_EVACUATION_MIN_TARGETS", "5");

#[tokio::test]
async fn with_cross_zone_off_the_second_gray_failure_of_a_zone_stays_to_hold_the_threshold_in_that_zone() {
    let (shop, web, a) = nlb_site(None).await;
    let app = shop.app(&[NO_ZONAL_SIGNAL]);

    let first = app.handle(instance_alarm(&shop, &a[0])).await.expect("handled");

    assert_status(&first, Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&a[0]), "2 still serve the zone: the first leaves");
    shop.received().await;

    let second = app.handle(instance_alarm(&shop, &a[1])).await.expect("handled");

    assert_status(&second, Outcome::Refused);
    let health = shop.health(&web).await;
    assert_eq!((health.len(), health.get(&a[1]).map(String::as_str)), (5, Some("healthy")), "{health:?}");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "critical".into(), "deregister-targets".into())]);
    let body = received[0].body().to_string();
    assert!(body.contains("with 1 serving of 2 registered, below the zone's floor of 2"), "{body}");
    assert!(body.contains("cross-zone load balancing is off"), "{body}");
}

#[tokio::test]
async fn with_cross_zone_on_for_the_group_both_gray_failures_leave_within_the_groups_floor() {
    let (shop, web, a) = nlb_site(Some("true")).await;
    let app = shop.app(&[NO_ZONAL_SIGNAL]);

    assert_status(&app.handle(instance_alarm(&shop, &a[0])).await.expect("handled"), Outcome::Succeeded);
    assert_status(&app.handle(instance_alarm(&shop, &a[1])).await.expect("handled"), Outcome::Succeeded);

    let health = shop.health(&web).await;
    assert!(!health.contains_key(&a[0]) && !health.contains_key(&a[1]), "{health:?}");
    assert_eq!(health.len(), 4, "4 of the 6 registered when the incident began serve: the group's floor is 3");
}
