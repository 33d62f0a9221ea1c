//! `database-failover` on an RDS Multi-AZ DB cluster (MySQL, a writer and two readable standbys), against the
//! local AWS, which creates the cluster's three instances as RDS does (`tools/local_aws/rds.py`). The readers'
//! `ReplicaLag` (seconds) is real CloudWatch data, judged as of the failure's onset; lag is a guard there. AWS's
//! own failover comes first: one under way is waited for, one completed is left alone. The writer and the
//! `FailoverDBCluster` calls are asserted on the local AWS (`DescribeDBClusters`, its call log).

use aws_sdk_rds::types::Tag;
use database_failover::ports::LagMetric;
use failover_core::ledger::State;
use failover_core::outcome::Outcome;
use integration_tests::database::*;
use serde_json::{json, Value};

const WRITER: &str = "shop-instance-1";
const READER_2: &str = "shop-instance-2";
const READER_3: &str = "shop-instance-3";

/// Multi-AZ DB cluster `shop` (engine mysql, opted in): RDS makes shop-instance-1 the writer and -2, -3 the
/// readers; the readers are opted in, with `extra` tags on shop-instance-2.
async fn shop(env: &Env, extra: &[(&str, &str)]) {
    let rds = env.account.rds();
    rds.create_db_cluster()
        .db_cluster_identifier("shop")
        .engine("mysql")
        .db_cluster_instance_class("db.m6gd.large")
        .allocated_storage(100)
        .storage_type("io1")
        .iops(1000)
        .master_username("admin")
        .master_user_password("password1")
        .tags(tag(OPT_IN, "true"))
        .send()
        .await
        .expect("Multi-AZ DB cluster");
    for id in [READER_2, READER_3] {
        let arn = format!("arn:aws:rds:{}:{}:db:{id}", env.account.region, env.account.id);
        let mut tags: Vec<Tag> = vec![tag(OPT_IN, "true")];
        if id == READER_2 {
            tags.extend(extra.iter().map(|(k, v)| tag(k, v)));
        }
        rds.add_tags_to_resource().resource_name(arn).set_tags(Some(tags)).send().await.expect("tag reader");
    }
}

/// A new account with [`shop`] and its readers' `ReplicaLag` (newest first, as [`put_lag`] publishes it).
async fn lagging(extra: &[(&str, &str)], lag_2: &[f64], lag_3: &[f64]) -> Env {
    let env = Env::new().await;
    shop(&env, extra).await;
    env.lag(READER_2, lag_2).await;
    env.lag(READER_3, lag_3).await;
    env
}

async fn writer(env: &Env) -> String {
    let cluster = env.account.rds().describe_db_clusters().db_cluster_identifier("shop").send().await.expect("shop");
    let members = cluster.db_clusters()[0].db_cluster_members().to_vec();
    let writer = members.iter().find(|m| m.is_cluster_writer() == Some(true)).and_then(|m| m.db_instance_identifier());
    writer.expect("a writer").to_owned()
}

/// The alarm on the writer instance (what `alarms/template.yaml` makes for a member), entering ALARM now.
fn writer_alarm(env: &Env) -> Value {
    alarm_action(&env.account.id, "failover-shop-writer-down", ("DBInstanceIdentifier", WRITER))
}

async fn records(env: &Env) -> Vec<failover_core::ledger::Record> {
    env.records(&format!("db-cluster:{}/shop", env.account.region)).await
}

