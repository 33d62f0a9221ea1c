//! Zone evacuation with ARC zonal shift, as policy: given what ARC says of a load balancer (its AZ IDs, its
//! active shifts) and where the targets of its opted-in groups are, evacuate a failing zone, defer to a shift
//! someone else already started away from it, or refuse.
//!
//! - A zone is named by its name (`us-east-1a`) or its AZ ID (`use1-az1`); ARC speaks AZ IDs, ELB and the
//!   alarms' `AvailabilityZone` dimension speak names ([`resolve_zone`]).
//! - A zone that is not one of the load balancer's (ARC's `appliedWeights` keys) is refused.
//! - Any active shift (a zonal shift, a practice run, an autoshift) away from the zone: defer, start nothing
//!   ([`ZonalPlan::Defer`]). One of this function's own (the ledger knows its id): already evacuated
//!   ([`ZonalPlan::Already`]). A shift away from another zone: refuse, ARC allows one per resource.
//! - Capacity ([`capacity`]): never the last healthy zone (no other zone has a healthy target in an opted-in
//!   group), never below any opted-in group's floor (healthy targets outside the zone against the floor over
//!   the group's registered targets in every zone, or over the incident's baseline while one of the group's
//!   removals is open, as its removals keep it), never with a target whose zone is unknown (conservative).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::Floor;
use crate::model::{ActiveShift, ManagedResource, ShiftKind, TargetHealth};

/// The command that registers a load balancer with ARC zonal shift (its attribute `zonal_shift.config.enabled`).
pub fn register_command(load_balancer: &str) -> String {
    format!(
        "aws elbv2 modify-load-balancer-attributes --load-balancer-arn {load_balancer} \
         --attributes Key=zonal_shift.config.enabled,Value=true"
    )
}

/// An IP target outside the VPC (`AvailabilityZone=all`) serves from every zone: never inside the one leaving.
pub const ALL_ZONES: &str = "all";

/// The zone a person or an alarm named (a name or an AZ ID), as `(name, AZ ID)`; `None` when it is neither in
/// this account and region. `ids` maps zone names to AZ IDs.
pub fn resolve_zone(zone: &str, ids: &BTreeMap<String, String>) -> Option<(String, String)> {
    let zone = zone.trim();
    if let Some(id) = ids.get(zone) {
        return Some((zone.to_owned(), id.clone()));
    }
    ids.iter().find(|(_, id)| id.as_str() == zone).map(|(name, id)| (name.clone(), id.clone()))
}

/// The zone name of an AZ ID, or the ID itself when unknown (for texts).
pub fn zone_name<'a>(az_id: &'a str, ids: &'a BTreeMap<String, String>) -> &'a str {
    ids.iter().find(|(_, id)| id.as_str() == az_id).map_or(az_id, |(name, _)| name.as_str())
}

/// One opted-in target group of the load balancer: its targets, each with its zone name (`None`: unknown), and
/// its floor (the settings, over the incident's baseline while one of its removals is open, raised by its own
/// `target_group_health` thresholds).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupZones {
    pub arn: String,
    pub targets: Vec<(TargetHealth, Option<String>)>,
    pub floor: Floor,
}

/// One group's numbers for a zone's evacuation, as refusals and notifications report them (and the ledger
/// keeps them, for a notification published again).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneCounts {
    pub group: String,
    /// Counted targets in every zone (the floor's basis).
    pub registered: usize,
    pub healthy: usize,
    pub healthy_in_zone: usize,
    /// Healthy targets in the other zones: what serves once the zone is evacuated.
    pub healthy_outside: usize,
    /// The floor, at least one: over the incident's baseline while one of the group's removals is open.
    pub required: usize,
    /// The incident's capacity baseline the floor comes from, while one of the group's removals is open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline: Option<usize>,
    /// Counted or serving targets whose zone is not known.
    pub unknown_zone: usize,
}

impl ZoneCounts {
    pub fn of(group: &GroupZones, zone: &str) -> Self {
        let known = |z: &Option<String>| z.is_some();
        let inside = |z: &Option<String>| z.as_deref() == Some(zone);
        let registered = group.targets.iter().filter(|(t, _)| t.counted()).count();
        let serving = || group.targets.iter().filter(|(t, _)| t.serves());
        ZoneCounts {
            group: group.arn.clone(),
            registered,
            healthy: serving().count(),
            healthy_in_zone: serving().filter(|(_, z)| inside(z)).count(),
            healthy_outside: serving().filter(|(_, z)| known(z) && !inside(z)).count(),
            required: group.floor.for_registered(registered).max(1),
            baseline: group.floor.baseline,
            unknown_zone: group.targets.iter().filter(|(t, z)| (t.counted() || t.serves()) && !known(z)).count(),
        }
    }

    /// `web: 4 healthy outside us-east-1a / 2 required / 6 registered`; while a removal is open, `web: 2 healthy
    /// outside us-east-1a / 3 required (from the baseline of 6 registered when this incident first removed
    /// targets) / 4 registered`.
    pub fn text(&self, zone: &str) -> String {
        let basis = match self.baseline {
            Some(baseline) => {
                format!(" (from the baseline of {baseline} registered when this incident first removed targets)")
            }
            None => String::new(),
        };
        format!(
            "{}: {} healthy outside {zone} / {} required{basis} / {} registered",
            crate::model::group_name(&self.group),
            self.healthy_outside,
            self.required,
            self.registered
        )
    }
}

