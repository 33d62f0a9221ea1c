//! Stay protected: once a promoted replica takes writes and its clients follow it, its lineage is recorded
//! ([`super::lineage`]) and, with `RECREATE_REPLICA`, it gets a replica of its own ([`super::recreate`]), so
//! that its own failure is covered. Called by [`super::promote`] before the decision is settled; the AWS and
//! ledger calls are those of the two steps.

use failover_core::fault::Fault;

use super::{lineage, recreate, Context};
use crate::decide::Promotion;
use crate::model::Recreated;
use crate::ports::Ports;
use crate::report::Failure;

/// Once the new primary takes writes and its clients follow it: its lineage ([`lineage`]), then its own new
/// replica ([`recreate`]). A lineage not recorded is a failed step (the decision stays pending, and the retry
/// records it); a replica not created is said in the notification and fails nothing.
pub(super) async fn stay_protected<P: Ports>(
    ctx: &Context<'_, P>,
    p: &Promotion,
    key: &str,
    done: &mut Vec<String>,
) -> Result<Recreated, Failure> {
    let failed = |step: &'static str, error: Fault, done: &Vec<String>| Failure { step, error, done: done.clone() };
    match Box::pin(lineage::record(ctx, p, key)).await {
        Ok(true) => done.push(format!("recorded the lineage {} -> {}", p.primary.id, p.replica.id)),
        Ok(false) => tracing::warn!(primary = %p.primary, replica = %p.replica, "paused: lineage not recorded"),
        Err(error) => return Err(failed("record the lineage in the ledger", error, done)),
    }
    let replica = Box::pin(recreate::run(ctx, p))
        .await
        .map_err(|error| failed("create a read replica of the new primary", error, done))?;
    if let Recreated::Created { id, .. } = &replica {
        done.push(format!("asked RDS for read replica {id}"));
    }
    Ok(replica)
}
