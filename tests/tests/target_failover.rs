//! target-failover against the local AWS: each test builds its load balancer in its own account, sends an
//! event through the handler, and asserts the load balancer's state, the ledger table's items and the
//! notifications received.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, RuleCondition, Tag, TargetDescription, TargetTypeEnum,
};
use failover_core::aws::AwsError;
use failover_core::ledger::DynamoLedger;
use failover_core::notify::{NotificationFormat, SnsNotifier};
use failover_core::outcome::Outcome;
use failover_core::response::Response;
use integration_tests::{forward, http_json, lookup, Account, Received, Subscriber};
use serde_json::{json, Value};
use target_failover::adapters::ElbClient;
use target_failover::model::{ForwardAction, Location, Tags, Target, TargetHealth, Weight};
use target_failover::ports::LoadBalancer;
use target_failover::{App, Config, Home};

const OPT_IN: &str = "failover:enabled";
const BACKUP_TAG: &str = "failover:backup-target-group";

// ---------------------------------------------------------------------------------------------- fixture

/// One account with a load balancer, an HTTP listener on port 80 and a subscriber to the topic.
struct Shop {
    account: Account,
    subscriber: Subscriber,
    vpc: String,
    lb: String,
    listener: Option<String>,
    /// The ledger table, as the template declares it.
    ledger: String,
}

impl Shop {
    async fn new() -> Self {
        let account = Account::new().await;
        let subscriber = Subscriber::create(&account, "failover").await;
        let path = format!("/_failover/ec2/network?account={}&region={}", account.id, account.region);
        let (_, network) = http_json("GET", &path, None);
        let vpc = network["vpc_id"].as_str().expect("vpc id").to_owned();
        let subnets = account.subnets();
        let lb = account
            .elbv2()
            .create_load_balancer()
            .name("shop")
            .set_subnets(Some(subnets[..2].to_vec()))
            .send()
            .await
            .expect("create load balancer")
            .load_balancers()[0]
            .load_balancer_arn()
            .expect("lb arn")
            .to_owned();
        let ledger = account.ledger_table();
        Shop { account, subscriber, vpc, lb, listener: None, ledger }
    }

    fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut pairs = vec![
            ("NOTIFICATION_TOPIC_ARN", self.subscriber.topic_arn.as_str()),
            ("LEDGER_TABLE", self.ledger.as_str()),
        ];
        pairs.extend_from_slice(extra);
        Config::from_lookup(&lookup(&pairs)).expect("config")
    }

    fn app(&self, extra: &[(&str, &str)]) -> App {
        App::new(self.config(extra), &self.account.sdk)
    }

    /// The app with a call counter in front of the real adapter.
    fn counted_app(
        &self,
        extra: &[(&str, &str)],
    ) -> (App<Counting<'static>, SnsNotifier, DynamoLedger>, &'static Mutex<Calls>) {
        let calls: &'static Mutex<Calls> = Box::leak(Box::default());
        let lb = Counting { inner: ElbClient::new(self.account.elbv2()), calls };
        let notifier =
            SnsNotifier::new(self.account.sns(), self.subscriber.topic_arn.clone(), NotificationFormat::Json);
        let home =
            Home { partition: "aws".into(), account: self.account.id.clone(), region: self.account.region.clone() };
        let ledger = DynamoLedger::new(self.account.dynamodb(), self.ledger.clone());
        (App::with_ports(self.config(extra), lb, notifier, ledger, home), calls)
    }

    /// The group's records as the ledger table holds them (one Query): sort key → the item's attributes
    /// `state`, `trigger`, `owner` (strings) and `data` (parsed).
    async fn records(&self, group: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
        let out = self
            .account
            .dynamodb()
            .query()
            .table_name(&self.ledger)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("target-group:{group}")))
            .consistent_read(true)
            .send()
            .await
            .expect("query the ledger");
        out.items()
            .iter()
            .filter(|item| item.get("sk").and_then(|v| v.as_s().ok()).is_some_and(|sk| sk != "lease"))
            .map(|item| {
                let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
                let data = serde_json::from_str(&text("data")).unwrap_or(Value::Null);
                let attributes = BTreeMap::from([
                    ("state".to_owned(), json!(text("state"))),
                    ("trigger".to_owned(), json!(text("trigger"))),
                    ("owner".to_owned(), json!(text("owner"))),
                    ("data".to_owned(), data),
                ]);
                (text("sk"), attributes)
            })
            .collect()
    }

    /// The sort keys of the group's records with this prefix and in one of these states.
    async fn keys(&self, group: &str, prefix: &str, states: &[&str]) -> Vec<String> {
        let records = self.records(group).await;
        records
            .into_iter()
            .filter(|(key, r)| key.starts_with(prefix) && states.iter().any(|s| r["state"] == json!(s)))
            .map(|(key, _)| key)
            .collect()
    }

    /// The group's open shift records (pending or done): what a failback restores.
    async fn open_shifts(&self, group: &str) -> Vec<String> {
        self.keys(group, "shift#", &["pending", "done"]).await
    }

    /// A target group (instance or ip targets), opted in or not, with targets registered on port 80.
    async fn group(&self, name: &str, kind: TargetTypeEnum, opted_in: bool, targets: &[String]) -> String {
        let elb = self.account.elbv2();
        let arn = elb
            .create_target_group()
            .name(name)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .vpc_id(&self.vpc)
            .target_type(kind)
            .send()
            .await
            .expect("create target group")
            .target_groups()[0]
            .target_group_arn()
            .expect("group arn")
            .to_owned();
        if opted_in {
            self.tag(&arn, OPT_IN, "true").await;
        }
        if !targets.is_empty() {
            let descriptions = targets.iter().map(|id| TargetDescription::builder().id(id).port(80).build()).collect();
            elb.register_targets()
                .target_group_arn(&arn)
                .set_targets(Some(descriptions))
                .send()
                .await
                .expect("register");
        }
        arn
    }

    async fn tag(&self, arn: &str, key: &str, value: &str) {
        self.account
            .elbv2()
            .add_tags()
            .resource_arns(arn)
            .tags(Tag::builder().key(key).value(value).build())
            .send()
            .await
            .expect("add tags");
    }

    async fn tags(&self, arn: &str) -> BTreeMap<String, String> {
        let out = self.account.elbv2().describe_tags().resource_arns(arn).send().await.expect("describe tags");
        out.tag_descriptions()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
            .collect()
    }

    /// The listener on port 80, forwarding with these weights, opted in (IAM lets the function modify only a
    /// listener that carries the opt-in tag itself, and the function checks it).
    async fn listener(&mut self, weights: &[(&str, i32)]) -> String {
        self.listener_opted_in(weights, true).await
    }

    async fn listener_opted_in(&mut self, weights: &[(&str, i32)], opted_in: bool) -> String {
        let arn = self
            .account
            .elbv2()
            .create_listener()
            .load_balancer_arn(&self.lb)
            .protocol(aws_sdk_elasticloadbalancingv2::types::ProtocolEnum::Http)
            .port(80)
            .default_actions(forward(weights))
            .send()
            .await
            .expect("create listener")
            .listeners()[0]
            .listener_arn()
            .expect("listener arn")
            .to_owned();
        self.listener = Some(arn.clone());
        if opted_in {
            self.tag(&arn, OPT_IN, "true").await;
        }
        arn
    }

    /// A rule on the listener, forwarding with these weights, opted in like the listener.
    async fn rule(&self, listener: &str, path: &str, weights: &[(&str, i32)]) -> String {
        self.rule_opted_in(listener, path, weights, true).await
    }

    async fn rule_opted_in(&self, listener: &str, path: &str, weights: &[(&str, i32)], opted_in: bool) -> String {
        let arn = self
            .account
            .elbv2()
            .create_rule()
            .listener_arn(listener)
            .priority(10)
            .conditions(RuleCondition::builder().field("path-pattern").values(path).build())
            .actions(forward(weights))
            .send()
            .await
            .expect("create rule")
            .rules()[0]
            .rule_arn()
            .expect("rule arn")
            .to_owned();
        if opted_in {
            self.tag(&arn, OPT_IN, "true").await;
        }
        arn
    }

    /// Group ARN → weight in the listener's default forward action.
    async fn listener_weights(&self) -> BTreeMap<String, i32> {
        let listener = self.listener.as_deref().expect("a listener");
        let out =
            self.account.elbv2().describe_listeners().listener_arns(listener).send().await.expect("describe listener");
        weights_of(out.listeners()[0].default_actions())
    }

    async fn rule_weights(&self, rule: &str) -> BTreeMap<String, i32> {
        let out = self.account.elbv2().describe_rules().rule_arns(rule).send().await.expect("describe rules");
        weights_of(out.rules()[0].actions())
    }

    /// Target id → state.
    async fn health(&self, group: &str) -> BTreeMap<String, String> {
        let out = self.account.elbv2().describe_target_health().target_group_arn(group).send().await.expect("health");
        out.target_health_descriptions()
            .iter()
            .map(|d| {
                (
                    d.target().and_then(|t| t.id()).unwrap_or_default().to_owned(),
                    d.target_health().and_then(|h| h.state()).map(|s| s.as_str().to_owned()).unwrap_or_default(),
                )
            })
            .collect()
    }

    fn set_health(&self, group: &str, ids: &[&String], state: &str) {
        let targets: Vec<Value> = ids.iter().map(|id| json!({"id": id, "state": state})).collect();
        self.account.control("/_failover/elbv2/target-health", json!({"target_group_arn": group, "targets": targets}));
    }

    async fn received(&self) -> Vec<Received> {
        self.subscriber.received().await
    }

    // ------------------------------------------------------------------------------------ events

    fn alarm_eventbridge(&self, name: &str, state: &str, previous: &str, dimensions: Value) -> Value {
        json!({
            "version": "0", "id": "e-1", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
            "account": self.account.id, "time": "2024-05-01T10:00:00Z", "region": self.account.region,
            "resources": [self.alarm_arn(name)],
            "detail": {
                "alarmName": name,
                "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "2024-05-01T10:00:00.120+0000"},
                "previousState": {"value": previous, "reason": "", "timestamp": "2024-05-01T09:00:00.000+0000"},
                "configuration": {"metrics": [{"id": "m1", "returnData": true, "metricStat": {
                    "metric": {"namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount", "dimensions": dimensions},
                    "period": 60, "stat": "Maximum"}}]}
            }
        })
    }

    fn alarm_sns(&self, name: &str, state: &str, previous: &str, dimensions: Value) -> Value {
        let list: Vec<Value> =
            dimensions.as_object().expect("dimensions").iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
        let message = json!({
            "AlarmName": name, "AlarmDescription": null, "AWSAccountId": self.account.id,
            "NewStateValue": state, "OldStateValue": previous, "NewStateReason": "Threshold Crossed",
            "StateChangeTime": "2024-05-01T10:00:00.120+0000", "Region": "US East (N. Virginia)",
            "AlarmArn": self.alarm_arn(name),
            "Trigger": {"MetricName": "UnHealthyHostCount", "Namespace": "AWS/ApplicationELB", "Statistic": "MAXIMUM",
                        "Unit": null, "Dimensions": list, "Period": 60, "EvaluationPeriods": 1,
                        "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0.0}
        });
        json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {
            "Type": "Notification", "MessageId": "m-1", "TopicArn": self.subscriber.topic_arn,
            "Subject": null, "Message": message.to_string(), "Timestamp": "2024-05-01T10:00:00.200Z"}}]})
    }

    fn alarm_action(&self, name: &str, state: &str, previous: &str, dimensions: Value) -> Value {
        json!({
            "source": "aws.cloudwatch", "alarmArn": self.alarm_arn(name), "accountId": self.account.id,
            "time": "2024-05-01T10:00:00.120+0000", "region": self.account.region,
            "alarmData": {
                "alarmName": name,
                "state": {"value": state, "reason": "Threshold Crossed", "timestamp": "2024-05-01T10:00:00.120+0000"},
                "previousState": {"value": previous, "reason": "", "timestamp": "2024-05-01T09:00:00.000+0000"},
                "configuration": {"metrics": [{"id": "m1", "returnData": true, "metricStat": {
                    "metric": {"namespace": "Shop/Web", "name": "Http5xxRate", "dimensions": dimensions},
                    "period": 60, "stat": "Average"}}]}
            }
        })
    }

    fn alarm_arn(&self, name: &str) -> String {
        format!("arn:aws:cloudwatch:{}:{}:alarm:{name}", self.account.region, self.account.id)
    }
}

