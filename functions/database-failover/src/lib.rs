//! `database-failover`: promotes the safest read replica of a failed RDS primary, fails an Aurora cluster
//! over to its best reader, and never promotes twice. The settings are declared once, in [`config`].
//!
//! # Layout: where an event goes
//! 1. [`handler`]: intake (`failover_core::intake`: an RDS event through EventBridge or an event subscription's
//!    SNS topic, a CloudWatch alarm, a manual command, or something else), then [`command`] parses a manual
//!    command.
//! 2. [`route`]: a pure mapping from the event (or command) to the work: skip with a reason (not ours, or about
//!    another region, or from another account than the one in the Lambda context's `invoked_function_arn`:
//!    [`route::foreign_account`]), inform (AWS's own failover), refuse (an alarm over several databases), fix in place
//!    (storage full, invalid parameters), or an action on a resource with its [`decide::Trigger`].
//! 3. [`actions::dispatch`] runs the action: one file per action — [`actions::promote`] (with its DNS step,
//!    [`actions::repoint`]), [`actions::failover_cluster`], [`actions::fix_in_place`], [`actions::status`],
//!    [`actions::control`] (`pause`, `resume`) — reads the
//!    resource's ledger, gathers its facts through the [`ports`] ([`actions::facts`]), decides once through
//!    [`decide`], begins the change in the ledger, acts, ends it ([`actions::claim`]), and builds its report
//!    with [`report`].
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
//! - A DNS record follows only its primary: the one the primary's [`model::DNS_RECORD_TAG`] names
//!   (`failover:dns-record=<hosted-zone-id>/<record-name>`, read by [`model::EndpointRecord::parse`]), changed only
//!   from that primary's endpoint ([`decide::repoint_step`]) in one Route 53 batch (DELETE as it is + CREATE); one
//!   that points elsewhere is left as it is and the notification says where it points.
//! - No state in tags: tags are read for configuration only (opt-in, `failover:priority`, `failover:dns-record`). What the function
//!   remembers is in the ledger (`failover_core::ledger`), written with conditional writes: a `promotion#<decision time>`
//!   record on the primary's resource `db-instance:<region>/<id>` is written pending (with the resource's lease)
//!   before `PromoteReadReplica` and settled done after the promotion and the DNS change; a `failover#<time>`
//!   record on `db-cluster:<region>/<id>` is written pending before `FailoverDBCluster` and settled done when it
//!   succeeds (the cooldown runs from then), left pending after a transient failure (the retry completes it, or
//!   abandons it when its reader can no longer take over), or abandoned with a permanent error. Dry runs write nothing to the ledger.
//! - While automation is paused (`pause`), every change is refused with who paused, why and when; a manual
//!   command acts anyway with `"force": true`.
//! - `PROMOTE_WHEN_AVAILABLE` applies to alarms only: an RDS event about an `available` primary never promotes;
//!   `promote` away from an `available` primary needs `"force": true`, and its notification says the old
//!   primary was not fenced.
//! - Replica lag is judged as of the failure ([`decide::lag_as_of`]): the datapoints of the 5 minutes before the
//!   event's or alarm's time ([`actions::Context::failure_at`]; commands and `readiness`: now); a -1 after the
//!   failure does not count (the source is gone), a -1 before it does, and no datapoint before it is unknown lag.
//! - With `ALLOW_CROSS_REGION`, a primary is unreachable only when its region does not answer (a connection
//!   failure or a timeout after the SDK's retries, [`actions::facts::unreachable`]); throttling and access
//!   denied are errors.
//! - An invocation returns `Err` only for invalid input or when a report carries a transient AWS error; that
//!   report is published first.
//!
//! # Idempotency
//! Every change reads the resource's ledger first and waits (up to [`actions::claim::TRIES`] reads,
//! [`actions::claim::WAIT`] apart) while another invocation holds it; its `begin` succeeds only if the ledger
//! is as read, so two invocations at once never both act: the second reads again, facts included, and finds
//! the first one's record (or, out of attempts, is skipped with a transient error so that Lambda retries it).
//! A later or concurrent event for a primary finds its promotion record (on the primary's resource, so it is
//! found even when the primary is gone) and never promotes another replica: a pending one (a promotion that
//! failed or was cut short) is completed with the same replica, by the next invocation in its own name, only
//! while its guards still hold (the primary down, the replica still its opted-in replica, replicating and within
//! the lag limit, the same instance by `DbiResourceId`) and within `DECISION_TTL_MINUTES`; otherwise it is
//! abandoned ([`actions::abandon`]) with a warning saying why, and an abandoned record blocks nothing; a done
//! one re-applies the DNS step (nothing changes once the record points at the replica) within
//! [`decide::REPOINT_WINDOW_SECS`], later nothing. A cluster
//! with a done failover within [`decide::CLUSTER_COOLDOWN_SECS`] is not failed over again by an automatic
//! trigger (the cooldown runs from when `FailoverDBCluster` succeeded); a pending one (a transient failure) is
//! completed by the retry with the same reader, and a retry that cannot act on it publishes why.
//!
//! # Calls per invocation
//! A primary's failure: one `DescribeDBInstances` for the primary, one ledger `Query` (the primary's
//! resource), then ONE `DescribeDBInstances` for all its replicas per region holding replicas (a
//! `db-instance-id` filter, up to [`adapters::INSTANCE_IDS_PER_CALL`] identifiers a call), one `GetMetricData`
//! per such region, one `TransactWriteItems` (`begin`), `PromoteReadReplica`, when the primary names a record:
//! one `ListResourceRecordSets` and one `ChangeResourceRecordSets` (a second `ListResourceRecordSets` when Route 53
//! rejects the batch), one `TransactWriteItems` (`end`), one `sns:Publish`. A replica-side trigger or
//! `promote` first describes the replica and its primary (a primary that no longer exists costs no listing:
//! its candidate is the replica the trigger names, described again after the `Query`). A recorded
//! replica that is not among those described costs one more `DescribeDBInstances`. A wait or a lost `begin`
//! repeats the `Query` and the reads. Aurora: `DescribeDBClusters`, one `Query` (the cluster is described
//! again after it only when the ledger shows an earlier change), one `DescribeDBInstances` (`db-cluster-id`
//! filter), one `GetMetricData`, `begin`, `FailoverDBCluster`, `end`, one publish. A storage-full or
//! invalid-parameters event (fix in place): one `DescribeDBInstances`, one ledger `Query` (a primary that already
//! failed over is skipped), one publish. `status` reads as a failure
//! would, plus the ledger `Query` and the pause (`GetItem`), and writes nothing but its notification. `pause` /
//! `resume` read or write the pause item only. A primary or cluster that is missing or not opted in is skipped
//! before the ledger is read (no ledger call); a plan that changes nothing costs the `Query` only. A skip
//! publishes nothing. `readiness` (read-only, no ledger call): `DescribeDBInstances` and `DescribeDBClusters` of the
//! region (paginated), then per opted-in primary its replicas and lags as a failure would read them, and one
//! `ListResourceRecordSets` when it is tagged `failover:dns-record`; per opted-in cluster its instances and one
//! `GetMetricData`; one publish (see [`actions::readiness`]).

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
