//! The database-failover test environment, shared by the test modules of `database-failover`
//! (`tests/against_local_aws/database_failover.rs` and `database_incident.rs`): an account on the local AWS
//! with a topic and its subscriber, the ledger table, the function built over the real adapters, and helpers
//! that create primaries and replicas, publish lag and build events.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_rds::types::{DbInstance, Tag};
use database_failover::adapters::{CloudWatchLag, HomeLedgers, RdsDatabases, Route53Dns};
use database_failover::model::{self, is_promotion_key, LagPoint, DNS_RECORD_TAG, PROXY_TAG};
use database_failover::ports::{GlobalLagMetric, LagMetric, ReplicaLag};
use database_failover::{App, Config};
use failover_core::alarms::WatchingAlarm;
use failover_core::aws::AwsError;
use failover_core::ledger::{Begin, Begun, DynamoLedger, Ledger, Record, State};
use failover_core::notify::SnsNotifier;
use failover_core::response::Response;
use serde_json::{json, Value};

use crate::{lookup, Account, Received, Subscriber};

pub use test_support::OPT_IN;

pub type TestApp = App<RdsDatabases, RecordedLag, Route53Dns, SnsNotifier, HomeLedgers>;

/// Makes another region's DynamoDB client from the home one ([`HomeLedgers::with_clients`]).
pub type DeriveDynamo = fn(&aws_sdk_dynamodb::Client, &str) -> aws_sdk_dynamodb::Client;

/// Makes another region's RDS client from the home one ([`RdsDatabases::with_derive`]).
pub type DeriveRds = fn(&aws_sdk_rds::Client, &str) -> aws_sdk_rds::Client;

