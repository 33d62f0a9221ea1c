//! The facts the actions read, gathered through the ports after the resource's ledger was read: a primary and
//! its replicas with their lags and its promotion decision ([`promotion_record`], read by `promote` and `status`), and
//! a DB cluster (Aurora or Multi-AZ) with its readers and its last failover (read by `failover_cluster` and `status`).
//!
//! Calls: a primary's replicas are described in ONE `DescribeDBInstances` per region (a `db-instance-id`
//! filter) and their lags read in ONE `GetMetricData` per region; the replica a trigger names, and a recorded
//! replica, cost one more describe each only when they are not among those already read. The record is keyed
//! by the primary, so a primary that no longer exists needs no listing: its replicas are those triggers name.

use std::collections::BTreeMap;
use std::future::Future;

use failover_core::aws::AwsError;
use failover_core::ledger::{Snapshot, State};

use super::Context;
use crate::decide::{
    lag_as_of, onset, same_primary, Candidate, ClusterFacts, PrimaryState, PromotionFacts, Undescribed,
};
use crate::model::{
    self, Cluster, DbRef, Instance, LagPoint, Record, Topology, FAILOVER_KEY_PREFIX, LAG_LOOK_BACK_SECS,
};
use crate::ports::{Databases, GlobalDatabases, LagMetric, Ports, ReplicaLag};

