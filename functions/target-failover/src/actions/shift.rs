//! Shift: move a failing group's traffic to its backup group. Facts, in stages: the backup's health (it must
//! be able to serve), then the listener actions forwarding to the group and their opt-in. Then
//! [`decide::plan_shift`] and its [`ShiftVerdict`]; then the weights are saved as tags on the failing group
//! (one `AddTags`) *before* any listener or rule is changed, so an interrupted shift completes on the next
//! event and saved weights are never overwritten by shifted ones.

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::Ctx;
use crate::config::Failback;
use crate::decide::{self, Counts, Kept, ShiftVerdict};
use crate::model::{group_name, saved_weights, Tags, BACKUP_TAG, SAVED_WEIGHTS_PREFIX};
use crate::ports::LoadBalancer;
use crate::report::{self, action, add_tag_step, count, describe_changes, not_opted_in_text};

/// Why the group is failing over: what [`crate::decide::Plan::ShiftTraffic`] says.
pub struct Failing<'a> {
    pub backup: &'a str,
    pub counts: Counts,
    pub why: &'a str,
    pub kept: &'a [Kept],
}

pub async fn run<L: LoadBalancer>(
    ctx: &Ctx<'_, L>,
    arn: &str,
    tags: &Tags,
    failing: Failing<'_>,
    dry_run: bool,
) -> Report {
    let Failing { backup, counts, why, kept } = failing;
    let name = group_name(arn);
    let refused = |title: String, summary: String, details: Value| {
        report::about(arn, action::SHIFT, Outcome::Refused, Severity::Critical, title).summary(summary).details(details)
    };
    let backup_targets = match ctx.lb.target_health(backup).await {
        Ok(Some(targets)) => targets,
        Ok(None) => {
            return refused(
                format!("{name}: cannot serve, and its backup group does not exist"),
                format!("{name} cannot serve ({why}); its tag {BACKUP_TAG} names {backup}, which does not exist."),
                json!({"counts": counts, "backup": backup}),
            )
            .steps(["Fix the backup tag, or restore capacity in the group.".to_owned()])
        }
        Err(e) => return report::failed(Some(arn), action::SHIFT, &e, "reading the backup group's health"),
    };
    let backup_counts = match decide::backup_ready(&backup_targets, ctx.floor()) {
        Ok(c) => c,
        Err(c) => {
            return refused(
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
            .steps(["Restore capacity in either group; nothing was changed.".to_owned()])
        }
    };
    let forwarding = match ctx.forwarding(arn).await {
        Ok(forwarding) => forwarding,
        Err((e, doing)) => return report::failed(Some(arn), action::SHIFT, &e, doing),
    };
    let plan = decide::plan_shift(&forwarding.actions, arn, backup, &saved_weights(tags), &forwarding.opted_in);
    let details = json!({
        "counts": counts,
        "backup": backup,
        "backup_counts": backup_counts,
        "changes": plan.changes,
        "already_shifted": plan.already_shifted,
        "conflicts": plan.conflicts,
        "not_opted_in": plan.not_opted_in,
        "kept_targets": kept,
    });
    let key = ctx.opt_in_key();
    let shift_again = report::command("shift", arn);
    let partly = match plan.verdict() {
        ShiftVerdict::Shift { partly } => partly,
        ShiftVerdict::RefuseNotOptedIn => {
            let left_out = &plan.not_opted_in;
            return refused(
                format!("{name}: shift refused, {} not opted in", count(left_out.len(), "listener action")),
                format!(
                    "{name} cannot serve ({why}) and its traffic could move to {backup}, but every listener action \
                     that forwards to it is left out: {}. Nothing was changed and no weights were saved.",
                    not_opted_in_text(key, left_out)
                ),
                details,
            )
            .steps([
                add_tag_step(key, left_out),
                format!("Then shift with the manual command {shift_again} (or wait for the alarm to repeat)."),
                format!("Or restore capacity in {name}."),
            ]);
        }
        ShiftVerdict::AlreadyShifted => {
            return report::skipped(Some(arn), action::SHIFT, format!("traffic already shifted to {backup}"))
        }
        ShiftVerdict::NothingForwards => {
            return refused(
                format!("{name}: cannot serve, and no listener forwards to it"),
                format!(
                    "{name} cannot serve ({why}), but no listener default action or rule sends it traffic that \
                     could move to {backup}."
                ),
                details,
            )
            .steps(["Restore capacity in the group; check which listener uses it.".to_owned()])
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
        return report::about(arn, action::SHIFT, Outcome::DryRun, Severity::Info, title)
            .summary(format!(
                "Dry run: {name} cannot serve ({why}); would change {moved}.{left_out} Nothing was changed."
            ))
            .details(details);
    }
    if let Err(e) = ctx.lb.add_tags(arn, &plan.save).await {
        return report::failed(Some(arn), action::SHIFT, &e, "saving the current weights (nothing was shifted)");
    }
    if let Err((e, done)) = ctx.set_weights(&forwarding, &plan.changes).await {
        let location = &plan.changes[done].location;
        let doing = format!("shifting {location} ({done} of {} actions already shifted)", plan.changes.len());
        return report::failed(Some(arn), action::SHIFT, &e, &doing);
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
    report::about(arn, action::SHIFT, Outcome::Succeeded, Severity::Critical, title)
        .summary(format!(
            "{name} cannot serve ({why}), so its traffic moved to {backup} ({} of {} targets healthy): {moved}. \
             The previous weights are saved in tags {SAVED_WEIGHTS_PREFIX}* on {name}.{left_out}",
            backup_counts.healthy, backup_counts.registered,
        ))
        .details(details)
        .steps(rest.into_iter().flatten().chain([
            format!("Restore capacity in {name}; the backup {} now takes its traffic.", group_name(backup)),
            failback,
        ]))
}
