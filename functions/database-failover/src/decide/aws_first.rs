//! AWS first: while AWS's own Multi-AZ failover of a primary is under way, nothing promotes a replica away from
//! it. The standby is taking over; a promotion now would leave two writable databases.
//!
//! AWS's failover events are recorded on the primary's ledger ([`crate::actions::aws_failover`]) as
//! `aws-failover#<event time>` records: started (RDS-EVENT-0013) or completed (0015, 0049). A failover started
//! less than `AWS_RECOVERY_WAIT_MINUTES` ago, with no completion after it, is waited for: the trigger ends with
//! a retryable error, and Lambda's retry finds the primary as AWS left it. A person's `promote` with
//! `"force": true` is not held back.
//!
//! EventBridge delivers RDS events best effort: when the ledger holds no record of AWS's failover within the
//! wait, a Multi-AZ primary's own `failover` events are read with `DescribeEvents` ([`from_events`]), which
//! returns no event ID: a message that says a failover started is 0013, one that says it is complete 0015 / 0049
//! ("Amazon RDS event categories and event messages", the `failover` category). A Multi-AZ DB cluster, which RDS
//! also fails over by itself, waits the same way for its own failover read so ([`cluster_under_way`]).

use failover_core::ledger::Record;
use serde_json::Value;

use super::Trigger;
use crate::model::AwsEvent;

/// The key prefix of AWS's own failover records on a primary's ledger resource.
pub const AWS_FAILOVER_KEY_PREFIX: &str = "aws-failover#";
/// Multi-AZ failover started.
pub const STARTED: &str = "RDS-EVENT-0013";

/// Where AWS's failover is in, as one of its events says.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    Started,
    Completed,
}

/// Whether `trigger` waits for AWS's own failover: every trigger but a forced `promote` and `status`.
pub fn waits(trigger: &Trigger) -> bool {
    !matches!(trigger, Trigger::ManualPromote { force: true, .. } | Trigger::Status)
}

/// Why `trigger` waits for AWS's own failover of the primary, if it must: the started record that is neither
/// older than `wait_secs` nor followed by a completion.
pub fn waiting(records: &[Record], trigger: &Trigger, now: i64, wait_secs: i64) -> Option<String> {
    waits(trigger).then(|| under_way(records, now, wait_secs)).flatten()
}

/// Why AWS's own Multi-AZ failover of the primary is under way, if it is (what `status` shows, and what holds
/// every other trigger back).
pub fn under_way(records: &[Record], now: i64, wait_secs: i64) -> Option<String> {
    judged(&recorded(records), now, wait_secs, "")
}

/// Whether the ledger has a record of AWS's failover (started or completed) within the last `wait_secs`: then
/// it is what counts, and `DescribeEvents` is not read.
pub fn ledger_knows(records: &[Record], now: i64, wait_secs: i64) -> bool {
    recorded(records).iter().any(|(at, _)| (0..=wait_secs).contains(&(now - at)))
}

/// Why AWS's own Multi-AZ failover is under way, by the primary's `failover` events as `DescribeEvents` returns
/// them (messages, no event IDs), if it is.
pub fn from_events(events: &[AwsEvent], now: i64, wait_secs: i64) -> Option<String> {
    let phases: Vec<(i64, Phase)> = events.iter().filter_map(|e| Some((e.at, phase(&e.message)?))).collect();
    judged(&phases, now, wait_secs, ", read with DescribeEvents: no event of it reached the function")
}

/// A `failover` event's phase by its message: "... failover ... started" (0013), "... complete(d)" (0015, 0049);
/// other messages (a failover not attempted, a partial failover recovered) say neither.
fn phase(message: &str) -> Option<Phase> {
    let m = message.to_ascii_lowercase();
    if m.contains("failover") && m.contains("started") {
        Some(Phase::Started)
    } else if m.contains("complete") {
        Some(Phase::Completed)
    } else {
        None
    }
}

/// Aurora: the latest completed failover of a cluster among its `failover` events (RDS-EVENT-0071, "Completed
/// failover to DB instance: `<writer>`"), as (when, the writer it names).
pub fn cluster_completed(events: &[AwsEvent]) -> Option<(i64, String)> {
    const COMPLETED: &str = "completed failover to db instance:";
    events
        .iter()
        .filter_map(|e| {
            let at = e.message.to_ascii_lowercase().find(COMPLETED)? + COMPLETED.len();
            Some((e.at, e.message.get(at..)?.trim().trim_end_matches('.').to_owned()))
        })
        .max_by_key(|(at, _)| *at)
}

