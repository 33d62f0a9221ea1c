//! Evacuate: move a load balancer's traffic away from a failing Availability Zone with ARC zonal shift.
//!
//! Facts, in order, stopping at the first answer: the load balancer's tags (not opted in, or gone: a logged
//! skip, no ARC call); ARC's `GetManagedResource` (not registered: refused with the command that registers
//! it); the zone's AZ ID (EC2 `DescribeAvailabilityZones`); the active shifts (one away from the zone: defer,
//! notified once per shift through a `deferred#` record; away from another zone: refused); then the capacity of
//! the opted-in target groups by zone ([`crate::decide::zonal::capacity`]). Then, under the ledger protocol on
//! `load-balancer:<ARN>`: a pending `zonal-shift#<time>-<invocation>` record, `StartZonalShift`, the record done with
//! the shift's id, zone, trigger and expiry. Records of shifts of ours that ended (expired, cancelled by
//! someone) are closed on the way. A `ConflictException` (someone started a shift meanwhile) is a refusal.
//!
//! AWS calls, in order: one `DescribeTags` (the load balancer's opt-in), then inside the attempt loop on
//! `load-balancer:<ARN>` ([`crate::actions::Context::attempt`]: one ledger `Query`, again after each wait or
//! start-over) `GetManagedResource`, `DescribeAvailabilityZones` (once per sandbox: the adapter caches it),
//! and, unless the active shifts already answer, the capacity by zone ([`super::facts`]:
//! `DescribeLoadBalancers`, `DescribeTargetGroups`, `DescribeTags`, per opted-in group its ledger `Query` (while
//! one of its removals is open, its floor is the incident's baseline floor), `DescribeTargetHealth` and
//! `DescribeTargetGroupAttributes`, one `DescribeInstances`). A shift: `begin` (one `TransactWriteItems`),
//! `StartZonalShift`, `end` (one more); a deferral is recorded with `begin` and `end` too. A dry run writes
//! nothing.

use failover_core::ledger::{Again, Record, Settle, Snapshot, Start, State, Step};
use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::facts::{self, deferred_key, our_ids, our_shifts};
use super::reports::{balancer_name, evacuated, not_registered, refused};
use crate::actions::ledger::settle_from;
use crate::actions::Context;
use crate::decide::zonal::{self, shift_kind_text, ArcFacts, ZonalPlan, ZoneCounts};
use crate::model::{ActiveShift, ManagedResource};
use crate::ports::{LoadBalancer, Ports, Zonal};
use crate::report::{self, action};

/// A zone of a load balancer that fails: what an alarm, a removal pattern or a person says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSignal {
    /// The load balancer's ARN.
    pub load_balancer: String,
    /// The zone's name (`us-east-1a`); an AZ ID (`use1-az1`) is accepted too.
    pub zone: String,
    /// Why it is evacuated, in words, for the notification.
    pub why: String,
}

/// How the evacuation is asked for, beyond the signal.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `None`: `ZONAL_SHIFT_EXPIRES_MINUTES`.
    pub expires_minutes: Option<u32>,
    /// The alarm that asked, recorded with the shift (its OK returns the zone).
    pub alarm_arn: Option<String>,
    /// A retry of an alarm event whose notification was not published: a shift this very event started is
    /// notified again instead of skipped.
    pub owed: bool,
}

/// Evacuates the signal's zone, or says why not (see the module doc). One report.
pub async fn evacuate<P: Ports>(ctx: &Context<'_, P>, signal: &ZoneSignal, dry_run: bool) -> Vec<Report> {
    evacuate_with(ctx, signal, dry_run, &Options::default()).await
}

pub async fn evacuate_with<P: Ports>(
    ctx: &Context<'_, P>,
    signal: &ZoneSignal,
    dry_run: bool,
    options: &Options,
) -> Vec<Report> {
    let lb = signal.load_balancer.as_str();
    match ctx.lb.tags(&[lb.to_owned()]).await {
        Ok(tagged) => match tagged.into_iter().next().and_then(|(_, tags)| tags) {
            None => return vec![report::skipped(Some(lb), action::NONE, "the load balancer does not exist")],
            Some(tags) if !failover_core::tags::opted_in(&tags, ctx.opt_in_key()) => {
                let reason = format!("load balancer not opted in (tag {}=true missing)", ctx.opt_in_key());
                return vec![report::skipped(Some(lb), action::NONE, reason)];
            }
            Some(_) => {}
        },
        Err(e) => return vec![report::failed(Some(lb), action::ZONAL_SHIFT, &e, "reading the load balancer's tags")],
    }
    let resource = facts::resource(lb);
    ctx.attempt(&resource, action::ZONAL_SHIFT, async |snapshot| {
        Ok(vec![once(ctx, signal, dry_run, options, &snapshot).await?])
    })
    .await
}

