//! `database-failover` against the local AWS: RDS state, the ledger table, Route 53 records and notifications
//! are asserted after each invocation.
//!
//! Replica lag is real CloudWatch data on the local AWS: each test publishes `ReplicaLag` /
//! `AuroraReplicaLag` datapoints with `PutMetricData`, and the handler reads them through the function's own
//! [`CloudWatchLag`](database_failover::adapters::CloudWatchLag) adapter (`GetMetricData`). aws-sdk-cloudwatch speaks only rpc-v2-cbor, which the local
//! AWS translates for moto (`tools/local_aws/rpcv2_cbor.py`), so both calls also exercise that protocol. The adapter's
//! port calls are recorded ([`RecordedLag`](integration_tests::database::RecordedLag)) so "one query per region" is asserted; faults on the adapter are
//! covered with `aws-smithy-mocks` in `functions/database-failover/tests/offline/sdk_adapters.rs`.

use database_failover::ports::LagMetric;
use failover_core::invoke::InvokeError;
use failover_core::ledger::State;
use failover_core::outcome::Outcome;
use integration_tests::database::*;
use integration_tests::Account;
use serde_json::{json, Value};

// ------------------------------------------------------------------ promotion

#[tokio::test]
async fn failure_event_should_promote_the_lowest_lag_replica_with_backups_and_record_it() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let describes = env.calls_answered("DescribeDBInstances");

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(response.action, "promote-replica");
    assert_eq!(
        env.calls_answered("DescribeDBInstances") - describes,
        2,
        "the primary, then its three replicas in one call"
    );
    let calls = env.lag_calls();
    assert_eq!(calls.len(), 1, "all replicas in one lag query: {calls:?}");
    assert_eq!((calls[0].0.as_str(), calls[0].1, calls[0].2.len()), ("us-east-1", "ReplicaLag", 3));
    assert_eq!(env.calls_answered("GetMetricData"), 1, "one GetMetricData reached the local AWS");
    let promoted = env.describe("r-fast").await;
    assert_eq!(promoted.read_replica_source_db_instance_identifier, None);
    assert_eq!(promoted.backup_retention_period, Some(7), "BACKUP_RETENTION_DAYS default");
    assert!(env.is_replica("r-lag").await && env.is_replica("r-mid").await);
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".into())), "the record on the primary");
    assert!(promoted.tag_list().iter().all(|t| !t.key().unwrap_or_default().starts_with("failover:promoted")));

    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    let note = &notes[0];
    assert_eq!((note.attribute("action"), note.attribute("function")), ("promote-replica", "database-failover"));
    let body = note.body();
    assert_eq!(body["details"]["replica"]["id"], "r-fast");
    assert_eq!(body["details"]["replicas"].as_array().unwrap().len(), 3);
    let steps = body["next_steps"].to_string();
    assert!(
        steps.contains("Repoint clients") && steps.contains("new read replica") && steps.contains("Investigate orders")
    );
}

#[tokio::test]
async fn priority_tag_should_win_over_lower_lag() {
    let env = Env::new().await;
    env.primary("orders", true).await;
    env.replica("r-fast", "orders", &[]).await;
    env.replica("r-preferred", "orders", &[("failover:priority", "1")]).await;
    env.lag("r-fast", &[0.5]).await;
    env.lag("r-preferred", &[9.0]).await;
    env.set_status("orders", "failed");

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("r-preferred").await);
    assert!(env.is_replica("r-fast").await);
}

#[tokio::test]
async fn lag_guard_should_refuse_high_stopped_and_unknown_lag_listing_each_replica() {
    let env = Env::new().await;
    env.primary("orders", true).await;
    env.replica("r-high", "orders", &[]).await;
    env.replica("r-stopped", "orders", &[]).await;
    env.replica("r-nodata", "orders", &[]).await;
    env.lag("r-high", &[45.0, 3.0]).await;
    env.lag("r-stopped", &[-1.0]).await;
    env.set_status("orders", "failed");

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Refused, "{response:?}");
    for id in ["r-high", "r-stopped", "r-nodata"] {
        assert!(env.is_replica(id).await, "{id} must not be promoted");
    }
    assert_eq!(env.promotion("orders").await, None, "no record without a decision");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused"]);
    assert_eq!(notes[0].attribute("severity"), "critical");
    let summary = notes[0].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("r-high") && summary.contains("above MAX_REPLICA_LAG_SECONDS"), "{summary}");
    assert!(summary.contains("r-stopped") && summary.contains("ReplicaLag -1"), "{summary}");
    assert!(summary.contains("r-nodata") && summary.contains("no data"), "{summary}");
}

