//! RDS's SDK types to the domain's ([`crate::model`]): what the adapters read from `DescribeDBInstances` and
//! `DescribeDBClusters`.

use aws_sdk_rds::types::{DbCluster, DbInstance, Tag};
use failover_core::tags::Tags;

use crate::model::{Cluster, ClusterMember, DbRef, Instance};

pub(super) fn tags_of(tags: &[Tag]) -> Tags {
    tags.iter().filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned()))).collect()
}

pub(super) fn to_instance(region: &str, db: &DbInstance) -> Option<Instance> {
    let id = db.db_instance_identifier()?;
    Some(Instance {
        at: DbRef::new(region, id),
        arn: db.db_instance_arn().unwrap_or_default().to_owned(),
        status: db.db_instance_status().unwrap_or("unknown").to_owned(),
        source: db.read_replica_source_db_instance_identifier().map(|s| DbRef::parse(s, region)),
        replicas: db.read_replica_db_instance_identifiers().iter().map(|r| DbRef::parse(r, region)).collect(),
        cluster: db.db_cluster_identifier().map(str::to_owned),
        endpoint: db.endpoint().and_then(|e| e.address()).map(str::to_owned),
        promotion_tier: db.promotion_tier(),
        tags: tags_of(db.tag_list()),
        resource_id: db.dbi_resource_id().map(str::to_owned),
        multi_az: db.multi_az().unwrap_or(false),
        security_groups: db
            .vpc_security_groups()
            .iter()
            .filter_map(|g| g.vpc_security_group_id())
            .map(str::to_owned)
            .collect(),
        class: db.db_instance_class().map(str::to_owned),
        zone: db.availability_zone().map(str::to_owned),
        inherited: Tags::new(),
    })
}

pub(super) fn to_cluster(region: &str, c: &DbCluster) -> Option<Cluster> {
    Some(Cluster {
        region: region.to_owned(),
        id: c.db_cluster_identifier()?.to_owned(),
        arn: c.db_cluster_arn().unwrap_or_default().to_owned(),
        status: c.status().unwrap_or("unknown").to_owned(),
        engine: c.engine().unwrap_or_default().to_owned(),
        instance_class: c.db_cluster_instance_class().map(str::to_owned),
        members: c
            .db_cluster_members()
            .iter()
            .filter_map(|m| {
                Some(ClusterMember {
                    id: m.db_instance_identifier()?.to_owned(),
                    writer: m.is_cluster_writer().unwrap_or(false),
                    promotion_tier: m.promotion_tier().unwrap_or(1),
                })
            })
            .collect(),
        tags: tags_of(c.tag_list()),
        endpoint: c.endpoint().map(str::to_owned),
    })
}
