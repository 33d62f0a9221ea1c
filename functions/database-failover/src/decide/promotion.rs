//! RDS: which replica of a failed primary to promote, or why none.

use failover_core::notify::Severity;

use super::identity::same_primary;
use super::primary::{gate, FixInPlace, FixKind, Gate};
use super::REPOINT_WINDOW_SECS;
use super::{
    best, max_lag, Abandonment, Candidate, Plan, PrimaryState, Promotion, PromotionFacts, Refusal, Settings, Trigger,
    Verdict, PROMOTING_STATUSES,
};
use failover_core::ledger::State;

use crate::model::{promotion_resource, Instance, Record, DEFAULT_PRIORITY, DNS_RECORD_TAG, PRIORITY_TAG};

/// RDS: promote the safest replica of a failed primary, or say why not.
pub fn decide_promotion(trigger: &Trigger, facts: &PromotionFacts, settings: &Settings, now: i64) -> Plan {
    // A decision about an earlier instance of the name (another DbiResourceId) is not this primary's.
    if facts.record.as_ref().is_some_and(|r| !same_primary(r, &facts.primary)) {
        let fresh = PromotionFacts { record: None, recorded: None, ..facts.clone() };
        return decide_promotion(trigger, &fresh, settings, now);
    }
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
                reason: format!("{} is an Aurora or Multi-AZ cluster member: clusters fail over", p.at.id),
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

    // A record bound to an instance since replaced (same name, another DbiResourceId) does not count once
    // settled; a pending one is abandoned (in decide_recorded).
    if let Some(record) = facts.record.as_ref().filter(|r| r.state == State::Pending || !replaced(r, facts)) {
        return decide_recorded(trigger, facts, record, settings, now);
    }

    let primary_status = facts.primary.describe();
    if let PrimaryState::Found(p) = &facts.primary {
        match gate(p, trigger, settings) {
            Gate::Go => {}
            Gate::FixInPlace(kind) => return fix_in_place(p, kind, facts, settings),
            Gate::Refuse(why) => {
                return Plan::Refuse(Refusal {
                    resource: primary_ref.id.clone(),
                    reason: format!("{} was not promoted away from: the primary {why}", primary_ref.id),
                    severity: Severity::Warning,
                    replicas: verdicts(facts, settings),
                })
            }
        }
    }

    let replicas = verdicts(facts, settings);
    let chosen = match trigger {
        Trigger::ManualPromote { replica, .. } => {
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
    let primary_resource_id = match &facts.primary {
        PrimaryState::Found(p) => p.resource_id.clone(),
        _ => None,
    };
    let record = Record::new(replica.at.clone(), now)
        .with_resource_id(replica.resource_id.clone())
        .with_primary_resource_id(primary_resource_id);
    let dns = match &facts.primary {
        PrimaryState::Found(p) => p.repoint(),
        other => Err(format!("{} is {}: its {DNS_RECORD_TAG} tag cannot be read", primary_ref.id, other.describe())),
    };
    let proxy = super::proxy::planned(&facts.primary, primary_ref, &replica.at);
    Plan::Promote(Box::new(Promotion {
        primary: primary_ref.clone(),
        primary_arn: facts.primary.arn(),
        primary_status,
        replica: replica.at.clone(),
        replica_arn: replica.arn.clone(),
        endpoint: replica.endpoint.clone(),
        record: record
            .with_dns(dns.clone().ok().flatten())
            .with_proxy(proxy.clone().ok().flatten())
            .with_bindings(facts.primary.bindings()),
        resumed: false,
        standalone: false,
        dns,
        proxy,
        replicas,
    }))
}

/// A decision exists: complete it, report it, or refuse — never choose another replica.
fn decide_recorded(trigger: &Trigger, facts: &PromotionFacts, record: &Record, settings: &Settings, now: i64) -> Plan {
    let primary = &facts.primary_ref;
    let chosen = record.subject.display_from(&primary.region);
    if let Trigger::ManualPromote { replica, .. } = trigger {
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
    // Cut short after PromoteReadReplica, before the DNS step: the replica is being promoted (or was promoted and
    // is not yet available). Wait for it, whatever the decision's age: a promotion is finished, never abandoned.
    if let Some(r) = facts.recorded.as_ref().filter(|r| promotion_in_progress(r) || asked_lately(record, r, now)) {
        if record.state == State::Pending && !replaced(record, facts) {
            return Plan::Wait {
                resource: primary.id.clone(),
                reason: format!(
                    "promotion in progress: {chosen}, recorded at {} to replace {}, is {}{}; the DNS step and the \
                     record are completed once it is available and no longer a replica",
                    record.at,
                    primary.id,
                    r.status,
                    if r.source.is_some() { ", still a replica" } else { "" }
                ),
            };
        }
    }
    if record.state == State::Pending {
        if let Some(reason) = abandon_reason(trigger, facts, record, settings, now) {
            return Plan::Abandon(Abandonment {
                primary: primary.clone(),
                resource: promotion_resource(primary),
                decision: format!("promote {} to replace {}", record.subject.display_from(&primary.region), primary.id),
                aurora: false,
                record: record.clone(),
                reason,
                replicas: verdicts(facts, settings),
            });
        }
    }
    let recorded = match &facts.recorded {
        None => {
            return Plan::Refuse(Refusal {
                resource: primary.id.clone(),
                reason: format!(
                    "{} was recorded as failed over to {chosen} at {}, but {chosen} no longer exists; no other \
                     replica is chosen automatically",
                    primary.id, record.at
                ),
                severity: Severity::Critical,
                replicas: verdicts(facts, settings),
            })
        }
        Some(replica) => replica,
    };
    let standalone = recorded.source.is_none();
    match record.state {
        // Finished (or given up on): nothing else is promoted, ever, within the record's retention.
        State::Done | State::Closed | State::Abandoned => Plan::AlreadyPromoted {
            primary: primary.clone(),
            replica: recorded.at.clone(),
            at: record.at.clone(),
            endpoint: recorded.endpoint.clone(),
            repoint: record.at_secs.is_some_and(|at| (0..REPOINT_WINDOW_SECS).contains(&(now - at))),
            dns: record.dns.clone(),
            decided_in: record.decided_in.clone(),
        },
        // Decided, not finished, and its guards still hold (else abandoned above): complete that same decision
        // (the promotion may already have happened).
        State::Pending => Plan::Promote(Box::new(Promotion {
            primary: primary.clone(),
            primary_arn: facts.primary.arn(),
            primary_status: facts.primary.describe(),
            replica: recorded.at.clone(),
            replica_arn: recorded.arn.clone(),
            endpoint: recorded.endpoint.clone(),
            record: record.clone(),
            resumed: true,
            standalone,
            dns: super::dns::recorded(record, &facts.primary),
            proxy: super::proxy::recorded(record, &facts.primary, primary),
            replicas: verdicts(facts, settings),
        })),
    }
}

/// A fix-in-place primary: the fix is notified, with the best replica (else the first) for a forced `promote`.
fn fix_in_place(p: &Instance, kind: FixKind, facts: &PromotionFacts, settings: &Settings) -> Plan {
    let replicas = verdicts(facts, settings);
    let replica = best(&replicas)
        .map(|i| facts.replicas[i].instance.at.clone())
        .or_else(|| facts.replicas.first().map(|c| c.instance.at.clone()))
        .or_else(|| p.replicas.first().cloned());
    Plan::FixInPlace(FixInPlace { primary: p.clone(), kind, replica })
}

/// The recorded replica is being promoted (`modifying`, `rebooting`), or no longer a replica and not yet
/// `available`: a promotion is done, and its DNS step due, only once the instance is `available` and no longer a
/// replica.
pub fn promotion_in_progress(recorded: &Instance) -> bool {
    PROMOTING_STATUSES.contains(&recorded.status.as_str()) || (recorded.source.is_none() && !writable(recorded))
}

/// How long after `PromoteReadReplica` a replica still shown `available` and a replica is a promotion RDS does
/// not show yet, never a failed one: a duplicate event then waits instead of abandoning it (a second replica).
pub const PROMOTION_STARTS_WITHIN_SECS: i64 = 300;

/// Asked for less than [`PROMOTION_STARTS_WITHIN_SECS`] ago, and still shown a replica.
fn asked_lately(record: &Record, recorded: &Instance, now: i64) -> bool {
    recorded.source.is_some() && record.promotion_requested_at.is_some_and(|at| now - at < PROMOTION_STARTS_WITHIN_SECS)
}

/// A promoted replica that takes writes: `available` and no longer a replica.
pub fn writable(instance: &Instance) -> bool {
    instance.status == "available" && instance.source.is_none()
}

/// The recorded instance is not the one decided on: it was replaced under the same name.
fn replaced(record: &Record, facts: &PromotionFacts) -> bool {
    let now = facts.recorded.as_ref().and_then(|i| i.resource_id.as_ref());
    matches!((&record.resource_id, now), (Some(then), Some(now)) if then != now)
}

/// Why a pending decision must not be completed now, if it must not: it expired, or one of the guards it was
/// decided under no longer holds. A replica already promoted by the decision (standalone) is only finished
/// (DNS, record): the promotion cannot be undone.
pub(super) fn abandon_reason(
    trigger: &Trigger,
    facts: &PromotionFacts,
    record: &Record,
    settings: &Settings,
    now: i64,
) -> Option<String> {
    let primary = &facts.primary_ref;
    let chosen = record.subject.display_from(&primary.region);
    let Some(recorded) = &facts.recorded else {
        return Some(format!("{chosen} no longer exists"));
    };
    if replaced(record, facts) {
        return Some(format!("{chosen} was replaced since (another instance has its name: DbiResourceId differs)"));
    }
    // Asked for, and found a replica again, not being promoted: the promotion failed after the call returned.
    if let Some(at) = record.promotion_requested_at.filter(|_| recorded.source.is_some()) {
        if !promotion_in_progress(recorded) {
            return Some(format!(
                "its promotion failed: PromoteReadReplica returned at {}, but {chosen} is {} and still a read \
                 replica; nothing was promoted and nothing is recorded as done",
                crate::model::format_time(at),
                recorded.status
            ));
        }
    }
    // Already promoted (standalone): only finished, whatever the decision's age.
    recorded.source.as_ref()?;
    let ttl = settings.decision_ttl_secs;
    if record.at_secs.is_some_and(|at| now - at > ttl) {
        return Some(format!("it is older than DECISION_TTL_MINUTES ({} min)", ttl / 60));
    }
    if let PrimaryState::Found(p) = &facts.primary {
        match gate(p, trigger, settings) {
            Gate::Go => {}
            Gate::FixInPlace(_) => {
                return Some(format!(
                    "{} is {}: it is fixed in place, never promoted away from without \"force\": true",
                    primary.id, p.status
                ))
            }
            Gate::Refuse(_) if p.status == "available" => {
                return Some(format!("{} is {} again: it is not down", primary.id, p.status))
            }
            Gate::Refuse(why) => return Some(format!("the primary {why}")),
        }
    }
    if recorded.source.as_ref() != Some(primary) {
        return Some(format!("{chosen} is no longer a read replica of {}", primary.id));
    }
    let candidate = facts
        .replicas
        .iter()
        .find(|c| c.instance.at == recorded.at)
        .cloned()
        .unwrap_or_else(|| Candidate { instance: recorded.clone(), lag: Vec::new(), lag_at: None });
    let verdict = replica_verdict(&candidate, &primary.region, settings);
    (!verdict.eligible).then(|| format!("{chosen} no longer passes the guards: {}", verdict.reason))
}

/// Each replica judged as a failover would judge it now (also what `readiness` reports).
pub fn verdicts(facts: &PromotionFacts, settings: &Settings) -> Vec<Verdict> {
    let judged = facts.replicas.iter().map(|c| replica_verdict(c, &facts.primary_ref.region, settings));
    judged.chain(facts.undescribed.iter().map(super::Undescribed::verdict)).collect()
}

/// A replica is eligible when it is available, opted in (IAM allows `PromoteReadReplica` only on opted-in
/// instances), in the primary's region unless cross-region is allowed, and its `ReplicaLag` as of the failure
/// ([`super::lag_as_of`], as of the onset) is known, never -1 and at most `MAX_REPLICA_LAG_SECONDS`.
pub(super) fn replica_verdict(candidate: &Candidate, home_region: &str, settings: &Settings) -> Verdict {
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
        Some("ReplicaLag unknown: no datapoint ending in the 2 minutes before the failure's onset".to_owned())
    } else if candidate.lag.iter().any(|v| *v < 0.0) {
        Some("replication was not running before the failure (ReplicaLag -1)".to_owned())
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
        lag_at: candidate.lag_at.map(failover_core::time::format_time),
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

fn number(value: Option<f64>) -> String {
    value.map_or_else(|| "?".into(), |v| format!("{v}"))
}
