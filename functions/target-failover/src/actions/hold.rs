//! The restore hold, on the OK's side: which removed targets stay out whatever the OK says (removed twice
//! within `FLAP_WINDOW_MINUTES`, or taken out again after failing their health check: `stays_out`), and, for an
//! alarm whose metric the removal itself silences ([`crate::decide::recovery::silenced_by_removal`]), the hold
//! instead of registering at once: the removal records get `hold_until`, and the schedule's tick registers the
//! targets once it has passed ([`super::tick`]).
//!
//! # Records
//! - On the group (`target-group:<ARN>`), the removal's own record, still open: `hold_until` (epoch seconds),
//!   then `returned_at` once the tick registered its targets (checked at the next ticks until they pass their
//!   health check); `stays_out` (the reason) on one whose targets stay out until a person runs `restore`.
//! - The index ([`HOLDS`], one well-known ledger resource): one record per hold, `hold#<due>#<group ARN>`
//!   (`group`, `due_at`), written under the group's lease **before** the group's records, so that every hold on a group has an entry
//!   the tick finds with one `Query`; an entry whose group has nothing held any more is closed by the tick.
//!
//! Ledger calls of a hold: the group's `begin`, the index's attempt loop (one `Query`, `begin` and `end`: two
//! `TransactWriteItems`), then the group's `end` (one more). No AWS change: the targets stay deregistered.

use failover_core::ledger::{Record, Settle, Snapshot, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::ledger::{removed_targets, settle_from};
use super::Context;
use crate::decide::recovery::{removed_twice, Removal};
use crate::model::{group_name, Target};
use crate::ports::Ports;
use crate::report::{self, action, count, join};

/// The ledger resource that indexes the holds.
pub const HOLDS: &str = "restore-holds";
/// The removal record's fields (see the module doc).
pub const HOLD_UNTIL: &str = "hold_until";
pub const RETURNED_AT: &str = "returned_at";
pub const STAYS_OUT: &str = "stays_out";

/// The index entry's key of a hold on `group` due at `due`.
pub fn entry_key(due: i64, group: &str) -> String {
    format!("hold#{due}#{group}")
}

/// A field of a record's data, as epoch seconds.
pub fn secs(record: &Record, field: &str) -> Option<i64> {
    record.data.get(field).and_then(Value::as_i64)
}

/// Every removal the group's ledger remembers (open or closed, within the retention), for the flap window.
fn history(snapshot: &Snapshot) -> Vec<Removal<'_>> {
    snapshot
        .records
        .iter()
        .filter(|r| r.key.starts_with("removal#") && r.state != State::Abandoned)
        .map(|r| Removal { key: &r.key, at: r.created_at, targets: removed_targets(r) })
        .collect()
}

/// The targets of a removal that stay out until a person runs `restore`, with why: all of them when the record
/// says so (`stays_out`), else those removed twice within `FLAP_WINDOW_MINUTES`.
pub fn stays_out<P: Ports>(ctx: &Context<'_, P>, snapshot: &Snapshot, record: &Record) -> Vec<(Target, String)> {
    if let Some(why) = record.data.get(STAYS_OUT).and_then(Value::as_str) {
        return removed_targets(record).into_iter().map(|t| (t, why.to_owned())).collect();
    }
    let window = i64::from(ctx.config.flap_window_minutes);
    if window == 0 {
        return Vec::new();
    }
    let history = history(snapshot);
    let why = format!("removed twice within {window} minutes (FLAP_WINDOW_MINUTES)");
    removed_targets(record)
        .into_iter()
        .filter(|t| removed_twice(&history, &record.key, record.created_at, t, window * 60))
        .map(|t| (t, why.clone()))
        .collect()
}

/// The settle of a removal whose other targets came back: closed when none stays out (stamped with the event,
/// [`Context::closing`]); otherwise still done, naming only the targets that stay out, with why, and no hold.
pub fn after_return<P: Ports>(ctx: &Context<'_, P>, record: &Record, out: &[(Target, String)]) -> Settle {
    let Some((_, why)) = out.first() else { return ctx.closing(record) };
    let mut data = record.data.clone();
    if let Some(fields) = data.as_object_mut() {
        fields.remove(HOLD_UNTIL);
        fields.remove(RETURNED_AT);
        fields.insert("targets".into(), json!(out.iter().map(|(t, _)| t).collect::<Vec<_>>()));
        fields.insert(STAYS_OUT.into(), json!(why));
    }
    settle_from(record, State::Done).with_data(data)
}