/// (region, metric name, instances) of one call.
pub type LagCall = (String, &'static str, Vec<String>);

/// The function's CloudWatch adapter, unchanged, with each of its port calls recorded.
pub struct RecordedLag {
    pub cloudwatch: CloudWatchLag,
    pub calls: Arc<Mutex<Vec<LagCall>>>,
}

impl ReplicaLag for RecordedLag {
    async fn lags(
        &self,
        region: &str,
        metric: LagMetric,
        instances: &[String],
        since: i64,
    ) -> Result<BTreeMap<String, Vec<LagPoint>>, AwsError> {
        self.calls.lock().unwrap().push((region.to_owned(), metric.name(), instances.to_vec()));
        self.cloudwatch.lags(region, metric, instances, since).await
    }

    async fn alarms(&self, region: &str, prefix: &str) -> Result<Vec<WatchingAlarm>, AwsError> {
        self.cloudwatch.alarms(region, prefix).await
    }

    async fn cluster_lag(
        &self,
        region: &str,
        metric: GlobalLagMetric,
        cluster: &str,
        source_region: Option<&str>,
        since: i64,
    ) -> Result<Vec<LagPoint>, AwsError> {
        self.calls.lock().unwrap().push((region.to_owned(), metric.name(), vec![cluster.to_owned()]));
        self.cloudwatch.cluster_lag(region, metric, cluster, source_region, since).await
    }
}

pub struct Env {
    pub account: Account,
    pub subscriber: Subscriber,
    pub lag_calls: Arc<Mutex<Vec<LagCall>>>,
    /// The ledger table, as the template declares it.
    pub ledger: String,
}

impl Env {
    pub async fn new() -> Self {
        let account = Account::new().await;
        let subscriber = Subscriber::create(&account, "failover-db").await;
        let ledger = account.ledger_table();
        Env { account, subscriber, lag_calls: Arc::default(), ledger }
    }

    pub fn config(&self, settings: &[(&str, &str)]) -> Config {
        let mut pairs = vec![
            ("NOTIFICATION_TOPIC_ARN", self.subscriber.topic_arn.as_str()),
            ("LEDGER_TABLE", self.ledger.as_str()),
        ];
        pairs.extend_from_slice(settings);
        Config::from_lookup(&lookup(&pairs)).expect("valid config")
    }

    /// The function deployed in `account`'s region with these settings (on top of the topic).
    pub fn app_in(&self, account: &Account, settings: &[(&str, &str)]) -> TestApp {
        self.app_with_route53(account, settings, account.route53())
    }

    /// [`Env::app`] whose Route 53 calls fail as when Route 53 cannot be reached (the connection is refused;
    /// one attempt): every other call reaches the local AWS.
    pub fn app_without_route53(&self, settings: &[(&str, &str)]) -> TestApp {
        let config =
            aws_sdk_route53::config::Builder::from(&self.account.sdk).endpoint_url("http://127.0.0.1:9").build();
        self.app_with_route53(&self.account, settings, aws_sdk_route53::Client::from_conf(config))
    }

    fn app_with_route53(
        &self,
        account: &Account,
        settings: &[(&str, &str)],
        route53: aws_sdk_route53::Client,
    ) -> TestApp {
        self.app_with(account, settings, route53, None, RdsDatabases::new(account.rds()))
    }

    /// [`Env::app_in`] whose DynamoDB clients for other regions' ledgers are made by `derive` (a region whose
    /// DynamoDB cannot be reached).
    pub fn app_with_ledgers(&self, account: &Account, settings: &[(&str, &str)], derive: DeriveDynamo) -> TestApp {
        self.app_with(account, settings, account.route53(), Some(derive), RdsDatabases::new(account.rds()))
    }

    /// [`Env::app_in`] whose RDS clients for other regions are made by `derive` (a region whose RDS API cannot
    /// be reached).
    pub fn app_with_rds(&self, account: &Account, settings: &[(&str, &str)], derive: DeriveRds) -> TestApp {
        let rds = RdsDatabases::with_derive(account.rds(), derive);
        self.app_with(account, settings, account.route53(), None, rds)
    }

    fn app_with(
        &self,
        account: &Account,
        settings: &[(&str, &str)],
        route53: aws_sdk_route53::Client,
        derive: Option<DeriveDynamo>,
        rds: RdsDatabases,
    ) -> TestApp {
        let config = self.config(settings);
        // The topic lives in the subscriber's region, as a deployment's own topic lives in its region.
        let notifier =
            SnsNotifier::new(self.account.sns(), config.common.topic_arn.clone(), config.common.notification_format);
        // The stack deployed in `account`'s region has its own ledger table there, under the same name.
        let table = account.control("/_failover/dynamodb/ledger-table", json!({"table_name": self.ledger}));
        assert!(table["table_name"] == self.ledger.as_str(), "ledger table in {}: {table}", account.region);
        let ledger = match derive {
            None => HomeLedgers::from_config(account.dynamodb(), &config),
            Some(derive) => {
                HomeLedgers::with_clients(account.dynamodb(), &self.ledger, config.home_ledger_tables.clone(), derive)
            }
        };
        App::with_ports(
            config,
            account.region.clone(),
            rds,
            RecordedLag { cloudwatch: CloudWatchLag::new(account.cloudwatch()), calls: self.lag_calls.clone() },
            Route53Dns::new(route53),
            notifier,
            ledger,
        )
    }

    /// The live ledger records of `resource` (`db-instance:<region>/<id>`, `db-cluster:<region>/<id>`).
    pub async fn records(&self, resource: &str) -> Vec<Record> {
        self.records_in(&self.account, resource).await
    }

    /// The live ledger records of `resource` in the ledger table of `account`'s region.
    pub async fn records_in(&self, account: &Account, resource: &str) -> Vec<Record> {
        let ledger = DynamoLedger::new(account.dynamodb(), self.ledger.clone());
        ledger.read(resource, failover_core::time::now_secs()).await.expect("ledger read").records
    }

    /// The latest `promotion#<time>` record of primary `id` in the home region: (state, replica id).
    pub async fn promotion(&self, id: &str) -> Option<(State, String)> {
        let records = self.records(&format!("db-instance:{}/{id}", self.account.region)).await;
        records
            .into_iter()
            .filter(|r| is_promotion_key(&r.key))
            .max_by_key(|r| (r.created_at, r.key.clone()))
            .map(|r| (r.state, r.data["replica"]["id"].as_str().unwrap_or_default().to_owned()))
    }

    /// An invocation that died right after recording its decision to promote `replica` to replace `primary`
    /// (`ago` seconds ago): the pending record is in the ledger, written as the function writes it, and its lease
    /// ran out; nothing was promoted.
    pub async fn crashed_decision(&self, primary: &str, replica: &str, ago: i64) {
        self.crashed_decision_at(primary, replica, failover_core::time::now_secs() - ago).await
    }

    /// [`Env::crashed_decision`] at `at` (seconds since the epoch).
    pub async fn crashed_decision_at(&self, primary: &str, replica: &str, at: i64) {
        let ledger = DynamoLedger::new(self.account.dynamodb(), self.ledger.clone());
        let resource = format!("db-instance:{}/{primary}", self.account.region);
        let now = failover_core::time::now_secs();
        let ago = now - at;
        let chosen = self.describe(replica).await;
        let decision = model::Record::new(model::DbRef::new(&self.account.region, replica), now - ago)
            .with_resource_id(chosen.dbi_resource_id.clone());
        let endpoint = chosen.endpoint.clone().and_then(|e| e.address);
        let data = decision.data("replica", chosen.db_instance_arn().unwrap_or_default(), endpoint.as_deref());
        let key = model::promotion_key(now - ago);
        let record =
            Record::pending(&resource, &key, "crashed", "RDS-EVENT-0031 (failure)", now - ago, 86_400).with_data(data);
        let snapshot = ledger.read(&resource, now).await.expect("ledger read");
        let begin = Begin {
            owner: "crashed",
            now: now - ago,
            // A lease that ran out at once: the invocation is dead.
            hold_secs: -1,
            retention_secs: 86_400,
            records: &[record],
            force: false,
        };
        assert!(matches!(ledger.begin(&snapshot, &begin).await.expect("begin"), Begun::Started { .. }));
    }

    /// A run that asked for replica `id` of `source` (RECREATE_REPLICA) and was refused for the time being, or
    /// died: its `replica#<id>` record pending on `source`'s resource, written as the function writes it, its lease
    /// run out.
    pub async fn pending_replica(&self, source: &str, id: &str) {
        let ledger = DynamoLedger::new(self.account.dynamodb(), self.ledger.clone());
        let resource = format!("db-instance:{}/{source}", self.account.region);
        let now = failover_core::time::now_secs();
        let data = json!({"replica": {"region": self.account.region, "id": id}, "of": source});
        let key = format!("replica#{id}");
        let record = Record::pending(&resource, &key, "refused", "promotion", now - 60, 86_400).with_data(data);
        let snapshot = ledger.read(&resource, now).await.expect("ledger read");
        let begin = Begin {
            owner: "refused",
            now: now - 60,
            hold_secs: -1,
            retention_secs: 86_400,
            records: &[record],
            force: false,
        };
        assert!(matches!(ledger.begin(&snapshot, &begin).await.expect("begin"), Begun::Started { .. }));
    }

    pub fn app(&self, settings: &[(&str, &str)]) -> TestApp {
        self.app_in(&self.account, settings)
    }

    /// The function as `main` builds it, from the SDK configuration (its lag calls are not recorded).
    pub fn sdk_app(&self) -> App {
        App::new(self.config(&[]), &self.account.sdk)
    }

    /// A Route 53 hosted zone named `name`; its id (without `/hostedzone/`).
    pub async fn hosted_zone(&self, name: &str) -> String {
        let created = self
            .account
            .route53()
            .create_hosted_zone()
            .name(name)
            .caller_reference(format!("{}-{name}", self.account.id))
            .send()
            .await
            .expect("zone");
        let id = created.hosted_zone.expect("zone").id;
        id.rsplit('/').next().expect("zone id").to_owned()
    }

    pub fn lag_calls(&self) -> Vec<LagCall> {
        self.lag_calls.lock().unwrap().clone()
    }

    /// How many times the local AWS answered `action` for this account (its call log, all regions).
    pub fn calls_answered(&self, action: &str) -> u64 {
        self.account.calls_answered(action)
    }

    pub async fn primary(&self, id: &str, opted_in: bool) -> DbInstance {
        let mut request = self
            .account
            .rds()
            .create_db_instance()
            .db_instance_identifier(id)
            .engine("mysql")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("admin")
            .master_user_password("password1")
            .backup_retention_period(7);
        if opted_in {
            request = request.tags(tag(OPT_IN, "true"));
        }
        request.send().await.expect("create primary").db_instance.expect("instance")
    }

    /// A replica of `source` in `account`'s region, opted in, with extra tags.
    pub async fn replica_in(&self, account: &Account, id: &str, source: &str, tags: &[(&str, &str)]) {
        let mut request = account
            .rds()
            .create_db_instance_read_replica()
            .db_instance_identifier(id)
            .source_db_instance_identifier(source)
            .db_instance_class("db.t3.micro")
            .tags(tag(OPT_IN, "true"));
        for (k, v) in tags {
            request = request.tags(tag(k, v));
        }
        request.send().await.expect("create replica");
    }

    pub async fn replica(&self, id: &str, source: &str, tags: &[(&str, &str)]) {
        self.replica_in(&self.account, id, source, tags).await
    }

    /// Publishes ReplicaLag datapoints in `account`'s region (see [`put_lag`]).
    pub async fn lag_in(&self, account: &Account, id: &str, values: &[f64]) {
        put_lag(account, LagMetric::ReplicaLag, id, values).await
    }

    pub async fn lag(&self, id: &str, values: &[f64]) {
        self.lag_in(&self.account, id, values).await
    }

    /// The next `PromoteReadReplica` of `id` is left under way (`modifying`, still a replica) until
    /// [`Env::finish_promotion`], as RDS takes minutes over it.
    pub fn hold_promotion(&self, id: &str) {
        self.account.control("/_failover/rds/promotion-hold", json!({"db_instance_identifier": id}));
    }

    /// The held promotion of `id` ends: `promoted` (available, no longer a replica) or `failed` (available,
    /// still a replica).
    pub fn finish_promotion(&self, id: &str, outcome: &str) {
        let body = json!({"db_instance_identifier": id, "outcome": outcome});
        self.account.control("/_failover/rds/promotion-finish", body);
    }

    pub fn set_status(&self, id: &str, status: &str) {
        self.account.control("/_failover/rds/instance-status", json!({"db_instance_identifier": id, "status": status}));
    }

    pub async fn describe_in(&self, account: &Account, id: &str) -> DbInstance {
        account
            .rds()
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .expect("describe")
            .db_instances
            .and_then(|mut v| v.pop())
            .expect("instance")
    }

    pub async fn describe(&self, id: &str) -> DbInstance {
        self.describe_in(&self.account, id).await
    }

    pub async fn is_replica(&self, id: &str) -> bool {
        self.describe(id).await.read_replica_source_db_instance_identifier.is_some()
    }

    pub fn failure_event(&self, id: &str, event_id: &str) -> Value {
        rds_event(&self.account.id, &self.account.region, id, event_id, "DB_INSTANCE")
    }

    pub async fn notifications(&self) -> Vec<Received> {
        self.subscriber.received().await
    }
}

/// `PutMetricData` of `metric` (namespace `AWS/RDS`, dimension `DBInstanceIdentifier`) for `id`, newest first:
/// the newest 90 s ago, then one a minute earlier each, so that every value is the maximum of its own minute,
/// whose period ends before a failure now, within the function's 5-minute look-back, and reads back as given.
pub async fn put_lag(account: &Account, metric: LagMetric, id: &str, values: &[f64]) {
    let aged: Vec<(u64, f64)> = values.iter().enumerate().map(|(i, v)| (90 + 60 * i as u64, *v)).collect();
    put_lag_aged(account, metric, id, &aged).await
}

/// `PutMetricData` of `metric` for `id`: each value `(seconds ago, value)`.
pub async fn put_lag_aged(account: &Account, metric: LagMetric, id: &str, values: &[(u64, f64)]) {
    let unit = match metric {
        LagMetric::ReplicaLag => StandardUnit::Seconds,
        LagMetric::AuroraReplicaLag => StandardUnit::Milliseconds,
    };
    let now = SystemTime::now();
    let data = values
        .iter()
        .map(|(ago, value)| {
            MetricDatum::builder()
                .metric_name(metric.name())
                .dimensions(Dimension::builder().name("DBInstanceIdentifier").value(id).build())
                .timestamp(DateTime::from(now - Duration::from_secs(*ago)))
                .value(*value)
                .unit(unit.clone())
                .build()
        })
        .collect();
    account
        .cloudwatch()
        .put_metric_data()
        .namespace("AWS/RDS")
        .set_metric_data(Some(data))
        .send()
        .await
        .unwrap_or_else(|e| panic!("PutMetricData {} {id}: {e:?}", metric.name()));
}

pub fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

pub fn rds_event(account: &str, region: &str, id: &str, event_id: &str, source_type: &str) -> Value {
    let kind = if source_type == "CLUSTER" { "cluster" } else { "db" };
    let detail_type = if source_type == "CLUSTER" { "RDS DB Cluster Event" } else { "RDS DB Instance Event" };
    json!({
        "version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.rds", "account": account,
        "time": failover_core::time::format_time(failover_core::time::now_secs()), "region": region, "resources": [],
        "detail": {
            "EventCategories": ["failure"], "SourceType": source_type,
            "SourceArn": format!("arn:aws:rds:{region}:{account}:{kind}:{id}"),
            "Date": failover_core::time::format_time(failover_core::time::now_secs()), "Message": "test event",
            "SourceIdentifier": id, "EventID": event_id
        }
    })
}

/// A CloudWatch state timestamp `ago` seconds before now, as alarm payloads write it (`...T10:05:00.000+0000`):
/// the failure time by which replica lag is judged.
fn cloudwatch_time(ago: i64) -> String {
    let at = failover_core::time::format_time(failover_core::time::now_secs() - ago);
    format!("{}.000+0000", at.trim_end_matches('Z'))
}

pub fn alarm_action(account: &str, name: &str, dimension: (&str, &str)) -> Value {
    json!({
        "source": "aws.cloudwatch",
        "alarmArn": format!("arn:aws:cloudwatch:us-east-1:{account}:alarm:{name}"),
        "accountId": account, "time": failover_core::time::format_time(failover_core::time::now_secs()),
        "region": "us-east-1",
        "alarmData": {
            "alarmName": name,
            "state": {"value": "ALARM", "reason": "Threshold Crossed", "timestamp": cloudwatch_time(0)},
            "previousState": {"value": "OK", "reason": "ok", "timestamp": cloudwatch_time(86_400)},
            "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": {
                "namespace": "AWS/RDS", "name": "WriteLatency", "dimensions": {dimension.0: dimension.1}},
                "period": 60, "stat": "Maximum"}, "returnData": true}]}
        }
    })
}

