//! Stale events change nothing. Lambda retries async events minutes later and in no order, and one alarm
//! transition reaches the function by up to three paths (EventBridge, SNS, the alarm action). The ledger keeps,
//! per alarm (resource `alarm:<ARN>`), the state timestamp of the last transition acted on (record
//! `transition`: `changed_at` in milliseconds, and the state). An event whose state change is older than that,
//! or equal to it, is a logged skip with no notification ([`check`]: one ledger `Query`); every event checked
//! records its timestamp once its notification is published, one that only skipped and a paused run included
//! ([`record`]), incomplete when Lambda will retry it. An event without a readable timestamp is not checked.
//! A notification that could not be published leaves the transition incomplete and the invocation fails
//! ([`failover_core::fault::Fault::Unpublished`]): the retry publishes what it owes ([`super::owed`]). A refusal
//! is notified again when its alarm changes state again (a later transition); the same event again is stale.
//!
//! Ledger calls: [`read`] or [`check`] is one `Query` of `alarm:<ARN>` (again after each wait while another
//! invocation holds it) and, for a fresh event, `begin` (one `TransactWriteItems`), which holds the alarm's lease while
//! the event is handled; [`record`], handed to [`failover_core::invoke::finish_owing`] as the
//! [`Transition`] owed, is `end` (one more), after the publish. No other AWS call.

use failover_core::fault::Fault;
use failover_core::invoke::Owed;
use failover_core::ledger::{Session, Snapshot, Start, State, Stop};

use failover_core::report::Report;
use serde_json::{json, Value};

use super::Context;
use crate::ports::Ports;
use crate::report::{self, action};
use crate::route::AlarmRoute;

/// The record's key under the alarm's resource.
pub const KEY: &str = "transition";

/// The ledger's name of an alarm.
pub fn resource(alarm_arn: &str) -> String {
    format!("alarm:{alarm_arn}")
}

/// What the alarm's ledger says, read before acting, and the transition to record once acted on.
pub struct Seen {
    snapshot: Option<Snapshot>,
    changed_at: Option<i64>,
    state: &'static str,
    /// This very event was handled and notified before, with a failure Lambda retries: its notification is
    /// out, so nothing is owed ([`super::owed`]).
    pub notified: bool,
    /// This invocation holds the alarm's lease (released by [`record`]).
    held: bool,
}

impl Seen {
    /// Nothing to record (a stale event, or one without a timestamp).
    pub fn nothing() -> Self {
        Seen { snapshot: None, changed_at: None, state: "", notified: false, held: false }
    }
}

/// How the event ended: complete unless a report asks for Lambda's retry (a transient failure, or a busy
/// group's skip), which is then not taken for stale. Every checked event is recorded, one that only skipped
/// included: an OK with nothing to do still makes the older ALARM's retry stale.
pub fn ended(reports: &[Report]) -> bool {
    !reports.iter().any(Report::retry)
}

/// The last transition handled: its timestamp, whether it completed, and whether its notification was
/// published (an older record without these fields did both).
fn last_handled(snapshot: &Snapshot) -> Option<(i64, bool, bool)> {
    let data = &snapshot.record(KEY)?.data;
    let at = data.get("changed_at").and_then(Value::as_i64)?;
    let flag = |key| data.get(key).and_then(Value::as_bool).unwrap_or(true);
    Some((at, flag("complete"), flag("notified")))
}

/// What the alarm's ledger said of the event.
enum Checked {
    Fresh(Seen),
    Stale(String),
}

/// The alarm's ledger, read beside the event's other first reads (the groups' tags and ledgers): `None` when
/// the event has no state timestamp, or when the read failed ([`check`] reads it again).
pub async fn read<P: Ports>(ctx: &Context<'_, P>, route: &AlarmRoute) -> Option<Snapshot> {
    route.changed_at?;
    ctx.session.read(&resource(&route.alarm_arn)).await.ok()
}

/// Why the event is stale by the alarm's ledger as read: its state change is not later than the last one
/// acted on, or equal to one that completed (a retry of one that did not finishes it).
pub fn stale(route: &AlarmRoute, snapshot: &Snapshot) -> Option<String> {
    let changed_at = route.changed_at?;
    let (last, ..) =
        last_handled(snapshot).filter(|(at, complete, _)| changed_at < *at || (changed_at == *at && *complete))?;
    Some(format!("stale event: its state change ({changed_at} ms) is not later than the last one acted on ({last} ms)"))
}

