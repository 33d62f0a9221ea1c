//! [`GlobalDatabases`] over `aws_sdk_rds`: `DescribeGlobalClusters`, `SwitchoverGlobalCluster`,
//! `FailoverGlobalCluster`, `RemoveFromGlobalCluster`. Global clusters
//! belong to no region; each call is signed for the region the caller names (the target's, for a change, so
//! that it answers while the primary's region does not).

use aws_sdk_rds::types::Filter;
use failover_core::aws::{AwsContext, AwsError};

use super::RdsDatabases;
use crate::model::{GlobalChange, GlobalCluster, GlobalMember};
use crate::ports::GlobalDatabases;

fn to_global(g: &aws_sdk_rds::types::GlobalCluster) -> Option<GlobalCluster> {
    Some(GlobalCluster {
        id: g.global_cluster_identifier()?.to_owned(),
        arn: g.global_cluster_arn().unwrap_or_default().to_owned(),
        status: g.status().unwrap_or("unknown").to_owned(),
        endpoint: g.endpoint().map(str::to_owned),
        members: g
            .global_cluster_members()
            .iter()
            .filter_map(|m| GlobalMember::from_arn(m.db_cluster_arn()?, m.is_writer().unwrap_or(false)))
            .collect(),
        change: g.failover_state().map(|f| GlobalChange {
            status: f.status().map_or_else(|| "unknown".to_owned(), |s| s.as_str().to_owned()),
            from: f.from_db_cluster_arn().map(str::to_owned),
            to: f.to_db_cluster_arn().map(str::to_owned),
            data_loss_allowed: f.is_data_loss_allowed().unwrap_or(false),
        }),
    })
}

impl RdsDatabases {
    /// `DescribeGlobalClusters` in `region`, every page, with `filter` if any (`what` names it in errors).
    async fn list_global(
        &self,
        region: &str,
        filter: Option<Filter>,
        what: String,
    ) -> Result<Vec<GlobalCluster>, AwsError> {
        let request = self.clients.get(region).describe_global_clusters().set_filters(filter.map(|f| vec![f]));
        let mut pages = request.into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.aws("DescribeGlobalClusters", what.clone())?;
            out.extend(page.global_clusters().iter().filter_map(to_global));
        }
        Ok(out)
    }
}

impl GlobalDatabases for RdsDatabases {
    async fn global_cluster(&self, region: &str, id: &str) -> Result<Option<GlobalCluster>, AwsError> {
        let result = self.clients.get(region).describe_global_clusters().global_cluster_identifier(id).send().await;
        match result {
            Ok(output) => Ok(output.global_clusters().iter().filter_map(to_global).find(|g| g.id == id)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_global_cluster_not_found_fault()) => Ok(None),
            Err(e) => Err(AwsError::from_sdk("DescribeGlobalClusters", id.to_owned(), &e)),
        }
    }

    async fn global_clusters_in(&self, region: &str) -> Result<Vec<GlobalCluster>, AwsError> {
        let filter = Filter::builder().name("region").values(region).build();
        self.list_global(region, Some(filter), format!("with a member in {region}")).await
    }

    async fn global_clusters(&self, region: &str) -> Result<Vec<GlobalCluster>, AwsError> {
        self.list_global(region, None, "all".to_owned()).await
    }

    async fn switchover_global(&self, region: &str, id: &str, target: &str) -> Result<(), AwsError> {
        self.clients
            .get(region)
            .switchover_global_cluster()
            .global_cluster_identifier(id)
            .target_db_cluster_identifier(target)
            .send()
            .await
            .aws("SwitchoverGlobalCluster", format!("{id} to {target}"))?;
        Ok(())
    }

    async fn failover_global(&self, region: &str, id: &str, target: &str) -> Result<(), AwsError> {
        self.clients
            .get(region)
            .failover_global_cluster()
            .global_cluster_identifier(id)
            .target_db_cluster_identifier(target)
            .allow_data_loss(true)
            .send()
            .await
            .aws("FailoverGlobalCluster", format!("{id} to {target}"))?;
        Ok(())
    }

    async fn remove_from_global(&self, region: &str, id: &str, target: &str) -> Result<(), AwsError> {
        self.clients
            .get(region)
            .remove_from_global_cluster()
            .global_cluster_identifier(id)
            .db_cluster_identifier(target)
            .send()
            .await
            .aws("RemoveFromGlobalCluster", format!("{target} from {id}"))?;
        Ok(())
    }
}
