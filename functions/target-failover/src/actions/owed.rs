//! Exactly one notification, even across a crash. A change's records carry the alarm event's state timestamp
//! (`event_at`); the alarm's transition is recorded only after the event's notification is published
//! ([`super::transitions`]). So when an invocation dies between a change and its notification, Lambda's retry
//! of the same event is not stale, and finds the group's records of this event already done: it publishes the
//! notification the interrupted run owed, from the records, instead of deciding again (which would find
//! nothing left to do and stay silent). Once published, the transition is recorded and a further retry is
//! stale. (A run that dies after publishing and before recording the transition publishes twice: the window
//! is one ledger write.) Covers the changes an ALARM makes (removals, shifts).

use failover_core::ledger::{Ledger, Record, Snapshot, State};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::ledger::removed_targets;
use super::Ctx;
use crate::model::group_name;
use crate::ports::LoadBalancer;
use crate::report::{self, action, count, join};

/// The group's done records of this very event (same trigger, same state timestamp).
fn of_this_event<'s, L: LoadBalancer, G: Ledger>(ctx: &Ctx<'_, L, G>, snapshot: &'s Snapshot) -> Vec<&'s Record> {
    let Some(at) = ctx.event_at else { return Vec::new() };
    snapshot
        .records
        .iter()
        .filter(|r| r.state == State::Done && r.trigger == ctx.trigger)
        .filter(|r| r.data.get("event_at").and_then(Value::as_i64) == Some(at))
        .collect()
}

/// The notification an interrupted run of this ALARM owes for `group`, if it made a change there.
pub fn notification<L: LoadBalancer, G: Ledger>(
    ctx: &Ctx<'_, L, G>,
    group: &str,
    snapshot: &Snapshot,
    recovered: bool,
) -> Option<Report> {
    if recovered {
        return None;
    }
    let records = of_this_event(ctx, snapshot);
    if records.is_empty() {
        return None;
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
    Some(
        report::about(group, act, Outcome::Succeeded, severity, title)
            .summary(format!(
                "{what}. An earlier run of this event made the change and stopped before notifying; this is its \
                 notification, from the ledger."
            ))
            .details(json!({"removed": removed, "shifts": shifted, "recovered_from_ledger": true}))
            .steps([format!("Check the group: {}", report::command("status", group))]),
    )
}