fn weights_of(actions: &[Action]) -> BTreeMap<String, i32> {
    let forward = actions.iter().find(|a| a.r#type() == Some(&ActionTypeEnum::Forward)).expect("a forward action");
    match forward.forward_config().filter(|c| !c.target_groups().is_empty()) {
        Some(config) => config
            .target_groups()
            .iter()
            .map(|t| (t.target_group_arn().unwrap_or_default().to_owned(), t.weight().unwrap_or(1)))
            .collect(),
        None => BTreeMap::from([(forward.target_group_arn().unwrap_or_default().to_owned(), 1)]),
    }
}

fn suffix(arn: &str) -> &str {
    &arn[arn.find("targetgroup/").expect("a target group arn")..]
}

fn tg_dimension(arn: &str) -> Value {
    json!({"TargetGroup": suffix(arn), "LoadBalancer": "app/shop/1"})
}

fn outcomes(received: &[Received]) -> Vec<(String, String, String)> {
    let mut list: Vec<_> = received
        .iter()
        .map(|r| {
            (r.attribute("outcome").to_owned(), r.attribute("severity").to_owned(), r.attribute("action").to_owned())
        })
        .collect();
    list.sort();
    list
}

fn assert_status(response: &Response, status: Outcome) {
    assert_eq!(response.status, status, "{response:#?}");
}

// ---------------------------------------------------------------------------------------------- call counting

type Calls = BTreeMap<&'static str, usize>;

/// The real adapter, counting port calls (each is one API call, except `forwards_to`: DescribeTargetGroups,
/// DescribeListeners per load balancer, DescribeRules per listener).
struct Counting<'a> {
    inner: ElbClient,
    calls: &'a Mutex<Calls>,
}

impl Counting<'_> {
    fn count(&self, name: &'static str) {
        *self.calls.lock().expect("calls").entry(name).or_default() += 1;
    }
}

impl LoadBalancer for Counting<'_> {
    type Actions = <ElbClient as LoadBalancer>::Actions;

    async fn tags(&self, groups: &[String]) -> Result<Vec<(String, Option<Tags>)>, AwsError> {
        self.count("tags");
        self.inner.tags(groups).await
    }
    async fn instance_groups(&self) -> Result<Vec<String>, AwsError> {
        self.count("instance_groups");
        self.inner.instance_groups().await
    }
    async fn target_health(&self, group: &str) -> Result<Option<Vec<TargetHealth>>, AwsError> {
        self.count("target_health");
        self.inner.target_health(group).await
    }
    async fn deregister(&self, group: &str, targets: &[Target]) -> Result<(), AwsError> {
        self.count("deregister");
        self.inner.deregister(group, targets).await
    }
    async fn register(&self, group: &str, targets: &[Target]) -> Result<(), AwsError> {
        self.count("register");
        self.inner.register(group, targets).await
    }
    async fn forwards_to(&self, group: &str) -> Result<Vec<(ForwardAction, Self::Actions)>, AwsError> {
        self.count("forwards_to");
        self.inner.forwards_to(group).await
    }
    async fn set_weights(
        &self,
        location: &Location,
        actions: &Self::Actions,
        weights: &[Weight],
    ) -> Result<(), AwsError> {
        self.count("set_weights");
        self.inner.set_weights(location, actions, weights).await
    }
}

fn calls(counter: &Mutex<Calls>) -> Vec<(&'static str, usize)> {
    counter.lock().expect("calls").iter().map(|(k, v)| (*k, *v)).collect()
}

// ---------------------------------------------------------------------------------------------- target-group alarms

