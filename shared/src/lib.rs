//! `failover_core`: what both failover functions are built from — event intake, the report every decision
//! becomes, how an invocation ends, one AWS error type, configuration and the settings contract, tags and
//! opt-in, notifications and logging.
//!
//! Module dependencies run one way (`tools/check_layout.py` fails on a loop): `outcome`, `aws`, `tags` and
//! `intake` depend on nothing of ours; `report` on `outcome` and `aws`; `notify` and `response` on `report`;
//! `config` on `notify`; `metrics` on `report` and `pause`; `telemetry` on `metrics`; `invoke` on `intake`,
//! `metrics`, `report` and `response`.
//!
//! # Layout
//! - [`intake`]: any raw payload (EventBridge, SNS, alarm action, manual command) to one [`intake::Event`].
//! - [`outcome`]: the one outcome vocabulary (`succeeded`, `refused`, `failed`, `dry-run`, `info`, `skipped`)
//!   and the severities.
//! - [`report`]: [`report::Report`], built by every action, and the [`report::Notifier`] port that publishes it.
//! - [`invoke`]: [`invoke::finish`], the one way an invocation ends (log, publish, return an error only when a
//!   retry can help), and the error type handed to the Lambda runtime, with stable error types.
//! - [`aws`]: [`aws::AwsError`] (operation, resource, code, transient) and the `.aws(op, resource)?` context
//!   helper the adapters use.
//! - [`tags`]: tags as configuration, and the one opt-in predicate (exactly `true`).
//! - [`config`]: the settings both functions read, the parsers for their own, and [`config::Setting`], the one
//!   declaration of each setting's name, default and meaning.
//! - [`notify`]: the SNS adapter of the [`report::Notifier`] port, and the JSON and Chatbot message formats.
//! - [`response`]: what an invocation returns.
//! - [`ledger`]: the incident ledger (one DynamoDB table, conditional writes): the [`ledger::Ledger`] port and its
//!   DynamoDB adapter. [`pause`]: the pause switch's commands and refusal, on the ledger.
//! - [`time`]: epoch seconds and RFC 3339.
//! - [`telemetry`]: JSON logs. [`metrics`]: CloudWatch Embedded Metric Format lines (`Failover` namespace).

pub mod aws;
pub mod config;
pub mod fault;
pub mod intake;
pub mod invoke;
pub mod ledger;
pub mod metrics;
pub mod notify;
pub mod outcome;
pub mod pause;
pub mod readiness;
pub mod report;
pub mod response;
pub mod shell;
pub mod tags;
pub mod telemetry;
pub mod time;
