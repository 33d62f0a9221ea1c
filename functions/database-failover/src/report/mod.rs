//! The notification texts: what people are told about each plan and its outcome, with next steps ([`Report`]s).
//! A report that stopped short carries its [`Fault`]: [`failover_core::invoke::finish_owing`] errs when it retries.

use failover_core::fault::Fault;
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use crate::decide::writer::WriterMoved;
use crate::decide::{ClusterFailover, Info, Plan, Refusal, Trigger, Verdict};
use crate::model::{cluster_resource, DbRef, Topology};
use crate::FUNCTION;

mod approval;
mod fence;
mod fix;
mod global_db;
mod paths;
mod promotion;

pub use approval::{
    approval_asked, approval_failed, approval_not_recorded, approval_refused, approval_rejected, APPROVE, REJECT,
};
pub use fence::{
    fence_impossible, fence_undone, fenced, promotion_fence, unfence_command, unfenced, Fenced, FENCE, UNFENCE,
};
pub use fix::fix_in_place;
pub use global_db::{
    global_already_primary, global_detach_completed, global_failed, global_failover, global_failover_refused,
    global_refused, global_under_way, short, switchover_global, FAILOVER_GLOBAL, GLOBAL_DNS_STEP, SWITCHOVER_GLOBAL,
};
pub use paths::with_client_paths;
use promotion::{promote_command, with_error};
pub use promotion::{promotion, with_replica};

pub const PROMOTE: &str = "promote-replica";
pub const FAILOVER_CLUSTER: &str = "failover-cluster";
pub const AWS_FAILOVER: &str = "aws-failover";
pub const STATUS: &str = "status";
/// A primary to fix in place rather than promote away from.
pub const FIX_IN_PLACE: &str = "fix-in-place";
/// The action of a skip: nothing was considered.
pub const NONE: &str = "none";

/// One incident thread per database: every notification about a primary (or cluster) shares it.
pub fn incident(region: &str, resource: &str) -> String {
    format!("{FUNCTION}/{region}/{resource}")
}

/// A step of an action that AWS failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub step: &'static str,
    pub error: Fault,
    /// Steps completed before it.
    pub done: Vec<String>,
}

impl Failure {
    fn json(&self) -> Value {
        json!({"step": self.step, "error": self.error.to_string(), "done": self.done})
    }
}

/// Nothing to do, and why: logged, never published.
pub fn skipped(reason: impl Into<String>) -> Report {
    Report::skipped(FUNCTION, NONE, reason)
}

