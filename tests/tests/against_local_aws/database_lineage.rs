//! `database-failover` after the failover, against the local AWS: the lineage (old primary → new primary, by
//! `DbiResourceId`) carries the client bindings to the new primary, so that a second failover works without a
//! tag copied by hand (the DNS record, the RDS Proxy and the fence group follow); with `RECREATE_REPLICA`, one replica of the new primary is created, once.

use database_failover::actions::recreate::replica_id;
use database_failover::model::{DNS_RECORD_TAG, FENCE_GROUP_TAG, PRIORITY_TAG, PROXY_TAG};
use failover_core::ledger::State;
use failover_core::outcome::Outcome;
use integration_tests::database::*;
use serde_json::json;

/// The read replicas RDS lists for `id`.
async fn replicas_of(env: &Env, id: &str) -> Vec<String> {
    env.describe(id).await.read_replica_db_instance_identifiers.unwrap_or_default()
}

fn tag_value(instance: &aws_sdk_rds::types::DbInstance, key: &str) -> Option<String> {
    instance.tag_list().iter().find(|t| t.key() == Some(key)).and_then(|t| t.value().map(str::to_owned))
}

#[tokio::test]
async fn two_failovers_in_a_row_should_repoint_the_same_record_with_no_tag_copied_and_create_one_replica_each() {
    let env = Env::new().await;
    env.primary("db1", true).await;
    env.replica("r2", "db1", &[(PRIORITY_TAG, "5")]).await;
    env.lag("r2", &[1.0, 0.5]).await;
    let in_app_group =
        env.account.rds().modify_db_instance().db_instance_identifier("r2").vpc_security_group_ids("sg-app");
    in_app_group.apply_immediately(true).send().await.expect("r2 in sg-app");
    let zone_id = zone_with_record(&env, &endpoint(&env, "db1").await).await;
    tag_dns_record(&env, "db1", &zone_id).await;
    proxy(&env, "shop-proxy", Some("db1")).await;
    bind(&env, "db1", "shop-proxy").await;
    let arn = env.describe("db1").await.db_instance_arn.expect("arn");
    let fence_tag = tag(FENCE_GROUP_TAG, "sg-fence");
    env.account.rds().add_tags_to_resource().resource_name(arn).tags(fence_tag).send().await.expect("tag");
    let app = env.app(&[("RECREATE_REPLICA", "true"), ("FENCE", "security-group")]);

    // db1 fails: r2 is promoted, the record follows it, and one replica of r2 is created for the next failure.
    env.set_status("db1", "failed");
    let first = ok(&app, env.failure_event("db1", "RDS-EVENT-0031")).await;

    assert_eq!(first.status, Outcome::Succeeded, "{first:?}");
    let r2 = endpoint(&env, "r2").await;
    assert_eq!(record(&env, &zone_id).await.1, vec![r2.clone()]);
    assert_eq!(targets(&env, "shop-proxy").await, ["r2"]);
    let created = replicas_of(&env, "r2").await;
    assert_eq!(created.len(), 1, "one replica of r2: {created:?}");
    let r3 = created[0].clone();
    let (new, promoted) = (env.describe(&r3).await, env.describe("r2").await);
    assert_eq!(tag_value(&new, OPT_IN).as_deref(), Some("true"), "opted in on creation");
    assert_eq!(tag_value(&new, PRIORITY_TAG).as_deref(), Some("5"), "the promoted replica's priority");
    assert_eq!(new.tag_list().len(), 2, "no other tag: {:?}", new.tag_list());
    assert_eq!(
        (new.db_instance_class(), new.availability_zone()),
        (promoted.db_instance_class(), promoted.availability_zone())
    );
    let groups = |db: &aws_sdk_rds::types::DbInstance| -> Vec<String> {
        db.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id().map(str::to_owned)).collect()
    };
    assert_eq!(groups(&new), ["sg-app"], "in the promoted replica's groups, not the VPC's default");
    assert_eq!(tag_value(&promoted, DNS_RECORD_TAG), None, "the function writes no tag on r2");
    let note = &env.notifications().await[0];
    assert_eq!(note.body()["details"]["new_replica"], json!({"result": "created", "id": r3, "of": "r2"}));
    assert!(note.body()["summary"].as_str().unwrap().contains(&format!("Read replica {r3} of r2 is being created")));
    let lineage = env.records(&format!("db-instance:{}/r2", env.account.region)).await;
    let lineage = lineage.iter().find(|r| r.key.starts_with("lineage#")).expect("the lineage on r2");
    assert_eq!(lineage.data["from"]["id"], "db1");
    assert_eq!(lineage.data["to"]["resource_id"], json!(promoted.dbi_resource_id()));
    assert_eq!(lineage.data["bindings"][DNS_RECORD_TAG], format!("{zone_id}/writer.shop.internal"));

    // status on r2 tells where it comes from and what it inherits.
    let status = ok(&app, json!({"command": "status", "db_instance_identifier": "r2"})).await;
    assert!(status.summary.contains("Lineage: r2 replaced db1"), "{}", status.summary);
    assert_eq!(status.details["primary"]["inherited"][DNS_RECORD_TAG], format!("{zone_id}/writer.shop.internal"));

    // A week later r2 fails in turn: r3 is promoted and the same record follows it, with no tag copied by hand.
    env.lag(&r3, &[1.0, 0.5]).await;
    env.set_status("r2", "failed");
    let second = ok(&app, env.failure_event("r2", "RDS-EVENT-0031")).await;

    assert_eq!(second.status, Outcome::Succeeded, "{second:?}");
    assert!(!env.is_replica(&r3).await, "{r3} promoted");
    assert_eq!(record(&env, &zone_id).await.1, vec![endpoint(&env, &r3).await], "the record followed the lineage");
    assert_eq!(targets(&env, "shop-proxy").await, vec![r3.clone()], "and so did the proxy");
    assert_eq!(tag_value(&env.describe("r2").await, PROXY_TAG), None, "no tag copied to r2");

    // r2 comes back: it is fenced with the group db1's tag named, inherited too.
    env.set_status("r2", "available");
    ok(&app, env.failure_event("r2", "RDS-EVENT-0006")).await;
    let fenced = env.describe("r2").await;
    let groups: Vec<_> = fenced.vpc_security_groups().iter().filter_map(|g| g.vpc_security_group_id()).collect();
    assert_eq!(groups, ["sg-fence"]);
    assert_eq!(replicas_of(&env, &r3).await.len(), 1, "one replica of {r3} in turn");
    let lineage = env.records(&format!("db-instance:{}/{r3}", env.account.region)).await;
    let lineage = lineage.iter().find(|r| r.key.starts_with("lineage#")).expect("the lineage on r3");
    assert_eq!(
        (&lineage.data["from"]["id"], &lineage.data["bindings"][DNS_RECORD_TAG]),
        (&json!("r2"), &json!(format!("{zone_id}/writer.shop.internal")))
    );
}

