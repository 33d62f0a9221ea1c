//! Faults the local AWS cannot produce: throttling, 5xx, connection failures and timeouts on each ELB and
//! ledger (DynamoDB `Query`, `TransactWriteItems`) call the function makes, through `aws-smithy-mocks` (connection failures and timeouts through the sentinel statuses
//! of `test_support::faulty_http`), and on the notification itself. A fault that clears within the
//! SDK's attempts is invisible; one that outlasts them returns an `AwsError` to Lambda (so the event is
//! retried) after a failure notification was attempted. A failed notification never undoes or fails a change.

use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_elasticloadbalancingv2::operation::deregister_targets::DeregisterTargetsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_listeners::DescribeListenersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_rules::DescribeRulesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_group_attributes::DescribeTargetGroupAttributesOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_health::DescribeTargetHealthOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_listener::ModifyListenerOutput;
use aws_sdk_elasticloadbalancingv2::operation::modify_rule::ModifyRuleOutput;
use aws_sdk_elasticloadbalancingv2::operation::register_targets::RegisterTargetsOutput;
use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, Listener, Rule as ListenerRule, Tag, TagDescription,
    TargetDescription, TargetGroup, TargetGroupAttribute, TargetGroupTuple, TargetHealth, TargetHealthDescription,
    TargetHealthStateEnum, TargetTypeEnum,
};
use aws_sdk_elasticloadbalancingv2::Client;
use aws_smithy_mocks::{mock, Rule};
use failover_core::ledger::DynamoLedger;
use failover_core::notify::{NotificationFormat, Notifier, SnsNotifier};
use failover_core::outcome::Outcome;
use serde_json::{json, Value};
use target_failover::adapters::ElbClient;
use target_failover::{App, Config, Home};

const ACCOUNT: &str = "123456789012";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:failover";
const G: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/00000000000000aa";
const B: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-dr/00000000000000bb";
const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/1111111111111111";
const LISTENER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1111111111111111/2222222222222222";
const RULE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/1111111111111111/2222222222222222/3333333333333333";
const INSTANCE: &str = "i-0000000000000000a";

use test_support::{faulty_http, Recorder};

/// What the mocked ELB holds, and which event the function receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// Target-group alarm, one of three targets unhealthy: deregistered.
    Deregister,
    /// Target-group alarm, every target unhealthy, backup tagged: listener and rule shifted.
    Shift,
    /// OK, healthy again, shift records in the ledger: listener and rule restored.
    Failback,
    /// Instance alarm: the instance leaves the one opted-in group it is in.
    Instance,
    /// Manual restore command: targets registered.
    Restore,
}

