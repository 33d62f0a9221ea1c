//! An Aurora Global Database as `DescribeGlobalClusters` shows it: its member clusters (one writer, the
//! primary; the others secondaries, in other regions), and the switchover or failover under way, if any.
//! The status display (`model/topology.rs`) reads its membership from here.

use failover_core::ledger::{self, State};
use serde::Serialize;
use serde_json::{json, Value};

/// The ledger resource of a global database: `global-cluster:<id>`. Global clusters belong to no region, so the
/// id alone names one in the account.
pub fn global_resource(id: &str) -> String {
    format!("global-cluster:{id}")
}

/// Key prefix of a switchover or failover of a global database on [`global_resource`].
pub const GLOBAL_KEY_PREFIX: &str = "global#";

/// One member cluster of a global database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GlobalMember {
    /// The cluster's ARN, as `GlobalClusterMembers[].DBClusterArn` gives it: the identifier the global APIs take.
    pub arn: String,
    /// The region and identifier, read from the ARN.
    pub region: String,
    pub cluster: String,
    /// `IsWriter`: the primary cluster. A secondary has reader instances only.
    pub writer: bool,
}

impl GlobalMember {
    /// A member from its ARN (`arn:<partition>:rds:<region>:<account>:cluster:<id>`); `None` for anything else.
    pub fn from_arn(arn: &str, writer: bool) -> Option<Self> {
        let parts = failover_core::intake::split_arn(arn)?;
        let cluster = parts.resource.strip_prefix("cluster:")?;
        (parts.service == "rds" && !parts.region.is_empty() && !cluster.is_empty()).then(|| GlobalMember {
            arn: arn.to_owned(),
            region: parts.region.to_owned(),
            cluster: cluster.to_owned(),
            writer,
        })
    }
}

/// A switchover or failover under way (`FailoverState`): AWS refuses another one until it ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GlobalChange {
    /// `pending`, `failing-over` or `cancelling`.
    pub status: String,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `IsDataLossAllowed`: a failover (true) or a switchover (false).
    pub data_loss_allowed: bool,
}

/// A global database.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct GlobalCluster {
    pub id: String,
    pub arn: String,
    /// `available`, `failing-over`, `switching-over`…
    pub status: String,
    /// The global writer endpoint, which follows the primary: clients using it need no DNS change.
    pub endpoint: Option<String>,
    pub members: Vec<GlobalMember>,
    pub change: Option<GlobalChange>,
}

impl GlobalCluster {
    /// The primary cluster (the writer), if one is known.
    pub fn primary(&self) -> Option<&GlobalMember> {
        self.members.iter().find(|m| m.writer)
    }

    /// The member in `region` named `cluster` (an identifier or an ARN).
    pub fn member(&self, region: &str, cluster: &str) -> Option<&GlobalMember> {
        self.members.iter().find(|m| m.arn == cluster || (m.region == region && m.cluster == cluster))
    }
}

/// `cluster`'s place in one of `globals` (as `DescribeGlobalClusters` lists them), by its ARN, or by its
/// region and identifier; `None` when it is a member of none.
pub fn global_role(globals: &[GlobalCluster], cluster: &super::Cluster) -> Option<super::GlobalRole> {
    globals.iter().find_map(|g| {
        let member = g.members.iter().find(|m| {
            (!cluster.arn.is_empty() && m.arn == cluster.arn) || (m.region == cluster.region && m.cluster == cluster.id)
        })?;
        let global_cluster = g.id.clone();
        Some(if member.writer {
            super::GlobalRole::Primary { global_cluster }
        } else {
            super::GlobalRole::Secondary { global_cluster }
        })
    })
}

/// What a global record ([`GLOBAL_KEY_PREFIX`]) asked of AWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GlobalAction {
    /// `SwitchoverGlobalCluster`: no data loss.
    Switchover,
    /// `FailoverGlobalCluster` with `AllowDataLoss`: the primary region lost.
    Failover,
    /// `RemoveFromGlobalCluster` of the secondary: detached and promoted, with an approval only.
    Detach,
}

impl GlobalAction {
    pub fn as_str(self) -> &'static str {
        match self {
            GlobalAction::Switchover => "switchover",
            GlobalAction::Failover => "failover",
            GlobalAction::Detach => "detach",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        [GlobalAction::Switchover, GlobalAction::Failover, GlobalAction::Detach]
            .into_iter()
            .find(|a| a.as_str() == text)
    }
}

