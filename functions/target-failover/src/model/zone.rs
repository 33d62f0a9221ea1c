//! Zones and ARC zonal shift, as the zonal actions see them: a load balancer with its zones and target groups,
//! and what ARC says of it (its AZ IDs, its active shifts and autoshifts). No SDK type appears here.

use std::collections::BTreeMap;

use serde::Serialize;

/// A load balancer (`DescribeLoadBalancers`) and the target groups attached to it (`DescribeTargetGroups`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Balancer {
    pub arn: String,
    /// `application`, `network`, `gateway`.
    pub kind: String,
    /// The names of its enabled zones (`us-east-1a`); ELB gives names only.
    pub zones: Vec<String>,
    /// Every target group it forwards to.
    pub groups: Vec<String>,
}

/// Who started a shift ARC applies to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShiftKind {
    /// A customer's zonal shift (`StartZonalShift`): a person's, or this function's (the ledger knows which).
    ZonalShift,
    /// ARC's practice run of zonal autoshift.
    PracticeRun,
    /// AWS's zonal autoshift, started from AWS's own telemetry.
    Autoshift,
}

/// One active shift (zonal shift, practice run or autoshift) on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveShift {
    pub kind: ShiftKind,
    /// The zonal shift's id (`None` for an autoshift, which has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The AZ ID traffic is moved away from (`use1-az1`).
    pub away_from: String,
    /// Whether ARC applies it now (`appliedStatus` APPLIED; one shift at a time is).
    pub applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// Epoch seconds (`None` for an autoshift).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// `GetManagedResource`: a load balancer registered with ARC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagedResource {
    pub arn: String,
    /// AZ ID → traffic weight now (`appliedWeights`: 1.0, or 0.0 for the zone an applied shift moves away
    /// from): the resource's zones, by ID.
    pub applied_weights: BTreeMap<String, f32>,
    /// Active zonal shifts and practice runs (`zonalShifts`) and autoshifts (`autoshifts`).
    pub shifts: Vec<ActiveShift>,
    /// `zonalAutoshiftStatus` is `ENABLED`.
    pub autoshift_enabled: bool,
}

/// A load balancer's type from its ARN (`loadbalancer/app/…`, `net/`, `gwy/`): `application`, `network`,
/// `gateway`, or empty when the ARN says none.
pub fn balancer_kind(arn: &str) -> &'static str {
    let kind = arn.split_once(":loadbalancer/").and_then(|(_, rest)| rest.split('/').next());
    match kind {
        Some("app") => "application",
        Some("net") => "network",
        Some("gwy") => "gateway",
        _ => "",
    }
}

/// The attribute key of cross-zone load balancing, on a target group and on a load balancer.
pub const CROSS_ZONE: &str = "load_balancing.cross_zone.enabled";

/// A target group's `load_balancing.cross_zone.enabled`: on, off, or as its load balancer says
/// (`use_load_balancer_configuration`, the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CrossZone {
    On,
    Off,
    #[default]
    UseLoadBalancerConfiguration,
}

impl CrossZone {
    /// The group attribute's value; absent or unknown reads as the default (the load balancer's).
    pub fn parse(value: Option<&str>) -> Self {
        match value.map(str::trim) {
            Some("true") => CrossZone::On,
            Some("false") => CrossZone::Off,
            _ => CrossZone::UseLoadBalancerConfiguration,
        }
    }

    /// Whether the group balances across zones, given its load balancer's type (`application`, `network`,
    /// `gateway`) and that load balancer's own `load_balancing.cross_zone.enabled`, which is read only when the
    /// group defers to it. An ALB always balances across zones at the load balancer level (only its target
    /// groups can turn it off); an NLB's and a GWLB's default is off.
    pub fn enabled(self, balancer_kind: &str, balancer_value: Option<&str>) -> bool {
        match self {
            CrossZone::On => true,
            CrossZone::Off => false,
            CrossZone::UseLoadBalancerConfiguration if balancer_kind == "application" => true,
            CrossZone::UseLoadBalancerConfiguration => balancer_value.map(str::trim) == Some("true"),
        }
    }

    /// Whether the load balancer's attribute is needed to know.
    pub fn defers(self) -> bool {
        self == CrossZone::UseLoadBalancerConfiguration
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_groups_own_setting_decides_and_the_load_balancers_only_when_the_group_defers_to_it() {
        assert!(CrossZone::parse(Some("true")).enabled("network", Some("false")));
        assert!(!CrossZone::parse(Some("false")).enabled("application", Some("true")));
        let deferring = CrossZone::parse(Some("use_load_balancer_configuration"));
        assert_eq!(deferring, CrossZone::parse(None), "the default defers");
        assert!(deferring.defers() && !CrossZone::On.defers() && !CrossZone::Off.defers());
        assert!(!deferring.enabled("network", None), "an NLB's default is off");
        assert!(!deferring.enabled("network", Some("false")));
        assert!(deferring.enabled("network", Some("true")));
        assert!(deferring.enabled("application", Some("false")), "an ALB is always cross-zone at its level");
        assert!(!deferring.enabled("gateway", None));
    }

    #[test]
    fn a_load_balancers_type_is_read_from_its_arn() {
        let arn =
            |kind: &str| format!("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/{kind}/shop/50dc6c495c0c9188");
        assert_eq!(balancer_kind(&arn("app")), "application");
        assert_eq!(balancer_kind(&arn("net")), "network");
        assert_eq!(balancer_kind(&arn("gwy")), "gateway");
        assert_eq!(balancer_kind("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1"), "");
    }
}
