//! The invocation: intake ([`failover_core::intake`]) → [`route::route`] → the action module
//! ([`crate::actions`]) → [`failover_core::invoke::finish`].
//!
//! One invocation concerns one or more target groups; each is decided and acted on independently and
//! produces one or two reports (a change and a refusal can go together). Every report but a skip is
//! published; the invocation returns an error if, and only if, some AWS call failed in a way a retry could
//! fix, or the manual command is invalid.

use std::time::Duration;

use failover_core::intake;
use failover_core::invoke::finish_published;
use failover_core::invoke::InvokeError;
use failover_core::ledger::{self, DynamoLedger, Ledger, Session};
use failover_core::notify::{Notifier, SnsNotifier};
use failover_core::response::Response;
use serde_json::Value;

use crate::actions::{self, transitions, Ctx};
use crate::adapters::ElbClient;
use crate::digest;
use crate::ports::LoadBalancer;
use crate::report::{self, action};
use crate::route::{self, Home, Route};
use crate::{Config, FUNCTION};

/// Everything an invocation needs, built once per cold start. Generic over its ports so that tests can put a
/// recording notifier, an in-memory ledger or a mocked SDK client in.
pub struct App<L = ElbClient, N = SnsNotifier, G = DynamoLedger> {
    config: Config,
    lb: L,
    notifier: N,
    ledger: G,
    home: Home,
    clock: fn() -> i64,
}

impl App {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let notifier = SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            config.common.topic_arn.clone(),
            config.common.notification_format,
        );
        let lb = ElbClient::new(aws_sdk_elasticloadbalancingv2::Client::new(sdk))
            .with_fleet(aws_sdk_autoscaling::Client::new(sdk));
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let home = Home::new(&config.common.topic_arn, &region);
        let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::new(sdk), config.common.ledger_table.clone());
        App::with_ports(config, lb, notifier, ledger, home)
    }
}

impl<L: LoadBalancer, N: Notifier + Sync, G: Ledger> App<L, N, G> {
    pub fn with_ports(config: Config, lb: L, notifier: N, ledger: G, home: Home) -> Self {
        App { config, lb, notifier, ledger, home, clock: failover_core::time::now_secs }
    }

    /// Replaces the clock of the ledger's times (epoch seconds).
    pub fn with_clock(mut self, clock: fn() -> i64) -> Self {
        self.clock = clock;
        self
    }

    /// The ledger port, to read what the invocations recorded (tests).
    pub fn ledger(&self) -> &G {
        &self.ledger
    }

    /// An invocation with no Lambda context (tests, local runs): a fresh owner, the longest lease.
    pub async fn handle(&self, payload: Value) -> Result<Response, InvokeError> {
        self.handle_with_context(payload, None, None).await
    }

    /// An invocation: the request id names it in the ledger, the time it has left sets its lease.
    pub async fn handle_with_context(
        &self,
        payload: Value,
        request_id: Option<&str>,
        remaining: Option<Duration>,
    ) -> Result<Response, InvokeError> {
        let started = std::time::Instant::now();
        let event = intake::parse(&payload).inspect_err(|e| tracing::warn!(error = %e, "rejected event"))?;
        let route =
            route::route(&event, &self.home, self.config.common.dry_run).map_err(InvokeError::InvalidCommand)?;
        let owner = ledger::owner(request_id);
        let listeners = tokio::sync::Mutex::new(());
        let ctx = |trigger, force| Ctx {
            lb: &self.lb,
            config: &self.config,
            session: Session {
                ledger: &self.ledger,
                owner: &owner,
                hold_secs: ledger::lease_secs(remaining),
                retention_secs: self.config.common.retention_secs(),
                force,
                clock: self.clock,
            },
            trigger,
            event_at: match &route {
                Route::Alarm { alarm, .. } => alarm.changed_at,
                _ => None,
            },
            listeners: &listeners,
        };
        let mut seen = None;
        let (trigger, reports) = match &route {
            Route::Skip { trigger, reason } => (trigger, vec![report::skipped(None, action::NONE, reason.clone())]),
            Route::Alarm { trigger, alarm } => {
                let (reports, transition) = actions::on_alarm(&ctx(trigger, false), alarm.clone()).await;
                seen = Some(transition);
                (trigger, reports)
            }
            Route::Command { trigger, command, dry_run, force } => {
                let reports = actions::on_command(&ctx(trigger, *force), command, *dry_run)
                    .await
                    .map_err(InvokeError::InvalidCommand)?;
                (trigger, reports)
            }
        };
        let reports = digest::one_per_event(trigger, report::stamp(trigger, reports));
        let ended = transitions::ended(&reports);
        let (response, published) = finish_published(&self.notifier, FUNCTION, reports, started).await;
        let Some(seen) = seen else { return response };
        // Once the notification is out: a retry after a crash before it is not taken for stale. One that did
        // not go out leaves the transition incomplete and asks for Lambda's retry, which publishes what this run
        // owes ([`crate::actions::owed`]).
        transitions::record(&ctx(trigger, false), seen, ended && published, published).await;
        match response {
            Ok(_) if !published => Err(InvokeError::Aws("the alarm's notification was not published".into())),
            response => response,
        }
    }
}
