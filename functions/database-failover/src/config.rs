//! Settings of `database-failover`, read once per cold start. [`SETTINGS`] declares each one (name, default,
//! meaning) once; the README, the template and its check are tested against it.

use std::collections::BTreeMap;

pub use crate::decide::fence::Fence;
use failover_core::config::{boolean, number, CommonConfig, ConfigError, Setting, COMMON_SETTINGS};

pub const FAILURE_EVENT_IDS: Setting = Setting {
    name: "FAILURE_EVENT_IDS",
    default: Some("RDS-EVENT-0031,RDS-EVENT-0036,RDS-EVENT-0022"),
    meaning: "RDS instance events (comma-separated ids) that mean a primary may be down; shutdown (0004) comes with \
              every reboot and is left out; a primary to fix in place (storage full 0221, invalid parameters 0035) \
              is notified with its fix, listed here or not",
};
pub const PROMOTE_WHEN_AVAILABLE: Setting = Setting {
    name: "PROMOTE_WHEN_AVAILABLE",
    default: Some("false"),
    meaning: "act on an alarm even when the primary reports `available`",
};
pub const MAX_REPLICA_LAG_SECONDS: Setting = Setting {
    name: "MAX_REPLICA_LAG_SECONDS",
    default: Some("30"),
    meaning: "replicas lagging more (or unknown, or -1) are not eligible",
};
pub const BACKUP_RETENTION_DAYS: Setting = Setting {
    name: "BACKUP_RETENTION_DAYS",
    default: Some("7"),
    meaning: "automated backups of the promoted replica, in days (1 to 35)",
};
pub const ALLOW_CROSS_REGION: Setting = Setting {
    name: "ALLOW_CROSS_REGION",
    default: Some("false"),
    meaning: "may promote a cross-region replica whose source cannot be confirmed",
};
pub const DECISION_TTL_MINUTES: Setting = Setting {
    name: "DECISION_TTL_MINUTES",
    default: Some("60"),
    meaning: "a promotion decided and not completed is abandoned after this many minutes (1 to 1440), or sooner \
              when its guards no longer hold; one whose replica is already promoted (or promoting) is completed \
              whatever its age",
};

pub const ONSET_WINDOW_MINUTES: Setting = Setting {
    name: "ONSET_WINDOW_MINUTES",
    default: Some("15"),
    meaning: "a replica's replication that broke (a -1, or lag growing with the clock) within this many minutes \
              (1 to 60) before a failure's trigger is its onset, and lag is judged as of then; one that broke \
              earlier was already broken",
};

pub const AWS_RECOVERY_WAIT_MINUTES: Setting = Setting {
    name: "AWS_RECOVERY_WAIT_MINUTES",
    default: Some("10"),
    meaning: "a primary whose Multi-AZ failover AWS started (RDS-EVENT-0013) less than this many minutes (1 to 60) \
              ago, and has not completed, is not promoted away from, nor a Multi-AZ DB cluster failed over whose own \
              failover started (RDS-EVENT-0072 / 0073): the trigger waits (retried by Lambda)",
};

pub const HOME_LEDGER_TABLES: Setting = Setting {
    name: "HOME_LEDGER_TABLES",
    default: Some(""),
    meaning: "the ARNs (comma-separated) of other regions' ledger tables not named like this stack's own: decisions \
              about a primary are written in its region's ledger whichever stack makes them; a region not listed \
              has a table named like this stack's own (both regions deploy the same stack name)",
};
pub const RECREATE_REPLICA: Setting = Setting {
    name: "RECREATE_REPLICA",
    default: Some("false"),
    meaning: "after a promotion, create one read replica of the new primary (`CreateDBInstanceReadReplica`) with \
              the promoted replica's class, zone, opt-in and priority tags, so that the next failure has a candidate",
};

pub const MAX_GLOBAL_DATA_LOSS_SECONDS: Setting = Setting {
    name: "MAX_GLOBAL_DATA_LOSS_SECONDS",
    default: Some("0"),
    meaning: "an Aurora Global Database whose primary region is lost is failed over (`FailoverGlobalCluster` with \
              `AllowDataLoss`) alone only when its data-loss window (the secondary's RPO lag, else its replication \
              lag, as of the onset) is at most this many seconds (0 to 3600); otherwise, or unknown, a person must \
              `approve` it",
};

