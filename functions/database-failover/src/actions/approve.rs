//! `approve` (`{"command":"approve","decision":"<id>","by":"<name>"}`): a person approves a pending decision of
//! the approval gate. Approving does not act by itself: the approved action is decided again, inside the
//! attempt loop of its resource, with the approval as its trigger ([`super::failover_global::decide_and_act`]),
//! so every guard is checked again with fresh facts; only then is the change made, and the same `end` marks the
//! approval approved, with who and when. An unknown, expired, already approved or rejected decision is refused
//! with why ([`crate::decide::approval::judge`]); a dry run writes nothing.
//!
//! AWS and ledger calls: one ledger `Query` of the decision's resource, then those of the approved action.

use failover_core::fault::Fault;
use failover_core::report::Report;

use super::failover_global::{decide_and_act, Approving};
use super::Context;
use crate::decide::approval::{judge, Answer};
use crate::model::{parse_approval_id, Approvable, Approval};
use crate::ports::Ports;
use crate::report;

pub async fn run<P: Ports>(ctx: &Context<'_, P>, id: &str, by: &str, dry_run: bool) -> Result<Report, Fault> {
    let Some((resource, key)) = parse_approval_id(id) else {
        return Ok(report::approval_refused(id, "not a decision id (the notification that asked gives it)"));
    };
    let snapshot = ctx.session.read(&resource).await?;
    let approval = snapshot.record(&key).and_then(Approval::from_ledger);
    let approval = match judge(id, approval.as_ref(), Answer::Approve, ctx.now()) {
        Ok(a) => a.clone(),
        Err(reason) => return Ok(report::approval_refused(id, &reason)),
    };
    let cause = format!("approval {id} by {by}");
    match &approval.action {
        Approvable::FailoverGlobal { global, .. } | Approvable::DetachGlobal { global, .. } => {
            Box::pin(decide_and_act(ctx, global, &cause, Some(Approving { id, by }), dry_run)).await
        }
    }
}
