//! The pause switch both functions share: the `pause` and `resume` manual commands, and the refusal every other
//! change meets while automation is paused. This is the switch an on-call engineer reaches for first when
//! automation misbehaves, so its reports say who paused, why and when, and how to resume.

use serde_json::json;

use crate::aws::AwsError;
use crate::ledger::{Ledger, Pause};
use crate::outcome::{Outcome, Severity};
use crate::report::Report;
use crate::time::format_time;

pub const PAUSE: &str = "pause";
pub const RESUME: &str = "resume";

/// `paused by <by> (<reason>) at <time>`.
pub fn describe(pause: &Pause) -> String {
    let reason = if pause.reason.is_empty() { String::new() } else { format!(" ({})", pause.reason) };
    format!("paused by {}{reason} at {}", pause.by, format_time(pause.at))
}

fn resume_command() -> String {
    json!({"command": RESUME}).to_string()
}

/// The refusal of a change while paused: planned, notified, nothing changed.
pub fn refused(function: &str, action: &str, resource: &str, pause: &Pause, planned: &str) -> Report {
    Report::new(
        function,
        action,
        Outcome::Refused,
        Severity::Warning,
        format!("{resource}: not changed, automation is paused"),
    )
    .summary(format!("Automation is {}. It would have done this: {planned}. Nothing was changed.", describe(pause)))
    .details(json!({"paused": pause, "planned": planned}))
    .resources([resource.to_owned()])
    .steps([
        format!("Resume automation with the manual command {}", resume_command()),
        "Or act by hand; a manual command acts while paused only with \"force\": true.".to_owned(),
    ])
}

/// `pause`: writes the pause item. `by` and `reason` come from the command (both optional).
pub async fn pause<L: Ledger>(
    ledger: &L,
    function: &str,
    by: Option<&str>,
    reason: Option<&str>,
    now: i64,
) -> Result<Report, AwsError> {
    let pause = Pause {
        by: by.unwrap_or("a manual command").to_owned(),
        reason: reason.unwrap_or_default().to_owned(),
        at: now,
    };
    ledger.pause(&pause).await?;
    Ok(Report::new(function, PAUSE, Outcome::Succeeded, Severity::Warning, "automation paused")
        .summary(format!(
            "Automation is {}: every alarm and event is still planned and notified, as refused, and nothing is \
             changed until it resumes. Both functions of this stack share the switch.",
            describe(&pause)
        ))
        .details(json!({"paused": pause}))
        .steps([format!("Resume with the manual command {}", resume_command())]))
}

/// `resume`: removes the pause item.
pub async fn resume<L: Ledger>(ledger: &L, function: &str) -> Result<Report, AwsError> {
    let was = ledger.paused().await?;
    let resumed = ledger.resume().await?;
    let (title, summary) = match (&was, resumed) {
        (Some(pause), true) => (
            "automation resumed".to_owned(),
            format!("Automation was {}; it acts on alarms and events again.", describe(pause)),
        ),
        _ => ("automation was not paused".to_owned(), "Automation was not paused; nothing changed.".to_owned()),
    };
    Ok(Report::new(function, RESUME, Outcome::Succeeded, Severity::Info, title)
        .summary(summary)
        .details(json!({"was_paused": was})))
}
