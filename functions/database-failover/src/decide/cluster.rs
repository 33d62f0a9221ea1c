//! Aurora: which reader takes over a cluster, or why none.

use failover_core::notify::Severity;
use failover_core::tags::opted_in;

use super::{
    best, max_lag, Abandonment, Candidate, ClusterFailover, Plan, Refusal, Settings, Trigger, Verdict,
    CLUSTER_COOLDOWN_SECS,
};
use crate::model::{cluster_resource, Cluster, DbRef, Record};

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
                lag_at: candidate.and_then(|c| c.lag_at).map(failover_core::time::format_time),
                eligible: reason.is_none(),
                reason: reason.unwrap_or_else(|| "eligible".into()),
            }
        })
        .collect();
    let writer = cluster.members.iter().find(|m| m.writer).map(|m| m.id.clone());

    // A failover decided and not completed (FailoverDBCluster failed transiently): completed with its reader
    // while that reader can still take over (or already has), abandoned otherwise. No new decision meanwhile.
    if let Some(pending) = &facts.pending {
        let target = pending.subject.id.clone();
        let reason = if pending.at_secs.is_some_and(|at| now - at > settings.decision_ttl_secs) {
            Some(format!("it is older than DECISION_TTL_MINUTES ({} min)", settings.decision_ttl_secs / 60))
        } else if writer.as_deref() == Some(target.as_str()) {
            None
        } else {
            match verdicts.iter().find(|v| v.id == target) {
                Some(v) if v.eligible => None,
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
            None => Plan::FailoverCluster(ClusterFailover {
                region: cluster.region.clone(),
                cluster: cluster.id.clone(),
                cluster_arn: cluster.arn.clone(),
                writer,
                target,
                record: pending.clone(),
                resumed: true,
                readers: verdicts,
            }),
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
        resumed: false,
        readers: verdicts,
    })
}

/// Everything [`decide_cluster`] needs.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterFacts {
    pub region: String,
    pub id: String,
    pub cluster: Option<Cluster>,
    /// The cluster's instances with their `AuroraReplicaLag` datapoints (milliseconds).
    pub members: Vec<Candidate>,
    /// The latest failover this function finished (a done `failover#…` record in the ledger); its time is when
    /// `FailoverDBCluster` succeeded.
    pub last_failover: Option<Record>,
    /// A failover decided whose `FailoverDBCluster` failed transiently (a pending `failover#…` record).
    pub pending: Option<Record>,
}
