//! Serving means serving traffic, by zone, as policy.
//!
//! - A zone receives no traffic from a load balancer while a shift ARC applies to it (a zonal shift, a practice
//!   run, an autoshift) moves traffic away from the zone: `GetManagedResource`'s `appliedWeights` give the zone's
//!   AZ ID 0 ([`shifted_zones`]). ELB says the same of each target with `AdministrativeOverride`
//!   `zonal_shift_active` ([`crate::model::TargetHealth::receives_traffic`] reads both).
//! - [`place`] puts each target in its zone (an instance's from EC2, an IP target's own, `all` for a target
//!   outside the VPC or named by ARN, which serves every zone), marked shifted away when traffic left the zone.
//! - **No zone left dark**: a removal that would leave a zone that still takes traffic with no serving target is
//!   refused ([`left_without_serving`]), with the numbers per zone ([`by_zone`]). A target whose zone is not known
//!   is not placed: the rule cannot see it, the floor still does.

use std::collections::{BTreeMap, BTreeSet};

use super::zonal::ALL_ZONES;
use crate::model::{is_instance, ManagedResource, TargetHealth, Zone};

/// The names of the zones an applied shift of any of these load balancers moves traffic away from (applied
/// weight 0); `ids` maps zone names to AZ IDs, and an AZ ID no zone of this account has is left out.
pub fn shifted_zones(resources: &[ManagedResource], ids: &BTreeMap<String, String>) -> BTreeSet<String> {
    let away: BTreeSet<&str> = resources
        .iter()
        .flat_map(|r| {
            let weights = r.applied_weights.iter().filter(|(_, w)| **w <= 0.0).map(|(id, _)| id.as_str());
            weights.chain(r.shifts.iter().filter(|s| s.applied).map(|s| s.away_from.as_str()))
        })
        .collect();
    ids.iter().filter(|(_, id)| away.contains(id.as_str())).map(|(name, _)| name.clone()).collect()
}

/// The targets, each placed in its zone when known: `instances` maps instance ids to zone names; an IP target
/// has its own; a target named by ARN (a Lambda function, an NLB's ALB) serves from every zone (`all`).
pub fn place(
    targets: &[TargetHealth],
    instances: &BTreeMap<String, String>,
    away: &BTreeSet<String>,
) -> Vec<TargetHealth> {
    targets
        .iter()
        .map(|t| {
            let name = if is_instance(&t.target.id) {
                instances.get(&t.target.id).cloned()
            } else if t.target.id.starts_with("arn:") {
                Some(ALL_ZONES.to_owned())
            } else {
                t.target.availability_zone.clone()
            };
            let zone = name.map(|name| Zone { shifted_away: away.contains(&name), name });
            TargetHealth { zone, ..t.clone() }
        })
        .collect()
}

/// One zone's numbers, as refusals report them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ZoneLoad {
    pub serving: usize,
    /// Registered by state (not `initial`, `unused` or leaving), whether traffic reaches the zone or not.
    pub registered: usize,
    pub shifted_away: bool,
}

/// The placed targets' numbers per zone name (`all` left out: it is no zone of its own).
pub fn by_zone(targets: &[TargetHealth]) -> BTreeMap<String, ZoneLoad> {
    let mut zones: BTreeMap<String, ZoneLoad> = BTreeMap::new();
    for t in targets {
        let Some(name) = t.zone_name().filter(|n| *n != ALL_ZONES) else { continue };
        let load = zones.entry(name.to_owned()).or_default();
        load.serving += usize::from(t.serves());
        load.registered += usize::from(t.state.counted());
        load.shifted_away |= !t.receives_traffic();
    }
    zones
}

