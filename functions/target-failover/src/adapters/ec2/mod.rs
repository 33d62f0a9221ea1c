//! EC2's zone facts without aws-sdk-ec2: [`Ec2Query`] sends `DescribeAvailabilityZones` (zone name → AZ ID) and
//! `DescribeInstances` (instance → zone name) as EC2 query-protocol requests, one signed POST each.
//!
//! Why: aws-sdk-ec2 is the largest SDK crate by far (minutes of compile time for two read calls), and neither
//! ELB nor ARC gives what the zonal actions need. ELB's `DescribeLoadBalancers` gives zone names only and
//! `DescribeTargetHealth` gives no zone for instance targets; ARC's `GetManagedResource` gives AZ IDs only.
//!
//! How: the request is a form (`Action=...&Version=2016-11-15&...`) signed with SigV4 (`aws-sigv4`, service
//! `ec2`, the SDK configuration's region and credentials) and sent through the smithy orchestrator
//! (`aws_smithy_runtime`'s `Operation`: the SDK configuration's HTTP client, timeouts, sleep and retry
//! settings, retrying 5xx (EC2's throttling is a 503), timeouts and connection failures as the SDK would). The
//! XML answer is read with `aws-smithy-xml`. All of these crates were already in the build through the SDK,
//! with the same features.
//!
//! Endpoint: `AWS_ENDPOINT_URL_EC2`, else the SDK configuration's endpoint URL (`AWS_ENDPOINT_URL`, which the
//! tests set to the local AWS), else `https://ec2.<region>.amazonaws.com` (`.com.cn` in China).
//!
//! Errors: EC2 answers `<Response><Errors><Error><Code>..</Code><Message>..</Message>`; they become
//! [`AwsError`]s with that code, transient for throttling (`RequestLimitExceeded`) and 5xx. The zone map is
//! read once per process: it never changes for an account and region. Missing instance ids are left out:
//! `DescribeInstances` is asked with the `instance-id` filter, which matches what exists instead of failing
//! the whole call with `InvalidInstanceID.NotFound` (or `.Malformed`), as the `InstanceId.N` parameter would.
//!
//! IAM: `ec2:DescribeAvailabilityZones`, `ec2:DescribeInstances` (resource `*`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime::client::orchestrator::operation::Operation;
use aws_smithy_runtime::client::retries::classifiers::{HttpStatusCodeClassifier, TransientErrorClassifier};
use aws_smithy_runtime_api::client::identity::Identity;
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse, OrchestratorError};
use aws_smithy_types::body::SdkBody;
use aws_smithy_types::error::metadata::{ErrorMetadata, ProvideErrorMetadata};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use failover_core::aws::AwsError;

mod xml;
use xml::{parse_error, parse_instances, parse_zones};

/// The EC2 API version of the query protocol.
const VERSION: &str = "2016-11-15";
/// Values per `Filter.1.Value.N` (EC2 takes up to 200 values per filter).
const IDS_PER_CALL: usize = 200;

/// The EC2 query client: cheap to clone, the zone map shared between clones.
#[derive(Clone)]
pub struct Ec2Query {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: String,
    region: String,
    credentials: Option<SharedCredentialsProvider>,
    operation: Operation<Signed, String, Ec2Failure>,
    zones: tokio::sync::OnceCell<BTreeMap<String, String>>,
}

impl std::fmt::Debug for Ec2Query {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ec2Query").field("endpoint", &self.inner.endpoint).field("region", &self.inner.region).finish()
    }
}

/// A signed request: the form and the headers to send with it.
#[derive(Debug)]
struct Signed {
    body: String,
    headers: Vec<(String, String)>,
}

/// An error EC2 answered, with its code and message (`InvalidParameterValue`, `RequestLimitExceeded`...).
#[derive(Debug)]
pub struct Ec2Failure {
    meta: ErrorMetadata,
}

