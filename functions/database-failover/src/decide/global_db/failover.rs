//! The unplanned failover of an Aurora Global Database, pure: when the primary region's writer is confirmed
//! down (a trigger about the primary cluster, AND its region's RDS API unreachable or the cluster not found or
//! unavailable), fail over to this region's secondary.
//!
//! - **The data-loss window** is the secondary's `AuroraGlobalDBRPOLag`, else `AuroraGlobalDBReplicationLag`
//!   where RPO lag is not published, as of the failure's onset ([`crate::decide::onset::lag_as_of`]: datapoints
//!   whose minute ends before it, the newest at most two minutes old). Unknown counts as more than any setting.
//! - At most `MAX_GLOBAL_DATA_LOSS_SECONDS`: `FailoverGlobalCluster` with `AllowDataLoss`. Otherwise a pending
//!   approval ([`crate::model::Approval`]), asked once while it is pending; `approve` decides again with it.
//! - The fallback: when the global APIs fail (the primary's control plane impaired), detaching and promoting the
//!   secondary (`RemoveFromGlobalCluster`) is only ever done with an approval ([`Approvable::DetachGlobal`]).
//! - Never twice: a pending record of this global database (a failover or detach; a switchover is not one) is
//!   completed, not made again; the secondary already the writer is done; a failover within the cooldown is
//!   refused.
//! - One incident, one decision: while an approval of this failover or detach is pending and unexpired, no later
//!   event acts alone (it is told it awaits that approval); one rejected within `APPROVAL_TTL_MINUTES` refuses.
//!   Lags are measured at the incident's earliest onset ([`incident_onset`]), not at a later event's time.
//! - One region acts: with more than one secondary, only the stack of the lowest secondary region name acts or
//!   asks ([`designated_region`]); a detach is never asked or done while another secondary remains.

use super::super::onset::lag_as_of;
use crate::model::{
    Approvable, Approval, Cluster, GlobalAction, GlobalCluster, GlobalDecision, GlobalMember, Instance, LagPoint,
};
use failover_core::ledger::State;

/// The primary cluster as seen from the secondary's region.
#[derive(Debug, Clone, PartialEq)]
pub enum PrimarySeen {
    /// Described and `available`: not down.
    Available,
    /// Down: unreachable, not found, or in a status that takes no writes; the text says which.
    Down(String),
}

/// Statuses of a primary cluster that take no writes, and which AWS does not recover by itself in minutes.
pub const CLUSTER_DOWN_STATUSES: &[&str] =
    &["inaccessible-encryption-credentials", "inaccessible-encryption-credentials-recoverable", "stopped", "stopping"];

#[derive(Debug, Clone, PartialEq)]
pub struct FailoverFacts {
    pub global: GlobalCluster,
    /// This stack's region: the secondary failed over to is there.
    pub home_region: String,
    pub primary: PrimarySeen,
    pub target: Option<Cluster>,
    pub target_instances: Vec<Instance>,
    /// The secondary's per-minute maxima (ms), any order.
    pub rpo_lag: Vec<LagPoint>,
    pub replication_lag: Vec<LagPoint>,
    /// The failure's onset (epoch seconds).
    pub onset: i64,
    pub decisions: Vec<GlobalDecision>,
    pub approvals: Vec<Approval>,
}

/// What the policy reads.
#[derive(Debug, Clone, PartialEq)]
pub struct FailoverSettings {
    /// `MAX_GLOBAL_DATA_LOSS_SECONDS`, in milliseconds.
    pub max_loss_ms: f64,
    /// `APPROVAL_TTL_MINUTES`, in seconds.
    pub approval_ttl_secs: i64,
    pub opt_in_tag_key: String,
}

/// A failover (or, approved, a detach) to carry out.
#[derive(Debug, Clone, PartialEq)]
pub struct GlobalFailover {
    pub global: String,
    pub action: GlobalAction,
    pub from: Option<GlobalMember>,
    pub to: GlobalMember,
    pub loss_ms: Option<f64>,
    pub metric: Option<&'static str>,
    /// The approval it acts on (`None`: the measured loss is within the setting).
    pub approval: Option<Approval>,
    /// A pending decision of an earlier run (key, owner): completed, not made again.
    pub resumed: Option<(String, String)>,
    /// The global writer endpoint, which follows the new primary.
    pub endpoint: Option<String>,
    /// The incident's onset the loss window was measured at (epoch seconds): recorded with the decision.
    pub onset: i64,
    /// Whether a detach may be asked for if the failover fails: not while the database has another secondary,
    /// which a detach would leave behind a lost primary.
    pub may_detach: bool,
}