/// A switchover or failover of a global database, as its ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GlobalDecision {
    pub key: String,
    pub state: State,
    pub owner: String,
    pub action: GlobalAction,
    /// The primary's ARN when it was decided, and the secondary's it goes to.
    pub from: Option<String>,
    pub to: String,
    /// When it was decided, and when AWS accepted it (epoch seconds).
    pub at: i64,
    pub done_at: Option<i64>,
    /// The approval it acts on, by id (a failover beyond the loss setting, a detach), and who gave it: a run
    /// that resumes the decision after a crash keeps both.
    pub approval: Option<String>,
    pub approved_by: Option<String>,
    /// The incident's onset it was decided at (epoch seconds); `None` for a switchover or an older record.
    pub onset: Option<i64>,
}

impl GlobalDecision {
    /// The record's data.
    pub fn data(action: GlobalAction, from: Option<&str>, to: &str, at: i64, lag_ms: Option<f64>) -> Value {
        json!({"action": action.as_str(), "from": from, "to": to, "decided_at": at, "lag_ms": lag_ms})
    }

    /// [`GlobalDecision::data`] of a change that acts on an approval.
    pub fn approved(mut data: Value, approval: Option<&str>, by: Option<&str>) -> Value {
        data["approval"] = json!(approval);
        data["approved_by"] = json!(by);
        data
    }

    /// Reads a record written with [`GlobalDecision::data`]; `None` for any other.
    pub fn from_ledger(record: &ledger::Record) -> Option<Self> {
        if !record.key.starts_with(GLOBAL_KEY_PREFIX) {
            return None;
        }
        let data = &record.data;
        Some(GlobalDecision {
            key: record.key.clone(),
            state: record.state,
            owner: record.owner.clone(),
            action: GlobalAction::parse(data["action"].as_str()?)?,
            from: data["from"].as_str().map(str::to_owned),
            to: data["to"].as_str()?.to_owned(),
            at: data["decided_at"].as_i64().unwrap_or(record.created_at),
            done_at: data["done_at"].as_i64(),
            approval: data["approval"].as_str().map(str::to_owned),
            approved_by: data["approved_by"].as_str().map(str::to_owned),
            onset: data["onset"].as_i64(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_is_read_from_its_cluster_arn_and_nothing_else() {
        let m = GlobalMember::from_arn("arn:aws:rds:us-west-2:123456789012:cluster:orders-west", false).unwrap();
        assert_eq!((m.region.as_str(), m.cluster.as_str(), m.writer), ("us-west-2", "orders-west", false));
        assert_eq!(GlobalMember::from_arn("arn:aws:rds:us-west-2:123456789012:db:orders", false), None);
        assert_eq!(GlobalMember::from_arn("orders-west", false), None);
    }

    #[test]
    fn a_decision_reads_back_from_its_record_and_other_records_are_not_decisions() {
        let data = GlobalDecision::data(GlobalAction::Switchover, Some("arn:a"), "arn:b", 100, Some(12.0));
        let record = ledger::Record::pending("global-cluster:g", "global#100", "req-1", "manual", 100, 60)
            .with_data(data.clone());
        let read = GlobalDecision::from_ledger(&record).unwrap();
        assert_eq!(
            (read.action, read.from.as_deref(), read.to.as_str(), read.at),
            (GlobalAction::Switchover, Some("arn:a"), "arn:b", 100)
        );
        let other = ledger::Record::pending("global-cluster:g", "failover#100", "req-1", "m", 100, 60).with_data(data);
        assert_eq!(GlobalDecision::from_ledger(&other), None);
    }

    #[test]
    fn the_primary_is_the_writer_and_members_are_found_by_region_and_id_or_arn() {
        let east = GlobalMember::from_arn("arn:aws:rds:us-east-1:1:cluster:c", true).unwrap();
        let west = GlobalMember::from_arn("arn:aws:rds:us-west-2:1:cluster:c", false).unwrap();
        let g = GlobalCluster {
            id: "g".into(),
            arn: String::new(),
            status: "available".into(),
            endpoint: None,
            members: vec![west.clone(), east.clone()],
            change: None,
        };
        assert_eq!(g.primary(), Some(&east));
        assert_eq!(g.member("us-west-2", "c"), Some(&west));
        assert_eq!(g.member("eu-west-1", &west.arn), Some(&west));
        assert_eq!(g.member("eu-west-1", "c"), None);
    }
}
