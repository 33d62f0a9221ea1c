//! The SDK adapters and the handler's error policy under faults the local AWS cannot produce: throttling, 5xx,
//! connection failures and timeouts on every AWS call of the three main scenarios, the ledger's `Query` and
//! `TransactWriteItems` included (retried by the SDK; on exhaustion an error is returned after a failure
//! notification, nothing is changed after a failed read or a failed `begin`, and a failed `end` after the change
//! errs after the notification), a retry of the event completing the same promotion, never another, a permanent error (reported, not retried), a source region that does not
//! answer, a notification that cannot be published, and the CloudWatch lag query (which the local AWS cannot
//! serve: it does not speak rpc-v2-cbor).

use std::sync::Arc;

use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataOutput;
use aws_sdk_cloudwatch::types::MetricDataResult;
use aws_sdk_rds::operation::describe_db_instances::{DescribeDbInstancesInput, DescribeDbInstancesOutput};
use aws_sdk_rds::operation::promote_read_replica::PromoteReadReplicaOutput;
use aws_sdk_rds::types::{DbInstance, Endpoint, Tag};
use aws_smithy_mocks::{mock, Rule};
use database_failover::adapters::{CloudWatchLag, RdsDatabases, Route53Dns};
use database_failover::ports::{LagMetric, ReplicaLag};
use database_failover::{App, Config};
use failover_core::invoke::InvokeError;
use failover_core::ledger::{Ledger, State};
use failover_core::notify::Notifier;
use failover_core::outcome::Outcome;
use failover_core::response::Response;
use serde_json::{json, Value};

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:failover";
const THROTTLED: &str = "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type>\
    <Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
const ACCESS_DENIED: &str = "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender\
    </Type><Code>AccessDenied</Code><Message>not authorized</Message></Error><RequestId>r-2</RequestId></ErrorResponse>";

use test_support::memory_ledger::SharedLedger;
use test_support::{faulty_http, Recorder};

/// A client of `$sdk` answering from `rules` (see `fault_client!` in the shared support).
macro_rules! client {
    ($sdk:ident, $region:expr, $rules:expr) => {
        test_support::fault_client!($sdk, $region, $rules)
    };
}

/// The notifications an app published, shared with the test that asserts on them.
type Recorded = Arc<Recorder>;

/// The outcomes published so far, in order.
fn outcomes(notes: &Recorder) -> Vec<Outcome> {
    notes.published().iter().map(|n| n.outcome).collect()
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

/// The values of a `DescribeDBInstances` request's `db-instance-id` filter, when that is all it asks.
fn instance_ids(r: &DescribeDbInstancesInput) -> Vec<&str> {
    match (r.db_instance_identifier(), r.filters()) {
        (None, [filter]) if filter.name() == Some("db-instance-id") => {
            filter.values().iter().map(String::as_str).collect()
        }
        _ => Vec::new(),
    }
}

/// ONE `DescribeDBInstances` of exactly `ids` (a `db-instance-id` filter), answered with `instances`.
fn describe_ids(ids: &'static [&'static str], instances: Vec<DbInstance>) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_instances)
        .match_requests(move |r| instance_ids(r) == ids)
        .then_output(move || instances_output(instances.clone()))
}

fn promote_ok(id: &'static str) -> Rule {
    mock!(aws_sdk_rds::Client::promote_read_replica)
        .match_requests(move |r| r.db_instance_identifier() == Some(id))
        .then_output(move || promoted(id))
}

/// `PromoteReadReplica`'s answer: the instance as the promotion left it (here at once `available`, no longer
/// a replica).
fn promoted(id: &str) -> PromoteReadReplicaOutput {
    PromoteReadReplicaOutput::builder().db_instance(db(id, "us-east-1", "available").build()).build()
}

/// One datapoint per query id, a minute into the window asked for (so: before the failure).
fn lag(values: &[(&str, f64)]) -> Rule {
    let results: Vec<(String, f64)> = values.iter().map(|(i, v)| (i.to_string(), *v)).collect();
    mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_compute_output(move |input| {
        // The query starts the onset window (15 min), the look-back (5 min) and a period before the trigger:
        // the datapoint is the minute that ended a minute before the trigger.
        let start = input.start_time().map_or(0, |t| t.secs());
        let minute = aws_smithy_types::DateTime::from_secs(start + (15 + 5 + 1 - 2) * 60);
        let mut out = GetMetricDataOutput::builder();
        for (id, v) in &results {
            out = out.metric_data_results(MetricDataResult::builder().id(id).timestamps(minute).values(*v).build());
        }
        out.build()
    })
}

fn config(pairs: &[(&str, &str)]) -> Config {
    let mut all = vec![
        ("NOTIFICATION_TOPIC_ARN".to_owned(), TOPIC.to_owned()),
        ("LEDGER_TABLE".to_owned(), "failover-ledger".to_owned()),
    ];
    all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Config::from_lookup(&move |name| all.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())).unwrap()
}

fn app(
    region: &str,
    settings: &[(&str, &str)],
    rds: &[&Rule],
    cloudwatch: &[&Rule],
    notifier: &Recorded,
    ledger: &SharedLedger,
) -> App<RdsDatabases, CloudWatchLag, Route53Dns, Recorded, SharedLedger> {
    app_with(region, settings, rds, cloudwatch, &[], notifier.clone(), ledger.clone())
}

fn app_with<N: Notifier + Sync, G: Ledger>(
    region: &str,
    settings: &[(&str, &str)],
    rds: &[&Rule],
    cloudwatch: &[&Rule],
    route53: &[&Rule],
    notifier: N,
    ledger: G,
) -> App<RdsDatabases, CloudWatchLag, Route53Dns, N, G> {
    App::with_ports(
        config(settings),
        region.to_owned(),
        RdsDatabases::new(client!(aws_sdk_rds, region.to_owned(), rds)),
        CloudWatchLag::new(client!(aws_sdk_cloudwatch, region.to_owned(), cloudwatch)),
        Route53Dns::new(client!(aws_sdk_route53, region.to_owned(), route53)),
        notifier,
        ledger,
    )
}

/// The ledger's promotion record on orders (`promotion#<time>`, or `promotion` as earlier versions wrote it).
fn promotion_record(ledger: &SharedLedger) -> failover_core::ledger::Record {
    let records = ledger.records();
    records.into_iter().find(|r| database_failover::model::is_promotion_key(&r.key)).expect("a promotion record")
}

fn failure_event() -> Value {
    json!({
        "version": "0", "id": "1", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
        "account": "123456789012", "time": "2024-05-01T10:07:12Z", "region": "us-east-1", "resources": [],
        "detail": {"SourceType": "DB_INSTANCE", "SourceArn": "arn:aws:rds:us-east-1:123456789012:db:orders",
                   "Message": "DB instance put into failed state.", "EventID": "RDS-EVENT-0031"}
    })
}

/// orders (failed) with replicas r1 and r2.
fn orders() -> Rule {
    let primary = db("orders", "us-east-1", "failed")
        .read_replica_db_instance_identifiers("r1")
        .read_replica_db_instance_identifiers("r2");
    describe("orders", primary.build())
}

/// orders' replicas r1 and r2, described together; AWS's answer need not follow the filter's order (r2 first),
/// the primary's list does.
fn replicas() -> Rule {
    describe_ids(&["r1", "r2"], vec![orders_replica("r2"), orders_replica("r1")])
}

