//! One file per action, behind [`dispatch`]. Each changing action runs inside the one ledger attempt loop
//! ([`failover_core::ledger::Session::attempt`]): it reads the resource's ledger, gathers its facts through the
//! ports ([`facts`]), decides once through [`crate::decide`], acts, and builds its report ([`crate::report`]);
//! the handler publishes it. The AWS and ledger calls each action makes are listed in its own file.
//!
//! - [`promote`]: a possibly failed RDS primary (from an event, an alarm, a replica that lost its source, or the
//!   `promote` command): record the decision, promote the replica, repoint DNS ([`repoint`]: the record the
//!   primary's `failover:dns-record` tag names, only from the primary's endpoint), move its RDS Proxy target
//!   ([`proxy`]: the target group the `failover:rds-proxy` tag names, only from the primary).
//!   Then its lineage ([`lineage`]: old primary → new, by `DbiResourceId`, with the bindings the new one
//!   inherits) and, with `RECREATE_REPLICA`, one new replica of the new primary ([`recreate`]).
//! - [`fence`]: the old primary's fence, before a promotion away from an `available` primary and once a
//!   replaced one is `available` again; [`unfence`]: the command that releases it; [`fence_undo`]: a fence
//!   whose promotion did not happen (refused by RDS, or its decision abandoned) undone.
//! - [`found_decision`]: a promotion another region's stack made, found done in the primary's ledger: told
//!   once by this stack.
//! - [`abandon`]: a pending promotion whose guards no longer hold, or that expired: abandoned in the ledger,
//!   with a warning saying why.
//! - [`failover_cluster`]: an Aurora or Multi-AZ DB cluster: record the failover on the cluster, read the writer
//!   again ([`writer_moved`]: nothing is done when it moved), then `FailoverDBCluster`.
//! - [`aws_failover`]: AWS's own failover, notified; a cluster's completed one recorded on the cluster,
//!   so that it counts for the cooldown; a Multi-AZ one recorded on the primary, so that promotions wait for it.
//! - [`aws_recovery`]: a Multi-AZ primary's or a cluster's own failover that no event told: read with
//!   `DescribeEvents`.
//! - [`fix_in_place`]: a primary whose storage is full or whose parameters are invalid: the command that fixes
//!   it, no promotion.
//! - [`status`]: the facts a failure would read, what it would do now, the open ledger records and the pause;
//!   changes nothing.
//! - [`switchover_global`]: `switchover-global`: a planned switchover of an Aurora Global Database to a
//!   healthy secondary in sync (`SwitchoverGlobalCluster`), with a `global#<time>` record on `global-cluster:<id>`.
//! - [`failover_global`]: the unplanned failover of a global database whose primary region is lost:
//!   `FailoverGlobalCluster` with `AllowDataLoss` when the measured loss is within the setting, else a pending
//!   decision of the approval gate; when the global APIs fail, a detach (`RemoveFromGlobalCluster`), approved only.
//! - [`approve`], [`reject`]: the approval gate's commands.
//! - [`timeline`]: the last incident in the ledger, step by step, with its durations; changes nothing.
//! - [`control`]: `pause` and `resume`.
//! - [`readiness`]: every opted-in primary and cluster against what a failover would need; changes nothing.
//! - [`owed`]: a done promotion whose notification an interrupted run did not publish: published once, then
//!   marked in the ledger.
//!
//! Reads are staged: lags are read only for replicas (readers) that exist, a recorded replica is described
//! only when it is not among those already described, and nothing is written before the plan says so.

use crate::command::Subject;
use crate::config::Config;
use crate::decide::{Plan, Settings, Trigger};
use crate::model::Topology;
use failover_core::fault::Fault;
use failover_core::invoke::InvokeError;
use failover_core::ledger::{self, Again, Session, Snapshot, Start, Step};
use failover_core::report::Report;

use crate::ports::Ports;
use crate::report;
use crate::route::Route;

pub mod abandon;
pub mod approve;
pub mod ask;
pub mod aws_failover;
pub mod aws_recovery;
pub mod control;
pub mod facts;
pub mod failover_cluster;
pub mod failover_global;
pub mod fence;
pub mod fence_undo;
pub mod fix_in_place;
pub mod found_decision;
pub mod global_dns;
pub mod global_done;
pub mod lineage;
pub mod owed;
pub mod promote;
pub mod protect;
pub mod proxy;
pub mod readiness;
pub mod recreate;
pub mod reject;
pub mod repoint;
pub mod status;
pub mod switchover_global;
pub mod timeline;
pub mod unfence;
pub mod writer_moved;