/// The writer crashed about 3.5 minutes before its alarm: from then on both readers' replication reports -1.
/// As of the onset shop-instance-2 was 0.5 s behind and shop-instance-3 6 s; as of the alarm both read -1 (which
/// would make neither eligible). Judged as of the onset, the least-lagging reader becomes the writer, once.
#[tokio::test]
async fn a_multi_az_writer_failure_should_fail_over_to_the_least_lagging_reader_as_of_the_onset_once() {
    let env = Env::new().await;
    shop(&env, &[]).await;
    let crashed = |before: [f64; 2]| [(330, before[0]), (270, before[1]), (210, -1.0), (150, -1.0), (90, -1.0)];
    put_lag_aged(&env.account, LagMetric::ReplicaLag, READER_2, &crashed([0.5, 0.4])).await;
    put_lag_aged(&env.account, LagMetric::ReplicaLag, READER_3, &crashed([6.0, 5.0])).await;
    let app = env.app(&[]);

    let response = ok(&app, writer_alarm(&env)).await;

    assert_eq!((response.status, response.action.as_str()), (Outcome::Succeeded, "failover-cluster"), "{response:?}");
    assert_eq!(writer(&env).await, READER_2, "the least-lagging reader as of the onset");
    assert_eq!(env.calls_answered("FailoverDBCluster"), 1);
    let lag_reads: Vec<&str> = env.lag_calls().iter().map(|(_, metric, _)| *metric).collect();
    assert_eq!(lag_reads, ["ReplicaLag"], "the instances' ReplicaLag, not AuroraReplicaLag");
    let recorded = records(&env).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert!(recorded[0].key.starts_with("failover#"), "{recorded:?}");
    assert_eq!((recorded[0].state, &recorded[0].data["target"]["id"]), (State::Done, &json!(READER_2)));
    let again = ok(&app, writer_alarm(&env)).await;
    assert_eq!(again.status, Outcome::Skipped, "within the cooldown, nothing failed over again: {again:?}");
    assert_eq!(env.calls_answered("FailoverDBCluster"), 1, "no second failover");
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes)[0], "succeeded");
    let body = notes[0].body();
    assert_eq!(body["details"]["target"], READER_2);
    assert_eq!(body["details"]["topology"]["kind"], "multi-az-cluster");
    let onset = body["details"]["onset"].as_str().and_then(failover_core::time::parse_time);
    let ago = failover_core::time::now_secs() - onset.expect("details.onset");
    assert!((180..=300).contains(&ago), "the onset is where replication broke, not the alarm: {ago} s ago");
    assert!(body["summary"].as_str().unwrap().contains("ReplicaLag as of the onset"), "{body}");
}

/// AWS fails the cluster over by itself (RDS records it for DescribeEvents; no event is delivered). The writer's
/// alarm afterwards is left alone: recorded and told as AWS's failover, no second FailoverDBCluster.
#[tokio::test]
async fn a_multi_az_cluster_aws_already_failed_over_should_be_left_alone() {
    let env = lagging(&[], &[0.5], &[0.2]).await;
    let rds = env.account.rds();
    let by_aws = rds.failover_db_cluster().db_cluster_identifier("shop").target_db_instance_identifier(READER_3);
    by_aws.send().await.expect("AWS's own failover");
    let app = env.app(&[]);

    let response = ok(&app, writer_alarm(&env)).await;

    assert_eq!((response.status, response.action.as_str()), (Outcome::Info, "failover-cluster"), "{response:?}");
    assert_eq!(env.calls_answered("FailoverDBCluster"), 1, "AWS's own only");
    assert_eq!(writer(&env).await, READER_3, "the writer AWS chose");
    let recorded = records(&env).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert!(recorded[0].key.starts_with("failover#aws-"), "{recorded:?}");
    let cluster_alarm = alarm_action(&env.account.id, "failover-shop-commit-latency", ("DBClusterIdentifier", "shop"));
    let later = ok(&app, cluster_alarm).await;
    assert_eq!(later.status, Outcome::Skipped, "within the cooldown after AWS's failover: {later:?}");
    assert_eq!(env.calls_answered("FailoverDBCluster"), 1);
    let notes = env.notifications().await;
    assert_eq!(outcomes(&notes), ["info"], "told once");
    assert_eq!(notes[0].body()["details"]["writer"], READER_3);
}

