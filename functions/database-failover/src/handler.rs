//! The invocation handler: intake, decide, act and report.

use serde_json::Value;
use shared::intake::{self, Event};
use shared::invoke::InvokeError;
use shared::notify::SnsNotifier;
use shared::response::Response;

use crate::Config;

pub const FUNCTION: &str = "database-failover";

/// Everything an invocation needs, built once per cold start.
pub struct App {
    pub config: Config,
    pub notifier: SnsNotifier,
}

impl App {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let notifier = SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            config.common.topic_arn.clone(),
            config.common.notification_format,
        );
        App { config, notifier }
    }

    pub async fn handle(&self, payload: Value) -> Result<Response, InvokeError> {
        let event = intake::parse(&payload).inspect_err(|e| tracing::warn!(error = %e, "rejected event"))?;
        let response = match event {
            Event::Unsupported { source, detail_type } => {
                Response::skipped(FUNCTION, format!("not handled: {detail_type} from {source}"))
            }
            other => Response::skipped(FUNCTION, format!("not handled yet: {}", kind_of(&other))),
        };
        tracing::info!(status = ?response.status, message = %response.message, "invocation done");
        Ok(response)
    }
}

fn kind_of(event: &Event) -> &'static str {
    match event {
        Event::Alarm(_) => "alarm",
        Event::Rds(_) => "rds event",
        Event::Manual(_) => "manual command",
        Event::Unsupported { .. } => "unsupported",
    }
}
