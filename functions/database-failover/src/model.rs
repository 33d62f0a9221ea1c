//! Plain domain data: what the function knows about databases, independent of the SDK's types.
//!
//! The adapters fill these from `DescribeDBInstances` / `DescribeDBClusters`; the decision code reads them;
//! tests build them by hand. This module depends on no other module of the crate.

use aws_smithy_types::date_time::Format;
use aws_smithy_types::DateTime;
use failover_core::tags::{opted_in, Tags};
use serde::Serialize;

/// Tag on the old primary recording a promotion decision: `<replica>@<time>`, e.g.
/// `orders-replica-1@2024-05-01T10:07:12Z`. The replica is named by its identifier when it is in the same
/// region as the primary, by its ARN otherwise (as RDS itself lists replicas).
pub const PROMOTED_TAG: &str = "failover:promoted";
/// Tag on the promoted replica recording the same decision from its side: `<primary>@<time>`. It is the
/// record that survives a primary that has disappeared (deleted, or in an unreachable region).
pub const PROMOTED_FROM_TAG: &str = "failover:promoted-from";
/// Tag on an Aurora cluster recording a failover this function asked for: `<target instance>@<time>`.
pub const FAILED_OVER_TAG: &str = "failover:failed-over";
/// Tag on a replica or Aurora reader: lower is preferred (default [`DEFAULT_PRIORITY`]).
pub const PRIORITY_TAG: &str = "failover:priority";
pub const DEFAULT_PRIORITY: i32 = 100;

/// Statuses in which a primary counts as down (together with "not found").
pub const DOWN_STATUSES: &[&str] = &[
    "failed",
    "storage-full",
    "incompatible-network",
    "incompatible-parameters",
    "incompatible-restore",
    "restore-error",
    "inaccessible-encryption-credentials",
];

/// An instance, located: RDS identifiers are unique per account and region only.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct DbRef {
    pub region: String,
    pub id: String,
}

impl DbRef {
    pub fn new(region: impl Into<String>, id: impl Into<String>) -> Self {
        DbRef { region: region.into(), id: id.into() }
    }

    /// Reads an identifier as RDS writes it in `ReadReplicaSourceDBInstanceIdentifier` and
    /// `ReadReplicaDBInstanceIdentifiers`: a plain identifier in the same region as `home_region`, or an
    /// ARN (`arn:aws:rds:<region>:<account>:db:<id>`) for another region.
    pub fn parse(reference: &str, home_region: &str) -> Self {
        match failover_core::intake::split_arn(reference) {
            Some(parts) if parts.service == "rds" => {
                let id = parts.resource.strip_prefix("db:").unwrap_or(parts.resource);
                let region = if parts.region.is_empty() { home_region } else { parts.region };
                DbRef::new(region, id)
            }
            _ => DbRef::new(home_region, reference),
        }
    }

    /// The identifier as seen from `home_region`: the plain id when local, `<region>/<id>` otherwise
    /// (readable in notifications and valid in a tag value).
    pub fn display_from(&self, home_region: &str) -> String {
        if self.region == home_region {
            self.id.clone()
        } else {
            format!("{}/{}", self.region, self.id)
        }
    }
}

impl std::fmt::Display for DbRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.region, self.id)
    }
}

/// One RDS DB instance.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Instance {
    pub at: DbRef,
    pub arn: String,
    pub status: String,
    /// Set when the instance is a read replica.
    pub source: Option<DbRef>,
    /// Its read replicas (same- and cross-region).
    pub replicas: Vec<DbRef>,
    /// Set for Aurora cluster members.
    pub cluster: Option<String>,
    /// `Endpoint.Address`; absent while an instance is being created.
    pub endpoint: Option<String>,
    pub promotion_tier: Option<i32>,
    pub tags: Tags,
}

impl Instance {
    pub fn is_down(&self) -> bool {
        DOWN_STATUSES.contains(&self.status.as_str())
    }

    /// Exactly `<key>=true`, as IAM's `StringEquals` compares it ([`failover_core::tags::opted_in`]).
    pub fn opted_in(&self, opt_in_tag_key: &str) -> bool {
        opted_in(&self.tags, opt_in_tag_key)
    }
}

/// The instance described for each of `refs`, in `refs`' order, from `found` (described in any order, e.g. one
/// call per region); a reference with no instance is left out. This is what describing each reference on its own
/// returned. Identifiers compare without case, as RDS reads them.
pub fn in_order(refs: &[DbRef], found: &[Instance]) -> Vec<Instance> {
    refs.iter()
        .filter_map(|r| found.iter().find(|i| i.at.region == r.region && i.at.id.eq_ignore_ascii_case(&r.id)))
        .cloned()
        .collect()
}

