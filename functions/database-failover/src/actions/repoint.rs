//! Repoint: the DNS step of a promotion. The record named by the primary's `failover:dns-record` tag is read,
//! [`decide::repoint_step`] says what to do with it, and the change is ONE Route 53 batch (DELETE the record as
//! it is, pointing at the failed primary; CREATE it pointing at the promoted replica). A record that points
//! elsewhere, or that changed between the read and the batch (Route 53 rejects the batch), is left as it is and
//! the result says where it points. The tag is `failover:dns-record=<hosted-zone-id>/<record-name>`
//! ([`crate::model::EndpointRecord::parse`]).
//!
//! AWS calls: one `ListResourceRecordSets`, then, when the record points at the primary, one
//! `ChangeResourceRecordSets` (and a second `ListResourceRecordSets`, to say where it points, when Route 53
//! rejects the batch). No ledger call: the promotion's `begin`/`end` frame it.

use failover_core::aws::AwsError;

use super::Context;
use crate::decide::{self, DnsResult, DnsStep};
use crate::model::Repoint;
use crate::ports::{Dns, Ports};

/// Repoints `dns.record` from `dns.from` to `to`, or says why not.
pub async fn run<P: Ports>(ctx: &Context<'_, P>, dns: &Repoint, to: &str) -> Result<DnsResult, AwsError> {
    let record = dns.record.name.clone();
    let current = ctx.dns.cname(&dns.record).await?;
    let delete = match decide::repoint_step(current.as_ref(), &dns.from, to) {
        DnsStep::Change { delete } => delete,
        DnsStep::AlreadyThere => return Ok(DnsResult::AlreadyThere { record, to: to.to_owned() }),
        step => return Ok(unchanged(dns, step)),
    };
    if ctx.dns.replace_cname(&dns.record, &delete, to).await? {
        tracing::info!(record, from = dns.from, to, "DNS record repointed");
        return Ok(DnsResult::Repointed { record, to: to.to_owned() });
    }
    // Rejected: the record changed since it was read. Say where it points now.
    let now = ctx.dns.cname(&dns.record).await?;
    Ok(match decide::repoint_step(now.as_ref(), &dns.from, to) {
        DnsStep::AlreadyThere => DnsResult::AlreadyThere { record, to: to.to_owned() },
        DnsStep::Change { delete } => DnsResult::Elsewhere { record, from: dns.from.clone(), points_to: delete.values },
        step => unchanged(dns, step),
    })
}

fn unchanged(dns: &Repoint, step: DnsStep) -> DnsResult {
    let record = dns.record.name.clone();
    let result = match step {
        DnsStep::Elsewhere { points_to } => DnsResult::Elsewhere { record, from: dns.from.clone(), points_to },
        _ => DnsResult::Missing { record },
    };
    tracing::warn!(record = %dns.record, from = dns.from, ?result, "DNS record not repointed");
    result
}
