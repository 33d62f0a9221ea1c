//! [`ElbClient`]: the [`LoadBalancer`] port over the ELB v2 SDK client. SDK types stay in this file; the
//! listener's or rule's whole action list travels outside it only as the port's opaque
//! [`LoadBalancer::Actions`], so that a modification sends the other actions back unchanged.
//!
//! Calls: one `DescribeTags` per [`TAGS_PER_CALL`] ARNs (one per ARN of a batch that names a missing
//! resource, which fails the whole batch); paginated `DescribeTargetGroups`, `DescribeListeners` and
//! `DescribeRules` through the SDK's paginators.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, ProtocolEnum, TargetDescription, TargetGroupTuple, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use failover_core::aws::{AwsContext, AwsError};

use crate::model::{ForwardAction, HealthThresholds, Location, Tags, Target, TargetHealth, TargetState, Weight};
use crate::ports::{LoadBalancer, TAGS_PER_CALL};

pub mod fleet;

/// A listener's or rule's whole action list, and whether its forward action takes a single target group (a
/// network load balancer's listener: TCP, UDP, TLS, TCP_UDP), so that a change points it at the one group
/// with weight instead of weighting it.
#[derive(Debug, Clone)]
pub struct ActionList {
    actions: Vec<Action>,
    single: bool,
}

/// [`LoadBalancer`] over the SDK client; with Auto Scaling's for [`crate::ports::Fleet`] ([`fleet`]).
#[derive(Debug, Clone)]
pub struct ElbClient {
    client: Client,
    fleet: Option<aws_sdk_autoscaling::Client>,
}

impl ElbClient {
    pub fn new(client: Client) -> Self {
        ElbClient { client, fleet: None }
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
        let mut out = Vec::with_capacity(arns.len());
        for batch in arns.chunks(TAGS_PER_CALL) {
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
            for arn in batch {
                out.push((arn.clone(), found.iter().find(|(a, _)| a == arn).map(|(_, t)| t.clone())));
            }
        }
        Ok(out)
    }

    async fn instance_groups(&self) -> Result<Vec<String>, AwsError> {
        let groups = self.every_group().await?;
        Ok(groups
            .into_iter()
            .filter(|g| g.target_type() == Some(&TargetTypeEnum::Instance))
            .filter_map(|g| g.target_group_arn)
            .collect())
    }

