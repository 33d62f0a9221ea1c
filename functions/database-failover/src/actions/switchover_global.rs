//! `switchover-global`: a planned switchover of an Aurora Global Database to one of its secondaries, which
//! loses no data ([`decide::global_db`] says when it may run: healthy, in sync, not under way, not within the
//! cooldown). Triggered by a person (or a Region switch plan) only.
//!
//! AWS calls, inside the attempt loop on `global-cluster:<id>`: one `DescribeGlobalClusters` (by id, in the
//! target's region), `DescribeDBClusters` of the primary (in its region) and of the target, one
//! `DescribeDBInstances` (`db-cluster-id` filter) of the target, one `GetMetricData`
//! (`AuroraGlobalDBReplicationLag` of the target, in its region); to act, `begin` (one `TransactWriteItems`:
//! the pause, the lease, a pending `global#<time>` record), `SwitchoverGlobalCluster` (in the target's region),
//! `end` (the record done with `done_at`, from which the cooldown runs; abandoned with the error when AWS refuses).
//! A dry run reads only.
//!
//! Idempotency: a retry of a switchover AWS accepted finds the target the primary and settles the pending record
//! done, with `done_at` (the cooldown runs from it); only a switchover's record, never a failover's. One that
//! failed transiently finds it pending and, the guards holding again, calls once more. A repeated command while
//! AWS still switches over to the same target answers `PromotionInProgress` (a retryable error: Lambda, or a
//! Region switch step, runs it again); after it is done, it is told the target is the primary already (`Info`).

use failover_core::aws::AwsError;
use failover_core::fault::Fault;
use failover_core::ledger::{self, Again, Settle, Snapshot, Start, State, Step, Stop};
use failover_core::outcome::Outcome;
use failover_core::pause;
use failover_core::report::Report;
use serde_json::json;

use super::{global_dns, Context};
use crate::decide::global_db::{decide_switchover, GlobalPlan, SwitchoverFacts};
use crate::model::{global_resource, Cluster, GlobalAction, GlobalDecision, GlobalMember, GLOBAL_KEY_PREFIX};
use crate::ports::{Databases, GlobalDatabases, GlobalLagMetric, Ports, ReplicaLag};
use crate::report::{self, Failure, SWITCHOVER_GLOBAL};
use crate::FUNCTION;

/// How far back the target's lag is read (seconds): the freshness window and one period.
const LAG_READ_SECS: i64 = crate::decide::global_db::LAG_FRESH_SECS + 60;

/// The command: switch `global` over to `target` (an identifier in `region`, or an ARN).
pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    global: &str,
    region: &str,
    target: &str,
    dry_run: bool,
) -> Result<Report, Fault> {
    let resource = global_resource(global);
    ctx.session
        .attempt(&resource, async |snapshot| -> Result<Report, Stop<Fault>> {
            let facts = facts(ctx, global, region, target, &snapshot).await?;
            let plan = decide_switchover(&facts, ctx.now(), ctx.session.force, &ctx.config.common.opt_in_tag_key);
            Ok(act(ctx, plan, &snapshot, (facts.target.as_ref(), facts.primary.as_ref()), dry_run).await?)
        })
        .await
        .or_else(|fault| match fault {
            Fault::Busy { .. } => Ok(failover_core::report::busy(FUNCTION, SWITCHOVER_GLOBAL, fault)),
            other => Err(other),
        })
}

