//! target-failover's zone evacuation (per-zone load balancer alarms, and the
//! `evacuate-zone`/`return-zone` commands) against the local AWS: each test builds the shop's load balancer
//! over two zones, an opted-in group of instances in both, and asserts what ARC shows afterwards (through
//! GetManagedResource), the ledger, that no target was touched, and the one notification.

use crate::shop;

use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use failover_core::outcome::Outcome;
use integration_tests::Received;
use serde_json::{json, Value};
use shop::{assert_status, outcomes, Shop, OPT_IN};
use std::sync::atomic::Ordering::SeqCst;
use target_failover::adapters::ElbClient;
use target_failover::model::{ActiveShift, ManagedResource};
use target_failover::ports::Zonal;

/// The shop, its load balancer opted in (and registered with ARC unless told otherwise), one opted-in group
/// with `in_a` instances in the first zone and `in_b` in the second, all healthy.
struct Site {
    shop: Shop,
    group: String,
    a: Vec<String>,
    b: Vec<String>,
    /// (name, AZ ID) of the load balancer's two zones.
    zone_a: (String, String),
    zone_b: (String, String),
    elb: ElbClient,
}

impl Site {
    async fn new(in_a: usize, in_b: usize, registered: bool) -> Self {
        let mut shop = Shop::new().await;
        let elb = ElbClient::from_sdk(&shop.account.sdk);
        let balancer = elb.balancer(&shop.lb).await.expect("describe").expect("the shop's load balancer");
        let ids = elb.zone_ids().await.expect("zone ids");
        let zone = |i: usize| (balancer.zones[i].clone(), ids[&balancer.zones[i]].clone());
        let (zone_a, zone_b) = (zone(0), zone(1));
        let a = shop.account.instances_in(&zone_a.0, in_a);
        let b = shop.account.instances_in(&zone_b.0, in_b);
        let all: Vec<String> = a.iter().chain(&b).cloned().collect();
        let group = shop.group("web", TargetTypeEnum::Instance, true, &all).await;
        shop.set_health(&group, &all.iter().collect::<Vec<_>>(), "healthy");
        shop.listener(&[(group.as_str(), 1)]).await;
        shop.tag(&shop.lb.clone(), OPT_IN, "true").await;
        if registered {
            shop.account.register_with_arc(&shop.lb, true).await;
        }
        Site { shop, group, a, b, zone_a, zone_b, elb }
    }

    fn dimensions(&self, zone: &str) -> Value {
        let lb = &self.shop.lb[self.shop.lb.find(":loadbalancer/").expect("an LB ARN") + 14..];
        json!({"LoadBalancer": lb, "AvailabilityZone": zone})
    }

    fn alarm(&self, name: &str, state: &str, zone: &str) -> Value {
        let previous = if state == "OK" { "ALARM" } else { "OK" };
        self.shop.alarm_eventbridge(name, state, previous, self.dimensions(zone))
    }

    /// `web-5xx-a` about the first zone on a per-zone 5XX count: once the shift moves the zone's traffic away,
    /// it falls to 0 whatever the zone's state.
    fn traffic_alarm(&self, state: &str) -> Value {
        let mut event = self.alarm("web-5xx-a", state, &self.zone_a.0);
        event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]["name"] =
            json!("HTTPCode_Target_5XX_Count");
        event
    }

    /// The default app's answer to the alarm `web-5xx-a` about the first zone.
    async fn alarm_a(&self, state: &str) -> failover_core::response::Response {
        self.shop.app(&[]).handle(self.alarm("web-5xx-a", state, &self.zone_a.0)).await.expect("handled")
    }

    /// Two zones of two targets, on the app with `clock`: the traffic alarm evacuated the first zone, and its OK
    /// holds the shift.
    async fn held(
        clock: fn() -> i64,
    ) -> (Site, target_failover::App<ElbClient, failover_core::notify::SnsNotifier, failover_core::ledger::DynamoLedger>)
    {
        let site = Site::new(2, 2, true).await;
        let app = site.shop.app_on(&[], site.shop.dynamo_ledger(), clock);
        app.handle(site.traffic_alarm("ALARM")).await.expect("handled");
        assert_eq!(site.shift_ids().await.len(), 1, "evacuated");
        assert_status(&app.handle(site.traffic_alarm("OK")).await.expect("handled"), Outcome::Info);
        (site, app)
    }

    async fn resource(&self) -> ManagedResource {
        self.elb.managed_resource(&self.shop.lb).await.expect("get managed resource").expect("registered")
    }

    async fn shifts(&self) -> Vec<ActiveShift> {
        self.resource().await.shifts
    }

    async fn shift_ids(&self) -> Vec<Option<String>> {
        self.shifts().await.into_iter().map(|s| s.id).collect()
    }

    /// Every target is still registered, as it was.
    async fn untouched(&self) {
        let health = self.shop.health(&self.group).await;
        assert_eq!(health.len(), self.a.len() + self.b.len(), "{health:?}");
        assert!(health.values().all(|s| s != "draining"), "{health:?}");
    }

    async fn ledger(&self) -> Vec<(String, String, Value)> {
        let items = self.shop.items(&format!("load-balancer:{}", self.shop.lb)).await;
        items
            .into_iter()
            .map(|(key, item)| {
                let state = item.get("state").and_then(Value::as_str).unwrap_or_default().to_owned();
                (key, state, item.get("data").cloned().unwrap_or(Value::Null))
            })
            .collect()
    }

    async fn one_notification(&self) -> Received {
        let mut received = self.shop.received().await;
        assert_eq!(received.len(), 1, "{:?}", outcomes(&received));
        received.remove(0)
    }
}

fn summary(received: &Received) -> String {
    received.body()["summary"].as_str().unwrap_or_default().to_owned()
}