async fn once<P: Ports>(
    ctx: &Context<'_, P>,
    signal: &ZoneSignal,
    dry_run: bool,
    options: &Options,
    snapshot: &Snapshot,
) -> Step<Report> {
    let lb = signal.load_balancer.as_str();
    let failed = |e, doing: &str| Ok(report::failed(Some(lb), action::ZONAL_SHIFT, &e, doing));
    let resource = match ctx.lb.managed_resource(lb).await {
        Ok(Some(resource)) => resource,
        Ok(None) => return Ok(not_registered(lb, &signal.zone)),
        Err(e) => return failed(e, "reading the load balancer's zonal shifts"),
    };
    // Cached by the adapter for the life of the process: a start-over does not call EC2 again.
    let ids = match ctx.lb.zone_ids().await {
        Ok(ids) => ids,
        Err(e) => return failed(e, "reading the zones' AZ IDs"),
    };
    let Some((zone, az_id)) = zonal::resolve_zone(&signal.zone, &ids) else {
        let reason = format!("{} is neither a zone name nor an AZ ID of this account and region", signal.zone);
        return Ok(refused(lb, &signal.zone, &reason, &[]));
    };
    let ended = ended_shifts(snapshot, &resource);
    let interrupted = facts::interrupted(snapshot, &resource);
    let mut ours = our_ids(snapshot);
    ours.extend(interrupted.iter().map(|(_, id)| id.clone()));
    let arc = ArcFacts { resource: &resource, ids: &ids, ours: &ours };
    let plan = match zonal::before_capacity(&zone, &az_id, arc) {
        Some(plan) => plan,
        None => {
            let balancer = match ctx.lb.balancer(lb).await {
                Ok(Some(balancer)) => balancer,
                Ok(None) => return Ok(report::skipped(Some(lb), action::NONE, "the load balancer does not exist")),
                Err(e) => return failed(e, "reading the load balancer"),
            };
            let groups = match ctx.zonal_groups(&balancer).await {
                Ok(groups) => groups,
                Err((e, doing)) => return failed(e, doing),
            };
            zonal::capacity(&zone, &az_id, &balancer.zones, &groups)
        }
    };
    match plan {
        ZonalPlan::Refuse { reason, counts } => Ok(refused(lb, &zone, &reason, &counts)),
        ZonalPlan::Already { shift } => match interrupted.iter().find(|(_, id)| shift.id.as_ref() == Some(id)) {
            Some((record, _)) => {
                let on = On { lb, snapshot, ended: &ended, dry_run };
                complete(ctx, on, &zone, record, &shift).await
            }
            None => Ok(
                match super::hold::ended_by_alarm(
                    ctx,
                    snapshot,
                    shift.id.as_deref(),
                    &zone,
                    options.alarm_arn.as_deref(),
                    dry_run,
                )
                .await?
                {
                    Some(report) => report,
                    None => owed(ctx, options, snapshot, &shift).map_or_else(
                        || {
                            let id = shift.id.clone().unwrap_or_default();
                            // Info, not a skip: a caller (signal 2 on another group of this load balancer, at once) counts
                            // the zone as evacuated and drains nothing more in it.
                            let title = format!("{}: zone {zone} already evacuated", balancer_name(lb));
                            report::about(lb, action::ZONAL_SHIFT, Outcome::Info, Severity::Info, title).summary(
                                format!(
                        "Zone {zone} of {lb} is already evacuated by this function (zonal shift {id}); nothing more \
                         was changed."
                    ),
                            )
                        },
                        |data| evacuated(lb, data, ctx.config.failback),
                    ),
                },
            ),
        },
        ZonalPlan::Defer { shift } => {
            let on = On { lb, snapshot, ended: &ended, dry_run };
            defer(ctx, on, &zone, &shift).await
        }
        ZonalPlan::Evacuate { zone, az_id, counts } => {
            let minutes = options.expires_minutes.unwrap_or(ctx.config.zonal_shift_expires_minutes);
            let shift = Shift { zone: &zone, az_id: &az_id, counts: &counts, minutes, why: &signal.why };
            let on = On { lb, snapshot, ended: &ended, dry_run };
            start(ctx, on, shift, options).await
        }
    }
}