#[tokio::test]
async fn throttled_promotion_should_be_retried_by_the_sdk_and_succeed_once() {
    let (primary, replicas, ledger) = (orders(), replicas(), SharedLedger::default());
    let promote = mock!(aws_sdk_rds::Client::promote_read_replica)
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .times(2)
        .output(|| promoted("r1"))
        .build();
    let lags = lag(&[("m0", 2.0), ("m1", 9.0)]);
    let notes = Recorded::default();
    let app = app("us-east-1", &[], &[&primary, &replicas, &promote], &[&lags], &notes, &ledger);

    let response = app.handle(failure_event()).await.expect("succeeds after the SDK's retries");

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!((primary.num_calls(), replicas.num_calls()), (1, 1), "the primary, then both replicas in one call");
    assert_eq!(promote.num_calls(), 3, "two throttled attempts, then success");
    let record = promotion_record(&ledger);
    assert_eq!((record.resource.as_str(), record.state), ("db-instance:us-east-1/orders", State::Done));
    assert_eq!(record.data["replica"]["id"], "r1");
    assert_eq!(lags.num_calls(), 1);
    assert_eq!(outcomes(&notes), [Outcome::Succeeded]);
}

#[tokio::test]
async fn promotion_failing_with_5xx_should_error_after_a_failure_notification_and_the_retry_should_promote_the_same_replica(
) {
    let (primary, replicas, ledger) = (orders(), replicas(), SharedLedger::default());
    let unavailable =
        mock!(aws_sdk_rds::Client::promote_read_replica).sequence().http_status(503, None).repeatedly().build();
    let lags = lag(&[("m0", 2.0), ("m1", 9.0)]);
    let notes = Recorded::default();
    let first = app("us-east-1", &[], &[&primary, &replicas, &unavailable], &[&lags], &notes, &ledger);

    match first.handle(failure_event()).await {
        Err(error @ InvokeError::Retry { .. }) => assert!(error.to_string().contains("PromoteReadReplica"), "{error}"),
        other => panic!("expected a retryable error, got {other:?}"),
    }
    assert_eq!(unavailable.num_calls(), 3, "the SDK's three attempts");
    assert_eq!(outcomes(&notes), [Outcome::Failed]);
    let next_steps = notes.published()[0].next_steps.clone();
    assert!(next_steps[0].contains("completes this same promotion"), "{next_steps:?}");
    assert_eq!(promotion_record(&ledger).state, State::Pending, "left pending for the retry");

    // Lambda's retry: the record written before promoting names r1; r2 looks better, and is not touched.
    let (promote_r1, promote_r2) = (promote_ok("r1"), promote_ok("r2"));
    let lags = lag(&[("m0", 25.0), ("m1", 0.0)]);
    let notes = Recorded::default();
    let retry = app("us-east-1", &[], &[&primary, &replicas, &promote_r1, &promote_r2], &[&lags], &notes, &ledger);

    let response = retry.handle(failure_event()).await.expect("the retry completes");

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!((promote_r1.num_calls(), promote_r2.num_calls()), (1, 0));
    assert_eq!(outcomes(&notes), [Outcome::Succeeded]);
    let record = promotion_record(&ledger);
    assert_eq!((record.state, record.data["replica"]["id"].as_str()), (State::Done, Some("r1")));
}

#[tokio::test]
async fn a_promotion_whose_end_was_lost_should_be_completed_by_the_next_invocation_once_the_lease_ran_out() {
    use failover_core::ledger::{Begin, Begun, Record};
    // An invocation promoted r1 and died before `end`: its lease ran out, its record is pending, r1 is standalone.
    let (ledger, resource) = (SharedLedger::default(), "db-instance:us-east-1/orders");
    let then = failover_core::time::now_secs() - 120;
    let data =
        json!({"replica": {"region": "us-east-1", "id": "r1"}, "decided_at": failover_core::time::format_time(then)});
    let record = Record::pending(resource, "promotion", "dead", "RDS-EVENT-0031", then, 86_400).with_data(data);
    let snapshot = ledger.read(resource, then).await.unwrap();
    let begin =
        Begin { owner: "dead", now: then, hold_secs: 60, retention_secs: 86_400, records: &[record], force: false };
    assert!(matches!(ledger.begin(&snapshot, &begin).await.unwrap(), Begun::Started { .. }));
    let primary = db("orders", "us-east-1", "failed").tag_list(tag("failover:dns-record", RECORD));
    let primary = describe("orders", primary.read_replica_db_instance_identifiers("r2").build());
    // r1, promoted, has left the primary's list: it joins r2's call.
    let r1_alone = db("r1", "us-east-1", "available").build();
    let (r1, r2) =
        (describe("r1", r1_alone.clone()), describe_ids(&["r2", "r1"], vec![orders_replica("r2"), r1_alone]));
    let (promote, lags) = (promote_ok("r1"), lag(&[("m0", 1.0)]));
    let dns = mock!(aws_sdk_route53::Client::change_resource_record_sets).then_output(dns_output);
    let record = mock!(aws_sdk_route53::Client::list_resource_record_sets).then_output(record_output);
    let synced = mock!(aws_sdk_route53::Client::get_change).then_output(change_in_sync);
    let notes = Recorded::default();
    let rds = [&primary, &r1, &r2, &promote];
    let app = app_with("us-east-1", &[], &rds, &[&lags], &[&dns, &record, &synced], notes.clone(), ledger.clone());

    let response = app.handle(failure_event()).await.expect("completed");

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!((promote.num_calls(), dns.num_calls()), (0, 1), "not promoted again; the DNS step done");
    let record = promotion_record(&ledger);
    assert_eq!((record.state, record.data["replica"]["id"].as_str()), (State::Done, Some("r1")));
    assert_ne!(record.owner, "dead", "settled by the invocation that took over");
    assert_eq!(outcomes(&notes), [Outcome::Succeeded]);
}

/// `FailoverDBCluster` answering `status` `times` times, then succeeding.
fn failing_failover(status: u16, times: usize) -> Rule {
    mock!(aws_sdk_rds::Client::failover_db_cluster)
        .sequence()
        .http_status(status, None)
        .times(times)
        .output(|| FailoverDbClusterOutput::builder().build())
        .repeatedly()
        .build()
}

/// The function over the cluster `catalog` (writer w, reader a) and its `failover` rule.
fn aurora_app(
    failover: &Rule,
    notes: &Recorded,
    ledger: &SharedLedger,
) -> App<RdsDatabases, CloudWatchLag, Route53Dns, Recorded, SharedLedger> {
    let cluster = mock!(aws_sdk_rds::Client::describe_db_clusters)
        .then_output(|| DescribeDbClustersOutput::builder().db_clusters(catalog()).build());
    aurora_app_with(&cluster, failover, notes, ledger)
}

/// [`aurora_app`] with its own `DescribeDBClusters` rule.
fn aurora_app_with(
    clusters: &Rule,
    failover: &Rule,
    notes: &Recorded,
    ledger: &SharedLedger,
) -> App<RdsDatabases, CloudWatchLag, Route53Dns, Recorded, SharedLedger> {
    let members = mock!(aws_sdk_rds::Client::describe_db_instances)
        .then_output(|| instances_output(vec![cluster_member("w"), cluster_member("a")]));
    let events = mock!(aws_sdk_rds::Client::describe_events).then_output(|| DescribeEventsOutput::builder().build());
    app("us-east-1", &[], &[clusters, &members, &events, failover], &[&lag(&[("m0", 3.0)])], notes, ledger)
}

