//! The unplanned failover of an Aurora Global Database to this region's secondary, when the primary region's
//! writer is confirmed down ([`decide::global_db::decide_global_failover`] says when, and how much data it may
//! lose). Triggered by an alarm or RDS event about the primary cluster in another region (forwarded to this
//! region's stack, `ALLOW_CROSS_REGION=true`), or by `approve` of its pending decision ([`super::approve`]).
//!
//! AWS calls: one `DescribeGlobalClusters` (`region` filter: the global database whose primary is the cluster
//! accused); inside the attempt loop on `global-cluster:<id>`: `DescribeGlobalClusters` by id,
//! `DescribeDBClusters` of the primary in its region (unreachable, missing or down confirms the failure),
//! `DescribeDBClusters` and `DescribeDBInstances` of the secondary, one `GetMetricData` per lag metric
//! (`AuroraGlobalDBRPOLag`, `AuroraGlobalDBReplicationLag`, in this region); to act, `begin` (the pause, the lease,
//! a pending `global#<time>` record), `FailoverGlobalCluster` with `AllowDataLoss` (approved for a detach: first
//! the failover, then `RemoveFromGlobalCluster` only if it fails again without an answer), `end` (the record done
//! with `done_at`, and the approval it acted on marked done, with who approved it, also when a later trigger
//! completes it). A loss beyond the setting writes a pending `approval#<time>` record instead, and the
//! notification carries the approve command; later events of the incident wait for it (or, rejected, are
//! refused) and measure at its onset. When `FailoverGlobalCluster` fails, the record is abandoned with the error
//! and a detach is asked for approval (never while another secondary remains). A dry run writes nothing.
//!
//! Applied as for instances: the cooldown, the ledger protocol, the pause, never twice, and the DNS step
//! ([`super::global_dns`]: the record the new primary's `failover:dns-record` tag names, repointed from the old
//! primary's writer endpoint; untagged, clients are told to use the global writer endpoint). A later event about
//! the old primary, once this region's member is the writer, completes the DNS step of our change (within the
//! repoint window) and changes nothing else. Not applied: the fence (the old primary's region is unreachable,
//! and Aurora makes a failed-over primary a secondary when its region returns) and the lineage (each member
//! cluster carries its own tags).

use failover_core::aws::AwsError;
use failover_core::fault::Fault;
use failover_core::ledger::{self, Again, Settle, Snapshot, Start, State, Step, Stop};
use failover_core::outcome::Outcome;
use failover_core::pause;
use failover_core::report::Report;
use serde_json::json;

use super::{global_dns, Context};
use crate::decide::approval::{judge, Answer};
use crate::decide::global_db::{
    ask_detach, decide_global_failover, incident_onset, FailoverFacts, FailoverPlan, FailoverSettings, GlobalFailover,
    PrimarySeen, CLUSTER_DOWN_STATUSES,
};
use crate::model::{
    global_resource, Approvable, Approval, Cluster, GlobalAction, GlobalCluster, GlobalDecision, GlobalMember,
    GLOBAL_KEY_PREFIX, LAG_LOOK_BACK_SECS,
};
use crate::ports::{Databases, GlobalDatabases, GlobalLagMetric, Ports, ReplicaLag};
use crate::report::{self, Failure, FAILOVER_GLOBAL};
use crate::FUNCTION;

/// A person's approval being acted on: the decision's id and who approved it.
#[derive(Debug, Clone, Copy)]
pub struct Approving<'a> {
    pub id: &'a str,
    pub by: &'a str,
}

/// A trigger about `primary` (a cluster in `region`, another region than this stack's).
pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    region: &str,
    primary: &str,
    cause: &str,
    dry_run: bool,
) -> Result<Report, Fault> {
    let globals = ctx.databases.global_clusters_in(ctx.region).await?;
    // The global database whose primary is accused; or, once this region's member took over, the one the accused
    // belonged to (a later event of the incident, or a retry: it completes what the change left, its DNS step).
    let ours = |g: &GlobalCluster| {
        let accused = g.members.iter().find(|m| m.region == region && m.cluster == primary);
        let home_writes = g.primary().is_some_and(|p| p.region == ctx.region);
        accused.is_some_and(|m| m.writer || home_writes)
    };
    let found = match globals.into_iter().find(ours) {
        Some(g) => Some(g),
        // None with a member here: one whose member here was detached (by a run cut short before it could record
        // it) has none left; it is found among all, its decision says whether that is so.
        None => ctx.databases.global_clusters(ctx.region).await?.into_iter().find(|g| {
            g.members.iter().any(|m| m.region == region && m.cluster == primary && m.writer)
                && !g.members.iter().any(|m| m.region == ctx.region)
        }),
    };
    let Some(global) = found else {
        return Ok(report::skipped(format!(
            "{region}/{primary} is not the primary of a global database with a member in {}: not ours",
            ctx.region
        )));
    };
    decide_and_act(ctx, &global.id, cause, None, dry_run).await
}

