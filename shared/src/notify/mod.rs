//! Notifications: every action, refusal and failure is published to the product's SNS topic.
//!
//! Each message is published with SNS's per-protocol message structure (`MessageStructure=json`): e-mail
//! subscriptions get plain text for people ([`text`]); every other protocol (SQS, Lambda, HTTPS, `email-json`)
//! gets the `default` member, which is JSON for machines, or an AWS Chatbot custom notification
//! (`NOTIFICATION_FORMAT=chatbot`, the "custom notifications" schema of AWS Chatbot, which Chatbot reads from
//! its HTTPS subscription). Either way the SNS message carries the attributes `outcome`, `severity`, `action`
//! and `function` (and `region_switch_plan` when an ARC Region switch plan step invoked the run), so
//! subscribers can filter without parsing the body.
//! <https://docs.aws.amazon.com/sns/latest/dg/sns-send-custom-platform-specific-payloads-mobile-devices.html>
//! <https://docs.aws.amazon.com/sns/latest/api/API_Publish.html> (`MessageStructure`)

use aws_sdk_sns::types::MessageAttributeValue;
use serde::Serialize;
use serde_json::json;

pub use crate::outcome::Severity;
use crate::report::Report;
pub use crate::report::{Notifier, NotifyError};

mod chatbot;
mod text;
pub use chatbot::escape_chat;
pub use text::shell_quote;

/// SNS rejects subjects of 100 characters or more, and any with line breaks or non-ASCII characters.
pub const SUBJECT_MAX_CHARS: usize = 99;

/// SNS messages are limited to 256 KiB; past this size the details are dropped from the body.
const MESSAGE_MAX_BYTES: usize = 240 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NotificationFormat {
    Json,
    Chatbot,
}

/// The subject and body of an SNS message, and its filterable attributes.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderedMessage {
    pub subject: String,
    /// For machines: JSON, or a Chatbot custom notification (`default` of the message structure).
    pub body: String,
    /// For people: plain text (`email` of the message structure).
    pub text: String,
    pub attributes: Vec<(&'static str, String)>,
}

impl RenderedMessage {
    /// The `Message` of a `MessageStructure=json` publish: `default` for every protocol but e-mail.
    pub fn structured(&self) -> String {
        json!({"default": self.body, "email": self.text}).to_string()
    }
}

impl Report {
    /// `function_name` is the deployed function's name, which the text's next-step commands invoke.
    pub fn render(&self, format: NotificationFormat, function_name: &str) -> RenderedMessage {
        let machine = |with_details: bool| match format {
            NotificationFormat::Json => self.json_body(with_details),
            NotificationFormat::Chatbot => self.chatbot_body(with_details),
        };
        let (mut body, text) = (machine(true), self.text_body(function_name));
        // Both go in one message, each escaped once more inside the structure's JSON: allow for that.
        if structured_len(&body) + structured_len(&text) > MESSAGE_MAX_BYTES {
            body = machine(false);
        }
        let mut attributes = vec![
            ("outcome", self.outcome.as_str().to_owned()),
            ("severity", self.severity.as_str().to_owned()),
            ("action", self.action.clone()),
            ("function", self.function.clone()),
        ];
        if let Some(origin) = &self.region_switch {
            // A subscriber can take (or leave) what Region switch plans asked for without parsing the body.
            attributes.push(("region_switch_plan", origin.plan_arn.clone()));
        }
        RenderedMessage { subject: self.subject(), body, text, attributes }
    }

    /// `[failover] refused: <title>`, printable ASCII only, at most [`SUBJECT_MAX_CHARS`].
    pub fn subject(&self) -> String {
        let raw = format!("[failover] {}: {}", self.outcome.as_str(), self.title);
        let clean: String = raw.chars().map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { ' ' }).collect();
        let clean = clean.split_whitespace().collect::<Vec<_>>().join(" ");
        if clean.len() <= SUBJECT_MAX_CHARS {
            clean
        } else {
            format!("{}...", &clean[..SUBJECT_MAX_CHARS - 3])
        }
    }

    fn json_body(&self, with_details: bool) -> String {
        let mut value = json!({
            "version": "1",
            "function": self.function,
            "action": self.action,
            "outcome": self.outcome,
            "severity": self.severity,
            "title": self.title,
            "summary": self.summary,
            "incident_id": self.incident_id,
            "resources": self.resources,
            "details": if with_details { self.details.clone() } else { json!({"omitted": "too large for SNS"}) },
            "next_steps": self.next_steps,
            "region_switch": self.region_switch,
        });
        if let Some(obj) = value.as_object_mut() {
            obj.retain(|_, v| !v.is_null());
        }
        value.to_string()
    }
}

/// The length of `text` as a JSON string.
fn structured_len(text: &str) -> usize {
    serde_json::to_string(text).map_or(text.len() * 6, |s| s.len())
}