pub const APPROVAL_TTL_MINUTES: Setting = Setting {
    name: "APPROVAL_TTL_MINUTES",
    default: Some("30"),
    meaning: "a decision waiting for `approve` (a failover that may lose data, a detach) expires after this many \
              minutes (1 to 1440); an expired one cannot be approved, and the next event asks again",
};

/// Every setting this function reads: the public contract.
pub const FENCE: Setting = Setting {
    name: "FENCE",
    default: Some(""),
    meaning: "how an old primary is fenced once a replica replaced it: `security-group` (its VPC security groups \
              replaced by the fence group as soon as it can be modified; `unfence` restores them) or `none`; unset: \
              `security-group` when FENCE_SECURITY_GROUP is set, else `none`",
};

pub const FENCE_SECURITY_GROUP: Setting = Setting {
    name: "FENCE_SECURITY_GROUP",
    default: Some(""),
    meaning: "the VPC security group (`sg-…`, no inbound rules) that fences an old primary; a primary's \
              `failover:fence-security-group` tag overrides it",
};

pub const SETTINGS: &[&Setting] = &[
    COMMON_SETTINGS[0],
    COMMON_SETTINGS[1],
    COMMON_SETTINGS[2],
    COMMON_SETTINGS[3],
    COMMON_SETTINGS[4],
    COMMON_SETTINGS[5],
    COMMON_SETTINGS[6],
    &FAILURE_EVENT_IDS,
    &PROMOTE_WHEN_AVAILABLE,
    &MAX_REPLICA_LAG_SECONDS,
    &BACKUP_RETENTION_DAYS,
    &ALLOW_CROSS_REGION,
    &DECISION_TTL_MINUTES,
    &ONSET_WINDOW_MINUTES,
    &AWS_RECOVERY_WAIT_MINUTES,
    &HOME_LEDGER_TABLES,
    &RECREATE_REPLICA,
    &FENCE,
    &FENCE_SECURITY_GROUP,
    &MAX_GLOBAL_DATA_LOSS_SECONDS,
    &APPROVAL_TTL_MINUTES,
];

#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub common: CommonConfig,
    /// [`FAILURE_EVENT_IDS`].
    pub failure_event_ids: Vec<String>,
    /// [`PROMOTE_WHEN_AVAILABLE`].
    pub promote_when_available: bool,
    /// [`MAX_REPLICA_LAG_SECONDS`].
    pub max_replica_lag_seconds: f64,
    /// [`BACKUP_RETENTION_DAYS`].
    pub backup_retention_days: i32,
    /// [`ALLOW_CROSS_REGION`].
    pub allow_cross_region: bool,
    /// [`DECISION_TTL_MINUTES`].
    pub decision_ttl_minutes: i64,
    /// [`ONSET_WINDOW_MINUTES`].
    pub onset_window_minutes: i64,
    /// [`AWS_RECOVERY_WAIT_MINUTES`].
    pub aws_recovery_wait_minutes: i64,
    /// [`HOME_LEDGER_TABLES`]: region → table; a region not listed has the own table's name.
    pub home_ledger_tables: BTreeMap<String, String>,
    /// [`RECREATE_REPLICA`].
    pub recreate_replica: bool,
    /// `FENCE`, resolved: unset means `security-group` exactly when a fence group is set.
    pub fence: Fence,
    pub fence_security_group: Option<String>,
    /// [`MAX_GLOBAL_DATA_LOSS_SECONDS`].
    pub max_global_data_loss_seconds: f64,
    /// [`APPROVAL_TTL_MINUTES`].
    pub approval_ttl_minutes: i64,
}

