//! `database-failover`: promotes the safest read replica of a failed RDS primary, fails an Aurora cluster
//! over to its best reader, and never promotes twice. The settings are declared once, in [`config`].
//!
//! # Layout: where an event goes
//! 1. [`handler`]: intake (`failover_core::intake`: an RDS event, a CloudWatch alarm, a manual command, or
//!    something else), then [`command`] parses a manual command.
//! 2. [`route`]: a pure mapping from the event (or command) to the work: skip with a reason, inform (AWS's
//!    own failover), refuse (an alarm over several databases), or an action on a resource with its
//!    [`decide::Trigger`].
//! 3. [`actions`]: one file per action — [`actions::promote`], [`actions::failover_cluster`],
//!    [`actions::status`] — gathers its facts through the [`ports`] ([`actions::facts`]), decides once
//!    through [`decide`], acts, and builds its report with [`report`].
//! 4. `failover_core::invoke::finish`: logs one decision line, publishes the report unless it is a skip,
//!    and answers.
//!
//! [`model`] holds the domain types; [`decide`] is pure and holds no SDK type; [`adapters`] implement the
//! [`ports`] over the SDK. A new action is a new file in `actions/`, a [`route::Route`] variant and a line
//! in the handler's dispatch.
//!
//! # Invariants
//! - Opt-in is exactly `<opt-in key>=true` (IAM compares it with `StringEquals`) on the primary or cluster,
//!   and on the replica or reader chosen; anything else is a logged skip or an ineligible candidate.
//! - The decision is written before the change: tags on the old primary (`failover:promoted`) and on the
//!   replica (`failover:promoted-from`) before `PromoteReadReplica`; `failover:failed-over` on a cluster before
//!   `FailoverDBCluster`. Dry runs write nothing.
//! - An invocation returns `Err` only for invalid input or when a report carries a transient AWS error; that
//!   report is published first.
//!
//! # Idempotency
//! A later or concurrent event for a primary finds the record (on the primary, or, when the primary is gone,
//! on the replica that names it) and never promotes another replica: an unfinished promotion of the recorded
//! replica is completed, a finished one re-applies the (idempotent) DNS UPSERT within
//! [`decide::REPOINT_WINDOW_SECS`], a broken or missing one is refused. A cluster failed over within
//! [`decide::CLUSTER_COOLDOWN_SECS`] is not failed over again by an automatic trigger.
//!
//! # Calls per invocation
//! A primary's failure: one `DescribeDBInstances` for the primary, then ONE for all its replicas per region
//! holding replicas (a `db-instance-id` filter, up to [`adapters::INSTANCE_IDS_PER_CALL`] identifiers a
//! call), one `GetMetricData` per such region, two `AddTagsToResource` (the records), `PromoteReadReplica`, a
//! Route 53 change when an endpoint record is configured, one `sns:Publish`. A replica-side trigger or
//! `promote` first describes the replica; the replicas of a primary that no longer exists are found by
//! listing the instances of each region concerned (paged), and the record is then written on the replica
//! only. A recorded replica that is not among those described costs one more `DescribeDBInstances`. Aurora:
//! `DescribeDBClusters`, one `DescribeDBInstances` (`db-cluster-id` filter), one `GetMetricData`, one
//! `AddTagsToResource`, `FailoverDBCluster`, one publish. `status` reads as a failure would and writes
//! nothing but its notification. A skip publishes nothing.

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
