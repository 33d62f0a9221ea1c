//! The notification texts the actions share, and the action names. Each action module writes its own titles
//! and summaries with these helpers; [`stamp`] gives every report its incident and trigger at the end.

use failover_core::aws::AwsError;
use failover_core::fault::Fault;
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use crate::decide::{AlarmWould, Counts, Kept, Plan, WeightChange};
use crate::model::{group_name, group_suffix, Location, Tags, Weight, BACKUP_TAG};
use crate::FUNCTION;

/// Action names, as the notifications' `action` attribute carries them.
pub mod action {
    pub const DEREGISTER: &str = "deregister-targets";
    pub const REGISTER: &str = "register-targets";
    pub const SHIFT: &str = "shift-traffic";
    pub const FAILBACK: &str = "failback";
    pub const STATUS: &str = "status";
    /// An incident's steps and durations (the `timeline` command).
    pub const TIMELINE: &str = failover_core::timeline::TIMELINE;
    /// A zonal shift started, refused, or deferred to someone else's.
    pub const ZONAL_SHIFT: &str = "zonal-shift";
    /// A zonal shift this function started, cancelled (the zone returns).
    pub const CANCEL_ZONAL_SHIFT: &str = "cancel-zonal-shift";
    /// Removed instances handed to their Auto Scaling group for replacement (`REPLACE_INSTANCES`).
    pub const SET_INSTANCE_HEALTH: &str = "set-instance-health";
    pub const PAUSE: &str = failover_core::pause::PAUSE;
    pub const RESUME: &str = failover_core::pause::RESUME;
    /// Work on no particular group: listing or tagging groups failed.
    pub const ALARM: &str = "handle-alarm";
    /// A skip that is about no action.
    pub const NONE: &str = "none";
}

/// A report about one group (its ARN is the report's resource).
pub fn about(group: &str, action: &str, outcome: Outcome, severity: Severity, title: impl Into<String>) -> Report {
    Report::new(FUNCTION, action, outcome, severity, title).resources([group.to_owned()])
}

/// Nothing to do, and why: logged, not notified.
pub fn skipped(group: Option<&str>, action: &str, reason: impl Into<String>) -> Report {
    Report::skipped(FUNCTION, action, reason).resources(group.map(str::to_owned))
}

/// Every report of an invocation gets its incident (`target-failover/targetgroup/<name>/<id>`,
/// `target-failover/loadbalancer/app/<name>/<id>` for a load balancer's zones, or `target-failover/<trigger>` when
/// about no resource) and `details.trigger`.
pub fn stamp(trigger: &str, reports: Vec<Report>) -> Vec<Report> {
    reports
        .into_iter()
        .map(|mut report| {
            let incident = match report.resources.first() {
                Some(arn) => group_suffix(arn)
                    .or_else(|| arn.find(":loadbalancer/").map(|i| &arn[i + 1..]))
                    .unwrap_or(arn)
                    .to_owned(),
                None => trigger.to_owned(),
            };
            report.incident_id = format!("{FUNCTION}/{incident}");
            if let Some(details) = report.details.as_object_mut() {
                details.insert("trigger".into(), Value::String(trigger.to_owned()));
            }
            report
        })
        .collect()
}

/// A manual command as a person sends it, e.g. `{"command":"status","target_group_arn":"..."}`.
pub fn command(name: &str, arn: &str) -> Value {
    json!({"command": name, "target_group_arn": arn})
}

/// A failed AWS call: notified as critical; retried by Lambda when transient.
pub fn failed(group: Option<&str>, action: &str, error: &AwsError, doing: &str) -> Report {
    let name = group.map_or(FUNCTION, group_name);
    let steps = if error.transient {
        retried()
    } else {
        vec![format!(
            "Not retried: check the function's IAM permissions for {} and the resource, then act by hand.",
            error.operation
        )]
    };
    Report::new(FUNCTION, action, Outcome::Failed, Severity::Critical, format!("{name}: {doing} failed"))
        .resources(group.map(str::to_owned))
        .summary(format!("{} on {} failed: {}", error.operation, error.resource, error.message))
        .details(json!({"operation": error.operation, "resource": error.resource, "code": error.code,
                        "transient": error.transient}))
        .steps(steps)
        .error(error.clone())
}

/// A fault that is not only an AWS failure: a group that stayed busy is a skip that Lambda retries; a lost
/// lease, a failed report naming it; an AWS failure, [`failed`].
pub fn fault(group: Option<&str>, action: &str, fault: &Fault, doing: &str) -> Report {
    match fault {
        Fault::Aws(error) => failed(group, action, error, doing),
        Fault::Busy { .. } => {
            failover_core::report::busy(FUNCTION, action, fault.clone()).resources(group.map(str::to_owned))
        }
        // A lost lease (or any other ledger fault): the ledger write that found it, as an AWS failure reads.
        other => {
            let name = group.map_or(FUNCTION, group_name);
            let (operation, resource) = ("TransactWriteItems", other.resource());
            Report::new(FUNCTION, action, Outcome::Failed, Severity::Critical, format!("{name}: {doing} failed"))
                .resources(group.map(str::to_owned))
                .summary(format!("{operation} on {resource} failed: {other}"))
                .details(json!({"operation": operation, "resource": resource, "code": other.code(),
                                "transient": other.retry()}))
                .steps(retried())
                .error(other.clone())
        }
    }
}

