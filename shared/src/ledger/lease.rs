//! Holding a resource for the length of one invocation: [`hold`] claims the lease, waiting a bounded time while
//! another invocation holds it, and [`Held::release`] gives it back. An invocation acts on a resource only while
//! it holds it, and reads its facts after the claim, so it never acts on facts read before another invocation's
//! change.

use std::time::Duration;

use super::{Claim, Ledger};
use crate::aws::AwsError;

/// How long to wait for a lease another invocation holds: `attempts` claims, `delay` apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    pub attempts: u32,
    pub delay: Duration,
}

impl Wait {
    /// A few seconds: long enough for a concurrent invocation's quick change to finish, short enough that a
    /// stuck one makes this one give up (and Lambda retry it) well before its own timeout.
    pub const DEFAULT: Wait = Wait { attempts: 10, delay: Duration::from_millis(500) };
}

/// Why a resource could not be held.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HoldError {
    /// Another invocation still holds it after the wait: a retry later can succeed.
    #[error("{resource} is held by invocation {owner} until {until} (epoch seconds); retry later")]
    Busy { resource: String, owner: String, until: i64 },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

impl HoldError {
    /// Both are worth a retry by Lambda: the holder finishes or its lease expires; AWS errors are as transient
    /// as they say.
    pub fn transient(&self) -> bool {
        match self {
            HoldError::Busy { .. } => true,
            HoldError::Aws(e) => e.transient,
        }
    }
}

/// A resource this invocation holds until `until`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    pub resource: String,
    pub owner: String,
    pub until: i64,
}

/// Claims `resource` for `hold_secs` (the function's timeout plus a margin, so that an invocation never outlives
/// its lease), retrying while another invocation holds it, as `wait` says. `now` is read before each claim.
pub async fn hold<L: Ledger>(
    ledger: &L,
    resource: &str,
    owner: &str,
    now: impl Fn() -> i64,
    hold_secs: i64,
    wait: Wait,
) -> Result<Held, HoldError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        match ledger.claim(resource, owner, now(), hold_secs).await? {
            Claim::Acquired { until } => {
                return Ok(Held { resource: resource.to_owned(), owner: owner.to_owned(), until })
            }
            Claim::Held { owner: holder, until } if attempt >= wait.attempts.max(1) => {
                return Err(HoldError::Busy { resource: resource.to_owned(), owner: holder, until })
            }
            Claim::Held { .. } => tokio::time::sleep(wait.delay).await,
        }
    }
}

impl Held {
    /// Gives the lease back (a lease that expired and was taken over is left to its new holder).
    pub async fn release<L: Ledger>(self, ledger: &L) -> Result<(), AwsError> {
        ledger.release(&self.resource, &self.owner).await
    }
}
