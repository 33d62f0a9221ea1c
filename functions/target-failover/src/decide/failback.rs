//! Failing back: which shares are moved back, which saved weights are stale, and which actions are left for a
//! person.
//!
//! Failback is per group: it moves back only the share the group's own shift moved to the backup (its weight
//! before the shift; the backup got that much, or up to [`MAX_WEIGHT`]). Every other weight stays as it is
//! now: a group still failing stays at 0 (its own shift record holds its share), and weights people changed
//! during the shift are kept. When the action changed so that the share cannot be moved back unambiguously
//! (the group or the backup left it, the backup holds less than the share), it is left to a person, and the
//! conflict names both weight sets.

use serde::Serialize;

use super::{OptedIn, WeightChange};
use crate::model::{ForwardAction, Location, SavedWeights, Weight, MAX_WEIGHT};

/// What failing back involves.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FailbackChanges {
    pub changes: Vec<WeightChange>,
    /// Keys ([`Location::key`]) of the shifts restored: their records are closed once the action is restored.
    pub restored_keys: Vec<String>,
    /// Keys of shifts whose action is gone or already serves the group again: closed without other change.
    pub stale_keys: Vec<String>,
    /// Actions changed by someone since the shift: left for a person.
    pub conflicts: Vec<(Location, String)>,
    /// Saved actions to restore whose listener or rule is no longer opted in: left alone, saved weights kept.
    pub not_opted_in: Vec<Location>,
}

pub fn plan_failback(
    actions: &[ForwardAction],
    failing: &str,
    backup: Option<&str>,
    saved: &SavedWeights,
    opted_in: &OptedIn,
) -> FailbackChanges {
    let mut plan = FailbackChanges::default();
    for (key, weights) in saved {
        let shift_key = key.clone();
        let Some(action) = actions.iter().find(|a| &a.location.key() == key) else {
            plan.stale_keys.push(shift_key);
            continue;
        };
        if action.weight_of(failing).unwrap_or(0) > 0 {
            plan.stale_keys.push(shift_key);
            continue;
        }
        if !opted_in.contains(action.location.arn()) {
            plan.not_opted_in.push(action.location.clone());
            continue;
        }
        match move_back(action, weights, failing, backup) {
            Ok(after) => {
                plan.restored_keys.push(shift_key);
                plan.changes.push(WeightChange {
                    location: action.location.clone(),
                    before: action.weights.clone(),
                    after,
                });
            }
            Err(why) => plan.conflicts.push((action.location.clone(), why)),
        }
    }
    plan
}

fn move_back(
    action: &ForwardAction,
    saved: &[(String, u32)],
    failing: &str,
    backup: Option<&str>,
) -> Result<Vec<Weight>, String> {
    let before = |arn: &str| saved.iter().find(|(a, _)| a == arn).map(|(_, w)| *w);
    let conflict = |why: String| {
        let now: Vec<String> = action.weights.iter().map(|w| format!("{}={}", w.group_arn, w.weight)).collect();
        let then: Vec<String> = saved.iter().map(|(arn, w)| format!("{arn}={w}")).collect();
        format!("{why}; weights now: {}; before the shift: {}", now.join(", "), then.join(", "))
    };
    let Some(backup) = backup else { return Err(conflict("the group names no usable backup group".into())) };
    let share = before(failing).unwrap_or(0);
    let moved = share.min(MAX_WEIGHT.saturating_sub(before(backup).unwrap_or(0)));
    if action.weight_of(failing).is_none() {
        // A single-group forward action (a network load balancer's) that the shift pointed at the backup.
        let pointed_at_backup = action.weights.len() == 1 && action.weight_of(backup).is_some();
        if pointed_at_backup && saved.len() == 1 && share > 0 {
            return Ok(vec![Weight::new(failing, share)]);
        }
        return Err(conflict(format!("target group {failing} left the action since the shift")));
    }
    let Some(holding) = action.weight_of(backup) else {
        return Err(conflict(format!("the backup group {backup} left the action since the shift")));
    };
    if holding < moved {
        return Err(conflict(format!("the backup group holds {holding}, less than the {moved} the shift moved to it")));
    }
    let added_by_shift = before(backup).is_none();
    Ok(action
        .weights
        .iter()
        .filter_map(|w| match w.group_arn.as_str() {
            arn if arn == failing => Some(Weight::new(arn, share)),
            arn if arn == backup && added_by_shift && holding == moved => None,
            arn if arn == backup => Some(Weight::new(arn, holding - moved)),
            _ => Some(w.clone()),
        })
        .collect())
}