#[tokio::test]
async fn a_per_zone_alarm_evacuates_the_zone_and_its_ok_returns_it() {
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[]);
    let (zone, az_id) = site.zone_a.clone();

    let response = app.handle(site.alarm("web-5xx-a", "ALARM", &zone)).await.expect("handled");

    assert_status(&response, Outcome::Succeeded);
    let shifts = site.shifts().await;
    let [shift] = shifts.as_slice() else { panic!("one shift: {shifts:?}") };
    assert_eq!(shift.away_from, az_id);
    assert!(shift.applied);
    assert_eq!(shift.comment.as_deref(), Some(format!("failover: alarm web-5xx-a ({zone})").as_str()));
    assert_eq!(site.resource().await.applied_weights.get(&az_id), Some(&0.0));
    site.untouched().await;
    let note = site.one_notification().await;
    assert_eq!(
        (note.attribute("outcome"), note.attribute("severity"), note.attribute("action")),
        ("succeeded", "critical", "zonal-shift")
    );
    let body = note.body();
    assert_eq!(body["details"]["shift_id"].as_str(), shift.id.as_deref());
    assert_eq!(body["details"]["az_id"], json!(az_id));
    assert_eq!(body["details"]["counts"][0]["healthy_outside"], 2);
    assert!(summary(&note).contains(&zone), "{body}");
    let incident = &site.shop.lb[site.shop.lb.find("loadbalancer/").expect("an LB ARN")..];
    assert_eq!(body["incident_id"], json!(format!("target-failover/{incident}")));
    let ledger = site.ledger().await;
    let [(key, state, data)] = ledger.as_slice() else { panic!("one record: {ledger:?}") };
    assert!(key.starts_with("zonal-shift#") && state == "done", "{ledger:?}");
    assert_eq!(data["shift_id"].as_str(), shift.id.as_deref());
    assert_eq!(data["alarm_arn"], json!(site.shop.alarm_arn("web-5xx-a")));

    let response = app.handle(site.alarm("web-5xx-a", "OK", &zone)).await.expect("handled");

    assert_status(&response, Outcome::Succeeded);
    assert!(site.shifts().await.is_empty(), "the shift is cancelled");
    let id = shift.id.clone().expect("an id");
    assert!(!site.elb.cancel_shift(&id).await.expect("cancel again"), "no longer active: CANCELED");
    let note = site.one_notification().await;
    assert_eq!((note.attribute("outcome"), note.attribute("action")), ("succeeded", "cancel-zonal-shift"));
    assert!(summary(&note).contains(&id), "{}", summary(&note));
    let ledger = site.ledger().await;
    assert_eq!(ledger[0].1, "closed", "{ledger:?}");
    assert_eq!(ledger[0].2["ended"], "cancelled");
    site.untouched().await;
}

#[tokio::test]
async fn the_same_per_zone_alarm_three_times_by_every_path_and_once_more_after_its_ok_shifts_once() {
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[]);
    let zone = site.zone_a.0.clone();
    let dims = site.dimensions(&zone);
    let alarm = site.alarm("web-5xx-a", "ALARM", &zone);
    let time = alarm["detail"]["state"]["timestamp"].as_str().expect("a state timestamp").to_owned();
    let by_sns = shop::at_time(site.shop.alarm_sns("web-5xx-a", "ALARM", "OK", dims.clone()), &time);
    let by_action = shop::at_time(site.shop.alarm_action("web-5xx-a", "ALARM", "OK", dims), &time);

    // One state change, delivered by EventBridge, then again by SNS and by the alarm action (at least once).
    for event in [alarm.clone(), by_sns, by_action] {
        app.handle(event).await.expect("handled");
    }

    let ids = site.shift_ids().await;
    assert_eq!(ids.len(), 1, "one shift for one state change");
    let once = [("succeeded".to_owned(), "critical".to_owned(), "zonal-shift".to_owned())];
    assert_eq!(outcomes(&site.shop.received().await), once, "one notification");

    app.handle(site.alarm("web-5xx-a", "OK", &zone)).await.expect("handled");
    assert!(site.shifts().await.is_empty(), "the OK returns the zone");
    site.shop.received().await;

    // Lambda's late retry of the ALARM, after its OK: stale, no new shift, nothing notified.
    let late = app.handle(alarm).await.expect("handled");

    assert_status(&late, Outcome::Skipped);
    assert!(site.shifts().await.is_empty(), "a late ALARM after its OK evacuated the zone again");
    assert!(site.shop.received().await.is_empty());
    site.untouched().await;
}

#[tokio::test]
async fn with_failback_manual_the_ok_asks_for_return_zone_and_cancels_nothing() {
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[("FAILBACK", "manual")]);
    let zone = site.zone_a.0.clone();
    app.handle(site.alarm("web-5xx-a", "ALARM", &zone)).await.expect("handled");
    let _ = site.shop.received().await;

    let response = app.handle(site.alarm("web-5xx-a", "OK", &zone)).await.expect("handled");

    assert_status(&response, Outcome::Info);
    assert_eq!(site.shifts().await.len(), 1, "the shift stays");
    let note = site.one_notification().await;
    assert_eq!((note.attribute("severity"), note.attribute("action")), ("info", "cancel-zonal-shift"));
    assert!(note.body()["next_steps"].to_string().contains("return-zone"), "{}", note.body());
}

