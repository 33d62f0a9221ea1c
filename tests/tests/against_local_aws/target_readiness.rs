//! target-failover's `readiness` command against the local AWS: each test builds target groups, a load
//! balancer and its listener in its own account, runs the command, and asserts the one notification (its
//! gaps, each with its fix) and that nothing in ELB changed. An opted-in group gets the alarm
//! `alarms/template.yaml` would create for it, so that each test sees the gaps it is about; the alarm tests
//! make groups without one ([`Site::bare_group`]).

use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsError;
use aws_sdk_elasticloadbalancingv2::error::ErrorMetadata;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesError;
use aws_sdk_elasticloadbalancingv2::types::{
    ProtocolEnum, RuleCondition, Tag, TargetDescription, TargetGroupAttribute,
};
use failover_core::invoke::InvokeError;
use failover_core::ledger::DynamoLedger;
use failover_core::notify::{NotificationFormat, SnsNotifier};
use failover_core::outcome::Outcome;
use integration_tests::{forward, lookup, Account, Received, Subscriber};
use serde_json::{json, Value};
use target_failover::adapters::ElbClient;
use target_failover::{App, Config, Home};
use test_support::aws_smithy_mocks::{mock, MockResponseInterceptor, RuleMode};
use test_support::OPT_IN;

const BACKUP_TAG: &str = "failover:backup-target-group";

/// One account with a load balancer, target groups of running instances, and a subscriber to the topic.
struct Site {
    account: Account,
    subscriber: Subscriber,
    vpc: String,
    lb: String,
    ledger: String,
}

impl Site {
    async fn new() -> Self {
        let account = Account::new().await;
        let subscriber = Subscriber::create(&account, "failover").await;
        let vpc = account.vpc();
        let lb = account.load_balancer("site", 2).await;
        let ledger = account.ledger_table();
        Site { account, subscriber, vpc, lb, ledger }
    }

    fn config(&self) -> Config {
        self.config_with(&[])
    }

    fn config_with(&self, settings: &[(&str, &str)]) -> Config {
        let mut pairs =
            vec![("NOTIFICATION_TOPIC_ARN", self.subscriber.topic_arn.as_str()), ("LEDGER_TABLE", &self.ledger)];
        pairs.extend_from_slice(settings);
        Config::from_lookup(&lookup(&pairs)).expect("config")
    }

    /// A group of `targets` new instances, opted in or not; an opted-in one watched by the prefixed alarm on its
    /// `TargetGroup` dimension.
    async fn group(&self, name: &str, opted_in: bool, targets: usize) -> String {
        let arn = self.bare_group(name, opted_in, targets).await;
        if opted_in {
            self.watch(
                &format!("failover-{name}-unhealthy-hosts"),
                &[("TargetGroup", &dimension(&arn, "targetgroup/"))],
            )
            .await;
        }
        arn
    }

    /// A prefixed or unprefixed alarm on an ELB metric with these dimensions.
    async fn watch(&self, name: &str, dimensions: &[(&str, &str)]) {
        self.account.alarm(name, "AWS/ApplicationELB", "UnHealthyHostCount", dimensions).await;
    }

    /// A group of `targets` new instances, opted in or not, that no alarm watches.
    async fn bare_group(&self, name: &str, opted_in: bool, targets: usize) -> String {
        let elb = self.account.elbv2();
        let created = elb.create_target_group().name(name).protocol(ProtocolEnum::Http).port(80).vpc_id(&self.vpc);
        let created = created.send().await.expect("create target group");
        let arn = created.target_groups()[0].target_group_arn().expect("group arn").to_owned();
        if opted_in {
            self.tag(&arn, OPT_IN, "true").await;
        }
        if targets > 0 {
            let ids = self.account.instances(targets);
            let targets = ids.iter().map(|id| TargetDescription::builder().id(id).port(80).build()).collect();
            elb.register_targets().target_group_arn(&arn).set_targets(Some(targets)).send().await.expect("register");
        }
        arn
    }

    async fn tag(&self, arn: &str, key: &str, value: &str) {
        let tag = Tag::builder().key(key).value(value).build();
        self.account.elbv2().add_tags().resource_arns(arn).tags(tag).send().await.expect("add tags");
    }

