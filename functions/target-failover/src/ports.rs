//! The load-balancer port: what the actions need from Elastic Load Balancing, in domain types
//! ([`crate::model`]). Every failure is an [`AwsError`] naming the operation and the resource. The SDK
//! implementation is `adapters::ElbClient`; tests put in-memory or counting ones in its place.

use std::future::Future;

use failover_core::aws::AwsError;

use crate::model::{ForwardAction, HealthThresholds, Location, Tags, Target, TargetHealth, Weight};

/// `DescribeTags` accepts at most 20 resource ARNs per call.
pub const TAGS_PER_CALL: usize = 20;

/// What the actions need from Elastic Load Balancing.
pub trait LoadBalancer: Send + Sync {
    /// The whole action list of a listener (default actions) or a rule, as the adapter read it. A modification
    /// must send it back with only the forward action's weights changed, so [`LoadBalancer::forwards_to`]
    /// returns one next to each [`ForwardAction`] and [`LoadBalancer::set_weights`] takes it back. Opaque to
    /// everything but the adapter: the policy never sees it.
    type Actions: Clone + Send + Sync;

    /// Tags of each resource (target groups, listeners, rules, mixed as needed), in order; `None` for one that
    /// does not exist. Batched by [`TAGS_PER_CALL`].
    fn tags(&self, arns: &[String]) -> impl Future<Output = Result<Vec<(String, Option<Tags>)>, AwsError>> + Send;

    /// Every target group of the account and region whose targets are instances.
    fn instance_groups(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send;

    /// One `DescribeTargetHealth`; `None` when the group does not exist.
    fn target_health(&self, group: &str) -> impl Future<Output = Result<Option<Vec<TargetHealth>>, AwsError>> + Send;

    fn deregister(&self, group: &str, targets: &[Target]) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn register(&self, group: &str, targets: &[Target]) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every listener default action and listener rule of the group's load balancers whose forward action
    /// names the group (with any weight, 0 included), each with its whole action list.
    fn forwards_to(
        &self,
        group: &str,
    ) -> impl Future<Output = Result<Vec<(ForwardAction, Self::Actions)>, AwsError>> + Send;

    /// Replaces the weights of the forward action among `actions` (as [`LoadBalancer::forwards_to`] returned
    /// them for `location`), leaving the other actions as they were.
    fn set_weights(
        &self,
        location: &Location,
        actions: &Self::Actions,
        weights: &[Weight],
    ) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every target group of the account and region, whatever its target type (`readiness`). The default is
    /// for ports that model only what the changing actions need: it answers that the read is not available.
    fn target_groups(&self) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send {
        async { Err(AwsError::not_modelled("DescribeTargetGroups", "(all)")) }
    }

    /// The group's `target_group_health` thresholds (`DescribeTargetGroupAttributes`); `None` when the group
    /// does not exist. Read by a planned removal (they may raise the floor) and by `readiness`.
    fn health_thresholds(&self, group: &str)
        -> impl Future<Output = Result<Option<HealthThresholds>, AwsError>> + Send;
}
