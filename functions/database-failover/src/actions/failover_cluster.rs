//! Fail an Aurora cluster over to its best reader: [`run`] reads the cluster, its instances and its readers'
//! lag, calls [`decide::decide_cluster`] once, and acts. [`execute`] tags the cluster
//! (`failover:failed-over`, the record that keeps duplicate alarms from bouncing the writer) and only then calls
//! `FailoverDBCluster`.

use failover_core::aws::AwsError;
use failover_core::outcome::Outcome;
use failover_core::report::Report;

use super::Context;
use crate::decide::{self, ClusterFailover, Trigger};
use crate::model::FAILED_OVER_TAG;
use crate::ports::{Databases, Dns, ReplicaLag};
use crate::report::{self, Failure};

/// A cluster trigger (RDS-EVENT-0069, an alarm on the cluster or its writer, `failover-cluster`).
pub async fn run<D, L, R>(
    ctx: &Context<'_, D, L, R>,
    region: &str,
    id: &str,
    trigger: &Trigger,
    dry_run: bool,
) -> Result<Report, AwsError>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    let facts = ctx.cluster_facts(region, id).await?;
    let plan = decide::decide_cluster(trigger, &facts, &ctx.settings(), (ctx.clock)());
    Ok(ctx.act(plan, trigger, region, true, dry_run).await)
}

/// A failover planned: reported as a dry run, or recorded, carried out and reported.
pub(super) async fn execute<D, L, R>(
    ctx: &Context<'_, D, L, R>,
    c: &ClusterFailover,
    trigger: &Trigger,
    dry_run: bool,
) -> Report
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    if dry_run {
        return report::cluster_failover(c, trigger, Outcome::DryRun, None);
    }
    let mut done = Vec::new();
    let value = c.record.tag_value(&c.region);
    let steps = async {
        ctx.databases
            .tag(&c.region, &c.cluster_arn, FAILED_OVER_TAG, &value)
            .await
            .map_err(|e| ("record the failover on the cluster", e))?;
        done.push(format!("tagged {} {FAILED_OVER_TAG}={value}", c.cluster));
        ctx.databases.failover_cluster(&c.region, &c.cluster, &c.target).await.map_err(|e| ("FailoverDBCluster", e))?;
        Ok::<(), (&'static str, AwsError)>(())
    };
    match steps.await {
        Ok(()) => report::cluster_failover(c, trigger, Outcome::Succeeded, None),
        Err((step, error)) => {
            let failure = Failure { step, error, done };
            report::cluster_failover(c, trigger, Outcome::Failed, Some(&failure))
        }
    }
}
