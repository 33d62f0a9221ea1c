//! Settings of `database-failover`, read once per cold start.

use shared::config::{boolean, number, optional, CommonConfig, ConfigError, COMMON_ENV_VARS};

/// Every environment variable this function reads (the deployment test compares it with template.yaml).
pub const ENV_VARS: &[&str] = &[
    "NOTIFICATION_TOPIC_ARN",
    "DRY_RUN",
    "OPT_IN_TAG_KEY",
    "NOTIFICATION_FORMAT",
    "FAILURE_EVENT_IDS",
    "PROMOTE_WHEN_AVAILABLE",
    "MAX_REPLICA_LAG_SECONDS",
    "BACKUP_RETENTION_DAYS",
    "DB_ENDPOINT_RECORD",
    "ALLOW_CROSS_REGION",
];

/// RDS instance events that mean the primary may be down (AWS-FACTS section 2).
pub const DEFAULT_FAILURE_EVENT_IDS: &[&str] =
    &["RDS-EVENT-0031", "RDS-EVENT-0035", "RDS-EVENT-0036", "RDS-EVENT-0221", "RDS-EVENT-0004", "RDS-EVENT-0022"];

/// A Route 53 record to repoint at the new primary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointRecord {
    pub hosted_zone_id: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub common: CommonConfig,
    /// `FAILURE_EVENT_IDS` (comma-separated, default [`DEFAULT_FAILURE_EVENT_IDS`]).
    pub failure_event_ids: Vec<String>,
    /// `PROMOTE_WHEN_AVAILABLE` (default `false`): act on an alarm even when the primary reports `available`.
    pub promote_when_available: bool,
    /// `MAX_REPLICA_LAG_SECONDS` (default 30): replicas lagging more are not eligible.
    pub max_replica_lag_seconds: f64,
    /// `BACKUP_RETENTION_DAYS` (default 7, 1 to 35): automated backups of the promoted replica.
    pub backup_retention_days: i32,
    /// `DB_ENDPOINT_RECORD` (`<hosted-zone-id>/<record-name>`, default unset: no DNS change).
    pub endpoint_record: Option<EndpointRecord>,
    /// `ALLOW_CROSS_REGION` (default `false`): promote a cross-region replica whose source cannot be confirmed.
    pub allow_cross_region: bool,
}

impl Config {
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        debug_assert!(COMMON_ENV_VARS.iter().all(|v| ENV_VARS.contains(v)));
        let failure_event_ids = match optional(lookup, "FAILURE_EVENT_IDS") {
            None => DEFAULT_FAILURE_EVENT_IDS.iter().map(|s| s.to_string()).collect(),
            Some(raw) => {
                let ids: Vec<String> =
                    raw.split(',').map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()).collect();
                if ids.is_empty() || ids.iter().any(|id| !is_event_id(id)) {
                    return Err(ConfigError::Invalid {
                        name: "FAILURE_EVENT_IDS",
                        value: raw,
                        expected: "a comma-separated list of RDS event ids such as RDS-EVENT-0031".into(),
                    });
                }
                ids
            }
        };
        let endpoint_record = match optional(lookup, "DB_ENDPOINT_RECORD") {
            None => None,
            Some(raw) => match raw.split_once('/') {
                Some((zone, name)) if !zone.trim().is_empty() && !name.trim().is_empty() => Some(EndpointRecord {
                    hosted_zone_id: zone.trim().trim_start_matches("/hostedzone/").to_owned(),
                    name: name.trim().to_owned(),
                }),
                _ => {
                    return Err(ConfigError::Invalid {
                        name: "DB_ENDPOINT_RECORD",
                        value: raw,
                        expected: "<hosted-zone-id>/<record-name>, e.g. Z0123456789ABC/db.example.com".into(),
                    })
                }
            },
        };
        Ok(Config {
            common: CommonConfig::from_lookup(lookup)?,
            failure_event_ids,
            promote_when_available: boolean(lookup, "PROMOTE_WHEN_AVAILABLE", false)?,
            max_replica_lag_seconds: number(lookup, "MAX_REPLICA_LAG_SECONDS", 30.0, 0.0, 86_400.0)?,
            backup_retention_days: number(lookup, "BACKUP_RETENTION_DAYS", 7, 1, 35)?,
            endpoint_record,
            allow_cross_region: boolean(lookup, "ALLOW_CROSS_REGION", false)?,
        })
    }
}

fn is_event_id(id: &str) -> bool {
    id.strip_prefix("RDS-EVENT-").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}
