//! Stale events change nothing. Lambda retries async events minutes later and in no order, and one alarm
//! transition reaches the function by up to three paths (EventBridge, SNS, the alarm action). The ledger keeps,
//! per alarm (resource `alarm:<ARN>`), the state timestamp of the last transition acted on (record
//! `transition`: `changed_at` in milliseconds, and the state). An event whose state change is older than that,
//! or equal to it, is a logged skip with no notification ([`check`]: one ledger `Query`); an event acted on
//! without a failure records its timestamp once its notification is published ([`record`]: `begin` and `end`,
//! two `TransactWriteItems`). An event
//! without a readable timestamp is not checked.

use failover_core::ledger::{Begun, Ledger, Snapshot};
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::Ctx;
use crate::ports::LoadBalancer;
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
}

impl Seen {
    /// Nothing to record (a stale event, or one without a timestamp).
    pub fn nothing() -> Self {
        Seen { snapshot: None, changed_at: None, state: "" }
    }
}

/// Whether the event was acted on (something other than a skip) without a failure: only then is its
/// transition recorded.
pub fn acted(reports: &[Report]) -> bool {
    reports.iter().any(|r| r.outcome != Outcome::Skipped) && !reports.iter().any(|r| r.outcome == Outcome::Failed)
}

/// The timestamp of the last transition acted on, as the snapshot holds it.
fn last_acted(snapshot: &Snapshot) -> Option<i64> {
    snapshot.record(KEY).and_then(|r| r.data.get("changed_at")).and_then(Value::as_i64)
}

/// `Err(report)`: the event is stale (a logged skip) or the ledger could not be read (a failure).
pub async fn check<L: LoadBalancer, G: Ledger>(ctx: &Ctx<'_, L, G>, route: &AlarmRoute) -> Result<Seen, Report> {
    let Some(changed_at) = route.changed_at else { return Ok(Seen::nothing()) };
    let snapshot = match ctx.session.read(&resource(&route.alarm_arn)).await {
        Ok(snapshot) => snapshot,
        Err(e) => return Err(report::failed(None, action::ALARM, &e, "reading the alarm's last transition")),
    };
    if let Some(last) = last_acted(&snapshot).filter(|last| changed_at <= *last) {
        tracing::info!(alarm = %route.alarm_arn, changed_at, last, "skipping a stale alarm event");
        let reason = format!(
            "stale event: its state change ({changed_at} ms) is not later than the last one acted on ({last} ms)"
        );
        return Err(report::skipped(None, action::NONE, reason));
    }
    let state = if route.recovered { "OK" } else { "ALARM" };
    Ok(Seen { snapshot: Some(snapshot), changed_at: Some(changed_at), state })
}

/// After the event was handled and its notification published: records its timestamp when it was
/// [`acted`] on, and not in a dry run. Recording only after publishing keeps a retry after a crash in between
/// from being taken for stale. A record that cannot be written is logged: the event's changes stand, and a
/// repeat of it finds them made.
pub async fn record<L: LoadBalancer, G: Ledger>(ctx: &Ctx<'_, L, G>, seen: Seen, acted: bool) {
    let (Some(snapshot), Some(changed_at), state) = (seen.snapshot, seen.changed_at, seen.state) else { return };
    if !acted || ctx.config.common.dry_run {
        return;
    }
    let records = ctx.records(&snapshot, [(KEY.to_owned(), json!({"changed_at": changed_at, "state": state}))]);
    match ctx.session.begin(&snapshot, &records.begin).await {
        Ok(Begun::Started { .. }) => {}
        Ok(_) => return tracing::info!(resource = %snapshot.resource, "alarm transition not recorded: busy or paused"),
        Err(e) => return tracing::warn!(resource = %snapshot.resource, error = %e, "recording the alarm transition"),
    }
    let settle = records.settle(ctx.session.owner, |_| true);
    if let Err(e) = ctx.session.end(&snapshot.resource, &settle, &[]).await {
        tracing::warn!(resource = %snapshot.resource, error = %e, "recording the alarm transition");
    }
}
