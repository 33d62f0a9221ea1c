//! Readiness (pure): what an opted-in primary or DB cluster lacks for a failover to work, each gap with
//! the `aws` CLI line that closes it. The `readiness` action gathers the facts; these functions only judge.
//!
//! # What "ready" means
//! - **Primary.** At least one of its replicas is eligible now, judged exactly as a failover would judge it
//!   ([`super::verdicts`]: available, opted in, in the region unless cross-region is allowed, `ReplicaLag`
//!   known, never -1, within `MAX_REPLICA_LAG_SECONDS` over the last 5 minutes). When the primary carries
//!   `failover:dns-record=<hosted-zone-id>/<record-name>`, that record exists and points at the primary's
//!   endpoint (else the failover would repoint the wrong record, or none). When it carries
//!   `failover:rds-proxy=<proxy>[/<target-group>]`, that group exists and its target is the primary
//!   ([`super::proxy::readiness_gap`]); neither is checked on an old primary a done promotion replaced
//!   ([`replaced_by`]). Its automated backups are on
//!   (`BackupRetentionPeriod` > 0): a failover is no time to find there is nothing to restore.
//! - **Cluster.** At least one reader is eligible (available, opted in; a Multi-AZ DB cluster's also within
//!   `MAX_REPLICA_LAG_SECONDS`, as [`super::decide_cluster`] judges it), and backups are on.

use crate::decide::Verdict;
use crate::model::{
    dns_name, is_promotion_key, Cluster, EndpointRecord, Instance, Listed, NewReplica, Record, Recreated, Topology,
    DNS_RECORD_TAG,
};
use failover_core::ledger::{self, State};
pub use failover_core::readiness::Gap;

/// The record named by the primary's [`DNS_RECORD_TAG`], read as a failover reads it
/// ([`EndpointRecord::parse`]): `None` without the tag, `Err` when its value is not
/// `<hosted-zone-id>/<record-name>`.
pub fn dns_record(primary: &Instance) -> Option<Result<EndpointRecord, Gap>> {
    let value = primary.binding(DNS_RECORD_TAG)?;
    Some(EndpointRecord::parse(value).map_err(|error| Gap {
        kind: "dns-record-tag-invalid",
        resource: primary.arn.clone(),
        problem: format!("{}: {error}: a failover would repoint no record", primary.at.id),
        fix: format!(
            "aws rds add-tags-to-resource --resource-name {} --tags Key={DNS_RECORD_TAG},Value=<hosted-zone-id>/<record-name>",
            primary.arn
        ),
    }))
}

/// The record against the primary's endpoint: `values` as Route 53 lists them, `None` when there is no record.
pub fn dns_gap(primary: &Instance, zone: &str, name: &str, values: Option<&[String]>) -> Option<Gap> {
    let endpoint = primary.endpoint.as_deref().unwrap_or("<endpoint>");
    let upsert = |action: &str| {
        format!(
            "aws route53 change-resource-record-sets --hosted-zone-id {zone} --change-batch \
             '{{\"Changes\":[{{\"Action\":\"{action}\",\"ResourceRecordSet\":{{\"Name\":\"{name}\",\"Type\":\"CNAME\",\
             \"TTL\":30,\"ResourceRecords\":[{{\"Value\":\"{endpoint}\"}}]}}}}]}}'"
        )
    };
    match values {
        None => Some(Gap {
            kind: "dns-record-missing",
            resource: primary.arn.clone(),
            problem: format!("{}'s DNS record {name} does not exist in hosted zone {zone}", primary.at.id),
            fix: upsert("CREATE"),
        }),
        Some(values) if !values.iter().any(|v| dns_name(v) == dns_name(endpoint)) => Some(Gap {
            kind: "dns-record-elsewhere",
            resource: primary.arn.clone(),
            problem: format!(
                "{}'s DNS record {name} points at {}, not at the primary's endpoint {endpoint}: a failover would not \
                 repoint it",
                primary.at.id,
                if values.is_empty() { "nothing".to_owned() } else { values.join(", ") }
            ),
            fix: upsert("UPSERT"),
        }),
        Some(_) => None,
    }
}

/// The promotion that replaced this very instance (its DbiResourceId, so not a new instance under the name):
/// a done promotion of its ledger resource bound to it. Such an old primary is fenced or being rebuilt; its
/// DNS record and proxy rightly follow the new primary, so "points elsewhere" is no gap for it.
pub fn replaced_by<'a>(records: impl IntoIterator<Item = &'a ledger::Record>, primary: &Instance) -> Option<Record> {
    let own = primary.resource_id.as_deref()?;
    records
        .into_iter()
        .filter(|r| is_promotion_key(&r.key) && r.state == State::Done)
        .filter_map(|r| Record::from_ledger(r, "replica"))
        .filter(|r| r.primary_resource_id.as_deref() == Some(own))
        .max_by_key(|r| r.at_secs)
}

