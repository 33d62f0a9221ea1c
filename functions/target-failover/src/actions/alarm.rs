//! An alarm: a stale event is skipped ([`super::transitions`]); a per-zone alarm goes to [`super::zonal`];
//! otherwise each opted-in group it concerns is decided and acted on independently, inside the ledger attempt
//! loop of its group ([`super::Context::on_group`]), [`MAX_CONCURRENT_GROUPS`] at a time. However many groups
//! an event touches, it publishes one notification ([`crate::digest`]).
//!
//! AWS calls, in order (calls on one line are made at once):
//! - the alarm's ledger (`alarm:<ARN>`, one `Query`) when the event has a state timestamp, the groups' tags
//!   (one `DescribeTags` per 20 groups; an instance alarm, `InstanceId` only, first lists every group with
//!   `DescribeTargetGroups`, paginated, which also gives each group's load balancers) and, for a group
//!   alarm, each named group's ledger (one `Query`); a stale event stops there ([`super::transitions`]);
//! - the alarm's lease (one `TransactWriteItems`, held until the notification is out; then the transition is
//!   recorded and the lease released, one more) and, beside it, each opted-in group's ledger when not read yet
//!   (an instance alarm's groups), then its `DescribeTargetHealth` when the ledger is free ([`Prefetched`]),
//!   and for a group alarm's ALARM on a group with no removal open, beside it the group's
//!   `DescribeTargetGroupAttributes` and `DescribeTargetGroups`, which its removal reads ([`super::reads`]);
//! - per opted-in group, in its attempt loop ([`super::ledger`]): its ledger `Query` when not read yet (again
//!   after each wait or start-over) and `DescribeTargetHealth` when not read after that `Query`, except for an
//!   OK on a group with no open shift an alarm made and no open removal by this alarm, which stops after the
//!   `Query`; then what its plan's action calls ([`super::plan`]): a removal ([`super::deregister`], first
//!   [`super::zonal::zone_watch`]), a shift ([`super::shift`]), a failback ([`super::failback`]), or on the OK
//!   the targets this alarm removed registered again ([`super::reinstate`]); no group changes before the
//!   alarm's lease is held;
//! - with `REPLACE_INSTANCES=true`, while a removal whose instances were all handed to Auto Scaling is open, one
//!   `DescribeAutoScalingInstances` first, and its record closed once they are gone ([`super::replace`]).

use std::collections::HashMap;

use failover_core::aws::AwsError;
use failover_core::ledger::{Snapshot, Step};
use failover_core::{outcome::Outcome, report::Report};
use futures::stream::{self, StreamExt};

use super::{ledger, owed, reinstate, replace, transitions, zonal, Context};
use crate::decide::{self, Candidates};
use crate::model::{Tags, Target, TargetHealth};
use crate::ports::{LoadBalancer, Ports};
use crate::report::{self, action};
use crate::route::AlarmRoute;

/// Groups decided and acted on at once: enough for an instance registered in a few groups, few enough to
/// stay clear of the ELB API's rate limits.
pub const MAX_CONCURRENT_GROUPS: usize = 4;

/// An alarm: a stale event is skipped ([`transitions`]); otherwise each group it concerns is decided and acted
/// on independently, [`MAX_CONCURRENT_GROUPS`] at once. The transition to record once the event's notification
/// is out comes back beside the reports ([`transitions::record`]).
///
/// Reads that do not depend on each other are made at once. First the alarm's ledger, the groups' tags and,
/// for a group alarm, the groups' ledgers (a stale event wastes one `DescribeTags` and those `Query`s); then,
/// for a fresh event, the alarm's lease beside the opted-in groups' ledgers not read yet and target health
/// ([`Prefetched`]). Each group's
/// attempt loop starts from those reads and acts only once the alarm is held.
pub async fn on_alarm<P: Ports>(ctx: &Context<'_, P>, route: AlarmRoute) -> (Vec<Report>, transitions::Seen) {
    if route.zone.is_some() {
        return match transitions::check(ctx, &route, None).await {
            Ok(seen) => (zonal::on_alarm(ctx, &route, !seen.notified).await, seen),
            Err(report) => (vec![report], transitions::Seen::nothing()),
        };
    }
    let named = route.groups.as_deref().unwrap_or_default();
    let (first, tagged, ledgers) =
        futures::join!(transitions::read(ctx, &route), tagged_groups(ctx, &route), read_ledgers(ctx, named));
    let fresh = first.as_ref().is_none_or(|snapshot| transitions::stale(&route, snapshot).is_none());
    let prefetch = async {
        match &tagged {
            Ok(tagged) if fresh => prefetch(ctx, tagged, ledgers, &route).await,
            _ => HashMap::new(),
        }
    };
    match futures::join!(transitions::check(ctx, &route, first), prefetch) {
        (Ok(seen), prefetched) => match tagged {
            Ok(tagged) => (on_alarm_groups(ctx, route, tagged, !seen.notified, prefetched).await, seen),
            Err(report) => (vec![report], seen),
        },
        (Err(report), _) => (vec![report], transitions::Seen::nothing()),
    }
}

