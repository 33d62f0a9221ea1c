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
//! and one `GetChange` per poll. A dry run reads nothing more. [`again`] (outside a lease) first reads the pause
//! item (one `GetItem`, [`super::repoint::paused`], shared with the instance path; none when forced).

use failover_core::aws::AwsError;

use failover_core::ledger::Snapshot;

use super::Context;
use crate::decide::global_db::repoint_due;
use crate::decide::{self, DnsResult};
use crate::model::{Cluster, Cname, EndpointRecord, GlobalAction, GlobalDecision, GlobalMember, DNS_RECORD_TAG};
use crate::ports::{Databases, Ports};
use serde_json::{json, Value};

/// A change of primary whose clients are to follow.
#[derive(Debug, Clone, Copy, Default)]
pub struct Move<'a> {
    /// The old primary (`None` when the global database named none).
    pub from: Option<&'a GlobalMember>,
    pub to: Option<&'a GlobalMember>,
    /// The global writer endpoint, if AWS gave one.
    pub global_endpoint: Option<&'a str>,
    /// A detach: the new primary leaves the global database.
    pub detached: bool,
    /// The new primary and the old one, when already described.
    pub target: Option<&'a Cluster>,
    pub old: Option<&'a Cluster>,
    /// What the decision recorded ([`recorded`]): the tag's value, the old primary's endpoint if it was known.
    pub tag: Option<&'a str>,
    pub old_endpoint: Option<&'a str>,
}

impl Move<'_> {
    /// The `failover:dns-record` value: the recorded one, else the new primary's tag, else the old primary's.
    fn tag<'c>(&'c self, target: Option<&'c Cluster>) -> Option<&'c str> {
        let tagged = [target, self.old].into_iter().flatten().find_map(|c| c.tags.get(DNS_RECORD_TAG));
        self.tag.or(tagged.map(String::as_str))
    }

    /// The old primary's writer endpoint: as described, else as the decision recorded it; `None`: known by form.
    fn old_endpoint(&self) -> Option<&str> {
        self.old.and_then(|c| c.endpoint.as_deref()).or(self.old_endpoint)
    }
}

/// `data` (a decision's) with what it records of its DNS step when it is made (`begin`), so that a run
/// completing it after a crash repoints the same record from the same endpoint, whatever the clusters' tags or
/// reachability then.
pub fn recorded(mut data: Value, m: &Move<'_>) -> Value {
    data["dns_tag"] = json!(m.tag(m.target));
    data["global_endpoint"] = json!(m.global_endpoint);
    data["old_endpoint"] = json!(m.old_endpoint());
    data
}

/// Repoints the record the tags name (or, in a dry run, says what it would do). `Err`: AWS failed (the caller
/// reports the step failed, and Lambda's retry applies it again).
pub async fn run<P: Ports>(ctx: &Context<'_, P>, m: Move<'_>, dry_run: bool) -> Result<DnsResult, AwsError> {
    let Some(to_member) = m.to else { return Ok(DnsResult::Untagged) };
    let described;
    let target = match m.target {
        Some(t) => Some(t),
        None => {
            described = ctx.databases.cluster(&to_member.region, &to_member.cluster).await?;
            described.as_ref()
        }
    };
    let Some(tag) = m.tag(target) else { return Ok(DnsResult::Untagged) };
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
    // The old writer's endpoint exactly when it is known; else known by its form (its region is lost).
    let old = (from.region.as_str(), from.cluster.as_str(), m.old_endpoint());
    let step = |current: Option<&Cname>| decide::global_repoint_step(current, old, to, m.global_endpoint, m.detached);
    super::repoint::change(ctx, &record, &label, to, step).await
}

/// When `to` is the primary already: the DNS step of our decision that made it so (being settled, or done within
/// the repoint window) applied again, as that decision recorded it, so that a run cut short after AWS accepted
/// the change completes it; not while automation is paused, unless forced. `Ok(None)` when there is none (a dry
/// run, a change that was not ours or long ago).
pub async fn again<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    to: &GlobalMember,
    settling: Option<&str>,
    dry_run: bool,
) -> Result<Option<DnsResult>, AwsError> {
    let decisions: Vec<GlobalDecision> = snapshot.records.iter().filter_map(GlobalDecision::from_ledger).collect();
    let Some(due) = repoint_due(&decisions, &to.arn, settling, ctx.now()).filter(|_| !dry_run) else {
        return Ok(None);
    };
    if let Some(reason) = super::repoint::paused(ctx).await? {
        return Ok(Some(DnsResult::NotPlanned { reason }));
    }
    let data = snapshot.record(&due.key).map(|r| r.data.clone()).unwrap_or_default();
    let from = due.from.as_deref().and_then(|arn| GlobalMember::from_arn(arn, true));
    let m = Move {
        from: from.as_ref(),
        to: Some(to),
        global_endpoint: data["global_endpoint"].as_str(),
        detached: due.action == GlobalAction::Detach,
        tag: data["dns_tag"].as_str(),
        old_endpoint: data["old_endpoint"].as_str(),
        ..Move::default()
    };
    run(ctx, m, false).await.map(Some)
}
