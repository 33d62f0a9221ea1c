//! Shift: move a failing group's traffic to its backup group. Facts, in stages: the backup's health (it must
//! be able to serve), then the listener actions forwarding to the group and their opt-in. Then
//! [`decide::plan_shift`] and its [`ShiftVerdict`]; then the weights before and after are recorded in the
//! ledger (`shift#<action>` records on the failing group, pending, written by `begin`) *before* any listener
//! or rule is changed, and settled done by `end` after, so an interrupted shift completes on the next event
//! (the actions at weight 0 with a live record are already shifted: a skip, or `Info` for a Region switch step's
//! rerun, whose goal holds) and the weights before are never overwritten by shifted ones. A network load
//! balancer's listener forwards to one target group: a shift points it at the backup (no weights).
//!
//! AWS calls: `DescribeTargetHealth` of the backup group; then ([`super::Context::forwarding`])
//! `DescribeTargetGroups` (the group's load balancers), `DescribeListeners` per load balancer, `DescribeRules`
//! per listener, and one `DescribeTags` per 20 listeners and rules forwarding to the group (none when nothing
//! forwards to it); a refused shift stops there. Then `begin` (one ledger `TransactWriteItems`), one
//! `ModifyListener` or `ModifyRule` per opted-in action that changes, and `end` (one more).

use failover_core::ledger::{Snapshot, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::ledger::{self, settle_from, shift_key};
use super::Context;
use crate::config::Failback;
use crate::decide::{self, Counts, Kept, ShiftVerdict};
use crate::model::{group_name, BACKUP_TAG};
use crate::ports::{LoadBalancer, Ports};
use crate::report::{self, action, add_tag_step, count, describe_changes, not_opted_in_text};

/// Why the group is failing over: what [`crate::decide::Plan::ShiftTraffic`] says.
pub struct Failing<'a> {
    pub backup: &'a str,
    pub counts: Counts,
    pub why: &'a str,
    pub kept: &'a [Kept],
}

pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    snapshot: &Snapshot,
    failing: Failing<'_>,
    dry_run: bool,
) -> Step<Report> {
    let Failing { backup, counts, why, kept } = failing;
    let name = group_name(arn);
    let refused = |title: String, summary: String, details: Value| {
        report::about(arn, action::SHIFT, Outcome::Refused, Severity::Critical, title).summary(summary).details(details)
    };
    let backup_targets = match ctx.lb.target_health(backup).await {
        Ok(Some(targets)) => targets,
        Ok(None) => {
            return Ok(refused(
                format!("{name}: cannot serve, and its backup group does not exist"),
                format!("{name} cannot serve ({why}); its tag {BACKUP_TAG} names {backup}, which does not exist."),
                json!({"counts": counts, "backup": backup}),
            )
            .steps(["Fix the backup tag, or restore capacity in the group.".to_owned()]))
        }
        Err(e) => return Ok(report::failed(Some(arn), action::SHIFT, &e, "reading the backup group's health")),
    };
    let backup_counts = match decide::backup_ready(&backup_targets, ctx.floor()) {
        Ok(c) => c,
        Err(c) => {
            return Ok(refused(
                format!("{name}: cannot serve, and backup {} cannot either", group_name(backup)),
                format!(
                    "{name} cannot serve ({why}), and its backup {backup} has {} of {} targets healthy (needs {}): \
                     traffic stays where it is.",
                    c.healthy,
                    c.registered,
                    c.required()
                ),
                json!({"counts": counts, "backup": backup, "backup_counts": c}),
            )
            .steps(["Restore capacity in either group; nothing was changed.".to_owned()]))
        }
    };
    // Read, plan and write the listener actions alone ([`Context::listeners`]).
    let _listeners = ctx.listeners.lock().await;
    let forwarding = match ctx.forwarding(arn).await {
        Ok(forwarding) => forwarding,
        Err((e, doing)) => return Ok(report::failed(Some(arn), action::SHIFT, &e, doing)),
    };
    let plan =
        decide::plan_shift(&forwarding.actions, arn, backup, &ledger::saved_weights(snapshot), &forwarding.opted_in);
    let details = json!({
        "counts": counts,
        "backup": backup,
        "backup_counts": backup_counts,
        "changes": plan.changes,
        "already_shifted": plan.already_shifted,
        "not_opted_in": plan.not_opted_in,
        "kept_targets": kept,
    });
    let key = ctx.opt_in_key();
    let shift_again = report::command("shift", arn);
    let partly = match plan.verdict() {
        ShiftVerdict::Shift { partly } => partly,
        ShiftVerdict::RefuseNotOptedIn => {
            let left_out = &plan.not_opted_in;
            return Ok(refused(
                format!("{name}: shift refused, {} not opted in", count(left_out.len(), "listener action")),
                format!(
                    "{name} cannot serve ({why}) and its traffic could move to {backup}, but every listener action \
                     that forwards to it is left out: {}. Nothing was changed and nothing was recorded.",
                    not_opted_in_text(key, left_out)
                ),
                details,
            )
            .steps([
                add_tag_step(key, left_out),
                format!("Then shift with the manual command {shift_again} (or wait for the alarm to repeat)."),
                format!("Or restore capacity in {name}."),
            ]));
        }
        ShiftVerdict::AlreadyShifted => {
            let done = already_shifted(ctx, arn, backup, details);
            return complete_interrupted(ctx, snapshot, &plan.already_shifted, dry_run, done).await;
        }
        ShiftVerdict::NothingForwards => {
            return Ok(refused(
                format!("{name}: cannot serve, and no listener forwards to it"),
                format!(
                    "{name} cannot serve ({why}), but no listener default action or rule sends it traffic that \
                     could move to {backup}."
                ),
                details,
            )
            .steps(["Restore capacity in the group; check which listener uses it.".to_owned()]))
        }
    };
    let moved = describe_changes(&plan.changes);
    let left_out = if partly {
        format!(" Left out: {}; they still send traffic to {name}.", not_opted_in_text(key, &plan.not_opted_in))
    } else {
        String::new()
    };
    let partly = if partly { "partly " } else { "" };
    if dry_run {
        let title = format!("{name}: would {partly}shift traffic to {}", group_name(backup));
        return Ok(report::about(arn, action::SHIFT, Outcome::DryRun, Severity::Info, title)
            .summary(format!(
                "Dry run: {name} cannot serve ({why}); would change {moved}.{left_out} Nothing was changed."
            ))
            .details(details));
    }
    // The trigger goes in the data too: a key reused from an earlier incident keeps its first trigger.
    let wanted = plan.changes.iter().map(|c| {
        let mut data = ledger::shift_data(c, backup);
        data["trigger"] = json!(ctx.trigger);
        (shift_key(&c.location), data)
    });
    let mut records = ctx.records(snapshot, wanted);
    // Actions an interrupted shift already moved: their records are done now.
    records.settle.extend(pending(snapshot, &plan.already_shifted).map(|r| settle_from(r, State::Done)));
    let planned = format!("shift traffic from {name} to {backup}: {moved}");
    if let Some(refusal) = ctx.begin(snapshot, &records.begin, action::SHIFT, &planned).await? {
        return Ok(refusal);
    }
    let shifted = ctx.set_weights(&forwarding, &plan.changes).await;
    let made = |key: &str| {
        let done = shifted.as_ref().err().map_or(plan.changes.len(), |(_, done)| *done);
        plan.changes[done..].iter().all(|c| shift_key(&c.location) != key)
    };
    let ended = ctx.end(arn, &records.settle(ctx.session.owner, made), &[]).await;
    if let Err((e, done)) = shifted {
        let location = &plan.changes[done].location;
        let doing = format!("shifting {location} ({done} of {} actions already shifted)", plan.changes.len());
        return Ok(report::failed(Some(arn), action::SHIFT, &e, &doing));
    }
    if let Err(e) = ended {
        return Ok(report::fault(
            Some(arn),
            action::SHIFT,
            &e,
            "recording the shift in the ledger (traffic was shifted)",
        ));
    }
    let rest = (!plan.not_opted_in.is_empty()).then(|| {
        [add_tag_step(key, &plan.not_opted_in), format!("Then move the rest with the manual command {shift_again}.")]
    });
    let failback = match ctx.config.failback {
        Failback::Auto => {
            "When the alarm returns to OK and the group is above its floor, the weights are restored automatically."
                .to_owned()
        }
        Failback::Manual => format!("When the group is healthy, fail back with {}", report::command("failback", arn)),
    };
    let title = format!("{name}: traffic {partly}shifted to {}", group_name(backup));
    Ok(report::about(arn, action::SHIFT, Outcome::Succeeded, Severity::Critical, title)
        .summary(format!(
            "{name} cannot serve ({why}), so its traffic moved to {backup} ({} of {} targets healthy): {moved}. \
             The previous weights are recorded in the ledger (records shift#* of {}).{left_out}",
            backup_counts.healthy,
            backup_counts.registered,
            ledger::resource(arn),
        ))
        .details(details)
        .steps(rest.into_iter().flatten().chain([
            format!("Restore capacity in {name}; the backup {} now takes its traffic.", group_name(backup)),
            failback,
        ])))
}

