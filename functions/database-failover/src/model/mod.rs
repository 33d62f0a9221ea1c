//! Plain domain data: what the function knows about databases, independent of the SDK's types.
//!
//! The adapters fill these from `DescribeDBInstances` / `DescribeDBClusters`; the decision code reads them;
//! tests build them by hand. This module depends on no other module of the crate.

use failover_core::tags::{opted_in, Tags};
pub use failover_core::time::{format_time, now_secs, parse_time};
use serde::{Deserialize, Serialize};

/// Tag on a replica or Aurora reader: lower is preferred (default [`DEFAULT_PRIORITY`]).
pub const PRIORITY_TAG: &str = "failover:priority";
pub const DEFAULT_PRIORITY: i32 = 100;

/// Tag on a primary: `<hosted-zone-id>/<record-name>`, the Route 53 CNAME that follows it to the promoted
/// replica (read with [`EndpointRecord::parse`]).
pub const DNS_RECORD_TAG: &str = "failover:dns-record";

/// Tag on a primary: `<proxy-name>[/<target-group>]`, the RDS Proxy whose target follows it to the promoted
/// replica.
pub const PROXY_TAG: &str = "failover:rds-proxy";

/// Tag on a primary: the VPC security group (`sg-…`) that fences it once it is replaced; overrides the
/// `FENCE_SECURITY_GROUP` setting.
pub const FENCE_GROUP_TAG: &str = "failover:fence-security-group";

/// The tags that bind a primary to what follows it (client paths, its fence). A promoted replica inherits the
/// ones it does not carry itself from the primary it replaced, through the lineage in the ledger, so that a
/// second failover works without anyone copying tags.
pub const BINDING_TAGS: &[&str] = &[DNS_RECORD_TAG, PROXY_TAG, FENCE_GROUP_TAG];

/// A Route 53 record: the one a primary's [`DNS_RECORD_TAG`] names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EndpointRecord {
    pub hosted_zone_id: String,
    pub name: String,
}

impl EndpointRecord {
    /// Reads `<hosted-zone-id>/<record-name>` (the zone id may be given as Route 53 prints it:
    /// `/hostedzone/Z0123456789ABC`); the error says what was expected. Pure: the `readiness` check reads
    /// the tag with it too.
    pub fn parse(value: &str) -> Result<Self, String> {
        let trimmed = value.trim().trim_start_matches('/');
        let trimmed = trimmed.strip_prefix("hostedzone/").unwrap_or(trimmed);
        match trimmed.split_once('/') {
            Some((zone, name)) if !zone.trim().is_empty() && !name.trim().is_empty() && !zone.contains(' ') => {
                Ok(EndpointRecord { hosted_zone_id: zone.trim().to_owned(), name: name.trim().to_owned() })
            }
            _ => Err(format!(
                "{DNS_RECORD_TAG}={value:?} is not <hosted-zone-id>/<record-name>, e.g. Z0123456789ABC/db.example.com"
            )),
        }
    }
}

impl std::fmt::Display for EndpointRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (hosted zone {})", self.name, self.hosted_zone_id)
    }
}

/// The DNS step of a promotion: repoint `record` from the failed primary's endpoint `from`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repoint {
    pub record: EndpointRecord,
    pub from: String,
}

/// A CNAME as Route 53 holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cname {
    pub ttl: Option<i64>,
    pub values: Vec<String>,
}

/// One lag datapoint: the maximum of the minute starting at `at` (seconds since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LagPoint {
    pub at: i64,
    pub value: f64,
}

/// How far back from the failure a replica's lag is looked at, in seconds.
pub const LAG_LOOK_BACK_SECS: i64 = 300;

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
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
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
    /// Set for DB cluster members (Aurora or Multi-AZ).
    pub cluster: Option<String>,
    /// `Endpoint.Address`; absent while an instance is being created.
    pub endpoint: Option<String>,
    pub promotion_tier: Option<i32>,
    pub tags: Tags,
    /// `DbiResourceId`: stays with the instance for its life; an instance deleted and created again under the
    /// same name has another one.
    pub resource_id: Option<String>,
    /// `MultiAZ`: a standby that AWS fails over to by itself ([`crate::decide::aws_first`]).
    pub multi_az: bool,
    /// `VpcSecurityGroups[].VpcSecurityGroupId`, in RDS's order: what a fence replaces and an unfence restores.
    pub security_groups: Vec<String>,
    /// `DBInstanceClass` (e.g. `db.r6g.large`): a replica created after a failover gets the promoted one's.
    pub class: Option<String>,
    /// `AvailabilityZone`; absent while the instance is being created.
    pub zone: Option<String>,
    /// Binding tags ([`BINDING_TAGS`]) inherited through the lineage from the primary this instance replaced
    /// (`crate::actions::lineage`), never opt-in or priority: read after the instance's own tags
    /// ([`Instance::binding`]). Empty as described by RDS.
    pub inherited: Tags,
}

/// An RDS event as `DescribeEvents` returns it: when, and its message. RDS returns no event ID there, so the
/// event is told by its category (the call asks for one) and its message.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AwsEvent {
    /// Seconds since the epoch.
    pub at: i64,
    pub message: String,
}

impl Instance {
    pub fn is_down(&self) -> bool {
        DOWN_STATUSES.contains(&self.status.as_str())
    }

