//! RDS instance and cluster events through EventBridge (RDS User Guide, "Amazon RDS event categories and event messages"). Delivery is best effort and
//! events repeat: the functions confirm state with `Describe*` before acting on any of them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::json::Node;
use super::{split_arn, IntakeError};

pub(crate) const CONTEXT: &str = "RDS event";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RdsSourceType {
    Instance,
    Cluster,
    /// Snapshots, parameter groups, security groups, proxies…: parsed, but no function acts on them.
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RdsEvent {
    pub source_type: RdsSourceType,
    /// The instance or cluster identifier, from `SourceArn` (`SourceIdentifier` may read `rds:my-db`).
    pub source_id: String,
    pub source_arn: String,
    /// e.g. `RDS-EVENT-0031`.
    pub event_id: String,
    pub categories: Vec<String>,
    pub message: String,
    pub account: String,
    pub region: String,
    pub time: Option<String>,
    /// The resource's tags when the event carries them (`detail.Tags`); not relied on for opt-in.
    pub tags: BTreeMap<String, String>,
}

pub(crate) fn from_eventbridge(root: &Node<'_>) -> Result<RdsEvent, IntakeError> {
    let detail = root.req("detail")?;
    let event_id_node = detail.req("EventID")?;
    let event_id = event_id_node.str()?.trim();
    if !event_id.starts_with("RDS-EVENT-") {
        return Err(event_id_node.invalid("an RDS event id such as RDS-EVENT-0031"));
    }

    let arn_node = detail.get("SourceArn");
    let arn_parts = match &arn_node {
        Some(node) => Some(
            split_arn(node.str()?)
                .filter(|p| p.service == "rds")
                .ok_or_else(|| node.invalid("an RDS ARN (arn:aws:rds:<region>:<account>:db:<id>)"))?,
        ),
        None => None,
    };
    let source_id = match (&arn_parts, detail.opt_str("SourceIdentifier")?) {
        (Some(parts), _) => parts.resource.split_once(':').map_or(parts.resource, |(_, id)| id).to_owned(),
        (None, Some(identifier)) => identifier.strip_prefix("rds:").unwrap_or(identifier).to_owned(),
        (None, None) => return Err(detail.missing("SourceArn")),
    };
    if source_id.is_empty() {
        return Err(detail.missing("SourceArn"));
    }

    let detail_type = root.opt_str("detail-type")?.unwrap_or_default();
    let declared = detail.opt_str("SourceType")?.unwrap_or_default().to_ascii_uppercase().replace('-', "_");
    let source_type = match declared.as_str() {
        "DB_INSTANCE" => RdsSourceType::Instance,
        "CLUSTER" | "DB_CLUSTER" => RdsSourceType::Cluster,
        "" if detail_type == "RDS DB Instance Event" => RdsSourceType::Instance,
        "" if detail_type == "RDS DB Cluster Event" => RdsSourceType::Cluster,
        _ => RdsSourceType::Other(declared.clone()),
    };

    let region = arn_parts.map(|p| p.region).filter(|r| !r.is_empty()).or(root.opt_str("region")?);
    let account = arn_parts.map(|p| p.account).filter(|a| !a.is_empty()).or(root.opt_str("account")?);
    let (Some(region), Some(account)) = (region, account) else {
        return Err(root.missing("region"));
    };

    let categories = match detail.get("EventCategories") {
        Some(list) => list.items()?.iter().map(|n| n.str().map(str::to_owned)).collect::<Result<_, _>>()?,
        None => Vec::new(),
    };
    let mut tags = BTreeMap::new();
    if let Some(tag_node) = detail.get("Tags") {
        let object = tag_node.value.as_object().ok_or_else(|| tag_node.wrong_type("a map of tags"))?;
        for key in object.keys() {
            if let Some(value) = tag_node.get(key) {
                tags.insert(key.clone(), value.str()?.to_owned());
            }
        }
    }

    Ok(RdsEvent {
        source_type,
        source_id,
        source_arn: arn_node.map(|n| n.str().map(str::to_owned)).transpose()?.unwrap_or_default(),
        event_id: event_id.to_owned(),
        categories,
        message: detail.opt_str("Message")?.unwrap_or_default().to_owned(),
        account: account.to_owned(),
        region: region.to_owned(),
        time: detail.opt_str("Date")?.or(root.opt_str("time")?).map(str::to_owned),
        tags,
    })
}
