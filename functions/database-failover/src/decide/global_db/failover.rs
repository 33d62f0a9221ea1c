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
//! - Never twice: a pending record of this global database is completed, not made again; the secondary already
//!   the writer is done; a failover within the cooldown is refused.

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
}

/// (One per invocation: its size does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum FailoverPlan {
    Act(GlobalFailover),
    /// Asks a person: a new pending approval.
    Ask(Approval),
    /// A pending approval for it exists already (its id): nothing new to say.
    Awaiting(String),
    /// This region's secondary is the writer already. `settle`: the pending decision that made it so.
    AlreadyPrimary {
        global: String,
        target: GlobalMember,
        settle: Option<(String, String)>,
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
        return FailoverPlan::Skip(format!("global database {} has no member in {}", g.id, f.home_region));
    };
    let pending = f.decisions.iter().find(|d| d.state == State::Pending && d.to == to.arn);
    let settle = pending.map(|d| (d.key.clone(), d.owner.clone()));
    if to.writer {
        return FailoverPlan::AlreadyPrimary { global: g.id.clone(), target: to.clone(), settle };
    }
    if let Some(change) = &g.change {
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
            resumed: settle.clone(),
            endpoint: g.endpoint.clone(),
        })
    };
    // An approval for exactly this change, unexpired: act on it (every guard above held again).
    let approved = approved.filter(|a| super::super::approval::valid_for(a, now));
    match approved.map(|a| (a, &a.action)) {
        Some((a, Approvable::FailoverGlobal { target, .. })) if *target == to.arn => {
            return act(GlobalAction::Failover, Some(a.clone()))
        }
        Some((a, Approvable::DetachGlobal { target, .. })) if *target == to.arn => {
            return act(GlobalAction::Detach, Some(a.clone()))
        }
        _ => {}
    }
    if loss_ms.is_some_and(|l| l <= s.max_loss_ms) {
        return act(GlobalAction::Failover, None);
    }
    let action = Approvable::FailoverGlobal { global: g.id.clone(), target: to.arn.clone() };
    if let Some(waiting) =
        f.approvals.iter().find(|a| a.state == State::Pending && a.action == action && now < a.expires_at)
    {
        return FailoverPlan::Awaiting(waiting.id.clone());
    }
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
    FailoverPlan::Ask(Approval::ask(
        &crate::model::global_resource(&g.id),
        action,
        (loss_ms, metric.map(str::to_owned)),
        reason,
        now,
        s.approval_ttl_secs,
    ))
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
}
