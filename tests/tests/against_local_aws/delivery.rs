//! Delivery against the local AWS: AWS delivers at least once, by several paths, and the functions' async
//! invocations are retried, so each main scenario's event arrives three times, interleaved with another
//! event about the same failure (the same alarm by EventBridge, SNS and the direct alarm action; an instance
//! alarm for a target a target-group alarm accuses; RDS-EVENT-0031 directly and through SNS, and an alarm on
//! the same primary; an Aurora alarm and RDS-EVENT-0069). Each test snapshots the AWS state after the first
//! delivery and asserts that the others leave it exactly so (nothing more removed, shifted, restored, promoted,
//! failed over or tagged) and that the failure was notified once.
//!
//! The single deliveries and the same-event repeats already tested in `target_failover.rs` and
//! `database_failover.rs` are not repeated here.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use aws_sdk_cloudwatch::primitives::DateTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ProtocolEnum, RuleCondition, Tag, TargetDescription, TargetTypeEnum,
};
use aws_sdk_rds::types::Tag as RdsTag;
use failover_core::ledger::{DynamoLedger, Ledger, State};
use failover_core::outcome::Outcome as Status;
use integration_tests::{forward, lookup, Account, Received, Subscriber};
use serde_json::{json, Value};
use test_support::{pair, OPT_IN};

/// (action, outcome) of each notification received, sorted.
fn outcomes(received: &[Received]) -> Vec<(String, String)> {
    let mut list: Vec<_> =
        received.iter().map(|r| (r.attribute("action").to_owned(), r.attribute("outcome").to_owned())).collect();
    list.sort();
    list
}

// ---------------------------------------------------------------------------------------------- load balancer

/// An account with a load balancer and a notification subscriber; the function as `main` builds it.
struct Shop {
    account: Account,
    subscriber: Subscriber,
    vpc: String,
    lb: String,
    /// The ledger table, as the template declares it.
    ledger: String,
}

impl Shop {
    async fn new() -> Self {
        let account = Account::new().await;
        let subscriber = Subscriber::create(&account, "failover").await;
        let vpc = account.vpc();
        let lb = account.load_balancer("shop", 2).await;
        let ledger = account.ledger_table();
        Shop { account, subscriber, vpc, lb, ledger }
    }

    fn app(&self) -> target_failover::App {
        let config = target_failover::Config::from_lookup(&lookup(&[
            ("NOTIFICATION_TOPIC_ARN", self.subscriber.topic_arn.as_str()),
            ("LEDGER_TABLE", self.ledger.as_str()),
        ]))
        .expect("config");
        target_failover::App::new(config, &self.account.sdk)
    }

    /// An opted-in instance group with these targets on port 80, and its backup tag if any.
    async fn group(&self, name: &str, ids: &[String], backup: Option<&str>) -> String {
        let elb = self.account.elbv2();
        let created = elb
            .create_target_group()
            .name(name)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .vpc_id(&self.vpc)
            .target_type(TargetTypeEnum::Instance)
            .send()
            .await
            .expect("create target group");
        let arn = created.target_groups()[0].target_group_arn().expect("group arn").to_owned();
        let mut tags = vec![Tag::builder().key(OPT_IN).value("true").build()];
        if let Some(backup) = backup {
            tags.push(Tag::builder().key("failover:backup-target-group").value(backup).build());
        }
        elb.add_tags().resource_arns(&arn).set_tags(Some(tags)).send().await.expect("tags");
        let targets = ids.iter().map(|id| TargetDescription::builder().id(id).port(80).build()).collect();
        elb.register_targets().target_group_arn(&arn).set_targets(Some(targets)).send().await.expect("register");
        arn
    }

    fn set_health(&self, group: &str, ids: &[String], state: &str) {
        let targets: Vec<Value> = ids.iter().map(|id| json!({"id": id, "state": state})).collect();
        self.account.control("/_failover/elbv2/target-health", json!({"target_group_arn": group, "targets": targets}));
    }

