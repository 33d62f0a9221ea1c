//! Errors returned to the Lambda runtime. An asynchronous invocation that returns an error is retried by
//! Lambda and then sent to the dead-letter destination, so functions return `Err` only for input that a
//! person must look at (it lands in the queue) or for failures that a retry could fix.

use lambda_runtime::Diagnostic;

use crate::intake::IntakeError;

#[derive(Debug, thiserror::Error)]
pub enum InvokeError {
    /// The payload could not be read; retrying will not help, the dead-letter queue keeps it for a person.
    #[error("invalid event: {0}")]
    InvalidEvent(#[from] IntakeError),
    /// A manual command that is not valid for this function.
    #[error("invalid command: {0}")]
    InvalidCommand(String),
    /// AWS failed after the SDK's own retries; Lambda's retry may succeed.
    #[error("{0}")]
    Aws(String),
}

impl InvokeError {
    /// A stable name for dashboards and for callers of manual commands.
    pub fn error_type(&self) -> &'static str {
        match self {
            InvokeError::InvalidEvent(_) => "InvalidEvent",
            InvokeError::InvalidCommand(_) => "InvalidCommand",
            InvokeError::Aws(_) => "AwsError",
        }
    }
}

impl From<InvokeError> for Diagnostic {
    fn from(error: InvokeError) -> Self {
        Diagnostic { error_type: error.error_type().into(), error_message: error.to_string() }
    }
}
