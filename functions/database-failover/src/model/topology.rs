//! What kind of database a resource is: the failover it gets depends on it. A single instance with its read
//! replicas (a promotion), an Aurora cluster (`FailoverDBCluster`, readers ordered by `AuroraReplicaLag`), a
//! Multi-AZ DB cluster (`FailoverDBCluster`, readers guarded by `ReplicaLag`: their storage is their own), or a
//! member of an Aurora global database.
//!
//! Recognised from `DescribeDBClusters` alone ([`Topology::of_cluster`]): an engine `aurora*` is Aurora; `mysql`
//! or `postgres` with `DBClusterInstanceClass` set is a Multi-AZ DB cluster ("This setting is only for non-Aurora
//! Multi-AZ DB clusters", RDS API reference, `DBCluster`). A global database's membership is only in
//! `DescribeGlobalClusters`: whoever reads it passes the cluster's [`GlobalRole`].

use serde::Serialize;

use super::Cluster;

/// The kind of database a resource is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Topology {
    /// An RDS instance (Multi-AZ or not) with its read replicas.
    Instance,
    /// An Aurora DB cluster: shared storage, readers ordered by `PromotionTier` then `AuroraReplicaLag`.
    Aurora,
    /// An RDS Multi-AZ DB cluster (MySQL or PostgreSQL, a writer and two readable standbys, each with its own
    /// storage): readers guarded by `ReplicaLag`.
    MultiAzCluster,
    /// The primary cluster of an Aurora global database.
    GlobalPrimary { global_cluster: String },
    /// A secondary (read-only) cluster of an Aurora global database.
    GlobalSecondary { global_cluster: String },
    /// A cluster of an engine this function does not fail over (Neptune and DocumentDB clusters are listed by
    /// `DescribeDBClusters` too).
    Unsupported { engine: String },
}

/// A cluster's place in an Aurora global database, as `DescribeGlobalClusters` says (`GlobalClusterMembers`,
/// `IsWriter`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "kebab-case")]
pub enum GlobalRole {
    Primary { global_cluster: String },
    Secondary { global_cluster: String },
}

impl Topology {
    /// A cluster's topology from `DescribeDBClusters` (`Engine`, `DBClusterInstanceClass`) and, when known, its
    /// place in a global database (`global`: read from `DescribeGlobalClusters`; `None` when it is in none or
    /// that was not read).
    pub fn of_cluster(cluster: &Cluster, global: Option<&GlobalRole>) -> Topology {
        let engine = cluster.engine.to_ascii_lowercase();
        match global {
            Some(GlobalRole::Primary { global_cluster }) => {
                Topology::GlobalPrimary { global_cluster: global_cluster.clone() }
            }
            Some(GlobalRole::Secondary { global_cluster }) => {
                Topology::GlobalSecondary { global_cluster: global_cluster.clone() }
            }
            None if engine.starts_with("aurora") => Topology::Aurora,
            None if matches!(engine.as_str(), "mysql" | "postgres") && cluster.instance_class.is_some() => {
                Topology::MultiAzCluster
            }
            None => Topology::Unsupported { engine: cluster.engine.clone() },
        }
    }

    /// The word `status` and `readiness` show.
    pub fn word(&self) -> &'static str {
        match self {
            Topology::Instance => "instance",
            Topology::Aurora => "aurora",
            Topology::MultiAzCluster => "multi-az-cluster",
            Topology::GlobalPrimary { .. } => "global-primary",
            Topology::GlobalSecondary { .. } => "global-secondary",
            Topology::Unsupported { .. } => "unsupported",
        }
    }

    /// The unit of its lag metric: `ReplicaLag` (seconds) for instances and Multi-AZ DB clusters,
    /// `AuroraReplicaLag` (milliseconds) for Aurora.
    pub fn lag_unit(&self) -> &'static str {
        match self {
            Topology::Instance | Topology::MultiAzCluster => "s",
            _ => "ms",
        }
    }
}

impl std::fmt::Display for Topology {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.word())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster(engine: &str, class: Option<&str>) -> Cluster {
        Cluster {
            region: "us-east-1".into(),
            id: "c".into(),
            status: "available".into(),
            engine: engine.into(),
            instance_class: class.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn aurora_engines_are_aurora_and_mysql_or_postgres_with_a_cluster_instance_class_is_multi_az() {
        for engine in ["aurora-mysql", "aurora-postgresql", "aurora"] {
            assert_eq!(Topology::of_cluster(&cluster(engine, None), None), Topology::Aurora, "{engine}");
        }
        for engine in ["mysql", "postgres"] {
            let multi_az = Topology::of_cluster(&cluster(engine, Some("db.m6gd.large")), None);
            assert_eq!(multi_az, Topology::MultiAzCluster, "{engine}");
            assert_eq!(multi_az.lag_unit(), "s");
        }
    }

    #[test]
    fn other_engines_or_a_multi_az_engine_without_its_class_are_unsupported() {
        let neptune = Topology::of_cluster(&cluster("neptune", None), None);
        assert_eq!(neptune, Topology::Unsupported { engine: "neptune".into() });
        assert_eq!(Topology::of_cluster(&cluster("mysql", None), None).word(), "unsupported");
        assert_eq!(Topology::of_cluster(&cluster("", None), None).word(), "unsupported");
    }

    #[test]
    fn a_global_role_names_the_global_database_whatever_the_engine() {
        let role = GlobalRole::Secondary { global_cluster: "g".into() };
        let secondary = Topology::of_cluster(&cluster("aurora-postgresql", None), Some(&role));
        assert_eq!(secondary, Topology::GlobalSecondary { global_cluster: "g".into() });
        assert_eq!(
            serde_json::to_value(&secondary).unwrap(),
            serde_json::json!({"kind": "global-secondary",
            "global_cluster": "g"})
        );
        assert_eq!(
            serde_json::to_value(Topology::MultiAzCluster).unwrap(),
            serde_json::json!({"kind":
            "multi-az-cluster"})
        );
    }
}