    /// The listener on port 80 forwarding with these weights, and a rule on `/api/*` forwarding with others;
    /// both opted in (the function shifts only listeners and rules that carry the opt-in tag themselves).
    async fn listener_and_rule(&self, listener: &[(&str, i32)], rule: &[(&str, i32)]) {
        let elb = self.account.elbv2();
        let created = elb
            .create_listener()
            .load_balancer_arn(&self.lb)
            .protocol(ProtocolEnum::Http)
            .port(80)
            .default_actions(forward(listener))
            .send()
            .await
            .expect("create listener");
        let listener_arn = created.listeners()[0].listener_arn().expect("listener arn").to_owned();
        let created = elb
            .create_rule()
            .listener_arn(&listener_arn)
            .priority(10)
            .conditions(RuleCondition::builder().field("path-pattern").values("/api/*").build())
            .actions(forward(rule))
            .send()
            .await
            .expect("create rule");
        let rule_arn = created.rules()[0].rule_arn().expect("rule arn").to_owned();
        elb.add_tags()
            .resource_arns(listener_arn)
            .resource_arns(rule_arn)
            .tags(Tag::builder().key(OPT_IN).value("true").build())
            .send()
            .await
            .expect("opt the listener and rule in");
    }

    /// Everything the function could change: each group's targets with their state and its tags, and every
    /// listener's and rule's forward weights.
    async fn state(&self, groups: &[&str]) -> Value {
        let elb = self.account.elbv2();
        let mut out = serde_json::Map::new();
        for group in groups {
            let health = elb.describe_target_health().target_group_arn(*group).send().await.expect("health");
            let targets: BTreeMap<String, String> = health
                .target_health_descriptions()
                .iter()
                .map(|d| {
                    let id = d.target().and_then(|t| t.id()).unwrap_or_default().to_owned();
                    (id, d.target_health().and_then(|h| h.state()).map(|s| s.as_str().to_owned()).unwrap_or_default())
                })
                .collect();
            let described = elb.describe_tags().resource_arns(*group).send().await.expect("tags");
            let tags: BTreeMap<String, String> = described.tag_descriptions()[0]
                .tags()
                .iter()
                .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
                .collect();
            out.insert(group.to_string(), json!({"targets": targets, "tags": tags}));
        }
        let listeners = elb.describe_listeners().load_balancer_arn(&self.lb).send().await.expect("listeners");
        for listener in listeners.listeners() {
            let arn = listener.listener_arn().unwrap_or_default();
            out.insert(arn.to_owned(), weights(listener.default_actions()));
            let rules = elb.describe_rules().listener_arn(arn).send().await.expect("rules");
            for rule in rules.rules() {
                out.insert(rule.rule_arn().unwrap_or_default().to_owned(), weights(rule.actions()));
            }
        }
        Value::Object(out)
    }

    fn alarm_arn(&self, name: &str) -> String {
        format!("arn:aws:cloudwatch:{}:{}:alarm:{name}", self.account.region, self.account.id)
    }

    /// The same alarm state change as each delivery path carries it.
    fn alarm(&self, path: Path, name: &str, state: &str, previous: &str, dimensions: Value) -> Value {
        let change = json!({
            "alarmName": name,
            "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "2024-05-01T10:00:00.120+0000"},
            "previousState": {"value": previous, "reason": "", "timestamp": "2024-05-01T09:00:00.000+0000"},
            "configuration": {"metrics": [{"id": "m1", "returnData": true, "metricStat": {
                "metric": {"namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount", "dimensions": dimensions},
                "period": 60, "stat": "Maximum"}}]}
        });
        match path {
            Path::EventBridge => json!({
                "version": "0", "id": "e-1", "detail-type": "CloudWatch Alarm State Change",
                "source": "aws.cloudwatch", "account": self.account.id, "time": "2024-05-01T10:00:00Z",
                "region": self.account.region, "resources": [self.alarm_arn(name)], "detail": change
            }),
            Path::AlarmAction => json!({
                "source": "aws.cloudwatch", "alarmArn": self.alarm_arn(name), "accountId": self.account.id,
                "time": "2024-05-01T10:00:00.120+0000", "region": self.account.region, "alarmData": change
            }),
            Path::Sns => {
                let list: Vec<Value> = dimensions
                    .as_object()
                    .expect("dimensions")
                    .iter()
                    .map(|(k, v)| json!({"name": k, "value": v}))
                    .collect();
                let message = json!({
                    "AlarmName": name, "AlarmDescription": null, "AWSAccountId": self.account.id,
                    "NewStateValue": state, "OldStateValue": previous, "NewStateReason": "Threshold Crossed",
                    "StateChangeTime": "2024-05-01T10:00:00.120+0000", "Region": "US East (N. Virginia)",
                    "AlarmArn": self.alarm_arn(name),
                    "Trigger": {"MetricName": "UnHealthyHostCount", "Namespace": "AWS/ApplicationELB",
                        "Statistic": "MAXIMUM", "Unit": null, "Dimensions": list, "Period": 60,
                        "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0.0}
                });
                sns_record(&self.subscriber.topic_arn, &message)
            }
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Path {
    EventBridge,
    Sns,
    AlarmAction,
}

const PATHS: [Path; 3] = [Path::EventBridge, Path::Sns, Path::AlarmAction];

fn sns_record(topic: &str, message: &Value) -> Value {
    json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {
        "Type": "Notification", "MessageId": "m-1", "TopicArn": topic, "Subject": null,
        "Message": message.to_string(), "Timestamp": "2024-05-01T10:00:00.200Z"}}]})
}