pub async fn ok<D, L, R, N, G>(app: &App<D, L, R, N, G>, payload: Value) -> Response
where
    D: database_failover::ports::Databases + database_failover::ports::GlobalDatabases + Sync,
    L: ReplicaLag + Sync,
    R: database_failover::ports::Dns + Sync,
    N: failover_core::notify::Notifier + Sync,
    G: Ledger,
{
    Box::pin(app.handle(payload)).await.unwrap_or_else(|e| panic!("handler failed: {e}"))
}

pub fn outcomes(notes: &[Received]) -> Vec<&str> {
    notes.iter().map(|n| n.attribute("outcome")).collect()
}

/// orders (opted in) with three replicas: r-lag (20 s), r-fast (1 s), r-mid (8 s).
pub async fn orders(env: &Env) {
    env.primary("orders", true).await;
    for (id, lag) in [("r-lag", [20.0, 12.0]), ("r-fast", [1.0, 0.5]), ("r-mid", [8.0, 2.0])] {
        env.replica(id, "orders", &[]).await;
        env.lag(id, &lag).await;
    }
}

// ------------------------------------------------------------------ Route 53: writer.shop.internal

/// A hosted zone `shop.internal` with `writer.shop.internal` CNAME (TTL 300) pointing at `target`; its id.
pub async fn zone_with_record(env: &Env, target: &str) -> String {
    let zone_id = env.hosted_zone("shop.internal").await;
    write_record(env, &zone_id, aws_sdk_route53::types::ChangeAction::Create, target).await;
    zone_id
}

