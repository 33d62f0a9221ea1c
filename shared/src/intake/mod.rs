//! Event intake: one entry point, [`parse`], that turns any raw Lambda payload into an [`Event`].
//!
//! AWS reaches the functions in six shapes, and people in a seventh:
//! - a CloudWatch alarm state change through EventBridge (`source: aws.cloudwatch`),
//! - the same change as a direct alarm action (`alarmData`, principal `lambda.alarms.cloudwatch.amazonaws.com`),
//! - the same change through SNS (`Records[].Sns.Message`, a JSON *string*), with list-shaped dimensions and a
//!   display-name region,
//! - an RDS instance or cluster event through EventBridge (`source: aws.rds`),
//! - the same event through an RDS event subscription's SNS topic (its own message: `"Event Source"`,
//!   `"Source ARN"`, `"Event ID"` as a documentation URL ending in `#RDS-EVENT-<nnnn>`), read the same way,
//! - any other EventBridge event (returned as [`Event::Unsupported`]: well-formed, but not ours),
//! - a manual command, an object with a `command` field, whose vocabulary each function defines; sent by a
//!   person, or by an ARC Region switch plan step, which merges its execution metadata into it
//!   ([`region_switch`]).
//!
//! The crate's strict `aws_lambda_events` structs reject some of what AWS really sends (nulls, metric-math
//! alarms without `metricStat`, periods over 65,535 s), so this module reads `serde_json::Value` leniently and
//! rejects only what it cannot use, with an error that names the field and the kind of event.

mod alarm;
mod json;
mod rds;
pub mod region_switch;

use serde::Serialize;
use serde_json::Value;

pub use alarm::{AlarmChange, AlarmKind, AlarmMetric, AlarmState, Delivery};
pub use rds::{RdsEvent, RdsSourceType};
pub use region_switch::RegionSwitch;

use json::{describe, quote, Node};

/// Everything the functions can be invoked with.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Event {
    Alarm(AlarmChange),
    Rds(RdsEvent),
    Manual(ManualCommand),
    /// A well-formed EventBridge event from another source or of another type: not ours, logged and skipped.
    Unsupported {
        source: String,
        detail_type: String,
    },
}

impl Event {
    /// The ARC Region switch step that sent this command, if one did.
    pub fn region_switch(&self) -> Option<&RegionSwitch> {
        match self {
            Event::Manual(manual) => manual.region_switch.as_ref(),
            _ => None,
        }
    }
}

/// A command sent by a person (`cargo lambda invoke`, `sam remote invoke`, the console's test button) or by
/// an ARC Region switch plan step. The intake checks only the envelope; each function parses `body` into its
/// own command vocabulary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManualCommand {
    /// The `command` field, e.g. `deregister` or `status`.
    pub command: String,
    /// `dry_run` in the command, overriding the function's `DRY_RUN` for this invocation only.
    pub dry_run: Option<bool>,
    /// The whole payload, including `command`, without Region switch's metadata keys.
    pub body: Value,
    /// Region switch's metadata, when a plan step sent the command ([`region_switch::take`]).
    pub region_switch: Option<RegionSwitch>,
}

