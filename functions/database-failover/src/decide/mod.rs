//! The policy, as pure synchronous functions from plain data to a [`Plan`]. No I/O here: an action
//! (in `actions/`) gathers the facts through the ports, calls one of these functions once, then acts on
//! the plan.
//!
//! - [`decide_promotion`] (`promotion.rs`): an RDS primary and its read replicas (same- or cross-region).
//! - [`gate`] (`primary.rs`): what a primary's status lets a trigger do (promote, fix in place, refuse).
//! - [`same_primary`] (`identity.rs`): whether a recorded decision is the primary's, by `DbiResourceId`.
//! - [`decide_cluster`] (`cluster.rs`): an Aurora or Multi-AZ DB cluster (`multi_az.rs`: its readers guarded by
//!   `ReplicaLag`) and its readers; [`writer`]: whether its writer moved.
//! - [`fence`]: whether an old primary is fenced now, with which groups recorded.
//! - [`Plan::would`]: what the `status` command says a failure would do now.
//! - [`readiness`] and [`watch`]: what an opted-in primary or cluster lacks for a failover, and whether an alarm
//!   that invokes the function watches it.

use failover_core::notify::Severity;
use serde::Serialize;

use crate::model::{DbRef, Instance, ProxyMove, Record, Repoint, Topology};

pub mod approval;
pub mod aws_first;
mod cluster;
mod dns;
pub mod fence;
pub mod global_db;
mod identity;
mod multi_az;
pub mod onset;
mod primary;
mod promotion;
pub mod proxy;
mod proxy_result;
pub mod readiness;
pub mod watch;
pub mod writer;

pub use cluster::{decide_cluster, ClusterFacts};
pub use dns::{global_repoint_step, is_writer_endpoint, repoint_step, DnsResult, DnsStep, Propagation};
pub use identity::same_primary;
pub use onset::lag_as_of;
pub use primary::{gate, may_take_writes, FixInPlace, FixKind, Gate, FIX_IN_PLACE_STATUSES};
pub use promotion::{decide_promotion, promotion_in_progress, verdicts, writable};
pub use proxy::{proxy_step, ProxyResult, ProxyStep};

/// The statuses of a replica while `PromoteReadReplica` works on it: a pending decision whose replica is in one
/// of them is waited for, not re-checked (the promotion may have been asked for already).
pub const PROMOTING_STATUSES: &[&str] = &["modifying", "rebooting"];

/// After a promotion is recorded, a repeated event within this many seconds re-applies the DNS change
/// (idempotent), so a retry after a failed Route 53 call completes the job. Matches the 15-minute maximum
/// event age of the deployment's EventBridge rules and Lambda's asynchronous retries.
pub const REPOINT_WINDOW_SECS: i64 = 900;
/// A cluster failed over by this function (or by AWS) is not failed over again automatically within this many
/// seconds (duplicate alarm deliveries and re-evaluations must not bounce the writer). Manual commands may.
pub const CLUSTER_COOLDOWN_SECS: i64 = 3600;

/// The settings the policy reads (a projection of [`crate::Config`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub opt_in_tag_key: String,
    pub promote_when_available: bool,
    pub max_replica_lag_seconds: f64,
    pub allow_cross_region: bool,
    /// `DECISION_TTL_MINUTES`, in seconds: a pending decision older than this is abandoned.
    pub decision_ttl_secs: i64,
}

/// What started the work.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Trigger {
    /// An RDS event in `FAILURE_EVENT_IDS` on the primary, or RDS-EVENT-0069 on a cluster.
    FailureEvent { event_id: String, message: String },
    /// A CloudWatch alarm on the primary or the cluster, entering ALARM.
    Alarm { name: String },
    /// Replication stopped on a replica (0045 / 0057), or an alarm on a replica.
    ReplicaSide { replica: DbRef, cause: String },
    /// `promote`: a person named the replica; `force` (`"force": true`) also promotes away from a primary that
    /// may still take writes (which is then not fenced) or that is fixed in place ([`gate`]).
    ManualPromote { replica: DbRef, force: bool },
    /// `failover-cluster`: a person asked, optionally naming the reader; `force` (`"force": true`) also takes a
    /// named Multi-AZ DB cluster reader past the lag guard.
    ManualFailover { target: Option<String>, force: bool },
    /// `status`: what would happen if the primary failed now.
    Status,
}

