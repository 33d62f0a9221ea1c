//! The facts the actions read, gathered through the ports: a primary and its replicas with their lags and
//! any recorded decision (read by `promote` and `status`), and an Aurora cluster with its readers (read by
//! `failover_cluster` and `status`).
//!
//! Calls: a primary's replicas are described in ONE `DescribeDBInstances` per region (a `db-instance-id`
//! filter) and their lags read in ONE `GetMetricData` per region; a region's full listing is read only when the
//! primary is gone; a recorded replica costs one more describe only when it is not among those already read.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use failover_core::aws::AwsError;

use super::Context;
use crate::decide::{self, Candidate, ClusterFacts, PrimaryState, PromotionFacts};
use crate::model::{self, DbRef, Instance, Record, PROMOTED_FROM_TAG};
use crate::ports::{Databases, Dns, LagMetric, ReplicaLag};

impl<D, L, R> Context<'_, D, L, R>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    /// Describes a primary seen from one of its replicas. In another region, an error means the region may be
    /// down: the primary is unreachable, which `decide` treats as "cannot be confirmed available".
    pub async fn primary_state(&self, source: &DbRef, replica: &DbRef) -> Result<PrimaryState, AwsError> {
        match self.databases.instance(source).await {
            Ok(Some(p)) => Ok(PrimaryState::Found(p)),
            Ok(None) => Ok(PrimaryState::Missing),
            Err(e) if source.region != replica.region => {
                tracing::warn!(primary = %source, error = %e, "primary's region did not answer");
                Ok(PrimaryState::Unreachable { error: e.to_string() })
            }
            Err(e) => Err(e),
        }
    }

    /// Gathers the replicas of a primary, their lags and any recorded decision.
    pub async fn promotion_facts(
        &self,
        primary_ref: &DbRef,
        primary: PrimaryState,
        extra: Option<Instance>,
    ) -> Result<PromotionFacts, AwsError> {
        let mut replicas: Vec<Instance> = Vec::new();
        let mut listing: Vec<Instance> = Vec::new();
        match &primary {
            PrimaryState::Found(p) => replicas = self.replicas_of(&p.replicas).await?,
            PrimaryState::Missing | PrimaryState::Unreachable { .. } => {
                // No replica list to read: find the instances that name it as their source.
                let mut regions = BTreeSet::from([self.region.to_owned()]);
                if let Some(x) = &extra {
                    regions.insert(x.at.region.clone());
                }
                if matches!(primary, PrimaryState::Missing) {
                    regions.insert(primary_ref.region.clone());
                }
                for region in regions {
                    if let Some(found) = self.tolerant(&region, self.databases.instances(&region)).await? {
                        listing.extend(found);
                    }
                }
                replicas.extend(listing.iter().filter(|i| i.source.as_ref() == Some(primary_ref)).cloned());
            }
        }
        if let Some(x) = extra {
            if !replicas.iter().any(|r| r.at == x.at) {
                replicas.push(x);
            }
        }

        // The record: on the primary; else on a replica that was promoted from it.
        let mut record = match &primary {
            PrimaryState::Found(p) => decide::primary_record(p),
            _ => None,
        };
        if record.is_none() {
            record = replicas.iter().chain(listing.iter()).find_map(|i| {
                let r = Record::parse(i.tags.get(PROMOTED_FROM_TAG)?, &i.at.region)?;
                (&r.subject == primary_ref).then(|| Record { subject: i.at.clone(), at: r.at, at_secs: r.at_secs })
            });
        }
        let recorded = match &record {
            None => None,
            Some(r) => match replicas.iter().chain(listing.iter()).find(|i| i.at == r.subject) {
                Some(known) => Some(known.clone()),
                None => self.databases.instance(&r.subject).await?,
            },
        };

        // Lags: one GetMetricData call per region holding replicas.
        let mut lags: BTreeMap<DbRef, Vec<f64>> = BTreeMap::new();
        for (region, ids) in ids_by_region(replicas.iter().map(|r| &r.at)) {
            if let Some(found) = self.tolerant(&region, self.lag.lags(&region, LagMetric::ReplicaLag, &ids)).await? {
                lags.extend(found.into_iter().map(|(id, values)| (DbRef::new(&region, id), values)));
            }
        }
        let replicas = replicas
            .into_iter()
            .map(|instance| Candidate { lag: lags.get(&instance.at).cloned().unwrap_or_default(), instance })
            .collect();
        Ok(PromotionFacts { primary_ref: primary_ref.clone(), primary, replicas, record, recorded })
    }

    /// A primary's replicas (its `ReadReplicaDBInstanceIdentifiers`), described in one `DescribeDBInstances` per
    /// region rather than one per replica, returned in the primary's order. Those that no longer exist are left
    /// out, and so are those of a region other than the function's own that does not answer (see [`Self::tolerant`]).
    pub async fn replicas_of(&self, refs: &[DbRef]) -> Result<Vec<Instance>, AwsError> {
        let mut found: Vec<Instance> = Vec::new();
        for (region, ids) in ids_by_region(refs) {
            if let Some(instances) = self.tolerant(&region, self.databases.instances_by_id(&region, &ids)).await? {
                found.extend(instances);
            }
        }
        Ok(model::in_order(refs, &found))
    }

    /// Errors in the function's own region stop the work; in another region (which may be the one that is
    /// down) they are logged and that region's data is left out.
    pub async fn tolerant<T>(
        &self,
        region: &str,
        call: impl Future<Output = Result<T, AwsError>>,
    ) -> Result<Option<T>, AwsError> {
        match call.await {
            Ok(value) => Ok(Some(value)),
            Err(e) if region != self.region => {
                tracing::warn!(region, error = %e, "other region did not answer; its data is left out");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// An Aurora cluster, its instances and its readers' `AuroraReplicaLag`.
    pub async fn cluster_facts(&self, region: &str, id: &str) -> Result<ClusterFacts, AwsError> {
        let cluster = self.databases.cluster(region, id).await?;
        let mut members = Vec::new();
        if let Some(c) = &cluster {
            let instances = self.databases.cluster_instances(region, id).await?;
            let readers: Vec<String> = c.members.iter().filter(|m| !m.writer).map(|m| m.id.clone()).collect();
            let lags = self.lag.lags(region, LagMetric::AuroraReplicaLag, &readers).await?;
            members = instances
                .into_iter()
                .map(|instance| Candidate { lag: lags.get(&instance.at.id).cloned().unwrap_or_default(), instance })
                .collect();
        }
        Ok(ClusterFacts { region: region.to_owned(), id: id.to_owned(), cluster, members })
    }
}

/// Identifiers grouped by region, each group in the order given.
fn ids_by_region<'a>(refs: impl IntoIterator<Item = &'a DbRef>) -> BTreeMap<String, Vec<String>> {
    let mut by_region: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in refs {
        by_region.entry(r.region.clone()).or_default().push(r.id.clone());
    }
    by_region
}
