//! The ports over the AWS SDK. RDS and CloudWatch clients for regions other than the function's own are
//! derived from the home client's configuration with a region override (same credentials, HTTP client,
//! retry policy and interceptors), lazily, and cached for the life of the sandbox, and so are the DynamoDB
//! clients of the ledger tables of other regions (`ledger.rs`: a primary's decisions live in its region's ledger). CloudWatch (replica lag, and
//! the prefixed alarms readiness looks for) is in `cloudwatch.rs`; RDS Proxy targets in `proxy.rs`.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_sdk_rds::config::Region;
use aws_sdk_rds::types::{DbInstance, Filter, SourceType, Tag};
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use failover_core::aws::{AwsContext, AwsError};

use crate::model::{
    AwsEvent, Cluster, Cname, DbRef, EndpointRecord, Instance, Listed, Modified, NewReplica, ProxyBinding, ProxyTagged,
    ProxyTargets, TargetChange,
};
use crate::ports::{Databases, Dns};

mod cloudwatch;
mod convert;
mod global;
mod ledger;
mod proxy;

pub use cloudwatch::CloudWatchLag;
use convert::{to_cluster, to_instance};
pub use ledger::{home_region, HomeLedgers};

/// TTL of the CNAME written on failover: short, so clients follow the new primary quickly.
pub const CNAME_TTL_SECONDS: i64 = 30;
/// Identifiers per `db-instance-id` filter, hence per [`Databases::instances_by_id`] call. The RDS API
/// reference states no maximum for a filter's values; 100 (`MaxRecords`' own maximum, so one page a call)
/// stays well clear of any unstated one, and far above the 15 read replicas RDS allows a source.
pub const INSTANCE_IDS_PER_CALL: usize = 100;

/// One client per region, built on first use from the home client's configuration.
struct RegionClients<C> {
    home_region: String,
    home: C,
    others: Mutex<HashMap<String, C>>,
    derive: fn(&C, &str) -> C,
}

impl<C: Clone> RegionClients<C> {
    fn new(home: C, home_region: String, derive: fn(&C, &str) -> C) -> Self {
        RegionClients { home_region, home, others: Mutex::new(HashMap::new()), derive }
    }

    fn get(&self, region: &str) -> C {
        if region == self.home_region || region.is_empty() {
            return self.home.clone();
        }
        let mut others = self.others.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        others.entry(region.to_owned()).or_insert_with(|| (self.derive)(&self.home, region)).clone()
    }
}

/// [`Databases`] over `aws_sdk_rds`.
pub struct RdsDatabases {
    clients: RegionClients<aws_sdk_rds::Client>,
}

impl RdsDatabases {
    /// `client` is the home region's client; other regions' clients are derived from it.
    pub fn new(client: aws_sdk_rds::Client) -> Self {
        let home_region = client.config().region().map(|r| r.to_string()).unwrap_or_default();
        RdsDatabases {
            clients: RegionClients::new(client, home_region, |home, region| {
                aws_sdk_rds::Client::from_conf(
                    home.config().to_builder().region(Region::new(region.to_owned())).build(),
                )
            }),
        }
    }
}

impl RdsDatabases {
    /// [`RdsDatabases::new`] with other regions' clients made by `derive` (tests: a region that does not answer).
    pub fn with_derive(
        client: aws_sdk_rds::Client,
        derive: fn(&aws_sdk_rds::Client, &str) -> aws_sdk_rds::Client,
    ) -> Self {
        let home_region = client.config().region().map(|r| r.to_string()).unwrap_or_default();
        RdsDatabases { clients: RegionClients::new(client, home_region, derive) }
    }

    /// Every page of one `DescribeDBInstances` (the SDK's paginator follows the markers).
    async fn list(&self, region: &str, filter: Option<Filter>, resource: String) -> Result<Vec<Instance>, AwsError> {
        let described = self.described(region, filter, resource).await?;
        Ok(described.iter().filter_map(|db| to_instance(region, db)).collect())
    }

    async fn described(
        &self,
        region: &str,
        filter: Option<Filter>,
        resource: String,
    ) -> Result<Vec<DbInstance>, AwsError> {
        let mut pages = self
            .clients
            .get(region)
            .describe_db_instances()
            .set_filters(filter.map(|f| vec![f]))
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.aws("DescribeDBInstances", resource.as_str())?;
            out.extend(page.db_instances().iter().cloned());
        }
        Ok(out)
    }
}

impl Databases for RdsDatabases {
    async fn instance(&self, at: &DbRef) -> Result<Option<Instance>, AwsError> {
        let result = self.clients.get(&at.region).describe_db_instances().db_instance_identifier(&at.id).send().await;
        match result {
            Ok(output) => Ok(output.db_instances().iter().find_map(|db| to_instance(&at.region, db))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_db_instance_not_found_fault()) => Ok(None),
            Err(e) => Err(AwsError::from_sdk("DescribeDBInstances", at.to_string(), &e)),
        }
    }

