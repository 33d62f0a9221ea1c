//! Deregister: take the accused targets the guardrail allows out of the group (one `DeregisterTargets`),
//! and report the ones it keeps as a refusal beside the change. The removal is recorded in the ledger as one
//! record (`removal#<invocation>`: the targets, the trigger, the group's registered count before, and the
//! incident's capacity baseline: for the first open removal the group's capacity, `initial` targets included
//! ([`decide::capacity`]), the earlier one's after), pending at
//! `begin` and done at `end`; a record an interrupted removal left pending is done once its targets are gone,
//! and abandoned when they are all still registered (the call was never made).
//!
//! AWS calls: a planned removal first reads the group's `target_group_health` thresholds (one
//! `DescribeTargetGroupAttributes`, only then: they may raise the floor, [`removal_plan`]); an alarm's removal
//! then looks at its zones ([`super::zonal::zone_watch`]). The change itself: `begin` (one ledger
//! `TransactWriteItems`), one `DeregisterTargets`, with `REPLACE_INSTANCES=true` the hand-over of its instances
//! to Auto Scaling ([`super::replace`]: its reads before `begin`, its marks after the removal), then `end` (one more `TransactWriteItems`). A dry run makes none of
//! the writes.

use failover_core::aws::AwsError;
use failover_core::ledger::{Settle, Snapshot, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::ledger::{removal_key, removed_targets, settle_from};
use super::{owed, replace, Context};
use crate::decide::{self, Candidates, Counts, Floor, GroupView, Kept, Plan};
use crate::model::{group_name, HealthThresholds, Tags, Target, TargetHealth};
use crate::ports::{LoadBalancer, Ports};
use crate::report::{self, action, count, join};

/// What [`crate::decide::Plan::Deregister`] says.
pub struct Change<'a> {
    pub targets: &'a [TargetHealth],
    pub kept: &'a [Kept],
    pub counts: Counts,
    pub healthy_after: usize,
    /// The group's targets as read (to tell which removals an interrupted run made).
    pub registered: &'a [TargetHealth],
}

pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    tags: &Tags,
    snapshot: &Snapshot,
    change: Change<'_>,
    dry_run: bool,
) -> Step<Vec<Report>> {
    let Change { kept, counts, .. } = change;
    let mut reports = deregister(ctx, arn, snapshot, &change, dry_run).await?;
    if !kept.is_empty() {
        let reason = match kept.iter().find_map(|k| k.zone.as_deref()) {
            Some(zone) => format!(
                "{} accused targets stay in service: removing them would leave zone {zone}, which takes traffic, \
                 with no serving target or below its own floor, or the group below its floor of {}",
                kept.len(),
                counts.required()
            ),
            None => format!(
                "{} accused targets stay in service: the group would fall below its floor of {}",
                kept.len(),
                counts.required()
            ),
        };
        reports.push(report::refusal(arn, action::DEREGISTER, Severity::Critical, &reason, kept, Some(counts), tags));
    }
    Ok(reports)
}

