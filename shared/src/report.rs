//! What one piece of work came to ([`Report`]), built the same way by both functions, and the port through
//! which reports are published ([`Notifier`]). [`crate::invoke::finish`] ends an invocation with them.

use std::future::Future;

use serde::Serialize;
use serde_json::{json, Value};

use crate::fault::Fault;
use crate::intake::RegionSwitch;
use crate::outcome::{Outcome, Severity};

/// One report: a decision, its outcome and the numbers behind it. Published as a notification unless
/// skipped. Text fields are plain text: the Chatbot renderer escapes them for markdown.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `target-failover` or `database-failover`.
    pub function: String,
    /// What was done or considered, in kebab case: `deregister-targets`, `promote-replica`, `status`.
    pub action: String,
    pub outcome: Outcome,
    pub severity: Severity,
    /// One line, e.g. `web: 2 targets deregistered`.
    pub title: String,
    /// A few sentences: what happened and why, with the numbers.
    pub summary: String,
    /// Keeps one incident in one chat thread: the same for every notification about one failing resource.
    pub incident_id: String,
    /// ARNs or identifiers of what was acted on.
    pub resources: Vec<String>,
    /// The numbers behind the decision, as structured data.
    pub details: Value,
    /// What a person should do now.
    pub next_steps: Vec<String>,
    /// What stopped the work: the AWS failure behind a `failed` report, or why a later run resolves it (a busy
    /// resource, a promotion in progress). One that [`Fault::retry`]s makes the invocation return an error, so
    /// that Lambda retries the event.
    #[serde(skip)]
    pub error: Option<Fault>,
    /// The ARC Region switch step that invoked the run, if one did: every notification of the run names it
    /// (set for all of an invocation's reports by [`crate::invoke::finish_owing`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_switch: Option<RegionSwitch>,
}

impl Report {
    pub fn new(function: &str, action: &str, outcome: Outcome, severity: Severity, title: impl Into<String>) -> Self {
        Report {
            function: function.to_owned(),
            action: action.to_owned(),
            outcome,
            severity,
            title: title.into(),
            summary: String::new(),
            incident_id: String::new(),
            resources: Vec::new(),
            details: json!({}),
            next_steps: Vec::new(),
            error: None,
            region_switch: None,
        }
    }

    /// Nothing to do, and why: logged, never published.
    pub fn skipped(function: &str, action: &str, reason: impl Into<String>) -> Self {
        let reason = reason.into();
        let mut report = Report::new(function, action, Outcome::Skipped, Severity::Info, reason.clone());
        report.summary = reason;
        report.details = Value::Null;
        report
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

    pub fn incident(mut self, incident_id: impl Into<String>) -> Self {
        self.incident_id = incident_id.into();
        self
    }

    pub fn resources(mut self, resources: impl IntoIterator<Item = String>) -> Self {
        self.resources = resources.into_iter().collect();
        self
    }

    /// What stopped the work behind this report.
    pub fn error(mut self, error: impl Into<Fault>) -> Self {
        self.error = Some(error.into());
        self
    }

    /// A retry could change the outcome: the invocation returns an error so that Lambda retries the event.
    pub fn retry(&self) -> bool {
        self.error.as_ref().is_some_and(Fault::retry)
    }

    /// The resource to name in logs: the first one, or `-`.
    pub fn resource(&self) -> &str {
        self.resources.first().map_or("-", String::as_str)
    }
}

/// The wait budget ran out while another invocation held or changed the resource ([`Fault::Busy`]): a skip (no
/// notification) carrying the fault, so that Lambda retries the event later, on fresh facts.
pub fn busy(function: &str, action: &str, fault: Fault) -> Report {
    let reason = match &fault {
        Fault::Busy { resource, holder, .. } => {
            let by = holder.as_ref().map_or_else(String::new, |h| format!(" ({h})"));
            format!("{resource} is busy: another invocation{by} is changing it; retried later")
        }
        other => other.to_string(),
    };
    Report::skipped(function, action, reason).error(fault)
}

#[derive(Debug, thiserror::Error)]
#[error("publishing notification {action:?} to {topic_arn}")]
pub struct NotifyError {
    pub action: String,
    pub topic_arn: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

/// The port through which the functions tell people what happened: one published message per report.
pub trait Notifier {
    fn publish(&self, report: &Report) -> impl Future<Output = Result<(), NotifyError>> + Send;
}

/// A notifier shared with the test or code that reads what it kept.
impl<N: Notifier + Sync> Notifier for &N {
    fn publish(&self, report: &Report) -> impl Future<Output = Result<(), NotifyError>> + Send {
        (**self).publish(report)
    }
}

impl<N: Notifier + Sync + Send> Notifier for std::sync::Arc<N> {
    fn publish(&self, report: &Report) -> impl Future<Output = Result<(), NotifyError>> + Send {
        (**self).publish(report)
    }
}
