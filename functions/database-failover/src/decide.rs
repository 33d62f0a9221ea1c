//! The policy, as pure synchronous functions from plain data to a [`Plan`]. No I/O here: the handler gathers
//! the facts through the ports, calls these functions, then acts on the plan.
//!
//! - [`route`]: which kind of work an event asks for (or none).
//! - [`decide_promotion`]: an RDS primary and its read replicas (same- or cross-region).
//! - [`decide_cluster`]: an Aurora cluster and its readers.

use failover_core::intake::{AlarmChange, Event, RdsEvent, RdsSourceType};
use failover_core::notify::Severity;
use serde::Serialize;

use crate::model::{
    opted_in, Cluster, DbRef, Instance, Record, DEFAULT_PRIORITY, FAILED_OVER_TAG, PRIORITY_TAG, PROMOTED_TAG,
};

/// AWS's own failovers: reported for information, never acted on (Multi-AZ 0013 started, 0015 / 0049
/// completed; Aurora 0071 completed, 0072 / 0073 started).
pub const INFORMATIONAL_EVENT_IDS: &[&str] =
    &["RDS-EVENT-0013", "RDS-EVENT-0015", "RDS-EVENT-0049", "RDS-EVENT-0071", "RDS-EVENT-0072", "RDS-EVENT-0073"];
/// Replica-side events: replication stopped (0045), streaming terminated (0057). What a cross-region replica
/// sees when its primary's region is gone.
pub const REPLICA_SIDE_EVENT_IDS: &[&str] = &["RDS-EVENT-0045", "RDS-EVENT-0057"];
/// Aurora: the cluster's own failover failed.
pub const CLUSTER_FAILOVER_FAILED: &str = "RDS-EVENT-0069";

/// After a promotion is recorded, a repeated event within this many seconds re-applies the DNS change
/// (idempotent), so a retry after a failed Route 53 call completes the job. Matches the 15-minute maximum
/// event age of the deployment's EventBridge rules and Lambda's asynchronous retries.
pub const REPOINT_WINDOW_SECS: i64 = 900;
/// An Aurora cluster failed over by this function is not failed over again automatically within this many
/// seconds (duplicate alarm deliveries and re-evaluations must not bounce the writer). Manual commands may.
pub const CLUSTER_COOLDOWN_SECS: i64 = 3600;

/// The settings the policy reads (a projection of [`crate::Config`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub opt_in_tag_key: String,
    pub promote_when_available: bool,
    pub max_replica_lag_seconds: f64,
    pub allow_cross_region: bool,
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
    /// `promote`: a person named the replica.
    ManualPromote { replica: DbRef },
    /// `failover-cluster`: a person asked, optionally naming the reader.
    ManualFailover { target: Option<String> },
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
            Trigger::ManualPromote { replica } => format!("manual promote of {}", replica.id),
            Trigger::ManualFailover { .. } => "manual failover-cluster".into(),
            Trigger::Status => "status command".into(),
        }
    }

    fn is_manual(&self) -> bool {
        matches!(self, Trigger::ManualPromote { .. } | Trigger::ManualFailover { .. } | Trigger::Status)
    }
}

/// The work an event asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    /// Not ours, or nothing to do: logged, never notified.
    Skip(String),
    /// AWS's own failover: one informational notification.
    Inform(Info),
    /// A database instance that may be a failed primary (or, once described, a replica or an Aurora member).
    Instance {
        at: DbRef,
        trigger: Trigger,
    },
    /// A replica reported that replication stopped.
    Replica {
        at: DbRef,
        trigger: Trigger,
    },
    Cluster {
        region: String,
        id: String,
        trigger: Trigger,
    },
    /// Ours, but unusable as it stands: notified.
    Refuse(Refusal),
}

