//! An incident as a timeline, against the local AWS: an instance alarm removes a target, the group's alarm
//! shifts its traffic to the backup, each OK undoes its change; the notification of the change that leaves
//! nothing open carries the time to mitigate and to recover (and so do its EMF lines), and the `timeline`
//! command lists every step in order, from the ledger's own times, changing nothing.
//!
//! The function's clock is pinned ([`Shop::app_on`]) and the alarms' state timestamps set, so that every time
//! in the ledger is known: the durations are checked against the records the ledger holds.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use failover_core::ledger::{Ledger, Record, State};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use failover_core::time::format_time;
use serde_json::{json, Value};

use crate::shop::*;

/// 2030-03-17T17:46:40Z: the incident's first alarm.
const T0: i64 = 1_900_000_000;
static NOW: AtomicI64 = AtomicI64::new(T0);

fn clock() -> i64 {
    NOW.load(Ordering::SeqCst)
}

/// An alarm event whose state changed at `at` (seconds, plus 120 ms), handled when the clock says `handled`.
fn at(event: Value, at: i64, handled: i64) -> Value {
    NOW.store(handled, Ordering::SeqCst);
    at_time(event, &format_time(at).replace('Z', ".120+0000"))
}

/// The report a received notification was published from, as far as the metrics read it.
fn report_of(body: &Value) -> Report {
    let outcome = match body["outcome"].as_str() {
        Some("succeeded") => Outcome::Succeeded,
        other => panic!("not a change: {other:?}"),
    };
    Report::new("target-failover", body["action"].as_str().unwrap(), outcome, Severity::Info, "t")
        .details(body["details"].clone())
}

