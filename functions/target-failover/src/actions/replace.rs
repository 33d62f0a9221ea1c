//! Replace: with `REPLACE_INSTANCES=true`, the instances a removal took out are handed to their Auto Scaling
//! group (`SetInstanceHealth` Unhealthy, `ShouldRespectGracePeriod=true`), which terminates and replaces each
//! one; the replacement registers itself through the group's target group attachment. Only groups that carry
//! the opt-in tag are asked ([`crate::decide::replace`]); an instance in no group or in a group not opted in is a
//! logged skip listed in the notification. So is an instance still in service in another target group (read
//! only when some instance is about to be marked, once per invocation however many groups hand it over,
//! [`super::handover`]): marking it would terminate a target that group still counts on. Off: no Auto Scaling
//! call at all. Dry runs and IP targets: none. With `ShouldRespectGracePeriod=true` Auto Scaling ignores the mark
//! of an instance in its group's health check grace period (it is not kept for later): the notification's
//! `Replace … by hand` step does it once the period is over.
//!
//! Its facts ([`facts`]) are read beside the removal's `begin` and `DeregisterTargets`; it decides and marks
//! ([`act`]) inside the removal's lease, after `DeregisterTargets` succeeded and before `end`: what it did goes into
//! the removal record's data (`replacement`: `handed`, `left`, and `owed`, the instances a failed call left
//! unmarked), so `status` shows it. A failed call is a `failed` entry with the command that does it by hand;
//! the removal stays done. When the failure is transient, Lambda's retry of the same event (same trigger and
//! state timestamp) finds the owed instances in the record and marks them (`owed` below), never one twice.
//!
//! The removal record closes when its instances are gone: at the next event on the group once Auto Scaling has
//! taken every one of them out of its group ([`close_replaced`]), or, as before, on the OK of the alarm that made
//! it (a replaced instance is terminated, so registering it again is refused, `InvalidTarget`, and it is listed
//! as missing).
//!
//! AWS calls (`REPLACE_INSTANCES=true`, instance targets, not a dry run), beside the removal's `begin`:
//! one `DescribeAutoScalingInstances` per 50 instances, one Auto Scaling `DescribeTags` per 50 groups found
//! (none when no instance is in a group), and, only when some instance is then to be marked and only once per
//! invocation, one `DescribeTargetGroups` (paginated: every instance-type group; none after an instance alarm's
//! own) and one `DescribeTargetHealth` per such group the invocation has not read yet, a few at once
//! ([`super::handover::MAX_CONCURRENT_READS`]); inside its `begin`/`end`, one `SetInstanceHealth` per instance
//! to mark. The retry that marks what a failed call owed makes
//! those calls for the owed instances, in one more `begin`/`end` (two ledger `TransactWriteItems`). While a
//! removal whose instances were all handed over is open, each event on its group first makes one
//! `DescribeAutoScalingInstances`, and closes the record (`begin`/`end`) once they are gone.