/// `catalog` with writer `w` for the first `describes` calls, then after a failover to `a`.
fn writer_moves_after(describes: usize) -> Rule {
    mock!(aws_sdk_rds::Client::describe_db_clusters)
        .sequence()
        .output(|| DescribeDbClustersOutput::builder().db_clusters(catalog()).build())
        .times(describes)
        .output(writer_a)
        .repeatedly()
        .build()
}

#[tokio::test]
async fn a_cluster_failover_that_failed_transiently_should_stay_pending_so_that_the_retry_completes_it_then_the_cooldown_holds(
) {
    let (failover, ledger, notes) = (failing_failover(503, 3), SharedLedger::default(), Recorded::default());
    let app = aurora_app(&failover, &notes, &ledger);
    let alarm = Scenario::Aurora.event();

    assert!(
        matches!(app.handle(alarm.clone()).await, Err(InvokeError::Retry { .. })),
        "a transient failure is retried"
    );
    let records = ledger.records();
    assert_eq!((records.len(), records[0].state), (1, State::Pending), "the decision stands: {records:?}");

    let retry = app.handle(alarm.clone()).await.expect("the retry acts");
    assert_eq!(retry.status, Outcome::Succeeded, "the retry completes the pending failover: {retry:?}");
    let records = ledger.records();
    assert_eq!((records.len(), records[0].state), (1, State::Done), "the same record, done: {records:?}");
    assert!(records[0].data["done_at"].as_i64().is_some(), "the cooldown runs from the success: {records:?}");
    let again = app.handle(alarm).await.expect("a duplicate alarm");
    assert_eq!(again.status, Outcome::Skipped, "a done one does: {again:?}");
    assert_eq!(failover.num_calls(), 4, "three failed attempts, then one failover");
    let states: Vec<State> = ledger.records().iter().map(|r| r.state).collect();
    assert_eq!(states.iter().filter(|s| **s == State::Done).count(), 1, "{states:?}");
    assert_eq!(outcomes(&notes), [Outcome::Failed, Outcome::Succeeded]);
}

/// The writer read again inside the lease, right before FailoverDBCluster: AWS made `a` the writer between the
/// decision (writer `w`) and the call. Nothing is failed over; the pending decision is abandoned with why, and
/// people are told the old and the new writer.
#[tokio::test]
async fn a_writer_that_changed_after_the_decision_should_not_be_failed_over_again() {
    let (ledger, notes) = (SharedLedger::default(), Recorded::default());
    // The trigger's describe (also the decision's: the ledger never changed), then the one inside the lease.
    let clusters = writer_moves_after(1);
    let failover =
        mock!(aws_sdk_rds::Client::failover_db_cluster).then_output(|| FailoverDbClusterOutput::builder().build());
    let app = aurora_app_with(&clusters, &failover, &notes, &ledger);

    let answer = app.handle(Scenario::Aurora.event()).await.expect("answered");

    assert_eq!(answer.status, Outcome::Info, "{answer:?}");
    assert_eq!(failover.num_calls(), 0, "no FailoverDBCluster");
    assert_eq!(clusters.num_calls(), 2, "the writer read again");
    let records = ledger.records();
    assert_eq!(records.iter().map(|r| r.state).collect::<Vec<_>>(), [State::Abandoned], "{records:?}");
    assert!(records[0].data["error"].as_str().unwrap().contains("no longer w"), "{records:?}");
    assert_eq!(outcomes(&notes), [Outcome::Info]);
}

/// FailoverDBCluster answered 503 three times, but AWS carried the failover out: Lambda's retry resumes the pending
/// decision, its first describe still shows the old writer `w`, and the read inside the lease shows the target
/// `a`. That is this decision's own failover in effect: the record is done (the cooldown runs), not abandoned, and
/// no second FailoverDBCluster is made.
#[tokio::test]
async fn a_resumed_failover_whose_earlier_call_was_carried_out_should_be_done_not_abandoned() {
    let (ledger, notes) = (SharedLedger::default(), Recorded::default());
    // First run: the trigger's describe and the one inside the lease; the retry's describe and its facts' (the
    // pending decision resumed): writer w; then the failover lands.
    let clusters = writer_moves_after(4);
    let failover = failing_failover(503, 3);
    let app = aurora_app_with(&clusters, &failover, &notes, &ledger);
    let alarm = Scenario::Aurora.event();

    assert!(matches!(app.handle(alarm.clone()).await, Err(InvokeError::Retry { .. })), "a transient failure");
    assert_eq!(clusters.num_calls(), 2, "the trigger's describe and the one inside the lease");
    let retry = app.handle(alarm).await.expect("the retry");
    assert_eq!(clusters.num_calls(), 5, "the retry's describe, its facts', then the one inside the lease");

    assert_eq!(retry.status, Outcome::Succeeded, "{retry:?}");
    assert_eq!(failover.num_calls(), 3, "no second FailoverDBCluster");
    let records = ledger.records();
    assert_eq!(records.iter().map(|r| r.state).collect::<Vec<_>>(), [State::Done], "{records:?}");
    assert!(records[0].data["done_at"].as_i64().is_some(), "the cooldown runs: {records:?}");
    assert_eq!(outcomes(&notes), [Outcome::Failed, Outcome::Succeeded]);
}

/// FailoverDBCluster failing twice with a server error, then the (SDK's) retry: the cluster fails over once,
/// the record is done, and one notification says so.
#[tokio::test]
async fn a_cluster_failover_failing_twice_with_a_server_error_then_retried_should_fail_over_with_one_notification() {
    let (failover, ledger, notes) = (failing_failover(500, 2), SharedLedger::default(), Recorded::default());
    let app = aurora_app(&failover, &notes, &ledger);

    let answer = app.handle(Scenario::Aurora.event()).await.expect("the failover");
    assert_eq!(answer.status, Outcome::Succeeded, "{answer:?}");
    assert_eq!(failover.num_calls(), 3, "two server errors, then the failover");
    let states: Vec<State> = ledger.records().iter().map(|r| r.state).collect();
    assert_eq!(states, [State::Done]);
    assert_eq!(outcomes(&notes), [Outcome::Succeeded], "one notification");
}

#[tokio::test]
async fn throttled_describe_should_error_after_a_failure_notification_without_touching_anything() {
    let throttled = mock!(aws_sdk_rds::Client::describe_db_instances)
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .repeatedly()
        .build();
    let (ledger, promote) = (SharedLedger::default(), promote_ok("r1"));
    let notes = Recorded::default();
    let app = app("us-east-1", &[], &[&throttled, &promote], &[], &notes, &ledger);

    match app.handle(failure_event()).await {
        Err(error @ InvokeError::Retry { .. }) => assert!(error.to_string().contains("Throttling"), "{error}"),
        other => panic!("expected a retryable error, got {other:?}"),
    }
    assert_eq!(throttled.num_calls(), 3);
    assert_eq!((ledger.records().len(), promote.num_calls()), (0, 0));
    assert_eq!(outcomes(&notes), [Outcome::Failed]);
}