impl Scenario {
    /// The ELB operations the scenario makes, each a place for a fault.
    fn operations(self) -> &'static [&'static str] {
        match self {
            Scenario::Deregister => &[
                "DescribeTags",
                "Query",
                "DescribeTargetHealth",
                "DescribeTargetGroupAttributes",
                "TransactWriteItems",
                "DeregisterTargets",
            ],
            Scenario::Shift | Scenario::Failback => &[
                "DescribeTags",
                "Query",
                "DescribeTargetHealth",
                "DescribeTargetGroups",
                "DescribeListeners",
                "DescribeRules",
                "TransactWriteItems",
                "ModifyListener",
                "ModifyRule",
            ],
            Scenario::Instance => &[
                "DescribeTargetGroups",
                "DescribeTags",
                "Query",
                "DescribeTargetHealth",
                "DescribeTargetGroupAttributes",
                "TransactWriteItems",
                "DeregisterTargets",
            ],
            Scenario::Restore => {
                &["DescribeTags", "Query", "DescribeTargetHealth", "TransactWriteItems", "RegisterTargets"]
            }
        }
    }

    fn event(self) -> Value {
        let alarm = |state: &str, previous: &str, dimensions: Value| {
            json!({
                "version": "0", "id": "e-1", "detail-type": "CloudWatch Alarm State Change",
                "source": "aws.cloudwatch", "account": ACCOUNT, "region": "us-east-1",
                "resources": [format!("arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:web")],
                "detail": {"alarmName": "web", "state": {"value": state}, "previousState": {"value": previous},
                    "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": {
                        "namespace": "AWS/ApplicationELB", "name": "UnHealthyHostCount", "dimensions": dimensions},
                        "period": 60, "stat": "Maximum"}}]}}
            })
        };
        let group = json!({"TargetGroup": "targetgroup/web/00000000000000aa"});
        match self {
            Scenario::Deregister | Scenario::Shift => alarm("ALARM", "OK", group),
            Scenario::Failback => alarm("OK", "ALARM", group),
            Scenario::Instance => alarm("ALARM", "OK", json!({"InstanceId": INSTANCE})),
            Scenario::Restore => json!({"command": "restore", "target_group_arn": G, "targets": ["i-new"]}),
        }
    }

    fn expected_status(self) -> Outcome {
        Outcome::Succeeded
    }

    fn tags(self, arn: &str) -> Vec<Tag> {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build();
        let mut tags = vec![tag("failover:enabled", "true")];
        if arn == G && matches!(self, Scenario::Shift | Scenario::Failback) {
            tags.push(tag("failover:backup-target-group", B));
        }
        tags
    }

    /// The group's ledger: the shift records of the listener and the rule for a failback, else nothing.
    fn ledger_output(self) -> QueryOutput {
        let items = if self == Scenario::Failback {
            ["2222222222222222", "2222222222222222/3333333333333333"]
                .map(|key| {
                    let data = json!({"before": [{"group_arn": G, "weight": 1}], "backup": B});
                    [
                        ("pk", AttributeValue::S(format!("target-group:{G}"))),
                        ("sk", AttributeValue::S(format!("shift#{key}"))),
                        ("state", AttributeValue::S("done".into())),
                        ("owner", AttributeValue::S("earlier".into())),
                        ("trigger", AttributeValue::S("alarm web".into())),
                        ("created_at", AttributeValue::N("1".into())),
                        ("updated_at", AttributeValue::N("1".into())),
                        ("expires_at", AttributeValue::N(i64::MAX.to_string())),
                        ("data", AttributeValue::S(data.to_string())),
                    ]
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect()
                })
                .to_vec()
        } else {
            Vec::new()
        };
        QueryOutput::builder().set_items(Some(items)).build()
    }

    fn health(self, arn: &str) -> Vec<TargetHealthDescription> {
        let states: &[&str] = match (self, arn == G) {
            (_, false) => &["healthy", "healthy"],
            (Scenario::Deregister, true) => &["healthy", "healthy", "unhealthy"],
            (Scenario::Shift, true) => &["unhealthy", "unhealthy", "unhealthy"],
            _ => &["healthy", "healthy", "healthy"],
        };
        states
            .iter()
            .enumerate()
            .map(|(i, state)| {
                let id = if i == 0 && self == Scenario::Instance { INSTANCE.to_owned() } else { format!("i-{i}") };
                TargetHealthDescription::builder()
                    .target(TargetDescription::builder().id(id).port(80).build())
                    .target_health(TargetHealth::builder().state(TargetHealthStateEnum::from(*state)).build())
                    .build()
            })
            .collect()
    }

    /// The forward action: all weight on the group before a shift, all on the backup after it.
    fn forward(self) -> Action {
        let weights: &[(&str, i32)] = if self == Scenario::Failback { &[(G, 0), (B, 1)] } else { &[(G, 1)] };
        let tuples = weights
            .iter()
            .map(|(arn, w)| TargetGroupTuple::builder().target_group_arn(*arn).weight(*w).build())
            .collect();
        Action::builder()
            .r#type(ActionTypeEnum::Forward)
            .forward_config(ForwardActionConfig::builder().set_target_groups(Some(tuples)).build())
            .build()
    }

    fn tags_output(self, arns: &[String]) -> DescribeTagsOutput {
        let descriptions = arns
            .iter()
            .map(|arn| TagDescription::builder().resource_arn(arn).set_tags(Some(self.tags(arn))).build())
            .collect();
        DescribeTagsOutput::builder().set_tag_descriptions(Some(descriptions)).build()
    }

    fn health_output(self, arn: &str) -> DescribeTargetHealthOutput {
        DescribeTargetHealthOutput::builder().set_target_health_descriptions(Some(self.health(arn))).build()
    }

    fn groups_output() -> DescribeTargetGroupsOutput {
        let group = TargetGroup::builder()
            .target_group_arn(G)
            .target_type(TargetTypeEnum::Instance)
            .load_balancer_arns(LB)
            .build();
        DescribeTargetGroupsOutput::builder().target_groups(group).build()
    }

    fn listeners_output(self) -> DescribeListenersOutput {
        let listener =
            Listener::builder().listener_arn(LISTENER).load_balancer_arn(LB).default_actions(self.forward()).build();
        DescribeListenersOutput::builder().listeners(listener).build()
    }

    fn rules_output(self) -> DescribeRulesOutput {
        let default = ListenerRule::builder()
            .rule_arn(format!("{LISTENER}-default"))
            .is_default(true)
            .actions(self.forward())
            .build();
        let rule = ListenerRule::builder().rule_arn(RULE).is_default(false).actions(self.forward()).build();
        DescribeRulesOutput::builder().rules(rule).rules(default).build()
    }

    /// Rules answering every operation with this scenario's state, in the order of [`WORLD`].
    fn world(self) -> Vec<Rule> {
        vec![
            mock!(Client::describe_tags).then_compute_output(move |input| self.tags_output(input.resource_arns())),
            mock!(Client::describe_target_health)
                .then_compute_output(move |input| self.health_output(input.target_group_arn().unwrap_or_default())),
            mock!(Client::describe_target_groups).then_output(Self::groups_output),
            mock!(Client::describe_listeners).then_output(move || self.listeners_output()),
            mock!(Client::describe_rules).then_output(move || self.rules_output()),
            mock!(Client::describe_target_group_attributes).then_output(attributes_output),
            mock!(Client::deregister_targets).then_output(|| DeregisterTargetsOutput::builder().build()),
            mock!(Client::register_targets).then_output(|| RegisterTargetsOutput::builder().build()),
            mock!(Client::modify_listener).then_output(|| ModifyListenerOutput::builder().build()),
            mock!(Client::modify_rule).then_output(|| ModifyRuleOutput::builder().build()),
            mock!(aws_sdk_dynamodb::Client::query).then_output(move || self.ledger_output()),
            mock!(aws_sdk_dynamodb::Client::transact_write_items)
                .then_output(|| TransactWriteItemsOutput::builder().build()),
        ]
    }
}

