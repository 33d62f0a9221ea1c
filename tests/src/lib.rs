//! Harness for tests against the local AWS: moto's server with the project's fidelity fixes
//! (`tools/local_aws/`), started once per test binary on a free 127.0.0.1 port and stopped when the test
//! process ends (the launcher exits when its stdin closes).
//!
//! Every test takes its own [`Account`]: a fresh 12-digit account id used as the access key id, which the
//! launcher maps to that account. Tests therefore run in parallel without resets and without seeing each
//! other's resources.

pub mod database;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_sns::config::{Credentials, SharedCredentialsProvider};
use serde_json::Value;

pub const REGION: &str = "us-east-1";

/// The running launcher. Its stdin is held open for the life of the test process.
pub struct LocalAws {
    pub endpoint: String,
    port: u16,
    _process: Mutex<(Child, ChildStdin)>,
}

/// The repository root (the workspace directory).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Starts the launcher on first use; every later call returns the same one.
pub fn local_aws() -> &'static LocalAws {
    static AWS: OnceLock<LocalAws> = OnceLock::new();
    AWS.get_or_init(start_local_aws)
}

fn start_local_aws() -> LocalAws {
    let root = repo_root();
    let python = root.join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run `make venv` (or `make test`, which creates it) first",
        python.display()
    );
    let mut child = Command::new(&python)
        .arg(root.join("tools/local_aws"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("starting {}: {e}", python.display()));
    let stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stdout).lines();
        for line in lines.by_ref() {
            let Ok(line) = line else { break };
            if let Some(url) = line.strip_prefix("READY ") {
                let _ = tx.send(url.trim().to_owned());
                break;
            }
        }
        // Keep draining so the launcher never blocks on a full pipe.
        for _ in lines {}
    });
    let endpoint =
        rx.recv_timeout(Duration::from_secs(60)).expect("the local AWS launcher did not print READY within 60 s");
    let port = endpoint.rsplit(':').next().and_then(|p| p.parse().ok()).expect("port in READY line");
    LocalAws { endpoint, port, _process: Mutex::new((child, stdin)) }
}

/// One isolated AWS account on the local AWS.
#[derive(Clone)]
pub struct Account {
    pub id: String,
    pub region: String,
    pub sdk: SdkConfig,
}

/// A fresh account id: unique within this process, and across test binaries running at once.
fn next_account_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let base = (std::process::id() as u64 % 100_000) * 10_000;
    format!("{:012}", 200_000_000_000 + base + n)
}

impl Account {
    /// A new, empty account in [`REGION`].
    pub async fn new() -> Self {
        Self::with_id(next_account_id(), REGION).await
    }

    /// Another region of the same account (cross-region replicas).
    pub async fn in_region(&self, region: &str) -> Self {
        Self::with_id(self.id.clone(), region).await
    }

