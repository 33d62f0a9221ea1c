//! The policy, as pure functions from plain data (target health, tags, settings, listener weights) to a
//! [`Plan`]. No I/O, no clock: every branch has a unit test below.
//!
//! # The guardrail, precisely
//! - **Serving means serving traffic**: a target serves when it is **healthy** (or `unavailable`: health checks
//!   disabled, the load balancer routes to it as if healthy) **and traffic reaches its zone**: not while a shift
//!   ARC applies to one of its load balancers moves traffic away from the zone, nor while ELB reports it with
//!   `AdministrativeOverride` `zonal_shift_active` ([`crate::model::TargetHealth::serves`], [`traffic`]). The
//!   floor, `can_serve`, a shift, a failback and an evacuation all count serving targets; "healthy" in the
//!   counts and texts below means serving. **Registered** targets (what
//!   the floor counts) are those in any state except `initial` (just registered: neither failing nor serving,
//!   so a group scaling out never looks like failing, and a group alarm never removes them), `unused`
//!   (ignored: never counted nor removed) and `draining` / `unhealthy.draining` (already leaving), in a zone
//!   traffic reaches (a zone shifted away is capacity the load balancer does not use now).
//! - **Floor** = `max(MIN_HEALTHY_TARGETS, ceil(MIN_HEALTHY_PERCENT × basis / 100))`, where the basis is the
//!   count registered *before* the change, or, while any removal of the incident is open, the **baseline**
//!   (the registered count when the incident first removed targets, kept in the ledger) when larger: the
//!   floor is never recomputed from the shrunken group. The group's own `target_group_health` thresholds
//!   (`unhealthy_state_routing`, `dns_failover`: count or percentage) raise it, never lower it ([`Floor`]).
//! - A group **can serve** while `healthy ≥ max(floor, 1)`, the floor taken on its *present* registered
//!   count (no baseline): a group with no healthy target serves nothing (the load balancer fails open to the
//!   unhealthy ones), whatever the floor says. The baseline limits only how many targets a removal may take;
//!   it never makes a group that a person resized (or whose removals stay open) look failing, so it never
//!   decides a shift or holds back a failback.
//! - **Candidates** are the targets the alarm accuses: for a `TargetGroup` alarm, those reported `unhealthy`;
//!   for an `InstanceId` alarm (or a manual `deregister`), the named targets in any state but leaving — a
//!   target the load balancer still sees as `healthy` is exactly the gray failure such alarms exist for.
//! - When the group **can serve**, every candidate that is not healthy is removed (that costs no healthy
//!   capacity), then healthy candidates one by one while `healthy_after ≥ max(floor, 1)` and the candidate is
//!   not the last serving target of a zone that takes traffic ([`traffic::left_without_serving`]; the refusal
//!   gives the numbers per zone) nor, when cross-zone load balancing is off for the group ([`Floor::per_zone`]:
//!   each zone's nodes route to that zone's targets only, and AWS applies the thresholds per zone), one whose
//!   zone would fall below its own floor (the settings and the group's thresholds over the zone's registered
//!   targets); the rest are refused. Since at least one healthy target always stays, the group is never emptied.
//! - When the group **cannot serve**, nothing is removed, not even unhealthy targets: the load balancer already
//!   avoids them while any target is healthy, and when none is it fails open to them — removing them would
//!   turn a degraded service into an outage. Instead the traffic moves to the backup group when the group is
//!   tagged with one ([`Plan::ShiftTraffic`]), or the removal is refused with a critical notification.
//!
//! So ten targets at 50 % allow five removals over a whole incident, not five, then two more, and so on.
//!
//! # Traffic shift and failback
//! - Shift: in every forward action (listener default action or rule) that gives the failing group a weight
//!   above 0, that weight moves to the backup group (added to the action when absent); the failing group stays
//!   in the action with weight 0, so it keeps its association with the load balancer and its ARN is at hand
//!   for failback. Other groups in the action keep their weights: only the failing group's share moves.
//! - Memory: before the change, the action's previous weights are recorded in the ledger, one record
//!   `shift#<listener-id>[/<rule-id>]` per action on the failing group's resource ([`SavedWeights`] is what
//!   the live records say: location key → group ARN → weight).
//! - An action that gives the failing group 0 and has a live shift record is already shifted: nothing to do.
//! - Failback of a group moves back only its own share (its weight before its shift) from the backup; every
//!   other weight stays as it is now, so a group still failing stays at 0 and weights people changed during
//!   the shift are kept; then its record is closed. An action changed so that the share cannot be moved back
//!   unambiguously (the group or the backup left it, the backup holds less than the share) is not touched and
//!   reported as a conflict for a person, with both weight sets. An alarm's OK fails back only the shifts
//!   alarms made; a `shift` command's shift is failed back only by the `failback` command.
//! - A network load balancer's forward action takes one target group: the adapter points it at the one group
//!   the plan gives weight (the backup on a shift); failing back an action that forwards to the backup alone,
//!   saved as forwarding to the group alone, points it back.
//! - Opt-in of the listener or rule: IAM lets `ModifyListener` / `ModifyRule` change only a listener or rule
//!   that itself carries the opt-in tag, so the plans take the set of opted-in listener and rule ARNs
//!   ([`OptedIn`], read with `DescribeTags`) and leave every other action out (`not_opted_in`): no change, no
//!   saved weights for it (a shift), its saved weights kept (a failback). An action that needs no change is
//!   never reported as left out. Nothing to change and something left out is a refusal
//!   ([`ShiftVerdict::RefuseNotOptedIn`]); a change with something left out is a partial shift
//!   ([`ShiftVerdict::Shift`] with `partly`); [`alarm_now_would`] says the same for `status`.
//!
//! # Layout
//! This file: the group view, [`Plan`] and the plans for an alarm's OK and for commands.
//! `removal.rs`: the plan for an alarm in ALARM ([`on_alarm`]).
//! [`traffic`]: where targets are, which zones traffic reaches, and the zone rule of a removal.
//! `floor.rs`: the floor (settings, the incident's baseline, the group's own thresholds) and the counts.
//! `shift.rs`: which forward actions a shift changes ([`plan_shift`]) and what that comes to ([`ShiftVerdict`]).
//! `failback.rs`: which saved weights a failback restores ([`plan_failback`]).
//! `readiness.rs`: what an opted-in group lacks for a failover ([`readiness::Gap`]); [`watch`]: whether an alarm
//! that invokes the function watches it.

