//! One invocation's side of the ledger: who it is, how long its lease lasts, how long its records are kept,
//! whether a person forced it, and its clock — so that every action begins and ends a change the same way.

use super::{Begin, Begun, Ledger, Record, Settle, Snapshot};
use crate::aws::AwsError;
use crate::outcome::Outcome;
use crate::report::Report;

#[derive(Debug, Clone, Copy)]
pub struct Session<'a, L> {
    pub ledger: &'a L,
    /// [`super::owner`].
    pub owner: &'a str,
    /// [`super::lease_secs`].
    pub hold_secs: i64,
    pub retention_secs: i64,
    /// A person's `"force": true`: begin even while automation is paused.
    pub force: bool,
    /// Epoch seconds.
    pub clock: fn() -> i64,
}

impl<L: Ledger> Session<'_, L> {
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    pub async fn read(&self, resource: &str) -> Result<Snapshot, AwsError> {
        self.ledger.read(resource, self.now()).await
    }

    /// Begins a change on the resource as read, writing `records` (pending as a rule).
    pub async fn begin(&self, snapshot: &Snapshot, records: &[Record]) -> Result<Begun, AwsError> {
        let begin = Begin {
            owner: self.owner,
            now: self.now(),
            hold_secs: self.hold_secs,
            retention_secs: self.retention_secs,
            records,
            force: self.force,
        };
        self.ledger.begin(snapshot, &begin).await
    }

    /// Ends the caller's change. A lease or record found no longer the caller's (the lease ran out and another
    /// invocation took over) is a transient error: nothing was written, and Lambda's retry finds the change made
    /// and settles its records.
    pub async fn end(&self, resource: &str, settle: &[Settle], records: &[Record]) -> Result<(), AwsError> {
        if self.ledger.end(resource, self.owner, self.now(), self.retention_secs, settle, records).await? {
            return Ok(());
        }
        Err(AwsError {
            operation: "TransactWriteItems",
            resource: resource.to_owned(),
            code: Some("LeaseLost".into()),
            transient: true,
            message: format!("the lease on {resource} or one of its records is no longer {}'s", self.owner),
        })
    }
}

/// The attempts are used up and the resource is still held (by `holder`, when known) or changing: a skip (no
/// notification) carrying a transient error, so that Lambda retries the event later, on fresh facts.
pub fn busy(function: &str, resource: &str, action: &str, attempts: usize, holder: Option<&str>) -> Report {
    let by = holder.map_or_else(String::new, |h| format!(" ({h})"));
    let report = Report::skipped(
        function,
        action,
        format!("{resource} is busy: another invocation{by} is changing it; retried later"),
    );
    debug_assert_eq!(report.outcome, Outcome::Skipped);
    report.error(AwsError {
        operation: "TransactWriteItems",
        resource: resource.to_owned(),
        code: Some("ResourceBusy".into()),
        transient: true,
        message: format!("{resource} still held{by} or changing after {attempts} attempts"),
    })
}
