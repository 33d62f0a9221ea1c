//! The answer an ARC Region switch plan step expects ([`RegionSwitch`]): Region switch fails a custom action
//! step only when the function returns an error, then pauses the execution until a person retries or skips
//! the step. So a run it invoked answers with an error when its action was refused, failed, did nothing, or was
//! only a dry run that the step's payload did not ask for (the stack's `DRY_RUN=true`: the plan must not go on
//! as if the change had been made) ([`failure`]), and every report of the run names the step and, when the step
//! fails, how to skip it ([`stamp`]). [`crate::invoke::finish_published`] applies both, after publishing as
//! always.

use crate::intake::RegionSwitch;
use crate::outcome::Outcome;
use crate::report::Report;

/// Names the Region switch step in a report; one that fails the step (refused, failed, or a dry run the
/// payload did not ask for) also says how to let the execution go on without the step, once a person has
/// decided that it may.
pub fn stamp(report: &mut Report, origin: &RegionSwitch) {
    report.region_switch = Some(origin.clone());
    let cause = if imposed_dry_run(report, origin) {
        format!("{STACK_DRY_RUN}; {ACT_FOR_REAL}")
    } else if matches!(report.outcome, Outcome::Refused | Outcome::Failed) {
        "fix the cause and retry the step".to_owned()
    } else {
        return;
    };
    report.next_steps.push(format!(
        "Region switch step {} failed and its execution is paused: {cause}, or, once the plan may go on without \
         it, skip it: {}",
        origin.step_name,
        skip_command(origin)
    ));
}

/// Why a dry run the step's payload did not ask for fails the step.
const STACK_DRY_RUN: &str = "the stack runs with DRY_RUN=true, so this was a dry run and nothing was changed";
/// What makes the step act.
const ACT_FOR_REAL: &str =
    "set DRY_RUN=false on the stack (or \"dry_run\": false in the step's payload) and retry the step";

/// A dry run under Region switch that only the stack's `DRY_RUN=true` made ([`RegionSwitch::rehearsal`]).
fn imposed_dry_run(report: &Report, origin: &RegionSwitch) -> bool {
    report.outcome == Outcome::DryRun && !origin.rehearsal
}

/// The step's answer under Region switch, which fails a step only on an error: the outcome and the message of
/// that error ([`crate::invoke::InvokeError::Step`]) when the most telling report was refused or failed, when
/// a report is a dry run the payload did not ask for (`"dry_run": true` absent: the stack's `DRY_RUN=true`),
/// or when every report is a skip (nothing was done, or there was no report) — the plan must not go on as if
/// the change had been made. A success, a rehearsal (a dry run the payload asked for) or information is
/// `None`.
pub fn failure(origin: &RegionSwitch, reports: &[Report]) -> Option<(Outcome, String)> {
    let worst = reports.iter().min_by_key(|r| r.outcome.rank());
    let outcome = worst.map_or(Outcome::Skipped, |r| r.outcome);
    let why = |report: Option<&Report>| {
        report.map_or_else(
            || "no report".to_owned(),
            |r| {
                if r.summary.is_empty() || r.summary == r.title {
                    r.title.clone()
                } else {
                    format!("{}: {}", r.title, r.summary)
                }
            },
        )
    };
    if !matches!(outcome, Outcome::Refused | Outcome::Failed) {
        if let Some(dry) = reports.iter().find(|r| imposed_dry_run(r, origin)) {
            let message = format!(
                "the action was not taken under {}: {STACK_DRY_RUN} ({}). To act, {ACT_FOR_REAL}, or skip it: {}",
                origin.describe(),
                why(Some(dry)),
                skip_command(origin)
            );
            return Some((Outcome::DryRun, message));
        }
    }
    if !matches!(outcome, Outcome::Refused | Outcome::Failed | Outcome::Skipped) {
        return None;
    }
    let what = match outcome {
        Outcome::Skipped => "did nothing",
        other => other.as_str(),
    };
    let message = format!(
        "the action {what} under {}: {}. Retry the step once the cause is fixed, or skip it: {}",
        origin.describe(),
        why(worst),
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
            rehearsal: false,
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
            (vec![report(Outcome::Info)], None),
        ] {
            assert_eq!(failure(&origin(), &reports).map(|(outcome, _)| outcome), failed, "{reports:?}");
        }
    }

    #[test]
    fn a_dry_run_the_payload_asked_for_succeeds_and_one_the_stacks_dry_run_made_fails_the_step() {
        let dry = Report::new("f", "a", Outcome::DryRun, Severity::Info, "would promote r1");
        let rehearsal = RegionSwitch { rehearsal: true, ..origin() };
        assert_eq!(failure(&rehearsal, std::slice::from_ref(&dry)), None, "\"dry_run\": true in the payload");
        for reports in [vec![dry.clone()], vec![dry.clone(), Report::skipped("f", "none", "x")]] {
            let (outcome, message) = failure(&origin(), &reports).expect("the stack's DRY_RUN fails the step");
            assert_eq!(outcome, Outcome::DryRun);
            assert!(message.contains("the stack runs with DRY_RUN=true") && message.contains("nothing was changed"));
            assert!(message.contains("would promote r1") && message.contains("--action-to-take skip"), "{message}");
        }
        let refused = Report::new("f", "a", Outcome::Refused, Severity::Warning, "t");
        assert_eq!(failure(&origin(), &[dry.clone(), refused]).map(|f| f.0), Some(Outcome::Refused), "the worst");
        let mut stamped = dry.clone();
        stamp(&mut stamped, &origin());
        assert!(stamped.next_steps[0].contains("DRY_RUN=false") && stamped.next_steps[0].contains("skip"));
        let mut rehearsed = dry;
        stamp(&mut rehearsed, &rehearsal);
        assert!(rehearsed.next_steps.is_empty());
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
