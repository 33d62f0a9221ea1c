//! Readiness (pure): what an opted-in target group lacks for a failover to work, each gap with the `aws` CLI
//! line that closes it. The `readiness` action gathers the facts and reports; these functions only judge.
//!
//! # What "ready" means for a group
//! - **Backup.** When it is tagged with a backup group ([`BACKUP_TAG`]), that group exists, is opted in (IAM
//!   and the function change only opted-in resources), and can serve by the same floor rule the function
//!   applies before a shift ([`backup_ready`]). A group without the tag is not a gap: its targets can still
//!   be taken out; only a shift needs a backup.
//! - **Listeners and rules.** Every listener default action and rule that forwards to the group is opted in:
//!   a shift or failback leaves any other out.
//! - **Health thresholds consistent with the floor.** The function keeps `max(floor, 1)` healthy targets and
//!   may remove down to exactly that. If that is fewer than the group's `unhealthy_state_routing` threshold,
//!   a removal the guardrail allows pushes the load balancer into fail-open (routing to the unhealthy targets
//!   too); fewer than its `dns_failover` threshold, it takes the zone out of DNS. So consistent means
//!   `max(floor, 1) ≥` each threshold, both computed on the targets registered now. The load balancer judges
//!   thresholds per zone; the group-wide comparison is the least that must hold.
//! - **Zone evacuation.** Every opted-in load balancer in front of the group is registered with ARC zonal shift
//!   (`zonal_shift.config.enabled`): otherwise a failing zone cannot be evacuated ([`not_registered_with_arc`]).

pub use failover_core::readiness::Gap;

use super::{backup_ready, Floor, OptedIn};
use crate::decide::Counts;
use crate::model::{
    group_name, ForwardAction, HealthThresholds, Location, Tags, TargetHealth, BACKUP_TAG, DNS_COUNT, DNS_PERCENT,
    ROUTING_COUNT, ROUTING_PERCENT,
};

