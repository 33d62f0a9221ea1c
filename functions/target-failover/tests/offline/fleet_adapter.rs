//! The `Fleet` port over the Auto Scaling SDK client (`adapters/fleet.rs`), against `aws-smithy-mocks`: what
//! it sends (`SetInstanceHealth` Unhealthy with `ShouldRespectGracePeriod=true`, which the local AWS cannot
//! show since it defaults to true), what it makes of the answers, and every fault the local AWS cannot produce
//! (throttling, 503, connection reset, timeout) on each of its three calls: transient once the SDK's attempts
//! are spent, invisible when it clears within them.

use aws_sdk_autoscaling::operation::describe_auto_scaling_instances::DescribeAutoScalingInstancesOutput;
use aws_sdk_autoscaling::operation::describe_tags::DescribeTagsOutput;
use aws_sdk_autoscaling::operation::set_instance_health::SetInstanceHealthOutput;
use aws_sdk_autoscaling::types::{AutoScalingInstanceDetails, TagDescription};
use aws_sdk_autoscaling::Client;
use aws_smithy_mocks::{mock, Rule};
use target_failover::adapters::ElbClient;
use target_failover::ports::Fleet;
use test_support::faulty_http::{Fault, ATTEMPTS, FAULTS};
use test_support::OPT_IN;

macro_rules! client {
    ($sdk:ident, $rules:expr) => {
        test_support::fault_client!($sdk, "us-east-1", $rules)
    };
}

fn port(rules: &[Rule]) -> ElbClient {
    let elb = client!(aws_sdk_elasticloadbalancingv2, &[]);
    ElbClient::new(elb).with_fleet(client!(aws_sdk_autoscaling, rules))
}

fn instances_output() -> DescribeAutoScalingInstancesOutput {
    let details = |id: &str, group: &str| {
        AutoScalingInstanceDetails::builder()
            .instance_id(id)
            .auto_scaling_group_name(group)
            .availability_zone("us-east-1a")
            .lifecycle_state("InService")
            .health_status("HEALTHY")
            .protected_from_scale_in(false)
            .build()
    };
    DescribeAutoScalingInstancesOutput::builder()
        .auto_scaling_instances(details("i-1", "web"))
        .auto_scaling_instances(details("i-2", "batch"))
        .build()
}

fn groups_output() -> DescribeTagsOutput {
    let tag = TagDescription::builder()
        .key(OPT_IN)
        .value("true")
        .resource_id("web")
        .resource_type("auto-scaling-group")
        .propagate_at_launch(false)
        .build();
    DescribeTagsOutput::builder().tags(tag).build()
}

fn world() -> Vec<Rule> {
    vec![
        mock!(Client::describe_auto_scaling_instances).then_output(instances_output),
        mock!(Client::describe_tags).then_output(groups_output),
        mock!(Client::set_instance_health)
            .match_requests(|input| {
                input.health_status() == Some("Unhealthy") && input.should_respect_grace_period() == Some(true)
            })
            .then_output(|| SetInstanceHealthOutput::builder().build()),
    ]
}

#[tokio::test]
async fn scaling_groups_gives_each_instance_in_a_group_with_the_groups_tags() {
    let ids: Vec<String> = ["i-1", "i-2", "i-3"].iter().map(|s| (*s).to_owned()).collect();
    let groups = port(&world()).scaling_groups(&ids).await.unwrap();
    assert_eq!(groups.len(), 2, "i-3 is in no group: {groups:?}");
    assert_eq!(groups["i-1"].0, "web");
    assert_eq!(groups["i-1"].1.get(OPT_IN).map(String::as_str), Some("true"));
    assert_eq!((groups["i-2"].0.as_str(), groups["i-2"].1.len()), ("batch", 0));
    assert!(port(&[]).scaling_groups(&[]).await.unwrap().is_empty(), "no instance, no call");
}

#[tokio::test]
async fn mark_unhealthy_asks_for_unhealthy_respecting_the_grace_period() {
    // The only SetInstanceHealth rule matches exactly that request: any other would find no rule and fail.
    port(&world()).mark_unhealthy("i-1").await.unwrap();
}

#[tokio::test]
async fn without_an_auto_scaling_client_the_port_answers_not_modelled() {
    let elb = ElbClient::new(client!(aws_sdk_elasticloadbalancingv2, &[]));
    let error = elb.mark_unhealthy("i-1").await.unwrap_err();
    assert_eq!((error.operation, error.transient), ("SetInstanceHealth", false));
}

#[tokio::test]
async fn a_validation_error_is_not_transient() {
    let body = "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error><Type>Sender</Type>\
                <Code>ValidationError</Code><Message>Instance Id not found</Message></Error>\
                <RequestId>r-1</RequestId></ErrorResponse>";
    let rule =
        mock!(Client::set_instance_health).sequence().http_status(400, Some(body.to_owned())).repeatedly().build();
    let error = port(&[rule]).mark_unhealthy("i-9").await.unwrap_err();
    assert_eq!((error.code.as_deref(), error.transient), (Some("ValidationError"), false), "{error:?}");
}

fn answer(fault: Fault) -> (u16, Option<String>) {
    match fault.status() {
        Some(status) => (status, None),
        None => (
            400,
            Some(
                "<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error><Type>Sender</Type>\
                 <Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>r-1</RequestId>\
                 </ErrorResponse>"
                    .to_owned(),
            ),
        ),
    }
}

/// `operation` failing with `fault` `times` times (then answering as the world does), or for ever.
fn faulty(operation: &str, fault: Fault, times: Option<usize>) -> Rule {
    let (status, body) = answer(fault);
    macro_rules! failing {
        ($op:expr, $ok:expr) => {{
            test_support::failing_rule!($op, status, body.clone(), times, $ok)
        }};
    }
    match operation {
        "DescribeAutoScalingInstances" => failing!(Client::describe_auto_scaling_instances, instances_output),
        "DescribeTags" => failing!(Client::describe_tags, groups_output),
        "SetInstanceHealth" => failing!(Client::set_instance_health, || SetInstanceHealthOutput::builder().build()),
        other => panic!("no fault rule for {other}"),
    }
}

async fn call(port: &ElbClient, operation: &str) -> Result<(), failover_core::aws::AwsError> {
    if operation == "SetInstanceHealth" {
        return port.mark_unhealthy("i-1").await;
    }
    port.scaling_groups(&["i-1".to_owned()]).await.map(|_| ())
}

#[tokio::test]
async fn every_fault_on_every_call_is_transient_once_the_attempts_are_spent_and_invisible_before() {
    for operation in ["DescribeAutoScalingInstances", "DescribeTags", "SetInstanceHealth"] {
        for fault in FAULTS {
            let mut rules = vec![faulty(operation, fault, None)];
            rules.extend(world());
            let error = call(&port(&rules), operation).await.unwrap_err();
            assert_eq!((error.operation, error.transient), (operation, true), "{operation} {fault:?}: {error:?}");

            let mut rules = vec![faulty(operation, fault, Some(ATTEMPTS - 1))];
            rules.extend(world());
            call(&port(&rules), operation).await.unwrap_or_else(|e| panic!("{operation} {fault:?}: {e:?}"));
        }
    }
}