/// Which work an alarm or RDS event asks for. Manual commands are parsed by [`crate::command`].
pub fn route(event: &Event, failure_event_ids: &[String]) -> Route {
    match event {
        Event::Rds(rds) => route_rds(rds, failure_event_ids),
        Event::Alarm(alarm) => route_alarm(alarm),
        Event::Manual(m) => Route::Skip(format!("manual command {} is parsed by the command module", m.command)),
        Event::Unsupported { source, detail_type } => Route::Skip(format!("not handled: {detail_type} from {source}")),
    }
}

fn route_rds(rds: &RdsEvent, failure_event_ids: &[String]) -> Route {
    let id = rds.event_id.as_str();
    if INFORMATIONAL_EVENT_IDS.contains(&id) {
        return Route::Inform(Info {
            resource: rds.source_id.clone(),
            region: rds.region.clone(),
            cluster: rds.source_type == RdsSourceType::Cluster,
            event_id: rds.event_id.clone(),
            message: rds.message.clone(),
        });
    }
    match &rds.source_type {
        RdsSourceType::Cluster if id == CLUSTER_FAILOVER_FAILED => Route::Cluster {
            region: rds.region.clone(),
            id: rds.source_id.clone(),
            trigger: Trigger::FailureEvent { event_id: rds.event_id.clone(), message: rds.message.clone() },
        },
        RdsSourceType::Instance if REPLICA_SIDE_EVENT_IDS.contains(&id) => {
            let at = DbRef::new(&rds.region, &rds.source_id);
            Route::Replica { trigger: Trigger::ReplicaSide { replica: at.clone(), cause: rds.event_id.clone() }, at }
        }
        RdsSourceType::Instance if failure_event_ids.iter().any(|f| f == id) => Route::Instance {
            at: DbRef::new(&rds.region, &rds.source_id),
            trigger: Trigger::FailureEvent { event_id: rds.event_id.clone(), message: rds.message.clone() },
        },
        other => Route::Skip(format!("{id} on {:?} {} is not a failure this function acts on", other, rds.source_id)),
    }
}

fn route_alarm(alarm: &AlarmChange) -> Route {
    let instances = alarm.dimension_values("DBInstanceIdentifier");
    let clusters = alarm.dimension_values("DBClusterIdentifier");
    if instances.is_empty() && clusters.is_empty() {
        return Route::Skip(format!(
            "alarm {} has no DBInstanceIdentifier or DBClusterIdentifier dimension",
            alarm.alarm_name
        ));
    }
    if !alarm.entered_alarm() {
        return Route::Skip(format!(
            "alarm {} is {} (from {}): database-failover acts only on entering ALARM and never fails back",
            alarm.alarm_name,
            alarm.state.as_str(),
            alarm.previous_state.map_or("unknown", |s| s.as_str())
        ));
    }
    let trigger = Trigger::Alarm { name: alarm.alarm_name.clone() };
    match (instances.as_slice(), clusters.as_slice()) {
        ([], [cluster]) => Route::Cluster { region: alarm.region.clone(), id: (*cluster).to_owned(), trigger },
        ([instance], []) => Route::Instance { at: DbRef::new(&alarm.region, *instance), trigger },
        _ => Route::Refuse(Refusal {
            resource: alarm.alarm_name.clone(),
            reason: format!(
                "alarm {} watches several databases ({}); it cannot say which one failed",
                alarm.alarm_name,
                instances.iter().chain(clusters.iter()).copied().collect::<Vec<_>>().join(", ")
            ),
            severity: Severity::Warning,
            replicas: Vec::new(),
        }),
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
    /// Where the promotion record is tagged; `None` when the primary cannot be tagged.
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

/// A replica (or Aurora reader) with its lag datapoints over the last 5 minutes (`ReplicaLag`, seconds, or
/// `AuroraReplicaLag`, milliseconds; maximum per minute).
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub instance: Instance,
    pub lag: Vec<f64>,
}

/// Everything [`decide_promotion`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct PromotionFacts {
    pub primary_ref: DbRef,
    pub primary: PrimaryState,
    /// The primary's replicas: its `ReadReplicaDBInstanceIdentifiers`, or, when it is missing or unreachable,
    /// the instances whose `ReadReplicaSourceDBInstanceIdentifier` names it.
    pub replicas: Vec<Candidate>,
    /// A decision recorded earlier (tag on the primary, or on a replica when the primary is gone).
    pub record: Option<Record>,
    /// The recorded replica as it is now; `None` when there is no record or it no longer exists.
    pub recorded: Option<Instance>,
}

