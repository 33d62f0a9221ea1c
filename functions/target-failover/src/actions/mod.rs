//! The actions, one file each: [`deregister`], [`replace`], [`shift`], [`failback`], [`restore`], [`status`],
//! [`readiness`], and a load balancer's zones ([`evacuate`], [`zonal`]). Each gathers its facts through the
//! [`LoadBalancer`] port, decides through [`crate::decide`], acts, and writes its reports; the changing ones follow
//! [`ledger`]'s protocol per group. Shared here: the per-alarm fan-out, a command's first reads, a [`Plan`]'s dispatch.
//!
//! Reads are staged: a group's tags first (one `DescribeTags` per 20 groups: configuration, read before the
//! ledger so that a group not opted in costs no ledger call), then the group's ledger, then its target
//! health, and the listeners and rules only when a shift or failback is planned (or `status` needs them).

use failover_core::aws::AwsError;
use failover_core::ledger::{Ledger, Session, Snapshot, Step};
use failover_core::{notify::Severity, outcome::Outcome, report::Report};
use futures::stream::{self, StreamExt};

use crate::command::Command;
use crate::config::Failback;
use crate::decide::{self, Candidates, Floor, GroupView, OptedIn, Plan};
use crate::model::{ForwardAction, Tags, Target, TargetHealth};
use crate::ports::{LoadBalancer, Ports};
use crate::report::{self, action};
use crate::route::AlarmRoute;
use crate::{Config, FUNCTION};

pub mod deregister;
pub mod evacuate;
pub mod failback;
pub mod ledger;
pub mod owed;
pub mod readiness;
pub mod reinstate;
pub mod replace;
pub mod restore;
pub mod shift;
pub mod status;
pub mod transitions;
pub mod zonal;
pub mod zone_watch;

/// Groups decided and acted on at once: enough for an instance registered in a few groups, few enough to
/// stay clear of the ELB API's rate limits.
pub const MAX_CONCURRENT_GROUPS: usize = 4;

/// What every action works with: the ports, the settings, and the invocation's name, lease, clock and trigger.
pub struct Context<'a, P: Ports> {
    pub lb: &'a P::Lb,
    pub config: &'a Config,
    /// This invocation's side of the ledger: the ledger, its name there, its lease, its clock, and a person's
    /// `"force": true` (act while automation is paused).
    pub session: Session<'a, P::Ledger>,
    /// What caused it (`alarm web-5xx`, `manual command shift`), written in its records.
    pub trigger: &'a str,
    /// An alarm event's state timestamp (ms), written in the records of its changes (`event_at`): a retry of
    /// the event that finds them done publishes the notification its interrupted run owed ([`owed`]).
    pub event_at: Option<i64>,
    /// One per invocation: a shift or failback holds it from reading the listener actions until it has
    /// re-weighted them, so that groups sharing one forward action, acted on at once, each start from the
    /// other's write instead of overwriting it.
    pub listeners: &'a tokio::sync::Mutex<()>,
}

/// The forward actions that send traffic to a group, each with the adapter's opaque action list, and which
/// of their listeners and rules are opted in.
pub struct Forwarding<A> {
    /// What the policy sees.
    pub actions: Vec<ForwardAction>,
    /// `originals[i]` is the whole action list behind `actions[i]`, handed back to the port to re-weight it.
    pub originals: Vec<A>,
    pub opted_in: OptedIn,
}

impl<P: Ports> Context<'_, P> {
    pub fn floor(&self) -> Floor {
        Floor::new(self.config.min_healthy_targets, self.config.min_healthy_percent)
    }

    /// The floor on a group with this ledger: from the incident's baseline while a removal is open.
    pub fn floor_in(&self, snapshot: &Snapshot) -> Floor {
        self.floor().with_baseline(ledger::baseline(snapshot))
    }

    pub fn opt_in_key(&self) -> &str {
        &self.config.common.opt_in_tag_key
    }

    pub fn view<'v>(&'v self, arn: &'v str, tags: &'v Tags, targets: &'v [TargetHealth]) -> GroupView<'v> {
        GroupView { arn, tags, targets, opt_in_tag_key: self.opt_in_key() }
    }

    /// The listener actions forwarding to `group` and their opt-in: `DescribeTargetGroups`,
    /// `DescribeListeners`, `DescribeRules`, then one `DescribeTags` per 20 listeners and rules (none when
    /// nothing forwards to the group). `Err` carries what was being read, for the failure report.
    pub async fn forwarding(
        &self,
        group: &str,
    ) -> Result<Forwarding<<P::Lb as LoadBalancer>::Actions>, (AwsError, &'static str)> {
        let found = self.lb.forwards_to(group).await.map_err(|e| (e, "reading listeners and rules"))?;
        let (actions, originals): (Vec<_>, Vec<_>) = found.into_iter().unzip();
        let arns: Vec<String> = actions
            .iter()
            .map(|a: &ForwardAction| a.location.arn().to_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut opted_in = OptedIn::new();
        if !arns.is_empty() {
            let tagged = self.lb.tags(&arns).await.map_err(|e| (e, "reading the listeners' and rules' tags"))?;
            opted_in = tagged
                .into_iter()
                .filter(|(_, tags)| tags.as_ref().is_some_and(|t| failover_core::tags::opted_in(t, self.opt_in_key())))
                .map(|(arn, _)| arn)
                .collect();
        }
        Ok(Forwarding { actions, originals, opted_in })
    }

    /// Re-weights the changed actions in order; `Err` with how many were done. Every change comes from a plan
    /// over `forwarding.actions`, so each has its original action list.
    pub async fn set_weights(
        &self,
        forwarding: &Forwarding<<P::Lb as LoadBalancer>::Actions>,
        changes: &[decide::WeightChange],
    ) -> Result<(), (AwsError, usize)> {
        for (done, change) in changes.iter().enumerate() {
            let original = forwarding.actions.iter().position(|a| a.location == change.location);
            let Some(original) = original.map(|i| &forwarding.originals[i]) else { continue };
            self.lb.set_weights(&change.location, original, &change.after).await.map_err(|e| (e, done))?;
        }
        Ok(())
    }
}

