//! Shared by the failover functions: event intake, configuration, notifications, logging and the
//! invocation plumbing.
//!
//! # Layout
//! - [`intake`]: any raw payload (EventBridge, SNS, alarm action, manual command) to one [`intake::Event`].
//! - [`aws`]: which SDK errors are transient, and readable descriptions of them.
//! - [`config`]: the settings both functions read, and parsers for their own.
//! - [`notify`]: the [`notify::Notifier`] port, its SNS adapter, and the JSON and Chatbot message formats.
//! - [`response`]: what an invocation returns.
//! - [`invoke`]: the error type handed to the Lambda runtime, with stable error types.
//! - [`telemetry`]: JSON logs.

pub mod aws;
pub mod config;
pub mod intake;
pub mod invoke;
pub mod notify;
pub mod response;
pub mod telemetry;
