//! One invocation's side of the ledger, and the one attempt loop every changing action of both functions runs
//! ([`Session::attempt`]): read the resource's ledger (waiting while another invocation holds it), then the
//! action's own step — facts, decide, [`Session::start`], act, [`Session::end`] — and again from the read
//! when the step finds the ledger changed. The waits of one invocation share one budget ([`WaitBudget`]: the
//! time it may spend sleeping, in all), the same in both functions; when it is spent the answer is
//! [`Fault::Busy`], which Lambda retries.
//!
//! An invocation never waits on itself: its `begin`s go one at a time (each names the pause item, and DynamoDB
//! cancels a transaction that meets another in flight on one item, `TransactionConflict`: the groups of one
//! alarm, begun at once, would cancel each other and start over after a wait), and a resource found held by
//! the invocation itself (two of its groups indexing their restore holds, or evacuating one load balancer) is
//! read again as soon as the invocation releases a lease, not after a whole wait. Another invocation's lease is
//! waited on as before, then answered [`Fault::Busy`].

use std::borrow::Cow;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::{Begin, Begun, Ledger, Pause, Record, Settle, Snapshot, MAX_RECORDS_PER_CALL};
use crate::aws::AwsError;
use crate::fault::Fault;
use crate::intake::RegionSwitch;

/// The longest an invocation waits, in all, for resources other invocations hold.
pub const MAX_WAIT: Duration = Duration::from_secs(5);
/// The first wait; each further one doubles, up to [`LONGEST_PAUSE`].
pub const FIRST_PAUSE: Duration = Duration::from_millis(50);
pub const LONGEST_PAUSE: Duration = Duration::from_millis(500);

/// How long one invocation may wait for held resources: [`MAX_WAIT`], or a quarter of the time it has left
/// when that is less, so that the work after the wait still fits.
pub fn wait_budget(remaining: Option<Duration>) -> Duration {
    remaining.map_or(MAX_WAIT, |left| (left / 4).min(MAX_WAIT))
}

/// One invocation's time to sleep while resources are held or changing, shared by all its attempt loops (the
/// groups acted on at once included): the time AWS calls take does not count, only the waits. With it, what
/// keeps the invocation from waiting on itself (see the module doc): its `begin`s one at a time, and the count
/// of the leases it released, which wakes its own waits.
#[derive(Debug)]
pub struct WaitBudget {
    limit: Duration,
    slept: Mutex<Duration>,
    begins: tokio::sync::Mutex<()>,
    released: tokio::sync::watch::Sender<u64>,
}

impl WaitBudget {
    pub fn new(limit: Duration) -> Self {
        let begins = tokio::sync::Mutex::new(());
        WaitBudget { limit, slept: Mutex::new(Duration::ZERO), begins, released: tokio::sync::watch::Sender::new(0) }
    }

    /// Takes `pause` from the budget: `false` (nothing taken) when that would overspend it.
    fn take(&self, pause: Duration) -> bool {
        let mut slept = self.slept.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let fits = *slept + pause <= self.limit;
        if fits {
            *slept += pause;
        }
        fits
    }
}

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
    /// The invocation's waits, in all ([`WaitBudget`]).
    pub budget: &'a WaitBudget,
    /// The ARC Region switch step that invoked the run, if one did: added to the data of every record the run
    /// writes or settles with new data ([`RegionSwitch::stamp`]), so that the ledger says which plan execution
    /// made each change. Set with [`Session::with_region_switch`].
    pub region_switch: Option<&'a RegionSwitch>,
}

/// The ledger changed, or was taken, since it was read: read it again, facts included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Again;

/// What a part of a step came to: its answer, or [`Again`] (propagated with `?`).
pub type Step<T> = Result<T, Again>;

/// Why a step of [`Session::attempt`] gave no answer: start [`Stop::Again`] from the ledger read, or stop with
/// the caller's error (facts that could not be read). `?` turns [`Again`] and [`AwsError`] into it.
#[derive(Debug)]
pub enum Stop<E> {
    Again,
    Failed(E),
}

impl<E> From<Again> for Stop<E> {
    fn from(_: Again) -> Self {
        Stop::Again
    }
}

impl<E: From<AwsError>> From<AwsError> for Stop<E> {
    fn from(error: AwsError) -> Self {
        Stop::Failed(error.into())
    }
}

