//! The narrow ports the actions read and act through. They take and return domain types ([`crate::model`]), never
//! SDK types; the `adapters` module implements them over the SDK clients, tests with fakes or SDK mocks. A call
//! that failed after the SDK's own retries is an [`AwsError`] (operation, resource, code, transient).

use std::collections::BTreeMap;
use std::future::Future;

use failover_core::alarms::WatchingAlarm;
use failover_core::aws::AwsError;
use failover_core::ledger::Ledger;

use crate::model::{
    AwsEvent, Cluster, Cname, DbRef, EndpointRecord, GlobalCluster, Instance, LagPoint, Listed, Modified, NewReplica,
    ProxyBinding, ProxyTagged, ProxyTargets, TargetChange,
};

/// RDS, in any region.
pub trait Databases {
    /// `DescribeDBInstances` for one instance; `None` when it does not exist.
    fn instance(&self, at: &DbRef) -> impl Future<Output = Result<Option<Instance>, AwsError>> + Send;
    /// Those of `ids` (identifiers in `region`) that exist, in no particular order, in ONE `DescribeDBInstances`
    /// with a `db-instance-id` filter per `adapters::INSTANCE_IDS_PER_CALL` identifiers (paged); missing
    /// ones are left out, never an error.
    fn instances_by_id(
        &self,
        region: &str,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Instance>, AwsError>> + Send;
    /// `DescribeDBClusters` for one cluster; `None` when it does not exist.
    fn cluster(&self, region: &str, id: &str) -> impl Future<Output = Result<Option<Cluster>, AwsError>> + Send;
    /// The cluster's instances.
    fn cluster_instances(
        &self,
        region: &str,
        cluster: &str,
    ) -> impl Future<Output = Result<Vec<Instance>, AwsError>> + Send;
    /// `PromoteReadReplica` with `BackupRetentionPeriod`; the instance as the answer describes it (RDS answers
    /// while the promotion is under way: `modifying`, still a replica), `None` when it does not.
    fn promote(
        &self,
        replica: &DbRef,
        backup_retention_days: i32,
    ) -> impl Future<Output = Result<Option<Instance>, AwsError>> + Send;
    /// `FailoverDBCluster` to a named reader.
    fn failover_cluster(
        &self,
        region: &str,
        cluster: &str,
        target: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// `CreateDBInstanceReadReplica` (tags on create): `Ok(true)` when RDS accepted it, `Ok(false)` when an
    /// instance of that name exists already (`DBInstanceAlreadyExists`): a retry creates nothing. The default
    /// answers that the call is not available.
    fn create_replica(&self, request: &NewReplica) -> impl Future<Output = Result<bool, AwsError>> + Send {
        let error = AwsError::not_modelled("CreateDBInstanceReadReplica", request.id.clone());
        async move { Err(error) }
    }

    /// The events of the `failover` category since `since` (seconds since the epoch) of the instance `at`, or,
    /// with `cluster`, of the DB cluster `at` names (`DescribeEvents`, paginated): AWS's own failover, when no
    /// event reached the function. The default answers that the read is not available.
    fn failover_events(
        &self,
        at: &DbRef,
        _cluster: bool,
        _since: i64,
    ) -> impl Future<Output = Result<Vec<AwsEvent>, AwsError>> + Send {
        let error = AwsError::not_modelled("DescribeEvents", at.to_string());
        async move { Err(error) }
    }

    /// `ModifyDBInstance` with `VpcSecurityGroupIds` = `groups` (in this order) and `ApplyImmediately=true`: the
    /// instance's groups replaced (a fence, or an unfence). [`Modified::NotYet`] when RDS refuses because the
    /// instance cannot be modified now (`InvalidDBInstanceState`: `failed`, `storage-full`, …), which a later
    /// event or run completes. The default answers that the call is not available.
    fn set_security_groups(
        &self,
        at: &DbRef,
        _groups: &[String],
    ) -> impl Future<Output = Result<Modified, AwsError>> + Send {
        let error = AwsError::not_modelled("ModifyDBInstance", at.to_string());
        async move { Err(error) }
    }

    /// Every instance of the region with its backup retention (`DescribeDBInstances`, paginated; `readiness`).
    /// The default is for ports that model only what the changing actions need: the read is not available.
    fn list_instances(&self, region: &str) -> impl Future<Output = Result<Vec<Listed<Instance>>, AwsError>> + Send {
        let error = AwsError::not_modelled("DescribeDBInstances", region);
        async move { Err(error) }
    }
    /// Every Aurora cluster of the region with its backup retention (`DescribeDBClusters`, paginated).
    fn list_clusters(&self, region: &str) -> impl Future<Output = Result<Vec<Listed<Cluster>>, AwsError>> + Send {
        let error = AwsError::not_modelled("DescribeDBClusters", region);
        async move { Err(error) }
    }

    /// The targets of `binding`'s target group in `region` (`DescribeDBProxyTargets`, paginated); which of the
    /// proxy and the group does not exist, as an answer. The defaults of the three proxy calls answer that the
    /// call is not available.
    fn proxy_targets(
        &self,
        region: &str,
        binding: &ProxyBinding,
    ) -> impl Future<Output = Result<ProxyTargets, AwsError>> + Send {
        let error = AwsError::not_modelled("DescribeDBProxyTargets", format!("{binding} in {region}"));
        async move { Err(error) }
    }
    /// The proxy `name` in `region` and its tags (`DescribeDBProxies`, then `ListTagsForResource` of its ARN);
    /// `None` when there is no such proxy. Readiness only: IAM requires the opt-in tag on the proxy.
    fn proxy_tags(
        &self,
        region: &str,
        name: &str,
    ) -> impl Future<Output = Result<Option<ProxyTagged>, AwsError>> + Send {
        let error = AwsError::not_modelled("DescribeDBProxies", format!("{name} in {region}"));
        async move { Err(error) }
    }
    /// `RegisterDBProxyTargets` of ONE DB instance (`instance`, in `region`) in `binding`'s target group.
    fn register_proxy_target(
        &self,
        region: &str,
        binding: &ProxyBinding,
        instance: &str,
    ) -> impl Future<Output = Result<TargetChange, AwsError>> + Send {
        let error = AwsError::not_modelled("RegisterDBProxyTargets", format!("{instance} in {binding} in {region}"));
        async move { Err(error) }
    }
    /// `DeregisterDBProxyTargets` of ONE DB instance from `binding`'s target group.
    fn deregister_proxy_target(
        &self,
        region: &str,
        binding: &ProxyBinding,
        instance: &str,
    ) -> impl Future<Output = Result<TargetChange, AwsError>> + Send {
        let error =
            AwsError::not_modelled("DeregisterDBProxyTargets", format!("{instance} from {binding} in {region}"));
        async move { Err(error) }
    }
}

/// Aurora Global Database (`adapters/global.rs`). The defaults answer that the call is not available.
pub trait GlobalDatabases {
    /// `DescribeGlobalClusters` of one global database, asked in `region` (global clusters belong to no region:
    /// any region's endpoint answers); `None` when there is none (`GlobalClusterNotFoundFault`).
    fn global_cluster(
        &self,
        _region: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<GlobalCluster>, AwsError>> + Send {
        let error = AwsError::not_modelled("DescribeGlobalClusters", id);
        async move { Err(error) }
    }
    /// `DescribeGlobalClusters` with the `region` filter: every global database with a member in `region`
    /// (paginated). What the topology of `status` and `readiness` reads.
    fn global_clusters_in(&self, region: &str) -> impl Future<Output = Result<Vec<GlobalCluster>, AwsError>> + Send {
        let error = AwsError::not_modelled("DescribeGlobalClusters", region);
        async move { Err(error) }
    }
    /// `DescribeGlobalClusters` with no filter, asked in `region`: every global database of the account
    /// (paginated). What finds the one a cluster of `region` was detached from.
    fn global_clusters(&self, region: &str) -> impl Future<Output = Result<Vec<GlobalCluster>, AwsError>> + Send {
        let error = AwsError::not_modelled("DescribeGlobalClusters", region);
        async move { Err(error) }
    }
    /// `SwitchoverGlobalCluster` to the secondary `target` (its ARN), asked in `region` (the target's: it answers
    /// when the primary's region does not).
    fn switchover_global(
        &self,
        region: &str,
        id: &str,
        target: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        let error = AwsError::not_modelled("SwitchoverGlobalCluster", format!("{id} to {target} in {region}"));
        async move { Err(error) }
    }
    /// `FailoverGlobalCluster` with `AllowDataLoss` to the secondary `target` (its ARN), asked in `region` (the
    /// target's): the unplanned failover, which may lose what was not yet replicated.
    fn failover_global(
        &self,
        region: &str,
        id: &str,
        target: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        let error = AwsError::not_modelled("FailoverGlobalCluster", format!("{id} to {target} in {region}"));
        async move { Err(error) }
    }
    /// `RemoveFromGlobalCluster` of the member `target` (its ARN), asked in `region` (the member's): it becomes a
    /// standalone cluster that takes writes.
    fn remove_from_global(
        &self,
        region: &str,
        id: &str,
        target: &str,
    ) -> impl Future<Output = Result<(), AwsError>> + Send {
        let error = AwsError::not_modelled("RemoveFromGlobalCluster", format!("{target} from {id} in {region}"));
        async move { Err(error) }
    }
}

/// Which lag metric to read (both in `AWS/RDS`, dimension `DBInstanceIdentifier`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LagMetric {
    /// RDS read replicas, seconds; -1 when replication is not running.
    ReplicaLag,
    /// Aurora readers, milliseconds.
    AuroraReplicaLag,
}

impl LagMetric {
    pub fn name(self) -> &'static str {
        match self {
            LagMetric::ReplicaLag => "ReplicaLag",
            LagMetric::AuroraReplicaLag => "AuroraReplicaLag",
        }
    }
}

/// The lag of an Aurora Global Database's secondary cluster behind its primary (`AWS/RDS`, dimension
/// `DBClusterIdentifier`, milliseconds, published in the secondary's region).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GlobalLagMetric {
    /// The recovery point objective lag: how much committed data the secondary lacks (Aurora PostgreSQL; the
    /// data-loss window of a failover).
    RpoLag,
    /// The storage replication lag (every engine): the data-loss window where RPO lag is not published.
    ReplicationLag,
}

