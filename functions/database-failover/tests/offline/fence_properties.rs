//! The old primary's fence through the whole function, on the in-memory ledger with fake RDS (FENCE on, fence
//! group `sg-fence`): random sequences of failures, returns, alarms, forced promotions, groups restored by
//! someone else and `unfence` commands about one primary (`orders`) and its replicas.
//!
//! RDS may refuse `PromoteReadReplica` for a while. Two properties: after each invocation, an `available`
//! orders is never left fenced while no replica took its place (at least one writable instance); and once
//! a promotion completed, at most one instance of the lineage is writable (`available`, not
//! a replica) and unfenced (in any groups but exactly the fence group) after each invocation. An instance
//! released by `unfence` is out of the lineage (a person made it a separate database) and is not counted.
//! The lineage here is one failover deep (orders and its replicas); a second failover of the promoted replica is
//! not modelled. Groups restored by someone else are followed by an event about `orders` (the incident goes
//! on), as the property is about what the function leaves after it ran.

use std::sync::Mutex;

use database_failover::model::{Cluster, Cname, DbRef, EndpointRecord, Instance, LagPoint, Modified};
use database_failover::ports::{Databases, Dns, GlobalDatabases, LagMetric, ReplicaLag};
use failover_core::aws::AwsError;
use proptest::prelude::*;
use serde_json::{json, Value};
use test_support::memory_ledger::MemoryLedger;
use test_support::{Recorder, OPT_IN};

const HOME: &str = "us-east-1";
const FENCE: &str = "sg-fence";
const ORIGINAL: &str = "sg-app";
const REPLICAS: [&str; 2] = ["r0", "r1"];

fn instance(id: &str, status: &str) -> Instance {
    Instance {
        at: DbRef::new(HOME, id),
        arn: format!("arn:aws:rds:{HOME}:123456789012:db:{id}"),
        status: status.into(),
        source: None,
        replicas: Vec::new(),
        cluster: None,
        endpoint: Some(format!("{id}.abc.{HOME}.rds.amazonaws.com")),
        promotion_tier: None,
        tags: [(OPT_IN.to_owned(), "true".to_owned())].into(),
        resource_id: Some(format!("db-{}", id.to_ascii_uppercase())),
        multi_az: false,
        security_groups: vec![ORIGINAL.to_owned()],
        class: None,
        zone: None,
        inherited: Default::default(),
    }
}

/// RDS with `orders` and its replicas; `ModifyDBInstance` refused with InvalidDBInstanceState unless the
/// instance is `available` (or while `refuse_modify`). Every change is logged in order.
struct FakeRds {
    instances: Mutex<Vec<Instance>>,
    calls: Mutex<Vec<String>>,
    refuse_modify: Mutex<bool>,
    /// `PromoteReadReplica` refused (InvalidDBInstanceState) while set.
    refuse_promote: Mutex<bool>,
}

impl FakeRds {
    fn new(primary_status: &str) -> Self {
        let mut primary = instance("orders", primary_status);
        primary.replicas = REPLICAS.iter().map(|r| DbRef::new(HOME, *r)).collect();
        let mut all = vec![primary];
        for id in REPLICAS {
            let mut r = instance(id, "available");
            r.source = Some(DbRef::new(HOME, "orders"));
            all.push(r);
        }
        FakeRds {
            instances: Mutex::new(all),
            calls: Mutex::default(),
            refuse_modify: Mutex::new(false),
            refuse_promote: Mutex::new(false),
        }
    }

    fn find(&self, at: &DbRef) -> Option<Instance> {
        self.instances.lock().unwrap().iter().find(|i| &i.at == at).cloned()
    }

