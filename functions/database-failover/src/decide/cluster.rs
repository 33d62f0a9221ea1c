//! A DB cluster (Aurora, or a Multi-AZ DB cluster: [`Topology`]): which reader takes over, or why none.

use failover_core::notify::Severity;
use failover_core::tags::opted_in;

use super::{
    best, max_lag, multi_az, Abandonment, Candidate, ClusterFailover, Plan, Refusal, Settings, Trigger, Verdict,
    CLUSTER_COOLDOWN_SECS,
};
use crate::model::{cluster_resource, Cluster, DbRef, GlobalRole, Record, Topology};

/// `FailoverDBCluster` to the best reader, or say why not. Aurora: available, opted in, lowest `PromotionTier`,
/// then lowest `AuroraReplicaLag` (Aurora shares storage between instances, so lag is an ordering, not a guard).
/// A Multi-AZ DB cluster: its readers judged as replicas are, lag a guard ([`multi_az`]). A cluster of another
/// engine is not ours.
pub fn decide_cluster(trigger: &Trigger, facts: &ClusterFacts, settings: &Settings, now: i64) -> Plan {
    let key = settings.opt_in_tag_key.as_str();
    let Some(cluster) = &facts.cluster else {
        return Plan::Skip { reason: format!("cluster {} not found in {}", facts.id, facts.region) };
    };
    if !opted_in(&cluster.tags, key) {
        return Plan::Skip { reason: format!("cluster {} is not opted in (tag {key}=true is missing)", cluster.id) };
    }
    let topology = Topology::of_cluster(cluster, facts.global.as_ref());
    if let Topology::Unsupported { engine } = &topology {
        return Plan::Skip {
            reason: format!(
                "cluster {} runs {engine:?}: database-failover fails over Aurora and Multi-AZ DB clusters only",
                cluster.id
            ),
        };
    }
    let multi_az = topology == Topology::MultiAzCluster;
    if cluster.status != "available" && !trigger.is_manual() {
        // A retry of a failover left pending says why it does not act now (a logged skip would be silent).
        if let Some(pending) = &facts.pending {
            return Plan::Refuse(Refusal {
                resource: cluster.id.clone(),
                reason: format!(
                    "cluster {} is {}: AWS is acting on it; the pending failover to {} (recorded at {}) is completed \
                     or abandoned by a later event",
                    cluster.id, cluster.status, pending.subject.id, pending.at
                ),
                severity: Severity::Warning,
                replicas: Vec::new(),
            });
        }
        return Plan::Skip {
            reason: format!("cluster {} is {}: AWS is already acting on it", cluster.id, cluster.status),
        };
    }
    let verdicts: Vec<Verdict> = if multi_az {
        multi_az::verdicts(cluster, &facts.members, settings)
    } else {
        aurora_verdicts(cluster, &facts.members, key)
    };
    let writer = cluster.members.iter().find(|m| m.writer).map(|m| m.id.clone());
    let failover = |target: String, record: Record, resumed: bool, readers: Vec<Verdict>| {
        Plan::FailoverCluster(ClusterFailover {
            region: cluster.region.clone(),
            cluster: cluster.id.clone(),
            cluster_arn: cluster.arn.clone(),
            topology: topology.clone(),
            writer: writer.clone(),
            target,
            record,
            resumed,
            readers,
        })
    };

    // A failover decided and not completed (FailoverDBCluster failed transiently): completed with its reader
    // while that reader can still take over (or already has), abandoned otherwise. No new decision meanwhile.
    if let Some(pending) = &facts.pending {
        let target = pending.subject.id.clone();
        let reason = if pending.at_secs.is_some_and(|at| now - at > settings.decision_ttl_secs) {
            Some(format!("it is older than DECISION_TTL_MINUTES ({} min)", settings.decision_ttl_secs / 60))
        } else if writer.as_deref() == Some(target.as_str()) {
            None
        } else {
            let forced = matches!(trigger, Trigger::ManualFailover { force: true, .. });
            match verdicts.iter().find(|v| v.id == target) {
                Some(v) if v.eligible => None,
                // The retry of a person's forced failover: still forced past the lag guard, no further.
                Some(_) if multi_az && forced && multi_az::forcible(&target, &facts.members, settings) => None,
                Some(v) => Some(format!("{target} can no longer take over: {}", v.reason)),
                None => Some(format!("{target} is no longer a reader of cluster {}", cluster.id)),
            }
        };
        let resource = cluster_resource(&cluster.region, &cluster.id);
        return match reason {
            Some(reason) => Plan::Abandon(Abandonment {
                primary: DbRef::new(&cluster.region, &cluster.id),
                resource,
                decision: format!("fail cluster {} over to {target}", cluster.id),
                aurora: true,
                record: pending.clone(),
                reason,
                replicas: verdicts,
            }),
            None => failover(target, pending.clone(), true, verdicts),
        };
    }

    if let Some(record) = &facts.last_failover {
        let recent = record.at_secs.is_some_and(|at| (0..CLUSTER_COOLDOWN_SECS).contains(&(now - at)));
        if recent && !trigger.is_manual() {
            let by = record.by_aws.as_ref().map_or_else(String::new, |event| format!(" by AWS itself ({event})"));
            return Plan::Skip {
                reason: format!(
                    "cluster {} was failed over{by} to {} at {}, less than {} min ago",
                    cluster.id,
                    record.subject.id,
                    record.at,
                    CLUSTER_COOLDOWN_SECS / 60
                ),
            };
        }
    }

    let refuse = |reason: String, severity: Severity, replicas: Vec<Verdict>| {
        Plan::Refuse(Refusal { resource: cluster.id.clone(), reason, severity, replicas })
    };
    let chosen = match trigger {
        Trigger::ManualFailover { target: Some(target), force } => {
            match verdicts.iter().position(|v| &v.id == target) {
                Some(i) if verdicts[i].eligible => i,
                // A person's "force": true takes a Multi-AZ reader past the lag guard, accepting the loss.
                Some(i) if multi_az && *force && multi_az::forcible(target, &facts.members, settings) => i,
                Some(i) => {
                    let mut reason = format!("{target} cannot take over {}: {}", cluster.id, verdicts[i].reason);
                    if multi_az && multi_az::forcible(target, &facts.members, settings) {
                        let command = multi_az::forced_command(cluster, target);
                        reason.push_str(&format!("; to fail over to it anyway, accepting that loss: {command}"));
                    }
                    return refuse(reason, Severity::Warning, verdicts);
                }
                None => {
                    let reason = format!("{target} is not a reader of cluster {}", cluster.id);
                    return refuse(reason, Severity::Warning, verdicts);
                }
            }
        }
        _ => match if multi_az { multi_az::least_lagging(&verdicts) } else { best(&verdicts) } {
            Some(i) => i,
            None if multi_az => {
                let reason = multi_az::no_reader(cluster, &verdicts, &facts.members, settings);
                return refuse(reason, Severity::Critical, verdicts);
            }
            None => {
                let reason = format!("cluster {} has no reader that can take over", cluster.id);
                return refuse(reason, Severity::Critical, verdicts);
            }
        },
    };
    let target = verdicts[chosen].id.clone();
    failover(target.clone(), Record::new(DbRef::new(&cluster.region, &target), now), false, verdicts)
}

