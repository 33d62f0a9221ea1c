//! A manual command: `pause`/`resume`, `readiness`, `timeline`, the zonal commands, or a group's command (`status`,
//! `deregister`, `restore`, `shift`, `failback`).
//!
//! AWS calls: `pause` is one ledger `PutItem`, `resume` one `GetItem` and one `DeleteItem`
//! ([`failover_core::pause`]); `readiness` is [`super::readiness`]'s, `timeline` [`super::timeline`]'s, `evacuate-zone` and `return-zone`
//! [`super::zonal`]'s. A group's command reads the group's tags (one `DescribeTags`), then, inside the ledger
//! attempt loop ([`super::Context::on_group`]: one `Query`, again after each wait or start-over), its health
//! (`DescribeTargetHealth`) and makes its action's calls: [`super::deregister`] (after what traffic sees of the
//! group, [`super::zonal::traffic`], and the group's `DescribeTargetGroupAttributes`), [`super::restore`], [`super::shift`], [`super::failback`]. `status` reads
//! the ledger as it is (one `Query`, held or not) and makes [`super::status`]'s calls.

use failover_core::fault::Fault;
use failover_core::intake::InvalidCommand;
use failover_core::ledger::{Ledger, Snapshot, Stop};
use failover_core::report::Report;

use super::{deregister, ledger, readiness, restore, status, timeline, zonal, Context};
use crate::command::Command;
use crate::config::Failback;
use crate::decide::{self, Candidates, GroupView};
use crate::model::Tags;
use crate::ports::{LoadBalancer, Ports};
use crate::report::{self, action};
use crate::FUNCTION;

/// A manual command: `pause`/`resume`, or the group's tags, then (under the ledger protocol) its health and
/// its action. `Err` is an invalid command (the group does not exist).
pub async fn on_command<P: Ports>(
    ctx: &Context<'_, P>,
    command: &Command,
    dry_run: bool,
) -> Result<Vec<Report>, InvalidCommand> {
    let intent = match command {
        Command::Status { .. } => action::STATUS,
        Command::Deregister { .. } => action::DEREGISTER,
        Command::Restore { .. } => action::REGISTER,
        Command::Shift { .. } => action::SHIFT,
        Command::Failback { .. } => action::FAILBACK,
        Command::Pause { by, reason } => {
            let done =
                failover_core::pause::pause(ctx.session.ledger, FUNCTION, by.as_deref(), reason.as_deref(), ctx.now());
            return Ok(vec![done.await.unwrap_or_else(|e| report::failed(None, action::PAUSE, &e, "pausing"))]);
        }
        Command::Resume => {
            let done = failover_core::pause::resume(ctx.session.ledger, FUNCTION).await;
            return Ok(vec![done.unwrap_or_else(|e| report::failed(None, action::RESUME, &e, "resuming"))]);
        }
        Command::Readiness { group } => return readiness::run(ctx, group.as_deref()).await,
        Command::Timeline { of } => return Ok(vec![timeline::run(ctx, of).await]),
        Command::EvacuateZone { .. } | Command::ReturnZone { .. } => return Ok(zonal::run(ctx, command, dry_run).await),
    };
    let group = command.group().unwrap_or_default();
    let tags = match ctx.lb.tags(&[group.to_owned()]).await {
        Ok(mut tagged) => tagged.pop().and_then(|(_, tags)| tags),
        Err(e) => return Ok(vec![report::failed(Some(group), intent, &e, "reading tags")]),
    };
    let tags = tags.ok_or_else(|| InvalidCommand(format!("target group {group} does not exist")))?;
    if let Command::Status { .. } = command {
        // Changes nothing: reads the ledger as it is, held or not.
        let snapshot = match ctx.session.ledger.read(&ledger::resource(group), ctx.now()).await {
            Ok(snapshot) => snapshot,
            Err(e) => return Ok(vec![report::failed(Some(group), intent, &e, "reading the ledger")]),
        };
        return match command_once(ctx, command, group, &tags, &snapshot, intent, dry_run).await {
            Ok(reports) => Ok(reports),
            Err(Stop::Failed(Stopped::Invalid(invalid))) => Err(invalid),
            Err(_) => Ok(Vec::new()),
        };
    }
    let attempted = ctx
        .session
        .attempt(&ledger::resource(group), async |snapshot| {
            command_once(ctx, command, group, &tags, &snapshot, intent, dry_run).await
        })
        .await;
    match attempted {
        Ok(reports) => Ok(reports),
        Err(Stopped::Invalid(invalid)) => Err(invalid),
        Err(Stopped::Fault(fault)) => Ok(vec![report::fault(Some(group), intent, &fault, "reading the ledger")]),
    }
}

/// Why a group's command stopped: it names a group that does not exist (found between reads), or the ledger.
enum Stopped {
    Invalid(InvalidCommand),
    Fault(Fault),
}

impl From<Fault> for Stopped {
    fn from(fault: Fault) -> Self {
        Stopped::Fault(fault)
    }
}

async fn command_once<P: Ports>(
    ctx: &Context<'_, P>,
    command: &Command,
    group: &str,
    tags: &Tags,
    snapshot: &Snapshot,
    intent: &'static str,
    dry_run: bool,
) -> Result<Vec<Report>, Stop<Stopped>> {
    let targets = match ctx.lb.target_health(group).await {
        Ok(Some(targets)) => targets,
        Ok(None) => return Err(Stop::Failed(Stopped::Invalid(format!("target group {group} does not exist").into()))),
        Err(e) => return Ok(vec![report::failed(Some(group), intent, &e, "reading target health")]),
    };
    let view = ctx.view(group, tags, &targets);
    let floor = ctx.floor_in(snapshot);
    // A person's removal weighs serving as traffic sees it, as an alarm's does.
    let placed = match command {
        Command::Deregister { targets: wanted, .. } => {
            match zonal::traffic::placed_for_removal(ctx, view, wanted, floor).await {
                Ok(placed) => placed,
                Err(report) => return Ok(vec![*report]),
            }
        }
        _ => None,
    };
    let view = match &placed {
        Some(targets) => GroupView { targets, ..view },
        None => view,
    };
    let saved = ledger::saved_weights(snapshot);
    let plan = match command {
        Command::Status { .. } => return Ok(vec![status::run(ctx, view, snapshot).await]),
        Command::Restore { targets: wanted, .. } => {
            return Ok(restore::run(ctx, view, snapshot, wanted, dry_run).await?)
        }
        Command::Deregister { targets: wanted, .. } => {
            match deregister::removal_plan(ctx, view, Candidates::Named(wanted), floor).await {
                Ok(plan) => plan,
                Err(report) => return Ok(vec![report]),
            }
        }
        Command::Shift { .. } => decide::on_shift_command(view, floor),
        Command::Failback { force, .. } => decide::on_failback_command(view, floor, &saved, *force),
        _ => return Ok(Vec::new()),
    };
    Ok(super::execute(ctx, view, snapshot, plan, intent, dry_run, Failback::Auto).await?)
}
