//! One notification per event. An event that touches many groups (an instance alarm over fifty groups, a
//! removal beside the refusal of the targets it kept) publishes one notification, not one per report: it lists
//! each report (group, action, outcome, severity, title, summary, details) under `details.entries`, in
//! order; its `outcome` and `severity` are the worst among them; a failure in one group is still its own
//! `failed` entry, and a transient one still makes the invocation return an error (Lambda retries the
//! event). Skips stay as they are: logged, never notified.

use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use crate::report::action;
use crate::FUNCTION;

/// The reports with every notified one merged into one when there are several.
pub fn one_per_event(trigger: &str, reports: Vec<Report>) -> Vec<Report> {
    let (notified, mut kept): (Vec<Report>, Vec<Report>) = reports.into_iter().partition(|r| r.outcome.notified());
    if notified.len() < 2 {
        kept.extend(notified);
        return kept;
    }
    kept.push(merge(trigger, notified));
    kept
}

fn merge(trigger: &str, reports: Vec<Report>) -> Report {
    for r in &reports {
        tracing::info!(
            action = %r.action,
            outcome = r.outcome.as_str(),
            resource = r.resources.first().map_or("-", String::as_str),
            message = %r.title,
            "decision (merged into one notification)"
        );
    }
    let worst = reports.iter().min_by_key(|r| r.outcome.rank()).map_or(Outcome::Info, |r| r.outcome);
    let severity = reports.iter().map(|r| r.severity).max().unwrap_or(failover_core::notify::Severity::Info);
    let first_action = reports[0].action.clone();
    let action = if reports.iter().all(|r| r.action == first_action) { first_action } else { action::ALARM.into() };
    let mut resources: Vec<String> = Vec::new();
    for resource in reports.iter().flat_map(|r| r.resources.iter()) {
        if !resources.contains(resource) {
            resources.push(resource.clone());
        }
    }
    let mut counts: Vec<(Outcome, usize)> = Vec::new();
    for report in &reports {
        match counts.iter_mut().find(|(o, _)| *o == report.outcome) {
            Some((_, n)) => *n += 1,
            None => counts.push((report.outcome, 1)),
        }
    }
    counts.sort_by_key(|(o, _)| o.rank());
    let tally: Vec<String> = counts.iter().map(|(o, n)| format!("{n} {}", o.as_str())).collect();
    let groups = resources.len();
    let title = format!("{trigger}: {} over {groups} group{}", tally.join(", "), if groups == 1 { "" } else { "s" });
    let summary: Vec<String> =
        reports.iter().map(|r| format!("- [{}] {}: {}", r.outcome.as_str(), r.title, r.summary)).collect();
    let mut next_steps: Vec<String> = Vec::new();
    for step in reports.iter().flat_map(|r| r.next_steps.iter()) {
        if !next_steps.contains(step) {
            next_steps.push(step.clone());
        }
    }
    let error = reports.iter().find(|r| r.retry()).or_else(|| reports.iter().find(|r| r.error.is_some()));
    let error = error.and_then(|r| r.error.clone());
    let incident = match resources.as_slice() {
        [_] => reports[0].incident_id.clone(),
        _ => format!("{FUNCTION}/{trigger}"),
    };
    let entries: Vec<Value> = reports.iter().map(entry).collect();
    let mut merged = Report::new(FUNCTION, &action, worst, severity, title)
        .summary(summary.join("\n"))
        .details(json!({"trigger": trigger, "entries": entries}))
        .steps(next_steps)
        .resources(resources);
    merged.incident_id = incident;
    merged.error = error;
    merged
}

fn entry(report: &Report) -> Value {
    json!({
        "resource": report.resources.first(),
        "action": report.action,
        "outcome": report.outcome,
        "severity": report.severity,
        "title": report.title,
        "summary": report.summary,
        "details": report.details,
        "next_steps": report.next_steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_core::aws::AwsError;
    use failover_core::notify::Severity;

    fn report(group: &str, outcome: Outcome, severity: Severity) -> Report {
        Report::new(FUNCTION, action::DEREGISTER, outcome, severity, format!("{group}: something"))
            .summary("why")
            .resources([group.to_owned()])
    }

    #[test]
    fn a_single_notified_report_and_the_skips_stay_as_they_are() {
        let reports =
            vec![report("a", Outcome::Skipped, Severity::Info), report("b", Outcome::Succeeded, Severity::Warning)];
        let out = one_per_event("alarm x", reports.clone());
        assert_eq!(out.len(), 2);
        assert_eq!(out[1].title, reports[1].title);
    }

    #[test]
    fn several_notified_reports_become_one_with_the_worst_outcome_and_severity_and_each_entry() {
        let mut failed = report("c", Outcome::Failed, Severity::Warning);
        failed.error = Some(
            AwsError {
                operation: "DeregisterTargets",
                resource: "c".into(),
                code: Some("Throttling".into()),
                transient: true,
                message: "rate exceeded".into(),
            }
            .into(),
        );
        let reports = vec![
            report("a", Outcome::Succeeded, Severity::Warning),
            report("b", Outcome::Refused, Severity::Critical),
            failed,
            report("d", Outcome::Skipped, Severity::Info),
        ];
        let out = one_per_event("alarm x", reports);
        assert_eq!(out.len(), 2, "the skip, and one merged notification");
        let merged = &out[1];
        assert_eq!((merged.outcome, merged.severity), (Outcome::Failed, Severity::Critical));
        assert_eq!(merged.resources, ["a", "b", "c"]);
        assert_eq!(merged.details["entries"].as_array().unwrap().len(), 3);
        assert_eq!(merged.details["entries"][2]["outcome"], "failed");
        assert!(merged.retry(), "a transient failure still makes Lambda retry");
        assert_eq!(merged.title, "alarm x: 1 failed, 1 refused, 1 succeeded over 3 groups");
    }
}
