//! Faults the local AWS cannot produce on every call of the [`Zonal`] port's SDK adapter: throttling, 5xx,
//! connection failures and timeouts on the ELB reads and the ARC calls (through `aws-smithy-mocks` and the
//! sentinel statuses of `test_support::faulty_http`), and on EC2's query-protocol calls (through a scripted HTTP
//! client under the SDK configuration the query client takes). A fault that clears within the attempts is
//! invisible; one that outlasts them is a transient `AwsError` naming the operation; a refusal (access denied) is
//! final at once. AWS's "not found" and "no longer active" answers are answers, not errors.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use aws_sdk_arczonalshift::operation::cancel_zonal_shift::CancelZonalShiftOutput;
use aws_sdk_arczonalshift::operation::get_managed_resource::GetManagedResourceOutput;
use aws_sdk_arczonalshift::operation::start_zonal_shift::StartZonalShiftOutput;
use aws_sdk_arczonalshift::types::ZonalShiftStatus;
use aws_sdk_elasticloadbalancingv2::operation::describe_load_balancers::DescribeLoadBalancersOutput;
use aws_sdk_elasticloadbalancingv2::operation::describe_target_groups::DescribeTargetGroupsOutput;
use aws_sdk_elasticloadbalancingv2::types::{AvailabilityZone, LoadBalancer as Lb, LoadBalancerTypeEnum, TargetGroup};
use aws_smithy_mocks::{mock, Rule};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::DateTime;
use failover_core::aws::AwsError;
use target_failover::adapters::{Ec2Query, ElbClient};
use target_failover::ports::Zonal;
use test_support::faulty_http::{Fault, ATTEMPTS, FAULTS};

const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/1111111111111111";
const G: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/00000000000000aa";
const SHIFT: &str = "0b5c3a4e-0000-4000-8000-000000000001";

macro_rules! client {
    ($sdk:ident, $rules:expr) => {
        test_support::fault_client!($sdk, "us-east-1", $rules)
    };
}

/// ARC's answer to a fault: rest-json's `ThrottlingException` (HTTP 429), or the fault's status.
fn arc_answer(fault: Fault) -> (u16, Option<String>) {
    match fault.status() {
        Some(status) => (status, None),
        None => (429, Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.to_owned())),
    }
}

/// ELB's answer to a fault: its XML `Throttling` error, or the fault's status.
fn elb_answer(fault: Fault) -> (u16, Option<String>) {
    match fault.status() {
        Some(status) => (status, None),
        None => (
            400,
            Some(
                "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message>\
                 </Error><RequestId>r-1</RequestId></ErrorResponse>"
                    .to_owned(),
            ),
        ),
    }
}

fn managed() -> GetManagedResourceOutput {
    GetManagedResourceOutput::builder()
        .arn(LB)
        .applied_weights("use1-az1", 1.0)
        .applied_weights("use1-az2", 1.0)
        .set_zonal_shifts(Some(Vec::new()))
        .set_autoshifts(Some(Vec::new()))
        .build()
        .expect("a complete output")
}

/// A `ZonalShift` answer (StartZonalShift's, CancelZonalShift's: the same shape, two types).
macro_rules! shift_output {
    ($output:ty, $status:expr) => {
        <$output>::builder()
            .zonal_shift_id(SHIFT)
            .resource_identifier(LB)
            .away_from("use1-az1")
            .expiry_time(DateTime::from_secs(3600))
            .start_time(DateTime::from_secs(0))
            .status($status)
            .comment("zone")
            .build()
            .expect("a complete output")
    };
}

fn started() -> StartZonalShiftOutput {
    shift_output!(StartZonalShiftOutput, ZonalShiftStatus::Active)
}

fn cancelled() -> CancelZonalShiftOutput {
    shift_output!(CancelZonalShiftOutput, ZonalShiftStatus::Canceled)
}

fn load_balancers() -> DescribeLoadBalancersOutput {
    let zone = |name: &str| AvailabilityZone::builder().zone_name(name).build();
    let lb = Lb::builder()
        .load_balancer_arn(LB)
        .r#type(LoadBalancerTypeEnum::Application)
        .availability_zones(zone("us-east-1a"))
        .availability_zones(zone("us-east-1b"))
        .build();
    DescribeLoadBalancersOutput::builder().load_balancers(lb).build()
}

fn groups() -> DescribeTargetGroupsOutput {
    let group = TargetGroup::builder().target_group_arn(G).load_balancer_arns(LB).build();
    DescribeTargetGroupsOutput::builder().target_groups(group).build()
}

