//! Notifications and responses: what people are told about each plan and its outcome, with next steps.

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report as Notification;
use failover_core::response::Response;
use serde_json::{json, Value};

use crate::decide::{ClusterFailover, Info, Promotion, Refusal, Trigger, Verdict};
use crate::handler::FUNCTION;
use crate::model::{DbRef, Record, PROMOTED_FROM_TAG, PROMOTED_TAG};

pub const PROMOTE: &str = "promote-replica";
pub const FAILOVER_CLUSTER: &str = "failover-cluster";
pub const AWS_FAILOVER: &str = "aws-failover";
pub const STATUS: &str = "status";

/// One incident thread per database: every notification about a primary (or cluster) shares it.
pub fn incident(region: &str, resource: &str) -> String {
    format!("{FUNCTION}/{region}/{resource}")
}

/// A step of an action that AWS failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub step: String,
    pub error: String,
    /// Steps completed before it.
    pub done: Vec<String>,
}

/// The invocation's response, mirroring the notification.
pub fn response(notification: &Notification) -> Response {
    Response {
        function: FUNCTION,
        status: notification.outcome,
        action: notification.action.clone(),
        message: notification.title.clone(),
        summary: String::new(),
        details: notification.details.clone(),
    }
}

fn verdict_lines(verdicts: &[Verdict], unit: &str) -> String {
    verdicts
        .iter()
        .map(|v| {
            let lag = v.max_lag.map_or_else(|| "no lag data".to_owned(), |l| format!("max lag {l} {unit}"));
            format!("{} ({}, {}, priority {}, {lag}): {}", v.id, v.region, v.status, v.priority, v.reason)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn promote_command(replica: &DbRef, dry_run: bool) -> String {
    let mut command = json!({"command": "promote", "db_instance_identifier": replica.id, "region": replica.region});
    if dry_run {
        command["dry_run"] = json!(true);
    }
    command.to_string()
}

/// A promotion that was made, planned (dry run) or failed.
pub fn promotion(
    p: &Promotion,
    trigger: &Trigger,
    outcome: Outcome,
    failure: Option<&Failure>,
    dns: Option<&str>,
    backup_retention_days: i32,
) -> Notification {
    let primary = &p.primary.id;
    let replica = p.replica.display_from(&p.primary.region);
    let chosen = p.replicas.iter().find(|v| v.id == p.replica.id && v.region == p.replica.region);
    let lag = chosen.and_then(|v| v.max_lag).map_or_else(String::new, |l| format!(", max ReplicaLag {l} s over 5 min"));
    let endpoint = p.endpoint.clone().unwrap_or_else(|| format!("the endpoint of {replica}"));
    let resumed = if p.resumed { " (completing the decision recorded at the first attempt)" } else { "" };
    let (title, severity) = match outcome {
        Outcome::Succeeded => (format!("{primary} failed over: {replica} promoted"), Severity::Warning),
        Outcome::DryRun => (format!("dry run: would promote {replica} for {primary}"), Severity::Info),
        _ => (format!("promoting {replica} for {primary} failed"), Severity::Critical),
    };
    let mut summary = format!(
        "Trigger: {}. Primary {primary} is {}. Chosen replica: {replica}{lag}{resumed}. ",
        trigger.describe(),
        p.primary_status
    );
    match (outcome, failure) {
        (Outcome::Succeeded, _) => summary.push_str(&format!(
            "PromoteReadReplica was called with BackupRetentionPeriod={backup_retention_days}; the instance reboots \
             and becomes a standalone primary within minutes."
        )),
        (Outcome::DryRun, _) => summary.push_str("Nothing was changed (dry run)."),
        (_, Some(f)) => summary.push_str(&format!("Step \"{}\" failed: {}.", f.step, f.error)),
        _ => {}
    }
    let mut next_steps = Vec::new();
    match outcome {
        Outcome::Succeeded => {
            match dns {
                Some(record) => {
                    next_steps.push(format!("Check that clients reconnected: {record} now points to {endpoint}."))
                }
                None => next_steps.push(format!(
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
                "Investigate {primary} ({}) and delete it once its data is no longer needed; its tag {PROMOTED_TAG} \
                 records this failover and stops any further promotion for it.",
                p.primary_status
            ));
        }
        Outcome::DryRun => {
            next_steps
                .push(format!("To promote now: invoke the function with {}.", promote_command(&p.replica, false)));
        }
        _ => {
            next_steps.push(format!(
                "The decision is recorded ({PROMOTED_TAG} on {primary}, {PROMOTED_FROM_TAG} on {replica}): a retry, or \
                 {}, completes this same promotion and never promotes another replica.",
                promote_command(&p.replica, false)
            ));
            next_steps
                .push("If the error persists, promote the replica in the RDS console and repoint clients.".into());
        }
    }
    Notification {
        function: FUNCTION.into(),
        action: PROMOTE.into(),
        outcome,
        severity,
        title,
        summary,
        incident_id: incident(&p.primary.region, primary),
        resources: [p.primary_arn.clone(), Some(p.replica_arn.clone())].into_iter().flatten().collect(),
        details: json!({
            "trigger": trigger,
            "primary": p.primary,
            "primary_status": p.primary_status,
            "replica": p.replica,
            "endpoint": p.endpoint,
            "record": record_json(&p.record, &p.primary),
            "resumed": p.resumed,
            "backup_retention_days": backup_retention_days,
            "dns_record": dns,
            "replicas": p.replicas,
            "failure": failure.map(|f| json!({"step": f.step, "error": f.error, "done": f.done})),
        }),
        next_steps,
        error: None,
    }
}

fn record_json(record: &Record, primary: &DbRef) -> Value {
    json!({"tag": PROMOTED_TAG, "value": record.tag_value(&primary.region), "at": record.at})
}

/// An Aurora failover made, planned or failed.
pub fn cluster_failover(
    c: &ClusterFailover,
    trigger: &Trigger,
    outcome: Outcome,
    failure: Option<&Failure>,
) -> Notification {
    let writer = c.writer.as_deref().unwrap_or("unknown");
    let (title, severity) = match outcome {
        Outcome::Succeeded => (format!("{} failed over to {}", c.cluster, c.target), Severity::Warning),
        Outcome::DryRun => (format!("dry run: would fail {} over to {}", c.cluster, c.target), Severity::Info),
        _ => (format!("failing {} over to {} failed", c.cluster, c.target), Severity::Critical),
    };
    let mut summary = format!(
        "Trigger: {}. Writer was {writer}; chosen reader: {} (lowest promotion tier, then lowest AuroraReplicaLag). ",
        trigger.describe(),
        c.target
    );
    if let Some(f) = failure {
        summary.push_str(&format!("Step \"{}\" failed: {}.", f.step, f.error));
    } else if outcome == Outcome::DryRun {
        summary.push_str("Nothing was changed (dry run).");
    } else {
        summary.push_str("FailoverDBCluster was called; the cluster endpoint follows the new writer.");
    }
    let next_steps = match outcome {
        Outcome::Succeeded => vec![
            "Check that clients reconnected through the cluster endpoint.".to_owned(),
            format!("Investigate the old writer {writer}; it rejoins the cluster as a reader."),
        ],
        Outcome::DryRun => vec![format!(
            "To fail over now: invoke the function with {}.",
            json!({"command": "failover-cluster", "db_cluster_identifier": c.cluster, "target_db_instance_identifier": c.target, "region": c.region})
        )],
        _ => vec![
            "Fail the cluster over in the RDS console or with aws rds failover-db-cluster.".to_owned(),
            "Check the health of the cluster's instances.".to_owned(),
        ],
    };
    Notification {
        function: FUNCTION.into(),
        action: FAILOVER_CLUSTER.into(),
        outcome,
        severity,
        title,
        summary,
        incident_id: incident(&c.region, &c.cluster),
        resources: vec![c.cluster_arn.clone()],
        details: json!({
            "trigger": trigger,
            "cluster": c.cluster,
            "writer": c.writer,
            "target": c.target,
            "readers": c.readers,
            "record": {"value": c.record.tag_value(&c.region), "at": c.record.at},
            "failure": failure.map(|f| json!({"step": f.step, "error": f.error, "done": f.done})),
        }),
        next_steps,
        error: None,
    }
}

/// A refusal: a failover was asked for and a guard forbade it.
pub fn refusal(r: &Refusal, action: &str, region: &str, trigger: Option<&Trigger>, aurora: bool) -> Notification {
    let unit = if aurora { "ms" } else { "s" };
    let mut summary = r.reason.clone();
    if let Some(t) = trigger {
        summary = format!("Trigger: {}. {summary}.", t.describe());
    }
    if !r.replicas.is_empty() {
        summary.push_str(&format!(" Considered: {}.", verdict_lines(&r.replicas, unit)));
    }
    let mut next_steps = Vec::new();
    if aurora {
        next_steps.push("Check the cluster's readers; fail over in the RDS console when one is available.".to_owned());
    } else if r.severity == Severity::Critical {
        next_steps.push(format!("Check {} and restore replication on one of its replicas.", r.resource));
        if let Some(v) = r.replicas.first() {
            next_steps.push(format!(
                "Once a replica is safe, promote it with {} (same guards), or in the RDS console.",
                promote_command(&DbRef::new(&v.region, &v.id), false)
            ));
        }
    } else {
        next_steps.push(format!(
            "No change was made. If {} is failing nevertheless, promote a replica manually.",
            r.resource
        ));
    }
    Notification {
        function: FUNCTION.into(),
        action: action.into(),
        outcome: Outcome::Refused,
        severity: r.severity,
        title: format!("{}: not failed over", r.resource),
        summary,
        incident_id: incident(region, &r.resource),
        resources: vec![r.resource.clone()],
        details: json!({"trigger": trigger, "reason": r.reason, "replicas": r.replicas}),
        next_steps,
        error: None,
    }
}

/// AWS's own failover event.
pub fn inform(i: &Info) -> Notification {
    let kind = if i.cluster { "Aurora cluster" } else { "Multi-AZ instance" };
    Notification {
        function: FUNCTION.into(),
        action: AWS_FAILOVER.into(),
        outcome: Outcome::Info,
        severity: Severity::Info,
        title: format!("AWS failover on {}: {}", i.resource, i.event_id),
        summary: format!("{kind} {}: {} ({}). database-failover changed nothing.", i.resource, i.message, i.event_id),
        incident_id: incident(&i.region, &i.resource),
        resources: vec![i.resource.clone()],
        details: json!({"event_id": i.event_id, "message": i.message, "cluster": i.cluster}),
        next_steps: vec![
            "AWS keeps the endpoint: check that clients reconnected and that error rates are back to normal.".into(),
            format!("Look for the cause in the RDS events and logs of {}.", i.resource),
        ],
        error: None,
    }
}

/// The `status` command's report.
pub fn status(region: &str, resource: &str, title: String, summary: String, details: Value) -> Notification {
    Notification {
        function: FUNCTION.into(),
        action: STATUS.into(),
        outcome: Outcome::Info,
        severity: Severity::Info,
        title,
        summary,
        incident_id: incident(region, resource),
        resources: vec![resource.to_owned()],
        details,
        next_steps: vec![format!(
            "To act on this plan now, use the promote or failover-cluster command; add \"dry_run\": true to preview."
        )],
        error: None,
    }
}

/// AWS failed before any plan could be made (describing, reading lag).
pub fn failure(region: &str, resource: &str, action: &str, trigger: &Trigger, error: &str) -> Notification {
    Notification {
        function: FUNCTION.into(),
        action: action.into(),
        outcome: Outcome::Failed,
        severity: Severity::Critical,
        title: format!("{resource}: failover check failed"),
        summary: format!(
            "Trigger: {}. AWS failed while gathering facts: {error}. Nothing was changed.",
            trigger.describe()
        ),
        incident_id: incident(region, resource),
        resources: vec![resource.to_owned()],
        details: json!({"trigger": trigger, "error": error}),
        next_steps: vec![
            "The event is retried by Lambda when the error is transient; otherwise check the function's permissions."
                .into(),
            format!("Check {resource} in the RDS console and fail over by hand if it is down."),
        ],
        error: None,
    }
}