    /// A listener forwarding to `group`, opted in or not.
    async fn listener(&self, port: i32, group: &str, opted_in: bool) -> String {
        let elb = self.account.elbv2();
        let created = elb.create_listener().load_balancer_arn(&self.lb).protocol(ProtocolEnum::Http).port(port);
        let created = created.default_actions(forward(&[(group, 1)])).send().await.expect("create listener");
        let arn = created.listeners()[0].listener_arn().expect("listener arn").to_owned();
        if opted_in {
            self.tag(&arn, OPT_IN, "true").await;
        }
        arn
    }

    async fn rule(&self, listener: &str, group: &str) -> String {
        let condition = RuleCondition::builder().field("path-pattern").values("/api/*").build();
        let created = self.account.elbv2().create_rule().listener_arn(listener).priority(10).conditions(condition);
        let created = created.actions(forward(&[(group, 1)])).send().await.expect("create rule");
        created.rules()[0].rule_arn().expect("rule arn").to_owned()
    }

    async fn set_attribute(&self, group: &str, key: &str, value: &str) {
        let attribute = TargetGroupAttribute::builder().key(key).value(value).build();
        let elb = self.account.elbv2();
        elb.modify_target_group_attributes().target_group_arn(group).attributes(attribute).send().await.expect("attr");
    }

    /// Every target group with its tags, attributes and target health, and every listener and rule: what
    /// `readiness` must leave as it found it.
    async fn state(&self) -> Value {
        let elb = self.account.elbv2();
        let mut groups = Vec::new();
        let described = elb.describe_target_groups().send().await.expect("describe groups");
        for group in described.target_groups() {
            let arn = group.target_group_arn().unwrap_or_default();
            let tags = elb.describe_tags().resource_arns(arn).send().await.expect("tags");
            let health = elb.describe_target_health().target_group_arn(arn).send().await.expect("health");
            let attributes = elb.describe_target_group_attributes().target_group_arn(arn).send().await.expect("attrs");
            let health = health.target_health_descriptions();
            groups.push(format!("{arn} {:?} {health:?} {:?}", tags.tag_descriptions(), attributes.attributes()));
        }
        let listeners = elb.describe_listeners().load_balancer_arn(&self.lb).send().await.expect("listeners");
        json!({"groups": groups, "listeners": format!("{:?}", listeners.listeners())})
    }

    async fn readiness(&self, app: &App<impl target_failover::ports::LoadBalancer>, body: Value) -> Value {
        let response = app.handle(body).await.expect("readiness answers");
        assert_eq!(response.status, Outcome::Info, "{response:?}");
        assert_eq!(response.action, "readiness");
        serde_json::to_value(&response).expect("response json")
    }

    /// `readiness` again finds no gap, and says so.
    async fn assert_ready(&self, app: &App<impl target_failover::ports::LoadBalancer>) {
        let response = self.readiness(app, json!({"command": "readiness"})).await;
        assert_eq!(response["details"]["gaps"], 0, "{response}");
        assert_eq!(self.notification().await.0, "info");
    }

    /// The single notification: (severity, findings as (kind, resource, fix), its body).
    async fn notification(&self) -> (String, Vec<(String, String, String)>, Value) {
        let received: Vec<Received> = self.subscriber.received().await;
        assert_eq!(received.len(), 1, "one notification: {received:?}");
        assert_eq!(received[0].attribute("action"), "readiness");
        assert_eq!(received[0].attribute("outcome"), "info");
        let body = received[0].body();
        let findings = body["details"]["findings"].as_array().expect("findings").iter().map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_owned();
            (text("kind"), text("resource"), text("fix"))
        });
        (received[0].attribute("severity").to_owned(), findings.collect(), body)
    }
}

/// The metric dimension of an ELB ARN: from `targetgroup/` or `app/` on.
fn dimension(arn: &str, from: &str) -> String {
    arn.find(from).map(|i| arn[i..].to_owned()).unwrap_or_else(|| panic!("{arn} has no {from}"))
}