/// The data of our record of `shift` when this very event started it (its retry owes the notification).
fn owed<'s, P: Ports>(
    ctx: &Context<'_, P>,
    options: &Options,
    snapshot: &'s Snapshot,
    shift: &ActiveShift,
) -> Option<&'s Value> {
    let at = ctx.event_at.filter(|_| options.owed)?;
    let mine = our_shifts(snapshot).into_iter().find(|s| s.id.is_some() && s.id == shift.id.as_deref())?;
    (mine.record.data.get("event_at").and_then(Value::as_i64) == Some(at)).then_some(&mine.record.data)
}

/// Our done shift records whose shift ARC no longer shows active: they ended (expired, or someone cancelled
/// them), so they are closed.
fn ended_shifts(snapshot: &Snapshot, resource: &ManagedResource) -> Vec<Settle> {
    our_shifts(snapshot)
        .into_iter()
        .filter(|s| s.id.is_some_and(|id| !resource.shifts.iter().any(|a| a.id.as_deref() == Some(id))))
        .map(|s| settle_from(s.record, State::Closed).with_data(with(&s.record.data, json!({"ended": "not active"}))))
        .collect()
}

fn with(data: &Value, more: Value) -> Value {
    let mut data = data.as_object().cloned().unwrap_or_default();
    if let Some(more) = more.as_object() {
        data.extend(more.clone());
    }
    Value::Object(data)
}

/// The load balancer acted on: its ARN, its ledger as read, our records to close (shifts that ended), dry run.
#[derive(Clone, Copy)]
struct On<'a> {
    lb: &'a str,
    snapshot: &'a Snapshot,
    ended: &'a [Settle],
    dry_run: bool,
}

async fn defer<P: Ports>(ctx: &Context<'_, P>, on: On<'_>, zone: &str, shift: &ActiveShift) -> Step<Report> {
    let On { lb, snapshot, ended, dry_run } = on;
    let key = deferred_key(shift);
    let by = shift_kind_text(shift.kind);
    if snapshot.record(&key).is_some() {
        return Ok(report::skipped(Some(lb), action::NONE, format!("zone {zone} is already shifted away by {by}")));
    }
    let name = balancer_name(lb);
    let report = report::about(
        lb,
        action::ZONAL_SHIFT,
        Outcome::Info,
        Severity::Info,
        format!("{name}: zone {zone} already shifted away"),
    )
    .summary(format!(
        "Zone {zone} ({}) of {lb} fails, and {by} already moves traffic away from it: this function starts no \
             shift and removes nothing in that zone.",
        shift.away_from
    ))
    .details(json!({"load_balancer": lb, "zone": zone, "az_id": shift.away_from, "deferred_to": shift}));
    if dry_run {
        return Ok(report);
    }
    let data = json!({"zone": zone, "shift": shift});
    let records = ctx.records(snapshot, [(key, data)]);
    // Bookkeeping only (AWS is not changed): recorded while automation is paused too, as a transition is.
    let session = failover_core::ledger::Session { force: true, ..ctx.session };
    match session.start(snapshot, &records.begin).await {
        Ok(Start::Started) => {}
        Ok(Start::Again) => return Err(Again),
        Ok(Start::Paused(_)) => return Ok(report),
        Err(e) => {
            tracing::warn!(load_balancer = %lb, error = %e, "recording the deferral");
            return Ok(report);
        }
    }
    let mut settle = records.settle(ctx.session.owner, |_| true);
    settle.extend(ended.iter().cloned());
    if let Err(e) = ctx.session.end(&snapshot.resource, &settle, &[]).await {
        tracing::warn!(load_balancer = %lb, error = %e, "recording the deferral");
    }
    Ok(report)
}

