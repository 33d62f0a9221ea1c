//! AWS first, when no event told the function: a Multi-AZ primary whose ledger holds no record of AWS's own
//! failover within `AWS_RECOVERY_WAIT_MINUTES` has its `failover` events read with `DescribeEvents` (EventBridge
//! delivers RDS events best effort; `DescribeEvents` returns what RDS recorded). A failover started within the
//! wait and not completed holds the promotion back, as a recorded one does ([`crate::decide::aws_first`]).
//!
//! Clusters likewise (`cluster_failed_over`): a cluster whose ledger holds no failover finished within the
//! cooldown ([`CLUSTER_COOLDOWN_SECS`]) has its `failover` events read; AWS's completed failover
//! (RDS-EVENT-0071) counts for the cooldown as a recorded one does, so that the cluster's writer alarm after AWS
//! recovered it does not run a second `FailoverDBCluster`. It is recorded and told once
//! (`record_cluster_failover`), as a delivered RDS-EVENT-0071 is. A Multi-AZ DB cluster, which RDS fails over by
//! itself too, also waits for a failover of its own that started within `AWS_RECOVERY_WAIT_MINUTES` and has not
//! completed ([`aws_first::cluster_under_way`]): the trigger ends with a retryable `PromotionInProgress`.
//!
//! AWS calls: one `DescribeEvents` (paginated) for a described Multi-AZ primary without such a record, on a
//! trigger that waits, or for an opted-in cluster without a recent failover on an automatic trigger; none
//! otherwise; for a cluster's failover found so, `begin` and `end` (one `TransactWriteItems` each). A transient failure stops the run (Lambda retries); any other (a stack whose role lacks
//! `rds:DescribeEvents`) is logged, and the ledger alone counts, as before this read.

use failover_core::aws::AwsError;
use failover_core::ledger::{self, Snapshot, State, Step};
use failover_core::report::Report;
use serde_json::json;

use super::Context;
use crate::decide::writer::WriterMoved;
use crate::decide::{aws_first, ClusterFacts, PrimaryState, PromotionFacts, Trigger, CLUSTER_COOLDOWN_SECS};
use crate::model::{DbRef, Record, Topology, FAILOVER_KEY_PREFIX};
use crate::ports::{Databases, Ports};
use crate::report;

/// Why the trigger waits for AWS's own failover that only `DescribeEvents` knows of, if it must.
pub(super) async fn waiting<P: Ports>(
    ctx: &Context<'_, P>,
    facts: &PromotionFacts,
    snapshot: &Snapshot,
    trigger: &Trigger,
) -> Result<Option<String>, AwsError> {
    if !aws_first::waits(trigger) {
        return Ok(None);
    }
    under_way(ctx, facts, snapshot).await
}

/// Why AWS's own Multi-AZ failover of the primary is under way by `DescribeEvents`, if it is and the ledger does
/// not know of it (what `status` shows, and what holds every other trigger back).
pub(super) async fn under_way<P: Ports>(
    ctx: &Context<'_, P>,
    facts: &PromotionFacts,
    snapshot: &Snapshot,
) -> Result<Option<String>, AwsError> {
    let PrimaryState::Found(primary) = &facts.primary else { return Ok(None) };
    let (now, wait_secs) = (ctx.now(), ctx.config.aws_recovery_wait_minutes * 60);
    if !primary.multi_az || aws_first::ledger_knows(&snapshot.records, now, wait_secs) {
        return Ok(None);
    }
    let events = failover_events(ctx, &primary.at, false, now - wait_secs).await?;
    Ok(aws_first::from_events(&events, now, wait_secs))
}

/// What a cluster's own `failover` events say AWS did, when the ledger does not know.
pub(super) enum ClusterFirst {
    /// A completed failover within the cooldown, as the record that counts for it (`by_aws`; boxed: the larger
    /// variant by far).
    FailedOver(Box<Record>),
    /// A Multi-AZ DB cluster's failover started and not completed: why the trigger waits (retried by Lambda).
    UnderWay(String),
}

