//! The schedule's tick (an EventBridge `Scheduled Event`, every minute): completes the restore holds that are
//! due ([`super::hold`]), and the zonal shifts held after their alarm's OK ([`super::zonal::hold`]). No event arrives when a hold ends, so one periodic tick looks for them: the index
//! ([`hold::HOLDS`], one `Query`) names the groups with a hold due; each group is completed in its own ledger
//! attempt loop, so the tick, an alarm and a person's `restore` never act on one group at once, and a tick
//! that dies half-way is simply done again by the next one (registering a registered target changes nothing).
//!
//! Per group with a removal whose hold has passed, or whose targets came back at an earlier tick: the targets
//! still out are registered again (their removal gets `returned_at`), then the group's health is read once:
//! - a target that passes its health check (healthy, or health checks disabled) serves: its removal closes;
//! - one still `initial` is checked again at the next tick ([`decide::recovery::returned`]: for at most
//!   `RESTORE_HOLD_MINUTES`, and at least [`MIN_PROBATION_MINUTES`]); the load balancer sends it no traffic
//!   until it passes;
//! - one failing its health check (or still `initial` after that) is deregistered again and stays out until a
//!   person runs `restore` (its removal stays open with `stays_out`), and the notification says so.
//!
//! AWS calls: the pause (one `GetItem`), the index (one `Query`); per due group its tags (`DescribeTags`), its
//! ledger (`Query`), `DescribeTargetHealth`, `begin`, `RegisterTargets` (when targets are still out),
//! `DescribeTargetHealth` again, `DeregisterTargets` (when some fail), `end`; then, when groups are done, the
//! index's entries closed (`begin` and `end` on the index). Per due load balancer, [`super::zonal::return_zone`]'s
//! calls (`DescribeAlarms`, then `CancelZonalShift` inside its `begin`/`end`). Nothing is published for a tick
//! with nothing due.

use std::collections::BTreeMap;