/// A group with a ready backup and an opted-in listener: nothing missing.
async fn ready_pair(site: &Site, name: &str, port: i32) -> (String, String) {
    let group = site.group(name, true, 2).await;
    let backup = site.group(&format!("{name}-dr"), true, 2).await;
    site.tag(&group, BACKUP_TAG, &backup).await;
    site.listener(port, &group, true).await;
    (group, backup)
}

#[tokio::test]
async fn readiness_on_a_healthy_setup_reports_ready_and_changes_nothing() {
    let site = Site::new().await;
    ready_pair(&site, "web", 80).await;
    site.group("legacy", false, 1).await; // not opted in: not checked
    let before = site.state().await;

    let app = App::new(site.config(), &site.account.sdk);
    let response = site.readiness(&app, json!({"command": "readiness", "dry_run": false})).await;

    assert_eq!(response["details"]["gaps"], 0, "{response}");
    assert_eq!(response["details"]["checked"], 2, "web and web-dr are opted in");
    let (severity, findings, body) = site.notification().await;
    assert_eq!((severity.as_str(), findings.len(), &body["next_steps"]), ("info", 0, &json!([])));
    assert_eq!(body["incident_id"], "target-failover/manual command readiness");
    assert_eq!(site.state().await, before);
}

#[tokio::test]
async fn backup_gaps_are_reported_with_their_fixes() {
    let site = Site::new().await;
    let gone = site.group("gone", true, 0).await;
    site.account.elbv2().delete_target_group().target_group_arn(&gone).send().await.expect("delete");
    let missing = site.group("a", true, 2).await;
    site.tag(&missing, BACKUP_TAG, &gone).await;
    let not_opted = site.group("b", true, 2).await;
    let b_dr = site.group("b-dr", false, 2).await;
    site.tag(&not_opted, BACKUP_TAG, &b_dr).await;
    let weak = site.group("c", true, 2).await;
    let c_dr = site.group("c-dr", true, 2).await;
    site.tag(&weak, BACKUP_TAG, &c_dr).await;
    let c_targets = site.account.elbv2().describe_target_health().target_group_arn(&c_dr).send().await.expect("th");
    let unhealthy: Vec<Value> = c_targets
        .target_health_descriptions()
        .iter()
        .map(|d| json!({"id": d.target().and_then(|t| t.id()), "port": 80, "state": "unhealthy"}))
        .collect();
    site.account.control("/_failover/elbv2/target-health", json!({"target_group_arn": c_dr, "targets": unhealthy}));
    let before = site.state().await;

    let app = App::new(site.config(), &site.account.sdk);
    let response = site.readiness(&app, json!({"command": "readiness"})).await;

    assert_eq!(response["details"]["gaps"], 3, "{response}");
    let (severity, mut findings, body) = site.notification().await;
    findings.sort();
    let retag = |g: &str| {
        format!("aws elbv2 add-tags --resource-arns {g} --tags Key={BACKUP_TAG},Value=<ARN of a standby target group>")
    };
    assert_eq!(
        findings,
        [
            (
                "backup-below-floor".into(),
                c_dr.clone(),
                format!("aws elbv2 register-targets --target-group-arn {c_dr} --targets Id=<healthy target>")
            ),
            ("backup-missing".into(), missing.clone(), retag(&missing)),
            (
                "backup-not-opted-in".into(),
                b_dr.clone(),
                format!("aws elbv2 add-tags --resource-arns {b_dr} --tags Key={OPT_IN},Value=true")
            ),
        ]
    );
    assert_eq!(severity, "warning");
    assert_eq!(body["next_steps"].as_array().map(Vec::len), Some(3), "each fix once: {body}");
    assert_eq!(site.state().await, before);
}

#[tokio::test]
async fn listeners_and_rules_not_opted_in_are_reported_with_their_fixes() {
    let site = Site::new().await;
    let (web, _) = ready_pair(&site, "web", 80).await;
    let listener = site.listener(8080, &web, false).await;
    let rule = site.rule(&listener, &web).await;
    let before = site.state().await;

    let app = App::new(site.config(), &site.account.sdk);
    let response = site.readiness(&app, json!({"command": "readiness", "target_group_arn": web})).await;

    assert_eq!(response["details"]["gaps"], 2, "{response}");
    let (severity, mut findings, _) = site.notification().await;
    findings.sort();
    let fix = |arn: &str| format!("aws elbv2 add-tags --resource-arns {arn} --tags Key={OPT_IN},Value=true");
    assert_eq!(
        findings,
        [
            ("listener-not-opted-in".into(), listener.clone(), fix(&listener)),
            ("rule-not-opted-in".into(), rule.clone(), fix(&rule)),
        ]
    );
    assert_eq!(severity, "warning");
    assert_eq!(site.state().await, before);
}