/// The gaps that say a client path points away from the primary: no gaps for an old primary it was replaced.
pub const POINTS_ELSEWHERE: [&str; 2] = ["dns-record-elsewhere", "rds-proxy-target-elsewhere"];

/// No replica of the primary is eligible now: each one with why, and the fix for the first that is only
/// missing its opt-in tag, else a new replica.
pub fn replica_gap(primary: &Instance, verdicts: &[Verdict], key: &str) -> Option<Gap> {
    if verdicts.iter().any(|v| v.eligible) {
        return None;
    }
    let prefix = primary.arn.rsplit_once(":db:").map_or(String::new(), |(p, _)| p.to_owned());
    let fix = match verdicts.iter().find(|v| v.reason.starts_with("not opted in")) {
        Some(v) => format!(
            "aws rds add-tags-to-resource --resource-name {}:db:{} --tags Key={key},Value=true",
            prefix.replacen(&region_of(&prefix), &v.region, 1),
            v.id
        ),
        None => NewReplica {
            source: primary.at.clone(),
            id: format!("{}-replica", primary.at.id),
            class: primary.class.clone(),
            zone: None,
            security_groups: primary.security_groups.clone(),
            tags: failover_core::tags::Tags::from([(key.to_owned(), "true".to_owned())]),
        }
        .command(),
    };
    Some(Gap {
        kind: "no-eligible-replica",
        resource: primary.arn.clone(),
        problem: format!("no replica of {} could take over now: {}", primary.at.id, judged(verdicts, "replicas")),
        fix,
    })
}

/// A replica of the primary whose creation after its failover RDS refused for the time being, asked for again
/// by this run: what came of it.
pub fn replica_asked_again(primary: &Instance, asked: &Recreated) -> Gap {
    let (problem, fix) = match asked {
        Recreated::NotCreated { id, reason, command, .. } => {
            (format!("{}: its replica {id} is still not created: {reason}", primary.at.id), command.clone())
        }
        Recreated::Created { id, .. } | Recreated::AlreadyCreated { id, .. } => (
            format!(
                "{}: its replica {id}, which RDS refused right after the failover, was asked for now",
                primary.at.id
            ),
            format!("aws rds wait db-instance-available --db-instance-identifier {id}"),
        ),
        Recreated::Off => (String::new(), String::new()),
    };
    Gap { kind: "replica-being-recreated", resource: primary.arn.clone(), problem, fix }
}

/// No reader of the cluster is eligible now.
pub fn reader_gap(cluster: &Cluster, verdicts: &[Verdict], key: &str) -> Option<Gap> {
    if verdicts.iter().any(|v| v.eligible) {
        return None;
    }
    let multi_az = Topology::of_cluster(cluster, None) == Topology::MultiAzCluster;
    let fix = match verdicts.iter().find(|v| v.reason.starts_with("not opted in")) {
        // A Multi-AZ DB cluster has its two readers for life: their replication is what to fix.
        None if multi_az => format!(
            "check the readers' replication: aws cloudwatch get-metric-statistics --namespace AWS/RDS --metric-name \
             ReplicaLag --statistics Maximum --period 60 --dimensions Name=DBInstanceIdentifier,Value=<reader> \
             --start-time <15 minutes ago> --end-time <now> (cluster {})",
            cluster.id
        ),
        Some(v) => format!(
            "aws rds add-tags-to-resource --resource-name {}:db:{} --tags Key={key},Value=true",
            cluster.arn.rsplit_once(":cluster:").map_or("", |(p, _)| p),
            v.id
        ),
        None => format!(
            "aws rds create-db-instance --db-cluster-identifier {0} --db-instance-identifier {0}-reader \
             --engine <the cluster's engine> --db-instance-class <class> --tags Key={key},Value=true",
            cluster.id
        ),
    };
    Some(Gap {
        kind: "no-eligible-reader",
        resource: cluster.arn.clone(),
        problem: format!("no reader of cluster {} could take over now: {}", cluster.id, judged(verdicts, "readers")),
        fix,
    })
}

