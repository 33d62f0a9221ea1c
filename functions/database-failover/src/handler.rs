//! The invocation: intake ([`failover_core::intake`]), route ([`crate::route`]), dispatch to the action
//! ([`crate::actions::dispatch`], with this invocation's ledger name and lease), finish ([`crate::actions::owed::finish`]: log, publish, answer, mark a promotion notified).
//!
//! Errors: `Err` only when a retry could help (a transient AWS error, published first) and for invalid events
//! and commands; everything else (not ours, refusals, permanent AWS errors) is `Ok` with a status.

use std::time::Duration;

use failover_core::intake::{self, Event};
use failover_core::invoke::InvokeError;
use failover_core::ledger::{self, DynamoLedger, Ledger, Session};
use failover_core::notify::{Notifier, SnsNotifier};
use failover_core::response::Response;
use serde_json::Value;

use crate::actions::{self, Context};
use crate::adapters::{CloudWatchLag, RdsDatabases, Route53Dns};
use crate::command;
use crate::config::Config;
use crate::model;
use crate::ports::{Databases, Dns, ReplicaLag};
use crate::route;

/// Everything an invocation needs, built once per cold start. Generic over the ports so tests can run it
/// against fakes or SDK mocks; [`App::new`] wires the SDK adapters.
pub struct App<D = RdsDatabases, L = CloudWatchLag, R = Route53Dns, N = SnsNotifier, G = DynamoLedger> {
    pub config: Config,
    /// The function's own region: plain identifiers in events and commands are in this region.
    pub region: String,
    databases: D,
    lag: L,
    dns: R,
    notifier: N,
    ledger: G,
    clock: fn() -> i64,
}

impl App {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let notifier = SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            config.common.topic_arn.clone(),
            config.common.notification_format,
        );
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::new(sdk), config.common.ledger_table.clone());
        App::with_ports(
            config,
            region,
            RdsDatabases::new(aws_sdk_rds::Client::new(sdk)),
            CloudWatchLag::new(aws_sdk_cloudwatch::Client::new(sdk)),
            Route53Dns::new(aws_sdk_route53::Client::new(sdk)),
            notifier,
            ledger,
        )
    }
}

impl<D, L, R, N, G> App<D, L, R, N, G>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
    N: Notifier + Sync,
    G: Ledger,
{
    pub fn with_ports(config: Config, region: String, databases: D, lag: L, dns: R, notifier: N, ledger: G) -> Self {
        App { config, region, databases, lag, dns, notifier, ledger, clock: model::now_secs }
    }

    /// Replaces the clock (seconds since the epoch), for tests of time windows.
    pub fn with_clock(mut self, clock: fn() -> i64) -> Self {
        self.clock = clock;
        self
    }

    /// The RDS port, for tests of what invocations left behind.
    pub fn databases(&self) -> &D {
        &self.databases
    }

    /// The Route 53 port, for tests of what invocations left behind.
    pub fn dns(&self) -> &R {
        &self.dns
    }

    /// The ledger port, for tests of what invocations left behind.
    pub fn ledger(&self) -> &G {
        &self.ledger
    }

    /// An invocation without a Lambda context (tests, local runs): the longest lease.
    pub async fn handle(&self, payload: Value) -> Result<Response, InvokeError> {
        self.handle_with_context(payload, None, None, None).await
    }

    /// An invocation: `request_id` names it in the ledger, `function_arn` (`invoked_function_arn`) gives the own
    /// account (other accounts' events are skipped), `remaining` (until the deadline) sets its lease.
    pub async fn handle_with_context(
        &self,
        payload: Value,
        request_id: Option<&str>,
        function_arn: Option<&str>,
        remaining: Option<Duration>,
    ) -> Result<Response, InvokeError> {
        let started = std::time::Instant::now();
        let event = intake::parse(&payload).inspect_err(|e| tracing::warn!(error = %e, "rejected event"))?;
        let (route, dry_run, force) = match &event {
            Event::Manual(manual) => {
                let (command, force) = command::read(manual).map_err(|e| {
                    tracing::warn!(error = %e, "rejected command");
                    InvokeError::InvalidCommand(e)
                })?;
                let dry_run = manual.dry_run.unwrap_or(self.config.common.dry_run);
                (route::command(command, &self.region, force), dry_run, force)
            }
            other => {
                let route = route::route_from(other, &self.config.failure_event_ids, &self.region, function_arn);
                (route, self.config.common.dry_run, false)
            }
        };
        let owner = ledger::owner(request_id);
        let ctx = Context {
            databases: &self.databases,
            lag: &self.lag,
            dns: &self.dns,
            session: Session {
                ledger: &self.ledger,
                owner: &owner,
                hold_secs: ledger::lease_secs(remaining),
                retention_secs: self.config.common.retention_secs(),
                force,
                clock: self.clock,
            },
            config: &self.config,
            region: &self.region,
            failure_at: route::failure_time(&event),
        };
        // Boxed: the nested futures are otherwise too deep for the compiler's layout computation.
        let report = Box::pin(actions::dispatch(&ctx, route, dry_run)).await?;
        let result = actions::owed::finish(&ctx, &self.notifier, report, started).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "invocation failed");
        }
        result
    }
}
