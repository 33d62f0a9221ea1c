//! `timeline`: the last incident of a primary (its promotions, `db-instance:<region>/<id>`) or of an Aurora
//! cluster (its failovers, `db-cluster:<region>/<id>`), as the ledger records it
//! ([`failover_core::timeline`]): every step in order with its time, trigger and outcome, the time to mitigate
//! and, once nothing is open, to recover. A promotion stays `done` (in effect: nothing undoes it), so a
//! primary's incident shows its time to mitigate only.
//!
//! AWS calls: one ledger `Query` of the resource, held or not (in the primary's region's ledger; when it cannot be
//! reached, in this stack's own, and the report says so). No lease, no write, no RDS call.

use failover_core::ledger::Ledger;
use failover_core::report::Report;
use failover_core::timeline::{self, Timeline, TIMELINE};

use super::Context;
use crate::command::Subject;
use crate::decide::Trigger;
use crate::model::{cluster_resource, promotion_resource, DbRef};
use crate::ports::Ports;
use crate::report;
use crate::FUNCTION;

pub async fn run<P: Ports>(ctx: &Context<'_, P>, region: &str, subject: &Subject) -> Report {
    let (id, resource) = match subject {
        Subject::Instance(id) => (id, promotion_resource(&DbRef::new(region, id))),
        Subject::Cluster(id) => (id, cluster_resource(region, id)),
    };
    let told = match ctx.session.ledger.read(&resource, ctx.now()).await {
        Ok(snapshot) => timeline::report(FUNCTION, id, &Timeline::last(&resource, &snapshot.records))
            .incident(report::incident(region, id))
            .resources([id.clone()]),
        Err(e) => return Report { action: TIMELINE.to_owned(), ..report::failure(region, id, &Trigger::Status, e) },
    };
    // The primary's region's ledger did not answer (or this stack decided alone): read from the own one.
    match ctx.session.ledger.alone(&resource) {
        Some(why) => report::read_alone(told, &why),
        None => told,
    }
}