impl std::fmt::Display for Ec2Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.meta.message().or(self.meta.code()).unwrap_or("EC2 answered an error"))
    }
}

impl std::error::Error for Ec2Failure {}

impl ProvideErrorMetadata for Ec2Failure {
    fn meta(&self) -> &ErrorMetadata {
        &self.meta
    }
}

impl Ec2Query {
    /// The client of the SDK configuration's region, credentials, HTTP client and retry settings.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let endpoint = std::env::var("AWS_ENDPOINT_URL_EC2")
            .ok()
            .filter(|url| !url.is_empty())
            .or_else(|| sdk.endpoint_url().map(str::to_owned))
            .unwrap_or_else(|| default_endpoint(&region));
        let mut builder = Operation::builder()
            .service_name("ec2")
            .operation_name("query")
            .endpoint_url(&endpoint)
            .no_auth()
            .retry_classifier(HttpStatusCodeClassifier::default())
            .retry_classifier(TransientErrorClassifier::<Ec2Failure>::new())
            .standard_retry(&sdk.retry_config().cloned().unwrap_or_else(RetryConfig::standard))
            .timeout_config(sdk.timeout_config().cloned().unwrap_or_else(|| TimeoutConfig::builder().build()));
        if let Some(http) = sdk.http_client() {
            builder = builder.http_client(http);
        }
        if let Some(sleep) = sdk.sleep_impl() {
            builder = builder.sleep_impl(sleep);
        }
        if let Some(time) = sdk.time_source() {
            builder = builder.time_source(time);
        }
        let operation = builder.serializer(serialize).deserializer(deserialize).build();
        let inner = Inner {
            endpoint,
            region,
            credentials: sdk.credentials_provider(),
            operation,
            zones: tokio::sync::OnceCell::new(),
        };
        Ec2Query { inner: Arc::new(inner) }
    }

    /// Zone name → AZ ID of this account and region (`DescribeAvailabilityZones`), read once per process.
    pub async fn zone_ids(&self) -> Result<BTreeMap<String, String>, AwsError> {
        let zones = self
            .inner
            .zones
            .get_or_try_init(|| async {
                let xml = self.call("DescribeAvailabilityZones", "(all)", &[]).await?;
                parse_zones(&xml).map_err(|e| unreadable("DescribeAvailabilityZones", "(all)", e))
            })
            .await?;
        Ok(zones.clone())
    }

    /// The zone name of each of these instances that exists (`DescribeInstances` with the `instance-id`
    /// filter, 200 ids per call, every page); the others are left out.
    pub async fn instance_zones(&self, ids: &[String]) -> Result<BTreeMap<String, String>, AwsError> {
        let mut found = BTreeMap::new();
        for batch in ids.chunks(IDS_PER_CALL) {
            let resource = batch.join(", ");
            let mut next: Option<String> = None;
            loop {
                let mut params = vec![("Filter.1.Name".to_owned(), "instance-id".to_owned())];
                params
                    .extend(batch.iter().enumerate().map(|(i, id)| (format!("Filter.1.Value.{}", i + 1), id.clone())));
                params.push(("MaxResults".to_owned(), "1000".to_owned()));
                if let Some(token) = next.take() {
                    params.push(("NextToken".to_owned(), token));
                }
                let xml = self.call("DescribeInstances", &resource, &params).await?;
                let (zones, token) =
                    parse_instances(&xml).map_err(|e| unreadable("DescribeInstances", &resource, e))?;
                found.extend(zones);
                match token {
                    Some(token) => next = Some(token),
                    None => break,
                }
            }
        }
        Ok(found)
    }

    /// One signed call; the answer's XML.
    async fn call(
        &self,
        action: &'static str,
        resource: &str,
        params: &[(String, String)],
    ) -> Result<String, AwsError> {
        let body = form(action, params);
        let headers = self.sign(action, resource, &body).await?;
        self.inner
            .operation
            .invoke(Signed { body, headers })
            .await
            .map_err(|e| AwsError::from_sdk(action, resource, &e))
    }

    /// The SigV4 headers of the form, with the credentials of now.
    async fn sign(&self, action: &'static str, resource: &str, body: &str) -> Result<Vec<(String, String)>, AwsError> {
        let failed = |message: String| AwsError {
            operation: action,
            resource: resource.to_owned(),
            code: Some("CredentialsError".into()),
            transient: true,
            message,
        };
        let provider = self.inner.credentials.as_ref().ok_or_else(|| failed("no credentials configured".into()))?;
        let credentials = provider.provide_credentials().await.map_err(|e| failed(e.to_string()))?;
        let identity = Identity::from(credentials);
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&self.inner.region)
            .name("ec2")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed(e.to_string()))?
            .into();
        let url = format!("{}/", self.inner.endpoint.trim_end_matches('/'));
        let content = [("content-type", "application/x-www-form-urlencoded; charset=utf-8")];
        let signable = SignableRequest::new("POST", url, content.into_iter(), SignableBody::Bytes(body.as_bytes()))
            .map_err(|e| failed(e.to_string()))?;
        let (instructions, _) = sign(signable, &params).map_err(|e| failed(e.to_string()))?.into_parts();
        let mut headers: Vec<(String, String)> =
            content.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        headers.extend(instructions.headers().map(|(name, value)| (name.to_owned(), value.to_owned())));
        Ok(headers)
    }
}