/// An alarm: a stale event is skipped ([`transitions`]); otherwise each group it concerns is decided and acted
/// on independently, [`MAX_CONCURRENT_GROUPS`] at once. The transition to record once the event's notification
/// is out comes back beside the reports ([`transitions::record`]).
pub async fn on_alarm<P: Ports>(ctx: &Context<'_, P>, route: AlarmRoute) -> (Vec<Report>, transitions::Seen) {
    match transitions::check(ctx, &route).await {
        Ok(seen) if route.zone.is_some() => (zonal::on_alarm(ctx, &route, !seen.notified).await, seen),
        Ok(seen) => (on_alarm_groups(ctx, route, !seen.notified).await, seen),
        Err(report) => (vec![report], transitions::Seen::nothing()),
    }
}

/// `owed`: whether a group's notification an interrupted run of this event owes is published ([`owed`]).
async fn on_alarm_groups<P: Ports>(ctx: &Context<'_, P>, route: AlarmRoute, owed: bool) -> Vec<Report> {
    let mut reports: Vec<Report> =
        route.bad_dimensions.iter().map(|why| report::skipped(None, action::NONE, why.clone())).collect();
    let scope_all = route.groups.is_none();
    let arns = match route.groups {
        Some(arns) => arns,
        None => match ctx.lb.instance_groups().await {
            Ok(arns) => arns,
            Err(e) => return vec![report::failed(None, action::ALARM, &e, "listing target groups")],
        },
    };
    let tagged = match ctx.lb.tags(&arns).await {
        Ok(tagged) => tagged,
        Err(e) => return vec![report::failed(None, action::ALARM, &e, "reading target group tags")],
    };
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
                execute(ctx, view, &after, plan, intent, false, ctx.config.failback).await
            })
            .await;
        reports.extend(failback);
        return Ok(reports);
    }
    let candidates = candidates_of(named);
    let plan = if recovered {
        decide::on_ok(view, candidates, ctx.floor_in(snapshot), &saved)
    } else {
        return zone_watch::on_alarm(ctx, view, snapshot, candidates, intent).await;
    };
    execute(ctx, view, snapshot, plan, intent, ctx.config.common.dry_run, ctx.config.failback).await
}

fn candidates_of(named: Option<&[Target]>) -> Candidates<'_> {
    named.map_or(Candidates::Unhealthy, Candidates::Named)
}

