//! `database-failover`: promotes the safest read replica of a failed RDS primary, fails an Aurora cluster
//! over to its best reader, and never promotes twice. See [`handler`] for the invocation flow.
//!
//! # Triggers
//! - **RDS instance events** (EventBridge, directly or through SNS) whose id is in `FAILURE_EVENT_IDS`
//!   (default RDS-EVENT-0031, 0035, 0036, 0221, 0004, 0022): the instance is treated as a primary.
//! - **RDS-EVENT-0069** (Aurora cluster failover failed): the cluster is failed over.
//! - **Replica-side events** RDS-EVENT-0045 / 0057 (replication stopped / streaming terminated): the replica's
//!   source is checked; this is what a cross-region replica sees when its primary's region is gone.
//! - **CloudWatch alarms** (EventBridge, alarm action or SNS) entering ALARM whose metric has a
//!   `DBInstanceIdentifier` (primary; on a replica: replica-side; on an Aurora writer: its cluster) or a
//!   `DBClusterIdentifier` dimension. Alarms leaving ALARM are skipped: the function never fails back.
//! - **AWS's own failovers** (0013, 0015, 0049, 0071, 0072, 0073): an informational notification only.
//! - **Manual commands** (see below). Anything else is a logged skip (`status: skipped`), never an error.
//!
//! # What it does
//! 1. **Opt-in**: acts only on primaries and clusters tagged `<OPT_IN_TAG_KEY>=true`; others are a logged
//!    skip without notification. Replicas and Aurora readers must carry the tag too to be chosen, because the
//!    deployment's IAM allows `PromoteReadReplica` / `FailoverDBCluster` only on opted-in resources. When the
//!    primary no longer exists, its opt-in is judged from its replicas' tags.
//! 2. **Confirm**: describes the primary. It is down when it is missing or `failed`, `storage-full`,
//!    `incompatible-network`, `incompatible-parameters`, `incompatible-restore`, `restore-error` or
//!    `inaccessible-encryption-credentials`. An alarm or failure event on an `available` primary is refused
//!    with a warning notification unless `PROMOTE_WHEN_AVAILABLE=true`; other statuses (`rebooting`...) are
//!    refused. Replica-side events on an available source are refused (not a failover).
//! 3. **Choose**: among the replicas (described together: one call per region), those `available`, opted in, in the
//!    primary's region (or any region with `ALLOW_CROSS_REGION=true`), with `ReplicaLag` known, never -1 and at most
//!    `MAX_REPLICA_LAG_SECONDS` over the last 5 minutes (per-minute maxima; one `GetMetricData` call per region for all
//!    replicas) are eligible; the lowest `failover:priority` tag (default 100) wins, then the lowest lag. No eligible
//!    replica: a critical refusal listing every replica and why.
//! 4. **Record, then promote**: the decision is tagged (see Idempotency) *before* `PromoteReadReplica` with
//!    `BackupRetentionPeriod=BACKUP_RETENTION_DAYS`; then, when `DB_ENDPOINT_RECORD` is set, a Route 53 UPSERT
//!    of that CNAME (TTL 30 s) to the new primary's endpoint.
//! 5. **Aurora**: `FailoverDBCluster` to the available, opted-in reader with the lowest `PromotionTier`, then
//!    the lowest `AuroraReplicaLag`; the cluster is tagged first. No reader: a critical refusal. A cluster whose
//!    status is not `available` (AWS is already acting) is skipped. An alarm acts even when the writer reports
//!    available: that is the hung-writer case Aurora does not handle itself.
//! 6. **Cross-region**: a replica-side event or alarm on a replica whose source is in another region describes
//!    the source there; if that region does not answer, the source "cannot be confirmed available" and counts
//!    as down. Replicas in a region other than the primary's are eligible only with `ALLOW_CROSS_REGION=true`.
//! 7. **Dry run** (`DRY_RUN=true`, or `"dry_run": true` in a command): the plan is published with outcome
//!    `dry-run`; nothing is changed, not even the record tags.
//!
//! # Idempotency (never twice)
//! - Before promoting, the decision is tagged on the old primary: `failover:promoted = <replica>@<time>`, e.g.
//!   `orders-replica-1@2024-05-01T10:07:12Z` (a replica in another region is written `<region>/<id>`), and on
//!   the chosen replica: `failover:promoted-from = <primary>@<time>`. Time is RFC 3339 UTC.
//! - Any later or concurrent event for that primary finds the record (on the primary, or — when the primary is
//!   gone and cannot be tagged — on the replica that names it, found by listing the region's instances) and
//!   promotes nothing else, even after the promoted replica has left the replica list. If the recorded replica
//!   is still a replica and available (the promotion failed or was cut short), the retry completes that same
//!   promotion; if it is broken or gone, the function refuses instead of choosing another. Within 15 minutes of
//!   the record, a repeat re-applies the (idempotent) DNS UPSERT, so a retry after a failed Route 53 call
//!   completes the job. The deployment also runs one invocation at a time (reserved concurrency 1).
//! - Aurora: `failover:failed-over = <reader>@<time>` on the cluster; automatic triggers within an hour of it
//!   are skipped (duplicate alarm deliveries must not bounce the writer); manual commands are not.
//!
//! # Errors and retries
//! The SDK retries throttling and 5xx itself. When a call still fails, a `failed` notification is attempted
//! and the invocation returns an error only if a retry could help (throttling, 5xx, timeouts), so Lambda
//! retries the event; permanent errors (access denied, invalid state) are `status: failed` without a retry.
//! Invalid events and commands are errors (`InvalidEvent`, `InvalidCommand`).
//!
//! # Manual commands
//! ```json
//! {"command": "status", "db_instance_identifier": "orders-primary"}
//! {"command": "status", "db_cluster_identifier": "catalog-cluster"}
//! {"command": "promote", "db_instance_identifier": "orders-replica-1", "dry_run": true}
//! {"command": "failover-cluster", "db_cluster_identifier": "catalog-cluster", "target_db_instance_identifier": "catalog-reader-b"}
//! ```
//! `status` reports the primary (or cluster), its replicas (readers) with status and lag datapoints, any
//! record, and what would happen if it failed now; it changes nothing and publishes an `info` notification.
//! `promote` promotes the named replica with the same guards except that the primary need not be down (and
//! never a second replica after a recorded failover). `failover-cluster` fails over to the named reader or the
//! best one. Every command takes `dry_run` and `region` (default: the function's region); see [`command`].
//!
//! # Environment variables
//! `NOTIFICATION_TOPIC_ARN` (required), `DRY_RUN` (false), `OPT_IN_TAG_KEY` (`failover:enabled`),
//! `NOTIFICATION_FORMAT` (`json` or `chatbot`), `FAILURE_EVENT_IDS`, `PROMOTE_WHEN_AVAILABLE` (false),
//! `MAX_REPLICA_LAG_SECONDS` (30), `BACKUP_RETENTION_DAYS` (7, 1–35), `DB_ENDPOINT_RECORD`
//! (`<hosted-zone-id>/<record-name>`, unset: no DNS change), `ALLOW_CROSS_REGION` (false). See [`config`].
//!
//! # IAM actions
//! `rds:DescribeDBInstances`, `rds:DescribeDBClusters` (tags are read from their `TagList`),
//! `cloudwatch:GetMetricData`, `rds:AddTagsToResource` (the records), `rds:PromoteReadReplica`,
//! `rds:FailoverDBCluster`, `route53:ChangeResourceRecordSets` (only with `DB_ENDPOINT_RECORD`), `sns:Publish`.
//! With `ALLOW_CROSS_REGION=true` the RDS and CloudWatch calls also go to other regions.
//!
//! # Calls per invocation
//! A primary's failure: one `DescribeDBInstances` for the primary, then ONE for all its replicas per region holding
//! replicas (a `db-instance-id` filter, up to [`adapters::INSTANCE_IDS_PER_CALL`] identifiers a call; RDS allows a
//! source 15), one `GetMetricData` per such region, two `AddTagsToResource` (the records), `PromoteReadReplica`, a
//! Route 53 change with `DB_ENDPOINT_RECORD`, one `sns:Publish`. A replica-side trigger or `promote` first describes
//! the replica; the replicas of a primary that no longer exists are found by listing the instances of each region
//! concerned (paged), and the record is then written on the replica only. A recorded replica that is not among those
//! described costs one more `DescribeDBInstances`. Aurora (cluster trigger): `DescribeDBClusters`, one
//! `DescribeDBInstances` (`db-cluster-id` filter), one `GetMetricData`, one `AddTagsToResource`, `FailoverDBCluster`,
//! one publish. `status` reads as a failure would and writes nothing but its notification.
//!
//! # Notifications
//! Attribute `function=database-failover`; `action` is `promote-replica`, `failover-cluster`, `aws-failover`
//! or `status`; `outcome` is `succeeded`, `refused`, `failed`, `dry-run` or `info`. Each names next steps
//! (repoint clients, create a new replica, investigate the old primary, how to complete by hand).
//!
//! # Layout
//! - [`config`]: the environment variables, parsed once per cold start.
//! - [`command`]: the manual command vocabulary.
//! - [`model`]: plain domain data (instances, clusters, decision records and their tag format).
//! - [`decide`]: the policy — pure functions from facts to a [`decide::Plan`], unit-tested per branch.
//! - [`ports`] and [`adapters`]: the narrow traits the handler acts through, and their SDK implementations.
//! - [`report`]: notifications (with next steps) and responses.
//! - [`handler`]: intake, decide, act and report.

pub mod adapters;
pub mod command;
pub mod config;
pub mod decide;
pub mod handler;
pub mod model;
pub mod ports;
pub mod report;

pub use config::Config;
pub use handler::{App, FUNCTION};
