//! A group's [`Plan`] handed to its action ([`super::deregister`], [`super::shift`], [`super::failback`]); a
//! skip (settling what an interrupted removal left) or a refusal is reported here.
//!
//! AWS calls here: none for a refusal; a skip that settles a removal an interrupted run left pending makes one
//! ledger `begin` and `end` (two `TransactWriteItems`, [`super::Context::settle_only`]), and when that run was
//! this event's, the skip becomes its notification ([`super::owed::completed`]). The actions' calls are
//! in their own files.

use failover_core::ledger::{Snapshot, Step};
use failover_core::{notify::Severity, report::Report};

use super::{deregister, failback, owed, shift, Context};
use crate::config::Failback;
use crate::decide::{GroupView, Plan};
use crate::ports::Ports;
use crate::report::{self, action};

/// Hands a plan to its action; a skip or refusal is reported here.
pub async fn execute<P: Ports>(
    ctx: &Context<'_, P>,
    view: GroupView<'_>,
    snapshot: &Snapshot,
    plan: Plan,
    intent: &'static str,
    dry_run: bool,
    mode: Failback,
) -> Step<Vec<Report>> {
    let (arn, tags) = (view.arn, view.tags);
    Ok(match plan {
        Plan::Skip { reason } => {
            // Removals an interrupted run made (it died before its `end`) are settled by the retry that finds them
            // made; when that run was this event's, its notification is this run's to publish.
            let settle = if dry_run { Vec::new() } else { deregister::interrupted(snapshot, view.targets) };
            let skip = report::skipped(Some(arn), action::NONE, reason);
            match ctx.settle_only(snapshot, &settle, action::DEREGISTER).await? {
                Some(failed) => vec![failed, skip],
                None => {
                    Some(owed::completed(ctx, arn, snapshot, &settle)).filter(|r| !r.is_empty()).unwrap_or(vec![skip])
                }
            }
        }
        Plan::Refuse { reason, kept, counts } => {
            let severity = if intent == action::FAILBACK { Severity::Warning } else { Severity::Critical };
            vec![report::refusal(arn, intent, severity, &reason, &kept, counts, tags)]
        }
        Plan::Deregister { targets, kept, counts, healthy_after } => {
            let change =
                deregister::Change { targets: &targets, kept: &kept, counts, healthy_after, registered: view.targets };
            deregister::run(ctx, arn, tags, snapshot, change, dry_run).await?
        }
        Plan::ShiftTraffic { backup, kept, counts, why } => {
            let failing = shift::Failing { backup: &backup, counts, why: &why, kept: &kept };
            vec![shift::run(ctx, arn, snapshot, failing, dry_run).await?]
        }
        Plan::Failback { counts, backup } => {
            failback::run(ctx, arn, snapshot, counts, backup.as_deref(), dry_run, mode).await?
        }
    })
}