/// Why a payload was rejected. Messages name the field and the event kind, and quote at most a short piece
/// of the offending value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IntakeError {
    #[error("missing field {field} in {context}")]
    Missing { field: String, context: &'static str },
    #[error("field {field} in {context} must be {expected}, got {got}")]
    WrongType { field: String, context: &'static str, expected: &'static str, got: String },
    #[error("field {field} in {context} has value {value}, expected {expected}")]
    InvalidValue { field: String, context: &'static str, value: String, expected: &'static str },
    #[error("field {field} in {context} is not valid JSON: {reason}")]
    EmbeddedJson { field: String, context: &'static str, reason: String },
    #[error("unrecognised event: {0}")]
    Unrecognised(String),
}

const SNS: &str = "SNS notification";
const MANUAL: &str = "manual command";

/// Turns a raw payload into an [`Event`], or says precisely why it cannot.
pub fn parse(payload: &Value) -> Result<Event, IntakeError> {
    let Some(object) = payload.as_object() else {
        return Err(IntakeError::Unrecognised(format!("the payload must be a JSON object, got {}", describe(payload))));
    };
    let root = Node::root(payload, "event");
    // A Region switch step sends commands only: its metadata on anything else would be ignored, and the step
    // would succeed whatever the event came to.
    if !object.contains_key("command") {
        if let Some(error) = region_switch::without_command(object) {
            return Err(error);
        }
    }
    if object.contains_key("Records") {
        return parse_sns(&root);
    }
    if object.contains_key("alarmData") {
        return alarm::from_alarm_action(&Node::root(payload, alarm::ALARM_ACTION)).map(Event::Alarm);
    }
    if object.contains_key("detail-type") || object.contains_key("detail") {
        return parse_eventbridge(payload);
    }
    if object.contains_key("command") {
        return parse_manual(payload);
    }
    let mut keys: Vec<&str> = object.keys().map(String::as_str).take(8).collect();
    if object.len() > keys.len() {
        keys.push("…");
    }
    Err(IntakeError::Unrecognised(format!(
        "expected a CloudWatch alarm (EventBridge, SNS or alarm action), an RDS event or a manual command \
         with a \"command\" field; got an object with keys [{}]",
        keys.iter().map(|k| quote(k)).collect::<Vec<_>>().join(", ")
    )))
}

fn parse_eventbridge(payload: &Value) -> Result<Event, IntakeError> {
    let root = Node::root(payload, "EventBridge event");
    let source = root.req_str("source")?;
    let detail_type = root.req_str("detail-type")?;
    match (source, detail_type) {
        ("aws.cloudwatch", "CloudWatch Alarm State Change") => {
            alarm::from_eventbridge(&Node::root(payload, alarm::EVENTBRIDGE)).map(Event::Alarm)
        }
        ("aws.rds", t) if t.starts_with("RDS DB ") => {
            rds::from_eventbridge(&Node::root(payload, rds::CONTEXT)).map(Event::Rds)
        }
        _ => Ok(Event::Unsupported { source: source.to_owned(), detail_type: detail_type.to_owned() }),
    }
}

/// SNS invokes Lambda with exactly one record; its message is a JSON string holding a CloudWatch alarm
/// notification, (when an EventBridge rule targets the topic) a whole EventBridge event, or an RDS event
/// subscription's own message.
fn parse_sns(root: &Node<'_>) -> Result<Event, IntakeError> {
    let root = Node::nested(root.value, "", SNS);
    let records = root.req("Records")?.items()?;
    let record = match records.as_slice() {
        [one] => one,
        other => {
            return Err(IntakeError::Unrecognised(format!(
                "an SNS notification carries exactly one record, got {}",
                other.len()
            )))
        }
    };
    let sns = record.req("Sns")?;
    let message_node = sns.req("Message")?;
    let text = message_node.str()?;
    let message: Value = serde_json::from_str(text).map_err(|e| IntakeError::EmbeddedJson {
        field: message_node.path().to_owned(),
        context: SNS,
        reason: e.to_string(),
    })?;
    let message_id = sns.opt_str("MessageId")?;
    if message.get("AlarmName").is_some() || message.get("NewStateValue").is_some() {
        let node = Node::nested(&message, message_node.path(), alarm::SNS_ALARM);
        return alarm::from_sns_message(&node, message_id).map(Event::Alarm);
    }
    if message.get("detail-type").is_some() {
        return parse_eventbridge(&message);
    }
    if rds::is_subscription_message(&message) {
        let node = Node::nested(&message, message_node.path(), rds::SUBSCRIPTION);
        let topic = sns.opt_str("TopicArn")?;
        return rds::from_subscription(&node, sns.get("MessageAttributes"), topic).map(Event::Rds);
    }
    Err(IntakeError::Unrecognised(format!(
        "the SNS message at {} is neither a CloudWatch alarm notification, an EventBridge event nor an RDS event \
         subscription message",
        message_node.path()
    )))
}

fn parse_manual(payload: &Value) -> Result<Event, IntakeError> {
    let root = Node::root(payload, MANUAL);
    let command_node = root.req("command")?;
    let command = command_node.str()?.trim();
    if command.is_empty() {
        return Err(command_node.invalid("a command name"));
    }
    let dry_run = root.get("dry_run").map(|n| n.bool()).transpose()?;
    let mut body = payload.clone();
    let region_switch = body.as_object_mut().map(region_switch::take).transpose()?.flatten();
    let region_switch = region_switch.map(|origin| RegionSwitch { rehearsal: dry_run == Some(true), ..origin });
    Ok(Event::Manual(ManualCommand { command: command.to_owned(), dry_run, body, region_switch }))
}

/// `arn:partition:service:region:account:resource` split into its parts; `None` when it is not an ARN.
pub fn split_arn(arn: &str) -> Option<ArnParts<'_>> {
    let mut parts = arn.splitn(6, ':');
    let (prefix, partition, service, region, account, resource) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if prefix != "arn" || partition.is_empty() || service.is_empty() || resource.is_empty() {
        return None;
    }
    Some(ArnParts { partition, service, region, account, resource })
}

/// The parts of an ARN, borrowed from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArnParts<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

#[cfg(test)]
mod tests;

/// A manual command that is not valid for the function (an unknown command or field, a bad value, a named
/// resource that does not exist): the invocation fails with `InvalidCommand` and nothing is published.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidCommand(pub String);

impl From<String> for InvalidCommand {
    fn from(why: String) -> Self {
        InvalidCommand(why)
    }
}

impl From<&str> for InvalidCommand {
    fn from(why: &str) -> Self {
        InvalidCommand(why.to_owned())
    }
}

/// A manual command's `"force"`, read the same way by both functions: `true` acts while automation is paused (a
/// person's decision); absent and `null` are `false`; anything but a boolean is an error.
pub fn force(value: Option<&Value>) -> Result<bool, InvalidCommand> {
    match value {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => Err(format!("force must be true or false, got {other}").into()),
    }
}

/// A manual command's optional text field (`reason`, `by`, an identifier), read the same way by both functions:
/// absent and `null` are `None`; a blank string or a non-string is an error, since a person meant something.
pub fn text(value: Option<&Value>, field: &str) -> Result<Option<String>, InvalidCommand> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
        Some(other) => Err(format!("{field} must be a non-empty string, got {other}").into()),
    }
}