/// The ports and settings an action works with, borrowed from the handler's `App` for one invocation.
pub struct Context<'a, P: Ports> {
    pub databases: &'a P::Databases,
    pub lag: &'a P::Lag,
    pub dns: &'a P::Dns,
    /// This invocation's side of the ledger: the ledger, its name there, its lease, its clock (seconds since
    /// the epoch, read when a decision is made), its wait budget, and a person's `"force": true`.
    pub session: Session<'a, P::Ledger>,
    pub config: &'a Config,
    /// The function's own region: plain identifiers are in it, and only its errors stop the work.
    pub region: &'a str,
    /// When the failure happened (seconds since the epoch): the RDS event's or the alarm's time; `None` for
    /// manual commands (then: now). Lag is judged as of then.
    pub failure_at: Option<i64>,
    /// When Lambda stops the invocation, when known: how long the DNS step may wait for Route 53.
    pub deadline: Option<std::time::SystemTime>,
    /// The ledger resource of a promotion this run reports and has not yet marked notified (set by
    /// [`promote`]): what the run owes once its notification is out ([`owed::MarkNotified`]).
    pub owes: std::sync::OnceLock<String>,
}

impl<P: Ports> Context<'_, P> {
    /// The settings the policy reads.
    pub fn settings(&self) -> Settings {
        Settings {
            opt_in_tag_key: self.config.common.opt_in_tag_key.clone(),
            promote_when_available: self.config.promote_when_available,
            max_replica_lag_seconds: self.config.max_replica_lag_seconds,
            allow_cross_region: self.config.allow_cross_region,
            decision_ttl_secs: self.config.decision_ttl_minutes * 60,
        }
    }

    /// Seconds since the epoch, now.
    pub fn now(&self) -> i64 {
        (self.session.clock)()
    }

    /// When the failure happened (never later than now): lags are judged as of then.
    pub fn failure_time(&self) -> i64 {
        let now = self.now();
        self.failure_at.map_or(now, |at| at.min(now))
    }

    /// Carries out a plan of [`crate::decide::decide_promotion`] (`topology`: an instance) or
    /// [`crate::decide::decide_cluster`] (a cluster's topology) and reports it. Plans that change nothing are
    /// answered here; those that act are carried out by their action's module.
    /// `snapshot` is the resource's ledger as read before the facts.
    async fn act(
        &self,
        plan: Plan,
        snapshot: &Snapshot,
        trigger: &Trigger,
        region: &str,
        topology: &Topology,
        dry_run: bool,
    ) -> Step<Report> {
        let report = match plan {
            Plan::Skip { reason } => report::skipped(reason),
            // A transient error: Lambda retries the event once the promotion may be done.
            Plan::Wait { resource, reason } => report::waiting(resource, reason),
            Plan::Inform(info) => report::inform(&info),
            Plan::FixInPlace(fix) => report::fix_in_place(&fix, trigger),
            Plan::Refuse(refusal) => {
                let action = if *topology == Topology::Instance { report::PROMOTE } else { report::FAILOVER_CLUSTER };
                report::refusal(&refusal, action, region, Some(trigger), topology)
            }
            Plan::AlreadyPromoted { primary, replica, at, endpoint, repoint, dns, decided_in } => {
                let found = found_decision::Found { primary: &primary, replica: &replica, at: &at, decided_in };
                if let Some(told) = Box::pin(found_decision::tell(self, snapshot, &found, dry_run)).await? {
                    return Ok(told);
                }
                let endpoint = endpoint.as_deref();
                let repoint = repoint && !dry_run;
                let again = repoint::already_promoted(self, &primary, &replica, &at, endpoint, dns.as_ref(), repoint);
                let done = Box::pin(again).await;
                Box::pin(fence::or(self, &primary, trigger, dry_run, done)).await
            }
            // Each action's future on the heap: together they outgrow a thread's stack in unoptimised builds.
            Plan::Promote(p) => return Box::pin(fence::promote(self, &p, snapshot, trigger, dry_run)).await,
            Plan::Abandon(a) => return Box::pin(abandon::run(self, &a, snapshot, trigger, dry_run)).await,
            Plan::FailoverCluster(c) => {
                return Box::pin(failover_cluster::execute(self, &c, snapshot, trigger, dry_run)).await
            }
        };
        Ok(report)
    }

    /// Writes `record`, a done record of something found rather than changed, on `snapshot`'s resource under the
    /// lease. `Ok(false)` when it was not written (automation paused, or the ledger refused: logged), `Err(Again)`
    /// when the ledger changed since the read.
    async fn note(&self, snapshot: &Snapshot, record: ledger::Record) -> Step<bool> {
        match self.session.start(snapshot, &[]).await {
            Ok(Start::Started) => {}
            Ok(Start::Again) => return Err(Again),
            Ok(Start::Paused(_)) => return Ok(false),
            Err(error) => {
                tracing::warn!(%error, resource = snapshot.resource, "not recorded: the ledger refused");
                return Ok(false);
            }
        }
        if let Err(error) = self.session.end(&snapshot.resource, &[], &[record]).await {
            tracing::warn!(%error, resource = snapshot.resource, "not recorded; the lease runs out by itself");
            return Ok(false);
        }
        Ok(true)
    }

    /// The answer of an action decided without reading the ledger (a resource that is not ours): its plan
    /// changes nothing, so it is never [`Err(Again)`].
    async fn act_unread(&self, plan: Plan, resource: &str, trigger: &Trigger, region: &str, kind: &Topology) -> Report {
        let unread =
            Snapshot { resource: resource.to_owned(), at: self.now(), version: 0, holder: None, records: vec![] };
        match self.act(plan, &unread, trigger, region, kind, true).await {
            Ok(report) => report,
            Err(Again) => report::skipped(format!("{resource}: nothing to do")),
        }
    }
}