#[tokio::test]
async fn alarm_on_an_available_primary_should_be_refused_unless_promote_when_available() {
    let env = Env::new().await;
    orders(&env).await;
    let alarm = alarm_action(&env.account.id, "failover-orders-latency", ("DBInstanceIdentifier", "orders"));

    let response = ok(&env.app(&[]), alarm.clone()).await;
    assert_eq!(response.status, Outcome::Refused, "{response:?}");
    assert!(env.is_replica("r-fast").await);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused"]);
    assert_eq!(notes[0].attribute("severity"), "warning");
    assert!(notes[0].body()["summary"].as_str().unwrap().contains("reports available"));

    let response = ok(&env.app(&[("PROMOTE_WHEN_AVAILABLE", "true")]), alarm).await;
    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("r-fast").await);
}

#[tokio::test]
async fn primary_not_opted_in_should_be_a_logged_skip_without_change_or_notification() {
    let env = Env::new().await;
    env.primary("orders", false).await;
    env.replica("r1", "orders", &[]).await;
    env.lag("r1", &[1.0]).await;
    env.set_status("orders", "failed");

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Skipped, "{response:?}");
    assert!(response.message.contains("not opted in"), "{}", response.message);
    assert!(env.is_replica("r1").await);
    assert!(env.notifications().await.is_empty());
    assert_eq!(env.calls_answered("Query") + env.calls_answered("TransactWriteItems"), 0, "not ours: no ledger call");
}

// ------------------------------------------------------------------ never twice

#[tokio::test]
async fn same_event_three_times_then_another_failure_event_should_promote_exactly_once() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let app = env.app(&[]);

    let first = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert_eq!(first.status, Outcome::Succeeded);
    // The promoted replica has left the primary's replica list; the others now look best, but the record stands.
    assert!(env.describe("orders").await.read_replica_db_instance_identifiers().iter().all(|r| r != "r-fast"));
    env.lag("r-mid", &[0.0]).await;
    for event in [
        env.failure_event("orders", "RDS-EVENT-0031"),
        env.failure_event("orders", "RDS-EVENT-0031"),
        env.failure_event("orders", "RDS-EVENT-0022"),
    ] {
        let again = ok(&app, event).await;
        assert_eq!(again.status, Outcome::Skipped, "{again:?}");
        assert!(again.message.contains("already failed over to r-fast"), "{}", again.message);
    }
    assert!(env.is_replica("r-lag").await && env.is_replica("r-mid").await);
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"]);
}

#[tokio::test]
async fn missing_primary_should_promote_once_from_the_replicas_that_name_it() {
    let env = Env::new().await;
    orders(&env).await;
    env.account
        .rds()
        .delete_db_instance()
        .db_instance_identifier("orders")
        .skip_final_snapshot(true)
        .send()
        .await
        .expect("delete primary");
    let app = env.app(&[]);
    let stopped =
        |replica: &str| rds_event(&env.account.id, &env.account.region, replica, "RDS-EVENT-0045", "DB_INSTANCE");

    let response = ok(&app, stopped("r-fast")).await;
    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("r-fast").await);
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".into())), "keyed by the vanished primary");

    // The record on the primary's key stops a second promotion, from any replica or the primary's own event.
    env.lag("r-mid", &[0.0]).await;
    for event in [stopped("r-mid"), env.failure_event("orders", "RDS-EVENT-0022")] {
        let again = ok(&app, event).await;
        assert_eq!(again.status, Outcome::Skipped, "{again:?}");
    }
    assert!(env.is_replica("r-mid").await && env.is_replica("r-lag").await);
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"]);
}

// ------------------------------------------------------------------ the ledger: concurrency, pause, status