/// `us-east-1a: 1 serving of 2 registered; us-east-1b: 0 serving of 3 registered, traffic shifted away`.
pub fn by_zone_text(targets: &[TargetHealth]) -> String {
    by_zone(targets)
        .iter()
        .map(|(zone, load)| {
            let shifted = if load.shifted_away { ", traffic shifted away" } else { "" };
            format!("{zone}: {} serving of {} registered{shifted}", load.serving, load.registered)
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The zone that still takes traffic and would have no serving target once `candidate` leaves after `removed`,
/// when there is one. A target serving from every zone (`all`) serves each of them.
pub fn left_without_serving(
    targets: &[TargetHealth],
    removed: &[TargetHealth],
    candidate: &TargetHealth,
) -> Option<String> {
    let gone = |t: &TargetHealth, with_candidate: bool| {
        removed.iter().any(|r| r.target == t.target) || (with_candidate && t.target == candidate.target)
    };
    let serving_in = |zone: &str, with_candidate: bool| {
        targets
            .iter()
            .filter(|t| t.serves() && !gone(t, with_candidate))
            .filter(|t| t.zone_name().is_some_and(|z| z == zone || z == ALL_ZONES))
            .count()
    };
    let zones: BTreeSet<&str> = targets
        .iter()
        .filter(|t| t.receives_traffic())
        .filter_map(TargetHealth::zone_name)
        .filter(|z| *z != ALL_ZONES)
        .collect();
    let affected = |zone: &str| candidate.zone_name().is_some_and(|z| z == zone || z == ALL_ZONES);
    zones
        .into_iter()
        .find(|zone| affected(zone) && serving_in(zone, false) > 0 && serving_in(zone, true) == 0)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ActiveShift, AdminOverride, ShiftKind, Target, TargetState};

    fn placed(id: &str, zone: &str, state: TargetState, shifted_away: bool) -> TargetHealth {
        let zone = Some(Zone { name: zone.into(), shifted_away });
        TargetHealth { zone, ..TargetHealth::new(Target::new(id, Some(80)), state) }
    }

    /// `web`: two instances in us-east-1a, three in us-east-1b shifted away.
    fn web() -> Vec<TargetHealth> {
        let mut targets: Vec<TargetHealth> =
            ["i-a1", "i-a2"].iter().map(|id| placed(id, "us-east-1a", TargetState::Healthy, false)).collect();
        targets.extend(["i-b1", "i-b2", "i-b3"].iter().map(|id| placed(id, "us-east-1b", TargetState::Healthy, true)));
        targets
    }

    #[test]
    fn the_zones_shifted_away_are_those_an_applied_shift_gives_weight_zero() {
        let ids = BTreeMap::from([("us-east-1a".into(), "use1-az1".into()), ("us-east-1b".into(), "use1-az2".into())]);
        let applied = ManagedResource {
            arn: "lb".into(),
            applied_weights: BTreeMap::from([("use1-az1".into(), 1.0), ("use1-az2".into(), 0.0)]),
            shifts: Vec::new(),
            autoshift_enabled: false,
        };
        assert_eq!(shifted_zones(std::slice::from_ref(&applied), &ids), BTreeSet::from(["us-east-1b".to_owned()]));
        let not_applied = ActiveShift {
            kind: ShiftKind::PracticeRun,
            id: None,
            away_from: "use1-az1".into(),
            applied: false,
            comment: None,
            started_at: None,
            expires_at: None,
        };
        let idle = ManagedResource {
            applied_weights: BTreeMap::from([("use1-az1".into(), 1.0)]),
            shifts: vec![not_applied],
            ..applied
        };
        assert!(shifted_zones(&[idle], &ids).is_empty(), "a shift ARC does not apply moves no traffic");
    }

    #[test]
    fn targets_are_placed_in_their_zones_and_marked_where_traffic_left() {
        let mut ip = Target::new("10.0.0.7", Some(80));
        ip.availability_zone = Some("us-east-1b".into());
        let targets = [
            TargetHealth::new(Target::new("i-a1", Some(80)), TargetState::Healthy),
            TargetHealth::new(ip, TargetState::Healthy),
            TargetHealth::new(Target::new("arn:aws:lambda:us-east-1:1:function:f", None), TargetState::Healthy),
            TargetHealth::new(Target::new("i-gone", Some(80)), TargetState::Healthy),
        ];
        let instances = BTreeMap::from([("i-a1".to_owned(), "us-east-1a".to_owned())]);
        let placed = place(&targets, &instances, &BTreeSet::from(["us-east-1b".to_owned()]));
        let zones: Vec<Option<&str>> = placed.iter().map(TargetHealth::zone_name).collect();
        assert_eq!(zones, [Some("us-east-1a"), Some("us-east-1b"), Some("all"), None]);
        let serving: Vec<bool> = placed.iter().map(TargetHealth::serves).collect();
        assert_eq!(serving, [true, false, true, true], "only the target in the zone shifted away stops serving");
    }

    #[test]
    fn the_override_alone_takes_a_target_out_of_traffic() {
        let mut target = TargetHealth::new(Target::new("i-b1", Some(80)), TargetState::Healthy);
        target.admin_override = AdminOverride::ZonalShiftActive;
        assert!(!target.serves() && !target.counted());
        target.admin_override = AdminOverride::ZonalShiftDelegatedToDns;
        assert!(target.serves() && target.counted());
    }

    #[test]
    fn removing_the_last_serving_target_of_a_zone_that_takes_traffic_leaves_it_dark() {
        let web = web();
        assert_eq!(left_without_serving(&web, &[], &web[0]), None, "i-a2 still serves us-east-1a");
        assert_eq!(left_without_serving(&web, &web[..1], &web[1]), Some("us-east-1a".into()));
        assert_eq!(left_without_serving(&web, &[], &web[2]), None, "us-east-1b takes no traffic");
        assert_eq!(
            by_zone_text(&web[1..]),
            "us-east-1a: 1 serving of 1 registered; us-east-1b: 0 serving of 3 registered, traffic shifted away"
        );
    }

    #[test]
    fn a_target_serving_every_zone_keeps_them_lit_and_its_removal_is_weighed_in_each() {
        let mut web = web();
        web.push(placed("arn:aws:lambda:us-east-1:1:function:f", ALL_ZONES, TargetState::Healthy, false));
        assert_eq!(left_without_serving(&web, &web[..1], &web[1]), None, "the function serves us-east-1a");
        assert_eq!(left_without_serving(&web, &web[..2], &web[5]), Some("us-east-1a".into()));
    }

    #[test]
    fn an_unplaced_target_is_not_weighed() {
        let unplaced = [TargetHealth::new(Target::new("i-a1", Some(80)), TargetState::Healthy)];
        assert_eq!(left_without_serving(&unplaced, &[], &unplaced[0]), None);
        assert_eq!(by_zone_text(&unplaced), "");
    }
}