use std::collections::BTreeSet;

use failover_core::tags::opted_in;
use serde::Serialize;

use crate::model::{group_suffix, Location, SavedWeights, Tags, Target, TargetHealth, TargetState, Weight, BACKUP_TAG};

mod failback;
mod floor;
pub mod readiness;
pub mod recovery;
mod removal;
pub mod replace;
mod shift;
pub mod traffic;
pub mod watch;
pub mod zonal;
pub mod zonal_signal;

pub use crate::model::GroupThresholds;
pub use failback::{plan_failback, FailbackChanges};
pub use floor::{capacity, Counts, Floor};
pub use removal::on_alarm;
pub use shift::{plan_shift, ShiftChanges, ShiftVerdict};

/// The ARNs of the listeners and rules that carry the opt-in tag (`<key>=true`); any other is not opted in.
pub type OptedIn = BTreeSet<String>;

/// What a group looks like to the policy.
#[derive(Debug, Clone, Copy)]
pub struct GroupView<'a> {
    pub arn: &'a str,
    pub tags: &'a Tags,
    pub targets: &'a [TargetHealth],
    pub opt_in_tag_key: &'a str,
}

impl GroupView<'_> {
    /// Exactly `true`, as the IAM condition `aws:ResourceTag/<key> = "true"` compares it
    /// ([`failover_core::tags::opted_in`]).
    pub fn opted_in(&self) -> bool {
        opted_in(self.tags, self.opt_in_tag_key)
    }

    /// The backup group named by the tag: `None` when untagged, `Err` with the reason when the value is not a
    /// target group of the same account and region, or is the group itself.
    pub fn backup(&self) -> Option<Result<String, String>> {
        backup_of(self.arn, self.tags)
    }
}

pub fn backup_of(arn: &str, tags: &Tags) -> Option<Result<String, String>> {
    let value = tags.get(BACKUP_TAG)?.trim();
    let home = arn.split_once(":targetgroup/").map(|(prefix, _)| prefix);
    let valid = group_suffix(value).is_some()
        && value.split_once(":targetgroup/").map(|(prefix, _)| prefix) == home
        && value != arn;
    Some(if valid {
        Ok(value.to_owned())
    } else {
        Err(format!("tag {BACKUP_TAG}={value:?} is not the ARN of another target group in the same account and region"))
    })
}

/// Which targets an alarm accuses.
#[derive(Debug, Clone, Copy)]
pub enum Candidates<'a> {
    /// A `TargetGroup` alarm: the targets reported `unhealthy`.
    Unhealthy,
    /// An `InstanceId` alarm or a manual command: these targets, whatever the load balancer thinks of them.
    Named(&'a [Target]),
}

/// A candidate the guardrail keeps in service, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Kept {
    pub target: Target,
    pub state: TargetState,
    pub why: String,
    /// The zone that takes traffic its removal would leave with no serving target ([`traffic`]), or below the
    /// zone's own floor when cross-zone load balancing is off ([`Floor::per_zone`]), when that is why.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "plan", rename_all = "kebab-case")]
pub enum Plan {
    /// Take these targets out; `kept` are candidates the guardrail refused (notified as a refusal too).
    Deregister { targets: Vec<TargetHealth>, kept: Vec<Kept>, counts: Counts, healthy_after: usize },
    /// The group cannot serve: move its traffic to the backup group.
    ShiftTraffic { backup: String, kept: Vec<Kept>, counts: Counts, why: String },
    /// The group serves again and has saved weights: restore them (or ask a person to, `FAILBACK=manual`).
    Failback { counts: Counts, backup: Option<String> },
    /// Nothing to do; logged, not notified.
    Skip { reason: String },
    /// A change was wanted and the guardrail forbids it; notified as critical.
    Refuse { reason: String, kept: Vec<Kept>, counts: Option<Counts> },
}

