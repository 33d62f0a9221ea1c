//! The report of a promotion: done, dry run or failed, with the replicas as judged, the DNS step and the
//! next steps.

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::{incident, Failure, PROMOTE};
use crate::decide::{may_take_writes, DnsResult, Promotion, Trigger};
use crate::model::{promotion_key, promotion_resource, DbRef, Record, Recreated, PROMOTION_KEY};
use crate::FUNCTION;

pub(super) fn promote_command(replica: &DbRef, dry_run: bool) -> String {
    let mut command = json!({"command": "promote", "db_instance_identifier": replica.id, "region": replica.region});
    if dry_run {
        command["dry_run"] = json!(true);
    }
    command.to_string()
}

/// The warning of a promotion away from a primary that may take writes, unless its fence says otherwise
/// ([`super::fence::promotion_fence`]).
pub(super) fn unfenced_warning(p: &Promotion) -> String {
    let replica = p.replica.display_from(&p.primary.region);
    format!(
        "WARNING: {} was {} and was NOT fenced: it may still accept writes; stop it or make it read-only before \
         clients write to {replica}. ",
        p.primary.id, p.primary_status
    )
}

/// A promotion that was made, planned (dry run) or failed.
pub fn promotion(
    p: &Promotion,
    trigger: &Trigger,
    outcome: Outcome,
    failure: Option<&Failure>,
    dns: &DnsResult,
    backup_retention_days: i32,
) -> Report {
    let primary = &p.primary.id;
    let replica = p.replica.display_from(&p.primary.region);
    let chosen = p.replicas.iter().find(|v| v.id == p.replica.id && v.region == p.replica.region);
    let lag = chosen.and_then(|v| Some(format!(", ReplicaLag {} s at {}", v.max_lag?, v.lag_at.as_ref()?)));
    let endpoint = p.endpoint.clone().unwrap_or_else(|| format!("the endpoint of {replica}"));
    let resumed = if p.resumed { " (completing the decision recorded at the first attempt)" } else { "" };
    let (title, severity) = match outcome {
        Outcome::Succeeded if dns.is_warning() => {
            (format!("{primary} failed over: {replica} promoted; DNS record not changed"), Severity::Warning)
        }
        Outcome::Succeeded => (format!("{primary} failed over: {replica} promoted"), Severity::Warning),
        Outcome::DryRun => (format!("dry run: would promote {replica} for {primary}"), Severity::Info),
        _ => (format!("promoting {replica} for {primary} failed"), Severity::Critical),
    };
    let identity = p.record.primary_resource_id.as_ref().map(|id| format!(" ({id})")).unwrap_or_default();
    let mut summary = format!(
        "Trigger: {}. Primary {primary}{identity} is {}. Chosen replica: {replica}{}{resumed}. ",
        trigger.describe(),
        p.primary_status,
        lag.unwrap_or_default()
    );
    // Described (an ARN) in a status that may take writes: two writable databases until a person fences it.
    if p.primary_arn.is_some() && may_take_writes(&p.primary_status) && outcome != Outcome::DryRun {
        summary.push_str(&unfenced_warning(p));
    }
    match (outcome, failure) {
        (Outcome::Succeeded, _) => summary.push_str(&format!(
            "PromoteReadReplica was called with BackupRetentionPeriod={backup_retention_days}; the instance reboots \
             and becomes a standalone primary within minutes."
        )),
        (Outcome::DryRun, _) => summary.push_str("Nothing was changed (dry run)."),
        (_, Some(f)) => summary.push_str(&format!("Step \"{}\" failed: {}.", f.step, f.error)),
        _ => {}
    }
    if let Some(sentence) = dns.sentence() {
        summary.push(' ');
        summary.push_str(&sentence);
    }
    let mut next_steps = Vec::new();
    match outcome {
        Outcome::Succeeded => {
            match dns {
                DnsResult::Repointed { record, .. } | DnsResult::AlreadyThere { record, .. } => {
                    next_steps.push(format!("Check that clients reconnected: {record} now points to {endpoint}."))
                }
                DnsResult::Elsewhere { record, points_to, .. } => next_steps.push(format!(
                    "{record} was left pointing to {}: if it should follow {primary}, repoint it to {endpoint} by \
                     hand; otherwise remove the failover:dns-record tag from whichever primary does not own it.",
                    points_to.join(", ")
                )),
                _ => next_steps.push(format!(
                    "Repoint clients to {endpoint}: the old primary's endpoint does not move to the promoted replica."
                )),
            }
            next_steps
                .push(format!("Create a new read replica of {replica} so that the next failure has a candidate."));
            let others: Vec<&str> = p
                .replicas
                .iter()
                .filter(|v| !(v.id == p.replica.id && v.region == p.replica.region))
                .map(|v| v.id.as_str())
                .collect();
            if !others.is_empty() {
                next_steps.push(format!(
                    "Other replicas of {primary} ({}) still follow the old primary: recreate them from {replica}.",
                    others.join(", ")
                ));
            }
            next_steps.push(format!(
                "Investigate {primary} ({}) and delete it once its data is no longer needed; the ledger's \
                 {PROMOTION_KEY}#<time> record on {} records this failover and stops any further promotion for it.",
                p.primary_status,
                promotion_resource(&p.primary)
            ));
        }
        Outcome::DryRun => {
            next_steps
                .push(format!("To promote now: invoke the function with {}.", promote_command(&p.replica, false)));
        }
        _ => {
            next_steps.push(format!(
                "The decision is recorded (the ledger's {PROMOTION_KEY}#<time> record on {}, pending): a retry, or {}, \
                 completes this same promotion and never promotes another replica.",
                promotion_resource(&p.primary),
                promote_command(&p.replica, false)
            ));
            next_steps
                .push("If the error persists, promote the replica in the RDS console and repoint clients.".into());
        }
    }
    let report = Report::new(FUNCTION, PROMOTE, outcome, severity, title)
        .summary(summary)
        .incident(incident(&p.primary.region, primary))
        .resources([p.primary_arn.clone(), Some(p.replica_arn.clone())].into_iter().flatten())
        .details(json!({
            "trigger": trigger,
            "primary": p.primary,
            "primary_resource_id": p.record.primary_resource_id,
            "primary_status": p.primary_status,
            "replica": p.replica,
            "endpoint": p.endpoint,
            "record": record_json(&p.record, &p.primary),
            "resumed": p.resumed,
            "backup_retention_days": backup_retention_days,
            "dns": dns,
            "replicas": p.replicas,
            "failure": failure.map(Failure::json),
        }))
        .steps(next_steps);
    with_error(report, failure)
}