#[tokio::test]
async fn an_active_autoshift_away_from_the_failing_zone_is_deferred_to_once() {
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[]);
    let (zone, az_id) = site.zone_a.clone();
    site.shop.account.autoshift(&az_id, true, &[&site.shop.lb]);

    let response = app.handle(site.alarm("web-5xx-a", "ALARM", &zone)).await.expect("handled");

    assert_status(&response, Outcome::Info);
    let shifts = site.shifts().await;
    assert_eq!(shifts.len(), 1, "no shift started: {shifts:?}");
    assert_eq!(shifts[0].kind, target_failover::model::ShiftKind::Autoshift);
    site.untouched().await;
    let note = site.one_notification().await;
    assert_eq!(
        (note.attribute("outcome"), note.attribute("severity"), note.attribute("action")),
        ("info", "info", "zonal-shift")
    );
    assert!(summary(&note).contains("autoshift"), "{}", summary(&note));

    // Another alarm about the same zone, while the same autoshift is active: logged, not notified again.
    let response = app.handle(site.alarm("web-unhealthy-a", "ALARM", &zone)).await.expect("handled");
    assert_status(&response, Outcome::Skipped);
    assert!(site.shop.received().await.is_empty());
    assert_eq!(site.shifts().await.len(), 1);
    // Someone else's shift is no change of ours: the load balancer's timeline has no incident.
    assert!(site.ledger().await.iter().any(|(key, ..)| key.starts_with("deferred#")));
    let timeline = json!({"command": "timeline", "load_balancer_arn": site.shop.lb});
    let response = app.handle(timeline).await.expect("handled");
    assert!(response.message.ends_with(": no incident in the ledger"), "{}", response.message);
}

#[tokio::test]
async fn a_persons_shift_away_from_another_zone_refuses_naming_both_zones_and_the_ok_cancels_nothing() {
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[]);
    let other = site.shop.account.shift_by_others(&site.shop.lb, &site.zone_b.1, "ZONAL_SHIFT");

    let response = app.handle(site.alarm("web-5xx-a", "ALARM", &site.zone_a.0)).await.expect("handled");

    assert_status(&response, Outcome::Refused);
    assert_eq!(site.shift_ids().await, vec![Some(other.clone())]);
    site.untouched().await;
    let note = site.one_notification().await;
    assert_eq!((note.attribute("outcome"), note.attribute("action")), ("refused", "zonal-shift"));
    let text = summary(&note);
    assert!(text.contains(&site.zone_a.0) && text.contains(&site.zone_b.0), "{text}");

    // The zone recovers: the person's shift is not this function's, so it stays.
    let response = app.handle(site.alarm("web-5xx-a", "OK", &site.zone_a.0)).await.expect("handled");
    assert_status(&response, Outcome::Skipped);
    assert_eq!(site.shift_ids().await, vec![Some(other)]);
    assert!(site.shop.received().await.is_empty());
}

#[tokio::test]
async fn the_last_healthy_zone_is_never_evacuated() {
    let site = Site::new(2, 2, true).await;
    site.shop.set_health(&site.group, &site.b.iter().collect::<Vec<_>>(), "unhealthy");

    let response = site.alarm_a("ALARM").await;

    assert_status(&response, Outcome::Refused);
    assert!(site.shifts().await.is_empty());
    let note = site.one_notification().await;
    let text = summary(&note);
    assert!(text.contains("last healthy zone") && text.contains("0 healthy outside"), "{text}");
    assert!(site.ledger().await.is_empty());
}

#[tokio::test]
async fn a_zone_whose_loss_breaks_the_floor_is_refused_with_the_numbers() {
    let site = Site::new(3, 1, true).await;

    let response = site.alarm_a("ALARM").await;

    assert_status(&response, Outcome::Refused);
    assert!(site.shifts().await.is_empty());
    let text = summary(&site.one_notification().await);
    assert!(text.contains("1 healthy outside") && text.contains("2 required / 4 registered"), "{text}");
}

/// The incident's floor holds across the evacuation: 2 serve in each zone once the group's alarm removed the two
/// failing targets of the second zone (6 registered when the removal began, 50 %: 3 must serve), so evacuating
/// the first zone, which the group as it is now (4 registered, 2 required) would allow, is refused.
#[tokio::test]
async fn while_a_removal_is_open_an_evacuation_below_the_incidents_baseline_floor_is_refused_with_the_numbers() {
    let site = Site::new(2, 4, true).await;
    // Removals in one zone stay removals here: the zonal signal of the group's alarm is not what is tested.
    let app = site.shop.app(&[("ZONE_EVACUATION_MIN_TARGETS", "5")]);
    site.shop.set_health(&site.group, &site.b[2..].iter().collect::<Vec<_>>(), "unhealthy");
    let group_alarm = site.shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", shop::tg_dimension(&site.group));
    assert_status(&app.handle(group_alarm).await.expect("handled"), Outcome::Succeeded);
    let removal = site.shop.records(&site.group).await;
    let (_, removal) = removal.iter().find(|(key, _)| key.starts_with("removal#")).expect("the removal's record");
    assert_eq!((removal["state"].as_str(), removal["data"]["baseline"].as_u64()), (Some("done"), Some(6)));
    assert_eq!(site.shop.health(&site.group).await.len(), 4);
    site.shop.received().await;

    let response = app.handle(site.alarm("web-5xx-a", "ALARM", &site.zone_a.0)).await.expect("handled");

    assert_status(&response, Outcome::Refused);
    assert!(site.shifts().await.is_empty(), "no zonal shift started");
    assert!(site.ledger().await.is_empty(), "{:?}", site.ledger().await);
    assert_eq!(site.shop.health(&site.group).await.len(), 4, "no target touched");
    let note = site.one_notification().await;
    let text = summary(&note);
    assert!(text.contains("below its floor"), "{text}");
    assert!(
        text.contains("2 healthy outside") && text.contains("3 required") && text.contains("baseline of 6"),
        "{text}"
    );
    assert!(text.contains("4 registered"), "{text}");
    assert_eq!(note.body()["details"]["counts"][0]["baseline"], 6, "{:?}", note.body());
}