#[tokio::test]
async fn two_invocations_of_the_same_event_at_once_should_promote_once() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let (a, b) = (env.app(&[]), env.app(&[]));
    let event = env.failure_event("orders", "RDS-EVENT-0031");

    let (first, second) = tokio::join!(a.handle(event.clone()), b.handle(event.clone()));

    // One acts; the other waits for it and finds the work done, or (on a slow machine) gives up waiting with a
    // retryable error, and Lambda's retry finds the work done.
    let both = format!("{first:?} / {second:?}");
    let mut statuses = Vec::new();
    for (app, result) in [(&a, first), (&b, second)] {
        match result {
            Ok(response) => statuses.push(response.status),
            Err(error) => {
                // Still held, or the other run is still publishing its notification.
                assert!(matches!(error.error_type(), "ResourceBusy" | "PromotionInProgress"), "{error}");
                let retried = app.handle(event.clone()).await;
                statuses.push(retried.unwrap_or_else(|e| panic!("the retry: {e}; the two at once: {both}")).status);
            }
        }
    }
    statuses.sort_by_key(|s| s.as_str());
    assert_eq!(statuses, [Outcome::Skipped, Outcome::Succeeded], "one acts, the other finds it done");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1, "promoted once");
    assert!(env.is_replica("r-lag").await && env.is_replica("r-mid").await);
    assert_eq!(env.promotion("orders").await, Some((State::Done, "r-fast".into())));
    assert_eq!(outcomes(&env.notifications().await), ["succeeded"], "one success notification");
}

#[tokio::test]
async fn a_paused_stack_should_refuse_events_and_unforced_commands_act_with_force_and_resume() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let app = env.app(&[]);
    let paused = ok(&app, json!({"command": "pause", "reason": "db migration", "by": "ana"})).await;
    assert_eq!((paused.status, paused.action.as_str()), (Outcome::Succeeded, "pause"));

    let refused = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    assert_eq!(refused.status, Outcome::Refused, "{refused:?}");
    let manual = ok(&app, json!({"command": "promote", "db_instance_identifier": "r-mid"})).await;
    assert_eq!(manual.status, Outcome::Refused, "{manual:?}");
    assert!(env.is_replica("r-fast").await && env.is_replica("r-mid").await, "nothing changed while paused");
    assert_eq!(env.promotion("orders").await, None);
    let status = ok(&app, json!({"command": "status", "db_instance_identifier": "orders"})).await;
    assert_eq!(status.details["paused"]["by"], "ana", "{status:?}");

    let forced = ok(&app, json!({"command": "promote", "db_instance_identifier": "r-mid", "force": true})).await;
    assert_eq!(forced.status, Outcome::Succeeded, "{forced:?}");
    assert!(!env.is_replica("r-mid").await);
    let resumed = ok(&app, json!({"command": "resume"})).await;
    assert_eq!((resumed.status, resumed.action.as_str()), (Outcome::Succeeded, "resume"));

    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded", "refused", "refused", "info", "succeeded", "succeeded"]);
    let summary = notes[1].body()["summary"].to_string();
    assert!(summary.contains("paused by ana (db migration)"), "{summary}");
}

#[tokio::test]
async fn resume_should_let_the_next_event_act() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let app = env.app(&[]);
    ok(&app, json!({"command": "pause"})).await;
    assert_eq!(ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await.status, Outcome::Refused);

    ok(&app, json!({"command": "resume"})).await;
    let response = ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("r-fast").await);
}

#[tokio::test]
async fn the_records_of_a_change_should_be_in_the_table_and_status_should_list_them() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let app = env.app(&[]);
    ok(&app, env.failure_event("orders", "RDS-EVENT-0031")).await;
    let ledger_calls = (env.calls_answered("Query"), env.calls_answered("TransactWriteItems"));
    assert_eq!(
        ledger_calls,
        (3, 6),
        "one read, begin and end; the same on the promoted replica for its lineage; once notified, the same to \
         mark it so"
    );

    let items = env
        .account
        .dynamodb()
        .query()
        .table_name(&env.ledger)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S("db-instance:us-east-1/orders".into()),
        )
        .send()
        .await
        .expect("query")
        .items
        .unwrap_or_default();
    let text = |item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>, name: &str| {
        item.get(name).and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
    };
    // Each decision has its own key, `promotion#<decision time>`.
    let record = items.iter().find(|i| text(i, "sk").starts_with("promotion#")).expect("the promotion item");
    assert_eq!(text(record, "state"), "done");
    assert!(text(record, "trigger").starts_with("RDS-EVENT-0031"), "{record:?}");

    let described = env.calls_answered("DescribeDBInstances");
    let status = ok(&app, json!({"command": "status", "db_instance_identifier": "orders"})).await;
    // The primary, then its replicas with the promoted one (no longer listed) in one filtered call.
    assert_eq!(env.calls_answered("DescribeDBInstances") - described, 2);
    let open = status.details["ledger"]["records"].as_array().expect("records").clone();
    assert_eq!(open.len(), 1, "{open:?}");
    assert_eq!((&open[0]["key"], &open[0]["state"]), (&json!(text(record, "sk")), &json!("done")));
    assert_eq!(open[0]["data"]["replica"]["id"], "r-fast");
    assert_eq!(open[0]["data"]["notified"], true);
    assert_eq!(status.details["paused"], Value::Null);
}

