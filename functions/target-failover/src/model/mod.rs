//! Domain types: targets and their health, target-group ARNs, forward actions and their weights, and the
//! weights remembered on a failing group while its traffic is on the backup group.
//!
//! Nothing here calls AWS, and no SDK type appears here: the SDK adapter converts SDK types into these.

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

mod health;
mod zone;
pub use health::{AdminOverride, TargetHealth, TargetState, Zone};
pub use zone::{balancer_kind, ActiveShift, Balancer, CrossZone, ManagedResource, ShiftKind, CROSS_ZONE};

/// Tag on a target group naming the group that takes its traffic when it can no longer serve.
pub const BACKUP_TAG: &str = "failover:backup-target-group";

/// ALB weights range from 0 to 999.
pub const MAX_WEIGHT: u32 = 999;

/// A registered target: an instance id or an IP address, and the port it was registered with (when the
/// group has several registrations of one id, the port tells them apart).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Target {
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// For IP targets outside the VPC (`all`); needed again when re-registering.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub availability_zone: Option<String>,
}

impl Target {
    pub fn new(id: impl Into<String>, port: Option<i32>) -> Self {
        Target { id: id.into(), port, availability_zone: None }
    }

    /// Same id, and same port when the wanted target names one.
    pub fn matches(&self, wanted: &Target) -> bool {
        self.id == wanted.id && (wanted.port.is_none() || wanted.port == self.port)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{}", self.id, port),
            None => f.write_str(&self.id),
        }
    }
}

/// The healthy-target minimums a group's `target_group_health` attributes set (0 when off).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GroupThresholds {
    pub min_targets: u32,
    pub min_percent: u32,
}

impl From<&HealthThresholds> for GroupThresholds {
    /// The strictest of both thresholds (an `off` one counts as 0).
    fn from(t: &HealthThresholds) -> Self {
        let both = [t.unhealthy_state_routing, t.dns_failover];
        GroupThresholds {
            min_targets: both.iter().filter_map(|x| x.count).max().unwrap_or(0),
            min_percent: both.iter().filter_map(|x| x.percent).map(|p| p.min(100)).max().unwrap_or(0),
        }
    }
}

pub use failover_core::tags::Tags;

/// Whether a target id names an EC2 instance (not an IP address, not a Lambda function).
pub fn is_instance(id: &str) -> bool {
    id.starts_with("i-")
}

/// The `targetgroup/<name>/<id>` part of a target-group ARN (also the `TargetGroup` metric dimension).
pub fn group_suffix(arn: &str) -> Option<&str> {
    let suffix = arn.rsplit_once(":targetgroup/").map(|(_, rest)| rest)?;
    let start = arn.len() - suffix.len() - "targetgroup/".len();
    let full = &arn[start..];
    let mut parts = suffix.split('/');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(name), Some(id), None) if !name.is_empty() && !id.is_empty() => Some(full),
        _ => None,
    }
}

/// The group's name, for titles; the whole ARN when it is not a target-group ARN.
pub fn group_name(arn: &str) -> &str {
    group_suffix(arn).and_then(|s| s.split('/').nth(1)).unwrap_or(arn)
}

/// The group's id (the last ARN segment).
pub fn group_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// Where a forward action lives: a listener's default actions, or a listener rule.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", content = "arn", rename_all = "kebab-case")]
pub enum Location {
    Listener(String),
    Rule(String),
}

impl Location {
    pub fn arn(&self) -> &str {
        match self {
            Location::Listener(arn) | Location::Rule(arn) => arn,
        }
    }

    /// Names the action in its shift record's key (`shift#<key>`): `<listener-id>` for a default action,
    /// `<listener-id>/<rule-id>` for a rule (ids are the last ARN segments, 16 hex digits on AWS).
    pub fn key(&self) -> String {
        let mut segments = self.arn().rsplit('/');
        match self {
            Location::Listener(_) => segments.next().unwrap_or_default().to_owned(),
            Location::Rule(_) => {
                let rule = segments.next().unwrap_or_default();
                let listener = segments.next().unwrap_or_default();
                format!("{listener}/{rule}")
            }
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Listener(arn) => write!(f, "listener {arn}"),
            Location::Rule(arn) => write!(f, "rule {arn}"),
        }
    }
}

/// A target group's share of a forward action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Weight {
    pub group_arn: String,
    pub weight: u32,
}

impl Weight {
    pub fn new(group_arn: impl Into<String>, weight: u32) -> Self {
        Weight { group_arn: group_arn.into(), weight }
    }
}

/// A forward action that sends (or sent) traffic to the group in question, with its current weights.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForwardAction {
    pub location: Location,
    pub weights: Vec<Weight>,
}