#[tokio::test]
async fn target_group_alarm_deregisters_the_unhealthy_targets_and_notifies() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[2], &ids[3]], "unhealthy");
    let (app, counter) = shop.counted_app(&[]);

    let response =
        app.handle(shop.alarm_eventbridge("web-unhealthy", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    let health = shop.health(&web).await;
    let mut kept = vec![ids[0].clone(), ids[1].clone()];
    kept.sort();
    assert_eq!(health.keys().cloned().collect::<Vec<_>>(), kept, "{health:?}");
    assert_eq!(calls(counter), [("deregister", 1), ("tags", 1), ("target_health", 1)]);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "warning".into(), "deregister-targets".into())]);
    let body = received[0].body();
    assert_eq!(body["details"]["healthy_after"], 2);
    assert_eq!(body["details"]["counts_before"]["floor"], 2);
    assert_eq!(body["resources"][0], web.as_str());
    assert!(body["summary"].as_str().unwrap().contains(&ids[2]), "{body}");
    assert!(body["next_steps"].to_string().contains("restore"), "{body}");
}

#[tokio::test]
async fn ip_targets_are_deregistered_like_instances() {
    let shop = Shop::new().await;
    let ips: Vec<String> = (1..=3).map(|i| format!("172.31.0.{i}")).collect();
    let api = shop.group("api", TargetTypeEnum::Ip, true, &ips).await;
    shop.set_health(&api, &[&ips[0]], "unhealthy");

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("api", "ALARM", "OK", tg_dimension(&api))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.health(&api).await.len(), 2);
    assert!(!shop.health(&api).await.contains_key(&ips[0]));
}

#[tokio::test]
async fn each_delivery_path_deregisters_the_unhealthy_target() {
    for delivery in ["eventbridge", "sns", "alarm-action"] {
        let shop = Shop::new().await;
        let ids = shop.account.instances(3);
        let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
        shop.set_health(&web, &[&ids[0]], "unhealthy");
        let event = match delivery {
            "eventbridge" => shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web)),
            "sns" => shop.alarm_sns("web", "ALARM", "OK", tg_dimension(&web)),
            _ => shop.alarm_action("web", "ALARM", "OK", tg_dimension(&web)),
        };

        let response = shop.app(&[]).handle(event).await.unwrap();

        assert_status(&response, Outcome::Succeeded);
        assert!(!shop.health(&web).await.contains_key(&ids[0]), "{delivery}");
        assert_eq!(shop.received().await.len(), 1, "{delivery}");
    }
}

#[tokio::test]
async fn the_same_event_three_times_changes_and_notifies_once() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(3);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[0]], "unhealthy");
    let app = shop.app(&[]);
    let event = shop.alarm_sns("web", "ALARM", "OK", tg_dimension(&web));

    let statuses = [
        app.handle(event.clone()).await.unwrap().status,
        app.handle(event.clone()).await.unwrap().status,
        app.handle(event).await.unwrap().status,
    ];

    assert_eq!(statuses, [Outcome::Succeeded, Outcome::Skipped, Outcome::Skipped]);
    assert_eq!(shop.health(&web).await.len(), 2);
    assert_eq!(shop.received().await.len(), 1);
}

#[tokio::test]
async fn guardrail_refuses_to_remove_the_last_healthy_targets_and_notifies_critical() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(2);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    let app = shop.app(&[("MIN_HEALTHY_TARGETS", "2")]);

    let response =
        app.handle(shop.alarm_eventbridge("5xx", "ALARM", "OK", json!({"InstanceId": ids[0]}))).await.unwrap();

    assert_status(&response, Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 2);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "critical".into(), "deregister-targets".into())]);
    let body = received[0].body();
    assert_eq!(body["details"]["counts"], json!({"registered": 2, "healthy": 2, "floor": 2}));
    assert!(body["summary"].as_str().unwrap().contains("below the floor"), "{body}");
    assert!(!body["next_steps"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn every_target_failing_without_a_backup_is_refused_and_nothing_removed() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(3);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &ids.iter().collect::<Vec<_>>(), "unhealthy");

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 3);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "critical".into(), "deregister-targets".into())]);
    assert!(received[0].body()["summary"].as_str().unwrap().contains(BACKUP_TAG));
}

#[tokio::test]
async fn an_alarm_for_a_group_that_does_not_exist_is_skipped_without_error() {
    let shop = Shop::new().await;
    let missing =
        format!("arn:aws:elasticloadbalancing:us-east-1:{}:targetgroup/gone/0123456789abcdef", shop.account.id);

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("gone", "ALARM", "OK", tg_dimension(&missing))).await.unwrap();

    assert_status(&response, Outcome::Skipped);
    assert!(shop.received().await.is_empty());
}

#[tokio::test]
async fn alarms_that_are_not_ours_are_skipped_quietly() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(2);
    let web = shop.group("web", TargetTypeEnum::Instance, false, &ids).await;
    shop.set_health(&web, &[&ids[0]], "unhealthy");
    let app = shop.app(&[]);
    let mut foreign = shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web));
    foreign["resources"][0] = json!(format!("arn:aws:cloudwatch:eu-west-1:{}:alarm:web", shop.account.id));

    for (event, expected) in [
        (shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web)), "not opted in"),
        (foreign, "region eu-west-1"),
        (shop.alarm_eventbridge("db", "ALARM", "OK", json!({"DBInstanceIdentifier": "orders"})), "database"),
        (shop.alarm_eventbridge("web", "ALARM", "ALARM", tg_dimension(&web)), "only a change into ALARM"),
        (shop.alarm_eventbridge("web", "INSUFFICIENT_DATA", "OK", tg_dimension(&web)), "only a change into ALARM"),
    ] {
        let response = app.handle(event).await.unwrap();
        assert_status(&response, Outcome::Skipped);
        assert!(response.message.contains(expected), "{expected}: {response:?}");
    }
    assert_eq!(shop.health(&web).await.len(), 2);
    assert!(shop.received().await.is_empty());
}

