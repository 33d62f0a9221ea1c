//! The incident ledger: what the functions must remember across invocations, in one DynamoDB table written
//! with conditional writes, instead of tags on users' resources.
//!
//! # The table
//! Partition key `pk` (string): the resource the items are about, as the caller names it (for example
//! `targetgroup/<arn>`); sort key `sk` (string): the item within it. Every item carries `expires_at` (epoch
//! seconds), the table's TTL attribute. DynamoDB deletes expired items eventually (up to days later), so the
//! readers here ignore an item whose `expires_at` has passed.
//! - `sk = lease`: who holds the resource (`owner`) until when (`until`), and `version`, which every finished
//!   change increments.
//! - any other `sk` (`removal#<target>`, `shift#<listener>`, `decision#<id>`...): a [`Record`].
//! - `pk = control, sk = pause`: the pause switch.
//!
//! # One change, three calls
//! An invocation that acts on a resource makes three ledger calls:
//! 1. [`Ledger::read`] (one consistent `Query`): the lease, the version and the open records.
//! 2. After reading the AWS facts and deciding, [`Ledger::begin`] (one `TransactWriteItems`): checks that
//!    automation is not paused, takes the lease (only if nobody holds it, nothing changed since the read, and —
//!    when the read saw a holder whose lease had run out — only that dead holder's lease), and writes the
//!    change's pending records (only if no live record has their keys). Any condition lost is an answer, not
//!    an error: [`Begun::Busy`], [`Begun::Stale`] (read again), [`Begun::Paused`].
//! 3. After the change, [`Ledger::end`] (one `TransactWriteItems`): settles records (each only from the state
//!    it was read in; one settled closed or abandoned expires the retention after that), writes new ones,
//!    increments the version and gives the lease back — only if the lease is still the caller's.
//!
//! # Why this never acts on stale facts
//! A lease lasts longer than the function's timeout, so an invocation never acts after its lease ran out.
//! The AWS facts are read after the ledger, and `begin` succeeds only if the ledger is as read: no change ended
//! since (the version), nobody holds the resource (or only the holder seen dead at the read, whose changes, if
//! any, were made before the facts were read), and no live record has the same key (a change decided and not
//! ended). So the facts an invocation acts on are never older than another invocation's change.
//!
//! # Pause
//! While the pause item exists, `begin` answers [`Begun::Paused`] unless forced (a person's `"force": true`).

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::AwsError;

mod dynamo;
mod session;

pub use dynamo::DynamoLedger;
pub use session::{wait_budget, Again, Session, Start, Step, Stop, WaitBudget, LONGEST_PAUSE, MAX_WAIT};

/// The sort key of a resource's lease item.
pub const LEASE_KEY: &str = "lease";
/// Where the pause switch lives.
pub const CONTROL_PK: &str = "control";
pub const PAUSE_KEY: &str = "pause";

/// The `expires_at` of a record kept whatever its age until it is closed or abandoned (an open removal or
/// shift: its incident's baseline and what its OK undoes must outlive any retention); stored without the TTL
/// attribute.
pub const NEVER: i64 = i64::MAX;

/// Lambda's longest timeout.
pub const MAX_TIMEOUT_SECS: i64 = 900;
/// A lease outlasts its invocation by this much.
pub const LEASE_MARGIN_SECS: i64 = 30;

/// How long an invocation's lease lasts: the time it has left (from the Lambda context's deadline) plus a
/// margin, so that it never acts after its lease ran out; when unknown, Lambda's longest timeout plus the margin.
pub fn lease_secs(remaining: Option<std::time::Duration>) -> i64 {
    let left = remaining.map_or(MAX_TIMEOUT_SECS, |d| i64::try_from(d.as_secs()).unwrap_or(MAX_TIMEOUT_SECS));
    left.clamp(1, MAX_TIMEOUT_SECS) + LEASE_MARGIN_SECS
}

/// This invocation's name in the ledger: the Lambda request id when known (so a person can go from a ledger
/// item to the invocation's logs), else a name unique in this process.
pub fn owner(request_id: Option<&str>) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    match request_id.filter(|id| !id.is_empty()) {
        Some(id) => id.to_owned(),
        None => format!(
            "local-{}-{}-{}",
            std::process::id(),
            crate::time::now_secs(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ),
    }
}

/// Where a record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Decided and not finished: the change may or may not have happened.
    Pending,
    /// Finished, and in effect (a target removed, traffic shifted, a replica promoted).
    Done,
    /// Finished and no longer in effect: undone (a failback, a target registered again) or over.
    Closed,
    /// Given up, with the reason in the record's data.
    Abandoned,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Done => "done",
            State::Closed => "closed",
            State::Abandoned => "abandoned",
        }
    }

    /// Closed or abandoned: finished and no longer in effect, kept for the retention from then.
    pub fn closes(self) -> bool {
        matches!(self, State::Closed | State::Abandoned)
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(State::Pending),
            "done" => Some(State::Done),
            "closed" => Some(State::Closed),
            "abandoned" => Some(State::Abandoned),
            _ => None,
        }
    }
}

