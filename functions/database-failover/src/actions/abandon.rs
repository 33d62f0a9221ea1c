//! Abandon: a promotion (or an Aurora failover) decided earlier and not completed, whose guards no longer hold (the primary is back,
//! the replica lags, stopped replicating, was replaced or left) or that is older than `DECISION_TTL_MINUTES`.
//! Its ledger record moves from pending to abandoned (which frees the primary for a later decision: each
//! decision has its own key), and a warning says why. Nothing is promoted.
//!
//! AWS calls: `begin` and `end` on the resource's ledger (two `TransactWriteItems`), inside the attempt loop that
//! read it. No RDS write, except one: a fence applied for a decision whose replica was never promoted is undone
//! ([`super::fence_undo::for_abandoned`]: its groups restored, its record left pending), so that the old
//! primary, fenced, is not left without a promoted replica. A dry run writes nothing.

use failover_core::ledger::{Again, Settle, Snapshot, Start, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::pause;
use failover_core::report::Report;
use serde_json::json;

use super::{fence_undo, Context};
use crate::decide::{Abandonment, Trigger};
use crate::ports::Ports;
use crate::report::{self, incident};
use crate::FUNCTION;

/// Settles the recorded decision as abandoned and reports it (a dry run only reports what it would do).
pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    a: &Abandonment,
    snapshot: &Snapshot,
    trigger: &Trigger,
    dry_run: bool,
) -> Step<Report> {
    let resource = a.resource.as_str();
    let action = if a.aurora { report::FAILOVER_CLUSTER } else { report::PROMOTE };
    if dry_run {
        return Ok(abandoned(a, trigger, Outcome::DryRun, action));
    }
    match ctx.session.start(snapshot, &[]).await {
        Ok(Start::Started) => {}
        Ok(Start::Again) => return Err(Again),
        Ok(Start::Paused(paused)) => {
            let planned = format!("abandon the decision to {}", a.decision);
            return Ok(pause::refused(FUNCTION, action, resource, &paused, &planned));
        }
        Err(error) => return Ok(report::failure(&a.primary.region, &a.primary.id, trigger, error)),
    }
    tracing::warn!(resource, key = a.record.key, decision = a.decision, reason = a.reason, "abandoning a decision");
    let mut settle = vec![Settle::pending(&a.record.key, &a.record.owner, State::Abandoned)];
    let unfenced = fence_undo::for_abandoned(ctx, a, snapshot).await;
    settle.extend(unfenced.as_ref().and_then(|(_, _, s)| s.clone()));
    Ok(match ctx.session.end(resource, &settle, &[]).await {
        Ok(()) => {
            let mut told = abandoned(a, trigger, Outcome::Refused, action);
            match unfenced {
                Some((record, undone, _)) => {
                    told.next_steps.retain(|step| !step.starts_with("Nothing was changed in AWS"));
                    let why = format!("{} was never promoted", a.record.subject.id);
                    report::fence_undone(told, &record, &why, undone)
                }
                None => told,
            }
        }
        Err(error) => report::failure(&a.primary.region, &a.primary.id, trigger, error),
    })
}

/// The warning: which decision, why it was abandoned, and the replicas as judged now.
fn abandoned(a: &Abandonment, trigger: &Trigger, outcome: Outcome, action: &str) -> Report {
    let primary = &a.primary.id;
    let summary = format!(
        "Trigger: {}. The decision to {}, recorded at {}, was abandoned and not completed: {}.",
        trigger.describe(),
        a.decision,
        a.record.at,
        a.reason
    );
    Report::new(FUNCTION, action, outcome, Severity::Warning, format!("{primary}: decision abandoned"))
        .summary(summary)
        .incident(incident(&a.primary.region, primary))
        .resources([primary.clone()])
        .details(json!({
            "trigger": trigger,
            "abandoned": {"resource": a.resource, "key": a.record.key, "chosen": a.record.subject, "at": a.record.at},
            "reason": a.reason,
            "replicas": a.replicas,
        }))
        .steps([
            format!(
                "Nothing was changed in AWS. Check {primary}: if it is failing, the next failure event decides afresh."
            ),
            "A person may still act with the promote or failover-cluster command (same guards).".to_owned(),
        ])
}
