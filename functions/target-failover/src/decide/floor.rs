//! The floor: how many serving targets a group keeps. The settings (`MIN_HEALTHY_TARGETS`,
//! `MIN_HEALTHY_PERCENT`), applied to the incident's capacity baseline while a removal is open, raised by the
//! group's own `target_group_health` thresholds; held in each zone too when cross-zone load balancing is off
//! ([`zone_below_floor`]); and the counts every decision and notification reports.
//!
//! Capacity is counted as traffic sees it: a target serves when it is healthy and traffic reaches its zone
//! ([`TargetHealth::serves`]), and the floor's basis is the registered targets traffic reaches
//! ([`TargetHealth::counted`]). A zone an applied shift moves traffic away from is capacity the load balancer does
//! not use now: it is reported beside the counts ([`Counts::shifted_away`]), never counted as serving. The
//! incident's baseline ([`capacity`]) is the group's whole registered capacity, shifted zones included: a shift
//! that comes and goes during an incident never shrinks the floor its removals keep.

use serde::Serialize;

use super::zonal::ALL_ZONES;
use crate::model::{GroupThresholds, TargetHealth, TargetState};

/// `MIN_HEALTHY_TARGETS` and `MIN_HEALTHY_PERCENT`, the incident's capacity baseline, and the group's own
/// `target_group_health` thresholds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Floor {
    pub min_targets: u32,
    pub min_percent: u32,
    /// The group's registered count when the open incident first removed targets (the ledger's removal
    /// records carry it): while a removal is open, the percentage applies to it, never to the shrunken group.
    pub baseline: Option<usize>,
    /// The group's `target_group_health` thresholds (`unhealthy_state_routing` and `dns_failover`, the
    /// strictest of them): they raise the floor, never lower it.
    pub group: GroupThresholds,
    /// Cross-zone load balancing is off for the group: each zone's load balancer nodes send traffic only to
    /// the zone's targets, and AWS applies the `target_group_health` thresholds per zone, so the floor holds in
    /// each zone too (`zone_below_floor`), beside the whole group's.
    pub per_zone: bool,
}

impl Floor {
    pub const fn new(min_targets: u32, min_percent: u32) -> Self {
        let group = GroupThresholds { min_targets: 0, min_percent: 0 };
        Floor { min_targets, min_percent, baseline: None, group, per_zone: false }
    }

    pub fn with_baseline(self, baseline: Option<usize>) -> Self {
        Floor { baseline, ..self }
    }

    pub fn with_group(self, group: GroupThresholds) -> Self {
        Floor { group, ..self }
    }

    pub fn with_per_zone(self, per_zone: bool) -> Self {
        Floor { per_zone, ..self }
    }

    /// The largest of the minimum, the rounded-up percentage of the registered count (of the baseline when it
    /// is larger), and the group's own thresholds.
    pub fn for_registered(&self, registered: usize) -> usize {
        let basis = registered.max(self.baseline.unwrap_or(0));
        let percent = self.min_percent.max(self.group.min_percent) as usize;
        let by_percent = (basis * percent).div_ceil(100);
        by_percent.max(self.min_targets as usize).max(self.group.min_targets as usize)
    }
}

/// The group's registered capacity, the incident's baseline when its first removal begins: the counted
/// targets and the `initial` ones (registered, still passing their first health checks), not the `unused` or
/// leaving ones.
pub fn capacity(targets: &[TargetHealth]) -> usize {
    targets.iter().filter(|t| t.state.counted() || t.state == TargetState::Initial).count()
}

/// One zone's numbers when a removal would leave it below its own floor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneShort {
    pub zone: String,
    /// Serving in the zone once the candidate is gone too.
    pub serving_after: usize,
    pub registered: usize,
    /// The zone's floor, at least one.
    pub required: usize,
}