/// The ARC call named `operation` failing with `fault` `times` times then answering (or for ever), and the
/// adapter's call of it; `Ok(())` when the call succeeded with the expected answer.
async fn arc_call(operation: &str, fault: Fault, times: Option<usize>) -> Result<(), AwsError> {
    let (status, body) = arc_answer(fault);
    macro_rules! failing {
        ($op:expr, $ok:expr) => {
            test_support::failing_rule!($op, status, body.clone(), times, $ok)
        };
    }
    use aws_sdk_arczonalshift::Client;
    let rule: Rule = match operation {
        "GetManagedResource" => failing!(Client::get_managed_resource, managed),
        "StartZonalShift" => failing!(Client::start_zonal_shift, started),
        "CancelZonalShift" => failing!(Client::cancel_zonal_shift, cancelled),
        other => panic!("no rule for {other}"),
    };
    let elb = ElbClient::new(client!(aws_sdk_elasticloadbalancingv2, &Vec::<Rule>::new()))
        .with_arc(client!(aws_sdk_arczonalshift, &[rule]));
    match operation {
        "GetManagedResource" => {
            let resource = elb.managed_resource(LB).await?.expect("registered");
            assert_eq!(resource.applied_weights.len(), 2);
        }
        "StartZonalShift" => assert_eq!(elb.start_shift(LB, "use1-az1", 60, "zone").await?, SHIFT),
        _ => assert!(elb.cancel_shift(SHIFT).await?),
    }
    Ok(())
}

const ARC_CALLS: [&str; 3] = ["GetManagedResource", "StartZonalShift", "CancelZonalShift"];

#[tokio::test]
async fn arc_faults_that_clear_within_the_attempts_are_retried_and_those_that_outlast_them_are_transient_errors() {
    for operation in ARC_CALLS {
        for fault in FAULTS {
            let case = format!("{operation} under {fault:?}");
            arc_call(operation, fault, Some(ATTEMPTS - 1)).await.unwrap_or_else(|e| panic!("{case}: {e}"));
            let error = arc_call(operation, fault, None).await.expect_err(&case);
            assert_eq!(error.operation, operation, "{case}");
            assert!(error.transient, "{case}: {error}");
            if fault == Fault::Throttling {
                assert_eq!(error.code.as_deref(), Some("ThrottlingException"), "{case}");
            }
        }
    }
}

