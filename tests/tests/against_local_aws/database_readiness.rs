//! database-failover's `readiness` command against the local AWS: each test builds primaries, replicas (with
//! real `ReplicaLag` datapoints) and Route 53 records in its own account, runs the command, and asserts the
//! one notification (its gaps, each with its fix) and that nothing in RDS or Route 53 changed. A primary and a
//! cluster get the alarm `alarms/template.yaml` would create for them, so that each test sees the gaps it is
//! about; the alarm tests make them without one.

use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_rds::types::Tag;
use aws_sdk_route53::types::{Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet, RrType};
use database_failover::{App, Config};
use failover_core::invoke::InvokeError;
use failover_core::outcome::Outcome;
use integration_tests::{lookup, Account, Subscriber};
use serde_json::{json, Value};
use test_support::OPT_IN;

const DNS_TAG: &str = "failover:dns-record";

struct Env {
    account: Account,
    subscriber: Subscriber,
    ledger: String,
}

impl Env {
    async fn new() -> Self {
        let account = Account::new().await;
        let subscriber = Subscriber::create(&account, "failover-db").await;
        let ledger = account.ledger_table();
        Env { account, subscriber, ledger }
    }

    fn app(&self) -> App {
        self.app_with(&[])
    }

    fn app_with(&self, settings: &[(&str, &str)]) -> App {
        let mut pairs =
            vec![("NOTIFICATION_TOPIC_ARN", self.subscriber.topic_arn.as_str()), ("LEDGER_TABLE", &self.ledger)];
        pairs.extend_from_slice(settings);
        App::new(Config::from_lookup(&lookup(&pairs)).expect("config"), &self.account.sdk)
    }

    /// A prefixed or unprefixed alarm on an RDS metric with this dimension.
    async fn watch(&self, name: &str, dimension: &str, id: &str) {
        self.account.alarm(name, "AWS/RDS", "WriteLatency", &[(dimension, id)]).await;
    }

    /// An opted-in primary with these backups and extra tags, watched by the prefixed alarm on its
    /// `DBInstanceIdentifier`; its endpoint address.
    async fn primary(&self, id: &str, backup_days: i32, tags: &[(&str, &str)]) -> String {
        self.watch(&format!("failover-{id}-write-latency"), "DBInstanceIdentifier", id).await;
        self.bare_primary(id, backup_days, tags).await
    }

    /// An opted-in primary that no alarm watches.
    async fn bare_primary(&self, id: &str, backup_days: i32, tags: &[(&str, &str)]) -> String {
        let mut request = self.account.rds().create_db_instance().db_instance_identifier(id).engine("mysql");
        request = request.db_instance_class("db.t3.micro").allocated_storage(20).master_username("admin");
        request = request.master_user_password("password1").backup_retention_period(backup_days);
        for (k, v) in [(OPT_IN, "true")].iter().chain(tags) {
            request = request.tags(Tag::builder().key(*k).value(*v).build());
        }
        let created = request.send().await.expect("create primary").db_instance.expect("instance");
        created.endpoint.and_then(|e| e.address).expect("endpoint")
    }

    /// An opted-in replica of `source` whose ReplicaLag was `lag` s for the last minutes.
    async fn replica(&self, id: &str, source: &str, lag: f64) {
        let rds = self.account.rds();
        let request =
            rds.create_db_instance_read_replica().db_instance_identifier(id).source_db_instance_identifier(source);
        let tag = Tag::builder().key(OPT_IN).value("true").build();
        request.db_instance_class("db.t3.micro").tags(tag).send().await.expect("create replica");
        let now = SystemTime::now();
        let data = (0..3)
            .map(|i| {
                MetricDatum::builder()
                    .metric_name("ReplicaLag")
                    .dimensions(Dimension::builder().name("DBInstanceIdentifier").value(id).build())
                    .timestamp(DateTime::from(now - Duration::from_secs(30 + 60 * i)))
                    .value(lag)
                    .unit(StandardUnit::Seconds)
                    .build()
            })
            .collect();
        let cloudwatch = self.account.cloudwatch();
        cloudwatch.put_metric_data().namespace("AWS/RDS").set_metric_data(Some(data)).send().await.expect("lag");
    }

    /// A hosted zone `<name>`; its id.
    async fn zone(&self, name: &str) -> String {
        let created = self.account.route53().create_hosted_zone().name(name).caller_reference(name).send().await;
        let zone = created.expect("zone").hosted_zone.expect("zone").id;
        zone.rsplit('/').next().unwrap_or_default().to_owned()
    }

