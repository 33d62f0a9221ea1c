//! Settings: the one declaration of each setting ([`Setting`]: name, default, meaning), the settings both
//! functions read ([`CommonConfig`]), and the parsers each function's own settings use.
//!
//! Configuration is read once per cold start from a lookup function (the process environment in `main`, a
//! map in tests, so tests never touch the process environment). A missing or bad value stops the init with a
//! message that names the variable: a remediation tool must not run on a guess.
//!
//! Each function lists its settings in `config::SETTINGS`. That list is the contract: the README's settings
//! table, the template's parameters and `tools/check_template.py` are checked against it by a test
//! (`tests/tests/against_local_aws/settings_contract.rs`, through the generated `docs/settings.json`).

use std::fmt::Display;
use std::str::FromStr;

use serde::Serialize;

use crate::notify::NotificationFormat;

/// One environment variable of the public contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Setting {
    pub name: &'static str,
    /// The value when unset, spelled as the template's parameter default; `None` for a required setting, and
    /// `""` for one that is off when unset.
    pub default: Option<&'static str>,
    /// What it does, in one line (the README's settings table shows it).
    pub meaning: &'static str,
}

impl Setting {
    /// The value set, or else the default; `None` when unset without a default (or with `""`).
    pub fn read(&self, lookup: &dyn Fn(&str) -> Option<String>) -> Option<String> {
        optional(lookup, self.name).or_else(|| self.default.filter(|d| !d.is_empty()).map(str::to_owned))
    }

    fn invalid(&self, value: String, expected: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { name: self.name, value, expected: expected.into() }
    }
}

pub const NOTIFICATION_TOPIC_ARN: Setting = Setting {
    name: "NOTIFICATION_TOPIC_ARN",
    default: None,
    meaning: "SNS topic for every notification (the stack's own)",
};
pub const DRY_RUN: Setting = Setting {
    name: "DRY_RUN",
    default: Some("false"),
    meaning: "plan and notify with outcome `dry-run`, change nothing",
};
pub const OPT_IN_TAG_KEY: Setting = Setting {
    name: "OPT_IN_TAG_KEY",
    default: Some("failover:enabled"),
    meaning: "a resource opts in when this tag's value is exactly `true`",
};
pub const NOTIFICATION_FORMAT: Setting = Setting {
    name: "NOTIFICATION_FORMAT",
    default: Some("json"),
    meaning: "`json`, or `chatbot` for AWS Chatbot custom notifications",
};

pub const LEDGER_TABLE: Setting =
    Setting { name: "LEDGER_TABLE", default: None, meaning: "the ledger's DynamoDB table (the stack's own)" };
pub const LEDGER_RETENTION_DAYS: Setting = Setting {
    name: "LEDGER_RETENTION_DAYS",
    default: Some("30"),
    meaning: "days a ledger record is kept once it is closed or abandoned (1 to 3650)",
};

pub const ALARM_NAME_PREFIX: Setting = Setting {
    name: "ALARM_NAME_PREFIX",
    default: Some("failover-"),
    meaning: "the stack's AlarmNamePrefix: readiness looks for alarms whose names start with it",
};

/// The settings [`CommonConfig`] reads, which every function's `SETTINGS` starts with.
pub const COMMON_SETTINGS: [&Setting; 7] = [
    &NOTIFICATION_TOPIC_ARN,
    &DRY_RUN,
    &OPT_IN_TAG_KEY,
    &NOTIFICATION_FORMAT,
    &LEDGER_TABLE,
    &LEDGER_RETENTION_DAYS,
    &ALARM_NAME_PREFIX,
];

/// Reads the process environment; the lookup used in production.
pub fn from_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {name} is required: {hint}")]
    Missing { name: &'static str, hint: &'static str },
    #[error("environment variable {name} has value {value:?}, expected {expected}")]
    Invalid { name: &'static str, value: String, expected: String },
}