/// The sentence a notification gives about the targets that stay out, with the command that brings them back.
pub fn out_text(arn: &str, out: &[(Target, String)]) -> Option<String> {
    let (_, why) = out.first()?;
    let mut restore = report::command("restore", arn);
    restore["targets"] = json!(out.iter().map(|(t, _)| t).collect::<Vec<_>>());
    Some(format!(
        "{} {} ({why}): {} out until a person runs {restore}",
        join(out.iter().map(|(t, _)| t)),
        if out.len() == 1 { "was" } else { "were" },
        if out.len() == 1 { "it stays" } else { "they stay" }
    ))
}

/// Holds the removals (their targets stay deregistered) until `RESTORE_HOLD_MINUTES` from now: the index
/// entry first, then the group's records. `back` are the targets the hold will bring back, `out` those that
/// stay out whatever happens.
pub async fn start<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    snapshot: &Snapshot,
    removals: &[&Record],
    back: &[Target],
    out: &[(Target, String)],
) -> Step<Vec<Report>> {
    let due = ctx.now() + i64::from(ctx.config.restore_hold_minutes) * 60;
    let planned = format!("hold {} out of {arn} until {}", join(back.iter()), failover_core::time::format_time(due));
    if let Some(refusal) = ctx.begin(snapshot, &[], action::REGISTER, &planned).await? {
        return Ok(vec![refusal]);
    }
    // Under the group's lease, so that no tick completes the group in between.
    let indexed = index(ctx, "group", arn, due).await;
    if !indexed.is_empty() {
        return match ctx.end(arn, &[], &[]).await {
            Ok(()) => Ok(indexed),
            Err(e) => Ok([report::fault(Some(arn), action::REGISTER, &e, "releasing the group")]
                .into_iter()
                .chain(indexed)
                .collect()),
        };
    }
    let settle: Vec<Settle> = removals
        .iter()
        .map(|r| {
            let mut data = r.data.clone();
            if let Some(fields) = data.as_object_mut() {
                fields.insert(HOLD_UNTIL.into(), json!(due));
                fields.remove(RETURNED_AT);
            }
            settle_from(r, State::Done).with_data(data)
        })
        .collect();
    if let Err(e) = ctx.end(arn, &settle, &[]).await {
        return Ok(vec![report::fault(Some(arn), action::REGISTER, &e, "recording the hold (nothing was changed)")]);
    }
    let until = failover_core::time::format_time(due);
    let minutes = ctx.config.restore_hold_minutes;
    let mut restore = report::command("restore", arn);
    restore["targets"] = json!(back);
    let mut summary = format!(
        "The alarm that removed {list} from {arn} is OK, but its metric stops counting a target once it is \
         deregistered, so the OK is no evidence of repair. They are held out until {until} (RESTORE_HOLD_MINUTES={minutes}); \
         then those that pass the group's health check are registered again, and those that fail it stay out.",
        list = join(back.iter())
    );
    if let Some(text) = out_text(arn, out) {
        summary.push_str(&format!(" {text}."));
    }
    let title = format!("{}: {} held out until {until}", group_name(arn), count(back.len(), "target"));
    Ok(vec![report::about(arn, action::REGISTER, Outcome::Info, Severity::Info, title)
        .summary(summary)
        .details(json!({"held": back, "hold_until": due, "stays_out": out.iter().map(|(t, _)| t).collect::<Vec<_>>()}))
        .steps([format!("To bring them back now, run {restore}")])])
}

/// Writes the index entry of a hold on `arn` (a target group, `field` `group`; a load balancer,
/// `load_balancer`) due at `due` (its own attempt loop on [`HOLDS`]); the reports of a failure (nothing is held
/// then), none when written.
pub async fn index<P: Ports>(ctx: &Context<'_, P>, field: &str, arn: &str, due: i64) -> Vec<Report> {
    let entry = (entry_key(due, arn), json!({field: arn, "due_at": due}));
    ctx.attempt(HOLDS, action::REGISTER, async |snapshot| {
        let records = ctx.records(&snapshot, [entry.clone()]);
        if let Some(refusal) = ctx.begin(&snapshot, &records.begin, action::REGISTER, "hold").await? {
            return Ok(vec![refusal]);
        }
        let settle = records.settle(ctx.session.owner, |_| true);
        match ctx.session.end(HOLDS, &settle, &[]).await {
            Ok(()) => Ok(Vec::new()),
            Err(e) => {
                Ok(vec![report::fault(Some(arn), action::REGISTER, &e, "indexing the hold (nothing was changed)")])
            }
        }
    })
    .await
}
