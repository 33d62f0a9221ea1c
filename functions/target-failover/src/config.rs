//! Settings of `target-failover`, read once per cold start. [`SETTINGS`] declares each one (name, default,
//! meaning) once; the README, the template and its check are tested against it.

use failover_core::config::{choice, number, CommonConfig, ConfigError, Setting, COMMON_SETTINGS};

pub const MIN_HEALTHY_TARGETS: Setting = Setting {
    name: "MIN_HEALTHY_TARGETS",
    default: Some("1"),
    meaning: "the least number of healthy targets a group keeps in service",
};
pub const MIN_HEALTHY_PERCENT: Setting = Setting {
    name: "MIN_HEALTHY_PERCENT",
    default: Some("50"),
    meaning: "the least share of registered targets, in percent, kept healthy in service",
};
pub const FAILBACK: Setting = Setting {
    name: "FAILBACK",
    default: Some("auto"),
    meaning: "on recovery restore the listener weights (`auto`) or ask a person (`manual`)",
};
pub const RESTORE: Setting = Setting {
    name: "RESTORE",
    default: Some("auto"),
    meaning:
        "when the alarm that removed targets returns to OK, register them again (`auto`) or ask a person (`manual`)",
};

/// Every setting this function reads: the public contract.
pub const SETTINGS: &[&Setting] = &[
    COMMON_SETTINGS[0],
    COMMON_SETTINGS[1],
    COMMON_SETTINGS[2],
    COMMON_SETTINGS[3],
    COMMON_SETTINGS[4],
    COMMON_SETTINGS[5],
    &MIN_HEALTHY_TARGETS,
    &MIN_HEALTHY_PERCENT,
    &FAILBACK,
    &RESTORE,
];

/// What to do when a group that lost its traffic is healthy again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failback {
    /// Restore the listener weights that were in place before the shift.
    Auto,
    /// Notify, and leave the restoring to a person.
    Manual,
}

/// What to do with the targets an alarm removed when that alarm returns to OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Restore {
    /// Register them again; the load balancer's health checks decide when they serve.
    Auto,
    /// Notify, with the `restore` command to run.
    Manual,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub common: CommonConfig,
    /// [`MIN_HEALTHY_TARGETS`].
    pub min_healthy_targets: u32,
    /// [`MIN_HEALTHY_PERCENT`].
    pub min_healthy_percent: u32,
    /// [`FAILBACK`].
    pub failback: Failback,
    /// [`RESTORE`].
    pub restore: Restore,
}

impl Config {
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Config {
            common: CommonConfig::from_lookup(lookup)?,
            min_healthy_targets: number(lookup, &MIN_HEALTHY_TARGETS, 0, 1000)?,
            min_healthy_percent: number(lookup, &MIN_HEALTHY_PERCENT, 0, 100)?,
            failback: choice(lookup, &FAILBACK, &[("auto", Failback::Auto), ("manual", Failback::Manual)])?,
            restore: choice(lookup, &RESTORE, &[("auto", Restore::Auto), ("manual", Restore::Manual)])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_by(pairs: &[(&str, &str)]) -> (Result<Config, ConfigError>, Vec<String>) {
        let read = std::cell::RefCell::new(Vec::new());
        let lookup = |name: &str| {
            read.borrow_mut().push(name.to_owned());
            pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| (*v).to_owned())
        };
        let config = Config::from_lookup(&lookup);
        let mut read = read.into_inner();
        read.sort();
        read.dedup();
        (config, read)
    }

    const TOPIC: (&str, &str) = ("NOTIFICATION_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:failover");
    const LEDGER: (&str, &str) = ("LEDGER_TABLE", "failover-ledger");

    #[test]
    fn defaults_are_the_declared_ones_and_settings_list_every_variable_read() {
        let (config, read) = read_by(&[TOPIC, LEDGER]);
        let config = config.unwrap();
        assert_eq!(Some(config.min_healthy_targets.to_string().as_str()), MIN_HEALTHY_TARGETS.default);
        assert_eq!(Some(config.min_healthy_percent.to_string().as_str()), MIN_HEALTHY_PERCENT.default);
        assert_eq!(config.failback, Failback::Auto);
        assert_eq!(config.restore, Restore::Auto);
        let mut listed: Vec<String> = SETTINGS.iter().map(|s| s.name.to_owned()).collect();
        listed.sort();
        assert_eq!(read, listed);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in
            [("MIN_HEALTHY_PERCENT", "101"), ("MIN_HEALTHY_TARGETS", "-1"), ("FAILBACK", "later"), ("RESTORE", "never")]
        {
            let err = read_by(&[TOPIC, LEDGER, (name, value)]).0.expect_err(value).to_string();
            assert!(err.contains(name) && err.contains(value), "{err}");
        }
        assert_eq!(read_by(&[TOPIC, LEDGER, ("FAILBACK", "MANUAL")]).0.unwrap().failback, Failback::Manual);
        assert_eq!(read_by(&[TOPIC, LEDGER, ("RESTORE", "manual")]).0.unwrap().restore, Restore::Manual);
    }
}