/// `Err(report)`: the event is stale (a logged skip), or the alarm stays held by another invocation or its
/// ledger cannot be read (retryable). Otherwise the invocation holds the alarm's lease until [`record`]: a
/// duplicate of the event delivered at the same time waits, then finds it handled (stale); a run that died
/// leaves the lease to expire, and the retry then finds what it owes ([`super::owed`]).
/// `first`: the alarm's ledger when [`read`] already read it.
pub async fn check<P: Ports>(
    ctx: &Context<'_, P>,
    route: &AlarmRoute,
    first: Option<Snapshot>,
) -> Result<Seen, Report> {
    let Some(changed_at) = route.changed_at else { return Ok(Seen::nothing()) };
    let resource = resource(&route.alarm_arn);
    // The alarm's own record is bookkeeping, held and written while paused too (the groups refuse): a paused
    // run's transition still makes older events stale.
    let session = Session { force: true, ..ctx.session };
    // Stale whoever holds the alarm: answered off any read, with no wait.
    let stale = |snapshot: &Snapshot| {
        let reason = stale(route, snapshot)?;
        tracing::info!(alarm = %route.alarm_arn, %reason, "skipping a stale alarm event");
        Some(Checked::Stale(reason))
    };
    let step = async |snapshot| -> Result<Checked, Stop<CheckFailed>> {
        let notified = last_handled(&snapshot) == Some((changed_at, false, true));
        let held = match session.start(&snapshot, &[]).await.map_err(|e| Stop::Failed(CheckFailed::Holding(e)))? {
            Start::Started => true,
            Start::Again => return Err(Stop::Again),
            Start::Paused(_) => false,
        };
        let state = if route.recovered { "OK" } else { "ALARM" };
        Ok(Checked::Fresh(Seen { snapshot: Some(snapshot), changed_at: Some(changed_at), state, notified, held }))
    };
    let checked = session.attempt_or(&resource, first, stale, step);
    match checked.await {
        Ok(Checked::Fresh(seen)) => Ok(seen),
        Ok(Checked::Stale(reason)) => Err(report::skipped(None, action::NONE, reason)),
        Err(CheckFailed::Reading(fault)) => {
            Err(report::fault(None, action::ALARM, &fault, "reading the alarm's last transition"))
        }
        Err(CheckFailed::Holding(e)) => Err(report::failed(None, action::ALARM, &e, "holding the alarm's ledger")),
    }
}

/// Why the alarm's ledger could not be checked: its read (or the wait for it), or taking its lease.
enum CheckFailed {
    Reading(Fault),
    Holding(failover_core::aws::AwsError),
}

impl From<Fault> for CheckFailed {
    fn from(fault: Fault) -> Self {
        CheckFailed::Reading(fault)
    }
}

/// The alarm's transition an invocation records once its notification is published
/// ([`failover_core::invoke::finish_owing`]): complete when it `ended` ([`ended`]) and every notification went out.
pub struct Transition<'a, P: Ports> {
    pub ctx: Context<'a, P>,
    pub seen: Seen,
    pub ended: bool,
}

impl<P: Ports> Owed for Transition<'_, P> {
    fn what(&self) -> String {
        "the alarm's notification".to_owned()
    }

    async fn settle(self, published: bool) {
        record(&self.ctx, self.seen, self.ended && published, published).await;
    }
}

/// After the event's notification was published: records its timestamp, whether it completed ([`ended`],
/// and every notification published) and whether its notification went out, not in a dry run. One that did
/// not go out is owed by the retry ([`super::owed`]). Recording only after publishing keeps a retry after a crash in between from
/// being taken for stale; recording an incomplete one tells its retry that its notification is out. A record
/// that cannot be written is logged: the event's changes stand, and a repeat of it finds them made.
pub async fn record<P: Ports>(ctx: &Context<'_, P>, seen: Seen, complete: bool, notified: bool) {
    let (Some(snapshot), Some(changed_at), state) = (seen.snapshot, seen.changed_at, seen.state) else { return };
    let data = json!({"changed_at": changed_at, "state": state, "complete": complete, "notified": notified});
    let wanted = (!ctx.config.common.dry_run).then(|| (KEY.to_owned(), data));
    let records = ctx.records(&snapshot, wanted);
    if !seen.held {
        return;
    }
    // New records are written by `end` itself; a known one is settled with its new data.
    let new: Vec<_> = records.begin.into_iter().map(|r| r.with_state(State::Done)).collect();
    if let Err(e) = ctx.session.end(&snapshot.resource, &records.settle, &new).await {
        tracing::warn!(resource = %snapshot.resource, error = %e, "recording the alarm transition");
    }
}