    fn set(&self, id: &str, change: impl FnOnce(&mut Instance)) {
        let mut all = self.instances.lock().unwrap();
        if let Some(i) = all.iter_mut().find(|i| i.at.id == id) {
            change(i);
        }
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

fn error(operation: &'static str) -> AwsError {
    AwsError {
        operation,
        resource: "test".into(),
        code: Some("InvalidDBInstanceState".into()),
        transient: false,
        message: "injected".into(),
    }
}

impl GlobalDatabases for FakeRds {}

impl Databases for FakeRds {
    async fn instance(&self, at: &DbRef) -> Result<Option<Instance>, AwsError> {
        Ok(self.find(at))
    }

    async fn instances_by_id(&self, region: &str, ids: &[String]) -> Result<Vec<Instance>, AwsError> {
        Ok(ids.iter().filter_map(|id| self.find(&DbRef::new(region, id))).collect())
    }

    async fn cluster(&self, _: &str, _: &str) -> Result<Option<Cluster>, AwsError> {
        Ok(None)
    }

    async fn cluster_instances(&self, _: &str, _: &str) -> Result<Vec<Instance>, AwsError> {
        Ok(Vec::new())
    }

    async fn promote(&self, replica: &DbRef, _: i32) -> Result<Option<Instance>, AwsError> {
        let mut all = self.instances.lock().unwrap();
        let Some(r) = all.iter_mut().find(|i| &i.at == replica && i.source.is_some()) else {
            return Err(error("PromoteReadReplica"));
        };
        if *self.refuse_promote.lock().unwrap() {
            return Err(error("PromoteReadReplica"));
        }
        r.source = None;
        let answer = r.clone();
        all[0].replicas.retain(|x| x != replica);
        self.calls.lock().unwrap().push(format!("PromoteReadReplica {}", replica.id));
        Ok(Some(answer))
    }

    async fn failover_cluster(&self, _: &str, _: &str, _: &str) -> Result<(), AwsError> {
        Err(error("FailoverDBCluster"))
    }

    async fn set_security_groups(&self, at: &DbRef, groups: &[String]) -> Result<Modified, AwsError> {
        let mut all = self.instances.lock().unwrap();
        let Some(i) = all.iter_mut().find(|i| &i.at == at) else { return Err(error("ModifyDBInstance")) };
        if i.status != "available" || *self.refuse_modify.lock().unwrap() {
            return Ok(Modified::NotYet(format!("{} is {}", at.id, i.status)));
        }
        i.security_groups = groups.to_vec();
        self.calls.lock().unwrap().push(format!("ModifyDBInstance {} {}", at.id, groups.join(",")));
        Ok(Modified::Applied(Some(Box::new(i.clone()))))
    }
}

struct Lag;

impl ReplicaLag for Lag {
    async fn lags(
        &self,
        _: &str,
        _: LagMetric,
        instances: &[String],
        since: i64,
    ) -> Result<std::collections::BTreeMap<String, Vec<LagPoint>>, AwsError> {
        // One datapoint a minute from `since` for an hour, newest first: those after the onset are not judged.
        let points: Vec<LagPoint> = (0..60).rev().map(|m| LagPoint { at: since + 60 * m, value: 1.0 }).collect();
        Ok(instances.iter().map(|i| (i.clone(), points.clone())).collect())
    }
}

/// No primary names a record: never called.
struct NoDns;

impl Dns for NoDns {
    async fn cname(&self, _: &EndpointRecord) -> Result<Option<Cname>, AwsError> {
        Ok(None)
    }

    async fn replace_cname(&self, _: &EndpointRecord, _: &Cname, _: &str) -> Result<Option<String>, AwsError> {
        Ok(None)
    }

    async fn change_in_sync(&self, _: &str) -> Result<bool, AwsError> {
        Ok(true)
    }
}

type FakeApp = database_failover::App<FakeRds, Lag, NoDns, Recorder, MemoryLedger>;

fn app(primary_status: &str) -> FakeApp {
    let config = database_failover::Config::from_lookup(&|name: &str| match name {
        "NOTIFICATION_TOPIC_ARN" => Some("arn:aws:sns:us-east-1:123456789012:t".to_owned()),
        "LEDGER_TABLE" => Some("ledger".to_owned()),
        "FENCE_SECURITY_GROUP" => Some(FENCE.to_owned()),
        "PROMOTE_WHEN_AVAILABLE" => Some("true".to_owned()),
        _ => None,
    })
    .unwrap();
    let rds = FakeRds::new(primary_status);
    database_failover::App::with_ports(config, HOME.into(), rds, Lag, NoDns, Recorder::default(), MemoryLedger::new())
}

fn rds_event(id: &str, event_id: &str) -> Value {
    json!({"version": "0", "id": "1", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
        "account": "123456789012", "time": "2024-05-01T10:07:12Z", "region": HOME, "resources": [],
        "detail": {"SourceType": "DB_INSTANCE", "SourceArn": format!("arn:aws:rds:{HOME}:123456789012:db:{id}"),
            "Message": "m", "EventID": event_id}})
}

fn alarm() -> Value {
    json!({"source": "aws.cloudwatch", "alarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:failover-orders",
        "accountId": "123456789012", "time": "2024-05-01T10:07:12Z", "region": HOME,
        "alarmData": {"alarmName": "failover-orders",
            "state": {"value": "ALARM", "reason": "r", "timestamp": "2024-05-01T10:07:12.000+0000"},
            "previousState": {"value": "OK", "reason": "r", "timestamp": "2024-05-01T09:07:12.000+0000"},
            "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/RDS",
                "name": "WriteLatency", "dimensions": {"DBInstanceIdentifier": "orders"}}, "period": 60,
                "stat": "Maximum"}, "returnData": true}]}}})
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// `orders` fails (RDS-EVENT-0031).
    Fail,
    /// `orders` is back: restarted (RDS-EVENT-0006).
    Return,
    /// An alarm on `orders` (PROMOTE_WHEN_AVAILABLE).
    Alarm,
    /// A person's forced `promote` of a replica.
    Promote(usize),
    /// Someone restores orders' groups, then an event about orders arrives.
    Restore,
    /// A person's `unfence` of orders.
    Unfence,
    /// Replication stopped on a replica (RDS-EVENT-0045).
    ReplicaSide(usize),
    /// From now on RDS refuses (`true`) or accepts (`false`) `PromoteReadReplica`; then an alarm on orders.
    RefusePromotion(bool),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        Just(Step::Fail),
        Just(Step::Return),
        Just(Step::Alarm),
        (0usize..2).prop_map(Step::Promote),
        Just(Step::Restore),
        Just(Step::Unfence),
        (0usize..2).prop_map(Step::ReplicaSide),
        any::<bool>().prop_map(Step::RefusePromotion),
    ]
}

