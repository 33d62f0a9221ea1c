//! Lambda entry point of `target-failover`: the shared shell ([`failover_core::shell::serve`]) with this
//! function's configuration and app, built once per cold start.

use target_failover::{App, Config, FUNCTION};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    failover_core::shell::serve(FUNCTION, env!("CARGO_PKG_VERSION"), |sdk| {
        Config::from_lookup(&failover_core::config::from_env).map(|config| App::new(config, sdk))
    })
    .await
}
