//! Fail a DB cluster over to its best reader: [`run`] describes the cluster, reads its ledger, then its
//! instances and its readers' lag (Aurora: `AuroraReplicaLag`; a Multi-AZ DB cluster: `ReplicaLag` as of the
//! failure's onset), calls [`decide::decide_cluster`] once, and acts. `execute` writes a
//! pending `failover#<time>` record on the cluster's ledger resource (`db-cluster:<region>/<id>`) with the lease
//! (the record that keeps duplicate alarms from bouncing the writer once done), calls `FailoverDBCluster`, and
//! settles the record done (the cooldown, [`decide::CLUSTER_COOLDOWN_SECS`], runs from then: an automatic
//! trigger does not fail the cluster over again within it); a transient failure leaves it pending, so that
//! Lambda's retry completes that same failover with the same reader (or abandons it when its reader can no
//! longer take over; a retry that cannot act on it publishes why), and a permanent one abandons it with the
//! error.
//!
//! AWS calls: one `DescribeDBClusters` (a cluster missing or not opted in stops there, with no ledger call);
//! inside the attempt loop one ledger `Query` (again after each wait or start-over; the cluster is described
//! again only when the ledger shows an earlier change, or on a start-over), one `DescribeDBInstances`
//! (`db-cluster-id` filter), one `GetMetricData`, on an automatic trigger without a recent failover in the
//! ledger one `DescribeEvents` ([`super::aws_recovery`]: AWS's own failover counts for the cooldown, and a
//! Multi-AZ DB cluster's under way is waited for); to act, `begin` (one `TransactWriteItems`),
//! `DescribeDBClusters` again right before `FailoverDBCluster` ([`super::writer_moved`]), `FailoverDBCluster`,
//! `end` (one more). A dry run makes no write.
//!
//! # The writer accused
//! A writer that is no longer the one the trigger accused (the instance an alarm on a member watches, else the
//! writer as the trigger found it) was already failed over, by AWS or someone ([`decide::writer`]): nothing is
//! done, and an `info` notification names the old and the new writer. Checked on the plan, then inside the
//! lease against the writer read again right before `FailoverDBCluster`.

use failover_core::fault::Fault;
use failover_core::ledger::{self, Again, Settle, Snapshot, Start, State, Step, Stop};
use failover_core::outcome::Outcome;
use failover_core::pause;
use failover_core::report::Report;
use failover_core::tags::opted_in;
use serde_json::json;

use super::aws_recovery::{self, ClusterFirst};
use super::{writer_moved, Context};
use crate::decide::{self, writer, ClusterFacts, ClusterFailover, Plan, Trigger};
use crate::model::{cluster_resource, Topology, FAILOVER_KEY_PREFIX};
use crate::ports::{Databases, Ports};
use crate::report::{self, Failure};
use crate::FUNCTION;

/// A cluster trigger (RDS-EVENT-0069, an alarm on the cluster or its writer, `failover-cluster`).
pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    region: &str,
    id: &str,
    trigger: &Trigger,
    accused: Option<&str>,
    dry_run: bool,
) -> Result<Report, Fault> {
    let resource = cluster_resource(region, id);
    // A cluster that is missing or not opted in is not ours: decided (a skip) without a ledger call.
    let cluster = ctx.databases.cluster(region, id).await?;
    if !cluster.as_ref().is_some_and(|c| opted_in(&c.tags, &ctx.config.common.opt_in_tag_key)) {
        let facts = ClusterFacts {
            region: region.into(),
            id: id.into(),
            cluster,
            members: vec![],
            last_failover: None,
            pending: None,
            global: None,
            onset: None,
        };
        let plan = decide::decide_cluster(trigger, &facts, &ctx.settings(), ctx.now());
        let topology = facts.topology().unwrap_or(Topology::Aurora);
        return Ok(ctx.act_unread(plan, &resource, trigger, region, &topology).await);
    }
    // The writer the trigger accused: the instance an alarm watches, else the writer as the trigger found it.
    let first_writer = cluster.as_ref().and_then(|c| c.members.iter().find(|m| m.writer)).map(|m| m.id.clone());
    let accused = accused.map(str::to_owned).or(first_writer);
    let mut described = Some(cluster);
    ctx.session
        .attempt(&resource, async |snapshot| -> Result<Report, Stop<Fault>> {
            let facts = ctx.cluster_facts(region, id, described.take(), &snapshot).await?;
            // AWS's own failover that no event reached the function about: a Multi-AZ DB cluster's under way is
            // waited for (retried by Lambda); a completed one is recorded and told, as its event is.
            let first = aws_recovery::cluster_failed_over(ctx, &facts, trigger).await?;
            if let Some(ClusterFirst::UnderWay(reason)) = first {
                return Ok(report::waiting(snapshot.resource.clone(), reason));
            }
            if let Some(ClusterFirst::FailedOver(by_aws)) = first {
                let accused = accused.as_deref();
                return Ok(aws_recovery::record_cluster_failover(
                    ctx,
                    (region, id),
                    &snapshot,
                    &by_aws,
                    accused,
                    trigger,
                    dry_run,
                )
                .await?);
            }
            let plan = decide::decide_cluster(trigger, &facts, &ctx.settings(), ctx.now());
            // A new failover away from a writer that is no longer the accused one: already failed over.
            if let Plan::FailoverCluster(ClusterFailover { resumed: false, .. }) = &plan {
                if let Some(moved) = writer::moved(region, id, accused.as_deref(), facts.cluster.as_ref()) {
                    return Ok(report::writer_moved(&moved, trigger, "when the trigger was decided on"));
                }
            }
            let topology = facts.topology().unwrap_or(Topology::Aurora);
            let told = ctx.act(plan, &snapshot, trigger, region, &topology, dry_run).await?;
            Ok(report::with_onset(told, facts.onset))
        })
        .await
        .or_else(|fault| match fault {
            Fault::Busy { .. } => Ok(failover_core::report::busy(FUNCTION, report::FAILOVER_CLUSTER, fault)),
            other => Err(other),
        })
}

