//! `failover_core`: what both failover functions are built from — event intake, the report every decision
//! becomes, how an invocation ends, one AWS error type, configuration and the settings contract, tags and
//! opt-in, notifications and logging.
//!
//! # Layout
//! - [`intake`]: any raw payload (EventBridge, SNS, alarm action, manual command) to one [`intake::Event`].
//! - [`outcome`]: the one outcome vocabulary (`succeeded`, `refused`, `failed`, `dry-run`, `info`, `skipped`).
//! - [`report`]: [`report::Report`], built by every action, and [`report::finish`], the one way an invocation
//!   ends (log, publish, return an error only when a retry can help).
//! - [`aws`]: [`aws::AwsError`] (operation, resource, code, transient) and the `.aws(op, resource)?` context
//!   helper the adapters use.
//! - [`tags`]: tags as configuration, and the one opt-in predicate (exactly `true`).
//! - [`config`]: the settings both functions read, the parsers for their own, and [`config::Setting`], the one
//!   declaration of each setting's name, default and meaning.
//! - [`notify`]: the [`notify::Notifier`] port, its SNS adapter, and the JSON and Chatbot message formats.
//! - [`response`]: what an invocation returns.
//! - [`invoke`]: the error type handed to the Lambda runtime, with stable error types.
//! - [`telemetry`]: JSON logs.

pub mod aws;
pub mod config;
pub mod intake;
pub mod invoke;
pub mod notify;
pub mod outcome;
pub mod report;
pub mod response;
pub mod tags;
pub mod telemetry;
