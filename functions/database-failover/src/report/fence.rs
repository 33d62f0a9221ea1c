//! The texts of an old primary's fence: a fence made after the promotion (`fence-primary`), the fence state in
//! the promotion's own notification, and `unfence` (`unfence-primary`).

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::promotion::{unfenced_warning, with_error};
use super::{incident, Failure};
use crate::decide::fence::{FencePlan, FenceRecord};
use crate::decide::Promotion;
use crate::model::promotion_resource;
use crate::FUNCTION;

pub const FENCE: &str = "fence-primary";
pub const UNFENCE: &str = "unfence-primary";

/// The `unfence` command that releases `record`'s instance, as JSON.
pub fn unfence_command(record: &FenceRecord) -> String {
    json!({"command": "unfence", "db_instance_identifier": record.instance.id, "region": record.instance.region,
        "by": "<your name>", "reason": "<why>"})
    .to_string()
}

/// A fence made (or planned, or failed) after the promotion.
pub struct Fenced<'a> {
    pub record: &'a FenceRecord,
    /// A done fence found undone (the groups restored by someone or something): critical.
    pub again: bool,
    /// The promoted replica, as shown from the primary's region.
    pub replica: &'a str,
    pub trigger: &'a str,
}

fn groups(record: &FenceRecord) -> String {
    if record.original.is_empty() {
        "(none)".to_owned()
    } else {
        record.original.join(", ")
    }
}

pub fn fenced(f: &Fenced<'_>, outcome: Outcome, failure: Option<&Failure>) -> Report {
    let r = f.record;
    let id = &r.instance.id;
    let (title, severity) = match (outcome, f.again) {
        (Outcome::DryRun, _) => (format!("dry run: would fence the old primary {id}"), Severity::Info),
        (Outcome::Succeeded, true) => {
            (format!("{id} was writable and unfenced again: fenced again"), Severity::Critical)
        }
        (Outcome::Succeeded, false) => (format!("old primary {id} fenced"), Severity::Warning),
        _ => (format!("fencing the old primary {id} failed"), Severity::Critical),
    };
    let mut summary = format!("Trigger: {}. {id} ({}) was replaced by {}. ", f.trigger, r.resource_id, f.replica);
    if f.again {
        summary.push_str(&format!(
            "Its fence was undone: it was available in {} instead of only {}, so two writable databases shared \
             its data. Someone or something (a Terraform apply?) restored its groups. ",
            groups(r),
            r.group
        ));
    }
    match (outcome, failure) {
        (Outcome::Succeeded, _) => summary.push_str(&format!(
            "Its VPC security groups were replaced by {} (ModifyDBInstance, ApplyImmediately); its original groups \
             {} are recorded in the ledger ({} on {}).",
            r.group,
            groups(r),
            r.key,
            promotion_resource(&r.instance)
        )),
        (Outcome::DryRun, _) => summary.push_str(&format!(
            "Would replace its groups {} by {}. Nothing was changed (dry run).",
            groups(r),
            r.group
        )),
        (_, Some(failure)) => summary.push_str(&format!("Step \"{}\" failed: {}.", failure.step, failure.error)),
        _ => {}
    }
    let steps = vec![
        format!("Check that clients use {} and nothing writes to {id} any more.", f.replica),
        format!(
            "To release {id} (restore {}), and only then: invoke the function with {}.",
            groups(r),
            unfence_command(r)
        ),
    ];
    let report = Report::new(FUNCTION, FENCE, outcome, severity, title)
        .summary(summary)
        .incident(incident(&r.instance.region, id))
        .details(json!({"fence": r, "again": f.again, "replica": f.replica, "failure": failure.map(Failure::json)}))
        .steps(steps);
    with_error(report, failure)
}

/// The promotion's notification with the fence state instead of "NOT fenced" where a fence applies.
pub fn promotion_fence(mut report: Report, p: &Promotion, plan: &FencePlan, applied: bool) -> Report {
    let id = &p.primary.id;
    let warning = unfenced_warning(p);
    let sentence = match plan {
        FencePlan::Fence { record, .. } if applied => format!(
            "{id} was {} and was fenced before the promotion: its groups {} were replaced by {} (recorded as {} \
             on {}). ",
            p.primary_status,
            groups(record),
            record.group,
            record.key,
            promotion_resource(&p.primary)
        ),
        FencePlan::Fence { .. } => {
            format!(
                "{id} was NOT fenced, so {} was NOT promoted (fence first, never two writable databases). ",
                p.replica.id
            )
        }
        FencePlan::Fenced { group } => format!("{id} is already fenced (only in {group}). "),
        other => format!("{} ", other.sentence(id)),
    };
    let replaced =
        matches!(plan, FencePlan::Fence { .. } | FencePlan::Fenced { .. }) && report.summary.contains(&warning);
    if replaced {
        report.summary = report.summary.replacen(&warning, &sentence, 1);
    } else if report.outcome != Outcome::Skipped {
        report.summary.push(' ');
        report.summary.push_str(sentence.trim_end());
    }
    if let FencePlan::Fence { record, .. } = plan {
        if applied {
            report.next_steps.push(format!(
                "{id} is fenced; to release it once it is no longer needed as a fallback: {}.",
                unfence_command(record)
            ));
        }
    }
    if let Some(details) = report.details.as_object_mut() {
        details.insert("fence".into(), json!({"plan": plan, "applied": applied}));
    }
    report
}

