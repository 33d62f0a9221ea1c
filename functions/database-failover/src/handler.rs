//! The invocation: intake ([`failover_core::intake`]), route ([`crate::route`]), dispatch to the action
//! ([`crate::actions`]), finish ([`failover_core::invoke::finish`]: log, publish, answer).
//!
//! Errors: `Err` only when a retry could help (a report carries a transient AWS error, published first), so
//! Lambda retries the event and the promotion record makes the retry complete the same decision; and for
//! invalid events and commands (for the dead-letter queue or the person who typed them). Everything else —
//! events that are not ours, refusals, permanent AWS errors — is `Ok` with a status.

use failover_core::intake::{self, Event};
use failover_core::invoke::finish;
use failover_core::invoke::InvokeError;
use failover_core::notify::{Notifier, SnsNotifier};
use failover_core::report::Report;
use failover_core::response::Response;
use serde_json::Value;

use crate::actions::{failover_cluster, promote, status, Context};
use crate::adapters::{CloudWatchLag, RdsDatabases, Route53Dns};
use crate::command::{self, Subject};
use crate::config::Config;
use crate::decide::Trigger;
use crate::model;
use crate::ports::{Databases, Dns, ReplicaLag};
use crate::report;
use crate::route::{self, Route};
use crate::FUNCTION;

/// Everything an invocation needs, built once per cold start. Generic over the ports so tests can run it
/// against fakes or SDK mocks; [`App::new`] wires the SDK adapters.
pub struct App<D = RdsDatabases, L = CloudWatchLag, R = Route53Dns, N = SnsNotifier> {
    pub config: Config,
    /// The function's own region: plain identifiers in events and commands are in this region.
    pub region: String,
    databases: D,
    lag: L,
    dns: R,
    notifier: N,
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
        App::with_ports(
            config,
            region,
            RdsDatabases::new(aws_sdk_rds::Client::new(sdk)),
            CloudWatchLag::new(aws_sdk_cloudwatch::Client::new(sdk)),
            Route53Dns::new(aws_sdk_route53::Client::new(sdk)),
            notifier,
        )
    }
}

impl<D, L, R, N> App<D, L, R, N>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
    N: Notifier + Sync,
{
    pub fn with_ports(config: Config, region: String, databases: D, lag: L, dns: R, notifier: N) -> Self {
        App { config, region, databases, lag, dns, notifier, clock: model::now_secs }
    }

    /// Replaces the clock (seconds since the epoch), for tests of time windows.
    pub fn with_clock(mut self, clock: fn() -> i64) -> Self {
        self.clock = clock;
        self
    }

    pub async fn handle(&self, payload: Value) -> Result<Response, InvokeError> {
        let event = intake::parse(&payload).inspect_err(|e| tracing::warn!(error = %e, "rejected event"))?;
        let (route, dry_run) = match &event {
            Event::Manual(manual) => {
                let command = command::parse(manual).map_err(|e| {
                    tracing::warn!(error = %e, "rejected command");
                    InvokeError::InvalidCommand(e)
                })?;
                (route::command(command, &self.region), manual.dry_run.unwrap_or(self.config.common.dry_run))
            }
            other => (route::route(other, &self.config.failure_event_ids), self.config.common.dry_run),
        };
        // Boxed: the nested futures are otherwise too deep for the compiler's layout computation.
        let report = Box::pin(self.dispatch(route, dry_run)).await?;
        let result = finish(&self.notifier, FUNCTION, vec![report]).await;
        if let Err(e) = &result {
            tracing::error!(error = %e, "invocation failed");
        }
        result
    }

    /// The action a route names. AWS failing while the facts are gathered is itself reported (`failed`, with
    /// the error, so that a transient one is retried).
    async fn dispatch(&self, route: Route, dry_run: bool) -> Result<Report, InvokeError> {
        let ctx = Context {
            databases: &self.databases,
            lag: &self.lag,
            dns: &self.dns,
            config: &self.config,
            region: &self.region,
            clock: self.clock,
        };
        let (region, resource, trigger, work) = match route {
            Route::Skip(reason) => return Ok(report::skipped(reason)),
            Route::Inform(info) => return Ok(report::inform(&info)),
            Route::Refuse(refusal) => {
                return Ok(report::refusal(&refusal, report::PROMOTE, &self.region, None, false));
            }
            Route::Promote { at, trigger } => {
                return match Box::pin(promote::manual(&ctx, &at, &trigger, dry_run)).await {
                    Ok(answer) => answer,
                    Err(error) => Ok(report::failure(&at.region, &at.id, &trigger, error)),
                };
            }
            Route::Instance { at, trigger } => {
                let work = Box::pin(promote::instance(&ctx, &at, &trigger, dry_run)).await;
                (at.region, at.id, trigger, work)
            }
            Route::Replica { at, trigger } => {
                let work = Box::pin(promote::replica(&ctx, &at, &trigger, dry_run)).await;
                (at.region, at.id, trigger, work)
            }
            Route::Cluster { region, id, trigger } => {
                let work = Box::pin(failover_cluster::run(&ctx, &region, &id, &trigger, dry_run)).await;
                (region, id, trigger, work)
            }
            Route::Status { region, subject } => {
                let work = Box::pin(status::run(&ctx, &region, &subject)).await;
                let (Subject::Instance(id) | Subject::Cluster(id)) = subject;
                (region, id, Trigger::Status, work)
            }
        };
        Ok(work.unwrap_or_else(|error| report::failure(&region, &resource, &trigger, error)))
    }
}