    async fn instances_by_id(&self, region: &str, ids: &[String]) -> Result<Vec<Instance>, AwsError> {
        let mut out = Vec::new();
        // No ids, no call: a filter needs values.
        for chunk in ids.chunks(INSTANCE_IDS_PER_CALL) {
            let filter = Filter::builder().name("db-instance-id").set_values(Some(chunk.to_vec())).build();
            out.extend(self.list(region, Some(filter), format!("of {} in {region}", chunk.join(", "))).await?);
        }
        Ok(out)
    }

    async fn cluster(&self, region: &str, id: &str) -> Result<Option<Cluster>, AwsError> {
        let result = self.clients.get(region).describe_db_clusters().db_cluster_identifier(id).send().await;
        match result {
            Ok(output) => Ok(output.db_clusters().iter().find_map(|c| to_cluster(region, c))),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_db_cluster_not_found_fault()) => Ok(None),
            Err(e) => Err(AwsError::from_sdk("DescribeDBClusters", format!("{region}/{id}"), &e)),
        }
    }

    async fn cluster_instances(&self, region: &str, cluster: &str) -> Result<Vec<Instance>, AwsError> {
        let filter = Filter::builder().name("db-cluster-id").values(cluster).build();
        self.list(region, Some(filter), format!("of cluster {cluster} in {region}")).await
    }

    async fn list_instances(&self, region: &str) -> Result<Vec<Listed<Instance>>, AwsError> {
        let described = self.described(region, None, format!("(all in {region})")).await?;
        Ok(described
            .iter()
            .filter_map(|db| {
                let backup_retention_days = db.backup_retention_period().unwrap_or(0);
                Some(Listed { item: to_instance(region, db)?, backup_retention_days })
            })
            .collect())
    }

    async fn list_clusters(&self, region: &str) -> Result<Vec<Listed<Cluster>>, AwsError> {
        let mut pages = self.clients.get(region).describe_db_clusters().into_paginator().send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.aws("DescribeDBClusters", format!("(all in {region})"))?;
            out.extend(page.db_clusters().iter().filter_map(|c| {
                let backup_retention_days = c.backup_retention_period().unwrap_or(0);
                Some(Listed { item: to_cluster(region, c)?, backup_retention_days })
            }));
        }
        Ok(out)
    }

    async fn promote(&self, replica: &DbRef, backup_retention_days: i32) -> Result<Option<Instance>, AwsError> {
        let answer = self
            .clients
            .get(&replica.region)
            .promote_read_replica()
            .db_instance_identifier(&replica.id)
            .backup_retention_period(backup_retention_days)
            .send()
            .await
            .aws("PromoteReadReplica", replica.to_string())?;
        Ok(answer.db_instance().and_then(|db| to_instance(&replica.region, db)))
    }

    async fn create_replica(&self, request: &NewReplica) -> Result<bool, AwsError> {
        let tags = request.tags.iter().map(|(k, v)| Tag::builder().key(k).value(v).build());
        let result = self
            .clients
            .get(&request.source.region)
            .create_db_instance_read_replica()
            .db_instance_identifier(&request.id)
            .source_db_instance_identifier(&request.source.id)
            .set_db_instance_class(request.class.clone())
            .set_availability_zone(request.zone.clone())
            .set_vpc_security_group_ids((!request.security_groups.is_empty()).then(|| request.security_groups.clone()))
            .set_tags(Some(tags.collect()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_db_instance_already_exists_fault()) => Ok(false),
            Err(e) => Err(AwsError::from_sdk(
                "CreateDBInstanceReadReplica",
                format!("{} of {}", request.id, request.source),
                &e,
            )),
        }
    }

    async fn set_security_groups(&self, at: &DbRef, groups: &[String]) -> Result<Modified, AwsError> {
        let sent = self
            .clients
            .get(&at.region)
            .modify_db_instance()
            .db_instance_identifier(&at.id)
            .set_vpc_security_group_ids(Some(groups.to_vec()))
            .apply_immediately(true)
            .send()
            .await;
        match sent {
            Ok(answer) => {
                Ok(Modified::Applied(answer.db_instance().and_then(|db| to_instance(&at.region, db)).map(Box::new)))
            }
            Err(e) if e.as_service_error().is_some_and(|s| s.is_invalid_db_instance_state_fault()) => {
                Ok(Modified::NotYet(e.as_service_error().map(ToString::to_string).unwrap_or_default()))
            }
            Err(e) => Err(AwsError::from_sdk("ModifyDBInstance", at.to_string(), &e)),
        }
    }

    async fn failover_cluster(&self, region: &str, cluster: &str, target: &str) -> Result<(), AwsError> {
        self.clients
            .get(region)
            .failover_db_cluster()
            .db_cluster_identifier(cluster)
            .target_db_instance_identifier(target)
            .send()
            .await
            .aws("FailoverDBCluster", format!("{region}/{cluster} to {target}"))?;
        Ok(())
    }

    async fn failover_events(&self, at: &DbRef, cluster: bool, since: i64) -> Result<Vec<AwsEvent>, AwsError> {
        let source_type = if cluster { SourceType::DbCluster } else { SourceType::DbInstance };
        let mut pages = self
            .clients
            .get(&at.region)
            .describe_events()
            .source_type(source_type)
            .source_identifier(&at.id)
            .start_time(aws_sdk_rds::primitives::DateTime::from_secs(since))
            .event_categories("failover")
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.aws("DescribeEvents", at.to_string())?;
            out.extend(page.events().iter().filter_map(|e| {
                Some(AwsEvent { at: e.date()?.secs(), message: e.message().unwrap_or_default().to_owned() })
            }));
        }
        Ok(out)
    }

    async fn proxy_targets(&self, region: &str, binding: &ProxyBinding) -> Result<ProxyTargets, AwsError> {
        self.describe_proxy_targets(region, binding).await
    }

    async fn proxy_tags(&self, region: &str, name: &str) -> Result<Option<ProxyTagged>, AwsError> {
        self.describe_proxy_tags(region, name).await
    }

    async fn register_proxy_target(&self, region: &str, b: &ProxyBinding, id: &str) -> Result<TargetChange, AwsError> {
        self.change_target(region, b, id, true).await
    }

    async fn deregister_proxy_target(
        &self,
        region: &str,
        b: &ProxyBinding,
        id: &str,
    ) -> Result<TargetChange, AwsError> {
        self.change_target(region, b, id, false).await
    }
}

