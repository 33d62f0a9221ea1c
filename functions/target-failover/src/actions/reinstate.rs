//! Reinstate: when the alarm that removed targets returns to OK, those targets come back. The group's open
//! `removal#` records whose trigger is this alarm name them (with their port, and zone for IP targets);
//! `RESTORE=auto` registers them again (one `RegisterTargets`; the load balancer's health checks then decide
//! when they serve) and `end` closes the records; `RESTORE=manual` notifies a person with the `restore`
//! command to run and leaves the records open. A target that no longer exists (AWS answers `InvalidTarget`:
//! a terminated instance) is a logged skip listed in the notification, found by registering the targets one
//! by one after the batch was refused; its removal is closed all the same. A target registered again
//! already (by a person) is not registered twice. Closing the last open record of the group's incident, the
//! notification carries the incident's durations ([`super::timeline::closing`]).
//!
//! A target removed twice within `FLAP_WINDOW_MINUTES` (or taken out again after its hold) stays out, and the
//! notification says so with the `restore` command ([`hold::stays_out`]). An alarm whose metric the removal
//! itself silences holds its targets out instead ([`hold::start`]: `RESTORE_HOLD_MINUTES`), and the schedule's
//! tick registers them once the hold has passed ([`super::tick`]).
//!
//! AWS calls (`RESTORE=auto`, not a dry run): `begin` (one ledger `TransactWriteItems`), one `RegisterTargets`
//! (then one per target when AWS refuses the batch), `end` (one more). A failback of the same OK follows in a
//! new attempt on the ledger as this left it ([`super::alarm`]).

use failover_core::ledger::{Record, Snapshot, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::ledger::{open, removed_targets};
use super::{hold, Context};
use crate::config::Restore;
use crate::decide::GroupView;
use crate::model::{group_name, Target};
use crate::ports::{LoadBalancer, Ports};
use crate::report::{self, action, count, join};

/// The AWS error code of a target that cannot be registered (not running, does not exist).
const INVALID_TARGET: &str = "InvalidTarget";

/// The group's open removal records made by this trigger (`alarm <name>`).
pub fn removals_by<'s>(snapshot: &'s Snapshot, trigger: &str) -> Vec<&'s Record> {
    snapshot
        .records
        .iter()
        .filter(|r| open(r) && r.key.starts_with("removal#"))
        .filter(|r| r.data.get("trigger").and_then(|t| t.as_str()) == Some(trigger))
        .collect()
}

pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    view: GroupView<'_>,
    snapshot: &Snapshot,
    removals: &[&Record],
    silenced: bool,
    dry_run: bool,
) -> Step<Vec<Report>> {
    let arn = view.arn;
    let name = group_name(arn);
    // A removal registered again after its hold is the tick's to confirm ([`super::tick`]).
    let removals: Vec<&Record> =
        removals.iter().copied().filter(|r| hold::secs(r, hold::RETURNED_AT).is_none()).collect();
    let outs: Vec<Vec<(Target, String)>> = removals.iter().map(|r| hold::stays_out(ctx, snapshot, r)).collect();
    let mut out: Vec<(Target, String)> = outs.iter().flatten().cloned().collect();
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    let mut removed: Vec<Target> = removals.iter().flat_map(|r| removed_targets(r)).collect();
    removed.retain(|t| !out.iter().any(|(o, _)| o == t));
    removed.sort();
    removed.dedup();
    let (back, wanted): (Vec<Target>, Vec<Target>) =
        removed.into_iter().partition(|t| view.targets.iter().any(|h| !h.state.leaving() && h.target.matches(t)));
    let mut restore = report::command("restore", arn);
    restore["targets"] = json!(wanted);
    let list = join(wanted.iter());
    let out_text = hold::out_text(arn, &out).map(|text| format!(" {text}.")).unwrap_or_default();
    if ctx.config.restore == Restore::Manual && !wanted.is_empty() {
        let title = format!("{name}: {} ready to come back", count(wanted.len(), "target"));
        return Ok(vec![report::about(arn, action::REGISTER, Outcome::Info, Severity::Warning, title)
            .summary(format!(
                "The alarm that removed {list} from {arn} is OK again; RESTORE=manual, so they stay out until a \
                 person registers them again.{out_text}"
            ))
            .details(json!({"targets": wanted, "registered_already": back}))
            .steps([format!("Register them again with the manual command {restore}")])]);
    }
    if dry_run {
        let title = format!("{name}: would register {} again", count(wanted.len(), "target"));
        return Ok(vec![report::about(arn, action::REGISTER, Outcome::DryRun, Severity::Info, title)
            .summary(format!("Dry run: {list} would be registered in {arn} again; nothing was changed."))
            .details(json!({"targets": wanted}))]);
    }
    if silenced && ctx.config.restore_hold_minutes > 0 && !wanted.is_empty() {
        let held: Vec<&Record> =
            removals.iter().zip(&outs).filter(|(r, o)| removed_targets(r).len() > o.len()).map(|(r, _)| *r).collect();
        return hold::start(ctx, arn, snapshot, &held, &wanted, &out).await;
    }
    if wanted.is_empty() && !out.is_empty() {
        let title = format!("{name}: {} out until restored", count(out.len(), "target"));
        return Ok(vec![report::about(arn, action::REGISTER, Outcome::Info, Severity::Warning, title)
            .summary(format!("The alarm that removed them from {arn} is OK.{out_text}"))
            .details(json!({"stays_out": out.iter().map(|(t, _)| t).collect::<Vec<_>>()}))]);
    }
    let planned = format!("register {list} in {arn} again");
    if let Some(refusal) = ctx.begin(snapshot, &[], action::REGISTER, &planned).await? {
        return Ok(vec![refusal]);
    }
    let registered = register(ctx, arn, &wanted).await;
    let close: Vec<_> = match &registered {
        Ok(_) => removals.iter().zip(&outs).map(|(r, out)| hold::after_return(ctx, r, out)).collect(),
        Err(_) => Vec::new(),
    };
    let closed = super::timeline::closing(ctx, snapshot, &close);
    let ended = ctx.end(arn, &close, &[]).await;
    let missing = match registered {
        Ok(missing) => missing,
        Err(e) => return Ok(vec![report::failed(Some(arn), action::REGISTER, &e, "registering targets again")]),
    };
    if let Err(e) = ended {
        let doing = "closing the removal records (targets were registered again)";
        return Ok(vec![report::fault(Some(arn), action::REGISTER, &e, doing)]);
    }
    for target in &missing {
        tracing::warn!(target_group = %arn, target = %target, "skipping a removed target that no longer exists");
    }
    let done: Vec<&Target> = wanted.iter().filter(|t| !missing.contains(t)).collect();
    if done.is_empty() && missing.is_empty() {
        let reason = format!("alarm OK: the targets it removed are registered already ({})", join(back.iter()));
        return Ok(vec![report::skipped(Some(arn), action::REGISTER, reason)]);
    }
    let stays: Vec<&Target> = out.iter().map(|(t, _)| t).collect();
    let details = json!({"targets": done, "missing": missing, "registered_already": back, "stays_out": stays});
    let gone = if missing.is_empty() {
        String::new()
    } else {
        format!(" {} no longer exist and were skipped.", join(missing.iter()))
    };
    let (outcome, severity) =
        if done.is_empty() { (Outcome::Info, Severity::Warning) } else { (Outcome::Succeeded, Severity::Info) };
    let title = format!("{name}: {} registered again", count(done.len(), "target"));
    let report = report::about(arn, action::REGISTER, outcome, severity, title)
        .summary(format!(
            "The alarm that removed them is OK: {} registered in {arn} again. They receive traffic once they pass \
             the group's health checks.{gone}{out_text}",
            join(done.iter())
        ))
        .details(details)
        .steps([format!("Watch the group's health: {}", report::command("status", arn))]);
    Ok(vec![failover_core::timeline::with_recovery(report, closed)])
}

/// Registers the targets; `Ok` with those that no longer exist (one call, then one per target when AWS
/// refused the batch for an invalid target).
pub async fn register<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    wanted: &[Target],
) -> Result<Vec<Target>, failover_core::aws::AwsError> {
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    match ctx.lb.register(arn, wanted).await {
        Ok(()) => return Ok(Vec::new()),
        Err(e) if e.code.as_deref() != Some(INVALID_TARGET) => return Err(e),
        Err(_) => {}
    }
    let mut missing = Vec::new();
    for target in wanted {
        match ctx.lb.register(arn, std::slice::from_ref(target)).await {
            Ok(()) => {}
            Err(e) if e.code.as_deref() == Some(INVALID_TARGET) => missing.push(target.clone()),
            Err(e) => return Err(e),
        }
    }
    Ok(missing)
}
