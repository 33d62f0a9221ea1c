//! Deregister: take the accused targets the guardrail allows out of the group (one `DeregisterTargets`),
//! and report the ones it keeps as a refusal beside the change.

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::Ctx;
use crate::decide::{Counts, Kept};
use crate::model::{group_name, Tags, Target, TargetHealth};
use crate::ports::LoadBalancer;
use crate::report::{self, action, count, join};

#[allow(clippy::too_many_arguments)]
pub async fn run<L: LoadBalancer>(
    ctx: &Ctx<'_, L>,
    arn: &str,
    tags: &Tags,
    targets: &[TargetHealth],
    kept: &[Kept],
    counts: Counts,
    healthy_after: usize,
    dry_run: bool,
) -> Vec<Report> {
    let mut reports = vec![deregister(ctx, arn, targets, counts, healthy_after, dry_run).await];
    if !kept.is_empty() {
        let reason = format!(
            "{} accused targets stay in service: the group would fall below its floor of {}",
            kept.len(),
            counts.required()
        );
        reports.push(report::refusal(arn, action::DEREGISTER, Severity::Critical, &reason, kept, Some(counts), tags));
    }
    reports
}

async fn deregister<L: LoadBalancer>(
    ctx: &Ctx<'_, L>,
    arn: &str,
    targets: &[TargetHealth],
    counts: Counts,
    healthy_after: usize,
    dry_run: bool,
) -> Report {
    let name = group_name(arn);
    let list = join(targets.iter().map(|t| format!("{} ({})", t.target, t.state.as_str())));
    let remaining = counts.registered - targets.len();
    let numbers = format!(
        "{healthy_after} of the {remaining} remaining targets are healthy (floor {}; {} of {} before)",
        counts.floor, counts.healthy, counts.registered
    );
    let details = json!({
        "targets": targets,
        "counts_before": counts,
        "healthy_after": healthy_after,
        "registered_after": remaining,
    });
    let plain: Vec<Target> = targets.iter().map(|t| t.target.clone()).collect();
    if dry_run {
        let title = format!("{name}: would deregister {}", count(targets.len(), "target"));
        return report::about(arn, action::DEREGISTER, Outcome::DryRun, Severity::Info, title)
            .summary(format!("Dry run: {list} would be deregistered from {arn}; {numbers}. Nothing was changed."))
            .details(details);
    }
    if let Err(e) = ctx.lb.deregister(arn, &plain).await {
        return report::failed(Some(arn), action::DEREGISTER, &e, "deregistering targets");
    }
    let mut restore = report::command("restore", arn);
    restore["targets"] = json!(plain);
    let title = format!("{name}: {} deregistered", count(targets.len(), "target"));
    report::about(arn, action::DEREGISTER, Outcome::Succeeded, Severity::Warning, title)
        .summary(format!(
            "Deregistered {list} from {arn}: {numbers}. New requests stop at once; requests in flight drain for \
             the group's deregistration delay."
        ))
        .details(details)
        .steps([
            format!("Find out why {} failed (instance logs, the alarm's metric).", join(plain.iter())),
            format!("Once repaired, put them back with the manual command {restore}"),
            "If an Auto Scaling group owns them, replace them instead (terminate, or set them Unhealthy).".to_owned(),
        ])
}