use failover_core::aws::AwsError;
use failover_core::ledger::{Record, Snapshot, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::handover::GroupsHealth;
use super::ledger::{open, removed_targets, settle_from};
use super::Context;
use crate::decide::replace::{
    is_instance, plan_replacements, replaced_all, still_serving, without_removed, Handed, Left, Replacements,
};
use crate::model::group_name;
use crate::ports::{Fleet, Ports};
use crate::report::{self, action, count, join};

/// The removal record's data field that says what was handed to Auto Scaling.
pub const FIELD: &str = "replacement";

/// What the replacement of one removal did.
#[derive(Debug, Default)]
pub struct Replaced {
    pub handed: Vec<Handed>,
    pub left: Vec<Left>,
    /// Instances not marked because a call failed: the retry of the event marks them.
    pub owed: Vec<String>,
    pub failure: Option<AwsError>,
}

impl Replaced {
    /// The removal record's `replacement` field: what an earlier run recorded there (`before`, or null), with
    /// this run's instances handed over and left added, and what is still owed.
    pub fn data(&self, before: &Value) -> Value {
        let list = |field: &str| before.get(field).and_then(Value::as_array).cloned().unwrap_or_default();
        let mut handed = list("handed");
        handed.extend(self.handed.iter().map(|h| json!(h)));
        let mut left = list("left");
        left.extend(self.left.iter().map(|l| json!(l)));
        json!({"handed": handed, "left": left, "owed": self.owed})
    }
}

/// Whether the removal of these targets (ids) hands any to Auto Scaling: the setting is on and one is an instance.
pub fn wanted<P: Ports>(ctx: &Context<'_, P>, ids: &[String]) -> bool {
    ctx.config.replace_instances && ids.iter().any(|id| is_instance(id))
}

/// What a hand-over reads beside its removal's `begin` (no change): the instances' Auto Scaling groups
/// (`DescribeAutoScalingInstances`, then Auto Scaling `DescribeTags`) and, only when some instance is then to be
/// marked, the candidate target groups, read once per invocation ([`super::handover`]).
pub struct Facts {
    instances: Vec<String>,
    /// Instances an earlier run of the event handed over.
    handed: Vec<String>,
    read: Result<(Replacements, Option<Result<GroupsHealth, AwsError>>), AwsError>,
}

/// Reads the [`Facts`] of handing `ids` over; `handed`: instances an earlier run of the event handed over.
pub async fn facts<P: Ports>(ctx: &Context<'_, P>, ids: &[String], handed: &[String]) -> Facts {
    let instances: Vec<String> = ids.iter().filter(|id| is_instance(id)).cloned().collect();
    let read = match ctx.lb.scaling_groups(&instances).await {
        Ok(groups) => {
            let plan = plan_replacements(&instances, &groups, handed, ctx.opt_in_key());
            let others = if plan.mark.is_empty() { None } else { Some(ctx.handover.candidates(ctx.lb).await) };
            Ok((plan, others))
        }
        Err(e) => Err(e),
    };
    Facts { instances, handed: handed.to_vec(), read }
}

/// Decides on the [`Facts`] once the removal from `arn` is made (under its lease) and marks the instances of
/// opted-in groups unhealthy, one at a time, stopping at the first failed call (the rest is owed). An instance
/// still in service in another instance-type group ([`still_serving`]; a group this invocation removed it from
/// no longer counts, [`without_removed`]) is left, and so is one this invocation handed over already. A
/// transient failure of the reads owes every instance; another failure of the candidate groups' read leaves
/// the instances to mark, saying why.
pub async fn act<P: Ports>(ctx: &Context<'_, P>, arn: &str, facts: Facts) -> Replaced {
    let Facts { instances, handed, read } = facts;
    let mut done = Replaced::default();
    let owe_all = |mut done: Replaced, e: AwsError| {
        done.owed = instances.iter().filter(|i| !handed.contains(i)).cloned().collect();
        done.failure = Some(e);
        done
    };
    let (mut plan, others) = match read {
        Ok(read) => read,
        Err(e) => return owe_all(done, e),
    };
    match others {
        None => {}
        Some(Ok(others)) => {
            let others = others.into_iter().filter(|(group, _)| group != arn).collect();
            plan = still_serving(plan, &without_removed(others, &ctx.handover.removals()));
        }
        Some(Err(e)) if e.transient => return owe_all(done, e),
        Some(Err(e)) => {
            let why = format!("cannot tell whether it still serves in another target group: {}", e.message);
            tracing::warn!(target_group = %arn, error = %e.message, "not replacing removed instances");
            let marks = std::mem::take(&mut plan.mark);
            plan.left.extend(marks.into_iter().map(|m| Left {
                instance: m.instance,
                group: Some(m.group),
                why: why.clone(),
            }));
        }
    }
    for left in &plan.left {
        let group = left.group.as_deref().unwrap_or("-");
        tracing::info!(instance = %left.instance, group, why = %left.why, "not replacing a removed instance");
    }
    done.left = plan.left;
    let mut marks = plan.mark.into_iter();
    for mark in marks.by_ref() {
        if !ctx.handover.claim(&mark.instance) {
            let why = "already handed to its Auto Scaling group".to_owned();
            done.left.push(Left { instance: mark.instance, group: Some(mark.group), why });
            continue;
        }
        tracing::info!(instance = %mark.instance, group = %mark.group, "marking a removed instance unhealthy");
        match ctx.lb.mark_unhealthy(&mark.instance).await {
            Ok(()) => done.handed.push(mark),
            Err(e) if gone(&e) => {
                let why = "no longer in its Auto Scaling group (replaced already)".to_owned();
                done.left.push(Left { instance: mark.instance, group: Some(mark.group), why });
            }
            Err(e) => {
                done.owed.push(mark.instance);
                done.failure = Some(e);
                break;
            }
        }
    }
    done.owed.extend(marks.map(|m| m.instance));
    done
}

/// AWS's answer to `SetInstanceHealth` for an instance that has left its group since it was read (another
/// group of the same event handed it over first, or a person terminated it): nothing left to replace.
fn gone(error: &AwsError) -> bool {
    error.code.as_deref() == Some("ValidationError") && error.message.contains("not found")
}

/// The reports of a replacement about the group `arn`: one `set-instance-health` entry when instances were
/// handed over, one `failed` entry when a call failed; none when every instance was left (the removal's
/// report lists them).
pub fn reports(arn: &str, replaced: &Replaced) -> Vec<Report> {
    let mut reports = Vec::new();
    let name = group_name(arn);
    if !replaced.handed.is_empty() {
        let list = join(replaced.handed.iter().map(|h| format!("{} (group {})", h.instance, h.group)));
        let groups: std::collections::BTreeSet<&String> = replaced.handed.iter().map(|h| &h.group).collect();
        let watch = "Watch the replacement: aws autoscaling describe-scaling-activities --auto-scaling-group-name";
        let title =
            format!("{name}: {} handed to Auto Scaling for replacement", count(replaced.handed.len(), "instance"));
        let left = if replaced.left.is_empty() {
            String::new()
        } else {
            format!(" Not replaced: {}.", join(replaced.left.iter().map(|l| format!("{} ({})", l.instance, l.why))))
        };
        reports.push(
            report::about(arn, action::SET_INSTANCE_HEALTH, Outcome::Succeeded, Severity::Warning, title)
                .summary(format!(
                    "Marked {list} Unhealthy (SetInstanceHealth, ShouldRespectGracePeriod=true): each group terminates \
                     the instance and launches a replacement, which registers itself through the group's target \
                     group attachment. Auto Scaling ignores the mark while an instance is in its group's health \
                     check grace period: if one is not replaced, run its \"Replace ... by hand\" step once the \
                     period is over.{left}"
                ))
                .details(json!({"handed": replaced.handed, "left": replaced.left}))
                .steps(
                    groups
                        .iter()
                        .map(|group| format!("{watch} {group}"))
                        .chain(replaced.handed.iter().map(|h| fix_command(&h.instance))),
                ),
        );
    }
    if let Some(error) = &replaced.failure {
        let doing = "handing removed instances to Auto Scaling (the targets stay deregistered)";
        let mut failed = report::failed(Some(arn), action::SET_INSTANCE_HEALTH, error, doing);
        if let Some(details) = failed.details.as_object_mut() {
            details.insert("owed".into(), json!(replaced.owed));
        }
        failed.next_steps.extend(replaced.owed.iter().map(|id| fix_command(id)));
        reports.push(failed);
    }
    reports
}

/// The command that does one owed replacement by hand.
pub fn fix_command(instance: &str) -> String {
    format!(
        "Replace {instance} by hand: aws autoscaling set-instance-health --instance-id {instance} --health-status \
         Unhealthy --should-respect-grace-period"
    )
}

/// What a removal record's `replacement` says: instances handed over, and owed.
fn recorded(record: &Record) -> (Vec<Handed>, Vec<String>) {
    let field = record.data.get(FIELD);
    let handed = field
        .and_then(|f| serde_json::from_value::<Vec<HandedIn>>(f.get("handed")?.clone()).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|h| Handed { instance: h.instance, group: h.group })
        .collect();
    let owed =
        field.and_then(|f| serde_json::from_value::<Vec<String>>(f.get("owed")?.clone()).ok()).unwrap_or_default();
    (handed, owed)
}

#[derive(serde::Deserialize)]
struct HandedIn {
    instance: String,
    group: String,
}

/// What every alarm event on a group does first with `REPLACE_INSTANCES=true` (not in a dry run): close the
/// removals Auto Scaling has finished replacing ([`close_replaced`]), then, for the retry of an ALARM event
/// whose replacement failed, mark what it owes (`owed`). `Ok(Some(reports))` ends the event's work on the
/// group with them; `Ok(None)` lets it go on.
pub async fn follow_up<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    snapshot: &Snapshot,
    recovered: bool,
) -> Step<Option<Vec<Report>>> {
    if !ctx.config.replace_instances || ctx.config.common.dry_run {
        return Ok(None);
    }
    if let Some(failed) = close_replaced(ctx, arn, snapshot).await? {
        return Ok(Some(vec![failed]));
    }
    if recovered {
        return Ok(None);
    }
    owed(ctx, arn, snapshot).await
}