    async fn cname(&self, zone: &str, name: &str, value: &str) {
        let record = ResourceRecord::builder().value(value).build().expect("record");
        let set = ResourceRecordSet::builder().name(name).r#type(RrType::Cname).ttl(30).resource_records(record);
        let change = Change::builder().action(ChangeAction::Create).resource_record_set(set.build().expect("set"));
        let batch = ChangeBatch::builder().changes(change.build().expect("change")).build().expect("batch");
        let route53 = self.account.route53();
        route53.change_resource_record_sets().hosted_zone_id(zone).change_batch(batch).send().await.expect("cname");
    }

    /// Every instance (status, source, backups, tags) and every record of every zone: what readiness must leave.
    async fn state(&self) -> Value {
        let rds = self.account.rds().describe_db_instances().send().await.expect("describe");
        let instances: Vec<String> = rds
            .db_instances()
            .iter()
            .map(|i| {
                let (id, status) = (i.db_instance_identifier(), i.db_instance_status());
                let (source, backups) = (i.read_replica_source_db_instance_identifier(), i.backup_retention_period());
                format!("{id:?} {status:?} {source:?} {backups:?} {:?}", i.tag_list())
            })
            .collect();
        let route53 = self.account.route53();
        let mut records = Vec::new();
        for zone in route53.list_hosted_zones().send().await.expect("zones").hosted_zones() {
            let sets = route53.list_resource_record_sets().hosted_zone_id(zone.id()).send().await.expect("sets");
            records.push(format!("{:?}", sets.resource_record_sets()));
        }
        json!({"instances": instances, "records": records})
    }

    async fn readiness(&self, body: Value) -> Value {
        self.readiness_of(&self.app(), body).await
    }

    async fn readiness_of(&self, app: &App, body: Value) -> Value {
        let response = app.handle(body).await.expect("readiness answers");
        assert_eq!((response.status, response.action.as_str()), (Outcome::Info, "readiness"), "{response:?}");
        serde_json::to_value(&response).expect("json")
    }

    /// The single notification: (severity, findings as (kind, resource id, fix), body).
    async fn notification(&self) -> (String, Vec<(String, String, String)>, Value) {
        let received = self.subscriber.received().await;
        assert_eq!(received.len(), 1, "one notification: {received:?}");
        assert_eq!((received[0].attribute("action"), received[0].attribute("outcome")), ("readiness", "info"));
        let body = received[0].body();
        let mut findings: Vec<(String, String, String)> = body["details"]["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| {
                let text = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
                let id = text("resource").rsplit(':').next().unwrap_or_default().to_owned();
                (text("kind"), id, text("fix"))
            })
            .collect();
        findings.sort();
        (received[0].attribute("severity").to_owned(), findings, body)
    }
}

