//! Fence the old primary: once a replica replaced it, its VPC security groups are replaced by the fence group
//! as soon as it can be modified, so that it takes no connections (FENCE=security-group; [`crate::decide::fence`]).
//!
//! Triggers: (1) a promotion away from an `available` primary ([`Guard`], inside the promotion's lease, before
//! `PromoteReadReplica`: a fence that fails leaves the replica unpromoted, a retryable failed step); (2) any
//! later event or alarm on the old primary whose promotion is done ([`after_promotion`], called from
//! [`super`]'s dispatch (`actions/mod.rs`, `or`) once its plan was `AlreadyPromoted`), an availability event such as "DB instance
//! restarted" ([`crate::route::Route::Returned`]), and the `readiness` run: each fences it once it is
//! `available`, within that invocation.
//!
//! AWS calls: one `DescribeDBInstances` of the primary (read after the ledger), `ModifyDBInstance`
//! (`VpcSecurityGroupIds` = the fence group, `ApplyImmediately`); `InvalidDBInstanceState` means "not yet".
//! Ledger calls: one `Query` of the primary's resource, then `begin` writing `fence#<DbiResourceId>` pending
//! (the original groups and the fence group) and `end` settling it done. Idempotency: the record binds the
//! fence to the instance the promotion replaced; a pending one (a run cut short) is completed with the groups
//! it recorded; a done one whose instance shows other groups again is fenced again and notified `critical`; a
//! closed one (`unfence`) is never fenced again. Dry runs write nothing and change nothing.

use failover_core::aws::AwsError;
use failover_core::fault::Fault;
use failover_core::ledger::{self, Settle, Snapshot, Start, State, Step, Stop};
use failover_core::outcome::Outcome;
use failover_core::pause;
use failover_core::report::Report;

use super::{facts, Context};
use crate::decide::fence::{decide_fence, fence_record, FencePlan, FenceRecord};
use crate::decide::{PrimaryState, Promotion, Trigger};
use crate::model::{self, promotion_resource, DbRef, Instance, Modified};
use crate::ports::{Databases, Ports};
use crate::report::{self, Failure};
use crate::FUNCTION;
use failover_core::readiness::Gap;

/// The fence plan of `primary` replaced by the promotion decided about the instance `bound_to`, given the
/// ledger's records of its resource (which also hold its lineage: a fence group it inherited counts).
fn plan<P: Ports>(ctx: &Context<'_, P>, primary: &Instance, bound_to: Option<&str>, snapshot: &Snapshot) -> FencePlan {
    let primary = &model::inherit(primary.clone(), &snapshot.records);
    let record = primary.resource_id.as_deref().and_then(|id| fence_record(&snapshot.records, id));
    let setting = ctx.config.fence_security_group.as_deref();
    decide_fence(ctx.config.fence, setting, primary, bound_to, record.as_ref())
}

/// `ModifyDBInstance` to the fence group. `Ok(None)`: not yet (RDS's words).
async fn modify<P: Ports>(ctx: &Context<'_, P>, record: &FenceRecord) -> Result<Option<String>, AwsError> {
    tracing::info!(primary = %record.instance, group = record.group, original = ?record.original, "fencing old primary");
    match ctx.databases.set_security_groups(&record.instance, std::slice::from_ref(&record.group)).await? {
        Modified::Applied(_) => Ok(None),
        Modified::NotYet(why) => Ok(Some(why)),
    }
}

/// The pending record to write for `record`, unless the ledger already holds it.
fn to_write<P: Ports>(ctx: &Context<'_, P>, snapshot: &Snapshot, record: &FenceRecord) -> Vec<ledger::Record> {
    if snapshot.record(&record.key).is_some() {
        return Vec::new();
    }
    let retention = ctx.config.common.retention_secs();
    let pending =
        ledger::Record::pending(&snapshot.resource, &record.key, ctx.session.owner, "fence", ctx.now(), retention);
    vec![pending.open().with_data(record.data())]
}

/// Settles `record` done once fenced: a pending one in the name of whoever wrote it (this run, or the run cut
/// short); a done one (fenced again) stays as it is.
fn settle<P: Ports>(ctx: &Context<'_, P>, snapshot: &Snapshot, record: &FenceRecord) -> Vec<Settle> {
    match snapshot.record(&record.key) {
        None => vec![Settle::pending(&record.key, ctx.session.owner, State::Done)],
        Some(found) if found.state == State::Pending => vec![Settle::pending(&record.key, &found.owner, State::Done)],
        Some(_) => Vec::new(),
    }
}

