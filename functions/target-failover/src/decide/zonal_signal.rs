//! The target group's side of a zonal failure (signal 2, and deferring to a shift in place), pure.
//!
//! - **Signal 2**: at least `ZONE_EVACUATION_MIN_TARGETS` targets of one zone removed (the group's removal
//!   records of the last `ZONE_EVACUATION_WINDOW_MINUTES`, open or closed) or failing (accused by this alarm,
//!   or registered and not serving), while the other zones' targets all serve ([`zonal_failure`]). Failures in
//!   two zones, a failing target of a zone nobody knows, or no other zone left to serve: not zonal.
//! - **Defer**: a zone that an applied shift (a person's, a practice run, AWS's autoshift, or this function's)
//!   already moves a load balancer's traffic away from loses no target to a removal ([`shifted_away`]): the
//!   load balancer already sends them nothing, and they serve again when the shift ends.
//!
//! [`worth_a_look`] is the cheap pre-check: below the minimum in total, nothing here can be zonal, so the
//! alarm path makes no zone read at all. [`members`] and [`placed`] turn the group's removals, accused targets,
//! target health and the instances' zones into the signal's input.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{ManagedResource, ShiftKind, Target, TargetHealth};

/// One target as the zonal signal sees it: removed within the window, accused now, or registered now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    /// The zone's name (`us-east-1a`); `None` when neither EC2 nor the target itself tells it.
    pub zone: Option<String>,
    pub health: Health,
}

/// What a member counts as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// Removed within the window, accused by this alarm, or registered and not serving.
    Failing,
    /// Serving traffic now.
    Serving,
    /// Neither: `initial`, `unused`, or leaving without a removal record of ours.
    Neither,
}

/// Whether the failure of a group is zonal, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "kebab-case")]
pub enum ZoneVerdict {
    /// Evacuate `zone`: `failing` of its targets failed, and `serving_elsewhere` targets in other zones serve.
    Zonal { zone: String, failing: usize, serving_elsewhere: usize },
    /// Not a zonal failure: remove targets as usual.
    NotZonal { reason: String },
}

/// The pre-check: enough targets failing or removed, in all zones together, for a zone to reach `min`.
pub fn worth_a_look(failing_or_removed: usize, min: u32) -> bool {
    failing_or_removed >= at_least_one(min)
}

/// `ZONE_EVACUATION_MIN_TARGETS` as a count: never below one.
fn at_least_one(min: u32) -> usize {
    usize::try_from(min).unwrap_or(usize::MAX).max(1)
}

/// Signal 2 over the group's members (one entry per target id; see [`Member`]).
pub fn zonal_failure(members: &[Member], min: u32) -> ZoneVerdict {
    let min = at_least_one(min);
    let not = |reason: String| ZoneVerdict::NotZonal { reason };
    if let Some(lost) = members.iter().find(|m| m.health == Health::Failing && m.zone.is_none()) {
        return not(format!("the zone of failing target {} is not known", lost.id));
    }
    let mut failing: BTreeMap<&str, usize> = BTreeMap::new();
    for m in members.iter().filter(|m| m.health == Health::Failing) {
        *failing.entry(m.zone.as_deref().unwrap_or_default()).or_default() += 1;
    }
    let accused: Vec<(&str, usize)> = failing.iter().filter(|(_, n)| **n >= min).map(|(z, n)| (*z, *n)).collect();
    let (zone, count) = match accused.as_slice() {
        [] => return not(format!("no zone has {min} failing or removed targets")),
        [one] => *one,
        several => {
            let zones: Vec<&str> = several.iter().map(|(z, _)| *z).collect();
            return not(format!("targets fail in several zones ({})", zones.join(", ")));
        }
    };
    let elsewhere: Vec<&str> = failing.keys().copied().filter(|z| *z != zone).collect();
    if !elsewhere.is_empty() {
        return not(format!("targets fail in other zones too ({})", elsewhere.join(", ")));
    }
    let serving_elsewhere =
        members.iter().filter(|m| m.health == Health::Serving && m.zone.as_deref().is_some_and(|z| z != zone)).count();
    if serving_elsewhere == 0 {
        return not(format!("no target outside {zone} serves"));
    }
    ZoneVerdict::Zonal { zone: zone.to_owned(), failing: count, serving_elsewhere }
}

