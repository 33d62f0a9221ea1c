//! Timeline (manual command): the last incident of a target group, or of a load balancer's zones, as its
//! ledger records it ([`failover_core::timeline`]): every step in order (the alarm, each removal, shift or
//! zonal shift, the OK, each restore, failback or return), with its time, trigger and outcome, and the time to
//! mitigate and to recover. And [`closing`]: the same durations in the notification of the change that closes
//! an incident (a restore, a reinstatement, a failback, a return: nothing of the resource left open).
//!
//! AWS calls: `timeline` is one ledger `Query` of the resource, held or not (no lease, no write, no ELB call);
//! [`closing`] none (it reads the snapshot its change already read).

use failover_core::ledger::{Ledger, Record, Settle, Snapshot};
use failover_core::report::Report;
use failover_core::timeline::{self, Timeline};

use super::zonal::facts;
use super::zonal::reports::balancer_name;
use super::{ledger, Context};
use crate::command::Subject;
use crate::model::group_name;
use crate::ports::Ports;
use crate::report::{self, action};
use crate::FUNCTION;

/// The `timeline` command's report: published as `status` is; changes nothing.
pub async fn run<P: Ports>(ctx: &Context<'_, P>, of: &Subject) -> Report {
    let (arn, name, resource) = match of {
        Subject::Group(arn) => (arn, group_name(arn).to_owned(), ledger::resource(arn)),
        Subject::LoadBalancer(arn) => (arn, balancer_name(arn).to_owned(), facts::resource(arn)),
        // The route resolves an incident id to its resource.
        Subject::Incident(id) => return report::skipped(None, action::TIMELINE, format!("unresolved incident {id}")),
    };
    match ctx.session.ledger.read(&resource, ctx.now()).await {
        Ok(snapshot) => timeline::report(FUNCTION, &name, &Timeline::last(&resource, &changes(snapshot.records)))
            .resources([arn.clone()]),
        Err(e) => report::failed(Some(arn), action::TIMELINE, &e, "reading the ledger"),
    }
}

/// The records of changes this function made: not a `deferred#` record, which notes once a zonal shift someone
/// else started (ARC's autoshift, a person's) and stays open for good.
fn changes(records: Vec<Record>) -> Vec<Record> {
    records.into_iter().filter(|r| !r.key.starts_with("deferred#")).collect()
}

/// The incident's timeline when the change that settles `settle` in `snapshot`'s resource leaves none of its
/// records open: the change closes the incident, and its report carries the durations
/// ([`timeline::with_recovery`]).
pub fn closing<P: Ports>(ctx: &Context<'_, P>, snapshot: &Snapshot, settle: &[Settle]) -> Option<Timeline> {
    let after = changes(timeline::settled(&snapshot.records, settle, ctx.now()));
    if after.iter().any(ledger::open) {
        return None;
    }
    Some(Timeline::last(&snapshot.resource, &after))
}