/// What to do about a failing zone of a load balancer.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "plan", rename_all = "kebab-case")]
pub enum ZonalPlan {
    /// Start a zonal shift away from the zone.
    Evacuate { zone: String, az_id: String, counts: Vec<ZoneCounts> },
    /// Someone else's shift already moves traffic away from the zone: start nothing, remove nothing.
    Defer { shift: ActiveShift },
    /// This function's own shift already moves traffic away from the zone: nothing to do (logged).
    Already { shift: ActiveShift },
    /// The evacuation is forbidden, and why (with the numbers when capacity forbids it).
    Refuse { reason: String, counts: Vec<ZoneCounts> },
}

impl ZonalPlan {
    fn refuse(reason: impl Into<String>) -> Self {
        ZonalPlan::Refuse { reason: reason.into(), counts: Vec::new() }
    }
}

/// Who started a shift, in words.
pub fn shift_kind_text(kind: ShiftKind) -> &'static str {
    match kind {
        ShiftKind::ZonalShift => "a zonal shift",
        ShiftKind::PracticeRun => "a practice run of zonal autoshift",
        ShiftKind::Autoshift => "a zonal autoshift by AWS",
    }
}

/// What ARC and the ledger say of a load balancer.
#[derive(Debug, Clone, Copy)]
pub struct ArcFacts<'a> {
    pub resource: &'a ManagedResource,
    /// Zone name → AZ ID.
    pub ids: &'a BTreeMap<String, String>,
    /// The ids of the shifts this function started (its ledger).
    pub ours: &'a BTreeSet<String>,
}

/// The answer ARC's facts give before any capacity is read: the zone is not the load balancer's, a shift is
/// already away from it (ours: `Already`; anyone else's: `Defer`), or away from another zone (`Refuse`).
/// `None`: go on to [`capacity`].
pub fn before_capacity(zone: &str, az_id: &str, arc: ArcFacts<'_>) -> Option<ZonalPlan> {
    let ArcFacts { resource, ids, ours } = arc;
    if !resource.applied_weights.contains_key(az_id) {
        let known: Vec<&str> = resource.applied_weights.keys().map(|id| zone_name(id, ids)).collect();
        return Some(ZonalPlan::refuse(format!(
            "zone {zone} ({az_id}) is not one of the load balancer's zones ({})",
            known.join(", ")
        )));
    }
    if let Some(shift) = resource.shifts.iter().find(|s| s.away_from == az_id) {
        let mine = shift.id.as_ref().is_some_and(|id| ours.contains(id));
        return Some(if mine {
            ZonalPlan::Already { shift: shift.clone() }
        } else {
            ZonalPlan::Defer { shift: shift.clone() }
        });
    }
    if let Some(other) = resource.shifts.first() {
        return Some(ZonalPlan::refuse(format!(
            "{} away from zone {} ({}) is active, and ARC allows one shift per resource: zone {zone} ({az_id}) \
             cannot be evacuated too",
            shift_kind_text(other.kind),
            zone_name(&other.away_from, ids),
            other.away_from
        )));
    }
    None
}

/// Whether the zone may leave: `Evacuate`, or `Refuse` with the numbers. `lb_zones` are the load balancer's
/// zone names; `groups` its opted-in target groups.
pub fn capacity(zone: &str, az_id: &str, lb_zones: &[String], groups: &[GroupZones]) -> ZonalPlan {
    let counts: Vec<ZoneCounts> = groups.iter().map(|g| ZoneCounts::of(g, zone)).collect();
    let numbers = counts.iter().map(|c| c.text(zone)).collect::<Vec<_>>().join("; ");
    let refuse = |reason: String| ZonalPlan::Refuse { reason, counts: counts.clone() };
    if groups.is_empty() {
        return refuse(format!(
            "no target group of the load balancer is opted in, so its capacity outside {zone} cannot be checked"
        ));
    }
    let unknown: usize = counts.iter().map(|c| c.unknown_zone).sum();
    if unknown > 0 {
        return refuse(format!(
            "the zone of {unknown} target(s) is unknown, so the capacity left outside {zone} cannot be counted \
             ({numbers})"
        ));
    }
    let elsewhere = groups.iter().any(|g| {
        g.targets.iter().any(|(t, z)| {
            t.serves() && z.as_deref().is_some_and(|z| z != zone && (z == ALL_ZONES || lb_zones.iter().any(|l| l == z)))
        })
    });
    if !elsewhere {
        return refuse(format!(
            "{zone} is the load balancer's last healthy zone: no other zone has a healthy target in an opted-in \
             group ({numbers})"
        ));
    }
    // Only a group that loses healthy targets with the zone can be put below its floor by the shift: an empty or
    // idle group (a backup group behind the same load balancer, say) blocks nothing.
    let short: Vec<&ZoneCounts> =
        counts.iter().filter(|c| c.healthy_in_zone > 0 && c.healthy_outside < c.required).collect();
    if !short.is_empty() {
        let which = short.iter().map(|c| c.text(zone)).collect::<Vec<_>>().join("; ");
        return refuse(format!("evacuating {zone} would leave a target group below its floor: {which}"));
    }
    ZonalPlan::Evacuate { zone: zone.to_owned(), az_id: az_id.to_owned(), counts }
}

/// A shift comment names the trigger, within ARC's 128 characters: `failover: alarm web-5xx-a (us-east-1a)`.
pub const COMMENT_MAX: usize = 128;

pub fn comment(trigger: &str, zone: &str) -> String {
    let tail = format!(" ({zone})");
    let head = "failover: ";
    let room = COMMENT_MAX.saturating_sub(head.len() + tail.len());
    let trigger: String = trigger.chars().take(room).collect();
    format!("{head}{trigger}{tail}")
}
