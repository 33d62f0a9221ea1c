//! AWS's own failover, told by an RDS event: notified for information. An Aurora cluster's completed failover
//! (RDS-EVENT-0071) is also recorded on the cluster's ledger (`db-cluster:<region>/<id>`) as a done
//! `failover#aws-<event time>` record (`target`: the writer AWS failed over to, `by_aws`: the event), so that
//! it counts for the cooldown as the function's own failovers do ([`crate::decide::CLUSTER_COOLDOWN_SECS`]): a
//! writer alarm that enters ALARM after AWS recovered the cluster does not run a second `FailoverDBCluster`,
//! another write outage possibly back onto the instance that just crashed. The record is bookkeeping, written
//! while automation is paused too, never in a dry run. A cluster that is missing or not opted in is only
//! notified; a duplicate of the event finds its record and is a logged skip.
//!
//! AWS calls, for RDS-EVENT-0071 only: one `DescribeDBClusters` (the writer now); for an opted-in cluster, its
//! ledger `Query` (again after each wait), `begin` and `end` (one `TransactWriteItems` each).

use failover_core::fault::Fault;
use failover_core::ledger::{self, Session, Start, State, Stop};
use failover_core::report::Report;
use failover_core::tags::opted_in;

use super::Context;
use crate::decide::Info;
use crate::model::{cluster_resource, DbRef, Record, FAILOVER_KEY_PREFIX};
use crate::ports::{Databases, Ports};
use crate::report;
use crate::route::CLUSTER_FAILOVER_COMPLETED;

/// The event notified, after its record is written when it is an opted-in cluster's completed failover.
pub async fn run<P: Ports>(ctx: &Context<'_, P>, info: &Info, dry_run: bool) -> Result<Report, Fault> {
    if !info.cluster || info.event_id != CLUSTER_FAILOVER_COMPLETED || dry_run {
        return Ok(report::inform(info));
    }
    let (region, id) = (info.region.as_str(), info.resource.as_str());
    let cluster = ctx.databases.cluster(region, id).await?;
    let cluster = cluster.filter(|c| opted_in(&c.tags, &ctx.config.common.opt_in_tag_key));
    let Some(writer) = cluster.as_ref().and_then(|c| c.members.iter().find(|m| m.writer)) else {
        return Ok(report::inform(info));
    };
    let at = ctx.failure_time();
    let key = format!("{FAILOVER_KEY_PREFIX}aws-{at}");
    let decision = Record { by_aws: Some(info.event_id.clone()), ..Record::new(DbRef::new(region, &writer.id), at) };
    let mut data = decision.data("target", "", None);
    data["done_at"] = serde_json::json!(at);
    // Bookkeeping of what AWS did, not a change: held and written while paused too.
    let session = Session { force: true, ..ctx.session };
    let resource = cluster_resource(region, id);
    session
        .attempt(&resource, async |snapshot| -> Result<Report, Stop<Fault>> {
            if snapshot.record(&key).is_some() {
                return Ok(report::skipped(format!("{} of {id} at {at} is recorded already", info.event_id)));
            }
            match session.start(&snapshot, &[]).await? {
                Start::Started => {}
                Start::Again => return Err(Stop::Again),
                // Not with a forced session; were it so, the event is still told.
                Start::Paused(_) => return Ok(report::inform(info)),
            }
            let retention = ctx.config.common.retention_secs();
            let record = ledger::Record::pending(&resource, &key, session.owner, &info.event_id, ctx.now(), retention)
                .with_state(State::Done)
                .with_data(data.clone());
            session.end(&resource, &[], &[record]).await.map_err(Stop::Failed)?;
            Ok(report::inform(info))
        })
        .await
}
