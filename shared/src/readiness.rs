//! What both functions' `readiness` command reports: each [`Gap`] a failover would meet, with the `aws` CLI
//! line that closes it, in one notification ([`report`]): `info` when there is none, `warning` otherwise. A
//! check that could not be made is a gap of kind `unknown` ([`unknown`]), so a run that meets an AWS error
//! still reports everything else. The response's `details.gaps` is the count (unknowns included).

use serde::Serialize;
use serde_json::json;

use crate::aws::AwsError;
use crate::outcome::{Outcome, Severity};
use crate::report::Report;

/// The action name, as notifications and responses carry it.
pub const READINESS: &str = "readiness";

/// One thing a failover would need and does not have.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// Stable, kebab case: `backup-missing`, `no-eligible-replica`, `unknown`...
    pub kind: &'static str,
    /// The ARN or identifier the gap is on.
    pub resource: String,
    /// What is wrong, with the numbers.
    pub problem: String,
    /// The `aws ...` command that closes it.
    pub fix: String,
}

/// A check that could not be made: `<name>: unknown (error <code>: <message>) while <doing>`, fixed by running
/// the failed read by hand (`cli`) once the cause (often IAM) is found.
pub fn unknown(resource: &str, name: &str, doing: &str, error: &AwsError, cli: &str) -> Gap {
    let code = error.code.as_deref().unwrap_or("unknown");
    Gap {
        kind: "unknown",
        resource: resource.to_owned(),
        problem: format!("{name}: unknown (error {code}: {}) while {doing}", short(&error.message)),
        fix: format!(
            "{cli}   # check the function's IAM permissions for {}, then run readiness again",
            error.operation
        ),
    }
}

/// `DRY_RUN=true`: the function plans and notifies, and no failover will change anything. Deliberate in a first
/// rollout, and still a gap: until it is switched off, nothing is protected.
pub fn dry_run(function: &str) -> Gap {
    Gap {
        kind: "dry-run",
        resource: function.to_owned(),
        problem: format!("{function} runs with DRY_RUN=true (dry run: nothing will be changed)"),
        fix: "sam deploy --config-env <env> --parameter-overrides DryRun=false   # the stack's other parameters keep \
              their values"
            .to_owned(),
    }
}

/// The error's own words, without the debug dump of the whole SDK error that [`crate::aws::describe`] appends,
/// and at most 300 characters: one line per resource in the notification.
fn short(message: &str) -> String {
    const DUMPS: [&str; 5] =
        [" (ServiceError(", " (DispatchFailure(", " (TimeoutError(", " (ResponseError(", " (ConstructionFailure("];
    let end = DUMPS.iter().filter_map(|d| message.find(d)).min().unwrap_or(message.len());
    let words = &message[..end];
    match words.char_indices().nth(300) {
        Some((cut, _)) => format!("{}…", &words[..cut]),
        None => words.to_owned(),
    }
}

/// The one notification of a run that checked `checked` (e.g. `3 opted-in target groups`): `info` and what
/// was verified (`ready`) when there is no gap; `warning` listing each gap and its fix otherwise (each fix
/// once in the next steps). `extra` goes into the details beside `gaps`, `unknown` and `findings`. The run's
/// gap count (unknowns included) is also the metric `ReadinessGaps` (an EMF line, 0 when ready), so an alarm
/// can watch it.
pub fn report(function: &str, checked: &str, ready: &str, gaps: Vec<Gap>, extra: serde_json::Value) -> Report {
    crate::metrics::emit_count(function, "ReadinessGaps", gaps.len() as u64);
    let unknown = gaps.iter().filter(|g| g.kind == "unknown").count();
    let (severity, title, summary) = if gaps.is_empty() {
        (Severity::Info, format!("{function}: ready ({checked} checked)"), ready.to_owned())
    } else {
        let lines: Vec<String> = gaps.iter().map(|g| format!("- {}. Fix: {}", g.problem, g.fix)).collect();
        let noun = if gaps.len() == 1 { "gap" } else { "gaps" };
        let title = format!("{function}: {} readiness {noun} in {checked}", gaps.len());
        (Severity::Warning, title, format!("A failover would not go as planned:\n{}", lines.join("\n")))
    };
    let mut steps: Vec<String> = Vec::new();
    for gap in &gaps {
        if !steps.contains(&gap.fix) {
            steps.push(gap.fix.clone());
        }
    }
    let mut details = json!({"gaps": gaps.len(), "unknown": unknown, "findings": gaps});
    if let (Some(details), Some(extra)) = (details.as_object_mut(), extra.as_object()) {
        details.extend(extra.clone());
    }
    Report::new(function, READINESS, Outcome::Info, severity, title).summary(summary).details(details).steps(steps)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(kind: &'static str, fix: &str) -> Gap {
        Gap { kind, resource: "r".into(), problem: "p".into(), fix: fix.into() }
    }

    #[test]
    fn no_gap_is_info_and_gaps_are_a_warning_with_each_fix_once() {
        let ready = report("f", "2 things", "all good", Vec::new(), json!({"checked": 2}));
        assert_eq!(
            (ready.severity, ready.outcome, ready.details["gaps"].clone()),
            (Severity::Info, Outcome::Info, json!(0))
        );
        assert_eq!(ready.details["checked"], 2);
        let gaps = vec![gap("a", "aws x"), gap("unknown", "aws x"), gap("b", "aws y")];
        let warning = report("f", "2 things", "all good", gaps, json!({}));
        assert_eq!(warning.severity, Severity::Warning);
        assert_eq!((warning.details["gaps"].clone(), warning.details["unknown"].clone()), (json!(3), json!(1)));
        assert_eq!(warning.next_steps, ["aws x", "aws y"]);
        assert_eq!(warning.action, READINESS);
    }

    #[test]
    fn a_dry_run_is_a_gap_that_says_nothing_will_be_changed() {
        let gap = dry_run("f");
        assert_eq!((gap.kind, gap.resource.as_str()), ("dry-run", "f"));
        assert!(gap.problem.contains("dry run: nothing will be changed"), "{}", gap.problem);
        assert!(gap.fix.starts_with("sam deploy --config-env <env> --parameter-overrides DryRun=false"));
    }

    #[test]
    fn an_unknown_names_the_code_and_the_words_of_the_error_without_the_dump() {
        let error = AwsError {
            operation: "DescribeThing",
            resource: "r".into(),
            code: Some("AccessDenied".into()),
            transient: false,
            message: "service error: denied (ServiceError(ServiceError { raw: ... }))".into(),
        };
        let gap = unknown("arn", "web", "reading it", &error, "aws elbv2 describe-thing");
        assert_eq!(gap.problem, "web: unknown (error AccessDenied: service error: denied) while reading it");
        assert!(gap
            .fix
            .starts_with("aws elbv2 describe-thing   # check the function's IAM permissions for DescribeThing"));
    }
}