/// Decides on `global` inside its attempt loop and acts; `approving`: `approve` of one of its decisions.
pub async fn decide_and_act<P: Ports>(
    ctx: &Context<'_, P>,
    global: &str,
    cause: &str,
    approving: Option<Approving<'_>>,
    dry_run: bool,
) -> Result<Report, Fault> {
    let resource = global_resource(global);
    ctx.session
        .attempt(&resource, async |snapshot| -> Result<Report, Stop<Fault>> {
            let Some(facts) = facts(ctx, global, &snapshot).await? else {
                return Ok(report::skipped(format!("global database {global} does not exist")));
            };
            let approval = match approving {
                Some(a) => match judge(a.id, facts.approvals.iter().find(|x| x.id == a.id), Answer::Approve, ctx.now())
                {
                    Ok(found) => Some(found.clone()),
                    Err(reason) => return Ok(report::approval_refused(a.id, &reason)),
                },
                // A decision an interrupted run began on an approval goes on with that approval.
                None => facts
                    .decisions
                    .iter()
                    .filter(|d| d.state == State::Pending)
                    .find_map(|d| facts.approvals.iter().find(|a| Some(&a.id) == d.approval.as_ref()))
                    .cloned(),
            };
            let settings = FailoverSettings {
                max_loss_ms: ctx.config.max_global_data_loss_seconds * 1000.0,
                approval_ttl_secs: ctx.config.approval_ttl_minutes * 60,
                opt_in_tag_key: ctx.config.common.opt_in_tag_key.clone(),
            };
            let plan = decide_global_failover(&facts, &settings, ctx.now(), approval.as_ref());
            let by = approving.map(|a| a.by);
            Ok(act(ctx, plan, &snapshot, facts.target.as_ref(), cause, by, dry_run).await?)
        })
        .await
        .or_else(|fault| match fault {
            Fault::Busy { .. } => Ok(failover_core::report::busy(FUNCTION, FAILOVER_GLOBAL, fault)),
            other => Err(other),
        })
}

/// The facts of [`decide_global_failover`]; `None` when the global database does not exist.
async fn facts<P: Ports>(
    ctx: &Context<'_, P>,
    global: &str,
    snapshot: &Snapshot,
) -> Result<Option<FailoverFacts>, AwsError> {
    let Some(g) = ctx.databases.global_cluster(ctx.region, global).await? else { return Ok(None) };
    let primary = match g.primary() {
        None => PrimarySeen::Down("the global database has no writer".into()),
        Some(p) => match ctx.databases.cluster(&p.region, &p.cluster).await {
            Ok(None) => PrimarySeen::Down(format!("{} not found in {}", p.cluster, p.region)),
            Ok(Some(c)) if CLUSTER_DOWN_STATUSES.contains(&c.status.as_str()) => {
                PrimarySeen::Down(format!("{} is {}", c.id, c.status))
            }
            Ok(Some(_)) => PrimarySeen::Available,
            Err(e) if super::facts::unreachable(&e) => {
                PrimarySeen::Down(format!("{}'s RDS API did not answer ({e})", p.region))
            }
            Err(e) => return Err(e),
        },
    };
    let home = g.members.iter().find(|m| m.region == ctx.region).cloned();
    let decisions: Vec<GlobalDecision> = snapshot.records.iter().filter_map(GlobalDecision::from_ledger).collect();
    let approvals: Vec<Approval> = snapshot.records.iter().filter_map(Approval::from_ledger).collect();
    let onset = incident_onset(ctx.failure_time(), &decisions, &approvals, ctx.now());
    let since = onset - LAG_LOOK_BACK_SECS - 60;
    let (mut target, mut target_instances, mut rpo_lag, mut replication_lag) = (None, vec![], vec![], vec![]);
    // A detach an interrupted run began: this region's cluster, if it stands alone now, is what it made.
    let detaching = decisions.iter().filter(|d| d.state == State::Pending && d.action == GlobalAction::Detach);
    let detached = detaching.filter_map(|d| GlobalMember::from_arn(&d.to, true)).find(|m| m.region == ctx.region);
    if let (None, Some(m)) = (&home, detached) {
        target = ctx.databases.cluster(&m.region, &m.cluster).await?;
    }
    // Aurora publishes the global lags with the primary's region as `SourceRegion`.
    let source = g.primary().map(|p| p.region.as_str());
    if let Some(m) = home.filter(|m| !m.writer) {
        target = ctx.databases.cluster(&m.region, &m.cluster).await?;
        target_instances = ctx.databases.cluster_instances(&m.region, &m.cluster).await?;
        rpo_lag = ctx.lag.cluster_lag(&m.region, GlobalLagMetric::RpoLag, &m.cluster, source, since).await?;
        if rpo_lag.is_empty() {
            replication_lag =
                ctx.lag.cluster_lag(&m.region, GlobalLagMetric::ReplicationLag, &m.cluster, source, since).await?;
        }
    }
    Ok(Some(FailoverFacts {
        global: g,
        home_region: ctx.region.to_owned(),
        primary,
        target,
        target_instances,
        rpo_lag,
        replication_lag,
        onset,
        decisions,
        approvals,
    }))
}

