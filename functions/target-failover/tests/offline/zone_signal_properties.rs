//! Property tests of signal 2 ([`zonal_signal::zonal_failure`]): for any group (targets over up to three zones
//! or none known, each failing, serving or neither) and any minimum, the verdict is zonal exactly when one zone
//! has at least the minimum failing or removed targets, no target fails anywhere else (nor in a zone nobody
//! knows), and a target of another known zone serves; and then it names that zone with its numbers. So a zone
//! is never evacuated while another fails too, nor when nothing else would serve.

use std::collections::BTreeSet;

use proptest::prelude::*;
use target_failover::decide::zonal_signal::{self, Health, Member, ZoneVerdict};

const ZONES: [Option<&str>; 4] = [Some("us-east-1a"), Some("us-east-1b"), Some("us-east-1c"), None];

fn member() -> impl Strategy<Value = (usize, usize)> {
    (0..ZONES.len(), 0..3usize)
}

fn group(raw: &[(usize, usize)]) -> Vec<Member> {
    raw.iter()
        .enumerate()
        .map(|(i, (zone, health))| Member {
            id: format!("i-{i}"),
            zone: ZONES[*zone].map(str::to_owned),
            health: [Health::Failing, Health::Serving, Health::Neither][*health],
        })
        .collect()
}

/// The specification, spelled out: the zone that qualifies, if one does.
fn expected(members: &[Member], min: usize) -> Option<(String, usize, usize)> {
    let failing: Vec<&Member> = members.iter().filter(|m| m.health == Health::Failing).collect();
    if failing.iter().any(|m| m.zone.is_none()) {
        return None;
    }
    let zones: BTreeSet<&str> = failing.iter().filter_map(|m| m.zone.as_deref()).collect();
    let [zone] = zones.into_iter().collect::<Vec<_>>()[..] else { return None };
    let count = failing.len();
    let serving =
        members.iter().filter(|m| m.health == Health::Serving && m.zone.as_deref().is_some_and(|z| z != zone)).count();
    (count >= min && serving > 0).then(|| (zone.to_owned(), count, serving))
}

proptest! {
    #[test]
    fn the_verdict_is_zonal_exactly_when_one_zone_fails_alone_and_another_serves(
        raw in prop::collection::vec(member(), 0..12),
        min in 1u32..5,
    ) {
        let members = group(&raw);
        let verdict = zonal_signal::zonal_failure(&members, min);
        match (verdict, expected(&members, min as usize)) {
            (ZoneVerdict::Zonal { zone, failing, serving_elsewhere }, Some(want)) => {
                prop_assert_eq!((zone, failing, serving_elsewhere), want);
            }
            (ZoneVerdict::NotZonal { reason }, None) => prop_assert!(!reason.is_empty()),
            (got, want) => prop_assert!(false, "verdict {:?}, expected {:?} for {:?}", got, want, members),
        }
    }

    #[test]
    fn the_pre_check_never_hides_a_zonal_failure(raw in prop::collection::vec(member(), 0..12), min in 1u32..5) {
        let members = group(&raw);
        let failing = members.iter().filter(|m| m.health == Health::Failing).count();
        if let ZoneVerdict::Zonal { .. } = zonal_signal::zonal_failure(&members, min) {
            prop_assert!(zonal_signal::worth_a_look(failing, min));
        }
    }
}
