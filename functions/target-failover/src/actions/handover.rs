//! What the hand-overs of one invocation share ([`super::replace`], `REPLACE_INSTANCES=true`): the candidate
//! target groups an instance may still serve in, read once per invocation however many groups the event
//! removes the instance from; the removals this invocation made; and the instances it handed to Auto Scaling.
//!
//! - **Read once, in parallel with a limit**: the first hand-over that needs them lists every instance-type
//!   group (`DescribeTargetGroups`, paginated; not again when the alarm listed them already) and reads the
//!   `DescribeTargetHealth` of each not read yet by this invocation ([`HandOver::saw_health`]: the alarm's
//!   prefetch), [`MAX_CONCURRENT_READS`] at once. The others wait for that one read and decide on it.
//! - **Off the path to the removal**: the hand-over reads these facts beside its removal's `begin` and
//!   `DeregisterTargets` (never before them), and decides on them once `DeregisterTargets` succeeded.
//! - **Removals of this invocation count**: the health was read before this invocation's own removals, so a
//!   group that this invocation took the instance out of no longer counts as serving it ([`HandOver::removed`],
//!   [`crate::decide::replace::without_removed`]); each hand-over decides after its own removal, so the last of
//!   an event's groups to decide sees them all.
//! - **Handed once**: an instance this invocation handed over is not marked again by another of its groups
//!   ([`HandOver::claim`]).

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use failover_core::aws::AwsError;
use futures::stream::{self, StreamExt};
use tokio::sync::OnceCell;

use crate::model::TargetHealth;
use crate::ports::LoadBalancer;

/// Candidate groups' `DescribeTargetHealth` calls made at once: a few, to stay clear of the ELB API's rate
/// limits (the alarm acts on up to four groups at once beside them).
pub const MAX_CONCURRENT_READS: usize = 4;

/// Every instance-type group with its targets (a group deleted meanwhile is left out).
pub type GroupsHealth = Vec<(String, Vec<TargetHealth>)>;

/// One group's `DescribeTargetHealth` (`None`: the group does not exist).
type Read = Result<(String, Option<Vec<TargetHealth>>), AwsError>;

/// One per invocation (see the module doc).
#[derive(Default)]
pub struct HandOver {
    read: OnceCell<Result<GroupsHealth, AwsError>>,
    /// What the invocation read already: the instance-type groups (an instance alarm lists them) and groups'
    /// health (the alarm's prefetch), reused by [`HandOver::candidates`].
    groups: Mutex<Option<Vec<String>>>,
    health: Mutex<HashMap<String, Vec<TargetHealth>>>,
    /// (group, instance) this invocation deregistered.
    removed: Mutex<BTreeSet<(String, String)>>,
    /// Instances this invocation marked unhealthy (or is marking).
    handed: Mutex<BTreeSet<String>>,
}

impl HandOver {
    /// The invocation listed every instance-type group (an instance alarm does).
    pub fn saw_groups(&self, groups: &[String]) {
        if let Ok(mut known) = self.groups.lock() {
            *known = Some(groups.to_vec());
        }
    }

    /// The invocation read a group's target health (`None`: the group does not exist).
    pub fn saw_health(&self, group: &str, targets: Option<&Vec<TargetHealth>>) {
        if let (Ok(mut known), Some(targets)) = (self.health.lock(), targets) {
            known.insert(group.to_owned(), targets.clone());
        }
    }

    /// This invocation deregistered `instances` from `group`.
    pub fn removed(&self, group: &str, instances: &[String]) {
        if let Ok(mut removed) = self.removed.lock() {
            removed.extend(instances.iter().map(|i| (group.to_owned(), i.clone())));
        }
    }

    /// The (group, instance) pairs this invocation deregistered.
    pub fn removals(&self) -> BTreeSet<(String, String)> {
        self.removed.lock().map(|r| r.clone()).unwrap_or_default()
    }

    /// Whether this call is the invocation's first to hand `instance` over (then it is recorded as handed).
    pub fn claim(&self, instance: &str) -> bool {
        self.handed.lock().is_ok_and(|mut handed| handed.insert(instance.to_owned()))
    }

    /// Every instance-type group and its targets, read once per invocation (see the module doc).
    pub async fn candidates<L: LoadBalancer>(&self, lb: &L) -> Result<GroupsHealth, AwsError> {
        self.read.get_or_init(|| self.read_candidates(lb)).await.clone()
    }

    async fn read_candidates<L: LoadBalancer>(&self, lb: &L) -> Result<GroupsHealth, AwsError> {
        let listed = self.groups.lock().ok().and_then(|g| g.clone());
        let groups = match listed {
            Some(groups) => groups,
            None => lb.instance_groups().await?.into_iter().map(|group| group.arn).collect(),
        };
        let known = self.health.lock().map(|h| h.clone()).unwrap_or_default();
        let missing: Vec<&String> = groups.iter().filter(|g| !known.contains_key(*g)).collect();
        let read: Vec<Read> = stream::iter(missing)
            .map(async |group| lb.target_health(group).await.map(|health| (group.clone(), health)))
            .buffer_unordered(MAX_CONCURRENT_READS)
            .collect()
            .await;
        let mut read: HashMap<String, Option<Vec<TargetHealth>>> = read.into_iter().collect::<Result<_, _>>()?;
        Ok(groups
            .into_iter()
            .filter_map(|group| {
                let targets = known.get(&group).cloned().or_else(|| read.remove(&group).flatten())?;
                Some((group, targets))
            })
            .collect())
    }
}
