use serde_json::json;

use super::*;

const T0: i64 = 1_800_000_000;

fn record(key: &str, trigger: &str, created: i64, state: State, updated: i64) -> Record {
    let mut record = Record::pending("target-group:web", key, "inv", trigger, created, 86_400)
        .with_state(state)
        .with_data(json!({}));
    record.updated_at = updated;
    record
}

/// A removal for alarm `web-5xx` that fired at `T0 + 0.4 s`, made 3 s later, undone by the OK at `T0 + 200 s`.
fn removal_closed_by_the_ok() -> Record {
    record("removal#a", "alarm web-5xx", T0 + 3, State::Closed, T0 + 201).with_data(json!({
        "event_at": T0 * 1000 + 400, "closed_by": "alarm web-5xx", "closed_event_at": (T0 + 200) * 1000 + 120
    }))
}

#[test]
fn an_alarm_a_removal_and_its_ok_give_every_step_in_order_and_both_durations() {
    let timeline = Timeline::last("target-group:web", &[removal_closed_by_the_ok()]);
    let steps: Vec<(i64, What)> = timeline.entries.iter().map(|e| (e.at - T0, e.what)).collect();
    assert_eq!(steps, [(0, What::Alarm), (3, What::Change), (200, What::Ok), (201, What::Closed)]);
    assert!(timeline.entries.iter().all(|e| e.trigger == "alarm web-5xx" && e.outcome == "closed"));
    assert_eq!((timeline.time_to_mitigate_secs, timeline.time_to_recover_secs), (Some(3), Some(201)));
    assert_eq!(timeline.recovery(), Some(Recovery { time_to_mitigate_secs: Some(3), time_to_recover_secs: 201 }));
    assert_eq!(timeline.durations(), "time to mitigate 3 s, time to recover 3 min 21 s");
}

#[test]
fn an_incident_with_a_record_open_is_mitigated_but_not_recovered() {
    let shift = record("shift#l1", "alarm web-unhealthy", T0 + 10, State::Done, T0 + 10)
        .with_data(json!({"event_at": (T0 + 9) * 1000}));
    let timeline = Timeline::last("r", &[removal_closed_by_the_ok(), shift]);
    assert_eq!(timeline.open, 1);
    assert_eq!(
        (timeline.time_to_mitigate_secs, timeline.time_to_recover_secs, timeline.recovery()),
        (Some(3), None, None)
    );
    assert!(timeline.durations().contains("not recovered (1 record open)"), "{}", timeline.durations());
}

#[test]
fn an_incident_a_person_started_runs_from_its_first_change_and_a_manual_close_keeps_its_trigger() {
    let manual = record("shift#l1", "manual command shift", T0, State::Closed, T0 + 60)
        .with_data(json!({"closed_by": "manual command failback"}));
    let timeline = Timeline::last("r", &[manual]);
    assert_eq!((timeline.time_to_mitigate_secs, timeline.time_to_recover_secs), (Some(0), Some(60)));
    assert_eq!(timeline.entries[1].trigger, "manual command failback");
}

#[test]
fn an_abandoned_change_is_listed_but_is_no_mitigation() {
    // Decided at T0+1, given up at T0+31, while another removal was made at T0+30.
    let given_up = record("removal#a", "alarm web-5xx", T0 + 1, State::Abandoned, T0 + 31)
        .with_data(json!({"event_at": T0 * 1000}));
    let made = record("removal#b", "alarm web-5xx", T0 + 30, State::Done, T0 + 30);
    let timeline = Timeline::last("r", &[given_up.clone(), made]);
    let whats: Vec<(i64, What)> = timeline.entries.iter().map(|e| (e.at - T0, e.what)).collect();
    assert_eq!(whats, [(0, What::Alarm), (1, What::Change), (30, What::Change), (31, What::Abandoned)]);
    assert_eq!(timeline.time_to_mitigate_secs, Some(30));
    // Given up alone, nothing was mitigated.
    assert_eq!(Timeline::last("r", &[given_up]).time_to_mitigate_secs, None);
}