fn verdict_lines(verdicts: &[Verdict], unit: &str) -> String {
    verdicts
        .iter()
        .map(|v| {
            let at = v.lag_at.as_ref().map_or_else(String::new, |at| format!(" at {at}"));
            let lag = v.max_lag.map_or_else(|| "no lag data".to_owned(), |l| format!("max lag {l} {unit}{at}"));
            format!("{} ({}, {}, priority {}, {lag}): {}", v.id, v.region, v.status, v.priority, v.reason)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// A cluster's failover (Aurora or Multi-AZ) made, planned or failed.
pub fn cluster_failover(c: &ClusterFailover, trigger: &Trigger, outcome: Outcome, failure: Option<&Failure>) -> Report {
    let writer = c.writer.as_deref().unwrap_or("unknown");
    let (title, severity) = match outcome {
        Outcome::Succeeded => (format!("{} failed over to {}", c.cluster, c.target), Severity::Warning),
        Outcome::DryRun => (format!("dry run: would fail {} over to {}", c.cluster, c.target), Severity::Info),
        _ => (format!("failing {} over to {} failed", c.cluster, c.target), Severity::Critical),
    };
    let by = match c.topology {
        Topology::MultiAzCluster => "Multi-AZ DB cluster: lowest ReplicaLag as of the onset, then failover:priority",
        _ => "lowest promotion tier, then lowest AuroraReplicaLag",
    };
    let mut summary =
        format!("Trigger: {}. Writer was {writer}; chosen reader: {} ({by}). ", trigger.describe(), c.target);
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
    let report = Report::new(FUNCTION, FAILOVER_CLUSTER, outcome, severity, title)
        .summary(summary)
        .incident(incident(&c.region, &c.cluster))
        .resources([c.cluster_arn.clone()])
        .details(json!({
            "trigger": trigger,
            "cluster": c.cluster,
            "topology": c.topology,
            "writer": c.writer,
            "target": c.target,
            "readers": c.readers,
            "record": {"resource": cluster_resource(&c.region, &c.cluster), "target": c.record.subject, "at": c.record.at},
            "failure": failure.map(Failure::json),
        }))
        .steps(next_steps);
    with_error(report, failure)
}

/// A DB cluster whose writer is no longer the one accused ([`crate::decide::writer`]): nothing was done.
/// `when`: at which check it was found (the plan, or the writer read again right before `FailoverDBCluster`).
pub fn writer_moved(m: &WriterMoved, trigger: &Trigger, when: &str) -> Report {
    let writer = m.writer.as_deref().unwrap_or("none at the moment");
    let title = format!("{} already failed over: writer {writer}, no longer {}", m.cluster, m.accused);
    Report::new(FUNCTION, FAILOVER_CLUSTER, Outcome::Info, Severity::Info, title)
        .summary(format!(
            "Trigger: {}. The writer of DB cluster {} is {writer}, no longer {} ({when}): AWS (or someone) \
             already failed it over. database-failover did not call FailoverDBCluster: a second failover would be \
             another write outage.",
            trigger.describe(),
            m.cluster,
            m.accused
        ))
        .incident(incident(&m.region, &m.cluster))
        .resources([m.cluster.clone()])
        .details(json!({"trigger": trigger, "cluster": m.cluster, "old_writer": m.accused, "writer": m.writer}))
        .steps([
            format!("Check that clients reconnected through the cluster endpoint, and investigate {}.", m.accused),
            format!(
                "If {} was a reader when the alarm fired, the alarm watches the wrong instance: watch the writer \
                 with the dimensions DBClusterIdentifier={} and Role=WRITER.",
                m.accused, m.cluster
            ),
        ])
}

/// Aurora: AWS's own completed failover of the cluster within the cooldown, which only `DescribeEvents` told
/// (RDS-EVENT-0071 never reached the function): nothing was done. `m.accused` is named as the old writer when it
/// is another than the one AWS failed over to.
pub fn aws_failed_over(m: &WriterMoved, at: &str, trigger: &Trigger) -> Report {
    let writer = m.writer.as_deref().unwrap_or("unknown");
    let from = if m.accused == writer { String::new() } else { format!(" from {}", m.accused) };
    Report::new(
        FUNCTION,
        FAILOVER_CLUSTER,
        Outcome::Info,
        Severity::Info,
        format!("{} already failed over to {writer}", m.cluster),
    )
    .summary(format!(
        "Trigger: {}. RDS recorded a completed failover of DB cluster {}{from} to {writer} at {at} \
             (RDS-EVENT-0071, read with DescribeEvents: no event of it reached the function): AWS (or someone) \
             already failed it over. database-failover did not call FailoverDBCluster: a second failover would be \
             another write outage; none is made automatically for {} min after it.",
        trigger.describe(),
        m.cluster,
        crate::decide::CLUSTER_COOLDOWN_SECS / 60
    ))
    .incident(incident(&m.region, &m.cluster))
    .resources([m.cluster.clone()])
    .details(
        json!({"trigger": trigger, "cluster": m.cluster, "old_writer": (m.accused != writer).then_some(&m.accused),
            "writer": m.writer, "failed_over_at": at, "event_id": "RDS-EVENT-0071"}),
    )
    .steps([
        "Check that clients reconnected through the cluster endpoint.".to_owned(),
        "Check why RDS events do not reach the function (the EventBridge rule, the SNS subscription).".to_owned(),
    ])
}

/// A promotion another region's stack made and finished, found in the primary's region's ledger by this stack
/// (`own_region`): nothing else was promoted ([`crate::actions::found_decision`]).
pub fn found_decision(primary: &DbRef, replica: &DbRef, at: &str, decided_in: &str, own_region: &str) -> Report {
    let title = format!("{} already failed over to {} (by the {decided_in} stack)", primary.id, replica.id);
    Report::new(FUNCTION, PROMOTE, Outcome::Info, Severity::Info, title)
        .summary(format!(
            "The stack in {own_region} found the decision the stack in {decided_in} made at {at}, in {}'s ledger: \
             {} was promoted to replace {}. database-failover in {own_region} promoted nothing else (one authority \
             per primary).",
            primary.region,
            replica.display_from(own_region),
            primary.display_from(own_region)
        ))
        .incident(incident(&primary.region, &primary.id))
        .resources([primary.id.clone()])
        .details(json!({"primary": primary, "replica": replica, "decided_at": at, "decided_in": decided_in,
            "authority": {"alone": false, "found_in": primary.region}}))
        .steps([format!("Repoint this region's clients to {} if they do not follow it already.", replica.id)])
}

/// A refusal: a failover was asked for and a guard forbade it.
/// `topology`: the resource's (an instance's replicas, or a cluster's readers, and their lag unit).
pub fn refusal(r: &Refusal, action: &str, region: &str, trigger: Option<&Trigger>, topology: &Topology) -> Report {
    let unit = topology.lag_unit();
    let mut summary = r.reason.clone();
    if let Some(t) = trigger {
        summary = format!("Trigger: {}. {summary}.", t.describe());
    }
    if !r.replicas.is_empty() {
        summary.push_str(&format!(" Considered: {}.", verdict_lines(&r.replicas, unit)));
    }
    let mut next_steps = Vec::new();
    if *topology == Topology::MultiAzCluster {
        next_steps.push(format!(
            "Check the readers' replication (ReplicaLag); once one is within MAX_REPLICA_LAG_SECONDS, fail over with \
             {} (same guards). A forced command named above skips the lag guard and loses what the reader lacks.",
            json!({"command": "failover-cluster", "db_cluster_identifier": r.resource, "region": region})
        ));
    } else if *topology != Topology::Instance {
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
    Report::new(FUNCTION, action, Outcome::Refused, r.severity, format!("{}: not failed over", r.resource))
        .summary(summary)
        .incident(incident(region, &r.resource))
        .resources([r.resource.clone()])
        .details(json!({"trigger": trigger, "reason": r.reason, "replicas": r.replicas}))
        .steps(next_steps)
}

/// A recovery under way on `resource` (a promotion, ours or AWS's): a skip whose retryable fault makes Lambda try
/// the event again ([`Fault::InProgress`]).
pub fn waiting(resource: String, reason: String) -> Report {
    skipped(reason.clone()).error(Fault::InProgress { resource, reason })
}

/// A promotion's report when its decision was made in this stack's own ledger because the primary's region's
/// ledger, where it belongs, could not be reached (`why`): the notification says so first (`details.authority`).
pub fn decided_alone(report: Report, why: &str) -> Report {
    alone(report, "decided alone", why)
}

/// A `status` or `timeline` report read from this stack's own ledger, not the primary's region's (`why`): it
/// may miss a decision made there; the report says so first (`details.authority`).
pub fn read_alone(report: Report, why: &str) -> Report {
    alone(report, "read from this stack's own ledger, not the primary's region's", why)
}

fn alone(mut report: Report, what: &str, why: &str) -> Report {
    let note = format!("{what}: {why}.");
    report.summary = if report.summary.is_empty() { note.clone() } else { format!("{note} {}", report.summary) };
    if let Some(details) = report.details.as_object_mut() {
        details.insert("authority".into(), json!({"alone": true, "why": why}));
    } else if report.details.is_null() {
        report.details = json!({"authority": {"alone": true, "why": why}});
    }
    report
}

/// A promotion's report with the failure's onset its replicas were judged as of (`details.onset`, RFC 3339).
pub fn with_onset(mut report: Report, onset: Option<i64>) -> Report {
    if let (Some(at), Some(details)) = (onset, report.details.as_object_mut()) {
        details.insert("onset".into(), json!(failover_core::time::format_time(at)));
    }
    report
}

/// AWS's own failover event.
pub fn inform(i: &Info) -> Report {
    let kind = if i.cluster { "DB cluster" } else { "Multi-AZ instance" };
    let title = format!("AWS failover on {}: {}", i.resource, i.event_id);
    Report::new(FUNCTION, AWS_FAILOVER, Outcome::Info, Severity::Info, title)
        .summary(format!("{kind} {}: {} ({}). database-failover changed nothing.", i.resource, i.message, i.event_id))
        .incident(incident(&i.region, &i.resource))
        .resources([i.resource.clone()])
        .details(json!({"event_id": i.event_id, "message": i.message, "cluster": i.cluster}))
        .steps([
            "AWS keeps the endpoint: check that clients reconnected and that error rates are back to normal.".into(),
            format!("Look for the cause in the RDS events and logs of {}.", i.resource),
        ])
}

/// The `status` command's report: the facts read, and what a failure would do now ([`Plan::would`]).
/// `ledger`: a line about the pause and the open ledger records, when there is something to say.
/// `topology`: what kind of database `resource` is (`details.topology`, and a word in the text).
pub fn status(at: (&str, &str), topology: &Topology, plan: &Plan, facts: Value, ledger: Option<String>) -> Report {
    let (region, resource) = at;
    let would = plan.would(region);
    let ledger = ledger.map(|line| format!(" {line}")).unwrap_or_default();
    let mut details = facts;
    details["plan"] = serde_json::to_value(plan).unwrap_or(Value::Null);
    details["topology"] = json!(topology);
    let title = format!("status of {resource} ({topology}): {would}");
    Report::new(FUNCTION, STATUS, Outcome::Info, Severity::Info, title)
        .summary(format!("If {resource} ({topology}) failed now, database-failover {would}.{ledger}"))
        .incident(incident(region, resource))
        .resources([resource.to_owned()])
        .details(details)
        .steps([
            r#"To act on this plan now, use the promote or failover-cluster command; add "dry_run": true to preview."#
                .to_owned(),
        ])
}

/// AWS failed before any plan could be made (describing, reading lag), or the resource stayed busy (a skip,
/// retried). The action follows the trigger.
pub fn failure(region: &str, resource: &str, trigger: &Trigger, error: impl Into<Fault>) -> Report {
    let error = error.into();
    let action = match trigger {
        Trigger::Status => STATUS,
        Trigger::ManualFailover { .. } => FAILOVER_CLUSTER,
        _ => PROMOTE,
    };
    if let Fault::Busy { .. } = error {
        return failover_core::report::busy(FUNCTION, action, error);
    }
    let summary =
        format!("Trigger: {}. AWS failed while gathering facts: {error}. Nothing was changed.", trigger.describe());
    Report::new(FUNCTION, action, Outcome::Failed, Severity::Critical, format!("{resource}: failover check failed"))
        .summary(summary)
        .incident(incident(region, resource))
        .resources([resource.to_owned()])
        .details(json!({"trigger": trigger, "error": error.to_string()}))
        .steps([
            "The event is retried by Lambda when the error is transient; otherwise check the function's permissions."
                .into(),
            format!("Check {resource} in the RDS console and fail over by hand if it is down."),
        ])
        .error(error)
}

/// `pause` or `resume` could not write the ledger.
pub fn control_failure(action: &str, error: impl Into<Fault>) -> Report {
    let error = error.into();
    Report::new(FUNCTION, action, Outcome::Failed, Severity::Critical, format!("{action} failed"))
        .summary(format!("The {action} command could not write the ledger: {error}. Nothing was changed."))
        .details(json!({"error": error.to_string()}))
        .steps(["Run the command again; check the function's permissions on the ledger table.".to_owned()])
        .error(error)
}