impl<P: Ports> Context<'_, P> {
    /// The Aurora global databases with a member in `region` (`DescribeGlobalClusters`, region filter), for the
    /// topology `status` and `readiness` show; empty when there are none, and, with a warning in the log, when
    /// the read fails: the topology then says what `DescribeDBClusters` says.
    pub async fn global_clusters(&self, region: &str) -> Vec<model::GlobalCluster> {
        self.databases.global_clusters_in(region).await.unwrap_or_else(|error| {
            tracing::warn!(%region, %error, "global databases not read: the topology shows the cluster alone");
            Vec::new()
        })
    }

    /// An Aurora cluster's place in a global database (one read of its region's, [`Self::global_clusters`]);
    /// `None` for any other engine, without a call.
    pub async fn global_role(&self, cluster: &Cluster) -> Option<model::GlobalRole> {
        if !cluster.engine.to_ascii_lowercase().starts_with("aurora") {
            return None;
        }
        model::global_role(&self.global_clusters(&cluster.region).await, cluster)
    }

    /// Describes a primary seen from one of its replicas. In another region, a connection failure or a timeout
    /// that outlasted the SDK's retries ([`unreachable()`]) means the region may be down: the primary is
    /// unreachable, which `decide` treats as "cannot be confirmed available". Any other error (throttling,
    /// access denied, a server error with a code) is an error: the region answered.
    pub async fn primary_state(&self, source: &DbRef, replica: &DbRef) -> Result<PrimaryState, AwsError> {
        match self.databases.instance(source).await {
            Ok(Some(p)) => Ok(PrimaryState::Found(p)),
            Ok(None) => Ok(PrimaryState::Missing),
            Err(e) if source.region != replica.region && unreachable(&e) => {
                tracing::warn!(primary = %source, error = %e, "primary's region did not answer");
                Ok(PrimaryState::Unreachable { error: e.to_string() })
            }
            Err(e) => Err(e),
        }
    }

    /// Gathers the primary (unless `described` already), its replicas (with `extra`, a replica a trigger
    /// named), their lags and the recorded decision in `snapshot`, the primary's ledger.
    pub async fn promotion_facts(
        &self,
        primary_ref: &DbRef,
        described: Option<PrimaryState>,
        extra: Option<&DbRef>,
        snapshot: &Snapshot,
    ) -> Result<PromotionFacts, AwsError> {
        let primary = match (described, extra) {
            (Some(state), _) => state,
            (None, Some(replica)) => self.primary_state(primary_ref, replica).await?,
            (None, None) => match self.databases.instance(primary_ref).await? {
                Some(p) => PrimaryState::Found(p),
                None => PrimaryState::Missing,
            },
        };
        // A primary that a promotion made inherits, through its lineage, the bindings it does not carry itself.
        let primary = match primary {
            PrimaryState::Found(p) => PrimaryState::Found(model::inherit(p, &snapshot.records)),
            other => other,
        };
        let record = promotion_record(snapshot, &primary);
        // The recorded replica (promoted: no longer in the primary's list) joins its region's call when that
        // region is read anyway; described on its own otherwise, or when its region was left out.
        let joined = match (&primary, &record) {
            (PrimaryState::Found(p), Some(r)) => Some(&r.subject)
                .filter(|s| !p.replicas.contains(s) && p.replicas.iter().any(|x| x.region == s.region))
                .cloned(),
            _ => None,
        };
        let (mut replicas, undescribed) = match &primary {
            PrimaryState::Found(p) => self.replicas_of(&[p.replicas.as_slice(), joined.as_slice()].concat()).await?,
            PrimaryState::Missing | PrimaryState::Unreachable { .. } => (Vec::new(), Vec::new()),
        };
        // Not a replica: out of the replicas, and out of the undescribed (described on its own below).
        let undescribed: Vec<Undescribed> =
            undescribed.into_iter().filter(|u| Some(&u.at) != joined.as_ref()).collect();
        let joined = joined.and_then(|j| replicas.iter().position(|i| i.at == j)).map(|i| replicas.remove(i));
        if let Some(x) = extra.filter(|x| !replicas.iter().any(|r| &r.at == *x)) {
            if let Some(found) = self.databases.instance(x).await? {
                replicas.push(found);
            }
        }
        let recorded = match &record {
            None => None,
            Some(r) => match replicas.iter().chain(joined.as_ref()).find(|i| i.at == r.subject) {
                Some(known) => Some(known.clone()),
                None => self.databases.instance(&r.subject).await?,
            },
        };
        // A recorded replica still replicating from this primary is judged with the others (its lag read too).
        if let Some(r) = recorded.as_ref().filter(|r| r.source.as_ref() == Some(primary_ref)) {
            if !replicas.iter().any(|known| known.at == r.at) {
                replicas.push(r.clone());
            }
        }

        // Lags as of the failure's onset ([`onset`]): one GetMetricData call per region holding replicas, from
        // the onset window and the look-back before the trigger; a region that does not give them leaves its
        // replicas' lags unknown (ineligible).
        let trigger_at = self.failure_time();
        let window = self.config.onset_window_minutes * 60;
        let since = trigger_at - window - LAG_LOOK_BACK_SECS - onset::PERIOD_SECS;
        let mut lags: BTreeMap<DbRef, Vec<LagPoint>> = BTreeMap::new();
        for (region, ids) in ids_by_region(replicas.iter().map(|r| &r.at)) {
            let call = self.lag.lags(&region, LagMetric::ReplicaLag, &ids, since);
            if let Answer::Got(found) = self.tolerant(&region, call).await? {
                lags.extend(found.into_iter().map(|(id, points)| (DbRef::new(&region, id), points)));
            }
        }
        let onset = onset::earliest(trigger_at, window, lags.values().map(Vec::as_slice));
        let replicas = replicas
            .into_iter()
            .map(|instance| {
                let (lag, lag_at) = lag_as_of(lags.get(&instance.at).map_or(&[][..], Vec::as_slice), onset);
                Candidate { instance, lag, lag_at }
            })
            .collect();
        Ok(PromotionFacts {
            primary_ref: primary_ref.clone(),
            primary,
            replicas,
            record,
            recorded,
            undescribed,
            onset: Some(onset),
        })
    }

    /// A primary's replicas (its `ReadReplicaDBInstanceIdentifiers`), described in one `DescribeDBInstances` per
    /// region rather than one per replica, returned in the primary's order. Those that no longer exist are left
    /// out; those of a region other than the function's own that does not give them ([`Self::tolerant`]) are
    /// returned apart, [`Undescribed`], with why.
    pub async fn replicas_of(&self, refs: &[DbRef]) -> Result<(Vec<Instance>, Vec<Undescribed>), AwsError> {
        let mut found: Vec<Instance> = Vec::new();
        let mut undescribed = Vec::new();
        for (region, ids) in ids_by_region(refs) {
            match self.tolerant(&region, self.databases.instances_by_id(&region, &ids)).await? {
                Answer::Got(instances) => found.extend(instances),
                Answer::LeftOut(why) => undescribed
                    .extend(ids.iter().map(|id| Undescribed { at: DbRef::new(&region, id), why: why.clone() })),
            }
        }
        Ok((model::in_order(refs, &found), undescribed))
    }

    /// Errors in the function's own region stop the work. In another region (which may be the one that is
    /// down, or one the stack's IAM rights do not reach) a connection failure or timeout ([`unreachable()`]),
    /// or an error that is not transient (`AccessDenied`), is logged and that region's data is left out, with
    /// why; a transient error with a code (throttling) stops the work, and Lambda's retry reads again.
    pub async fn tolerant<T>(
        &self,
        region: &str,
        call: impl Future<Output = Result<T, AwsError>>,
    ) -> Result<Answer<T>, AwsError> {
        match call.await {
            Ok(value) => Ok(Answer::Got(value)),
            Err(e) if region != self.region && (unreachable(&e) || !e.transient) => {
                tracing::warn!(region, error = %e, "other region did not give its data; it is left out");
                let how = if unreachable(&e) { "did not answer" } else { "refused the call" };
                Ok(Answer::LeftOut(format!("{region} {how} ({e})")))
            }
            Err(e) => Err(e),
        }
    }

    /// A DB cluster (`described`: as described before the ledger was read, used only when no change has ever
    /// ended on it, version 0: then it cannot be older than one), its instances, its readers' lag, and its last
    /// finished failover in `snapshot`, the cluster's ledger. Aurora readers' `AuroraReplicaLag` as of the
    /// failure; a Multi-AZ DB cluster's readers' `ReplicaLag` as of the failure's onset ([`onset`]: where a
    /// reader's replication broke shortly before the trigger, as for a primary's replicas).
    pub async fn cluster_facts(
        &self,
        region: &str,
        id: &str,
        described: Option<Option<Cluster>>,
        snapshot: &Snapshot,
    ) -> Result<ClusterFacts, AwsError> {
        let cluster = match described.filter(|_| snapshot.version == 0) {
            Some(cluster) => cluster,
            None => self.databases.cluster(region, id).await?,
        };
        let mut members = Vec::new();
        let mut onset = None;
        if let Some(c) = &cluster {
            let instances = self.databases.cluster_instances(region, id).await?;
            let readers: Vec<String> = c.members.iter().filter(|m| !m.writer).map(|m| m.id.clone()).collect();
            let failure_at = self.failure_time();
            let multi_az = Topology::of_cluster(c, None) == Topology::MultiAzCluster;
            let (metric, window) = if multi_az {
                (LagMetric::ReplicaLag, self.config.onset_window_minutes * 60)
            } else {
                (LagMetric::AuroraReplicaLag, 0)
            };
            let since = failure_at - window - LAG_LOOK_BACK_SECS - onset::PERIOD_SECS;
            let lags = self.lag.lags(region, metric, &readers, since).await?;
            let judged_at = if multi_az {
                let at = onset::earliest(failure_at, window, lags.values().map(Vec::as_slice));
                onset = Some(at);
                at
            } else {
                failure_at
            };
            members = instances
                .into_iter()
                .map(|instance| {
                    let (lag, lag_at) = lag_as_of(lags.get(&instance.at.id).map_or(&[][..], Vec::as_slice), judged_at);
                    Candidate { instance, lag, lag_at }
                })
                .collect();
        }
        let failovers = || snapshot.records.iter().filter(|r| r.key.starts_with(FAILOVER_KEY_PREFIX));
        // The cooldown runs from when FailoverDBCluster succeeded (`done_at`), not from the decision.
        let last_failover = failovers()
            .filter(|r| r.state == State::Done)
            .filter_map(|r| {
                let done_at = r.data.get("done_at").and_then(serde_json::Value::as_i64);
                Record::from_ledger(r, "target").map(|record| Record { at_secs: done_at.or(record.at_secs), ..record })
            })
            .max_by_key(|r| r.at_secs);
        let pending = failovers().filter(|r| r.state == State::Pending).find_map(|r| Record::from_ledger(r, "target"));
        let (region, id) = (region.to_owned(), id.to_owned());
        Ok(ClusterFacts { region, id, cluster, members, last_failover, pending, global: None, onset })
    }
}

