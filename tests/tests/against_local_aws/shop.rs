//! The target-failover integration tests' fixture: a load balancer in its own account on the local AWS, events
//! as each delivery path carries them, and a call-counting adapter. Shared by `target_failover.rs` and
//! `target_incident.rs`; each uses part of it.
#![allow(dead_code)]

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_elasticloadbalancingv2::types::ProtocolEnum;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, RuleCondition, Tag, TargetDescription, TargetTypeEnum,
};
use failover_core::aws::AwsError;
use failover_core::ledger::DynamoLedger;
use failover_core::notify::{NotificationFormat, Notifier, SnsNotifier};
use failover_core::outcome::Outcome;
use failover_core::report::NotifyError;
use failover_core::response::Response;
use integration_tests::{forward, lookup, Account, Received, Subscriber};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::Mutex;
use target_failover::adapters::ElbClient;
use target_failover::model::{
    Balancer, ForwardAction, HealthThresholds, Location, ManagedResource, Tags, Target, TargetHealth, Weight,
};
use target_failover::ports::{LoadBalancer, Zonal};
use target_failover::{App, Config, Home};

pub use test_support::OPT_IN;
pub const BACKUP_TAG: &str = "failover:backup-target-group";

// ---------------------------------------------------------------------------------------------- fixture

/// One account with a load balancer, an HTTP listener on port 80 and a subscriber to the topic.
pub struct Shop {
    pub account: Account,
    pub subscriber: Subscriber,
    pub vpc: String,
    pub lb: String,
    pub listener: Option<String>,
    /// The ledger table, as the template declares it.
    pub ledger: String,
    /// Seconds after 10:00 of the next event's state timestamp.
    pub clock: std::sync::atomic::AtomicU32,
}

impl Shop {
    pub async fn new() -> Self {
        let account = Account::new().await;
        let subscriber = Subscriber::create(&account, "failover").await;
        let vpc = account.vpc();
        let lb = account.load_balancer("shop", 2).await;
        let ledger = account.ledger_table();
        Shop { account, subscriber, vpc, lb, listener: None, ledger, clock: Default::default() }
    }

    pub fn config(&self, extra: &[(&str, &str)]) -> Config {
        let mut pairs = vec![
            ("NOTIFICATION_TOPIC_ARN", self.subscriber.topic_arn.as_str()),
            ("LEDGER_TABLE", self.ledger.as_str()),
        ];
        pairs.extend_from_slice(extra);
        Config::from_lookup(&lookup(&pairs)).expect("config")
    }

    pub fn app(&self, extra: &[(&str, &str)]) -> App {
        App::new(self.config(extra), &self.account.sdk)
    }

    /// The app with a call counter in front of the real adapter.
    pub fn counted_app(
        &self,
        extra: &[(&str, &str)],
    ) -> (App<Counting<'static>, SnsNotifier, DynamoLedger>, &'static Mutex<Calls>) {
        let (app, calls, _) = self.flaky_app(extra);
        (app, calls)
    }

    /// The counted app, and the calls to fail per port (transient throttling), to fill in.
    #[allow(clippy::type_complexity)]
    pub fn flaky_app(
        &self,
        extra: &[(&str, &str)],
    ) -> (App<Counting<'static>, SnsNotifier, DynamoLedger>, &'static Mutex<Calls>, &'static Mutex<Calls>) {
        let calls: &'static Mutex<Calls> = Box::leak(Box::default());
        let fail: &'static Mutex<Calls> = Box::leak(Box::default());
        let lb = Counting { inner: ElbClient::from_sdk(&self.account.sdk), calls, fail };
        (App::with_ports(self.config(extra), lb, self.notifier(), self.dynamo_ledger(), self.home()), calls, fail)
    }