/// "The ledger closes the removal when the instance is gone": a removal whose targets were all handed to Auto
/// Scaling and have all left their groups ([`crate::decide::replace::replaced_all`]: one
/// `DescribeAutoScalingInstances`, only when such a removal is open) is closed, without waiting for its alarm's
/// OK (an alarm on a terminated instance's own metric may never return to OK), so that its baseline stops
/// holding the group's floor. The event then goes on; its own `begin` finds the ledger changed and starts over
/// on fresh facts. A failed read is logged and leaves the records to the next event; `Some` is a failed
/// ledger write.
pub async fn close_replaced<P: Ports>(ctx: &Context<'_, P>, arn: &str, snapshot: &Snapshot) -> Step<Option<Report>> {
    let candidates: Vec<(&Record, Vec<String>, Vec<String>)> = snapshot
        .records
        .iter()
        .filter(|r| r.state == State::Done && r.key.starts_with("removal#"))
        .filter_map(|r| {
            let handed: Vec<String> = recorded(r).0.into_iter().map(|h| h.instance).collect();
            let targets: Vec<String> = removed_targets(r).into_iter().map(|t| t.id).collect();
            (!handed.is_empty() && targets.iter().all(|t| handed.contains(t))).then_some((r, targets, handed))
        })
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let mut ids: Vec<String> = candidates.iter().flat_map(|(_, targets, _)| targets.iter().cloned()).collect();
    ids.sort();
    ids.dedup();
    let in_groups = match ctx.lb.scaling_groups(&ids).await {
        Ok(in_groups) => in_groups,
        Err(e) => {
            tracing::warn!(target_group = %arn, error = %e.message, "cannot tell whether replaced instances are gone");
            return Ok(None);
        }
    };
    let settle: Vec<_> = candidates
        .iter()
        .filter(|(_, targets, handed)| replaced_all(targets, handed, &in_groups))
        .map(|(record, targets, _)| {
            let list = join(targets.iter());
            tracing::info!(target_group = %arn, record = %record.key, targets = %list, "closing a replaced removal");
            let mut data = record.data.clone();
            data["closed_because"] = json!("replaced by Auto Scaling: the instances left their groups");
            settle_from(record, State::Closed).with_data(data)
        })
        .collect();
    ctx.settle_only(snapshot, &settle, action::SET_INSTANCE_HEALTH).await
}