/// An interrupted run's shift (see [`facts::interrupted`]): its record is done with the shift's id now, and the
/// notification the run never sent goes out.
async fn complete<P: Ports>(
    ctx: &Context<'_, P>,
    on: On<'_>,
    zone: &str,
    record: &Record,
    shift: &ActiveShift,
) -> Step<Report> {
    let On { lb, snapshot, ended, dry_run } = on;
    let id = shift.id.clone().unwrap_or_default();
    let more = json!({"shift_id": id, "expires_at": shift.expires_at, "completed_by": ctx.trigger});
    let mut settle = vec![settle_from(record, State::Done).with_data(with(&record.data, more))];
    settle.extend(ended.iter().cloned());
    if !dry_run {
        if let Some(failed) = ctx.settle_only(snapshot, &settle, action::ZONAL_SHIFT).await? {
            return Ok(failed);
        }
    }
    let name = balancer_name(lb);
    let title = format!("{name}: zone {zone} evacuated");
    Ok(report::about(lb, action::ZONAL_SHIFT, Outcome::Succeeded, Severity::Critical, title)
        .summary(format!(
            "Zone {zone} ({}) of {lb} is evacuated by zonal shift {id}, which an interrupted run of this function \
             started ({}); it is now recorded in the ledger.",
            shift.away_from, record.trigger
        ))
        .details(json!({"load_balancer": lb, "zone": zone, "az_id": shift.away_from, "shift_id": id,
                        "expires_at": shift.expires_at, "interrupted_record": record.key})))
}

struct Shift<'a> {
    zone: &'a str,
    az_id: &'a str,
    counts: &'a [ZoneCounts],
    minutes: u32,
    why: &'a str,
}

async fn start<P: Ports>(ctx: &Context<'_, P>, on: On<'_>, shift: Shift<'_>, options: &Options) -> Step<Report> {
    let On { lb, snapshot, ended, dry_run } = on;
    let Shift { zone, az_id, counts, minutes, why } = shift;
    let name = balancer_name(lb);
    let numbers = counts.iter().map(|c| c.text(zone)).collect::<Vec<_>>().join("; ");
    let details = json!({"load_balancer": lb, "zone": zone, "az_id": az_id, "expires_minutes": minutes,
                         "why": why, "counts": counts});
    if dry_run {
        return Ok(report::about(
            lb,
            action::ZONAL_SHIFT,
            Outcome::DryRun,
            Severity::Info,
            format!("{name}: would evacuate zone {zone}"),
        )
        .summary(format!(
            "Dry run: zone {zone} ({az_id}) of {lb} fails ({why}); would start a zonal shift away from it for \
                 {minutes} minutes ({numbers}). Nothing was changed."
        ))
        .details(details));
    }
    let comment = zonal::comment(ctx.trigger, zone);
    let now = ctx.now();
    let data = json!({"zone": zone, "az_id": az_id, "trigger": ctx.trigger, "alarm_arn": options.alarm_arn,
                      "why": why, "expires_minutes": minutes, "comment": comment, "counts": counts,
                      "event_at": ctx.event_at});
    let key = facts::shift_key(ctx.session.owner, now);
    let retention = ctx.config.common.retention_secs();
    let pending = Record::pending(&snapshot.resource, &key, ctx.session.owner, ctx.trigger, now, retention)
        .with_data(data.clone());
    let planned = format!("start a zonal shift of {lb} away from {zone} ({az_id})");
    if let Some(refusal) = ctx.begin(snapshot, &[pending], action::ZONAL_SHIFT, &planned).await? {
        return Ok(refusal);
    }
    let started = ctx.lb.start_shift(lb, az_id, minutes, &comment).await;
    let expires_at = now + i64::from(minutes) * 60;
    let (to, more) = match &started {
        Ok(id) => (State::Done, json!({"shift_id": id, "expires_at": expires_at})),
        Err(e) => (State::Abandoned, json!({"error": e.to_string()})),
    };
    let data = with(&data, more);
    let mut settle: Vec<Settle> = ended.to_vec();
    settle.push(Settle::pending(&key, ctx.session.owner, to).with_data(data.clone()));
    let ended = ctx.session.end(&snapshot.resource, &settle, &[]).await;
    match started {
        Ok(_) => {}
        Err(e) if e.code.as_deref() == Some("ConflictException") => {
            let reason = format!("ARC refused the shift (ConflictException): {}", e.message);
            return Ok(refused(lb, zone, &reason, counts));
        }
        Err(e) => return Ok(report::failed(Some(lb), action::ZONAL_SHIFT, &e, "starting the zonal shift")),
    }
    if let Err(e) = ended {
        let doing = "recording the zonal shift in the ledger (the shift was started)";
        return Ok(report::fault(Some(lb), action::ZONAL_SHIFT, &e, doing));
    }
    Ok(evacuated(lb, &data, ctx.config.failback))
}