/// A Multi-AZ DB cluster: why AWS's own failover of the cluster is under way, by its `failover` events, if it is:
/// the latest one started (RDS-EVENT-0072 / 0073, "Started same AZ / cross AZ failover to DB instance: ...")
/// less than `wait_secs` ago with no completion (0071) nor failure (0069, "Cluster failover failed, ...") after
/// it. RDS fails these clusters over by itself, typically in under 35 s.
pub fn cluster_under_way(events: &[AwsEvent], now: i64, wait_secs: i64) -> Option<String> {
    let said = |e: &AwsEvent, words: &[&str]| {
        let m = e.message.to_ascii_lowercase();
        words.iter().all(|w| m.contains(w))
    };
    let started = events.iter().filter(|e| said(e, &["started", "failover"])).map(|e| e.at).max()?;
    let ended =
        events.iter().any(|e| e.at >= started && (said(e, &["completed failover"]) || said(e, &["failover failed"])));
    let age = now - started;
    (!ended && (0..wait_secs).contains(&age)).then(|| {
        format!(
            "AWS's own failover of the Multi-AZ DB cluster started {age} s ago (RDS-EVENT-0072 / 0073, read with \
             DescribeEvents) and has not completed: waiting for it (AWS_RECOVERY_WAIT_MINUTES is {} min); a \
             FailoverDBCluster now would be a second failover on top of it",
            wait_secs / 60
        )
    })
}

fn recorded(records: &[Record]) -> Vec<(i64, Phase)> {
    records
        .iter()
        .filter(|r| r.key.starts_with(AWS_FAILOVER_KEY_PREFIX))
        .filter_map(|r| Some((r.data.get("at").and_then(Value::as_i64)?, r.data.get("event_id")?.as_str()?)))
        .map(|(at, id)| (at, if id == STARTED { Phase::Started } else { Phase::Completed }))
        .collect()
}

/// The latest start not followed by a completion, younger than `wait_secs`: why the trigger waits.
fn judged(events: &[(i64, Phase)], now: i64, wait_secs: i64, how: &str) -> Option<String> {
    let (started, _) = events.iter().filter(|(_, p)| *p == Phase::Started).max_by_key(|(at, _)| *at)?;
    let completed = events.iter().any(|(at, p)| *p == Phase::Completed && at >= started);
    let age = now - started;
    (!completed && (0..wait_secs).contains(&age)).then(|| {
        format!(
            "AWS's own Multi-AZ failover of the primary started {} s ago ({STARTED}{how}) and has not completed: \
             waiting for it (AWS_RECOVERY_WAIT_MINUTES is {} min); a replica promoted now would be a second \
             writable database",
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

    fn said(ago: i64, message: &str) -> AwsEvent {
        AwsEvent { at: NOW - ago, message: message.into() }
    }

    const STARTED_MESSAGE: &str = "A Multi-AZ failover that resulted in the promotion of a standby instance started.";

    #[test]
    fn describe_events_tells_a_started_failover_by_its_message_until_one_says_it_completed() {
        let started = [said(90, STARTED_MESSAGE)];
        assert!(from_events(&started, NOW, 600)
            .is_some_and(|why| why.contains("90 s ago") && why.contains("DescribeEvents")));
        let completed = [said(90, STARTED_MESSAGE), said(30, "A Multi-AZ failover has completed.")];
        assert_eq!(from_events(&completed, NOW, 600), None);
        assert_eq!(from_events(&started, NOW + 600, 600), None, "past AWS_RECOVERY_WAIT_MINUTES");
        let unrelated =
            [said(90, "Amazon RDS is not attempting a requested failover because a failover recently occurred.")];
        assert_eq!(from_events(&unrelated, NOW, 600), None);
    }

    #[test]
    fn the_ledger_counts_instead_of_describe_events_only_with_a_record_within_the_wait() {
        assert!(ledger_knows(&[event(NOW - 60, "RDS-EVENT-0015")], NOW, 600));
        assert!(!ledger_knows(&[event(NOW - 601, STARTED)], NOW, 600));
        assert!(!ledger_knows(&[], NOW, 600));
    }

    #[test]
    fn a_multi_az_clusters_started_failover_is_waited_for_until_it_completes_fails_or_the_wait_is_over() {
        let started = [said(40, "Started cross AZ failover to DB instance: shop-instance-2")];
        assert!(cluster_under_way(&started, NOW, 600).is_some_and(|why| why.contains("40 s ago")));
        let completed = [started[0].clone(), said(10, "Completed failover to DB instance: shop-instance-2")];
        assert_eq!(cluster_under_way(&completed, NOW, 600), None);
        let failed = [started[0].clone(), said(5, "Cluster failover failed, check the health of your cluster.")];
        assert_eq!(cluster_under_way(&failed, NOW, 600), None, "AWS gave up: the function may act");
        assert_eq!(cluster_under_way(&started, NOW + 600, 600), None, "past AWS_RECOVERY_WAIT_MINUTES");
        assert_eq!(cluster_under_way(&[], NOW, 600), None);
    }

    #[test]
    fn an_aurora_clusters_completed_failover_is_read_from_its_message_with_the_writer_it_names() {
        let events = [
            said(300, "Started cross AZ failover to DB instance: catalog-a"),
            said(290, "Completed failover to DB instance: catalog-a."),
            said(100, "Cluster failover failed, check the health of your cluster instances and try again."),
        ];
        assert_eq!(cluster_completed(&events), Some((NOW - 290, "catalog-a".to_owned())));
        assert_eq!(cluster_completed(&events[..1]), None);
        assert_eq!(cluster_completed(&[]), None);
    }
}
