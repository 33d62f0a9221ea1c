//! Aurora Global Database, pure: whether a planned switchover (`switchover-global`) may run now.
//!
//! A switchover loses no data (AWS synchronises the secondaries first), but it takes the database's writes away
//! for the time it runs, and AWS refuses it unless every member is healthy. So it runs only when:
//! - the global database exists, the target is one of its secondaries, opted in (`<opt-in key>=true` on the target
//!   cluster, as IAM requires), and no switchover or failover is under way (`FailoverState`); one under way to
//!   the same target is [`GlobalPlan::UnderWay`] (a rerun: retried until it ends), to another a refusal;
//! - **healthy**: the primary cluster and the target cluster are `available`, and the target has at least one
//!   `available` instance (a secondary has readers only; one of them becomes its writer);
//! - **in sync**: the target's newest per-minute maximum of `AuroraGlobalDBReplicationLag` within the last
//!   [`LAG_FRESH_SECS`] is at most [`IN_SYNC_LAG_MS`]. No datapoint there: in sync cannot be confirmed, refused;
//! - no switchover was done within [`super::CLUSTER_COOLDOWN_SECS`] (unless `force`): the roles do not bounce.
//!
//! A target that is already the primary is done: a retried or repeated command changes nothing.

mod failover;
pub use failover::{
    ask_detach, decide_global_failover, designated_region, incident_onset, loss_window, FailoverFacts, FailoverPlan,
    FailoverSettings, GlobalFailover, PrimarySeen, CLUSTER_DOWN_STATUSES,
};

use crate::model::{Cluster, GlobalAction, GlobalCluster, GlobalDecision, GlobalMember, Instance, LagPoint};
use failover_core::ledger::State;

/// "In sync": at most this replication lag, in milliseconds. Aurora's cross-region replication typically lags
/// under a second; more means the secondary is catching up, and the switchover would hold writes while it does.
pub const IN_SYNC_LAG_MS: f64 = 1_000.0;
/// Only datapoints this recent (seconds) say how far the target lags now.
pub const LAG_FRESH_SECS: i64 = 300;

/// What a switchover is decided on.
#[derive(Debug, Clone, PartialEq)]
pub struct SwitchoverFacts {
    /// The global database named; `None` when it does not exist.
    pub global: Option<GlobalCluster>,
    pub target_region: String,
    pub target_cluster: String,
    /// The target cluster and its instances, in its region.
    pub target: Option<Cluster>,
    pub target_instances: Vec<Instance>,
    /// The primary cluster, in its region; `None` when it could not be described.
    pub primary: Option<Cluster>,
    /// The target's `AuroraGlobalDBReplicationLag` per-minute maxima (ms), newest first.
    pub lag: Vec<LagPoint>,
    /// The global database's decisions in the ledger.
    pub decisions: Vec<GlobalDecision>,
}