/// The settings shared by both functions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommonConfig {
    /// [`NOTIFICATION_TOPIC_ARN`]: where every action, refusal and failure is published.
    pub topic_arn: String,
    /// [`DRY_RUN`]: plan and notify, change nothing.
    pub dry_run: bool,
    /// [`OPT_IN_TAG_KEY`]: a resource opts in when this tag's value is `true`.
    pub opt_in_tag_key: String,
    /// [`NOTIFICATION_FORMAT`].
    pub notification_format: NotificationFormat,
    /// [`LEDGER_TABLE`].
    pub ledger_table: String,
    /// [`LEDGER_RETENTION_DAYS`].
    pub ledger_retention_days: u32,
    /// [`ALARM_NAME_PREFIX`]: the names of the alarms the stack's EventBridge rules route to the functions
    /// start with it (the template sets it from the same parameter as the rules).
    pub alarm_name_prefix: String,
}

impl CommonConfig {
    /// How long a ledger record is kept, in seconds.
    pub fn retention_secs(&self) -> i64 {
        i64::from(self.ledger_retention_days) * 86_400
    }
}

impl CommonConfig {
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let topic_arn = required(lookup, &NOTIFICATION_TOPIC_ARN)?;
        if !topic_arn.starts_with("arn:") || !topic_arn.contains(":sns:") {
            return Err(
                NOTIFICATION_TOPIC_ARN.invalid(topic_arn, "an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)")
            );
        }
        let opt_in_tag_key = OPT_IN_TAG_KEY.read(lookup).unwrap_or_default();
        if opt_in_tag_key.is_empty() || opt_in_tag_key.len() > 128 {
            return Err(OPT_IN_TAG_KEY.invalid(opt_in_tag_key, "a tag key of 1 to 128 characters"));
        }
        let notification_format = choice(
            lookup,
            &NOTIFICATION_FORMAT,
            &[("json", NotificationFormat::Json), ("chatbot", NotificationFormat::Chatbot)],
        )?;
        let alarm_name_prefix = ALARM_NAME_PREFIX.read(lookup).unwrap_or_default();
        // CloudWatch alarm names are 1 to 255 characters; the template forbids wildcards, as EventBridge's
        // prefix match would not expand them.
        if alarm_name_prefix.is_empty() || alarm_name_prefix.len() > 255 || alarm_name_prefix.contains(['*', '?']) {
            return Err(ALARM_NAME_PREFIX
                .invalid(alarm_name_prefix, "an alarm-name prefix of 1 to 255 characters without * or ?"));
        }
        Ok(CommonConfig {
            topic_arn,
            dry_run: boolean(lookup, &DRY_RUN)?,
            opt_in_tag_key,
            notification_format,
            ledger_table: required(lookup, &LEDGER_TABLE)?,
            ledger_retention_days: number(lookup, &LEDGER_RETENTION_DAYS, 1, 3650)?,
            alarm_name_prefix,
        })
    }
}