/// A group's ledger and target health, read before its attempt loop: its first attempt starts from them.
/// The health is read after the ledger (the facts are never older than the ledger they are decided on), and only
/// when the group is not held and its step reads it ([`reads_health`]).
pub struct Prefetched {
    /// A failed read is the group's answer: the attempt loop would fail the same way.
    snapshot: Result<Snapshot, AwsError>,
    health: Option<Health>,
}

type Health = Result<Option<Vec<TargetHealth>>, AwsError>;

/// The named groups' ledgers, [`MAX_CONCURRENT_GROUPS`] at once.
async fn read_ledgers<P: Ports>(
    ctx: &Context<'_, P>,
    groups: &[String],
) -> HashMap<String, Result<Snapshot, AwsError>> {
    stream::iter(groups)
        .map(async |arn| (arn.clone(), ctx.session.read(&ledger::resource(arn)).await))
        .buffer_unordered(MAX_CONCURRENT_GROUPS)
        .collect()
        .await
}

/// The opted-in groups' ledgers (read here when not read yet: an instance alarm's), and the target health of
/// those whose ledger is free and whose step reads it.
async fn prefetch<P: Ports>(
    ctx: &Context<'_, P>,
    tagged: &[(String, Option<Tags>)],
    mut ledgers: HashMap<String, Result<Snapshot, AwsError>>,
    route: &AlarmRoute,
) -> HashMap<String, Prefetched> {
    let recovered = route.recovered;
    // An ALARM about the group itself (not an instance's, which looks at every opted-in group).
    let about_the_group = !recovered && route.groups.is_some();
    let opted_in = tagged
        .iter()
        .filter(|(_, tags)| tags.as_ref().is_some_and(|tags| failover_core::tags::opted_in(tags, ctx.opt_in_key())));
    let ready: Vec<(String, Option<Result<Snapshot, AwsError>>)> =
        opted_in.map(|(arn, _)| (arn.clone(), ledgers.remove(arn))).collect();
    stream::iter(ready)
        .map(async |(arn, snapshot)| {
            // An instance alarm's groups are known only now: their ledgers are read here, beside the alarm's lease.
            let snapshot = match snapshot {
                Some(snapshot) => snapshot,
                None => ctx.session.read(&ledger::resource(&arn)).await,
            };
            let wanted = snapshot.as_ref().is_ok_and(|s| s.held().is_none() && reads_health(ctx, s, recovered));
            let health = async {
                if wanted {
                    Some(ctx.lb.target_health(&arn).await)
                } else {
                    None
                }
            };
            let likely = about_the_group && wanted && snapshot.as_ref().is_ok_and(|s| ledger::baseline(s).is_none());
            let (health, ..) = futures::join!(health, removal_reads(ctx, &arn, likely));
            if let (true, Some(Ok(targets))) = (ctx.config.replace_instances, &health) {
                ctx.handover.saw_health(&arn, targets.as_ref());
            }
            (arn, Prefetched { snapshot, health })
        })
        .buffer_unordered(MAX_CONCURRENT_GROUPS)
        .collect()
        .await
}

/// A group's own alarm in ALARM, with no removal open, is likely the incident's first, and acts: the reads its
/// removal (or, for the load balancers, its shift) makes after the target health (the group's thresholds and
/// load balancers, kept for the invocation: [`super::reads`]) are made beside it, off the path to the change.
/// During an incident (a removal open) most events change nothing, and an instance's alarm looks at every
/// opted-in group, most without the instance: those read them only when their plan needs them.
async fn removal_reads<P: Ports>(ctx: &Context<'_, P>, arn: &str, likely: bool) {
    if likely {
        // A failed read is kept: the removal that needs it reports it.
        let _ = futures::join!(ctx.health_thresholds(arn), ctx.balancers_of(arn));
    }
}

/// Whether a group's step reads its target health: always for an ALARM; for an OK, only when the group has an
/// open shift an alarm made or a removal by this alarm to undo.
fn reads_health<P: Ports>(ctx: &Context<'_, P>, snapshot: &Snapshot, recovered: bool) -> bool {
    !recovered
        || !ledger::saved_by_alarms(snapshot).is_empty()
        || !reinstate::removals_by(snapshot, ctx.trigger).is_empty()
}