    /// Exactly `<key>=true`, as IAM's `StringEquals` compares it ([`failover_core::tags::opted_in`]).
    pub fn opted_in(&self, opt_in_tag_key: &str) -> bool {
        opted_in(&self.tags, opt_in_tag_key)
    }

    /// A binding tag's value: the instance's own tag, else the one inherited through the lineage.
    pub fn binding(&self, key: &str) -> Option<&str> {
        self.tags.get(key).or_else(|| self.inherited.get(key)).map(String::as_str)
    }

    /// Every binding tag it has, own or inherited: what the replica promoted in its place inherits.
    pub fn bindings(&self) -> Tags {
        BINDING_TAGS.iter().filter_map(|key| Some(((*key).to_owned(), self.binding(key)?.to_owned()))).collect()
    }

    /// The DNS step of this primary's failover: `Ok(None)` without a [`DNS_RECORD_TAG`] (its own or inherited);
    /// an error when the tag is malformed or the primary has no endpoint to repoint from.
    pub fn repoint(&self) -> Result<Option<Repoint>, String> {
        let Some(value) = self.binding(DNS_RECORD_TAG) else { return Ok(None) };
        let record = EndpointRecord::parse(value)?;
        match &self.endpoint {
            Some(from) => Ok(Some(Repoint { record, from: from.clone() })),
            None => Err(format!("{} has no endpoint: {} cannot be repointed from it", self.at.id, record.name)),
        }
    }
}

/// What `ModifyDBInstance` answered ([`crate::ports::Databases::set_security_groups`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum Modified {
    /// Accepted: the instance as the answer describes it (`None` when it did not).
    Applied(Option<Box<Instance>>),
    /// `InvalidDBInstanceState`: the instance cannot be modified yet; RDS's message.
    NotYet(String),
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

/// A DNS name as Route 53 compares it: lower case, without the final dot.
pub fn dns_name(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// An instance or cluster as a region's listing shows it (`readiness`), with its automated-backup retention
/// in days (`BackupRetentionPeriod`; 0 means backups are off).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Listed<T> {
    pub item: T,
    pub backup_retention_days: i32,
}

/// A DB cluster (Aurora or Multi-AZ: [`Topology::of_cluster`]) with its members.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Cluster {
    pub region: String,
    pub id: String,
    pub arn: String,
    pub status: String,
    /// `Engine`: `aurora-mysql`, `aurora-postgresql`, `mysql`, `postgres`, ...
    pub engine: String,
    /// `DBClusterInstanceClass`: set only for Multi-AZ DB clusters.
    pub instance_class: Option<String>,
    pub members: Vec<ClusterMember>,
    pub tags: Tags,
    /// `Endpoint`: the cluster (writer) endpoint. A global database's secondary has one too, which takes writes
    /// once it is the primary.
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClusterMember {
    pub id: String,
    pub writer: bool,
    /// 0 (first) to 15; AWS's default is 1.
    pub promotion_tier: i32,
}

/// An instance with nothing but its name (available, no replicas, no tags): what tests build on, overriding
/// what they need with `Instance { …, ..Instance::bare(region, id) }`.
impl Instance {
    pub fn bare(region: &str, id: &str) -> Self {
        Instance {
            at: DbRef::new(region, id),
            arn: String::new(),
            status: "available".into(),
            source: None,
            replicas: Vec::new(),
            cluster: None,
            endpoint: None,
            promotion_tier: None,
            tags: Tags::new(),
            resource_id: None,
            multi_az: false,
            security_groups: Vec::new(),
            class: None,
            zone: None,
            inherited: Tags::new(),
        }
    }
}

mod approval;
mod global_db;
mod lineage;
mod proxy;
mod record;
mod replica;
mod topology;
pub use approval::*;
pub use global_db::*;
pub use lineage::*;
pub use proxy::*;
pub use record::*;
pub use replica::*;
pub use topology::{GlobalRole, Topology};

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
    fn the_dns_record_tag_is_a_zone_and_a_name() {
        let record = |zone: &str, name: &str| Ok(EndpointRecord { hosted_zone_id: zone.into(), name: name.into() });
        assert_eq!(EndpointRecord::parse("Z0123/db.example.com"), record("Z0123", "db.example.com"));
        assert_eq!(EndpointRecord::parse(" /hostedzone/Z0123/db.example.com "), record("Z0123", "db.example.com"));
        for bad in ["db.example.com", "Z0123/", "/db.example.com", "", "Z 1/db"] {
            let error = EndpointRecord::parse(bad).expect_err(bad);
            assert!(error.contains(DNS_RECORD_TAG) && error.contains("<hosted-zone-id>/<record-name>"), "{error}");
        }
    }

    #[test]
    fn an_instance_opts_in_only_with_exactly_true() {
        let with = |value: &str| Instance {
            tags: Tags::from([("failover:enabled".to_owned(), value.to_owned())]),
            ..Instance::bare("us-east-1", "orders")
        };
        assert!(with("true").opted_in("failover:enabled"));
        assert!(!with("true").opted_in("other"));
        for value in ["TRUE", " true", " TRUE ", "True", "yes"] {
            assert!(!with(value).opted_in("failover:enabled"), "{value:?}");
        }
    }
}
