//! Logging: JSON lines on stdout (what Lambda's JSON log format and CloudWatch Logs Insights expect), plain
//! text only when `AWS_LAMBDA_LOG_FORMAT=Text`. Level from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG` (a plain
//! level such as `debug`), then INFO.
//!
//! [`app_name`]: the name every SDK client sends in its user agent, so CloudTrail finds our calls.

use tracing_subscriber::filter::LevelFilter;

pub fn init() {
    // The metric lines go to the same stdout (EMF, see crate::metrics).
    crate::metrics::enable();
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok()
        .and_then(|v| v.trim().parse::<LevelFilter>().ok())
        .unwrap_or(LevelFilter::INFO);
    let builder = tracing_subscriber::fmt()
        .with_target(false)
        .with_max_level(level)
        .with_ansi(false)
        .with_writer(std::io::stdout);
    let text = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|v| v.eq_ignore_ascii_case("text"));
    // try_init: a second initialisation (tests) is not an error worth stopping for.
    let _ = if text { builder.without_time().try_init() } else { builder.json().flatten_event(true).try_init() };
}

/// The SDK app name of a function, sent in every request's user agent (`app/failover_target-failover_0.1.0`)
/// and so recorded in CloudTrail's `userAgent`. The issue asked for `failover/<function>/<version>`, but the SDK
/// refuses `/` in an app name (only alphanumerics and `!#$%&'*+-.^_`|~`); `_` separates the parts instead, as
/// it appears in neither a function name nor a version.
pub fn app_name(function: &str, version: &str) -> String {
    format!("failover_{function}_{version}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_app_name_names_the_function_and_version_in_the_characters_the_sdk_accepts() {
        let name = super::app_name("target-failover", "0.1.0");
        assert_eq!(name, "failover_target-failover_0.1.0");
        // aws_types::app_name::AppName::new's rule; the release binaries refuse to start otherwise (e2e tests).
        let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
        assert!(name.chars().all(allowed) && name.len() <= 50, "{name}");
    }
}
