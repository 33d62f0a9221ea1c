//! The zonal side of an alarm's removal: before a planned change (or a refusal of accused targets) is made, what
//! traffic sees of the group is read ([`super::traffic`]: its load balancers through ARC, its targets' zones), the
//! plan is made on the targets placed in their zones (serving means serving traffic, and no zone that takes
//! traffic is left without a serving target: [`crate::decide::traffic`]), then a removal is looked at zone by
//! zone ([`crate::decide::zonal_signal`] decides).
//!
//! - **Defer**: a zone an applied shift (AWS's autoshift, a practice run, a person's or this function's zonal
//!   shift) already moves a load balancer's traffic away from loses no target: the accused targets there stay
//!   registered, named in one `info` entry of the alarm's notification (an alarm transition is handled once).
//! - **Signal 2**: at least `ZONE_EVACUATION_MIN_TARGETS` targets of one zone removed (this group's `removal#`
//!   records of the last `ZONE_EVACUATION_WINDOW_MINUTES`, open or closed) or failing, while the other zones'
//!   targets serve, and one of the group's load balancers is registered with ARC: the zone is evacuated from
//!   each of them ([`super::evacuate`], its guards); when a shift started, the zone's accused targets stay
//!   registered; when every evacuation was refused or skipped the plan goes on as decided (the removal, or the
//!   refusal that keeps the zone's last serving target), the refusals in the notification; when one failed
//!   transiently nothing is removed and Lambda's retry decides again.
//!
//! Calls, only when a change or a refusal of accused targets is planned: [`super::traffic`]'s reads (beside the
//! group's `DescribeTargetGroupAttributes` when a removal is planned; then, when the group's cross-zone setting
//! defers to an NLB or a GWLB, one `DescribeLoadBalancerAttributes` per such load balancer: cross-zone off, the
//! floor holds per zone, [`super::traffic::per_zone`]); a zonal failure then evacuates the zone per
//! load balancer ([`super::evacuate`]'s calls). A group spared any target plans again (on the
//! thresholds already read, [`crate::actions::reads`]), then is removed as [`crate::actions::deregister`] says.
//! A read that is denied or not available (the zonal IAM missing) leaves the plan as target health alone gives
//! it, noted in its report's details (`zonal_checks`); a transient one fails the group's entry (retried).

use std::collections::{BTreeMap, BTreeSet};

