//! A target's health as `DescribeTargetHealth` reports it (its state and administrative override) and, once an
//! action placed it, its zone: together, whether it serves traffic.

use serde::Serialize;

use super::Target;

/// `DescribeTargetHealth`'s `State`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetState {
    Initial,
    Healthy,
    Unhealthy,
    #[serde(rename = "unhealthy.draining")]
    UnhealthyDraining,
    Unused,
    Draining,
    Unavailable,
    /// A state this code does not know: counted as registered, never as healthy.
    Unknown,
}

impl TargetState {
    pub fn parse(state: &str) -> Self {
        match state {
            "initial" => TargetState::Initial,
            "healthy" => TargetState::Healthy,
            "unhealthy" => TargetState::Unhealthy,
            "unhealthy.draining" => TargetState::UnhealthyDraining,
            "unused" => TargetState::Unused,
            "draining" => TargetState::Draining,
            "unavailable" => TargetState::Unavailable,
            _ => TargetState::Unknown,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Initial => "initial",
            TargetState::Healthy => "healthy",
            TargetState::Unhealthy => "unhealthy",
            TargetState::UnhealthyDraining => "unhealthy.draining",
            TargetState::Unused => "unused",
            TargetState::Draining => "draining",
            TargetState::Unavailable => "unavailable",
            TargetState::Unknown => "unknown",
        }
    }

    /// Receives traffic as a healthy target does. `unavailable` means health checks are disabled, and the
    /// load balancer then routes to the target as if it were healthy.
    pub fn serves(self) -> bool {
        matches!(self, TargetState::Healthy | TargetState::Unavailable)
    }

    /// Counts as registered for the floor: not leaving, not `initial` (just registered: neither failing nor
    /// serving, so a group scaling out never looks like failing) and not `unused` (ignored: not in use by a
    /// load balancer or its zone).
    pub fn counted(self) -> bool {
        !self.leaving() && !matches!(self, TargetState::Initial | TargetState::Unused)
    }

    /// Already on its way out (deregistration in progress): neither registered for the floor nor a candidate.
    pub fn leaving(self) -> bool {
        matches!(self, TargetState::Draining | TargetState::UnhealthyDraining)
    }
}

/// `DescribeTargetHealth`'s `AdministrativeOverride.State`: routing that overrides what health checks give.
/// During a zonal shift, the targets of the zone shifted away show `zonal_shift_active` and the load balancer
/// sends them no new traffic (ELB User Guide, "Zonal shift", administrative override).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminOverride {
    /// `no_override`, or no override reported.
    #[default]
    NoOverride,
    ZonalShiftActive,
    ZonalShiftDelegatedToDns,
    /// `unknown`, or a state this code does not know: read as no override (health decides).
    Unknown,
}

impl AdminOverride {
    pub fn parse(state: &str) -> Self {
        match state {
            "" | "no_override" => AdminOverride::NoOverride,
            "zonal_shift_active" => AdminOverride::ZonalShiftActive,
            "zonal_shift_delegated_to_dns" => AdminOverride::ZonalShiftDelegatedToDns,
            _ => AdminOverride::Unknown,
        }
    }

    pub fn is_none(&self) -> bool {
        *self == AdminOverride::NoOverride
    }
}

/// The zone a target is in, as the actions placed it (ELB names the zone of IP targets only; EC2 tells the
/// instances'), and whether traffic reaches it there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Zone {
    /// The zone's name (`us-east-1a`), or `all` for an IP target outside the VPC (it serves every zone).
    pub name: String,
    /// A shift ARC applies to the group's load balancer (a zonal shift, a practice run, an autoshift) moves traffic
    /// away from the zone: `GetManagedResource`'s `appliedWeights` give it 0.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub shifted_away: bool,
}

/// One row of `DescribeTargetHealth`, and where the target is when the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetHealth {
    pub target: Target,
    pub state: TargetState,
    /// `Target.FailedHealthChecks` and the like, for the notification.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "AdminOverride::is_none")]
    pub admin_override: AdminOverride,
    /// `None` until an action placed the target (zones are read only when a decision needs them).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<Zone>,
}

impl TargetHealth {
    /// A row as `DescribeTargetHealth` gives it: no override, not placed.
    pub fn new(target: Target, state: TargetState) -> Self {
        TargetHealth { target, state, reason: None, admin_override: AdminOverride::NoOverride, zone: None }
    }

    /// Traffic reaches the target's zone: ELB reports no `zonal_shift_active` override for it, and no shift ARC
    /// applies moves traffic away from its zone. Only `zonal_shift_active` is read as "no traffic": it is the
    /// state AWS documents for the targets of a zone shifted away.
    pub fn receives_traffic(&self) -> bool {
        self.admin_override != AdminOverride::ZonalShiftActive && !self.zone.as_ref().is_some_and(|z| z.shifted_away)
    }

    /// Serving means serving traffic: healthy (or `unavailable`, [`TargetState::serves`]) in a zone traffic
    /// reaches. The floor, `can_serve`, a shift, a failback and an evacuation all count these.
    pub fn serves(&self) -> bool {
        self.state.serves() && self.receives_traffic()
    }

    /// Counts as registered for the floor ([`TargetState::counted`]) in a zone traffic reaches: a zone shifted
    /// away is capacity the load balancer does not use now, so it neither adds to the floor nor serves.
    pub fn counted(&self) -> bool {
        self.state.counted() && self.receives_traffic()
    }

    /// The zone's name, when placed.
    pub fn zone_name(&self) -> Option<&str> {
        self.zone.as_ref().map(|z| z.name.as_str())
    }
}