/// An instance or cluster a person named that is not opted in: the function leaves it alone.
pub fn not_opted_in(arn: &str, name: &str, key: &str) -> Gap {
    Gap {
        kind: "not-opted-in",
        resource: arn.to_owned(),
        problem: format!("{name} is not opted in (tag {key}=true missing): the function leaves it alone"),
        fix: format!("aws rds add-tags-to-resource --resource-name {arn} --tags Key={key},Value=true"),
    }
}

pub fn instance_backup_gap(listed: &Listed<Instance>) -> Option<Gap> {
    let i = &listed.item;
    (listed.backup_retention_days <= 0).then(|| Gap {
        kind: "backups-off",
        resource: i.arn.clone(),
        problem: format!("{} has automated backups off (BackupRetentionPeriod 0)", i.at.id),
        fix: format!(
            "aws rds modify-db-instance --db-instance-identifier {} --backup-retention-period 7 --apply-immediately",
            i.at.id
        ),
    })
}

pub fn cluster_backup_gap(listed: &Listed<Cluster>) -> Option<Gap> {
    let c = &listed.item;
    (listed.backup_retention_days <= 0).then(|| Gap {
        kind: "backups-off",
        resource: c.arn.clone(),
        problem: format!("cluster {} has automated backups off (BackupRetentionPeriod 0)", c.id),
        fix: format!(
            "aws rds modify-db-cluster --db-cluster-identifier {} --backup-retention-period 7 --apply-immediately",
            c.id
        ),
    })
}

/// `r1: status is stopped; r2: ReplicaLag reached 40 s...`, or that there are none.
fn judged(verdicts: &[Verdict], noun: &str) -> String {
    if verdicts.is_empty() {
        return format!("it has no {noun}");
    }
    verdicts.iter().map(|v| format!("{}: {}", v.id, v.reason)).collect::<Vec<_>>().join("; ")
}

