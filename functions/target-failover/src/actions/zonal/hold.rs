//! The restore hold of a zone ([`crate::actions::hold`]'s, for a zonal shift): the OK of a per-zone alarm whose
//! metric the shift itself silences ([`crate::decide::recovery::silenced_by_shift`]: a traffic metric of the
//! zone, which counts nothing once its traffic is moved away) is no evidence of repair. The shift stays
//! until `RESTORE_HOLD_MINUTES` have passed; then the schedule's tick ([`crate::actions::tick`]) cancels it
//! through [`super::return_zone`] (`due`), unless an alarm about the zone is in ALARM by then, which keeps it
//! as an OK would (`kept_for`).
//!
//! # Records
//! - On the load balancer (`load-balancer:<ARN>`), each held shift's own record, still open: `hold_until`
//!   (epoch seconds), dropped when the shift is kept for another alarm, and when the zone is in ALARM again
//!   during the hold ([`ended_by_alarm`]: the shift then stays until the next OK).
//! - The index ([`crate::actions::hold::HOLDS`]): `hold#<due>#<load balancer ARN>` (`load_balancer`,
//!   `due_at`), written under the load balancer's lease before its records, as a group's hold is.
//!
//! Ledger calls: the load balancer's `begin`, the index's attempt loop (one `Query`, two `TransactWriteItems`),
//! the load balancer's `end`. No AWS change: the shift stays as it is (ARC ends it at its expiry in any case).

use failover_core::ledger::{Record, Snapshot, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use failover_core::time::format_time;
use serde_json::{json, Value};

use super::facts::{our_shifts, OurShift};
use super::reports::{balancer_name, return_command};
use super::return_zone::KEPT_FOR;
use crate::actions::hold::{index, secs, HOLD_UNTIL};
use crate::actions::ledger::{resource_arn, settle_from};
use crate::actions::Context;
use crate::ports::Ports;
use crate::report::{self, action};

/// The index entry's field naming a held load balancer.
pub const LOAD_BALANCER: &str = "load_balancer";

/// Whether the shift's record holds it until a time that has passed (`now`, epoch seconds).
pub fn due(record: &Record, now: i64) -> bool {
    secs(record, HOLD_UNTIL).is_some_and(|until| until <= now)
}

/// Keeps `ours` (the shifts the OK would cancel) until `RESTORE_HOLD_MINUTES` from now: the index entry first,
/// then the shifts' records. Nothing changes on AWS.
pub async fn start<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    ours: &[OurShift<'_>],
    mut details: Value,
    which: &str,
) -> Step<Report> {
    let lb = resource_arn(&snapshot.resource);
    let minutes = ctx.config.restore_hold_minutes;
    let due = ctx.now() + i64::from(minutes) * 60;
    let until = format_time(due);
    let planned = format!("keep the zonal shift of {which} until {until}");
    if let Some(refusal) = ctx.begin(snapshot, &[], action::CANCEL_ZONAL_SHIFT, &planned).await? {
        return Ok(refusal);
    }
    // Under the load balancer's lease, so that no tick completes it in between.
    if let Some(failed) = index(ctx, LOAD_BALANCER, lb, due).await.into_iter().next() {
        return Ok(match ctx.session.end(&snapshot.resource, &[], &[]).await {
            Ok(()) => failed,
            Err(e) => report::fault(Some(lb), action::CANCEL_ZONAL_SHIFT, &e, "releasing the load balancer"),
        });
    }
    let settle: Vec<_> = ours
        .iter()
        .map(|shift| {
            let mut data = shift.record.data.clone();
            data[HOLD_UNTIL] = json!(due);
            settle_from(shift.record, State::Done).with_data(data)
        })
        .collect();
    if let Err(e) = ctx.session.end(&snapshot.resource, &settle, &[]).await {
        let doing = "recording the hold (the shift stays)";
        return Ok(report::fault(Some(lb), action::CANCEL_ZONAL_SHIFT, &e, doing));
    }
    details[HOLD_UNTIL] = json!(due);
    let title = format!("{}: {which} stays evacuated until {until}", balancer_name(lb));
    Ok(report::about(lb, action::CANCEL_ZONAL_SHIFT, Outcome::Info, Severity::Info, title)
        .summary(format!(
            "The alarm that evacuated {which} of {lb} is OK, but its metric counts the traffic the zone gets, and \
             the zonal shift moved that traffic away: the OK is no evidence of repair. The shift stays until \
             {until} (RESTORE_HOLD_MINUTES={minutes}); then it is cancelled, unless an alarm about the zone is in \
             ALARM by then."
        ))
        .details(details)
        .steps([format!("To return the zone now, run {}", return_command(lb))]))
}

/// An ALARM (or `evacuate-zone`) about a zone whose shift `shift_id` is held after an OK: the hold ends, and
/// the shift stays until the next OK (or its expiry), so that no tick returns a zone that fails again. The alarm
/// (`alarm`, when an alarm asked) joins the shift's `kept_for`: its own OK returns the zone, since the alarm
/// that started the shift, silenced by it, may never send another. `None` when the shift is not held, and in a
/// dry run. One `begin`/`end` on the load balancer.
pub async fn ended_by_alarm<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    shift_id: Option<&str>,
    zone: &str,
    alarm: Option<&str>,
    dry_run: bool,
) -> Step<Option<Report>> {
    let held: Vec<OurShift<'_>> = our_shifts(snapshot)
        .into_iter()
        .filter(|s| s.id.is_some() && s.id == shift_id && secs(s.record, HOLD_UNTIL).is_some())
        .collect();
    if held.is_empty() || dry_run {
        return Ok(None);
    }
    let settle: Vec<_> = held
        .iter()
        .map(|shift| {
            let mut data = shift.record.data.clone();
            if let Some(fields) = data.as_object_mut() {
                fields.remove(HOLD_UNTIL);
                let started_by = fields.get("alarm_arn").and_then(Value::as_str);
                if let Some(alarm) = alarm.filter(|a| Some(*a) != started_by) {
                    let kept = fields.entry(KEPT_FOR).or_insert_with(|| json!([]));
                    if let Some(kept) = kept.as_array_mut().filter(|k| !k.iter().any(|k| k == alarm)) {
                        kept.push(alarm.into());
                    }
                }
            }
            settle_from(shift.record, State::Done).with_data(data)
        })
        .collect();
    if let Some(failed) = ctx.settle_only(snapshot, &settle, action::ZONAL_SHIFT).await? {
        return Ok(Some(failed));
    }
    let lb = resource_arn(&snapshot.resource);
    let title = format!("{}: zone {zone} fails again during its hold", balancer_name(lb));
    Ok(Some(
        report::about(lb, action::ZONAL_SHIFT, Outcome::Info, Severity::Warning, title)
            .summary(format!(
                "Zone {zone} of {lb} is in ALARM again while its zonal shift was held after an OK: the hold is over, \
                 and the shift stays until the alarm's next OK (or until it expires)."
            ))
            .details(json!({"load_balancer": lb, "zone": zone, "shift_id": shift_id})),
    ))
}
