//! Status (manual command): the group's health, floor, backup, its open ledger records (the incident: what
//! was removed or shifted, when, by which trigger, what is pending) and the pause, and what an alarm on it
//! would do now ([`decide::alarm_now_would`]). With a usable backup or open shift records it also reads the
//! listener actions forwarding to the group and their opt-in, as a shift or failback would; and the zonal
//! state of its load balancers ([`super::zonal::status`]); its restore holds, and the targets that stay out
//! until `restore` ([`super::hold_status`]). Changes nothing.
//!
//! AWS calls (after [`super::manual`]'s `DescribeTags`, ledger `Query` and `DescribeTargetHealth`): the pause
//! (one ledger `GetItem`); with a usable backup or open shift records, `DescribeTargetGroups`,
//! `DescribeListeners` per load balancer, `DescribeRules` per listener and `DescribeTags` per 20 listeners and
//! rules ([`super::Context::forwarding`]); then [`super::zonal::status`]'s. No write.

use failover_core::ledger::{Ledger, Snapshot};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use failover_core::time::format_time;
use serde_json::json;

use super::ledger;
use super::Context;
use crate::decide::{self, Candidates, Counts, GroupView};
use crate::model::group_name;
use crate::ports::Ports;
use crate::report::{self, action, add_tag_step, not_opted_in_text};

pub async fn run<P: Ports>(ctx: &Context<'_, P>, view: GroupView<'_>, snapshot: &Snapshot) -> Report {
    let floor = ctx.floor_in(snapshot);
    let key = ctx.opt_in_key();
    let counts = Counts::of(view.targets, floor);
    let plan = decide::on_alarm(view, Candidates::Unhealthy, floor);
    let saved = ledger::saved_weights(snapshot);
    let paused = match ctx.session.ledger.paused().await {
        Ok(paused) => paused,
        Err(e) => return report::failed(Some(view.arn), action::STATUS, &e, "reading the pause"),
    };
    let open: Vec<_> = snapshot.records.iter().filter(|r| ledger::open(r)).collect();
    let records: Vec<_> = open
        .iter()
        .map(|r| {
            json!({
                "key": r.key,
                "state": r.state,
                "trigger": r.trigger,
                "created_at": format_time(r.created_at),
                "updated_at": format_time(r.updated_at),
                "data": r.data,
            })
        })
        .collect();
    let usable_backup = view.backup().and_then(Result::ok);
    let mut would = decide::AlarmWould::Plan;
    let mut listener_actions = Vec::new();
    let mut left_out = Vec::new();
    if usable_backup.is_some() || !saved.is_empty() {
        let forwarding = match ctx.forwarding(view.arn).await {
            Ok(forwarding) => forwarding,
            Err((e, doing)) => return report::failed(Some(view.arn), action::STATUS, &e, doing),
        };
        let (actions, opted_in) = (&forwarding.actions, &forwarding.opted_in);
        listener_actions = actions
            .iter()
            .map(|a| json!({"location": a.location, "opted_in": opted_in.contains(a.location.arn())}))
            .collect();
        if let Some(backup) = &usable_backup {
            // What a shift would do now, alarm or command: the same plan, the same opt-in facts.
            let shift = decide::plan_shift(actions, view.arn, backup, &saved, opted_in);
            would = decide::alarm_now_would(&plan, Some(&shift));
            left_out = shift.not_opted_in;
        }
        let failback = decide::plan_failback(actions, view.arn, usable_backup.as_deref(), &saved, opted_in);
        for location in failback.not_opted_in {
            if !left_out.contains(&location) {
                left_out.push(location);
            }
        }
    }
    let would = report::alarm_now_would(&plan, &would, key);
    let backup = view.backup().map(|b| b.unwrap_or_else(|bad| format!("unusable: {bad}")));
    let name = group_name(view.arn);
    let title = format!("{name}: {} of {} targets healthy, floor {}", counts.healthy, counts.registered, counts.floor);
    let mut incident = paused
        .as_ref()
        .map(|pause| format!(" Automation is {}.", failover_core::pause::describe(pause)))
        .unwrap_or_default();
    if !open.is_empty() {
        let keys = report::join(open.iter().map(|r| format!("{} ({})", r.key, r.state.as_str())));
        incident.push_str(&format!(" Open ledger records: {keys}."));
    }
    let summary = format!(
        "{name} is {}opted in{}. An alarm on this group now would: {would}.{}{}{incident}",
        if view.opted_in() { "" } else { "NOT " },
        backup.as_ref().map_or(" and has no backup group".to_owned(), |b| format!(", backup group {b}")),
        if saved.is_empty() {
            String::new()
        } else {
            format!(" Traffic is shifted away from it in {} listener actions.", saved.len())
        },
        if left_out.is_empty() {
            String::new()
        } else {
            format!(" A shift or failback would leave out {}.", not_opted_in_text(key, &left_out))
        },
    );
    let (holds, holds_text) = super::hold_status::section(ctx, view.arn, snapshot);
    let (zonal, zonal_text, zonal_steps) = super::zonal::status::section(ctx, view.arn).await;
    let summary = format!("{summary}{holds_text}{zonal_text}");
    let steps = (!left_out.is_empty()).then(|| add_tag_step(key, &left_out)).into_iter().chain(zonal_steps);
    report::about(view.arn, action::STATUS, Outcome::Info, Severity::Info, title)
        .summary(summary)
        .details(json!({
            "counts": counts,
            "can_serve": Counts::of(view.targets, floor.with_baseline(None)).can_serve(),
            "opted_in": view.opted_in(),
            "backup": backup,
            "saved_weights": saved,
            "ledger": records,
            "holds": holds,
            "paused": paused,
            "listener_actions": listener_actions,
            "not_opted_in": left_out,
            "targets": view.targets,
            "alarm_now_would": would,
            "zonal": zonal,
        }))
        .steps(steps)
}
