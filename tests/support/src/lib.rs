//! What the failover tests share (a dev-dependency only, never in a Lambda binary):
//! - [`Recorder`]: a [`Notifier`] that keeps every published report, for tests that assert on notifications
//!   without SNS;
//! - [`lookup`]: a configuration lookup over fixed pairs, so tests never touch the process environment;
//! - [`OPT_IN`], the opt-in tag key the fixtures use, and [`pair`], the `(action, outcome)` of a notification
//!   as tests compare it;
//! - [`faulty_http`]: SDK clients answering from `aws-smithy-mocks` rules, with connection failures and
//!   timeouts injected below the SDK, and the fault matrix ([`faulty_http::cases`], [`fault_client!`]);
//! - [`memory_ledger::MemoryLedger`]: the ledger's conditional writes in memory, held equal to the DynamoDB
//!   adapter by `tests/tests/against_local_aws/ledger.rs`, and [`memory_ledger::SharedLedger`], one such table
//!   seen by several apps, and [`delegate_settle_and_pause!`] for a wrapper around a ledger;
//! - [`mutate`] and [`strategies`]: the samples in `events/`, their structural mutations, and proptest
//!   strategies over random JSON and mutated samples.

use std::collections::HashMap;
use std::sync::Mutex;

use failover_core::notify::{Notifier, NotifyError};
use failover_core::report::Report;

pub use aws_smithy_mocks;

pub mod faulty_http;
pub mod memory_ledger;
pub mod mutate;
pub mod strategies;

/// What [`delegate_settle_and_pause!`] names.
#[doc(hidden)]
pub use failover_core::ledger::{Pause, Settle};
/// A ledger call's answer.
#[doc(hidden)]
pub type Answer<T> = Result<T, failover_core::aws::AwsError>;

/// Keeps every report published through it; can be told to fail every publish, as SNS might.
#[derive(Debug, Default)]
pub struct Recorder {
    published: Mutex<Vec<Report>>,
    failing: bool,
}

impl Recorder {
    pub fn new() -> Self {
        Recorder::default()
    }

    /// A notifier whose every publish fails (the reports are not kept).
    pub fn failing() -> Self {
        Recorder { published: Mutex::default(), failing: true }
    }

    /// What was published so far, in order.
    pub fn published(&self) -> Vec<Report> {
        self.published.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Takes what was published so far, leaving nothing.
    pub fn take(&self) -> Vec<Report> {
        std::mem::take(&mut *self.published.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Notifier for Recorder {
    async fn publish(&self, report: &Report) -> Result<(), NotifyError> {
        if self.failing {
            return Err(NotifyError {
                action: report.action.clone(),
                topic_arn: "arn:aws:sns:us-east-1:123456789012:failover".into(),
                source: "injected publish failure".into(),
            });
        }
        self.published.lock().unwrap_or_else(|p| p.into_inner()).push(report.clone());
        Ok(())
    }
}

/// A configuration lookup over these pairs (what `Config::from_lookup` takes).
pub fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + Send + Sync + 'static {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |name| map.get(name).cloned()
}

/// The opt-in tag key of every fixture (the functions' default `OPT_IN_TAG_KEY`).
pub const OPT_IN: &str = "failover:enabled";

/// A notification's `(action, outcome)`, as tests compare what was published.
pub fn pair(action: &str, outcome: &str) -> (String, String) {
    (action.to_owned(), outcome.to_owned())
}
