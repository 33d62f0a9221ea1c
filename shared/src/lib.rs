//! `failover_core`: what both failover functions are built from — the Lambda shell, event intake, the ledger
//! and its one attempt loop, the faults a retry fixes, the report every decision becomes and how an invocation
//! ends, configuration, tags and opt-in, notifications and logging. Where an event goes is in ARCHITECTURE.md.
//!
//! Module dependencies run one way: `tools/check_layout.py` fails on a loop; the order is in ARCHITECTURE.md.
//!
//! # Layout
//! - [`shell`]: the one Lambda shell ([`shell::serve`]), an [`shell::Invocation`] (its ledger name, deadline and
//!   [`shell::Home`] account) and the [`shell::Handler`] each function's app implements.
//! - [`intake`]: any raw payload (EventBridge, SNS, alarm action, manual command) to one [`intake::Event`].
//! - [`ledger`]: the incident ledger (one DynamoDB table, conditional writes): the [`ledger::Ledger`] port, its
//!   DynamoDB adapter, and [`ledger::Session::attempt`], the one attempt loop with one wait budget.
//! - [`fault`]: [`fault::Fault`], why work stopped short and whether Lambda should retry it.
//! - [`pause`]: the pause switch's commands and refusal, on the ledger.
//! - [`outcome`]: the one outcome vocabulary (`succeeded`, `refused`, `failed`, `dry-run`, `info`, `skipped`)
//!   and the severities.
//! - [`report`]: [`report::Report`], built by every action, and the [`report::Notifier`] port that publishes it.
//! - [`invoke`]: how an invocation ends ([`invoke::finish`]; [`invoke::finish_owing`] with an [`invoke::Owed`]:
//!   publish, then mark notified) and the error handed to the Lambda runtime, with stable error types.
//! - [`step`]: the answer an ARC Region switch plan step expects (an error when the action was refused,
//!   failed, did nothing or was only the stack's dry run), for runs a plan step invoked ([`intake::region_switch`]).
//! - [`aws`]: [`aws::AwsError`] (operation, resource, code, transient) and the `.aws(op, resource)?` helper.
//! - [`tags`]: tags as configuration, and the one opt-in predicate (exactly `true`).
//! - [`config`]: the settings both functions read, the parsers for their own, and [`config::Setting`].
//! - [`notify`]: the SNS adapter of [`report::Notifier`], and the JSON and Chatbot message formats.
//! - [`readiness`]: a readiness gap and the readiness report both functions publish; [`alarms`]: the prefixed
//!   CloudWatch alarms it looks for (`DescribeAlarms`).
//! - [`timeline`] (pure): an incident's ledger records as steps in order, with the time to mitigate and to
//!   recover (the `timeline` command, the notification that closes an incident, `TimeToMitigate` and
//!   `TimeToRecover`).
//! - [`response`]: what an invocation returns. [`time`]: epoch seconds and RFC 3339.
//! - [`telemetry`]: JSON logs. [`metrics`]: CloudWatch Embedded Metric Format lines (`Failover` namespace).
//!
//! # Invariants
//! - A change begins only on the ledger as read, and a wait for a held resource never outlasts the
//!   invocation's one budget ([`ledger::wait_budget`]); then the answer is [`fault::Fault::Busy`].
//! - An invocation returns `Err` only for a fault a retry can fix, after publishing its notification; and, when
//!   an ARC Region switch step invoked it, also when its action was refused, failed, did nothing or was only the
//!   stack's dry run ([`step`]).

pub mod alarms;
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
pub mod step;
pub mod tags;
pub mod telemetry;
pub mod time;
pub mod timeline;