#[tokio::test]
async fn permanent_errors_should_be_reported_and_not_retried() {
    let (primary, replicas, ledger) = (orders(), replicas(), SharedLedger::default());
    let denied = mock!(aws_sdk_rds::Client::promote_read_replica)
        .sequence()
        .http_status(403, Some(ACCESS_DENIED.to_owned()))
        .repeatedly()
        .build();
    let lags = lag(&[("m0", 2.0), ("m1", 9.0)]);
    let notes = Recorded::default();
    let app = app("us-east-1", &[], &[&primary, &replicas, &denied], &[&lags], &notes, &ledger);

    let response = app.handle(failure_event()).await.expect("a permanent error is not handed to Lambda's retries");

    assert_eq!(response.status, Outcome::Failed, "{response:?}");
    assert_eq!(denied.num_calls(), 1, "not retried by the SDK");
    assert_eq!(outcomes(&notes), [Outcome::Failed]);
    assert!(notes.published()[0].summary.contains("AccessDenied"));
}

/// orders-west in us-west-2, a replica of orders in us-east-1.
fn west_replica() -> DbInstance {
    db("orders-west", "us-west-2", "available")
        .read_replica_source_db_instance_identifier("arn:aws:rds:us-east-1:123456789012:db:orders")
        .build()
}

/// Replication stopped on orders-west (RDS-EVENT-0045), the signal a replica sees when its primary's region is gone.
fn west_replication_stopped() -> Value {
    json!({
        "version": "0", "id": "2", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
        "account": "123456789012", "time": "2024-05-01T10:07:12Z", "region": "us-west-2", "resources": [],
        "detail": {"SourceType": "DB_INSTANCE", "SourceArn": "arn:aws:rds:us-west-2:123456789012:db:orders-west",
                   "Message": "Replication has stopped.", "EventID": "RDS-EVENT-0045"}
    })
}

#[tokio::test]
async fn an_unreachable_source_region_should_allow_cross_region_promotion_only_when_configured() {
    let (west_replica, event) = (west_replica(), west_replication_stopped());
    for (allowed, expected) in [("false", Outcome::Refused), ("true", Outcome::Succeeded)] {
        let replica = describe("orders-west", west_replica.clone());
        // The east region (derived client, same interceptor) answers nothing but 503.
        let east_down = mock!(aws_sdk_rds::Client::describe_db_instances)
            .match_requests(|r| r.db_instance_identifier() == Some("orders"))
            .sequence()
            .http_status(503, None)
            .repeatedly()
            .build();
        let (ledger, promote) = (SharedLedger::default(), promote_ok("orders-west"));
        let lags = lag(&[("m0", 1.0)]);
        let notes = Recorded::default();
        let app = app(
            "us-west-2",
            &[("ALLOW_CROSS_REGION", allowed)],
            &[&replica, &east_down, &promote],
            &[&lags],
            &notes,
            &ledger,
        );

        let response = app.handle(event.clone()).await.expect("handled");

        assert_eq!(response.status, expected, "ALLOW_CROSS_REGION={allowed}: {response:?}");
        assert_eq!(promote.num_calls(), usize::from(allowed == "true"));
        if allowed == "true" {
            let record = promotion_record(&ledger);
            assert_eq!(record.resource, "db-instance:us-east-1/orders", "keyed by the unreachable primary");
        }
    }
}

#[tokio::test]
async fn a_source_region_that_throttles_or_denies_access_should_be_an_error_not_an_unreachable_primary() {
    let (west_replica, event) = (west_replica(), west_replication_stopped());
    for (status, body, retried) in [(400, THROTTLED, true), (403, ACCESS_DENIED, false)] {
        let replica = describe("orders-west", west_replica.clone());
        let east = mock!(aws_sdk_rds::Client::describe_db_instances)
            .match_requests(|r| r.db_instance_identifier() == Some("orders"))
            .sequence()
            .http_status(status, Some(body.to_owned()))
            .repeatedly()
            .build();
        let (ledger, promote) = (SharedLedger::default(), promote_ok("orders-west"));
        let (lags, notes) = (lag(&[("m0", 1.0)]), Recorded::default());
        let settings = [("ALLOW_CROSS_REGION", "true")];
        let app = app("us-west-2", &settings, &[&replica, &east, &promote], &[&lags], &notes, &ledger);

        let result = app.handle(event.clone()).await;

        match (retried, &result) {
            (true, Err(error @ InvokeError::Retry { .. })) => {
                assert!(error.to_string().contains("Throttling"), "{error}")
            }
            (false, Ok(response)) => assert_eq!(response.status, Outcome::Failed, "{response:?}"),
            other => panic!("HTTP {status}: {other:?}"),
        }
        assert_eq!(promote.num_calls(), 0, "HTTP {status}: the primary's region answered; nothing is promoted");
        assert!(ledger.records().is_empty(), "HTTP {status}: nothing recorded");
        assert_eq!(outcomes(&notes), [Outcome::Failed], "HTTP {status}");
    }
}

#[tokio::test]
async fn replicas_should_be_described_in_one_call_per_region_in_the_primarys_order() {
    const WEST_ARN: &str = "arn:aws:rds:us-west-2:123456789012:db:orders-west";
    for west_answers in [true, false] {
        // orders lists five replicas here (r5 deleted since: listed, not found) and one in us-west-2.
        let mut primary = db("orders", "us-east-1", "failed");
        for id in ["r1", "r2", "r3", "r4", "r5", WEST_ARN] {
            primary = primary.read_replica_db_instance_identifiers(id);
        }
        let primary = describe("orders", primary.build());
        let here = describe_ids(&["r1", "r2", "r3", "r4", "r5"], ["r4", "r2", "r1", "r3"].map(orders_replica).to_vec());
        // The derived us-west-2 client shares the interceptor: only this rule answers orders-west.
        let west = if west_answers {
            let replica = db("orders-west", "us-west-2", "available")
                .read_replica_source_db_instance_identifier("arn:aws:rds:us-east-1:123456789012:db:orders")
                .build();
            describe_ids(&["orders-west"], vec![replica])
        } else {
            mock!(aws_sdk_rds::Client::describe_db_instances)
                .match_requests(|r| instance_ids(r) == ["orders-west"])
                .sequence()
                .http_status(503, None)
                .repeatedly()
                .build()
        };
        let (ledger, promote) = (SharedLedger::default(), promote_ok("r2"));
        // Per region, in the primary's order: r1 5 s, r2 1 s, r3 and r4 9 s; orders-west 5 s (not eligible:
        // ALLOW_CROSS_REGION is false).
        let lags = lag(&[("m0", 5.0), ("m1", 1.0), ("m2", 9.0), ("m3", 9.0)]);
        let notes = Recorded::default();
        let app = app("us-east-1", &[], &[&primary, &here, &west, &promote], &[&lags], &notes, &ledger);

        let response = app.handle(failure_event()).await.expect("handled");

        let case = format!("us-west-2 answers: {west_answers}");
        assert_eq!(response.status, Outcome::Succeeded, "{case}: {response:?}");
        assert_eq!((primary.num_calls(), here.num_calls()), (1, 1), "{case}: the primary, then its 5 replicas here");
        assert_eq!(west.num_calls(), if west_answers { 1 } else { 3 }, "{case}: one call (and the SDK's retries)");
        assert_eq!(lags.num_calls(), if west_answers { 2 } else { 1 }, "{case}: one lag query per region");
        assert_eq!(promote.num_calls(), 1, "{case}");
        let details = notes.published()[0].details.clone();
        let listed: Vec<&str> =
            details["replicas"].as_array().unwrap().iter().map(|v| v["id"].as_str().unwrap()).collect();
        assert_eq!(listed, ["r1", "r2", "r3", "r4", "orders-west"], "{case}: the primary's order, r5 (gone) left out");
        // A silent region's replica is judged too: ineligible, status unknown, saying why.
        let west_verdict = &details["replicas"][4];
        let (status, reason) = (west_verdict["status"].as_str().unwrap(), west_verdict["reason"].as_str().unwrap());
        if west_answers {
            assert_eq!(status, "available", "{case}");
        } else {
            assert_eq!(status, "unknown", "{case}");
            assert!(reason.starts_with("could not be described: us-west-2 did not answer"), "{case}: {reason}");
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
            let (t1, t2) = (aws_smithy_types::DateTime::from_secs(120), aws_smithy_types::DateTime::from_secs(60));
            GetMetricDataOutput::builder()
                .metric_data_results(
                    MetricDataResult::builder().id("m0").timestamps(t1).timestamps(t2).values(4.0).values(2.0).build(),
                )
                .metric_data_results(MetricDataResult::builder().id("m2").timestamps(t1).values(-1.0).build())
                .build()
        });
    let lag = CloudWatchLag::new(client!(aws_sdk_cloudwatch, "us-east-1", [&rule]));
    let ids = ["a".to_owned(), "b".to_owned(), "c".to_owned()];

    let since = failover_core::time::now_secs() - 300;
    let values = lag.lags("us-east-1", LagMetric::ReplicaLag, &ids, since).await.expect("lags");
    assert_eq!(values["a"].iter().map(|p| p.at).collect::<Vec<_>>(), [120, 60], "each value with its minute");
    let values: std::collections::BTreeMap<String, Vec<f64>> =
        values.into_iter().map(|(id, points)| (id, points.iter().map(|p| p.value).collect())).collect();

    assert_eq!(rule.num_calls(), 1);
    assert_eq!(values["a"], [4.0, 2.0]);
    assert!(values["b"].is_empty(), "no data is an empty list, never a zero");
    assert_eq!(values["c"], [-1.0]);
}

