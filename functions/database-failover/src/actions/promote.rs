//! Promote: the safest read replica of a failed RDS primary, never twice.
//!
//! Entry points: [`instance`] (an event or alarm on an instance, settled once it is described by
//! [`route::described`]: a primary, a replica, or an Aurora member), [`replica`] (a replica whose replication stopped) and [`manual`] (the
//! `promote` command). Each gathers [`PromotionFacts`], calls [`decide::decide_promotion`] once, and acts.
//!
//! Order of the writes ([`execute`]): the decision is tagged on the old primary (when it exists), then on the
//! replica, then `PromoteReadReplica`, then the DNS UPSERT. Any later or concurrent event finds the record and
//! completes or reports that same promotion; within the repoint window it re-applies the (idempotent) UPSERT.

use failover_core::aws::AwsError;
use failover_core::invoke::InvokeError;
use failover_core::outcome::Outcome;
use failover_core::report::Report;

use super::{failover_cluster, Context};
use crate::decide::{self, PrimaryState, Promotion, PromotionFacts, Trigger};
use crate::model::{DbRef, Record, PROMOTED_FROM_TAG, PROMOTED_TAG};
use crate::ports::{Databases, Dns, ReplicaLag};
use crate::report::{self, Failure};
use crate::route::{self, Described};

/// An event or alarm on an instance: a primary, a replica (an alarm on it is replica-side) or an Aurora member
/// (an alarm on the writer fails its cluster over).
pub async fn instance<D, L, R>(
    ctx: &Context<'_, D, L, R>,
    at: &DbRef,
    trigger: &Trigger,
    dry_run: bool,
) -> Result<Report, AwsError>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    let Some(instance) = ctx.databases.instance(at).await? else {
        let facts = ctx.promotion_facts(at, PrimaryState::Missing, None).await?;
        return Ok(decide_and_act(ctx, trigger, &facts, dry_run).await);
    };
    match route::described(at, &instance, trigger) {
        Described::Primary => {
            let facts = ctx.promotion_facts(at, PrimaryState::Found(instance), None).await?;
            Ok(decide_and_act(ctx, trigger, &facts, dry_run).await)
        }
        Described::ReplicaSide(trigger) => Box::pin(replica(ctx, at, &trigger, dry_run)).await,
        Described::ClusterMember { cluster } => {
            let writer = ctx
                .databases
                .cluster(&at.region, &cluster)
                .await?
                .and_then(|c| c.members.iter().find(|m| m.writer).map(|m| m.id.clone()));
            if writer.as_deref() == Some(at.id.as_str()) {
                failover_cluster::run(ctx, &at.region, &cluster, trigger, dry_run).await
            } else {
                let reason = format!("{} is a reader of Aurora cluster {cluster}: readers are not failed over", at.id);
                Ok(report::skipped(reason))
            }
        }
        Described::Skip(reason) => Ok(report::skipped(reason)),
    }
}

/// Replication stopped on a replica: is its primary down (or unreachable in another region)?
pub async fn replica<D, L, R>(
    ctx: &Context<'_, D, L, R>,
    at: &DbRef,
    trigger: &Trigger,
    dry_run: bool,
) -> Result<Report, AwsError>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    let Some(replica) = ctx.databases.instance(at).await? else {
        return Ok(report::skipped(format!("replica {at} not found")));
    };
    let Some(source) = replica.source.clone() else {
        return Ok(report::skipped(format!("{} is not a read replica (any more): nothing to do", at.id)));
    };
    let primary = ctx.primary_state(&source, &replica.at).await?;
    let facts = ctx.promotion_facts(&source, primary, Some(replica)).await?;
    Ok(decide_and_act(ctx, trigger, &facts, dry_run).await)
}

/// `promote`: the named replica, with the same guards. A name that is not a replica is an invalid command.
pub async fn manual<D, L, R>(
    ctx: &Context<'_, D, L, R>,
    at: &DbRef,
    trigger: &Trigger,
    dry_run: bool,
) -> Result<Result<Report, InvokeError>, AwsError>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    let Some(replica) = ctx.databases.instance(at).await? else {
        return Ok(Err(InvokeError::InvalidCommand(format!("promote: DB instance {at} not found"))));
    };
    let Some(source) = replica.source.clone() else {
        let record = replica.tags.get(PROMOTED_FROM_TAG).cloned().unwrap_or_default();
        return Ok(Err(InvokeError::InvalidCommand(format!(
            "promote: {} is not a read replica{}",
            at.id,
            if record.is_empty() { String::new() } else { format!(" (promoted from {record})") }
        ))));
    };
    let primary = ctx.primary_state(&source, &replica.at).await?;
    let facts = ctx.promotion_facts(&source, primary, Some(replica)).await?;
    Ok(Ok(decide_and_act(ctx, trigger, &facts, dry_run).await))
}

