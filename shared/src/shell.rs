//! The one Lambda shell both functions run in: [`serve`] wires telemetry, the SDK configuration and the app
//! once per cold start, then hands each event to [`Handler::invoke`] with its [`Invocation`] — who it is (the
//! request id names it in the ledger), whose it is ([`Home`]: the account of the invoked function's ARN), and
//! until when (the deadline sets the lease and the wait budget).

use std::future::Future;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::invoke::InvokeError;
use crate::ledger::{self, Ledger, Session, WaitBudget};
use crate::response::Response;

/// One invocation as Lambda describes it; every field is `None` in local runs and tests.
#[derive(Debug, Clone, Default)]
pub struct Invocation {
    pub request_id: Option<String>,
    /// `invoked_function_arn`: its account is the function's own.
    pub function_arn: Option<String>,
    pub deadline: Option<SystemTime>,
}

impl Invocation {
    pub fn from_lambda(context: &lambda_runtime::Context) -> Self {
        Invocation {
            request_id: Some(context.request_id.clone()),
            function_arn: Some(context.invoked_function_arn.clone()),
            deadline: Some(UNIX_EPOCH + Duration::from_millis(context.deadline)),
        }
    }

    /// The time left until the deadline, when known.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline.map(|d| d.duration_since(SystemTime::now()).unwrap_or_default())
    }

    /// This invocation's name in the ledger ([`ledger::owner`]).
    pub fn owner(&self) -> String {
        ledger::owner(self.request_id.as_deref())
    }

    /// The function's own partition and account: from the invoked function's ARN, or, without a Lambda
    /// context, `fallback`'s (the app's, from its notification topic, which belongs to the function's stack).
    pub fn home(&self, fallback: &Home) -> Home {
        // A function ARN that names no account (a local emulator's placeholder) says nothing.
        match self.function_arn.as_deref().map(|arn| Home::new(arn, &fallback.region)) {
            Some(home) if !home.account.is_empty() => home,
            _ => fallback.clone(),
        }
    }

    /// The time this invocation may spend waiting for held resources, in all ([`ledger::wait_budget`]).
    pub fn wait_budget(&self) -> WaitBudget {
        WaitBudget::new(ledger::wait_budget(self.remaining()))
    }

    /// This invocation's side of the ledger: its lease lasts the time it has left plus a margin, and its waits
    /// for held resources share `budget` ([`Self::wait_budget`]).
    pub fn session<'a, L: Ledger>(
        &self,
        ledger: &'a L,
        owner: &'a str,
        budget: &'a WaitBudget,
        retention_secs: i64,
        force: bool,
        clock: fn() -> i64,
    ) -> Session<'a, L> {
        let hold_secs = ledger::lease_secs(self.remaining());
        Session { ledger, owner, hold_secs, retention_secs, force, clock, budget, region_switch: None }
    }
}

/// Where the function runs: its partition, account and region. Resources elsewhere are not its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub partition: String,
    pub account: String,
    pub region: String,
}

impl Home {
    /// The partition and account of `arn` (any ARN of the function's own account); the region as given.
    pub fn new(arn: &str, region: &str) -> Self {
        let parts = crate::intake::split_arn(arn);
        Home {
            partition: parts.map_or("aws", |p| p.partition).to_owned(),
            account: parts.map(|p| p.account.to_owned()).unwrap_or_default(),
            region: region.to_owned(),
        }
    }

    /// Why a resource in `account` is not this function's, if it is not (an unknown own account accepts any).
    pub fn foreign_account(&self, account: &str) -> Option<String> {
        (!self.account.is_empty() && account != self.account)
            .then(|| format!("it is in account {account}, and this function acts in {}", self.account))
    }

    /// Why a resource in `account`/`region` is not this function's, if it is not.
    pub fn foreign(&self, account: &str, region: &str) -> Option<String> {
        if !self.region.is_empty() && region != self.region {
            return Some(format!("it is in region {region}, and this function acts in {}", self.region));
        }
        self.foreign_account(account)
    }
}

/// A function's app: one invocation at a time.
pub trait Handler: Sync {
    fn invoke(&self, payload: Value, invocation: &Invocation) -> impl Future<Output = Result<Response, InvokeError>>;
}

/// The Lambda entry point of a function: telemetry, the SDK configuration (its app name goes into every
/// request's user agent, so CloudTrail's `userAgent` names our calls), the app (`build`, whose error is an
/// invalid configuration), then the runtime loop.
pub async fn serve<H, E>(
    function: &'static str,
    version: &str,
    build: impl FnOnce(&aws_config::SdkConfig) -> Result<H, E>,
) -> Result<(), lambda_runtime::Error>
where
    H: Handler,
    E: std::error::Error + Send + Sync + 'static,
{
    crate::telemetry::init();
    let app_name = aws_config::AppName::new(crate::telemetry::app_name(function, version))?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest()).app_name(app_name).load().await;
    let app = build(&sdk).inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let app = &app;
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<Value>| async move {
        app.invoke(event.payload, &Invocation::from_lambda(&event.context)).await
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_own_account_comes_from_the_function_arn_or_else_the_topic() {
        let app = Home::new("arn:aws-cn:sns:cn-north-1:111111111111:failover", "cn-north-1");
        assert_eq!(Invocation::default().home(&app).account, "111111111111");
        let lambda = Invocation {
            function_arn: Some("arn:aws-cn:lambda:cn-north-1:222222222222:function:f".into()),
            ..Invocation::default()
        };
        let home = lambda.home(&app);
        assert_eq!((home.partition.as_str(), home.account.as_str()), ("aws-cn", "222222222222"));
        assert!(home.foreign("111111111111", "cn-north-1").is_some_and(|why| why.contains("account 111111111111")));
        assert!(home.foreign("222222222222", "us-east-1").is_some_and(|why| why.contains("region us-east-1")));
        assert_eq!(home.foreign("222222222222", "cn-north-1"), None);
        let placeholder = Invocation { function_arn: Some("function-arn".into()), ..Invocation::default() };
        assert_eq!(placeholder.home(&app), app, "an ARN without an account falls back to the app's");
    }
}