#[tokio::test]
async fn after_an_incident_timeline_lists_every_step_in_order_and_the_closing_notification_and_its_metrics_the_durations(
) {
    let mut shop = Shop::new().await;
    let ids = shop.account.instances(6);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids[..4]).await;
    let dr = shop.group("web-dr", TargetTypeEnum::Instance, true, &ids[4..]).await;
    shop.tag(&web, BACKUP_TAG, &dr).await;
    shop.listener(&[(&web, 100), (&dr, 0)]).await;
    let app = shop.app_on(&[], shop.dynamo_ledger(), clock);
    let instance = json!({"InstanceId": ids[0]});

    // T0: an instance fails; removed 2 s later.
    let removed = app.handle(at(shop.alarm_action("i-5xx", "ALARM", "OK", instance.clone()), T0, T0 + 2)).await;
    assert_status(&removed.unwrap(), Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&ids[0]));
    // T0+30: the rest of the group fails; its traffic moves to the backup at T0+31.
    shop.set_health(&web, &ids[1..4].iter().collect::<Vec<_>>(), "unhealthy");
    let shifted = app.handle(at(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web)), T0 + 30, T0 + 31));
    assert_status(&shifted.await.unwrap(), Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));
    let _ = shop.received().await;
    // T0+300: the group is healthy again; traffic returns at T0+302, the removal is still open.
    shop.set_health(&web, &ids[1..4].iter().collect::<Vec<_>>(), "healthy");
    let back = app.handle(at(shop.alarm_eventbridge("web", "OK", "ALARM", tg_dimension(&web)), T0 + 300, T0 + 302));
    assert_status(&back.await.unwrap(), Outcome::Succeeded);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "info".into(), "failback".into())]);
    assert!(received[0].body()["details"].get("recovered").is_none(), "a removal is still open");
    // T0+400: the instance's alarm is OK; it is registered again at T0+401, which closes the incident.
    let reinstated = app.handle(at(shop.alarm_action("i-5xx", "OK", "ALARM", instance), T0 + 400, T0 + 401)).await;
    assert_status(&reinstated.unwrap(), Outcome::Succeeded);
    assert!(shop.health(&web).await.contains_key(&ids[0]));

    // The ledger's own times.
    let ledger = shop.dynamo_ledger();
    let before = ledger.read(&format!("target-group:{web}"), T0 + 500).await.unwrap();
    let record = |prefix: &str| -> &Record { before.records.iter().find(|r| r.key.starts_with(prefix)).unwrap() };
    let (removal, shift) = (record("removal#"), record("shift#"));
    assert!([removal, shift].iter().all(|r| r.state == State::Closed), "{before:?}");
    let first_alarm = removal.data["event_at"].as_i64().unwrap() / 1000;
    let mitigate = removal.created_at - first_alarm;
    let recover = removal.updated_at.max(shift.updated_at) - first_alarm;
    assert_eq!((mitigate, recover), (2, 401));

    // The closing notification carries them, and so do the invocation's EMF lines.
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "info".into(), "register-targets".into())]);
    let closing = received[0].body();
    let recovered = &closing["details"]["recovered"];
    assert_eq!(*recovered, json!({"time_to_mitigate_secs": mitigate, "time_to_recover_secs": recover}), "{closing}");
    let summary = closing["summary"].as_str().unwrap();
    assert!(summary.contains("The incident is over: time to mitigate 2 s, time to recover 6 min 41 s"), "{summary}");
    let lines: Vec<Value> =
        failover_core::metrics::invocation("target-failover", &[report_of(&closing)], &[], Duration::ZERO)
            .iter()
            .map(|d| d.to_json(0))
            .collect();
    let metric = |name: &str| {
        lines
            .iter()
            .find(|l| l.get(name).is_some())
            .map(|l| (l[name].clone(), l["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"].clone()))
    };
    assert_eq!(metric("TimeToMitigate"), Some((json!(2.0), json!("Seconds"))), "{lines:?}");
    assert_eq!(metric("TimeToRecover"), Some((json!(401.0), json!("Seconds"))), "{lines:?}");

    // The timeline, by the incident id the notifications carry.
    let incident = closing["incident_id"].as_str().unwrap().to_owned();
    NOW.store(T0 + 600, Ordering::SeqCst);
    let response = app.handle(json!({"command": "timeline", "incident": incident})).await.unwrap();
    assert_status(&response, Outcome::Info);
    assert_eq!(response.action, "timeline");
    let timeline = &response.details["timeline"];
    let steps: Vec<(i64, &str, &str, &str)> = crate::timeline_steps(&response.details)
        .into_iter()
        .map(|(at, what, record, trigger, _)| (at - T0, what, record.split('#').next().unwrap(), trigger))
        .collect();
    assert_eq!(
        steps,
        [
            (0, "alarm", "removal", "alarm i-5xx"),
            (2, "change", "removal", "alarm i-5xx"),
            (30, "alarm", "shift", "alarm web"),
            (31, "change", "shift", "alarm web"),
            (300, "ok", "shift", "alarm web"),
            (302, "closed", "shift", "alarm web"),
            (400, "ok", "removal", "alarm i-5xx"),
            (401, "closed", "removal", "alarm i-5xx"),
        ]
    );
    assert!(timeline["entries"].as_array().unwrap().iter().all(|e| e["outcome"] == "closed"), "{timeline}");
    assert_eq!(
        (timeline["time_to_mitigate_secs"].as_i64(), timeline["time_to_recover_secs"].as_i64()),
        (Some(mitigate), Some(recover))
    );
    assert_eq!(response.details["text"].as_array().unwrap().len(), 8);
    assert!(response.message.contains("time to mitigate 2 s, time to recover 6 min 41 s"), "{}", response.message);
    assert!(response.details["mermaid"].as_str().unwrap().starts_with("timeline\n"));
    // Published as status is; it changed nothing (no lease, no record, no version).
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("info".into(), "info".into(), "timeline".into())]);
    assert!(received[0].body()["details"].get("recovered").is_none(), "a timeline is no recovery to count again");
    let after = ledger.read(&format!("target-group:{web}"), T0 + 500).await.unwrap();
    assert_eq!(after, before);
}

#[tokio::test]
async fn timeline_of_a_group_with_no_incident_says_so_and_of_another_accounts_group_is_invalid() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(2);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app(&[]);

    let response = app.handle(json!({"command": "timeline", "target_group_arn": web})).await.unwrap();

    assert_status(&response, Outcome::Info);
    assert!(response.message.ends_with("web: no incident in the ledger"), "{}", response.message);
    assert_eq!(response.details["timeline"]["entries"], json!([]));
    assert!(shop.records(&web).await.is_empty());
    let foreign = web.replace(&shop.account.id, "999999999999");
    let error = app.handle(json!({"command": "timeline", "target_group_arn": foreign})).await.unwrap_err();
    assert!(error.to_string().contains("999999999999"), "{error}");
}