impl Config {
    pub fn from_lookup(lookup: &dyn Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let raw = FAILURE_EVENT_IDS.read(lookup).unwrap_or_default();
        let failure_event_ids: Vec<String> =
            raw.split(',').map(|s| s.trim().to_ascii_uppercase()).filter(|s| !s.is_empty()).collect();
        if failure_event_ids.is_empty() || failure_event_ids.iter().any(|id| !is_event_id(id)) {
            return Err(ConfigError::Invalid {
                name: FAILURE_EVENT_IDS.name,
                value: raw,
                expected: "a comma-separated list of RDS event ids such as RDS-EVENT-0031".into(),
            });
        }
        let fence_security_group =
            FENCE_SECURITY_GROUP.read(lookup).map(|g| g.trim().to_owned()).filter(|g| !g.is_empty());
        Ok(Config {
            common: CommonConfig::from_lookup(lookup)?,
            failure_event_ids,
            promote_when_available: boolean(lookup, &PROMOTE_WHEN_AVAILABLE)?,
            max_replica_lag_seconds: number(lookup, &MAX_REPLICA_LAG_SECONDS, 0.0, 86_400.0)?,
            backup_retention_days: number(lookup, &BACKUP_RETENTION_DAYS, 1, 35)?,
            allow_cross_region: boolean(lookup, &ALLOW_CROSS_REGION)?,
            decision_ttl_minutes: number(lookup, &DECISION_TTL_MINUTES, 1, 1440)?,
            onset_window_minutes: number(lookup, &ONSET_WINDOW_MINUTES, 1, 60)?,
            aws_recovery_wait_minutes: number(lookup, &AWS_RECOVERY_WAIT_MINUTES, 1, 60)?,
            home_ledger_tables: home_ledger_tables(lookup)?,
            recreate_replica: boolean(lookup, &RECREATE_REPLICA)?,
            fence: fence(lookup, fence_security_group.is_some())?,
            fence_security_group,
            max_global_data_loss_seconds: number(lookup, &MAX_GLOBAL_DATA_LOSS_SECONDS, 0.0, 3600.0)?,
            approval_ttl_minutes: number(lookup, &APPROVAL_TTL_MINUTES, 1, 1440)?,
        })
    }
}

/// Table ARNs (`arn:<partition>:dynamodb:<region>:<account>:table/<name>`, blank entries ignored), one per
/// region: region → table name. ARNs rather than names, so that the template can grant exactly these tables.
fn home_ledger_tables(lookup: &dyn Fn(&str) -> Option<String>) -> Result<BTreeMap<String, String>, ConfigError> {
    let raw = HOME_LEDGER_TABLES.read(lookup).unwrap_or_default();
    let invalid = || ConfigError::Invalid {
        name: HOME_LEDGER_TABLES.name,
        value: raw.clone(),
        expected: "DynamoDB table ARNs separated by commas, one per region, such as \
                   arn:aws:dynamodb:us-east-1:123456789012:table/failover-ledger"
            .into(),
    };
    let mut tables = BTreeMap::new();
    for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let arn = failover_core::intake::split_arn(entry).ok_or_else(invalid)?;
        let table = arn.resource.strip_prefix("table/").filter(|t| !t.is_empty() && !t.contains('/'));
        let (Some(table), "dynamodb", false) = (table, arn.service, arn.region.is_empty()) else {
            return Err(invalid());
        };
        if tables.insert(arn.region.to_owned(), table.to_owned()).is_some() {
            return Err(invalid());
        }
    }
    Ok(tables)
}

fn fence(lookup: &dyn Fn(&str) -> Option<String>, group_set: bool) -> Result<Fence, ConfigError> {
    match FENCE.read(lookup).map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("") if group_set => Ok(Fence::SecurityGroup),
        None | Some("") | Some("none") => Ok(Fence::None),
        Some("security-group") => Ok(Fence::SecurityGroup),
        Some(other) => Err(ConfigError::Invalid {
            name: FENCE.name,
            value: other.to_owned(),
            expected: "`none` or `security-group`".into(),
        }),
    }
}

