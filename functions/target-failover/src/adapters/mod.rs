//! [`ElbClient`]: the [`LoadBalancer`] port (with [`crate::ports::Zonal`] and [`crate::ports::Fleet`]) over the
//! SDK clients. SDK types stay in this module; the listener's or rule's whole action list travels outside it only
//! as the port's opaque [`LoadBalancer::Actions`], so that a modification sends the other actions back unchanged.
//!
//! # Layout
//! - this file: the target-group and listener calls of [`LoadBalancer`];
//! - `listeners.rs`: reading and rewriting a forward action's weights;
//! - `zonal.rs`: [`crate::ports::Zonal`]: the load balancer's zones and groups (`DescribeLoadBalancers`,
//!   `DescribeTargetGroups`), ARC zonal shift (aws-sdk-arczonalshift: `GetManagedResource`, `StartZonalShift`,
//!   `CancelZonalShift`), and the zone facts of EC2 through [`ec2`];
//! - [`fleet`]: [`crate::ports::Fleet`]: Auto Scaling (`DescribeAutoScalingInstances`, `DescribeTags`,
//!   `SetInstanceHealth`);
//! - [`ec2`]: EC2's `DescribeAvailabilityZones` and `DescribeInstances` as signed query-protocol calls, without
//!   aws-sdk-ec2 (its compile time);
//! - CloudWatch's `DescribeAlarms` (readiness: the prefixed alarms), through
//!   [`failover_core::alarms::describe_alarms`].
//!
//! Calls: one `DescribeTags` per [`TAGS_PER_CALL`] ARNs (one per ARN of a batch that names a missing
//! resource, which fails the whole batch); paginated `DescribeTargetGroups`, `DescribeListeners` and
//! `DescribeRules` through the SDK's paginators.

mod alarms;
pub mod ec2;
pub mod fleet;
mod listeners;
mod zonal;

use aws_sdk_elasticloadbalancingv2::types::{Action, ProtocolEnum, TargetTypeEnum};
use aws_sdk_elasticloadbalancingv2::Client;
use failover_core::alarms::WatchingAlarm;
use failover_core::aws::{AwsContext, AwsError};

use crate::model::{
    AdminOverride, ForwardAction, HealthThresholds, Location, Tags, Target, TargetHealth, TargetState, Weight,
};
use crate::ports::{ListedGroup, LoadBalancer, TAGS_PER_CALL};

/// `DescribeTags` batches in flight at once: as many as the groups acted on at once.
const TAG_BATCHES_AT_ONCE: usize = crate::actions::alarm::MAX_CONCURRENT_GROUPS;
pub use ec2::Ec2Query;
use listeners::{descriptions, forward_weights, pointed, reweighted};

/// A listener's or rule's whole action list, and whether its forward action takes a single target group (a
/// network load balancer's listener: TCP, UDP, TLS, TCP_UDP), so that a change points it at the one group
/// with weight instead of weighting it.
#[derive(Debug, Clone)]
pub struct ActionList {
    actions: Vec<Action>,
    single: bool,
}

/// [`LoadBalancer`] over the SDK clients. Built with ELB alone ([`ElbClient::new`]), the zonal calls that need
/// ARC or EC2 answer "not modelled"; [`ElbClient::from_sdk`] builds every client.
#[derive(Debug, Clone)]
pub struct ElbClient {
    client: Client,
    arc: Option<aws_sdk_arczonalshift::Client>,
    ec2: Option<Ec2Query>,
    /// Auto Scaling, for [`crate::ports::Fleet`] ([`fleet`]).
    fleet: Option<aws_sdk_autoscaling::Client>,
    /// CloudWatch: readiness's prefixed alarms, and the alarms about a zone ([`alarms`]).
    cloudwatch: Option<aws_sdk_cloudwatch::Client>,
}

impl ElbClient {
    /// ELB only: the target-group actions, and the load balancer reads of [`crate::ports::Zonal`].
    pub fn new(client: Client) -> Self {
        ElbClient { client, arc: None, ec2: None, fleet: None, cloudwatch: None }
    }