/// Publishes to an SNS topic.
#[derive(Debug, Clone)]
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
    format: NotificationFormat,
    /// `AWS_LAMBDA_FUNCTION_NAME` (Lambda sets it), which the e-mail text's commands invoke; outside Lambda,
    /// the report's function.
    function_name: Option<String>,
}

impl SnsNotifier {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: String, format: NotificationFormat) -> Self {
        let function_name = std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok().filter(|n| !n.is_empty());
        SnsNotifier { client, topic_arn, format, function_name }
    }
}

impl Notifier for SnsNotifier {
    async fn publish(&self, notification: &Report) -> Result<(), NotifyError> {
        let function_name = self.function_name.as_deref().unwrap_or(&notification.function);
        let message = notification.render(self.format, function_name);
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&message.subject)
            .message_structure("json")
            .message(message.structured());
        for (name, value) in message.attributes {
            // Attribute values must not be empty; skip rather than fail the publish.
            if value.is_empty() {
                continue;
            }
            let attribute =
                MessageAttributeValue::builder().data_type("String").string_value(value).build().map_err(|e| {
                    NotifyError {
                        action: notification.action.clone(),
                        topic_arn: self.topic_arn.clone(),
                        source: e.into(),
                    }
                })?;
            request = request.message_attributes(name, attribute);
        }
        request.send().await.map_err(|e| NotifyError {
            action: notification.action.clone(),
            topic_arn: self.topic_arn.clone(),
            source: aws_sdk_sns::Error::from(e).into(),
        })?;
        tracing::info!(
            action = %notification.action,
            outcome = notification.outcome.as_str(),
            severity = notification.severity.as_str(),
            incident = %notification.incident_id,
            "notification published"
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Outcome;
    use serde_json::Value;

    fn sample() -> Report {
        Report {
            function: "target-failover".into(),
            action: "deregister-targets".into(),
            outcome: Outcome::Refused,
            severity: Severity::Critical,
            title: "web: 3 unhealthy targets kept in service".into(),
            summary: "Alarm *prod_[web]* fired; removing would leave 1 healthy target, floor is 2.".into(),
            incident_id: "target-failover/web".into(),
            resources: vec!["arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/1".into()],
            details: json!({"healthy": 1, "floor": 2, "alarm": "prod_[web]"}),
            next_steps: vec!["Add capacity to [web]".into()],
            error: None,
            region_switch: None,
        }
    }

    #[test]
    fn subject_is_ascii_single_line_and_under_the_sns_limit() {
        let mut n = sample();
        n.title = format!("ünïcode\nline {}", "x".repeat(300));
        let subject = n.subject();
        assert!(subject.len() <= SUBJECT_MAX_CHARS, "{}", subject.len());
        assert!(subject.chars().all(|c| c.is_ascii_graphic() || c == ' '), "{subject}");
        assert!(subject.starts_with("[failover] refused: "));
        assert!(subject.ends_with("..."));
        assert_eq!(sample().subject(), "[failover] refused: web: 3 unhealthy targets kept in service");
    }

    #[test]
    fn attributes_carry_outcome_severity_action_and_function() {
        let rendered = sample().render(NotificationFormat::Json, "f");
        assert_eq!(
            rendered.attributes,
            vec![
                ("outcome", "refused".to_owned()),
                ("severity", "critical".to_owned()),
                ("action", "deregister-targets".to_owned()),
                ("function", "target-failover".to_owned()),
            ]
        );
    }

    #[test]
    fn json_body_holds_every_field_unescaped() {
        let body: Value = serde_json::from_str(&sample().render(NotificationFormat::Json, "f").body).unwrap();
        assert_eq!(body["outcome"], "refused");
        assert_eq!(body["severity"], "critical");
        assert_eq!(body["details"]["floor"], 2);
        assert_eq!(body["summary"], sample().summary);
        assert_eq!(body["next_steps"][0], "Add capacity to [web]");
    }

    #[test]
    fn chatbot_body_follows_the_custom_notification_schema_and_escapes_user_text() {
        let body: Value = serde_json::from_str(&sample().render(NotificationFormat::Chatbot, "f").body).unwrap();
        assert_eq!(body["version"], "1.0");
        assert_eq!(body["source"], "custom");
        assert_eq!(body["content"]["textType"], "client-markdown");
        assert_eq!(body["metadata"]["threadId"], "target-failover/web");
        assert_eq!(body["metadata"]["additionalContext"]["incident"], "target-failover/web");
        let description = body["content"]["description"].as_str().unwrap();
        assert!(description.contains("Alarm *prod_[web]* fired"), "no backslashes (Slack shows them): {description}");
        assert_eq!(body["content"]["nextSteps"][0], "Add capacity to [web]");
    }

    /// The event schema of Chatbot's custom notifications, field by field: exactly these members, of these types
    /// (<https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html>, "Event schema").
    #[test]
    fn chatbot_body_has_exactly_the_documented_fields_and_types() {
        fn keys(v: &Value) -> Vec<&str> {
            let mut k: Vec<&str> = v.as_object().expect("an object").keys().map(String::as_str).collect();
            k.sort_unstable();
            k
        }
        let strings = |v: &Value| v.as_array().expect("an array").iter().all(Value::is_string);
        let body: Value = serde_json::from_str(&sample().render(NotificationFormat::Chatbot, "f").body).unwrap();
        assert_eq!(keys(&body), ["content", "id", "metadata", "source", "version"]);
        assert_eq!((body["version"].as_str(), body["source"].as_str()), (Some("1.0"), Some("custom")));
        assert!(body["id"].is_string());
        let content = &body["content"];
        assert_eq!(keys(content), ["description", "keywords", "nextSteps", "textType", "title"]);
        assert_eq!(content["textType"], "client-markdown", "the only text type Chatbot supports");
        assert!(content["title"].is_string() && content["description"].is_string());
        assert!(strings(&content["nextSteps"]) && strings(&content["keywords"]));
        let metadata = &body["metadata"];
        assert_eq!(keys(metadata), ["additionalContext", "eventType", "relatedResources", "summary", "threadId"]);
        assert!(["eventType", "summary", "threadId"].iter().all(|k| metadata[*k].is_string()));
        assert!(strings(&metadata["relatedResources"]));
        let context = metadata["additionalContext"].as_object().expect("additionalContext");
        assert!(context.values().all(Value::is_string), "customer-provided keys hold strings: {context:?}");
    }

    #[test]
    fn chatbot_text_cannot_mention_or_link_and_commands_are_inline_code() {
        let mut n = sample();
        n.title = "<!channel> <https://evil.example|click> & `x`".into();
        n.next_steps = vec![r#"Check the group: {"command":"status","target_group_arn":"a<b"}"#.into()];
        let body: Value = serde_json::from_str(&n.render(NotificationFormat::Chatbot, "f").body).unwrap();
        let title = body["content"]["title"].as_str().unwrap();
        assert!(title.ends_with("&lt;!channel&gt; &lt;https://evil.example|click&gt; &amp; 'x'"), "{title}");
        assert!(!title.contains('<') && !title.contains('`'), "{title}");
        assert_eq!(
            body["content"]["nextSteps"][0],
            r#"Check the group: `{"command":"status","target_group_arn":"a&lt;b"}`"#
        );
    }

    #[test]
    fn the_structure_gives_people_text_and_every_other_protocol_the_json() {
        let rendered = sample().render(NotificationFormat::Json, "failover-dev-target-failover");
        let structure: Value = serde_json::from_str(&rendered.structured()).unwrap();
        let default: Value = serde_json::from_str(structure["default"].as_str().unwrap()).unwrap();
        assert_eq!(default["outcome"], "refused");
        let email = structure["email"].as_str().unwrap();
        assert!(email.starts_with("REFUSED (critical): web: 3 unhealthy targets kept in service\n"), "{email}");
        assert!(serde_json::from_str::<Value>(email).is_err(), "people get text, not JSON");
        assert_eq!(structure.as_object().unwrap().len(), 2);
    }

    #[test]
    fn a_region_switch_run_is_named_in_the_attributes_the_json_the_chat_and_the_text() {
        let mut n = sample();
        n.region_switch = Some(crate::intake::RegionSwitch {
            invoked_by: "ARC Region switch".into(),
            plan_arn: "arn:aws:arc-region-switch::123456789012:plan/shop:a1b2c3".into(),
            execution_id: "e-1".into(),
            step_name: "traffic".into(),
            rehearsal: false,
        });
        let rendered = n.render(NotificationFormat::Json, "f");
        assert!(rendered
            .attributes
            .contains(&("region_switch_plan", "arn:aws:arc-region-switch::123456789012:plan/shop:a1b2c3".into())));
        let body: Value = serde_json::from_str(&rendered.body).unwrap();
        assert_eq!(body["region_switch"]["ExecutionId"], "e-1");
        assert_eq!(body["region_switch"]["StepName"], "traffic");
        assert!(rendered.text.contains("Invoked by: ARC Region switch step traffic of plan"), "{}", rendered.text);
        let chat: Value = serde_json::from_str(&n.render(NotificationFormat::Chatbot, "f").body).unwrap();
        assert_eq!(chat["metadata"]["additionalContext"]["region_switch_execution"], "e-1");
        assert!(chat["content"]["description"].as_str().unwrap().contains("step traffic"));
        let plain = sample().render(NotificationFormat::Json, "f");
        assert_eq!(plain.attributes.len(), 4);
        assert!(serde_json::from_str::<Value>(&plain.body).unwrap().get("region_switch").is_none());
    }

    #[test]
    fn oversized_details_are_dropped_rather_than_failing_the_publish() {
        let mut n = sample();
        n.details = json!({"blob": "x".repeat(300 * 1024)});
        for format in [NotificationFormat::Json, NotificationFormat::Chatbot] {
            let structured = n.render(format, "f").structured();
            assert!(structured.len() < MESSAGE_MAX_BYTES, "{format:?}: {}", structured.len());
        }
    }
}