use failover_core::ledger::{Again, Snapshot, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::evacuate::{evacuate, ZoneSignal};
use super::traffic::{self, Traffic};
use std::time::Duration;

use failover_core::fault::Fault;

use crate::actions::ledger::{removed_targets, resource};
use crate::actions::{deregister, Context};
use crate::decide::zonal_signal::{self, members, placed, Health, Member, ShiftedAway, ZoneVerdict};
use crate::decide::{self, Candidates, Plan};
use crate::model::{group_name, Target, TargetHealth};
use crate::ports::Ports;
use crate::report::{self, action, count, join};

/// What the zonal checks add to an alarm's removal: reports before it, notes in its details.
#[derive(Default)]
struct Watch {
    reports: Vec<Report>,
    notes: Vec<String>,
}

/// An alarm's removal on a group: what traffic sees of it when the plan changes something or keeps targets
/// ([`traffic`]), the plan on the targets placed in their zones, the zonal checks when it removes targets, then
/// the plan's action.
pub(crate) async fn on_alarm<P: Ports>(
    ctx: &Context<'_, P>,
    view: crate::decide::GroupView<'_>,
    snapshot: &Snapshot,
    candidates: Candidates<'_>,
    intent: &'static str,
) -> Step<Vec<Report>> {
    let floor = ctx.floor_in(snapshot);
    let first = decide::on_alarm(view, candidates, floor);
    let mut watch = Watch::default();
    let (facts, known) = if traffic::worth_reading(&first) {
        let removed = removed_within(ctx, snapshot);
        let look = worth_a_look(ctx, &removed, &first, view.targets);
        // A removal reads the group's health thresholds beside what traffic sees of it.
        let thresholds = async {
            match &first {
                Plan::Deregister { .. } => Some(ctx.health_thresholds(view.arn).await),
                _ => None,
            }
        };
        let read = traffic::read(ctx, view.arn, view.targets, &removed, &first, look, &mut watch.notes);
        match futures::join!(read, thresholds) {
            (Ok(facts), known) => (facts, known),
            (Err(report), _) => return Ok(vec![*report]),
        }
    } else {
        (None, None)
    };
    // Cross-zone load balancing off: the floor and the group's thresholds hold in each zone too.
    let floor = match (&facts, &known) {
        (Some(facts), Some(Ok(Some(thresholds)))) => {
            let cross_zone = thresholds.cross_zone;
            match traffic::per_zone(ctx, view.arn, cross_zone, &facts.balancers, &mut watch.notes).await {
                Ok(per_zone) => floor.with_per_zone(per_zone),
                Err(report) => return Ok(vec![*report]),
            }
        }
        _ => floor,
    };
    let placed = facts.as_ref().map(|f| f.place(view.targets));
    let view = match &placed {
        Some(targets) => crate::decide::GroupView { targets, ..view },
        None => view,
    };
    let plan = match deregister::removal_plan_with(ctx, view, candidates, floor, known).await {
        Ok(plan) => plan,
        Err(report) => return Ok(vec![report]),
    };
    let plan = match (plan, &facts) {
        // A removal, or a refusal that keeps accused targets in service: a zonal failure evacuates the zone instead.
        (plan @ (Plan::Deregister { .. } | Plan::Refuse { .. }), Some(facts)) if !accused(&plan).is_empty() => {
            match review(ctx, view, snapshot, (plan, floor), facts, &mut watch).await {
                Ok(plan) => plan,
                Err(report) => return Ok(vec![*report]),
            }
        }
        (other, _) => other,
    };
    let mut done = match crate::actions::execute(
        ctx,
        view,
        snapshot,
        plan,
        intent,
        ctx.config.common.dry_run,
        ctx.config.failback,
    )
    .await
    {
        Ok(done) => done,
        // The group changed meanwhile, and a shift was started: notify it now rather than lose it to a start
        // over; the busy entry makes Lambda retry the event, which finds the zone shifted away.
        Err(Again) if watch.reports.iter().any(|r| r.outcome == Outcome::Succeeded) => {
            let changed = Fault::Busy { resource: resource(view.arn), holder: None, waited: Duration::ZERO };
            vec![report::fault(Some(view.arn), intent, &changed, "removing targets")]
        }
        Err(again) => return Err(again),
    };
    if !watch.notes.is_empty() {
        for details in done.iter_mut().filter_map(|r| r.details.as_object_mut()) {
            details.insert("zonal_checks".into(), json!(watch.notes));
        }
    }
    Ok(watch.reports.into_iter().chain(done).collect())
}

/// Signal 2's pre-check on the plan's accused targets and the group's recent removals.
fn worth_a_look<P: Ports>(ctx: &Context<'_, P>, removed: &[Target], plan: &Plan, targets: &[TargetHealth]) -> bool {
    let accused = accused(plan);
    let failing = members(removed, &accused, targets).iter().filter(|m| m.health == Health::Failing).count();
    zonal_signal::worth_a_look(failing, ctx.config.zone_evacuation_min_targets)
}

/// The targets a plan removes or keeps.
fn accused(plan: &Plan) -> Vec<Target> {
    match plan {
        Plan::Deregister { targets, kept, .. } => {
            targets.iter().map(|t| t.target.clone()).chain(kept.iter().map(|k| k.target.clone())).collect()
        }
        Plan::Refuse { kept, .. } | Plan::ShiftTraffic { kept, .. } => kept.iter().map(|k| k.target.clone()).collect(),
        _ => Vec::new(),
    }
}

/// The planned removal (or refusal), less the targets of the zones shifted away or evacuated now.
async fn review<P: Ports>(
    ctx: &Context<'_, P>,
    view: crate::decide::GroupView<'_>,
    snapshot: &Snapshot,
    (plan, floor): (Plan, decide::Floor),
    facts: &Traffic,
    watch: &mut Watch,
) -> Result<Plan, Box<Report>> {
    let arn = view.arn;
    let accused = accused(&plan);
    let removed = removed_within(ctx, snapshot);
    let look = !facts.resources.is_empty() && worth_a_look(ctx, &removed, &plan, view.targets);
    let Some(instances) = &facts.instances else { return Ok(plan) };
    if !look && !facts.any_applied() {
        return Ok(plan);
    }
    let members = placed(members(&removed, &accused, view.targets), instances, &accused, view.targets);
    let shifted = zonal_signal::shifted_away(&facts.resources, &facts.ids);
    let mut spared: BTreeMap<String, String> = shifted
        .iter()
        .filter_map(|s| Some((s.zone.clone()?, format!("{} (load balancer {})", s.reason(), s.load_balancer))))
        .collect();
    if look {
        match evacuated(ctx, &members, &spared, &facts.balancers, watch).await {
            Evacuation::Started { zone, why } => {
                spared.insert(zone, why);
            }
            Evacuation::Retry => return Ok(Plan::Skip { reason: "the zone's evacuation failed: retried".into() }),
            Evacuation::None => {}
        }
    }
    let zone_of = |t: &Target| members.iter().find(|m| m.id == t.id).and_then(|m| m.zone.clone());
    let (spare, rest): (Vec<Target>, Vec<Target>) =
        accused.iter().cloned().partition(|t| zone_of(t).is_some_and(|z| spared.contains_key(&z)));
    if spare.is_empty() {
        return Ok(plan);
    }
    let reasons: BTreeSet<&String> = spare.iter().filter_map(|t| spared.get(&zone_of(t)?)).collect();
    watch.reports.push(kept_in_zone(arn, &spare, &reasons, &shifted, ctx.config.common.dry_run));
    replan(ctx, view, floor, &rest).await
}

/// What signal 2 came to.
enum Evacuation {
    /// Not zonal, or every evacuation refused or skipped: remove as before.
    None,
    /// A shift started (or, in a dry run, would start) away from the zone: its targets stay.
    Started { zone: String, why: String },
    /// An evacuation failed in a way Lambda's retry may fix: remove nothing now, the retry decides again.
    Retry,
}

/// Signal 2: when the failure is zonal (in a zone not shifted away yet), the zone evacuated from each of the
/// group's load balancers ([`evacuate`]: one not opted in is skipped, one not registered with ARC refused).
async fn evacuated<P: Ports>(
    ctx: &Context<'_, P>,
    members: &[Member],
    spared: &BTreeMap<String, String>,
    balancers: &[String],
    watch: &mut Watch,
) -> Evacuation {
    let min = ctx.config.zone_evacuation_min_targets;
    let window = ctx.config.zone_evacuation_window_minutes;
    let (zone, failing, serving) = match zonal_signal::zonal_failure(members, min) {
        ZoneVerdict::Zonal { zone, failing, serving_elsewhere } => (zone, failing, serving_elsewhere),
        ZoneVerdict::NotZonal { reason } => {
            tracing::info!(reason = %reason, "not a zonal failure");
            return Evacuation::None;
        }
    };
    if spared.contains_key(&zone) {
        return Evacuation::None;
    }
    let why = format!(
        "{failing} targets of zone {zone} failed or were removed within {window} minutes (ZONE_EVACUATION_MIN_TARGETS \
         {min}) while the {serving} serving targets of the other zones are healthy"
    );
    let (mut started, mut retry) = (false, false);
    for lb in balancers {
        let signal = ZoneSignal { load_balancer: lb.clone(), zone: zone.clone(), why: why.clone() };
        let reports = evacuate(ctx, &signal, ctx.config.common.dry_run).await;
        started |= reports.iter().any(|r| {
            r.action == action::ZONAL_SHIFT && matches!(r.outcome, Outcome::Succeeded | Outcome::DryRun | Outcome::Info)
        });
        retry |= reports.iter().any(Report::retry);
        watch.reports.extend(reports);
    }
    match (started, retry) {
        (true, _) => Evacuation::Started { why: format!("zone {zone} is evacuated: {why}"), zone },
        (false, true) => Evacuation::Retry,
        (false, false) => Evacuation::None,
    }
}

/// The plan on the accused targets left after sparing some (again, thresholds included), on the same floor.
async fn replan<P: Ports>(
    ctx: &Context<'_, P>,
    view: crate::decide::GroupView<'_>,
    floor: decide::Floor,
    rest: &[Target],
) -> Result<Plan, Box<Report>> {
    if rest.is_empty() {
        return Ok(Plan::Skip { reason: "every accused target is in a zone shifted away".into() });
    }
    deregister::removal_plan(ctx, view, Candidates::Named(rest), floor).await.map_err(Box::new)
}

/// The `info` entry naming the targets kept because their zone is shifted away or evacuated now.
fn kept_in_zone(
    arn: &str,
    spare: &[Target],
    reasons: &BTreeSet<&String>,
    shifted: &[ShiftedAway],
    dry_run: bool,
) -> Report {
    let dry = if dry_run { "Dry run: " } else { "" };
    let title = format!("{}: {} kept, zone shifted away", group_name(arn), count(spare.len(), "accused target"));
    let mut remove = report::command("deregister", arn);
    remove["targets"] = json!(spare);
    report::about(arn, action::ZONAL_SHIFT, Outcome::Info, Severity::Info, title)
        .summary(format!(
            "{dry}{} stay registered in {arn}: {}. The load balancer sends them no traffic while the shift lasts.",
            join(spare.iter()),
            join(reasons.iter())
        ))
        .details(json!({"kept": spare, "reasons": reasons, "shifted_away": shifted}))
        .steps([
            "Find out what fails in the zone; the other zones take its traffic meanwhile.".to_owned(),
            "A shift this function started ends after ZONAL_SHIFT_EXPIRES_MINUTES, or earlier with the return-zone \
             command once the zone is healthy."
                .to_owned(),
            format!("If these targets still fail when the shift ends, remove them with the manual command {remove}"),
        ])
}

/// The targets of the group's removals made within the window (open or closed; not those abandoned).
fn removed_within<P: Ports>(ctx: &Context<'_, P>, snapshot: &Snapshot) -> Vec<Target> {
    let since = ctx.now() - i64::from(ctx.config.zone_evacuation_window_minutes) * 60;
    snapshot
        .records
        .iter()
        .filter(|r| r.key.starts_with("removal#") && r.state != State::Abandoned && r.created_at >= since)
        .flat_map(removed_targets)
        .collect()
}
