//! `pause` and `resume`: the switch both functions of a stack share (`failover_core::pause`), answered with
//! their report, or a failure report when the ledger could not be written.
//!
//! AWS calls: `pause` is one ledger `PutItem`; `resume` one `GetItem` (who paused, for the report) and one
//! `DeleteItem`. Nothing else.

use failover_core::ledger::Ledger;
use failover_core::pause;
use failover_core::report::Report;

use crate::report;
use crate::FUNCTION;

/// `pause`: every change is refused until `resume`.
pub async fn pause<G: Ledger>(ledger: &G, reason: Option<&str>, by: Option<&str>, now: i64) -> Report {
    let paused = pause::pause(ledger, FUNCTION, by, reason, now).await;
    paused.unwrap_or_else(|e| report::control_failure(pause::PAUSE, e))
}

/// `resume`.
pub async fn resume<G: Ledger>(ledger: &G) -> Report {
    pause::resume(ledger, FUNCTION).await.unwrap_or_else(|e| report::control_failure(pause::RESUME, e))
}
