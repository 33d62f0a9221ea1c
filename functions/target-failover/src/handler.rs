//! The invocation ([`App`] as a [`failover_core::shell::Handler`]): intake ([`failover_core::intake`]) →
//! [`route::route`] → [`crate::actions::on_alarm`] or [`crate::actions::on_command`] → one notification
//! ([`crate::digest`]) → [`failover_core::invoke::finish_owing`], which records the alarm's transition once the
//! notification is out ([`crate::actions::transitions::Transition`]).
//!
//! One invocation concerns one or more target groups; each is decided and acted on independently and
//! produces one or two reports (a change and a refusal can go together). Every report but a skip is
//! published; the invocation returns an error if, and only if, some fault a retry can fix stopped it
//! ([`failover_core::fault::Fault`]: a transient AWS error, a busy resource, a lost lease, an unpublished
//! notification), or the manual command is invalid; and, for a command an ARC Region switch plan step sent,
//! when its action was refused, failed or did nothing, so that the step fails ([`failover_core::step`]).

use failover_core::intake;
use failover_core::invoke::{finish_owing, InvokeError};
use failover_core::ledger::{DynamoLedger, Ledger};
use failover_core::notify::{Notifier, SnsNotifier};
use failover_core::response::Response;
use failover_core::shell::{Handler, Invocation};
use serde_json::Value;

use crate::actions::{self, transitions, Context};
use crate::adapters::ElbClient;
use crate::digest;
use crate::ports::{LoadBalancer, With};
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
        let lb = ElbClient::from_sdk(sdk);
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let home = Home::new(&config.common.topic_arn, &region);
        let ledger = DynamoLedger::new(aws_sdk_dynamodb::Client::new(sdk), config.common.ledger_table.clone());
        App::with_ports(config, lb, notifier, ledger, home)
    }
}

impl<L, N, G> App<L, N, G> {
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
}

impl<L, N, G> App<L, N, G>
where
    Self: Handler,
{
    /// An invocation with no Lambda context (tests, local runs): a fresh owner, the longest lease, the whole
    /// wait budget, the app's own account.
    pub async fn handle(&self, payload: Value) -> Result<Response, InvokeError> {
        self.invoke(payload, &Invocation::default()).await
    }
}

impl<L: LoadBalancer, N: Notifier + Sync, G: Ledger> Handler for App<L, N, G> {
    /// An invocation: intake, route, the alarm's or command's actions, then publish, then record the alarm's
    /// transition ([`transitions::Transition`]).
    async fn invoke(&self, payload: Value, invocation: &Invocation) -> Result<Response, InvokeError> {
        let started = std::time::Instant::now();
        let event = intake::parse(&payload).inspect_err(|e| tracing::warn!(error = %e, "rejected event"))?;
        let route = route::route(&event, &invocation.home(&self.home), self.config.common.dry_run)
            .inspect_err(|e| tracing::warn!(error = %e, "rejected command"))?;
        let owner = invocation.owner();
        let budget = invocation.wait_budget();
        let listeners = tokio::sync::Mutex::new(());
        let reads = actions::reads::GroupReads::default();
        let handover = actions::handover::HandOver::default();
        let ctx = |trigger, force| -> Context<'_, With<L, G>> {
            Context {
                lb: &self.lb,
                config: &self.config,
                session: invocation
                    .session(&self.ledger, &owner, &budget, self.config.common.retention_secs(), force, self.clock)
                    .with_region_switch(event.region_switch()),
                trigger,
                event_at: match &route {
                    Route::Alarm { alarm, .. } => alarm.changed_at,
                    _ => None,
                },
                listeners: &listeners,
                reads: &reads,
                handover: &handover,
            }
        };
        let mut seen = None;
        let (trigger, reports) = match &route {
            Route::Skip { trigger, reason } => (trigger, vec![report::skipped(None, action::NONE, reason.clone())]),
            Route::Alarm { trigger, alarm } => {
                let (reports, transition) = Box::pin(actions::on_alarm(&ctx(trigger, false), alarm.clone())).await;
                seen = Some(transition);
                (trigger, reports)
            }
            Route::Tick { trigger } => (trigger, Box::pin(actions::tick::on_tick(&ctx(trigger, false))).await),
            Route::Command { trigger, command, dry_run, force } => {
                let reports = Box::pin(actions::on_command(&ctx(trigger, *force), command, *dry_run)).await?;
                (trigger, reports)
            }
        };
        let reports = digest::one_per_event(trigger, report::stamp(trigger, reports));
        let ended = transitions::ended(&reports);
        let owed = seen.map(|seen| transitions::Transition { ctx: ctx(trigger, false), seen, ended });
        finish_owing(&self.notifier, FUNCTION, reports, started, owed, event.region_switch()).await
    }
}
