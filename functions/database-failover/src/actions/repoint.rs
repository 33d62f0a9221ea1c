//! Repoint: the DNS step of a promotion. The record named by the primary's `failover:dns-record` tag is read,
//! [`decide::repoint_step`] says what to do with it, and the change is ONE Route 53 batch (DELETE the record as
//! it is, pointing at the failed primary; CREATE it pointing at the promoted replica). A record that points
//! elsewhere, or that changed between the read and the batch (Route 53 rejects the batch), is left as it is and
//! the result says where it points. The tag is `failover:dns-record=<hosted-zone-id>/<record-name>`
//! ([`crate::model::EndpointRecord::parse`]).
//!
//! Once Route 53 has accepted the batch, the run asks `GetChange` whether the change is `INSYNC` (every Route 53
//! server answers the new value), every [`SYNC_POLL`], for at most [`SYNC_WAIT`] and only while the invocation
//! keeps [`SYNC_RESERVE`] for the rest of its work; the notification says how far it had gone. The record is
//! repointed either way: propagation is reported, never waited for at the cost of the run.
//!
//! AWS calls: one `ListResourceRecordSets`, then, when the record points at the primary, one
//! `ChangeResourceRecordSets` and one `GetChange` per poll (or a second `ListResourceRecordSets`, to say where
//! it points, when Route 53 rejects the batch). [`run`] makes no ledger call: the promotion's `begin`/`end`
//! frame it.
//!
//! `already_promoted` applies a done promotion's DNS step again (a later event within the repoint window). It
//! runs outside a lease, so it reads the pause item first (one `GetItem`, [`paused`], as a global database's
//! [`super::global_dns::again`] does): while automation is paused the record is left and the answer says so;
//! the next event after `resume` (within the window) makes the change. Idempotent: once the record points at
//! the replica nothing changes.

use std::time::{Duration, SystemTime};

use failover_core::aws::AwsError;
use failover_core::ledger::Ledger;
use failover_core::report::Report;

use super::Context;
use crate::decide::{self, DnsResult, DnsStep, Propagation};
use crate::model::{Cname, DbRef, EndpointRecord, Repoint};
use crate::ports::{Dns, Ports};
use crate::report;

/// Repoints `dns.record` from `dns.from` to `to`, or says why not.
pub async fn run<P: Ports>(ctx: &Context<'_, P>, dns: &Repoint, to: &str) -> Result<DnsResult, AwsError> {
    change(ctx, &dns.record, &dns.from, to, |current| decide::repoint_step(current, &dns.from, to)).await
}

/// Repoints `record` to `to` when `step` (what to do, given what the record holds) says so; `from` names, for the
/// notification, what it is changed from. Route 53 rejecting the batch means the record changed since it was
/// read: it is read again, to say where it points now.
pub(super) async fn change<P: Ports>(
    ctx: &Context<'_, P>,
    record: &EndpointRecord,
    from: &str,
    to: &str,
    step: impl Fn(Option<&Cname>) -> DnsStep,
) -> Result<DnsResult, AwsError> {
    let current = ctx.dns.cname(record).await?;
    let delete = match step(current.as_ref()) {
        DnsStep::Change { delete } => delete,
        other => return Ok(unchanged(record, from, to, other)),
    };
    if let Some(change_id) = ctx.dns.replace_cname(record, &delete, to).await? {
        let propagation = propagation(ctx, &change_id).await;
        tracing::info!(record = record.name, from, to, ?propagation, "DNS record repointed");
        return Ok(DnsResult::Repointed { record: record.name.clone(), to: to.to_owned(), propagation });
    }
    let now = ctx.dns.cname(record).await?;
    Ok(match step(now.as_ref()) {
        DnsStep::Change { delete } => {
            DnsResult::Elsewhere { record: record.name.clone(), from: from.to_owned(), points_to: delete.values }
        }
        other => unchanged(record, from, to, other),
    })
}

/// Route 53 propagates a change to all its servers in about a minute at most, usually seconds.
pub const SYNC_WAIT: Duration = Duration::from_secs(60);
/// `GetChange` is asked this often (Route 53 allows 5 requests per second per account for it).
pub const SYNC_POLL: Duration = Duration::from_secs(5);
/// Time kept for the rest of the run (the ledger's `end`, the notification) when waiting.
pub const SYNC_RESERVE: Duration = Duration::from_secs(15);