#[tokio::test]
async fn readiness_on_a_healthy_setup_reports_ready_with_the_replicas_lag_and_changes_nothing() {
    let env = Env::new().await;
    let zone = env.zone("orders.internal").await;
    let endpoint = env.primary("orders", 7, &[(DNS_TAG, &format!("{zone}/writer.orders.internal"))]).await;
    env.cname(&zone, "writer.orders.internal", &endpoint).await;
    env.replica("orders-r1", "orders", 2.0).await;
    let before = env.state().await;

    let response = env.readiness(json!({"command": "readiness", "dry_run": true})).await;

    assert_eq!(response["details"]["gaps"], 0, "{response}");
    let (severity, findings, body) = env.notification().await;
    assert_eq!((severity.as_str(), findings.len()), ("info", 0), "{body}");
    assert_eq!(body["incident_id"], format!("database-failover/{}/readiness", env.account.region));
    let judged = &body["details"]["judged"][0];
    assert_eq!(judged["primary"], "orders");
    assert_eq!(
        (judged["replicas"][0]["id"].clone(), judged["replicas"][0]["max_lag"].clone()),
        (json!("orders-r1"), json!(2.0))
    );
    assert_eq!(judged["replicas"][0]["eligible"], true);
    let summary = body["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("- orders (instance): orders-r1 (lag 2 s)"), "{summary}");
    assert_eq!(env.state().await, before);
}

#[tokio::test]
async fn each_gap_is_reported_with_its_fix() {
    let env = Env::new().await;
    let zone = env.zone("shop.internal").await;
    // Alone: no replica at all.
    env.primary("alone", 7, &[]).await;
    // Lagging: its only replica is 50 s behind (above the default 30 s).
    env.primary("lagging", 7, &[]).await;
    env.replica("lagging-r1", "lagging", 50.0).await;
    // No backups, the rest ready.
    env.primary("nobackup", 0, &[]).await;
    env.replica("nobackup-r1", "nobackup", 1.0).await;
    // A DNS record that does not exist, and one that points elsewhere.
    env.primary("norecord", 7, &[(DNS_TAG, &format!("{zone}/missing.shop.internal"))]).await;
    env.replica("norecord-r1", "norecord", 1.0).await;
    env.primary("moved", 7, &[(DNS_TAG, &format!("{zone}/moved.shop.internal"))]).await;
    env.replica("moved-r1", "moved", 1.0).await;
    env.cname(&zone, "moved.shop.internal", "somewhere-else.example.com").await;
    let before = env.state().await;

    let response = env.readiness(json!({"command": "readiness"})).await;

    assert_eq!(response["details"]["gaps"], 5, "{response}");
    let (severity, findings, body) = env.notification().await;
    assert_eq!(severity, "warning");
    let kinds: Vec<(&str, &str)> = findings.iter().map(|(k, id, _)| (k.as_str(), id.as_str())).collect();
    assert_eq!(
        kinds,
        [
            ("backups-off", "nobackup"),
            ("dns-record-elsewhere", "moved"),
            ("dns-record-missing", "norecord"),
            ("no-eligible-replica", "alone"),
            ("no-eligible-replica", "lagging"),
        ]
    );
    let fix = |i: usize| findings[i].2.as_str();
    assert!(
        fix(0).starts_with("aws rds modify-db-instance --db-instance-identifier nobackup --backup-retention-period 7")
    );
    assert!(
        fix(1).starts_with(&format!("aws route53 change-resource-record-sets --hosted-zone-id {zone}"))
            && fix(1).contains("UPSERT")
    );
    assert!(fix(2).contains("\"Action\":\"CREATE\"") && fix(2).contains("missing.shop.internal"));
    assert!(fix(3).starts_with(
        "aws rds create-db-instance-read-replica --region us-east-1 --db-instance-identifier alone-replica"
    ));
    let summary = body["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("lagging-r1: ReplicaLag reached 50 s"), "{summary}");
    assert!(summary.contains("points at somewhere-else.example.com"), "{summary}");
    assert_eq!(env.state().await, before);
}

#[tokio::test]
async fn an_aws_error_on_one_primary_is_reported_unknown_and_the_others_are_still_checked() {
    let env = Env::new().await;
    // Route 53 answers NoSuchHostedZone for a zone that does not exist.
    env.primary("lost", 7, &[(DNS_TAG, "ZNOSUCHZONE0000/db.lost.internal")]).await;
    env.replica("lost-r1", "lost", 1.0).await;
    env.primary("alone", 7, &[]).await;

    let response = env.readiness(json!({"command": "readiness"})).await;

    assert_eq!((response["details"]["gaps"].clone(), response["details"]["unknown"].clone()), (json!(2), json!(1)));
    let (severity, findings, body) = env.notification().await;
    assert_eq!(severity, "warning");
    let kinds: Vec<(&str, &str)> = findings.iter().map(|(k, id, _)| (k.as_str(), id.as_str())).collect();
    assert_eq!(kinds, [("no-eligible-replica", "alone"), ("unknown", "lost")]);
    let summary = body["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("lost: unknown (error NoSuchHostedZone: "), "{summary}");
    assert!(findings[1].2.starts_with("aws route53 list-resource-record-sets --hosted-zone-id ZNOSUCHZONE0000"));
}

#[tokio::test]
async fn readiness_with_an_unknown_field_or_a_missing_resource_is_an_invalid_command() {
    let env = Env::new().await;
    env.primary("orders", 7, &[]).await;
    for body in [
        json!({"command": "readiness", "primary": "orders"}),
        json!({"command": "readiness", "db_instance_identifier": "nothing"}),
        json!({"command": "readiness", "db_cluster_identifier": "nothing"}),
    ] {
        let error = env.app().handle(body.clone()).await.expect_err(&body.to_string());
        assert!(matches!(error, InvokeError::InvalidCommand(_)), "{body}: {error}");
    }
    assert!(env.subscriber.received().await.is_empty(), "nothing published");
}

/// An opted-in Aurora cluster with a writer and one reader, the reader opted in or not, watched by the
/// prefixed alarm on its `DBClusterIdentifier`.
async fn cluster(env: &Env, id: &str, reader_opted_in: bool) {
    env.watch(&format!("failover-{id}-commit-latency"), "DBClusterIdentifier", id).await;
    bare_cluster(env, id, reader_opted_in).await;
}

/// [`cluster`] without the alarm.
async fn bare_cluster(env: &Env, id: &str, reader_opted_in: bool) {
    let rds = env.account.rds();
    let opt_in = || Tag::builder().key(OPT_IN).value("true").build();
    let created = rds.create_db_cluster().db_cluster_identifier(id).engine("aurora-mysql").master_username("admin");
    created.master_user_password("password1").tags(opt_in()).send().await.expect("cluster");
    for (member, opted_in) in [(format!("{id}-writer"), true), (format!("{id}-reader"), reader_opted_in)] {
        let mut request = rds.create_db_instance().db_instance_identifier(&member).db_cluster_identifier(id);
        request = request.engine("aurora-mysql").db_instance_class("db.r5.large");
        if opted_in {
            request = request.tags(opt_in());
        }
        request.send().await.expect("cluster instance");
    }
}

#[tokio::test]
async fn an_aurora_cluster_needs_an_eligible_reader() {
    let env = Env::new().await;
    cluster(&env, "catalog", true).await;
    cluster(&env, "archive", false).await;
    let before = env.state().await;

    let response = env.readiness(json!({"command": "readiness"})).await;

    assert_eq!((response["details"]["clusters"].clone(), response["details"]["gaps"].clone()), (json!(2), json!(1)));
    let (severity, findings, body) = env.notification().await;
    assert_eq!(severity, "warning");
    let arn_prefix = format!("arn:aws:rds:{}:{}", env.account.region, env.account.id);
    assert_eq!(
        findings,
        [(
            "no-eligible-reader".to_owned(),
            "archive".to_owned(),
            format!("aws rds add-tags-to-resource --resource-name {arn_prefix}:db:archive-reader --tags Key={OPT_IN},Value=true")
        )]
    );
    assert!(body["summary"].as_str().unwrap_or_default().contains("archive-reader: not opted in"), "{body}");
    assert_eq!(env.state().await, before);

    let response = env.readiness(json!({"command": "readiness", "db_cluster_identifier": "catalog"})).await;
    assert_eq!((response["details"]["clusters"].clone(), response["details"]["gaps"].clone()), (json!(1), json!(0)));
    assert_eq!(env.notification().await.0, "info");
}

#[tokio::test]
async fn a_primary_or_cluster_no_prefixed_alarm_watches_is_reported_until_one_does() {
    let env = Env::new().await;
    env.bare_primary("orders", 7, &[]).await;
    env.replica("orders-r1", "orders", 2.0).await;
    bare_cluster(&env, "catalog", true).await;
    // Not routed to the function (no prefix), and on a replica rather than the primary.
    env.watch("orders-write-latency", "DBInstanceIdentifier", "orders").await;
    env.watch("failover-orders-r1-lag", "DBInstanceIdentifier", "orders-r1").await;
    let before = env.state().await;

    let response = env.readiness(json!({"command": "readiness"})).await;

    assert_eq!(response["details"]["gaps"], 2, "{response}");
    assert_eq!(env.account.calls_answered("DescribeAlarms"), 1, "one read for the run, not one per resource");
    let (severity, findings, body) = env.notification().await;
    let deploy = |id: &str, parameter: &str| {
        format!(
            "aws cloudformation deploy --stack-name failover-alarms-{id} --template-file alarms/template.yaml \
             --parameter-overrides AlarmNamePrefix=failover- Application={id} {parameter}={id}"
        )
    };
    assert_eq!(severity, "warning");
    assert_eq!(
        findings,
        [
            ("no-alarm".to_owned(), "catalog".to_owned(), deploy("catalog", "DbClusterIdentifier")),
            ("no-alarm".to_owned(), "orders".to_owned(), deploy("orders", "DbInstanceIdentifier")),
        ]
    );
    let summary = body["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("only its RDS events (through EventBridge, best effort) will invoke"), "{summary}");
    assert_eq!(env.state().await, before);

    env.watch("failover-orders-write-latency", "DBInstanceIdentifier", "orders").await;
    env.account
        .alarm(
            "failover-catalog-commit-latency",
            "AWS/RDS",
            "CommitLatency",
            &[("DBClusterIdentifier", "catalog"), ("Role", "WRITER")],
        )
        .await;
    let response = env.readiness(json!({"command": "readiness"})).await;
    assert_eq!(response["details"]["gaps"], 0, "{response}");
    assert_eq!(env.notification().await.0, "info");
}

#[tokio::test]
async fn a_dry_run_is_a_readiness_gap() {
    let env = Env::new().await;
    env.primary("orders", 7, &[]).await;
    env.replica("orders-r1", "orders", 2.0).await;

    let response = env.readiness_of(&env.app_with(&[("DRY_RUN", "true")]), json!({"command": "readiness"})).await;

    assert_eq!(response["details"]["gaps"], 1, "{response}");
    let (severity, findings, body) = env.notification().await;
    assert_eq!(severity, "warning");
    let kinds: Vec<(&str, &str)> = findings.iter().map(|(k, id, _)| (k.as_str(), id.as_str())).collect();
    assert_eq!(kinds, [("dry-run", "database-failover")]);
    assert!(body["summary"].as_str().unwrap_or_default().contains("dry run: nothing will be changed"), "{body}");
}
