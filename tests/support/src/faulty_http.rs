//! Faults `aws-smithy-mocks` cannot produce by itself, for the functions' SDK-level fault tests: a mock rule answers with one of two sentinel HTTP statuses, and this HTTP client turns it into
//! the fault, below the SDK, where a real network fault happens:
//! - [`CONNECTION_RESET`]: the connection fails (an I/O `ConnectorError`, the SDK's `DispatchFailure`);
//! - [`NO_ANSWER`]: the request is sent and nothing ever comes back, so the attempt ends by the client's
//!   attempt timeout (the SDK's `TimeoutError`), as it does when a service or the network hangs.
//!
//! Both are retried by the SDK's standard retry strategy like throttling and 5xx.

use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;

/// A rule answering this status makes the connection fail.
pub const CONNECTION_RESET: u16 = 598;
/// A rule answering this status makes the request hang until the attempt timeout.
pub const NO_ANSWER: u16 = 599;
/// The attempt timeout to configure on clients using [`http_client`]: long enough never to cut a mocked answer
/// short on a busy machine; tests that wait for it run their cases concurrently.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(300);

/// The faults every AWS call is tested against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The service's `Throttling` error code (each test encodes it for its protocol).
    Throttling,
    /// HTTP 503.
    Unavailable,
    /// The connection fails (a dispatch failure).
    ConnectionReset,
    /// No answer: the attempt times out.
    Timeout,
}

pub const FAULTS: [Fault; 4] = [Fault::Throttling, Fault::Unavailable, Fault::ConnectionReset, Fault::Timeout];

/// Every (scenario, operation, fault) of a fault matrix: each operation a scenario makes, under each fault.
pub fn cases<S: Copy>(
    scenarios: &[S],
    operations: impl Fn(S) -> &'static [&'static str],
) -> Vec<(S, &'static str, Fault)> {
    scenarios
        .iter()
        .flat_map(|&scenario| operations(scenario).iter().map(move |&operation| (scenario, operation)))
        .flat_map(|(scenario, operation)| FAULTS.map(|fault| (scenario, operation, fault)))
        .collect()
}

impl Fault {
    /// How the error a function reports names it.
    pub fn seen_as(self) -> &'static str {
        match self {
            Fault::Throttling => "Throttling",
            Fault::Unavailable => "503",
            Fault::ConnectionReset => "connection reset",
            Fault::Timeout => "timeout",
        }
    }

    /// The HTTP status a mock rule answers with to cause the fault; `None` for throttling, which is an error
    /// code in a body the test writes.
    pub fn status(self) -> Option<u16> {
        match self {
            Fault::Throttling => None,
            Fault::Unavailable => Some(503),
            Fault::ConnectionReset => Some(CONNECTION_RESET),
            Fault::Timeout => Some(NO_ANSWER),
        }
    }
}

/// A retry partition name of its own for each client: the SDK's retry token bucket is shared by every client
/// of a partition in the process, and tests running many failing cases at once would otherwise drain it and
/// see retries refused.
pub fn own_retry_partition() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    format!("fault-test-{}", NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
}

/// `aws_smithy_mocks::create_mock_http_client()` with the two sentinel statuses turned into faults.
pub fn http_client() -> SharedHttpClient {
    SharedHttpClient::new(Faulty(aws_smithy_mocks::create_mock_http_client()))
}

#[derive(Debug)]
struct Faulty(SharedHttpClient);

impl HttpClient for Faulty {
    fn http_connector(&self, settings: &HttpConnectorSettings, components: &RuntimeComponents) -> SharedHttpConnector {
        SharedHttpConnector::new(FaultyConnector(self.0.http_connector(settings, components)))
    }
}

#[derive(Debug)]
struct FaultyConnector(SharedHttpConnector);

impl HttpConnector for FaultyConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let answer = self.0.call(request);
        HttpConnectorFuture::new(async move {
            let response = answer.await?;
            match response.status().as_u16() {
                CONNECTION_RESET => Err(ConnectorError::io("connection reset by peer (injected)".into())),
                NO_ANSWER => std::future::pending().await,
                _ => Ok(response),
            }
        })
    }
}

/// How many attempts the fault clients make: the SDK's standard retry.
pub const ATTEMPTS: usize = 3;

/// A mock rule for the SDK operation `$op` answering `$status`/`$body` (an HTTP error, or a sentinel status of
/// [`http_client`]) `Some(n)` times and then `$ok`'s output, or for ever with `None`: one rule, because the
/// mock interceptor picks a rule per call and serves that call's retries from it.
#[macro_export]
macro_rules! failing_rule {
    ($op:expr, $status:expr, $body:expr, $times:expr, $ok:expr) => {{
        let sequence = $crate::aws_smithy_mocks::mock!($op).sequence().http_status($status, $body);
        match $times {
            Some(n) => sequence.times(n).output($ok).build(),
            None => sequence.repeatedly().build(),
        }
    }};
}

/// A client of the SDK crate `$sdk` in `$region`, answering from aws-smithy-mocks `$rules` through
/// [`http_client`]: the SDK's standard retry with [`ATTEMPTS`] attempts and a 1 ms backoff, the attempt timeout
/// [`ATTEMPT_TIMEOUT`], and a retry partition of its own (fault cases run concurrently and would otherwise
/// drain one shared retry budget).
#[macro_export]
macro_rules! fault_client {
    ($sdk:ident, $region:expr, $rules:expr) => {{
        let mut interceptor = $crate::aws_smithy_mocks::MockResponseInterceptor::new()
            .rule_mode($crate::aws_smithy_mocks::RuleMode::MatchAny);
        for rule in $rules {
            interceptor = interceptor.with_rule(rule);
        }
        $sdk::Client::from_conf(
            $sdk::Config::builder()
                .behavior_version($sdk::config::BehaviorVersion::latest())
                .region($sdk::config::Region::new($region))
                .credentials_provider($sdk::config::Credentials::new("AKID", "secret", None, None, "test"))
                .http_client($crate::faulty_http::http_client())
                .interceptor(interceptor)
                .retry_partition($sdk::config::retry::RetryPartition::new($crate::faulty_http::own_retry_partition()))
                .timeout_config(
                    $sdk::config::timeout::TimeoutConfig::builder()
                        .operation_attempt_timeout($crate::faulty_http::ATTEMPT_TIMEOUT)
                        .build(),
                )
                .retry_config(
                    $sdk::config::retry::RetryConfig::standard()
                        .with_max_attempts($crate::faulty_http::ATTEMPTS as u32)
                        .with_initial_backoff(std::time::Duration::from_millis(1)),
                )
                .build(),
        )
    }};
}
