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
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move { app.handle(event.payload).await }))
        .await
}
