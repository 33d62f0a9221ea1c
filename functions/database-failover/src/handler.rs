//! The invocation ([`App`] as a [`failover_core::shell::Handler`]): intake ([`failover_core::intake`]),
//! [`crate::route::invocation`], [`crate::actions::dispatch`] (with this invocation's ledger session), then
//! [`failover_core::invoke::finish_owing`]: log, publish, answer, and mark a promotion notified once its
//! notification is out ([`crate::actions::owed::MarkNotified`]).
//!
//! Errors: `Err` only when a retry could help (a [`failover_core::fault::Fault`] that retries, published first)
//! and for invalid events and commands; everything else (not ours, refusals, permanent AWS errors) is `Ok`
//! with a status, except for an ARC Region switch step's command ([`failover_core::step`]).

use failover_core::intake;
use failover_core::invoke::{finish_owing, InvokeError};
use failover_core::ledger::Ledger;
use failover_core::notify::{Notifier, SnsNotifier};
use failover_core::response::Response;
use failover_core::shell::{Handler, Home, Invocation};
use serde_json::Value;

use crate::actions::owed::MarkNotified;
use crate::actions::{self, Context};
use crate::adapters::{CloudWatchLag, HomeLedgers, RdsDatabases, Route53Dns};
use crate::config::Config;
use crate::model;
use crate::ports::{Databases, Dns, GlobalDatabases, ReplicaLag, With};
use crate::route;
use crate::FUNCTION;

/// Everything an invocation needs, built once per cold start. Generic over the ports so tests can run it
/// against fakes or SDK mocks; [`App::new`] wires the SDK adapters.
pub struct App<D = RdsDatabases, L = CloudWatchLag, R = Route53Dns, N = SnsNotifier, G = HomeLedgers> {
    pub config: Config,
    /// The function's own partition, account (from the notification topic; a Lambda context's function ARN
    /// overrides it) and region: plain identifiers in events and commands are in this region.
    pub home: Home,
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
        let ledger = HomeLedgers::from_config(aws_sdk_dynamodb::Client::new(sdk), &config);
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

impl<D, L, R, N, G> App<D, L, R, N, G> {
    pub fn with_ports(config: Config, region: String, databases: D, lag: L, dns: R, notifier: N, ledger: G) -> Self {
        let home = Home::new(&config.common.topic_arn, &region);
        App { config, home, databases, lag, dns, notifier, ledger, clock: model::now_secs }
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
}

impl<D, L, R, N, G> App<D, L, R, N, G>
where
    Self: Handler,
{
    /// An invocation without a Lambda context (tests, local runs): the longest lease, the whole wait budget,
    /// the notification topic's account.
    pub async fn handle(&self, payload: Value) -> Result<Response, InvokeError> {
        self.invoke(payload, &Invocation::default()).await
    }
}

impl<D, L, R, N, G> Handler for App<D, L, R, N, G>
where
    D: Databases + GlobalDatabases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
    N: Notifier + Sync,
    G: Ledger,
{
    /// An invocation: intake, route (events from another account or region are skipped), the action, then
    /// publish, then mark a promotion notified.
    async fn invoke(&self, payload: Value, invocation: &Invocation) -> Result<Response, InvokeError> {
        let started = std::time::Instant::now();
        let event = intake::parse(&payload).inspect_err(|e| tracing::warn!(error = %e, "rejected event"))?;
        let home = invocation.home(&self.home);
        let routed = route::invocation(&event, &home, &self.config)
            .inspect_err(|e| tracing::warn!(error = %e, "rejected command"))?;
        let owner = invocation.owner();
        let budget = invocation.wait_budget();
        let ctx: Context<'_, With<D, L, R, G>> = Context {
            databases: &self.databases,
            lag: &self.lag,
            dns: &self.dns,
            session: invocation
                .session(&self.ledger, &owner, &budget, self.config.common.retention_secs(), routed.force, self.clock)
                .with_region_switch(event.region_switch()),
            config: &self.config,
            region: &self.home.region,
            failure_at: route::failure_time(&event),
            deadline: invocation.deadline,
            owes: std::sync::OnceLock::new(),
        };
        // Boxed: the nested futures are otherwise too deep for the compiler's layout computation.
        let report = Box::pin(actions::dispatch(&ctx, routed.route, routed.dry_run)).await?;
        let owed = ctx.owes.get().map(|resource| MarkNotified { ctx: &ctx, resource: resource.clone() });
        let result = finish_owing(&self.notifier, FUNCTION, vec![report], started, owed, event.region_switch()).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "invocation failed");
        }
        result
    }
}