    async fn target_groups(&self) -> Result<Vec<String>, AwsError> {
        let groups = self.every_group().await?;
        Ok(groups.into_iter().filter_map(|g| g.target_group_arn).collect())
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
                    Some(TargetHealth {
                        target: Target {
                            id: target.id()?.to_owned(),
                            port: target.port(),
                            availability_zone: target.availability_zone().map(str::to_owned),
                        },
                        state: TargetState::parse(health.and_then(|h| h.state()).map(|s| s.as_str()).unwrap_or("")),
                        reason: health.and_then(|h| h.reason()).map(|r| r.as_str().to_owned()),
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

    async fn forwards_to(&self, group: &str) -> Result<Vec<(ForwardAction, ActionList)>, AwsError> {
        let described = self
            .client
            .describe_target_groups()
            .target_group_arns(group)
            .send()
            .await
            .aws("DescribeTargetGroups", group)?;
        // A set: a group used by several listeners of one load balancer may list it more than once.
        let load_balancers: std::collections::BTreeSet<String> =
            described.target_groups().iter().flat_map(|g| g.load_balancer_arns().iter().cloned()).collect();
        let mut found = Vec::new();
        for load_balancer in load_balancers {
            let listeners: Vec<_> = self
                .client
                .describe_listeners()
                .load_balancer_arn(&load_balancer)
                .into_paginator()
                .items()
                .send()
                .try_collect()
                .await
                .aws("DescribeListeners", &load_balancer)?;
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

fn descriptions(targets: &[Target], with_zone: bool) -> Vec<TargetDescription> {
    targets
        .iter()
        .map(|t| {
            let mut d = TargetDescription::builder().id(&t.id).set_port(t.port);
            if with_zone {
                d = d.set_availability_zone(t.availability_zone.clone());
            }
            d.build()
        })
        .collect()
}

fn is_forward(action: &Action) -> bool {
    action.r#type() == Some(&ActionTypeEnum::Forward)
}

/// The weights of the forward action in `actions` when it names `group`. A forward action written with
/// `TargetGroupArn` alone sends everything to that group (weight 1); a missing weight in a `ForwardConfig`
/// means 1 as well.
fn forward_weights(actions: &[Action], group: &str) -> Option<Vec<Weight>> {
    let forward = actions.iter().find(|a| is_forward(a))?;
    let weights: Vec<Weight> = match forward.forward_config().filter(|c| !c.target_groups().is_empty()) {
        Some(config) => config
            .target_groups()
            .iter()
            .filter_map(|t| Some(Weight::new(t.target_group_arn()?, t.weight().unwrap_or(1).max(0) as u32)))
            .collect(),
        None => vec![Weight::new(forward.target_group_arn()?, 1)],
    };
    weights.iter().any(|w| w.group_arn == group).then_some(weights)
}

/// `actions` with the forward action pointed at the one group `weights` gives weight (order kept), as a network
/// load balancer's forward action takes a single target group; `None` unless exactly one has weight.
fn pointed(actions: &[Action], weights: &[Weight]) -> Option<Vec<Action>> {
    let mut serving = weights.iter().filter(|w| w.weight > 0);
    let (Some(target), None) = (serving.next(), serving.next()) else { return None };
    Some(
        actions
            .iter()
            .map(|action| match is_forward(action) {
                true => Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .set_order(action.order())
                    .target_group_arn(&target.group_arn)
                    .build(),
                false => action.clone(),
            })
            .collect(),
    )
}

/// `actions` with the forward action's target groups replaced by `weights` (stickiness and order kept).
fn reweighted(actions: &[Action], weights: &[Weight]) -> Vec<Action> {
    actions
        .iter()
        .map(|action| {
            if !is_forward(action) {
                return action.clone();
            }
            let tuples = weights
                .iter()
                .map(|w| TargetGroupTuple::builder().target_group_arn(&w.group_arn).weight(w.weight as i32).build())
                .collect();
            let config = ForwardActionConfig::builder()
                .set_target_groups(Some(tuples))
                .set_target_group_stickiness_config(
                    action.forward_config().and_then(|c| c.target_group_stickiness_config()).cloned(),
                )
                .build();
            Action::builder().r#type(ActionTypeEnum::Forward).set_order(action.order()).forward_config(config).build()
        })
        .collect()
}

impl crate::ports::Zonal for ElbClient {}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1";
    const B: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/2";

    fn simple_forward(arn: &str) -> Action {
        Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(arn).order(2).build()
    }

    #[test]
    fn a_single_group_forward_is_pointed_at_the_one_group_with_weight() {
        let pointed = pointed(&[simple_forward(A)], &[Weight::new(A, 0), Weight::new(B, 1)]).unwrap();
        assert_eq!(pointed[0].target_group_arn(), Some(B));
        assert_eq!(pointed[0].order(), Some(2));
        assert!(pointed[0].forward_config().is_none());
        assert!(super::pointed(&[simple_forward(A)], &[Weight::new(A, 1), Weight::new(B, 1)]).is_none());
    }

    #[test]
    fn a_plain_forward_action_counts_as_weight_one() {
        let actions = [simple_forward(A)];
        assert_eq!(forward_weights(&actions, A), Some(vec![Weight::new(A, 1)]));
        assert_eq!(forward_weights(&actions, B), None);
    }

    #[test]
    fn reweighting_keeps_other_actions_and_the_order() {
        let auth = Action::builder().r#type(ActionTypeEnum::AuthenticateOidc).order(1).build();
        let out = reweighted(&[auth.clone(), simple_forward(A)], &[Weight::new(A, 0), Weight::new(B, 1)]);
        assert_eq!(out[0], auth);
        assert_eq!(out[1].order(), Some(2));
        assert_eq!(out[1].target_group_arn(), None);
        assert_eq!(forward_weights(&out, A), Some(vec![Weight::new(A, 0), Weight::new(B, 1)]));
    }
}