// ---------------------------------------------------------------------------------------------- instance alarms

#[tokio::test]
async fn instance_alarm_deregisters_it_from_every_opted_in_group_only() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(5);
    let gray = &ids[0];
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids[..4]).await;
    let admin = shop.group("admin", TargetTypeEnum::Instance, true, &[gray.clone(), ids[4].clone()]).await;
    let legacy = shop.group("legacy", TargetTypeEnum::Instance, false, &[gray.clone(), ids[1].clone()]).await;
    let other = shop.group("other", TargetTypeEnum::Instance, true, &ids[1..3]).await;
    let (app, counter) = shop.counted_app(&[]);

    let response = app.handle(shop.alarm_action("i-5xx", "ALARM", "OK", json!({"InstanceId": gray}))).await.unwrap();

    // admin has 2 targets, floor max(1, ceil(50% of 2)) = 1: one may go.
    assert_status(&response, Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(gray));
    assert!(!shop.health(&admin).await.contains_key(gray));
    assert!(shop.health(&legacy).await.contains_key(gray), "a group not opted in is not touched");
    assert_eq!(shop.health(&other).await.len(), 2);
    // One listing, one tag batch, one health read per opted-in group, one deregistration per group involved.
    assert_eq!(calls(counter), [("deregister", 2), ("instance_groups", 1), ("tags", 1), ("target_health", 3)]);
    let received = shop.received().await;
    assert_eq!(received.len(), 2);
    assert!(received.iter().all(|r| r.attribute("outcome") == "succeeded"));
}

#[tokio::test]
async fn instance_alarm_for_an_instance_in_no_opted_in_group_is_skipped() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(2);
    shop.group("legacy", TargetTypeEnum::Instance, false, &ids).await;

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("x", "ALARM", "OK", json!({"InstanceId": ids[0]}))).await.unwrap();

    assert_status(&response, Outcome::Skipped);
    assert!(shop.received().await.is_empty());
}

// ---------------------------------------------------------------------------------------------- backup group

/// web (3 targets, opted in, backup web-dr) behind the listener and a /api rule; web-dr with 2 healthy targets.
async fn with_backup(shop: &mut Shop) -> (String, String, String, Vec<String>) {
    let ids = shop.account.instances(5);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids[..3]).await;
    let dr = shop.group("web-dr", TargetTypeEnum::Instance, true, &ids[3..]).await;
    shop.tag(&web, BACKUP_TAG, &dr).await;
    let listener = shop.listener(&[(&web, 100), (&dr, 0)]).await;
    let rule = shop.rule(&listener, "/api/*", &[(&web, 1)]).await;
    (web, dr, rule, ids)
}

#[tokio::test]
async fn every_target_failing_with_a_backup_shifts_all_traffic_and_remembers_the_weights() {
    let mut shop = Shop::new().await;
    let (web, dr, rule, ids) = with_backup(&mut shop).await;
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");
    let (app, counter) = shop.counted_app(&[]);

    let response = app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 1)]));
    assert_eq!(shop.health(&web).await.len(), 3, "nothing is removed from a group that cannot serve");
    // The weights before are in the ledger, one done shift record per action, with the trigger; no tag written.
    let records = shop.records(&web).await;
    assert_eq!(shop.open_shifts(&web).await.len(), 2, "one shift record per action: {records:?}");
    for record in records.values() {
        assert_eq!(record["state"], json!("done"), "{records:?}");
        assert_eq!(record["trigger"], json!("alarm web"), "{records:?}");
        assert_eq!(record["data"]["backup"], json!(dr), "{records:?}");
        assert_eq!(
            record["data"]["before"][0],
            json!({"group_arn": web, "weight": record["data"]["before"][0]["weight"]})
        );
    }
    assert_eq!(shop.tags(&web).await.keys().collect::<Vec<_>>(), [BACKUP_TAG, OPT_IN], "no state in tags");
    assert_eq!(calls(counter), [("forwards_to", 1), ("set_weights", 2), ("tags", 2), ("target_health", 2)]);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "critical".into(), "shift-traffic".into())]);
    assert_eq!(received[0].body()["details"]["backup_counts"]["healthy"], 2);

    // A repeat changes nothing and notifies nothing.
    let again = app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    assert_status(&again, Outcome::Skipped);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));
    assert!(shop.received().await.is_empty());
}

/// web and web-dr as in [`with_backup`], every web target failing, the listener and the rule opted in or not.
async fn with_backup_opted_in(shop: &mut Shop, listener: bool, rule: bool) -> (String, String, String, String) {
    let ids = shop.account.instances(5);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids[..3]).await;
    let dr = shop.group("web-dr", TargetTypeEnum::Instance, true, &ids[3..]).await;
    shop.tag(&web, BACKUP_TAG, &dr).await;
    let listener_arn = shop.listener_opted_in(&[(&web, 100), (&dr, 0)], listener).await;
    let rule_arn = shop.rule_opted_in(&listener_arn, "/api/*", &[(&web, 1)], rule).await;
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");
    (web, dr, listener_arn, rule_arn)
}

