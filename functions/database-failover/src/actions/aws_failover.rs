//! AWS's own failover, told by an RDS event: notified for information, and recorded on the resource's ledger
//! (bookkeeping under the lease, while automation is paused too, never in a dry run) so that later triggers
//! know AWS acted. A resource that is missing or not opted in is only notified; a duplicate of the event finds
//! its record and is a logged skip.
//!
//! - An Aurora cluster's completed failover (RDS-EVENT-0071): a done `failover#aws-<event time>` record on the
//!   cluster (`target`: the writer AWS failed over to, `by_aws`: the event), which counts for the cooldown as
//!   the function's own failovers do ([`crate::decide::CLUSTER_COOLDOWN_SECS`]): a writer alarm after AWS
//!   recovered the cluster does not run a second `FailoverDBCluster`.
//! - A Multi-AZ instance's failover started (RDS-EVENT-0013) or completed (0015, 0049): an
//!   `aws-failover#<event time>#<event>` record on the primary, which holds promotions back while the failover
//!   is under way ([`crate::decide::aws_first`]).
//!
//! AWS calls: one `DescribeDBClusters` or `DescribeDBInstances`; for an opted-in resource, its ledger `Query`
//! (again after each wait), `begin` and `end` (one `TransactWriteItems` each). Other informational events
//! (Aurora's failover started, 0072 / 0073) make none.

use failover_core::fault::Fault;
use failover_core::ledger::{self, Session, Start, State, Stop};
use failover_core::report::Report;
use failover_core::tags::opted_in;
use serde_json::{json, Value};

use super::Context;
use crate::decide::aws_first::AWS_FAILOVER_KEY_PREFIX;
use crate::decide::Info;
use crate::model::{cluster_resource, promotion_resource, DbRef, Record, FAILOVER_KEY_PREFIX};
use crate::ports::{Databases, Ports};
use crate::report;
use crate::route::{CLUSTER_FAILOVER_COMPLETED, MULTI_AZ_FAILOVER_EVENT_IDS};

/// The event notified, after its record is written when it is one an opted-in resource's ledger keeps.
pub async fn run<P: Ports>(ctx: &Context<'_, P>, info: &Info, dry_run: bool) -> Result<Report, Fault> {
    let (region, id) = (info.region.as_str(), info.resource.as_str());
    let opt_in = &ctx.config.common.opt_in_tag_key;
    let at = ctx.failure_time();
    if dry_run {
        return Ok(report::inform(info));
    }
    if info.cluster && info.event_id == CLUSTER_FAILOVER_COMPLETED {
        let cluster = ctx.databases.cluster(region, id).await?.filter(|c| opted_in(&c.tags, opt_in));
        let Some(writer) = cluster.as_ref().and_then(|c| c.members.iter().find(|m| m.writer)) else {
            return Ok(report::inform(info));
        };
        let decision =
            Record { by_aws: Some(info.event_id.clone()), ..Record::new(DbRef::new(region, &writer.id), at) };
        let mut data = decision.data("target", "", None);
        data["done_at"] = json!(at);
        let key = format!("{FAILOVER_KEY_PREFIX}aws-{at}");
        return record(ctx, info, &cluster_resource(region, id), &key, data).await;
    }
    if !info.cluster && MULTI_AZ_FAILOVER_EVENT_IDS.contains(&info.event_id.as_str()) {
        let primary = DbRef::new(region, id);
        if !ctx.databases.instance(&primary).await?.is_some_and(|p| p.opted_in(opt_in)) {
            return Ok(report::inform(info));
        }
        let key = format!("{AWS_FAILOVER_KEY_PREFIX}{at}#{}", info.event_id);
        let data = json!({"at": at, "event_id": info.event_id, "message": info.message});
        return record(ctx, info, &promotion_resource(&primary), &key, data).await;
    }
    Ok(report::inform(info))
}

/// Writes the done record `key` on `resource` (unless a duplicate of the event wrote it), then tells the event.
async fn record<P: Ports>(
    ctx: &Context<'_, P>,
    info: &Info,
    resource: &str,
    key: &str,
    data: Value,
) -> Result<Report, Fault> {
    // Bookkeeping of what AWS did, not a change: held and written while paused too.
    let session = Session { force: true, ..ctx.session };
    session
        .attempt(resource, async |snapshot| -> Result<Report, Stop<Fault>> {
            if snapshot.record(key).is_some() {
                return Ok(report::skipped(format!(
                    "{} of {} ({key}) is recorded already",
                    info.event_id, info.resource
                )));
            }
            match session.start(&snapshot, &[]).await? {
                Start::Started => {}
                Start::Again => return Err(Stop::Again),
                // Not with a forced session; were it so, the event is still told.
                Start::Paused(_) => return Ok(report::inform(info)),
            }
            let retention = ctx.config.common.retention_secs();
            let record = ledger::Record::pending(resource, key, session.owner, &info.event_id, ctx.now(), retention)
                .with_state(State::Done)
                .with_data(data.clone());
            session.end(resource, &[], &[record]).await.map_err(Stop::Failed)?;
            Ok(report::inform(info))
        })
        .await
}