impl GlobalLagMetric {
    pub fn name(self) -> &'static str {
        match self {
            GlobalLagMetric::RpoLag => "AuroraGlobalDBRPOLag",
            GlobalLagMetric::ReplicationLag => "AuroraGlobalDBReplicationLag",
        }
    }
}

/// CloudWatch: replica lag, and the alarms readiness looks for.
pub trait ReplicaLag {
    /// The per-minute maxima from `since` (seconds since the epoch) to now for each instance of one region,
    /// newest first, each with its minute, in ONE `GetMetricData` call; instances without data map to an empty
    /// list.
    fn lags(
        &self,
        region: &str,
        metric: LagMetric,
        instances: &[String],
        since: i64,
    ) -> impl Future<Output = Result<BTreeMap<String, Vec<LagPoint>>, AwsError>> + Send;

    /// The per-minute maxima of a secondary cluster's global lag `metric` (milliseconds) from `since` to now,
    /// newest first, in ONE `GetMetricData` call. CloudWatch matches a metric by its whole dimension set, and
    /// Aurora publishes these under `DBClusterIdentifier` and `SourceRegion` (the primary's region, when
    /// `source_region` names it), so both sets are read and merged. The default answers that the read is not
    /// available.
    fn cluster_lag(
        &self,
        region: &str,
        metric: GlobalLagMetric,
        cluster: &str,
        _source_region: Option<&str>,
        _since: i64,
    ) -> impl Future<Output = Result<Vec<LagPoint>, AwsError>> + Send {
        let error = AwsError::not_modelled("GetMetricData", format!("{} of {cluster} in {region}", metric.name()));
        async move { Err(error) }
    }

