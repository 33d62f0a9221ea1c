//! The restore hold of a zone ([`crate::actions::hold`]'s, for a zonal shift): the OK of a per-zone alarm whose
//! metric the shift itself silences ([`crate::decide::recovery::silenced_by_shift`]: a traffic metric of the
//! zone, which counts nothing once its traffic is moved away) is no evidence of repair. The shift stays
//! until `RESTORE_HOLD_MINUTES` have passed; then the schedule's tick ([`crate::actions::tick`]) cancels it
//! through [`super::return_zone`] (`due`), unless an alarm about the zone is in ALARM by then, which keeps it
//! as an OK would (`kept_for`).
//!
//! # Records
//! - On the load balancer (`load-balancer:<ARN>`), each held shift's own record, still open: `hold_until`
//!   (epoch seconds), dropped when the shift is kept for another alarm.
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

use super::facts::OurShift;
use super::reports::{balancer_name, return_command};
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
