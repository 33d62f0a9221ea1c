//! AWS first: while AWS's own Multi-AZ failover of a primary is under way, nothing promotes a replica away from
//! it. The standby is taking over; a promotion now would leave two writable databases.
//!
//! AWS's failover events are recorded on the primary's ledger ([`crate::actions::aws_failover`]) as
//! `aws-failover#<event time>` records: started (RDS-EVENT-0013) or completed (0015, 0049). A failover started
//! less than `AWS_RECOVERY_WAIT_MINUTES` ago, with no completion after it, is waited for: the trigger ends with
//! a retryable error, and Lambda's retry finds the primary as AWS left it. A person's `promote` with
//! `"force": true` is not held back.

use failover_core::ledger::Record;
use serde_json::Value;

use super::Trigger;

/// The key prefix of AWS's own failover records on a primary's ledger resource.
pub const AWS_FAILOVER_KEY_PREFIX: &str = "aws-failover#";
/// Multi-AZ failover started.
pub const STARTED: &str = "RDS-EVENT-0013";

/// Why `trigger` waits for AWS's own failover of the primary, if it must: the started record that is neither
/// older than `wait_secs` nor followed by a completion.
pub fn waiting(records: &[Record], trigger: &Trigger, now: i64, wait_secs: i64) -> Option<String> {
    if matches!(trigger, Trigger::ManualPromote { force: true, .. } | Trigger::Status) {
        return None;
    }
    under_way(records, now, wait_secs)
}

/// Why AWS's own Multi-AZ failover of the primary is under way, if it is (what `status` shows, and what holds
/// every other trigger back).
pub fn under_way(records: &[Record], now: i64, wait_secs: i64) -> Option<String> {
    let events: Vec<(i64, &str)> = records
        .iter()
        .filter(|r| r.key.starts_with(AWS_FAILOVER_KEY_PREFIX))
        .filter_map(|r| Some((r.data.get("at").and_then(Value::as_i64)?, r.data.get("event_id")?.as_str()?)))
        .collect();
    let (started, _) = events.iter().filter(|(_, id)| *id == STARTED).max_by_key(|(at, _)| *at)?;
    let completed = events.iter().any(|(at, id)| *id != STARTED && at >= started);
    let age = now - started;
    (!completed && (0..wait_secs).contains(&age)).then(|| {
        format!(
            "AWS's own Multi-AZ failover of the primary started {} s ago ({STARTED}) and has not completed: waiting \
             for it (AWS_RECOVERY_WAIT_MINUTES is {} min); a replica promoted now would be a second writable database",
            age,
            wait_secs / 60
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_core::ledger::State;
    use serde_json::json;

    const NOW: i64 = 1_714_558_000;

    fn event(at: i64, event_id: &str) -> Record {
        Record::pending("db-instance:us-east-1/orders", &format!("{AWS_FAILOVER_KEY_PREFIX}{at}"), "o", event_id, at, 0)
            .with_state(State::Done)
            .with_data(json!({"at": at, "event_id": event_id}))
    }

    fn alarm() -> Trigger {
        Trigger::Alarm { name: "failover-orders-down".into() }
    }

    #[test]
    fn a_started_failover_is_waited_for_until_it_completes_or_the_wait_is_over() {
        let started = [event(NOW - 60, STARTED)];
        assert!(waiting(&started, &alarm(), NOW, 600).is_some_and(|why| why.contains("60 s ago")));
        let completed = [event(NOW - 60, STARTED), event(NOW - 20, "RDS-EVENT-0015")];
        assert_eq!(waiting(&completed, &alarm(), NOW, 600), None);
        assert_eq!(waiting(&started, &alarm(), NOW + 600, 600), None, "past AWS_RECOVERY_WAIT_MINUTES");
        // A completion before a later start does not end the later one.
        let again = [event(NOW - 300, "RDS-EVENT-0049"), event(NOW - 60, STARTED)];
        assert!(waiting(&again, &alarm(), NOW, 600).is_some());
    }

    #[test]
    fn only_a_forced_promote_or_a_status_does_not_wait() {
        let started = [event(NOW - 60, STARTED)];
        let promote = |force| Trigger::ManualPromote { replica: crate::model::DbRef::new("us-east-1", "r"), force };
        assert!(waiting(&started, &promote(false), NOW, 600).is_some());
        assert_eq!(waiting(&started, &promote(true), NOW, 600), None);
        assert_eq!(waiting(&started, &Trigger::Status, NOW, 600), None);
        assert_eq!(waiting(&[], &alarm(), NOW, 600), None);
    }
}
