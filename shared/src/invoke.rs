//! How an invocation ends: [`finish`] logs and publishes its reports, and [`InvokeError`] is what the Lambda
//! runtime is handed when it fails.
//!
//! Errors returned to the Lambda runtime. An asynchronous invocation that returns an error is retried by
//! Lambda and then sent to the dead-letter destination, so functions return `Err` only for input that a
//! person must look at (it lands in the queue) or for failures that a retry could fix. One caller judges
//! differently: an ARC Region switch plan step ([`RegionSwitch`]) fails only on an error, so a run it invoked
//! also returns `Err` when its action was refused, failed, did nothing or was only the stack's dry run
//! ([`InvokeError::Step`]), after publishing as always.

use std::time::Instant;

use lambda_runtime::Diagnostic;

use crate::fault::Fault;
use crate::intake::{IntakeError, RegionSwitch};
use crate::outcome::Outcome;
use crate::report::{Notifier, Report};
use crate::response::Response;

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The payload could not be read; retrying will not help, the dead-letter queue keeps it for a person.
    #[error("invalid event: {0}")]
    InvalidEvent(#[from] IntakeError),
    /// A manual command that is not valid for this function.
    #[error("invalid command: {0}")]
    InvalidCommand(String),
    /// A report's [`Fault`] that a later run resolves (published first): Lambda retries the event.
    #[error("{title}: {fault}")]
    Retry { title: String, fault: Fault },
    /// An ARC Region switch step's action was refused, failed, did nothing or was a dry run the step did not ask
    /// for (published first, unless a skip):
    /// the step fails, with the reason and the command that skips it ([`crate::step::failure`]).
    #[error("{message}")]
    Step { outcome: Outcome, message: String },
}

impl From<crate::intake::InvalidCommand> for InvokeError {
    fn from(invalid: crate::intake::InvalidCommand) -> Self {
        InvokeError::InvalidCommand(invalid.0)
    }
}

impl InvokeError {
    /// A stable name for dashboards and for callers of manual commands.
    pub fn error_type(&self) -> &'static str {
        match self {
            InvokeError::InvalidEvent(_) => "InvalidEvent",
            InvokeError::InvalidCommand(_) => "InvalidCommand",
            InvokeError::Retry { fault, .. } => fault.code(),
            InvokeError::Step { outcome: Outcome::Refused, .. } => "ActionRefused",
            InvokeError::Step { outcome: Outcome::Failed, .. } => "ActionFailed",
            InvokeError::Step { outcome: Outcome::DryRun, .. } => "DryRunOnly",
            InvokeError::Step { .. } => "NothingDone",
        }
    }
}

impl From<InvokeError> for Diagnostic {
    fn from(error: InvokeError) -> Self {
        Diagnostic { error_type: error.error_type().into(), error_message: error.to_string() }
    }
}

/// Ends an invocation: logs one line per report, writes its metrics ([`crate::metrics::invocation`]; none for
/// an event that is not ours), publishes every report that is not a skip (a failed publish is logged; a run
/// that owes its notification asks for a retry through [`finish_owing`]), then answers. The answer is an error
/// if, and only if, some report carries a fault a retry resolves ([`Fault::retry`]); it was published first.
pub async fn finish<N: Notifier>(
    notifier: &N,
    function: &'static str,
    reports: Vec<Report>,
    started: Instant,
) -> Result<Response, InvokeError> {
    finish_published(notifier, function, reports, started, None).await.0
}

/// [`finish`], and whether every report it had to publish was published (`true` when there was none): a
/// function whose retry can publish what an earlier run owes uses it to ask for that retry. `origin`: the
/// ARC Region switch step that invoked the run, named in every report, and judging its answer
/// ([`crate::step::failure`]).
pub async fn finish_published<N: Notifier>(
    notifier: &N,
    function: &'static str,
    mut reports: Vec<Report>,
    started: Instant,
    origin: Option<&RegionSwitch>,
) -> (Result<Response, InvokeError>, bool) {
    if let Some(origin) = origin {
        tracing::info!(plan = %origin.plan_arn, execution = %origin.execution_id, step = %origin.step_name,
            invoked_by = %origin.invoked_by, "invoked by ARC Region switch");
        reports.iter_mut().for_each(|report| crate::step::stamp(report, origin));
    }
    crate::metrics::emit_invocation(function, &reports, started.elapsed());
    let mut published = true;
    for report in &reports {
        log(report);
        if report.outcome.notified() {
            if let Err(e) = notifier.publish(report).await {
                tracing::error!(error = %crate::aws::describe(&e), action = %report.action, "notification not published");
                published = false;
            }
        }
    }
    let retry = reports.iter().find_map(|r| r.error.as_ref().filter(|f| f.retry()).map(|f| (&r.title, f)));
    if let Some((title, fault)) = retry {
        // The fault's text ends with its code, so that the caller (and the dead-letter queue) can tell
        // throttling from a busy resource.
        return (Err(InvokeError::Retry { title: title.clone(), fault: fault.clone() }), published);
    }
    if let Some((outcome, message)) = origin.and_then(|origin| crate::step::failure(origin, &reports)) {
        let failure = InvokeError::Step { outcome, message };
        tracing::warn!(error = %failure, error_type = failure.error_type(), "region switch step failed");
        return (Err(failure), published);
    }
    let mut response = Response::of(function, &reports);
    response.region_switch = origin.cloned();
    (Ok(response), published)
}

