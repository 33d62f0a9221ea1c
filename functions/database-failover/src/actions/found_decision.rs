//! One authority per primary, seen from the other region: a stack that finds, in the primary's region's ledger,
//! a promotion that another region's stack made and finished tells it once (`info`: which replica, when, by the
//! stack of which region), so that both regions' people hear the decision. A `told#<own region>` done record on
//! the primary's ledger resource (written under the lease) keeps it to once; a duplicate, or a later event, is
//! the logged skip "already failed over to …". Nothing is told in a dry run, while paused, when the record cannot
//! be written, or for a decision of this stack's own region (its own notification told it).
//!
//! AWS calls: when it tells, `begin` and `end` (one `TransactWriteItems` each) on the primary's ledger resource.

use failover_core::ledger::{self, Snapshot, State, Step};
use failover_core::report::Report;
use serde_json::json;

use super::Context;
use crate::model::DbRef;
use crate::ports::Ports;
use crate::report;

/// A finished promotion found in the ledger.
pub struct Found<'a> {
    pub primary: &'a DbRef,
    pub replica: &'a DbRef,
    /// When it was decided, RFC 3339.
    pub at: &'a str,
    /// The region of the stack that made it.
    pub decided_in: Option<String>,
}

/// The `info` report of a promotion another region's stack made, once; `None` when there is nothing to tell.
pub async fn tell<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    found: &Found<'_>,
    dry_run: bool,
) -> Step<Option<Report>> {
    let Some(region) = found.decided_in.as_deref().filter(|r| *r != ctx.region) else { return Ok(None) };
    let key = format!("told#{}", ctx.region);
    if dry_run || snapshot.record(&key).is_some() {
        return Ok(None);
    }
    let retention = ctx.config.common.retention_secs();
    let told = ledger::Record::pending(&snapshot.resource, &key, ctx.session.owner, "found", ctx.now(), retention)
        .with_state(State::Done)
        .with_data(json!({"decided_in": region, "replica": {"region": found.replica.region, "id": found.replica.id}}));
    // Told only once it is recorded: otherwise it would be told again by every later event.
    let recorded = ctx.note(snapshot, told).await?;
    Ok(recorded.then(|| report::found_decision(found.primary, found.replica, found.at, region, ctx.region)))
}
