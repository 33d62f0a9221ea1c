//! `status`: reads what a failure of the primary (or cluster) would read, decides as a failure would
//! ([`Trigger::Status`]), and reports the facts and the plan. It writes nothing but its notification.

use failover_core::aws::AwsError;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::Context;
use crate::command::Subject;
use crate::decide::{self, ClusterFacts, PrimaryState, PromotionFacts, Trigger};
use crate::model::{DbRef, FAILED_OVER_TAG, PROMOTED_TAG};
use crate::ports::{Databases, Dns, ReplicaLag};
use crate::report;

pub async fn run<D, L, R>(ctx: &Context<'_, D, L, R>, region: &str, subject: &Subject) -> Result<Report, AwsError>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
{
    let trigger = Trigger::Status;
    let settings = ctx.settings();
    let now = (ctx.clock)();
    match subject {
        Subject::Cluster(id) => {
            let facts = ctx.cluster_facts(region, id).await?;
            let plan = decide::decide_cluster(&trigger, &facts, &settings, now);
            Ok(report::status(region, id, &plan, cluster_json(&facts)))
        }
        Subject::Instance(id) => {
            // A replica's status is its primary's.
            let at = DbRef::new(region, id);
            let (primary_ref, primary, extra) = match ctx.databases.instance(&at).await? {
                None => (at.clone(), PrimaryState::Missing, None),
                Some(i) => match i.source.clone() {
                    Some(source) => {
                        let state = ctx.primary_state(&source, &i.at).await?;
                        (source, state, Some(i))
                    }
                    None => (at.clone(), PrimaryState::Found(i), None),
                },
            };
            let facts = ctx.promotion_facts(&primary_ref, primary, extra).await?;
            let plan = decide::decide_promotion(&trigger, &facts, &settings, now);
            Ok(report::status(region, &primary_ref.id, &plan, promotion_json(&facts, &settings.opt_in_tag_key)))
        }
    }
}

fn cluster_json(facts: &ClusterFacts) -> Value {
    let readers: Vec<Value> = facts
        .members
        .iter()
        .map(|c| json!({"id": c.instance.at.id, "status": c.instance.status, "aurora_replica_lag_ms": c.lag}))
        .collect();
    let cluster = facts
        .cluster
        .as_ref()
        .map(|c| json!({"status": c.status, "members": c.members, "record": c.tags.get(FAILED_OVER_TAG)}));
    json!({"cluster": cluster, "instances": readers})
}

fn promotion_json(facts: &PromotionFacts, opt_in_tag_key: &str) -> Value {
    let primary_ref = &facts.primary_ref;
    let primary = match &facts.primary {
        PrimaryState::Found(p) => json!({"id": p.at.id, "region": p.at.region, "status": p.status,
            "opted_in": p.opted_in(opt_in_tag_key), "record": p.tags.get(PROMOTED_TAG)}),
        other => json!({"id": primary_ref.id, "region": primary_ref.region, "status": other.describe()}),
    };
    let replicas: Vec<Value> = facts
        .replicas
        .iter()
        .map(|c| {
            json!({"id": c.instance.at.id, "region": c.instance.at.region, "status": c.instance.status,
                "replica_lag_seconds": c.lag})
        })
        .collect();
    json!({"primary": primary, "replicas": replicas})
}
