//! The load-balancer port: what the actions need from Elastic Load Balancing, in domain types
//! ([`crate::model`]). Every failure is an [`AwsError`] naming the operation and the resource. The SDK
//! implementation is `adapters::ElbClient`; tests put in-memory or counting ones in its place.

use std::collections::BTreeMap;
use std::future::Future;

use failover_core::alarms::WatchingAlarm;
use failover_core::aws::AwsError;
use failover_core::ledger::Ledger;

use crate::model::{
    Balancer, ForwardAction, HealthThresholds, Location, ManagedResource, Tags, Target, TargetHealth, Weight,
};

/// A target group as the account's listing (`DescribeTargetGroups`) describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub arn: String,
    /// The load balancers it is attached to, as [`Zonal::balancers_of`] gives them (sorted, once each), when
    /// the listing says (the SDK's always does); `None`: ask [`Zonal::balancers_of`].
    pub balancers: Option<Vec<String>>,
}

impl ListedGroup {
    /// A group listed by its ARN alone.
    pub fn arn_only(arn: impl Into<String>) -> Self {
        ListedGroup { arn: arn.into(), balancers: None }
    }
}

/// `DescribeTags` accepts at most 20 resource ARNs per call.
pub const TAGS_PER_CALL: usize = 20;

/// What the actions need from Elastic Load Balancing; with [`Zonal`] (ARC zonal shift and EC2's zone facts) and
/// [`Fleet`] (Auto Scaling), the whole of what target-failover asks of AWS.
pub trait LoadBalancer: Zonal + Fleet + Send + Sync {
    /// The whole action list of a listener (default actions) or a rule, as the adapter read it. A modification
    /// must send it back with only the forward action's weights changed, so [`LoadBalancer::forwards_to`]
    /// returns one next to each [`ForwardAction`] and [`LoadBalancer::set_weights`] takes it back. Opaque to
    /// everything but the adapter: the policy never sees it.
    type Actions: Clone + Send + Sync;

    /// Tags of each resource (target groups, listeners, rules, mixed as needed), in order; `None` for one that
    /// does not exist. Batched by [`TAGS_PER_CALL`].
    fn tags(&self, arns: &[String]) -> impl Future<Output = Result<Vec<(String, Option<Tags>)>, AwsError>> + Send;

    /// Every target group of the account and region whose targets are instances.
    fn instance_groups(&self) -> impl Future<Output = Result<Vec<ListedGroup>, AwsError>> + Send;

    /// One `DescribeTargetHealth`; `None` when the group does not exist.
    fn target_health(&self, group: &str) -> impl Future<Output = Result<Option<Vec<TargetHealth>>, AwsError>> + Send;

    fn deregister(&self, group: &str, targets: &[Target]) -> impl Future<Output = Result<(), AwsError>> + Send;

    fn register(&self, group: &str, targets: &[Target]) -> impl Future<Output = Result<(), AwsError>> + Send;

    /// Every listener default action and listener rule of the group's load balancers (`load_balancers`, as
    /// [`Zonal::balancers_of`] gives them) whose forward action names the group (with any weight, 0 included),
    /// each with its whole action list.
    fn forwards_to(
        &self,
        group: &str,
        load_balancers: &[String],
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

    /// Every metric alarm whose name starts with `prefix` (`DescribeAlarms`, paginated; `readiness`). The
    /// default answers that the read is not available.
    fn alarms(&self, prefix: &str) -> impl Future<Output = Result<Vec<WatchingAlarm>, AwsError>> + Send {
        let error = AwsError::not_modelled("DescribeAlarms", prefix);
        async move { Err(error) }
    }

    /// The group's `target_group_health` thresholds (`DescribeTargetGroupAttributes`); `None` when the group
    /// does not exist. Read by a planned removal (they may raise the floor) and by `readiness`.
    fn health_thresholds(&self, group: &str)
        -> impl Future<Output = Result<Option<HealthThresholds>, AwsError>> + Send;
}

/// ARC zonal shift, and the zone facts a zonal decision needs from EC2. Every method defaults to "not
/// modelled", for ports that model only the target-group actions.
pub trait Zonal: Send + Sync {
    /// The load balancer, its zone names and its target groups; `None` when it does not exist.
    fn balancer(&self, arn: &str) -> impl Future<Output = Result<Option<Balancer>, AwsError>> + Send {
        async move { Err(AwsError::not_modelled("DescribeLoadBalancers", arn)) }
    }

    /// The load balancers a target group is attached to (`DescribeTargetGroups`); empty when none or when the
    /// group does not exist.
    fn balancers_of(&self, group: &str) -> impl Future<Output = Result<Vec<String>, AwsError>> + Send {
        async move { Err(AwsError::not_modelled("DescribeTargetGroups", group)) }
    }

