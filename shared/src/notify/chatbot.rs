//! The AWS Chatbot custom notification rendering of a [`Report`] (`NOTIFICATION_FORMAT=chatbot`).

use serde_json::{json, Map, Value};

use super::text;
use crate::outcome::Outcome;
use crate::report::Report;

impl Report {
    /// AWS Chatbot (Amazon Q Developer in chat applications) custom notification, `textType`
    /// `client-markdown`: Chatbot renders the text in the chat client's own markdown (Slack's mrkdwn, Teams',
    /// Chime's). Slack's rule for text that must not be read as markup is to write `&`, `<` and `>` as `&amp;`,
    /// `&lt;` and `&gt;`: links, mentions (`<!channel>`) and user references are all written between `<` and
    /// `>`, so text escaped this way cannot inject them. Slack has no backslash escape (a backslash shows as
    /// itself), so nothing else is escaped: `*` or `_` in a name may at worst render as emphasis. Commands in
    /// the next steps are set as inline code (backticks), which no client formats; a backtick in user text
    /// becomes `'` so that it cannot end that code span.
    /// <https://docs.aws.amazon.com/chatbot/latest/adminguide/custom-notifs.html>
    /// <https://api.slack.com/reference/surfaces/formatting#escaping>
    pub(super) fn chatbot_body(&self, with_details: bool) -> String {
        let mut description = escape_chat(&self.summary);
        if with_details {
            if let Some(details) = self.details.as_object().filter(|d| !d.is_empty()) {
                description.push_str("\n\n");
                for (key, value) in details {
                    let text = match value {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    description.push_str(&format!("• *{}*: {}\n", escape_chat(key), escape_chat(&text)));
                }
            }
        }
        let mut context = Map::new();
        context.insert("outcome".into(), json!(self.outcome));
        context.insert("severity".into(), json!(self.severity));
        context.insert("function".into(), json!(self.function));
        // Shown with the message, so a person can take it to the logs (`incident` of the decision lines).
        context.insert("incident".into(), json!(self.incident_id));
        if let Some(origin) = &self.region_switch {
            description.push_str(&format!("\n\n_{}_", escape_chat(&origin.describe())));
            context.insert("region_switch_plan".into(), json!(origin.plan_arn));
            context.insert("region_switch_execution".into(), json!(origin.execution_id));
            context.insert("region_switch_step".into(), json!(origin.step_name));
        }
        json!({
            "version": "1.0",
            "source": "custom",
            "id": self.incident_id,
            "content": {
                "textType": "client-markdown",
                "title": format!("{} {}", outcome_icon(self.outcome), escape_chat(&self.title)),
                "description": description.trim_end(),
                "nextSteps": self.next_steps.iter().map(|s| chat_step(s)).collect::<Vec<_>>(),
                "keywords": [self.outcome.as_str(), self.severity.as_str(), self.function.as_str()],
            },
            "metadata": {
                "threadId": self.incident_id,
                "summary": escape_chat(&self.title),
                "eventType": self.action,
                "relatedResources": self.resources,
                "additionalContext": context,
            }
        })
        .to_string()
    }
}

fn outcome_icon(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Succeeded => ":white_check_mark:",
        Outcome::Refused => ":no_entry:",
        Outcome::Failed => ":x:",
        Outcome::DryRun => ":mag:",
        Outcome::Info | Outcome::Skipped => ":information_source:",
    }
}

/// Text for a chat client's markdown: `&`, `<` and `>` as entities (what Slack requires; every chat client
/// reads them), a backtick as `'`; nothing else changes (`Report::chatbot_body` says why).
pub fn escape_chat(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '`' => out.push('\''),
            c => out.push(c),
        }
    }
    out
}

/// A next step for a chat client: its words escaped, each command payload in it (`{"command": ...}`) as inline
/// code.
fn chat_step(step: &str) -> String {
    let (words, payloads) = text::split_payloads(step);
    let mut out = escape_chat(&words);
    for payload in payloads {
        out.push_str(&format!(" `{}`", escape_chat(&payload)));
    }
    out
}
