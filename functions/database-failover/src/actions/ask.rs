//! Asks a person: a decision that may lose data (or that the settings do not allow on their own) becomes a
//! pending `approval#<time>` record on its resource, and the notification carries the exact `approve` and
//! `reject` commands ([`crate::decide::approval`] says when; [`super::approve`] acts on it).
//!
//! AWS calls: `begin` writing the record (one `TransactWriteItems`, also while paused: asking changes nothing),
//! `end` releasing the lease. A dry run writes nothing.

use failover_core::ledger::{self, Again, Snapshot, Start, Step};
use failover_core::report::Report;

use super::Context;
use crate::model::Approval;
use crate::ports::Ports;
use crate::report::{self, Failure};

/// A new pending approval: written (unless a dry run) and told with the exact approve command.
pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    approval: Approval,
    cause: &str,
    dry_run: bool,
) -> Step<Report> {
    if dry_run {
        return Ok(report::approval_asked(&approval, cause, true));
    }
    let retention = ctx.config.common.retention_secs();
    let record =
        ledger::Record::pending(&snapshot.resource, &approval.key, ctx.session.owner, cause, ctx.now(), retention)
            .with_data(approval.data());
    match ctx.session.start_record_only(snapshot, &[record]).await {
        Ok(Start::Started) => {}
        Ok(Start::Again) => return Err(Again),
        Ok(Start::Paused(_)) => {}
        Err(error) => {
            let failure =
                Failure { step: "record the decision to approve in the ledger", error: error.into(), done: vec![] };
            return Ok(report::approval_not_recorded(&approval, &failure));
        }
    }
    if let Err(error) = ctx.session.end(&snapshot.resource, &[], &[]).await {
        tracing::warn!(%error, resource = snapshot.resource, "lease not released; it runs out by itself");
    }
    Ok(report::approval_asked(&approval, cause, false))
}