/// The operations [`Scenario::world`] answers, in its order (ELB's, then the ledger's).
const WORLD: [&str; 12] = [
    "DescribeTags",
    "DescribeTargetHealth",
    "DescribeTargetGroups",
    "DescribeListeners",
    "DescribeRules",
    "DescribeTargetGroupAttributes",
    "DeregisterTargets",
    "RegisterTargets",
    "ModifyListener",
    "ModifyRule",
    "Query",
    "TransactWriteItems",
];

/// The ELB changes the world answered (the failing rule's own calls are not counted here; the ledger's
/// writes are not AWS changes).
fn changes_made(world: &[Rule]) -> Vec<&'static str> {
    WORLD
        .iter()
        .zip(world)
        .filter(|(op, rule)| !op.starts_with("Describe") && !LEDGER.contains(op) && rule.num_calls() > 0)
        .map(|(op, _)| *op)
        .collect()
}

use faulty_http::{Fault, FAULTS};

/// The ledger's calls.
const LEDGER: [&str; 2] = ["Query", "TransactWriteItems"];

/// How ELB or DynamoDB answers a fault in a mock.
trait ElbFault: Sized {
    /// The status and body a mock answers with: ELB's XML `Throttling` error (HTTP 400), or the fault's status.
    fn status_and_body(self) -> (u16, Option<String>) {
        self.answer("DescribeTags")
    }