/// A failed step's report carries its AWS error.
pub(super) fn with_error(report: Report, failure: Option<&Failure>) -> Report {
    match failure {
        Some(f) => report.error(f.error.clone()),
        None => report,
    }
}

fn record_json(record: &Record, primary: &DbRef) -> Value {
    let key =
        if record.key.is_empty() { promotion_key(record.at_secs.unwrap_or_default()) } else { record.key.clone() };
    json!({"resource": promotion_resource(primary), "key": key, "replica": record.subject, "at": record.at})
}

/// A promotion's report with what its replica step did ([`crate::actions::recreate`]): a sentence, the
/// `details.new_replica`, and the next step about a replica for the next failure replaced by it.
pub fn with_replica(mut report: Report, replica: &Recreated) -> Report {
    let Some(sentence) = replica.sentence() else { return report };
    report.summary.push(' ');
    report.summary.push_str(&sentence);
    if let Some(details) = report.details.as_object_mut() {
        details.insert("new_replica".into(), serde_json::to_value(replica).unwrap_or(Value::Null));
    }
    report.next_steps.retain(|step| !step.starts_with("Create a new read replica of "));
    if let Recreated::NotCreated { of, command, .. } = replica {
        let step = format!("Create a read replica of {of} so that the next failure has a candidate: {command}");
        report.next_steps.insert(0, step);
    }
    if matches!(replica, Recreated::NotCreated { .. }) && report.severity == Severity::Info {
        report.severity = Severity::Warning;
    }
    report
}
