//! An incident's timeline over any ledger records: the incidents split the records, each record once and in
//! order, a later incident beginning only after every record of the one before ended; the steps are in time
//! order; the durations are never negative, time to recover is known exactly when nothing is open and something
//! was closed, and mitigation never comes after recovery.

use failover_core::ledger::{Record, State};
use failover_core::timeline::{incidents, Timeline, What};
use proptest::prelude::*;
use serde_json::json;

const T0: i64 = 1_900_000_000;

fn state() -> impl Strategy<Value = State> {
    prop_oneof![Just(State::Pending), Just(State::Done), Just(State::Closed), Just(State::Abandoned)]
}

/// A record created at `T0 + created`, settled `lasted` seconds later, maybe for an alarm fired up to a minute
/// before, maybe closed by an OK up to a minute before it closed.
fn record() -> impl Strategy<Value = Record> {
    (
        0..2_000_i64,
        0..600_i64,
        state(),
        proptest::option::of(0..60_000_i64),
        proptest::option::of(0..60_000_i64),
        0..4_u8,
    )
        .prop_map(|(created, lasted, state, alarm_before_ms, ok_before_ms, n)| {
            let created = T0 + created;
            let updated = created + if state == State::Pending { 0 } else { lasted };
            let mut data = serde_json::Map::new();
            if let Some(before) = alarm_before_ms {
                data.insert("event_at".into(), json!(created * 1000 - before));
            }
            if let (Some(before), State::Closed) = (ok_before_ms, state) {
                data.insert("closed_by".into(), json!("alarm ok"));
                data.insert("closed_event_at".into(), json!(updated * 1000 - before));
            }
            let key = format!("removal#{created}-{n}");
            let mut record =
                Record::pending("r", &key, "inv", "alarm x", created, 86_400).with_state(state).with_data(data.into());
            record.updated_at = updated;
            record
        })
}

fn records() -> impl Strategy<Value = Vec<Record>> {
    proptest::collection::vec(record(), 0..12).prop_map(|mut records| {
        // One record per key, as the ledger holds them.
        records.sort_by(|a, b| a.key.cmp(&b.key));
        records.dedup_by(|a, b| a.key == b.key);
        records
    })
}

proptest! {
    #[test]
    fn incidents_split_the_records_each_once_and_in_order(records in records()) {
        let split = incidents(&records);
        let mut keys: Vec<&str> = split.iter().flatten().map(|r| r.key.as_str()).collect();
        keys.sort_unstable();
        let mut all: Vec<&str> = records.iter().map(|r| r.key.as_str()).collect();
        all.sort_unstable();
        prop_assert_eq!(keys, all);
        for incident in &split {
            prop_assert!(!incident.is_empty());
            prop_assert!(incident.windows(2).all(|w| w[0].created_at <= w[1].created_at));
        }
        for pair in split.windows(2) {
            let later = pair[1][0].created_at;
            for earlier in &pair[0] {
                prop_assert!(earlier.state.closes() && earlier.updated_at < later, "{earlier:?} still open at {later}");
            }
        }
    }

    #[test]
    fn the_steps_are_in_time_order_and_the_durations_hold(records in records()) {
        let timeline = Timeline::last("r", &records);
        let last = incidents(&records).pop().unwrap_or_default();
        prop_assert!(timeline.entries.windows(2).all(|w| w[0].at <= w[1].at));
        prop_assert_eq!(timeline.entries.iter().filter(|e| e.what == What::Change).count(), last.len());
        prop_assert!(timeline.time_to_mitigate_secs.is_none_or(|s| s >= 0));
        prop_assert!(timeline.time_to_recover_secs.is_none_or(|s| s >= 0));
        let open = last.iter().filter(|r| !r.state.closes()).count();
        let closed = last.iter().any(|r| r.state == State::Closed);
        prop_assert_eq!(timeline.open, open);
        prop_assert_eq!(timeline.time_to_recover_secs.is_some(), open == 0 && closed);
        prop_assert_eq!(timeline.recovery().is_some(), timeline.time_to_recover_secs.is_some());
        if let (Some(mitigate), Some(recover)) = (timeline.time_to_mitigate_secs, timeline.time_to_recover_secs) {
            prop_assert!(mitigate <= recover, "{timeline:?}");
        }
        prop_assert_eq!(timeline.mermaid().lines().filter(|l| l.contains(':')).count(), timeline.entries.len());
    }
}
