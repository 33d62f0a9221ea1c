//! Failing back: which saved weights are restored, which are stale, and which actions are left for a person.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{OptedIn, WeightChange};
use crate::model::{ForwardAction, Location, SavedWeights, Weight};

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
        match restore(action, weights, backup) {
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

fn restore(action: &ForwardAction, saved: &[(String, u32)], backup: Option<&str>) -> Result<Vec<Weight>, String> {
    let saved_arns: BTreeSet<&str> = saved.iter().map(|(arn, _)| arn.as_str()).collect();
    let mut after = Vec::new();
    for (arn, weight) in saved {
        if !action.weights.iter().any(|w| &w.group_arn == arn) {
            return Err(format!("target group {arn} left the action since the shift"));
        }
        after.push(Weight::new(arn, *weight));
    }
    for extra in action.weights.iter().filter(|w| !saved_arns.contains(w.group_arn.as_str())) {
        if Some(extra.group_arn.as_str()) != backup {
            return Err(format!("target group {} joined the action since the shift", extra.group_arn));
        }
    }
    Ok(after)
}