impl Plan {
    fn skip(reason: impl Into<String>) -> Self {
        Plan::Skip { reason: reason.into() }
    }
}

/// The alarm returned to OK: fail back if traffic was shifted and the group serves again. An instance alarm's
/// OK concerns only the groups where the instance is registered.
pub fn on_ok(group: GroupView<'_>, candidates: Candidates<'_>, floor: Floor, saved: &SavedWeights) -> Plan {
    if !group.opted_in() {
        return Plan::skip(format!("not opted in (tag {}=true missing)", group.opt_in_tag_key));
    }
    if saved.is_empty() {
        return Plan::skip("no traffic was shifted away from this group");
    }
    if let Candidates::Named(named) = candidates {
        if !group.targets.iter().any(|t| named.iter().any(|n| t.target.matches(n))) {
            return Plan::skip("the recovered instance is not registered in this group");
        }
    }
    // Present health: an incident's baseline does not hold traffic on the backup.
    let counts = Counts::of(group.targets, floor.with_baseline(None));
    if !counts.can_serve() {
        return Plan::Refuse {
            reason: format!(
                "the alarm is OK but the group is still below its floor ({} of {} registered targets healthy, needs {}{}): \
                 traffic stays on the backup group",
                counts.healthy,
                counts.registered,
                counts.required(),
                counts.shifted_text()
            ),
            kept: Vec::new(),
            counts: Some(counts),
        };
    }
    Plan::Failback { counts, backup: group.backup().and_then(Result::ok) }
}

/// A person asked to shift the traffic: the floor does not apply, the opt-in and the backup tag do.
pub fn on_shift_command(group: GroupView<'_>, floor: Floor) -> Plan {
    if !group.opted_in() {
        return Plan::skip(format!("not opted in (tag {}=true missing)", group.opt_in_tag_key));
    }
    let counts = Counts::of(group.targets, floor);
    match group.backup() {
        Some(Ok(backup)) => {
            Plan::ShiftTraffic { backup, kept: Vec::new(), counts, why: "requested by a person".into() }
        }
        Some(Err(bad)) => Plan::Refuse { reason: bad, kept: Vec::new(), counts: Some(counts) },
        None => Plan::Refuse {
            reason: format!("the group has no {BACKUP_TAG} tag"),
            kept: Vec::new(),
            counts: Some(counts),
        },
    }
}

/// A person asked to fail back: refused while the group cannot serve, unless forced.
pub fn on_failback_command(group: GroupView<'_>, floor: Floor, saved: &SavedWeights, force: bool) -> Plan {
    match on_ok(group, Candidates::Unhealthy, floor, saved) {
        Plan::Refuse { counts: Some(counts), .. } if force => {
            Plan::Failback { counts, backup: group.backup().and_then(Result::ok) }
        }
        Plan::Refuse { reason, kept, counts } => {
            Plan::Refuse { reason: format!("{reason}; send \"force\": true to fail back anyway"), kept, counts }
        }
        other => other,
    }
}

/// The backup must be able to take the traffic: it serves by the same floor rule.
pub fn backup_ready(targets: &[TargetHealth], floor: Floor) -> Result<Counts, Counts> {
    let counts = Counts::of(targets, floor);
    if counts.can_serve() {
        Ok(counts)
    } else {
        Err(counts)
    }
}

/// What an alarm on the group would do now, as `status` reports it: the alarm's plan, and for a shift the
/// opt-in of the listener actions it would change (the same facts a shift would gather).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AlarmWould {
    /// Follow the plan as it stands.
    Plan,
    /// Shift the opted-in actions, leaving out these (not opted in).
    ShiftLeavingOut(Vec<Location>),
    /// Refuse the shift: every action that would move traffic is not opted in.
    RefuseNotOptedIn(Vec<Location>),
}

/// `shift` is what [`plan_shift`] says for the group's backup, when it has a usable one.
pub fn alarm_now_would(plan: &Plan, shift: Option<&ShiftChanges>) -> AlarmWould {
    match (plan, shift.map(ShiftChanges::verdict)) {
        (Plan::ShiftTraffic { .. }, Some(ShiftVerdict::RefuseNotOptedIn)) => {
            AlarmWould::RefuseNotOptedIn(shift.map(|s| s.not_opted_in.clone()).unwrap_or_default())
        }
        (Plan::ShiftTraffic { .. }, Some(ShiftVerdict::Shift { partly: true })) => {
            AlarmWould::ShiftLeavingOut(shift.map(|s| s.not_opted_in.clone()).unwrap_or_default())
        }
        _ => AlarmWould::Plan,
    }
}

/// One forward action to re-weight.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeightChange {
    pub location: Location,
    pub before: Vec<Weight>,
    pub after: Vec<Weight>,
}

#[cfg(test)]
mod tests;
