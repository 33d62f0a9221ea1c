//! Restore (manual command): register the named targets in the group again (one `RegisterTargets`).

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::Ctx;
use crate::decide::{Counts, GroupView};
use crate::model::{group_name, Target};
use crate::ports::LoadBalancer;
use crate::report::{self, action, join};

pub async fn run<L: LoadBalancer>(
    ctx: &Ctx<'_, L>,
    view: GroupView<'_>,
    wanted: &[Target],
    dry_run: bool,
) -> Vec<Report> {
    let arn = view.arn;
    if !view.opted_in() {
        let reason = format!("not opted in (tag {}=true missing)", view.opt_in_tag_key);
        return vec![report::skipped(Some(arn), action::REGISTER, reason)];
    }
    let list = join(wanted.iter());
    let details = json!({"targets": wanted, "counts_before": Counts::of(view.targets, ctx.floor())});
    if dry_run {
        let title = format!("{}: would register {}", group_name(arn), list);
        return vec![report::about(arn, action::REGISTER, Outcome::DryRun, Severity::Info, title)
            .summary(format!("Dry run: {list} would be registered in {arn}; nothing was changed."))
            .details(details)];
    }
    if let Err(e) = ctx.lb.register(arn, wanted).await {
        return vec![report::failed(Some(arn), action::REGISTER, &e, "registering targets")];
    }
    let title = format!("{}: registered {}", group_name(arn), list);
    vec![report::about(arn, action::REGISTER, Outcome::Succeeded, Severity::Info, title)
        .summary(format!("{list} registered in {arn}. They receive traffic once they pass the group's health checks."))
        .details(details)
        .steps([format!("Watch the group's health: {}", report::command("status", arn))])]
}
