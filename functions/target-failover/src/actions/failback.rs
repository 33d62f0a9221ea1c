//! Failback: restore the weights the group's open `shift#` records hold. Facts: the listener actions
//! forwarding to the group and their opt-in; then [`decide::plan_failback`]; then (after `begin` takes the
//! group's lease) each restored action is re-weighted and only *after* that does `end` close its record, so an
//! interrupted failback completes on the next event. A failback that closes the last open record of the
//! group's incident notifies its durations ([`super::timeline::closing`]). Records of actions gone or already serving the group are
//! closed; those left to a person (not opted in, changed since the shift) stay open. With `FAILBACK=manual`
//! an alarm's OK only announces that the group is ready. A network load balancer's listener that a shift
//! pointed at the backup is found among the backup's actions and pointed back.
//!
//! AWS calls: the listener actions forwarding to the group, as a shift reads them
//! ([`super::Context::forwarding`]: `DescribeTargetGroups`, `DescribeListeners` per load balancer,
//! `DescribeRules` per listener, `DescribeTags` per 20 listeners and rules), and the same reads again for the
//! backup group when a saved action forwarded to the group alone (a network load balancer's); then `begin`
//! (one ledger `TransactWriteItems`), one `ModifyListener` or `ModifyRule` per action restored, and `end` (one
//! more). Records that only need closing take `begin` and `end` with no ELB write.