/// One record of an incident: an intent and its completion, a removal, a shift, a pending decision, a
/// notification that was published.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Record {
    /// `pk`: the resource it is about.
    pub resource: String,
    /// `sk`: the record within the resource, `<kind>#<id>` by convention.
    pub key: String,
    pub state: State,
    /// The invocation that wrote it, or last settled it.
    pub owner: String,
    /// What caused it, for people reading the table: `alarm web-5xx`, `manual command shift`...
    pub trigger: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The TTL: after this the record is ignored, and DynamoDB deletes it eventually; [`NEVER`] for one kept
    /// until it closes. Settled closed or abandoned, it expires the retention after that.
    pub expires_at: i64,
    /// The caller's own data (stored as a JSON string).
    pub data: Value,
}

impl Record {
    /// A new pending record with no data, kept for `retention_secs`.
    pub fn pending(resource: &str, key: &str, owner: &str, trigger: &str, now: i64, retention_secs: i64) -> Self {
        Record {
            resource: resource.to_owned(),
            key: key.to_owned(),
            state: State::Pending,
            owner: owner.to_owned(),
            trigger: trigger.to_owned(),
            created_at: now,
            updated_at: now,
            expires_at: now + retention_secs,
            data: Value::Null,
        }
    }

    /// Kept until it is closed or abandoned ([`NEVER`]), not for a retention from its creation.
    pub fn open(mut self) -> Self {
        self.expires_at = NEVER;
        self
    }

    pub fn with_state(mut self, state: State) -> Self {
        self.state = state;
        self
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
}

/// Who holds a resource, until when (epoch seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub owner: String,
    pub until: i64,
}

/// A resource's ledger as read.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub resource: String,
    /// When it was read.
    pub at: i64,
    /// Incremented by every [`Ledger::end`]; 0 for a resource never changed (or whose lease item expired).
    pub version: u64,
    /// The lease's holder, if any, live or not (see [`Snapshot::held`]).
    pub holder: Option<Holder>,
    /// The records that had not expired at the read, in key order.
    pub records: Vec<Record>,
}

impl Snapshot {
    /// Another invocation holds the resource: wait and read again.
    pub fn held(&self) -> Option<&Holder> {
        self.holder.as_ref().filter(|h| h.until >= self.at)
    }

    pub fn record(&self, key: &str) -> Option<&Record> {
        self.records.iter().find(|r| r.key == key)
    }
}

/// What [`Ledger::begin`] writes.
#[derive(Debug, Clone, PartialEq)]
pub struct Begin<'a> {
    pub owner: &'a str,
    pub now: i64,
    /// How long the lease lasts: longer than the function's timeout.
    pub hold_secs: i64,
    /// How long the lease item (and its version) is kept.
    pub retention_secs: i64,
    /// The change's records, pending as a rule; each is written only if no live record has its key.
    pub records: &'a [Record],
    /// A person's `"force": true`: begin even while paused.
    pub force: bool,
}

/// What [`Ledger::begin`] found.
#[derive(Debug, Clone, PartialEq)]
pub enum Begun {
    /// The lease is the caller's until `until`, and the records are written.
    Started { until: i64 },
    /// Another invocation holds the resource: wait, then read again.
    Busy(Holder),
    /// The ledger changed since the read (a change ended, a lease was taken, a record with one of these keys
    /// appeared): read again, facts included.
    Stale,
    /// Automation is paused.
    Paused(Pause),
}

/// A record to settle in [`Ledger::end`]: moved `from` one state `to` another, only if it is still in `from`
/// and, when `owner` is given, still that invocation's (for a pending record: the caller's, or the dead
/// invocation's whose lease the caller took over).
#[derive(Debug, Clone, PartialEq)]
pub struct Settle {
    pub key: String,
    pub from: State,
    pub owner: Option<String>,
    pub to: State,
    /// Replaces the record's data when given.
    pub data: Option<Value>,
}

impl Settle {
    /// Finishes a pending record `owner` wrote: `to` is `Done` or `Abandoned`.
    pub fn pending(key: &str, owner: &str, to: State) -> Self {
        Settle { key: key.to_owned(), from: State::Pending, owner: Some(owner.to_owned()), to, data: None }
    }