/// The backup group as the facts found it.
#[derive(Debug, Clone, Copy)]
pub enum Backup<'a> {
    /// The group has no backup tag.
    Untagged,
    /// The tag's value is not usable, and why ([`super::backup_of`]).
    Invalid(&'a str),
    /// The group the tag names does not exist.
    Missing(&'a str),
    Found {
        arn: &'a str,
        tags: &'a Tags,
        targets: &'a [TargetHealth],
    },
}

/// An opted-in load balancer that ARC zonal shift does not know.
pub fn not_registered_with_arc(load_balancer: &str) -> Gap {
    Gap {
        kind: "load-balancer-not-registered-with-arc",
        resource: load_balancer.to_owned(),
        problem: format!(
            "{load_balancer} is opted in but not registered with ARC zonal shift: a failing zone cannot be evacuated"
        ),
        fix: super::zonal::register_command(load_balancer),
    }
}

/// The group itself is not opted in (reported when a person named it).
pub fn not_opted_in(group: &str, key: &str) -> Gap {
    Gap {
        kind: "group-not-opted-in",
        resource: group.to_owned(),
        problem: format!(
            "{} is not opted in (tag {key}=true missing): the function leaves it alone",
            group_name(group)
        ),
        fix: add_tag(group, key, "true"),
    }
}

pub fn backup_gaps(group: &str, backup: Backup<'_>, floor: Floor, key: &str) -> Vec<Gap> {
    let retag = || add_tag(group, BACKUP_TAG, "<ARN of a standby target group>");
    match backup {
        Backup::Untagged => Vec::new(),
        Backup::Invalid(why) => vec![Gap {
            kind: "backup-invalid",
            resource: group.to_owned(),
            problem: format!("backup group unusable: {why}"),
            fix: retag(),
        }],
        Backup::Missing(arn) => vec![Gap {
            kind: "backup-missing",
            resource: group.to_owned(),
            problem: format!("the backup group {arn} does not exist: a shift would be refused"),
            fix: retag(),
        }],
        Backup::Found { arn, tags, targets } => {
            let mut gaps = Vec::new();
            if !failover_core::tags::opted_in(tags, key) {
                gaps.push(Gap {
                    kind: "backup-not-opted-in",
                    resource: arn.to_owned(),
                    problem: format!(
                        "the backup group {} of {} is not opted in (tag {key}=true missing)",
                        group_name(arn),
                        group_name(group)
                    ),
                    fix: add_tag(arn, key, "true"),
                });
            }
            if let Err(counts) = backup_ready(targets, floor) {
                gaps.push(Gap {
                    kind: "backup-below-floor",
                    resource: arn.to_owned(),
                    problem: format!(
                        "the backup group {} of {} has {} healthy of {} registered targets, below its floor of {}: \
                         a shift to it would be refused",
                        group_name(arn),
                        group_name(group),
                        counts.healthy,
                        counts.registered,
                        counts.required()
                    ),
                    fix: format!("aws elbv2 register-targets --target-group-arn {arn} --targets Id=<healthy target>"),
                });
            }
            gaps
        }
    }
}

/// Every listener and rule forwarding to the group that is not opted in.
pub fn forwarding_gaps(group: &str, actions: &[ForwardAction], opted_in: &OptedIn, key: &str) -> Vec<Gap> {
    let mut seen: Vec<&Location> = Vec::new();
    for action in actions {
        if !opted_in.contains(action.location.arn()) && !seen.contains(&&action.location) {
            seen.push(&action.location);
        }
    }
    seen.into_iter()
        .map(|location| Gap {
            kind: match location {
                Location::Listener(_) => "listener-not-opted-in",
                Location::Rule(_) => "rule-not-opted-in",
            },
            resource: location.arn().to_owned(),
            problem: format!(
                "{location} forwards to {} and is not opted in (tag {key}=true missing): a shift or failback \
                 would leave it out",
                group_name(group)
            ),
            fix: add_tag(location.arn(), key, "true"),
        })
        .collect()
}

/// The group's health thresholds against the floor (see the module doc).
pub fn threshold_gaps(group: &str, targets: &[TargetHealth], thresholds: &HealthThresholds, floor: Floor) -> Vec<Gap> {
    let counts = Counts::of(targets, floor);
    let keeps = counts.required();
    let checks = [
        (
            "fail-open-threshold",
            "unhealthy_state_routing",
            &thresholds.unhealthy_state_routing,
            ROUTING_COUNT,
            ROUTING_PERCENT,
            "into fail-open (routing to unhealthy targets too)",
        ),
        (
            "dns-failover-threshold",
            "dns_failover",
            &thresholds.dns_failover,
            DNS_COUNT,
            DNS_PERCENT,
            "into DNS failover (the zone taken out of DNS)",
        ),
    ];
    checks
        .into_iter()
        .filter_map(|(kind, name, threshold, count_key, percent_key, effect)| {
            let needs = threshold.required(counts.registered);
            (needs > keeps).then(|| Gap {
                kind,
                resource: group.to_owned(),
                problem: format!(
                    "{}'s {name} threshold needs {needs} healthy of {} registered targets, but the floor lets removals \
                     go down to {keeps}: a removal can push the load balancer {effect}. Lower the threshold to \
                     {keeps}, or raise MinHealthyTargets to {needs}",
                    group_name(group),
                    counts.registered
                ),
                fix: format!(
                    "aws elbv2 modify-target-group-attributes --target-group-arn {group} --attributes \
                     Key={count_key},Value={keeps} Key={percent_key},Value=off"
                ),
            })
        })
        .collect()
}

fn add_tag(arn: &str, key: &str, value: &str) -> String {
    format!("aws elbv2 add-tags --resource-arns {arn} --tags Key={key},Value={value}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CrossZone, Target, TargetState, Threshold, Weight};

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/00000000000000aa";
    const BACKUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-dr/00000000000000bb";
    const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1111/2222";
    const RULE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/1111/2222/3333";
    const KEY: &str = "failover:enabled";
    const FLOOR: Floor = Floor::new(1, 50);

    fn fleet(states: &[&str]) -> Vec<TargetHealth> {
        let target = |i| Target::new(format!("i-{i}"), Some(80));
        states.iter().enumerate().map(|(i, s)| TargetHealth::new(target(i), TargetState::parse(s))).collect()
    }

    fn opted(value: bool) -> Tags {
        Tags::from([(KEY.to_owned(), value.to_string())])
    }

    #[test]
    fn a_ready_backup_and_an_untagged_group_have_no_gap() {
        let (tags, targets) = (opted(true), fleet(&["healthy", "healthy"]));
        assert_eq!(backup_gaps(TG, Backup::Found { arn: BACKUP, tags: &tags, targets: &targets }, FLOOR, KEY), []);
        assert_eq!(backup_gaps(TG, Backup::Untagged, FLOOR, KEY), []);
    }

    #[test]
    fn a_missing_or_invalid_backup_is_a_gap_fixed_by_retagging_the_group() {
        for (backup, kind) in
            [(Backup::Missing(BACKUP), "backup-missing"), (Backup::Invalid("not an ARN"), "backup-invalid")]
        {
            let gaps = backup_gaps(TG, backup, FLOOR, KEY);
            assert_eq!(gaps.iter().map(|g| g.kind).collect::<Vec<_>>(), [kind]);
            assert_eq!(gaps[0].resource, TG);
            assert!(gaps[0]
                .fix
                .starts_with(&format!("aws elbv2 add-tags --resource-arns {TG} --tags Key={BACKUP_TAG},")));
        }
    }

    #[test]
    fn a_backup_not_opted_in_is_a_gap_fixed_by_tagging_it() {
        let (tags, targets) = (opted(false), fleet(&["healthy"]));
        let gaps = backup_gaps(TG, Backup::Found { arn: BACKUP, tags: &tags, targets: &targets }, FLOOR, KEY);
        assert_eq!(gaps.iter().map(|g| g.kind).collect::<Vec<_>>(), ["backup-not-opted-in"]);
        assert_eq!(gaps[0].fix, format!("aws elbv2 add-tags --resource-arns {BACKUP} --tags Key={KEY},Value=true"));
    }

    #[test]
    fn a_backup_below_its_floor_is_a_gap_with_the_numbers() {
        let (tags, targets) = (opted(true), fleet(&["healthy", "unhealthy", "unhealthy", "unhealthy"]));
        let gaps = backup_gaps(TG, Backup::Found { arn: BACKUP, tags: &tags, targets: &targets }, FLOOR, KEY);
        assert_eq!(gaps.iter().map(|g| g.kind).collect::<Vec<_>>(), ["backup-below-floor"]);
        assert!(
            gaps[0].problem.contains("1 healthy of 4 registered targets, below its floor of 2"),
            "{}",
            gaps[0].problem
        );
        assert!(gaps[0].fix.starts_with(&format!("aws elbv2 register-targets --target-group-arn {BACKUP}")));
        let empty: Vec<TargetHealth> = Vec::new();
        let gaps = backup_gaps(TG, Backup::Found { arn: BACKUP, tags: &tags, targets: &empty }, FLOOR, KEY);
        assert_eq!(gaps.len(), 1, "an empty backup serves nothing");
    }

    #[test]
    fn each_listener_and_rule_forwarding_to_the_group_not_opted_in_is_a_gap_once() {
        let forward = |location: Location| ForwardAction { location, weights: vec![Weight::new(TG, 1)] };
        let actions = [
            forward(Location::Listener(LISTENER.into())),
            forward(Location::Rule(RULE.into())),
            forward(Location::Rule(RULE.into())),
        ];
        let gaps = forwarding_gaps(TG, &actions, &OptedIn::new(), KEY);
        assert_eq!(gaps.iter().map(|g| g.kind).collect::<Vec<_>>(), ["listener-not-opted-in", "rule-not-opted-in"]);
        assert_eq!(gaps[1].fix, format!("aws elbv2 add-tags --resource-arns {RULE} --tags Key={KEY},Value=true"));
        let all: OptedIn = [LISTENER.to_owned(), RULE.to_owned()].into();
        assert_eq!(forwarding_gaps(TG, &actions, &all, KEY), []);
    }

    #[test]
    fn default_thresholds_are_consistent_with_any_floor() {
        let defaults = HealthThresholds::from_attributes([]);
        assert_eq!(threshold_gaps(TG, &fleet(&["healthy"; 4]), &defaults, FLOOR), []);
        assert_eq!(threshold_gaps(TG, &[], &defaults, FLOOR), []);
    }

    #[test]
    fn a_fail_open_threshold_above_the_floor_is_a_gap() {
        let thresholds = HealthThresholds {
            unhealthy_state_routing: Threshold { count: Some(3), percent: None },
            dns_failover: Threshold { count: Some(1), percent: None },
            cross_zone: CrossZone::On,
        };
        // 4 registered at 50 %: the floor keeps 2, the load balancer fails open below 3.
        let gaps = threshold_gaps(TG, &fleet(&["healthy"; 4]), &thresholds, FLOOR);
        assert_eq!(gaps.iter().map(|g| g.kind).collect::<Vec<_>>(), ["fail-open-threshold"]);
        assert!(gaps[0].problem.contains("needs 3 healthy of 4 registered targets"), "{}", gaps[0].problem);
        assert!(gaps[0].fix.contains(&format!("Key={ROUTING_COUNT},Value=2 Key={ROUTING_PERCENT},Value=off")));
        let equal =
            HealthThresholds { unhealthy_state_routing: Threshold { count: Some(2), percent: None }, ..thresholds };
        assert_eq!(threshold_gaps(TG, &fleet(&["healthy"; 4]), &equal, FLOOR), []);
    }

    #[test]
    fn a_dns_failover_percentage_above_the_floor_is_a_gap() {
        let thresholds = HealthThresholds {
            unhealthy_state_routing: Threshold { count: Some(1), percent: None },
            dns_failover: Threshold { count: None, percent: Some(75) },
            cross_zone: CrossZone::On,
        };
        let gaps = threshold_gaps(TG, &fleet(&["healthy"; 4]), &thresholds, FLOOR);
        assert_eq!(gaps.iter().map(|g| g.kind).collect::<Vec<_>>(), ["dns-failover-threshold"]);
        assert!(gaps[0].fix.contains(&format!("Key={DNS_COUNT},Value=2 Key={DNS_PERCENT},Value=off")));
    }

    #[test]
    fn a_group_named_but_not_opted_in_is_a_gap() {
        let gap = not_opted_in(TG, KEY);
        assert_eq!((gap.kind, gap.fix.ends_with(&format!("Key={KEY},Value=true"))), ("group-not-opted-in", true));
    }
}
