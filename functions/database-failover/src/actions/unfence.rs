//! `unfence`: a person releases a fenced old primary. Its VPC security groups are set back to the ones its
//! fence recorded, and the fence record is closed with who and why, so that nothing fences it again
//! automatically (it is out of the lineage from then on: a separate database).
//!
//! Trigger: the `unfence` command (`db_instance_identifier`, optional `by`, `reason`, `dry_run`, `force`).
//! AWS calls: one `DescribeDBInstances` (after the ledger read: the instance's `DbiResourceId` names its fence),
//! `ModifyDBInstance` (`VpcSecurityGroupIds` = the recorded groups, `ApplyImmediately`). Ledger calls: one
//! `Query` of the primary's resource, `begin` (no record) and `end` closing `fence#<DbiResourceId>` (from done,
//! with `unfenced_by`, `reason`, `unfenced_at`). Idempotency: a closed fence is not unfenced twice (a repeat
//! is told that it was released); a fence still pending (a run cut short after `ModifyDBInstance`, a decision
//! abandoned, a fence undone) is released too once its lease is not held (the attempt loop waits while it
//! is), closed from pending in its writer's name. A dry run writes nothing and changes nothing.

use failover_core::fault::Fault;
use failover_core::invoke::InvokeError;
use failover_core::ledger::{Settle, Start, State, Stop};
use failover_core::outcome::Outcome;
use failover_core::pause;
use failover_core::report::Report;
use serde_json::json;

use super::Context;
use crate::decide::fence::fence_record;
use crate::model::{promotion_resource, DbRef, Modified};
use crate::ports::{Databases, Ports};
use crate::report::{self, Failure};
use crate::FUNCTION;

/// What the attempt answers: the report, or why the command cannot be carried out (an invalid command). (One per
/// invocation: its size does not matter.)
#[allow(clippy::large_enum_variant)]
enum Unfenced {
    Told(Report),
    Invalid(String),
}

pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    at: &DbRef,
    by: Option<String>,
    reason: Option<String>,
    dry_run: bool,
) -> Result<Report, InvokeError> {
    let by = by.unwrap_or_else(|| "an unnamed person".to_owned());
    let reason = reason.unwrap_or_else(|| "no reason given".to_owned());
    let resource = promotion_resource(at);
    let answer = ctx
        .session
        .attempt(&resource, async |snapshot| -> Result<Unfenced, Stop<Fault>> {
            let Some(instance) = ctx.databases.instance(at).await? else {
                return Ok(Unfenced::Invalid(format!("unfence: DB instance {at} not found")));
            };
            let Some(id) = instance.resource_id.as_deref() else {
                return Ok(Unfenced::Invalid(format!("unfence: {at} has no DbiResourceId: its fence cannot be found")));
            };
            let Some(record) = fence_record(&snapshot.records, id) else {
                return Ok(Unfenced::Invalid(format!(
                    "unfence: {at} ({id}) has no fence in the ledger ({resource}): nothing to restore"
                )));
            };
            // A pending fence (a run cut short after ModifyDBInstance, its decision abandoned, or a fence undone)
            // is released too: the attempt loop only hands over a ledger whose lease is not held.
            if record.state.closes() {
                return Ok(Unfenced::Invalid(format!("unfence: {at} ({id}) was already released; nothing to restore")));
            }
            if dry_run {
                return Ok(Unfenced::Told(report::unfenced(&record, &by, &reason, Outcome::DryRun, None)));
            }
            match ctx.session.start(&snapshot, &[]).await {
                Ok(Start::Started) => {}
                Ok(Start::Again) => return Err(Stop::Again),
                Ok(Start::Paused(paused)) => {
                    let planned = format!("restore the groups of {}", at.id);
                    return Ok(Unfenced::Told(pause::refused(FUNCTION, report::UNFENCE, &at.id, &paused, &planned)));
                }
                Err(error) => return Err(Stop::Failed(error.into())),
            }
            let restored = ctx.databases.set_security_groups(at, &record.original).await;
            let settle = match restored {
                Ok(Modified::Applied(_)) => {
                    let data = json!({"unfenced_by": by, "reason": reason, "unfenced_at": ctx.now()});
                    let mut merged = record.data();
                    if let (Some(m), Some(d)) = (merged.as_object_mut(), data.as_object()) {
                        m.extend(d.clone());
                    }
                    let close = match record.state {
                        State::Pending => Settle::pending(&record.key, &record.owner, State::Closed),
                        _ => Settle::close(&record.key),
                    };
                    vec![close.with_data(merged)]
                }
                _ => Vec::new(),
            };
            let ended = ctx.session.end(&snapshot.resource, &settle, &[]).await;
            let failed = |step: &'static str, error: Fault| {
                report::unfenced(&record, &by, &reason, Outcome::Failed, Some(&Failure { step, error, done: vec![] }))
            };
            Ok(Unfenced::Told(match (restored, ended) {
                (Ok(Modified::Applied(_)), Ok(())) => report::unfenced(&record, &by, &reason, Outcome::Succeeded, None),
                (Ok(Modified::Applied(_)), Err(error)) => failed("close the fence record in the ledger", error),
                (Ok(Modified::NotYet(why)), _) => {
                    let error = failover_core::aws::AwsError {
                        operation: "ModifyDBInstance",
                        resource: at.to_string(),
                        code: Some("InvalidDBInstanceState".into()),
                        transient: false,
                        message: format!("{} cannot be modified now: {why}; retry once it is available", at.id),
                    };
                    failed("ModifyDBInstance", error.into())
                }
                (Err(error), _) => failed("ModifyDBInstance", error.into()),
            }))
        })
        .await;
    match answer {
        Ok(Unfenced::Told(report)) => Ok(report),
        Ok(Unfenced::Invalid(invalid)) => Err(InvokeError::InvalidCommand(invalid)),
        Err(fault) => Ok(report::skipped(format!("unfence {at}: {fault}")).error(fault)),
    }
}