/// What happens after a failure that Lambda retries.
fn retried() -> Vec<String> {
    vec![
        "Lambda retries the event (twice by default); repeats are harmless.".to_owned(),
        "If the retries fail too, the event lands in the dead-letter queue: act by hand.".to_owned(),
    ]
}

/// The guardrail forbade a change: what it kept, and how to get out of the situation.
pub fn refusal(
    arn: &str,
    intent: &str,
    severity: Severity,
    reason: &str,
    kept: &[Kept],
    counts: Option<Counts>,
    tags: &Tags,
) -> Report {
    let name = group_name(arn);
    let title = if kept.is_empty() {
        format!("{name}: change refused")
    } else {
        format!("{name}: kept {} in service", count(kept.len(), "failing target"))
    };
    let mut steps = Vec::new();
    if let Some(c) = counts {
        steps.push(format!(
            "Add capacity (scale out) so {name} has at least {} healthy targets; it has {}.",
            c.required(),
            c.healthy
        ));
    }
    if !kept.is_empty() {
        steps.push(format!(
            "Investigate {}; remove them by hand only if you accept the risk.",
            join(kept.iter().map(|k| &k.target))
        ));
    }
    if !tags.contains_key(BACKUP_TAG) && intent != action::FAILBACK {
        steps.push(format!("Tag {name} with {BACKUP_TAG}=<ARN of a standby group> so its traffic can move next time."));
    }
    steps.push(format!("Watch the group's health and what an alarm would do now: {}", command("status", arn)));
    let kept_list = join(kept.iter().map(|k| format!("{} ({}): {}", k.target, k.state.as_str(), k.why)));
    let summary = if kept.is_empty() { format!("{reason}.") } else { format!("{reason}. Kept: {kept_list}.") };
    about(arn, intent, Outcome::Refused, severity, title)
        .summary(summary)
        .details(json!({"reason": reason, "counts": counts, "kept_targets": kept}))
        .steps(steps)
}

/// What an alarm on the group would do now, in words (`status`'s `alarm_now_would`).
pub fn alarm_now_would(plan: &Plan, would: &AlarmWould, opt_in_key: &str) -> String {
    match would {
        AlarmWould::Plan => describe_plan(plan),
        AlarmWould::RefuseNotOptedIn(left_out) => format!("refuse: {}", not_opted_in_text(opt_in_key, left_out)),
        AlarmWould::ShiftLeavingOut(left_out) => {
            format!("{}, leaving out {}", describe_plan(plan), not_opted_in_text(opt_in_key, left_out))
        }
    }
}

fn describe_plan(plan: &Plan) -> String {
    match plan {
        Plan::Deregister { targets, kept, .. } => {
            let mut text = format!("deregister {}", join(targets.iter().map(|t| &t.target)));
            if !kept.is_empty() {
                text.push_str(&format!(" and keep {} (floor)", join(kept.iter().map(|k| &k.target))));
            }
            text
        }
        Plan::ShiftTraffic { backup, .. } => format!("shift its traffic to {backup}"),
        Plan::Failback { .. } => "fail back".to_owned(),
        Plan::Skip { reason } => format!("nothing ({reason})"),
        Plan::Refuse { reason, .. } => format!("refuse: {reason}"),
    }
}

/// `listener <arn> from [web=1] to [web=0 web-dr=1], ...`
pub fn describe_changes(changes: &[WeightChange]) -> String {
    join(changes.iter().map(|c| {
        let weights = |ws: &[Weight]| {
            ws.iter().map(|w| format!("{}={}", group_name(&w.group_arn), w.weight)).collect::<Vec<_>>().join(" ")
        };
        format!("{} from [{}] to [{}]", c.location, weights(&c.before), weights(&c.after))
    }))
}

/// The command that opts listeners or rules in.
pub fn add_tag_step(opt_in_key: &str, locations: &[Location]) -> String {
    format!(
        "Tag {} with the opt-in tag: aws elbv2 add-tags --resource-arns {} --tags Key={opt_in_key},Value=true",
        if locations.len() == 1 { "it" } else { "them" },
        locations.iter().map(Location::arn).collect::<Vec<_>>().join(" "),
    )
}

/// `listener <arn>, rule <arn>` and why they are left out.
pub fn not_opted_in_text(opt_in_key: &str, locations: &[Location]) -> String {
    format!(
        "{} (not tagged {opt_in_key}=true, so IAM forbids the function to change {})",
        join(locations.iter()),
        if locations.len() == 1 { "it" } else { "them" }
    )
}

pub fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

/// `1 target`, `2 targets`.
pub fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