// ------------------------------------------------------------------ every call, every fault

/// The three scenarios that change something, each with the calls it makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// orders failed, replicas r1 (2 s) and r2 (9 s), a DNS record to repoint: r1 promoted.
    Promote,
    /// Replication stopped on r1 and its primary orders is deleted: r1 promoted.
    PrimaryGone,
    /// An alarm on Aurora cluster catalog (writer w, reader a): failed over to a.
    Aurora,
}

const SCENARIOS: [Scenario; 3] = [Scenario::Promote, Scenario::PrimaryGone, Scenario::Aurora];
const RECORD: &str = "Z0000000000000000001/writer.orders.internal";

use faulty_http::{Fault, FAULTS};

fn throttled() -> aws_smithy_types::error::ErrorMetadata {
    aws_smithy_types::error::ErrorMetadata::builder().code("Throttling").message("Rate exceeded").build()
}

/// One rule for the scenario's call of `$op` (the requests `$filter` picks): `$fault` `$times` times then
/// `$ok`, or `$fault` for ever.
macro_rules! failing {
    ($op:path, $error:ty, $filter:expr, $fault:expr, $times:expr, $ok:expr) => {{
        let sequence = mock!($op).match_requests($filter).sequence();
        let sequence = match $fault {
            Fault::Throttling => sequence.error(|| <$error>::generic(throttled())),
            other => sequence.http_status(other.status().expect("an HTTP fault"), None),
        };
        match $times {
            Some(n) => sequence.times(n).output($ok).build(),
            None => sequence.repeatedly().build(),
        }
    }};
}

use aws_sdk_cloudwatch::operation::get_metric_data::GetMetricDataError;
use aws_sdk_dynamodb::operation::query::{QueryError, QueryOutput};
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_rds::operation::describe_db_clusters::{DescribeDBClustersError, DescribeDbClustersOutput};
use aws_sdk_rds::operation::describe_db_instances::DescribeDBInstancesError;
use aws_sdk_rds::operation::describe_events::{DescribeEventsError, DescribeEventsOutput};
use aws_sdk_rds::operation::failover_db_cluster::{FailoverDBClusterError, FailoverDbClusterOutput};
use aws_sdk_rds::operation::promote_read_replica::PromoteReadReplicaError;
use aws_sdk_rds::types::{DbCluster, DbClusterMember};
use aws_sdk_route53::operation::change_resource_record_sets::{
    ChangeResourceRecordSetsError, ChangeResourceRecordSetsOutput,
};
use aws_sdk_route53::operation::list_resource_record_sets::{
    ListResourceRecordSetsError, ListResourceRecordSetsOutput,
};
use failover_core::ledger::DynamoLedger;

fn orders_replica(id: &str) -> DbInstance {
    db(id, "us-east-1", "available").read_replica_source_db_instance_identifier("orders").build()
}

fn cluster_member(id: &str) -> DbInstance {
    db(id, "us-east-1", "available").db_cluster_identifier("catalog").promotion_tier(1).build()
}

/// `catalog` after a failover to `a`.
fn writer_a() -> DescribeDbClustersOutput {
    let mut cluster = catalog();
    for member in cluster.db_cluster_members.iter_mut().flatten() {
        member.is_cluster_writer = Some(member.db_instance_identifier() == Some("a"));
    }
    DescribeDbClustersOutput::builder().db_clusters(cluster).build()
}

fn catalog() -> DbCluster {
    let member = |id: &str, writer: bool| {
        DbClusterMember::builder().db_instance_identifier(id).is_cluster_writer(writer).promotion_tier(1).build()
    };
    DbCluster::builder()
        .db_cluster_identifier("catalog")
        .db_cluster_arn("arn:aws:rds:us-east-1:123456789012:cluster:catalog")
        .status("available")
        .engine("aurora-mysql")
        .db_cluster_members(member("w", true))
        .db_cluster_members(member("a", false))
        .tag_list(tag("failover:enabled", "true"))
        .build()
}

fn instances_output(instances: Vec<DbInstance>) -> DescribeDbInstancesOutput {
    DescribeDbInstancesOutput::builder().set_db_instances(Some(instances)).build()
}

/// One datapoint per replica, the minute before the scenarios' failure (their events' time, 2024-05-01T10:07:12Z).
fn lag_output(values: &[f64]) -> GetMetricDataOutput {
    let minute = aws_smithy_types::DateTime::from_secs(1_714_558_032 - 60);
    let mut out = GetMetricDataOutput::builder();
    for (i, v) in values.iter().enumerate() {
        let result = MetricDataResult::builder().id(format!("m{i}")).timestamps(minute).values(*v);
        out = out.metric_data_results(result.build());
    }
    out.build()
}

/// The record `orders`' `failover:dns-record` tag names, pointing at orders.
fn record_output() -> ListResourceRecordSetsOutput {
    let set = aws_sdk_route53::types::ResourceRecordSet::builder()
        .name("writer.orders.internal.")
        .r#type(aws_sdk_route53::types::RrType::Cname)
        .ttl(300)
        .resource_records(
            aws_sdk_route53::types::ResourceRecord::builder()
                .value("orders.abc.us-east-1.rds.amazonaws.com")
                .build()
                .expect("record"),
        )
        .build()
        .expect("record set");
    ListResourceRecordSetsOutput::builder()
        .resource_record_sets(set)
        .is_truncated(false)
        .max_items(1)
        .build()
        .expect("records")
}