#[tokio::test]
async fn a_shift_with_no_listener_or_rule_opted_in_is_refused_naming_each_and_changes_nothing() {
    let mut shop = Shop::new().await;
    let (web, dr, listener, rule) = with_backup_opted_in(&mut shop, false, false).await;
    let (app, counter) = shop.counted_app(&[]);

    let response = app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Refused);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 1)]));
    assert!(shop.records(&web).await.is_empty(), "nothing recorded for a refused shift");
    assert_eq!(calls(counter), [("forwards_to", 1), ("tags", 2), ("target_health", 2)], "nothing changed");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "critical".into(), "shift-traffic".into())]);
    let body = received[0].body();
    let text = body.to_string();
    assert!(body["summary"].as_str().unwrap().contains(&listener), "{body}");
    assert!(body["summary"].as_str().unwrap().contains(&rule), "{body}");
    assert!(
        text.contains(&format!("aws elbv2 add-tags --resource-arns {listener} {rule} --tags Key={OPT_IN},Value=true")),
        "{body}"
    );

    // The status command and a dry run say the same.
    let status = shop.app(&[]).handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();
    assert_eq!(status.details["not_opted_in"].as_array().map(Vec::len), Some(2), "{status:?}");
    assert!(status.details["alarm_now_would"].as_str().unwrap().starts_with("refuse:"), "{status:?}");
    let dry = shop.app(&[("DRY_RUN", "true")]);
    assert_status(&dry.handle(json!({"command": "shift", "target_group_arn": web})).await.unwrap(), Outcome::Refused);
    assert_eq!(shop.listener_weights().await[&web], 100);
}

#[tokio::test]
async fn a_shift_moves_the_opted_in_listener_leaves_the_rule_that_is_not_and_says_so() {
    let mut shop = Shop::new().await;
    let (web, dr, _, rule) = with_backup_opted_in(&mut shop, true, false).await;
    let app = shop.app(&[]);

    let response = app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 1)]), "the rule is untouched");
    assert_eq!(shop.open_shifts(&web).await.len(), 1, "weights recorded for the listener only");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("succeeded".into(), "critical".into(), "shift-traffic".into())]);
    let body = received[0].body();
    assert!(body["title"].as_str().unwrap().contains("partly shifted"), "{body}");
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains(&format!("Left out: rule {rule}")) && summary.contains("not tagged"), "{body}");
    assert_eq!(body["details"]["not_opted_in"][0]["arn"], json!(rule), "{body}");
    assert!(body.to_string().contains(&format!("--resource-arns {rule} --tags")), "{body}");

    // Failback restores only what was saved: the listener.
    shop.set_health(&web, &shop.health(&web).await.keys().collect::<Vec<_>>(), "healthy");
    let back = app.handle(shop.alarm_eventbridge("web", "OK", "ALARM", tg_dimension(&web))).await.unwrap();
    assert_status(&back, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 1)]));
    assert!(shop.open_shifts(&web).await.is_empty());
    assert_eq!(shop.keys(&web, "shift#", &["closed"]).await.len(), 1, "the listener's shift, closed");
}

#[tokio::test]
async fn a_backup_that_cannot_serve_either_is_refused() {
    let mut shop = Shop::new().await;
    let (web, dr, _, ids) = with_backup(&mut shop).await;
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");
    shop.set_health(&dr, &ids[3..].iter().collect::<Vec<_>>(), "unhealthy");

    let response =
        shop.app(&[]).handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Refused);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web, 100), (dr, 0)]));
    assert_eq!(outcomes(&shop.received().await), [("refused".into(), "critical".into(), "shift-traffic".into())]);
}

#[tokio::test]
async fn failback_on_ok_restores_the_weights_when_auto() {
    let mut shop = Shop::new().await;
    let (web, dr, rule, ids) = with_backup(&mut shop).await;
    let failing: Vec<&String> = ids[..3].iter().collect();
    shop.set_health(&web, &failing, "unhealthy");
    let app = shop.app(&[]);
    app.handle(shop.alarm_sns("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    shop.received().await;

    // Still failing: OK alone does not fail back.
    let early = app.handle(shop.alarm_sns("web", "OK", "ALARM", tg_dimension(&web))).await.unwrap();
    assert_status(&early, Outcome::Refused);
    assert_eq!(shop.listener_weights().await[&web], 0);
    shop.received().await;

    shop.set_health(&web, &failing, "healthy");
    let response = app.handle(shop.alarm_sns("web", "OK", "ALARM", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 1)]));
    assert!(shop.open_shifts(&web).await.is_empty());
    assert_eq!(shop.keys(&web, "shift#", &["closed"]).await.len(), 2, "both shifts closed");
    assert_eq!(outcomes(&shop.received().await), [("succeeded".into(), "info".into(), "failback".into())]);

    // OK again: nothing open any more, nothing read beyond the tags and the ledger, nothing notified.
    let again = app.handle(shop.alarm_sns("web", "OK", "ALARM", tg_dimension(&web))).await.unwrap();
    assert_status(&again, Outcome::Skipped);
    assert!(shop.received().await.is_empty());
}