    /// The app on another ledger port (a wrapper around this table's, [`Shop::dynamo_ledger`]), with a clock.
    pub fn app_on<G: failover_core::ledger::Ledger>(
        &self,
        extra: &[(&str, &str)],
        ledger: G,
        clock: fn() -> i64,
    ) -> App<ElbClient, SnsNotifier, G> {
        let lb = ElbClient::from_sdk(&self.account.sdk);
        App::with_ports(self.config(extra), lb, self.notifier(), ledger, self.home()).with_clock(clock)
    }

    fn notifier(&self) -> SnsNotifier {
        SnsNotifier::new(self.account.sns(), self.subscriber.topic_arn.clone(), NotificationFormat::Json)
    }

    fn home(&self) -> Home {
        Home { partition: "aws".into(), account: self.account.id.clone(), region: self.account.region.clone() }
    }

    /// The ledger table's adapter.
    pub fn dynamo_ledger(&self) -> DynamoLedger {
        DynamoLedger::new(self.account.dynamodb(), self.ledger.clone())
    }

    /// The app whose first `failures` publications fail (SNS down); later ones reach the topic.
    pub fn app_publishing_after(&self, failures: usize) -> App<ElbClient, Flaky, DynamoLedger> {
        let notifier = Flaky { inner: self.notifier(), failures: Mutex::new(failures) };
        let lb = ElbClient::from_sdk(&self.account.sdk);
        App::with_ports(self.config(&[]), lb, notifier, self.dynamo_ledger(), self.home())
    }

    /// The group's records as the ledger table holds them (one Query): sort key → the item's attributes
    /// `state`, `trigger`, `owner` (strings), `data` (parsed) and `expires_at` when the record has a TTL.
    pub async fn records(&self, group: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
        self.items(&format!("target-group:{group}")).await
    }

