//! Settings of `target-failover`, read once per cold start.

use shared::config::{number, optional, CommonConfig, ConfigError, COMMON_ENV_VARS};

/// Every environment variable this function reads (the deployment test compares it with template.yaml).
pub const ENV_VARS: &[&str] = &[
    "NOTIFICATION_TOPIC_ARN",
    "DRY_RUN",
    "OPT_IN_TAG_KEY",
    "NOTIFICATION_FORMAT",
    "MIN_HEALTHY_TARGETS",
    "MIN_HEALTHY_PERCENT",
    "FAILBACK",
];

/// What to do when a group that lost its traffic is healthy again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failback {
    /// Restore the listener weights that were in place before the shift.
    Auto,
    /// Notify, and leave the restoring to a person.
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub common: CommonConfig,
    /// `MIN_HEALTHY_TARGETS` (default 1): the least number of healthy targets a group keeps in service.
    pub min_healthy_targets: u32,
    /// `MIN_HEALTHY_PERCENT` (default 50): the least share of registered targets kept healthy in service.
    pub min_healthy_percent: u32,
    /// `FAILBACK` (default `auto`).
    pub failback: Failback,
}

impl Config {
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        debug_assert!(COMMON_ENV_VARS.iter().all(|v| ENV_VARS.contains(v)));
        let failback = match optional(lookup, "FAILBACK").as_deref() {
            None => Failback::Auto,
            Some(v) if v.eq_ignore_ascii_case("auto") => Failback::Auto,
            Some(v) if v.eq_ignore_ascii_case("manual") => Failback::Manual,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "FAILBACK",
                    value: other.to_owned(),
                    expected: "auto or manual".into(),
                })
            }
        };
        Ok(Config {
            common: CommonConfig::from_lookup(lookup)?,
            min_healthy_targets: number(lookup, "MIN_HEALTHY_TARGETS", 1, 0, 1000)?,
            min_healthy_percent: number(lookup, "MIN_HEALTHY_PERCENT", 50, 0, 100)?,
            failback,
        })
    }
}