/// A zone an applied shift moves a load balancer's traffic away from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ShiftedAway {
    pub load_balancer: String,
    /// The zone's name, `None` when no zone of this account has its AZ ID.
    pub zone: Option<String>,
    pub zone_id: String,
    pub kind: ShiftKind,
}

impl ShiftedAway {
    /// `zone us-east-1a (use1-az1) is already shifted away by autoshift`.
    pub fn reason(&self) -> String {
        let kind = match self.kind {
            ShiftKind::ZonalShift => "zonal-shift",
            ShiftKind::PracticeRun => "practice-run",
            ShiftKind::Autoshift => "autoshift",
        };
        let name = self.zone.as_deref().unwrap_or("?");
        format!("zone {name} ({}) is already shifted away by {kind}", self.zone_id)
    }
}

/// The applied shifts of the group's load balancers, with their zones' names (`zone_ids`: name → AZ ID).
pub fn shifted_away(resources: &[ManagedResource], zone_ids: &BTreeMap<String, String>) -> Vec<ShiftedAway> {
    let names: BTreeMap<&str, &str> = zone_ids.iter().map(|(name, id)| (id.as_str(), name.as_str())).collect();
    resources
        .iter()
        .flat_map(|r| r.shifts.iter().filter(|s| s.applied).map(move |s| (r, s)))
        .map(|(r, s)| ShiftedAway {
            load_balancer: r.arn.clone(),
            zone: names.get(s.away_from.as_str()).map(|n| (*n).to_owned()),
            zone_id: s.away_from.clone(),
            kind: s.kind,
        })
        .collect()
}

/// Whether any of these resources has a shift applied now (then the zones are worth reading).
pub fn any_applied(resources: &[ManagedResource]) -> bool {
    resources.iter().any(|r| r.shifts.iter().any(|s| s.applied))
}

/// One member per target id: removed in the window or accused (failing), or registered now (failing when
/// counted and not serving); zones from the targets themselves (IP targets), instances' filled in later.
pub fn members(removed: &[Target], accused: &[Target], registered: &[TargetHealth]) -> Vec<Member> {
    let own_zone = |t: &Target| t.availability_zone.clone().filter(|z| z != crate::decide::zonal::ALL_ZONES);
    let mut by_id: BTreeMap<String, Member> = BTreeMap::new();
    for t in removed.iter().chain(accused) {
        by_id.insert(t.id.clone(), Member { id: t.id.clone(), zone: own_zone(t), health: Health::Failing });
    }
    for t in registered {
        let health = if t.serves() {
            Health::Serving
        } else if t.counted() {
            Health::Failing
        } else {
            Health::Neither
        };
        let entry = by_id.entry(t.target.id.clone()).or_insert(Member { id: t.target.id.clone(), zone: None, health });
        entry.zone = entry.zone.take().or_else(|| own_zone(&t.target));
    }
    by_id.into_values().collect()
}