fn weights(actions: &[Action]) -> Value {
    let forward = actions.iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward));
    let groups = forward.and_then(|f| f.forward_config()).map(|c| c.target_groups().to_vec()).unwrap_or_default();
    groups.iter().map(|t| (t.target_group_arn().unwrap_or_default().to_owned(), json!(t.weight()))).collect()
}

fn group_dimension(arn: &str) -> Value {
    json!({"TargetGroup": &arn[arn.find("targetgroup/").expect("a group arn")..], "LoadBalancer": "app/shop/1"})
}

/// Delivers `events` in order; returns the state after the first one and after all, and what was notified.
async fn deliver_shop(shop: &Shop, groups: &[&str], events: &[Value]) -> (Value, Value, Vec<(String, String)>) {
    let app = shop.app();
    let first = app.handle(events[0].clone()).await.expect("first delivery");
    assert!(matches!(first.status, Status::Succeeded), "{first:?}");
    let once = shop.state(groups).await;
    for event in &events[1..] {
        let again = app.handle(event.clone()).await.expect("repeat delivery");
        assert!(matches!(again.status, Status::Skipped), "a repeat changes nothing: {again:?}");
    }
    (once, shop.state(groups).await, outcomes(&shop.subscriber.received().await))
}

#[tokio::test]
async fn a_target_group_alarm_by_every_path_interleaved_with_an_instance_alarm_for_the_same_target_acts_once() {
    for instance_alarm_first in [false, true] {
        let shop = Shop::new().await;
        let ids = shop.account.instances(3);
        let web = shop.group("web", &ids, None).await;
        shop.set_health(&web, &ids[..1], "unhealthy");
        let group_alarm = |path| shop.alarm(path, "web-unhealthy", "ALARM", "OK", group_dimension(&web));
        let instance_alarm = |path| shop.alarm(path, "i-5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}));
        let mut events: Vec<Value> = PATHS.iter().flat_map(|&p| [group_alarm(p), instance_alarm(p)]).collect();
        if instance_alarm_first {
            events.rotate_left(1);
        }

        let (once, after, notified) = deliver_shop(&shop, &[&web], &events).await;

        assert_eq!(after, once, "instance alarm first: {instance_alarm_first}");
        let targets = after[&web]["targets"].as_object().expect("targets");
        assert_eq!(targets.len(), 2, "only the failing target left: {after}");
        assert!(!targets.contains_key(&ids[0]), "{after}");
        assert_eq!(notified, [pair("deregister-targets", "succeeded")]);
    }
}

#[tokio::test]
async fn an_instance_alarm_by_every_path_three_times_takes_the_instance_out_of_each_group_once() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", &ids[..3], None).await;
    let admin = shop.group("admin", &[ids[0].clone(), ids[3].clone()], None).await;
    let alarm = |path| shop.alarm(path, "i-5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}));
    let events: Vec<Value> = [PATHS, PATHS, PATHS].concat().into_iter().map(alarm).collect();

    let (once, after, notified) = deliver_shop(&shop, &[&web, &admin], &events).await;

    assert_eq!(after, once);
    for group in [&web, &admin] {
        assert!(!after[group]["targets"].as_object().unwrap().contains_key(&ids[0]), "{after}");
    }
    // One notification for the event, listing both groups.
    assert_eq!(notified, [pair("deregister-targets", "succeeded")]);
}

/// web (3 targets, backup web-dr) behind the listener and a rule; web-dr (2 targets).
async fn with_backup(shop: &Shop) -> (String, String, Vec<String>) {
    let ids = shop.account.instances(5);
    let dr = shop.group("web-dr", &ids[3..], None).await;
    let web = shop.group("web", &ids[..3], Some(&dr)).await;
    shop.listener_and_rule(&[(&web, 100), (&dr, 0)], &[(&web, 1)]).await;
    (web, dr, ids)
}

#[tokio::test]
async fn a_shift_delivered_three_times_by_interleaved_paths_shifts_once_and_never_overwrites_the_saved_weights() {
    let shop = Shop::new().await;
    let (web, dr, ids) = with_backup(&shop).await;
    shop.set_health(&web, &ids[..3], "unhealthy");
    let alarm = |path| shop.alarm(path, "web-unhealthy", "ALARM", "OK", group_dimension(&web));
    let events = [alarm(Path::EventBridge), alarm(Path::Sns), alarm(Path::EventBridge), alarm(Path::Sns)];

    let (once, after, notified) = deliver_shop(&shop, &[&web, &dr], &events).await;

    assert_eq!(after, once, "the saved weights and the shifted weights are those of the first delivery");
    let ledger = DynamoLedger::new(shop.account.dynamodb(), &shop.ledger);
    let records = ledger.read(&format!("target-group:{web}"), failover_core::time::now_secs()).await.unwrap().records;
    let shifts: Vec<_> = records.iter().filter(|r| r.key.starts_with("shift#") && r.state == State::Done).collect();
    assert_eq!(shifts.len(), 2, "one saved-weights record per shifted action, written once: {records:?}");
    assert_eq!(after[&web]["targets"].as_object().unwrap().len(), 3, "nothing removed from a group that cannot serve");
    assert_eq!(notified, [pair("shift-traffic", "succeeded")]);
}

#[tokio::test]
async fn a_failback_on_ok_delivered_three_times_by_every_path_restores_once() {
    let shop = Shop::new().await;
    let (web, dr, ids) = with_backup(&shop).await;
    let before_shift = shop.state(&[&web, &dr]).await;
    // The alarm shifted the traffic (an OK fails back only an alarm's shift), a while before its OK.
    shop.set_health(&web, &ids[..3], "unhealthy");
    let mut alarm = shop.alarm(Path::AlarmAction, "web-unhealthy", "ALARM", "OK", group_dimension(&web));
    alarm["alarmData"]["state"]["timestamp"] = json!("2024-05-01T09:30:00.000+0000");
    let shifted = shop.app().handle(alarm).await.expect("shift");
    assert_eq!(shifted.status, Status::Succeeded, "{shifted:?}");
    shop.set_health(&web, &ids[..3], "healthy");
    shop.subscriber.received().await;
    let ok = |path| shop.alarm(path, "web-unhealthy", "OK", "ALARM", group_dimension(&web));
    let events: Vec<Value> = [Path::Sns, Path::EventBridge, Path::AlarmAction].into_iter().map(ok).collect();

    let (once, after, notified) = deliver_shop(&shop, &[&web, &dr], &events).await;

    assert_eq!(after, once);
    assert_eq!(after, before_shift, "exactly the weights and tags from before the shift");
    assert_eq!(notified, [pair("failback", "succeeded")]);
}

// ---------------------------------------------------------------------------------------------- databases

struct Databases {
    /// The ledger table, as the template declares it.
    ledger: String,
    account: Account,
    subscriber: Subscriber,
}

impl Databases {
    async fn new() -> Self {
        let account = Account::new().await;
        let subscriber = Subscriber::create(&account, "failover-db").await;
        let ledger = account.ledger_table();
        Databases { account, subscriber, ledger }
    }

    fn app(&self) -> database_failover::App {
        let config = database_failover::Config::from_lookup(&lookup(&[
            ("NOTIFICATION_TOPIC_ARN", self.subscriber.topic_arn.as_str()),
            ("LEDGER_TABLE", self.ledger.as_str()),
        ]))
        .expect("config");
        database_failover::App::new(config, &self.account.sdk)
    }

    fn opted_in() -> RdsTag {
        RdsTag::builder().key(OPT_IN).value("true").build()
    }

    /// orders (opted in, failed) with replicas r-fast (ReplicaLag 1 s) and r-slow (8 s).
    async fn orders(&self) {
        let rds = self.account.rds();
        rds.create_db_instance()
            .db_instance_identifier("orders")
            .engine("mysql")
            .db_instance_class("db.t3.micro")
            .allocated_storage(20)
            .master_username("admin")
            .master_user_password("password1")
            .tags(Self::opted_in())
            .send()
            .await
            .expect("primary");
        for (id, lag) in [("r-fast", 1.0), ("r-slow", 8.0)] {
            rds.create_db_instance_read_replica()
                .db_instance_identifier(id)
                .source_db_instance_identifier("orders")
                .db_instance_class("db.t3.micro")
                .tags(Self::opted_in())
                .send()
                .await
                .expect("replica");
            let datum = MetricDatum::builder()
                .metric_name("ReplicaLag")
                .dimensions(Dimension::builder().name("DBInstanceIdentifier").value(id).build())
                .timestamp(DateTime::from(SystemTime::now() - Duration::from_secs(30)))
                .value(lag)
                .unit(StandardUnit::Seconds)
                .build();
            self.account
                .cloudwatch()
                .put_metric_data()
                .namespace("AWS/RDS")
                .metric_data(datum)
                .send()
                .await
                .expect("lag");
        }
        self.account
            .control("/_failover/rds/instance-status", json!({"db_instance_identifier": "orders", "status": "failed"}));
    }

    /// Aurora cluster catalog (opted in): writer w (tier 1), readers a (tier 2) and b (tier 0).
    async fn catalog(&self) {
        let rds = self.account.rds();
        rds.create_db_cluster()
            .db_cluster_identifier("catalog")
            .engine("aurora-mysql")
            .master_username("admin")
            .master_user_password("password1")
            .tags(Self::opted_in())
            .send()
            .await
            .expect("cluster");
        for (id, tier) in [("w", 1), ("a", 2), ("b", 0)] {
            rds.create_db_instance()
                .db_instance_identifier(id)
                .db_cluster_identifier("catalog")
                .engine("aurora-mysql")
                .db_instance_class("db.r5.large")
                .promotion_tier(tier)
                .tags(Self::opted_in())
                .send()
                .await
                .expect("cluster instance");
        }
    }

    /// Every instance with its source and tags, and every cluster with its members and tags.
    async fn state(&self) -> Value {
        let rds = self.account.rds();
        let tags = |list: &[RdsTag]| -> BTreeMap<String, String> {
            list.iter()
                .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
                .collect()
        };
        let instances = rds.describe_db_instances().send().await.expect("instances");
        let mut out = serde_json::Map::new();
        for i in instances.db_instances() {
            out.insert(
                i.db_instance_identifier().unwrap_or_default().to_owned(),
                json!({"source": i.read_replica_source_db_instance_identifier(), "status": i.db_instance_status(),
                       "tags": tags(i.tag_list())}),
            );
        }
        let clusters = rds.describe_db_clusters().send().await.expect("clusters");
        for c in clusters.db_clusters() {
            let members: BTreeMap<String, bool> = c
                .db_cluster_members()
                .iter()
                .map(|m| {
                    (m.db_instance_identifier().unwrap_or_default().to_owned(), m.is_cluster_writer() == Some(true))
                })
                .collect();
            out.insert(
                format!("cluster {}", c.db_cluster_identifier().unwrap_or_default()),
                json!({"members": members, "tags": tags(c.tag_list())}),
            );
        }
        Value::Object(out)
    }

    fn rds_event(&self, source_type: &str, id: &str, event_id: &str) -> Value {
        let (kind, detail_type) = if source_type == "CLUSTER" {
            ("cluster", "RDS DB Cluster Event")
        } else {
            ("db", "RDS DB Instance Event")
        };
        let region = &self.account.region;
        // Now: database-failover judges replica lag as of the event's time.
        let now = failover_core::time::format_time(failover_core::time::now_secs());
        json!({
            "version": "0", "id": "e1", "detail-type": detail_type, "source": "aws.rds", "account": self.account.id,
            "time": now, "region": region, "resources": [],
            "detail": {"EventCategories": ["failure"], "SourceType": source_type,
                "SourceArn": format!("arn:aws:rds:{region}:{}:{kind}:{id}", self.account.id),
                "Date": now, "Message": "test event", "SourceIdentifier": id,
                "EventID": event_id}
        })
    }

    fn alarm(&self, dimension: &str, id: &str) -> Value {
        let name = format!("failover-{id}");
        json!({
            "source": "aws.cloudwatch",
            "alarmArn": format!("arn:aws:cloudwatch:{}:{}:alarm:{name}", self.account.region, self.account.id),
            "accountId": self.account.id, "time": "2024-05-01T10:05:00.490+0000", "region": self.account.region,
            "alarmData": {"alarmName": name, "state": {"value": "ALARM"}, "previousState": {"value": "OK"},
                "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/RDS",
                    "name": "WriteLatency", "dimensions": {dimension: id}}, "period": 60, "stat": "Maximum"}}]}}
        })
    }

    /// Delivers `events` in order: the first acts, the others change nothing.
    async fn deliver(&self, events: &[Value]) -> (Value, Value, Vec<(String, String)>) {
        let app = self.app();
        let first = app.handle(events[0].clone()).await.expect("first delivery");
        assert_eq!(first.status, Status::Succeeded, "{first:?}");
        let once = self.state().await;
        for event in &events[1..] {
            let again = app.handle(event.clone()).await.expect("repeat delivery");
            assert_eq!(again.status, Status::Skipped, "a repeat changes nothing: {again:?}");
        }
        (once, self.state().await, outcomes(&self.subscriber.received().await))
    }
}