/// After a completed promotion of `primary_ref`: fences the old primary if it is `available` and not fenced.
/// `Ok(None)` when there is nothing to do or say (logged). Runs its own attempt loop on the primary's resource.
pub async fn after_promotion<P: Ports>(
    ctx: &Context<'_, P>,
    primary_ref: &DbRef,
    trigger: &str,
    dry_run: bool,
) -> Result<Option<Report>, Fault> {
    if ctx.config.fence == crate::config::Fence::None {
        return Ok(None);
    }
    let resource = promotion_resource(primary_ref);
    ctx.session
        .attempt(&resource, async |snapshot| -> Result<Option<Report>, Stop<Fault>> {
            let Some(primary) = ctx.databases.instance(primary_ref).await? else { return Ok(None) };
            let found = PrimaryState::Found(primary.clone());
            let promotion = facts::promotion_record(&snapshot, &found).filter(|r| r.state == State::Done);
            // The promotion record expires with the ledger's retention; a fence made of this very instance is
            // kept until it is released, and keeps it fenced.
            let fenced = primary.resource_id.as_deref().and_then(|id| fence_record(&snapshot.records, id));
            let (bound_to, replica) = match (&promotion, fenced.filter(|f| f.state == State::Done)) {
                (Some(p), _) => (p.primary_resource_id.clone(), p.subject.display_from(&primary_ref.region)),
                (None, Some(f)) => (Some(f.resource_id), "the replica promoted in its place".to_owned()),
                (None, None) => return Ok(None),
            };
            let plan = plan(ctx, &primary, bound_to.as_deref(), &snapshot);
            let FencePlan::Fence { record, again } = plan else {
                tracing::info!(primary = %primary_ref, ?plan, "old primary: no fence now");
                return Ok(None);
            };
            let fence = report::Fenced { record: &record, again, replica: &replica, trigger };
            if dry_run {
                return Ok(Some(report::fenced(&fence, Outcome::DryRun, None)));
            }
            match ctx.session.start(&snapshot, &to_write(ctx, &snapshot, &record)).await {
                Ok(Start::Started) => {}
                Ok(Start::Again) => return Err(Stop::Again),
                Ok(Start::Paused(paused)) => {
                    let planned = format!("fence {} with {}", primary_ref.id, record.group);
                    return Ok(Some(pause::refused(FUNCTION, report::FENCE, &primary_ref.id, &paused, &planned)));
                }
                Err(error) => return Err(Stop::Failed(error.into())),
            }
            let modified = modify(ctx, &record).await;
            let settled = if matches!(modified, Ok(None)) { settle(ctx, &snapshot, &record) } else { Vec::new() };
            let ended = ctx.session.end(&snapshot.resource, &settled, &[]).await;
            Ok(Some(match (modified, ended) {
                (Ok(None), Ok(())) => report::fenced(&fence, Outcome::Succeeded, None),
                (Ok(None), Err(error)) => {
                    let step = "record the fence as done in the ledger";
                    report::fenced(&fence, Outcome::Failed, Some(&Failure { step, error, done: vec![] }))
                }
                (Ok(Some(why)), _) => {
                    tracing::info!(primary = %primary_ref, why, "old primary cannot be modified yet");
                    return Ok(None);
                }
                (Err(error), _) => {
                    let failure = Failure { step: "ModifyDBInstance", error: error.into(), done: vec![] };
                    report::fenced(&fence, Outcome::Failed, Some(&failure))
                }
            }))
        })
        .await
}

/// The fence step of a promotion (`super::promote::execute`): planned from the primary described inside the
/// promotion's attempt loop, its record written with the decision, applied before `PromoteReadReplica`.
pub struct Guard {
    pub plan: FencePlan,
    /// The primary could not be described: why (its fence state is unknown; an `available` one is not promoted).
    pub unknown: Option<AwsError>,
    /// Set once `ModifyDBInstance` succeeded.
    pub applied: std::sync::atomic::AtomicBool,
    /// Set once RDS accepted `PromoteReadReplica` (or the replica was already promoted): only then is the fence
    /// settled done; a fence without it is undone ([`Guard::settle`]).
    pub accepted: std::sync::atomic::AtomicBool,
    /// A person's forced `promote`: a fence that can never be made (a non-transient `ModifyDBInstance` error
    /// other than InvalidDBInstanceState) does not stop it.
    pub forced: bool,
    /// The fence could not be made and the forced promotion went on: why.
    pub skipped: std::sync::Mutex<Option<String>>,
    /// A fence undone after a failed promotion: `Ok` restored, `Err` why the groups could not be restored.
    pub undone: std::sync::Mutex<Option<super::fence_undo::Undone>>,
}

