//! Return a zone: cancel the zonal shifts this function started on a load balancer (its ledger's open
//! `zonal-shift#` records with a shift id), for one zone and alarm (the zonal alarm's OK: the shifts that alarm
//! started) or all (`return-zone`), and close
//! their records. A shift the ledger does not know (a person's, a practice run, AWS's autoshift) is never
//! cancelled. `CancelZonalShift` answering that the shift is no longer active (it expired, or someone cancelled
//! it) closes the record and says so. `FAILBACK=manual`: an alarm's OK notifies the `return-zone` command instead.
//!
//! An alarm's OK first asks CloudWatch for the other alarms about the same zone of the load balancer
//! (`DescribeAlarms`, state ALARM): while any is in ALARM, the shift is kept (an `info`/`warning` notification
//! naming them), extended (`UpdateZonalShift`: `ZONAL_SHIFT_EXPIRES_MINUTES` from now), and its record
//! remembers them (`kept_for`), so that their OK returns the zone. A failed read
//! is logged, and the zone returns as before. An OK whose metric the shift silences holds the shift for
//! `RESTORE_HOLD_MINUTES` instead ([`super::hold`]); the schedule's tick then returns the zone (`due`).
//!
//! AWS calls: inside the attempt loop on `load-balancer:<ARN>` (one ledger `Query`, again after each wait or
//! start-over), `begin` (one `TransactWriteItems`), one `CancelZonalShift` per shift of ours to cancel, and
//! `end` (one more); nothing but the `Query` when no shift of ours is open. Kept: one `UpdateZonalShift` per
//! shift of ours instead of the cancel. A return that closes the last open
//! record of the load balancer's incident notifies its durations ([`crate::actions::timeline::closing`]).

use failover_core::ledger::{Settle, Snapshot, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::facts::{self, our_shifts, OurShift};
use super::reports::{balancer_name, return_command, returned};
use crate::actions::ledger::CLOSED_EVENT_AT;
use crate::actions::Context;
use crate::config::Failback;
use crate::ports::{Ports, Zonal};
use crate::report::{self, action};

/// Which of our shifts to cancel: those away from this zone (name or AZ ID), or all.
#[derive(Debug, Clone, Copy)]
pub struct Return<'a> {
    pub load_balancer: &'a str,
    pub zone: Option<&'a str>,
    pub dry_run: bool,
    /// An alarm's OK: only the shifts that alarm started (their records name it); `None` (`return-zone`): all of
    /// ours. A shift another alarm, a command or the target alarms (signal 2) started is not this OK's to end.
    pub alarm_arn: Option<&'a str>,
    /// `Manual`: notify the command instead of cancelling (an alarm's OK with `FAILBACK=manual`).
    pub mode: Failback,
    /// A retry of an alarm event whose notification was not published: the shifts this very event cancelled
    /// are notified again.
    pub owed: bool,
    /// The alarm's metric is one the shift silences: its OK holds the shift ([`super::hold`]).
    pub silenced: bool,
    /// The schedule's tick: only the shifts whose hold has passed, kept while any alarm about their zone is in
    /// ALARM.
    pub due: bool,
}

pub async fn run<P: Ports>(ctx: &Context<'_, P>, ask: Return<'_>) -> Vec<Report> {
    let lb = ask.load_balancer;
    let resource = facts::resource(lb);
    ctx.attempt(&resource, action::CANCEL_ZONAL_SHIFT, async |snapshot| Ok(vec![once(ctx, ask, &snapshot).await?]))
        .await
}

