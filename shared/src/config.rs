//! Settings every function reads, and the parsers that function-specific settings use too.
//!
//! Configuration is read once per cold start from a lookup function (the process environment in `main`, a
//! map in tests, so tests never touch the process environment). A missing or bad value stops the init with a
//! message that names the variable: a remediation tool must not run on a guess.

use std::fmt::Display;
use std::str::FromStr;

use crate::notify::NotificationFormat;

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
    /// `NOTIFICATION_TOPIC_ARN` (required): where every action, refusal and failure is published.
    pub topic_arn: String,
    /// `DRY_RUN` (default `false`): plan and notify, change nothing.
    pub dry_run: bool,
    /// `OPT_IN_TAG_KEY` (default `failover:enabled`): a resource opts in when this tag's value is `true`.
    pub opt_in_tag_key: String,
    /// `NOTIFICATION_FORMAT` (default `json`; or `chatbot` for AWS Chatbot custom notifications).
    pub notification_format: NotificationFormat,
}

/// The variables [`CommonConfig`] reads.
pub const COMMON_ENV_VARS: [&str; 4] = ["NOTIFICATION_TOPIC_ARN", "DRY_RUN", "OPT_IN_TAG_KEY", "NOTIFICATION_FORMAT"];

pub const DEFAULT_OPT_IN_TAG_KEY: &str = "failover:enabled";

impl CommonConfig {
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let topic_arn = required(lookup, "NOTIFICATION_TOPIC_ARN", "the ARN of the SNS topic for notifications")?;
        if !topic_arn.starts_with("arn:") || !topic_arn.contains(":sns:") {
            return Err(ConfigError::Invalid {
                name: "NOTIFICATION_TOPIC_ARN",
                value: topic_arn,
                expected: "an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)".into(),
            });
        }
        let opt_in_tag_key = optional(lookup, "OPT_IN_TAG_KEY").unwrap_or_else(|| DEFAULT_OPT_IN_TAG_KEY.to_owned());
        if opt_in_tag_key.len() > 128 {
            return Err(ConfigError::Invalid {
                name: "OPT_IN_TAG_KEY",
                value: opt_in_tag_key,
                expected: "a tag key of at most 128 characters".into(),
            });
        }
        let notification_format = match optional(lookup, "NOTIFICATION_FORMAT").as_deref() {
            None => NotificationFormat::Json,
            Some(v) if v.eq_ignore_ascii_case("json") => NotificationFormat::Json,
            Some(v) if v.eq_ignore_ascii_case("chatbot") => NotificationFormat::Chatbot,
            Some(other) => {
                return Err(ConfigError::Invalid {
                    name: "NOTIFICATION_FORMAT",
                    value: other.to_owned(),
                    expected: "json or chatbot".into(),
                })
            }
        };
        Ok(CommonConfig { topic_arn, dry_run: boolean(lookup, "DRY_RUN", false)?, opt_in_tag_key, notification_format })
    }
}

/// A set, non-blank value with surrounding white space removed; blank counts as unset (SAM passes `""`
/// for parameters left empty).
pub fn optional(lookup: &dyn Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

pub fn required(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    hint: &'static str,
) -> Result<String, ConfigError> {
    optional(lookup, name).ok_or(ConfigError::Missing { name, hint })
}

/// `true` or `false`, any case; unset means `default`. Anything else is an error, never a guess.
pub fn boolean(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: bool,
) -> Result<bool, ConfigError> {
    match optional(lookup, name) {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(ConfigError::Invalid { name, value: v, expected: "true or false".into() }),
    }
}

/// A number within `min..=max`; unset means `default`.
pub fn number<T>(
    lookup: &dyn Fn(&str) -> Option<String>,
    name: &'static str,
    default: T,
    min: T,
    max: T,
) -> Result<T, ConfigError>
where
    T: FromStr + PartialOrd + Display + Copy,
{
    let Some(raw) = optional(lookup, name) else { return Ok(default) };
    match raw.parse::<T>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        _ => Err(ConfigError::Invalid { name, value: raw, expected: format!("a number from {min} to {max}") }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |name| map.get(name).cloned()
    }

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:failover";

    #[test]
    fn defaults_apply_when_only_the_topic_is_set() {
        let config = CommonConfig::from_lookup(&lookup_of(&[("NOTIFICATION_TOPIC_ARN", TOPIC)])).unwrap();
        assert_eq!(config.topic_arn, TOPIC);
        assert!(!config.dry_run);
        assert_eq!(config.opt_in_tag_key, "failover:enabled");
        assert_eq!(config.notification_format, NotificationFormat::Json);
    }

    #[test]
    fn every_setting_is_read() {
        let config = CommonConfig::from_lookup(&lookup_of(&[
            ("NOTIFICATION_TOPIC_ARN", TOPIC),
            ("DRY_RUN", "TRUE"),
            ("OPT_IN_TAG_KEY", "team:auto-repair"),
            ("NOTIFICATION_FORMAT", "chatbot"),
        ]))
        .unwrap();
        assert!(config.dry_run);
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
        for (name, value) in
            [("NOTIFICATION_TOPIC_ARN", "my-topic"), ("DRY_RUN", "yes please"), ("NOTIFICATION_FORMAT", "xml")]
        {
            let mut pairs = vec![("NOTIFICATION_TOPIC_ARN", TOPIC)];
            pairs.retain(|(k, _)| *k != name);
            pairs.push((name, value));
            let err = CommonConfig::from_lookup(&lookup_of(&pairs)).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(name) && text.contains(value), "{text}");
        }
    }

    #[test]
    fn numbers_outside_their_range_are_rejected() {
        let lookup = lookup_of(&[("N", "101")]);
        let err = number::<u32>(&lookup, "N", 50, 0, 100).unwrap_err();
        assert_eq!(err.to_string(), "environment variable N has value \"101\", expected a number from 0 to 100");
        assert_eq!(number::<u32>(&lookup_of(&[]), "N", 50, 0, 100), Ok(50));
        assert_eq!(number::<u32>(&lookup_of(&[("N", " 7 ")]), "N", 50, 0, 100), Ok(7));
    }
}
