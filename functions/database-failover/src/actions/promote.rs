//! Promote: the safest read replica of a failed RDS primary, never twice.
//!
//! Entry points: [`instance`] (an event or alarm on an instance, settled once it is described by
//! [`route::described`]: a primary, a replica, or an Aurora member), [`replica`] (a replica whose replication
//! stopped) and [`manual`] (the `promote` command). Each gathers [`PromotionFacts`], calls
//! [`decide::decide_promotion`] once, and acts.
//!
//! The ledger resource is the primary's name ([`promotion_resource`], `db-instance:<region>/<id>`, so that it is
//! found even when the primary is gone); its `promotion#<time>` record is the decision, bound to the primary's
//! `DbiResourceId` (a decision about an earlier instance of the name does not count: [`decide::same_primary`]).
//!
//! # Order
//! `execute`: `begin` writes the record pending (with the lease, the DNS and proxy steps, and the fence's
//! pending record), then `carry_out` runs, in order: (1) the fence of a primary still `available`
//! ([`fence::Guard::apply`]); (2) `PromoteReadReplica`; (3) the DNS step ([`repoint`]) once the replica is
//! `available` and no longer a replica (as `PromoteReadReplica`'s answer describes it; one more
//! `DescribeDBInstances` only when the answer does not); (4) the proxy step ([`proxy`]); (5) the lineage and
//! (6) with `RECREATE_REPLICA` a new replica ([`protect`]). `end` settles it done (not yet notified: [`owed`])
//! with the fence, which is settled only together with a promotion RDS accepted (otherwise undone:
//! [`super::fence_undo`]) — or, when a step failed or the promotion is still in progress
//! ([`Fault::InProgress`], retried by Lambda), leaves it pending and releases the lease, so that a retry
//! completes that same decision.
//!
//! # Never twice
//! `begin` succeeds only if the ledger is as read, so two invocations at once never both act: the second reads
//! again, facts included, and finds the first one's record (or, its wait budget spent, stops with a retryable
//! [`Fault::Busy`]). A later or concurrent event finds the record and never promotes another replica: a pending
//! one (a promotion that failed or was cut short) is completed with the same replica, by the next invocation in
//! its own name, only while its guards still hold (the primary down, the replica still its opted-in replica,
//! replicating and within the lag limit, the same instance by `DbiResourceId`) and within
//! `DECISION_TTL_MINUTES`; otherwise it is abandoned ([`super::abandon`]) with a warning saying why, and an
//! abandoned record blocks nothing. A done one re-applies the DNS step (nothing changes once the record points
//! at the replica) within [`decide::REPOINT_WINDOW_SECS`], later nothing. A done one not yet notified is
//! published from the record ([`owed`]), or, while its own run may still publish it, answered with a retryable
//! [`Fault::InProgress`].
//!
//! # AWS calls
//! A primary's failure: one `DescribeDBInstances` for the primary, then inside the attempt loop one ledger
//! `Query` (the primary's resource, in its region's ledger: [`crate::adapters::HomeLedgers`]; a `begin` there from
//! another region reads this stack's own pause first, one `GetItem`), ONE `DescribeDBInstances` for all its replicas per region holding replicas
//! (a `db-instance-id` filter, up to [`crate::adapters::INSTANCE_IDS_PER_CALL`] identifiers a call), one
//! `GetMetricData` per such region ([`super::facts`]), for a Multi-AZ primary without a record of AWS's own
//! failover one `DescribeEvents` ([`super::aws_recovery`]); with `FENCE` on, one `DescribeDBInstances` of the
//! primary and, when it is `available`, `ModifyDBInstance` before the promotion ([`super::fence::Guard`]); to
//! act, one `TransactWriteItems` (`begin`),
//! `PromoteReadReplica` (its answer says whether the replica is writable yet), when the primary names a record
//! [`repoint`]'s Route 53 calls, when it names a proxy [`proxy`]'s RDS calls, one `TransactWriteItems`
//! (`end`); after the publish, one more `Query` and `begin`/`end` mark it notified ([`owed::MarkNotified`]). A
//! replica-side trigger or `promote` first describes the replica and its primary (a primary that no longer
//! exists costs no listing: its candidate is the replica the trigger names, described again after the
//! `Query`). A recorded replica that has left the list joins its region's filtered call; in a region not read
//! otherwise, it costs one more `DescribeDBInstances`. A
//! wait or a lost `begin` repeats the `Query` and the reads. An event on an Aurora member costs one
//! `DescribeDBClusters` and goes to [`failover_cluster`], which fails the cluster over only while the
//! instance is its writer. A primary that is not opted in
//! is skipped before the ledger is read (no ledger call); a plan that changes nothing costs the `Query` only.

