//! Helpers for AWS SDK errors: which ones a retry could fix, and a readable one-line description.

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