/// What [`Session::start`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Start {
    /// The lease is the caller's and the change's records are written: act.
    Started,
    /// The ledger changed or was taken since the read: return [`Again`].
    Again,
    /// Automation is paused: refuse, naming what was planned.
    Paused(Pause),
}

impl<'a, L> Session<'a, L> {
    /// This session, its records stamped with the Region switch step that invoked the run (`None`: a person's
    /// command or an event).
    pub fn with_region_switch(self, region_switch: Option<&'a RegionSwitch>) -> Self {
        Session { region_switch, ..self }
    }

    /// `records` with the Region switch metadata in their data, when the run has it.
    fn stamp_records<'r>(&self, records: &'r [Record]) -> Cow<'r, [Record]> {
        let Some(origin) = self.region_switch else { return Cow::Borrowed(records) };
        let mut stamped = records.to_vec();
        stamped.iter_mut().for_each(|record| origin.stamp(&mut record.data));
        Cow::Owned(stamped)
    }

    /// `settle` likewise: a settle that replaces a record's data keeps the metadata in it.
    fn stamp_settles<'r>(&self, settle: &'r [Settle]) -> Cow<'r, [Settle]> {
        let Some(origin) = self.region_switch else { return Cow::Borrowed(settle) };
        let mut stamped = settle.to_vec();
        stamped.iter_mut().filter_map(|s| s.data.as_mut()).for_each(|data| origin.stamp(data));
        Cow::Owned(stamped)
    }
}

