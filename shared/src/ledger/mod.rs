//! The incident ledger: what the functions must remember across invocations, in one DynamoDB table written
//! with conditional writes, instead of tags on users' resources.
//!
//! # The table
//! Partition key `pk` (string): the resource a record is about, as the caller names it (for example
//! `targetgroup/<arn>`); sort key `sk` (string): the record within it (`lease`, `removal#<target>`,
//! `decision#<id>`...). Every item carries `expires_at` (epoch seconds), the table's TTL attribute. DynamoDB deletes
//! expired items eventually (up to days later), so readers here ignore an item whose `expires_at` has passed.
//!
//! # Leases
//! Before changing a resource, an invocation claims its lease: a conditional put that succeeds when there is no
//! lease, when the lease has expired, or when it is already the caller's. A lease expires by itself `hold`
//! seconds after its claim (the function's timeout plus a margin), so a crashed invocation blocks the next one
//! no longer than that. Two invocations claiming the same resource at the same moment: exactly one wins; the
//! other learns who holds it and until when.
//!
//! # Records
//! A record is written before the change it announces, as `pending`, and settled (`done` or `abandoned`)
//! after: a conditional update that succeeds only while the record is still pending and still the caller's.
//! An interrupted invocation leaves its record pending, and the next one finds it and completes or abandons it.
//!
//! # Pause
//! One item (`pk = control`, `sk = pause`) says whether automation is paused, by whom, why and since when.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::aws::AwsError;

mod dynamo;
mod lease;

pub use dynamo::DynamoLedger;
pub use lease::{hold, Held, HoldError, Wait};

/// The sort key of a resource's lease item.
pub const LEASE_KEY: &str = "lease";
/// Where the pause switch lives.
pub const CONTROL_PK: &str = "control";
pub const PAUSE_KEY: &str = "pause";

/// What a claim found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The lease is the caller's until `until` (epoch seconds).
    Acquired { until: i64 },
    /// Another invocation holds it until `until`.
    Held { owner: String, until: i64 },
}

/// Where a record stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Decided and not finished: the change may or may not have happened.
    Pending,
    /// Finished.
    Done,
    /// Given up, with the reason in the record's data.
    Abandoned,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Done => "done",
            State::Abandoned => "abandoned",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(State::Pending),
            "done" => Some(State::Done),
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
    /// The invocation that wrote it (or last settled it).
    pub owner: String,
    /// What caused it, for people reading the table: `alarm web-5xx`, `manual command shift`...
    pub trigger: String,
    pub created_at: i64,
    pub updated_at: i64,
    /// The TTL: after this the record is ignored, and DynamoDB deletes it eventually.
    pub expires_at: i64,
    /// The caller's own data (stored as a JSON string).
    pub data: Value,
}

impl Record {
    /// A new pending record, kept for `retention_secs`.
    pub fn pending(
        resource: &str,
        key: &str,
        owner: &str,
        trigger: &str,
        now: i64,
        retention_secs: i64,
        data: Value,
    ) -> Self {
        Record {
            resource: resource.to_owned(),
            key: key.to_owned(),
            state: State::Pending,
            owner: owner.to_owned(),
            trigger: trigger.to_owned(),
            created_at: now,
            updated_at: now,
            expires_at: now + retention_secs,
            data,
        }
    }
}

/// What writing a new record found.
#[derive(Debug, Clone, PartialEq)]
pub enum Written {
    /// The record is new.
    New,
    /// A record with that key was already there (a repeat): here it is, unchanged.
    Exists(Box<Record>),
}

/// The pause switch as it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pause {
    pub by: String,
    pub reason: String,
    pub at: i64,
}

/// The ledger port. Every write that claims something is conditional; a lost condition is an answer
/// ([`Claim::Held`], [`Written::Exists`], `false`), never an error. Errors are AWS failures.
pub trait Ledger: Send + Sync {
    /// Claims the resource's lease for `hold_secs` from `now`.
    fn claim(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        hold_secs: i64,
    ) -> impl Future<Output = Result<Claim, AwsError>> + Send;

    /// Gives the lease back if it is still the caller's (otherwise leaves it alone).
    fn release(&self, resource: &str, owner: &str) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Writes a new record unless one with that key exists (and has not expired at `record.updated_at`).
    fn record(&self, record: &Record) -> impl Future<Output = Result<Written, AwsError>> + Send;

    /// Settles a pending record the caller owns: `true` when it was pending and the caller's, `false` otherwise
    /// (someone settled or took it over first). `data`, when given, replaces the record's data.
    fn settle(
        &self,
        resource: &str,
        key: &str,
        owner: &str,
        state: State,
        now: i64,
        data: Option<&Value>,
    ) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// The resource's records that have not expired at `now` (the lease item aside), in key order.
    fn records(&self, resource: &str, now: i64) -> impl Future<Output = Result<Vec<Record>, AwsError>> + Send;

    /// Pauses automation (overwrites an earlier pause).
    fn pause(&self, pause: &Pause) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Resumes automation; `true` when it was paused.
    fn resume(&self) -> impl Future<Output = Result<bool, AwsError>> + Send;

    /// The pause, if automation is paused.
    fn paused(&self) -> impl Future<Output = Result<Option<Pause>, AwsError>> + Send;
}