/// The primary's promotion decision that counts, from the ledger of its name: of the decisions about this very
/// primary ([`same_primary`]), the pending one (there is at most one: a decision is made only while none is
/// pending), else the latest done or closed one. Abandoned decisions do not count: they block nothing.
pub fn promotion_record(snapshot: &Snapshot, primary: &PrimaryState) -> Option<Record> {
    let decisions: Vec<Record> = snapshot
        .records
        .iter()
        .filter(|r| model::is_promotion_key(&r.key) && r.state != State::Abandoned)
        .filter_map(|r| Record::from_ledger(r, "replica"))
        .filter(|r| same_primary(r, primary))
        .collect();
    let pending = decisions.iter().find(|r| r.state == State::Pending).cloned();
    pending.or_else(|| decisions.into_iter().max_by_key(|r| r.at_secs))
}

/// What a call to another region gave: its answer, or why its data is left out ([`Context::tolerant`]).
pub enum Answer<T> {
    Got(T),
    LeftOut(String),
}

/// The region did not answer at all: a connection failure or a timeout after the SDK's retries (transient, and
/// no error code: AWS said nothing). Throttling and access denied carry a code: AWS answered, so they are errors.
pub fn unreachable(error: &AwsError) -> bool {
    error.unreachable()
}

/// Identifiers grouped by region, each group in the order given.
fn ids_by_region<'a>(refs: impl IntoIterator<Item = &'a DbRef>) -> BTreeMap<String, Vec<String>> {
    let mut by_region: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in refs {
        by_region.entry(r.region.clone()).or_default().push(r.id.clone());
    }
    by_region
}
