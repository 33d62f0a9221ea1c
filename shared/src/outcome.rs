//! How a piece of work ended, and how urgently a person should look: one vocabulary for notifications
//! (`outcome` and `severity` attributes), responses (`status`) and logs.

use serde::Serialize;

/// What happened. Every outcome but [`Outcome::Skipped`] is published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// A change was made.
    Succeeded,
    /// A change was wanted but a guard forbade it; a person should look.
    Refused,
    /// A change was attempted, or its facts gathered, and AWS failed it.
    Failed,
    /// A change was planned and not made, because of dry-run.
    DryRun,
    /// Nothing to change: a report, an AWS-managed event, a failback request.
    Info,
    /// Not ours, or nothing to do: logged, never notified.
    Skipped,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Refused => "refused",
            Outcome::Failed => "failed",
            Outcome::DryRun => "dry-run",
            Outcome::Info => "info",
            Outcome::Skipped => "skipped",
        }
    }

    /// Whether people are told: everything but a skip.
    pub fn notified(self) -> bool {
        self != Outcome::Skipped
    }

    /// Most telling first: a failure outweighs a refusal, which outweighs a change, and so on. An invocation
    /// that produced several reports answers with the most telling one.
    pub fn rank(self) -> u8 {
        match self {
            Outcome::Failed => 0,
            Outcome::Refused => 1,
            Outcome::Succeeded => 2,
            Outcome::DryRun => 3,
            Outcome::Info => 4,
            Outcome::Skipped => 5,
        }
    }
}

/// How urgently a person should look, as the `severity` attribute says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Severity {
    Info,
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_serialize_as_their_attribute_values() {
        for o in
            [Outcome::Succeeded, Outcome::Refused, Outcome::Failed, Outcome::DryRun, Outcome::Info, Outcome::Skipped]
        {
            assert_eq!(serde_json::to_value(o).unwrap(), o.as_str());
        }
        assert!(!Outcome::Skipped.notified() && Outcome::Info.notified());
        assert!(
            Outcome::Failed.rank() < Outcome::Refused.rank() && Outcome::Refused.rank() < Outcome::Succeeded.rank()
        );
    }
}
