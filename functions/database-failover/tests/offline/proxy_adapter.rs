//! The RDS Proxy calls of [`RdsDatabases`] against AWS's documented faults (`aws-smithy-mocks`): those that mean
//! "already done" or "gone" are answers, every other fault an error that says whether a retry can fix it.

use aws_sdk_rds::operation::describe_db_proxy_targets::DescribeDbProxyTargetsOutput;
use aws_sdk_rds::types::{DbProxyTarget, TargetHealth, TargetState, TargetType};
use aws_smithy_mocks::{mock, Rule};
use database_failover::adapters::RdsDatabases;
use database_failover::model::{ProxyBinding, ProxyTarget, ProxyTargets, TargetChange};
use database_failover::ports::Databases;

fn fault(code: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://rds.amazonaws.com/doc/2014-10-31/\"><Error><Type>Sender</Type><Code>{code}\
         </Code><Message>{code}</Message></Error><RequestId>r-1</RequestId></ErrorResponse>"
    )
}

fn databases(rule: &Rule) -> RdsDatabases {
    RdsDatabases::new(test_support::fault_client!(aws_sdk_rds, "us-east-1", [rule]))
}

fn binding() -> ProxyBinding {
    ProxyBinding { proxy: "orders-proxy".into(), target_group: "default".into() }
}

/// A mock of `$op` answering AWS's fault `$code` with HTTP `$status`.
macro_rules! failing {
    ($op:ident, $status:expr, $code:expr) => {
        mock!(aws_sdk_rds::Client::$op).sequence().http_status($status, Some(fault($code))).build()
    };
}

#[tokio::test]
async fn described_targets_are_domain_targets_and_a_missing_proxy_or_group_is_an_answer() {
    let target = DbProxyTarget::builder()
        .rds_resource_id("orders")
        .r#type(TargetType::RdsInstance)
        .endpoint("orders.abc.us-east-1.rds.amazonaws.com")
        .target_health(TargetHealth::builder().state(TargetState::Available).build())
        .build();
    let found = mock!(aws_sdk_rds::Client::describe_db_proxy_targets)
        .match_requests(|input| {
            input.db_proxy_name() == Some("orders-proxy") && input.target_group_name() == Some("default")
        })
        .then_output(move || DescribeDbProxyTargetsOutput::builder().targets(target.clone()).build());
    let answer = databases(&found).proxy_targets("us-east-1", &binding()).await.expect("described");
    let expected = ProxyTarget {
        kind: "RDS_INSTANCE".into(),
        id: "orders".into(),
        endpoint: Some("orders.abc.us-east-1.rds.amazonaws.com".into()),
        health: Some("AVAILABLE".into()),
    };
    assert_eq!(answer, ProxyTargets::Found(vec![expected]));
    let no_proxy = failing!(describe_db_proxy_targets, 404, "DBProxyNotFoundFault");
    assert_eq!(databases(&no_proxy).proxy_targets("us-east-1", &binding()).await, Ok(ProxyTargets::NoProxy));
    let no_group = failing!(describe_db_proxy_targets, 404, "DBProxyTargetGroupNotFoundFault");
    assert_eq!(databases(&no_group).proxy_targets("us-east-1", &binding()).await, Ok(ProxyTargets::NoTargetGroup));
}

#[tokio::test]
async fn a_registration_already_made_is_done_a_missing_proxy_is_gone_and_an_invalid_state_is_an_error() {
    let register =
        |rule: Rule| async move { databases(&rule).register_proxy_target("us-east-1", &binding(), "r1").await };
    assert_eq!(
        register(failing!(register_db_proxy_targets, 400, "DBProxyTargetAlreadyRegisteredFault")).await,
        Ok(TargetChange::AlreadyDone)
    );
    assert_eq!(
        register(failing!(register_db_proxy_targets, 404, "DBProxyNotFoundFault")).await,
        Ok(TargetChange::Gone)
    );
    assert_eq!(
        register(failing!(register_db_proxy_targets, 404, "DBProxyTargetGroupNotFoundFault")).await,
        Ok(TargetChange::Gone)
    );
    let error =
        register(failing!(register_db_proxy_targets, 400, "InvalidDBInstanceState")).await.expect_err("an error");
    assert_eq!(
        (error.operation, error.code.as_deref(), error.transient),
        ("RegisterDBProxyTargets", Some("InvalidDBInstanceState"), false)
    );
    let ok = mock!(aws_sdk_rds::Client::register_db_proxy_targets)
        .match_requests(|input| input.db_instance_identifiers() == ["r1"])
        .then_output(|| {
            aws_sdk_rds::operation::register_db_proxy_targets::RegisterDbProxyTargetsOutput::builder().build()
        });
    assert_eq!(register(ok).await, Ok(TargetChange::Changed));
}

#[tokio::test]
async fn a_deregistration_of_no_target_is_done_and_a_missing_group_is_gone() {
    let deregister =
        |rule: Rule| async move { databases(&rule).deregister_proxy_target("us-east-1", &binding(), "orders").await };
    assert_eq!(
        deregister(failing!(deregister_db_proxy_targets, 404, "DBProxyTargetNotFoundFault")).await,
        Ok(TargetChange::AlreadyDone)
    );
    assert_eq!(
        deregister(failing!(deregister_db_proxy_targets, 404, "DBProxyTargetGroupNotFoundFault")).await,
        Ok(TargetChange::Gone)
    );
    let error =
        deregister(failing!(deregister_db_proxy_targets, 400, "InvalidDBProxyStateFault")).await.expect_err("an error");
    assert_eq!(error.code.as_deref(), Some("InvalidDBProxyStateFault"));
}
