//! The approval gate's data: a decision the function may not take alone (one that may lose data, or that the
//! settings do not allow by themselves), pending in the ledger until a person approves or rejects it, or it
//! expires (`APPROVAL_TTL_MINUTES`).
//!
//! It lives on the ledger resource of the change it asks for (`global-cluster:<id>`, key `approval#<time>`), so
//! that approving it and beginning the change are one transaction under one lease. Its id names that record:
//! `<resource>@<time>` (e.g. `global-cluster:orders-global@1765112345`), so `approve` finds it with one read.

use failover_core::ledger::{self, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Key prefix of an approval record.
pub const APPROVAL_KEY_PREFIX: &str = "approval#";

/// What an approval lets the function do, once approved and re-checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Approvable {
    /// `FailoverGlobalCluster` with `AllowDataLoss` to the secondary `target` (its ARN).
    FailoverGlobal { global: String, target: String },
    /// `RemoveFromGlobalCluster` of the secondary `target`: detached, it is a standalone cluster taking writes.
    DetachGlobal { global: String, target: String },
}

impl Approvable {
    pub fn describe(&self) -> String {
        match self {
            Approvable::FailoverGlobal { global, target } => {
                format!("fail global database {global} over to {target} with AllowDataLoss")
            }
            Approvable::DetachGlobal { global, target } => {
                format!("detach {target} from global database {global} and promote it (RemoveFromGlobalCluster)")
            }
        }
    }
}

/// A decision waiting for a person, as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Approval {
    /// `<resource>@<time>`: what the approve command names.
    pub id: String,
    pub resource: String,
    pub key: String,
    /// Pending (waiting), Done (approved), Closed (rejected).
    pub state: State,
    pub owner: String,
    pub action: Approvable,
    /// The data-loss window measured when it was asked for, in milliseconds (`None`: unknown), and from which
    /// metric.
    pub loss_ms: Option<f64>,
    pub metric: Option<String>,
    /// Why the function did not act alone.
    pub reason: String,
    pub created_at: i64,
    /// After this (epoch seconds) it cannot be approved.
    pub expires_at: i64,
    /// Who approved or rejected it, and when.
    pub by: Option<String>,
    pub decided_at: Option<i64>,
    /// The incident's onset (epoch seconds) its loss window was measured at: later events and `approve` measure
    /// at it too, not at their own time. `None`: a record written before it was stored.
    pub onset: Option<i64>,
}

/// The id of the approval `approval#<at>` on `resource`.
pub fn approval_id(resource: &str, at: i64) -> String {
    format!("{resource}@{at}")
}

/// The resource and key an approval id names; `None` when it is not an id.
pub fn parse_approval_id(id: &str) -> Option<(String, String)> {
    let (resource, at) = id.trim().rsplit_once('@')?;
    let at: i64 = at.parse().ok()?;
    (!resource.is_empty() && resource.contains(':'))
        .then(|| (resource.to_owned(), format!("{APPROVAL_KEY_PREFIX}{at}")))
}

impl Approval {
    /// The record's data.
    pub fn data(&self) -> Value {
        json!({"id": self.id, "action": self.action, "loss_ms": self.loss_ms, "metric": self.metric,
            "reason": self.reason, "expires_at": self.expires_at, "by": self.by, "decided_at": self.decided_at,
            "onset": self.onset})
    }

    /// A new pending approval on `resource` at `now`, valid for `ttl_secs`.
    pub fn ask(
        resource: &str,
        action: Approvable,
        loss: (Option<f64>, Option<String>),
        reason: String,
        now: i64,
        ttl_secs: i64,
    ) -> Self {
        Approval {
            id: approval_id(resource, now),
            resource: resource.to_owned(),
            key: format!("{APPROVAL_KEY_PREFIX}{now}"),
            state: State::Pending,
            owner: String::new(),
            action,
            loss_ms: loss.0,
            metric: loss.1,
            reason,
            created_at: now,
            expires_at: now + ttl_secs,
            by: None,
            decided_at: None,
            onset: None,
        }
    }

    /// The same, measured at the incident's `onset`.
    pub fn at_onset(mut self, onset: i64) -> Self {
        self.onset = Some(onset);
        self
    }

    /// The onset it was measured at (its creation, for a record that does not say).
    pub fn measured_at(&self) -> i64 {
        self.onset.unwrap_or(self.created_at)
    }

    /// Reads an approval record; `None` for any other record.
    pub fn from_ledger(record: &ledger::Record) -> Option<Self> {
        let at = record.key.strip_prefix(APPROVAL_KEY_PREFIX)?.parse::<i64>().ok()?;
        let data = &record.data;
        Some(Approval {
            id: approval_id(&record.resource, at),
            resource: record.resource.clone(),
            key: record.key.clone(),
            state: record.state,
            owner: record.owner.clone(),
            action: serde_json::from_value(data["action"].clone()).ok()?,
            loss_ms: data["loss_ms"].as_f64(),
            metric: data["metric"].as_str().map(str::to_owned),
            reason: data["reason"].as_str().unwrap_or_default().to_owned(),
            created_at: record.created_at,
            expires_at: data["expires_at"].as_i64()?,
            by: data["by"].as_str().map(str::to_owned),
            decided_at: data["decided_at"].as_i64(),
            onset: data["onset"].as_i64(),
        })
    }

    /// The exact command that approves it (public contract).
    pub fn approve_command(&self) -> String {
        json!({"command": "approve", "decision": self.id, "by": "<name>"}).to_string()
    }

    /// The command that rejects it.
    pub fn reject_command(&self) -> String {
        json!({"command": "reject", "decision": self.id, "by": "<name>"}).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Approval {
        let action =
            Approvable::FailoverGlobal { global: "g".into(), target: "arn:aws:rds:us-west-2:1:cluster:w".into() };
        Approval::ask(
            "global-cluster:g",
            action,
            (Some(40_000.0), Some("AuroraGlobalDBRPOLag".into())),
            "r".into(),
            100,
            1800,
        )
    }

    #[test]
    fn an_approval_reads_back_from_its_record_with_its_id() {
        let a = sample();
        let record = ledger::Record::pending(&a.resource, &a.key, "req-1", "t", 100, 3600).with_data(a.data());
        let read = Approval::from_ledger(&record).unwrap();
        assert_eq!((read.id.as_str(), read.expires_at, read.loss_ms), ("global-cluster:g@100", 1900, Some(40_000.0)));
        assert_eq!(read.action, a.action);
        assert_eq!(parse_approval_id(&read.id), Some(("global-cluster:g".into(), "approval#100".into())));
    }

    #[test]
    fn ids_that_name_no_approval_record_are_not_ids() {
        assert_eq!(parse_approval_id("global-cluster:g"), None);
        assert_eq!(parse_approval_id("global-cluster:g@soon"), None);
        assert_eq!(parse_approval_id("nothing@12"), None);
    }

    #[test]
    fn the_approve_command_is_exactly_the_public_one() {
        let command: Value = serde_json::from_str(&sample().approve_command()).unwrap();
        assert_eq!(command, json!({"command": "approve", "decision": "global-cluster:g@100", "by": "<name>"}));
    }
}