/// Aurora: each reader (every member but the writer) available and opted in, with its `PromotionTier` as its
/// priority and its `AuroraReplicaLag` for the ordering.
fn aurora_verdicts(cluster: &Cluster, members: &[Candidate], key: &str) -> Vec<Verdict> {
    cluster
        .members
        .iter()
        .filter(|m| !m.writer)
        .map(|m| {
            let candidate = members.iter().find(|c| c.instance.at.id == m.id);
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
                lag_at: candidate.and_then(|c| c.lag_at).map(failover_core::time::format_time),
                eligible: reason.is_none(),
                reason: reason.unwrap_or_else(|| "eligible".into()),
            }
        })
        .collect()
}

/// Everything [`decide_cluster`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterFacts {
    pub region: String,
    pub id: String,
    pub cluster: Option<Cluster>,
    /// The cluster's instances with their lag datapoints: `AuroraReplicaLag` (milliseconds) for Aurora,
    /// `ReplicaLag` (seconds) as of the onset for a Multi-AZ DB cluster.
    pub members: Vec<Candidate>,
    /// The latest failover this function finished (a done `failover#…` record in the ledger); its time is when
    /// `FailoverDBCluster` succeeded.
    pub last_failover: Option<Record>,
    /// A failover decided whose `FailoverDBCluster` failed transiently (a pending `failover#…` record).
    pub pending: Option<Record>,
    /// The cluster's place in an Aurora global database (`DescribeGlobalClusters`), when it was read: the hook
    /// the global-database path fills; `None` until then.
    pub global: Option<GlobalRole>,
    /// The failure's onset the Multi-AZ readers' lags were judged as of ([`super::onset`]; seconds since the
    /// epoch); `None` for Aurora.
    pub onset: Option<i64>,
}

impl ClusterFacts {
    /// The cluster's topology; `None` when it was not found.
    pub fn topology(&self) -> Option<Topology> {
        self.cluster.as_ref().map(|c| Topology::of_cluster(c, self.global.as_ref()))
    }
}