#[tokio::test]
async fn health_thresholds_above_the_floor_are_reported_with_their_fixes() {
    let site = Site::new().await;
    let (web, _) = ready_pair(&site, "web", 80).await;
    let extra = site.account.instances(2);
    let targets = extra.iter().map(|id| TargetDescription::builder().id(id).port(80).build()).collect();
    let elb = site.account.elbv2();
    elb.register_targets().target_group_arn(&web).set_targets(Some(targets)).send().await.expect("register");
    // 4 targets at the default 50 %: removals may go down to 2; fail-open below 3, DNS failover below 4.
    let routing = "target_group_health.unhealthy_state_routing.minimum_healthy_targets";
    let dns = "target_group_health.dns_failover.minimum_healthy_targets";
    site.set_attribute(&web, &format!("{routing}.count"), "3").await;
    site.set_attribute(&web, &format!("{dns}.count"), "off").await;
    site.set_attribute(&web, &format!("{dns}.percentage"), "100").await;
    let before = site.state().await;

    let app = App::new(site.config(), &site.account.sdk);
    let response = site.readiness(&app, json!({"command": "readiness"})).await;

    assert_eq!(response["details"]["gaps"], 2, "{response}");
    let (_, mut findings, _) = site.notification().await;
    findings.sort();
    let fix = |t: &str| {
        format!("aws elbv2 modify-target-group-attributes --target-group-arn {web} --attributes Key={t}.count,Value=2 Key={t}.percentage,Value=off")
    };
    assert_eq!(
        findings,
        [
            ("dns-failover-threshold".into(), web.clone(), fix(dns)),
            ("fail-open-threshold".into(), web.clone(), fix(routing)),
        ]
    );
    assert_eq!(site.state().await, before);
}