/// (One per invocation: its size does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum FailoverPlan {
    Act(GlobalFailover),
    /// Asks a person: a new pending approval.
    Ask(Approval),
    /// A pending approval for it exists already: nothing new to ask; `reason` says which, and the loss it
    /// measured at which onset.
    Awaiting {
        id: String,
        reason: String,
    },
    /// This region's secondary is the writer already. `settle`: the pending decision that made it so.
    AlreadyPrimary {
        global: String,
        target: GlobalMember,
        settle: Option<(String, String)>,
    },
    /// A detach an interrupted run began is done (this region's cluster left the global database and stands
    /// alone): its pending decision (`settle`: key, owner) is settled and told.
    Detached {
        global: String,
        target: GlobalMember,
        settle: (String, String),
    },
    /// Our change to this region's secondary is under way at AWS: retried (a retryable error) until it is done.
    UnderWay {
        global: String,
        reason: String,
    },
    Refuse(String),
    /// Not a failure this decides on: logged.
    Skip(String),
}

/// The loss window as of the onset, and the metric it came from: RPO lag first.
pub fn loss_window(f: &FailoverFacts) -> (Option<f64>, Option<&'static str>) {
    for (points, metric) in [(&f.rpo_lag, "AuroraGlobalDBRPOLag"), (&f.replication_lag, "AuroraGlobalDBReplicationLag")]
    {
        if let Some(value) = lag_as_of(points, f.onset).0.first().copied().filter(|v| *v >= 0.0) {
            return (Some(value), Some(metric));
        }
    }
    (None, None)
}

/// The incident's onset: the earliest of the event's own (`event_onset`) and those recorded by the global
/// database's pending failovers and its pending, unexpired approvals. A later event of the same incident (a
/// re-armed alarm, RDS-EVENT-0069) reads the lag at the first onset, when the primary was lost, not after.
pub fn incident_onset(event_onset: i64, decisions: &[GlobalDecision], approvals: &[Approval], now: i64) -> i64 {
    let pending = decisions.iter().filter(|d| d.state == State::Pending && d.action != GlobalAction::Switchover);
    let asked = approvals.iter().filter(|a| a.state == State::Pending && now < a.expires_at);
    pending.filter_map(|d| d.onset).chain(asked.map(Approval::measured_at)).fold(event_onset, i64::min)
}

/// With more than one secondary, the one region whose stack fails over or asks for approval: the lowest region
/// name among the secondaries. Every secondary region's stack keeps its own ledger, so without one designated
/// region two stacks could both fail over, or both detach. `None` with one secondary (or none).
pub fn designated_region(g: &GlobalCluster) -> Option<&GlobalMember> {
    let secondaries: Vec<&GlobalMember> = g.members.iter().filter(|m| !m.writer).collect();
    (secondaries.len() > 1).then(|| secondaries.into_iter().min_by(|a, b| a.region.cmp(&b.region))).flatten()
}

/// The CLI command a person runs to fail `global` over to `to` (in `to`'s region) with data loss.
fn by_hand(global: &str, to: &GlobalMember) -> String {
    format!(
        "aws rds failover-global-cluster --region {} --global-cluster-identifier {global} \
         --target-db-cluster-identifier {} --allow-data-loss",
        to.region, to.arn
    )
}

/// With no member in this region: a pending detach of this region's cluster, which its facts found standing
/// alone (described, no longer a member), was done by a run cut short before it could record it.
fn detached(f: &FailoverFacts) -> Option<FailoverPlan> {
    let d = f.decisions.iter().find(|d| {
        d.state == State::Pending
            && d.action == GlobalAction::Detach
            && GlobalMember::from_arn(&d.to, true)
                .is_some_and(|m| m.region == f.home_region && f.target.as_ref().is_some_and(|t| t.id == m.cluster))
    })?;
    Some(FailoverPlan::Detached {
        global: f.global.id.clone(),
        target: GlobalMember::from_arn(&d.to, true)?,
        settle: (d.key.clone(), d.owner.clone()),
    })
}