/// What a run owes once its notifications are out: a promotion record to mark notified, an alarm transition to
/// record. [`finish_owing`] settles it after publishing, so that a run that dies in between leaves it owed, and
/// Lambda's retry publishes the notification instead of finding the work done and staying silent.
pub trait Owed {
    /// What the owed notification is about, for the fault when it did not go out.
    fn what(&self) -> String;
    /// Settles what is owed; `published`: every notification went out.
    fn settle(self, published: bool) -> impl std::future::Future<Output = ()>;
}

/// [`finish`], then "publish, then mark notified": `owed` is settled once the reports are published, and a
/// notification that did not go out makes the invocation a [`Fault::Unpublished`] error, which Lambda retries.
pub async fn finish_owing<N: Notifier, O: Owed>(
    notifier: &N,
    function: &'static str,
    reports: Vec<Report>,
    started: Instant,
    owed: Option<O>,
    origin: Option<&RegionSwitch>,
) -> Result<Response, InvokeError> {
    let (response, published) = finish_published(notifier, function, reports, started, origin).await;
    let Some(owed) = owed else { return response };
    let what = owed.what();
    // Boxed: an owed settlement runs a ledger attempt loop, too deep a future to nest in the caller's.
    Box::pin(owed.settle(published)).await;
    match response {
        Ok(_) if !published => {
            Err(InvokeError::Retry { title: function.to_owned(), fault: Fault::Unpublished { what } })
        }
        response => response,
    }
}

