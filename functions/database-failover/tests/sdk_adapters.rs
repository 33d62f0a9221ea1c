//! The SDK adapters and the handler's error policy under faults the local AWS cannot produce: throttling and
//! 5xx (retried by the SDK; on exhaustion an error is returned after a failure notification, and a retry of
//! the event completes the same promotion, never another), a permanent error (reported, not retried), a
//! source region that does not answer, and the CloudWatch lag query (which the local AWS cannot serve: it does
//! not speak rpc-v2-cbor).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_rds::operation::add_tags_to_resource::AddTagsToResourceOutput;
use aws_sdk_rds::operation::describe_db_instances::DescribeDbInstancesOutput;
use aws_sdk_rds::operation::promote_read_replica::PromoteReadReplicaOutput;
use aws_sdk_rds::types::{DbInstance, Endpoint, Tag};
use aws_smithy_mocks::{mock, MockResponseInterceptor, Rule, RuleMode};
use database_failover::adapters::{CloudWatchLag, RdsDatabases, Route53Dns};
use database_failover::ports::{LagMetric, ReplicaLag};
use database_failover::{App, Config};
use serde_json::{json, Value};
use shared::invoke::InvokeError;
use shared::notify::{Notification, Notifier, NotifyError, Outcome};
use shared::response::Status;

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:failover";
const THROTTLED: &str = "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type>\
    <Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
const ACCESS_DENIED: &str = "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender\
    </Type><Code>AccessDenied</Code><Message>not authorized</Message></Error><RequestId>r-2</RequestId></ErrorResponse>";

/// A client of `$sdk` answering from `rules`, retrying 3 times with a 1 ms backoff.
macro_rules! client {
    ($sdk:ident, $region:expr, $rules:expr) => {{
        let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new($region))
                .credentials_provider($sdk::config::Credentials::new("AKID", "secret", None, None, "test"))
                .http_client(aws_smithy_mocks::create_mock_http_client())
                .interceptor(interceptor)
                .retry_config(
                    $sdk::config::retry::RetryConfig::standard()
                        .with_max_attempts(3)
                        .with_initial_backoff(Duration::from_millis(1)),
                )
                .build(),
        )
    }};
}

#[derive(Clone, Default)]
struct Recorded(Arc<Mutex<Vec<Notification>>>);

impl Recorded {
    fn outcomes(&self) -> Vec<Outcome> {
        self.0.lock().unwrap().iter().map(|n| n.outcome).collect()
    }
}

impl Notifier for Recorded {
    async fn publish(&self, notification: &Notification) -> Result<(), NotifyError> {
        self.0.lock().unwrap().push(notification.clone());
        Ok(())
    }
}

fn tag(key: &str, value: &str) -> Tag {
    Tag::builder().key(key).value(value).build()
}

fn db(id: &str, region: &str, status: &str) -> aws_sdk_rds::types::builders::DbInstanceBuilder {
    DbInstance::builder()
        .db_instance_identifier(id)
        .db_instance_arn(format!("arn:aws:rds:{region}:123456789012:db:{id}"))
        .db_instance_status(status)
        .endpoint(Endpoint::builder().address(format!("{id}.abc.{region}.rds.amazonaws.com")).port(3306).build())
        .tag_list(tag("failover:enabled", "true"))
}

fn describe(id: &'static str, instance: DbInstance) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(move |r| r.db_instance_identifier() == Some(id))
        .then_output(move || DescribeDbInstancesOutput::builder().db_instances(instance.clone()).build())
}

fn add_tags() -> Rule {
    mock!(aws_sdk_rds::Client::add_tags_to_resource).then_output(|| AddTagsToResourceOutput::builder().build())
}

fn promote_ok(id: &'static str) -> Rule {
    mock!(aws_sdk_rds::Client::promote_read_replica)
        .match_requests(move |r| r.db_instance_identifier() == Some(id))
        .then_output(|| PromoteReadReplicaOutput::builder().build())
}

fn lag(values: &[(&str, f64)]) -> Rule {
    let results: Vec<(String, f64)> = values.iter().map(|(i, v)| (i.to_string(), *v)).collect();
    mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(move || {
        let mut out = GetMetricDataOutput::builder();
        for (id, v) in &results {
            out = out.metric_data_results(MetricDataResult::builder().id(id).values(*v).build());
        }
        out.build()
    })
}

