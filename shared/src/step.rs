//! The answer an ARC Region switch plan step expects ([`RegionSwitch`]): Region switch fails a custom action
//! step only when the function returns an error, then pauses the execution until a person retries or skips
//! the step. So a run it invoked answers with an error when its action was refused, failed or did nothing
//! ([`failure`]), and every report of the run names the step and, when it was refused or failed, how to skip
//! it ([`stamp`]). [`crate::invoke::finish_published`] applies both, after publishing as always.

use crate::intake::RegionSwitch;
use crate::outcome::Outcome;
use crate::report::Report;

/// Names the Region switch step in a report; one that was refused or failed also says how to let the
/// execution go on without the step, once a person has decided that it may.
pub fn stamp(report: &mut Report, origin: &RegionSwitch) {
    report.region_switch = Some(origin.clone());
    if matches!(report.outcome, Outcome::Refused | Outcome::Failed) {
        report.next_steps.push(format!(
            "Region switch step {} failed and its execution is paused: fix the cause and retry the step, or, once \
             the plan may go on without it, skip it: {}",
            origin.step_name,
            skip_command(origin)
        ));
    }
}

/// The step's answer under Region switch, which fails a step only on an error: the outcome and the message of
/// that error ([`crate::invoke::InvokeError::Step`]) when the most telling
/// report was refused or failed, or when every report is a skip (nothing was done, or there was no report) —
/// the plan must not go on as if the change had been made. A success, a dry run or information is `None`.
pub fn failure(origin: &RegionSwitch, reports: &[Report]) -> Option<(Outcome, String)> {
    let worst = reports.iter().min_by_key(|r| r.outcome.rank());
    let outcome = worst.map_or(Outcome::Skipped, |r| r.outcome);
    if !matches!(outcome, Outcome::Refused | Outcome::Failed | Outcome::Skipped) {
        return None;
    }
    let what = match outcome {
        Outcome::Skipped => "did nothing",
        other => other.as_str(),
    };
    let why = worst.map_or_else(
        || "no report".to_owned(),
        |r| {
            if r.summary.is_empty() || r.summary == r.title {
                r.title.clone()
            } else {
                format!("{}: {}", r.title, r.summary)
            }
        },
    );
    let message = format!(
        "the action {what} under {}: {why}. Retry the step once the cause is fixed, or skip it: {}",
        origin.describe(),
        skip_command(origin)
    );
    Some((outcome, message))
}

/// The command that lets a paused Region switch execution go on past its failed step (`UpdatePlanExecutionStep`
/// with `actionToTake` `skip`).
pub fn skip_command(origin: &RegionSwitch) -> String {
    let quote = crate::notify::shell_quote;
    format!(
        "aws arc-region-switch update-plan-execution-step --plan-arn {} --execution-id {} --step-name {} \
         --action-to-take skip --comment {}",
        quote(&origin.plan_arn),
        quote(&origin.execution_id),
        quote(&origin.step_name),
        quote("checked the failover notification"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Severity;

    fn origin() -> RegionSwitch {
        RegionSwitch {
            invoked_by: "ARC Region switch".into(),
            plan_arn: "arn:aws:arc-region-switch::123456789012:plan/shop:a1b2c3".into(),
            execution_id: "e-1".into(),
            step_name: "db step".into(),
        }
    }

    #[test]
    fn the_skip_command_names_the_step_quoted_for_a_shell() {
        let command = skip_command(&origin());
        assert!(command.starts_with("aws arc-region-switch update-plan-execution-step --plan-arn arn:"), "{command}");
        assert!(command.contains("--execution-id e-1 --step-name 'db step' --action-to-take skip"), "{command}");
    }

    #[test]
    fn only_refusals_failures_and_runs_that_did_nothing_fail_the_step() {
        let report = |outcome| Report::new("f", "a", outcome, Severity::Warning, "t");
        for (reports, failed) in [
            (vec![report(Outcome::Refused)], Some(Outcome::Refused)),
            (vec![report(Outcome::Succeeded), report(Outcome::Failed)], Some(Outcome::Failed)),
            (vec![Report::skipped("f", "none", "x")], Some(Outcome::Skipped)),
            (vec![], Some(Outcome::Skipped)),
            (vec![report(Outcome::Succeeded), Report::skipped("f", "none", "x")], None),
            (vec![report(Outcome::DryRun)], None),
            (vec![report(Outcome::Info)], None),
        ] {
            assert_eq!(failure(&origin(), &reports).map(|(outcome, _)| outcome), failed, "{reports:?}");
        }
    }

    #[test]
    fn a_refused_or_failed_report_says_how_to_skip_the_step_and_others_only_name_it() {
        let mut refused = Report::new("f", "a", Outcome::Refused, Severity::Warning, "t");
        stamp(&mut refused, &origin());
        assert_eq!(refused.region_switch, Some(origin()));
        assert!(refused.next_steps[0].contains("--action-to-take skip"), "{:?}", refused.next_steps);
        let mut done = Report::new("f", "a", Outcome::Succeeded, Severity::Warning, "t");
        stamp(&mut done, &origin());
        assert_eq!((done.region_switch, done.next_steps.len()), (Some(origin()), 0));
    }
}
