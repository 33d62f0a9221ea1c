//! [`Fleet`] over the Auto Scaling SDK client (`REPLACE_INSTANCES`). SDK types stay in this file.
//!
//! Calls: one `DescribeAutoScalingInstances` per [`INSTANCES_PER_CALL`] instances (paginated), then one
//! `DescribeTags` (filter `auto-scaling-group`) per [`GROUPS_PER_CALL`] groups found (paginated; none when no
//! instance is in a group); `SetInstanceHealth` per instance marked. `DescribeTags` rather than
//! `DescribeAutoScalingGroups`: the tags are all we need, and the group shape's XML reader (instances, launch
//! templates, mixed-instances policies, warm pools...) weighs on the binary. Without an Auto Scaling client
//! ([`ElbClient::with_fleet`] not called) every method answers "not modelled".

use std::collections::BTreeMap;

use failover_core::aws::{AwsContext, AwsError};

use super::ElbClient;
use crate::model::Tags;
use crate::ports::Fleet;

/// `DescribeAutoScalingInstances` takes at most 50 instance ids.
pub const INSTANCES_PER_CALL: usize = 50;
/// `DescribeTags`: group names per `auto-scaling-group` filter.
pub const GROUPS_PER_CALL: usize = 50;

impl ElbClient {
    /// The same port with Auto Scaling for [`Fleet`] (built once per cold start, like the ELB client).
    pub fn with_fleet(mut self, client: aws_sdk_autoscaling::Client) -> Self {
        self.fleet = Some(client);
        self
    }

    fn fleet(&self, operation: &'static str, resource: &str) -> Result<&aws_sdk_autoscaling::Client, AwsError> {
        self.fleet.as_ref().ok_or_else(|| AwsError::not_modelled(operation, resource))
    }
}

impl Fleet for ElbClient {
    async fn scaling_groups(&self, instances: &[String]) -> Result<BTreeMap<String, (String, Tags)>, AwsError> {
        if instances.is_empty() {
            return Ok(BTreeMap::new());
        }
        let client = self.fleet("DescribeAutoScalingInstances", &instances.join(", "))?;
        let mut group_of = BTreeMap::new();
        for batch in instances.chunks(INSTANCES_PER_CALL) {
            let found: Vec<_> = client
                .describe_auto_scaling_instances()
                .set_instance_ids(Some(batch.to_vec()))
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .aws("DescribeAutoScalingInstances", batch.join(", "))?;
            for details in found {
                if let (Some(id), Some(group)) = (details.instance_id(), details.auto_scaling_group_name()) {
                    group_of.insert(id.to_owned(), group.to_owned());
                }
            }
        }
        let mut names: Vec<String> = group_of.values().cloned().collect();
        names.sort();
        names.dedup();
        let mut tags_of: BTreeMap<String, Tags> = BTreeMap::new();
        for batch in names.chunks(GROUPS_PER_CALL) {
            let filter = aws_sdk_autoscaling::types::Filter::builder()
                .name("auto-scaling-group")
                .set_values(Some(batch.to_vec()))
                .build();
            let tags: Vec<_> = client
                .describe_tags()
                .filters(filter)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .aws("DescribeTags", batch.join(", "))?;
            for tag in tags {
                let (Some(group), Some(key)) = (tag.resource_id(), tag.key()) else { continue };
                let value = tag.value().unwrap_or_default().to_owned();
                tags_of.entry(group.to_owned()).or_default().insert(key.to_owned(), value);
            }
        }
        Ok(group_of
            .into_iter()
            .map(|(id, group)| {
                let tags = tags_of.get(&group).cloned().unwrap_or_default();
                (id, (group, tags))
            })
            .collect())
    }

    async fn mark_unhealthy(&self, instance: &str) -> Result<(), AwsError> {
        let client = self.fleet("SetInstanceHealth", instance)?;
        client
            .set_instance_health()
            .instance_id(instance)
            .health_status("Unhealthy")
            .should_respect_grace_period(true)
            .send()
            .await
            .aws("SetInstanceHealth", instance)?;
        Ok(())
    }
}