use failover_core::aws::AwsError;
use failover_core::fault::Fault;
use failover_core::invoke::InvokeError;
use failover_core::ledger::{self, Again, Ledger, Settle, Snapshot, Start, State, Step, Stop};
use failover_core::outcome::Outcome;
use failover_core::pause;
use failover_core::report::Report;

use super::{aws_recovery, failover_cluster, fence, owed, protect, proxy, repoint, Context};
use crate::decide::{self, DnsResult, PrimaryState, Promotion, PromotionFacts, ProxyResult, Trigger};
use crate::model::{promotion_key, promotion_resource, DbRef, Record, Recreated, Topology};
use crate::ports::{Databases, Ports};
use crate::report::{self, Failure};
use crate::route::{self, Described};
use crate::FUNCTION;

/// An event or alarm on an instance: a primary, a replica (an alarm on it is replica-side) or an Aurora member
/// (an alarm on the writer fails its cluster over).
pub async fn instance<P: Ports>(
    ctx: &Context<'_, P>,
    at: &DbRef,
    trigger: &Trigger,
    dry_run: bool,
) -> Result<Report, Fault> {
    let Some(instance) = ctx.databases.instance(at).await? else {
        return decide_and_act(ctx, trigger, at, Some(PrimaryState::Missing), None, dry_run).await;
    };
    match route::described(at, &instance, trigger) {
        Described::Primary => {
            decide_and_act(ctx, trigger, at, Some(PrimaryState::Found(instance)), None, dry_run).await
        }
        Described::ReplicaSide(trigger) => Box::pin(replica(ctx, at, &trigger, dry_run)).await,
        // The alarm accuses the instance it watches of being a failing writer: a writer that is another one now
        // was already failed over, and the cluster's action says so ([`decide::writer`]).
        Described::ClusterMember { cluster } => {
            failover_cluster::run(ctx, &at.region, &cluster, trigger, Some(&at.id), dry_run).await
        }
        Described::Skip(reason) => Ok(report::skipped(reason)),
    }
}

/// Replication stopped on a replica: is its primary down (or unreachable in another region)?
pub async fn replica<P: Ports>(
    ctx: &Context<'_, P>,
    at: &DbRef,
    trigger: &Trigger,
    dry_run: bool,
) -> Result<Report, Fault> {
    let Some(replica) = ctx.databases.instance(at).await? else {
        return Ok(report::skipped(format!("replica {at} not found")));
    };
    let Some(source) = replica.source.clone() else {
        return Ok(report::skipped(format!("{} is not a read replica (any more): nothing to do", at.id)));
    };
    let primary = ctx.primary_state(&source, &replica.at).await?;
    decide_and_act(ctx, trigger, &source, Some(primary), Some(&replica.at), dry_run).await
}

/// `promote`: the named replica, with the same guards. A name that is not a replica is an invalid command.
pub async fn manual<P: Ports>(
    ctx: &Context<'_, P>,
    at: &DbRef,
    trigger: &Trigger,
    dry_run: bool,
) -> Result<Report, InvokeError> {
    let failed = |fault: Fault| report::failure(&at.region, &at.id, trigger, fault);
    let replica = match ctx.databases.instance(at).await {
        Ok(Some(replica)) => replica,
        Ok(None) => return Err(InvokeError::InvalidCommand(format!("promote: DB instance {at} not found"))),
        Err(error) => return Ok(failed(error.into())),
    };
    let Some(source) = replica.source.clone() else {
        return Err(InvokeError::InvalidCommand(format!("promote: {} is not a read replica", at.id)));
    };
    let primary = match ctx.primary_state(&source, &replica.at).await {
        Ok(primary) => primary,
        Err(error) => return Ok(failed(error.into())),
    };
    let answer = decide_and_act(ctx, trigger, &source, Some(primary), Some(&replica.at), dry_run).await;
    Ok(answer.unwrap_or_else(failed))
}

