//! Exactly one notification, even across a crash. A change's records carry the alarm event's state timestamp
//! (`event_at`); the alarm's transition is recorded only after the event's notification is published
//! ([`super::transitions`]). So when an invocation dies between a change and its notification, Lambda's retry
//! of the same event is not stale, and finds the group's records of this event already done: it publishes the
//! notification the interrupted run owed, from the records, instead of deciding again (which would find
//! nothing left to do and stay silent). Once published, the transition is recorded and a further retry is
//! stale. (A run that dies after publishing and before recording the transition publishes twice: the window
//! is one ledger write.) Covers the changes an ALARM makes (removals, shifts) and those its OK makes: the
//! records an OK closes (targets registered again, shifts failed back) are stamped with the event
//! ([`super::Context::closing`]), and its retry, once nothing is left open for the alarm to undo, publishes from
//! them which targets came back and which actions were failed back, with the incident's durations when
//! nothing of the group is left open. (With work still open, the retry acts on it instead.)
//!
//! No AWS call of its own: the notification is rebuilt from the group's ledger as [`super::alarm`] read it
//! (its one `Query`), and the transition is recorded afterwards by [`super::transitions`].

use failover_core::ledger::{Record, Settle, Snapshot, State};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::ledger::{removed_targets, saved_by_alarms, CLOSED_BY, CLOSED_EVENT_AT};
use super::{reinstate, Context};
use crate::model::group_name;
use crate::ports::Ports;
use crate::report::{self, action, count, join};

/// The group's done records of this very event (same trigger, same state timestamp).
fn of_this_event<'s, P: Ports>(ctx: &Context<'_, P>, snapshot: &'s Snapshot) -> Vec<&'s Record> {
    snapshot.records.iter().filter(|r| r.state == State::Done && by_this_event(ctx, r)).collect()
}

/// Written by a run of this very event (same trigger, same state timestamp).
fn by_this_event<P: Ports>(ctx: &Context<'_, P>, record: &Record) -> bool {
    ctx.event_at.is_some()
        && record.trigger == ctx.trigger
        && record.data.get("event_at").and_then(Value::as_i64) == ctx.event_at
}

/// The notification of the removals an interrupted run of this event made and left pending, which this run
/// just settled done (`settled`, written): that run died between its change and its `end`, before notifying.
pub fn completed<P: Ports>(ctx: &Context<'_, P>, group: &str, snapshot: &Snapshot, settled: &[Settle]) -> Vec<Report> {
    let made = |r: &&Record| settled.iter().any(|s| s.key == r.key && s.to == State::Done);
    let records: Vec<&Record> =
        snapshot.records.iter().filter(|r| r.state == State::Pending && by_this_event(ctx, r)).filter(made).collect();
    told(group, &records)
}

/// The group's records this very event closed (by this trigger, at this state timestamp).
fn closed_by_this_event<'s, P: Ports>(ctx: &Context<'_, P>, snapshot: &'s Snapshot) -> Vec<&'s Record> {
    let Some(at) = ctx.event_at else { return Vec::new() };
    snapshot
        .records
        .iter()
        .filter(|r| r.state == State::Closed)
        .filter(|r| r.data.get(CLOSED_BY).and_then(Value::as_str) == Some(ctx.trigger))
        .filter(|r| r.data.get(CLOSED_EVENT_AT).and_then(Value::as_i64) == Some(at))
        .collect()
}

/// The notifications an interrupted run of this event owes for `group`, if it made a change there (none
/// when it made none, or when an OK still has work left).
pub fn notifications<P: Ports>(ctx: &Context<'_, P>, group: &str, snapshot: &Snapshot, recovered: bool) -> Vec<Report> {
    if recovered {
        return on_ok(ctx, group, snapshot);
    }
    told(group, &of_this_event(ctx, snapshot))
}

/// The notification of the removals or shifts an interrupted run of this event made, from their records.
fn told(group: &str, records: &[&Record]) -> Vec<Report> {
    if records.is_empty() {
        return Vec::new();
    }
    let name = group_name(group);
    let removed: Vec<_> = records.iter().flat_map(|r| removed_targets(r)).collect();
    let shifted: Vec<&Value> = records.iter().filter(|r| r.key.starts_with("shift#")).map(|r| &r.data).collect();
    tracing::info!(target_group = %group, records = records.len(), "publishing the notification an interrupted run owed");
    let (act, severity, title, what) = if shifted.is_empty() {
        let list = join(removed.iter());
        let title = format!("{name}: {} deregistered", count(removed.len(), "target"));
        (action::DEREGISTER, Severity::Warning, title, format!("Deregistered {list} from {group}"))
    } else {
        let title = format!("{name}: traffic shifted to the backup group");
        let what = format!("Shifted {} away from {group}", count(shifted.len(), "listener action"));
        (action::SHIFT, Severity::Critical, title, what)
    };
    vec![report::about(group, act, Outcome::Succeeded, severity, title)
        .summary(format!(
            "{what}. An earlier run of this event made the change and stopped before notifying; this is its \
                 notification, from the ledger."
        ))
        .details(json!({"removed": removed, "shifts": shifted, "recovered_from_ledger": true}))
        .steps([format!("Check the group: {}", report::command("status", group))])]
}

/// What an interrupted OK owes: the targets it registered again, the listener actions it failed back.
fn on_ok<P: Ports>(ctx: &Context<'_, P>, group: &str, snapshot: &Snapshot) -> Vec<Report> {
    if !reinstate::removals_by(snapshot, ctx.trigger).is_empty() || !saved_by_alarms(snapshot).is_empty() {
        return Vec::new();
    }
    let records = closed_by_this_event(ctx, snapshot);
    let name = group_name(group);
    let back: Vec<_> = records.iter().flat_map(|r| removed_targets(r)).collect();
    let restored: Vec<&Value> = records.iter().filter(|r| r.key.starts_with("shift#")).map(|r| &r.data).collect();
    if !records.is_empty() {
        tracing::info!(target_group = %group, records = records.len(), "publishing the notification an interrupted OK owed");
    }
    let from_ledger = "An earlier run of this event made the change and stopped before notifying; this is its \
                       notification, from the ledger.";
    let mut reports = Vec::new();
    if !back.is_empty() {
        let title = format!("{name}: {} registered again", count(back.len(), "target"));
        let what = format!("The alarm that removed them is OK: {} registered in {group} again", join(back.iter()));
        reports.push(
            report::about(group, action::REGISTER, Outcome::Succeeded, Severity::Info, title)
                .summary(format!("{what}. {from_ledger}"))
                .details(json!({"targets": back, "recovered_from_ledger": true}))
                .steps([format!("Watch the group's health: {}", report::command("status", group))]),
        );
    }
    if !restored.is_empty() {
        let what = format!("restored {}", count(restored.len(), "listener action"));
        reports.push(
            report::about(
                group,
                action::FAILBACK,
                Outcome::Succeeded,
                Severity::Info,
                format!("{name}: traffic restored"),
            )
            .summary(format!("{name} is healthy again: {what}. {from_ledger}"))
            .details(json!({"restored": restored, "recovered_from_ledger": true})),
        );
    }
    // Nothing of the group left open: this event closed the incident, and its notification says so.
    let closed = (!snapshot.records.iter().any(super::ledger::open))
        .then(|| failover_core::timeline::Timeline::last(&snapshot.resource, &snapshot.records));
    if let Some(last) = reports.pop() {
        reports.push(failover_core::timeline::with_recovery(last, closed));
    }
    reports
}