/// The members with the instances' zones filled in; a target only the ledger knows (removed, no longer
/// registered) whose zone nobody tells (an instance terminated and gone since) is left out rather than
/// making the zone of every failure unknown.
pub fn placed(
    mut members: Vec<Member>,
    instances: &BTreeMap<String, String>,
    accused: &[Target],
    registered: &[TargetHealth],
) -> Vec<Member> {
    for m in &mut members {
        m.zone = instances.get(&m.id).cloned().or(m.zone.take());
    }
    let known = |id: &str| accused.iter().any(|t| t.id == id) || registered.iter().any(|t| t.target.id == id);
    members.retain(|m| m.zone.is_some() || known(&m.id));
    members
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ActiveShift, TargetState};

    fn member(id: &str, zone: Option<&str>, health: Health) -> Member {
        Member { id: id.into(), zone: zone.map(str::to_owned), health }
    }

    fn two_zones(failing_in_a: usize) -> Vec<Member> {
        let mut members: Vec<Member> =
            (0..failing_in_a).map(|i| member(&format!("i-a{i}"), Some("us-east-1a"), Health::Failing)).collect();
        members.push(member("i-a9", Some("us-east-1a"), Health::Serving));
        members.push(member("i-b1", Some("us-east-1b"), Health::Serving));
        members.push(member("i-b2", Some("us-east-1b"), Health::Serving));
        members
    }

    #[test]
    fn the_pre_check_needs_the_minimum_in_total() {
        assert!(!worth_a_look(1, 2));
        assert!(worth_a_look(2, 2));
        assert!(worth_a_look(1, 0), "a minimum of 0 is taken as 1");
    }

    #[test]
    fn when_the_minimum_fail_in_one_zone_and_the_others_serve_should_be_zonal() {
        let verdict = zonal_failure(&two_zones(2), 2);
        assert_eq!(verdict, ZoneVerdict::Zonal { zone: "us-east-1a".into(), failing: 2, serving_elsewhere: 2 });
    }

    #[test]
    fn when_fewer_than_the_minimum_fail_in_any_zone_should_not_be_zonal() {
        let verdict = zonal_failure(&two_zones(1), 2);
        assert_eq!(verdict, ZoneVerdict::NotZonal { reason: "no zone has 2 failing or removed targets".into() });
    }

    #[test]
    fn when_two_zones_reach_the_minimum_should_not_be_zonal() {
        let mut members = two_zones(2);
        members.push(member("i-b3", Some("us-east-1b"), Health::Failing));
        members.push(member("i-b4", Some("us-east-1b"), Health::Failing));
        let ZoneVerdict::NotZonal { reason } = zonal_failure(&members, 2) else { panic!("zonal") };
        assert_eq!(reason, "targets fail in several zones (us-east-1a, us-east-1b)");
    }

    #[test]
    fn when_a_target_of_another_zone_fails_too_should_not_be_zonal() {
        let mut members = two_zones(2);
        members.push(member("i-b3", Some("us-east-1b"), Health::Failing));
        let ZoneVerdict::NotZonal { reason } = zonal_failure(&members, 2) else { panic!("zonal") };
        assert_eq!(reason, "targets fail in other zones too (us-east-1b)");
    }

    #[test]
    fn when_a_failing_target_has_no_known_zone_should_not_be_zonal() {
        let mut members = two_zones(2);
        members.push(member("10.0.0.9", None, Health::Failing));
        let ZoneVerdict::NotZonal { reason } = zonal_failure(&members, 2) else { panic!("zonal") };
        assert_eq!(reason, "the zone of failing target 10.0.0.9 is not known");
    }

    #[test]
    fn when_no_target_of_a_known_other_zone_serves_should_not_be_zonal() {
        let members = vec![
            member("i-a1", Some("us-east-1a"), Health::Failing),
            member("i-a2", Some("us-east-1a"), Health::Failing),
            member("i-b1", Some("us-east-1b"), Health::Neither),
            member("i-x", None, Health::Serving),
            member("i-c1", Some("us-east-1c"), Health::Serving),
        ];
        let verdict = zonal_failure(&members, 2);
        assert_eq!(verdict, ZoneVerdict::Zonal { zone: "us-east-1a".into(), failing: 2, serving_elsewhere: 1 });
        let alone = &members[..4];
        let ZoneVerdict::NotZonal { reason } = zonal_failure(alone, 2) else { panic!("zonal") };
        assert_eq!(reason, "no target outside us-east-1a serves");
    }

    fn resource(arn: &str, shifts: Vec<ActiveShift>) -> ManagedResource {
        ManagedResource { arn: arn.into(), applied_weights: BTreeMap::new(), shifts, autoshift_enabled: true }
    }

    fn shift(kind: ShiftKind, away_from: &str, applied: bool) -> ActiveShift {
        ActiveShift {
            kind,
            id: None,
            away_from: away_from.into(),
            applied,
            comment: None,
            started_at: None,
            expires_at: None,
        }
    }

    #[test]
    fn an_applied_shift_names_its_zone_and_who_started_it() {
        let ids = BTreeMap::from([("us-east-1a".to_owned(), "use1-az1".to_owned())]);
        let resources = [resource("lb-1", vec![shift(ShiftKind::Autoshift, "use1-az1", true)])];
        let shifted = shifted_away(&resources, &ids);
        assert_eq!(shifted.len(), 1);
        assert_eq!(shifted[0].reason(), "zone us-east-1a (use1-az1) is already shifted away by autoshift");
        assert!(any_applied(&resources));
    }

    #[test]
    fn a_shift_not_applied_spares_nothing() {
        let ids = BTreeMap::new();
        let resources =
            [resource("lb-1", vec![shift(ShiftKind::PracticeRun, "use1-az1", false)]), resource("lb-2", vec![])];
        assert!(shifted_away(&resources, &ids).is_empty());
        assert!(!any_applied(&resources));
    }

    #[test]
    fn a_shift_from_an_unknown_az_id_names_no_zone() {
        let resources = [resource("lb-1", vec![shift(ShiftKind::ZonalShift, "use1-az9", true)])];
        let shifted = shifted_away(&resources, &BTreeMap::new());
        assert_eq!(shifted[0].reason(), "zone ? (use1-az9) is already shifted away by zonal-shift");
        assert_eq!(shifted[0].zone, None);
    }

    fn health(id: &str, zone: Option<&str>, state: TargetState) -> TargetHealth {
        let mut target = Target::new(id, Some(80));
        target.availability_zone = zone.map(str::to_owned);
        TargetHealth::new(target, state)
    }

    #[test]
    fn members_are_failing_when_removed_accused_or_registered_and_not_serving() {
        let removed = [Target::new("i-gone", Some(80))];
        let accused = [Target::new("10.0.0.1", Some(80))];
        let registered = [
            health("10.0.0.1", Some("us-east-1a"), TargetState::Healthy),
            health("10.0.0.2", Some("all"), TargetState::Unhealthy),
            health("i-ok", None, TargetState::Healthy),
            health("i-new", None, TargetState::Initial),
        ];
        let members = members(&removed, &accused, &registered);
        let of = |id: &str| members.iter().find(|m| m.id == id).cloned().expect("a member");
        assert_eq!((of("i-gone").health, of("i-gone").zone), (Health::Failing, None));
        // Accused while the load balancer still sees it healthy (a gray failure): failing, in its own zone.
        assert_eq!((of("10.0.0.1").health, of("10.0.0.1").zone), (Health::Failing, Some("us-east-1a".into())));
        // `all` (outside the VPC) names no zone.
        assert_eq!((of("10.0.0.2").health, of("10.0.0.2").zone), (Health::Failing, None));
        assert_eq!(of("i-ok").health, Health::Serving);
        assert_eq!(of("i-new").health, Health::Neither);
        assert_eq!(members.len(), 5);

        let instances = BTreeMap::from([("i-ok".to_owned(), "us-east-1b".to_owned())]);
        let placed = placed(members, &instances, &accused, &registered);
        let ids: Vec<&str> = placed.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["10.0.0.1", "10.0.0.2", "i-new", "i-ok"], "a removed target of no known zone is left out");
        assert_eq!(placed[3].zone.as_deref(), Some("us-east-1b"));
    }
}
