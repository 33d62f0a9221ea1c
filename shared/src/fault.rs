//! [`Fault`]: why a piece of work stopped short — an AWS failure, or a state that a later run of the same event
//! resolves (the resource was busy, the lease was lost, a promotion is under way, a notification was not
//! published). Every fault but a permanent AWS failure asks Lambda to retry the event.

use std::time::Duration;

use crate::aws::AwsError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    /// An AWS call failed after the SDK's own retries; retried only when [`AwsError::transient`].
    #[error(transparent)]
    Aws(#[from] AwsError),
    /// Another invocation held the resource, or changed it under us, for the whole wait budget.
    #[error("{resource} still held{} or changing after waiting {} ms (ResourceBusy)", by(holder.as_deref()), waited.as_millis())]
    Busy { resource: String, holder: Option<String>, waited: Duration },
    /// The caller's lease ran out and another invocation took the resource before `end`: nothing was written,
    /// and the retry finds the change made and settles its records.
    #[error("the lease on {resource} or one of its records is no longer {owner}'s (LeaseLost)")]
    LeaseLost { resource: String, owner: String },
    /// A recovery (ours or AWS's) is under way on the resource: the retry finds it finished.
    #[error("{reason} (PromotionInProgress)")]
    InProgress { resource: String, reason: String },
    /// A notification the work owes was not published: the retry publishes it.
    #[error("{what} was not published (Unpublished)")]
    Unpublished { what: String },
}

fn by(holder: Option<&str>) -> String {
    holder.map_or_else(String::new, |h| format!(" ({h})"))
}

impl Fault {
    /// A later run of the event can change the outcome: the invocation returns an error so that Lambda retries.
    pub fn retry(&self) -> bool {
        match self {
            Fault::Aws(error) => error.transient,
            _ => true,
        }
    }

    /// A stable name: the Lambda error type of an invocation that ends on this fault.
    pub fn code(&self) -> &'static str {
        match self {
            Fault::Aws(_) => "AwsError",
            Fault::Busy { .. } => "ResourceBusy",
            Fault::LeaseLost { .. } => "LeaseLost",
            Fault::InProgress { .. } => "PromotionInProgress",
            Fault::Unpublished { .. } => "Unpublished",
        }
    }

    /// The AWS failure, when it is one.
    pub fn aws(&self) -> Option<&AwsError> {
        match self {
            Fault::Aws(error) => Some(error),
            _ => None,
        }
    }

    /// What the fault is about, for logs.
    pub fn resource(&self) -> &str {
        match self {
            Fault::Aws(error) => &error.resource,
            Fault::Busy { resource, .. } | Fault::LeaseLost { resource, .. } | Fault::InProgress { resource, .. } => {
                resource
            }
            Fault::Unpublished { what } => what,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_permanent_aws_failure_is_not_retried_and_each_fault_names_its_code() {
        let aws = |transient| Fault::Aws(AwsError { transient, ..AwsError::not_modelled("DescribeTags", "tg") });
        assert!(!aws(false).retry() && aws(true).retry());
        let busy = Fault::Busy { resource: "r".into(), holder: Some("req-1".into()), waited: Duration::from_secs(5) };
        assert_eq!(busy.to_string(), "r still held (req-1) or changing after waiting 5000 ms (ResourceBusy)");
        let lost = Fault::LeaseLost { resource: "r".into(), owner: "me".into() };
        let in_progress = Fault::InProgress { resource: "r".into(), reason: "promoting".into() };
        let unpublished = Fault::Unpublished { what: "the notification".into() };
        for (fault, code) in [
            (&busy, "ResourceBusy"),
            (&lost, "LeaseLost"),
            (&in_progress, "PromotionInProgress"),
            (&unpublished, "Unpublished"),
            (&aws(true), "AwsError"),
        ] {
            assert!(fault.retry(), "{fault}");
            assert_eq!(fault.code(), code);
        }
        assert!(lost.to_string().ends_with("(LeaseLost)") && unpublished.to_string().ends_with("(Unpublished)"));
    }
}