#[tokio::test]
async fn arc_access_denied_is_final_and_a_shift_no_longer_active_is_not_an_error() {
    use aws_sdk_arczonalshift::Client;
    let denied = r#"{"__type":"AccessDeniedException","message":"not authorized"}"#.to_owned();
    let rule = mock!(Client::start_zonal_shift).sequence().http_status(403, Some(denied)).repeatedly().build();
    let elb = ElbClient::new(client!(aws_sdk_elasticloadbalancingv2, &Vec::<Rule>::new()))
        .with_arc(client!(aws_sdk_arczonalshift, &[rule]));
    let error = elb.start_shift(LB, "use1-az1", 60, "zone").await.expect_err("denied");
    assert_eq!(error.code.as_deref(), Some("AccessDeniedException"));
    assert!(!error.transient);

    let conflict = |reason: &str| {
        format!(r#"{{"__type":"ConflictException","message":"no","reason":"{reason}","zonalShiftId":"{SHIFT}"}}"#)
    };
    let not_active = mock!(Client::cancel_zonal_shift)
        .sequence()
        .http_status(409, Some(conflict("ZonalShiftStatusNotActive")))
        .build();
    let elb = ElbClient::new(client!(aws_sdk_elasticloadbalancingv2, &Vec::<Rule>::new()))
        .with_arc(client!(aws_sdk_arczonalshift, &[not_active]));
    assert!(!elb.cancel_shift(SHIFT).await.expect("not active is an answer"));

    let other = mock!(Client::cancel_zonal_shift)
        .sequence()
        .http_status(409, Some(conflict("SimultaneousZonalShiftsConflict")))
        .build();
    let elb = ElbClient::new(client!(aws_sdk_elasticloadbalancingv2, &Vec::<Rule>::new()))
        .with_arc(client!(aws_sdk_arczonalshift, &[other]));
    let error = elb.cancel_shift(SHIFT).await.expect_err("another conflict is an error");
    assert_eq!(error.code.as_deref(), Some("ConflictException"));
}

#[tokio::test]
async fn elb_faults_on_the_load_balancer_reads_are_retried_then_transient_errors() {
    use aws_sdk_elasticloadbalancingv2::Client;
    for (operation, fault) in ["DescribeLoadBalancers", "DescribeTargetGroups"]
        .into_iter()
        .flat_map(|operation| FAULTS.map(move |fault| (operation, fault)))
    {
        let case = format!("{operation} under {fault:?}");
        let (status, body) = elb_answer(fault);
        for times in [Some(ATTEMPTS - 1), None] {
            macro_rules! rule {
                ($op:expr, $name:expr, $ok:expr) => {{
                    if operation != $name {
                        mock!($op).then_output($ok)
                    } else {
                        test_support::failing_rule!($op, status, body.clone(), times, $ok)
                    }
                }};
            }
            let rules = [
                rule!(Client::describe_load_balancers, "DescribeLoadBalancers", load_balancers),
                rule!(Client::describe_target_groups, "DescribeTargetGroups", groups),
            ];
            let elb = ElbClient::new(client!(aws_sdk_elasticloadbalancingv2, &rules));
            let balancer = elb.balancer(LB).await;
            match times {
                Some(_) => {
                    let balancer = balancer.unwrap_or_else(|e| panic!("{case}: {e}")).expect("exists");
                    assert_eq!(balancer.groups, vec![G.to_owned()], "{case}");
                    assert_eq!(balancer.zones, vec!["us-east-1a".to_owned(), "us-east-1b".to_owned()], "{case}");
                }
                None => {
                    let error = balancer.expect_err(&case);
                    assert_eq!(error.operation, operation, "{case}");
                    assert!(error.transient, "{case}: {error}");
                }
            }
        }
    }
}

#[tokio::test]
async fn describe_tags_of_a_missing_load_balancer_is_none() {
    use aws_sdk_elasticloadbalancingv2::Client;
    let body = "<ErrorResponse><Error><Type>Sender</Type><Code>LoadBalancerNotFound</Code><Message>One or more \
                load balancers not found</Message></Error><RequestId>r-1</RequestId></ErrorResponse>";
    let rule = mock!(Client::describe_tags).sequence().http_status(400, Some(body.to_owned())).repeatedly().build();
    let elb = ElbClient::new(client!(aws_sdk_elasticloadbalancingv2, &[rule]));
    use target_failover::ports::LoadBalancer;
    assert_eq!(elb.tags(&[LB.to_owned()]).await.expect("not an error"), vec![(LB.to_owned(), None)]);
}

// ------------------------------------------------------------------------------------------ EC2 query client

/// One scripted answer of the EC2 endpoint.
#[derive(Debug, Clone)]
enum Answer {
    Xml(u16, &'static str),
    Reset,
}

/// An HTTP client answering from a script (the last answer repeats), recording each request's authorization
/// header and body.
#[derive(Debug, Clone, Default)]
struct Scripted {
    answers: Arc<Mutex<VecDeque<Answer>>>,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl HttpConnector for Scripted {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let auth = request.headers().get("authorization").unwrap_or_default().to_owned();
        let body = String::from_utf8_lossy(request.body().bytes().unwrap_or_default()).into_owned();
        self.seen.lock().expect("seen").push((auth, body));
        let answer = {
            let mut answers = self.answers.lock().expect("answers");
            if answers.len() > 1 {
                answers.pop_front()
            } else {
                answers.front().cloned()
            }
        };
        HttpConnectorFuture::ready(match answer.expect("a scripted answer") {
            Answer::Xml(status, xml) => {
                Ok(HttpResponse::new(status.try_into().expect("a status"), SdkBody::from(xml.to_owned())))
            }
            Answer::Reset => Err(ConnectorError::io("connection reset by peer (injected)".into())),
        })
    }
}

impl HttpClient for Scripted {
    fn http_connector(&self, _: &HttpConnectorSettings, _: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(self.clone())
    }
}

fn ec2(answers: Vec<Answer>) -> (Ec2Query, Scripted) {
    let http = Scripted { answers: Arc::new(Mutex::new(answers.into())), ..Default::default() };
    let credentials = aws_credential_types::Credentials::new("AKIDEXAMPLE", "secret", None, None, "test");
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("https://ec2.example.test")
        .credentials_provider(aws_credential_types::provider::SharedCredentialsProvider::new(credentials))
        .http_client(http.clone())
        .retry_config(
            aws_smithy_types::retry::RetryConfig::standard()
                .with_max_attempts(ATTEMPTS as u32)
                .with_initial_backoff(std::time::Duration::from_millis(1)),
        )
        .build();
    (Ec2Query::new(&sdk), http)
}

const ZONES: &str = "<DescribeAvailabilityZonesResponse><availabilityZoneInfo><item><zoneName>us-east-1a</zoneName>\
                     <zoneId>use1-az6</zoneId></item></availabilityZoneInfo></DescribeAvailabilityZonesResponse>";
const THROTTLED: &str = "<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.\
                         </Message></Error></Errors><RequestID>r</RequestID></Response>";
const DENIED: &str = "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized.\
                      </Message></Error></Errors><RequestID>r</RequestID></Response>";

#[tokio::test]
async fn ec2_calls_are_signed_for_ec2_and_the_zone_map_is_read_once() {
    let (client, http) = ec2(vec![Answer::Xml(200, ZONES)]);
    let zones = client.zone_ids().await.expect("zones");
    assert_eq!(zones.get("us-east-1a").map(String::as_str), Some("use1-az6"));
    assert_eq!(client.clone().zone_ids().await.expect("cached"), zones);
    let seen = http.seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 1, "one call for the life of the client");
    let (auth, body) = &seen[0];
    assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"), "{auth}");
    assert!(auth.contains("/us-east-1/ec2/aws4_request"), "{auth}");
    assert_eq!(body, "Action=DescribeAvailabilityZones&Version=2016-11-15");
}

#[tokio::test]
async fn ec2_throttling_5xx_and_connection_failures_are_retried_then_transient_errors() {
    for (name, fault) in
        [("throttling", Answer::Xml(503, THROTTLED)), ("503", Answer::Xml(503, "")), ("reset", Answer::Reset)]
    {
        let mut clearing = vec![fault.clone(); ATTEMPTS - 1];
        clearing.push(Answer::Xml(200, ZONES));
        let (client, _) = ec2(clearing);
        client.zone_ids().await.unwrap_or_else(|e| panic!("{name} clearing: {e}"));

        let (client, http) = ec2(vec![fault]);
        let error = client.zone_ids().await.expect_err(name);
        assert_eq!(error.operation, "DescribeAvailabilityZones", "{name}");
        assert!(error.transient, "{name}: {error}");
        assert_eq!(http.seen.lock().expect("seen").len(), ATTEMPTS, "{name}");
        if name == "throttling" {
            assert_eq!(error.code.as_deref(), Some("RequestLimitExceeded"));
        }
    }
}

#[tokio::test]
async fn ec2_refusals_are_final_and_name_the_code() {
    let (client, http) = ec2(vec![Answer::Xml(403, DENIED)]);
    let error = client.instance_zones(&["i-1".to_owned()]).await.expect_err("denied");
    assert_eq!(error.operation, "DescribeInstances");
    assert_eq!(error.code.as_deref(), Some("UnauthorizedOperation"));
    assert!(!error.transient);
    assert_eq!(http.seen.lock().expect("seen").len(), 1, "not retried");

    let (client, _) = ec2(vec![Answer::Xml(200, "not xml at all")]);
    let error = client.zone_ids().await.expect_err("unreadable");
    assert_eq!(error.code.as_deref(), Some("UnreadableResponse"));
}

#[tokio::test]
async fn instances_are_asked_by_filter_and_every_page_is_read() {
    const PAGE_1: &str = "<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-1\
                          </instanceId><placement><availabilityZone>us-east-1a</availabilityZone></placement></item>\
                          </instancesSet></item></reservationSet><nextToken>t2</nextToken></DescribeInstancesResponse>";
    const PAGE_2: &str = "<DescribeInstancesResponse><reservationSet><item><instancesSet><item><instanceId>i-2\
                          </instanceId><placement><availabilityZone>us-east-1b</availabilityZone></placement></item>\
                          </instancesSet></item></reservationSet></DescribeInstancesResponse>";
    let (client, http) = ec2(vec![Answer::Xml(200, PAGE_1), Answer::Xml(200, PAGE_2)]);
    let zones = client.instance_zones(&["i-1".to_owned(), "i-2".to_owned()]).await.expect("instances");
    assert_eq!(zones.len(), 2);
    assert_eq!(zones.get("i-2").map(String::as_str), Some("us-east-1b"));
    let seen = http.seen.lock().expect("seen").clone();
    assert_eq!(seen.len(), 2);
    assert!(seen[0].1.contains("Filter.1.Name=instance-id&Filter.1.Value.1=i-1&Filter.1.Value.2=i-2"), "{seen:?}");
    assert!(seen[1].1.ends_with("NextToken=t2"), "{seen:?}");
}