    /// Closes a change that is done (it was undone, or is over), whoever made it.
    pub fn close(key: &str) -> Self {
        Settle { key: key.to_owned(), from: State::Done, owner: None, to: State::Closed, data: None }
    }

    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }
}

/// The pause switch as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pause {
    pub by: String,
    pub reason: String,
    pub at: i64,
}

/// Records one call may name: a DynamoDB transaction holds at most 100 items, and `begin` adds the pause
/// check and the lease (`end` the lease).
pub const MAX_RECORDS_PER_CALL: usize = 98;

/// One call touches each item once (DynamoDB rejects a transaction with two operations on one item) and at
/// most [`MAX_RECORDS_PER_CALL`] records: both adapters refuse any other call, before anything is sent.
pub fn distinct_keys<'a>(resource: &str, keys: impl IntoIterator<Item = &'a str>) -> Result<(), AwsError> {
    let mut seen = std::collections::BTreeSet::new();
    for key in keys {
        if seen.len() == MAX_RECORDS_PER_CALL {
            return Err(AwsError {
                operation: "TransactWriteItems",
                resource: resource.to_owned(),
                code: Some("ValidationException".into()),
                transient: false,
                message: format!("one ledger call names more than {MAX_RECORDS_PER_CALL} records"),
            });
        }
        if !seen.insert(key) {
            return Err(AwsError {
                operation: "TransactWriteItems",
                resource: format!("{resource} {key}"),
                code: Some("ValidationException".into()),
                transient: false,
                message: format!("record {key} is named twice in one ledger call"),
            });
        }
    }
    Ok(())
}

/// The ledger port. Every write is conditional; a lost condition is an answer, never an error. Errors are AWS
/// failures.
pub trait Ledger: Send + Sync {
    /// The resource's lease, version and live records (one consistent read).
    fn read(&self, resource: &str, now: i64) -> impl Future<Output = Result<Snapshot, AwsError>> + Send;

    /// Starts a change on the resource read as `snapshot` (see the module doc).
    fn begin(&self, snapshot: &Snapshot, begin: &Begin<'_>) -> impl Future<Output = Result<Begun, AwsError>> + Send;

    /// Ends the caller's change: settles `settle`, writes `records`, increments the version and releases the
    /// lease. `false` when the lease is no longer the caller's or a record to settle is no longer pending and
    /// its owner's (then nothing is written).
    #[allow(clippy::too_many_arguments)]
    fn end(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        settle: &[Settle],
        records: &[Record],
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// Settles `settle` under the caller's lease and keeps the lease (the version unchanged): the batches of a
    /// settle too long for one `end` ([`MAX_RECORDS_PER_CALL`]), before it. `false` as for `end`.
    fn settle(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        settle: &[Settle],
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// Pauses automation (overwrites an earlier pause).
    fn pause(&self, pause: &Pause) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Resumes automation; `true` when it was paused.
    fn resume(&self) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// The pause, if automation is paused.
    fn paused(&self) -> impl Future<Output = Result<Option<Pause>, AwsError>> + Send;

    /// Why `resource`'s last read came from this function's own table rather than the one its records belong
    /// in (a ledger that keeps some resources in another region's table, which could not be reached): the
    /// decision was made alone, and its report says so. `None` for a ledger of one table.
    fn alone(&self, _resource: &str) -> Option<String> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_lease_outlasts_the_invocation() {
        assert_eq!(lease_secs(Some(Duration::from_secs(60))), 90);
        assert_eq!(lease_secs(None), MAX_TIMEOUT_SECS + LEASE_MARGIN_SECS);
        assert_eq!(lease_secs(Some(Duration::from_secs(5_000))), MAX_TIMEOUT_SECS + LEASE_MARGIN_SECS);
        assert_eq!(lease_secs(Some(Duration::ZERO)), 1 + LEASE_MARGIN_SECS);
    }

    #[test]
    fn a_call_names_each_record_once_and_fits_in_one_transaction() {
        let keys: Vec<String> = (0..=MAX_RECORDS_PER_CALL).map(|i| format!("removal#{i}")).collect();
        assert!(distinct_keys("r", keys[..MAX_RECORDS_PER_CALL].iter().map(String::as_str)).is_ok());
        let over = distinct_keys("r", keys.iter().map(String::as_str)).unwrap_err();
        assert!(!over.transient && over.message.contains("more than 98"), "{over}");
        assert!(distinct_keys("r", ["shift#a", "shift#a"]).unwrap_err().message.contains("named twice"));
    }

    #[test]
    fn owners_are_request_ids_or_unique() {
        assert_eq!(owner(Some("8f5e-41")), "8f5e-41");
        assert_ne!(owner(None), owner(Some("")));
        assert_ne!(owner(None), owner(None));
    }
}