/// [`Dns`] over `aws_sdk_route53`.
pub struct Route53Dns {
    client: aws_sdk_route53::Client,
}

impl Route53Dns {
    pub fn new(client: aws_sdk_route53::Client) -> Self {
        Route53Dns { client }
    }
}

impl Dns for Route53Dns {
    async fn cname(&self, record: &EndpointRecord) -> Result<Option<Cname>, AwsError> {
        let resource = format!("CNAME {}", record.name);
        let listed = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(&record.hosted_zone_id)
            .start_record_name(&record.name)
            .start_record_type(RrType::Cname)
            .max_items(1)
            .send()
            .await
            .aws("ListResourceRecordSets", resource.as_str())?;
        let wanted = record.name.trim_end_matches('.');
        Ok(listed
            .resource_record_sets()
            .iter()
            .find(|set| set.r#type() == &RrType::Cname && set.name().trim_end_matches('.').eq_ignore_ascii_case(wanted))
            .map(|set| Cname {
                ttl: set.ttl(),
                values: set.resource_records().iter().map(|r| r.value().to_owned()).collect(),
            }))
    }

    async fn replace_cname(
        &self,
        record: &EndpointRecord,
        current: &Cname,
        target: &str,
    ) -> Result<Option<String>, AwsError> {
        let resource = format!("CNAME {} -> {target}", record.name);
        let invalid = |e: aws_smithy_types::error::operation::BuildError| AwsError {
            operation: "ChangeResourceRecordSets",
            resource: resource.clone(),
            code: None,
            transient: false,
            message: e.to_string(),
        };
        let set = |ttl: Option<i64>, values: &[String]| {
            let records: Result<Vec<ResourceRecord>, _> =
                values.iter().map(|v| ResourceRecord::builder().value(v).build()).collect();
            ResourceRecordSet::builder()
                .name(&record.name)
                .r#type(RrType::Cname)
                .set_ttl(ttl)
                .set_resource_records(Some(records.map_err(invalid)?))
                .build()
                .map_err(invalid)
        };
        let delete = Change::builder()
            .action(ChangeAction::Delete)
            .resource_record_set(set(current.ttl, &current.values)?)
            .build()
            .map_err(invalid)?;
        let create = Change::builder()
            .action(ChangeAction::Create)
            .resource_record_set(set(Some(CNAME_TTL_SECONDS), &[target.to_owned()])?)
            .build()
            .map_err(invalid)?;
        let batch = ChangeBatch::builder()
            .comment("database-failover: repoint clients from the failed primary to the promoted replica")
            .changes(delete)
            .changes(create)
            .build()
            .map_err(invalid)?;
        let sent = self
            .client
            .change_resource_record_sets()
            .hosted_zone_id(&record.hosted_zone_id)
            .change_batch(batch)
            .send()
            .await;
        match sent {
            Ok(done) => Ok(Some(done.change_info().map_or_else(String::new, |c| c.id().to_owned()))),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_invalid_change_batch()) => Ok(None),
            Err(error) => Err(error).aws("ChangeResourceRecordSets", resource.as_str()),
        }
    }

    async fn change_in_sync(&self, change_id: &str) -> Result<bool, AwsError> {
        let got = self.client.get_change().id(change_id).send().await.aws("GetChange", change_id)?;
        Ok(got.change_info().is_some_and(|c| c.status() == &aws_sdk_route53::types::ChangeStatus::Insync))
    }
}