/// AWS started failing the cluster over (RDS-EVENT-0073, in DescribeEvents) and has not completed: the alarm
/// waits (a retryable error), nothing is failed over and nothing recorded; once AWS completed it, the next alarm
/// leaves the cluster alone.
#[tokio::test]
async fn a_multi_az_alarm_while_aws_fails_the_cluster_over_should_wait_and_change_nothing() {
    let env = lagging(&[], &[0.5], &[0.2]).await;
    let started = json!({"db_cluster_identifier": "shop", "categories": ["failover"],
        "message": format!("Started cross AZ failover to DB instance: {READER_3}")});
    env.account.control("/_failover/rds/event", started);
    let app = env.app(&[]);

    let error = app.handle(writer_alarm(&env)).await.expect_err("AWS is failing over: Lambda retries");

    assert_eq!(error.error_type(), "PromotionInProgress", "{error}");
    assert!(error.to_string().contains("Multi-AZ DB cluster started"), "{error}");
    assert_eq!(env.calls_answered("FailoverDBCluster"), 0, "nothing failed over while AWS does");
    assert_eq!(writer(&env).await, WRITER);
    assert!(records(&env).await.is_empty(), "nothing decided");
    let status = ok(&app, json!({"command": "status", "db_cluster_identifier": "shop"})).await;
    assert!(status.summary.contains("would wait: AWS's own failover"), "{status:?}");

    // AWS completes its failover (RDS records it: started, then completed); the retried alarm leaves it alone.
    let rds = env.account.rds();
    let by_aws = rds.failover_db_cluster().db_cluster_identifier("shop").target_db_instance_identifier(READER_3);
    by_aws.send().await.expect("AWS's own failover");
    let retried = ok(&app, writer_alarm(&env)).await;
    assert_eq!((retried.status, retried.action.as_str()), (Outcome::Info, "failover-cluster"), "{retried:?}");
    assert_eq!(env.calls_answered("FailoverDBCluster"), 1, "AWS's own only");
    assert_eq!(writer(&env).await, READER_3);
    assert!(records(&env).await.iter().all(|r| r.key.starts_with("failover#aws-")), "AWS's failover recorded");
}

/// shop-instance-2 is preferred (`failover:priority=1`) but 45 s behind, above MAX_REPLICA_LAG_SECONDS (30 s):
/// lag is a guard on a Multi-AZ DB cluster, so shop-instance-3 (12 s) becomes the writer.
#[tokio::test]
async fn a_multi_az_reader_lagging_above_the_limit_should_not_be_chosen_even_when_preferred() {
    let env = lagging(&[("failover:priority", "1")], &[45.0], &[12.0]).await;

    let response = ok(&env.app(&[]), writer_alarm(&env)).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(writer(&env).await, READER_3);
    let notes = env.notifications().await;
    let readers = &notes[0].body()["details"]["readers"];
    let behind = readers.as_array().unwrap().iter().find(|r| r["id"] == READER_2).expect("judged");
    assert_eq!(behind["eligible"], false, "{readers}");
    assert!(behind["reason"].as_str().unwrap().contains("45 s, above MAX_REPLICA_LAG_SECONDS (30 s)"), "{readers}");
}

/// Both readers behind the limit: refused with the numbers and the forced command, nothing changed; the forced
/// command a person then runs fails over to the reader it names.
#[tokio::test]
async fn all_multi_az_readers_lagging_should_refuse_with_the_numbers_and_change_nothing_until_forced() {
    let env = lagging(&[], &[45.0], &[60.0]).await;
    let app = env.app(&[]);

    let response = ok(&app, writer_alarm(&env)).await;

    assert_eq!((response.status, response.action.as_str()), (Outcome::Refused, "failover-cluster"), "{response:?}");
    assert_eq!(env.calls_answered("FailoverDBCluster"), 0, "nothing failed over");
    assert_eq!(writer(&env).await, WRITER);
    assert!(records(&env).await.is_empty(), "nothing recorded");
    let notes = env.notifications().await;
    assert_eq!((outcomes(&notes), notes[0].attribute("severity")), (vec!["refused"], "critical"));
    let body = notes[0].body();
    let summary = body["summary"].as_str().unwrap();
    for said in [format!("{READER_2} 45 s"), format!("{READER_3} 60 s"), "MAX_REPLICA_LAG_SECONDS is 30 s".into()] {
        assert!(summary.contains(&said), "{said} in {summary}");
    }
    let forced = json!({"command": "failover-cluster", "db_cluster_identifier": "shop", "region": env.account.region,
        "target_db_instance_identifier": READER_2, "force": true});
    assert!(summary.contains(&forced.to_string()), "the least-lagging reader's forced command: {summary}");

    let unforced = json!({"command": "failover-cluster", "db_cluster_identifier": "shop",
        "target_db_instance_identifier": READER_2});
    assert_eq!(ok(&app, unforced).await.status, Outcome::Refused);
    assert_eq!(env.calls_answered("FailoverDBCluster"), 0);
    let done = ok(&app, forced).await;
    assert_eq!(done.status, Outcome::Succeeded, "{done:?}");
    assert_eq!(writer(&env).await, READER_2);
}

