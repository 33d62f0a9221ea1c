//! The zonal side of an alarm's removal: before a planned removal is made, the group's load
//! balancers are looked at through ARC ([`crate::decide::zonal_signal`] decides).
//!
//! - **Defer**: a zone an applied shift (AWS's autoshift, a practice run, a person's or this function's zonal
//!   shift) already moves a load balancer's traffic away from loses no target: the accused targets there stay
//!   registered, named in one `info` entry of the alarm's notification (an alarm transition is handled once).
//! - **Signal 2**: at least `ZONE_EVACUATION_MIN_TARGETS` targets of one zone removed (this group's `removal#`
//!   records of the last `ZONE_EVACUATION_WINDOW_MINUTES`, open or closed) or failing, while the other zones'
//!   targets serve, and one of the group's load balancers is registered with ARC: the zone is evacuated from
//!   each of them ([`super::evacuate`], its guards); when a shift started, the zone's accused targets stay
//!   registered; when every evacuation was refused or skipped the removal goes on as before, the refusals in
//!   the notification; when one failed transiently nothing is removed and Lambda's retry decides again.
//!
//! Calls, only when a removal is planned: `DescribeTargetGroups` (the group's load balancers) and one
//! `GetManagedResource` per load balancer; then, only when a shift is applied, or the pre-check passes (enough
//! targets failing or removed in all zones together) on a load balancer registered with ARC, one
//! `DescribeInstances` (the zones of the group's instances and of those removed in the window), and one
//! `DescribeAvailabilityZones` when a shift is applied (the AZ IDs' names); a zonal failure then evacuates the
//! zone per load balancer ([`super::evacuate`]'s calls). A group spared any target plans again (one more
//! `DescribeTargetGroupAttributes`), then is removed as [`crate::actions::deregister`] says.
//! A read that is denied or not available (the zonal IAM missing) leaves the removal as it was, noted in its
//! report's details (`zonal_checks`); a transient one fails the group's entry (retried).

use std::collections::{BTreeMap, BTreeSet};

