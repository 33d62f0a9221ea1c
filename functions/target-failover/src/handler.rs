//! The invocation: intake ([`failover_core::intake`]) → [`route::route`] → the action module
//! ([`crate::actions`]) → [`failover_core::invoke::finish`].
//!
//! One invocation concerns one or more target groups; each is decided and acted on independently and
//! produces one or two reports (a change and a refusal can go together). Every report but a skip is
//! published; the invocation returns an error if, and only if, some AWS call failed in a way a retry could
//! fix, or the manual command is invalid.

use failover_core::intake;
use failover_core::invoke::finish;
use failover_core::invoke::InvokeError;
use failover_core::notify::{Notifier, SnsNotifier};
use failover_core::response::Response;
use serde_json::Value;

use crate::actions::{self, Ctx};
use crate::adapters::ElbClient;
use crate::ports::LoadBalancer;
use crate::report::{self, action};
use crate::route::{self, Home, Route};
use crate::{Config, FUNCTION};

/// Everything an invocation needs, built once per cold start. Generic over its ports so that tests can put a
/// recording notifier or a mocked SDK client in.
pub struct App<L = ElbClient, N = SnsNotifier> {
    config: Config,
    lb: L,
    notifier: N,
    home: Home,
}

impl App {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let notifier = SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            config.common.topic_arn.clone(),
            config.common.notification_format,
        );
        let lb = ElbClient::new(aws_sdk_elasticloadbalancingv2::Client::new(sdk));
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let home = Home::new(&config.common.topic_arn, &region);
        App { config, lb, notifier, home }
    }
}

impl<L: LoadBalancer, N: Notifier + Sync> App<L, N> {
    pub fn with_ports(config: Config, lb: L, notifier: N, home: Home) -> Self {
        App { config, lb, notifier, home }
    }

    pub async fn handle(&self, payload: Value) -> Result<Response, InvokeError> {
        let event = intake::parse(&payload).inspect_err(|e| tracing::warn!(error = %e, "rejected event"))?;
        let route =
            route::route(&event, &self.home, self.config.common.dry_run).map_err(InvokeError::InvalidCommand)?;
        let ctx = Ctx { lb: &self.lb, config: &self.config };
        let (trigger, reports) = match route {
            Route::Skip { trigger, reason } => (trigger, vec![report::skipped(None, action::NONE, reason)]),
            Route::Alarm { trigger, alarm } => (trigger, actions::on_alarm(&ctx, alarm).await),
            Route::Command { trigger, command, dry_run } => {
                let reports =
                    actions::on_command(&ctx, &command, dry_run).await.map_err(InvokeError::InvalidCommand)?;
                (trigger, reports)
            }
        };
        finish(&self.notifier, FUNCTION, report::stamp(&trigger, reports)).await
    }
}