/// One line per decision: the incident id, the decision (action, outcome, title) and the numbers behind it
/// (`details`, the report's structured data, not the payload); a failure also carries the AWS error behind it
/// (operation, resource, code, message).
fn log(report: &Report) {
    match report.error.as_ref().map(|f| (f, f.aws())) {
        Some((_, Some(e))) => tracing::error!(
            action = %report.action,
            outcome = report.outcome.as_str(),
            resource = report.resource(),
            incident = %report.incident_id,
            operation = e.operation,
            aws_resource = %e.resource,
            code = e.code.as_deref().unwrap_or("-"),
            transient = e.transient,
            error = %e.message,
            title = %report.title,
            details = %report.details,
            "decision"
        ),
        Some((fault, None)) => tracing::warn!(
            action = %report.action,
            outcome = report.outcome.as_str(),
            resource = report.resource(),
            incident = %report.incident_id,
            code = fault.code(),
            error = %fault,
            title = %report.title,
            details = %report.details,
            "decision"
        ),
        None => tracing::info!(
            action = %report.action,
            outcome = report.outcome.as_str(),
            resource = report.resource(),
            incident = %report.incident_id,
            title = %report.title,
            details = %report.details,
            "decision"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::AwsError;
    use crate::outcome::{Outcome, Severity};
    use crate::report::NotifyError;
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
        // finish takes the process's AWS call errors: not while a test of them runs.
        let _guard = crate::aws::CALL_ERRORS_TEST_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
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
        let response = block_on(finish(&notifier, "f", reports, Instant::now())).unwrap();
        let published = notifier.0.lock().unwrap();
        assert_eq!(published.iter().map(|r| r.title.as_str()).collect::<Vec<_>>(), ["done", "refused"]);
        assert_eq!(response.status, Outcome::Refused);
        assert_eq!(response.action, "shift-traffic");
    }

    struct Refusing;

    impl Notifier for Refusing {
        async fn publish(&self, report: &Report) -> Result<(), NotifyError> {
            Err(NotifyError { action: report.action.clone(), topic_arn: "t".into(), source: "down".into() })
        }
    }

    #[test]
    fn finish_published_says_whether_every_notification_went_out() {
        let done = || vec![Report::new("f", "a", Outcome::Succeeded, Severity::Warning, "done")];
        let (response, published) = block_on(finish_published(&Refusing, "f", done(), Instant::now(), None));
        assert_eq!((response.unwrap().status, published), (Outcome::Succeeded, false));
        let (_, published) = block_on(finish_published(&Recorder::default(), "f", done(), Instant::now(), None));
        assert!(published);
        let skips = vec![Report::skipped("f", "none", "not ours")];
        assert!(block_on(finish_published(&Refusing, "f", skips, Instant::now(), None)).1, "nothing to publish");
    }

    #[test]
    fn only_a_transient_failure_is_an_error_and_it_is_published_first() {
        let permanent = Report::new("f", "a", Outcome::Failed, Severity::Critical, "x failed").error(aws_error(false));
        let notifier = Recorder::default();
        assert_eq!(block_on(finish(&notifier, "f", vec![permanent], Instant::now())).unwrap().status, Outcome::Failed);

        let transient = Report::new("f", "a", Outcome::Failed, Severity::Critical, "y failed").error(aws_error(true));
        let notifier = Recorder::default();
        let error = block_on(finish(&notifier, "f", vec![transient], Instant::now())).unwrap_err();
        assert_eq!(error.error_type(), "AwsError");
        assert!(error.to_string().contains("y failed: DeregisterTargets tg: no (Throttling)"), "{error}");
        assert_eq!(notifier.0.lock().unwrap().len(), 1);
    }

    fn origin() -> RegionSwitch {
        RegionSwitch {
            invoked_by: "ARC Region switch".into(),
            plan_arn: "arn:aws:arc-region-switch::123456789012:plan/shop:a1b2c3".into(),
            execution_id: "e-1".into(),
            step_name: "traffic".into(),
            rehearsal: false,
        }
    }

    fn under_region_switch(reports: Vec<Report>) -> (Result<Response, InvokeError>, Vec<Report>) {
        let notifier = Recorder::default();
        let (response, _) = block_on(finish_published(&notifier, "f", reports, Instant::now(), Some(&origin())));
        (response, notifier.0.into_inner().unwrap())
    }

    #[test]
    fn under_region_switch_a_refusal_is_an_error_with_the_reason_and_the_skip_command_published_first() {
        let refused = Report::new("f", "shift-traffic", Outcome::Refused, Severity::Critical, "web kept")
            .summary("no listener opted in (0 of 2)");
        let (response, published) = under_region_switch(vec![refused.clone()]);
        let error = response.unwrap_err();
        assert_eq!(error.error_type(), "ActionRefused");
        let message = error.to_string();
        assert!(message.contains("the action refused under ARC Region switch step traffic"), "{message}");
        assert!(message.contains("web kept: no listener opted in (0 of 2)"), "{message}");
        assert!(message.contains("update-plan-execution-step --plan-arn arn:aws:arc-region-switch::123456789012:plan/shop:a1b2c3 --execution-id e-1 --step-name traffic --action-to-take skip"), "{message}");
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].region_switch, Some(origin()));
        assert!(published[0].next_steps.last().unwrap().contains("--action-to-take skip"));

        let notifier = Recorder::default();
        let plain = block_on(finish(&notifier, "f", vec![refused], Instant::now())).unwrap();
        assert_eq!((plain.status, plain.region_switch), (Outcome::Refused, None), "a person's command: as before");
        assert!(notifier.0.lock().unwrap()[0].next_steps.is_empty());
    }

    #[test]
    fn under_region_switch_a_failure_nothing_done_or_the_stacks_dry_run_is_an_error_and_a_success_is_not() {
        let report = |outcome| Report::new("f", "a", outcome, Severity::Warning, "t");
        let (failed, _) = under_region_switch(vec![report(Outcome::Failed).error(aws_error(false))]);
        assert_eq!(failed.unwrap_err().error_type(), "ActionFailed");
        let (skipped, published) = under_region_switch(vec![Report::skipped("f", "none", "replica r1 not found")]);
        let skipped = skipped.unwrap_err();
        assert_eq!(skipped.error_type(), "NothingDone");
        assert!(skipped.to_string().contains("did nothing") && skipped.to_string().contains("replica r1 not found"));
        assert!(published.is_empty(), "a skip is still not published");
        assert_eq!(under_region_switch(vec![]).0.unwrap_err().error_type(), "NothingDone");
        for outcome in [Outcome::Succeeded, Outcome::Info] {
            let (response, published) = under_region_switch(vec![report(outcome), Report::skipped("f", "none", "x")]);
            let response = response.unwrap_or_else(|e| panic!("{outcome:?}: {e}"));
            assert_eq!((response.status, response.region_switch), (outcome, Some(origin())));
            assert_eq!(published[0].region_switch, Some(origin()));
        }
        let (stacks, published) = under_region_switch(vec![report(Outcome::DryRun)]);
        assert_eq!(stacks.unwrap_err().error_type(), "DryRunOnly", "the stack's DRY_RUN, not the payload's");
        assert_eq!(published.len(), 1, "published first");
        let rehearsal = RegionSwitch { rehearsal: true, ..origin() };
        let notifier = Recorder::default();
        let asked = finish_published(&notifier, "f", vec![report(Outcome::DryRun)], Instant::now(), Some(&rehearsal));
        assert_eq!(block_on(asked).0.unwrap().status, Outcome::DryRun, "\"dry_run\": true in the payload");
        let (transient, _) = under_region_switch(vec![report(Outcome::Failed).error(aws_error(true))]);
        assert_eq!(transient.unwrap_err().error_type(), "AwsError", "a retryable fault stays what it is");
    }
}