/// An Aurora cluster with its members.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Cluster {
    pub region: String,
    pub id: String,
    pub arn: String,
    pub status: String,
    pub members: Vec<ClusterMember>,
    pub tags: Tags,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterMember {
    pub id: String,
    pub writer: bool,
    /// 0 (first) to 15; AWS's default is 1.
    pub promotion_tier: i32,
}

/// A decision recorded in a tag: what was chosen, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The chosen instance (replica, or Aurora reader) — or, in [`PROMOTED_FROM_TAG`], the old primary.
    pub subject: DbRef,
    /// As written, RFC 3339 UTC.
    pub at: String,
    /// `at` in seconds since the epoch, when it parses.
    pub at_secs: Option<i64>,
}

impl Record {
    pub fn new(subject: DbRef, now_secs: i64) -> Self {
        Record { subject, at: format_time(now_secs), at_secs: Some(now_secs) }
    }

    /// The tag value, written on a resource in `home_region`.
    pub fn tag_value(&self, home_region: &str) -> String {
        format!("{}@{}", self.subject.display_from(home_region), self.at)
    }

    /// Reads a tag value written by [`Record::tag_value`] on a resource in `home_region`.
    pub fn parse(value: &str, home_region: &str) -> Option<Self> {
        let (subject, at) = value.trim().rsplit_once('@')?;
        if subject.is_empty() {
            return None;
        }
        let subject = match subject.split_once('/') {
            Some((region, id)) if !region.is_empty() && !id.is_empty() => DbRef::new(region, id),
            _ => DbRef::parse(subject, home_region),
        };
        Some(Record { subject, at: at.to_owned(), at_secs: parse_time(at) })
    }
}

/// RFC 3339 UTC, seconds precision: `2024-05-01T10:07:12Z` (valid in RDS tag values).
pub fn format_time(secs: i64) -> String {
    DateTime::from_secs(secs).fmt(Format::DateTime).unwrap_or_else(|_| secs.to_string())
}

pub fn parse_time(text: &str) -> Option<i64> {
    DateTime::from_str(text, Format::DateTime).ok().map(|t| t.secs())
}

/// Seconds since the epoch, now.
pub fn now_secs() -> i64 {
    DateTime::from(std::time::SystemTime::now()).secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_references_are_read_as_ids_or_arns() {
        assert_eq!(DbRef::parse("orders", "us-east-1"), DbRef::new("us-east-1", "orders"));
        assert_eq!(
            DbRef::parse("arn:aws:rds:us-west-2:123456789012:db:orders-west", "us-east-1"),
            DbRef::new("us-west-2", "orders-west")
        );
    }

    #[test]
    fn records_round_trip_through_their_tag_value() {
        let local = Record::new(DbRef::new("us-east-1", "orders-r1"), 1_714_558_032);
        assert_eq!(local.tag_value("us-east-1"), "orders-r1@2024-05-01T10:07:12Z");
        assert_eq!(Record::parse(&local.tag_value("us-east-1"), "us-east-1"), Some(local.clone()));
        let remote = Record::new(DbRef::new("us-west-2", "orders-west"), 1_714_558_032);
        assert_eq!(remote.tag_value("us-east-1"), "us-west-2/orders-west@2024-05-01T10:07:12Z");
        assert_eq!(Record::parse(&remote.tag_value("us-east-1"), "us-east-1"), Some(remote));
    }

    #[test]
    fn unreadable_records_are_none_or_keep_an_unparsed_time() {
        assert_eq!(Record::parse("no-at-sign", "us-east-1"), None);
        assert_eq!(Record::parse("@2024-05-01T10:07:12Z", "us-east-1"), None);
        let odd = Record::parse("orders-r1@yesterday", "us-east-1").unwrap();
        assert_eq!((odd.subject.id.as_str(), odd.at_secs), ("orders-r1", None));
    }

    #[test]
    fn an_instance_opts_in_only_with_exactly_true() {
        let with = |value: &str| Instance {
            at: DbRef::new("us-east-1", "orders"),
            arn: String::new(),
            status: "available".into(),
            source: None,
            replicas: Vec::new(),
            cluster: None,
            endpoint: None,
            promotion_tier: None,
            tags: Tags::from([("failover:enabled".to_owned(), value.to_owned())]),
        };
        assert!(with("true").opted_in("failover:enabled"));
        assert!(!with("true").opted_in("other"));
        for value in ["TRUE", " true", " TRUE ", "True", "yes"] {
            assert!(!with(value).opted_in("failover:enabled"), "{value:?}");
        }
    }
}