#[tokio::test]
async fn a_load_balancer_not_registered_with_arc_is_refused_with_the_command_that_registers_it() {
    let site = Site::new(2, 2, false).await;

    let response = site.alarm_a("ALARM").await;

    assert_status(&response, Outcome::Refused);
    assert_eq!(site.elb.managed_resource(&site.shop.lb).await.expect("get"), None);
    site.untouched().await;
    let note = site.one_notification().await;
    assert_eq!((note.attribute("severity"), note.attribute("action")), ("warning", "zonal-shift"));
    let steps = note.body()["next_steps"].to_string();
    assert!(
        steps.contains("aws elbv2 modify-load-balancer-attributes")
            && steps.contains(&site.shop.lb)
            && steps.contains("Key=zonal_shift.config.enabled,Value=true"),
        "{steps}"
    );
}

#[tokio::test]
async fn a_load_balancer_not_opted_in_is_skipped_without_an_arc_call() {
    let site = Site::new(2, 2, true).await;
    site.shop.tag(&site.shop.lb, OPT_IN, "false").await;
    let (app, calls) = site.shop.counted_app(&[]);

    let response = app.handle(site.alarm("web-5xx-a", "ALARM", &site.zone_a.0)).await.expect("handled");

    assert_status(&response, Outcome::Skipped);
    assert!(site.shifts().await.is_empty());
    assert!(site.shop.received().await.is_empty());
    let called = shop::calls(calls);
    assert!(!called.iter().any(|(name, _)| *name == "managed_resource" || *name == "start_shift"), "{called:?}");
}

#[tokio::test]
async fn faults_on_each_zonal_call_fail_the_event_for_a_retry_and_start_nothing() {
    for call in ["managed_resource", "zone_ids", "balancer", "instance_zones", "start_shift"] {
        let site = Site::new(2, 2, true).await;
        let (app, _, fail) = site.shop.flaky_app(&[]);
        fail.lock().unwrap().insert(call, 1);
        let alarm = site.alarm("web-5xx-a", "ALARM", &site.zone_a.0);

        assert!(app.handle(alarm.clone()).await.is_err(), "{call}: a transient failure is retried");

        assert!(site.shifts().await.is_empty(), "{call}");
        let note = site.one_notification().await;
        assert_eq!((note.attribute("outcome"), note.attribute("action")), ("failed", "zonal-shift"), "{call}");
        // Lambda's retry of the same event evacuates.
        let response = app.handle(alarm).await.expect("the retry");
        assert_status(&response, Outcome::Succeeded);
        assert_eq!(site.shifts().await.len(), 1, "{call}");
    }
}

#[tokio::test]
async fn a_fault_on_cancel_keeps_the_record_open_and_the_retry_returns_the_zone() {
    let site = Site::new(2, 2, true).await;
    let (app, _, fail) = site.shop.flaky_app(&[]);
    let zone = site.zone_a.0.clone();
    app.handle(site.alarm("web-5xx-a", "ALARM", &zone)).await.expect("evacuated");
    let _ = site.shop.received().await;
    fail.lock().unwrap().insert("cancel_shift", 1);
    let ok = site.alarm("web-5xx-a", "OK", &zone);

    assert!(app.handle(ok.clone()).await.is_err());
    assert_eq!(site.shifts().await.len(), 1);
    assert_eq!(site.ledger().await[0].1, "done");
    let note = site.one_notification().await;
    assert_eq!((note.attribute("outcome"), note.attribute("action")), ("failed", "cancel-zonal-shift"));

    assert_status(&app.handle(ok).await.expect("the retry"), Outcome::Succeeded);
    assert!(site.shifts().await.is_empty());
    assert_eq!(site.ledger().await[0].1, "closed");
}

#[tokio::test]
async fn evacuate_zone_by_az_id_dry_run_changes_nothing_then_evacuates_and_return_zone_cancels() {
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[]);
    let (zone, az_id) = site.zone_b.clone();
    let command = |dry_run: bool| {
        json!({"command": "evacuate-zone", "load_balancer_arn": site.shop.lb, "zone": az_id,
               "expires_minutes": 30, "dry_run": dry_run})
    };

    let response = app.handle(command(true)).await.expect("handled");

    assert_status(&response, Outcome::DryRun);
    assert!(site.shifts().await.is_empty());
    assert!(site.ledger().await.is_empty());
    assert!(summary(&site.one_notification().await).contains("Nothing was changed"));

    let response = app.handle(command(false)).await.expect("handled");

    assert_status(&response, Outcome::Succeeded);
    let shifts = site.shifts().await;
    let [shift] = shifts.as_slice() else { panic!("one shift: {shifts:?}") };
    assert_eq!(shift.away_from, az_id);
    assert_eq!(shift.expires_at.zip(shift.started_at).map(|(e, s)| e - s), Some(30 * 60));
    let note = site.one_notification().await;
    assert!(summary(&note).contains(&format!("{zone} ({az_id})")), "{}", summary(&note));

    let back = json!({"command": "return-zone", "load_balancer_arn": site.shop.lb});
    let response = app.handle(back.clone()).await.expect("handled");

    assert_status(&response, Outcome::Succeeded);
    assert!(site.shifts().await.is_empty());
    assert_eq!(site.one_notification().await.attribute("action"), "cancel-zonal-shift");
    // Nothing of ours is left: a second return-zone does nothing.
    assert_status(&app.handle(back).await.expect("handled"), Outcome::Skipped);
    site.untouched().await;
}