    /// The records of any ledger resource, as [`Shop::records`] gives them.
    pub async fn items(&self, resource: &str) -> BTreeMap<String, BTreeMap<String, Value>> {
        let out = self
            .account
            .dynamodb()
            .query()
            .table_name(&self.ledger)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(resource.to_owned()))
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
                let mut attributes = BTreeMap::from([
                    ("state".to_owned(), json!(text("state"))),
                    ("trigger".to_owned(), json!(text("trigger"))),
                    ("owner".to_owned(), json!(text("owner"))),
                    ("data".to_owned(), data),
                ]);
                // The TTL, when the record has one (an open record is kept until it closes).
                if let Some(ttl) =
                    item.get("expires_at").and_then(|v| v.as_n().ok()).and_then(|n| n.parse::<i64>().ok())
                {
                    attributes.insert("expires_at".to_owned(), json!(ttl));
                }
                (text("sk"), attributes)
            })
            .collect()
    }

    /// The alarm's `transition` record (its last state change acted on), as [`Shop::records`] gives records.
    pub async fn transition(&self, alarm_arn: &str) -> BTreeMap<String, Value> {
        let items = self.items(&format!("alarm:{alarm_arn}")).await;
        items.get("transition").cloned().expect("a transition record")
    }

    /// The sort keys of the group's records with this prefix and in one of these states.
    pub async fn keys(&self, group: &str, prefix: &str, states: &[&str]) -> Vec<String> {
        let records = self.records(group).await;
        records
            .into_iter()
            .filter(|(key, r)| key.starts_with(prefix) && states.iter().any(|s| r["state"] == json!(s)))
            .map(|(key, _)| key)
            .collect()
    }

    /// The group's open shift records (pending or done): what a failback restores.
    pub async fn open_shifts(&self, group: &str) -> Vec<String> {
        self.keys(group, "shift#", &["pending", "done"]).await
    }

    /// A target group (instance or ip targets), opted in or not, with targets registered on port 80.
    pub async fn group(&self, name: &str, kind: TargetTypeEnum, opted_in: bool, targets: &[String]) -> String {
        self.group_of(name, ProtocolEnum::Http, kind, opted_in, targets).await
    }

    /// An opted-in TCP group of instances (a network load balancer's), with these targets registered.
    pub async fn tcp_group(&self, name: &str, targets: &[String]) -> String {
        self.group_of(name, ProtocolEnum::Tcp, TargetTypeEnum::Instance, true, targets).await
    }

    /// A network load balancer `shop-nlb` over the account's first two subnets (two zones); its ARN.
    pub async fn network_load_balancer(&self) -> String {
        let subnets = self.account.subnets();
        let created = self
            .account
            .elbv2()
            .create_load_balancer()
            .name("shop-nlb")
            .r#type(aws_sdk_elasticloadbalancingv2::types::LoadBalancerTypeEnum::Network)
            .set_subnets(Some(subnets[..2].to_vec()))
            .send()
            .await
            .expect("create the network load balancer");
        created.load_balancers()[0].load_balancer_arn().expect("an ARN").to_owned()
    }

    async fn group_of(
        &self,
        name: &str,
        protocol: ProtocolEnum,
        kind: TargetTypeEnum,
        opted_in: bool,
        targets: &[String],
    ) -> String {
        let elb = self.account.elbv2();
        let arn = elb
            .create_target_group()
            .name(name)
            .protocol(protocol)
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

    /// An Auto Scaling group of `size` instances over the shop's first three zones, attached to the target
    /// group (its instances register there, and so do their replacements), tagged with the opt-in tag or not,
    /// with this health check grace period (seconds); its instance ids.
    pub async fn scaling_group(
        &self,
        name: &str,
        target_group: &str,
        size: i32,
        opted_in: bool,
        grace_seconds: i32,
    ) -> Vec<String> {
        use aws_sdk_autoscaling::types::Tag as AsgTag;
        let asg = self.account.autoscaling();
        let config = format!("{name}-lc");
        asg.create_launch_configuration()
            .launch_configuration_name(&config)
            .image_id("ami-12c6146b")
            .instance_type("t3.micro")
            .send()
            .await
            .expect("create launch configuration");
        let subnets = self.account.subnets();
        let mut request = asg
            .create_auto_scaling_group()
            .auto_scaling_group_name(name)
            .launch_configuration_name(&config)
            .min_size(size)
            .max_size(size * 2)
            .desired_capacity(size)
            .vpc_zone_identifier(subnets[..3.min(subnets.len())].join(","))
            .health_check_grace_period(grace_seconds)
            .target_group_arns(target_group);
        if opted_in {
            let tag = AsgTag::builder()
                .resource_id(name)
                .resource_type("auto-scaling-group")
                .key(OPT_IN)
                .value("true")
                .propagate_at_launch(false)
                .build();
            request = request.tags(tag);
        }
        request.send().await.expect("create auto scaling group");
        self.members(name).await
    }

    /// Attaches one more target group to an Auto Scaling group (its instances register there too).
    pub async fn attach(&self, group: &str, target_group: &str) {
        let asg = self.account.autoscaling();
        let attach = asg.attach_load_balancer_target_groups().auto_scaling_group_name(group);
        attach.target_group_arns(target_group).send().await.expect("attach target group");
    }

    /// The instances of an Auto Scaling group, sorted.
    pub async fn members(&self, group: &str) -> Vec<String> {
        let out = self
            .account
            .autoscaling()
            .describe_auto_scaling_groups()
            .auto_scaling_group_names(group)
            .send()
            .await
            .expect("describe auto scaling groups");
        let mut ids: Vec<String> = out.auto_scaling_groups()[0]
            .instances()
            .iter()
            .filter_map(|i| i.instance_id().map(str::to_owned))
            .collect();
        ids.sort();
        ids
    }

    pub async fn tag(&self, arn: &str, key: &str, value: &str) {
        self.account
            .elbv2()
            .add_tags()
            .resource_arns(arn)
            .tags(Tag::builder().key(key).value(value).build())
            .send()
            .await
            .expect("add tags");
    }

    pub async fn tags(&self, arn: &str) -> BTreeMap<String, String> {
        let out = self.account.elbv2().describe_tags().resource_arns(arn).send().await.expect("describe tags");
        out.tag_descriptions()[0]
            .tags()
            .iter()
            .map(|t| (t.key().unwrap_or_default().to_owned(), t.value().unwrap_or_default().to_owned()))
            .collect()
    }

    /// The listener on port 80, forwarding with these weights, opted in (IAM lets the function modify only a
    /// listener that carries the opt-in tag itself, and the function checks it).
    pub async fn listener(&mut self, weights: &[(&str, i32)]) -> String {
        self.listener_opted_in(weights, true).await
    }

    pub async fn listener_opted_in(&mut self, weights: &[(&str, i32)], opted_in: bool) -> String {
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
    pub async fn rule(&self, listener: &str, path: &str, weights: &[(&str, i32)]) -> String {
        self.rule_opted_in(listener, path, weights, true).await
    }

    pub async fn rule_opted_in(&self, listener: &str, path: &str, weights: &[(&str, i32)], opted_in: bool) -> String {
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
    pub async fn listener_weights(&self) -> BTreeMap<String, i32> {
        let listener = self.listener.as_deref().expect("a listener");
        let out =
            self.account.elbv2().describe_listeners().listener_arns(listener).send().await.expect("describe listener");
        weights_of(out.listeners()[0].default_actions())
    }

    pub async fn rule_weights(&self, rule: &str) -> BTreeMap<String, i32> {
        let out = self.account.elbv2().describe_rules().rule_arns(rule).send().await.expect("describe rules");
        weights_of(out.rules()[0].actions())
    }

    /// Target id → state.
    pub async fn health(&self, group: &str) -> BTreeMap<String, String> {
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

    /// Target id → port.
    pub async fn ports(&self, group: &str) -> BTreeMap<String, i32> {
        let out = self.account.elbv2().describe_target_health().target_group_arn(group).send().await.expect("health");
        out.target_health_descriptions()
            .iter()
            .filter_map(|d| Some((d.target()?.id()?.to_owned(), d.target()?.port()?)))
            .collect()
    }

    pub fn set_health(&self, group: &str, ids: &[&String], state: &str) {
        let targets: Vec<Value> = ids.iter().map(|id| json!({"id": id, "state": state})).collect();
        self.account.control("/_failover/elbv2/target-health", json!({"target_group_arn": group, "targets": targets}));
    }

    /// A health check state that is the instance's own (`"sticky": true`): it stays when the target is
    /// deregistered, so the target fails its health check again once registered again.
    pub fn set_sticky_health(&self, group: &str, ids: &[&String], state: &str) {
        let targets: Vec<Value> = ids.iter().map(|id| json!({"id": id, "state": state, "sticky": true})).collect();
        self.account.control("/_failover/elbv2/target-health", json!({"target_group_arn": group, "targets": targets}));
    }

    /// The restore holds' schedule tick, as EventBridge delivers a rule's `Scheduled Event`.
    pub fn tick(&self) -> Value {
        json!({
            "version": "0", "id": "tick-1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": self.account.id, "time": "2024-05-01T10:00:00Z", "region": self.account.region,
            "resources": [format!("arn:aws:events:{}:{}:rule/failover-RestoreHolds", self.account.region, self.account.id)],
            "detail": {}
        })
    }

    pub async fn received(&self) -> Vec<Received> {
        self.subscriber.received().await
    }

    // ------------------------------------------------------------------------------------ events

    pub fn alarm_eventbridge(&self, name: &str, state: &str, previous: &str, dimensions: Value) -> Value {
        json!({
            "version": "0", "id": "e-1", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
            "account": self.account.id, "time": "2024-05-01T10:00:00Z", "region": self.account.region,
            "resources": [self.alarm_arn(name)],
            "detail": {
                "alarmName": name,
                "state": {"value": state, "reason": "Threshold Crossed", "timestamp": self.next_time()},
                "previousState": {"value": previous, "reason": "", "timestamp": "2024-05-01T09:00:00.000+0000"},
                "configuration": {"metrics": [{"id": "m1", "returnData": true, "metricStat": {
                    "metric": {"namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount", "dimensions": dimensions},
                    "period": 60, "stat": "Maximum"}}]}
            }
        })
    }

    pub fn alarm_sns(&self, name: &str, state: &str, previous: &str, dimensions: Value) -> Value {
        let list: Vec<Value> =
            dimensions.as_object().expect("dimensions").iter().map(|(k, v)| json!({"name": k, "value": v})).collect();
        let message = json!({
            "AlarmName": name, "AlarmDescription": null, "AWSAccountId": self.account.id,
            "NewStateValue": state, "OldStateValue": previous, "NewStateReason": "Threshold Crossed",
            "StateChangeTime": self.next_time(), "Region": "US East (N. Virginia)",
            "AlarmArn": self.alarm_arn(name),
            "Trigger": {"MetricName": "UnHealthyHostCount", "Namespace": "AWS/ApplicationELB", "Statistic": "MAXIMUM",
                        "Unit": null, "Dimensions": list, "Period": 60, "EvaluationPeriods": 1,
                        "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0.0}
        });
        json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0", "Sns": {
            "Type": "Notification", "MessageId": "m-1", "TopicArn": self.subscriber.topic_arn,
            "Subject": null, "Message": message.to_string(), "Timestamp": "2024-05-01T10:00:00.200Z"}}]})
    }

    pub fn alarm_action(&self, name: &str, state: &str, previous: &str, dimensions: Value) -> Value {
        json!({
            "source": "aws.cloudwatch", "alarmArn": self.alarm_arn(name), "accountId": self.account.id,
            "time": "2024-05-01T10:00:00.120+0000", "region": self.account.region,
            "alarmData": {
                "alarmName": name,
                "state": {"value": state, "reason": "Threshold Crossed", "timestamp": self.next_time()},
                "previousState": {"value": previous, "reason": "", "timestamp": "2024-05-01T09:00:00.000+0000"},
                "configuration": {"metrics": [{"id": "m1", "returnData": true, "metricStat": {
                    "metric": {"namespace": "Shop/Web", "name": "Http5xxRate", "dimensions": dimensions},
                    "period": 60, "stat": "Average"}}]}
            }
        })
    }

    /// The state timestamp of the next event built: one second later each time, so that successive events
    /// are successive transitions (an event no later than the last one acted on is stale).
    pub fn next_time(&self) -> String {
        let n = self.clock.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        format!("2024-05-01T10:{:02}:{:02}.120+0000", n / 60, n % 60)
    }

    pub fn alarm_arn(&self, name: &str) -> String {
        format!("arn:aws:cloudwatch:{}:{}:alarm:{name}", self.account.region, self.account.id)
    }
}

