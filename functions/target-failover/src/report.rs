//! What happened to one group, as data ([`Report`]), and how it becomes a notification and a response.

use failover_core::notify::Severity;
use failover_core::outcome::Outcome as Status;
use failover_core::report::Report as Notification;
use failover_core::response::Response;
use serde_json::{json, Value};

use crate::model::group_suffix;
use crate::FUNCTION;

/// Action names, as the notifications' `action` attribute carries them.
pub mod action {
    pub const DEREGISTER: &str = "deregister-targets";
    pub const REGISTER: &str = "register-targets";
    pub const SHIFT: &str = "shift-traffic";
    pub const FAILBACK: &str = "failback";
    pub const STATUS: &str = "status";
    /// Work on no particular group: listing or tagging groups failed.
    pub const ALARM: &str = "handle-alarm";
}

/// The outcome for one group (or for the whole invocation when `group` is `None`).
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub group: Option<String>,
    pub action: &'static str,
    pub status: Status,
    pub severity: Severity,
    pub title: String,
    pub summary: String,
    pub details: Value,
    pub next_steps: Vec<String>,
    /// A transient AWS failure: the invocation returns an error so that Lambda retries it.
    pub retry: bool,
}

impl Report {
    pub fn skipped(group: Option<&str>, action: &'static str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        Report {
            group: group.map(str::to_owned),
            action,
            status: Status::Skipped,
            severity: Severity::Info,
            title: reason.clone(),
            summary: reason,
            details: Value::Null,
            next_steps: Vec::new(),
            retry: false,
        }
    }

    pub fn new(group: &str, action: &'static str, status: Status, severity: Severity, title: String) -> Self {
        Report {
            group: Some(group.to_owned()),
            action,
            status,
            severity,
            title,
            summary: String::new(),
            details: json!({}),
            next_steps: Vec::new(),
            retry: false,
        }
    }

    pub fn summary(mut self, summary: impl Into<String>) -> Self {
        self.summary = summary.into();
        self
    }

    pub fn details(mut self, details: Value) -> Self {
        self.details = details;
        self
    }

    pub fn steps(mut self, steps: impl IntoIterator<Item = String>) -> Self {
        self.next_steps = steps.into_iter().collect();
        self
    }

    /// The notification for this report; `None` for skips, which are only logged.
    pub fn notification(&self, trigger: &str) -> Option<Notification> {
        if self.status == Status::Skipped {
            return None;
        }
        let outcome = self.status;
        let mut details = self.details.clone();
        if let Some(object) = details.as_object_mut() {
            object.insert("trigger".into(), Value::String(trigger.to_owned()));
        }
        let incident = match &self.group {
            Some(group) => group_suffix(group).unwrap_or(group).to_owned(),
            None => trigger.to_owned(),
        };
        Some(Notification {
            function: FUNCTION.to_owned(),
            action: self.action.to_owned(),
            outcome,
            severity: self.severity,
            title: self.title.clone(),
            summary: self.summary.clone(),
            incident_id: format!("{FUNCTION}/{incident}"),
            resources: self.group.iter().cloned().collect(),
            details,
            next_steps: self.next_steps.clone(),
            error: None,
        })
    }
}

/// Most telling first: a failure outweighs a refusal, which outweighs a change, and so on.
fn rank(status: Status) -> u8 {
    match status {
        Status::Failed => 0,
        Status::Refused => 1,
        Status::Succeeded => 2,
        Status::DryRun => 3,
        Status::Info => 4,
        Status::Skipped => 5,
    }
}

/// One response for all the reports of an invocation.
pub fn response(reports: &[Report]) -> Response {
    let mut ordered: Vec<&Report> = reports.iter().collect();
    ordered.sort_by_key(|r| rank(r.status));
    let Some(first) = ordered.first() else { return Response::of(FUNCTION, &[]) };
    if reports.len() == 1 {
        return Response {
            function: FUNCTION,
            status: first.status,
            action: first.action.to_owned(),
            message: first.title.clone(),
            summary: String::new(),
            details: json!({"group": first.group, "summary": first.summary, "details": first.details}),
        };
    }
    let groups: Vec<Value> = reports
        .iter()
        .map(|r| json!({"group": r.group, "action": r.action, "status": r.status, "message": r.title}))
        .collect();
    let acted: Vec<&str> = ordered.iter().filter(|r| r.status != Status::Skipped).map(|r| r.title.as_str()).collect();
    let message = if acted.is_empty() {
        format!("{} groups, nothing to do: {}", reports.len(), first.title)
    } else {
        acted.join("; ")
    };
    Response {
        function: FUNCTION,
        status: first.status,
        action: first.action.to_owned(),
        message,
        summary: String::new(),
        details: json!({ "groups": groups }),
    }
}
