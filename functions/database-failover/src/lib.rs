//! `database-failover`: promotes the safest read replica of a failed RDS primary, fails an Aurora or Multi-AZ DB
//! cluster over to its best reader ([`model::Topology`] tells which), and never promotes twice. Where an event
//! goes is in ARCHITECTURE.md; the AWS and ledger calls of each action are in its file's doc. Settings: [`config`].
//!
//! # Layout
//! - [`handler`]: the [`App`]: one invocation, from the payload to the notification and the answer.
//! - [`route`] (pure): an event, or a manual command ([`command`] is the vocabulary, [`route::invocation`]
//!   parses it), to its action and [`decide::Trigger`], or to a skip, an inform or a refusal.
//! - [`actions`]: one file per action, behind [`actions::dispatch`]; [`actions::facts`] is what they read.
//! - [`decide`] (pure): which replica or reader, and whether to act at all; [`report`]: the notification texts.
//! - [`model`]: the domain types, no SDK type; [`ports`]: what the actions ask of AWS; [`adapters`]: the SDK.
//! - [`config`]: every setting, declared once.
//!
//! # Invariants
//! - Opt-in is exactly `<opt-in key>=true` (IAM compares it with `StringEquals`) on the primary or cluster,
//!   and on the replica or reader chosen; anything else is a logged skip or an ineligible candidate.
//! - A DNS record follows only its primary: the one the primary's [`model::DNS_RECORD_TAG`] names, changed only
//!   from that primary's endpoint ([`decide::repoint_step`]) in one Route 53 batch; one that points elsewhere is
//!   left as it is and the notification says where it points ([`actions::repoint`]). Likewise an RDS Proxy
//!   target group ([`model::PROXY_TAG`]): moved only from that primary ([`decide::proxy_step`]), else left alone
//!   and said ([`actions::proxy`]).
//! - No state in tags (read for configuration only: opt-in, `failover:priority`, and the bindings
//!   [`model::BINDING_TAGS`], which a promoted replica inherits through its lineage in the ledger,
//!   [`actions::lineage`]). The only tags written are those a replica created with `RECREATE_REPLICA` gets on
//!   creation ([`actions::recreate`]). What the function remembers is in the ledger, and every change runs
//!   inside the one attempt loop
//!   ([`failover_core::ledger::Session::attempt`]): a `promotion#<decision time>` record on
//!   `db-instance:<region>/<id>` ([`actions::promote`]), a `failover#<time>` record on
//!   `db-cluster:<region>/<id>` ([`actions::failover_cluster`]), a `fence#<DbiResourceId>` record on the old
//!   primary's resource ([`actions::fence`]), a `replica#<name>` record on the new primary's
//!   ([`actions::recreate`]), pending before the change, settled after; and, done at once, a
//!   `lineage#<old DbiResourceId>` record on the new primary's ([`actions::lineage`]). Dry runs write nothing to
//!   the ledger.
//! - Never promotes twice: a later or concurrent event finds the primary's promotion record and completes,
//!   reports or abandons that same promotion ([`actions::abandon`]); a cluster is not failed over again by an
//!   automatic trigger within [`decide::CLUSTER_COOLDOWN_SECS`].
//! - While automation is paused (`pause`), every change is refused with who paused, why and when; a manual
//!   command acts anyway with `"force": true`.
//! - `PROMOTE_WHEN_AVAILABLE` applies to alarms only: an RDS event about an `available` primary never promotes;
//!   `promote` away from an `available` primary needs `"force": true`.
//! - An old primary is fenced ([`actions::fence`], `FENCE=security-group`): its VPC security groups replaced by
//!   the fence group as soon as it can be modified (before `PromoteReadReplica` when it is `available`, else
//!   once it is back), bound to its `DbiResourceId`, its original groups in the ledger (`fence#<id>`); only
//!   `unfence` ([`actions::unfence`]) gives them back.
//! - Replica lag is judged as of the failure's onset ([`decide::onset`]): the trigger's time, or where a
//!   replica's replication broke shortly before it; a -1 after the onset does not count, one before it does.
//!   So is a Multi-AZ DB cluster's readers' `ReplicaLag`, a guard there as for replicas; Aurora's
//!   `AuroraReplicaLag` only orders its readers (shared storage).
//! - With `ALLOW_CROSS_REGION`, a primary is unreachable only when its region does not answer
//!   ([`actions::facts::unreachable()`]); throttling and access denied are errors.
//! - One authority per primary: its decisions are in the ledger of the primary's region, whichever region's stack
//!   makes them ([`adapters::HomeLedgers`], with `ALLOW_CROSS_REGION`); a stack decides alone, and says so, only
//!   when that region's DynamoDB does not answer.
//! - Aurora Global Database: `switchover-global` ([`actions::switchover_global`]) and the unplanned failover
//!   ([`actions::failover_global`]) record `global#<time>` on `global-cluster:<id>`. No data-losing action
//!   (`FailoverGlobalCluster` with `AllowDataLoss`, `RemoveFromGlobalCluster`) without a measured loss within
//!   `MAX_GLOBAL_DATA_LOSS_SECONDS` or an unexpired approval (`approval#<time>`, [`decide::approval`]), and a
//!   detach never without one. A pending or just-rejected approval holds later events back; with several
//!   secondaries only the lowest secondary region's stack acts ([`decide::global_db::designated_region`]).
//! - `Err` only for invalid input or a fault a retry can fix ([`failover_core::fault::Fault`]), published first;
//!   and for a command an ARC Region switch plan step sent, also a refusal, a failure, a run that did nothing or
//!   a dry run its payload did not ask for, so that the step fails ([`failover_core::step`]). Its records and notifications carry the step.

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
