//! An alarm: a stale event is skipped ([`super::transitions`]); a per-zone alarm goes to [`super::zonal`];
//! otherwise each opted-in group it concerns is decided and acted on independently, inside the ledger attempt
//! loop of its group ([`super::Context::on_group`]), [`MAX_CONCURRENT_GROUPS`] at a time. However many groups
//! an event touches, it publishes one notification ([`crate::digest`]).
//!
//! AWS calls, in order:
//! - the alarm's ledger (`alarm:<ARN>`, one `Query`) when the event has a state timestamp; a stale event stops
//!   there ([`super::transitions`]); otherwise the alarm's lease is taken (one `TransactWriteItems`) and held
//!   until the notification is out, then the transition is recorded and the lease released (one more);
//! - an instance alarm (`InstanceId` only): `DescribeTargetGroups` (every group, paginated);
//! - one `DescribeTags` per 20 groups (a group not opted in costs nothing more);
//! - per opted-in group: one ledger `Query` (again after each wait or start-over: [`super::ledger`]), then
//!   `DescribeTargetHealth`, except for an OK on a group with no open shift record and no open removal by this
//!   alarm, which stops after the `Query`; then what its plan's action calls ([`super::plan`]): a removal
//!   ([`super::deregister`], first [`super::zonal::zone_watch`]), a shift ([`super::shift`]), a failback
//!   ([`super::failback`]), or on the OK the targets this alarm removed registered again ([`super::reinstate`]);
//! - with `REPLACE_INSTANCES=true`, while a removal whose instances were all handed to Auto Scaling is open, one
//!   `DescribeAutoScalingInstances` first, and its record closed once they are gone ([`super::replace`]).

use failover_core::ledger::{Snapshot, Step};
use failover_core::{outcome::Outcome, report::Report};
use futures::stream::{self, StreamExt};

use super::{ledger, owed, reinstate, replace, transitions, zonal, Context};
use crate::decide::{self, Candidates};
use crate::model::{Tags, Target};
use crate::ports::{LoadBalancer, Ports};
use crate::report::{self, action};
use crate::route::AlarmRoute;

/// Groups decided and acted on at once: enough for an instance registered in a few groups, few enough to
/// stay clear of the ELB API's rate limits.
pub const MAX_CONCURRENT_GROUPS: usize = 4;

/// An alarm: a stale event is skipped ([`transitions`]); otherwise each group it concerns is decided and acted
/// on independently, [`MAX_CONCURRENT_GROUPS`] at once. The alarm's ledger and the groups' tags are read at
/// once (they do not depend on each other; a stale event wastes one `DescribeTags`). The transition to record
/// once the event's notification is out comes back beside the reports ([`transitions::record`]).
pub async fn on_alarm<P: Ports>(ctx: &Context<'_, P>, route: AlarmRoute) -> (Vec<Report>, transitions::Seen) {
    if route.zone.is_some() {
        return match transitions::check(ctx, &route).await {
            Ok(seen) => (zonal::on_alarm(ctx, &route, !seen.notified).await, seen),
            Err(report) => (vec![report], transitions::Seen::nothing()),
        };
    }
    match futures::join!(transitions::check(ctx, &route), tagged_groups(ctx, &route)) {
        (Ok(seen), Ok(tagged)) => (on_alarm_groups(ctx, route, tagged, !seen.notified).await, seen),
        (Ok(seen), Err(report)) => (vec![report], seen),
        (Err(report), _) => (vec![report], transitions::Seen::nothing()),
    }
}

/// The groups the alarm names, or every instance group (`DescribeTargetGroups`), with their tags.
async fn tagged_groups<P: Ports>(
    ctx: &Context<'_, P>,
    route: &AlarmRoute,
) -> Result<Vec<(String, Option<Tags>)>, Report> {
    let arns = match &route.groups {
        Some(arns) => arns.clone(),
        None => ctx
            .lb
            .instance_groups()
            .await
            .map_err(|e| report::failed(None, action::ALARM, &e, "listing target groups"))?,
    };
    ctx.lb.tags(&arns).await.map_err(|e| report::failed(None, action::ALARM, &e, "reading target group tags"))
}