/// The EventBridge alarm event on the group's own metric (`Shop/Web Errors`, same dimensions) instead of
/// `UnHealthyHostCount`: a metric the removal does not silence, so its OK brings the targets back at once.
pub fn own_metric(mut event: Value) -> Value {
    if let Some(metric) = event.pointer_mut("/detail/configuration/metrics/0/metricStat/metric") {
        metric["namespace"] = json!("Shop/Web");
        metric["name"] = json!("Errors");
    }
    event
}

/// The event with its state timestamp set to `time`, whatever its delivery path.
pub fn at_time(mut event: Value, time: &str) -> Value {
    for pointer in ["/detail/state/timestamp", "/alarmData/state/timestamp"] {
        if let Some(slot) = event.pointer_mut(pointer) {
            *slot = json!(time);
        }
    }
    if let Some(slot) = event.pointer_mut("/Records/0/Sns/Message") {
        let mut message: Value = serde_json::from_str(slot.as_str().unwrap_or("{}")).expect("an SNS alarm message");
        message["StateChangeTime"] = json!(time);
        *slot = json!(message.to_string());
    }
    event
}

pub fn weights_of(actions: &[Action]) -> BTreeMap<String, i32> {
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

pub fn suffix(arn: &str) -> &str {
    &arn[arn.find("targetgroup/").expect("a target group arn")..]
}

pub fn tg_dimension(arn: &str) -> Value {
    json!({"TargetGroup": suffix(arn), "LoadBalancer": "app/shop/1"})
}

pub fn outcomes(received: &[Received]) -> Vec<(String, String, String)> {
    let mut list: Vec<_> = received
        .iter()
        .map(|r| {
            (r.attribute("outcome").to_owned(), r.attribute("severity").to_owned(), r.attribute("action").to_owned())
        })
        .collect();
    list.sort();
    list
}

pub fn assert_status(response: &Response, status: Outcome) {
    assert_eq!(response.status, status, "{response:#?}");
}

// ---------------------------------------------------------------------------------------------- call counting

pub type Calls = BTreeMap<&'static str, usize>;

/// The real adapter, counting port calls (each is one API call, except `forwards_to`: DescribeTargetGroups,
/// DescribeListeners per load balancer, DescribeRules per listener).
pub struct Counting<'a> {
    pub inner: ElbClient,
    pub calls: &'a Mutex<Calls>,
    /// Calls to fail, per port, before they go through.
    pub fail: &'a Mutex<Calls>,
}