impl ZoneShort {
    /// `removing it would leave zone us-east-1a with 1 serving of 3 registered, below its floor of 2 (...)`.
    pub fn why(&self) -> String {
        format!(
            "removing it would leave zone {} with {} serving of {} registered, below the zone's floor of {} \
             (cross-zone load balancing is off: the load balancer applies the thresholds per zone)",
            self.zone, self.serving_after, self.registered, self.required
        )
    }
}

/// With cross-zone load balancing off ([`Floor::per_zone`]), the zone that would fall below its own floor once
/// `candidate` leaves after `removed`: the floor over the zone's registered targets (the settings and the
/// group's thresholds; the incident's baseline is the group's, and keeps holding the group as a whole). Only a
/// placed target in a zone that takes traffic is weighed; a target serving every zone (`all`) and one whose
/// zone is not known are not (the group's floor still counts them).
pub fn zone_below_floor(
    targets: &[TargetHealth],
    removed: &[TargetHealth],
    candidate: &TargetHealth,
    floor: Floor,
) -> Option<ZoneShort> {
    if !floor.per_zone || !candidate.serves() {
        return None;
    }
    let zone = candidate.zone_name().filter(|z| *z != ALL_ZONES)?;
    let in_zone = || targets.iter().filter(|t| t.zone_name() == Some(zone));
    let gone = |t: &TargetHealth| t.target == candidate.target || removed.iter().any(|r| r.target == t.target);
    let registered = in_zone().filter(|t| t.counted()).count();
    let serving_after = in_zone().filter(|t| t.serves() && !gone(t)).count();
    let required = floor.with_baseline(None).for_registered(registered).max(1);
    (serving_after < required).then(|| ZoneShort { zone: zone.to_owned(), serving_after, registered, required })
}

/// The numbers behind every decision, as notifications report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Targets that count for the floor: not `initial` (neither failing nor serving yet), not `unused`
    /// (ignored), not leaving (`draining`), in a zone traffic reaches.
    pub registered: usize,
    /// Targets that serve traffic ([`TargetHealth::serves`]).
    pub healthy: usize,
    /// Registered targets left out of both counts because traffic is shifted away from their zone.
    #[serde(skip_serializing_if = "is_zero")]
    pub shifted_away: usize,
    pub floor: usize,
    /// The incident's capacity baseline, when a removal is open.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub baseline: Option<usize>,
}

impl Counts {
    pub fn of(targets: &[TargetHealth], floor: Floor) -> Self {
        let registered = targets.iter().filter(|t| t.counted()).count();
        let healthy = targets.iter().filter(|t| t.serves()).count();
        let shifted_away = targets.iter().filter(|t| t.state.counted() && !t.receives_traffic()).count();
        Counts { registered, healthy, shifted_away, floor: floor.for_registered(registered), baseline: floor.baseline }
    }

    /// The registered count once `removed` are gone: only the counted ones leave it (a named `initial`
    /// target was never in it), and never below zero.
    pub fn registered_after(&self, removed: &[TargetHealth]) -> usize {
        self.registered.saturating_sub(removed.iter().filter(|t| t.counted()).count())
    }

    /// Healthy targets needed to serve: the floor, and never fewer than one.
    pub fn required(&self) -> usize {
        self.floor.max(1)
    }

    pub fn can_serve(&self) -> bool {
        self.healthy >= self.required()
    }

    /// `; 3 more in zones traffic is shifted away from serve none`, or nothing when no target is in such a zone.
    pub fn shifted_text(&self) -> String {
        match self.shifted_away {
            0 => String::new(),
            n => format!("; {n} more in zones traffic is shifted away from serve none"),
        }
    }

    /// Where the floor comes from, for refusals: `floor 5 (baseline 10 registered when the incident's first
    /// removal began)` or `floor 2`.
    pub fn floor_text(&self) -> String {
        match self.baseline {
            Some(baseline) => format!(
                "floor {} (from the baseline of {baseline} registered when this incident first removed targets)",
                self.required()
            ),
            None => format!("floor {}", self.required()),
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}
