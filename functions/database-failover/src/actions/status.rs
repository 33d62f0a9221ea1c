//! `status`: reads what a failure of the primary (or cluster) would read, decides as a failure would
//! ([`Trigger::Status`]; a failure would wait while AWS's own Multi-AZ failover of an instance or of a Multi-AZ
//! DB cluster is under way, [`decide::aws_first`], by the ledger or `DescribeEvents`), and reports the facts and
//! the plan, with the resource's open ledger records (pending or done) and the pause. It writes nothing but its
//! notification.
//!
//! AWS calls: the reads of a failure ([`super::promote`], [`super::failover_cluster`]: `DescribeDBInstances`,
//! `DescribeDBClusters`, `GetMetricData`), for an Aurora cluster `DescribeGlobalClusters` (its place in a global
//! database, shown as its topology), the ledger read as it is (one `Query`, held or not, no wait) and the
//! pause (one `GetItem`). No ledger write. A primary's ledger is its region's; when that cannot be reached, this
//! stack's own is read, and the report says so first.

use failover_core::aws::AwsError;
use failover_core::ledger::{Ledger, Pause, Snapshot, State};
use failover_core::pause;
use failover_core::report::Report;
use failover_core::time::format_time;
use serde_json::{json, Value};

use super::{aws_recovery, Context};
use crate::command::Subject;
use crate::decide::{self, ClusterFacts, PrimaryState, PromotionFacts, Trigger};
use crate::model::{cluster_resource, promotion_resource, DbRef, Lineage, Topology};
use crate::ports::{Databases, Ports};
use crate::report;

pub async fn run<P: Ports>(ctx: &Context<'_, P>, region: &str, subject: &Subject) -> Result<Report, AwsError> {
    let trigger = Trigger::Status;
    let settings = ctx.settings();
    match subject {
        Subject::Cluster(id) => {
            let snapshot = ctx.session.ledger.read(&cluster_resource(region, id), ctx.now()).await?;
            let paused = ctx.session.ledger.paused().await?;
            let facts = ctx.cluster_facts(region, id, None, &snapshot).await?;
            // As a failure would: a Multi-AZ DB cluster's own failover under way is waited for.
            let plan = match aws_recovery::cluster_under_way(ctx, &facts).await? {
                Some(reason) => decide::Plan::Wait { resource: snapshot.resource.clone(), reason },
                None => decide::decide_cluster(&trigger, &facts, &settings, ctx.now()),
            };
            let details = with_ledger(cluster_json(&facts), &snapshot, paused.as_ref());
            // A cluster that is not found has no topology to show: "unsupported" says nothing was recognised. An
            // Aurora cluster's place in a global database is shown, not decided on (the global commands act there).
            let topology = match &facts.cluster {
                Some(c) => Topology::of_cluster(c, ctx.global_role(c).await.as_ref()),
                None => Topology::Unsupported { engine: String::new() },
            };
            let line = ledger_line(&snapshot, paused.as_ref());
            Ok(report::with_onset(report::status((region, id), &topology, &plan, details, line), facts.onset))
        }
        Subject::Instance(id) => {
            // A replica's status is its primary's.
            let at = DbRef::new(region, id);
            let (primary_ref, primary, extra) = match ctx.databases.instance(&at).await? {
                None => (at.clone(), Some(PrimaryState::Missing), None),
                Some(i) => match i.source.clone() {
                    Some(source) => (source, None, Some(i.at)),
                    None => (at.clone(), Some(PrimaryState::Found(i)), None),
                },
            };
            let snapshot = ctx.session.ledger.read(&promotion_resource(&primary_ref), ctx.now()).await?;
            let paused = ctx.session.ledger.paused().await?;
            let facts = ctx.promotion_facts(&primary_ref, primary, extra.as_ref(), &snapshot).await?;
            let wait_secs = ctx.config.aws_recovery_wait_minutes * 60;
            let under_way = match decide::aws_first::under_way(&snapshot.records, ctx.now(), wait_secs) {
                Some(reason) => Some(reason),
                None => aws_recovery::under_way(ctx, &facts, &snapshot).await?,
            };
            let plan = match under_way {
                Some(reason) => decide::Plan::Wait { resource: snapshot.resource.clone(), reason },
                None => decide::decide_promotion(&trigger, &facts, &settings, ctx.now()),
            };
            let details = with_ledger(promotion_json(&facts, &settings.opt_in_tag_key), &snapshot, paused.as_ref());
            let line = [lineage_line(&facts, &snapshot), ledger_line(&snapshot, paused.as_ref())];
            let line = line.into_iter().flatten().collect::<Vec<_>>().join(" ");
            let line = (!line.is_empty()).then_some(line);
            let told = report::status((region, &primary_ref.id), &Topology::Instance, &plan, details, line);
            let told = super::fence::in_status(ctx, &facts, &snapshot, told);
            // The primary's region's ledger did not answer (or this stack decided alone): read from the own one.
            Ok(match ctx.session.ledger.alone(&snapshot.resource) {
                Some(why) => report::read_alone(told, &why),
                None => told,
            })
        }
    }
}