fn config(pairs: &[(&str, &str)]) -> Config {
    let mut all = vec![("NOTIFICATION_TOPIC_ARN".to_owned(), TOPIC.to_owned())];
    all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(&move |name| all.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap()
}

fn app(
    region: &str,
    settings: &[(&str, &str)],
    rds: &[&Rule],
    cloudwatch: &[&Rule],
    notifier: &Recorded,
) -> App<RdsDatabases, CloudWatchLag, Route53Dns, Recorded> {
    let route53: &[&Rule] = &[];
    App::with_ports(
        config(settings),
        region.to_owned(),
        RdsDatabases::new(client!(aws_sdk_rds, region.to_owned(), rds)),
        CloudWatchLag::new(client!(aws_sdk_cloudwatch, region.to_owned(), cloudwatch)),
        Route53Dns::new(client!(aws_sdk_route53, region.to_owned(), route53)),
        notifier.clone(),
    )
}

fn failure_event() -> Value {
    json!({
        "version": "0", "id": "1", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
        "account": "123456789012", "time": "2024-05-01T10:07:12Z", "region": "us-east-1", "resources": [],
        "detail": {"SourceType": "DB_INSTANCE", "SourceArn": "arn:aws:rds:us-east-1:123456789012:db:orders",
                   "Message": "DB instance put into failed state.", "EventID": "RDS-EVENT-0031"}
    })
}

/// orders (failed) with replicas r1 and r2; `record` is the `failover:promoted` tag, if any.
fn orders(record: Option<&str>) -> Rule {
    let mut primary = db("orders", "us-east-1", "failed")
        .read_replica_db_instance_identifiers("r1")
        .read_replica_db_instance_identifiers("r2");
    if let Some(value) = record {
        primary = primary.tag_list(tag("failover:promoted", value));
    }
    describe("orders", primary.build())
}

fn replica(id: &'static str) -> Rule {
    describe(id, db(id, "us-east-1", "available").read_replica_source_db_instance_identifier("orders").build())
}

#[tokio::test]
async fn throttled_promotion_should_be_retried_by_the_sdk_and_succeed_once() {
    let (primary, r1, r2, tags) = (orders(None), replica("r1"), replica("r2"), add_tags());
    let promote = mock!(aws_sdk_rds::Client::promote_read_replica)
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .times(2)
        .output(|| PromoteReadReplicaOutput::builder().build())
        .build();
    let lags = lag(&[("m0", 2.0), ("m1", 9.0)]);
    let notes = Recorded::default();
    let app = app("us-east-1", &[], &[&primary, &r1, &r2, &tags, &promote], &[&lags], &notes);

    let response = app.handle(failure_event()).await.expect("succeeds after the SDK's retries");

    assert_eq!(response.status, Status::Succeeded, "{response:?}");
    assert_eq!(promote.num_calls(), 3, "two throttled attempts, then success");
    assert_eq!(tags.num_calls(), 2, "the record on the primary and on the replica, once each");
    assert_eq!(lags.num_calls(), 1);
    assert_eq!(notes.outcomes(), [Outcome::Succeeded]);
}

#[tokio::test]
async fn promotion_failing_with_5xx_should_error_after_a_failure_notification_and_the_retry_should_promote_the_same_replica(
) {
    let (primary, r1, r2, tags) = (orders(None), replica("r1"), replica("r2"), add_tags());
    let unavailable =
        mock!(aws_sdk_rds::Client::promote_read_replica).sequence().http_status(503, None).repeatedly().build();
    let lags = lag(&[("m0", 2.0), ("m1", 9.0)]);
    let notes = Recorded::default();
    let first = app("us-east-1", &[], &[&primary, &r1, &r2, &tags, &unavailable], &[&lags], &notes);

    match first.handle(failure_event()).await {
        Err(InvokeError::Aws(message)) => assert!(message.contains("PromoteReadReplica"), "{message}"),
        other => panic!("expected a retryable error, got {other:?}"),
    }
    assert_eq!(unavailable.num_calls(), 3, "the SDK's three attempts");
    assert_eq!(notes.outcomes(), [Outcome::Failed]);
    let next_steps = notes.0.lock().unwrap()[0].next_steps.clone();
    assert!(next_steps[0].contains("completes this same promotion"), "{next_steps:?}");

    // Lambda's retry: the record written before promoting now names r1; r2 looks better, and is not touched.
    let recorded = orders(Some("r1@2024-05-01T10:07:12Z"));
    let (promote_r1, promote_r2) = (promote_ok("r1"), promote_ok("r2"));
    let lags = lag(&[("m0", 25.0), ("m1", 0.0)]);
    let notes = Recorded::default();
    let retry = app("us-east-1", &[], &[&recorded, &r1, &r2, &add_tags(), &promote_r1, &promote_r2], &[&lags], &notes);

    let response = retry.handle(failure_event()).await.expect("the retry completes");

    assert_eq!(response.status, Status::Succeeded, "{response:?}");
    assert_eq!((promote_r1.num_calls(), promote_r2.num_calls()), (1, 0));
    assert_eq!(notes.outcomes(), [Outcome::Succeeded]);
}

#[tokio::test]
async fn throttled_describe_should_error_after_a_failure_notification_without_touching_anything() {
    let throttled = mock!(aws_sdk_rds::Client::describe_db_instances)
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .repeatedly()
        .build();
    let (tags, promote) = (add_tags(), promote_ok("r1"));
    let notes = Recorded::default();
    let app = app("us-east-1", &[], &[&throttled, &tags, &promote], &[], &notes);

    match app.handle(failure_event()).await {
        Err(InvokeError::Aws(message)) => assert!(message.contains("Throttling"), "{message}"),
        other => panic!("expected a retryable error, got {other:?}"),
    }
    assert_eq!(throttled.num_calls(), 3);
    assert_eq!((tags.num_calls(), promote.num_calls()), (0, 0));
    assert_eq!(notes.outcomes(), [Outcome::Failed]);
}

#[tokio::test]
async fn permanent_errors_should_be_reported_and_not_retried() {
    let (primary, r1, r2, tags) = (orders(None), replica("r1"), replica("r2"), add_tags());
    let denied = mock!(aws_sdk_rds::Client::promote_read_replica)
        .sequence()
        .http_status(403, Some(ACCESS_DENIED.to_owned()))
        .repeatedly()
        .build();
    let lags = lag(&[("m0", 2.0), ("m1", 9.0)]);
    let notes = Recorded::default();
    let app = app("us-east-1", &[], &[&primary, &r1, &r2, &tags, &denied], &[&lags], &notes);

    let response = app.handle(failure_event()).await.expect("a permanent error is not handed to Lambda's retries");

    assert_eq!(response.status, Status::Failed, "{response:?}");
    assert_eq!(denied.num_calls(), 1, "not retried by the SDK");
    assert_eq!(notes.outcomes(), [Outcome::Failed]);
    assert!(notes.0.lock().unwrap()[0].summary.contains("AccessDenied"));
}

#[tokio::test]
async fn an_unreachable_source_region_should_allow_cross_region_promotion_only_when_configured() {
    let west_replica = db("orders-west", "us-west-2", "available")
        .read_replica_source_db_instance_identifier("arn:aws:rds:us-east-1:123456789012:db:orders")
        .build();
    let event = json!({
        "version": "0", "id": "2", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
        "account": "123456789012", "time": "2024-05-01T10:07:12Z", "region": "us-west-2", "resources": [],
        "detail": {"SourceType": "DB_INSTANCE", "SourceArn": "arn:aws:rds:us-west-2:123456789012:db:orders-west",
                   "Message": "Replication has stopped.", "EventID": "RDS-EVENT-0045"}
    });
    for (allowed, expected) in [("false", Status::Refused), ("true", Status::Succeeded)] {
        let replica = describe("orders-west", west_replica.clone());
        // The east region (derived client, same interceptor) answers nothing but 503.
        let east_down = mock!(aws_sdk_rds::Client::describe_db_instances)
            .match_requests(|r| r.db_instance_identifier() == Some("orders"))
            .sequence()
            .http_status(503, None)
            .repeatedly()
            .build();
        let listing = mock!(aws_sdk_rds::Client::describe_db_instances)
            .match_requests(|r| r.db_instance_identifier().is_none())
            .then_output({
                let west_replica = west_replica.clone();
                move || DescribeDbInstancesOutput::builder().db_instances(west_replica.clone()).build()
            });
        let (tags, promote) = (add_tags(), promote_ok("orders-west"));
        let lags = lag(&[("m0", 1.0)]);
        let notes = Recorded::default();
        let app = app(
            "us-west-2",
            &[("ALLOW_CROSS_REGION", allowed)],
            &[&replica, &east_down, &listing, &tags, &promote],
            &[&lags],
            &notes,
        );

        let response = app.handle(event.clone()).await.expect("handled");

        assert_eq!(response.status, expected, "ALLOW_CROSS_REGION={allowed}: {response:?}");
        assert_eq!(promote.num_calls(), usize::from(allowed == "true"));
        if allowed == "true" {
            assert_eq!(tags.num_calls(), 1, "only the replica can carry the record: the primary is unreachable");
        }
    }
}

#[tokio::test]
async fn lag_adapter_should_query_every_replica_in_one_call_and_read_maxima_per_replica() {
    let rule = mock!(aws_sdk_cloudwatch::Client::get_metric_data)
        .match_requests(|r| {
            let queries = r.metric_data_queries();
            queries.len() == 3
                && queries.iter().enumerate().all(|(i, q)| {
                    let stat = q.metric_stat().unwrap();
                    let metric = stat.metric().unwrap();
                    q.id() == Some(format!("m{i}").as_str())
                        && stat.stat() == Some("Maximum")
                        && stat.period() == Some(60)
                        && metric.namespace() == Some("AWS/RDS")
                        && metric.metric_name() == Some("ReplicaLag")
                        && metric.dimensions()[0].name() == Some("DBInstanceIdentifier")
                })
                && r.end_time().zip(r.start_time()).is_some_and(|(e, s)| e.secs() - s.secs() == 300)
        })
        .then_output(|| {
            GetMetricDataOutput::builder()
                .metric_data_results(MetricDataResult::builder().id("m0").values(4.0).values(2.0).build())
                .metric_data_results(MetricDataResult::builder().id("m2").values(-1.0).build())
                .build()
        });
    let lag = CloudWatchLag::new(client!(aws_sdk_cloudwatch, "us-east-1", [&rule]));
    let ids = ["a".to_owned(), "b".to_owned(), "c".to_owned()];

    let values = lag.lags("us-east-1", LagMetric::ReplicaLag, &ids).await.expect("lags");

    assert_eq!(rule.num_calls(), 1);
    assert_eq!(values["a"], [4.0, 2.0]);
    assert!(values["b"].is_empty(), "no data is an empty list, never a zero");
    assert_eq!(values["c"], [-1.0]);
}