#[tokio::test]
async fn a_run_cut_short_after_creating_the_replica_should_not_create_a_second_one_when_retried() {
    let env = Env::new().await;
    env.primary("db1", true).await;
    env.replica("r2", "db1", &[]).await;
    env.lag("r2", &[1.0, 0.5]).await;
    env.set_status("db1", "failed");
    // A run decided at `at`, promoted r2 and asked for its replica, then died before recording anything more.
    let at = failover_core::time::now_secs() - 60;
    env.crashed_decision_at("db1", "r2", at).await;
    env.account.rds().promote_read_replica().db_instance_identifier("r2").send().await.expect("promoted");
    env.replica(&replica_id("r2", at), "r2", &[]).await;
    let app = env.app(&[("RECREATE_REPLICA", "true")]);

    let retry = ok(&app, env.failure_event("db1", "RDS-EVENT-0031")).await;

    assert_eq!(retry.status, Outcome::Succeeded, "{retry:?}");
    assert_eq!(replicas_of(&env, "r2").await, vec![replica_id("r2", at)], "exactly one replica");
    let records = env.records(&format!("db-instance:{}/r2", env.account.region)).await;
    let made = records.iter().find(|r| r.key == format!("replica#{}", replica_id("r2", at))).expect("recorded");
    assert_eq!((made.state, &made.data["result"]["result"]), (State::Done, &json!("already-created")));
    assert_eq!(env.promotion("db1").await.map(|(state, _)| state), Some(State::Done));

    // The same event once more: nothing else is created.
    ok(&app, env.failure_event("db1", "RDS-EVENT-0031")).await;
    assert_eq!(replicas_of(&env, "r2").await.len(), 1);
}