/// AWS's own failover of a cluster that only `DescribeEvents` knows of, for an automatic trigger on an opted-in
/// cluster with no failover pending nor finished within the cooldown in its ledger: a Multi-AZ DB cluster's
/// failover under way (started within `AWS_RECOVERY_WAIT_MINUTES`, not completed) is waited for; a completed one
/// within the cooldown (any cluster) counts for it.
pub(super) async fn cluster_failed_over<P: Ports>(
    ctx: &Context<'_, P>,
    facts: &ClusterFacts,
    trigger: &Trigger,
) -> Result<Option<ClusterFirst>, AwsError> {
    let now = ctx.now();
    let recent =
        facts.last_failover.as_ref().and_then(|r| r.at_secs).is_some_and(|at| now - at < CLUSTER_COOLDOWN_SECS);
    let automatic = matches!(trigger, Trigger::Alarm { .. } | Trigger::FailureEvent { .. });
    if facts.cluster.is_none() || facts.pending.is_some() || recent || !automatic {
        return Ok(None);
    }
    let cluster = DbRef::new(&facts.region, &facts.id);
    let events = failover_events(ctx, &cluster, true, now - CLUSTER_COOLDOWN_SECS).await?;
    if facts.topology() == Some(Topology::MultiAzCluster) {
        let wait_secs = ctx.config.aws_recovery_wait_minutes * 60;
        if let Some(reason) = aws_first::cluster_under_way(&events, now, wait_secs) {
            return Ok(Some(ClusterFirst::UnderWay(reason)));
        }
    }
    Ok(aws_first::cluster_completed(&events).map(|(at, writer)| {
        ClusterFirst::FailedOver(Box::new(Record {
            by_aws: Some("RDS-EVENT-0071, read with DescribeEvents".into()),
            ..Record::new(DbRef::new(&facts.region, writer), at)
        }))
    }))
}

/// Why a Multi-AZ DB cluster's own failover is under way by `DescribeEvents`, if it is (what `status` shows, as
/// a trigger would wait for it).
pub(super) async fn cluster_under_way<P: Ports>(
    ctx: &Context<'_, P>,
    facts: &ClusterFacts,
) -> Result<Option<String>, AwsError> {
    if facts.topology() != Some(Topology::MultiAzCluster) {
        return Ok(None);
    }
    let (now, wait_secs) = (ctx.now(), ctx.config.aws_recovery_wait_minutes * 60);
    let events = failover_events(ctx, &DbRef::new(&facts.region, &facts.id), true, now - wait_secs).await?;
    Ok(aws_first::cluster_under_way(&events, now, wait_secs))
}

/// AWS's completed failover found by [`cluster_failed_over`]: recorded on the cluster's ledger as a delivered
/// RDS-EVENT-0071 is ([`super::aws_failover`]: a done `failover#aws-<time>` record, which holds later triggers
/// for the cooldown without telling them again), and told once (`info`). Not recorded in a dry run, or while
/// automation is paused (then told each time).
pub(super) async fn record_cluster_failover<P: Ports>(
    ctx: &Context<'_, P>,
    cluster: (&str, &str),
    snapshot: &Snapshot,
    by_aws: &Record,
    accused: Option<&str>,
    trigger: &Trigger,
    dry_run: bool,
) -> Step<Report> {
    let (region, id) = cluster;
    let writer = by_aws.subject.id.clone();
    let moved = WriterMoved {
        region: region.to_owned(),
        cluster: id.to_owned(),
        accused: accused.unwrap_or(&writer).to_owned(),
        writer: Some(writer),
    };
    let report = report::aws_failed_over(&moved, &by_aws.at, trigger);
    if dry_run {
        return Ok(report);
    }
    let at = by_aws.at_secs.unwrap_or_else(|| ctx.now());
    let mut data = by_aws.data("target", "", None);
    data["done_at"] = json!(at);
    let key = format!("{FAILOVER_KEY_PREFIX}aws-{at}");
    let retention = ctx.config.common.retention_secs();
    let record =
        ledger::Record::pending(&snapshot.resource, &key, ctx.session.owner, "DescribeEvents", ctx.now(), retention)
            .with_state(State::Done)
            .with_data(data);
    // Told even when not recorded (paused, or the ledger refused): AWS's failover is news either way.
    ctx.note(snapshot, record).await?;
    Ok(report)
}

/// The `failover` events of `at` (a cluster with `cluster`) since `since`; none, logged, when the call is refused.
async fn failover_events<P: Ports>(
    ctx: &Context<'_, P>,
    at: &DbRef,
    cluster: bool,
    since: i64,
) -> Result<Vec<crate::model::AwsEvent>, AwsError> {
    match ctx.databases.failover_events(at, cluster, since).await {
        Ok(events) => Ok(events),
        Err(error) if error.transient => Err(error),
        Err(error) => {
            tracing::warn!(%at, %error, "AWS's own failover events not read; the ledger alone counts");
            Ok(Vec::new())
        }
    }
}