/// The protocol on the primary's ledger resource: read it (waiting while held), gather the facts (`described`:
/// the primary as described just before, used on the first attempt only — a promotion does not change the
/// primary; `extra`: a replica named by the trigger), decide once, act; again from the read when `begin` finds
/// the ledger changed.
async fn decide_and_act<P: Ports>(
    ctx: &Context<'_, P>,
    trigger: &Trigger,
    primary_ref: &DbRef,
    mut described: Option<PrimaryState>,
    extra: Option<&DbRef>,
    dry_run: bool,
) -> Result<Report, Fault> {
    let resource = promotion_resource(primary_ref);
    // A primary that is not opted in is not ours: decided (a skip) without a ledger call.
    if let Some(PrimaryState::Found(p)) = described.as_ref() {
        if !p.opted_in(&ctx.config.common.opt_in_tag_key) {
            let facts = PromotionFacts {
                primary_ref: primary_ref.clone(),
                primary: PrimaryState::Found(p.clone()),
                replicas: Vec::new(),
                record: None,
                recorded: None,
                undescribed: Vec::new(),
                onset: None,
            };
            let plan = decide::decide_promotion(trigger, &facts, &ctx.settings(), ctx.now());
            return Ok(ctx.act_unread(plan, &resource, trigger, &primary_ref.region, &Topology::Instance).await);
        }
    }
    let days = ctx.config.backup_retention_days;
    let answer = ctx
        .session
        .attempt(&resource, async |snapshot| -> Result<Report, Stop<Fault>> {
            let publishing = (!dry_run).then(|| owed::publishing(&snapshot, ctx.session.owner, ctx.now())).flatten();
            if let Some(reason) = publishing {
                return Ok(report::waiting(snapshot.resource.clone(), reason));
            }
            if let Some(report) = owed::notification(&snapshot, trigger, days, dry_run) {
                let _ = ctx.owes.set(snapshot.resource.clone());
                return Ok(report);
            }
            let wait_secs = ctx.config.aws_recovery_wait_minutes * 60;
            if let Some(reason) = decide::aws_first::waiting(&snapshot.records, trigger, ctx.now(), wait_secs) {
                return Ok(report::waiting(snapshot.resource.clone(), reason));
            }
            let facts = Box::pin(ctx.promotion_facts(primary_ref, described.take(), extra, &snapshot)).await?;
            if let Some(reason) = aws_recovery::waiting(ctx, &facts, &snapshot, trigger).await? {
                return Ok(report::waiting(snapshot.resource.clone(), reason));
            }
            let plan = decide::decide_promotion(trigger, &facts, &ctx.settings(), ctx.now());
            let instance = &Topology::Instance;
            let report = Box::pin(ctx.act(plan, &snapshot, trigger, &primary_ref.region, instance, dry_run)).await?;
            Ok(report::with_onset(report, facts.onset))
        })
        .await;
    // The primary's region's ledger did not answer: decided in this stack's own, and said so.
    match ctx.session.ledger.alone(&resource) {
        Some(why) => answer.map(|report| report::decided_alone(report, &why)),
        None => answer,
    }
}