// ------------------------------------------------------------------ Route 53

#[tokio::test]
async fn when_the_primary_names_no_dns_record_should_promote_without_touching_route53_and_say_to_repoint_clients() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let r53 = env.account.route53();
    let zone_id = env.hosted_zone("orders.internal").await;

    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("r-fast").await, "promoted all the same");
    let records = r53.list_resource_record_sets().hosted_zone_id(&zone_id).send().await.expect("records");
    assert!(records.resource_record_sets().iter().all(|r| r.r#type().as_str() != "CNAME"), "no CNAME written");
    let notes = env.notifications().await;
    assert!(notes[0].body()["next_steps"][0].as_str().unwrap().starts_with("Repoint clients to"), "{:?}", notes[0]);
}

// ------------------------------------------------------------------ Aurora

async fn catalog(env: &Env) {
    let rds = env.account.rds();
    rds.create_db_cluster()
        .db_cluster_identifier("catalog")
        .engine("aurora-mysql")
        .master_username("admin")
        .master_user_password("password1")
        .tags(tag(OPT_IN, "true"))
        .send()
        .await
        .expect("cluster");
    for (id, tier) in [("catalog-writer", 1), ("catalog-a", 2), ("catalog-b", 0), ("catalog-c", 0)] {
        rds.create_db_instance()
            .db_instance_identifier(id)
            .db_cluster_identifier("catalog")
            .engine("aurora-mysql")
            .db_instance_class("db.r5.large")
            .promotion_tier(tier)
            .tags(tag(OPT_IN, "true"))
            .send()
            .await
            .expect("cluster instance");
    }
    for (id, ms) in [("catalog-a", 5.0), ("catalog-b", 40.0), ("catalog-c", 15.0)] {
        put_lag(&env.account, LagMetric::AuroraReplicaLag, id, &[ms]).await;
    }
}

/// Aurora fails catalog over to catalog-a by itself (RDS records it for DescribeEvents; no event is delivered).
async fn failed_over_by_aws(env: &Env) {
    let rds = env.account.rds();
    let by_aws = rds.failover_db_cluster().db_cluster_identifier("catalog").target_db_instance_identifier("catalog-a");
    by_aws.send().await.expect("AWS's own failover");
}

async fn writer(env: &Env) -> String {
    let cluster =
        env.account.rds().describe_db_clusters().db_cluster_identifier("catalog").send().await.expect("cluster");
    let members = cluster.db_clusters()[0].db_cluster_members().to_vec();
    members
        .iter()
        .find(|m| m.is_cluster_writer() == Some(true))
        .and_then(|m| m.db_instance_identifier())
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn aurora_alarm_should_fail_over_to_the_lowest_tier_then_lowest_lag_reader_once() {
    let env = Env::new().await;
    catalog(&env).await;
    let alarm = alarm_action(&env.account.id, "failover-catalog-commit-latency", ("DBClusterIdentifier", "catalog"));
    let app = env.app(&[]);

    let response = ok(&app, alarm.clone()).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(response.action, "failover-cluster");
    assert_eq!(writer(&env).await, "catalog-c", "tier 0, and less AuroraReplicaLag than catalog-b");
    let records = env.records(&format!("db-cluster:{}/catalog", env.account.region)).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].key.starts_with("failover#"), "{records:?}");
    assert_eq!((records[0].state, &records[0].data["target"]["id"]), (State::Done, &json!("catalog-c")));
    let again = ok(&app, alarm).await;
    assert_eq!(again.status, Outcome::Skipped, "a duplicate alarm does not bounce the writer: {again:?}");
    assert_eq!(writer(&env).await, "catalog-c");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["succeeded"]);
    assert_eq!(notes[0].attribute("action"), "failover-cluster");
}