    /// The status and body of the fault on `operation`: DynamoDB's JSON throttling error for the ledger's calls.
    fn answer(self, operation: &str) -> (u16, Option<String>);
}

impl ElbFault for Fault {
    fn answer(self, operation: &str) -> (u16, Option<String>) {
        if LEDGER.contains(&operation) && self == Fault::Throttling {
            let body = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate exceeded"}"#;
            return (400, Some(body.to_owned()));
        }
        match self.status() {
            Some(status) => (status, None),
            None => (
                400,
                Some(
                    "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error>\
                     <Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>\
                     <RequestId>r-1</RequestId></ErrorResponse>"
                        .to_owned(),
                ),
            ),
        }
    }
}

/// The group's attributes: its health thresholds as AWS's defaults (count 1, percentage off).
fn attributes_output() -> DescribeTargetGroupAttributesOutput {
    let attribute = |key: &str, value: &str| TargetGroupAttribute::builder().key(key).value(value).build();
    DescribeTargetGroupAttributesOutput::builder()
        .attributes(attribute("target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "1"))
        .attributes(attribute("target_group_health.dns_failover.minimum_healthy_targets.percentage", "off"))
        .build()
}

/// A rule for the first call of `operation`: `fault` `times` times then the scenario's answer for the group
/// (one rule, because the mock interceptor picks a rule per call and serves that call's retries from it), or
/// `fault` for ever. Later calls of the operation fall through to the world's rules.
fn fault_rule(scenario: Scenario, operation: &str, fault: Fault, times: Option<usize>) -> Rule {
    let (status, body) = fault.answer(operation);
    macro_rules! failing {
        ($op:expr, $ok:expr) => {
            test_support::failing_rule!($op, status, body.clone(), times, $ok)
        };
    }
    match operation {
        "DescribeTags" => failing!(Client::describe_tags, move || scenario.tags_output(&[G.to_owned()])),
        "DescribeTargetHealth" => failing!(Client::describe_target_health, move || scenario.health_output(G)),
        "DescribeTargetGroups" => failing!(Client::describe_target_groups, Scenario::groups_output),
        "DescribeListeners" => failing!(Client::describe_listeners, move || scenario.listeners_output()),
        "DescribeRules" => failing!(Client::describe_rules, move || scenario.rules_output()),
        "DescribeTargetGroupAttributes" => failing!(Client::describe_target_group_attributes, attributes_output),
        "DeregisterTargets" => failing!(Client::deregister_targets, || DeregisterTargetsOutput::builder().build()),
        "RegisterTargets" => failing!(Client::register_targets, || RegisterTargetsOutput::builder().build()),
        "ModifyListener" => failing!(Client::modify_listener, || ModifyListenerOutput::builder().build()),
        "ModifyRule" => failing!(Client::modify_rule, || ModifyRuleOutput::builder().build()),
        "Query" => failing!(aws_sdk_dynamodb::Client::query, move || scenario.ledger_output()),
        "TransactWriteItems" => {
            failing!(aws_sdk_dynamodb::Client::transact_write_items, || { TransactWriteItemsOutput::builder().build() })
        }
        other => panic!("no fault rule for {other}"),
    }
}

use faulty_http::ATTEMPTS;

/// A client of `$sdk` in us-east-1 answering from `rules` (see `fault_client!` in the shared support).
macro_rules! client {
    ($sdk:ident, $rules:expr) => {
        test_support::fault_client!($sdk, "us-east-1", $rules)
    };
}

/// `(outcome, action)` of every report published so far.
fn outcomes(recorder: &Recorder) -> Vec<(String, String)> {
    recorder.published().iter().map(|n| (n.outcome.as_str().to_owned(), n.action.clone())).collect()
}

fn app<'r>(rules: &[Rule], recorder: &'r Recorder) -> App<ElbClient, &'r Recorder> {
    app_with(rules, recorder)
}