#[test]
fn the_timeline_is_the_last_incidents_and_an_earlier_one_stays_out() {
    let earlier = record("removal#old", "alarm web-5xx", T0 - 5000, State::Closed, T0 - 4000);
    let timeline = Timeline::last("r", &[removal_closed_by_the_ok(), earlier.clone()]);
    assert!(timeline.entries.iter().all(|e| e.record == "removal#a"), "{timeline:?}");
    assert_eq!(incidents(&[earlier, removal_closed_by_the_ok()]).len(), 2);
}

#[test]
fn records_overlapping_in_time_are_one_incident() {
    let a = record("removal#a", "alarm x", T0, State::Closed, T0 + 100);
    let b = record("shift#l", "alarm y", T0 + 50, State::Closed, T0 + 300);
    let c = record("removal#c", "alarm z", T0 + 200, State::Closed, T0 + 250);
    let open = record("removal#d", "alarm z", T0 + 1000, State::Done, T0 + 1000);
    let later = record("removal#e", "alarm z", T0 + 9000, State::Done, T0 + 9000);
    let records = [c, later, a, b, open];
    let split = incidents(&records);
    let keys: Vec<Vec<&str>> = split.iter().map(|i| i.iter().map(|r| r.key.as_str()).collect()).collect();
    assert_eq!(keys, [vec!["removal#a", "shift#l", "removal#c"], vec!["removal#d", "removal#e"]]);
}

#[test]
fn one_alarm_behind_several_records_is_one_step() {
    let a = record("removal#a", "alarm x", T0 + 1, State::Done, T0 + 1).with_data(json!({"event_at": T0 * 1000}));
    let b = record("shift#l", "alarm x", T0 + 1, State::Done, T0 + 1).with_data(json!({"event_at": T0 * 1000}));
    let timeline = Timeline::last("r", &[a, b]);
    assert_eq!(timeline.entries.iter().filter(|e| e.what == What::Alarm).count(), 1);
}

#[test]
fn an_alarm_clock_ahead_of_the_functions_gives_zero_not_a_negative_duration() {
    let a = record("removal#a", "alarm x", T0, State::Done, T0).with_data(json!({"event_at": (T0 + 2) * 1000}));
    assert_eq!(Timeline::last("r", &[a]).time_to_mitigate_secs, Some(0));
}

#[test]
fn no_records_no_steps_and_no_durations() {
    let timeline = Timeline::last("r", &[]);
    assert!(timeline.entries.is_empty());
    assert_eq!((timeline.started_at, timeline.time_to_mitigate_secs, timeline.recovery()), (None, None, None));
}

#[test]
fn settling_as_end_would_closes_only_records_in_the_named_state() {
    let done = record("removal#a", "alarm x", T0, State::Done, T0);
    let pending = record("shift#l", "alarm x", T0, State::Pending, T0);
    let after = settled(&[done, pending], &[Settle::close("removal#a"), Settle::close("shift#l")], T0 + 9);
    assert_eq!((after[0].state, after[0].updated_at), (State::Closed, T0 + 9));
    assert_eq!((after[1].state, after[1].updated_at), (State::Pending, T0));
}

#[test]
fn durations_read_in_seconds_minutes_and_hours() {
    assert_eq!(duration(45), "45 s");
    assert_eq!(duration(243), "4 min 3 s");
    assert_eq!(duration(7_500), "2 h 5 min");
}

#[test]
fn the_mermaid_diagram_has_one_section_per_second_and_no_separator_in_its_texts() {
    let diagram = Timeline::last("target-group:web", &[removal_closed_by_the_ok()]).mermaid();
    let lines: Vec<&str> = diagram.lines().collect();
    assert_eq!(lines[0], "timeline");
    assert!(lines[1].contains("time to recover 3 min 21 s"), "{diagram}");
    assert_eq!(lines.len(), 6, "{diagram}");
    assert_eq!(lines[2], "    +0 s : alarm removal a (alarm web-5xx)");
    assert_eq!(lines[5], "    +3 min 21 s : closed removal a (alarm web-5xx)");
    assert!(lines[1..].iter().all(|l| l.matches(':').count() <= 1 && !l.contains('#')), "{diagram}");
}