/// How far the change had gone when the run stopped asking.
async fn propagation<P: Ports>(ctx: &Context<'_, P>, change_id: &str) -> Propagation {
    let left = ctx.deadline.map_or(SYNC_WAIT, |d| d.duration_since(SystemTime::now()).unwrap_or_default());
    let budget = left.saturating_sub(SYNC_RESERVE).min(SYNC_WAIT);
    let mut waited = Duration::ZERO;
    loop {
        match ctx.dns.change_in_sync(change_id).await {
            Ok(true) => return Propagation::InSync { change_id: change_id.to_owned() },
            Ok(false) => {}
            Err(e) => return Propagation::Unknown { change_id: change_id.to_owned(), error: e.to_string() },
        }
        if waited + SYNC_POLL > budget {
            return Propagation::Pending { change_id: change_id.to_owned(), waited_secs: waited.as_secs() };
        }
        tokio::time::sleep(SYNC_POLL).await;
        waited += SYNC_POLL;
    }
}

fn unchanged(record: &EndpointRecord, from: &str, to: &str, step: DnsStep) -> DnsResult {
    let name = record.name.clone();
    let result = match step {
        DnsStep::AlreadyThere => return DnsResult::AlreadyThere { record: name, to: to.to_owned() },
        DnsStep::FollowsGlobal { endpoint } => return DnsResult::FollowsGlobal { record: name, endpoint },
        DnsStep::Elsewhere { points_to } => DnsResult::Elsewhere { record: name, from: from.to_owned(), points_to },
        DnsStep::Change { .. } | DnsStep::Missing => DnsResult::Missing { record: name },
    };
    tracing::warn!(record = %record, from, ?result, "DNS record not repointed");
    result
}

/// Why a DNS step applied again outside a lease (a later event's, [`already_promoted`] or
/// [`super::global_dns::again`]) waits: automation is paused, and a pause stops every change, this one included;
/// the next event after `resume` makes it. `None` when not paused, and for a person's `"force": true`, which goes
/// ahead while paused here as it does through the ledger's `start` (no read of the pause then).
pub(super) async fn paused<P: Ports>(ctx: &Context<'_, P>) -> Result<Option<String>, AwsError> {
    if ctx.session.force {
        return Ok(None);
    }
    let Some(pause) = ctx.session.ledger.paused().await? else { return Ok(None) };
    Ok(Some(format!(
        "automation is paused (by {}: {}), so the record is not repointed; the next event after resume does it",
        pause.by, pause.reason
    )))
}

/// The recorded replica is already a standalone primary: nothing else is promoted. With `repoint` (within the
/// repoint window, not a dry run), the DNS step recorded with the decision is applied again (nothing changes once
/// the record points at the replica), so that a retry after a failed Route 53 call completes the job; not while
/// automation is paused, unless forced (a logged skip that says so). A transient failure of either makes the
/// invocation an error (Lambda retries).
pub(super) async fn already_promoted<P: Ports>(
    ctx: &Context<'_, P>,
    primary: &DbRef,
    replica: &DbRef,
    at: &str,
    endpoint: Option<&str>,
    dns: Option<&Repoint>,
    repoint: bool,
) -> Report {
    let done = format!("{} already failed over to {} at {at}: nothing else is promoted", primary.id, replica.id);
    if let (true, Some(dns), Some(endpoint)) = (repoint, dns, endpoint) {
        match paused(ctx).await {
            Ok(None) => {}
            Ok(Some(reason)) => {
                tracing::info!(record = %dns.record, reason, "DNS step not re-applied for the recorded promotion");
                return report::skipped(format!("{done}; {reason}"));
            }
            Err(error) => return report::skipped(done).error(error),
        }
        match run(ctx, dns, endpoint).await {
            Ok(result) => tracing::info!(?result, "DNS step re-applied for the recorded promotion"),
            Err(error) => return report::skipped(done).error(error),
        }
    }
    report::skipped(done)
}
