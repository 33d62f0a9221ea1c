//! Lambda entry point of `database-failover`: wires telemetry, configuration, the SDK and the handler, once per cold start.

use database_failover::{App, Config};
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), Error> {
    failover_core::telemetry::init();
    let config = Config::from_lookup(&failover_core::config::from_env).inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?;
    // The app name goes into every request's user agent: CloudTrail's `userAgent` then names our calls.
    let app_name = failover_core::telemetry::app_name(database_failover::FUNCTION, env!("CARGO_PKG_VERSION"));
    let app_name = aws_config::AppName::new(app_name)?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).app_name(app_name).load().await;
    let app = App::new(config, &sdk);
    let app = &app;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        let remaining = std::time::Duration::from_millis(event.context.deadline)
            .checked_sub(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default());
        let context = &event.context;
        app.handle_with_context(
            event.payload,
            Some(&context.request_id),
            Some(&context.invoked_function_arn),
            remaining,
        )
        .await
    }))
    .await
}