impl Guard {
    /// Reads the primary (when the promotion described one) and plans its fence.
    pub async fn before<P: Ports>(ctx: &Context<'_, P>, p: &Promotion, snapshot: &Snapshot, forced: bool) -> Guard {
        let guard = |plan, unknown| Guard {
            plan,
            unknown,
            applied: Default::default(),
            accepted: Default::default(),
            forced,
            skipped: Default::default(),
            undone: Default::default(),
        };
        if ctx.config.fence == crate::config::Fence::None {
            return guard(FencePlan::Off, None);
        }
        if p.primary_arn.is_none() {
            let why = format!("{} is {}", p.primary.id, p.primary_status);
            return guard(FencePlan::NotBound { why }, None);
        }
        match ctx.databases.instance(&p.primary).await {
            Ok(Some(primary)) => guard(plan(ctx, &primary, p.record.primary_resource_id.as_deref(), snapshot), None),
            Ok(None) => guard(FencePlan::NotBound { why: format!("{} no longer exists", p.primary.id) }, None),
            Err(error) => guard(FencePlan::NotYet { status: p.primary_status.clone() }, Some(error)),
        }
    }

    /// The fence's pending record, written by `begin` with the decision.
    pub fn records<P: Ports>(&self, ctx: &Context<'_, P>, snapshot: &Snapshot) -> Vec<ledger::Record> {
        match &self.plan {
            FencePlan::Fence { record, .. } => to_write(ctx, snapshot, record),
            _ => Vec::new(),
        }
    }

    /// Fences before the promotion; a fence that cannot be made stops it (the replica is not promoted).
    pub async fn apply<P: Ports>(
        &self,
        ctx: &Context<'_, P>,
        p: &Promotion,
        done: &mut Vec<String>,
    ) -> Result<(), Failure> {
        let step = "fence the old primary";
        if let (Some(error), "available") = (&self.unknown, p.primary_status.as_str()) {
            return Err(Failure { step, error: error.clone().into(), done: done.clone() });
        }
        let FencePlan::Fence { record, .. } = &self.plan else { return Ok(()) };
        match modify(ctx, record).await {
            Ok(None) => {
                self.applied.store(true, std::sync::atomic::Ordering::Relaxed);
                done.push(format!(
                    "fenced {} ({} replaced by {})",
                    p.primary.id,
                    record.original.join(", "),
                    record.group
                ));
                Ok(())
            }
            Ok(Some(why)) => {
                let error = AwsError {
                    operation: "ModifyDBInstance",
                    resource: p.primary.to_string(),
                    code: Some("InvalidDBInstanceState".into()),
                    transient: true,
                    message: format!("{} cannot be modified yet: {why}", p.primary.id),
                };
                Err(Failure { step, error: error.into(), done: done.clone() })
            }
            // A fence that can never be made (a group in another VPC or deleted, AccessDenied): a person's forced
            // promote goes on, unfenced and said so (critical); an automatic trigger refuses and names that command.
            Err(error) if !error.transient && error.code.as_deref() != Some("InvalidDBInstanceState") => {
                if self.forced {
                    tracing::error!(primary = %p.primary, %error, "fence impossible: forced promotion goes on unfenced");
                    done.push(format!("did NOT fence {}: {error}", p.primary.id));
                    if let Ok(mut slot) = self.skipped.lock() {
                        *slot = Some(error.to_string());
                    }
                    return Ok(());
                }
                let command = serde_json::json!({"command": "promote", "db_instance_identifier": p.replica.id,
                    "region": p.replica.region, "force": true});
                let message = format!(
                    "{}; the fence cannot be made, so nothing is promoted automatically: a person who has stopped \
                     {} or made it read-only can promote anyway, unfenced: {command}",
                    error.message, p.primary.id
                );
                Err(Failure { step, error: AwsError { message, ..error }.into(), done: done.clone() })
            }
            Err(error) => Err(Failure { step, error: error.into(), done: done.clone() }),
        }
    }

    /// The fence step as the promotion record keeps it for a notification rebuilt later ([`super::owed`]).
    pub fn result(&self, p: &Promotion) -> serde_json::Value {
        let applied = self.applied.load(std::sync::atomic::Ordering::Relaxed);
        serde_json::json!({"plan": self.plan, "applied": applied, "primary_status": p.primary_status})
    }

