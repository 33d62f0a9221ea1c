//! The actions, one file each, and what they share ([`Context`]: the ports, the settings, the invocation's
//! ledger session; the listener reads and writes of a shift or failback). Where an event goes is in
//! ARCHITECTURE.md: [`alarm`] fans an alarm out over its groups, [`manual`] runs a command, [`plan`] hands a
//! group's [`crate::decide::Plan`] to its action ([`deregister`], [`shift`], [`failback`]); [`restore`],
//! [`reinstate`] (with [`hold`]), [`replace`], [`status`], [`timeline`], [`readiness`] and a load balancer's zones
//! ([`zonal`]) are called from there; [`tick`] completes the restore holds on the schedule's tick. Every changing
//! action runs inside the one ledger attempt loop ([`Context::on_group`]).
//!
//! Reads are staged: a group's tags first (one `DescribeTags` per 20 groups: configuration, read before the
//! ledger so that a group not opted in costs no ledger call; a group alarm's named groups are the exception,
//! their ledgers read beside the tags, [`alarm`]), then the group's ledger, then its target health, and the
//! listeners and rules only when a shift or failback is planned (or `status` needs them).

use failover_core::aws::AwsError;
use failover_core::ledger::{Session, Snapshot};

use crate::decide::{self, Floor, GroupView, OptedIn};
use crate::model::{ForwardAction, Tags, TargetHealth};
use crate::ports::{LoadBalancer, Ports};
use crate::Config;

pub mod alarm;
pub mod deregister;
pub mod failback;
pub mod handover;
pub mod hold;
pub mod hold_status;
pub mod ledger;
pub mod manual;
pub mod owed;
pub mod plan;
pub mod readiness;
pub mod reads;
pub mod reinstate;
pub mod replace;
pub mod restore;
pub mod shift;
pub mod status;
pub mod tick;
pub mod timeline;
pub mod transitions;
pub mod zonal;

pub use alarm::on_alarm;
pub use manual::on_command;
pub(crate) use plan::execute;

/// What every action works with: the ports, the settings, and the invocation's name, lease, clock and trigger.
pub struct Context<'a, P: Ports> {
    pub lb: &'a P::Lb,
    pub config: &'a Config,
    /// This invocation's side of the ledger: the ledger, its name there, its lease, its clock, and a person's
    /// `"force": true` (act while automation is paused).
    pub session: Session<'a, P::Ledger>,
    /// What caused it (`alarm web-5xx`, `manual command shift`), written in its records.
    pub trigger: &'a str,
    /// An alarm event's state timestamp (ms), written in the records of its changes (`event_at`): a retry of
    /// the event that finds them done publishes the notification its interrupted run owed ([`owed`]).
    pub event_at: Option<i64>,
    /// One per invocation: a shift or failback holds it from reading the listener actions until it has
    /// re-weighted them, so that groups sharing one forward action, acted on at once, each start from the
    /// other's write instead of overwriting it.
    pub listeners: &'a tokio::sync::Mutex<()>,
    /// One per invocation: each group's configuration, read once ([`reads`]).
    pub reads: &'a reads::GroupReads,
    /// One per invocation: what its hand-overs to Auto Scaling share (the candidate groups, read once).
    pub handover: &'a handover::HandOver,
}

/// The forward actions that send traffic to a group, each with the adapter's opaque action list, and which
/// of their listeners and rules are opted in.
pub struct Forwarding<A> {
    /// What the policy sees.
    pub actions: Vec<ForwardAction>,
    /// `originals[i]` is the whole action list behind `actions[i]`, handed back to the port to re-weight it.
    pub originals: Vec<A>,
    pub opted_in: OptedIn,
}

impl<P: Ports> Context<'_, P> {
    pub fn floor(&self) -> Floor {
        Floor::new(self.config.min_healthy_targets, self.config.min_healthy_percent)
    }

    /// The floor on a group with this ledger: from the incident's baseline while a removal is open.
    pub fn floor_in(&self, snapshot: &Snapshot) -> Floor {
        self.floor().with_baseline(ledger::baseline(snapshot))
    }

    pub fn opt_in_key(&self) -> &str {
        &self.config.common.opt_in_tag_key
    }

    pub fn view<'v>(&'v self, arn: &'v str, tags: &'v Tags, targets: &'v [TargetHealth]) -> GroupView<'v> {
        GroupView { arn, tags, targets, opt_in_tag_key: self.opt_in_key() }
    }

    /// The listener actions forwarding to `group` and their opt-in: `DescribeTargetGroups` (once per invocation,
    /// [`reads`]), `DescribeListeners`, `DescribeRules`, then one `DescribeTags` per 20 listeners and rules (none when
    /// nothing forwards to the group). `Err` carries what was being read, for the failure report.
    pub async fn forwarding(
        &self,
        group: &str,
    ) -> Result<Forwarding<<P::Lb as LoadBalancer>::Actions>, (AwsError, &'static str)> {
        let balancers = self.balancers_of(group).await.map_err(|e| (e, "reading the group's load balancers"))?;
        let found = self.lb.forwards_to(group, &balancers).await.map_err(|e| (e, "reading listeners and rules"))?;
        let (actions, originals): (Vec<_>, Vec<_>) = found.into_iter().unzip();
        let arns: Vec<String> = actions
            .iter()
            .map(|a: &ForwardAction| a.location.arn().to_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut opted_in = OptedIn::new();
        if !arns.is_empty() {
            let tagged = self.lb.tags(&arns).await.map_err(|e| (e, "reading the listeners' and rules' tags"))?;
            opted_in = tagged
                .into_iter()
                .filter(|(_, tags)| tags.as_ref().is_some_and(|t| failover_core::tags::opted_in(t, self.opt_in_key())))
                .map(|(arn, _)| arn)
                .collect();
        }
        Ok(Forwarding { actions, originals, opted_in })
    }

    /// Re-weights the changed actions in order; `Err` with how many were done. Every change comes from a plan
    /// over `forwarding.actions`, so each has its original action list.
    pub async fn set_weights(
        &self,
        forwarding: &Forwarding<<P::Lb as LoadBalancer>::Actions>,
        changes: &[decide::WeightChange],
    ) -> Result<(), (AwsError, usize)> {
        for (done, change) in changes.iter().enumerate() {
            let original = forwarding.actions.iter().position(|a| a.location == change.location);
            let Some(original) = original.map(|i| &forwarding.originals[i]) else { continue };
            self.lb.set_weights(&change.location, original, &change.after).await.map_err(|e| (e, done))?;
        }
        Ok(())
    }
}