#[tokio::test]
async fn without_recreate_replica_no_instance_is_created_and_readiness_names_the_command() {
    let env = Env::new().await;
    env.primary("db1", true).await;
    env.replica("r2", "db1", &[]).await;
    env.lag("r2", &[1.0, 0.5]).await;
    env.set_status("db1", "failed");
    let app = env.app(&[]);

    let response = ok(&app, env.failure_event("db1", "RDS-EVENT-0031")).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert!(replicas_of(&env, "r2").await.is_empty(), "RECREATE_REPLICA is off by default");
    assert_eq!(env.notifications().await[0].body()["details"]["new_replica"], serde_json::Value::Null);
    let readiness = ok(&app, json!({"command": "readiness", "db_instance_identifier": "r2"})).await;
    let gaps = readiness.details["findings"].as_array().expect("findings").clone();
    let gap = gaps.iter().find(|g| g["kind"] == "no-eligible-replica").unwrap_or_else(|| panic!("{gaps:?}"));
    let group = env.describe("r2").await.vpc_security_groups()[0].vpc_security_group_id().unwrap().to_owned();
    let expected = format!(
        "aws rds create-db-instance-read-replica --region {} --db-instance-identifier r2-replica \
         --source-db-instance-identifier r2 --db-instance-class db.t3.micro --vpc-security-group-ids {group} \
         --tags Key={OPT_IN},Value=true",
        env.account.region
    );
    assert_eq!(gap["fix"], expected.as_str());
    assert_eq!(readiness.details["judged"][0]["lineage"]["from"]["id"], "db1", "{}", readiness.details);
}

#[tokio::test]
async fn a_replica_rds_refused_for_now_should_be_asked_for_again_by_readiness_once() {
    let env = Env::new().await;
    env.primary("db1", true).await;
    env.replica("r2", "db1", &[]).await;
    env.account.rds().promote_read_replica().db_instance_identifier("r2").send().await.expect("promoted");
    // Right after its promotion r2 was backing up: RDS refused its replica, and the record stayed pending.
    env.pending_replica("r2", "r2-r1796638625").await;
    env.set_status("r2", "backing-up");
    let app = env.app(&[("RECREATE_REPLICA", "true")]);
    let readiness = json!({"command": "readiness", "db_instance_identifier": "r2"});
    let found = |response: &failover_core::response::Response| -> serde_json::Value {
        let findings = response.details["findings"].as_array().expect("findings").clone();
        findings.into_iter().find(|g| g["kind"] == "replica-being-recreated").expect("the replica's finding")
    };

    let refused = ok(&app, readiness.clone()).await;
    assert!(found(&refused)["problem"].as_str().unwrap().contains("still not created"), "{}", refused.details);
    assert!(replicas_of(&env, "r2").await.is_empty());

    env.set_status("r2", "available");
    let asked = ok(&app, readiness.clone()).await;
    assert!(found(&asked)["problem"].as_str().unwrap().contains("was asked for now"), "{}", asked.details);
    assert_eq!(replicas_of(&env, "r2").await, ["r2-r1796638625"]);
    let records = env.records(&format!("db-instance:{}/r2", env.account.region)).await;
    assert_eq!(records.iter().find(|r| r.key == "replica#r2-r1796638625").map(|r| r.state), Some(State::Done));

    // Done: the next run asks nothing, and a dry run would not have either.
    let after = ok(&app, readiness).await;
    let findings = after.details["findings"].as_array().expect("findings").clone();
    assert!(findings.iter().all(|g| g["kind"] != "replica-being-recreated"), "{findings:?}");
    assert_eq!(replicas_of(&env, "r2").await.len(), 1);
}
