//! What `status` says about a group's restore holds ([`super::hold`]): each open removal whose targets are held
//! out until the hold is due (when, which targets, which alarm), back on probation since the tick registered
//! them, or kept out until a person runs `restore` (removed twice within `FLAP_WINDOW_MINUTES`, or failing after
//! the hold). No AWS or ledger call: it reads the group's snapshot `status` read already.

use failover_core::ledger::Snapshot;
use failover_core::time::format_time;
use serde_json::{json, Value};

use super::hold::{out_text, secs, stays_out, HOLD_UNTIL, RETURNED_AT};
use super::ledger::{open, removed_targets};
use super::Context;
use crate::ports::Ports;
use crate::report::join;

/// The holds of the group `arn` (`details.holds` of `status`, one entry per removal and state) and the
/// sentences the summary gives about them (empty when none).
pub fn section<P: Ports>(ctx: &Context<'_, P>, arn: &str, snapshot: &Snapshot) -> (Value, String) {
    let mut entries = Vec::new();
    let mut text = String::new();
    for record in snapshot.records.iter().filter(|r| open(r) && r.key.starts_with("removal#")) {
        let alarm = record.trigger.strip_prefix("alarm ").unwrap_or(&record.trigger);
        let out = stays_out(ctx, snapshot, record);
        let back: Vec<_> =
            removed_targets(record).into_iter().filter(|t| !out.iter().any(|(o, _)| o.matches(t))).collect();
        let about = json!({"record": record.key, "alarm": alarm, "trigger": record.trigger});
        let entry = |state: &str, fields: Value| {
            let mut entry = about.clone();
            entry["state"] = json!(state);
            if let (Some(entry), Some(fields)) = (entry.as_object_mut(), fields.as_object()) {
                entry.extend(fields.clone());
            }
            entry
        };
        match (secs(record, HOLD_UNTIL), secs(record, RETURNED_AT)) {
            (Some(due), _) if !back.is_empty() => {
                let until = format_time(due);
                entries.push(entry("held", json!({"targets": back, "due_at": due, "due": until})));
                text.push_str(&format!(
                    " Restore hold: {} (removed on alarm {alarm}) held out until {until}; then those passing their \
                     health check are registered again.",
                    join(back.iter())
                ));
            }
            (None, Some(since)) if !back.is_empty() => {
                let since = format_time(since);
                entries.push(entry("returned", json!({"targets": back, "returned": since})));
                text.push_str(&format!(
                    " {} (removed on alarm {alarm}) registered again after the hold at {since}, on probation until \
                     passing the health check.",
                    join(back.iter())
                ));
            }
            _ => {}
        }
        if let Some(sentence) = out_text(arn, &out) {
            let targets: Vec<_> = out.iter().map(|(t, _)| t).collect();
            entries.push(entry("stays_out", json!({"targets": targets, "why": out[0].1})));
            text.push_str(&format!(" Removed on alarm {alarm}, {sentence}."));
        }
    }
    (json!(entries), text)
}
