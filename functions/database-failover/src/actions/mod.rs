//! One file per action. Each gathers its facts through the ports ([`facts`]), decides once through
//! [`crate::decide`], acts, and builds its report ([`crate::report`]); the handler publishes it.
//!
//! - [`promote`]: a possibly failed RDS primary (from an event, an alarm, a replica that lost its source, or the
//!   `promote` command): record the decision, promote the replica, repoint DNS.
//! - [`failover_cluster`]: an Aurora cluster: record the failover on the cluster, then `FailoverDBCluster`.
//! - [`status`]: the facts a failure would read and what it would do now; changes nothing.
//!
//! Reads are staged: lags are read only for replicas (readers) that exist, a recorded replica is described
//! only when it is not among those already described, and nothing is written before the plan says so.

use failover_core::report::Report;

use crate::config::Config;
use crate::decide::{Plan, Settings, Trigger};
use crate::ports::{Databases, Dns, ReplicaLag};
use crate::report;

pub mod facts;
pub mod failover_cluster;
pub mod promote;
pub mod status;

/// The ports and settings an action works with, borrowed from the handler's `App` for one invocation.
pub struct Context<'a, D, L, R> {
    pub databases: &'a D,
    pub lag: &'a L,
    pub dns: &'a R,
    pub config: &'a Config,
    /// The function's own region: plain identifiers are in it, and only its errors stop the work.
    pub region: &'a str,
    /// Seconds since the epoch, read when a decision is made.
    pub clock: fn() -> i64,
}

impl<D, L, R> Context<'_, D, L, R>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    /// The settings the policy reads.
    pub fn settings(&self) -> Settings {
        Settings {
            opt_in_tag_key: self.config.common.opt_in_tag_key.clone(),
            promote_when_available: self.config.promote_when_available,
            max_replica_lag_seconds: self.config.max_replica_lag_seconds,
            allow_cross_region: self.config.allow_cross_region,
        }
    }

    /// Carries out a plan of [`crate::decide::decide_promotion`] or [`crate::decide::decide_cluster`] (`aurora`)
    /// and reports it. Plans that change nothing are answered here; those that act are carried out by their
    /// action's module.
    async fn act(&self, plan: Plan, trigger: &Trigger, region: &str, aurora: bool, dry_run: bool) -> Report {
        match plan {
            Plan::Skip { reason } => report::skipped(reason),
            Plan::Inform(info) => report::inform(&info),
            Plan::Refuse(refusal) => {
                let action = if aurora { report::FAILOVER_CLUSTER } else { report::PROMOTE };
                report::refusal(&refusal, action, region, Some(trigger), aurora)
            }
            Plan::AlreadyPromoted { primary, replica, at, endpoint, repoint } => {
                promote::already_promoted(self, &primary, &replica, &at, endpoint.as_deref(), repoint && !dry_run).await
            }
            Plan::Promote(p) => promote::execute(self, &p, trigger, dry_run).await,
            Plan::FailoverCluster(c) => failover_cluster::execute(self, &c, trigger, dry_run).await,
        }
    }
}