impl ForwardAction {
    pub fn weight_of(&self, group_arn: &str) -> Option<u32> {
        self.weights.iter().find(|w| w.group_arn == group_arn).map(|w| w.weight)
    }
}

/// The weights each shifted action had before the shift, as the group's live shift records say, keyed by
/// [`Location::key`]: group ARN → weight, in the action's order.
pub type SavedWeights = BTreeMap<String, Vec<(String, u32)>>;

/// The attribute keys of a group's `target_group_health` thresholds (`DescribeTargetGroupAttributes`).
pub const ROUTING_COUNT: &str = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count";
pub const ROUTING_PERCENT: &str = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage";
pub const DNS_COUNT: &str = "target_group_health.dns_failover.minimum_healthy_targets.count";
pub const DNS_PERCENT: &str = "target_group_health.dns_failover.minimum_healthy_targets.percentage";

/// One `target_group_health` threshold: a count and a percentage of the registered targets, each `None` when
/// `off`. The load balancer acts when either is breached, so the healthy targets it needs are the larger.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Threshold {
    pub count: Option<u32>,
    pub percent: Option<u32>,
}

impl Threshold {
    /// Read from the attributes' values; an attribute the group does not list has AWS's default (count 1,
    /// percentage off). A value that is neither `off` nor a number counts as `off`.
    pub fn parse(count: Option<&str>, percent: Option<&str>) -> Self {
        let number = |v: &str| v.trim().parse::<u32>().ok();
        Threshold { count: count.map_or(Some(1), number), percent: percent.and_then(number) }
    }

    /// Healthy targets the load balancer needs among `registered` not to act.
    pub fn required(&self, registered: usize) -> usize {
        let by_count = self.count.unwrap_or(0) as usize;
        let by_percent = self.percent.map_or(0, |p| (registered * p as usize).div_ceil(100));
        by_count.max(by_percent)
    }
}

/// A group's `target_group_health` thresholds: below `unhealthy_state_routing` the load balancer routes to
/// every target, unhealthy ones included (fail-open); below `dns_failover` it takes the zone out of DNS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct HealthThresholds {
    pub unhealthy_state_routing: Threshold,
    pub dns_failover: Threshold,
    /// The group's `load_balancing.cross_zone.enabled`: off, the thresholds apply per zone.
    pub cross_zone: CrossZone,
}

impl HealthThresholds {
    /// From the group's attributes (key, value).
    pub fn from_attributes<'a>(attributes: impl IntoIterator<Item = (&'a str, &'a str)> + Clone) -> Self {
        let get = |key: &str| attributes.clone().into_iter().find(|(k, _)| *k == key).map(|(_, v)| v);
        HealthThresholds {
            unhealthy_state_routing: Threshold::parse(get(ROUTING_COUNT), get(ROUTING_PERCENT)),
            dns_failover: Threshold::parse(get(DNS_COUNT), get(DNS_PERCENT)),
            cross_zone: CrossZone::parse(get(CROSS_ZONE)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067";

    #[test]
    fn group_arn_parts_are_read_from_the_arn() {
        assert_eq!(group_suffix(TG), Some("targetgroup/web/73e2d6bc24d8a067"));
        assert_eq!(group_name(TG), "web");
        assert_eq!(group_id(TG), "73e2d6bc24d8a067");
        assert_eq!(group_suffix("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/x/1"), None);
        assert_eq!(group_suffix("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web"), None);
    }

    #[test]
    fn location_keys_are_compact_listener_and_rule_ids() {
        let listener = Location::Listener(
            "arn:aws:elasticloadbalancing:us-east-1:1:listener/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2".into(),
        );
        let rule = Location::Rule(
            "arn:aws:elasticloadbalancing:us-east-1:1:listener-rule/app/shop/50dc6c495c0c9188/f2f7dc8efc522ab2/9683b2d02a6cabee"
                .into(),
        );
        assert_eq!(listener.key(), "f2f7dc8efc522ab2");
        assert_eq!(rule.key(), "f2f7dc8efc522ab2/9683b2d02a6cabee");
    }

    #[test]
    fn thresholds_read_off_defaults_and_the_larger_of_count_and_percentage() {
        let defaults = HealthThresholds::from_attributes([]);
        assert_eq!(defaults.unhealthy_state_routing, Threshold { count: Some(1), percent: None });
        let t = HealthThresholds::from_attributes([(ROUTING_COUNT, "off"), (ROUTING_PERCENT, "50"), (DNS_COUNT, "3")]);
        assert_eq!(t.unhealthy_state_routing, Threshold { count: None, percent: Some(50) });
        assert_eq!(t.unhealthy_state_routing.required(5), 3);
        assert_eq!(t.dns_failover.required(5), 3);
        assert_eq!(Threshold { count: Some(2), percent: Some(10) }.required(10), 2);
    }
}