    /// Every metric alarm of `region` whose name starts with `prefix` (`DescribeAlarms`, paginated;
    /// `readiness`). The default answers that the read is not available.
    fn alarms(&self, region: &str, prefix: &str) -> impl Future<Output = Result<Vec<WatchingAlarm>, AwsError>> + Send {
        let error = AwsError::not_modelled("DescribeAlarms", format!("{prefix}* in {region}"));
        async move { Err(error) }
    }
}

/// Route 53.
pub trait Dns {
    /// The CNAME `record` names, as it is now (`ListResourceRecordSets` from its name and type, one item);
    /// `None` when there is none.
    fn cname(&self, record: &EndpointRecord) -> impl Future<Output = Result<Option<Cname>, AwsError>> + Send;
    /// ONE change batch: DELETE `current` (its TTL and values exactly as read), CREATE the CNAME pointing at
    /// `target`. `Ok(Some(change id))` when Route 53 accepted it; `Ok(None)` when it rejects the batch
    /// (`InvalidChangeBatch`: the record changed since it was read); then nothing changed.
    fn replace_cname(
        &self,
        record: &EndpointRecord,
        current: &Cname,
        target: &str,
    ) -> impl Future<Output = Result<Option<String>, AwsError>> + Send;
    /// Whether Route 53 reports the change `INSYNC` (`GetChange`): every one of its authoritative servers
    /// answers the new value. `false` while it is `PENDING`.
    fn change_in_sync(&self, change_id: &str) -> impl Future<Output = Result<bool, AwsError>> + Send;
}

/// The ports one invocation works with, named once: an action is generic over `P: Ports` alone.
pub trait Ports {
    type Databases: Databases + GlobalDatabases + Sync;
    type Lag: ReplicaLag + Sync;
    type Dns: Dns + Sync;
    type Ledger: Ledger;
}

/// The [`Ports`] of an `App`: its port types, as a type.
pub struct With<D, L, R, G>(std::marker::PhantomData<(D, L, R, G)>);

impl<D: Databases + GlobalDatabases + Sync, L: ReplicaLag + Sync, R: Dns + Sync, G: Ledger> Ports for With<D, L, R, G> {
    type Databases = D;
    type Lag = L;
    type Dns = R;
    type Ledger = G;
}