/// ELB and the ledger answering from the same rules (each client uses the rules of its own operations).
fn app_with<N: Notifier + Sync>(rules: &[Rule], notifier: N) -> App<ElbClient, N> {
    let config = Config::from_lookup(&test_support::lookup(&[
        ("NOTIFICATION_TOPIC_ARN", TOPIC),
        ("LEDGER_TABLE", "failover-ledger"),
    ]))
    .unwrap();
    let home = Home { partition: "aws".into(), account: ACCOUNT.into(), region: "us-east-1".into() };
    let ledger = DynamoLedger::new(client!(aws_sdk_dynamodb, rules), "failover-ledger");
    App::with_ports(config, ElbClient::new(client!(aws_sdk_elasticloadbalancingv2, rules)), notifier, ledger, home)
}

const SCENARIOS: [Scenario; 5] =
    [Scenario::Deregister, Scenario::Shift, Scenario::Failback, Scenario::Instance, Scenario::Restore];

#[tokio::test]
async fn every_scenario_succeeds_against_the_mocked_load_balancer() {
    for scenario in SCENARIOS {
        let recorder = Recorder::default();
        let response = app(&scenario.world(), &recorder).handle(scenario.event()).await;
        let response = response.unwrap_or_else(|e| panic!("{scenario:?}: {e}"));
        assert_eq!(response.status, scenario.expected_status(), "{scenario:?}: {response:?}");
        assert!(outcomes(&recorder).iter().all(|(o, _)| o == "succeeded"), "{scenario:?}: {:?}", outcomes(&recorder));
    }
}

/// Every (scenario, operation, fault) case, run concurrently: timeouts wait for the attempt timeout.
fn cases() -> Vec<(Scenario, &'static str, Fault)> {
    faulty_http::cases(&SCENARIOS, Scenario::operations)
}

#[tokio::test]
async fn throttling_5xx_connection_failures_and_timeouts_on_each_call_are_retried_by_the_sdk_and_then_succeed() {
    futures::future::join_all(cases().into_iter().map(|(scenario, operation, fault)| async move {
        let case = format!("{scenario:?} / {operation} / {fault:?}");
        let failing = fault_rule(scenario, operation, fault, Some(ATTEMPTS - 1));
        let mut rules = vec![failing.clone()];
        rules.extend(scenario.world());
        let recorder = Recorder::default();

        let response = app(&rules, &recorder).handle(scenario.event()).await;

        let response = response.unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(response.status, scenario.expected_status(), "{case}: {response:?}");
        assert_eq!(failing.num_calls(), ATTEMPTS, "{case}: two faults, then the answer on the last attempt");
        assert!(outcomes(&recorder).iter().all(|(o, _)| o == "succeeded"), "{case}: {:?}", outcomes(&recorder));
    }))
    .await;
}

#[tokio::test]
async fn throttling_5xx_connection_failures_and_timeouts_outlasting_the_retries_return_an_error_after_a_failure_notification(
) {
    futures::future::join_all(cases().into_iter().map(|(scenario, operation, fault)| async move {
        let case = format!("{scenario:?} / {operation} / {fault:?}");
        let failing = fault_rule(scenario, operation, fault, None);
        let world = scenario.world();
        let mut rules = vec![failing.clone()];
        rules.extend(world.iter().cloned());
        let recorder = Recorder::default();

        let error = app(&rules, &recorder).handle(scenario.event()).await.expect_err(&case);

        // Never half-applied in a harmful way: nothing changes on a failed read or a failed begin (the
        // ledger's first write), and no change is made without the ledger recording it first.
        let changed = changes_made(&world);
        if operation.starts_with("Describe") || LEDGER.contains(&operation) {
            assert!(changed.is_empty(), "{case}: changed {changed:?} although {operation} failed");
        }

        assert_eq!(error.error_type(), "AwsError", "{case}: {error}");
        assert!(error.to_string().contains(operation), "{case}: {error}");
        assert!(error.to_string().contains(fault.seen_as()), "{case}: {error}");
        assert_eq!(failing.num_calls(), ATTEMPTS, "{case}: every attempt was made");
        let outcomes = outcomes(&recorder);
        assert!(outcomes.iter().any(|(o, _)| o == "failed"), "{case}: {outcomes:?}");
    }))
    .await;
}