impl Counting<'_> {
    /// Counts the call; fails it with throttling while `fail` still owes failures of that port (a transient
    /// error after the SDK's retries, as AWS gives it under load), or with access denied (not transient) while
    /// it owes failures of `<port>:denied`.
    pub fn count(&self, name: &'static str) -> Result<(), AwsError> {
        *self.calls.lock().expect("calls").entry(name).or_default() += 1;
        let mut fail = self.fail.lock().expect("fail");
        for (key, code, transient, message) in [
            (name.to_owned(), "Throttling", true, "Rate exceeded (injected by the test)"),
            (format!("{name}:denied"), "AccessDenied", false, "not authorized (injected by the test)"),
        ] {
            if let Some(left) = fail.get_mut(key.as_str()).filter(|left| **left > 0) {
                *left -= 1;
                let (code, message) = (Some(code.into()), message.into());
                return Err(AwsError { operation: name, resource: String::new(), code, transient, message });
            }
        }
        Ok(())
    }
}

impl Counting<'_> {
    /// Never returns while `fail` owes `<port>:then-hang`: the call went through, and the run is killed right
    /// after it (its timeout, its sandbox gone), which a test sees by dropping the invocation.
    async fn then_hang(&self, name: &'static str) {
        let owed = self.fail.lock().expect("fail").get_mut(format!("{name}:then-hang").as_str()).map(|left| {
            let hang = *left > 0;
            *left = left.saturating_sub(1);
            hang
        });
        if owed == Some(true) {
            std::future::pending::<()>().await;
        }
    }
}