    /// Every client, from the SDK configuration (the function's, or a test account's).
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        ElbClient::new(Client::new(sdk))
            .with_arc(aws_sdk_arczonalshift::Client::new(sdk))
            .with_ec2(Ec2Query::new(sdk))
            .with_fleet(aws_sdk_autoscaling::Client::new(sdk))
            .with_cloudwatch(aws_sdk_cloudwatch::Client::new(sdk))
    }

    /// ARC zonal shift: `managed_resource`, `start_shift`, `cancel_shift`.
    pub fn with_arc(mut self, arc: aws_sdk_arczonalshift::Client) -> Self {
        self.arc = Some(arc);
        self
    }

    /// EC2's zone facts: `zone_ids`, `instance_zones`.
    pub fn with_ec2(mut self, ec2: Ec2Query) -> Self {
        self.ec2 = Some(ec2);
        self
    }

    /// Every target group of the account and region (`DescribeTargetGroups`, paginated).
    async fn every_group(&self) -> Result<Vec<aws_sdk_elasticloadbalancingv2::types::TargetGroup>, AwsError> {
        self.client
            .describe_target_groups()
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .aws("DescribeTargetGroups", "(all)")
    }

    /// One batch of at most [`TAGS_PER_CALL`] resources, each with its tags (`None`: it does not exist).
    async fn tags_batch(&self, batch: &[String]) -> Result<Vec<(String, Option<Tags>)>, AwsError> {
        let found = match self.tags_of(batch).await? {
            Some(found) => found,
            // One missing resource fails the whole batch on AWS: ask for each one of this batch alone.
            None => {
                let mut found = Vec::new();
                for arn in batch {
                    if let Some(mut one) = self.tags_of(std::slice::from_ref(arn)).await? {
                        found.append(&mut one);
                    }
                }
                found
            }
        };
        Ok(batch
            .iter()
            .map(|arn| (arn.clone(), found.iter().find(|(a, _)| a == arn).map(|(_, t)| t.clone())))
            .collect())
    }

    async fn tags_of(&self, arns: &[String]) -> Result<Option<Vec<(String, Tags)>>, AwsError> {
        let result = self.client.describe_tags().set_resource_arns(Some(arns.to_vec())).send().await;
        match result {
            Ok(output) => Ok(Some(
                output
                    .tag_descriptions()
                    .iter()
                    .map(|d| {
                        let tags = d
                            .tags()
                            .iter()
                            .filter_map(|t| Some((t.key()?.to_owned(), t.value().unwrap_or_default().to_owned())))
                            .collect();
                        (d.resource_arn().unwrap_or_default().to_owned(), tags)
                    })
                    .collect(),
            )),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    s.is_target_group_not_found_exception()
                        || s.is_load_balancer_not_found_exception()
                        || s.is_listener_not_found_exception()
                        || s.is_rule_not_found_exception()
                }) =>
            {
                Ok(None)
            }
            Err(e) => Err(AwsError::from_sdk("DescribeTags", arns.join(", "), &e)),
        }
    }
}

impl LoadBalancer for ElbClient {
    type Actions = ActionList;

    async fn tags(&self, arns: &[String]) -> Result<Vec<(String, Option<Tags>)>, AwsError> {
        // The batches are independent: a few at once, in order.
        let batches: Vec<&[String]> = arns.chunks(TAGS_PER_CALL).collect();
        let mut out = Vec::with_capacity(arns.len());
        for wave in batches.chunks(TAG_BATCHES_AT_ONCE) {
            let reads: Vec<_> = wave.iter().map(|batch| self.tags_batch(batch)).collect();
            out.extend(futures::future::try_join_all(reads).await?.into_iter().flatten());
        }
        Ok(out)
    }

    async fn instance_groups(&self) -> Result<Vec<ListedGroup>, AwsError> {
        let groups = self.every_group().await?;
        Ok(groups
            .into_iter()
            .filter(|g| g.target_type() == Some(&TargetTypeEnum::Instance))
            .filter_map(|g| {
                let balancers = zonal::attached(std::slice::from_ref(&g));
                Some(ListedGroup { arn: g.target_group_arn?, balancers: Some(balancers) })
            })
            .collect())
    }

    async fn target_groups(&self) -> Result<Vec<String>, AwsError> {
        let groups = self.every_group().await?;
        Ok(groups.into_iter().filter_map(|g| g.target_group_arn).collect())
    }

    async fn alarms(&self, prefix: &str) -> Result<Vec<WatchingAlarm>, AwsError> {
        match &self.cloudwatch {
            Some(cloudwatch) => failover_core::alarms::describe_alarms(cloudwatch, prefix).await,
            None => Err(AwsError::not_modelled("DescribeAlarms", prefix)),
        }
    }