/// The groups the alarm names, or every instance group (`DescribeTargetGroups`), with their tags.
async fn tagged_groups<P: Ports>(
    ctx: &Context<'_, P>,
    route: &AlarmRoute,
) -> Result<Vec<(String, Option<Tags>)>, Report> {
    let arns = match &route.groups {
        Some(arns) => arns.clone(),
        None => {
            let listed = ctx.lb.instance_groups().await;
            let listed = listed.map_err(|e| report::failed(None, action::ALARM, &e, "listing target groups"))?;
            ctx.reads.listed(&listed);
            let arns: Vec<String> = listed.into_iter().map(|group| group.arn).collect();
            ctx.handover.saw_groups(&arns);
            arns
        }
    };
    ctx.lb.tags(&arns).await.map_err(|e| report::failed(None, action::ALARM, &e, "reading target group tags"))
}

/// `owed`: whether a group's notification an interrupted run of this event owes is published ([`owed`]).
async fn on_alarm_groups<P: Ports>(
    ctx: &Context<'_, P>,
    route: AlarmRoute,
    tagged: Vec<(String, Option<Tags>)>,
    owed: bool,
    mut prefetched: HashMap<String, Prefetched>,
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
            Some(tags) => {
                let first = prefetched.remove(&arn);
                jobs.push((arn, tags, first));
            }
        }
    }
    let named = (!route.instances.is_empty()).then_some(route.instances.as_slice());
    let results: Vec<Vec<Report>> = stream::iter(jobs)
        .map(|(arn, tags, first)| {
            let event = GroupEvent { recovered: route.recovered, silenced: route.silenced, named, owed };
            alarm_group(ctx, arn, tags, first, event)
        })
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

/// What a group's step knows of the event: an OK or an ALARM, the targets it names (an instance alarm's), and
/// whether a notification an interrupted run of it owes is published ([`owed`]).
#[derive(Clone, Copy)]
struct GroupEvent<'a> {
    recovered: bool,
    /// The removal silences the alarm's metric: its OK holds the targets out ([`super::hold`]).
    silenced: bool,
    named: Option<&'a [Target]>,
    owed: bool,
}

/// One group of an alarm, under the ledger protocol: ledger, facts, decision, change; again on fresh facts
/// when another invocation got there first. The first attempt starts from what was read already, its health
/// only with the very ledger it was read after.
async fn alarm_group<P: Ports>(
    ctx: &Context<'_, P>,
    arn: String,
    tags: Tags,
    first: Option<Prefetched>,
    event: GroupEvent<'_>,
) -> Vec<Report> {
    let intent = if event.recovered { action::FAILBACK } else { action::DEREGISTER };
    let (snapshot, mut health) = match first {
        Some(Prefetched { snapshot: Err(e), .. }) => {
            return vec![report::fault(Some(&arn), intent, &e.into(), "reading the ledger")];
        }
        Some(Prefetched { snapshot: Ok(snapshot), health }) => (Some(snapshot), health),
        None => (None, None),
    };
    let first = snapshot.clone();
    ctx.on_group(&arn, intent, snapshot, async |snapshot| {
        let health = health.take().filter(|_| first.as_ref() == Some(&snapshot));
        alarm_group_once(ctx, &arn, &tags, event, &snapshot, health).await
    })
    .await
}

async fn alarm_group_once<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    tags: &Tags,
    event: GroupEvent<'_>,
    snapshot: &Snapshot,
    health: Option<Health>,
) -> Step<Vec<Report>> {
    let GroupEvent { recovered, silenced, named, owed } = event;
    let saved = if recovered { ledger::saved_by_alarms(snapshot) } else { ledger::saved_weights(snapshot) };
    let intent = if recovered { action::FAILBACK } else { action::DEREGISTER };
    if let Some(reports) = owed.then(|| owed::notifications(ctx, arn, snapshot, recovered)).filter(|r| !r.is_empty()) {
        return Ok(reports);
    }
    if let Some(reports) = replace::follow_up(ctx, arn, snapshot, recovered).await? {
        return Ok(reports);
    }
    let removals = if recovered { reinstate::removals_by(snapshot, ctx.trigger) } else { Vec::new() };
    if !reads_health(ctx, snapshot, recovered) {
        let reason = "alarm OK: no traffic was shifted away from this group and this alarm removed no target";
        return Ok(vec![report::skipped(Some(arn), action::NONE, reason)]);
    }
    let health = match health {
        Some(health) => health,
        None => ctx.lb.target_health(arn).await,
    };
    let targets = match health {
        Ok(Some(targets)) => targets,
        Ok(None) => return Ok(vec![report::skipped(Some(arn), action::NONE, "the target group does not exist")]),
        Err(e) => return Ok(vec![report::failed(Some(arn), intent, &e, "reading target health")]),
    };
    let view = ctx.view(arn, tags, &targets);
    if !removals.is_empty() {
        // The targets this alarm removed come back first; a failback then starts on the ledger as it left it.
        let mut reports = reinstate::run(ctx, view, snapshot, &removals, silenced, ctx.config.common.dry_run).await?;
        if saved.is_empty() || ctx.config.common.dry_run {
            return Ok(reports);
        }
        let failback = ctx
            .on_group(arn, intent, None, async |after| {
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