/// Writable (`available`, not a replica) and not in exactly the fence group.
fn unfenced_writable(i: &Instance) -> bool {
    i.status == "available" && i.source.is_none() && i.security_groups != [FENCE]
}

async fn run(app: &FakeApp, step: Step, released: &mut bool) {
    let rds = app.databases();
    let payload = match step {
        Step::Fail => {
            rds.set("orders", |i| i.status = "failed".into());
            rds_event("orders", "RDS-EVENT-0031")
        }
        Step::Return => {
            rds.set("orders", |i| i.status = "available".into());
            rds_event("orders", "RDS-EVENT-0006")
        }
        Step::Alarm => alarm(),
        Step::Promote(r) => json!({"command": "promote", "db_instance_identifier": REPLICAS[r], "force": true}),
        Step::Restore => {
            rds.set("orders", |i| i.security_groups = vec![ORIGINAL.into()]);
            alarm()
        }
        Step::Unfence => json!({"command": "unfence", "db_instance_identifier": "orders", "by": "ana"}),
        Step::ReplicaSide(r) => rds_event(REPLICAS[r], "RDS-EVENT-0045"),
        Step::RefusePromotion(refuse) => {
            *rds.refuse_promote.lock().unwrap() = refuse;
            alarm()
        }
    };
    let answer = app.handle(payload).await;
    if matches!(step, Step::Unfence)
        && answer.as_ref().is_ok_and(|r| r.status == failover_core::outcome::Outcome::Succeeded)
    {
        *released = true;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn once_a_promotion_completed_at_most_one_instance_of_the_lineage_is_writable_and_unfenced(
        steps in prop::collection::vec(step(), 1..12),
        available in any::<bool>(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let app = app(if available { "available" } else { "failed" });
        let mut released = false;
        let promoting = !steps.iter().any(|s| matches!(s, Step::RefusePromotion(true)))
            && steps.iter().any(|s| matches!(s, Step::Fail | Step::Alarm));
        for (n, step) in steps.iter().enumerate() {
            runtime.block_on(run(&app, *step, &mut released));
            let calls = app.databases().calls();
            // Never "none writable" by the function's doing: an `available` orders is left fenced only while a
            // promoted replica takes writes (a failed or abandoned promotion undoes its fence).
            let all = app.databases().instances.lock().unwrap().clone();
            let orders_up = all.iter().any(|i| i.at.id == "orders" && i.status == "available");
            let writable = all.iter().any(|i| i.status == "available" && i.source.is_none() && (i.at.id != "orders" || i.security_groups != [FENCE]));
            prop_assert!(writable || !orders_up, "after step {n} ({step:?}) of {steps:?}: nothing writable, orders fenced; calls {calls:?}");
            if !calls.iter().any(|c| c.starts_with("PromoteReadReplica")) {
                continue;
            }
            let all = app.databases().instances.lock().unwrap().clone();
            let counted: Vec<&str> = all
                .iter()
                .filter(|i| unfenced_writable(i) && !(released && i.at.id == "orders"))
                .map(|i| i.at.id.as_str())
                .collect();
            prop_assert!(counted.len() <= 1, "after step {n} ({step:?}) of {steps:?}: {counted:?} writable and unfenced; calls {calls:?}");
            // Never fenced with the fence group recorded as an original one.
            for record in app.ledger().all_records().iter().filter(|r| r.key.starts_with("fence#")) {
                let original = record.data["original_groups"].to_string();
                prop_assert!(!original.contains(FENCE), "{original}");
            }
        }
        // Not vacuous: a failure or an alarm always promotes one replica here while RDS accepts promotions.
        let promoted = app.databases().calls().iter().any(|c| c.starts_with("PromoteReadReplica"));
        prop_assert!(promoted || !promoting, "nothing promoted: {:?}", steps);
    }
}

#[test]
fn the_fence_comes_before_promote_read_replica_and_a_primary_that_cannot_be_fenced_is_not_promoted_away_from() {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    let app = app("available");
    *app.databases().refuse_modify.lock().unwrap() = true;
    let refused = runtime.block_on(app.handle(alarm()));
    let error = refused.expect_err("a retryable failure");
    assert!(error.to_string().contains("cannot be modified yet"), "{error}");
    assert!(app.databases().calls().is_empty(), "nothing promoted: {:?}", app.databases().calls());
    let pending = app.ledger().all_records();
    assert!(pending.iter().any(|r| r.key.starts_with("fence#") && r.state == failover_core::ledger::State::Pending));

    // Lambda's retry, once RDS accepts the change: the same decision, fenced first.
    *app.databases().refuse_modify.lock().unwrap() = false;
    let done = runtime.block_on(app.handle(alarm())).expect("done");
    assert_eq!(done.status, failover_core::outcome::Outcome::Succeeded, "{done:?}");
    assert_eq!(app.databases().calls(), ["ModifyDBInstance orders sg-fence", "PromoteReadReplica r0"]);
    let fence = app.ledger().all_records().into_iter().find(|r| r.key == "fence#db-ORDERS").expect("fence record");
    assert_eq!(
        (fence.state, fence.data["original_groups"].clone()),
        (failover_core::ledger::State::Done, json!([ORIGINAL]))
    );
}