use failover_core::ledger::{Ledger, Record, Settle, Snapshot, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

use super::hold::{self, secs, HOLDS, HOLD_UNTIL, RETURNED_AT, STAYS_OUT};
use super::ledger::{open, removed_targets, settle_from};
use super::{alarm::MAX_CONCURRENT_GROUPS, reinstate, zonal, Context};
use crate::decide::recovery::{returned, Returned};
use crate::model::{group_name, Target};
use crate::ports::{LoadBalancer, Ports};
use crate::report::{self, action, count, join};

/// The shortest time a target registered again may stay `initial` before it counts as failing: a default
/// health check (5 checks 30 s apart) needs 2.5 minutes.
pub const MIN_PROBATION_MINUTES: u32 = 5;

/// The tick: the groups whose holds are due, completed [`MAX_CONCURRENT_GROUPS`] at a time; their index
/// entries closed once nothing is held there any more.
pub async fn on_tick<P: Ports>(ctx: &Context<'_, P>) -> Vec<Report> {
    match ctx.session.ledger.paused().await {
        Ok(Some(pause)) => {
            let reason = format!("automation paused by {}: the restore holds wait for `resume`", pause.by);
            return vec![report::skipped(None, action::NONE, reason)];
        }
        Ok(None) => {}
        Err(e) => return vec![report::failed(None, action::REGISTER, &e, "reading the pause")],
    }
    let index = match ctx.session.read(HOLDS).await {
        Ok(index) => index,
        Err(e) => return vec![report::failed(None, action::REGISTER, &e, "reading the restore holds")],
    };
    let now = ctx.now();
    // (is a load balancer, its ARN) → the due entries' keys.
    let mut due: BTreeMap<(bool, String), Vec<String>> = BTreeMap::new();
    for entry in index.records.iter().filter(|r| open(r) && secs(r, "due_at").is_some_and(|at| at <= now)) {
        let text = |field: &str| entry.data.get(field).and_then(Value::as_str).map(str::to_owned);
        let held = text("group").map(|g| (false, g)).or_else(|| text(zonal::hold::LOAD_BALANCER).map(|l| (true, l)));
        if let Some(held) = held {
            due.entry(held).or_default().push(entry.key.clone());
        }
    }
    if due.is_empty() {
        return vec![report::skipped(None, action::NONE, "no restore hold is due")];
    }
    let done: Vec<(Vec<Report>, Option<Vec<String>>)> = stream::iter(due)
        .map(async |((zonal, arn), keys)| {
            let (reports, settled) = if zonal { return_zone(ctx, &arn).await } else { complete(ctx, &arn).await };
            (reports, settled.then_some(keys))
        })
        .buffer_unordered(MAX_CONCURRENT_GROUPS)
        .collect()
        .await;
    let (mut reports, closed): (Vec<Vec<Report>>, Vec<Option<Vec<String>>>) = done.into_iter().unzip();
    let closed: Vec<String> = closed.into_iter().flatten().flatten().collect();
    if !closed.is_empty() {
        reports.push(close_entries(ctx, &closed).await);
    }
    reports.into_iter().flatten().collect()
}

/// A load balancer's due zonal holds: its shifts whose hold has passed cancelled, or kept while an alarm about
/// their zone is in ALARM ([`zonal::return_zone`]); `true` unless it failed or was refused (paused: the hold
/// stays due, and a tick after `resume` returns the zone), so that its index entries may close.
async fn return_zone<P: Ports>(ctx: &Context<'_, P>, lb: &str) -> (Vec<Report>, bool) {
    let ask = zonal::return_zone::Return {
        load_balancer: lb,
        zone: None,
        alarm_arn: None,
        dry_run: ctx.config.common.dry_run,
        mode: crate::config::Failback::Auto,
        owed: false,
        silenced: false,
        due: true,
    };
    let reports = zonal::return_zone::run(ctx, ask).await;
    let settled = reports.iter().all(|r| r.error.is_none() && !matches!(r.outcome, Outcome::Failed | Outcome::Refused));
    (reports, settled)
}

/// Closes the index entries of the groups with nothing held any more (those still open as read).
async fn close_entries<P: Ports>(ctx: &Context<'_, P>, keys: &[String]) -> Vec<Report> {
    ctx.attempt(HOLDS, action::REGISTER, async |snapshot| {
        let settle: Vec<Settle> = keys
            .iter()
            .filter_map(|k| snapshot.record(k))
            .filter(|r| open(r))
            .map(|r| settle_from(r, failover_core::ledger::State::Closed))
            .collect();
        if settle.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(refusal) = ctx.begin(&snapshot, &[], action::REGISTER, "close the restore holds done").await? {
            return Ok(vec![refusal]);
        }
        Ok(match ctx.session.end(HOLDS, &settle, &[]).await {
            Ok(()) => Vec::new(),
            Err(e) => vec![report::fault(None, action::REGISTER, &e, "closing the restore holds done")],
        })
    })
    .await
}

/// One group's due holds; `true` when nothing is held there any more (its index entries may close).
async fn complete<P: Ports>(ctx: &Context<'_, P>, group: &str) -> (Vec<Report>, bool) {
    let tags = match ctx.lb.tags(&[group.to_owned()]).await {
        Ok(mut tagged) => tagged.pop().and_then(|(_, tags)| tags),
        Err(e) => return (vec![report::failed(Some(group), action::REGISTER, &e, "reading tags")], false),
    };
    let Some(tags) = tags else {
        return (vec![report::skipped(Some(group), action::NONE, "the target group does not exist")], true);
    };
    if !failover_core::tags::opted_in(&tags, ctx.opt_in_key()) {
        let reason =
            format!("not opted in (tag {}=true missing): its held targets wait for `restore`", ctx.opt_in_key());
        return (vec![report::skipped(Some(group), action::NONE, reason)], true);
    }
    let mut settled = false;
    let reports = ctx
        .on_group(group, action::REGISTER, None, async |snapshot| {
            let (reports, done) = complete_once(ctx, group, &snapshot).await?;
            settled = done;
            Ok(reports)
        })
        .await;
    (reports, settled)
}

/// What became of one removal's targets at this tick.
#[derive(Default)]
struct Outcomes {
    serving: Vec<Target>,
    waiting: Vec<Target>,
    failing: Vec<Target>,
}

async fn complete_once<P: Ports>(ctx: &Context<'_, P>, arn: &str, snapshot: &Snapshot) -> Step<(Vec<Report>, bool)> {
    let now = ctx.now();
    let held: Vec<&Record> = snapshot
        .records
        .iter()
        .filter(|r| open(r) && r.key.starts_with("removal#") && r.data.get(STAYS_OUT).is_none())
        .filter(|r| secs(r, RETURNED_AT).is_some() || secs(r, HOLD_UNTIL).is_some_and(|until| until <= now))
        .collect();
    if held.is_empty() {
        return Ok((vec![report::skipped(Some(arn), action::NONE, "no restore hold is due here")], true));
    }
    let before = match ctx.lb.target_health(arn).await {
        Ok(Some(targets)) => targets,
        Ok(None) => {
            return Ok((vec![report::skipped(Some(arn), action::NONE, "the target group does not exist")], true))
        }
        Err(e) => return Ok((vec![report::failed(Some(arn), action::REGISTER, &e, "reading target health")], false)),
    };
    let outs: Vec<Vec<(Target, String)>> = held.iter().map(|r| hold::stays_out(ctx, snapshot, r)).collect();
    let returning = |r: &Record, out: &[(Target, String)]| -> Vec<Target> {
        removed_targets(r).into_iter().filter(|t| !out.iter().any(|(o, _)| o == t)).collect()
    };
    let mut register: Vec<Target> = held
        .iter()
        .zip(&outs)
        .flat_map(|(r, out)| returning(r, out))
        .filter(|t| !before.iter().any(|h| !h.state.leaving() && h.target.matches(t)))
        .collect();
    register.sort();
    register.dedup();
    let planned = format!("register {} in {arn} again after the hold", join(register.iter()));
    if let Some(refusal) = ctx.begin(snapshot, &[], action::REGISTER, &planned).await? {
        return Ok((vec![refusal], false));
    }
    let missing = match reinstate::register(ctx, arn, &register).await {
        Ok(missing) => missing,
        Err(e) => {
            let released = ctx.end(arn, &[], &[]).await.err();
            let mut reports =
                vec![report::failed(Some(arn), action::REGISTER, &e, "registering targets after the hold")];
            reports.extend(released.map(|f| report::fault(Some(arn), action::REGISTER, &f, "releasing the group")));
            return Ok((reports, false));
        }
    };
    let after = ctx.lb.target_health(arn).await.ok().flatten();
    let probation = i64::from(ctx.config.restore_hold_minutes.max(MIN_PROBATION_MINUTES)) * 60;
    let mut per_record: Vec<Outcomes> = Vec::new();
    for (record, out) in held.iter().zip(&outs) {
        let since = secs(record, RETURNED_AT).unwrap_or(now);
        let mut outcomes = Outcomes::default();
        for target in returning(record, out).into_iter().filter(|t| !missing.contains(t)) {
            let verdict = match &after {
                // Health unreadable: judged at the next tick.
                None => Returned::Waiting,
                Some(after) => {
                    let state = after.iter().find(|h| !h.state.leaving() && h.target.matches(&target)).map(|h| h.state);
                    returned(state, since, now, probation)
                }
            };
            match verdict {
                Returned::Serving => outcomes.serving.push(target),
                Returned::Waiting => outcomes.waiting.push(target),
                Returned::Failing => outcomes.failing.push(target),
            }
        }
        per_record.push(outcomes);
    }
    let failing: Vec<Target> = per_record.iter().flat_map(|o| o.failing.clone()).collect();
    let taken_out = if failing.is_empty() { Ok(()) } else { ctx.lb.deregister(arn, &failing).await };
    let why = "failed its health check after the hold".to_owned();
    let settle: Vec<Settle> = held
        .iter()
        .zip(&outs)
        .zip(&per_record)
        .map(|((record, out), outcomes)| {
            if !outcomes.waiting.is_empty() || (!outcomes.failing.is_empty() && taken_out.is_err()) {
                let mut data = record.data.clone();
                data[RETURNED_AT] = json!(secs(record, RETURNED_AT).unwrap_or(now));
                return settle_from(record, failover_core::ledger::State::Done).with_data(data);
            }
            let mut out = out.clone();
            out.extend(outcomes.failing.iter().map(|t| (t.clone(), why.clone())));
            hold::after_return(ctx, record, &out)
        })
        .collect();
    let ended = ctx.end(arn, &settle, &[]).await;
    let waiting: Vec<Target> = per_record.iter().flat_map(|o| o.waiting.clone()).collect();
    let serving: Vec<Target> = per_record.iter().flat_map(|o| o.serving.clone()).collect();
    let mut reports = Vec::new();
    if let Err(e) = &taken_out {
        reports.push(report::failed(
            Some(arn),
            action::DEREGISTER,
            e,
            "taking out again targets that failed their health check",
        ));
    }
    if let Err(e) = ended {
        reports.push(report::fault(Some(arn), action::REGISTER, &e, "recording the targets that came back"));
    }
    let settled = reports.is_empty() && waiting.is_empty();
    let failed_out: Vec<(Target, String)> =
        if taken_out.is_ok() { failing.iter().map(|t| (t.clone(), why.clone())).collect() } else { Vec::new() };
    if let Some(report) = told(arn, &register, &serving, &waiting, &failed_out, &missing) {
        reports.push(report);
    }
    if reports.is_empty() {
        reports.push(report::skipped(Some(arn), action::NONE, "targets registered after the hold are still initial"));
    }
    Ok((reports, settled))
}

/// The tick's notification for a group: nothing when only targets registered at an earlier tick are still
/// `initial` (told once, when registered, and once more when judged).
fn told(
    arn: &str,
    registered: &[Target],
    serving: &[Target],
    waiting: &[Target],
    failing: &[(Target, String)],
    missing: &[Target],
) -> Option<Report> {
    if registered.is_empty() && serving.is_empty() && failing.is_empty() {
        return None;
    }
    let mut parts = Vec::new();
    if !serving.is_empty() {
        parts.push(format!("{} passed the group's health check and serve again", join(serving.iter())));
    }
    if !waiting.is_empty() {
        parts.push(format!(
            "{} are registered again and get traffic once they pass the group's health check (checked at the next tick)",
            join(waiting.iter())
        ));
    }
    if let Some(text) = hold::out_text(arn, failing) {
        parts.push(format!("{text}; they were deregistered again"));
    }
    if !missing.is_empty() {
        parts.push(format!("{} no longer exist and were skipped", join(missing.iter())));
    }
    let (outcome, severity, title) = if failing.is_empty() {
        (
            Outcome::Succeeded,
            Severity::Info,
            format!("{}: {} back after the hold", group_name(arn), count(serving.len() + waiting.len(), "target")),
        )
    } else {
        (
            Outcome::Succeeded,
            Severity::Warning,
            format!(
                "{}: {} failed after the hold, out until restored",
                group_name(arn),
                count(failing.len(), "target")
            ),
        )
    };
    let stays: Vec<&Target> = failing.iter().map(|(t, _)| t).collect();
    Some(
        report::about(arn, action::REGISTER, outcome, severity, title)
            .summary(format!("The restore hold on {arn} has passed: {}.", parts.join("; ")))
            .details(json!({"serving": serving, "waiting": waiting, "stays_out": stays, "missing": missing}))
            .steps([format!("Watch the group's health: {}", report::command("status", arn))]),
    )
}