#[tokio::test]
async fn an_access_denied_error_is_notified_but_not_returned_since_a_retry_cannot_help() {
    let body = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not allowed</Message>\
                </Error><RequestId>r-1</RequestId></ErrorResponse>";
    let denied =
        mock!(Client::deregister_targets).sequence().http_status(403, Some(body.to_owned())).repeatedly().build();
    let mut rules = vec![denied.clone()];
    rules.extend(Scenario::Deregister.world());
    let recorder = Recorder::default();

    let response = app(&rules, &recorder).handle(Scenario::Deregister.event()).await.expect("not retried");

    assert_eq!(response.status, Outcome::Failed);
    assert_eq!(denied.num_calls(), 1, "a final error is not retried by the SDK");
    assert_eq!(outcomes(&recorder), [("failed".to_owned(), "deregister-targets".to_owned())]);
}

#[tokio::test]
async fn a_listener_and_rule_without_the_opt_in_tag_are_refused_in_one_describe_tags_before_anything_changes() {
    // The group's tags come from the world; the listener's and rule's, read together, lack the opt-in tag.
    let untagged = mock!(Client::describe_tags)
        .match_requests(|input| input.resource_arns().iter().any(|arn| arn == LISTENER))
        .then_compute_output(|input| {
            let descriptions =
                input.resource_arns().iter().map(|arn| TagDescription::builder().resource_arn(arn).build());
            DescribeTagsOutput::builder().set_tag_descriptions(Some(descriptions.collect())).build()
        });
    let world = Scenario::Shift.world();
    let mut rules = vec![untagged.clone()];
    rules.extend(world.iter().cloned());
    let recorder = Recorder::default();

    let response = app(&rules, &recorder).handle(Scenario::Shift.event()).await.expect("a refusal");

    assert_eq!(response.status, Outcome::Refused, "{response:?}");
    assert_eq!(untagged.num_calls(), 1, "the listener and the rule in one DescribeTags");
    assert!(changes_made(&world).is_empty(), "changed {:?}", changes_made(&world));
    assert_eq!(outcomes(&recorder), [("refused".to_owned(), "shift-traffic".to_owned())]);
    let sent = recorder.published();
    let steps = sent[0].next_steps.join(" ");
    assert!(steps.contains(&format!("--resource-arns {LISTENER} {RULE}")), "{steps}");
    assert!(steps.contains("Key=failover:enabled,Value=true"), "{steps}");
}

#[tokio::test]
async fn a_group_that_aws_says_does_not_exist_is_skipped_without_error_or_notification() {
    use aws_sdk_elasticloadbalancingv2::operation::describe_tags::DescribeTagsError;
    use aws_sdk_elasticloadbalancingv2::types::error::TargetGroupNotFoundException;
    // AWS fails the whole DescribeTags batch for one missing group (moto answers with empty tags instead).
    let missing = mock!(Client::describe_tags).then_error(|| {
        DescribeTagsError::TargetGroupNotFoundException(TargetGroupNotFoundException::builder().build())
    });
    // A group alarm reads the group's ledger beside its tags (our own table); nothing more.
    let ledger = mock!(aws_sdk_dynamodb::Client::query).then_output(|| Scenario::Deregister.ledger_output());
    let recorder = Recorder::default();

    let response =
        app(&[missing.clone(), ledger.clone()], &recorder).handle(Scenario::Deregister.event()).await.expect("a skip");

    assert_eq!(response.status, Outcome::Skipped, "{response:?}");
    assert!(response.message.contains("does not exist"), "{response:?}");
    assert_eq!(missing.num_calls(), 2, "the batch, then the group alone");
    assert_eq!(ledger.num_calls(), 1, "the group's ledger, read beside its tags");
    assert!(outcomes(&recorder).is_empty());
}

