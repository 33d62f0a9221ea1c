//! Lineage: a promotion records, on the promoted replica's own ledger resource (`db-instance:<region>/<replica>`),
//! which primary it replaced, both by `DbiResourceId`, with the old primary's binding tags
//! ([`crate::model::Lineage`]). When the new primary fails in turn, its ledger, which the promotion reads
//! anyway, gives it the bindings it does not carry itself ([`crate::model::inherit`], in
//! [`super::facts`]): its DNS record, its proxy and its fence group follow it, and a second failover works
//! without anyone copying tags. The function writes no tags.
//!
//! Written after the promotion and its client steps, before the promotion's record is settled done: a run cut
//! short before it leaves the decision pending, and the retry that completes the decision writes it. It is
//! written once: a record already there (same key, one per old primary) is kept.
//!
//! Ledger calls: one `Query` of the new primary's resource (in its region's ledger); when the record is not
//! there, `begin` and `end` (one `TransactWriteItems` each) writing it, done and kept with no expiry. No AWS
//! call. A dry run writes nothing.

use failover_core::fault::Fault;
use failover_core::ledger::{self, State, Stop};

use super::Context;
use crate::decide::Promotion;
use crate::model::{promotion_resource, Lineage, Member};
use crate::ports::Ports;

/// The lineage step a promotion makes.
pub fn of(p: &Promotion) -> Lineage {
    Lineage {
        from: Member { at: p.primary.clone(), resource_id: p.record.primary_resource_id.clone() },
        to: Member { at: p.replica.clone(), resource_id: p.record.resource_id.clone() },
        at: p.record.at.clone(),
        promotion: format!("{} {}", promotion_resource(&p.primary), p.record.key),
        bindings: p.record.bindings.clone(),
    }
}

/// Writes the promotion's lineage on the new primary's resource, unless it is there already, even while
/// automation is paused (it records a promotion already made). `Ok(true)` when it is in the ledger (written now
/// or before); an error a retry can fix otherwise.
pub async fn record<P: Ports>(ctx: &Context<'_, P>, p: &Promotion, key: &str) -> Result<bool, Fault> {
    let lineage = Lineage { promotion: format!("{} {key}", promotion_resource(&p.primary)), ..of(p) };
    let resource = promotion_resource(&p.replica);
    let retention = ctx.config.common.retention_secs();
    ctx.session
        .attempt(&resource, async |snapshot| -> Result<bool, Stop<Fault>> {
            if snapshot.record(&lineage.key()).is_some() {
                return Ok(true);
            }
            let trigger = format!("promotion of {} for {}", p.replica.id, p.primary.id);
            let written =
                ledger::Record::pending(&resource, &lineage.key(), ctx.session.owner, &trigger, ctx.now(), retention)
                    .open()
                    .with_state(State::Done)
                    .with_data(lineage.data());
            // Not refused by a pause: it records a promotion already made.
            match ctx.session.start_record_only(&snapshot, &[]).await? {
                ledger::Start::Started => {}
                ledger::Start::Again => return Err(Stop::Again),
                ledger::Start::Paused(_) => return Ok(false),
            }
            ctx.session.end(&resource, &[], &[written]).await.map_err(Stop::Failed)?;
            tracing::info!(resource, from = %p.primary, to = %p.replica, "lineage recorded");
            Ok(true)
        })
        .await
}