#[tokio::test]
async fn an_ok_cancels_only_the_shift_its_own_alarm_started() {
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[]);
    let (zone, _) = site.zone_a.clone();
    let evacuate = json!({"command": "evacuate-zone", "load_balancer_arn": site.shop.lb, "zone": zone});
    assert_status(&app.handle(evacuate).await.expect("handled"), Outcome::Succeeded);
    let ids = site.shift_ids().await;
    assert_eq!(ids.len(), 1);
    site.shop.received().await;

    // Another alarm about the same zone: the zone is already evacuated (info, nothing started).
    let other = app.handle(site.alarm("web-5xx-a-second", "ALARM", &zone)).await.expect("handled");
    assert_status(&other, Outcome::Info);
    assert_eq!(site.shift_ids().await, ids);

    // Its OK, and the OK of an alarm that started nothing, leave the person's command's shift alone.
    app.handle(site.alarm("web-5xx-a-second", "OK", &zone)).await.expect("handled");
    app.handle(site.alarm("web-5xx-a", "OK", &zone)).await.expect("handled");
    assert_eq!(site.shift_ids().await, ids, "an OK cancelled a shift its alarm did not start");
    site.untouched().await;
}

#[tokio::test]
async fn return_zone_leaves_a_persons_shift_alone() {
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[]);
    let person = site.shop.account.shift_by_others(&site.shop.lb, &site.zone_a.1, "ZONAL_SHIFT");

    let back = json!({"command": "return-zone", "load_balancer_arn": site.shop.lb});
    assert_status(&app.handle(back).await.expect("handled"), Outcome::Skipped);

    assert_eq!(site.shift_ids().await, vec![Some(person)]);
}

#[tokio::test]
async fn evacuate_zone_forced_still_never_evacuates_the_last_healthy_zone() {
    let site = Site::new(2, 2, true).await;
    site.shop.set_health(&site.group, &site.a.iter().collect::<Vec<_>>(), "unhealthy");
    let app = site.shop.app(&[]);
    let command = json!({"command": "evacuate-zone", "load_balancer_arn": site.shop.lb, "zone": site.zone_b.0,
                         "force": true});

    let response = app.handle(command).await.expect("handled");

    assert_status(&response, Outcome::Refused);
    assert!(site.shifts().await.is_empty());
}

#[tokio::test]
async fn status_shows_the_zonal_state_of_the_groups_load_balancer_and_whose_shift_it_is() {
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[]);
    let status = json!({"command": "status", "target_group_arn": site.group});
    app.handle(site.alarm("web-5xx-a", "ALARM", &site.zone_a.0)).await.expect("evacuated");
    let _ = site.shop.received().await;

    app.handle(status.clone()).await.expect("status");

    let body = site.one_notification().await.body();
    let [lb] = body["details"]["zonal"].as_array().expect("a zonal section").as_slice() else { panic!("{body}") };
    assert_eq!((lb["load_balancer"].as_str(), lb["registered"].as_bool()), (Some(site.shop.lb.as_str()), Some(true)));
    let shift = &lb["shifts"][0];
    assert_eq!((shift["zone"].as_str(), shift["ours"].as_bool()), (Some(site.zone_a.0.as_str()), Some(true)));
    assert_eq!(shift["kind"], "zonal-shift");
    let text = body["summary"].as_str().unwrap_or_default();
    assert!(text.contains(&format!("this function's a zonal shift away from {}", site.zone_a.0)), "{text}");

    // Someone else's shift shows as not ours; a load balancer not registered names the command.
    app.handle(json!({"command": "return-zone", "load_balancer_arn": site.shop.lb})).await.expect("returned");
    site.shop.account.shift_by_others(&site.shop.lb, &site.zone_b.1, "ZONAL_SHIFT");
    let _ = site.shop.received().await;
    app.handle(status.clone()).await.expect("status");
    let body = site.one_notification().await.body();
    assert_eq!(body["details"]["zonal"][0]["shifts"][0]["ours"], false, "{body}");
    site.shop.account.register_with_arc(&site.shop.lb, false).await;
    app.handle(status).await.expect("status");
    let body = site.one_notification().await.body();
    assert_eq!(body["details"]["zonal"][0]["registered"], false, "{body}");
    assert!(body["next_steps"].to_string().contains("zonal_shift.config.enabled"), "{body}");
}

#[tokio::test]
async fn a_shift_an_interrupted_run_started_is_recorded_by_the_retry_and_returned_by_the_ok() {
    use failover_core::ledger::{Begin, Begun, DynamoLedger, Ledger, Record};
    let site = Site::new(2, 2, true).await;
    let (zone, az_id) = site.zone_a.clone();
    let trigger = "alarm web-5xx-a";
    let comment = format!("failover: {trigger} ({zone})");
    // The run that died after StartZonalShift: its pending record, its lease long run out, and its shift.
    let ledger = DynamoLedger::new(site.shop.account.dynamodb(), site.shop.ledger.clone());
    let resource = format!("load-balancer:{}", site.shop.lb);
    let then = failover_core::time::now_secs() - 3600;
    let snapshot = ledger.read(&resource, then).await.expect("read");
    let alarm_arn = site.alarm("web-5xx-a", "ALARM", &zone)["resources"][0].clone();
    let data = json!({"zone": zone, "az_id": az_id, "comment": comment, "trigger": trigger, "alarm_arn": alarm_arn});
    let record = Record::pending(&resource, "zonal-shift#1-dead", "dead", trigger, then, 86_400).with_data(data);
    let begin =
        Begin { owner: "dead", now: then, hold_secs: 60, retention_secs: 86_400, records: &[record], force: false };
    assert!(matches!(ledger.begin(&snapshot, &begin).await.expect("begin"), Begun::Started { .. }));
    let id = site.elb.start_shift(&site.shop.lb, &az_id, 60, &comment).await.expect("the dead run's shift");
    let app = site.shop.app(&[]);

    // Lambda's retry of the event.
    let response = app.handle(site.alarm("web-5xx-a", "ALARM", &zone)).await.expect("handled");

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(site.shift_ids().await, vec![Some(id.clone())], "no second shift");
    let ledger = site.ledger().await;
    assert_eq!((ledger[0].1.as_str(), ledger[0].2["shift_id"].as_str()), ("done", Some(id.as_str())), "{ledger:?}");
    let note = site.one_notification().await;
    assert_eq!((note.attribute("outcome"), note.attribute("action")), ("succeeded", "zonal-shift"));
    assert!(summary(&note).contains("interrupted run"), "{}", summary(&note));

    assert_status(&app.handle(site.alarm("web-5xx-a", "OK", &zone)).await.expect("handled"), Outcome::Succeeded);
    assert!(site.shifts().await.is_empty());
}