/// How a replica or reader was judged.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Verdict {
    pub id: String,
    pub region: String,
    pub status: String,
    /// `failover:priority` for RDS replicas, `PromotionTier` for Aurora readers; lower first.
    pub priority: i32,
    /// Highest lag over the window (seconds for RDS, milliseconds for Aurora); `None` without data.
    pub max_lag: Option<f64>,
    pub eligible: bool,
    /// `eligible`, or why not.
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Promotion {
    pub primary: DbRef,
    /// The primary's ARN when it exists (the record is tagged there); `None` when missing or unreachable.
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
    pub replicas: Vec<Verdict>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterFailover {
    pub region: String,
    pub cluster: String,
    pub cluster_arn: String,
    pub writer: Option<String>,
    pub target: String,
    pub record: Record,
    pub readers: Vec<Verdict>,
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
    Promote(Promotion),
    FailoverCluster(ClusterFailover),
    /// The recorded replica has already been promoted: nothing else is promoted. Within
    /// [`REPOINT_WINDOW_SECS`] of the record, the DNS change is applied again (`repoint`).
    AlreadyPromoted {
        primary: DbRef,
        replica: DbRef,
        at: String,
        endpoint: Option<String>,
        repoint: bool,
    },
    Skip {
        reason: String,
    },
    Refuse(Refusal),
    Inform(Info),
}

/// RDS: promote the safest replica of a failed primary, or say why not.
pub fn decide_promotion(trigger: &Trigger, facts: &PromotionFacts, settings: &Settings, now: i64) -> Plan {
    let primary_ref = &facts.primary_ref;
    let key = settings.opt_in_tag_key.as_str();
    match &facts.primary {
        PrimaryState::Found(p) if !p.opted_in(key) => {
            return Plan::Skip { reason: format!("{} is not opted in (tag {key}=true is missing)", p.at.id) }
        }
        PrimaryState::Found(p) if p.source.is_some() => {
            return Plan::Skip { reason: format!("{} is itself a read replica: there is nothing to promote", p.at.id) }
        }
        PrimaryState::Found(p) if p.cluster.is_some() => {
            return Plan::Skip {
                reason: format!("{} is an Aurora cluster member: clusters fail over, not instances", p.at.id),
            }
        }
        PrimaryState::Missing | PrimaryState::Unreachable { .. }
            if !facts.replicas.iter().any(|r| r.instance.opted_in(key)) && facts.record.is_none() =>
        {
            return Plan::Skip {
                reason: format!(
                    "{} is {} and none of its replicas is opted in (tag {key}=true)",
                    primary_ref.id,
                    facts.primary.describe()
                ),
            }
        }
        _ => {}
    }

    if let Some(record) = &facts.record {
        return decide_recorded(trigger, facts, record, settings, now);
    }

    let primary_status = facts.primary.describe();
    if let PrimaryState::Found(p) = &facts.primary {
        let confirmed = p.is_down()
            || matches!(trigger, Trigger::ManualPromote { .. } | Trigger::Status)
            || (p.status == "available"
                && settings.promote_when_available
                && matches!(trigger, Trigger::Alarm { .. } | Trigger::FailureEvent { .. }));
        if !confirmed {
            let why = if p.status == "available" && !matches!(trigger, Trigger::ReplicaSide { .. }) {
                "reports available (PROMOTE_WHEN_AVAILABLE is false)".to_owned()
            } else {
                format!("reports {}, which is not a failure", p.status)
            };
            return Plan::Refuse(Refusal {
                resource: primary_ref.id.clone(),
                reason: format!("{} was not promoted away from: the primary {why}", primary_ref.id),
                severity: Severity::Warning,
                replicas: verdicts(facts, settings),
            });
        }
    }

    let replicas = verdicts(facts, settings);
    let chosen = match trigger {
        Trigger::ManualPromote { replica } => {
            let Some(position) = facts.replicas.iter().position(|c| &c.instance.at == replica) else {
                return Plan::Refuse(Refusal {
                    resource: primary_ref.id.clone(),
                    reason: format!("{} is not a read replica of {}", replica.id, primary_ref.id),
                    severity: Severity::Warning,
                    replicas,
                });
            };
            if !replicas[position].eligible {
                return Plan::Refuse(Refusal {
                    resource: primary_ref.id.clone(),
                    reason: format!("{} cannot be promoted: {}", replica.id, replicas[position].reason),
                    severity: Severity::Warning,
                    replicas,
                });
            }
            position
        }
        _ => match best(&replicas) {
            Some(position) => position,
            None => {
                let reason = if replicas.is_empty() {
                    format!("{} ({primary_status}) has no read replica to promote", primary_ref.id)
                } else {
                    format!("{} ({primary_status}): no replica is safe to promote", primary_ref.id)
                };
                return Plan::Refuse(Refusal {
                    resource: primary_ref.id.clone(),
                    reason,
                    severity: Severity::Critical,
                    replicas,
                });
            }
        },
    };
    let replica = &facts.replicas[chosen].instance;
    Plan::Promote(Promotion {
        primary: primary_ref.clone(),
        primary_arn: facts.primary.arn(),
        primary_status,
        replica: replica.at.clone(),
        replica_arn: replica.arn.clone(),
        endpoint: replica.endpoint.clone(),
        record: Record::new(replica.at.clone(), now),
        resumed: false,
        replicas,
    })
}

/// A decision exists: complete it, report it, or refuse — never choose another replica.
fn decide_recorded(trigger: &Trigger, facts: &PromotionFacts, record: &Record, settings: &Settings, now: i64) -> Plan {
    let primary = &facts.primary_ref;
    let chosen = record.subject.display_from(&primary.region);
    if let Trigger::ManualPromote { replica } = trigger {
        if replica != &record.subject {
            return Plan::Refuse(Refusal {
                resource: primary.id.clone(),
                reason: format!(
                    "{} was already failed over to {chosen} at {}: {} is not promoted as well",
                    primary.id, record.at, replica.id
                ),
                severity: Severity::Warning,
                replicas: verdicts(facts, settings),
            });
        }
    }
    match &facts.recorded {
        None => Plan::Refuse(Refusal {
            resource: primary.id.clone(),
            reason: format!(
                "{} was recorded as failed over to {chosen} at {}, but {chosen} no longer exists; no other replica \
                 is chosen automatically",
                primary.id, record.at
            ),
            severity: Severity::Critical,
            replicas: verdicts(facts, settings),
        }),
        Some(replica) if replica.source.is_none() => Plan::AlreadyPromoted {
            primary: primary.clone(),
            replica: replica.at.clone(),
            at: record.at.clone(),
            endpoint: replica.endpoint.clone(),
            repoint: record.at_secs.is_some_and(|at| (0..REPOINT_WINDOW_SECS).contains(&(now - at))),
        },
        Some(replica) if replica.status == "available" => Plan::Promote(Promotion {
            primary: primary.clone(),
            primary_arn: facts.primary.arn(),
            primary_status: facts.primary.describe(),
            replica: replica.at.clone(),
            replica_arn: replica.arn.clone(),
            endpoint: replica.endpoint.clone(),
            record: record.clone(),
            resumed: true,
            replicas: verdicts(facts, settings),
        }),
        Some(replica) => Plan::Refuse(Refusal {
            resource: primary.id.clone(),
            reason: format!(
                "{} was recorded as failing over to {chosen} at {}, but {chosen} is {}; no other replica is chosen \
                 automatically",
                primary.id, record.at, replica.status
            ),
            severity: Severity::Critical,
            replicas: verdicts(facts, settings),
        }),
    }
}

fn verdicts(facts: &PromotionFacts, settings: &Settings) -> Vec<Verdict> {
    facts.replicas.iter().map(|c| replica_verdict(c, &facts.primary_ref.region, settings)).collect()
}

/// A replica is eligible when it is available, opted in (IAM allows `PromoteReadReplica` only on opted-in
/// instances), in the primary's region unless cross-region is allowed, and its `ReplicaLag` over the window
/// is known, never -1 and at most `MAX_REPLICA_LAG_SECONDS`.
fn replica_verdict(candidate: &Candidate, home_region: &str, settings: &Settings) -> Verdict {
    let instance = &candidate.instance;
    let (priority, priority_note) = priority_of(instance);
    let max_lag = max_lag(&candidate.lag);
    let key = settings.opt_in_tag_key.as_str();
    let limit = settings.max_replica_lag_seconds;
    let reason = if instance.status != "available" {
        Some(format!("status is {}", instance.status))
    } else if !instance.opted_in(key) {
        Some(format!("not opted in (tag {key}=true is missing)"))
    } else if instance.at.region != home_region && !settings.allow_cross_region {
        Some(format!("in another region ({}) and ALLOW_CROSS_REGION is false", instance.at.region))
    } else if candidate.lag.is_empty() {
        Some("ReplicaLag unknown: no data in the last 5 minutes".to_owned())
    } else if candidate.lag.iter().any(|v| *v < 0.0) {
        Some("replication is not running (ReplicaLag -1 in the last 5 minutes)".to_owned())
    } else if max_lag.is_some_and(|lag| lag > limit) {
        Some(format!("ReplicaLag reached {} s, above MAX_REPLICA_LAG_SECONDS ({limit} s)", number(max_lag)))
    } else {
        None
    };
    Verdict {
        id: instance.at.id.clone(),
        region: instance.at.region.clone(),
        status: instance.status.clone(),
        priority,
        max_lag,
        eligible: reason.is_none(),
        reason: match (reason, priority_note) {
            (Some(r), _) => r,
            (None, Some(note)) => format!("eligible ({note})"),
            (None, None) => "eligible".into(),
        },
    }
}

fn priority_of(instance: &Instance) -> (i32, Option<String>) {
    match instance.tags.get(PRIORITY_TAG).map(|v| v.trim()) {
        None => (DEFAULT_PRIORITY, None),
        Some(v) => match v.parse::<i32>() {
            Ok(p) => (p, None),
            Err(_) => {
                (DEFAULT_PRIORITY, Some(format!("{PRIORITY_TAG}={v:?} is not a number, {DEFAULT_PRIORITY} used")))
            }
        },
    }
}

/// Highest non-negative datapoint.
fn max_lag(lag: &[f64]) -> Option<f64> {
    lag.iter().copied().filter(|v| *v >= 0.0).reduce(f64::max)
}

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "?".into(), |v| format!("{v}"))
}

