//! `database-failover`: promotes the safest read replica of a failed RDS primary, fails an Aurora or Multi-AZ DB
//! cluster over to its best reader, and an Aurora Global Database to a secondary region ([`model::Topology`]
//! tells which), never twice. Where an event goes, and the ledger records each action keeps, are in
//! ARCHITECTURE.md; the AWS and ledger calls of each action are in its file's doc. Settings: [`config`].
//!
//! # Layout
//! - [`handler`]: the [`App`]: one invocation, from the payload to the notification and the answer.
//! - [`route`] (pure): an event, or a manual command ([`command`] is the vocabulary, [`route::invocation`]
//!   parses it), to its action and [`decide::Trigger`], or to a skip, an inform or a refusal.
//! - [`actions`]: one file per action, behind [`actions::dispatch`]; [`actions::facts`] is what they read.
//! - [`decide`] (pure): which replica or reader, and whether to act at all; [`report`]: the notification texts.
//! - [`model`]: the domain types, no SDK type; [`ports`]: what the actions ask of AWS; [`adapters`]: the SDK.
//!
//! # Invariants
//! - Opt-in is exactly `<opt-in key>=true` (IAM compares it with `StringEquals`) on the primary or cluster, and
//!   on the replica or reader chosen; anything else is a logged skip or an ineligible candidate.
//! - A client path moves only from the failed primary: the DNS record its [`model::DNS_RECORD_TAG`] names, only
//!   from its endpoint ([`decide::repoint_step`], [`decide::global_repoint_step`]), and the RDS Proxy target
//!   group ([`decide::proxy_step`]); one that points elsewhere is left as it is, and said.
//! - No state in tags (read for configuration only; a promoted replica inherits the bindings through its
//!   lineage). Every change runs inside the one attempt loop ([`failover_core::ledger::Session::attempt`]), its
//!   record pending before it and settled after. Dry runs write nothing.
//! - Never twice: a later or concurrent event completes, reports or abandons the recorded decision; a cluster is
//!   not failed over again by an automatic trigger within [`decide::CLUSTER_COOLDOWN_SECS`].
//! - Paused (`pause`): every change is refused with who, why and when; a manual command acts with `"force": true`.
//!   A done change's DNS step that a later event would apply again waits (a logged skip saying so) until `resume`.
//!   `PROMOTE_WHEN_AVAILABLE` applies to alarms only.
//! - An old primary is fenced (`FENCE=security-group`), bound to its `DbiResourceId`, its groups in the ledger;
//!   only `unfence` gives them back.
//! - Lag is judged as of the failure's onset ([`decide::onset`]); a Multi-AZ DB cluster's `ReplicaLag` is a
//!   guard, Aurora's `AuroraReplicaLag` only an order.
//! - One authority per primary: the ledger of its region ([`adapters::HomeLedgers`]); a stack decides alone, and
//!   says so, only when that ledger does not answer. A region is unreachable only when it does not answer.
//! - No data-losing global action (`FailoverGlobalCluster` with `AllowDataLoss`, `RemoveFromGlobalCluster`)
//!   without a measured loss within `MAX_GLOBAL_DATA_LOSS_SECONDS` or an unexpired approval
//!   ([`decide::approval`]); a detach never without one.
//! - `Err` only for invalid input or a fault a retry can fix ([`failover_core::fault::Fault`]), published first;
//!   for an ARC Region switch step also a refusal, a failure or nothing done ([`failover_core::step`]).

pub mod actions;
pub mod adapters;
pub mod command;
pub mod config;
pub mod decide;
pub mod handler;
pub mod model;
pub mod ports;
pub mod report;
pub mod route;

pub use config::Config;
pub use handler::App;

/// The function's name: the `function` attribute of its notifications and the prefix of its incident ids.
pub const FUNCTION: &str = "database-failover";