#[tokio::test]
async fn readiness_reports_an_opted_in_load_balancer_not_registered_with_arc_with_its_fix() {
    let site = Site::new(1, 1, false).await;
    let app = site.shop.app(&[]);

    app.handle(json!({"command": "readiness"})).await.expect("readiness");

    let note = site.one_notification().await;
    assert_eq!(note.attribute("severity"), "warning");
    let body = note.body().to_string();
    assert!(body.contains("load-balancer-not-registered-with-arc"), "{body}");
    assert!(body.contains("Key=zonal_shift.config.enabled,Value=true"), "{body}");

    site.shop.account.register_with_arc(&site.shop.lb, true).await;
    app.handle(json!({"command": "readiness"})).await.expect("readiness");
    let body = site.one_notification().await.body().to_string();
    assert!(!body.contains("load-balancer-not-registered-with-arc"), "{body}");
}

#[tokio::test]
async fn a_notification_that_could_not_be_published_is_published_once_by_lambdas_retry() {
    let site = Site::new(2, 2, true).await;
    let zone = site.zone_a.0.clone();
    for (state, action) in [("ALARM", "zonal-shift"), ("OK", "cancel-zonal-shift")] {
        let app = site.shop.app_publishing_after(1);
        let event = site.alarm("web-5xx-a", state, &zone);

        assert!(app.handle(event.clone()).await.is_err(), "{state}: SNS failed, Lambda retries");
        assert!(site.shop.received().await.is_empty());
        let shifts = site.shifts().await.len();

        let retry = app.handle(event.clone()).await.expect("the retry");

        assert_status(&retry, Outcome::Succeeded);
        assert_eq!(site.shifts().await.len(), shifts, "{state}: nothing changed again");
        let note = site.one_notification().await;
        assert_eq!((note.attribute("outcome"), note.attribute("action")), ("succeeded", action), "{state}");
        assert_status(&app.handle(event).await.expect("another retry"), Outcome::Skipped);
        assert!(site.shop.received().await.is_empty(), "{state}: once");
    }
    assert!(site.shifts().await.is_empty());
}

#[tokio::test]
async fn while_paused_an_alarm_is_refused_and_a_forced_evacuate_zone_acts() {
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[]);
    app.handle(json!({"command": "pause", "reason": "drill"})).await.expect("paused");
    let _ = site.shop.received().await;

    let response = app.handle(site.alarm("web-5xx-a", "ALARM", &site.zone_a.0)).await.expect("handled");

    assert_status(&response, Outcome::Refused);
    assert!(site.shifts().await.is_empty());
    let note = site.one_notification().await;
    assert_eq!(note.body()["resources"], json!([site.shop.lb]), "{}", note.body());

    // Deferring changes nothing in AWS: while paused too, it is an info, once.
    site.shop.account.autoshift(&site.zone_b.1, true, &[&site.shop.lb]);
    for name in ["web-5xx-b", "web-unhealthy-b"] {
        app.handle(site.alarm(name, "ALARM", &site.zone_b.0)).await.expect("handled");
    }
    let note = site.one_notification().await;
    assert_eq!((note.attribute("outcome"), note.attribute("action")), ("info", "zonal-shift"));
    site.shop.account.autoshift(&site.zone_b.1, false, &[&site.shop.lb]);

    let forced = json!({"command": "evacuate-zone", "load_balancer_arn": site.shop.lb, "zone": site.zone_a.0,
                        "force": true});
    assert_status(&app.handle(forced).await.expect("handled"), Outcome::Succeeded);
    assert_eq!(site.shifts().await.len(), 1);
}