/// The action a route names. AWS failing while the facts are gathered is itself reported (`failed`, with
/// the error, so that a transient one is retried).
pub async fn dispatch<P: Ports>(ctx: &Context<'_, P>, route: Route, dry_run: bool) -> Result<Report, InvokeError> {
    let (region, resource, trigger, work) = match route {
        Route::Skip(reason) => return Ok(report::skipped(reason)),
        Route::Refuse(refusal) => {
            return Ok(report::refusal(&refusal, report::PROMOTE, ctx.region, None, &Topology::Instance));
        }
        Route::Pause { reason, by } => {
            return Ok(control::pause(ctx.session.ledger, reason.as_deref(), by.as_deref(), ctx.now()).await)
        }
        Route::Resume => return Ok(control::resume(ctx.session.ledger).await),
        Route::Readiness { region, subject } => {
            return Ok(Box::pin(readiness::run(ctx, &region, subject.as_ref(), dry_run)).await?)
        }
        Route::Timeline { region, subject } => return Ok(timeline::run(ctx, &region, &subject).await),
        Route::SwitchoverGlobal { region, global, target } => {
            let work = Box::pin(switchover_global::run(ctx, &global, &region, &target, dry_run)).await;
            return Ok(work.unwrap_or_else(|error| report::global_failed(&global, error)));
        }
        Route::GlobalPrimary { region, id, cause } => {
            let work = Box::pin(failover_global::run(ctx, &region, &id, &cause, dry_run)).await;
            (region, id, Trigger::FailureEvent { event_id: cause, message: String::new() }, work)
        }
        Route::Approve { decision, by } => {
            let work = Box::pin(approve::run(ctx, &decision, &by, dry_run)).await;
            return Ok(work.unwrap_or_else(|error| report::approval_failed(&decision, report::APPROVE, error)));
        }
        Route::Reject { decision, by } => {
            let work = reject::run(ctx, &decision, &by, dry_run).await;
            return Ok(work.unwrap_or_else(|error| report::approval_failed(&decision, report::REJECT, error)));
        }
        Route::Promote { at, trigger } => {
            return Box::pin(promote::manual(ctx, &at, &trigger, dry_run)).await;
        }
        Route::Instance { at, trigger } => {
            let work = Box::pin(promote::instance(ctx, &at, &trigger, dry_run)).await;
            (at.region, at.id, trigger, work)
        }
        Route::Returned { at, event_id } => {
            let work = fence::returned(ctx, &at, &event_id, dry_run).await;
            (at.region, at.id, Trigger::FailureEvent { event_id, message: String::new() }, work)
        }
        Route::Unfence { at, by, reason } => return unfence::run(ctx, &at, by, reason, dry_run).await,
        Route::FixInPlace { at, event_id, message } => {
            let work = fix_in_place::run(ctx, &at, &event_id, &message).await.map_err(Fault::from);
            (at.region, at.id, Trigger::FailureEvent { event_id, message }, work)
        }
        Route::Replica { at, trigger } => {
            let work = Box::pin(promote::replica(ctx, &at, &trigger, dry_run)).await;
            (at.region, at.id, trigger, work)
        }
        Route::Inform(info) => {
            let work = Box::pin(aws_failover::run(ctx, &info, dry_run)).await;
            let trigger = Trigger::FailureEvent { event_id: info.event_id, message: info.message };
            (info.region, info.resource, trigger, work)
        }
        Route::Cluster { region, id, trigger } => {
            let work = Box::pin(failover_cluster::run(ctx, &region, &id, &trigger, None, dry_run)).await;
            (region, id, trigger, work)
        }
        Route::Status { region, subject } => {
            let work = Box::pin(status::run(ctx, &region, &subject)).await.map_err(Fault::from);
            let (Subject::Instance(id) | Subject::Cluster(id)) = subject;
            (region, id, Trigger::Status, work)
        }
    };
    Ok(work.unwrap_or_else(|error| report::failure(&region, &resource, &trigger, error)))
}
