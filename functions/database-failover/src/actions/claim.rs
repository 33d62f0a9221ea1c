//! The ledger protocol every change follows, per resource (see `failover_core::ledger`): read the resource's
//! ledger (waiting while another invocation holds it), read the AWS facts, decide once, then `begin` (the lease
//! and the change's pending records), act, and `end` (settle the records, release the lease). A `begin` that
//! finds the ledger changed or held sends the action back to the read, within [`TRIES`] attempts
//! [`WAIT`] apart; when they are used up the event is skipped with a transient error, so that Lambda retries it
//! later on fresh facts.

use std::time::Duration;

use failover_core::aws::AwsError;
use failover_core::ledger::{Begun, Ledger, Pause, Record, Settle, Snapshot};
use failover_core::report::Report;

use super::Context;
use crate::ports::{Databases, Dns, ReplicaLag};
use crate::FUNCTION;

/// Attempts at reading a free resource and beginning a change on it, per invocation.
pub const TRIES: usize = 10;
/// The wait between two attempts.
pub const WAIT: Duration = Duration::from_millis(500);

/// What an attempt came to.
#[allow(clippy::large_enum_variant)]
pub enum Acted {
    /// The answer (done, refused, failed, or nothing to do).
    Done(Report),
    /// The ledger changed or is held since it was read: read it again, facts included.
    Again,
}

impl Acted {
    /// The answer; a change that found the ledger changed, with no attempt left, is [`busy`].
    pub fn or_busy(self, resource: &str, action: &str) -> Report {
        match self {
            Acted::Done(report) => report,
            Acted::Again => busy(resource, action),
        }
    }
}

/// The ledger of a resource that was not read: for a plan decided without it (an event that is not ours),
/// which changes nothing.
pub fn unread(resource: &str, now: i64) -> Snapshot {
    Snapshot { resource: resource.to_owned(), at: now, version: 0, holder: None, records: Vec::new() }
}

/// What `begin` answered, once AWS answered.
pub enum Started {
    Yes,
    Again,
    Paused(Pause),
}

impl<D, L, R, G> Context<'_, D, L, R, G>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
    G: Ledger,
{
    /// The resource's ledger before attempt `attempt` (waiting [`WAIT`] before any but the first); `None` while
    /// another invocation holds it.
    pub async fn read_ledger(&self, resource: &str, attempt: usize) -> Result<Option<Snapshot>, AwsError> {
        if attempt > 0 {
            tokio::time::sleep(WAIT).await;
        }
        let snapshot = self.session.read(resource).await?;
        if let Some(holder) = snapshot.held() {
            tracing::info!(resource, holder = %holder.owner, until = holder.until, "resource held: waiting");
            return Ok(None);
        }
        Ok(Some(snapshot))
    }

    /// Begins a change on the resource as read: the lease, and `records` (pending) when their keys are free.
    pub async fn begin(&self, snapshot: &Snapshot, records: &[Record]) -> Result<Started, AwsError> {
        Ok(match self.session.begin(snapshot, records).await? {
            Begun::Started { .. } => Started::Yes,
            Begun::Busy(holder) => {
                tracing::info!(resource = %snapshot.resource, holder = %holder.owner, "resource taken: reading again");
                Started::Again
            }
            Begun::Stale => {
                tracing::info!(resource = %snapshot.resource, "ledger changed since read: reading again");
                Started::Again
            }
            Begun::Paused(pause) => Started::Paused(pause),
        })
    }

    /// Ends the change: settles `settle`, writes `records`, releases the lease. A lease or record found no
    /// longer ours is an error (nothing was written).
    pub async fn end(&self, resource: &str, settle: &[Settle], records: &[Record]) -> Result<(), AwsError> {
        self.session.end(resource, settle, records).await
    }
}

/// The attempts are used up and the resource is still held or changing: skipped with a transient error, so
/// that Lambda retries the event later (and no notification is sent).
pub fn busy(resource: &str, action: &str) -> Report {
    failover_core::ledger::busy(FUNCTION, resource, action, TRIES, None)
}