/// AWS's own failover comes first: Aurora fails the cluster over by itself (here to catalog-a) and says so with
/// RDS-EVENT-0071. The event is notified and recorded on the cluster's ledger, so that a writer alarm entering
/// ALARM afterwards does not run a second FailoverDBCluster (another write outage) within the cooldown; a
/// duplicate of the event records nothing more and is not notified again.
#[tokio::test]
async fn an_aurora_alarm_after_aws_failed_the_cluster_over_itself_should_not_fail_it_over_again() {
    let env = Env::new().await;
    catalog(&env).await;
    failed_over_by_aws(&env).await;
    let completed = rds_event(&env.account.id, "us-east-1", "catalog", "RDS-EVENT-0071", "CLUSTER");
    let app = env.app(&[]);

    let told = ok(&app, completed.clone()).await;

    assert_eq!((told.status, told.action.as_str()), (Outcome::Info, "aws-failover"), "{told:?}");
    let records = env.records(&format!("db-cluster:{}/catalog", env.account.region)).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].key.starts_with("failover#aws-"), "{records:?}");
    assert_eq!((records[0].state, &records[0].data["target"]["id"]), (State::Done, &json!("catalog-a")));
    assert_eq!(records[0].data["by_aws"], "RDS-EVENT-0071");
    let failovers = env.calls_answered("FailoverDBCluster");
    let alarm = alarm_action(&env.account.id, "failover-catalog-commit-latency", ("DBClusterIdentifier", "catalog"));

    let response = ok(&app, alarm).await;

    assert_eq!(response.status, Outcome::Skipped, "{response:?}");
    assert_eq!(env.calls_answered("FailoverDBCluster"), failovers, "no second failover");
    assert_eq!(writer(&env).await, "catalog-a");
    let again = ok(&app, completed).await;
    assert_eq!(again.status, Outcome::Skipped, "{again:?}");
    assert_eq!(env.records(&format!("db-cluster:{}/catalog", env.account.region)).await.len(), 1);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["info"], "AWS's failover told once, the alarm's skip logged");
}

/// AWS's own failover, with none of its RDS events delivered (EventBridge delivers them best effort) and
/// DescribeEvents refused (a stack deployed before it was granted): the writer alarm on catalog-writer fires
/// after Aurora made catalog-a the writer. The writer read again is not the one the alarm accuses, so nothing is
/// failed over again (no second write outage, nor a move back to the instance that just failed), and people are
/// told the old and the new writer.
#[tokio::test]
async fn a_writer_alarm_after_the_writer_changed_without_any_rds_event_should_not_fail_the_cluster_over_again() {
    let env = Env::new().await;
    catalog(&env).await;
    failed_over_by_aws(&env).await;
    env.account.control("/_failover/iam/deny", json!({"actions": ["rds:DescribeEvents"]}));
    let failovers = env.calls_answered("FailoverDBCluster");
    let alarm =
        alarm_action(&env.account.id, "failover-catalog-writer-down", ("DBInstanceIdentifier", "catalog-writer"));

    let response = ok(&env.app(&[]), alarm).await;

    assert_eq!((response.status, response.action.as_str()), (Outcome::Info, "failover-cluster"), "{response:?}");
    assert_eq!(env.calls_answered("FailoverDBCluster"), failovers, "no second FailoverDBCluster");
    assert_eq!(writer(&env).await, "catalog-a", "the writer AWS chose");
    assert!(env.records(&format!("db-cluster:{}/catalog", env.account.region)).await.is_empty(), "nothing decided");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["info"]);
    let body = notes[0].body();
    assert_eq!(
        (&body["details"]["old_writer"], &body["details"]["writer"]),
        (&json!("catalog-writer"), &json!("catalog-a"))
    );
    assert!(body["summary"].as_str().unwrap().contains("already failed it over"), "{body}");
}