/// A promotion planned: reported as a dry run, or begun in the ledger, carried out, ended and reported (with
/// the failed step, if any).
pub(super) async fn execute<P: Ports>(
    ctx: &Context<'_, P>,
    p: &Promotion,
    snapshot: &Snapshot,
    trigger: &Trigger,
    dry_run: bool,
    fence: &fence::Guard,
) -> Step<Report> {
    // A new decision is stamped with the failure's time, where its incident's timeline starts; a resumed one
    // keeps its own.
    let stamped;
    let p = if p.resumed {
        p
    } else {
        let record = Record { decided_in: Some(ctx.region.to_owned()), ..p.record.clone() };
        stamped = Promotion { record: record.with_failure_at(ctx.failure_at), ..p.clone() };
        &stamped
    };
    let days = ctx.config.backup_retention_days;
    let (planned, planned_proxy) = (p.planned_dns(), p.planned_proxy());
    let told = |report| report::with_client_paths(report, p, &planned, &planned_proxy);
    let failed =
        |failure: &Failure| told(report::promotion(p, trigger, Outcome::Failed, Some(failure), &planned, days));
    if dry_run {
        return Ok(told(report::promotion(p, trigger, Outcome::DryRun, None, &planned, days)));
    }
    let resource = promotion_resource(&p.primary);
    // A resumed decision is already in the ledger, pending, under its key; a new one gets its own (with this
    // invocation's name when a decision abandoned in the same second holds the plain one).
    let mut key =
        if p.resumed { p.record.key.clone() } else { promotion_key(p.record.at_secs.unwrap_or_else(|| ctx.now())) };
    if !p.resumed && snapshot.record(&key).is_some() {
        key = format!("{key}#{}", ctx.session.owner);
    }
    let mut records = fence.records(ctx, snapshot);
    if !p.resumed {
        let data = p.record.data("replica", &p.replica_arn, p.endpoint.as_deref());
        let retention = ctx.config.common.retention_secs();
        records.push(
            ledger::Record::pending(&resource, &key, ctx.session.owner, &trigger.describe(), ctx.now(), retention)
                .with_data(data),
        );
    }
    match ctx.session.start(snapshot, &records).await {
        Ok(Start::Started) => {}
        Ok(Start::Again) => return Err(Again),
        Ok(Start::Paused(paused)) => {
            let planned = format!("promote {} to replace {}", p.replica, p.primary);
            return Ok(pause::refused(FUNCTION, report::PROMOTE, &p.primary.to_string(), &paused, &planned));
        }
        Err(error) => {
            let step = "record the decision in the ledger";
            return Ok(failed(&Failure { step, error: error.into(), done: vec![] }));
        }
    }
    let mut done = vec![format!("recorded the decision ({key} on {resource}, pending)")];
    let acted = carry_out(ctx, p, &key, fence, &mut done).await;
    // Settled only once the fence, the promotion, the DNS change, the proxy's and the lineage are made;
    // otherwise left pending for the retry.
    let owner = if p.resumed { p.record.owner.as_str() } else { ctx.session.owner };
    let mut settle = fence.settle(ctx, snapshot).await;
    settle.extend(match &acted {
        // Done, and not yet notified: [`super::owed`] marks it once the notification is out.
        Ok((dns, proxy, replica)) => {
            vec![Settle::pending(&key, owner, State::Done).with_data(owed::unnotified(
                p,
                dns,
                proxy,
                replica,
                fence.result(p),
            ))]
        }
        // Asked for and under way: still pending, with the time the call returned (a replica found again
        // available and still a replica after it was not promoted).
        Err(Failure { error: Fault::InProgress { .. }, .. }) if !p.standalone => {
            let record = Record { promotion_requested_at: Some(ctx.now()), ..p.record.clone() };
            let data = record.data("replica", &p.replica_arn, p.endpoint.as_deref());
            vec![Settle::pending(&key, owner, State::Pending).with_data(data)]
        }
        Err(_) => Vec::new(),
    });
    let ended = ctx.session.end(&resource, &settle, &[]).await;
    Ok(match (acted, ended) {
        (Ok((dns, proxy, replica)), Ok(())) => {
            let _ = ctx.owes.set(resource);
            let report = report::promotion(p, trigger, Outcome::Succeeded, None, &dns, days);
            report::with_replica(report::with_client_paths(report, p, &dns, &proxy), &replica)
        }
        (Ok(_), Err(error)) => failed(&Failure { step: "record the promotion as done in the ledger", error, done }),
        (Err(failure), ended) => {
            if let Err(error) = ended {
                tracing::warn!(%error, resource, "lease not released after a failed promotion; it runs out by itself");
            }
            match failure.error {
                // Asked for and not yet done: the record stays pending, and Lambda's retry finishes it.
                Fault::InProgress { ref reason, .. } => report::skipped(reason.clone()).error(failure.error),
                _ => failed(&failure),
            }
        }
    })
}