/// The facts of [`decide_switchover`], read in the target's region (and the primary's, for the primary).
async fn facts<P: Ports>(
    ctx: &Context<'_, P>,
    global: &str,
    region: &str,
    target: &str,
    snapshot: &Snapshot,
) -> Result<SwitchoverFacts, AwsError> {
    let target_member = GlobalMember::from_arn(target, false);
    let (target_region, target_cluster) = match &target_member {
        Some(m) => (m.region.clone(), m.cluster.clone()),
        None => (region.to_owned(), target.to_owned()),
    };
    let described = ctx.databases.global_cluster(&target_region, global).await?;
    let decisions = snapshot.records.iter().filter_map(GlobalDecision::from_ledger).collect();
    let mut facts = SwitchoverFacts {
        global: described.clone(),
        target_region: target_region.clone(),
        target_cluster: target_cluster.clone(),
        target: None,
        target_instances: vec![],
        primary: None,
        lag: vec![],
        decisions,
    };
    let Some(g) = described else { return Ok(facts) };
    let Some(member) = g.member(&target_region, &target_cluster).cloned() else { return Ok(facts) };
    if member.writer {
        return Ok(facts);
    }
    if let Some(primary) = g.primary() {
        // A primary whose region does not answer is left undescribed: `decide` refuses, naming why.
        match ctx.databases.cluster(&primary.region, &primary.cluster).await {
            Ok(found) => facts.primary = found,
            Err(error) if super::facts::unreachable(&error) => {
                tracing::warn!(%error, region = primary.region, "primary's region did not answer");
            }
            Err(error) => return Err(error),
        }
    }
    facts.target = ctx.databases.cluster(&member.region, &member.cluster).await?;
    facts.target_instances = ctx.databases.cluster_instances(&member.region, &member.cluster).await?;
    let since = ctx.now() - LAG_READ_SECS;
    let source = g.primary().map(|p| p.region.as_str());
    facts.lag =
        ctx.lag.cluster_lag(&member.region, GlobalLagMetric::ReplicationLag, &member.cluster, source, since).await?;
    facts.target_cluster = member.cluster;
    facts.target_region = member.region;
    Ok(facts)
}

