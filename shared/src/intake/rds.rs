//! RDS instance and cluster events through EventBridge (RDS User Guide, "Amazon RDS event categories and event messages"), or
//! through an RDS event subscription's SNS topic (the native message: `"Event Source"`, `"Source ID"`,
//! `"Source ARN"`, `"Event ID"` as a documentation URL ending in `#RDS-EVENT-0031`, `"Event Message"`; the
//! `EventID` message attribute when the URL has no fragment). Both read into the same [`RdsEvent`]. Delivery is
//! best effort and events repeat: the functions confirm state with `Describe*` before acting on any of them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::json::Node;
use super::{split_arn, ArnParts, IntakeError};

pub(crate) const CONTEXT: &str = "RDS event";
pub(crate) const SUBSCRIPTION: &str = "RDS event subscription message";

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
    let (arn_parts, source_id) = source(&detail, "SourceArn", "SourceIdentifier")?;

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
    let tags = tags(detail.get("Tags"))?;

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

/// The event's source: its ARN's parts (from the `arn_key` field) and its identifier, from the ARN or else from
/// the `id_key` field (`rds:` prefix dropped).
fn source<'a>(node: &Node<'a>, arn_key: &str, id_key: &str) -> Result<(Option<ArnParts<'a>>, String), IntakeError> {
    let arn_parts = match node.get(arn_key) {
        Some(arn) => Some(
            split_arn(arn.str()?)
                .filter(|p| p.service == "rds")
                .ok_or_else(|| arn.invalid("an RDS ARN (arn:aws:rds:<region>:<account>:db:<id>)"))?,
        ),
        None => None,
    };
    let source_id = match (&arn_parts, node.opt_str(id_key)?) {
        (Some(parts), _) => parts.resource.split_once(':').map_or(parts.resource, |(_, id)| id).to_owned(),
        (None, Some(identifier)) => identifier.strip_prefix("rds:").unwrap_or(identifier).to_owned(),
        (None, None) => return Err(node.missing(arn_key)),
    };
    if source_id.is_empty() {
        return Err(node.missing(arn_key));
    }
    Ok((arn_parts, source_id))
}

/// `Tags` as a map of strings (absent: none).
fn tags(node: Option<Node<'_>>) -> Result<BTreeMap<String, String>, IntakeError> {
    let mut tags = BTreeMap::new();
    if let Some(tag_node) = node {
        let object = tag_node.value.as_object().ok_or_else(|| tag_node.wrong_type("a map of tags"))?;
        for key in object.keys() {
            if let Some(value) = tag_node.get(key) {
                tags.insert(key.clone(), value.str()?.to_owned());
            }
        }
    }
    Ok(tags)
}

/// Whether an SNS message is an RDS event subscription's native message.
pub(crate) fn is_subscription_message(message: &serde_json::Value) -> bool {
    message.get("Event Source").is_some() && message.get("Event ID").is_some()
}

/// An RDS event subscription's message (`message`, the parsed `Sns.Message`), with the SNS record's
/// `MessageAttributes` (`attributes`: the `EventID` fallback) and `TopicArn` (`topic`: the region and account when
/// the message has no `Source ARN`).
pub(crate) fn from_subscription(
    message: &Node<'_>,
    attributes: Option<Node<'_>>,
    topic: Option<&str>,
) -> Result<RdsEvent, IntakeError> {
    let event_id_node = message.req("Event ID")?;
    let from_url = event_id_node.str()?.rsplit_once('#').map(|(_, id)| id.trim()).filter(|id| !id.is_empty());
    let from_attribute = match attributes.as_ref().and_then(|a| a.get("EventID")) {
        Some(attribute) => Some(attribute.req_str("Value")?.trim()),
        None => None,
    };
    let event_id = from_url.or(from_attribute).unwrap_or_else(|| event_id_node.value.as_str().unwrap_or_default());
    if !event_id.starts_with("RDS-EVENT-") {
        return Err(event_id_node.invalid("a URL ending in #RDS-EVENT-<nnnn>, or an EventID message attribute"));
    }

    let arn_node = message.get("Source ARN");
    let (arn_parts, source_id) = source(message, "Source ARN", "Source ID")?;
    let source_type = match message.req_str("Event Source")? {
        "db-instance" => RdsSourceType::Instance,
        "db-cluster" => RdsSourceType::Cluster,
        other => RdsSourceType::Other(other.to_ascii_uppercase().replace('-', "_")),
    };
    let topic_parts = topic.and_then(split_arn);
    let region = arn_parts.map(|p| p.region).filter(|r| !r.is_empty()).or(topic_parts.map(|p| p.region));
    let account = arn_parts.map(|p| p.account).filter(|a| !a.is_empty()).or(topic_parts.map(|p| p.account));
    let (Some(region), Some(account)) = (region.filter(|r| !r.is_empty()), account.filter(|a| !a.is_empty())) else {
        return Err(message.missing("Source ARN"));
    };
    // "2026-11-23 10:01:10.292" (UTC) as RFC 3339.
    let time = message.opt_str("Event Time")?.map(|t| format!("{}Z", t.trim().replacen(' ', "T", 1)));
    Ok(RdsEvent {
        source_type,
        source_id,
        source_arn: arn_node.map(|n| n.str().map(str::to_owned)).transpose()?.unwrap_or_default(),
        event_id: event_id.to_owned(),
        categories: Vec::new(),
        message: message.opt_str("Event Message")?.unwrap_or_default().to_owned(),
        account: account.to_owned(),
        region: region.to_owned(),
        time,
        tags: tags(message.get("Tags"))?,
    })
}