use failover_core::ledger::{Snapshot, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::ledger::{self, settle_from};
use super::Context;
use crate::config::Failback;
use crate::decide::{self, Counts};
use crate::model::group_name;
use crate::ports::Ports;
use crate::report::{self, action, add_tag_step, count, describe_changes, join, not_opted_in_text};

pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    snapshot: &Snapshot,
    counts: Counts,
    backup: Option<&str>,
    dry_run: bool,
    mode: Failback,
) -> Step<Vec<Report>> {
    let name = group_name(arn);
    // Read, plan and write the listener actions alone ([`super::Context::listeners`]).
    let _listeners = ctx.listeners.lock().await;
    let mut forwarding = match ctx.forwarding(arn).await {
        Ok(forwarding) => forwarding,
        Err((e, doing)) => return Ok(vec![report::failed(Some(arn), action::FAILBACK, &e, doing)]),
    };
    // An alarm's OK fails back only the shifts alarms made; the `failback` command any.
    let by_alarm = ctx.trigger.starts_with("alarm ");
    let saved = if by_alarm { ledger::saved_by_alarms(snapshot) } else { ledger::saved_weights(snapshot) };
    // A single-group action (a network load balancer's) the shift pointed at the backup no longer names the
    // group: it is found among the backup's, at the location its shift record keeps.
    let missing = saved.keys().any(|k| !forwarding.actions.iter().any(|a| &a.location.key() == k));
    if let (Some(backup), true) = (backup, missing) {
        let more = match ctx.forwarding(backup).await {
            Ok(more) => more,
            Err((e, doing)) => return Ok(vec![report::failed(Some(arn), action::FAILBACK, &e, doing)]),
        };
        for (action, original) in more.actions.into_iter().zip(more.originals) {
            let key = action.location.key();
            if saved.contains_key(&key) && !forwarding.actions.iter().any(|a| a.location.key() == key) {
                if more.opted_in.contains(action.location.arn()) {
                    forwarding.opted_in.insert(action.location.arn().to_owned());
                }
                forwarding.actions.push(action);
                forwarding.originals.push(original);
            }
        }
    }
    let plan = decide::plan_failback(&forwarding.actions, arn, backup, &saved, &forwarding.opted_in);
    let records = ledger::resource(arn);
    // Closes the shift records of these location keys (from the state they were read in); those `restored`
    // are stamped with the event, which owes their notification ([`super::Context::closing`]).
    let close = |keys: &mut dyn Iterator<Item = &String>, restored: bool| -> Vec<_> {
        let records = keys.filter_map(|k| snapshot.record(&format!("shift#{k}")));
        records.map(|r| if restored { ctx.closing(r) } else { settle_from(r, State::Closed) }).collect()
    };
    let details = json!({
        "counts": counts,
        "backup": backup,
        "changes": plan.changes,
        "conflicts": plan.conflicts,
        "not_opted_in": plan.not_opted_in,
        "stale_shift_records": plan.stale_keys,
    });
    let failback_command = report::command("failback", arn);
    // Actions left for a person: notified as refused, with what to do.
    let left_alone = |title: String, summary: String, steps: Vec<String>| {
        report::about(arn, action::FAILBACK, Outcome::Refused, Severity::Warning, title)
            .summary(summary)
            .details(details.clone())
            .steps(steps)
    };
    let mut reports = Vec::new();
    if !plan.not_opted_in.is_empty() {
        let key = ctx.opt_in_key();
        reports.push(left_alone(
            format!("{name}: {} not opted in, not restored", count(plan.not_opted_in.len(), "listener action")),
            format!(
                "Not restored: {}. Their weights before the shift stay in the ledger (records shift#* of \
                 {records}).",
                not_opted_in_text(key, &plan.not_opted_in),
            ),
            vec![
                add_tag_step(key, &plan.not_opted_in),
                format!("Then fail back with the manual command {failback_command}"),
            ],
        ));
    }
    if !plan.conflicts.is_empty() {
        let list = join(plan.conflicts.iter().map(|(location, why)| format!("{location}: {why}")));
        reports.push(left_alone(
            format!("{name}: {} changed since the shift", count(plan.conflicts.len(), "listener action")),
            format!("Not restored automatically, because they changed since the shift: {list}."),
            vec![format!(
                "Set the weights by hand; the weights before the shift are in the ledger (records shift#* of \
                 {records}), which stay open until a failback finds them stale."
            )],
        ));
    }
    if plan.changes.is_empty() {
        if !plan.stale_keys.is_empty() && !dry_run {
            let planned = "close the shift records of actions gone or already serving the group";
            match ctx.begin(snapshot, &[], action::FAILBACK, planned).await? {
                Some(refusal) => reports.push(refusal),
                None => {
                    if let Err(e) = ctx.end(arn, &close(&mut plan.stale_keys.iter(), false), &[]).await {
                        reports.push(report::fault(Some(arn), action::FAILBACK, &e, "closing stale shift records"));
                    }
                }
            }
        }
        if reports.is_empty() {
            reports.push(report::skipped(Some(arn), action::FAILBACK, "nothing to fail back"));
        }
        return Ok(reports);
    }
    let restored = describe_changes(&plan.changes);
    let numbers = format!("{} of {} targets healthy, floor {}", counts.healthy, counts.registered, counts.floor);
    if mode == Failback::Manual {
        reports.push(
            report::about(
                arn,
                action::FAILBACK,
                Outcome::Info,
                Severity::Warning,
                format!("{name}: ready to fail back"),
            )
            .summary(format!(
                "{name} is healthy again ({numbers}); FAILBACK=manual, so traffic stays on the backup until a \
                     person restores: {restored}."
            ))
            .details(details)
            .steps([format!("Fail back with the manual command {failback_command}")]),
        );
        return Ok(reports);
    }
    if dry_run {
        reports.push(
            report::about(arn, action::FAILBACK, Outcome::DryRun, Severity::Info, format!("{name}: would fail back"))
                .summary(format!("Dry run: {name} is healthy again ({numbers}); would restore {restored}."))
                .details(details),
        );
        return Ok(reports);
    }
    let planned = format!("fail back {name}: restore {restored}");
    if let Some(refusal) = ctx.begin(snapshot, &[], action::FAILBACK, &planned).await? {
        reports.push(refusal);
        return Ok(reports);
    }
    let restoring = ctx.set_weights(&forwarding, &plan.changes).await;
    // `restored_keys[i]` is the record of `changes[i]`: close those restored, and the stale ones.
    let done = restoring.as_ref().err().map_or(plan.changes.len(), |(_, done)| *done);
    let mut closing = close(&mut plan.restored_keys[..done].iter(), true);
    closing.extend(close(&mut plan.stale_keys.iter(), false));
    let closed = super::timeline::closing(ctx, snapshot, &closing);
    let ended = ctx.end(arn, &closing, &[]).await;
    if let Err((e, done)) = restoring {
        let location = &plan.changes[done].location;
        let doing = format!("restoring {location} ({done} of {} actions already restored)", plan.changes.len());
        reports.push(report::failed(Some(arn), action::FAILBACK, &e, &doing));
        return Ok(reports);
    }
    if let Err(e) = ended {
        reports.push(report::fault(
            Some(arn),
            action::FAILBACK,
            &e,
            "closing the shift records after restoring the weights (traffic was restored)",
        ));
        return Ok(reports);
    }
    let report =
        report::about(arn, action::FAILBACK, Outcome::Succeeded, Severity::Info, format!("{name}: traffic restored"))
            .summary(format!("{name} is healthy again ({numbers}): restored {restored}."))
            .details(details);
    reports.push(failover_core::timeline::with_recovery(report, closed));
    Ok(reports)
}