/// A set, non-blank value with surrounding white space removed; blank counts as unset (SAM passes `""`
/// for parameters left empty).
pub fn optional(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub fn required(lookup: &dyn Fn(&str) -> Option<String>, setting: &Setting) -> Result<String, ConfigError> {
    setting.read(lookup).ok_or(ConfigError::Missing { name: setting.name, hint: setting.meaning })
}

/// `true` or `false`, any case; unset means the setting's default. Anything else is an error, never a guess.
pub fn boolean(lookup: &dyn Fn(&str) -> Option<String>, setting: &Setting) -> Result<bool, ConfigError> {
    choice(lookup, setting, &[("true", true), ("false", false)])
}

/// One of `options` (any case); unset means the setting's default.
pub fn choice<T: Copy>(
    lookup: &dyn Fn(&str) -> Option<String>,
    setting: &Setting,
    options: &[(&str, T)],
) -> Result<T, ConfigError> {
    let raw = required(lookup, setting)?;
    options.iter().find(|(name, _)| raw.eq_ignore_ascii_case(name)).map(|(_, v)| *v).ok_or_else(|| {
        let names: Vec<&str> = options.iter().map(|(name, _)| *name).collect();
        setting.invalid(raw, names.join(" or "))
    })
}

/// A number within `min..=max`; unset means the setting's default.
pub fn number<T>(lookup: &dyn Fn(&str) -> Option<String>, setting: &Setting, min: T, max: T) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display + Copy,
{
    let raw = required(lookup, setting)?;
    match raw.parse::<T>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        _ => Err(setting.invalid(raw, format!("a number from {min} to {max}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::lookup as lookup_of;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:failover";

    #[test]
    fn defaults_apply_when_only_the_topic_is_set() {
        let config = CommonConfig::from_lookup(&lookup_of(&[
            ("NOTIFICATION_TOPIC_ARN", TOPIC),
            ("LEDGER_TABLE", "failover-ledger"),
        ]))
        .unwrap();
        assert_eq!(config.topic_arn, TOPIC);
        assert!(!config.dry_run);
        assert_eq!(config.opt_in_tag_key, "failover:enabled");
        assert_eq!(config.notification_format, NotificationFormat::Json);
        assert_eq!(Some(config.alarm_name_prefix.as_str()), ALARM_NAME_PREFIX.default);
    }

    #[test]
    fn every_setting_is_read() {
        let config = CommonConfig::from_lookup(&lookup_of(&[
            ("NOTIFICATION_TOPIC_ARN", TOPIC),
            ("LEDGER_TABLE", "failover-ledger"),
            ("DRY_RUN", "TRUE"),
            ("OPT_IN_TAG_KEY", "team:auto-repair"),
            ("NOTIFICATION_FORMAT", "chatbot"),
            ("ALARM_NAME_PREFIX", "ops-"),
        ]))
        .unwrap();
        assert!(config.dry_run);
        assert_eq!(config.alarm_name_prefix, "ops-");
        assert_eq!(config.opt_in_tag_key, "team:auto-repair");
        assert_eq!(config.notification_format, NotificationFormat::Chatbot);
    }

    #[test]
    fn missing_topic_names_the_variable() {
        let err = CommonConfig::from_lookup(&lookup_of(&[("NOTIFICATION_TOPIC_ARN", "  ")])).unwrap_err();
        assert!(err.to_string().contains("NOTIFICATION_TOPIC_ARN"), "{err}");
    }

    #[test]
    fn bad_values_name_the_variable_and_the_value() {
        for (name, value) in [
            ("NOTIFICATION_TOPIC_ARN", "my-topic"),
            ("DRY_RUN", "yes please"),
            ("NOTIFICATION_FORMAT", "xml"),
            ("ALARM_NAME_PREFIX", "failover-*"),
        ] {
            let mut pairs = vec![("NOTIFICATION_TOPIC_ARN", TOPIC), ("LEDGER_TABLE", "failover-ledger")];
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            let err = CommonConfig::from_lookup(&lookup_of(&pairs)).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(name) && text.contains(value), "{text}");
        }
    }

    #[test]
    fn numbers_outside_their_range_are_rejected() {
        const N: Setting = Setting { name: "N", default: Some("50"), meaning: "n" };
        let lookup = lookup_of(&[("N", "101")]);
        let err = number::<u32>(&lookup, &N, 0, 100).unwrap_err();
        assert_eq!(err.to_string(), "environment variable N has value \"101\", expected a number from 0 to 100");
        assert_eq!(number::<u32>(&lookup_of(&[]), &N, 0, 100), Ok(50));
        assert_eq!(number::<u32>(&lookup_of(&[("N", " 7 ")]), &N, 0, 100), Ok(7));
    }

    #[test]
    fn every_common_default_parses() {
        let config = CommonConfig::from_lookup(&lookup_of(&[
            ("NOTIFICATION_TOPIC_ARN", TOPIC),
            ("LEDGER_TABLE", "failover-ledger"),
        ]))
        .unwrap();
        assert_eq!(Some(config.dry_run.to_string().as_str()), DRY_RUN.default);
        assert_eq!(Some(config.opt_in_tag_key.as_str()), OPT_IN_TAG_KEY.default);
        assert_eq!(NOTIFICATION_TOPIC_ARN.default, None, "required");
        assert_eq!(config.ledger_table, "failover-ledger");
        assert_eq!(Some(config.ledger_retention_days.to_string().as_str()), LEDGER_RETENTION_DAYS.default);
        assert_eq!(config.retention_secs(), 30 * 86_400);
        let err = CommonConfig::from_lookup(&lookup_of(&[("NOTIFICATION_TOPIC_ARN", TOPIC)])).unwrap_err();
        assert!(err.to_string().contains("LEDGER_TABLE is required"), "{err}");
    }

    #[test]
    fn a_required_setting_without_a_value_is_missing_with_its_meaning() {
        let err = required(&lookup_of(&[]), &NOTIFICATION_TOPIC_ARN).unwrap_err();
        assert!(err.to_string().contains("NOTIFICATION_TOPIC_ARN is required: SNS topic"), "{err}");
    }
}