    async fn with_id(id: String, region: &str) -> Self {
        let aws = local_aws();
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .endpoint_url(&aws.endpoint)
            .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
                id.clone(),
                "local-secret",
                None,
                None,
                "local-aws",
            )))
            // Moto answers some bad requests with HTTP 500, which the SDK would retry: one attempt.
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(1))
            .load()
            .await;
        Account { id, region: region.to_owned(), sdk }
    }

    pub fn sns(&self) -> aws_sdk_sns::Client {
        aws_sdk_sns::Client::new(&self.sdk)
    }
    pub fn sqs(&self) -> aws_sdk_sqs::Client {
        aws_sdk_sqs::Client::new(&self.sdk)
    }
    pub fn elbv2(&self) -> aws_sdk_elasticloadbalancingv2::Client {
        aws_sdk_elasticloadbalancingv2::Client::new(&self.sdk)
    }
    pub fn rds(&self) -> aws_sdk_rds::Client {
        aws_sdk_rds::Client::new(&self.sdk)
    }
    pub fn cloudwatch(&self) -> aws_sdk_cloudwatch::Client {
        aws_sdk_cloudwatch::Client::new(&self.sdk)
    }
    pub fn route53(&self) -> aws_sdk_route53::Client {
        aws_sdk_route53::Client::new(&self.sdk)
    }
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        aws_sdk_dynamodb::Client::new(&self.sdk)
    }
    pub fn autoscaling(&self) -> aws_sdk_autoscaling::Client {
        aws_sdk_autoscaling::Client::new(&self.sdk)
    }

    /// How many times the local AWS answered `action` for this account (its call log, all regions).
    pub fn calls_answered(&self, action: &str) -> u64 {
        self.calls_answered_by(None, action)
    }

    /// [`Account::calls_answered`] of one service only (its SigV4 signing name, e.g. `autoscaling`): actions such
    /// as `DescribeTags` exist in several services.
    pub fn calls_answered_by(&self, service: Option<&str>, action: &str) -> u64 {
        let (status, log) = http_json("GET", &format!("/_failover/calls?account={}", self.id), None);
        assert_eq!(status, 200, "{log}");
        log["calls"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["action"] == action && service.is_none_or(|s| c["service"] == s))
            .map(|c| c["count"].as_u64().unwrap())
            .sum()
    }

    /// The account's answer sequence number of the first `action` answered since the start (or
    /// [`Account::reset_calls`]): comparing two says which came first.
    pub fn first_answered(&self, action: &str) -> Option<u64> {
        let (status, log) = http_json("GET", &format!("/_failover/calls?account={}", self.id), None);
        assert_eq!(status, 200, "{log}");
        log["calls"].as_array()?.iter().filter(|c| c["action"] == action).filter_map(|c| c["first"].as_u64()).min()
    }

    /// Empties this account's call log (the counts and the order).
    pub fn reset_calls(&self) {
        self.control("/_failover/calls/reset", serde_json::json!({}));
    }

    /// A CloudWatch metric alarm (`PutMetricAlarm`) on `namespace`/`metric` with these dimensions, as
    /// `alarms/template.yaml` creates them (the local AWS stores it, never evaluates it).
    pub async fn alarm(&self, name: &str, namespace: &str, metric: &str, dimensions: &[(&str, &str)]) {
        let dimensions = dimensions
            .iter()
            .map(|(k, v)| aws_sdk_cloudwatch::types::Dimension::builder().name(*k).value(*v).build())
            .collect();
        let request = self.cloudwatch().put_metric_alarm().alarm_name(name).namespace(namespace).metric_name(metric);
        let request = request.set_dimensions(Some(dimensions)).statistic(aws_sdk_cloudwatch::types::Statistic::Maximum);
        let request = request.period(60).evaluation_periods(2).threshold(0.0);
        let operator = aws_sdk_cloudwatch::types::ComparisonOperator::GreaterThanThreshold;
        request.comparison_operator(operator).send().await.unwrap_or_else(|e| panic!("alarm {name}: {e:?}"));
    }

    /// The ledger table in this account, created by the launcher exactly as template.yaml declares it.
    pub fn ledger_table(&self) -> String {
        let created = self.control("/_failover/dynamodb/ledger-table", serde_json::json!({}));
        created["table_name"].as_str().unwrap_or_else(|| panic!("creating the ledger table: {created}")).to_owned()
    }

    /// Calls one of the launcher's control endpoints (`/_failover/...`) for this account and region.
    pub fn control(&self, path: &str, mut body: Value) -> Value {
        if let Some(object) = body.as_object_mut() {
            object.insert("account".into(), Value::String(self.id.clone()));
            object.insert("region".into(), Value::String(self.region.clone()));
        }
        let (status, response) = http_json("POST", path, Some(&body));
        assert!(status == 200, "POST {path} answered {status}: {response}");
        response
    }

    /// The default VPC's subnets, for `CreateLoadBalancer`.
    pub fn subnets(&self) -> Vec<String> {
        strings(&self.network()["subnet_ids"])
    }

    /// The default VPC's id, for `CreateTargetGroup`.
    pub fn vpc(&self) -> String {
        let network = self.network();
        network["vpc_id"].as_str().unwrap_or_else(|| panic!("no vpc id in {network}")).to_owned()
    }

    /// The default VPC and its subnets, as the local AWS describes them.
    fn network(&self) -> Value {
        let path = format!("/_failover/ec2/network?account={}&region={}", self.id, self.region);
        let (status, response) = http_json("GET", &path, None);
        assert!(status == 200, "GET {path} answered {status}: {response}");
        response
    }

    /// Running EC2 instances, for instance targets (the project never links the EC2 SDK).
    pub fn instances(&self, count: usize) -> Vec<String> {
        strings(&self.control("/_failover/ec2/instances", serde_json::json!({ "count": count }))["instance_ids"])
    }

    /// Running EC2 instances in one zone (a zone name, `us-east-1b`), in its default subnet.
    pub fn instances_in(&self, zone: &str, count: usize) -> Vec<String> {
        let body = serde_json::json!({ "count": count, "zone": zone });
        strings(&self.control("/_failover/ec2/instances", body)["instance_ids"])
    }

    /// A new application load balancer over the default subnets of the first `zones` zones (at least 2, as
    /// an ALB needs); its ARN.
    pub async fn load_balancer(&self, name: &str, zones: usize) -> String {
        let subnets = self.subnets();
        let created = self
            .elbv2()
            .create_load_balancer()
            .name(name)
            .set_subnets(Some(subnets[..zones.min(subnets.len())].to_vec()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("creating load balancer {name}: {e:?}"));
        created.load_balancers()[0].load_balancer_arn().expect("load balancer arn").to_owned()
    }

    /// Registers the load balancer with ARC zonal shift, as a person does: its attribute
    /// `zonal_shift.config.enabled` set to `true` (`false` unregisters it).
    pub async fn register_with_arc(&self, load_balancer: &str, enabled: bool) {
        let attribute = aws_sdk_elasticloadbalancingv2::types::LoadBalancerAttribute::builder()
            .key("zonal_shift.config.enabled")
            .value(enabled.to_string())
            .build();
        self.elbv2()
            .modify_load_balancer_attributes()
            .load_balancer_arn(load_balancer)
            .attributes(attribute)
            .send()
            .await
            .unwrap_or_else(|e| panic!("setting zonal_shift.config.enabled on {load_balancer}: {e:?}"));
    }

    /// AWS's zonal autoshift away from an AZ ID (`use1-az6`) for these registered load balancers: started
    /// (`active`) or completed (the local AWS's `/_failover/arc/autoshift`; there is no API to start one).
    pub fn autoshift(&self, away_from: &str, active: bool, load_balancers: &[&str]) {
        let status = if active { "ACTIVE" } else { "COMPLETED" };
        let body = serde_json::json!({
            "away_from": away_from, "status": status, "resource_identifiers": load_balancers,
        });
        self.control("/_failover/arc/autoshift", body);
    }

    /// A zonal shift someone else started (`ZONAL_SHIFT`: a person; `PRACTICE_RUN`: ARC's practice run), for 30
    /// minutes from now, without the API's conflict checks (the local AWS's `/_failover/arc/zonal-shift`); its id.
    pub fn shift_by_others(&self, load_balancer: &str, away_from: &str, shift_type: &str) -> String {
        let body = serde_json::json!({
            "resource_identifier": load_balancer, "away_from": away_from, "shift_type": shift_type,
            "comment": "started by someone else",
        });
        let made = self.control("/_failover/arc/zonal-shift", body);
        made["zonal_shift_id"].as_str().unwrap_or_else(|| panic!("starting a zonal shift: {made}")).to_owned()
    }
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// A minimal HTTP/1.1 client for the launcher's control endpoints (loopback only, `Connection: close`).
pub fn http_json(method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let aws = local_aws();
    let mut stream = TcpStream::connect(("127.0.0.1", aws.port)).expect("connecting to the local AWS");
    stream.set_read_timeout(Some(Duration::from_secs(30))).ok();
    let payload = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        aws.port,
        payload.len()
    );
    stream.write_all(request.as_bytes()).expect("sending control request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("reading control response");
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body =
        if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_owned() };
    (status, serde_json::from_str(&body).unwrap_or(Value::String(body)))
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}

