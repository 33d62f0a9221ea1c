//! database-failover's `timeline` against the local AWS: after a primary's failure event and the promotion it
//! led to, the command lists the failure and the promotion from the ledger's own times, with the time to
//! mitigate; a promotion stays in effect, so the incident is not recovered. It changes nothing.

use failover_core::ledger::State;
use failover_core::outcome::Outcome;
use failover_core::time::format_time;
use integration_tests::database::*;
use serde_json::json;

#[tokio::test]
async fn timeline_after_a_promotion_lists_the_failure_and_the_promotion_with_the_time_to_mitigate() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let event = env.failure_event("orders", "RDS-EVENT-0031");
    let failed_at = failover_core::time::parse_time(event["detail"]["Date"].as_str().unwrap()).unwrap();
    let app = env.app(&[]);
    assert_eq!(ok(&app, event).await.status, Outcome::Succeeded);
    let resource = format!("db-instance:{}/orders", env.account.region);
    let records = env.records(&resource).await;
    let promotion = records.iter().find(|r| r.key.starts_with("promotion#")).expect("the promotion's record");
    assert_eq!((promotion.state, promotion.data["event_at"].as_i64()), (State::Done, Some(failed_at * 1000)));
    let _ = env.notifications().await;

    let response = ok(&app, json!({"command": "timeline", "db_instance_identifier": "orders"})).await;

    assert_eq!((response.status, response.action.as_str()), (Outcome::Info, "timeline"));
    let timeline = &response.details["timeline"];
    let steps: Vec<(i64, &str, &str, &str)> = crate::timeline_steps(&response.details)
        .into_iter()
        .map(|(at, what, record, _, outcome)| (at, what, record, outcome))
        .collect();
    let key = promotion.key.as_str();
    assert_eq!(steps, [(failed_at, "alarm", key, "done"), (promotion.created_at, "change", key, "done")]);
    assert_eq!(timeline["time_to_mitigate_secs"].as_i64(), Some(promotion.created_at - failed_at));
    assert_eq!((timeline["time_to_recover_secs"].as_i64(), timeline["open"].as_u64()), (None, Some(1)));
    assert!(response.message.starts_with(&format!("orders: incident from {}", format_time(failed_at))), "{response:?}");
    assert!(response.message.contains("not recovered (1 record open)"), "{}", response.message);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["info"]);
    assert_eq!(notes[0].body()["incident_id"], format!("database-failover/{}/orders", env.account.region));
    assert_eq!(env.records(&resource).await, records, "the ledger is as it was");
}
