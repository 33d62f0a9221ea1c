//! The plan for an alarm in ALARM on a group ([`on_alarm`]): remove the accused targets the guardrail allows,
//! move the traffic to the backup group when the group cannot serve, or refuse. The guardrail is the module
//! doc of [`super`]; the zone rule is [`super::traffic`]'s.

use super::{floor, traffic, Candidates, Counts, Floor, GroupView, Kept, Plan, BACKUP_TAG};
use crate::model::{TargetHealth, TargetState};

/// An alarm entered ALARM about this group.
pub fn on_alarm(group: GroupView<'_>, candidates: Candidates<'_>, floor: Floor) -> Plan {
    if !group.opted_in() {
        return Plan::skip(format!("not opted in (tag {}=true missing)", group.opt_in_tag_key));
    }
    if group.targets.is_empty() {
        return Plan::skip("no registered targets");
    }
    // An instance alarm concerns only the groups where the instance is registered.
    if let Candidates::Named(named) = candidates {
        if !group.targets.iter().any(|t| named.iter().any(|n| t.target.matches(n))) {
            return Plan::skip(format!(
                "{} not registered in this group",
                named.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ));
        }
    }
    // The baseline limits how many targets a removal takes; whether the group serves is its present health.
    let counts = Counts::of(group.targets, floor);
    let present = Counts::of(group.targets, floor.with_baseline(None));
    let accused: Vec<&TargetHealth> = group
        .targets
        .iter()
        .filter(|t| !t.state.leaving() && t.state != TargetState::Unused)
        .filter(|t| match candidates {
            Candidates::Unhealthy => t.state == TargetState::Unhealthy,
            Candidates::Named(named) => named.iter().any(|n| t.target.matches(n)),
        })
        .collect();

    if !present.can_serve() {
        let counts = present;
        let kept: Vec<Kept> = accused
            .iter()
            .map(|t| Kept {
                target: t.target.clone(),
                state: t.state,
                why: format!(
                    "the group is below its floor ({} healthy, needs {}; {}): removing targets cannot help",
                    counts.healthy,
                    counts.required(),
                    counts.floor_text()
                ),
                zone: None,
            })
            .collect();
        let why = format!(
            "{} of {} registered targets healthy, {}{}",
            counts.healthy,
            counts.registered,
            counts.floor_text(),
            counts.shifted_text()
        );
        return match group.backup() {
            Some(Ok(backup)) => Plan::ShiftTraffic { backup, kept, counts, why },
            Some(Err(bad)) => Plan::Refuse {
                reason: format!("the group cannot serve ({why}) and its backup is unusable: {bad}"),
                kept,
                counts: Some(counts),
            },
            None => Plan::Refuse {
                reason: format!("the group cannot serve ({why}) and has no {BACKUP_TAG} tag"),
                kept,
                counts: Some(counts),
            },
        };
    }

    if accused.is_empty() {
        return Plan::skip(match candidates {
            Candidates::Unhealthy => "no target is unhealthy".to_owned(),
            Candidates::Named(named) => format!(
                "{} not registered (or already draining)",
                named.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ),
        });
    }

    // Not-healthy candidates first: removing them costs no healthy capacity.
    let (serving, idle): (Vec<&TargetHealth>, Vec<&TargetHealth>) = accused.into_iter().partition(|t| t.serves());
    let mut targets: Vec<TargetHealth> = idle.into_iter().cloned().collect();
    let mut kept = Vec::new();
    let mut healthy_after = counts.healthy;
    for t in serving {
        if let Some(zone) = traffic::left_without_serving(group.targets, &targets, t) {
            let why = format!(
                "removing it would leave zone {zone}, which takes traffic, with no serving target ({})",
                traffic::by_zone_text(group.targets)
            );
            kept.push(Kept { target: t.target.clone(), state: t.state, why, zone: Some(zone) });
        } else if let Some(short) = floor::zone_below_floor(group.targets, &targets, t, floor) {
            kept.push(Kept { target: t.target.clone(), state: t.state, why: short.why(), zone: Some(short.zone) });
        } else if healthy_after > counts.required() {
            healthy_after -= 1;
            targets.push(t.clone());
        } else {
            kept.push(Kept {
                target: t.target.clone(),
                state: t.state,
                why: format!(
                    "removing it would leave {} healthy of {} registered, below the {}",
                    healthy_after - 1,
                    counts.registered,
                    counts.floor_text()
                ),
                zone: None,
            });
        }
    }
    if targets.is_empty() {
        let reason = match kept.iter().find_map(|k| k.zone.as_deref()) {
            Some(zone) => format!(
                "every accused target is serving and removing one would leave a zone that takes traffic ({zone}) \
                 with no serving target or below its own floor, or the group below its floor ({} serving, {}; by \
                 zone: {})",
                counts.healthy,
                counts.floor_text(),
                traffic::by_zone_text(group.targets)
            ),
            None => format!(
                "every accused target is healthy and the group is at its floor ({} healthy, {})",
                counts.healthy,
                counts.floor_text()
            ),
        };
        return Plan::Refuse { reason, kept, counts: Some(counts) };
    }
    Plan::Deregister { targets, kept, counts, healthy_after }
}