#[tokio::test]
async fn failback_on_ok_only_notifies_when_manual() {
    let mut shop = Shop::new().await;
    let (web, dr, _, ids) = with_backup(&mut shop).await;
    let failing: Vec<&String> = ids[..3].iter().collect();
    shop.set_health(&web, &failing, "unhealthy");
    let app = shop.app(&[("FAILBACK", "manual")]);
    app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();
    shop.received().await;
    shop.set_health(&web, &failing, "healthy");

    let response = app.handle(shop.alarm_eventbridge("web", "OK", "ALARM", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::Info);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr, 100)]));
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("info".into(), "warning".into(), "failback".into())]);
    assert!(received[0].body()["next_steps"].to_string().contains("failback"), "{:?}", received[0].body());
}

// ---------------------------------------------------------------------------------------------- dry run

#[tokio::test]
async fn dry_run_publishes_the_plan_and_changes_nothing() {
    let mut shop = Shop::new().await;
    let (web, dr, _, ids) = with_backup(&mut shop).await;
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");
    let app = shop.app(&[("DRY_RUN", "true")]);

    let response = app.handle(shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web))).await.unwrap();

    assert_status(&response, Outcome::DryRun);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));
    assert!(shop.records(&web).await.is_empty(), "a dry run writes nothing in the ledger");
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("dry-run".into(), "info".into(), "shift-traffic".into())]);
    assert!(received[0].body()["summary"].as_str().unwrap().contains("would change"), "{:?}", received[0].body());

    // Per command, too: a deregistration that would happen, does not.
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "healthy");
    let command = json!({"command": "deregister", "target_group_arn": web, "targets": [ids[0]], "dry_run": true});
    let response = shop.app(&[]).handle(command).await.unwrap();
    assert_status(&response, Outcome::DryRun);
    assert_eq!(shop.health(&web).await.len(), 3);
    assert_eq!(outcomes(&shop.received().await), [("dry-run".into(), "info".into(), "deregister-targets".into())]);
}

// ---------------------------------------------------------------------------------------------- manual commands

#[tokio::test]
async fn manual_commands_status_deregister_restore_shift_and_failback() {
    let mut shop = Shop::new().await;
    let (web, dr, _, ids) = with_backup(&mut shop).await;
    let app = shop.app(&[]);

    let status = app.handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();
    assert_status(&status, Outcome::Info);
    assert_eq!(status.details["counts"], json!({"registered": 3, "healthy": 3, "floor": 2}));
    assert_eq!(outcomes(&shop.received().await), [("info".into(), "info".into(), "status".into())]);

    let deregister = json!({"command": "deregister", "target_group_arn": web, "targets": [{"id": ids[0], "port": 80}]});
    assert_status(&app.handle(deregister).await.unwrap(), Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&ids[0]));
    let records = shop.records(&web).await;
    let removals: Vec<&String> = records.keys().filter(|k| k.starts_with("removal#")).collect();
    assert_eq!(removals.len(), 1, "one record for the removal: {records:?}");
    let removal = removals[0].clone();
    assert_eq!(records[&removal]["state"], json!("done"), "{records:?}");
    assert_eq!(records[&removal]["trigger"], json!("manual command deregister"), "{records:?}");
    assert_eq!(records[&removal]["data"]["registered_before"], json!(3), "{records:?}");
    assert_eq!(records[&removal]["data"]["targets"], json!([{"id": ids[0], "port": 80}]), "{records:?}");

    // status lists the open record.
    let status = app.handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();
    assert_eq!(status.details["ledger"][0]["key"], json!(removal), "{status:?}");
    assert_eq!(status.details["ledger"][0]["state"], json!("done"), "{status:?}");
    assert_eq!(status.details["paused"], Value::Null, "{status:?}");
    let details = status.details.to_string();
    assert!(details.contains("manual command deregister"), "the record's trigger: {details}");

    let restore = json!({"command": "restore", "target_group_arn": web, "targets": [{"id": ids[0], "port": 80}]});
    assert_status(&app.handle(restore.clone()).await.unwrap(), Outcome::Succeeded);
    assert!(shop.health(&web).await.contains_key(&ids[0]));
    assert_eq!(
        shop.keys(&web, "removal#", &["closed"]).await,
        std::slice::from_ref(&removal),
        "restore closes the removal"
    );
    assert_status(&app.handle(restore).await.unwrap(), Outcome::Succeeded);
    assert_eq!(shop.health(&web).await.len(), 3, "restoring twice registers once");

    assert_status(&app.handle(json!({"command": "shift", "target_group_arn": web})).await.unwrap(), Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));

    let failback = json!({"command": "failback", "target_group_arn": web});
    assert_status(&app.handle(failback).await.unwrap(), Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 100), (dr.clone(), 0)]));

    assert_eq!(
        outcomes(&shop.received().await),
        [
            ("info".into(), "info".into(), "status".into()),
            ("succeeded".into(), "critical".into(), "shift-traffic".into()),
            ("succeeded".into(), "info".into(), "failback".into()),
            ("succeeded".into(), "info".into(), "register-targets".into()),
            ("succeeded".into(), "info".into(), "register-targets".into()),
            ("succeeded".into(), "warning".into(), "deregister-targets".into()),
        ]
    );

    let bad = app.handle(json!({"command": "reboot", "target_group_arn": web})).await.unwrap_err();
    assert_eq!(bad.error_type(), "InvalidCommand");
}