#[tokio::test]
async fn a_primary_failure_by_event_by_sns_and_by_alarm_interleaved_promotes_one_replica_once() {
    let dbs = Databases::new().await;
    dbs.orders().await;
    let event = dbs.rds_event("DB_INSTANCE", "orders", "RDS-EVENT-0031");
    let through_sns = sns_record(&dbs.subscriber.topic_arn, &event);
    let alarm = dbs.alarm("DBInstanceIdentifier", "orders");
    let events = [event, alarm.clone(), through_sns.clone(), alarm.clone(), through_sns, alarm];

    let (once, after, notified) = dbs.deliver(&events).await;

    assert_eq!(after, once, "the records written by the first delivery are not rewritten");
    assert_eq!(after["r-fast"]["source"], Value::Null, "r-fast promoted: {after}");
    assert_eq!(after["r-slow"]["source"], "orders", "r-slow still a replica: {after}");
    let ledger = DynamoLedger::new(dbs.account.dynamodb(), &dbs.ledger);
    let records = ledger.read("db-instance:us-east-1/orders", failover_core::time::now_secs()).await.unwrap().records;
    assert_eq!(records.len(), 1, "one decision: {records:?}");
    assert!(records[0].key.starts_with("promotion#"), "{records:?}");
    assert_eq!(records[0].state, State::Done);
    assert!(records[0].data.to_string().contains("r-fast"), "the record names r-fast: {:?}", records[0].data);
    assert_eq!(notified, [pair("promote-replica", "succeeded")]);
}

#[tokio::test]
async fn an_aurora_alarm_and_the_failover_failed_event_interleaved_fail_over_once() {
    let dbs = Databases::new().await;
    dbs.catalog().await;
    let alarm = dbs.alarm("DBClusterIdentifier", "catalog");
    let failed = dbs.rds_event("CLUSTER", "catalog", "RDS-EVENT-0069");
    let events = [alarm.clone(), failed.clone(), alarm.clone(), failed, alarm];

    let (once, after, notified) = dbs.deliver(&events).await;

    assert_eq!(after, once, "the writer is not bounced and the record not rewritten");
    assert_eq!(after["cluster catalog"]["members"]["b"], true, "tier 0 reader b took over: {after}");
    assert_eq!(notified, [pair("failover-cluster", "succeeded")]);
}