/// A switchover to carry out.
#[derive(Debug, Clone, PartialEq)]
pub struct Switchover {
    pub global: String,
    pub from: Option<GlobalMember>,
    pub to: GlobalMember,
    pub lag_ms: f64,
    /// A pending decision of an earlier run (its key and owner): completed, not made again.
    pub resumed: Option<(String, String)>,
    /// The global writer endpoint, which follows the new primary.
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum GlobalPlan {
    Switchover(Switchover),
    /// The target is the primary already: nothing to do. `settle`: the pending decision that made it so.
    AlreadyPrimary {
        global: String,
        target: GlobalMember,
        settle: Option<(String, String)>,
    },
    /// A switchover or failover to this same target is under way at AWS (a rerun while the first one runs):
    /// the goal is being reached, so not a refusal; the run asks to be retried until AWS has finished.
    UnderWay {
        global: String,
        reason: String,
    },
    Refuse {
        reason: String,
    },
}

/// Decides a `switchover-global` at `now` (epoch seconds).
pub fn decide_switchover(f: &SwitchoverFacts, now: i64, force: bool, opt_in_key: &str) -> GlobalPlan {
    let refuse = |reason: String| GlobalPlan::Refuse { reason };
    let Some(global) = &f.global else {
        return refuse("the global database does not exist (DescribeGlobalClusters found none)".into());
    };
    let Some(to) = global.member(&f.target_region, &f.target_cluster) else {
        let members: Vec<String> = global.members.iter().map(|m| format!("{}/{}", m.region, m.cluster)).collect();
        return refuse(format!(
            "{}/{} is not a member of {} (members: {})",
            f.target_region,
            f.target_cluster,
            global.id,
            members.join(", ")
        ));
    };
    // A switchover an interrupted run began; a pending failover or detach is not one to complete as a switchover.
    let pending = f
        .decisions
        .iter()
        .find(|d| d.state == State::Pending && d.to == to.arn && d.action == GlobalAction::Switchover);
    let resumed = pending.map(|d| (d.key.clone(), d.owner.clone()));
    if to.writer {
        return GlobalPlan::AlreadyPrimary { global: global.id.clone(), target: to.clone(), settle: resumed };
    }
    if let Some(change) = &global.change {
        let kind = if change.data_loss_allowed { "failover" } else { "switchover" };
        let under_way = format!(
            "a {kind} of {} is under way at AWS ({}, from {} to {})",
            global.id,
            change.status,
            change.from.as_deref().unwrap_or("?"),
            change.to.as_deref().unwrap_or("?")
        );
        if change.to.as_deref() == Some(to.arn.as_str()) {
            return GlobalPlan::UnderWay {
                global: global.id.clone(),
                reason: format!("{under_way}: {} becomes the primary when it ends", to.cluster),
            };
        }
        return refuse(format!("{under_way}; AWS refuses another until it ends"));
    }
    let recent = f
        .decisions
        .iter()
        .filter(|d| d.state == State::Done)
        .filter_map(|d| d.done_at.map(|at| (d, now - at)))
        .find(|(_, ago)| (0..super::CLUSTER_COOLDOWN_SECS).contains(ago));
    if let (Some((d, ago)), false) = (recent, force) {
        return refuse(format!(
            "{} switched over to {} {ago} s ago, within the cooldown of {} min; add \"force\": true to switch again",
            global.id,
            d.to,
            super::CLUSTER_COOLDOWN_SECS / 60
        ));
    }
    if let Some(target) = f.target.as_ref().filter(|t| !failover_core::tags::opted_in(&t.tags, opt_in_key)) {
        return refuse(format!("the target cluster {} is not opted in ({opt_in_key}=true)", target.id));
    }
    if let Some(reason) = unhealthy(f) {
        return refuse(reason);
    }
    let fresh = f.lag.iter().filter(|p| p.at >= now - LAG_FRESH_SECS && p.at <= now).max_by_key(|p| p.at);
    let Some(lag) = fresh else {
        return refuse(format!(
            "no AuroraGlobalDBReplicationLag datapoint for {} in the last {} s: in sync cannot be confirmed",
            to.cluster, LAG_FRESH_SECS
        ));
    };
    if !(0.0..=IN_SYNC_LAG_MS).contains(&lag.value) {
        return refuse(format!(
            "{} lags {} ms behind the primary (AuroraGlobalDBReplicationLag; in sync is at most {} ms)",
            to.cluster, lag.value, IN_SYNC_LAG_MS
        ));
    }
    GlobalPlan::Switchover(Switchover {
        global: global.id.clone(),
        from: global.primary().cloned(),
        to: to.clone(),
        lag_ms: lag.value,
        resumed,
        endpoint: global.endpoint.clone(),
    })
}

/// The decision whose DNS step is applied (again) when `target` (an ARN) is the primary already: the pending one
/// being settled (`settling`, its key), else one done to `target` within [`super::REPOINT_WINDOW_SECS`], so
/// that a retry after a run cut short (or a Route 53 call that failed) completes the job. `None`: the change was
/// not ours, or long ago: the record is left to whoever owns it now.
pub fn repoint_due<'a>(
    decisions: &'a [GlobalDecision],
    target: &str,
    settling: Option<&str>,
    now: i64,
) -> Option<&'a GlobalDecision> {
    let recent = |d: &&GlobalDecision| {
        d.state == State::Done && d.done_at.is_some_and(|at| (0..super::REPOINT_WINDOW_SECS).contains(&(now - at)))
    };
    let ours = decisions.iter().filter(|d| d.to == target);
    let settled = settling.and_then(|key| decisions.iter().find(|d| d.key == key && d.to == target));
    settled.or_else(|| ours.filter(recent).max_by_key(|d| d.done_at))
}

/// Why the primary or the target is not healthy enough for a switchover; `None` when both are.
fn unhealthy(f: &SwitchoverFacts) -> Option<String> {
    let Some(primary) = &f.primary else {
        return Some(
            "the primary cluster could not be described: a switchover needs it available (for a lost primary \
             region, see the unplanned failover)"
                .into(),
        );
    };
    if primary.status != "available" {
        return Some(format!(
            "the primary cluster {} is {}: a switchover needs it available",
            primary.id, primary.status
        ));
    }
    let Some(target) = &f.target else {
        return Some(format!("the target cluster {} was not found in {}", f.target_cluster, f.target_region));
    };
    if target.status != "available" {
        return Some(format!("the target cluster {} is {}, not available", target.id, target.status));
    }
    if !f.target_instances.iter().any(|i| i.status == "available") {
        let statuses: Vec<String> = f.target_instances.iter().map(|i| format!("{} {}", i.at.id, i.status)).collect();
        return Some(format!(
            "the target cluster {} has no available instance to become its writer ({})",
            target.id,
            if statuses.is_empty() { "none".to_owned() } else { statuses.join(", ") }
        ));
    }
    None
}

#[cfg(test)]
mod tests;