/// Carries the plan out (or only reports it, in a dry run); `described`: the target and primary clusters.
async fn act<P: Ports>(
    ctx: &Context<'_, P>,
    plan: GlobalPlan,
    snapshot: &Snapshot,
    described: (Option<&Cluster>, Option<&Cluster>),
    dry_run: bool,
) -> Step<Report> {
    let resource = &snapshot.resource;
    let s = match plan {
        GlobalPlan::Refuse { reason } => return Ok(report::global_refused(resource, &reason)),
        // Not a refusal: the goal is being reached. Retried (a Region switch step reruns) until AWS is done.
        GlobalPlan::UnderWay { global, reason } => {
            return Ok(report::global_under_way(SWITCHOVER_GLOBAL, &global, reason))
        }
        GlobalPlan::AlreadyPrimary { global, target, settle } => {
            if let (Some((key, owner)), false) = (&settle, dry_run) {
                // A switchover an interrupted run asked for, found done: its record settled.
                match ctx.session.start(snapshot, &[]).await {
                    Ok(Start::Started) => {
                        let done = super::global_done::settle_done(snapshot, key, owner, ctx.now());
                        if let Err(error) = ctx.session.end(resource, &done, &[]).await {
                            tracing::warn!(%error, resource, "switchover record not settled");
                        }
                    }
                    Ok(Start::Again) => return Err(Again),
                    Ok(Start::Paused(_)) | Err(_) => {}
                }
            }
            let settling = settle.as_ref().map(|(k, _)| k.as_str());
            return Ok(match global_dns::again(ctx, snapshot, &target, settling, dry_run).await {
                Ok(dns) => report::global_already_primary(SWITCHOVER_GLOBAL, &global, &target, dns),
                Err(error) => report::global_already_primary(SWITCHOVER_GLOBAL, &global, &target, None)
                    .error(failover_core::fault::Fault::Aws(error)),
            });
        }
        GlobalPlan::Switchover(s) => s,
    };
    let (target, old) = described;
    let global_endpoint = s.endpoint.clone();
    let moved = global_dns::Move {
        from: s.from.as_ref(),
        to: Some(&s.to),
        global_endpoint: global_endpoint.as_deref(),
        target,
        old,
        ..global_dns::Move::default()
    };
    if dry_run {
        let dns = global_dns::run(ctx, moved, true).await.ok();
        return Ok(report::switchover_global(&s, Outcome::DryRun, None, dns.as_ref()));
    }
    let (key, owner, records) = match &s.resumed {
        Some((key, owner)) => (key.clone(), owner.clone(), vec![]),
        None => {
            let key = format!("{GLOBAL_KEY_PREFIX}{}", ctx.now());
            let from = s.from.as_ref().map(|m| m.arn.as_str());
            let data = GlobalDecision::data(GlobalAction::Switchover, from, &s.to.arn, ctx.now(), Some(s.lag_ms));
            let data = global_dns::recorded(data, &moved);
            let retention = ctx.config.common.retention_secs();
            let record =
                ledger::Record::pending(resource, &key, ctx.session.owner, "switchover-global", ctx.now(), retention)
                    .with_data(data);
            (key, ctx.session.owner.to_owned(), vec![record])
        }
    };
    match ctx.session.start(snapshot, &records).await {
        Ok(Start::Started) => {}
        Ok(Start::Again) => return Err(Again),
        Ok(Start::Paused(paused)) => {
            let planned = format!("switch {} over to {}", s.global, s.to.arn);
            return Ok(pause::refused(FUNCTION, SWITCHOVER_GLOBAL, resource, &paused, &planned));
        }
        Err(error) => {
            let failure = Failure { step: "record the switchover in the ledger", error: error.into(), done: vec![] };
            return Ok(report::switchover_global(&s, Outcome::Failed, Some(&failure), None));
        }
    }
    let acted = ctx.databases.switchover_global(&s.to.region, &s.global, &s.to.arn).await;
    let from = s.from.as_ref().map(|m| m.arn.as_str());
    let data = GlobalDecision::data(GlobalAction::Switchover, from, &s.to.arn, ctx.now(), Some(s.lag_ms));
    let mut data = global_dns::recorded(data, &moved);
    // The clients' path, inside the lease: the record the tags name (none: the global writer endpoint).
    let dns = match &acted {
        Ok(()) => Some(global_dns::run(ctx, moved, false).await),
        Err(_) => None,
    };
    let settle = match &acted {
        Ok(()) => {
            data["done_at"] = json!(ctx.now());
            if let Some(Ok(result)) = &dns {
                data["dns"] = json!(result);
            }
            vec![Settle::pending(&key, &owner, State::Done).with_data(data)]
        }
        // Transient: left pending, so that Lambda's retry (or the person's) completes this same decision.
        Err(error) if error.transient => vec![],
        Err(error) => {
            data["error"] = json!(error.to_string());
            vec![Settle::pending(&key, &owner, State::Abandoned).with_data(data)]
        }
    };
    let ended = ctx.session.end(resource, &settle, &[]).await;
    let done = vec![format!("recorded the switchover ({key} on {resource}, pending)")];
    let (dns, dns_error) = match dns {
        Some(Ok(result)) => (Some(result), None),
        Some(Err(error)) => (None, Some(error)),
        None => (None, None),
    };
    Ok(match (acted, ended, dns_error) {
        (Ok(()), Ok(()), None) => report::switchover_global(&s, Outcome::Succeeded, None, dns.as_ref()),
        (Ok(()), Ok(()), Some(error)) => {
            let done = vec!["switchover accepted by AWS and recorded done".to_owned()];
            let failure = Failure { step: report::GLOBAL_DNS_STEP, error: error.into(), done };
            report::switchover_global(&s, Outcome::Failed, Some(&failure), None)
        }
        (Ok(()), Err(error), _) => {
            let failure = Failure { step: "record the switchover as done in the ledger", error, done };
            report::switchover_global(&s, Outcome::Failed, Some(&failure), dns.as_ref())
        }
        (Err(error), ended, _) => {
            if let Err(e) = ended {
                tracing::warn!(error = %e, resource, "switchover record not settled; the lease runs out by itself");
            }
            let failure = Failure { step: "SwitchoverGlobalCluster", error: error.into(), done };
            report::switchover_global(&s, Outcome::Failed, Some(&failure), None)
        }
    })
}
