//! Restore (manual command): register the named targets in the group again (one `RegisterTargets`), under the
//! group's lease; `end` closes the open `removal#` records whose targets are all registered again by it (the
//! last of the incident: its notification carries the incident's durations, [`super::timeline::closing`]).
//!
//! AWS calls: `begin` (one ledger `TransactWriteItems`), one `RegisterTargets`, `end` (one more); a dry run
//! none of them.

use failover_core::ledger::{Snapshot, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::ledger;
use super::Context;
use crate::decide::{Counts, GroupView};
use crate::model::{group_name, Target};
use crate::ports::{LoadBalancer, Ports};
use crate::report::{self, action, join};

pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    view: GroupView<'_>,
    snapshot: &Snapshot,
    wanted: &[Target],
    dry_run: bool,
) -> Step<Vec<Report>> {
    let arn = view.arn;
    if !view.opted_in() {
        let reason = format!("not opted in (tag {}=true missing)", view.opt_in_tag_key);
        return Ok(vec![report::skipped(Some(arn), action::REGISTER, reason)]);
    }
    let list = join(wanted.iter());
    let details = json!({"targets": wanted, "counts_before": Counts::of(view.targets, ctx.floor())});
    if dry_run {
        let title = format!("{}: would register {}", group_name(arn), list);
        return Ok(vec![report::about(arn, action::REGISTER, Outcome::DryRun, Severity::Info, title)
            .summary(format!("Dry run: {list} would be registered in {arn}; nothing was changed."))
            .details(details)]);
    }
    let planned = format!("register {list} in {arn}");
    if let Some(refusal) = ctx.begin(snapshot, &[], action::REGISTER, &planned).await? {
        return Ok(vec![refusal]);
    }
    let registered = ctx.lb.register(arn, wanted).await;
    let close: Vec<_> = match registered {
        Ok(()) => snapshot
            .records
            .iter()
            .filter(|r| {
                let targets = ledger::removed_targets(r);
                ledger::open(r) && !targets.is_empty() && targets.iter().all(|t| wanted.iter().any(|w| t.matches(w)))
            })
            .map(|r| ctx.closing(r))
            .collect(),
        Err(_) => Vec::new(),
    };
    let closed = super::timeline::closing(ctx, snapshot, &close);
    let ended = ctx.end(arn, &close, &[]).await;
    if let Err(e) = registered {
        return Ok(vec![report::failed(Some(arn), action::REGISTER, &e, "registering targets")]);
    }
    if let Err(e) = ended {
        return Ok(vec![report::fault(
            Some(arn),
            action::REGISTER,
            &e,
            "closing the removal records (targets were registered)",
        )]);
    }
    let title = format!("{}: registered {}", group_name(arn), list);
    let report = report::about(arn, action::REGISTER, Outcome::Succeeded, Severity::Info, title)
        .summary(format!("{list} registered in {arn}. They receive traffic once they pass the group's health checks."))
        .details(details)
        .steps([format!("Watch the group's health: {}", report::command("status", arn))]);
    Ok(vec![failover_core::timeline::with_recovery(report, closed)])
}
