//! One error type for a failed AWS call ([`AwsError`]), the context helper the adapters use to produce it
//! ([`AwsContext`]), which failures a retry could fix, and a readable one-line description.

use std::sync::Mutex;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

/// Error codes AWS uses for throttling across the services we call.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "Throttled",
    "PriorRequestNotComplete",
    "SlowDown",
];

/// True when the failure is one a later retry (Lambda's own, after the SDK's) could fix: timeouts, connection
/// failures, unreadable responses, throttling and 5xx. A validation or not-found error is final.
pub fn is_transient<E, R>(error: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
    R: HasStatus,
{
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(service) => {
            service.err().code().is_some_and(|code| THROTTLING_CODES.contains(&code))
                || service.raw().status_code() >= 500
        }
        _ => false,
    }
}

/// An AWS call that failed after the SDK's own retries. Its text names the operation, the resource, what AWS
/// said and the error code, so that every log line with `error = %e` says why: `DeregisterTargets tg: no
/// (Throttling)`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{operation} {resource}: {message}{}", code_suffix(.code.as_deref()))]
pub struct AwsError {
    /// The API operation, e.g. `DeregisterTargets`.
    pub operation: &'static str,
    /// What it was called on, e.g. a target group ARN or `orders-replica-1 in us-east-1`.
    pub resource: String,
    /// The error code from AWS, when there is one (`Throttling`, `AccessDenied`...).
    pub code: Option<String>,
    /// A later retry could succeed (throttling, 5xx, timeout, connection failure): the invocation then returns
    /// an error so Lambda retries the event. Otherwise (access denied, invalid state) it does not.
    pub transient: bool,
    /// What AWS said, with the error context.
    pub message: String,
}

/// ` (<code>)`, or nothing when AWS gave no code.
fn code_suffix(code: Option<&str>) -> String {
    code.map_or_else(String::new, |code| format!(" ({code})"))
}

/// The AWS call errors of this process not yet counted: (operation, code). Every failed SDK call passes through
/// [`AwsError::from_sdk`], which records it here, whether the caller then fails, skips or goes on; `invoke::finish`
/// takes them for the `AwsCallErrors` metric. Lambda runs one invocation at a time per process, so what is
/// taken at the end of an invocation is that invocation's. Bounded, in case nothing takes them.
static CALL_ERRORS: Mutex<Vec<(&'static str, String)>> = Mutex::new(Vec::new());
const CALL_ERRORS_KEPT: usize = 1000;

fn record_call_error(operation: &'static str, code: Option<&str>) {
    let mut errors = CALL_ERRORS.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if errors.len() < CALL_ERRORS_KEPT {
        errors.push((operation, code.unwrap_or("Unknown").to_owned()));
    }
}

/// The AWS call errors recorded since the last take: (operation, code, or `Unknown`).
pub fn take_call_errors() -> Vec<(&'static str, String)> {
    std::mem::take(&mut *CALL_ERRORS.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

/// Tests that record or take call errors hold this, so that they do not take each other's.
#[cfg(test)]
pub(crate) static CALL_ERRORS_TEST_LOCK: Mutex<()> = Mutex::new(());

impl AwsError {
    /// The service did not answer at all: a connection failure or a timeout after the SDK's retries (transient,
    /// and no error code: AWS said nothing). Throttling and access denied carry a code: AWS answered.
    pub fn unreachable(&self) -> bool {
        self.transient && self.code.is_none()
    }

    /// The answer of a port that does not model a read (a test double written before the read existed): a
    /// permanent error naming it, code `NotModelled`.
    pub fn not_modelled(operation: &'static str, resource: impl Into<String>) -> Self {
        AwsError {
            operation,
            resource: resource.into(),
            code: Some("NotModelled".into()),
            transient: false,
            message: format!("this port does not implement {operation}"),
        }
    }

    pub fn from_sdk<E, R>(operation: &'static str, resource: impl Into<String>, error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: HasStatus + std::fmt::Debug,
    {
        record_call_error(operation, error.code());
        AwsError {
            operation,
            resource: resource.into(),
            code: error.code().map(str::to_owned),
            transient: is_transient(error),
            message: describe(error),
        }
    }
}

/// `.aws("DeregisterTargets", group)?` in an adapter: an SDK error becomes an [`AwsError`] naming the
/// operation and the resource.
pub trait AwsContext<T> {
    fn aws(self, operation: &'static str, resource: impl Into<String>) -> Result<T, AwsError>;
}

impl<T, E, R> AwsContext<T> for Result<T, SdkError<E, R>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: HasStatus + std::fmt::Debug,
{
    fn aws(self, operation: &'static str, resource: impl Into<String>) -> Result<T, AwsError> {
        self.map_err(|e| AwsError::from_sdk(operation, resource, &e))
    }
}

/// The status of a raw HTTP response, whatever type the SDK uses for it.
pub trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_smithy_runtime_api::http::Response {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

/// `SdkError`'s own `Display` says only "service error"; this includes the code and message from AWS.
pub fn describe<E>(error: &E) -> String
where
    E: std::error::Error,
{
    DisplayErrorContext(error).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aws_error_says_the_operation_the_resource_what_aws_said_and_the_code() {
        let error = |code: Option<&str>| AwsError {
            operation: "PromoteReadReplica",
            resource: "db1 in us-east-1".into(),
            code: code.map(str::to_owned),
            transient: false,
            message: "not allowed".into(),
        };
        assert_eq!(
            error(Some("AccessDenied")).to_string(),
            "PromoteReadReplica db1 in us-east-1: not allowed (AccessDenied)"
        );
        assert_eq!(error(None).to_string(), "PromoteReadReplica db1 in us-east-1: not allowed");
    }

    #[test]
    fn every_failed_sdk_call_is_recorded_once_for_the_metrics() {
        let _guard = CALL_ERRORS_TEST_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        take_call_errors();
        type Error = SdkError<aws_sdk_sns::operation::publish::PublishError, aws_smithy_runtime_api::http::Response>;
        let failed: Result<(), Error> = Err(SdkError::timeout_error("slow"));
        let error = failed.aws("Publish", "topic").unwrap_err();
        assert!(error.transient);
        assert_eq!(take_call_errors(), [("Publish", "Unknown".to_owned())]);
        assert!(take_call_errors().is_empty());
    }
}