fn dns_output() -> ChangeResourceRecordSetsOutput {
    let info = aws_sdk_route53::types::ChangeInfo::builder()
        .id("c-1")
        .status(aws_sdk_route53::types::ChangeStatus::Pending)
        .submitted_at(aws_smithy_types::DateTime::from_secs(0))
        .build()
        .expect("change info");
    ChangeResourceRecordSetsOutput::builder().change_info(info).build()
}

/// `GetChange`: the change has reached every Route 53 server.
fn change_in_sync() -> aws_sdk_route53::operation::get_change::GetChangeOutput {
    let info = aws_sdk_route53::types::ChangeInfo::builder()
        .id("c-1")
        .status(aws_sdk_route53::types::ChangeStatus::Insync)
        .submitted_at(aws_smithy_types::DateTime::from_secs(0))
        .build()
        .expect("change info");
    aws_sdk_route53::operation::get_change::GetChangeOutput::builder().change_info(info).build()
}

/// A ledger `begin` (it checks the pause: automatic events never force) rather than an `end`.
/// A begin takes the lease (`SET #owner = :me …`; with the pause check, unless it is a forced one).
fn is_begin(r: &TransactWriteItemsInput) -> bool {
    let takes_the_lease = |u: &aws_sdk_dynamodb::types::Update| u.update_expression().starts_with("SET #owner = :me");
    r.transact_items().iter().any(|i| i.update().is_some_and(takes_the_lease))
}

/// The RDS, CloudWatch, Route 53 and DynamoDB rules of one scenario (`fault` first: rules match in order).
struct World {
    rds: Vec<Rule>,
    cloudwatch: Vec<Rule>,
    route53: Vec<Rule>,
    /// Query, begin, end: an empty ledger that grants every condition.
    dynamodb: Vec<Rule>,
}

impl World {
    /// Every rule answered by its own call counter, by operation name.
    fn calls(&self, operation: &str) -> usize {
        self.named().iter().filter(|(name, _)| *name == operation).map(|(_, r)| r.num_calls()).sum()
    }

    fn named(&self) -> Vec<(&'static str, &Rule)> {
        let names: &[&str] = &["PromoteReadReplica", "FailoverDBCluster"];
        let mut out: Vec<(&'static str, &Rule)> = names.iter().copied().zip(self.rds.iter().rev()).collect();
        out.extend(["ChangeResourceRecordSets", "ListResourceRecordSets"].into_iter().zip(self.route53.iter()));
        let ledger = ["Query", "TransactWriteItems (begin)", "TransactWriteItems (end)"];
        out.extend(ledger.into_iter().zip(self.dynamodb.iter()));
        out
    }
}

impl Scenario {
    fn operations(self) -> &'static [&'static str] {
        match self {
            Scenario::Promote => &[
                "DescribeDBInstances",
                "Query",
                "DescribeDBInstances (replicas)",
                "GetMetricData",
                "TransactWriteItems (begin)",
                "PromoteReadReplica",
                "ListResourceRecordSets",
                "ChangeResourceRecordSets",
                "TransactWriteItems (end)",
            ],
            // (The describes of r1 and of the primary itself: in `Promote`; r1 is described twice, before and
            // after the ledger's read.)
            Scenario::PrimaryGone => &[
                "Query",
                "GetMetricData",
                "TransactWriteItems (begin)",
                "PromoteReadReplica",
                "TransactWriteItems (end)",
            ],
            Scenario::Aurora => &[
                "DescribeDBClusters",
                "Query",
                "DescribeDBInstances (cluster)",
                "GetMetricData",
                "DescribeEvents",
                "TransactWriteItems (begin)",
                "FailoverDBCluster",
                "TransactWriteItems (end)",
            ],
        }
    }

