//! Lambda entry point of `target-failover`: wires telemetry, configuration, the SDK and the handler, once per cold start.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;
use target_failover::{App, Config};

#[tokio::main]
async fn main() -> Result<(), Error> {
    failover_core::telemetry::init();
    let config = Config::from_lookup(&failover_core::config::from_env).inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?;
    // The app name goes into every request's user agent: CloudTrail's `userAgent` then names our calls.
    let app_name = failover_core::telemetry::app_name(target_failover::FUNCTION, env!("CARGO_PKG_VERSION"));
    let app_name = aws_config::AppName::new(app_name)?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).app_name(app_name).load().await;
    let app = App::new(config, &sdk);
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // The deadline (epoch milliseconds) sets the lease: the time left plus a margin.
        let deadline = std::time::UNIX_EPOCH + std::time::Duration::from_millis(event.context.deadline);
        let remaining = deadline.duration_since(std::time::SystemTime::now()).ok();
        app.handle_with_context(event.payload, Some(&event.context.request_id), remaining).await
    }))
    .await
}