impl Trigger {
    pub fn describe(&self) -> String {
        match self {
            Trigger::FailureEvent { event_id, message } if message.is_empty() => event_id.clone(),
            Trigger::FailureEvent { event_id, message } => format!("{event_id} ({message})"),
            Trigger::Alarm { name } => format!("alarm {name}"),
            Trigger::ReplicaSide { replica, cause } => format!("{cause} on replica {}", replica.id),
            Trigger::ManualPromote { replica, force: false } => format!("manual promote of {}", replica.id),
            Trigger::ManualPromote { replica, force: true } => format!("manual promote of {} (forced)", replica.id),
            Trigger::ManualFailover { force: false, .. } => "manual failover-cluster".into(),
            Trigger::ManualFailover { force: true, .. } => "manual failover-cluster (forced)".into(),
            Trigger::Status => "status command".into(),
        }
    }

    fn is_manual(&self) -> bool {
        matches!(self, Trigger::ManualPromote { .. } | Trigger::ManualFailover { .. } | Trigger::Status)
    }
}

/// What the primary looked like when it was described. (One per invocation: its size does not matter.)
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum PrimaryState {
    Found(Instance),
    /// `DescribeDBInstances` says it does not exist (deleted): down.
    Missing,
    /// Its region did not answer (cross-region replica-side events only): it cannot be confirmed available.
    Unreachable {
        error: String,
    },
}

impl PrimaryState {
    /// The primary's binding tags, own or inherited (none when it was not described): what the replica
    /// promoted in its place inherits through the lineage.
    pub fn bindings(&self) -> failover_core::tags::Tags {
        match self {
            PrimaryState::Found(p) => p.bindings(),
            _ => Default::default(),
        }
    }

    /// The primary's ARN; `None` when it was not described.
    pub fn arn(&self) -> Option<String> {
        match self {
            PrimaryState::Found(p) => Some(p.arn.clone()),
            _ => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            PrimaryState::Found(p) => p.status.clone(),
            PrimaryState::Missing => "not found".into(),
            PrimaryState::Unreachable { .. } => "unreachable".into(),
        }
    }
}

/// A replica (or cluster reader) with its lag datapoints as of the failure's onset ([`onset`]; `ReplicaLag`,
/// seconds, or `AuroraReplicaLag`, milliseconds; maximum per minute), newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub instance: Instance,
    pub lag: Vec<f64>,
    /// The minute of the newest datapoint in `lag` (seconds since the epoch).
    pub lag_at: Option<i64>,
}

/// Everything [`decide_promotion`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionFacts {
    pub primary_ref: DbRef,
    pub primary: PrimaryState,
    /// The primary's replicas: its `ReadReplicaDBInstanceIdentifiers`, or, when it is missing or unreachable,
    /// the instances whose `ReadReplicaSourceDBInstanceIdentifier` names it.
    pub replicas: Vec<Candidate>,
    /// The decision recorded earlier: the ledger's `promotion` record on the primary's name, about this very
    /// primary ([`same_primary`]; one about an earlier instance of the name is ignored).
    pub record: Option<Record>,
    /// The recorded replica as it is now; `None` when there is no record or it no longer exists.
    pub recorded: Option<Instance>,
    /// Replicas the primary names that could not be described ([`Undescribed`]).
    pub undescribed: Vec<Undescribed>,
    /// The failure's onset the lags were judged as of ([`onset`]; seconds since the epoch); `None` when no lag
    /// was read.
    pub onset: Option<i64>,
}

/// A replica in another region that could not be described: that region denied the call (`AccessDenied`, as
/// when the stack's RDS reads are granted in its own region only, or another error that is not transient) or did
/// not answer. It is not judged by what is unknown: it is ineligible, with why, and the others are judged as usual.
#[derive(Debug, Clone, PartialEq)]
pub struct Undescribed {
    pub at: DbRef,
    pub why: String,
}