impl LoadBalancer for Counting<'_> {
    type Actions = <ElbClient as LoadBalancer>::Actions;

    async fn tags(&self, groups: &[String]) -> Result<Vec<(String, Option<Tags>)>, AwsError> {
        self.count("tags")?;
        self.inner.tags(groups).await
    }
    async fn instance_groups(&self) -> Result<Vec<target_failover::ports::ListedGroup>, AwsError> {
        self.count("instance_groups")?;
        self.inner.instance_groups().await
    }
    async fn target_health(&self, group: &str) -> Result<Option<Vec<TargetHealth>>, AwsError> {
        self.count("target_health")?;
        self.inner.target_health(group).await
    }
    async fn health_thresholds(&self, group: &str) -> Result<Option<HealthThresholds>, AwsError> {
        self.count("health_thresholds")?;
        self.inner.health_thresholds(group).await
    }
    async fn deregister(&self, group: &str, targets: &[Target]) -> Result<(), AwsError> {
        self.count("deregister")?;
        let done = self.inner.deregister(group, targets).await;
        self.then_hang("deregister").await;
        done
    }
    async fn register(&self, group: &str, targets: &[Target]) -> Result<(), AwsError> {
        self.count("register")?;
        self.inner.register(group, targets).await
    }
    async fn forwards_to(
        &self,
        group: &str,
        balancers: &[String],
    ) -> Result<Vec<(ForwardAction, Self::Actions)>, AwsError> {
        self.count("forwards_to")?;
        self.inner.forwards_to(group, balancers).await
    }
    async fn set_weights(
        &self,
        location: &Location,
        actions: &Self::Actions,
        weights: &[Weight],
    ) -> Result<(), AwsError> {
        self.count("set_weights")?;
        let done = self.inner.set_weights(location, actions, weights).await;
        self.then_hang("set_weights").await;
        done
    }
}