/// The same with the cluster's writer alarm (DBClusterIdentifier and Role=WRITER, as `alarms/template.yaml`
/// makes it), which accuses no instance: RDS recorded AWS's own failover (RDS-EVENT-0071, in DescribeEvents), and
/// no event reached the function. Read with DescribeEvents, it is recorded and told as a delivered one is, and
/// counts for the cooldown: nothing failed over again, and a duplicate alarm is a logged skip.
#[tokio::test]
async fn a_cluster_writer_alarm_after_aws_failed_over_without_any_rds_event_should_not_fail_it_over_again() {
    let env = Env::new().await;
    catalog(&env).await;
    failed_over_by_aws(&env).await;
    let failovers = env.calls_answered("FailoverDBCluster");
    let alarm = alarm_action(&env.account.id, "failover-catalog-commit-latency", ("DBClusterIdentifier", "catalog"));
    let app = env.app(&[]);

    let response = ok(&app, alarm.clone()).await;

    assert_eq!((response.status, response.action.as_str()), (Outcome::Info, "failover-cluster"), "{response:?}");
    assert_eq!(env.calls_answered("FailoverDBCluster"), failovers, "no second FailoverDBCluster");
    assert_eq!(writer(&env).await, "catalog-a", "the writer AWS chose");
    let records = env.records(&format!("db-cluster:{}/catalog", env.account.region)).await;
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(records[0].key.starts_with("failover#aws-"), "{records:?}");
    assert_eq!((records[0].state, &records[0].data["target"]["id"]), (State::Done, &json!("catalog-a")));
    let again = ok(&app, alarm).await;
    assert_eq!(again.status, Outcome::Skipped, "the cooldown holds: {again:?}");
    assert_eq!(env.calls_answered("FailoverDBCluster"), failovers);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["info"], "told once");
    let body = notes[0].body();
    assert_eq!(body["details"]["writer"], "catalog-a");
    assert!(body["summary"].as_str().unwrap().contains("DescribeEvents"), "{body}");
}

#[tokio::test]
async fn aurora_failover_failed_event_should_fail_over_and_a_cluster_without_readers_should_refuse() {
    let env = Env::new().await;
    catalog(&env).await;
    let event = rds_event(&env.account.id, "us-east-1", "catalog", "RDS-EVENT-0069", "CLUSTER");
    for reader in ["catalog-a", "catalog-b", "catalog-c"] {
        env.set_status(reader, "failed");
    }
    let refused = ok(&env.app(&[]), event.clone()).await;
    assert_eq!(refused.status, Outcome::Refused, "{refused:?}");
    assert_eq!(writer(&env).await, "catalog-writer");

    env.set_status("catalog-a", "available");
    let response = ok(&env.app(&[]), event).await;
    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(writer(&env).await, "catalog-a");
    assert_eq!(outcomes(&env.notifications().await), ["refused", "succeeded"]);
}

// ------------------------------------------------------------------ cross-region

async fn cross_region(env: &Env) -> Account {
    let west = env.account.in_region("us-west-2").await;
    let primary = env.primary("orders", true).await;
    env.replica_in(&west, "orders-west", primary.db_instance_arn().unwrap(), &[]).await;
    env.lag_in(&west, "orders-west", &[2.0]).await;
    west
}

fn replication_stopped(west: &Account) -> Value {
    rds_event(&west.id, "us-west-2", "orders-west", "RDS-EVENT-0045", "DB_INSTANCE")
}

#[tokio::test]
async fn cross_region_replica_should_not_be_promoted_unless_allowed() {
    let env = Env::new().await;
    let west = cross_region(&env).await;
    env.set_status("orders", "failed");

    let response = ok(&env.app_in(&west, &[]), replication_stopped(&west)).await;

    assert_eq!(response.status, Outcome::Refused, "{response:?}");
    assert!(env.describe_in(&west, "orders-west").await.read_replica_source_db_instance_identifier.is_some());
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused"]);
    assert!(notes[0].body()["summary"].as_str().unwrap().contains("ALLOW_CROSS_REGION is false"));
}

#[tokio::test]
async fn cross_region_replica_should_be_promoted_when_allowed_and_its_source_is_down() {
    let env = Env::new().await;
    let west = cross_region(&env).await;
    env.set_status("orders", "failed");
    let app = env.app_in(&west, &[("ALLOW_CROSS_REGION", "true")]);

    let response = ok(&app, replication_stopped(&west)).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    let promoted = env.describe_in(&west, "orders-west").await;
    assert_eq!(promoted.read_replica_source_db_instance_identifier, None);
    assert_eq!(promoted.backup_retention_period, Some(7));
    let records = env.records("db-instance:us-east-1/orders").await;
    assert_eq!(records[0].data["replica"], json!({"region": "us-west-2", "id": "orders-west"}), "{records:?}");
    let again = ok(&app, replication_stopped(&west)).await;
    assert_eq!(again.status, Outcome::Skipped, "{again:?}");
}