    fn event(self) -> Value {
        match self {
            Scenario::Promote => failure_event(),
            Scenario::PrimaryGone => json!({
                "version": "0", "id": "3", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
                "account": "123456789012", "time": "2024-05-01T10:07:12Z", "region": "us-east-1", "resources": [],
                "detail": {"SourceType": "DB_INSTANCE", "SourceArn": "arn:aws:rds:us-east-1:123456789012:db:r1",
                           "Message": "Replication has stopped.", "EventID": "RDS-EVENT-0045"}
            }),
            Scenario::Aurora => json!({
                "source": "aws.cloudwatch", "alarmArn": "arn:aws:cloudwatch:us-east-1:123456789012:alarm:catalog",
                "accountId": "123456789012", "time": "2024-05-01T10:05:00.490+0000", "region": "us-east-1",
                "alarmData": {"alarmName": "catalog", "state": {"value": "ALARM"}, "previousState": {"value": "OK"},
                    "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/RDS",
                        "name": "CommitLatency", "dimensions": {"DBClusterIdentifier": "catalog"}},
                        "period": 60, "stat": "Maximum"}}]}}
            }),
        }
    }

    /// The rule for `operation` failing with `fault` (`times` then the right answer, or for ever).
    fn fault_rule(self, operation: &str, fault: Fault, times: Option<usize>) -> Rule {
        match operation {
            "DescribeDBInstances" => failing!(
                aws_sdk_rds::Client::describe_db_instances,
                DescribeDBInstancesError,
                |r| r.db_instance_identifier() == Some("orders"),
                fault,
                times,
                move || self.primary_output()
            ),
            "DescribeDBInstances (replicas)" => failing!(
                aws_sdk_rds::Client::describe_db_instances,
                DescribeDBInstancesError,
                |r| instance_ids(r) == ["r1", "r2"],
                fault,
                times,
                || instances_output(vec![orders_replica("r1"), orders_replica("r2")])
            ),
            "DescribeDBInstances (cluster)" => failing!(
                aws_sdk_rds::Client::describe_db_instances,
                DescribeDBInstancesError,
                |r| r.filters().iter().any(|f| f.name() == Some("db-cluster-id")),
                fault,
                times,
                || instances_output(vec![cluster_member("w"), cluster_member("a")])
            ),
            "DescribeDBClusters" => failing!(
                aws_sdk_rds::Client::describe_db_clusters,
                DescribeDBClustersError,
                |_| true,
                fault,
                times,
                || DescribeDbClustersOutput::builder().db_clusters(catalog()).build()
            ),
            "DescribeEvents" => {
                failing!(aws_sdk_rds::Client::describe_events, DescribeEventsError, |_| true, fault, times, || {
                    DescribeEventsOutput::builder().build()
                })
            }
            "GetMetricData" => failing!(
                aws_sdk_cloudwatch::Client::get_metric_data,
                GetMetricDataError,
                |_| true,
                fault,
                times,
                move || lag_output(if self == Scenario::Aurora { &[3.0] } else { &[2.0, 9.0] })
            ),
            "Query" => {
                failing!(aws_sdk_dynamodb::Client::query, QueryError, |_| true, fault, times, || QueryOutput::builder()
                    .build())
            }
            "TransactWriteItems (begin)" => failing!(
                aws_sdk_dynamodb::Client::transact_write_items,
                TransactWriteItemsError,
                is_begin,
                fault,
                times,
                || TransactWriteItemsOutput::builder().build()
            ),
            "TransactWriteItems (end)" => failing!(
                aws_sdk_dynamodb::Client::transact_write_items,
                TransactWriteItemsError,
                |r| !is_begin(r),
                fault,
                times,
                || TransactWriteItemsOutput::builder().build()
            ),
            "PromoteReadReplica" => failing!(
                aws_sdk_rds::Client::promote_read_replica,
                PromoteReadReplicaError,
                |r| r.db_instance_identifier() == Some("r1"),
                fault,
                times,
                || promoted("r1")
            ),
            "FailoverDBCluster" => failing!(
                aws_sdk_rds::Client::failover_db_cluster,
                FailoverDBClusterError,
                |r| r.target_db_instance_identifier() == Some("a"),
                fault,
                times,
                || FailoverDbClusterOutput::builder().build()
            ),
            "ChangeResourceRecordSets" => failing!(
                aws_sdk_route53::Client::change_resource_record_sets,
                ChangeResourceRecordSetsError,
                |_| true,
                fault,
                times,
                dns_output
            ),
            "ListResourceRecordSets" => failing!(
                aws_sdk_route53::Client::list_resource_record_sets,
                ListResourceRecordSetsError,
                |_| true,
                fault,
                times,
                record_output
            ),
            other => panic!("no fault rule for {other}"),
        }
    }

    fn primary_output(self) -> DescribeDbInstancesOutput {
        let primary = db("orders", "us-east-1", "failed")
            .tag_list(tag("failover:dns-record", RECORD))
            .read_replica_db_instance_identifiers("r1")
            .read_replica_db_instance_identifiers("r2")
            .build();
        instances_output(vec![primary])
    }

    /// The scenario's AWS, every call answered; the last three RDS rules are the changes, in [`World::named`]'s
    /// order reversed.
    fn world(self) -> World {
        let describe_one = |id: &'static str, instance: DbInstance| describe(id, instance);
        let mut rds = match self {
            Scenario::Promote => vec![
                mock!(aws_sdk_rds::Client::describe_db_instances)
                    .match_requests(|r| r.db_instance_identifier() == Some("orders"))
                    .then_output(move || self.primary_output()),
                replicas(),
            ],
            Scenario::PrimaryGone => vec![
                mock!(aws_sdk_rds::Client::describe_db_instances)
                    .match_requests(|r| r.db_instance_identifier() == Some("orders"))
                    .then_error(|| {
                        DescribeDBInstancesError::DbInstanceNotFoundFault(
                            aws_sdk_rds::types::error::DbInstanceNotFoundFault::builder().build(),
                        )
                    }),
                describe_one("r1", orders_replica("r1")),
            ],
            Scenario::Aurora => vec![
                mock!(aws_sdk_rds::Client::describe_db_clusters)
                    .then_output(|| DescribeDbClustersOutput::builder().db_clusters(catalog()).build()),
                mock!(aws_sdk_rds::Client::describe_db_instances)
                    .match_requests(|r| r.filters().iter().any(|f| f.name() == Some("db-cluster-id")))
                    .then_output(|| instances_output(vec![cluster_member("w"), cluster_member("a")])),
                // RDS recorded no failover of the cluster (AWS-first reads its events).
                mock!(aws_sdk_rds::Client::describe_events).then_output(|| DescribeEventsOutput::builder().build()),
            ],
        };
        rds.extend([
            // Only the right replica or reader: any other would find no rule and fail the test.
            mock!(aws_sdk_rds::Client::failover_db_cluster)
                .match_requests(|r| r.target_db_instance_identifier() == Some("a"))
                .then_output(|| FailoverDbClusterOutput::builder().build()),
            promote_ok("r1"),
        ]);
        let values: &[f64] = if self == Scenario::Aurora { &[3.0] } else { &[2.0, 9.0] };
        let values = values.to_vec();
        World {
            rds,
            cloudwatch: vec![
                mock!(aws_sdk_cloudwatch::Client::get_metric_data).then_output(move || lag_output(&values))
            ],
            route53: vec![
                mock!(aws_sdk_route53::Client::change_resource_record_sets).then_output(dns_output),
                mock!(aws_sdk_route53::Client::list_resource_record_sets).then_output(record_output),
                mock!(aws_sdk_route53::Client::get_change).then_output(change_in_sync),
            ],
            dynamodb: vec![
                mock!(aws_sdk_dynamodb::Client::query).then_output(|| QueryOutput::builder().build()),
                mock!(aws_sdk_dynamodb::Client::transact_write_items)
                    .match_requests(is_begin)
                    .then_output(|| TransactWriteItemsOutput::builder().build()),
                mock!(aws_sdk_dynamodb::Client::transact_write_items)
                    .match_requests(|r| !is_begin(r))
                    .then_output(|| TransactWriteItemsOutput::builder().build()),
            ],
        }
    }
}

/// Runs `scenario` with `failing` in front of its world; returns the result, the world and the notifications.
async fn run(scenario: Scenario, failing: &Rule) -> (Result<Response, InvokeError>, World, Recorded) {
    let world = scenario.world();
    // The failing rule goes in front of every client's rules: it answers only its own operation.
    let with =
        |rules: &[Rule]| -> Vec<Rule> { std::iter::once(failing.clone()).chain(rules.iter().cloned()).collect() };
    let (rds, cloudwatch, route53) = (with(&world.rds), with(&world.cloudwatch), with(&world.route53));
    let dynamodb = with(&world.dynamodb);
    let notes = Recorded::default();
    let app = app_with(
        "us-east-1",
        &[],
        &rds.iter().collect::<Vec<_>>(),
        &cloudwatch.iter().collect::<Vec<_>>(),
        &route53.iter().collect::<Vec<_>>(),
        notes.clone(),
        dynamo_ledger(&dynamodb.iter().collect::<Vec<_>>()),
    );
    let result = app.handle(scenario.event()).await;
    (result, world, notes)
}

/// The DynamoDB ledger adapter answering from `rules`.
fn dynamo_ledger(rules: &[&Rule]) -> DynamoLedger {
    DynamoLedger::new(client!(aws_sdk_dynamodb, "us-east-1", rules), "failover-ledger")
}

/// Every (scenario, operation, fault), run concurrently: timeouts wait for the attempt timeout.
fn cases() -> Vec<(Scenario, &'static str, Fault)> {
    faulty_http::cases(&SCENARIOS, Scenario::operations)
}

/// The change each scenario makes, once: (operation, calls) including the faulted one's attempts.
fn expected_changes(scenario: Scenario) -> Vec<(&'static str, usize)> {
    match scenario {
        // A promotion's ledger is read again once its notification is out, to mark it notified (the mocked
        // ledger holds no record to mark).
        // The promoted replica's ledger is read and written once more, for its lineage.
        Scenario::Promote => vec![
            ("Query", 3),
            ("TransactWriteItems (begin)", 2),
            ("PromoteReadReplica", 1),
            ("ChangeResourceRecordSets", 1),
            ("TransactWriteItems (end)", 2),
        ],
        Scenario::PrimaryGone => vec![
            ("Query", 3),
            ("TransactWriteItems (begin)", 2),
            ("PromoteReadReplica", 1),
            ("TransactWriteItems (end)", 2),
        ],
        Scenario::Aurora => vec![
            ("Query", 1),
            ("TransactWriteItems (begin)", 1),
            ("FailoverDBCluster", 1),
            ("TransactWriteItems (end)", 1),
        ],
    }
}