/// Decides at `now`; `approved`: the approval a person just gave (or the one a resumed decision carries).
pub fn decide_global_failover(
    f: &FailoverFacts,
    s: &FailoverSettings,
    now: i64,
    approved: Option<&Approval>,
) -> FailoverPlan {
    let g = &f.global;
    let Some(to) = g
        .members
        .iter()
        .find(|m| m.region == f.home_region && !m.writer)
        .or_else(|| g.members.iter().find(|m| m.region == f.home_region))
    else {
        return detached(f).unwrap_or_else(|| {
            FailoverPlan::Skip(format!("global database {} has no member in {}", g.id, f.home_region))
        });
    };
    // A failover or detach an interrupted run began; a switchover's record is the switchover's to complete.
    let pending = f
        .decisions
        .iter()
        .find(|d| d.state == State::Pending && d.to == to.arn && d.action != GlobalAction::Switchover);
    let settle = pending.map(|d| (d.key.clone(), d.owner.clone()));
    if to.writer {
        return FailoverPlan::AlreadyPrimary { global: g.id.clone(), target: to.clone(), settle };
    }
    if let Some(change) = &g.change {
        // Ours, to this region, still under way at AWS (a retry of a run cut short, or a later event): the run
        // asks to be retried until it is done, so that what the change left (its record, its DNS step) is done.
        let ours = f.decisions.iter().any(|d| {
            d.to == to.arn
                && (d.state == State::Pending
                    || d.done_at.is_some_and(|at| (0..super::super::REPOINT_WINDOW_SECS).contains(&(now - at))))
        });
        if ours && change.to.as_deref() == Some(to.arn.as_str()) {
            return FailoverPlan::UnderWay {
                global: g.id.clone(),
                reason: format!(
                    "the {} of {} to {} is under way at AWS ({}): retried until it is done",
                    if change.data_loss_allowed { "failover" } else { "switchover" },
                    g.id,
                    to.cluster,
                    change.status
                ),
            };
        }
        return FailoverPlan::Skip(format!(
            "a change of {} is under way at AWS ({}, to {}): waiting for it",
            g.id,
            change.status,
            change.to.as_deref().unwrap_or("?")
        ));
    }
    let down = match &f.primary {
        PrimarySeen::Available => {
            return FailoverPlan::Refuse(format!(
                "the primary of {} answers and is available: no unplanned failover (a planned one is \
                 `switchover-global`)",
                g.id
            ))
        }
        PrimarySeen::Down(why) => why.clone(),
    };
    if let Some(designated) = designated_region(g).filter(|d| d.region != f.home_region) {
        let secondaries = g.members.iter().filter(|m| !m.writer).count();
        return FailoverPlan::Refuse(format!(
            "{} has {secondaries} secondaries: only the stack in {} (the lowest secondary region) fails over or asks \
             for approval, so that two regions never both fail over or detach; this stack ({}) does not act. A \
             person can run there: {}",
            g.id,
            designated.region,
            f.home_region,
            by_hand(&g.id, designated)
        ));
    }
    let others = g.members.iter().filter(|m| !m.writer && m.arn != to.arn).count();
    let recent = f.decisions.iter().filter(|d| d.state == State::Done).find_map(|d| {
        d.done_at.map(|at| now - at).filter(|ago| (0..super::super::CLUSTER_COOLDOWN_SECS).contains(ago))
    });
    if let (Some(ago), None) = (recent, pending) {
        return FailoverPlan::Refuse(format!("{} failed over {ago} s ago, within the cooldown", g.id));
    }
    let Some(target) = &f.target else {
        return FailoverPlan::Refuse(format!("the secondary {} was not found in {}", to.cluster, to.region));
    };
    if !failover_core::tags::opted_in(&target.tags, &s.opt_in_tag_key) {
        return FailoverPlan::Refuse(format!(
            "the secondary {} is not opted in ({}=true)",
            to.cluster, s.opt_in_tag_key
        ));
    }
    if target.status != "available" || !f.target_instances.iter().any(|i| i.status == "available") {
        return FailoverPlan::Refuse(format!(
            "the secondary {} is {} with no available instance to take writes",
            to.cluster, target.status
        ));
    }
    let (loss_ms, metric) = loss_window(f);
    let act = |action: GlobalAction, approval: Option<Approval>| {
        FailoverPlan::Act(GlobalFailover {
            global: g.id.clone(),
            action,
            from: g.primary().cloned(),
            to: to.clone(),
            loss_ms,
            metric,
            approval,
            resumed: pending.filter(|d| d.action == action).map(|d| (d.key.clone(), d.owner.clone())),
            endpoint: g.endpoint.clone(),
            onset: f.onset,
            may_detach: others == 0,
        })
    };
    // An approval for exactly this change, unexpired: act on it (every guard above held again).
    let approved = approved.filter(|a| super::super::approval::valid_for(a, now));
    match approved.map(|a| (a, &a.action)) {
        Some((a, Approvable::FailoverGlobal { target, .. })) if *target == to.arn => {
            return act(GlobalAction::Failover, Some(a.clone()))
        }
        Some((_, Approvable::DetachGlobal { target, .. })) if *target == to.arn && others > 0 => {
            return FailoverPlan::Refuse(format!(
                "{} has another secondary: a detach would leave it behind the lost primary; it is never done while \
                 another secondary remains. A person can run: {}",
                g.id,
                by_hand(&g.id, to)
            ))
        }
        Some((a, Approvable::DetachGlobal { target, .. })) if *target == to.arn => {
            return act(GlobalAction::Detach, Some(a.clone()))
        }
        _ => {}
    }
    // One incident, one decision: a person is asked, or said no; no later event acts alone meanwhile.
    let ours = |a: &&Approval| match &a.action {
        Approvable::FailoverGlobal { target, .. } | Approvable::DetachGlobal { target, .. } => *target == to.arn,
    };
    if let Some(w) = f.approvals.iter().filter(ours).find(|a| a.state == State::Pending && now < a.expires_at) {
        let loss = w.loss_ms.map_or_else(|| "unknown".to_owned(), |l| format!("{} s", l / 1000.0));
        let at = crate::model::format_time(w.measured_at());
        let reason = format!("awaiting approval {} (loss {loss} measured at {at})", w.id);
        return FailoverPlan::Awaiting { id: w.id.clone(), reason };
    }
    let rejected = f.approvals.iter().filter(ours).find(|a| {
        a.state == State::Closed && a.decided_at.is_some_and(|at| (0..s.approval_ttl_secs).contains(&(now - at)))
    });
    if let Some(r) = rejected {
        let at = r.decided_at.unwrap_or(r.created_at);
        return FailoverPlan::Refuse(format!(
            "decision {} was rejected by {} at {}: no failover of {} without a person until {} \
             (APPROVAL_TTL_MINUTES after the rejection). A person can still run: {}",
            r.id,
            r.by.as_deref().unwrap_or("someone"),
            crate::model::format_time(at),
            g.id,
            crate::model::format_time(at + s.approval_ttl_secs),
            by_hand(&g.id, to)
        ));
    }
    if loss_ms.is_some_and(|l| l <= s.max_loss_ms) {
        return act(GlobalAction::Failover, None);
    }
    let action = Approvable::FailoverGlobal { global: g.id.clone(), target: to.arn.clone() };
    let window = match (loss_ms, metric) {
        (Some(l), Some(m)) => format!("{m} {l} ms as of the onset"),
        _ => "unknown: no RPO or replication lag datapoint as of the onset".into(),
    };
    let reason = format!(
        "the primary is down ({down}); failing over to {} may lose data: the loss window is {window}, more than \
         MAX_GLOBAL_DATA_LOSS_SECONDS ({} s)",
        to.cluster,
        s.max_loss_ms / 1000.0
    );
    FailoverPlan::Ask(
        Approval::ask(
            &crate::model::global_resource(&g.id),
            action,
            (loss_ms, metric.map(str::to_owned)),
            reason,
            now,
            s.approval_ttl_secs,
        )
        .at_onset(f.onset),
    )
}

/// The fallback, when `FailoverGlobalCluster` itself failed because the primary's control plane is impaired
/// (`error`): detaching and promoting the secondary, asked of a person, never done alone.
pub fn ask_detach(f: &GlobalFailover, error: &str, now: i64, ttl_secs: i64) -> Approval {
    let window = f.loss_ms.map_or_else(|| "unknown".to_owned(), |l| format!("{l} ms"));
    let reason = format!(
        "FailoverGlobalCluster failed ({error}): the primary region's control plane does not act. Detaching {} from \
         {} (RemoveFromGlobalCluster) makes it a standalone cluster that takes writes; it may lose data (window: \
         {window}) and does not rejoin the global database by itself",
        f.to.cluster, f.global
    );
    let action = Approvable::DetachGlobal { global: f.global.clone(), target: f.to.arn.clone() };
    Approval::ask(
        &crate::model::global_resource(&f.global),
        action,
        (f.loss_ms, f.metric.map(str::to_owned)),
        reason,
        now,
        ttl_secs,
    )
    .at_onset(f.onset)
}