impl<L: Ledger> Session<'_, L> {
    pub fn now(&self) -> i64 {
        (self.clock)()
    }

    /// The resource's ledger as it is, held or not (what `status` shows).
    pub async fn read(&self, resource: &str) -> Result<Snapshot, AwsError> {
        self.ledger.read(resource, self.now()).await
    }

    /// The one attempt loop: reads `resource`'s ledger, waiting while another invocation holds it, and hands it
    /// to `step`; reads again after [`Stop::Again`]. `Err` is the step's own error, [`Fault::Busy`] once the
    /// wait budget is spent, or the ledger read's AWS failure.
    pub async fn attempt<T, E: From<Fault>>(
        &self,
        resource: &str,
        step: impl AsyncFnMut(Snapshot) -> Result<T, Stop<E>>,
    ) -> Result<T, E> {
        self.attempt_or(resource, None, |_| None, step).await
    }

    /// [`Self::attempt`], starting from `first` when the caller already read the resource (beside its other
    /// first reads), and with an answer read off any snapshot, held or not (`early`): a stale event is stale
    /// whoever holds its alarm, and needs no wait.
    pub async fn attempt_or<T, E: From<Fault>>(
        &self,
        resource: &str,
        mut first: Option<Snapshot>,
        mut early: impl FnMut(&Snapshot) -> Option<T>,
        mut step: impl AsyncFnMut(Snapshot) -> Result<T, Stop<E>>,
    ) -> Result<T, E> {
        let started = Instant::now();
        let mut pause = FIRST_PAUSE;
        loop {
            // Subscribed before the read: a release of ours after it wakes the wait below.
            let mut released = self.budget.released.subscribe();
            let snapshot = match first.take() {
                Some(snapshot) => snapshot,
                None => self.read(resource).await.map_err(|e| E::from(e.into()))?,
            };
            if let Some(answer) = early(&snapshot) {
                return Ok(answer);
            }
            let mut ours = false;
            let holder = match snapshot.held() {
                Some(holder) => {
                    ours = holder.owner == self.owner;
                    let whose = if ours { "this invocation" } else { "another invocation" };
                    tracing::info!(resource, holder = %holder.owner, until = holder.until, whose, "resource held: waiting");
                    Some(holder.owner.clone())
                }
                None => match step(snapshot).await {
                    Ok(answer) => return Ok(answer),
                    Err(Stop::Failed(error)) => return Err(error),
                    Err(Stop::Again) => {
                        tracing::info!(resource, "ledger changed since read: reading again");
                        None
                    }
                },
            };
            if !self.budget.take(pause) {
                let waited = started.elapsed();
                return Err(Fault::Busy { resource: resource.to_owned(), holder, waited }.into());
            }
            if ours {
                // Held by this very invocation (its lease, or an earlier run's of the same request id, which
                // no release of ours ends): read again once it releases one, or after the pause.
                let _ = tokio::time::timeout(pause, released.changed()).await;
            } else {
                tokio::time::sleep(pause).await;
            }
            pause = (pause * 2).min(LONGEST_PAUSE);
        }
    }

    /// Begins a change on the resource as read, writing `records` (pending as a rule).
    pub async fn start(&self, snapshot: &Snapshot, records: &[Record]) -> Result<Start, AwsError> {
        self.begin_with(snapshot, records, self.force).await
    }

    /// Begins writing records of what was already done, with no AWS change to follow (a promotion's lineage,
    /// written after the promotion it records): a pause, which refuses changes, does not refuse them.
    pub async fn start_record_only(&self, snapshot: &Snapshot, records: &[Record]) -> Result<Start, AwsError> {
        self.begin_with(snapshot, records, true).await
    }

    async fn begin_with(&self, snapshot: &Snapshot, records: &[Record], force: bool) -> Result<Start, AwsError> {
        let records = self.stamp_records(records);
        let begin = Begin {
            owner: self.owner,
            now: self.now(),
            hold_secs: self.hold_secs,
            retention_secs: self.retention_secs,
            records: &records,
            force,
        };
        // One at a time: concurrent begins of one invocation would meet on the pause item (see the module doc).
        let begun = {
            let _alone = self.budget.begins.lock().await;
            self.ledger.begin(snapshot, &begin).await?
        };
        Ok(match begun {
            Begun::Started { .. } => Start::Started,
            Begun::Busy(_) | Begun::Stale => Start::Again,
            Begun::Paused(pause) => Start::Paused(pause),
        })
    }

    /// Ends the caller's change. A lease or record found no longer the caller's (the lease ran out and another
    /// invocation took over) is [`Fault::LeaseLost`]: nothing was written, and Lambda's retry finds the change
    /// made and settles its records.
    /// A settle longer than one transaction holds goes first in batches under the lease
    /// ([`super::MAX_RECORDS_PER_CALL`] each), the lease released with the last.
    pub async fn end(&self, resource: &str, settle: &[Settle], records: &[Record]) -> Result<(), Fault> {
        let lost = || Fault::LeaseLost { resource: resource.to_owned(), owner: self.owner.to_owned() };
        let (settle, records) = (self.stamp_settles(settle), self.stamp_records(records));
        let (mut settle, records) = (&settle[..], &records[..]);
        while settle.len() + records.len() > MAX_RECORDS_PER_CALL && !settle.is_empty() {
            let (batch, rest) = settle.split_at(settle.len().min(MAX_RECORDS_PER_CALL));
            if !self.ledger.settle(resource, self.owner, self.now(), self.retention_secs, batch).await? {
                return Err(lost());
            }
            settle = rest;
        }
        let ended = self.ledger.end(resource, self.owner, self.now(), self.retention_secs, settle, records).await;
        // Whatever it came to, this invocation's waits on its own leases read again.
        self.budget.released.send_modify(|n| *n += 1);
        if ended? {
            return Ok(());
        }
        Err(lost())
    }

    /// Settles records an interrupted change left (no AWS change) under the lease: `Ok(None)` when settled,
    /// with nothing to settle, or paused (the next run after `resume` settles them); `Ok(Some(fault))` when a
    /// ledger call failed.
    pub async fn settle_only(&self, snapshot: &Snapshot, settle: &[Settle]) -> Step<Option<Fault>> {
        if settle.is_empty() {
            return Ok(None);
        }
        match self.start(snapshot, &[]).await {
            Ok(Start::Started) => Ok(self.end(&snapshot.resource, settle, &[]).await.err()),
            Ok(Start::Again) => Err(Again),
            Ok(Start::Paused(_)) => Ok(None),
            Err(error) => Ok(Some(error.into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_budget_is_bounded_by_the_time_left() {
        assert_eq!(wait_budget(None), MAX_WAIT);
        assert_eq!(wait_budget(Some(Duration::from_secs(60))), MAX_WAIT);
        assert_eq!(wait_budget(Some(Duration::from_secs(8))), Duration::from_secs(2));
    }
}
