//! What an invocation returns: a small summary for the caller (a person running a manual command sees it;
//! for asynchronous triggers it lands in the function's logs and destinations).

use serde::Serialize;
use serde_json::Value;

/// The status of an invocation, a superset of the notification outcomes: `skipped` is for events that are
/// not ours or need nothing, and is never notified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Succeeded,
    Refused,
    Failed,
    DryRun,
    Info,
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    pub function: &'static str,
    pub status: Status,
    /// The action considered, e.g. `deregister-targets`; `none` for skipped events.
    pub action: String,
    /// One line saying what happened or why nothing did.
    pub message: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

impl Response {
    pub fn skipped(function: &'static str, message: impl Into<String>) -> Self {
        Response {
            function,
            status: Status::Skipped,
            action: "none".into(),
            message: message.into(),
            details: Value::Null,
        }
    }
}