#[tokio::test]
async fn a_zonal_ok_while_another_alarm_on_that_zone_is_in_alarm_keeps_the_shift_until_that_alarms_ok() {
    use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, StateValue, Statistic};
    let site = Site::new(2, 2, true).await;
    // Shifts of 30 minutes; kept, they are extended by the setting then in force (4 hours, below).
    let app = site.shop.app(&[("ZONAL_SHIFT_EXPIRES_MINUTES", "30")]);
    let (zone, _) = site.zone_a.clone();
    // Two per-zone alarms on the first zone, as CloudWatch holds them.
    let cloudwatch = site.shop.account.cloudwatch();
    let dimensions = site.dimensions(&zone);
    for (name, metric) in [("web-5xx-a", "HTTPCode_Target_5XX_Count"), ("web-latency-a", "TargetResponseTime")] {
        let dimensions: Vec<Dimension> = ["LoadBalancer", "AvailabilityZone"]
            .iter()
            .map(|d| Dimension::builder().name(*d).value(dimensions[d].as_str().unwrap()).build())
            .collect();
        cloudwatch
            .put_metric_alarm()
            .alarm_name(name)
            .namespace("AWS/ApplicationELB")
            .metric_name(metric)
            .set_dimensions(Some(dimensions))
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .expect("put the alarm");
    }
    let set = async |name: &str, state: StateValue| {
        let change = cloudwatch.set_alarm_state().alarm_name(name).state_value(state).state_reason("test");
        change.send().await.expect("set the alarm's state");
    };
    set("web-5xx-a", StateValue::Alarm).await;
    set("web-latency-a", StateValue::Alarm).await;
    assert_status(&app.handle(site.alarm("web-5xx-a", "ALARM", &zone)).await.expect("handled"), Outcome::Succeeded);
    let ids = site.shift_ids().await;
    assert_eq!(ids.len(), 1);
    site.shop.received().await;

    let expiry = |shifts: Vec<ActiveShift>| shifts[0].expires_at.expect("an expiry") - failover_core::time::now_secs();
    assert!(expiry(site.shifts().await) <= 30 * 60, "30 minutes");

    // The alarm that evacuated the zone is OK; the latency alarm on the same zone is still in ALARM.
    set("web-5xx-a", StateValue::Ok).await;
    let longer = site.shop.app(&[("ZONAL_SHIFT_EXPIRES_MINUTES", "240")]);
    let ok = longer.handle(site.alarm("web-5xx-a", "OK", &zone)).await.expect("handled");

    assert_status(&ok, Outcome::Info);
    assert_eq!(site.shift_ids().await, ids, "the shift stays");
    let left = expiry(site.shifts().await);
    assert!((240 * 60 - 60..=240 * 60).contains(&left), "extended to 4 hours from now (UpdateZonalShift): {left} s");
    let note = site.one_notification().await;
    assert!(
        summary(&note).contains("web-latency-a")
            && summary(&note).contains("still in ALARM")
            && summary(&note).contains("extended to expire 240 min from now"),
        "{}",
        summary(&note)
    );
    site.untouched().await;

    // Once that alarm is OK too, its OK returns the zone.
    set("web-latency-a", StateValue::Ok).await;
    let back = app.handle(site.alarm("web-latency-a", "OK", &zone)).await.expect("handled");
    assert_status(&back, Outcome::Succeeded);
    assert!(site.shifts().await.is_empty(), "the shift is cancelled");
}

#[tokio::test]
async fn the_return_that_closes_a_zones_incident_notifies_its_durations_and_timeline_lists_its_steps() {
    use failover_core::ledger::Ledger;
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app(&[]);
    let zone = site.zone_a.0.clone();
    // State timestamps a few seconds ago, on the function's own clock.
    let ago = |secs: i64| {
        let at = failover_core::time::format_time(failover_core::time::now_secs() - secs);
        at.replace('Z', ".120+0000")
    };
    let evacuated = app.handle(shop::at_time(site.alarm("web-5xx-a", "ALARM", &zone), &ago(8))).await;
    assert_status(&evacuated.expect("handled"), Outcome::Succeeded);
    assert!(site.one_notification().await.body()["details"].get("recovered").is_none(), "the shift is open");

    let returned = app.handle(shop::at_time(site.alarm("web-5xx-a", "OK", &zone), &ago(0))).await;

    assert_status(&returned.expect("handled"), Outcome::Succeeded);
    let resource = format!("load-balancer:{}", site.shop.lb);
    let ledger = site.shop.dynamo_ledger().read(&resource, failover_core::time::now_secs()).await.expect("read");
    let [record] = ledger.records.as_slice() else { panic!("one record: {ledger:?}") };
    let alarm = record.data["event_at"].as_i64().expect("the alarm's time") / 1000;
    let (mitigate, recover) = (record.created_at - alarm, record.updated_at - alarm);
    let note = site.one_notification().await;
    assert_eq!(note.attribute("action"), "cancel-zonal-shift");
    let recovered = &note.body()["details"]["recovered"];
    assert_eq!(*recovered, json!({"time_to_mitigate_secs": mitigate, "time_to_recover_secs": recover}));

    let timeline = json!({"command": "timeline", "load_balancer_arn": site.shop.lb});
    let response = app.handle(timeline).await.expect("handled");

    assert_status(&response, Outcome::Info);
    let steps: Vec<(i64, &str)> =
        crate::timeline_steps(&response.details).into_iter().map(|(at, what, ..)| (at, what)).collect();
    let ok = record.data["closed_event_at"].as_i64().expect("the OK's time") / 1000;
    assert_eq!(steps, [(alarm, "alarm"), (record.created_at, "change"), (ok, "ok"), (record.updated_at, "closed")]);
    let durations = &response.details["timeline"];
    assert_eq!(
        (durations["time_to_mitigate_secs"].as_i64(), durations["time_to_recover_secs"].as_i64()),
        (Some(mitigate), Some(recover))
    );
    assert_eq!(site.one_notification().await.attribute("action"), "timeline");
}

