//! `reject` (`{"command":"reject","decision":"<id>","by":"<name>"}`): a person closes a pending decision of the
//! approval gate; it can never be approved after. Ledger calls: one `Query` of the decision's resource, then
//! `begin` and `end` (the approval record closed, with who and when) under its lease. A dry run writes nothing.

use failover_core::fault::Fault;
use failover_core::ledger::{Settle, Start, State, Stop};
use failover_core::report::Report;

use super::Context;
use crate::decide::approval::{judge, Answer};
use crate::model::{parse_approval_id, Approval};
use crate::ports::Ports;
use crate::report;

pub async fn run<P: Ports>(ctx: &Context<'_, P>, id: &str, by: &str, dry_run: bool) -> Result<Report, Fault> {
    let Some((resource, key)) = parse_approval_id(id) else {
        return Ok(report::approval_refused(id, "not a decision id (the notification that asked gives it)"));
    };
    ctx.session
        .attempt(&resource, async |snapshot| -> Result<Report, Stop<Fault>> {
            let approval = snapshot.record(&key).and_then(Approval::from_ledger);
            let mut approval = match judge(id, approval.as_ref(), Answer::Reject, ctx.now()) {
                Ok(a) => a.clone(),
                Err(reason) => return Ok(report::approval_refused(id, &reason)),
            };
            if dry_run {
                return Ok(report::approval_rejected(&approval, by, true));
            }
            (approval.by, approval.decided_at) = (Some(by.to_owned()), Some(ctx.now()));
            let close = Settle::pending(&approval.key, &approval.owner, State::Closed).with_data(approval.data());
            match ctx.session.start_record_only(&snapshot, &[]).await? {
                Start::Started => {}
                Start::Again => return Err(Stop::Again),
                Start::Paused(_) => return Err(Stop::Again),
            }
            ctx.session.end(&resource, &[close], &[]).await.map_err(Stop::Failed)?;
            Ok(report::approval_rejected(&approval, by, false))
        })
        .await
}