/// Every action already shifted (a repeated alarm, a rerun): a logged skip, not notified again; but a Region
/// switch step's rerun finds its goal holding, which is `Info`, so that the step succeeds and the plan goes on.
fn already_shifted<P: Ports>(ctx: &Context<'_, P>, arn: &str, backup: &str, details: Value) -> Report {
    let reason = format!("traffic already shifted to {backup}");
    if ctx.session.region_switch.is_none() {
        return report::skipped(Some(arn), action::SHIFT, reason);
    }
    let title = format!("{}: traffic already shifted to {}", group_name(arn), group_name(backup));
    report::about(arn, action::SHIFT, Outcome::Info, Severity::Info, title)
        .summary(format!(
            "{reason}: every listener action that forwarded to {arn} gives it weight 0 since an earlier shift; \
             nothing was changed."
        ))
        .details(details)
}

/// The pending shift records of actions already at weight 0: an interrupted shift made them.
fn pending<'s>(
    snapshot: &'s Snapshot,
    shifted: &'s [crate::model::Location],
) -> impl Iterator<Item = &'s failover_core::ledger::Record> {
    shifted.iter().filter_map(|l| snapshot.record(&shift_key(l)).filter(|r| r.state == State::Pending))
}

/// Every action is already shifted: settles the records an interrupted shift left pending (a takeover), then
/// answers `report`, or that shift's notification when it was this event's ([`super::owed::completed`]).
/// Nothing to settle, or a dry run: `report` alone.
async fn complete_interrupted<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    shifted: &[crate::model::Location],
    dry_run: bool,
    report: Report,
) -> Step<Report> {
    let settle: Vec<_> = pending(snapshot, shifted).map(|r| settle_from(r, State::Done)).collect();
    if dry_run {
        return Ok(report);
    }
    if let Some(failed) = ctx.settle_only(snapshot, &settle, action::SHIFT).await? {
        return Ok(failed);
    }
    let group = ledger::resource_arn(&snapshot.resource);
    Ok(super::owed::completed(ctx, group, snapshot, &settle).into_iter().next().unwrap_or(report))
}
