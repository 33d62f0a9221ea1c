//! Fix in place: the RDS events of a primary that a person usually repairs in minutes (storage full,
//! RDS-EVENT-0221; invalid parameters, RDS-EVENT-0035) are notified with the `aws rds modify-db-instance` command
//! that fixes it: promotion is irreversible and loses the primary. (Any other trigger on a primary in such a status
//! is decided by [`crate::decide::gate`], with the same notification; only a forced `promote` promotes away from
//! it.) A primary that already failed over (a `promotion` record about it, by `DbiResourceId`, in its ledger) is
//! not to be fixed: the event is a logged skip.
//!
//! AWS calls: one `DescribeDBInstances`, then (opted in) one ledger `Query` of the primary's resource, read as
//! it is; no write but the notification.

use failover_core::aws::AwsError;
use failover_core::report::Report;

use super::Context;
use crate::decide::{FixInPlace, FixKind, PrimaryState, Trigger};
use crate::model::{promotion_resource, DbRef};
use crate::ports::{Databases, Ports};
use crate::report;

/// Describes the instance the event names and, when it is opted in, tells a person how to fix it in place.
pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    at: &DbRef,
    event_id: &str,
    message: &str,
) -> Result<Report, AwsError> {
    let Some(instance) = ctx.databases.instance(at).await? else {
        return Ok(report::skipped(format!("{event_id} on {at}: the instance no longer exists")));
    };
    let key = &ctx.config.common.opt_in_tag_key;
    if !instance.opted_in(key) {
        return Ok(report::skipped(format!("{event_id} on {}: not opted in (tag {key}=true is missing)", at.id)));
    }
    let ledger = ctx.session.read(&promotion_resource(at)).await?;
    if let Some(record) = super::facts::promotion_record(&ledger, &PrimaryState::Found(instance.clone())) {
        let replica = record.subject.id;
        let reason = format!("{event_id} on {}: it already failed over to {replica}; nothing to fix in place", at.id);
        return Ok(report::skipped(reason));
    }
    let trigger = Trigger::FailureEvent { event_id: event_id.to_owned(), message: message.to_owned() };
    let replica = instance.replicas.first().cloned();
    let fix = FixInPlace { primary: instance, kind: FixKind::of_event(event_id), replica };
    Ok(report::fix_in_place(&fix, &trigger))
}