/// The retry of an ALARM event whose replacement failed: the group's removal records of this very event (same
/// trigger and state timestamp) that still owe instances get them marked, in one `begin`/`end` that records
/// the outcome. `Ok(None)` when nothing is owed.
async fn owed<P: Ports>(ctx: &Context<'_, P>, arn: &str, snapshot: &Snapshot) -> Step<Option<Vec<Report>>> {
    let Some(at) = ctx.event_at else { return Ok(None) };
    let owing: Vec<&Record> = snapshot
        .records
        .iter()
        .filter(|r| open(r) && r.state == State::Done && r.key.starts_with("removal#") && r.trigger == ctx.trigger)
        .filter(|r| r.data.get("event_at").and_then(Value::as_i64) == Some(at))
        .filter(|r| !recorded(r).1.is_empty())
        .collect();
    let Some(record) = owing.first() else { return Ok(None) };
    let (before, owed) = recorded(record);
    let handed: Vec<String> = before.iter().map(|h| h.instance.clone()).collect();
    let facts = facts(ctx, &owed, &handed).await;
    let planned = format!("mark {} unhealthy in their Auto Scaling groups", join(owed.iter()));
    if let Some(refusal) = ctx.begin(snapshot, &[], action::SET_INSTANCE_HEALTH, &planned).await? {
        return Ok(Some(vec![refusal]));
    }
    let replaced = act(ctx, arn, facts).await;
    let mut data = record.data.clone();
    data[FIELD] = replaced.data(record.data.get(FIELD).unwrap_or(&Value::Null));
    let ended = ctx.end(arn, &[settle_from(record, State::Done).with_data(data)], &[]).await;
    let mut reports = reports(arn, &replaced);
    if let Err(e) = ended {
        let doing = "recording the replacement in the removal record";
        reports.push(report::fault(Some(arn), action::SET_INSTANCE_HEALTH, &e, doing));
    }
    Ok(Some(reports))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, message: &str) -> AwsError {
        AwsError {
            operation: "SetInstanceHealth",
            resource: "i-1".into(),
            code: Some(code.into()),
            transient: false,
            message: message.into(),
        }
    }

    #[test]
    fn an_instance_that_left_its_group_is_gone_and_other_errors_are_not() {
        let found = "Instance Id not found - No managed instance found for instance ID: i-1";
        assert!(gone(&error("ValidationError", found)));
        assert!(!gone(&error("ValidationError", "Valid instance health states are: [Healthy, Unhealthy].")));
        assert!(!gone(&error("Throttling", "Rate exceeded")));
    }
}