/// `owed`: whether a group's notification an interrupted run of this event owes is published ([`owed`]).
async fn on_alarm_groups<P: Ports>(
    ctx: &Context<'_, P>,
    route: AlarmRoute,
    tagged: Vec<(String, Option<Tags>)>,
    owed: bool,
) -> Vec<Report> {
    let mut reports: Vec<Report> =
        route.bad_dimensions.iter().map(|why| report::skipped(None, action::NONE, why.clone())).collect();
    let scope_all = route.groups.is_none();
    let mut jobs = Vec::new();
    let mut not_opted_in = 0;
    for (arn, tags) in tagged {
        match tags {
            None => reports.push(report::skipped(Some(&arn), action::NONE, "the target group does not exist")),
            Some(tags) if !failover_core::tags::opted_in(&tags, ctx.opt_in_key()) => {
                not_opted_in += 1;
                if !scope_all {
                    let reason = format!("not opted in (tag {}=true missing)", ctx.opt_in_key());
                    reports.push(report::skipped(Some(&arn), action::NONE, reason));
                }
            }
            Some(tags) => jobs.push((arn, tags)),
        }
    }
    let named = (!route.instances.is_empty()).then_some(route.instances.as_slice());
    let results: Vec<Vec<Report>> = stream::iter(jobs)
        .map(|(arn, tags)| alarm_group(ctx, arn, tags, route.recovered, named, owed))
        .buffer_unordered(MAX_CONCURRENT_GROUPS)
        .collect()
        .await;
    let mut results: Vec<Report> = results.into_iter().flatten().collect();
    if scope_all {
        // An instance alarm looks at every opted-in group; those without the instance are noise.
        let looked_at = results.len();
        results.retain(|r| r.outcome != Outcome::Skipped);
        if results.is_empty() {
            let ids = report::join(route.instances.iter());
            let reason =
                format!("nothing to do for {ids} in {looked_at} opted-in groups ({not_opted_in} groups not opted in)");
            reports.push(report::skipped(None, action::NONE, reason));
        }
    }
    reports.extend(results);
    reports
}

/// One group of an alarm, under the ledger protocol: ledger, facts, decision, change; again on fresh facts
/// when another invocation got there first.
async fn alarm_group<P: Ports>(
    ctx: &Context<'_, P>,
    arn: String,
    tags: Tags,
    recovered: bool,
    named: Option<&[Target]>,
    owed: bool,
) -> Vec<Report> {
    let intent = if recovered { action::FAILBACK } else { action::DEREGISTER };
    ctx.on_group(&arn, intent, async |snapshot| {
        alarm_group_once(ctx, &arn, &tags, recovered, named, &snapshot, owed).await
    })
    .await
}

async fn alarm_group_once<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    tags: &Tags,
    recovered: bool,
    named: Option<&[Target]>,
    snapshot: &Snapshot,
    owed: bool,
) -> Step<Vec<Report>> {
    let saved = if recovered { ledger::saved_by_alarms(snapshot) } else { ledger::saved_weights(snapshot) };
    let intent = if recovered { action::FAILBACK } else { action::DEREGISTER };
    if let Some(reports) = owed.then(|| owed::notifications(ctx, arn, snapshot, recovered)).filter(|r| !r.is_empty()) {
        return Ok(reports);
    }
    if let Some(reports) = replace::follow_up(ctx, arn, snapshot, recovered).await? {
        return Ok(reports);
    }
    let removals = if recovered { reinstate::removals_by(snapshot, ctx.trigger) } else { Vec::new() };
    if recovered && saved.is_empty() && removals.is_empty() {
        let reason = "alarm OK: no traffic was shifted away from this group and this alarm removed no target";
        return Ok(vec![report::skipped(Some(arn), action::NONE, reason)]);
    }
    let targets = match ctx.lb.target_health(arn).await {
        Ok(Some(targets)) => targets,
        Ok(None) => return Ok(vec![report::skipped(Some(arn), action::NONE, "the target group does not exist")]),
        Err(e) => return Ok(vec![report::failed(Some(arn), intent, &e, "reading target health")]),
    };
    let view = ctx.view(arn, tags, &targets);
    if !removals.is_empty() {
        // The targets this alarm removed come back first; a failback then starts on the ledger as it left it.
        let mut reports = reinstate::run(ctx, view, snapshot, &removals, ctx.config.common.dry_run).await?;
        if saved.is_empty() || ctx.config.common.dry_run {
            return Ok(reports);
        }
        let failback = ctx
            .on_group(arn, intent, async |after| {
                let plan = decide::on_ok(view, candidates_of(named), ctx.floor_in(&after), &saved);
                super::execute(ctx, view, &after, plan, intent, false, ctx.config.failback).await
            })
            .await;
        reports.extend(failback);
        return Ok(reports);
    }
    let candidates = candidates_of(named);
    let plan = if recovered {
        decide::on_ok(view, candidates, ctx.floor_in(snapshot), &saved)
    } else {
        return zonal::zone_watch::on_alarm(ctx, view, snapshot, candidates, intent).await;
    };
    super::execute(ctx, view, snapshot, plan, intent, ctx.config.common.dry_run, ctx.config.failback).await
}

fn candidates_of(named: Option<&[Target]>) -> Candidates<'_> {
    named.map_or(Candidates::Unhealthy, Candidates::Named)
}
