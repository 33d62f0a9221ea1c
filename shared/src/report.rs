//! What one piece of work came to ([`Report`]), built the same way by both functions, and [`finish`], the one
//! way an invocation ends: log every report, publish those people must see, and return an error only when a
//! retry can help.

use serde::Serialize;
use serde_json::{json, Value};

use crate::aws::AwsError;
use crate::invoke::InvokeError;
use crate::notify::{Notifier, Severity};
use crate::outcome::Outcome;
use crate::response::Response;

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
    /// The AWS failure behind a `failed` report. A transient one makes the invocation return an error, so
    /// that Lambda retries the event.
    #[serde(skip)]
    pub error: Option<AwsError>,
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

    /// The AWS failure behind this report.
    pub fn error(mut self, error: AwsError) -> Self {
        self.error = Some(error);
        self
    }

    /// A retry could change the outcome: the invocation returns an error so that Lambda retries the event.
    pub fn retry(&self) -> bool {
        self.error.as_ref().is_some_and(|e| e.transient)
    }

    /// The resource to name in logs: the first one, or `-`.
    fn resource(&self) -> &str {
        self.resources.first().map_or("-", String::as_str)
    }
}

/// Ends an invocation: logs one line per report, publishes every report that is not a skip (a failed publish
/// is logged, never fatal: the AWS change is what matters, and a retry would find it made and publish
/// nothing), then answers. The answer is an error if, and only if, some report carries a transient AWS
/// failure; the failure was published first.
pub async fn finish<N: Notifier>(
    notifier: &N,
    function: &'static str,
    reports: Vec<Report>,
) -> Result<Response, InvokeError> {
    for report in &reports {
        log(report);
        if report.outcome.notified() {
            if let Err(e) = notifier.publish(report).await {
                tracing::error!(error = %crate::aws::describe(&e), action = %report.action, "notification not published");
            }
        }
    }
    if let Some(failed) = reports.iter().find(|r| r.retry()) {
        let cause = failed.error.as_ref().map_or_else(String::new, ToString::to_string);
        return Err(InvokeError::Aws(format!("{}: {cause}", failed.title)));
    }
    Ok(Response::of(function, &reports))
}

/// One line per decision, with the numbers' headline; a failure also carries the AWS error behind it.
fn log(report: &Report) {
    match &report.error {
        Some(e) => tracing::error!(
            action = %report.action,
            outcome = report.outcome.as_str(),
            resource = report.resource(),
            incident = %report.incident_id,
            operation = e.operation,
            aws_resource = %e.resource,
            code = e.code.as_deref().unwrap_or("-"),
            transient = e.transient,
            error = %e.message,
            message = %report.title,
            "decision"
        ),
        None => tracing::info!(
            action = %report.action,
            outcome = report.outcome.as_str(),
            resource = report.resource(),
            incident = %report.incident_id,
            message = %report.title,
            "decision"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::notify::NotifyError;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Report>>);

    impl Notifier for Recorder {
        async fn publish(&self, report: &Report) -> Result<(), NotifyError> {
            self.0.lock().unwrap().push(report.clone());
            Ok(())
        }
    }

    fn aws_error(transient: bool) -> AwsError {
        AwsError {
            operation: "DeregisterTargets",
            resource: "tg".into(),
            code: Some(if transient { "Throttling" } else { "AccessDenied" }.into()),
            transient,
            message: "no".into(),
        }
    }

    fn block_on<F: std::future::Future>(future: F) -> F::Output {
        // The futures here never wait on I/O: poll once with a no-op waker.
        let mut future = std::pin::pin!(future);
        let waker = std::task::Waker::noop();
        match future.as_mut().poll(&mut std::task::Context::from_waker(waker)) {
            std::task::Poll::Ready(out) => out,
            std::task::Poll::Pending => panic!("finish waited"),
        }
    }

    #[test]
    fn skips_are_not_published_and_the_answer_is_the_most_telling_report() {
        let notifier = Recorder::default();
        let reports = vec![
            Report::skipped("f", "none", "not ours"),
            Report::new("f", "deregister-targets", Outcome::Succeeded, Severity::Warning, "done"),
            Report::new("f", "shift-traffic", Outcome::Refused, Severity::Critical, "refused"),
        ];
        let response = block_on(finish(&notifier, "f", reports)).unwrap();
        let published = notifier.0.lock().unwrap();
        assert_eq!(published.iter().map(|r| r.title.as_str()).collect::<Vec<_>>(), ["done", "refused"]);
        assert_eq!(response.status, Outcome::Refused);
        assert_eq!(response.action, "shift-traffic");
    }

    #[test]
    fn only_a_transient_failure_is_an_error_and_it_is_published_first() {
        let permanent = Report::new("f", "a", Outcome::Failed, Severity::Critical, "x failed").error(aws_error(false));
        let notifier = Recorder::default();
        assert_eq!(block_on(finish(&notifier, "f", vec![permanent])).unwrap().status, Outcome::Failed);

        let transient = Report::new("f", "a", Outcome::Failed, Severity::Critical, "y failed").error(aws_error(true));
        let notifier = Recorder::default();
        let error = block_on(finish(&notifier, "f", vec![transient])).unwrap_err();
        assert_eq!(error.error_type(), "AwsError");
        assert!(error.to_string().contains("y failed: DeregisterTargets tg: no"), "{error}");
        assert_eq!(notifier.0.lock().unwrap().len(), 1);
    }
}