/// An SQS queue subscribed to an SNS topic: what a subscriber of the notifications receives.
pub struct Subscriber {
    pub topic_arn: String,
    pub queue_url: String,
    sqs: aws_sdk_sqs::Client,
}

/// A notification as it arrived in the queue: the SNS envelope's subject, message and attributes.
#[derive(Debug, Clone)]
pub struct Received {
    pub subject: Option<String>,
    pub message: String,
    pub attributes: std::collections::BTreeMap<String, String>,
}

impl Received {
    /// The message body parsed as JSON (both notification formats are JSON).
    pub fn body(&self) -> Value {
        serde_json::from_str(&self.message)
            .unwrap_or_else(|e| panic!("notification body is not JSON ({e}): {}", self.message))
    }
    pub fn attribute(&self, name: &str) -> &str {
        self.attributes.get(name).map(String::as_str).unwrap_or("")
    }
}

impl Subscriber {
    /// Creates a topic and a queue subscribed to it (SNS envelope kept, so subject and attributes are visible).
    pub async fn create(account: &Account, name: &str) -> Self {
        let sns = account.sns();
        let sqs = account.sqs();
        let topic_arn = sns.create_topic().name(name).send().await.expect("create topic").topic_arn.expect("topic arn");
        let queue_url = sqs
            .create_queue()
            .queue_name(format!("{name}-subscriber"))
            .send()
            .await
            .expect("create queue")
            .queue_url
            .expect("queue url");
        let queue_arn = sqs
            .get_queue_attributes()
            .queue_url(&queue_url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
            .expect("queue arn");
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .expect("subscribe queue");
        Subscriber { topic_arn, queue_url, sqs }
    }

    /// Everything that has arrived so far (waits briefly for delivery, then drains the queue).
    pub async fn received(&self) -> Vec<Received> {
        let mut out = Vec::new();
        for round in 0..10 {
            let batch = self
                .sqs
                .receive_message()
                .queue_url(&self.queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(0)
                .send()
                .await
                .expect("receive message");
            let messages = batch.messages.unwrap_or_default();
            if messages.is_empty() {
                if round >= 2 || !out.is_empty() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
            for message in messages {
                if let Some(handle) = &message.receipt_handle {
                    self.sqs
                        .delete_message()
                        .queue_url(&self.queue_url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .expect("delete message");
                }
                out.push(parse_envelope(message.body.as_deref().unwrap_or_default()));
            }
        }
        out
    }
}

fn parse_envelope(body: &str) -> Received {
    let envelope: Value =
        serde_json::from_str(body).unwrap_or_else(|e| panic!("SNS envelope is not JSON ({e}): {body}"));
    let attributes = envelope["MessageAttributes"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v["Value"].as_str().unwrap_or_default().to_owned())).collect())
        .unwrap_or_default();
    Received {
        subject: envelope["Subject"].as_str().map(str::to_owned),
        message: envelope["Message"].as_str().unwrap_or_default().to_owned(),
        attributes,
    }
}

/// A lookup function over fixed pairs, for building a function's `Config` in tests.
pub use test_support::lookup;

/// A forward action sending to these target groups with these weights (for listener and rule fixtures).
pub fn forward(weights: &[(&str, i32)]) -> aws_sdk_elasticloadbalancingv2::types::Action {
    use aws_sdk_elasticloadbalancingv2::types::{Action, ActionTypeEnum, ForwardActionConfig, TargetGroupTuple};
    let tuples =
        weights.iter().map(|(arn, w)| TargetGroupTuple::builder().target_group_arn(*arn).weight(*w).build()).collect();
    Action::builder()
        .r#type(ActionTypeEnum::Forward)
        .forward_config(ForwardActionConfig::builder().set_target_groups(Some(tuples)).build())
        .build()
}