async fn once<P: Ports>(ctx: &Context<'_, P>, ask: Return<'_>, snapshot: &Snapshot) -> Step<Report> {
    let lb = ask.load_balancer;
    let name = balancer_name(lb);
    let ours: Vec<OurShift<'_>> = our_shifts(snapshot)
        .into_iter()
        .filter(|s| s.id.is_some() && ask.zone.is_none_or(|z| z == s.zone || z == s.az_id))
        .filter(|s| ask.alarm_arn.is_none_or(|a| started_or_kept_for(s.record, a)))
        .filter(|s| !ask.due || super::hold::due(s.record, ctx.now()))
        .collect();
    let which = ask.zone.map_or_else(|| "any zone".to_owned(), |z| format!("zone {z}"));
    if ours.is_empty() {
        let closed = owed(ctx, ask, snapshot);
        if !closed.is_empty() {
            return Ok(returned(lb, &which, &closed));
        }
        let reason = format!("no zonal shift this function started is active away from {which} of {lb}");
        return Ok(report::skipped(Some(lb), action::NONE, reason));
    }
    let list = ours.iter().map(|s| format!("{} away from {} ({})", s.id.unwrap_or_default(), s.zone, s.az_id));
    let list = list.collect::<Vec<_>>().join(", ");
    let details = json!({"load_balancer": lb, "shifts": ours.iter().map(|s| json!({
        "shift_id": s.id, "zone": s.zone, "az_id": s.az_id, "trigger": s.record.trigger})).collect::<Vec<_>>()});
    let about =
        |outcome, severity, title: String| report::about(lb, action::CANCEL_ZONAL_SHIFT, outcome, severity, title);
    if ask.mode == Failback::Manual {
        return Ok(about(Outcome::Info, Severity::Info, format!("{name}: ready to return {which}"))
            .summary(format!(
                "The zonal signal of {which} of {lb} is OK again; FAILBACK=manual, so the zonal shift stays until a \
                 person returns the zone: {list}."
            ))
            .details(details)
            .steps([format!("Return the zone with the manual command {}", return_command(lb))]));
    }
    if ask.dry_run {
        return Ok(about(Outcome::DryRun, Severity::Info, format!("{name}: would return {which}"))
            .summary(format!("Dry run: would cancel {list}. Nothing was changed."))
            .details(details));
    }
    let watched = match (ask.alarm_arn, ask.zone) {
        (Some(_), Some(zone)) => Some(zone),
        _ if ask.due => ours.first().map(|s| s.zone),
        _ => None,
    };
    if let Some(zone) = watched {
        // The same hold as the targets': another per-zone alarm on this zone still in ALARM keeps it evacuated
        // (at the tick, any alarm on it).
        match ctx.lb.zone_alarms_in_alarm(lb, zone).await {
            Ok(others) => {
                let others: Vec<(String, String)> =
                    others.into_iter().filter(|(_, arn)| Some(arn.as_str()) != ask.alarm_arn).collect();
                if !others.is_empty() {
                    return keep(ctx, snapshot, &ours, &others, details, &which).await;
                }
            }
            // At the tick this read is the hold's only guard: without it the zone stays away until the next tick.
            Err(e) if ask.due => {
                let doing = "reading the alarms on the zone before returning it after its hold";
                return Ok(report::failed(Some(lb), action::CANCEL_ZONAL_SHIFT, &e, doing));
            }
            Err(e) => tracing::warn!(load_balancer = %lb, error = %e, "reading the other alarms on the zone"),
        }
    }
    if ask.silenced && !ask.due && ctx.config.restore_hold_minutes > 0 {
        return super::hold::start(ctx, snapshot, &ours, details, &which).await;
    }
    let planned = format!("cancel {list}");
    if let Some(refusal) = ctx.begin(snapshot, &[], action::CANCEL_ZONAL_SHIFT, &planned).await? {
        return Ok(refusal);
    }
    let mut settle: Vec<Settle> = Vec::new();
    let mut failure = None;
    for shift in &ours {
        match ctx.lb.cancel_shift(shift.id.unwrap_or_default()).await {
            Ok(active) => {
                let mut closing = ctx.closing(shift.record);
                let mut data = closing.data.take().unwrap_or_else(|| shift.record.data.clone());
                data["ended"] = json!(if active { "cancelled" } else { "had already ended" });
                settle.push(closing.with_data(data));
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    let incident = crate::actions::timeline::closing(ctx, snapshot, &settle);
    let ended = ctx.session.end(&snapshot.resource, &settle, &[]).await;
    if let Some(e) = failure {
        return Ok(report::failed(Some(lb), action::CANCEL_ZONAL_SHIFT, &e, "cancelling the zonal shift"));
    }
    if let Err(e) = ended {
        let doing = "recording the return in the ledger (the shift was cancelled)";
        return Ok(report::fault(Some(lb), action::CANCEL_ZONAL_SHIFT, &e, doing));
    }
    let closed: Vec<&Value> = settle.iter().filter_map(|s| s.data.as_ref()).collect();
    Ok(failover_core::timeline::with_recovery(returned(lb, &which, &closed), incident))
}

/// The data of our records this very event closed (stamped `closed_event_at`), when its retry owes their
/// notification.
fn owed<'s, P: Ports>(ctx: &Context<'_, P>, ask: Return<'_>, snapshot: &'s Snapshot) -> Vec<&'s Value> {
    let Some(at) = ctx.event_at.filter(|_| ask.owed) else { return Vec::new() };
    snapshot
        .records
        .iter()
        .filter(|r| r.state == State::Closed && r.key.starts_with("zonal-shift#"))
        .filter(|r| r.data.get(CLOSED_EVENT_AT).and_then(Value::as_i64) == Some(at))
        .map(|r| &r.data)
        .collect()
}

/// The record field naming the alarms in ALARM an OK kept the shift for: their OK may end it.
pub const KEPT_FOR: &str = "kept_for";

/// Whether the shift's record says this alarm started it, or that the shift was kept for this alarm.
fn started_or_kept_for(record: &failover_core::ledger::Record, alarm: &str) -> bool {
    record.data.get("alarm_arn").and_then(Value::as_str) == Some(alarm)
        || record.data.get(KEPT_FOR).and_then(Value::as_array).is_some_and(|a| a.iter().any(|k| k == alarm))
}

/// Keeps the shifts while `others` (name, ARN) are in ALARM about the zone: nothing cancelled; each record
/// remembers them (`kept_for`), so that the last one's OK returns the zone. ARC ends the shift at its expiry
/// in any case.
async fn keep<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    ours: &[OurShift<'_>],
    others: &[(String, String)],
    mut details: Value,
    which: &str,
) -> Step<Report> {
    let lb = crate::actions::ledger::resource_arn(&snapshot.resource);
    let names = others.iter().map(|(name, _)| name.as_str()).collect::<Vec<_>>().join(", ");
    let planned = format!("keep the zonal shift of {which} for {names}");
    if let Some(refusal) = ctx.begin(snapshot, &[], action::CANCEL_ZONAL_SHIFT, &planned).await? {
        return Ok(refusal);
    }
    // Kept, so extended: its expiry counts again from now, so that the zone does not take traffic back while
    // an alarm on it is in ALARM (`UpdateZonalShift`). One that failed to extend is kept all the same, and said.
    let minutes = ctx.config.zonal_shift_expires_minutes;
    let mut not_extended = Vec::new();
    let mut settle: Vec<Settle> = Vec::new();
    for shift in ours {
        let mut data = shift.record.data.clone();
        data[KEPT_FOR] = json!(others.iter().map(|(_, arn)| arn).collect::<Vec<_>>());
        if let Some(fields) = data.as_object_mut() {
            fields.remove(crate::actions::hold::HOLD_UNTIL);
        }
        match ctx.lb.extend_shift(shift.id.unwrap_or_default(), minutes).await {
            Ok(true) => data["expires_at"] = json!(ctx.now() + i64::from(minutes) * 60),
            Ok(false) => not_extended.push(format!("{} (no longer active)", shift.id.unwrap_or_default())),
            Err(e) => not_extended.push(format!("{} ({e})", shift.id.unwrap_or_default())),
        }
        settle.push(crate::actions::ledger::settle_from(shift.record, State::Done).with_data(data));
    }
    if let Err(e) = ctx.session.end(&snapshot.resource, &settle, &[]).await {
        return Ok(report::fault(Some(lb), action::CANCEL_ZONAL_SHIFT, &e, "recording why the shift is kept"));
    }
    details["kept_for"] = json!(others.iter().map(|(name, _)| name).collect::<Vec<_>>());
    details["extended_minutes"] = json!(minutes);
    details["not_extended"] = json!(not_extended);
    let extended = match not_extended.is_empty() {
        true => format!("extended to expire {minutes} min from now"),
        false => format!("NOT extended for {}: it ends when it expires", not_extended.join(", ")),
    };
    let title = format!("{}: {which} stays evacuated", balancer_name(lb));
    Ok(report::about(lb, action::CANCEL_ZONAL_SHIFT, Outcome::Info, Severity::Warning, title)
        .summary(format!(
            "The alarm that evacuated {which} of {lb} is OK, but {names} about the same zone {} still in ALARM: \
             the zonal shift stays until {} OK, {extended}.",
            if others.len() == 1 { "is" } else { "are" },
            if others.len() == 1 { "it is" } else { "the last of them is" }
        ))
        .details(details)
        .steps([format!("To return the zone now, run {}", return_command(lb))]))
}