pub fn calls(counter: &Mutex<Calls>) -> Vec<(&'static str, usize)> {
    counter.lock().expect("calls").iter().map(|(k, v)| (*k, *v)).collect()
}

/// SNS failing its first publications, then the topic.
pub struct Flaky {
    inner: SnsNotifier,
    failures: Mutex<usize>,
}

impl Notifier for Flaky {
    async fn publish(&self, report: &failover_core::report::Report) -> Result<(), NotifyError> {
        let failing = {
            let mut left = self.failures.lock().expect("failures");
            let failing = *left > 0;
            *left = left.saturating_sub(1);
            failing
        };
        if failing {
            let topic_arn = String::new();
            return Err(NotifyError { action: report.action.clone(), topic_arn, source: "SNS is down".into() });
        }
        self.inner.publish(report).await
    }
}

impl Zonal for Counting<'_> {
    async fn balancer(&self, arn: &str) -> Result<Option<Balancer>, AwsError> {
        self.count("balancer")?;
        self.inner.balancer(arn).await
    }
    async fn balancers_of(&self, group: &str) -> Result<Vec<String>, AwsError> {
        self.count("balancers_of")?;
        self.inner.balancers_of(group).await
    }
    async fn zone_ids(&self) -> Result<BTreeMap<String, String>, AwsError> {
        self.count("zone_ids")?;
        self.inner.zone_ids().await
    }
    async fn instance_zones(&self, ids: &[String]) -> Result<BTreeMap<String, String>, AwsError> {
        self.count("instance_zones")?;
        self.inner.instance_zones(ids).await
    }
    async fn balancer_cross_zone(&self, arn: &str) -> Result<Option<String>, AwsError> {
        self.count("balancer_cross_zone")?;
        self.inner.balancer_cross_zone(arn).await
    }
    async fn managed_resource(&self, arn: &str) -> Result<Option<ManagedResource>, AwsError> {
        self.count("managed_resource")?;
        self.inner.managed_resource(arn).await
    }
    async fn start_shift(
        &self,
        arn: &str,
        away_from: &str,
        expires_minutes: u32,
        comment: &str,
    ) -> Result<String, AwsError> {
        self.count("start_shift")?;
        self.inner.start_shift(arn, away_from, expires_minutes, comment).await
    }
    async fn cancel_shift(&self, id: &str) -> Result<bool, AwsError> {
        self.count("cancel_shift")?;
        self.inner.cancel_shift(id).await
    }
}

impl target_failover::ports::Fleet for Counting<'_> {
    async fn scaling_groups(&self, instances: &[String]) -> Result<BTreeMap<String, (String, Tags)>, AwsError> {
        self.count("scaling_groups")?;
        self.inner.scaling_groups(instances).await
    }
    async fn mark_unhealthy(&self, instance: &str) -> Result<(), AwsError> {
        self.count("mark_unhealthy")?;
        self.inner.mark_unhealthy(instance).await
    }
}

/// A clock the test moves by hand: `(offset, clock)`, the clock giving now plus what the test stores in the
/// offset (seconds). Each use has its own offset, since the app takes a plain `fn` and the tests run at once.
#[macro_export]
macro_rules! hand_clock {
    () => {{
        static LATER: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);
        fn clock() -> i64 {
            failover_core::time::now_secs() + LATER.load(std::sync::atomic::Ordering::SeqCst)
        }
        (&LATER, clock as fn() -> i64)
    }};
}
