//! Failback: restore the weights saved before a shift. Facts: the listener actions forwarding to the group
//! and their opt-in; then [`decide::plan_failback`]; then each restored action is re-weighted and only
//! *after* that are its saved-weights tags removed (one `RemoveTags`), so an interrupted failback completes
//! on the next event. With `FAILBACK=manual` an alarm's OK only announces that the group is ready.

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::Ctx;
use crate::config::Failback;
use crate::decide::{self, Counts};
use crate::model::{group_name, saved_weights, Tags, SAVED_WEIGHTS_PREFIX};
use crate::ports::LoadBalancer;
use crate::report::{self, action, add_tag_step, count, describe_changes, join, not_opted_in_text};

pub async fn run<L: LoadBalancer>(
    ctx: &Ctx<'_, L>,
    arn: &str,
    tags: &Tags,
    counts: Counts,
    backup: Option<&str>,
    dry_run: bool,
    mode: Failback,
) -> Vec<Report> {
    let name = group_name(arn);
    let forwarding = match ctx.forwarding(arn).await {
        Ok(forwarding) => forwarding,
        Err((e, doing)) => return vec![report::failed(Some(arn), action::FAILBACK, &e, doing)],
    };
    let plan = decide::plan_failback(&forwarding.actions, arn, backup, &saved_weights(tags), &forwarding.opted_in);
    let details = json!({
        "counts": counts,
        "backup": backup,
        "changes": plan.changes,
        "conflicts": plan.conflicts,
        "not_opted_in": plan.not_opted_in,
        "stale_saved_weights": plan.stale_keys,
    });
    let failback_command = report::command("failback", arn);
    // Actions left for a person: notified as refused, with what to do.
    let left_alone = |title: String, summary: String, steps: Vec<String>| {
        report::about(arn, action::FAILBACK, Outcome::Refused, Severity::Warning, title)
            .summary(summary)
            .details(details.clone())
            .steps(steps)
    };
    let mut reports = Vec::new();
    if !plan.not_opted_in.is_empty() {
        let key = ctx.opt_in_key();
        reports.push(left_alone(
            format!("{name}: {} not opted in, not restored", count(plan.not_opted_in.len(), "listener action")),
            format!(
                "Not restored: {}. Their saved weights stay in the tags {SAVED_WEIGHTS_PREFIX}* of {name}.",
                not_opted_in_text(key, &plan.not_opted_in),
            ),
            vec![
                add_tag_step(key, &plan.not_opted_in),
                format!("Then fail back with the manual command {failback_command}"),
            ],
        ));
    }
    if !plan.conflicts.is_empty() {
        let list = join(plan.conflicts.iter().map(|(location, why)| format!("{location}: {why}")));
        reports.push(left_alone(
            format!("{name}: {} changed since the shift", count(plan.conflicts.len(), "listener action")),
            format!("Not restored automatically, because they changed since the shift: {list}."),
            vec![format!(
                "Set the weights by hand; the saved ones are in the tags {SAVED_WEIGHTS_PREFIX}* of {name}, remove \
                 them afterwards."
            )],
        ));
    }
    if plan.changes.is_empty() {
        if !plan.stale_keys.is_empty() && !dry_run {
            if let Err(e) = ctx.lb.remove_tags(arn, &plan.stale_keys).await {
                reports.push(report::failed(Some(arn), action::FAILBACK, &e, "removing stale saved weights"));
            }
        }
        if reports.is_empty() {
            reports.push(report::skipped(Some(arn), action::FAILBACK, "nothing to fail back"));
        }
        return reports;
    }
    let restored = describe_changes(&plan.changes);
    let numbers = format!("{} of {} targets healthy, floor {}", counts.healthy, counts.registered, counts.floor);
    if mode == Failback::Manual {
        reports.push(
            report::about(
                arn,
                action::FAILBACK,
                Outcome::Info,
                Severity::Warning,
                format!("{name}: ready to fail back"),
            )
            .summary(format!(
                "{name} is healthy again ({numbers}); FAILBACK=manual, so traffic stays on the backup until a \
                     person restores: {restored}."
            ))
            .details(details)
            .steps([format!("Fail back with the manual command {failback_command}")]),
        );
        return reports;
    }
    if dry_run {
        reports.push(
            report::about(arn, action::FAILBACK, Outcome::DryRun, Severity::Info, format!("{name}: would fail back"))
                .summary(format!("Dry run: {name} is healthy again ({numbers}); would restore {restored}."))
                .details(details),
        );
        return reports;
    }
    if let Err((e, done)) = ctx.set_weights(&forwarding, &plan.changes).await {
        let location = &plan.changes[done].location;
        let doing = format!("restoring {location} ({done} of {} actions already restored)", plan.changes.len());
        reports.push(report::failed(Some(arn), action::FAILBACK, &e, &doing));
        return reports;
    }
    let keys: Vec<String> = plan.restored_keys.iter().chain(&plan.stale_keys).cloned().collect();
    if let Err(e) = ctx.lb.remove_tags(arn, &keys).await {
        reports.push(report::failed(
            Some(arn),
            action::FAILBACK,
            &e,
            "removing the saved weights after restoring them",
        ));
        return reports;
    }
    reports.push(
        report::about(arn, action::FAILBACK, Outcome::Succeeded, Severity::Info, format!("{name}: traffic restored"))
            .summary(format!("{name} is healthy again ({numbers}): restored {restored}."))
            .details(details),
    );
    reports
}
