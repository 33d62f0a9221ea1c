//! Shifting a failing group's traffic: which forward actions change (each change's before and after weights
//! are what the action records in the ledger first), and what the whole comes to (a shift, a partial one, a
//! refusal, or nothing left to do).

use serde::Serialize;

use super::{OptedIn, WeightChange};
use crate::model::{ForwardAction, Location, SavedWeights, Weight, MAX_WEIGHT};

/// What shifting the failing group's traffic involves.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ShiftChanges {
    pub changes: Vec<WeightChange>,
    /// Actions already shifted (repeats of the same alarm): the failing group at weight 0 and a live shift
    /// record.
    pub already_shifted: Vec<Location>,
    /// Actions that would move traffic but whose listener or rule is not opted in: left alone.
    pub not_opted_in: Vec<Location>,
}

pub fn plan_shift(
    actions: &[ForwardAction],
    failing: &str,
    backup: &str,
    saved: &SavedWeights,
    opted_in: &OptedIn,
) -> ShiftChanges {
    let mut plan = ShiftChanges::default();
    for action in actions {
        let key = action.location.key();
        let moved = action.weight_of(failing).unwrap_or(0);
        if moved == 0 {
            if saved.contains_key(&key) {
                plan.already_shifted.push(action.location.clone());
            }
            continue;
        }
        if !opted_in.contains(action.location.arn()) {
            plan.not_opted_in.push(action.location.clone());
            continue;
        }
        let mut after: Vec<Weight> = action
            .weights
            .iter()
            .map(|w| match &w.group_arn {
                arn if arn == failing => Weight::new(arn, 0),
                arn if arn == backup => Weight::new(arn, (w.weight + moved).min(MAX_WEIGHT)),
                arn => Weight::new(arn, w.weight),
            })
            .collect();
        if action.weight_of(backup).is_none() {
            after.push(Weight::new(backup, moved.min(MAX_WEIGHT)));
        }
        plan.changes.push(WeightChange { location: action.location.clone(), before: action.weights.clone(), after });
    }
    plan
}

/// What a shift's changes come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShiftVerdict {
    /// Change the opted-in actions; `partly` when some that would move traffic are left out (not opted in):
    /// a change is made, and the traffic left behind still goes to a group that cannot serve.
    Shift { partly: bool },
    /// Nothing to change, and some action that would move traffic is not opted in: refused, naming each.
    RefuseNotOptedIn,
    /// Every action forwarding to the group is already shifted: nothing to do.
    AlreadyShifted,
    /// No action sends the group traffic that could move: refused.
    NothingForwards,
}

impl ShiftChanges {
    pub fn verdict(&self) -> ShiftVerdict {
        if !self.changes.is_empty() {
            ShiftVerdict::Shift { partly: !self.not_opted_in.is_empty() }
        } else if !self.not_opted_in.is_empty() {
            ShiftVerdict::RefuseNotOptedIn
        } else if !self.already_shifted.is_empty() {
            ShiftVerdict::AlreadyShifted
        } else {
            ShiftVerdict::NothingForwards
        }
    }
}