    /// RDS accepted the promotion (or the replica was already promoted): the fence stays.
    pub fn accepted(&self) {
        self.accepted.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// The fence record's settlement once the promotion's steps ran: done together with a promotion RDS
    /// accepted. A fence applied while the promotion was not accepted is undone ([`super::fence_undo`]): a
    /// fenced primary is never left without a promoted replica; groups that could not be restored leave it
    /// done (the instance is fenced: `unfence` releases it) and the notification says so.
    pub async fn settle<P: Ports>(&self, ctx: &Context<'_, P>, snapshot: &Snapshot) -> Vec<Settle> {
        use std::sync::atomic::Ordering::Relaxed;
        let FencePlan::Fence { record, .. } = &self.plan else { return Vec::new() };
        if !self.applied.load(Relaxed) {
            return Vec::new();
        }
        if self.accepted.load(Relaxed) {
            return settle(ctx, snapshot, record);
        }
        let (undone, restored) = super::fence_undo::restore(ctx, snapshot, record).await;
        if let Ok(mut slot) = self.undone.lock() {
            *slot = Some(undone);
        }
        match restored {
            Some(settle) => vec![settle],
            None => settle(ctx, snapshot, record),
        }
    }
}

/// A promotion carried out with its fence step: [`super::promote::execute`], its report telling the fence state.
pub(super) async fn promote<P: Ports>(
    ctx: &Context<'_, P>,
    p: &Promotion,
    snapshot: &Snapshot,
    trigger: &Trigger,
    dry_run: bool,
) -> Step<Report> {
    let forced = matches!(trigger, Trigger::ManualPromote { force: true, .. });
    let guard = Guard::before(ctx, p, snapshot, forced).await;
    let report = super::promote::execute(ctx, p, snapshot, trigger, dry_run, &guard).await?;
    let applied = guard.applied.load(std::sync::atomic::Ordering::Relaxed);
    let undone = guard.undone.lock().ok().and_then(|slot| slot.clone());
    if let Some(why) = guard.skipped.lock().ok().and_then(|slot| slot.clone()) {
        return Ok(report::fence_impossible(report, p, &why));
    }
    let report = report::promotion_fence(report, p, &guard.plan, applied);
    Ok(match (&guard.plan, undone) {
        (FencePlan::Fence { record, .. }, Some(undone)) => {
            report::fence_undone(report, record, "RDS did not accept the promotion", undone)
        }
        _ => report,
    })
}

/// An old primary's answer to any event or alarm once its promotion is done (`done`, a skip as a rule): the
/// fence made now, when one is made, else `done`.
pub(super) async fn or<P: Ports>(
    ctx: &Context<'_, P>,
    primary: &DbRef,
    trigger: &Trigger,
    dry_run: bool,
    done: Report,
) -> Report {
    match after_promotion(ctx, primary, &trigger.describe(), dry_run).await {
        Ok(None) => done,
        Ok(Some(fenced)) => match done.error {
            Some(error) if fenced.error.is_none() => fenced.error(error),
            _ => fenced,
        },
        Err(fault) => done.error(fault),
    }
}

/// An availability event ("DB instance restarted"): fences the instance if it is an old primary.
pub(super) async fn returned<P: Ports>(
    ctx: &Context<'_, P>,
    at: &DbRef,
    event_id: &str,
    dry_run: bool,
) -> Result<Report, Fault> {
    let fenced = after_promotion(ctx, at, event_id, dry_run).await?;
    Ok(fenced.unwrap_or_else(|| report::skipped(format!("{event_id} on {at}: no old primary to fence"))))
}

/// `readiness`, per opted-in primary: the gap of a primary that could not be fenced (no fence group), and an
/// old primary found `available` and unfenced after its failover, fenced now (not in a dry run) and listed as a
/// gap with what was done.
pub(super) async fn in_readiness<P: Ports>(ctx: &Context<'_, P>, primary: &Instance, dry_run: bool) -> Vec<Gap> {
    let setting = ctx.config.fence_security_group.as_deref();
    let mut gaps: Vec<Gap> =
        crate::decide::fence::readiness_gap(ctx.config.fence, setting, primary).into_iter().collect();
    let (problem, fix) = match after_promotion(ctx, &primary.at, "readiness", dry_run).await {
        Ok(None) => return gaps,
        Ok(Some(fenced)) => {
            let fix = fenced.next_steps.last().cloned().unwrap_or_default();
            (format!("{}: {}", fenced.title, fenced.summary), fix)
        }
        Err(fault) => (
            format!("{}: its fence could not be checked: {fault}", primary.at.id),
            format!("aws rds describe-db-instances --db-instance-identifier {}", primary.at.id),
        ),
    };
    gaps.push(Gap { kind: "old-primary-unfenced", resource: primary.arn.clone(), problem, fix });
    gaps
}

/// `status`: the fence state of an old primary whose promotion is done (changes nothing).
pub(super) fn in_status<P: Ports>(
    ctx: &Context<'_, P>,
    facts: &crate::decide::PromotionFacts,
    snapshot: &Snapshot,
    mut told: Report,
) -> Report {
    let (PrimaryState::Found(primary), Some(record)) = (&facts.primary, &facts.record) else { return told };
    if record.state != State::Done {
        return told;
    }
    let plan = plan(ctx, primary, record.primary_resource_id.as_deref(), snapshot);
    told.summary.push(' ');
    told.summary.push_str(&plan.sentence(&primary.at.id));
    if let Some(details) = told.details.as_object_mut() {
        details.insert("fence".into(), serde_json::json!(plan));
    }
    told
}