impl Undescribed {
    /// Its verdict: ineligible, status `unknown`, with why.
    pub fn verdict(&self) -> Verdict {
        Verdict {
            id: self.at.id.clone(),
            region: self.at.region.clone(),
            status: "unknown".into(),
            priority: crate::model::DEFAULT_PRIORITY,
            max_lag: None,
            lag_at: None,
            eligible: false,
            reason: format!("could not be described: {}", self.why),
        }
    }
}

/// How a replica or reader was judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub id: String,
    pub region: String,
    pub status: String,
    /// `failover:priority` for RDS replicas and Multi-AZ DB cluster readers, `PromotionTier` for Aurora readers;
    /// lower first.
    pub priority: i32,
    /// Highest lag over the window (seconds for RDS and Multi-AZ DB clusters, milliseconds for Aurora); `None`
    /// without data.
    pub max_lag: Option<f64>,
    /// The minute of the newest datapoint judged (RFC 3339), at or before the failure.
    pub lag_at: Option<String>,
    pub eligible: bool,
    /// `eligible`, or why not.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Promotion {
    pub primary: DbRef,
    /// The primary's ARN when it was described; `None` when missing or unreachable.
    pub primary_arn: Option<String>,
    pub primary_status: String,
    pub replica: DbRef,
    pub replica_arn: String,
    /// The endpoint clients must use from now on.
    pub endpoint: Option<String>,
    /// The decision, written before promoting (or found, when `resumed`).
    pub record: Record,
    /// Completing a decision recorded by an earlier invocation (whose promotion failed or did not finish).
    pub resumed: bool,
    /// The recorded replica is already standalone (an earlier invocation promoted it and did not finish):
    /// only the DNS change and the record remain.
    pub standalone: bool,
    /// The DNS step: the record the primary's `failover:dns-record` tag names, from the primary's endpoint;
    /// `Ok(None)` without the tag; why it cannot be planned otherwise.
    pub dns: Result<Option<Repoint>, String>,
    /// The proxy step: the target group the primary's `failover:rds-proxy` tag names, moved from the primary;
    /// `Ok(None)` without the tag; why it cannot be planned otherwise.
    pub proxy: Result<Option<ProxyMove>, String>,
    pub replicas: Vec<Verdict>,
}