async fn decide_and_act<D, L, R>(
    ctx: &Context<'_, D, L, R>,
    trigger: &Trigger,
    facts: &PromotionFacts,
    dry_run: bool,
) -> Report
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    let plan = decide::decide_promotion(trigger, facts, &ctx.settings(), (ctx.clock)());
    ctx.act(plan, trigger, &facts.primary_ref.region, false, dry_run).await
}

/// A promotion planned: reported as a dry run, or carried out and reported (with the failed step, if any).
pub(super) async fn execute<D, L, R>(
    ctx: &Context<'_, D, L, R>,
    p: &Promotion,
    trigger: &Trigger,
    dry_run: bool,
) -> Report
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    let days = ctx.config.backup_retention_days;
    let dns = ctx.config.endpoint_record.as_ref().map(|r| r.name.as_str());
    if dry_run {
        return report::promotion(p, trigger, Outcome::DryRun, None, dns, days);
    }
    match record_and_promote(ctx, p).await {
        Ok(()) => report::promotion(p, trigger, Outcome::Succeeded, None, dns, days),
        Err(failure) => report::promotion(p, trigger, Outcome::Failed, Some(&failure), dns, days),
    }
}

/// The recorded replica is already a standalone primary: nothing else is promoted. With `repoint` (within the
/// repoint window, not a dry run), the DNS UPSERT is applied again, so that a retry after a failed Route 53 call
/// completes the job; a transient failure of it makes the invocation an error (Lambda retries).
pub(super) async fn already_promoted<D, L, R>(
    ctx: &Context<'_, D, L, R>,
    primary: &DbRef,
    replica: &DbRef,
    at: &str,
    endpoint: Option<&str>,
    repoint: bool,
) -> Report
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    let skipped = report::skipped(format!(
        "{} already failed over to {} at {at}: nothing else is promoted",
        primary.id, replica.id
    ));
    if let (true, Some(record), Some(endpoint)) = (repoint, ctx.config.endpoint_record.as_ref(), endpoint) {
        match ctx.dns.upsert_cname(record, endpoint).await {
            Ok(()) => {
                tracing::info!(record = %record.name, endpoint, "DNS record re-applied for the recorded promotion")
            }
            Err(error) => return skipped.error(error),
        }
    }
    skipped
}

/// Records the decision (primary, then replica), promotes, repoints DNS. The records come first: any later or
/// concurrent event finds them and promotes nothing else.
async fn record_and_promote<D, L, R>(ctx: &Context<'_, D, L, R>, p: &Promotion) -> Result<(), Failure>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    let mut done: Vec<String> = Vec::new();
    let fail = |step: &'static str, done: &Vec<String>, error: AwsError| Failure { step, error, done: done.clone() };
    let primary_value = p.record.tag_value(&p.primary.region);
    if let Some(arn) = &p.primary_arn {
        ctx.databases
            .tag(&p.primary.region, arn, PROMOTED_TAG, &primary_value)
            .await
            .map_err(|e| fail("record the decision on the primary", &done, e))?;
        done.push(format!("tagged {} {PROMOTED_TAG}={primary_value}", p.primary.id));
    }
    let replica_value = Record { subject: p.primary.clone(), at: p.record.at.clone(), at_secs: p.record.at_secs }
        .tag_value(&p.replica.region);
    ctx.databases
        .tag(&p.replica.region, &p.replica_arn, PROMOTED_FROM_TAG, &replica_value)
        .await
        .map_err(|e| fail("record the decision on the replica", &done, e))?;
    done.push(format!("tagged {} {PROMOTED_FROM_TAG}={replica_value}", p.replica.id));
    tracing::info!(primary = %p.primary, replica = %p.replica, resumed = p.resumed, "promoting read replica");
    ctx.databases
        .promote(&p.replica, ctx.config.backup_retention_days)
        .await
        .map_err(|e| fail("PromoteReadReplica", &done, e))?;
    done.push(format!("promoted {}", p.replica.id));
    if let Some(record) = &ctx.config.endpoint_record {
        match &p.endpoint {
            Some(endpoint) => {
                ctx.dns.upsert_cname(record, endpoint).await.map_err(|e| fail("repoint the DNS record", &done, e))?;
                tracing::info!(record = %record.name, endpoint, "DNS record repointed");
            }
            None => tracing::warn!(replica = %p.replica, "the promoted replica has no endpoint yet: DNS not changed"),
        }
    }
    Ok(())
}