/// `writer.shop.internal` (TTL 300) pointed at `target` by someone else than the function (a person, or an
/// infrastructure pipeline applying its own value).
pub async fn point_record(env: &Env, zone_id: &str, target: &str) {
    write_record(env, zone_id, aws_sdk_route53::types::ChangeAction::Upsert, target).await;
}

async fn write_record(env: &Env, zone_id: &str, action: aws_sdk_route53::types::ChangeAction, target: &str) {
    let set = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name("writer.shop.internal")
        .r#type(aws_sdk_route53::types::RrType::Cname)
        .ttl(300)
        .resource_records(aws_sdk_route53::types::ResourceRecord::builder().value(target).build().expect("value"))
        .build()
        .expect("record set");
    let change = aws_sdk_route53::types::Change::builder().action(action).resource_record_set(set).build();
    env.account
        .route53()
        .change_resource_record_sets()
        .hosted_zone_id(zone_id)
        .change_batch(
            aws_sdk_route53::types::ChangeBatch::builder().changes(change.expect("change")).build().expect("batch"),
        )
        .send()
        .await
        .expect("record");
}

/// `writer.shop.internal`'s (TTL, values).
pub async fn record(env: &Env, zone_id: &str) -> (Option<i64>, Vec<String>) {
    let sets = env.account.route53().list_resource_record_sets().hosted_zone_id(zone_id).send().await.expect("sets");
    let set = sets
        .resource_record_sets()
        .iter()
        .find(|r| r.name() == "writer.shop.internal." && r.r#type().as_str() == "CNAME")
        .expect("the CNAME");
    (set.ttl(), set.resource_records().iter().map(|r| r.value().to_owned()).collect())
}

/// Tags `primary` with `failover:dns-record=<zone>/writer.shop.internal`.
pub async fn tag_dns_record(env: &Env, primary: &str, zone_id: &str) {
    let arn = env.describe(primary).await.db_instance_arn.expect("arn");
    let value = format!("{zone_id}/writer.shop.internal");
    env.account
        .rds()
        .add_tags_to_resource()
        .resource_name(arn)
        .tags(tag(DNS_RECORD_TAG, &value))
        .send()
        .await
        .expect("tag");
}

pub async fn endpoint(env: &Env, id: &str) -> String {
    env.describe(id).await.endpoint.and_then(|e| e.address).expect("endpoint")
}

// ------------------------------------------------------------------ RDS Proxy

/// A MySQL proxy `name`, opted in, whose default target group holds `target` (none: empty).
pub async fn proxy(env: &Env, name: &str, target: Option<&str>) {
    proxy_tagged(env, name, target, true).await
}

/// A MySQL proxy `name` (with the opt-in tag when `opted_in`) whose default target group holds `target`.
pub async fn proxy_tagged(env: &Env, name: &str, target: Option<&str>, opted_in: bool) {
    let rds = env.account.rds();
    let auth = aws_sdk_rds::types::UserAuthConfig::builder()
        .secret_arn(format!("arn:aws:secretsmanager:us-east-1:{}:secret:orders", env.account.id))
        .build();
    rds.create_db_proxy()
        .db_proxy_name(name)
        .engine_family(aws_sdk_rds::types::EngineFamily::Mysql)
        .auth(auth)
        .role_arn(format!("arn:aws:iam::{}:role/proxy", env.account.id))
        .set_vpc_subnet_ids(Some(env.account.subnets()))
        .set_tags(opted_in.then(|| vec![tag(OPT_IN, "true")]))
        .send()
        .await
        .expect("create proxy");
    if let Some(target) = target {
        let register = rds.register_db_proxy_targets().db_proxy_name(name).db_instance_identifiers(target);
        register.send().await.expect("register target");
    }
}

/// The instances `name`'s default target group holds.
pub async fn targets(env: &Env, name: &str) -> Vec<String> {
    let described = env.account.rds().describe_db_proxy_targets().db_proxy_name(name).send().await.expect("targets");
    described.targets().iter().filter_map(|t| t.rds_resource_id().map(str::to_owned)).collect()
}

/// Tags `id` with `failover:rds-proxy=<value>`.
pub async fn bind(env: &Env, id: &str, value: &str) {
    let arn = env.describe(id).await.db_instance_arn.expect("arn");
    let rds = env.account.rds();
    rds.add_tags_to_resource().resource_name(arn).tags(tag(PROXY_TAG, value)).send().await.expect("tag");
}