fn default_endpoint(region: &str) -> String {
    let suffix = if region.starts_with("cn-") { "amazonaws.com.cn" } else { "amazonaws.com" };
    format!("https://ec2.{region}.{suffix}")
}

/// `Action=..&Version=..&<params>`, form-encoded.
fn form(action: &str, params: &[(String, String)]) -> String {
    let mut form = format!("Action={action}&Version={VERSION}");
    for (name, value) in params {
        form.push('&');
        form.push_str(&encode(name));
        form.push('=');
        form.push_str(&encode(value));
    }
    form
}

/// Percent-encoding of everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn serialize(signed: Signed) -> Result<HttpRequest, aws_smithy_runtime_api::box_error::BoxError> {
    let mut request = HttpRequest::new(SdkBody::from(signed.body));
    request.set_method("POST")?;
    request.set_uri("/")?;
    for (name, value) in signed.headers {
        request.headers_mut().insert(name, value);
    }
    Ok(request)
}

fn deserialize(response: &HttpResponse) -> Result<String, OrchestratorError<Ec2Failure>> {
    let body = response.body().bytes().map(String::from_utf8_lossy).unwrap_or_default().into_owned();
    if response.status().is_success() {
        return Ok(body);
    }
    let (code, message) = parse_error(&body).unwrap_or((None, None));
    let meta = ErrorMetadata::builder()
        .code(code.unwrap_or_else(|| format!("Http{}", response.status().as_u16())))
        .message(message.unwrap_or_else(|| format!("EC2 answered HTTP {}", response.status().as_u16())))
        .build();
    Err(OrchestratorError::operation(Ec2Failure { meta }))
}

fn unreadable(operation: &'static str, resource: &str, error: aws_smithy_xml::decode::XmlDecodeError) -> AwsError {
    AwsError {
        operation,
        resource: resource.to_owned(),
        code: Some("UnreadableResponse".into()),
        transient: true,
        message: format!("EC2's answer is not the XML expected: {error}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_encodes_names_and_values() {
        let params = [("Filter.1.Value.1".to_owned(), "a b/c".to_owned())];
        assert_eq!(
            form("DescribeInstances", &params),
            "Action=DescribeInstances&Version=2016-11-15&Filter.1.Value.1=a%20b%2Fc"
        );
        assert_eq!(default_endpoint("cn-north-1"), "https://ec2.cn-north-1.amazonaws.com.cn");
        assert_eq!(default_endpoint("eu-west-1"), "https://ec2.eu-west-1.amazonaws.com");
    }
}
