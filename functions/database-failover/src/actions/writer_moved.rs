//! Aurora, right before `FailoverDBCluster`: the writer read again, inside the lease. A writer other than the
//! one the decision was made with means the cluster was failed over meanwhile (by AWS, whose RDS events may never
//! arrive, or by someone): nothing is done ([`crate::decide::writer`]), the pending `failover#…` record is
//! abandoned with why (it blocks nothing, and no cooldown starts: the function did not fail the cluster over),
//! and people are told the old and the new writer. A resumed decision whose target is now the writer (or whose
//! cluster has none while it fails over) is not stood down: its earlier call was carried out, and
//! [`super::failover_cluster`] records it done.
//!
//! AWS calls: one `DescribeDBClusters`; when the writer moved, `end` (one `TransactWriteItems`).

use failover_core::aws::AwsError;
use failover_core::ledger::{Settle, State};
use failover_core::report::Report;
use serde_json::{json, Value};

use super::Context;
use crate::decide::writer::{self, WriterMoved};
use crate::decide::{ClusterFailover, Trigger};
use crate::model::cluster_resource;
use crate::ports::{Databases, Ports};
use crate::report;

/// The writer read again: `Some` when it is no longer `c.writer`, the writer the decision was made with.
pub(super) async fn reread<P: Ports>(
    ctx: &Context<'_, P>,
    c: &ClusterFailover,
) -> Result<Option<WriterMoved>, AwsError> {
    let now = ctx.databases.cluster(&c.region, &c.cluster).await?;
    Ok(writer::moved(&c.region, &c.cluster, c.writer.as_deref(), now.as_ref()))
}

/// Abandons the pending record `key` (written by `owner`, with `data`), releases the lease, and tells why.
pub(super) async fn stand_down<P: Ports>(
    ctx: &Context<'_, P>,
    c: &ClusterFailover,
    (key, owner, mut data): (&str, &str, Value),
    moved: &WriterMoved,
    trigger: &Trigger,
) -> Report {
    let resource = cluster_resource(&c.region, &c.cluster);
    let writer = moved.writer.as_deref().unwrap_or("none");
    data["error"] = json!(format!("the writer is {writer}, no longer {}: already failed over", moved.accused));
    let settle = [Settle::pending(key, owner, State::Abandoned).with_data(data)];
    if let Err(error) = ctx.session.end(&resource, &settle, &[]).await {
        tracing::warn!(%error, resource, "failover record not settled; the lease runs out by itself");
    }
    report::writer_moved(moved, trigger, "read again right before FailoverDBCluster")
}