    /// The load balancer's own `load_balancing.cross_zone.enabled` (`DescribeLoadBalancerAttributes`); `None`
    /// when it does not list it or does not exist. Read only for a group that defers to it, behind an NLB or a GWLB.
    fn balancer_cross_zone(&self, arn: &str) -> impl Future<Output = Result<Option<String>, AwsError>> + Send {
        async move { Err(AwsError::not_modelled("DescribeLoadBalancerAttributes", arn)) }
    }

    /// Zone name → AZ ID in this account and region (EC2 `DescribeAvailabilityZones`).
    fn zone_ids(&self) -> impl Future<Output = Result<BTreeMap<String, String>, AwsError>> + Send {
        async { Err(AwsError::not_modelled("DescribeAvailabilityZones", "(all)")) }
    }

    /// The zone name of each of these instances that exists (EC2 `DescribeInstances`); others are left out.
    fn instance_zones(
        &self,
        ids: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, String>, AwsError>> + Send {
        let resource = ids.join(", ");
        async move { Err(AwsError::not_modelled("DescribeInstances", resource)) }
    }

    /// `GetManagedResource`; `None` when the resource is not registered with ARC (ResourceNotFoundException).
    fn managed_resource(&self, arn: &str) -> impl Future<Output = Result<Option<ManagedResource>, AwsError>> + Send {
        async move { Err(AwsError::not_modelled("GetManagedResource", arn)) }
    }

    /// `StartZonalShift` away from the AZ ID, expiring after `expires_minutes`; the new shift's id.
    fn start_shift(
        &self,
        arn: &str,
        away_from: &str,
        expires_minutes: u32,
        comment: &str,
    ) -> impl Future<Output = Result<String, AwsError>> + Send {
        let _ = (away_from, expires_minutes, comment);
        async move { Err(AwsError::not_modelled("StartZonalShift", arn)) }
    }

    /// The (name, ARN) of each CloudWatch metric alarm in ALARM about this zone (its name, `us-east-1a`) of this
    /// load balancer (`DescribeAlarms`): its metric's `LoadBalancer` and `AvailabilityZone` dimensions.
    fn zone_alarms_in_alarm(
        &self,
        load_balancer: &str,
        zone: &str,
    ) -> impl Future<Output = Result<Vec<(String, String)>, AwsError>> + Send {
        let resource = format!("{load_balancer} {zone}");
        async move { Err(AwsError::not_modelled("DescribeAlarms", resource)) }
    }

    /// `CancelZonalShift`; `Ok(false)` when the shift is no longer active (it expired, or someone cancelled it).
    fn cancel_shift(&self, id: &str) -> impl Future<Output = Result<bool, AwsError>> + Send {
        async move { Err(AwsError::not_modelled("CancelZonalShift", id)) }
    }

    /// `UpdateZonalShift` of a shift of ours: it now expires `expires_minutes` after the call; `Ok(false)` when
    /// the shift is no longer active (it expired, or someone cancelled it).
    fn extend_shift(&self, id: &str, expires_minutes: u32) -> impl Future<Output = Result<bool, AwsError>> + Send {
        let _ = expires_minutes;
        async move { Err(AwsError::not_modelled("UpdateZonalShift", id)) }
    }
}

/// Auto Scaling: replacing a removed instance. Every method defaults to "not modelled".
pub trait Fleet: Send + Sync {
    /// The Auto Scaling group of each of these instances that belongs to one (`DescribeAutoScalingInstances`),
    /// with the group's tags.
    fn scaling_groups(
        &self,
        instances: &[String],
    ) -> impl Future<Output = Result<BTreeMap<String, (String, Tags)>, AwsError>> + Send {
        let resource = instances.join(", ");
        async move { Err(AwsError::not_modelled("DescribeAutoScalingInstances", resource)) }
    }

    /// `SetInstanceHealth(Unhealthy, ShouldRespectGracePeriod=true)`: the group replaces the instance.
    fn mark_unhealthy(&self, instance: &str) -> impl Future<Output = Result<(), AwsError>> + Send {
        async move { Err(AwsError::not_modelled("SetInstanceHealth", instance)) }
    }
}

/// The ports one invocation works with, named once: an action is generic over `P: Ports` alone.
pub trait Ports {
    type Lb: LoadBalancer;
    type Ledger: Ledger;
}

/// The [`Ports`] of an `App`: its port types, as a type.
pub struct With<L, G>(std::marker::PhantomData<(L, G)>);

impl<L: LoadBalancer, G: Ledger> Ports for With<L, G> {
    type Lb = L;
    type Ledger = G;
}