#[tokio::test]
async fn every_call_of_every_scenario_recovers_from_throttling_5xx_connection_failures_and_timeouts() {
    futures::future::join_all(cases().into_iter().map(|(scenario, operation, fault)| async move {
        let case = format!("{scenario:?} / {operation} / {fault:?}");
        let failing = scenario.fault_rule(operation, fault, Some(2));

        let (result, world, notes) = run(scenario, &failing).await;

        let response = result.unwrap_or_else(|e| panic!("{case}: {e}"));
        assert_eq!(response.status, Outcome::Succeeded, "{case}: {response:?}");
        assert_eq!(failing.num_calls(), 3, "{case}: two faults, then the answer on the last attempt");
        assert_eq!(outcomes(&notes), [Outcome::Succeeded], "{case}");
        // The same changes as without a fault: the faulted call counts once (its answer), the others as usual.
        for (change, times) in expected_changes(scenario) {
            let made = world.calls(change) + usize::from(change == operation);
            assert_eq!(made, times, "{case}: {change}");
        }
    }))
    .await;
}

#[tokio::test]
async fn every_call_of_every_scenario_failing_for_good_errs_after_a_failure_notification_and_never_half_acts() {
    futures::future::join_all(cases().into_iter().map(|(scenario, operation, fault)| async move {
        let case = format!("{scenario:?} / {operation} / {fault:?}");
        let failing = scenario.fault_rule(operation, fault, None);

        let (result, world, notes) = run(scenario, &failing).await;

        match result {
            Err(error @ InvokeError::Retry { .. }) => {
                let message = error.to_string();
                assert!(message.contains(operation.split(' ').next().unwrap()), "{case}: {message}")
            }
            other => panic!("{case}: expected a retryable error, got {other:?}"),
        }
        // A promotion's end fails twice: the lineage's (its step fails), then the release of the lease.
        let ends = if operation == "TransactWriteItems (end)" && scenario != Scenario::Aurora { 2 } else { 1 };
        assert_eq!(failing.num_calls(), 3 * ends, "{case}: every attempt was made");
        assert_eq!(outcomes(&notes), [Outcome::Failed], "{case}");
        let acted = world.calls("PromoteReadReplica") + world.calls("FailoverDBCluster");
        let begun = world.calls("TransactWriteItems (begin)");
        if operation.starts_with("Describe") || operation == "GetMetricData" || operation == "Query" {
            assert_eq!(
                (begun, acted, world.calls("ChangeResourceRecordSets")),
                (0, 0, 0),
                "{case}: changed after a failed read"
            );
        }
        if operation == "TransactWriteItems (begin)" {
            assert_eq!(acted, 0, "{case}: acted before the decision was recorded");
        }
        if operation == "TransactWriteItems (end)" {
            assert_eq!(acted, 1, "{case}: the change is made once, then the record could not be settled");
        }
        if operation == "PromoteReadReplica" || operation == "FailoverDBCluster" {
            assert_eq!(world.calls("ChangeResourceRecordSets"), 0, "{case}: DNS repointed to a replica not promoted");
        }
    }))
    .await;
}

#[tokio::test]
async fn a_notification_that_cannot_be_published_asks_for_a_retry_and_does_not_undo_a_promotion() {
    futures::future::join_all(FAULTS.map(|fault| async move {
        let publish = mock!(aws_sdk_sns::Client::publish).sequence();
        let publish = match fault {
            Fault::Throttling => publish.error(|| aws_sdk_sns::operation::publish::PublishError::generic(throttled())),
            other => publish.http_status(other.status().expect("an HTTP fault"), None),
        }
        .repeatedly()
        .build();
        let notifier = failover_core::notify::SnsNotifier::new(
            client!(aws_sdk_sns, "us-east-1", [&publish]),
            TOPIC.to_owned(),
            failover_core::notify::NotificationFormat::Json,
        );
        let world = Scenario::Promote.world();
        let app = app_with(
            "us-east-1",
            &[],
            &world.rds.iter().collect::<Vec<_>>(),
            &world.cloudwatch.iter().collect::<Vec<_>>(),
            &world.route53.iter().collect::<Vec<_>>(),
            notifier,
            dynamo_ledger(&world.dynamodb.iter().collect::<Vec<_>>()),
        );

        let error = app.handle(Scenario::Promote.event()).await.expect_err("Lambda's retry publishes it");

        assert!(error.to_string().contains("not published"), "{fault:?}: {error}");
        assert_eq!(world.calls("PromoteReadReplica"), 1, "{fault:?}");
        assert_eq!(publish.num_calls(), 3, "{fault:?}: the SDK retried the publication");
    }))
    .await;
}

/// ModifyDBInstance (the fence and unfence): the answer's groups; `InvalidDBInstanceState` (the instance cannot
/// be modified now) is "not yet", not a failure; a throttle that outlasts the SDK's retries is a transient error.
#[tokio::test]
async fn modify_db_instance_answers_the_groups_not_yet_or_a_transient_error() {
    use aws_sdk_rds::operation::modify_db_instance::{ModifyDBInstanceError, ModifyDbInstanceOutput};
    use aws_sdk_rds::types::VpcSecurityGroupMembership;
    use database_failover::model::{DbRef, Modified};
    use database_failover::ports::Databases;
    let at = DbRef::new("us-east-1", "orders");
    let fence = vec!["sg-fence".to_owned()];
    let fenced = mock!(aws_sdk_rds::Client::modify_db_instance)
        .match_requests(|r| r.vpc_security_group_ids() == ["sg-fence"] && r.apply_immediately() == Some(true))
        .then_output(|| {
            let group =
                VpcSecurityGroupMembership::builder().vpc_security_group_id("sg-fence").status("adding").build();
            ModifyDbInstanceOutput::builder()
                .db_instance(db("orders", "us-east-1", "modifying").vpc_security_groups(group).build())
                .build()
        });
    let answer = RdsDatabases::new(client!(aws_sdk_rds, "us-east-1", [&fenced])).set_security_groups(&at, &fence).await;
    let Ok(Modified::Applied(Some(instance))) = answer else { panic!("applied: {answer:?}") };
    assert_eq!(instance.security_groups, fence);

    let refused = mock!(aws_sdk_rds::Client::modify_db_instance).then_error(|| {
        ModifyDBInstanceError::InvalidDbInstanceStateFault(
            aws_sdk_rds::types::error::InvalidDbInstanceStateFault::builder().message("orders is failed").build(),
        )
    });
    let answer =
        RdsDatabases::new(client!(aws_sdk_rds, "us-east-1", [&refused])).set_security_groups(&at, &fence).await;
    assert!(matches!(&answer, Ok(Modified::NotYet(why)) if why.contains("orders is failed")), "{answer:?}");

    let throttled = mock!(aws_sdk_rds::Client::modify_db_instance)
        .sequence()
        .http_status(400, Some(THROTTLED.to_owned()))
        .repeatedly()
        .build();
    let answer =
        RdsDatabases::new(client!(aws_sdk_rds, "us-east-1", [&throttled])).set_security_groups(&at, &fence).await;
    let error = answer.expect_err("throttled");
    assert!(error.transient && error.operation == "ModifyDBInstance", "{error:?}");
}
