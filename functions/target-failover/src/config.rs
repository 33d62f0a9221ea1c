//! Settings of `target-failover`, read once per cold start. [`SETTINGS`] declares each one (name, default,
//! meaning) once; the README, the template and its check are tested against it.

use failover_core::config::{boolean, choice, number, CommonConfig, ConfigError, Setting, COMMON_SETTINGS};

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

pub const ZONE_EVACUATION_MIN_TARGETS: Setting = Setting {
    name: "ZONE_EVACUATION_MIN_TARGETS",
    default: Some("2"),
    meaning: "targets of one zone removed or failing within the window that make a failure zonal (evacuate the zone)",
};
pub const ZONE_EVACUATION_WINDOW_MINUTES: Setting = Setting {
    name: "ZONE_EVACUATION_WINDOW_MINUTES",
    default: Some("10"),
    meaning: "the window, in minutes, over which removals in one zone count towards a zonal failure",
};
pub const ZONAL_SHIFT_EXPIRES_MINUTES: Setting = Setting {
    name: "ZONAL_SHIFT_EXPIRES_MINUTES",
    default: Some("180"),
    meaning: "how long a zonal shift this function starts lasts before ARC ends it by itself (1 to 4320 minutes); \
              a shift kept because another alarm on its zone is in ALARM is extended to this from then",
};
pub const RESTORE_HOLD_MINUTES: Setting = Setting {
    name: "RESTORE_HOLD_MINUTES",
    default: Some("10"),
    meaning: "after the OK of an alarm whose metric the removal itself silences (a load balancer's host counts or traffic per group or zone), the targets stay out this many minutes (0 to 1440; 0: none), then those passing their health check return; after the OK of a per-zone traffic alarm, the zonal shift stays as long",
};
pub const FLAP_WINDOW_MINUTES: Setting = Setting {
    name: "FLAP_WINDOW_MINUTES",
    default: Some("60"),
    meaning:
        "a target removed twice within this many minutes (0 to 1440; 0: never) stays out until a person runs `restore`",
};
pub const REPLACE_INSTANCES: Setting = Setting {
    name: "REPLACE_INSTANCES",
    default: Some("false"),
    meaning: "mark a removed instance unhealthy in its opted-in Auto Scaling group so that the group replaces it",
};

/// Every setting this function reads: the public contract.
pub const SETTINGS: &[&Setting] = &[
    COMMON_SETTINGS[0],
    COMMON_SETTINGS[1],
    COMMON_SETTINGS[2],
    COMMON_SETTINGS[3],
    COMMON_SETTINGS[4],
    COMMON_SETTINGS[5],
    COMMON_SETTINGS[6],
    &MIN_HEALTHY_TARGETS,
    &MIN_HEALTHY_PERCENT,
    &FAILBACK,
    &RESTORE,
    &RESTORE_HOLD_MINUTES,
    &FLAP_WINDOW_MINUTES,
    &ZONE_EVACUATION_MIN_TARGETS,
    &ZONE_EVACUATION_WINDOW_MINUTES,
    &ZONAL_SHIFT_EXPIRES_MINUTES,
    &REPLACE_INSTANCES,
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
    /// [`RESTORE_HOLD_MINUTES`].
    pub restore_hold_minutes: u32,
    /// [`FLAP_WINDOW_MINUTES`]: at most a day, the shortest retention, so that the closed removals it counts are
    /// still in the ledger.
    pub flap_window_minutes: u32,
    /// [`ZONE_EVACUATION_MIN_TARGETS`].
    pub zone_evacuation_min_targets: u32,
    /// [`ZONE_EVACUATION_WINDOW_MINUTES`].
    pub zone_evacuation_window_minutes: u32,
    /// [`ZONAL_SHIFT_EXPIRES_MINUTES`]: ARC accepts 1 minute to 72 hours.
    pub zonal_shift_expires_minutes: u32,
    /// [`REPLACE_INSTANCES`].
    pub replace_instances: bool,
}

impl Config {
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Config {
            common: CommonConfig::from_lookup(lookup)?,
            min_healthy_targets: number(lookup, &MIN_HEALTHY_TARGETS, 0, 1000)?,
            min_healthy_percent: number(lookup, &MIN_HEALTHY_PERCENT, 0, 100)?,
            failback: choice(lookup, &FAILBACK, &[("auto", Failback::Auto), ("manual", Failback::Manual)])?,
            restore: choice(lookup, &RESTORE, &[("auto", Restore::Auto), ("manual", Restore::Manual)])?,
            restore_hold_minutes: number(lookup, &RESTORE_HOLD_MINUTES, 0, 1440)?,
            flap_window_minutes: number(lookup, &FLAP_WINDOW_MINUTES, 0, 1440)?,
            zone_evacuation_min_targets: number(lookup, &ZONE_EVACUATION_MIN_TARGETS, 1, 1000)?,
            zone_evacuation_window_minutes: number(lookup, &ZONE_EVACUATION_WINDOW_MINUTES, 1, 1440)?,
            zonal_shift_expires_minutes: number(lookup, &ZONAL_SHIFT_EXPIRES_MINUTES, 1, 4320)?,
            replace_instances: boolean(lookup, &REPLACE_INSTANCES)?,
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
        assert_eq!((config.restore_hold_minutes, config.flap_window_minutes), (10, 60));
        assert_eq!((config.zone_evacuation_min_targets, config.zone_evacuation_window_minutes), (2, 10));
        assert_eq!((config.zonal_shift_expires_minutes, config.replace_instances), (180, false));
        let mut listed: Vec<String> = SETTINGS.iter().map(|s| s.name.to_owned()).collect();
        listed.sort();
        assert_eq!(read, listed);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("MIN_HEALTHY_PERCENT", "101"),
            ("MIN_HEALTHY_TARGETS", "-1"),
            ("FAILBACK", "later"),
            ("RESTORE", "never"),
            ("ZONAL_SHIFT_EXPIRES_MINUTES", "4321"),
            ("ZONAL_SHIFT_EXPIRES_MINUTES", "0"),
            ("ZONE_EVACUATION_MIN_TARGETS", "0"),
            ("REPLACE_INSTANCES", "yes"),
            ("RESTORE_HOLD_MINUTES", "1441"),
            ("FLAP_WINDOW_MINUTES", "1441"),
        ] {
            let err = read_by(&[TOPIC, LEDGER, (name, value)]).0.expect_err(value).to_string();
            assert!(err.contains(name) && err.contains(value), "{err}");
        }
        assert_eq!(read_by(&[TOPIC, LEDGER, ("FAILBACK", "MANUAL")]).0.unwrap().failback, Failback::Manual);
        assert_eq!(read_by(&[TOPIC, LEDGER, ("RESTORE", "manual")]).0.unwrap().restore, Restore::Manual);
    }
}