async fn act<P: Ports>(
    ctx: &Context<'_, P>,
    plan: FailoverPlan,
    snapshot: &Snapshot,
    target: Option<&Cluster>,
    cause: &str,
    by: Option<&str>,
    dry_run: bool,
) -> Step<Report> {
    let resource = &snapshot.resource;
    let f = match plan {
        FailoverPlan::Skip(reason) => return Ok(report::skipped(reason)),
        FailoverPlan::Awaiting { id, reason } => {
            tracing::info!(resource, decision = %id, "awaiting approval");
            return Ok(report::skipped(reason));
        }
        FailoverPlan::Refuse(reason) => return Ok(report::global_failover_refused(resource, cause, &reason)),
        FailoverPlan::UnderWay { global, reason } => {
            return Ok(report::global_under_way(FAILOVER_GLOBAL, &global, reason))
        }
        FailoverPlan::AlreadyPrimary { global, target: to, settle } => {
            return super::global_done::already_primary(ctx, snapshot, &global, &to, settle, dry_run).await
        }
        FailoverPlan::Detached { global, target: to, settle } => {
            return super::global_done::detached(ctx, snapshot, &global, &to, settle, dry_run).await
        }
        FailoverPlan::Ask(approval) => return super::ask::run(ctx, snapshot, approval, cause, dry_run).await,
        FailoverPlan::Act(f) => f,
    };
    if dry_run {
        let dns = global_dns::run(ctx, moved(&f, target), true).await.ok();
        return Ok(report::global_failover(&f, cause, Outcome::DryRun, None, None, dns.as_ref()));
    }
    let now = ctx.now();
    let from = f.from.as_ref().map(|m| m.arn.as_str());
    let approval_id = f.approval.as_ref().map(|a| a.id.as_str());
    // Who approved: this run's person, else the one a resumed decision (or its approval) recorded.
    let recorded = f.resumed.as_ref().and_then(|(key, _)| snapshot.record(key));
    let by = by
        .map(str::to_owned)
        .or_else(|| recorded.and_then(|r| r.data["approved_by"].as_str()).map(str::to_owned))
        .or_else(|| f.approval.as_ref().and_then(|a| a.by.clone()));
    let mut data = GlobalDecision::data(f.action, from, &f.to.arn, now, f.loss_ms);
    data["onset"] = json!(f.onset);
    let data = global_dns::recorded(GlobalDecision::approved(data, approval_id, by.as_deref()), &moved(&f, target));
    let (key, owner, records) = match &f.resumed {
        Some((key, owner)) => (key.clone(), owner.clone(), vec![]),
        None => {
            let key = format!("{GLOBAL_KEY_PREFIX}{now}");
            let retention = ctx.config.common.retention_secs();
            let record = ledger::Record::pending(resource, &key, ctx.session.owner, cause, now, retention)
                .with_data(data.clone());
            (key, ctx.session.owner.to_owned(), vec![record])
        }
    };
    match ctx.session.start(snapshot, &records).await {
        Ok(Start::Started) => {}
        Ok(Start::Again) => return Err(Again),
        Ok(Start::Paused(paused)) => {
            let planned = format!("{} {} to {}", f.action.as_str(), f.global, f.to.arn);
            return Ok(pause::refused(FUNCTION, FAILOVER_GLOBAL, resource, &paused, &planned));
        }
        Err(error) => {
            let failure = Failure { step: "record the failover in the ledger", error: error.into(), done: vec![] };
            return Ok(report::global_failover(&f, cause, Outcome::Failed, Some(&failure), None, None));
        }
    }
    // An approved detach tries the failover first (the same approval covers its loss window): the global APIs
    // may have recovered, and a failover keeps the global database whole. It detaches only when the failover
    // fails again for want of an answer; AWS refusing it is not that.
    let mut f = f;
    let acted = match ctx.databases.failover_global(&f.to.region, &f.global, &f.to.arn).await {
        Err(error) if f.action == GlobalAction::Detach && error.transient => {
            ctx.databases.remove_from_global(&f.to.region, &f.global, &f.to.arn).await
        }
        other => {
            f.action = GlobalAction::Failover;
            other
        }
    };
    let mut data = data;
    data["action"] = json!(f.action.as_str());
    // The clients' path, inside the lease: the record the new primary's tag names (none: the global endpoint).
    let dns = match &acted {
        Ok(()) => Some(global_dns::run(ctx, moved(&f, target), false).await),
        Err(_) => None,
    };
    let mut settle = Vec::new();
    let mut asked = None;
    match &acted {
        Ok(()) => {
            data["done_at"] = json!(ctx.now());
            if let Some(Ok(result)) = &dns {
                data["dns"] = json!(result);
            }
            settle.push(Settle::pending(&key, &owner, State::Done).with_data(data));
            // The approval is done with the decision it approved, whoever completes it.
            if let Some(a) = f.approval.as_ref().filter(|a| a.state == State::Pending) {
                let mut approved = a.clone();
                (approved.by, approved.decided_at) = (by.clone(), Some(ctx.now()));
                settle.push(Settle::pending(&a.key, &a.owner, State::Done).with_data(approved.data()));
            }
        }
        Err(error) => {
            data["error"] = json!(error.to_string());
            settle.push(Settle::pending(&key, &owner, State::Abandoned).with_data(data));
            // The global APIs did not answer (5xx, timeout, no connection: the primary's control plane impaired):
            // detaching is the fallback, and only a person may choose it. AWS refusing (a state fault) is not that.
            // Asked once: a retry that fails again leaves the pending one (unexpired) as it is.
            let detach = Approvable::DetachGlobal { global: f.global.clone(), target: f.to.arn.clone() };
            let waiting = snapshot
                .records
                .iter()
                .filter_map(Approval::from_ledger)
                .any(|a| a.state == State::Pending && a.action == detach && ctx.now() < a.expires_at);
            // Never while another secondary remains (`may_detach`): it would be left behind the lost primary.
            if f.action == GlobalAction::Failover && error.transient && !waiting && f.may_detach {
                let said = report::short(&Fault::Aws(error.clone()));
                asked = Some(ask_detach(&f, &said, ctx.now(), ctx.config.approval_ttl_minutes * 60));
            }
        }
    }
    let retention = ctx.config.common.retention_secs();
    let written: Vec<ledger::Record> = asked
        .iter()
        .map(|a| {
            ledger::Record::pending(resource, &a.key, ctx.session.owner, cause, ctx.now(), retention)
                .with_data(a.data())
        })
        .collect();
    let ended = ctx.session.end(resource, &settle, &written).await;
    let done = vec![format!("recorded the {} ({key} on {resource}, pending)", f.action.as_str())];
    let (dns, dns_error) = match dns {
        Some(Ok(result)) => (Some(result), None),
        Some(Err(error)) => (None, Some(error)),
        None => (None, None),
    };
    Ok(match (acted, ended, dns_error) {
        (Ok(()), Ok(()), None) => report::global_failover(&f, cause, Outcome::Succeeded, None, None, dns.as_ref()),
        (Ok(()), Ok(()), Some(error)) => {
            let done = vec![format!("{} accepted by AWS and recorded done", f.action.as_str())];
            let failure = Failure { step: report::GLOBAL_DNS_STEP, error: error.into(), done };
            report::global_failover(&f, cause, Outcome::Failed, Some(&failure), None, None)
        }
        (Ok(()), Err(error), _) => {
            let failure = Failure { step: "record the failover as done in the ledger", error, done };
            report::global_failover(&f, cause, Outcome::Failed, Some(&failure), None, dns.as_ref())
        }
        (Err(error), ended, _) => {
            let asked = asked.filter(|_| ended.is_ok());
            let step =
                if f.action == GlobalAction::Detach { "RemoveFromGlobalCluster" } else { "FailoverGlobalCluster" };
            let failure = Failure { step, error: error.into(), done };
            report::global_failover(&f, cause, Outcome::Failed, Some(&failure), asked.as_ref(), None)
        }
    })
}

/// The change `f` makes, for its DNS step.
fn moved<'a>(f: &'a GlobalFailover, target: Option<&'a Cluster>) -> global_dns::Move<'a> {
    global_dns::Move {
        from: f.from.as_ref(),
        to: Some(&f.to),
        global_endpoint: f.endpoint.as_deref(),
        detached: f.action == GlobalAction::Detach,
        target,
        ..global_dns::Move::default()
    }
}