/// `unfence`: the groups restored (or planned, or failed).
pub fn unfenced(record: &FenceRecord, by: &str, reason: &str, outcome: Outcome, failure: Option<&Failure>) -> Report {
    let id = &record.instance.id;
    let (title, severity) = match outcome {
        Outcome::DryRun => (format!("dry run: would unfence {id}"), Severity::Info),
        Outcome::Succeeded => (format!("{id} unfenced by {by}"), Severity::Warning),
        _ => (format!("unfencing {id} failed"), Severity::Critical),
    };
    let mut summary = format!("{by} asked to release {id} ({}): {reason}. ", record.resource_id);
    match (outcome, failure) {
        (Outcome::Succeeded, _) => summary.push_str(&format!(
            "Its VPC security groups are {} again (instead of {}); {} on {} is closed: it is not fenced again \
             automatically, and it may take writes.",
            groups(record),
            record.group,
            record.key,
            promotion_resource(&record.instance)
        )),
        (Outcome::DryRun, _) => summary.push_str(&format!(
            "Would restore its groups {} (instead of {}). Nothing was changed (dry run).",
            groups(record),
            record.group
        )),
        (_, Some(failure)) => summary.push_str(&format!("Step \"{}\" failed: {}.", failure.step, failure.error)),
        _ => {}
    }
    let report = Report::new(FUNCTION, UNFENCE, outcome, severity, title)
        .summary(summary)
        .incident(incident(&record.instance.region, id))
        .details(json!({"fence": record, "by": by, "reason": reason, "failure": failure.map(Failure::json)}))
        .steps([format!("Make sure nothing writes to {id} by mistake: it is a separate database now.")]);
    with_error(report, failure)
}

/// A promotion that RDS did not accept, after its fence was made: the fence undone (its groups restored, so
/// that the old primary takes writes again) or, when the restore failed, `critical`: nothing takes writes until
/// a person runs `unfence` (or `promote` again).
pub fn fence_undone(mut report: Report, record: &FenceRecord, why: &str, undone: Result<(), String>) -> Report {
    let id = &record.instance.id;
    report.next_steps.retain(|step| !step.contains("\"unfence\""));
    let sentence = match &undone {
        Ok(()) => format!(
            "{why}, so the fence was undone: {id}'s groups {} are restored (instead of {}) and it takes \
             connections again; {} stays pending: a later promotion away from {id} fences it again.",
            groups(record),
            record.group,
            record.key
        ),
        Err(error) => {
            report.severity = Severity::Critical;
            report.next_steps.insert(
                0,
                format!("Release {id} now unless another instance takes writes: {}.", unfence_command(record)),
            );
            format!(
                "CRITICAL: {why}, and the fence could NOT be undone ({error}): {id} is fenced (only in {}) and no \
                 replica was promoted: nothing takes writes.",
                record.group
            )
        }
    };
    report.summary.push(' ');
    report.summary.push_str(&sentence);
    if let Some(details) = report.details.as_object_mut() {
        details.insert("fence_undone".into(), json!({"restored": undone.is_ok(), "error": undone.err()}));
    }
    report
}

/// A person's forced promotion that went on although the fence could not be made: `critical`, the old
/// primary may still take writes.
pub fn fence_impossible(mut report: Report, p: &Promotion, why: &str) -> Report {
    let id = &p.primary.id;
    let sentence = format!(
        "CRITICAL: {id} was {} and is NOT fenced: the fence could not be made ({why}); the promotion went on \
         because a person forced it. {id} may still take writes: stop it or make it read-only now. ",
        p.primary_status
    );
    let warning = unfenced_warning(p);
    if report.summary.contains(&warning) {
        report.summary = report.summary.replacen(&warning, &sentence, 1);
    } else {
        report.summary.push(' ');
        report.summary.push_str(sentence.trim_end());
    }
    if report.outcome == Outcome::Succeeded {
        report.severity = Severity::Critical;
    }
    report
        .next_steps
        .insert(0, format!("Stop {id} (aws rds stop-db-instance --db-instance-identifier {id}) or make it read-only."));
    if let Some(details) = report.details.as_object_mut() {
        details.insert("fence".into(), json!({"applied": false, "impossible": why}));
    }
    report
}