#[tokio::test]
async fn a_zones_traffic_alarm_ok_keeps_the_shift_for_the_hold_and_the_tick_then_returns_the_zone() {
    let (later, clock) = crate::hand_clock!();
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app_on(&[], site.shop.dynamo_ledger(), clock);
    let zone = site.zone_a.0.clone();
    let traffic = |state: &str| site.traffic_alarm(state);
    assert_status(&app.handle(traffic("ALARM")).await.expect("handled"), Outcome::Succeeded);
    let ids = site.shift_ids().await;
    assert_eq!(ids.len(), 1);
    site.shop.received().await;

    let ok = app.handle(traffic("OK")).await.expect("handled");

    assert_status(&ok, Outcome::Info);
    assert_eq!(site.shift_ids().await, ids, "the shift stays through the hold");
    let note = site.one_notification().await;
    let title = note.body()["title"].as_str().unwrap_or_default().to_owned();
    assert!(title.contains(&format!("zone {zone} stays evacuated until")), "{title}");
    assert!(summary(&note).contains("RESTORE_HOLD_MINUTES=10"), "{}", summary(&note));
    let ledger = site.ledger().await;
    let [(_, state, data)] = ledger.as_slice() else { panic!("one record: {ledger:?}") };
    let due = data["hold_until"].as_i64().expect("the hold, on the shift's record");
    assert_eq!(state, "done");
    let index = site.shop.items("restore-holds").await;
    assert_eq!(index.keys().cloned().collect::<Vec<_>>(), [format!("hold#{due}#{}", site.shop.lb)]);
    // `status` on the group says when the zone returns.
    let status = app.handle(json!({"command": "status", "target_group_arn": site.group})).await.expect("handled");
    let returns = failover_core::time::format_time(due);
    assert_eq!(status.details["zonal"][0]["shifts"][0]["held_until"], json!(returns), "{:?}", status.details);
    assert!(status.summary.contains(&format!("held after its alarm's OK: the zone returns at {returns}")));
    site.shop.received().await;

    // A tick before the hold has passed changes nothing and tells nothing.
    later.store(9 * 60, SeqCst);
    assert_status(&app.handle(site.shop.tick()).await.expect("handled"), Outcome::Skipped);
    assert_eq!(site.shift_ids().await, ids);
    assert!(site.shop.received().await.is_empty());

    // After the hold, the tick returns the zone.
    later.store(11 * 60, SeqCst);
    let tick = app.handle(site.shop.tick()).await.expect("handled");

    assert_status(&tick, Outcome::Succeeded);
    assert!(site.shifts().await.is_empty(), "the shift is cancelled");
    let note = site.one_notification().await;
    assert_eq!((note.attribute("outcome"), note.attribute("action")), ("succeeded", "cancel-zonal-shift"));
    let ledger = site.ledger().await;
    assert_eq!((ledger[0].1.as_str(), &ledger[0].2["ended"]), ("closed", &json!("cancelled")), "{ledger:?}");
    let index = site.shop.items("restore-holds").await;
    assert!(index.values().all(|entry| entry["state"] == "closed"), "{index:?}");
    site.untouched().await;
}

#[tokio::test]
async fn a_zone_in_alarm_again_during_its_hold_stays_evacuated_until_the_next_ok_and_its_hold() {
    let (later, clock) = crate::hand_clock!();
    let site = Site::new(2, 2, true).await;
    let app = site.shop.app_on(&[], site.shop.dynamo_ledger(), clock);
    app.handle(site.traffic_alarm("ALARM")).await.expect("handled");
    let ids = site.shift_ids().await;
    assert_status(&app.handle(site.traffic_alarm("OK")).await.expect("handled"), Outcome::Info);
    site.shop.received().await;

    // The alarm fires again during the hold (what little traffic the zone still gets fails): the hold is over,
    // and no tick returns the zone.
    let again = app.handle(site.traffic_alarm("ALARM")).await.expect("handled");

    assert_status(&again, Outcome::Info);
    let note = site.one_notification().await;
    assert!(note.body()["title"].as_str().unwrap_or_default().contains("fails again during its hold"));
    assert!(site.ledger().await[0].2.get("hold_until").is_none(), "{:?}", site.ledger().await);
    later.store(11 * 60, SeqCst);
    app.handle(site.shop.tick()).await.expect("handled");
    assert_eq!(site.shift_ids().await, ids, "the shift stays");
    assert!(site.shop.received().await.is_empty());

    // Its next OK holds again, and the tick after that hold returns the zone.
    assert_status(&app.handle(site.traffic_alarm("OK")).await.expect("handled"), Outcome::Info);
    later.store(22 * 60, SeqCst);
    assert_status(&app.handle(site.shop.tick()).await.expect("handled"), Outcome::Succeeded);
    assert!(site.shifts().await.is_empty(), "the shift is cancelled");
}

#[tokio::test]
async fn another_alarm_that_ends_a_zones_hold_returns_the_zone_with_its_own_ok() {
    let (_later, clock) = crate::hand_clock!();
    let (site, app) = Site::held(clock).await;
    let zone = site.zone_a.0.clone();

    // A health alarm about the zone fires during the hold: the hold is over, the shift stays.
    let other = app.handle(site.alarm("web-unhealthy-a", "ALARM", &zone)).await.expect("handled");
    assert_status(&other, Outcome::Info);
    assert_eq!(site.shift_ids().await.len(), 1, "the shift stays");
    site.shop.received().await;

    // The traffic alarm that started the shift is silenced by it and sends no other OK: the other alarm's own OK
    // returns the zone.
    let ok = app.handle(site.alarm("web-unhealthy-a", "OK", &zone)).await.expect("handled");
    assert_status(&ok, Outcome::Succeeded);
    assert!(site.shifts().await.is_empty(), "the shift is cancelled");
}

#[tokio::test]
async fn a_zones_hold_due_while_paused_returns_the_zone_at_the_first_tick_after_resume() {
    let (later, clock) = crate::hand_clock!();
    let (site, app) = Site::held(clock).await;
    let ids = site.shift_ids().await;
    assert_status(&app.handle(json!({"command": "pause", "by": "alice"})).await.expect("handled"), Outcome::Succeeded);

    later.store(11 * 60, SeqCst);
    app.handle(site.shop.tick()).await.expect("handled");
    assert_eq!(site.shift_ids().await, ids, "nothing cancelled while paused");

    assert_status(&app.handle(json!({"command": "resume"})).await.expect("handled"), Outcome::Succeeded);
    later.store(12 * 60, SeqCst);
    assert_status(&app.handle(site.shop.tick()).await.expect("handled"), Outcome::Succeeded);
    assert!(site.shifts().await.is_empty(), "the due hold is completed after resume");
}
