//! The texts of the approval gate: a decision asked of a person (with the exact approve command), refused,
//! rejected.

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::{incident, with_error, Failure};
use crate::model::Approval;
use crate::FUNCTION;

pub const APPROVE: &str = "approve";
pub const REJECT: &str = "reject";

fn thread(resource: &str) -> String {
    incident("global", resource.strip_prefix("global-cluster:").unwrap_or(resource))
}

/// A decision that needs a person: what, why, the loss window, the expiry and the exact commands.
pub fn approval_asked(a: &Approval, cause: &str, dry_run: bool) -> Report {
    let (outcome, title) = if dry_run {
        (Outcome::DryRun, format!("dry run: would ask for approval to {}", a.action.describe()))
    } else {
        (Outcome::Refused, format!("approval needed: {}", a.action.describe()))
    };
    Report::new(FUNCTION, APPROVE, outcome, Severity::Critical, title)
        .summary(format!(
            "Trigger: {cause}. {}. Not done alone: decision {} waits for a person until {} (APPROVAL_TTL_MINUTES). \
             Approving re-checks every guard before acting.",
            a.reason,
            a.id,
            crate::model::format_time(a.expires_at)
        ))
        .incident(thread(&a.resource))
        .details(json!({"decision": a.id, "action": a.action, "loss_window_ms": a.loss_ms, "metric": a.metric,
            "expires_at": a.expires_at, "approve": a.approve_command(), "reject": a.reject_command(),
            "recorded": !dry_run}))
        .steps([
            format!("To approve: invoke database-failover with {}", a.approve_command()),
            format!("To reject: invoke database-failover with {}", a.reject_command()),
        ])
}

/// The decision could not be recorded: nothing was asked, and the retry asks again.
pub fn approval_not_recorded(a: &Approval, failure: &Failure) -> Report {
    let report = Report::new(
        FUNCTION,
        APPROVE,
        Outcome::Failed,
        Severity::Critical,
        format!("not asked: {}", a.action.describe()),
    )
    .summary(format!("{}. Recording the decision failed ({}): nothing was changed.", a.reason, failure.error))
    .incident(thread(&a.resource))
    .details(json!({"action": a.action, "failure": failure.json()}));
    with_error(report, Some(failure))
}

/// `approve` or `reject` of a decision that cannot be settled: unknown, expired, already settled.
pub fn approval_refused(id: &str, reason: &str) -> Report {
    Report::new(FUNCTION, APPROVE, Outcome::Refused, Severity::Warning, format!("decision {id} not approved"))
        .summary(format!("{reason}."))
        .details(json!({"decision": id, "reason": reason}))
}

/// `approve` or `reject` (`action`) could not read what it needs (the decision's ledger, or the approved action's
/// facts): nothing was changed; a transient error is retried.
pub fn approval_failed(id: &str, action: &'static str, error: failover_core::fault::Fault) -> Report {
    Report::new(
        FUNCTION,
        action,
        Outcome::Failed,
        Severity::Critical,
        format!("decision {id}: {action} not carried out"),
    )
    .summary(format!("What `{action}` needs could not be read ({error}). Nothing was changed."))
    .details(json!({"decision": id, "error": error.to_string()}))
    .error(error)
}

/// `reject`: the decision is closed.
pub fn approval_rejected(a: &Approval, by: &str, dry_run: bool) -> Report {
    let (outcome, title) = if dry_run {
        (Outcome::DryRun, format!("dry run: would reject decision {}", a.id))
    } else {
        (Outcome::Info, format!("decision {} rejected by {by}", a.id))
    };
    Report::new(FUNCTION, REJECT, outcome, Severity::Info, title)
        .summary(format!("{by} rejected: {}. It can no longer be approved; nothing was changed.", a.action.describe()))
        .incident(thread(&a.resource))
        .details(json!({"decision": a.id, "action": a.action, "by": by}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_approval_that_could_not_be_carried_out_is_told_under_its_own_action() {
        let fault = failover_core::fault::Fault::Busy {
            resource: "global-cluster:shop".into(),
            holder: None,
            waited: std::time::Duration::ZERO,
        };
        for action in [APPROVE, REJECT] {
            let report = approval_failed("global-cluster:shop#global#1", action, fault.clone());
            assert_eq!(report.action, action);
            assert_eq!(report.outcome, Outcome::Failed);
        }
    }
}
