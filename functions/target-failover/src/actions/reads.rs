//! A group's configuration, read at most once per invocation: its `target_group_health` thresholds
//! (`DescribeTargetGroupAttributes`) and its load balancers (`DescribeTargetGroups` of the group, unless the
//! account's listing of an instance alarm described it already: [`GroupReads::listed`]). Neither is
//! state an incident changes, so every attempt and every plan of one invocation may share one read of each; an
//! alarm reads them beside the group's target health when a removal is likely ([`super::alarm`]), which takes
//! them off the path to the change. A failed read is kept as well (the SDK retried it already): the group that needs
//! it reports it, and Lambda's retry of the event reads it again, as if it had been read where it is used.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

use failover_core::aws::AwsError;

use super::Context;
use crate::model::HealthThresholds;
use crate::ports::{ListedGroup, LoadBalancer, Ports, Zonal};

/// One per invocation, shared by every group's work.
#[derive(Default)]
pub struct GroupReads {
    thresholds: Memo<Option<HealthThresholds>>,
    balancers: Memo<Vec<String>>,
}

type Memo<T> = Mutex<HashMap<String, Result<T, AwsError>>>;

impl GroupReads {
    /// Keeps the load balancers a listing of the groups gave (an instance alarm's `DescribeTargetGroups` of the
    /// whole account): [`Context::balancers_of`] then asks AWS only for a group it did not describe.
    pub fn listed(&self, groups: &[ListedGroup]) {
        let mut kept = lock(&self.balancers);
        for group in groups {
            if let Some(balancers) = &group.balancers {
                kept.entry(group.arn.clone()).or_insert_with(|| Ok(balancers.clone()));
            }
        }
    }
}

impl<P: Ports> Context<'_, P> {
    /// The group's `target_group_health` thresholds; `None` when the group does not exist.
    pub async fn health_thresholds(&self, group: &str) -> Result<Option<HealthThresholds>, AwsError> {
        once(&self.reads.thresholds, group, self.lb.health_thresholds(group)).await
    }

    /// The load balancers the group is registered with (none when the group does not exist).
    pub async fn balancers_of(&self, group: &str) -> Result<Vec<String>, AwsError> {
        once(&self.reads.balancers, group, self.lb.balancers_of(group)).await
    }
}

/// The answer kept for `key`, or `read`'s, then kept. Two reads of one key at once both ask AWS; the lock is never
/// held across the read.
async fn once<T: Clone>(
    memo: &Memo<T>,
    key: &str,
    read: impl Future<Output = Result<T, AwsError>>,
) -> Result<T, AwsError> {
    if let Some(kept) = lock(memo).get(key) {
        return kept.clone();
    }
    let answer = read.await;
    lock(memo).insert(key.to_owned(), answer.clone());
    answer
}

/// A poisoned lock only means another task panicked while inserting: the map is still whole.
fn lock<T>(memo: &Memo<T>) -> std::sync::MutexGuard<'_, HashMap<String, Result<T, AwsError>>> {
    memo.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
