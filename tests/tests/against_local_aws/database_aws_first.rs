//! `database-failover` lets AWS's own Multi-AZ failover come first, against the local AWS: from RDS-EVENT-0013
//! (failover started) until its completion, a trigger about the primary promotes nothing and asks Lambda to
//! retry; once AWS says it completed, the next trigger is decided as usual.

use failover_core::outcome::Outcome;
use integration_tests::database::*;

#[tokio::test]
async fn an_alarm_during_awss_own_multi_az_failover_waits_and_promotes_nothing_until_it_completes() {
    let env = Env::new().await;
    orders(&env).await;
    env.set_status("orders", "failed");
    let app = env.app(&[]);
    let alarm = alarm_action(&env.account.id, "failover-orders-down", ("DBInstanceIdentifier", "orders"));

    let started = ok(&app, env.failure_event("orders", "RDS-EVENT-0013")).await;
    assert_eq!((started.status, started.action.as_str()), (Outcome::Info, "aws-failover"), "{started:?}");
    let error = app.handle(alarm.clone()).await.expect_err("AWS is failing over: Lambda retries");

    assert_eq!(error.error_type(), "PromotionInProgress", "{error}");
    assert!(error.to_string().contains("Multi-AZ failover"), "{error}");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 0, "nothing promoted while AWS fails over");
    assert_eq!(env.promotion("orders").await, None, "no decision recorded");
    let records = env.records(&format!("db-instance:{}/orders", env.account.region)).await;
    assert!(records.iter().any(|r| r.key.starts_with("aws-failover#") && r.data["event_id"] == "RDS-EVENT-0013"));
    let status = ok(&app, serde_json::json!({"command": "status", "db_instance_identifier": "orders"})).await;
    assert!(status.summary.contains("would wait") && status.summary.contains("Multi-AZ failover"), "{status:?}");

    // AWS says it completed; the primary is still failed (its standby did not come up): decided as usual.
    let completed = ok(&app, env.failure_event("orders", "RDS-EVENT-0015")).await;
    assert_eq!(completed.status, Outcome::Info, "{completed:?}");
    let response = ok(&app, alarm).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1);
    let notes = env.notifications().await;
    assert_eq!(
        outcomes(&notes),
        ["info", "info", "info", "succeeded"],
        "AWS's events and the status told, then the promotion"
    );
}

/// EventBridge delivers RDS events best effort: RDS recorded that AWS's own Multi-AZ failover of orders started
/// (RDS-EVENT-0013, only in DescribeEvents), and no event ever reached the function. The alarm finds no record
/// in the ledger, reads the primary's failover events, and waits: nothing promoted, nothing decided, a retryable
/// error. Once RDS records the completion, the next alarm is decided as usual.
#[tokio::test]
async fn an_alarm_during_a_multi_az_failover_that_only_describe_events_knows_waits_and_promotes_nothing() {
    let env = Env::new().await;
    orders(&env).await;
    let rds = env.account.rds();
    rds.modify_db_instance()
        .db_instance_identifier("orders")
        .multi_az(true)
        .apply_immediately(true)
        .send()
        .await
        .expect("Multi-AZ");
    env.set_status("orders", "failed");
    let now = failover_core::time::now_secs();
    let event = |message: &str, at: i64| {
        let body = serde_json::json!({"db_instance_identifier": "orders", "message": message,
                                      "categories": ["failover"], "date": at});
        env.account.control("/_failover/rds/event", body);
    };
    event("A Multi-AZ failover that resulted in the promotion of a standby instance has started.", now - 60);
    let app = env.app(&[]);
    let alarm = alarm_action(&env.account.id, "failover-orders-down", ("DBInstanceIdentifier", "orders"));

    let error = app.handle(alarm.clone()).await.expect_err("AWS is failing over: Lambda retries");

    assert_eq!(error.error_type(), "PromotionInProgress", "{error}");
    assert!(error.to_string().contains("DescribeEvents"), "{error}");
    assert!(env.calls_answered("DescribeEvents") >= 1);
    assert_eq!(env.calls_answered("PromoteReadReplica"), 0, "nothing promoted while AWS fails over");
    assert_eq!(env.promotion("orders").await, None, "no decision recorded");
    assert!(env.is_replica("r-fast").await && env.is_replica("r-mid").await && env.is_replica("r-lag").await);
    assert!(env.notifications().await.is_empty(), "nothing told while waiting");
    let status = ok(&app, serde_json::json!({"command": "status", "db_instance_identifier": "orders"})).await;
    assert!(status.summary.contains("would wait") && status.summary.contains("DescribeEvents"), "{status:?}");

    // RDS recorded the completion; the primary is still failed (its standby did not come up): decided as usual.
    event("A Multi-AZ failover has completed.", failover_core::time::now_secs());
    let response = ok(&app, alarm).await;

    assert_eq!(response.status, Outcome::Succeeded, "{response:?}");
    assert_eq!(env.calls_answered("PromoteReadReplica"), 1);
    assert_eq!(outcomes(&env.notifications().await), ["info", "succeeded"], "the status, then the promotion");
}