/// The eligible verdict with the lowest (priority, lag, id): lower priority first, then less lag; unknown lag
/// (Aurora only: RDS replicas without lag are not eligible) after any known lag.
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

/// Everything [`decide_cluster`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterFacts {
    pub region: String,
    pub id: String,
    pub cluster: Option<Cluster>,
    /// The cluster's instances with their `AuroraReplicaLag` datapoints (milliseconds).
    pub members: Vec<Candidate>,
}

/// Aurora: `FailoverDBCluster` to the best reader — available, opted in, lowest `PromotionTier`, then lowest
/// `AuroraReplicaLag` — or say why not. Aurora shares storage between instances, so lag is an ordering, not a
/// guard.
pub fn decide_cluster(trigger: &Trigger, facts: &ClusterFacts, settings: &Settings, now: i64) -> Plan {
    let key = settings.opt_in_tag_key.as_str();
    let Some(cluster) = &facts.cluster else {
        return Plan::Skip { reason: format!("cluster {} not found in {}", facts.id, facts.region) };
    };
    if !opted_in(&cluster.tags, key) {
        return Plan::Skip { reason: format!("cluster {} is not opted in (tag {key}=true is missing)", cluster.id) };
    }
    if cluster.status != "available" && !trigger.is_manual() {
        return Plan::Skip {
            reason: format!("cluster {} is {}: AWS is already acting on it", cluster.id, cluster.status),
        };
    }
    let record = cluster.tags.get(FAILED_OVER_TAG).and_then(|v| Record::parse(v, &cluster.region));
    let verdicts: Vec<Verdict> = cluster
        .members
        .iter()
        .filter(|m| !m.writer)
        .map(|m| {
            let candidate = facts.members.iter().find(|c| c.instance.at.id == m.id);
            let status = candidate.map_or("not found", |c| c.instance.status.as_str());
            let reason = match candidate {
                None => Some("instance not found".to_owned()),
                Some(_) if status != "available" => Some(format!("status is {status}")),
                Some(c) if !c.instance.opted_in(key) => Some(format!("not opted in (tag {key}=true is missing)")),
                Some(_) => None,
            };
            Verdict {
                id: m.id.clone(),
                region: cluster.region.clone(),
                status: status.to_owned(),
                priority: m.promotion_tier,
                max_lag: candidate.and_then(|c| max_lag(&c.lag)),
                eligible: reason.is_none(),
                reason: reason.unwrap_or_else(|| "eligible".into()),
            }
        })
        .collect();
    let writer = cluster.members.iter().find(|m| m.writer).map(|m| m.id.clone());

    if let Some(record) = &record {
        let recent = record.at_secs.is_some_and(|at| (0..CLUSTER_COOLDOWN_SECS).contains(&(now - at)));
        if recent && !trigger.is_manual() {
            return Plan::Skip {
                reason: format!(
                    "cluster {} was failed over to {} at {}, less than {} min ago",
                    cluster.id,
                    record.subject.id,
                    record.at,
                    CLUSTER_COOLDOWN_SECS / 60
                ),
            };
        }
    }

    let chosen = match trigger {
        Trigger::ManualFailover { target: Some(target) } => match verdicts.iter().position(|v| &v.id == target) {
            Some(i) if verdicts[i].eligible => i,
            Some(i) => {
                return Plan::Refuse(Refusal {
                    resource: cluster.id.clone(),
                    reason: format!("{target} cannot take over {}: {}", cluster.id, verdicts[i].reason),
                    severity: Severity::Warning,
                    replicas: verdicts,
                })
            }
            None => {
                return Plan::Refuse(Refusal {
                    resource: cluster.id.clone(),
                    reason: format!("{target} is not a reader of cluster {}", cluster.id),
                    severity: Severity::Warning,
                    replicas: verdicts,
                })
            }
        },
        _ => match best(&verdicts) {
            Some(i) => i,
            None => {
                return Plan::Refuse(Refusal {
                    resource: cluster.id.clone(),
                    reason: format!("cluster {} has no reader that can take over", cluster.id),
                    severity: Severity::Critical,
                    replicas: verdicts,
                })
            }
        },
    };
    let target = verdicts[chosen].id.clone();
    Plan::FailoverCluster(ClusterFailover {
        region: cluster.region.clone(),
        cluster: cluster.id.clone(),
        cluster_arn: cluster.arn.clone(),
        writer,
        record: Record::new(DbRef::new(&cluster.region, &target), now),
        target,
        readers: verdicts,
    })
}

/// The record tag on a primary, read from the primary's own tags.
pub fn primary_record(primary: &Instance) -> Option<Record> {
    primary.tags.get(PROMOTED_TAG).and_then(|v| Record::parse(v, &primary.at.region))
}

#[cfg(test)]
mod tests;
