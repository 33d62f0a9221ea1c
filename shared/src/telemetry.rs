//! Logging: JSON lines on stdout (what Lambda's JSON log format and CloudWatch Logs Insights expect), plain
//! text only when `AWS_LAMBDA_LOG_FORMAT=Text`. Level from `AWS_LAMBDA_LOG_LEVEL`, then `RUST_LOG` (a plain
//! level such as `debug`), then INFO.

use tracing_subscriber::filter::LevelFilter;

pub fn init() {
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
