//! Undo a fence whose promotion did not happen: the old primary's recorded original VPC security groups are
//! restored, so that a fenced primary is never left without a promoted replica (nothing would take writes).
//!
//! Triggers: (1) a begun promotion whose fence was applied and whose `PromoteReadReplica` RDS did not accept
//! ([`super::fence::Guard::settle`], inside the promotion's lease); (2) a decision abandoned
//! ([`super::abandon::run`], inside its lease) while its old primary shows only the fence group, its replica
//! is still a replica and no promotion of that primary is done.
//! AWS calls: `ModifyDBInstance` (`VpcSecurityGroupIds` = the recorded groups, `ApplyImmediately`); for (2)
//! first one `DescribeDBInstances` of the primary and one of the replica.
//! Ledger calls: none of its own; the caller's `end` carries the fence record's settlement. A restored fence
//! record is left (or put back) pending with `restored_at`, not closed: a closed fence is never made again,
//! and a resumed or later decision about the same instance must fence it again with the same groups; `unfence`
//! releases a pending record whose lease is not held. A restore that failed leaves the record as it was (a
//! pending one of this run settled done: the instance is fenced) and the notification names `unfence`.

use failover_core::ledger::{Settle, Snapshot, State};

use super::Context;
use crate::decide::fence::{fence_record, FenceRecord};
use crate::decide::Abandonment;
use crate::model::{is_promotion_key, Modified};
use crate::ports::{Databases, Ports};

/// What became of a fence undone: `Ok` its groups restored, `Err` why not.
pub type Undone = Result<(), String>;

/// Restores `record`'s original groups. On success the settlement that leaves the record pending with
/// `restored_at`; on failure none (the caller decides).
pub async fn restore<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    record: &FenceRecord,
) -> (Undone, Option<Settle>) {
    tracing::warn!(primary = %record.instance, original = ?record.original, "promotion not made: unfencing");
    let why = match ctx.databases.set_security_groups(&record.instance, &record.original).await {
        Ok(Modified::Applied(_)) => {
            let mut data = record.data();
            data["restored_at"] = ctx.now().into();
            let settle = match snapshot.record(&record.key) {
                // Written by this run's `begin`, with the decision.
                None => Settle::pending(&record.key, ctx.session.owner, State::Pending),
                Some(found) if found.state == State::Pending => {
                    Settle::pending(&record.key, &found.owner, State::Pending)
                }
                Some(found) => {
                    Settle { key: record.key.clone(), from: found.state, owner: None, to: State::Pending, data: None }
                }
            };
            return (Ok(()), Some(settle.with_data(data)));
        }
        Ok(Modified::NotYet(why)) => format!("RDS refused: {why}"),
        Err(error) => error.to_string(),
    };
    tracing::error!(primary = %record.instance, why, "fence not undone");
    (Err(why), None)
}

/// For an abandoned promotion decision: the fence of its primary undone when it is applied (the instance shows
/// only the fence group), its replica was never promoted (still a replica) and no promotion of that primary
/// is done. `None` when there is nothing to undo.
pub async fn for_abandoned<P: Ports>(
    ctx: &Context<'_, P>,
    a: &Abandonment,
    snapshot: &Snapshot,
) -> Option<(FenceRecord, Undone, Option<Settle>)> {
    if a.aurora {
        return None;
    }
    let bound = a.record.primary_resource_id.as_deref()?;
    let record = fence_record(&snapshot.records, bound).filter(|r| !r.state.closes())?;
    if snapshot.records.iter().any(|r| is_promotion_key(&r.key) && r.state == State::Done) {
        return None;
    }
    let primary = ctx.databases.instance(&record.instance).await.ok().flatten()?;
    let fenced = primary.resource_id.as_deref() == Some(bound) && primary.security_groups == [record.group.clone()];
    if !fenced {
        return None;
    }
    match ctx.databases.instance(&a.record.subject).await {
        Ok(Some(replica)) if replica.source.is_some() => {}
        _ => return None,
    }
    let (undone, settle) = restore(ctx, snapshot, &record).await;
    Some((record, undone, settle))
}