#[tokio::test]
async fn a_failback_command_while_the_group_cannot_serve_needs_force() {
    let mut shop = Shop::new().await;
    let (web, dr, _, ids) = with_backup(&mut shop).await;
    let app = shop.app(&[]);
    app.handle(json!({"command": "shift", "target_group_arn": web})).await.unwrap();
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");

    let refused = app.handle(json!({"command": "failback", "target_group_arn": web})).await.unwrap();
    assert_status(&refused, Outcome::Refused);
    assert_eq!(shop.listener_weights().await[&web], 0);

    let forced = app.handle(json!({"command": "failback", "target_group_arn": web, "force": true})).await.unwrap();
    assert_status(&forced, Outcome::Succeeded);
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web, 100), (dr, 0)]));
}

// ---------------------------------------------------------------------------------------------- the ledger

#[tokio::test]
async fn two_invocations_of_the_same_alarm_at_once_shift_once_and_notify_once() {
    let mut shop = Shop::new().await;
    let (web, dr, rule, ids) = with_backup(&mut shop).await;
    shop.set_health(&web, &ids[..3].iter().collect::<Vec<_>>(), "unhealthy");
    let ((first, first_calls), (second, second_calls)) = (shop.counted_app(&[]), shop.counted_app(&[]));
    let event = shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web));

    let (a, b) = tokio::join!(first.handle(event.clone()), second.handle(event.clone()));

    // One acts; the other waits for it and finds the work done, or (on a slow machine) gives up waiting with
    // a retryable error, and Lambda's retry finds the work done.
    let acted = [&a, &b].iter().filter(|r| matches!(r, Ok(r) if r.status == Outcome::Succeeded)).count();
    assert_eq!(acted, 1, "{a:?} {b:?}");
    for result in [a, b] {
        match result {
            Ok(response) => assert!(matches!(response.status, Outcome::Succeeded | Outcome::Skipped), "{response:?}"),
            Err(error) => {
                assert_eq!(error.error_type(), "AwsError", "{error}");
                assert!(error.to_string().contains("ResourceBusy"), "{error}");
                assert_status(&second.handle(event.clone()).await.unwrap(), Outcome::Skipped);
            }
        }
    }
    let set_weights: usize = [first_calls, second_calls]
        .iter()
        .map(|c| calls(c).iter().filter(|(k, _)| *k == "set_weights").map(|(_, n)| n).sum::<usize>())
        .sum();
    assert_eq!(set_weights, 2, "each action re-weighted once");
    assert_eq!(shop.listener_weights().await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 100)]));
    assert_eq!(shop.rule_weights(&rule).await, BTreeMap::from([(web.clone(), 0), (dr.clone(), 1)]));
    assert_eq!(shop.keys(&web, "shift#", &["done"]).await.len(), 2);
    assert_eq!(outcomes(&shop.received().await), [("succeeded".into(), "critical".into(), "shift-traffic".into())]);
}

#[tokio::test]
async fn a_paused_stack_refuses_alarms_and_unforced_commands_acts_when_forced_and_again_after_resume() {
    let shop = Shop::new().await;
    let ids = shop.account.instances(4);
    let web = shop.group("web", TargetTypeEnum::Instance, true, &ids).await;
    shop.set_health(&web, &[&ids[3]], "unhealthy");
    let app = shop.app(&[]);

    let paused = app.handle(json!({"command": "pause", "reason": "bad deploy", "by": "alice"})).await.unwrap();
    assert_status(&paused, Outcome::Succeeded);
    assert_eq!(outcomes(&shop.received().await), [("succeeded".into(), "warning".into(), "pause".into())]);

    // An alarm: planned, refused, notified with who and why; nothing changed.
    let alarm = shop.alarm_eventbridge("web", "ALARM", "OK", tg_dimension(&web));
    assert_status(&app.handle(alarm.clone()).await.unwrap(), Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 4);
    let received = shop.received().await;
    assert_eq!(outcomes(&received), [("refused".into(), "warning".into(), "deregister-targets".into())]);
    let summary = received[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("paused by alice (bad deploy)"), "{summary}");
    assert!(shop.records(&web).await.is_empty(), "nothing recorded while paused");

    // A manual command: refused without force, done with it.
    let command = json!({"command": "deregister", "target_group_arn": web, "targets": [ids[3]]});
    assert_status(&app.handle(command.clone()).await.unwrap(), Outcome::Refused);
    assert_eq!(shop.health(&web).await.len(), 4);
    let mut forced = command.clone();
    forced["force"] = json!(true);
    assert_status(&app.handle(forced).await.unwrap(), Outcome::Succeeded);
    assert_eq!(shop.health(&web).await.len(), 3);

    // status shows the pause.
    let status = app.handle(json!({"command": "status", "target_group_arn": web})).await.unwrap();
    assert_eq!(status.details["paused"]["by"], json!("alice"), "{status:?}");
    shop.received().await;

    // Resumed: the next alarm acts.
    assert_status(&app.handle(json!({"command": "resume"})).await.unwrap(), Outcome::Succeeded);
    shop.set_health(&web, &[&ids[2]], "unhealthy");
    assert_status(&app.handle(alarm).await.unwrap(), Outcome::Succeeded);
    assert!(!shop.health(&web).await.contains_key(&ids[2]));
    assert_eq!(
        outcomes(&shop.received().await),
        [
            ("succeeded".into(), "info".into(), "resume".into()),
            ("succeeded".into(), "warning".into(), "deregister-targets".into()),
        ]
    );
}
