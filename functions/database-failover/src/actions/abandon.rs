//! Abandon: a promotion decided earlier and not completed, whose guards no longer hold (the primary is back,
//! the replica lags, stopped replicating, was replaced or left) or that is older than `DECISION_TTL_MINUTES`.
//! Its ledger record moves from pending to abandoned (which frees the primary for a later decision: each
//! decision has its own key), and a warning says why. Nothing is promoted.

use failover_core::ledger::{Ledger, Settle, Snapshot, State};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::pause;
use failover_core::report::Report;
use serde_json::json;

use super::claim::{Acted, Started};
use super::Context;
use crate::decide::{Abandonment, Trigger};
use crate::model::promotion_resource;
use crate::ports::{Databases, Dns, ReplicaLag};
use crate::report::{self, incident};
use crate::FUNCTION;

/// Settles the recorded decision as abandoned and reports it (a dry run only reports what it would do).
pub async fn run<D, L, R, G>(
    ctx: &Context<'_, D, L, R, G>,
    a: &Abandonment,
    snapshot: &Snapshot,
    trigger: &Trigger,
    dry_run: bool,
) -> Acted
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
    G: Ledger,
{
    let resource = promotion_resource(&a.primary);
    if dry_run {
        return Acted::Done(abandoned(a, trigger, Outcome::DryRun, &resource));
    }
    match ctx.begin(snapshot, &[]).await {
        Ok(Started::Yes) => {}
        Ok(Started::Again) => return Acted::Again,
        Ok(Started::Paused(paused)) => {
            let planned = format!("abandon the decision to promote {}", a.record.subject.id);
            return Acted::Done(pause::refused(FUNCTION, report::PROMOTE, &resource, &paused, &planned));
        }
        Err(error) => return Acted::Done(report::failure(&a.primary.region, &a.primary.id, trigger, error)),
    }
    tracing::warn!(primary = %a.primary, replica = %a.record.subject, key = a.record.key, reason = a.reason,
        "abandoning the recorded promotion");
    let settle = Settle::pending(&a.record.key, &a.record.owner, State::Abandoned);
    match ctx.end(&resource, &[settle], &[]).await {
        Ok(()) => Acted::Done(abandoned(a, trigger, Outcome::Refused, &resource)),
        Err(error) => Acted::Done(report::failure(&a.primary.region, &a.primary.id, trigger, error)),
    }
}

/// The warning: which decision, why it was abandoned, and the replicas as judged now.
fn abandoned(a: &Abandonment, trigger: &Trigger, outcome: Outcome, resource: &str) -> Report {
    let replica = a.record.subject.display_from(&a.primary.region);
    let primary = &a.primary.id;
    let summary = format!(
        "Trigger: {}. The decision to promote {replica} to replace {primary}, recorded at {}, was abandoned and not \
         completed: {}.",
        trigger.describe(),
        a.record.at,
        a.reason
    );
    Report::new(FUNCTION, report::PROMOTE, outcome, Severity::Warning, format!("{primary}: decision abandoned"))
        .summary(summary)
        .incident(incident(&a.primary.region, primary))
        .resources([primary.clone()])
        .details(json!({
            "trigger": trigger,
            "abandoned": {"resource": resource, "key": a.record.key, "replica": a.record.subject, "at": a.record.at},
            "reason": a.reason,
            "replicas": a.replicas,
        }))
        .steps([
            format!("Nothing was promoted. Check {primary}: if it is failing, the next failure event decides afresh."),
            format!("To promote a replica anyway, use the promote command (same guards) on {primary}'s replica."),
        ])
}