/// `status` and `readiness` say what each resource is: an instance, an Aurora cluster, a Multi-AZ DB cluster.
#[tokio::test]
async fn status_and_readiness_should_show_the_topology_of_each_resource() {
    let env = Env::new().await;
    orders(&env).await;
    shop(&env, &[]).await;
    env.lag(READER_2, &[0.5]).await;
    env.lag(READER_3, &[2.0]).await;
    let rds = env.account.rds();
    let aurora = rds.create_db_cluster().db_cluster_identifier("catalog").engine("aurora-mysql").master_username("a");
    aurora.master_user_password("password1").tags(tag(OPT_IN, "true")).send().await.expect("aurora");
    for id in ["catalog-writer", "catalog-reader"] {
        let member = rds.create_db_instance().db_instance_identifier(id).db_cluster_identifier("catalog");
        let member = member.engine("aurora-mysql").db_instance_class("db.r5.large").tags(tag(OPT_IN, "true"));
        member.send().await.expect("aurora member");
    }
    put_lag(&env.account, LagMetric::AuroraReplicaLag, "catalog-reader", &[15.0]).await;
    let app = env.app(&[]);

    for (subject, field, kind) in [
        ("orders", "db_instance_identifier", "instance"),
        ("catalog", "db_cluster_identifier", "aurora"),
        ("shop", "db_cluster_identifier", "multi-az-cluster"),
    ] {
        let status = ok(&app, json!({"command": "status", field: subject})).await;
        assert_eq!(status.details["topology"]["kind"], kind, "{status:?}");
        assert!(status.summary.contains(&format!("If {subject} ({kind}) failed now")), "{status:?}");
    }
    let shop_status = ok(&app, json!({"command": "status", "db_cluster_identifier": "shop"})).await;
    assert!(shop_status.summary.contains(&format!("would fail over to {READER_2}")), "{shop_status:?}");
    let instances = shop_status.details["instances"].as_array().expect("instances").clone();
    let reader = instances.iter().find(|i| i["id"] == READER_2).expect("shop-instance-2");
    assert_eq!(reader["replica_lag_seconds"], json!([0.5]), "seconds, from ReplicaLag: {shop_status:?}");

    let readiness = ok(&app, json!({"command": "readiness", "dry_run": true})).await;
    let judged = readiness.details["judged"].as_array().expect("judged").clone();
    let kind_of = |name: &str| {
        let entry = judged.iter().find(|j| j["primary"] == name || j["cluster"] == name).expect(name);
        entry["topology"]["kind"].as_str().unwrap().to_owned()
    };
    assert_eq!(
        (kind_of("orders"), kind_of("catalog"), kind_of("shop")),
        ("instance".into(), "aurora".into(), "multi-az-cluster".into())
    );
    let shop_line = format!("- cluster shop (multi-az-cluster): {READER_2} (lag 0.5 s)");
    for line in ["- orders (instance):", "- cluster catalog (aurora):", shop_line.as_str()] {
        assert!(readiness.summary.contains(line), "{line} in {}", readiness.summary);
    }
    assert_eq!(writer(&env).await, WRITER, "status and readiness change nothing");
    assert_eq!(env.calls_answered("FailoverDBCluster"), 0);
}