fn is_event_id(id: &str) -> bool {
    id.strip_prefix("RDS-EVENT-").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:failover";

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut map: HashMap<String, String> = HashMap::from([
            ("NOTIFICATION_TOPIC_ARN".into(), TOPIC.into()),
            ("LEDGER_TABLE".into(), "failover-ledger".into()),
        ]);
        map.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Config::from_lookup(&move |name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_the_declared_ones() {
        let c = config(&[]).unwrap();
        assert_eq!(c.failure_event_ids.join(","), FAILURE_EVENT_IDS.default.unwrap());
        assert!(!c.promote_when_available);
        assert_eq!(c.max_replica_lag_seconds, 30.0);
        assert_eq!(c.backup_retention_days, 7);
        assert!(!c.allow_cross_region);
        assert!(!c.common.dry_run);
        assert!(!c.failure_event_ids.iter().any(|id| id == "RDS-EVENT-0004"), "a reboot's shutdown is no failure");
        assert_eq!((c.max_global_data_loss_seconds, c.approval_ttl_minutes), (0.0, 30));
    }

    #[test]
    fn every_variable_is_read() {
        let c = config(&[
            ("FAILURE_EVENT_IDS", " rds-event-0031 , RDS-EVENT-0221,"),
            ("PROMOTE_WHEN_AVAILABLE", "true"),
            ("MAX_REPLICA_LAG_SECONDS", "12.5"),
            ("BACKUP_RETENTION_DAYS", "35"),
            ("ALLOW_CROSS_REGION", "TRUE"),
            ("DRY_RUN", "true"),
        ])
        .unwrap();
        assert_eq!(c.failure_event_ids, vec!["RDS-EVENT-0031", "RDS-EVENT-0221"]);
        assert!(c.promote_when_available && c.allow_cross_region && c.common.dry_run);
        assert_eq!(c.max_replica_lag_seconds, 12.5);
        assert_eq!(c.backup_retention_days, 35);
    }

    #[test]
    fn fence_is_on_exactly_when_a_group_is_set_unless_said_otherwise() {
        let fence = |pairs: &[(&str, &str)]| {
            let c = config(pairs).unwrap();
            (c.fence, c.fence_security_group)
        };
        assert_eq!(fence(&[]), (Fence::None, None));
        assert_eq!(fence(&[("FENCE_SECURITY_GROUP", " ")]), (Fence::None, None));
        assert_eq!(fence(&[("FENCE_SECURITY_GROUP", "sg-1")]), (Fence::SecurityGroup, Some("sg-1".into())));
        assert_eq!(fence(&[("FENCE", "none"), ("FENCE_SECURITY_GROUP", "sg-1")]).0, Fence::None);
        assert_eq!(fence(&[("FENCE", "Security-Group")]), (Fence::SecurityGroup, None));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("FAILURE_EVENT_IDS", "0031"),
            ("FAILURE_EVENT_IDS", " , "),
            ("MAX_REPLICA_LAG_SECONDS", "-1"),
            ("BACKUP_RETENTION_DAYS", "0"),
            ("BACKUP_RETENTION_DAYS", "36"),
            ("PROMOTE_WHEN_AVAILABLE", "yes"),
            ("ALLOW_CROSS_REGION", "1"),
            ("FENCE", "stop"),
            ("HOME_LEDGER_TABLES", "us-east-1=failover-ledger"),
            ("HOME_LEDGER_TABLES", "arn:aws:dynamodb::1:table/a"),
            ("HOME_LEDGER_TABLES", "arn:aws:sqs:us-east-1:1:table/a"),
            ("HOME_LEDGER_TABLES", "arn:aws:dynamodb:us-east-1:1:table/a/index/b"),
            ("HOME_LEDGER_TABLES", "arn:aws:dynamodb:us-east-1:1:table/a,arn:aws:dynamodb:us-east-1:1:table/b"),
        ] {
            let err = config(&[(name, value)]).expect_err(value).to_string();
            assert!(err.contains(name), "{name}={value:?}: {err}");
        }
    }

    #[test]
    fn home_ledger_tables_are_table_arns_one_per_region() {
        assert!(config(&[]).unwrap().home_ledger_tables.is_empty());
        let arns = " arn:aws:dynamodb:us-east-1:1:table/east-ledger , arn:aws:dynamodb:us-west-2:1:table/west-ledger,";
        let c = config(&[("HOME_LEDGER_TABLES", arns)]).unwrap();
        let pairs: Vec<(&str, &str)> = c.home_ledger_tables.iter().map(|(r, t)| (r.as_str(), t.as_str())).collect();
        assert_eq!(pairs, [("us-east-1", "east-ledger"), ("us-west-2", "west-ledger")]);
    }

    #[test]
    fn blank_values_mean_the_default() {
        let c = config(&[("FAILURE_EVENT_IDS", "  ")]).unwrap();
        assert_eq!(c.failure_event_ids.len(), 3);
    }

    #[test]
    fn settings_list_every_variable_read() {
        let read = std::cell::RefCell::new(Vec::new());
        let lookup = |name: &str| {
            read.borrow_mut().push(name.to_owned());
            match name {
                "NOTIFICATION_TOPIC_ARN" => Some(TOPIC.to_owned()),
                "LEDGER_TABLE" => Some("failover-ledger".to_owned()),
                _ => None,
            }
        };
        Config::from_lookup(&lookup).unwrap();
        let mut read = read.into_inner();
        read.sort();
        read.dedup();
        let mut listed: Vec<String> = SETTINGS.iter().map(|s| s.name.to_owned()).collect();
        listed.sort();
        assert_eq!(read, listed);
    }
}