/// A manual command: `pause`/`resume`, or the group's tags, then (under the ledger protocol) its health and
/// its action. `Err` is an invalid command (the group does not exist).
pub async fn on_command<P: Ports>(
    ctx: &Context<'_, P>,
    command: &Command,
    dry_run: bool,
) -> Result<Vec<Report>, String> {
    let intent = match command {
        Command::Status { .. } => action::STATUS,
        Command::Deregister { .. } => action::DEREGISTER,
        Command::Restore { .. } => action::REGISTER,
        Command::Shift { .. } => action::SHIFT,
        Command::Failback { .. } => action::FAILBACK,
        Command::Pause { by, reason } => {
            let done =
                failover_core::pause::pause(ctx.session.ledger, FUNCTION, by.as_deref(), reason.as_deref(), ctx.now());
            return Ok(vec![done.await.unwrap_or_else(|e| report::failed(None, action::PAUSE, &e, "pausing"))]);
        }
        Command::Resume => {
            let done = failover_core::pause::resume(ctx.session.ledger, FUNCTION).await;
            return Ok(vec![done.unwrap_or_else(|e| report::failed(None, action::RESUME, &e, "resuming"))]);
        }
        Command::Readiness { group } => return readiness::run(ctx, group.as_deref()).await,
        Command::EvacuateZone { .. } | Command::ReturnZone { .. } => return Ok(zonal::run(ctx, command, dry_run).await),
    };
    let group = command.group().unwrap_or_default();
    let tags = match ctx.lb.tags(&[group.to_owned()]).await {
        Ok(mut tagged) => tagged.pop().and_then(|(_, tags)| tags),
        Err(e) => return Ok(vec![report::failed(Some(group), intent, &e, "reading tags")]),
    };
    let tags = tags.ok_or_else(|| format!("target group {group} does not exist"))?;
    if let Command::Status { .. } = command {
        // Changes nothing: reads the ledger as it is, held or not.
        let snapshot = match ctx.session.ledger.read(&ledger::resource(group), ctx.now()).await {
            Ok(snapshot) => snapshot,
            Err(e) => return Ok(vec![report::failed(Some(group), intent, &e, "reading the ledger")]),
        };
        return Ok(command_once(ctx, command, group, &tags, &snapshot, intent, dry_run).await.unwrap_or_default());
    }
    Ok(ctx
        .on_group(group, intent, async |snapshot| {
            command_once(ctx, command, group, &tags, &snapshot, intent, dry_run).await
        })
        .await)
}

async fn command_once<P: Ports>(
    ctx: &Context<'_, P>,
    command: &Command,
    group: &str,
    tags: &Tags,
    snapshot: &Snapshot,
    intent: &'static str,
    dry_run: bool,
) -> Step<Vec<Report>> {
    let targets = match ctx.lb.target_health(group).await {
        Ok(Some(targets)) => targets,
        // Deleted since its tags were read.
        Ok(None) => return Ok(vec![report::skipped(Some(group), action::NONE, "the target group does not exist")]),
        Err(e) => return Ok(vec![report::failed(Some(group), intent, &e, "reading target health")]),
    };
    let view = ctx.view(group, tags, &targets);
    let floor = ctx.floor_in(snapshot);
    let saved = ledger::saved_weights(snapshot);
    let plan = match command {
        Command::Status { .. } => return Ok(vec![status::run(ctx, view, snapshot).await]),
        Command::Restore { targets: wanted, .. } => return restore::run(ctx, view, snapshot, wanted, dry_run).await,
        Command::Deregister { targets: wanted, .. } => {
            match deregister::removal_plan(ctx, view, Candidates::Named(wanted), floor).await {
                Ok(plan) => plan,
                Err(report) => return Ok(vec![report]),
            }
        }
        Command::Shift { .. } => decide::on_shift_command(view, floor),
        Command::Failback { force, .. } => decide::on_failback_command(view, floor, &saved, *force),
        _ => return Ok(Vec::new()),
    };
    execute(ctx, view, snapshot, plan, intent, dry_run, Failback::Auto).await
}

/// Hands a plan to its action; a skip or refusal is reported here.
async fn execute<P: Ports>(
    ctx: &Context<'_, P>,
    view: GroupView<'_>,
    snapshot: &Snapshot,
    plan: Plan,
    intent: &'static str,
    dry_run: bool,
    mode: Failback,
) -> Step<Vec<Report>> {
    let (arn, tags) = (view.arn, view.tags);
    Ok(match plan {
        Plan::Skip { reason } => {
            // Removals an interrupted run made (its `end` failed) are settled by the retry that finds them made.
            let settle = if dry_run { Vec::new() } else { deregister::interrupted(snapshot, view.targets) };
            let failed = ctx.settle_only(snapshot, &settle, action::DEREGISTER).await?;
            failed.into_iter().chain([report::skipped(Some(arn), action::NONE, reason)]).collect()
        }
        Plan::Refuse { reason, kept, counts } => {
            let severity = if intent == action::FAILBACK { Severity::Warning } else { Severity::Critical };
            vec![report::refusal(arn, intent, severity, &reason, &kept, counts, tags)]
        }
        Plan::Deregister { targets, kept, counts, healthy_after } => {
            let change =
                deregister::Change { targets: &targets, kept: &kept, counts, healthy_after, registered: view.targets };
            deregister::run(ctx, arn, tags, snapshot, change, dry_run).await?
        }
        Plan::ShiftTraffic { backup, kept, counts, why } => {
            let failing = shift::Failing { backup: &backup, counts, why: &why, kept: &kept };
            vec![shift::run(ctx, arn, snapshot, failing, dry_run).await?]
        }
        Plan::Failback { counts, backup } => {
            failback::run(ctx, arn, snapshot, counts, backup.as_deref(), dry_run, mode).await?
        }
    })
}