use failover_core::aws::AwsError;
use failover_core::ledger::{Again, Snapshot, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::evacuate::{evacuate, ZoneSignal};
use std::time::Duration;

use failover_core::fault::Fault;

use crate::actions::ledger::{removed_targets, resource};
use crate::actions::{deregister, Context};
use crate::decide::zonal_signal::{self, members, placed, Health, Member, ShiftedAway, ZoneVerdict};
use crate::decide::{self, Candidates, Plan};
use crate::model::{group_name, ManagedResource, Target};
use crate::ports::{Ports, Zonal};
use crate::report::{self, action, count, join};

/// What the zonal checks add to an alarm's removal: reports before it, notes in its details.
#[derive(Default)]
struct Watch {
    reports: Vec<Report>,
    notes: Vec<String>,
}

/// An alarm's removal on a group: its plan, the zonal checks when it removes targets, then the plan's action.
pub(crate) async fn on_alarm<P: Ports>(
    ctx: &Context<'_, P>,
    view: crate::decide::GroupView<'_>,
    snapshot: &Snapshot,
    candidates: Candidates<'_>,
    intent: &'static str,
) -> Step<Vec<Report>> {
    let floor = ctx.floor_in(snapshot);
    // A removal reads the group's health thresholds and, for its zonal checks, its load balancers: at once.
    let (plan, balancers) = if matches!(decide::on_alarm(view, candidates, floor), Plan::Deregister { .. }) {
        let (plan, balancers) =
            futures::join!(deregister::removal_plan(ctx, view, candidates, floor), ctx.lb.balancers_of(view.arn));
        (plan, Some(balancers))
    } else {
        (deregister::removal_plan(ctx, view, candidates, floor).await, None)
    };
    let plan = match plan {
        Ok(plan) => plan,
        Err(report) => return Ok(vec![report]),
    };
    let mut watch = Watch::default();
    let plan = match (plan, balancers) {
        (plan @ Plan::Deregister { .. }, Some(balancers)) => {
            match review(ctx, view, snapshot, plan, balancers, &mut watch).await {
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

/// The planned removal, less the targets of the zones shifted away or evacuated now.
async fn review<P: Ports>(
    ctx: &Context<'_, P>,
    view: crate::decide::GroupView<'_>,
    snapshot: &Snapshot,
    plan: Plan,
    balancers: Result<Vec<String>, AwsError>,
    watch: &mut Watch,
) -> Result<Plan, Box<Report>> {
    let arn = view.arn;
    let Plan::Deregister { targets, kept, .. } = &plan else { return Ok(plan) };
    let accused: Vec<Target> =
        targets.iter().map(|t| t.target.clone()).chain(kept.iter().map(|k| k.target.clone())).collect();
    let Some(balancers) = read(balancers, arn, "reading the group's load balancers", watch)? else {
        return Ok(plan);
    };
    let mut resources: Vec<ManagedResource> = Vec::new();
    for lb in &balancers {
        let doing = "reading the load balancer's zonal shifts";
        if let Some(Some(resource)) = read(ctx.lb.managed_resource(lb).await, arn, doing, watch)? {
            resources.push(resource);
        }
    }
    let removed = removed_within(ctx, snapshot);
    let members = members(&removed, &accused, view.targets);
    let failing = members.iter().filter(|m| m.health == Health::Failing).count();
    let look = !resources.is_empty() && zonal_signal::worth_a_look(failing, ctx.config.zone_evacuation_min_targets);
    if !look && !zonal_signal::any_applied(&resources) {
        return Ok(plan);
    }
    let Some(zones) = zones_of(ctx, arn, &members, zonal_signal::any_applied(&resources), watch).await? else {
        return Ok(plan);
    };
    let members = placed(members, &zones.instances, &accused, view.targets);
    let shifted = zonal_signal::shifted_away(&resources, &zones.ids);
    let mut spared: BTreeMap<String, String> = shifted
        .iter()
        .filter_map(|s| Some((s.zone.clone()?, format!("{} (load balancer {})", s.reason(), s.load_balancer))))
        .collect();
    if look {
        match evacuated(ctx, &members, &spared, &balancers, watch).await {
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
    replan(ctx, view, snapshot, &rest).await
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

/// The plan on the accused targets left after sparing some (again, thresholds included).
async fn replan<P: Ports>(
    ctx: &Context<'_, P>,
    view: crate::decide::GroupView<'_>,
    snapshot: &Snapshot,
    rest: &[Target],
) -> Result<Plan, Box<Report>> {
    if rest.is_empty() {
        return Ok(Plan::Skip { reason: "every accused target is in a zone shifted away".into() });
    }
    deregister::removal_plan(ctx, view, Candidates::Named(rest), ctx.floor_in(snapshot)).await.map_err(Box::new)
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

/// The zone facts: AZ IDs by zone name (only when a shift is applied), and the instances' zones.
struct Zones {
    ids: BTreeMap<String, String>,
    instances: BTreeMap<String, String>,
}

async fn zones_of<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    members: &[Member],
    with_ids: bool,
    watch: &mut Watch,
) -> Result<Option<Zones>, Box<Report>> {
    let ids = if with_ids {
        match read(ctx.lb.zone_ids().await, arn, "reading the zones' AZ IDs", watch)? {
            Some(ids) => ids,
            None => return Ok(None),
        }
    } else {
        BTreeMap::new()
    };
    let instances: Vec<String> =
        members.iter().filter(|m| crate::model::is_instance(&m.id)).map(|m| m.id.clone()).collect();
    if instances.is_empty() {
        return Ok(Some(Zones { ids, instances: BTreeMap::new() }));
    }
    let found = read(ctx.lb.instance_zones(&instances).await, arn, "reading the instances' zones", watch)?;
    Ok(found.map(|instances| Zones { ids, instances }))
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

/// A zonal read: `Ok(Some)` on success; a transient failure fails the group's entry (`Err`, retried); any
/// other (not modelled, access denied) is noted and the removal goes on as before (`Ok(None)`).
fn read<T>(result: Result<T, AwsError>, arn: &str, doing: &str, watch: &mut Watch) -> Result<Option<T>, Box<Report>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.transient => Err(Box::new(report::failed(Some(arn), action::DEREGISTER, &e, doing))),
        Err(e) => {
            tracing::warn!(target_group = %arn, error = %e, "skipping the zonal checks of a removal");
            watch.notes.push(format!("{doing}: {e}"));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(transient: bool) -> AwsError {
        let code = if transient { "Throttling" } else { "AccessDeniedException" };
        AwsError { code: Some(code.into()), transient, ..AwsError::not_modelled("GetManagedResource", "lb") }
    }

    #[test]
    fn a_denied_or_unmodelled_zonal_read_is_noted_and_the_removal_goes_on() {
        let mut watch = Watch::default();
        let denied: Result<(), AwsError> = Err(error(false));
        assert!(matches!(read(denied, "tg", "reading", &mut watch), Ok(None)));
        let missing: Result<(), AwsError> = Err(AwsError::not_modelled("DescribeTargetGroups", "tg"));
        assert!(matches!(read(missing, "tg", "reading", &mut watch), Ok(None)));
        assert_eq!(watch.notes.len(), 2);
        assert!(watch.notes[0].starts_with("reading: GetManagedResource lb"), "{:?}", watch.notes);
        assert!(watch.reports.is_empty());
    }

    #[test]
    fn a_transient_zonal_read_fails_the_group() {
        let mut watch = Watch::default();
        let throttled: Result<(), AwsError> = Err(error(true));
        let failed = read(throttled, "tg", "reading", &mut watch).expect_err("a failure report");
        assert_eq!((failed.outcome, failed.retry()), (Outcome::Failed, true));
        assert!(watch.notes.is_empty());
    }
}