/// The open records: decided and not finished, or finished and in effect.
fn open(snapshot: &Snapshot) -> impl Iterator<Item = &failover_core::ledger::Record> {
    snapshot.records.iter().filter(|r| matches!(r.state, State::Pending | State::Done))
}

fn with_ledger(mut details: Value, snapshot: &Snapshot, paused: Option<&Pause>) -> Value {
    let records: Vec<Value> = open(snapshot)
        .map(|r| {
            json!({"key": r.key, "state": r.state, "trigger": r.trigger, "created_at": format_time(r.created_at),
                "updated_at": format_time(r.updated_at), "data": r.data})
        })
        .collect();
    details["ledger"] = json!({"resource": snapshot.resource, "records": records});
    details["paused"] = json!(paused);
    details
}

/// One line for the summary when automation is paused or records are open.
fn ledger_line(snapshot: &Snapshot, paused: Option<&Pause>) -> Option<String> {
    let records: Vec<String> = open(snapshot).map(|r| format!("{} ({})", r.key, r.state.as_str())).collect();
    let mut parts = Vec::new();
    if let Some(p) = paused {
        parts.push(format!("Automation is {}.", pause::describe(p)));
    }
    if !records.is_empty() {
        parts.push(format!("Open ledger records on {}: {}.", snapshot.resource, records.join(", ")));
    }
    (!parts.is_empty()).then(|| parts.join(" "))
}

fn cluster_json(facts: &ClusterFacts) -> Value {
    // The lag's metric and unit by topology: ReplicaLag (seconds) on a Multi-AZ DB cluster's readers.
    let field = match facts.topology() {
        Some(Topology::MultiAzCluster) => "replica_lag_seconds",
        _ => "aurora_replica_lag_ms",
    };
    let readers: Vec<Value> = facts
        .members
        .iter()
        .map(|c| json!({"id": c.instance.at.id, "status": c.instance.status, field: c.lag}))
        .collect();
    let cluster = facts
        .cluster
        .as_ref()
        .map(|c| json!({"status": c.status, "members": c.members, "last_failover": facts.last_failover}));
    json!({"cluster": cluster, "instances": readers})
}

/// Where the primary comes from (the promotion that made it one) and the bindings it inherited through it.
fn lineage_line(facts: &PromotionFacts, snapshot: &Snapshot) -> Option<String> {
    let PrimaryState::Found(p) = &facts.primary else { return None };
    let lineage = Lineage::of(&snapshot.records, p)?;
    let inherited: Vec<String> =
        p.inherited.iter().filter(|(k, _)| !p.tags.contains_key(*k)).map(|(k, v)| format!("{k}={v}")).collect();
    Some(format!(
        "Lineage: {} replaced {}{} (decided {}){}.",
        p.at.id,
        lineage.from.at.id,
        lineage.from.resource_id.as_ref().map(|id| format!(" ({id})")).unwrap_or_default(),
        lineage.at,
        if inherited.is_empty() { String::new() } else { format!("; it inherits {}", inherited.join(", ")) }
    ))
}

fn promotion_json(facts: &PromotionFacts, opt_in_tag_key: &str) -> Value {
    let primary_ref = &facts.primary_ref;
    let primary = match &facts.primary {
        PrimaryState::Found(p) => json!({"id": p.at.id, "region": p.at.region, "resource_id": p.resource_id,
            "status": p.status, "opted_in": p.opted_in(opt_in_tag_key), "record": facts.record,
            "bindings": p.bindings(), "inherited": p.inherited}),
        other => json!({"id": primary_ref.id, "region": primary_ref.region, "status": other.describe(),
            "record": facts.record}),
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
