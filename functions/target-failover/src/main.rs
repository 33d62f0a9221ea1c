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
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
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