async fn deregister<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    snapshot: &Snapshot,
    change: &Change<'_>,
    dry_run: bool,
) -> Step<Vec<Report>> {
    let Change { targets, counts, healthy_after, .. } = *change;
    let name = group_name(arn);
    let list = join(targets.iter().map(|t| format!("{} ({})", t.target, t.state.as_str())));
    let remaining = counts.registered_after(targets);
    let numbers = format!(
        "{healthy_after} of the {remaining} remaining targets are healthy (floor {}; {} of {} before{})",
        counts.floor,
        counts.healthy,
        counts.registered,
        counts.shifted_text()
    );
    let mut details = json!({
        "targets": targets,
        "counts_before": counts,
        "healthy_after": healthy_after,
        "registered_after": remaining,
    });
    let plain: Vec<Target> = targets.iter().map(|t| t.target.clone()).collect();
    if dry_run {
        let title = format!("{name}: would deregister {}", count(targets.len(), "target"));
        return Ok(vec![report::about(arn, action::DEREGISTER, Outcome::DryRun, Severity::Info, title)
            .summary(format!("Dry run: {list} would be deregistered from {arn}; {numbers}. Nothing was changed."))
            .details(details)]);
    }
    let data = json!({
        "targets": plain,
        "trigger": ctx.trigger,
        "registered_before": counts.registered,
        "baseline": counts.baseline.unwrap_or_else(|| decide::capacity(change.registered)),
    });
    let mut records = ctx.records(snapshot, [(removal_key(snapshot, ctx.session.owner), data)]);
    let made_before: Vec<_> = interrupted(snapshot, change.registered)
        .into_iter()
        .filter(|s| !records.settle.iter().any(|known| known.key == s.key))
        .collect();
    // What an interrupted run of this event made is told with this removal, once settled.
    let told_before = owed::completed(ctx, arn, snapshot, &made_before);
    records.settle.extend(made_before);
    let ids: Vec<String> = plain.iter().map(|t| t.id.clone()).collect();
    // The hand-over's facts, read beside the removal (never before it: the failing targets leave service first);
    // it decides on them once the removal is made.
    let wanted = replace::wanted(ctx, &ids);
    let facts = async {
        if wanted {
            Some(replace::facts(ctx, &ids, &[]).await)
        } else {
            None
        }
    };
    let planned = format!("deregister {list} from {arn}");
    let change = async {
        Ok(match ctx.begin(snapshot, &records.begin, action::DEREGISTER, &planned).await? {
            Some(refusal) => Removal::Refused(Box::new(refusal)),
            None => Removal::Made(ctx.lb.deregister(arn, &plain).await),
        })
    };
    let (change, facts): (Step<Removal>, _) = futures::join!(change, facts);
    let removed = match change? {
        Removal::Refused(refusal) => return Ok(vec![*refusal]),
        Removal::Made(removed) => removed,
    };
    if removed.is_ok() {
        ctx.handover.removed(arn, &ids);
    }
    let replaced = match (&removed, facts) {
        (Ok(()), Some(facts)) => Some(replace::act(ctx, arn, facts).await),
        _ => None,
    };
    let mut settle = records.settle(ctx.session.owner, |_| removed.is_ok());
    if let (Some(replaced), Some(new)) = (&replaced, records.begin.first()) {
        let mut data = new.data.clone();
        data[replace::FIELD] = replaced.data(&serde_json::Value::Null);
        settle.iter_mut().filter(|s| s.key == new.key).for_each(|s| s.data = Some(data.clone()));
        details[replace::FIELD] = replaced.data(&serde_json::Value::Null);
    }
    let ended = ctx.end(arn, &settle, &[]).await;
    if let Err(e) = removed {
        return Ok(vec![report::failed(Some(arn), action::DEREGISTER, &e, "deregistering targets")]);
    }
    let after = replaced.as_ref().map(|r| replace::reports(arn, r)).unwrap_or_default();
    if let Err(e) = ended {
        let doing = "recording the removal (targets were deregistered)";
        return Ok([report::fault(Some(arn), action::DEREGISTER, &e, doing)].into_iter().chain(after).collect());
    }
    let mut restore = report::command("restore", arn);
    restore["targets"] = json!(plain);
    let title = format!("{name}: {} deregistered", count(targets.len(), "target"));
    let removal = report::about(arn, action::DEREGISTER, Outcome::Succeeded, Severity::Warning, title)
        .summary(format!(
            "Deregistered {list} from {arn}: {numbers}. New requests stop at once; requests in flight drain for \
             the group's deregistration delay."
        ))
        .details(details)
        .steps([
            format!("Find out why {} failed (instance logs, the alarm's metric).", join(plain.iter())),
            format!("Once repaired, put them back with the manual command {restore}"),
            match replaced.as_ref().filter(|r| !r.handed.is_empty()) {
                Some(r) => format!("Auto Scaling replaces {}.", join(r.handed.iter().map(|h| &h.instance))),
                None => "If an Auto Scaling group owns them, replace them instead (terminate, or set them Unhealthy)."
                    .to_owned(),
            },
        ]);
    Ok([removal].into_iter().chain(after).chain(told_before).collect())
}

/// The alarm's plan; when it removes targets, again with the group's own `target_group_health` thresholds
/// raising the floor (one `DescribeTargetGroupAttributes`, only then). `Err` is the failure report.
pub async fn removal_plan<P: Ports>(
    ctx: &Context<'_, P>,
    view: GroupView<'_>,
    candidates: Candidates<'_>,
    floor: Floor,
) -> Result<Plan, Report> {
    removal_plan_with(ctx, view, candidates, floor, None).await
}

/// [`removal_plan`], with the group's thresholds when they were read already (`known`).
pub async fn removal_plan_with<P: Ports>(
    ctx: &Context<'_, P>,
    view: GroupView<'_>,
    candidates: Candidates<'_>,
    floor: Floor,
    known: Option<Result<Option<HealthThresholds>, AwsError>>,
) -> Result<Plan, Report> {
    let plan = decide::on_alarm(view, candidates, floor);
    if !matches!(plan, Plan::Deregister { .. }) {
        return Ok(plan);
    }
    let thresholds = match known {
        Some(read) => read,
        None => ctx.health_thresholds(view.arn).await,
    };
    match thresholds {
        Ok(None) => Ok(plan),
        Ok(Some(thresholds)) => Ok(decide::on_alarm(view, candidates, floor.with_group((&thresholds).into()))),
        Err(e) => Err(report::failed(Some(view.arn), action::DEREGISTER, &e, "reading the group's health thresholds")),
    }
}

/// What an interrupted run left pending, settled from the facts: done when one of its targets is gone (the
/// one `DeregisterTargets` was made), abandoned when all are still registered (it never was).
pub fn interrupted(snapshot: &Snapshot, registered: &[TargetHealth]) -> Vec<Settle> {
    snapshot
        .records
        .iter()
        .filter(|r| r.state == State::Pending && r.key.starts_with("removal#"))
        .map(|r| {
            let targets = removed_targets(r);
            let made = targets.is_empty() || targets.iter().any(|t| !still_registered(registered, t));
            settle_from(r, if made { State::Done } else { State::Abandoned })
        })
        .collect()
}

/// Whether the target is still registered (and not leaving) among the group's targets.
fn still_registered(registered: &[TargetHealth], target: &Target) -> bool {
    registered.iter().any(|t| !t.state.leaving() && t.target.matches(target))
}

/// How a removal's `begin` and `DeregisterTargets` went: refused at `begin` (paused), or the call's answer.
enum Removal {
    Refused(Box<Report>),
    Made(Result<(), AwsError>),
}