#[tokio::test]
async fn replicas_in_two_regions_should_be_described_in_one_call_per_region() {
    let env = Env::new().await;
    let west = cross_region(&env).await;
    for (id, lag) in [("r-here", 9.0), ("r-best", 1.0)] {
        env.replica(id, "orders", &[]).await;
        env.lag(id, &[lag]).await;
    }
    env.set_status("orders", "failed");
    let describes = env.calls_answered("DescribeDBInstances");

    let response = ok(&env.app(&[("ALLOW_CROSS_REGION", "true")]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(
        env.calls_answered("DescribeDBInstances") - describes,
        3,
        "the primary, its two replicas here in one call, its replica in us-west-2 in another"
    );
    assert!(!env.is_replica("r-best").await, "the least-lagging replica of either region is promoted");
    assert!(
        env.is_replica("r-here").await
            && env.describe_in(&west, "orders-west").await.read_replica_source_db_instance_identifier.is_some()
    );
    let replicas = env.notifications().await[0].body()["details"]["replicas"].clone();
    let regions: Vec<&str> = replicas.as_array().unwrap().iter().map(|r| r["region"].as_str().unwrap()).collect();
    assert_eq!(regions.iter().filter(|r| **r == "us-west-2").count(), 1, "{replicas}");
    assert_eq!(regions.len(), 3, "{replicas}");
}

#[tokio::test]
async fn cross_region_replica_of_a_vanished_primary_should_be_promoted_when_allowed() {
    let env = Env::new().await;
    let west = cross_region(&env).await;
    env.account
        .rds()
        .delete_db_instance()
        .db_instance_identifier("orders")
        .skip_final_snapshot(true)
        .send()
        .await
        .unwrap();

    let response = ok(&env.app_in(&west, &[("ALLOW_CROSS_REGION", "true")]), replication_stopped(&west)).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(env.describe_in(&west, "orders-west").await.read_replica_source_db_instance_identifier, None);
    assert_eq!(env.promotion("orders").await, Some((State::Done, "orders-west".into())));
}

#[tokio::test]
async fn replication_stopped_while_the_source_is_available_should_be_refused() {
    let env = Env::new().await;
    let west = cross_region(&env).await;

    let response = ok(&env.app_in(&west, &[("ALLOW_CROSS_REGION", "true")]), replication_stopped(&west)).await;

    assert_eq!(response.status, Outcome::Refused, "{response:?}");
    assert!(env.describe_in(&west, "orders-west").await.read_replica_source_db_instance_identifier.is_some());
}

// ------------------------------------------------------------------ dry run, manual commands

#[tokio::test]
async fn dry_run_should_publish_the_plan_and_change_nothing() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");

    let response = ok(&env.app(&[("DRY_RUN", "true")]), env.failure_event("orders", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::DryRun, "{response:?}");
    assert!(env.is_replica("r-fast").await);
    assert_eq!(env.records("db-instance:us-east-1/orders").await, [], "dry run writes nothing to the ledger");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["dry-run"]);
    assert!(notes[0].subject.as_deref().unwrap().contains("would promote r-fast"));
}

#[tokio::test]
async fn manual_promote_away_from_an_available_primary_should_need_force_honour_dry_run_and_say_it_is_not_fenced() {
    let env = Env::new().await;
    orders(&env).await;
    let app = env.app(&[]);
    let unforced = ok(&app, json!({"command": "promote", "db_instance_identifier": "r-mid"})).await;
    assert_eq!(unforced.status, Outcome::Refused, "orders is available: {unforced:?}");
    assert!(env.is_replica("r-mid").await, "nothing changed");
    assert_eq!(env.promotion("orders").await, None);
    let command = json!({"command": "promote", "db_instance_identifier": "r-mid", "dry_run": true, "force": true});

    assert_eq!(ok(&app, command).await.status, Outcome::DryRun);
    assert!(env.is_replica("r-mid").await);
    let response = ok(&app, json!({"command": "promote", "db_instance_identifier": "r-mid", "force": true})).await;
    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(!env.is_replica("r-mid").await);
    // A second manual promotion of another replica of the same primary is refused.
    let other = ok(&app, json!({"command": "promote", "db_instance_identifier": "r-fast", "force": true})).await;
    assert_eq!(other.status, Outcome::Refused, "{other:?}");
    assert!(env.is_replica("r-fast").await);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["refused", "dry-run", "succeeded", "refused"]);
    assert!(notes[0].body()["summary"].as_str().unwrap().contains(r#"add "force": true"#), "{:?}", notes[0]);
    let summary = notes[2].body()["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("orders was available and was NOT fenced"), "{summary}");
}

#[tokio::test]
async fn manual_failover_cluster_should_use_the_named_reader() {
    let env = Env::new().await;
    catalog(&env).await;
    let command = json!({"command": "failover-cluster", "db_cluster_identifier": "catalog",
                         "target_db_instance_identifier": "catalog-a"});
    let response = ok(&env.app(&[]), command).await;
    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(writer(&env).await, "catalog-a");
}

#[tokio::test]
async fn status_should_report_replicas_lags_and_the_plan_without_changing_anything() {
    let env = Env::new().await;
    orders(&env).await;
    let describes = env.calls_answered("DescribeDBInstances");

    let response = ok(&env.app(&[]), json!({"command": "status", "db_instance_identifier": "orders"})).await;

    assert_eq!(response.status, Outcome::Info, "{response:?}");
    assert_eq!(env.calls_answered("DescribeDBInstances") - describes, 2, "the primary, then its replicas at once");
    assert!(response.message.contains("would promote r-fast"), "{}", response.message);
    assert_eq!(response.details["primary"]["status"], "available");
    assert_eq!(response.details["replicas"].as_array().unwrap().len(), 3);
    assert_eq!(response.details["plan"]["plan"], "promote");
    assert!(env.is_replica("r-fast").await);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["info"]);
    assert_eq!(notes[0].attribute("action"), "status");

    let cluster = ok(&env.app(&[]), json!({"command": "status", "db_cluster_identifier": "nope"})).await;
    assert!(cluster.message.contains("not found"), "{}", cluster.message);
}

// ------------------------------------------------------------------ events that are not ours, malformed input

#[tokio::test]
async fn aws_managed_failover_events_should_only_inform() {
    let env = Env::new().await;
    orders(&env).await;
    let response = ok(&env.app(&[]), env.failure_event("orders", "RDS-EVENT-0049")).await;
    assert_eq!(response.status, Outcome::Info, "{response:?}");
    assert!(env.is_replica("r-fast").await);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["info"]);
    assert_eq!(notes[0].attribute("action"), "aws-failover");
}

#[tokio::test]
async fn events_that_are_not_ours_should_be_logged_skips() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let app = env.sdk_app();
    let target_group_alarm: Value = serde_json::from_str(
        &std::fs::read_to_string(integration_tests::repo_root().join("events/alarm-eventbridge-target-group.json"))
            .unwrap(),
    )
    .unwrap();
    for event in [
        target_group_alarm,
        env.failure_event("orders", "RDS-EVENT-0006"),
        env.failure_event("r-fast", "RDS-EVENT-0031"),
    ] {
        let response = ok(&app, event).await;
        assert_eq!(response.status, Outcome::Skipped, "{response:?}");
    }
    assert!(env.is_replica("r-fast").await);
    assert!(env.notifications().await.is_empty());
}

#[tokio::test]
async fn malformed_events_and_commands_should_be_errors_that_change_nothing() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let app = env.sdk_app();
    let mut no_event_id = env.failure_event("orders", "RDS-EVENT-0031");
    no_event_id["detail"].as_object_mut().unwrap().remove("EventID");

    for payload in [json!([1, 2]), json!({"hello": "world"}), no_event_id] {
        match app.handle(payload).await {
            Err(InvokeError::InvalidEvent(_)) => {}
            other => panic!("expected InvalidEvent, got {other:?}"),
        }
    }
    for payload in [
        json!({"command": "reboot", "db_instance_identifier": "orders"}),
        json!({"command": "promote", "db_instance_id": "r-fast"}),
        json!({"command": "promote", "db_instance_identifier": "orders"}),
        json!({"command": "promote", "db_instance_identifier": "nope"}),
    ] {
        match app.handle(payload.clone()).await {
            Err(InvokeError::InvalidCommand(_)) => {}
            other => panic!("{payload}: expected InvalidCommand, got {other:?}"),
        }
    }
    assert!(env.is_replica("r-fast").await);
    assert!(env.notifications().await.is_empty());
}