/// The steps of a begun promotion, in order: the fence of a primary still `available` ([`fence`]), the promotion
/// and the DNS step, the proxy's ([`proxy`]), then the lineage and a new replica. The first that fails stops the
/// rest; `done` lists the steps made.
async fn carry_out<P: Ports>(
    ctx: &Context<'_, P>,
    p: &Promotion,
    key: &str,
    fence: &fence::Guard,
    done: &mut Vec<String>,
) -> Result<(DnsResult, ProxyResult, Recreated), Failure> {
    // Each step on the heap: together their futures outgrow a thread's stack in unoptimised builds.
    Box::pin(fence.apply(ctx, p, done)).await?;
    let dns = Box::pin(promote_and_repoint(ctx, p, done)).await;
    if !matches!(&dns, Err(failure) if failure.step == "PromoteReadReplica") {
        fence.accepted();
    }
    let dns = dns?;
    let proxy = Box::pin(proxy::follow(ctx, p, done)).await?;
    let replica = Box::pin(protect::stay_protected(ctx, p, key, done)).await?;
    Ok((dns, proxy, replica))
}

/// Promotes (unless an earlier invocation already did), then repoints DNS; `done` lists the steps made.
async fn promote_and_repoint<P: Ports>(
    ctx: &Context<'_, P>,
    p: &Promotion,
    done: &mut Vec<String>,
) -> Result<DnsResult, Failure> {
    let fail = |step: &'static str, done: &Vec<String>, error: AwsError| Failure {
        step,
        error: error.into(),
        done: done.clone(),
    };
    // DNS follows only a replica that takes writes: `available` and no longer a replica. A standalone one was
    // decided on as such (one not yet available is waited for by the plan).
    let promoted = if p.standalone {
        done.push(format!("{} was already promoted", p.replica.id));
        None
    } else {
        tracing::info!(primary = %p.primary, replica = %p.replica, resumed = p.resumed, "promoting read replica");
        let answer = ctx
            .databases
            .promote(&p.replica, ctx.config.backup_retention_days)
            .await
            .map_err(|e| fail("PromoteReadReplica", done, e))?;
        done.push(format!("promoted {}", p.replica.id));
        match answer {
            Some(instance) => Some(instance),
            None => {
                let described = ctx.databases.instance(&p.replica).await;
                described.map_err(|e| fail("describe the promoted replica", done, e))?
            }
        }
    };
    if let Some(status) = promoted.as_ref().filter(|i| !decide::writable(i)).map(|i| &i.status) {
        let reason = format!(
            "promotion in progress: {} is {status}{}; the DNS step and the record are completed once it is \
             available and no longer a replica",
            p.replica.id,
            if promoted.as_ref().is_some_and(|i| i.source.is_some()) { ", still a replica" } else { "" }
        );
        tracing::info!(replica = %p.replica, status, "promotion in progress");
        let error = Fault::InProgress { resource: promotion_resource(&p.primary), reason };
        return Err(Failure { step: "wait for the promotion", error, done: done.clone() });
    }
    let (Ok(Some(dns)), Some(endpoint)) = (&p.dns, &p.endpoint) else {
        let planned = p.planned_dns();
        if planned.is_warning() || matches!(planned, DnsResult::NoEndpointYet { .. }) {
            tracing::warn!(replica = %p.replica, dns = ?planned, "DNS not changed");
        }
        return Ok(planned);
    };
    let result = repoint::run(ctx, dns, endpoint).await.map_err(|e| fail("repoint the DNS record", done, e))?;
    if let DnsResult::Repointed { record, to, .. } = &result {
        done.push(format!("repointed {record} to {to}"));
    }
    Ok(result)
}