    async fn health_thresholds(&self, group: &str) -> Result<Option<HealthThresholds>, AwsError> {
        let output = match self.client.describe_target_group_attributes().target_group_arn(group).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_target_group_not_found_exception()) => return Ok(None),
            Err(e) => return Err(AwsError::from_sdk("DescribeTargetGroupAttributes", group, &e)),
        };
        let pairs: Vec<(&str, &str)> =
            output.attributes().iter().filter_map(|a| Some((a.key()?, a.value().unwrap_or_default()))).collect();
        Ok(Some(HealthThresholds::from_attributes(pairs.iter().copied())))
    }

    async fn target_health(&self, group: &str) -> Result<Option<Vec<TargetHealth>>, AwsError> {
        let output = match self.client.describe_target_health().target_group_arn(group).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_target_group_not_found_exception()) => return Ok(None),
            Err(e) => return Err(AwsError::from_sdk("DescribeTargetHealth", group, &e)),
        };
        Ok(Some(
            output
                .target_health_descriptions()
                .iter()
                .filter_map(|d| {
                    let target = d.target()?;
                    let health = d.target_health();
                    let state = d.administrative_override().and_then(|o| o.state()).map(|s| s.as_str());
                    Some(TargetHealth {
                        target: Target {
                            id: target.id()?.to_owned(),
                            port: target.port(),
                            availability_zone: target.availability_zone().map(str::to_owned),
                        },
                        state: TargetState::parse(health.and_then(|h| h.state()).map(|s| s.as_str()).unwrap_or("")),
                        reason: health.and_then(|h| h.reason()).map(|r| r.as_str().to_owned()),
                        admin_override: AdminOverride::parse(state.unwrap_or("")),
                        zone: None,
                    })
                })
                .collect(),
        ))
    }

    async fn deregister(&self, group: &str, targets: &[Target]) -> Result<(), AwsError> {
        self.client
            .deregister_targets()
            .target_group_arn(group)
            .set_targets(Some(descriptions(targets, false)))
            .send()
            .await
            .aws("DeregisterTargets", group)?;
        Ok(())
    }

    async fn register(&self, group: &str, targets: &[Target]) -> Result<(), AwsError> {
        self.client
            .register_targets()
            .target_group_arn(group)
            .set_targets(Some(descriptions(targets, true)))
            .send()
            .await
            .aws("RegisterTargets", group)?;
        Ok(())
    }

    async fn forwards_to(
        &self,
        group: &str,
        load_balancers: &[String],
    ) -> Result<Vec<(ForwardAction, ActionList)>, AwsError> {
        let mut found = Vec::new();
        for load_balancer in load_balancers {
            let listeners: Vec<_> = self
                .client
                .describe_listeners()
                .load_balancer_arn(load_balancer)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .aws("DescribeListeners", load_balancer)?;
            for listener in listeners {
                let Some(listener_arn) = listener.listener_arn() else { continue };
                if let Some(weights) = forward_weights(listener.default_actions(), group) {
                    let location = Location::Listener(listener_arn.to_owned());
                    let single = listener.protocol().is_some_and(|p| {
                        matches!(p, ProtocolEnum::Tcp | ProtocolEnum::Udp | ProtocolEnum::Tls | ProtocolEnum::TcpUdp)
                    });
                    let actions = ActionList { actions: listener.default_actions().to_vec(), single };
                    found.push((ForwardAction { location, weights }, actions));
                }
                let rules: Vec<_> = self
                    .client
                    .describe_rules()
                    .listener_arn(listener_arn)
                    .into_paginator()
                    .items()
                    .send()
                    .try_collect()
                    .await
                    .aws("DescribeRules", listener_arn)?;
                // The default rule mirrors the listener's default actions, which ModifyListener changes.
                for rule in rules.iter().filter(|r| r.is_default() != Some(true)) {
                    let (Some(rule_arn), Some(weights)) = (rule.rule_arn(), forward_weights(rule.actions(), group))
                    else {
                        continue;
                    };
                    let location = Location::Rule(rule_arn.to_owned());
                    let actions = ActionList { actions: rule.actions().to_vec(), single: false };
                    found.push((ForwardAction { location, weights }, actions));
                }
            }
        }
        Ok(found)
    }

    async fn set_weights(&self, location: &Location, actions: &ActionList, weights: &[Weight]) -> Result<(), AwsError> {
        let actions = if actions.single {
            pointed(&actions.actions, weights).ok_or_else(|| AwsError {
                operation: "ModifyListener",
                resource: location.arn().to_owned(),
                code: Some("ValidationError".into()),
                transient: false,
                message: "a network load balancer's forward action takes one target group with weight".into(),
            })?
        } else {
            reweighted(&actions.actions, weights)
        };
        match location {
            Location::Listener(arn) => {
                self.client
                    .modify_listener()
                    .listener_arn(arn)
                    .set_default_actions(Some(actions))
                    .send()
                    .await
                    .aws("ModifyListener", arn)?;
            }
            Location::Rule(arn) => {
                self.client
                    .modify_rule()
                    .rule_arn(arn)
                    .set_actions(Some(actions))
                    .send()
                    .await
                    .aws("ModifyRule", arn)?;
            }
        }
        Ok(())
    }
}
