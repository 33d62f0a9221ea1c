//! The DNS step of an Aurora Global Database's change of primary (a switchover, a failover, an approved detach):
//! clients that use the global writer endpoint follow the new primary by themselves; clients that use a record
//! of their own follow it when the new primary cluster's `failover:dns-record` tag names that record (tag every
//! member that may become the primary, with the same value; a switchover also takes the old primary's tag, which
//! it can still read). The record is repointed, as for instances, only from the old primary's writer endpoint
//! (recognised by its form, [`decide::is_writer_endpoint`]: a lost region cannot be asked for it), to the new
//! primary's cluster endpoint. A record at the global writer endpoint is left there, except after a detach (the
//! detached cluster is outside the global database); one anywhere else is someone else's: left, and said.
//!
//! AWS calls: `DescribeDBClusters` of the new primary when its facts did not describe it, then as
//! [`super::repoint`]: one `ListResourceRecordSets`, and when the record moves one `ChangeResourceRecordSets`
//! and one `GetChange` per poll. A dry run reads nothing more.

use failover_core::aws::AwsError;

use failover_core::ledger::Snapshot;

use super::Context;
use crate::decide::global_db::repoint_due;
use crate::decide::{self, DnsResult};
use crate::model::{Cluster, EndpointRecord, GlobalAction, GlobalDecision, GlobalMember, DNS_RECORD_TAG};
use crate::ports::{Databases, GlobalDatabases, Ports};

/// A change of primary whose clients are to follow.
#[derive(Debug, Clone, Copy)]
pub struct Move<'a> {
    /// The old primary (`None` when the global database named none).
    pub from: Option<&'a GlobalMember>,
    pub to: &'a GlobalMember,
    /// The global writer endpoint, if AWS gave one.
    pub global_endpoint: Option<&'a str>,
    /// A detach: the new primary leaves the global database.
    pub detached: bool,
    /// The new primary and the old one, when already described.
    pub target: Option<&'a Cluster>,
    pub old: Option<&'a Cluster>,
}

/// Repoints the record the tags name (or, in a dry run, says what it would do). `Err`: AWS failed (the caller
/// reports the step failed, and Lambda's retry applies it again).
pub async fn run<P: Ports>(ctx: &Context<'_, P>, m: Move<'_>, dry_run: bool) -> Result<DnsResult, AwsError> {
    let described;
    let target = match m.target {
        Some(t) => Some(t),
        None => {
            described = ctx.databases.cluster(&m.to.region, &m.to.cluster).await?;
            described.as_ref()
        }
    };
    let tag = [target, m.old].into_iter().flatten().find_map(|c| c.tags.get(DNS_RECORD_TAG));
    let Some(tag) = tag else { return Ok(DnsResult::Untagged) };
    let record = match EndpointRecord::parse(tag) {
        Ok(record) => record,
        Err(reason) => return Ok(DnsResult::NotPlanned { reason }),
    };
    let Some(to) = target.and_then(|t| t.endpoint.as_deref()) else {
        return Ok(DnsResult::NoEndpointYet { record: record.name });
    };
    let Some(from) = m.from else {
        let reason = format!("the global database named no old primary to repoint {} from", record.name);
        return Ok(DnsResult::NotPlanned { reason });
    };
    let label = format!("{}'s writer endpoint ({})", from.cluster, from.region);
    if dry_run {
        return Ok(DnsResult::WouldRepoint { record: record.name, from: label, to: to.to_owned() });
    }
    let step = |current: Option<&crate::model::Cname>| {
        decide::global_repoint_step(current, (&from.region, &from.cluster), to, m.global_endpoint, m.detached)
    };
    super::repoint::change(ctx, &record, &label, to, step).await
}

/// When `to` is the primary already: the DNS step of our decision that made it so (being settled, or done within
/// the repoint window) applied again, so that a run cut short after AWS accepted the change completes it. `None`
/// when there is none (a dry run, a change that was not ours or long ago). A failure is logged: the record is
/// said in the notification as not known.
pub async fn again<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    to: &GlobalMember,
    settling: Option<&str>,
    dry_run: bool,
) -> Option<DnsResult> {
    let decisions: Vec<GlobalDecision> = snapshot.records.iter().filter_map(GlobalDecision::from_ledger).collect();
    let due = repoint_due(&decisions, &to.arn, settling, ctx.now()).filter(|_| !dry_run)?;
    let from = due.from.as_deref().and_then(|arn| GlobalMember::from_arn(arn, true));
    let global = ctx.databases.global_cluster(&to.region, snapshot.resource.trim_start_matches("global-cluster:"));
    let endpoint = global.await.ok().flatten().and_then(|g| g.endpoint);
    let m = Move {
        from: from.as_ref(),
        to,
        global_endpoint: endpoint.as_deref(),
        detached: due.action == GlobalAction::Detach,
        target: None,
        old: None,
    };
    match run(ctx, m, false).await {
        Ok(result) => Some(result),
        Err(error) => {
            tracing::warn!(%error, to = to.arn, "DNS step not applied again");
            Some(DnsResult::NotPlanned { reason: format!("Route 53 or RDS failed ({error}); it is tried again") })
        }
    }
}