#[tokio::test]
async fn an_aws_error_on_one_group_is_reported_unknown_and_the_others_are_still_checked() {
    let site = Site::new().await;
    let (denied, _) = ready_pair(&site, "denied", 80).await;
    let other = site.group("other", true, 2).await;
    let gone = format!(
        "arn:aws:elasticloadbalancing:{}:{}:targetgroup/nothing/0123456789abcdef",
        site.account.region, site.account.id
    );
    site.tag(&other, BACKUP_TAG, &gone).await;
    // DescribeTargetGroupAttributes on `denied` fails as AWS answers a call IAM does not allow; every other
    // call goes to the local AWS.
    let target = denied.clone();
    let rule = mock!(aws_sdk_elasticloadbalancingv2::Client::describe_target_group_attributes)
        .match_requests(move |r| r.target_group_arn() == Some(target.as_str()))
        .then_error(|| {
            DescribeTargetGroupAttributesError::generic(
                ErrorMetadata::builder().code("AccessDenied").message("not authorized to describe").build(),
            )
        });
    let interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny).allow_passthrough().with_rule(&rule);
    let config = aws_sdk_elasticloadbalancingv2::config::Builder::from(&site.account.sdk).interceptor(interceptor);
    let elb = aws_sdk_elasticloadbalancingv2::Client::from_conf(config.build());
    let lb = ElbClient::new(elb).with_cloudwatch(site.account.cloudwatch());
    let notifier = SnsNotifier::new(site.account.sns(), site.subscriber.topic_arn.clone(), NotificationFormat::Json);
    let home = Home { partition: "aws".into(), account: site.account.id.clone(), region: site.account.region.clone() };
    let ledger = DynamoLedger::new(site.account.dynamodb(), site.ledger.clone());
    let app = App::with_ports(site.config(), lb, notifier, ledger, home);

    let response = site.readiness(&app, json!({"command": "readiness"})).await;

    assert_eq!(response["details"]["unknown"], 1, "{response}");
    let (severity, findings, body) = site.notification().await;
    assert_eq!(severity, "warning");
    let summary = body["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("denied: unknown (error AccessDenied: "), "{summary}");
    assert!(summary.contains("not authorized to describe"), "{summary}");
    let kinds: Vec<(&str, &str)> = findings.iter().map(|(k, r, _)| (k.as_str(), r.as_str())).collect();
    assert!(kinds.contains(&("unknown", denied.as_str())), "{findings:?}");
    assert!(kinds.contains(&("backup-missing", other.as_str())), "the other group is still checked: {findings:?}");
    let unknown = &findings.iter().find(|(k, _, _)| k == "unknown").expect("unknown").2;
    assert!(unknown.starts_with(&format!("aws elbv2 describe-target-group-attributes --target-group-arn {denied}")));
}

#[tokio::test]
async fn readiness_with_an_unknown_field_or_a_missing_group_is_an_invalid_command() {
    let site = Site::new().await;
    let app = App::new(site.config(), &site.account.sdk);
    let missing = format!(
        "arn:aws:elasticloadbalancing:{}:{}:targetgroup/nothing/0123456789abcdef",
        site.account.region, site.account.id
    );
    for body in [
        json!({"command": "readiness", "target_group": "web"}),
        json!({"command": "readiness", "target_group_arn": missing}),
    ] {
        let error = app.handle(body.clone()).await.expect_err(&body.to_string());
        assert!(matches!(error, InvokeError::InvalidCommand(_)), "{body}: {error}");
    }
    assert!(site.subscriber.received().await.is_empty(), "nothing published");
}

#[tokio::test]
async fn a_group_no_prefixed_alarm_watches_is_reported_until_one_does() {
    let site = Site::new().await;
    let web = site.bare_group("web", true, 2).await;
    site.listener(80, &web, true).await;
    let app = App::new(site.config(), &site.account.sdk);
    let tg = dimension(&web, "targetgroup/");
    let lb = dimension(&site.lb, "app/");
    // An alarm that EventBridge does not route to the function (no prefix), and one on another group.
    site.watch("web-unhealthy-hosts", &[("TargetGroup", &tg)]).await;
    site.group("api", true, 1).await;
    let before = site.state().await;

    let response = site.readiness(&app, json!({"command": "readiness"})).await;

    assert_eq!(response["details"]["gaps"], 1, "{response}");
    let (severity, findings, body) = site.notification().await;
    let fix = format!(
        "aws cloudformation deploy --stack-name failover-alarms-web --template-file alarms/template.yaml \
         --parameter-overrides AlarmNamePrefix=failover- Application=web LoadBalancer={lb} TargetGroup={tg}"
    );
    assert_eq!((severity.as_str(), findings), ("warning", vec![("no-alarm".to_owned(), web.clone(), fix)]));
    let summary = body["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("nothing will invoke target-failover for it"), "{summary}");
    assert_eq!(site.state().await, before);

    site.watch("failover-web-unhealthy-hosts", &[("TargetGroup", &tg), ("LoadBalancer", &lb)]).await;
    site.assert_ready(&app).await;
}

#[tokio::test]
async fn an_alarm_on_one_of_its_instances_or_on_a_zone_of_its_load_balancer_watches_a_group() {
    let site = Site::new().await;
    let by_instance = site.bare_group("fleet", true, 1).await;
    let by_zone = site.bare_group("shop", true, 1).await;
    site.listener(80, &by_zone, true).await;
    let app = App::new(site.config(), &site.account.sdk);
    // The load balancer alone (no zone) is routed to no group, so it watches none.
    site.watch("failover-site-5xx", &[("LoadBalancer", &dimension(&site.lb, "app/"))]).await;

    site.readiness(&app, json!({"command": "readiness"})).await;
    let (_, mut findings, _) = site.notification().await;
    findings.sort();
    let kinds: Vec<(&str, &str)> = findings.iter().map(|(k, r, _)| (k.as_str(), r.as_str())).collect();
    assert_eq!(kinds, [("no-alarm", by_instance.as_str()), ("no-alarm", by_zone.as_str())]);
    assert_eq!(site.account.calls_answered("DescribeAlarms"), 1, "one read for the run, not one per group");
    let instance = site.account.elbv2().describe_target_health().target_group_arn(&by_instance).send().await;
    let instance =
        instance.expect("health").target_health_descriptions()[0].target().and_then(|t| t.id()).map(str::to_owned);
    assert!(findings[0].2.ends_with(&format!("InstanceIds={}", instance.clone().unwrap_or_default())), "{findings:?}");

    let instance = instance.expect("instance id");
    site.account
        .alarm(&format!("failover-{instance}-status"), "AWS/EC2", "StatusCheckFailed", &[("InstanceId", &instance)])
        .await;
    let zone =
        [("LoadBalancer", dimension(&site.lb, "app/")), ("AvailabilityZone", format!("{}a", site.account.region))];
    let zone: Vec<(&str, &str)> = zone.iter().map(|(k, v)| (*k, v.as_str())).collect();
    site.watch("failover-site-5xx-a", &zone).await;
    site.assert_ready(&app).await;
}

#[tokio::test]
async fn a_dry_run_is_a_readiness_gap() {
    let site = Site::new().await;
    ready_pair(&site, "web", 80).await;
    let app = App::new(site.config_with(&[("DRY_RUN", "true")]), &site.account.sdk);

    let response = site.readiness(&app, json!({"command": "readiness"})).await;

    assert_eq!(response["details"]["gaps"], 1, "{response}");
    let (severity, findings, body) = site.notification().await;
    assert_eq!(severity, "warning");
    assert_eq!(
        findings.iter().map(|(k, r, _)| (k.as_str(), r.as_str())).collect::<Vec<_>>(),
        [("dry-run", "target-failover")]
    );
    assert!(body["summary"].as_str().unwrap_or_default().contains("dry run: nothing will be changed"), "{body}");
}

#[tokio::test]
async fn alarms_that_cannot_be_listed_are_one_unknown_and_the_other_checks_go_on() {
    let site = Site::new().await;
    let web = site.bare_group("web", true, 2).await;
    let other = site.group("other", true, 2).await;
    let gone = format!(
        "arn:aws:elasticloadbalancing:{}:{}:targetgroup/nothing/0123456789abcdef",
        site.account.region, site.account.id
    );
    site.tag(&other, BACKUP_TAG, &gone).await;
    // DescribeAlarms fails as AWS answers a call IAM does not allow; ELB answers from the local AWS.
    let rule = mock!(aws_sdk_cloudwatch::Client::describe_alarms).then_error(|| {
        DescribeAlarmsError::generic(ErrorMetadata::builder().code("AccessDenied").message("not authorized").build())
    });
    let interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny).with_rule(&rule);
    let cloudwatch = aws_sdk_cloudwatch::config::Builder::from(&site.account.sdk).interceptor(interceptor);
    let lb =
        ElbClient::new(site.account.elbv2()).with_cloudwatch(aws_sdk_cloudwatch::Client::from_conf(cloudwatch.build()));
    let notifier = SnsNotifier::new(site.account.sns(), site.subscriber.topic_arn.clone(), NotificationFormat::Json);
    let home = Home { partition: "aws".into(), account: site.account.id.clone(), region: site.account.region.clone() };
    let ledger = DynamoLedger::new(site.account.dynamodb(), site.ledger.clone());
    let app = App::with_ports(site.config(), lb, notifier, ledger, home);

    let response = site.readiness(&app, json!({"command": "readiness"})).await;

    assert_eq!((response["details"]["gaps"].clone(), response["details"]["unknown"].clone()), (json!(2), json!(1)));
    let (_, mut findings, body) = site.notification().await;
    findings.sort();
    let kinds: Vec<(&str, &str)> = findings.iter().map(|(k, r, _)| (k.as_str(), r.as_str())).collect();
    assert_eq!(kinds, [("backup-missing", other.as_str()), ("unknown", "(all alarms)")], "no no-alarm gap for {web}");
    assert!(findings[1].2.starts_with("aws cloudwatch describe-alarms --alarm-name-prefix failover-"), "{findings:?}");
    let summary = body["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("(all alarms): unknown (error AccessDenied: "), "{summary}");
    assert!(summary.contains("not authorized"), "{summary}");
}