/// A failover planned: reported as a dry run, or begun in the ledger, carried out, ended and reported.
pub(super) async fn execute<P: Ports>(
    ctx: &Context<'_, P>,
    c: &ClusterFailover,
    snapshot: &Snapshot,
    trigger: &Trigger,
    dry_run: bool,
) -> Step<Report> {
    if dry_run {
        return Ok(report::cluster_failover(c, trigger, Outcome::DryRun, None));
    }
    // A new decision is stamped with the failure's time, where its incident's timeline starts.
    let stamped;
    let c = if c.resumed {
        c
    } else {
        stamped = ClusterFailover { record: c.record.clone().with_failure_at(ctx.failure_at), ..c.clone() };
        &stamped
    };
    let failed = |failure: Failure| report::cluster_failover(c, trigger, Outcome::Failed, Some(&failure));
    let resource = cluster_resource(&c.region, &c.cluster);
    // A resumed failover is already in the ledger, pending, under its key; a new one gets its own.
    let key = if c.resumed {
        c.record.key.clone()
    } else {
        format!("{FAILOVER_KEY_PREFIX}{}", c.record.at_secs.unwrap_or_else(|| ctx.now()))
    };
    let data = c.record.data("target", &c.cluster_arn, None);
    let retention = ctx.config.common.retention_secs();
    let records = if c.resumed {
        Vec::new()
    } else {
        let owner = ctx.session.owner;
        vec![ledger::Record::pending(&resource, &key, owner, &trigger.describe(), ctx.now(), retention)
            .with_data(data.clone())]
    };
    match ctx.session.start(snapshot, &records).await {
        Ok(Start::Started) => {}
        Ok(Start::Again) => return Err(Again),
        Ok(Start::Paused(paused)) => {
            let planned = format!("fail cluster {} over to {}", c.cluster, c.target);
            return Ok(pause::refused(FUNCTION, report::FAILOVER_CLUSTER, &resource, &paused, &planned));
        }
        Err(error) => {
            let step = "record the failover in the ledger";
            return Ok(failed(Failure { step, error: error.into(), done: vec![] }));
        }
    }
    let done = vec![format!("recorded the failover ({key} on {resource}, pending)")];
    let owner = if c.resumed { c.record.owner.as_str() } else { ctx.session.owner };
    // Resumed after a failure that AWS had nevertheless carried out: the target is already the writer.
    let acted = if c.resumed && c.writer.as_deref() == Some(c.target.as_str()) {
        Ok(())
    } else {
        // The writer read again, inside the lease: one that moved since the decision is not failed over again.
        match writer_moved::reread(ctx, c).await {
            // Resumed, and the target has become the writer (or the cluster has none while it fails over): the
            // earlier attempt's FailoverDBCluster was carried out. This decision's own failover, done.
            Ok(Some(moved)) if c.resumed && moved.writer.as_deref().is_none_or(|w| w == c.target) => Ok(()),
            Ok(Some(moved)) => return Ok(writer_moved::stand_down(ctx, c, (&key, owner, data), &moved, trigger).await),
            Ok(None) => ctx.databases.failover_cluster(&c.region, &c.cluster, &c.target).await,
            Err(error) => Err(error),
        }
    };
    let mut data = data;
    let settle = match &acted {
        // The cooldown starts now, when FailoverDBCluster succeeded.
        Ok(()) => {
            data["done_at"] = json!(ctx.now());
            vec![Settle::pending(&key, owner, State::Done).with_data(data)]
        }
        // Transient: left pending, so that Lambda's retry completes this same decision.
        Err(error) if error.transient => Vec::new(),
        Err(error) => {
            data["error"] = json!(error.to_string());
            vec![Settle::pending(&key, owner, State::Abandoned).with_data(data)]
        }
    };
    let ended = ctx.session.end(&resource, &settle, &[]).await;
    Ok(match (acted, ended) {
        (Ok(()), Ok(())) => report::cluster_failover(c, trigger, Outcome::Succeeded, None),
        (Ok(()), Err(error)) => failed(Failure { step: "record the failover as done in the ledger", error, done }),
        (Err(error), ended) => {
            if let Err(e) = ended {
                tracing::warn!(error = %e, resource, "failover record not settled; the lease runs out by itself");
            }
            failed(Failure { step: "FailoverDBCluster", error: error.into(), done })
        }
    })
}