impl Promotion {
    /// The DNS step as planned (before anything is done): what a dry run or a failure reports.
    pub fn planned_dns(&self) -> DnsResult {
        match (&self.dns, &self.endpoint) {
            (Ok(None), _) => DnsResult::Untagged,
            (Err(reason), _) => DnsResult::NotPlanned { reason: reason.clone() },
            (Ok(Some(dns)), None) => DnsResult::NoEndpointYet { record: dns.record.name.clone() },
            (Ok(Some(dns)), Some(to)) => {
                DnsResult::WouldRepoint { record: dns.record.name.clone(), from: dns.from.clone(), to: to.clone() }
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterFailover {
    pub region: String,
    pub cluster: String,
    pub cluster_arn: String,
    /// Aurora or a Multi-AZ DB cluster: what the reader was chosen by.
    pub topology: Topology,
    pub writer: Option<String>,
    pub target: String,
    pub record: Record,
    /// Completing a failover recorded by an earlier invocation whose `FailoverDBCluster` failed transiently.
    pub resumed: bool,
    pub readers: Vec<Verdict>,
}

/// A pending promotion decision that is not completed: its guards no longer hold, or it expired. It is
/// abandoned in the ledger (which frees the primary for a later decision), with a warning saying why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Abandonment {
    /// The primary (or the cluster) the decision was about.
    pub primary: DbRef,
    /// Its ledger resource (`db-instance:…` or `db-cluster:…`).
    pub resource: String,
    /// The decision, in words: `promote r-fast to replace orders`.
    pub decision: String,
    /// A cluster's failover, Aurora or Multi-AZ (else an RDS promotion).
    pub aurora: bool,
    /// The recorded decision.
    pub record: Record,
    pub reason: String,
    pub replicas: Vec<Verdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Refusal {
    /// The primary, cluster or alarm concerned.
    pub resource: String,
    pub reason: String,
    pub severity: Severity,
    /// Every replica or reader considered, and why each was not chosen.
    pub replicas: Vec<Verdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Info {
    pub resource: String,
    pub region: String,
    pub cluster: bool,
    pub event_id: String,
    pub message: String,
}

/// What to do.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "plan", rename_all = "kebab-case")]
pub enum Plan {
    /// Boxed: the largest plan by far (its decision record, DNS and proxy steps, every replica judged).
    Promote(Box<Promotion>),
    FailoverCluster(ClusterFailover),
    /// The recorded replica has already been promoted: nothing else is promoted. Within
    /// [`REPOINT_WINDOW_SECS`] of the record, the DNS change is applied again (`repoint`).
    AlreadyPromoted {
        primary: DbRef,
        replica: DbRef,
        at: String,
        endpoint: Option<String>,
        repoint: bool,
        /// The DNS step recorded with the decision.
        dns: Option<Repoint>,
        /// The region of the stack that made the decision, when recorded.
        decided_in: Option<String>,
    },
    Skip {
        reason: String,
    },
    /// A recorded promotion is under way in AWS (the replica is `modifying` or `rebooting`): nothing to do now,
    /// and Lambda's retry (a transient error) completes the DNS step and the record once it is done.
    Wait {
        resource: String,
        reason: String,
    },
    Refuse(Refusal),
    /// The primary is fixed in place ([`FIX_IN_PLACE_STATUSES`]): nothing is promoted, the fix is notified.
    FixInPlace(FixInPlace),
    /// A pending decision is abandoned, not completed.
    Abandon(Abandonment),
    Inform(Info),
}

impl Plan {
    /// What carrying out this plan would do, in words: the `status` command's answer to "what if it failed
    /// now?". `home_region` is the region identifiers are shown from.
    pub fn would(&self, home_region: &str) -> String {
        match self {
            Plan::Promote(p) => format!("would promote {}", p.replica.display_from(home_region)),
            Plan::FailoverCluster(c) => format!("would fail over to {}", c.target),
            Plan::AlreadyPromoted { replica, at, .. } => format!("already failed over to {} at {at}", replica.id),
            Plan::Skip { reason } => format!("would do nothing: {reason}"),
            Plan::Wait { reason, .. } => format!("would wait: {reason}"),
            Plan::Refuse(r) => format!("would refuse: {}", r.reason),
            Plan::FixInPlace(f) => format!(
                "would not promote: {} is {}, to be fixed in place (a promote with \"force\": true only)",
                f.primary.at.id, f.primary.status
            ),
            Plan::Abandon(a) => format!("would abandon the decision to {}: {}", a.decision, a.reason),
            Plan::Inform(_) => "informational only".to_owned(),
        }
    }
}

/// Highest non-negative datapoint.
fn max_lag(lag: &[f64]) -> Option<f64> {
    lag.iter().copied().filter(|v| *v >= 0.0).reduce(f64::max)
}

/// The eligible verdict with the lowest (priority, lag, id): lower priority first, then less lag; unknown lag
/// (Aurora only: replicas and Multi-AZ readers without lag are not eligible) after any known lag.
fn best(verdicts: &[Verdict]) -> Option<usize> {
    verdicts
        .iter()
        .enumerate()
        .filter(|(_, v)| v.eligible)
        .min_by(|(_, a), (_, b)| {
            a.priority
                .cmp(&b.priority)
                .then_with(|| match (a.max_lag, b.max_lag) {
                    (Some(x), Some(y)) => x.total_cmp(&y),
                    (Some(_), None) => std::cmp::Ordering::Less,
                    (None, Some(_)) => std::cmp::Ordering::Greater,
                    (None, None) => std::cmp::Ordering::Equal,
                })
                .then_with(|| (&a.region, &a.id).cmp(&(&b.region, &b.id)))
        })
        .map(|(i, _)| i)
}

#[cfg(test)]
mod tests;