#[tokio::test]
async fn a_notification_that_cannot_be_published_keeps_the_change_and_asks_for_a_retry() {
    futures::future::join_all(FAULTS.map(|fault| async move {
        let (status, body) = fault.status_and_body();
        let publish = mock!(aws_sdk_sns::Client::publish).sequence().http_status(status, body).repeatedly().build();
        let notifier = SnsNotifier::new(client!(aws_sdk_sns, [&publish]), TOPIC.to_owned(), NotificationFormat::Json);
        let world = Scenario::Deregister.world();

        let response = app_with(&world, notifier).handle(Scenario::Deregister.event()).await;

        // The change stands; the error asks for Lambda's retry, which publishes the notification this run owes.
        let error = response.expect_err(&format!("{fault:?}"));
        assert_eq!(error.error_type(), "Unpublished", "{fault:?}: {error}");
        assert!(error.to_string().contains("not published"), "{fault:?}: {error}");
        assert_eq!(changes_made(&world), ["DeregisterTargets"], "{fault:?}");
        assert_eq!(publish.num_calls(), ATTEMPTS, "{fault:?}: the SDK retried the publication");
    }))
    .await;
}

#[tokio::test]
async fn opt_in_values_other_than_exactly_true_do_not_opt_a_group_in_and_nothing_changes() {
    // IAM compares the tag with StringEquals: `TRUE` or ` true` would let the function pick a group that IAM
    // then refuses to touch, so they do not opt in.
    for value in ["TRUE", " true"] {
        for scenario in [Scenario::Deregister, Scenario::Shift, Scenario::Restore] {
            let case = format!("{scenario:?} / {value:?}");
            let almost = mock!(Client::describe_tags).then_compute_output(move |input| {
                let descriptions = input.resource_arns().iter().map(|arn| {
                    let tag = Tag::builder().key("failover:enabled").value(value).build();
                    TagDescription::builder().resource_arn(arn).tags(tag).build()
                });
                DescribeTagsOutput::builder().set_tag_descriptions(Some(descriptions.collect())).build()
            });
            let world = scenario.world();
            let mut rules = vec![almost.clone()];
            rules.extend(world.iter().cloned());
            let recorder = Recorder::default();

            let response = app(&rules, &recorder).handle(scenario.event()).await.expect(&case);

            assert_eq!(response.status, Outcome::Skipped, "{case}: {response:?}");
            assert!(response.message.contains("not opted in"), "{case}: {response:?}");
            assert!(changes_made(&world).is_empty(), "{case}: changed {:?}", changes_made(&world));
            assert!(outcomes(&recorder).is_empty(), "{case}: {:?}", outcomes(&recorder));
        }
    }
}

#[tokio::test]
async fn a_failed_ledger_end_after_the_change_returns_an_error_after_a_failure_notification() {
    // `end` is the transaction without the pause check: it fails after the targets left the group.
    let (status, body) = Fault::Unavailable.answer("TransactWriteItems");
    let end = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .match_requests(|input| input.transact_items().iter().all(|item| item.condition_check().is_none()))
        .sequence()
        .http_status(status, body)
        .repeatedly()
        .build();
    let world = Scenario::Deregister.world();
    let mut rules = vec![end.clone()];
    rules.extend(world.iter().cloned());
    let recorder = Recorder::default();

    let error = app(&rules, &recorder).handle(Scenario::Deregister.event()).await.expect_err("retried");

    assert_eq!(changes_made(&world), ["DeregisterTargets"]);
    assert_eq!(end.num_calls(), ATTEMPTS);
    assert_eq!(error.error_type(), "AwsError", "{error}");
    assert!(error.to_string().contains("TransactWriteItems"), "{error}");
    assert_eq!(outcomes(&recorder), [("failed".to_owned(), "deregister-targets".to_owned())]);
    assert!(recorder.published()[0].title.contains("targets were deregistered"), "{:?}", recorder.published());
}