/// The region of an `arn:<partition>:rds:<region>:<account>` prefix.
fn region_of(prefix: &str) -> String {
    prefix.split(':').nth(3).unwrap_or_default().to_owned()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::DbRef;
    use failover_core::tags::Tags;

    const KEY: &str = "failover:enabled";

    #[test]
    fn an_old_primary_is_replaced_only_by_a_done_promotion_bound_to_its_own_resource_id() {
        let record = |key: &str, state: State, bound_to: &str| {
            let data = Record::new(DbRef::new("us-east-1", "r1"), 100)
                .with_primary_resource_id(Some(bound_to.into()))
                .data("replica", "arn:aws:rds:us-east-1:123456789012:db:r1", None);
            ledger::Record {
                state,
                ..ledger::Record::pending("db-instance:us-east-1/orders", key, "run", "t", 100, 60)
            }
            .with_data(data)
        };
        let old = Instance { resource_id: Some("db-OLD".into()), ..primary(&[]) };
        let key = crate::model::promotion_key(100);
        let done = record(&key, State::Done, "db-OLD");
        assert_eq!(replaced_by([&done], &old).map(|r| r.subject.id), Some("r1".into()));
        assert!(replaced_by([&record(&key, State::Pending, "db-OLD")], &old).is_none(), "not done yet");
        assert!(replaced_by([&record(&key, State::Done, "db-NEW")], &old).is_none(), "another instance's");
        assert!(replaced_by([&record("fence#x", State::Done, "db-OLD")], &old).is_none(), "not a promotion");
        let rebuilt = Instance { resource_id: Some("db-NEW".into()), ..primary(&[]) };
        assert!(replaced_by([&done], &rebuilt).is_none(), "a new instance under the old name is a primary");
        assert!(replaced_by([&done], &primary(&[])).is_none(), "no resource id: not known to be replaced");
    }

    /// The primary `orders`, without replicas, with these tags (also [`super::super::watch`]'s tests).
    pub(in crate::decide) fn primary(tags: &[(&str, &str)]) -> Instance {
        Instance {
            arn: "arn:aws:rds:us-east-1:123456789012:db:orders".into(),
            endpoint: Some("orders.abc.us-east-1.rds.amazonaws.com".into()),
            tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Tags>(),
            ..Instance::bare("us-east-1", "orders")
        }
    }

    /// The cluster `catalog`, without members.
    pub(in crate::decide) fn cluster() -> Cluster {
        Cluster {
            region: "us-east-1".into(),
            id: "catalog".into(),
            arn: "arn:aws:rds:us-east-1:123456789012:cluster:catalog".into(),
            status: "available".into(),
            engine: "aurora-mysql".into(),
            ..Default::default()
        }
    }

    fn verdict(id: &str, eligible: bool, reason: &str) -> Verdict {
        Verdict {
            id: id.into(),
            region: "us-east-1".into(),
            status: "available".into(),
            priority: 100,
            max_lag: Some(1.0),
            lag_at: None,
            eligible,
            reason: reason.into(),
        }
    }

    #[test]
    fn one_eligible_replica_is_enough() {
        let verdicts = [verdict("r1", false, "status is stopped"), verdict("r2", true, "eligible")];
        assert_eq!(replica_gap(&primary(&[]), &verdicts, KEY), None);
    }

    #[test]
    fn no_replica_at_all_is_a_gap_fixed_by_creating_one() {
        let gap = replica_gap(&primary(&[]), &[], KEY).expect("gap");
        assert_eq!(gap.kind, "no-eligible-replica");
        assert!(gap.problem.ends_with("it has no replicas"), "{}", gap.problem);
        let expected = "aws rds create-db-instance-read-replica --region us-east-1 --db-instance-identifier \
                        orders-replica --source-db-instance-identifier orders --tags Key=failover:enabled,Value=true";
        assert_eq!(gap.fix, expected);
    }

    #[test]
    fn a_replica_only_missing_its_opt_in_is_fixed_by_tagging_it() {
        let verdicts = [verdict("r1", false, "ReplicaLag reached 40 s"), verdict("r2", false, "not opted in (tag)")];
        let gap = replica_gap(&primary(&[]), &verdicts, KEY).expect("gap");
        assert!(gap.problem.contains("r1: ReplicaLag reached 40 s; r2: not opted in"), "{}", gap.problem);
        assert_eq!(
            gap.fix,
            format!("aws rds add-tags-to-resource --resource-name arn:aws:rds:us-east-1:123456789012:db:r2 --tags Key={KEY},Value=true")
        );
    }

    #[test]
    fn a_cluster_without_an_eligible_reader_is_a_gap() {
        let cluster = cluster();
        let gap = reader_gap(&cluster, &[verdict("c2", false, "status is rebooting")], KEY).expect("gap");
        assert_eq!(gap.kind, "no-eligible-reader");
        assert!(gap.fix.starts_with("aws rds create-db-instance --db-cluster-identifier catalog"));
        assert_eq!(reader_gap(&cluster, &[verdict("c2", true, "eligible")], KEY), None);
        let listed = Listed { item: cluster, backup_retention_days: 0 };
        assert_eq!(cluster_backup_gap(&listed).map(|g| g.kind), Some("backups-off"));
    }

    #[test]
    fn the_dns_tag_names_a_zone_and_a_record() {
        assert_eq!(dns_record(&primary(&[])), None);
        let tagged = primary(&[(DNS_RECORD_TAG, "Z123/db.example.com")]);
        let record = EndpointRecord { hosted_zone_id: "Z123".into(), name: "db.example.com".into() };
        assert_eq!(dns_record(&tagged), Some(Ok(record)));
        let bad = primary(&[(DNS_RECORD_TAG, "db.example.com")]);
        assert_eq!(dns_record(&bad).and_then(Result::err).map(|g| g.kind), Some("dns-record-tag-invalid"));
    }

    #[test]
    fn the_record_must_exist_and_point_at_the_primary() {
        let p = primary(&[]);
        let missing = dns_gap(&p, "Z1", "db.example.com", None).expect("gap");
        assert_eq!(missing.kind, "dns-record-missing");
        assert!(
            missing.fix.contains("\"Action\":\"CREATE\"")
                && missing.fix.contains("orders.abc.us-east-1.rds.amazonaws.com")
        );
        let elsewhere = dns_gap(&p, "Z1", "db.example.com", Some(&["other.rds.amazonaws.com".into()])).expect("gap");
        assert_eq!(elsewhere.kind, "dns-record-elsewhere");
        assert!(elsewhere.fix.contains("\"Action\":\"UPSERT\""));
        let right = ["Orders.abc.us-east-1.rds.amazonaws.com.".to_owned()];
        assert_eq!(dns_gap(&p, "Z1", "db.example.com", Some(&right)), None, "case and final dot do not matter");
    }

    #[test]
    fn backups_off_is_a_gap_and_on_is_not() {
        assert_eq!(instance_backup_gap(&Listed { item: primary(&[]), backup_retention_days: 1 }), None);
        let gap = instance_backup_gap(&Listed { item: primary(&[]), backup_retention_days: 0 }).expect("gap");
        assert!(gap
            .fix
            .starts_with("aws rds modify-db-instance --db-instance-identifier orders --backup-retention-period 7"));
    }
}
