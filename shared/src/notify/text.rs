//! The plain-text rendering of a [`Report`], for people: what SNS delivers to e-mail subscriptions (the `email`
//! member of the message structure). Short lines; the outcome and the resource first; the numbers in a small
//! table; each next step that names a command as a complete `aws lambda invoke` command line a person can paste.
//! Machines keep the JSON (`default`), which carries everything; this text may leave the bulk out and says so.

use std::fmt::Write;

use serde_json::Value;

use crate::report::Report;

/// Lines are wrapped at this width (words longer than it, ARNs for example, are kept whole).
const WIDTH: usize = 76;
/// At most this many rows in the numbers table, and this many characters per value.
const MAX_ROWS: usize = 40;
const MAX_VALUE_CHARS: usize = 200;
/// Nested details are flattened this deep (`counts.before.healthy`); deeper ones are shown as JSON.
const MAX_DEPTH: usize = 3;
/// Of an array of objects, the first this many are flattened.
const MAX_ITEMS: usize = 5;

impl Report {
    /// The report as plain text. `function_name` is the deployed function's name (`AWS_LAMBDA_FUNCTION_NAME`),
    /// which the next steps' commands invoke.
    pub fn text_body(&self, function_name: &str) -> String {
        let mut out = String::new();
        let head = format!("{} ({}): {}", self.outcome.as_str().to_uppercase(), self.severity.as_str(), self.title);
        wrap(&mut out, &head, "", "  ");
        for resource in &self.resources {
            let _ = writeln!(out, "Resource: {resource}");
        }
        let _ = writeln!(out, "Function: {function_name}");
        if !self.incident_id.is_empty() {
            let _ = writeln!(out, "Incident: {}", self.incident_id);
        }
        if let Some(origin) = &self.region_switch {
            wrap(&mut out, &format!("Invoked by: {}", origin.describe()), "", "  ");
        }
        if !self.summary.is_empty() {
            out.push('\n');
            for paragraph in self.summary.lines() {
                wrap(&mut out, paragraph, "", "");
            }
        }
        let rows = table_rows(&self.details);
        if !rows.is_empty() {
            out.push_str("\nNumbers:\n");
            let key_width = rows.iter().map(|(k, _)| k.chars().count()).max().unwrap_or(0);
            let indent = " ".repeat(key_width + 4);
            for (key, value) in &rows {
                wrap(&mut out, value, &format!("  {key:<key_width$}  "), &indent);
            }
        }
        if !self.next_steps.is_empty() {
            out.push_str("\nNext steps:\n");
            for (i, step) in self.next_steps.iter().enumerate() {
                step_text(&mut out, i + 1, step, function_name);
            }
        }
        out
    }
}

/// Word-wraps `text` at [`WIDTH`], the first line after `first`, the others after `rest`.
fn wrap(out: &mut String, text: &str, first: &str, rest: &str) {
    let mut line = first.to_owned();
    let mut empty = true;
    for word in text.split_whitespace() {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = rest.to_owned();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    if !empty {
        out.push_str(&line);
        out.push('\n');
    }
}

/// One next step: its words, then each `{"command": ...}` payload in it as an `aws lambda invoke` command.
fn step_text(out: &mut String, number: usize, step: &str, function_name: &str) {
    let (words, payloads) = split_payloads(step);
    let first = format!("  {number}. ");
    let rest = " ".repeat(first.len());
    let words = words.trim();
    if words.is_empty() {
        out.push_str(first.trim_end());
        out.push('\n');
    } else {
        wrap(out, words, &first, &rest);
    }
    for payload in payloads {
        let _ = writeln!(out, "{rest}aws lambda invoke --function-name {} \\", shell_quote(function_name));
        let _ = writeln!(out, "{rest}  --cli-binary-format raw-in-base64-out \\");
        let _ = writeln!(out, "{rest}  --payload {} \\", shell_quote(&payload));
        let _ = writeln!(out, "{rest}  /dev/stdout");
    }
}

/// The text of a step with its command payloads (JSON objects with a `command` member) taken out, and those
/// payloads as compact JSON, in order.
pub(super) fn split_payloads(step: &str) -> (String, Vec<String>) {
    let mut words = String::new();
    let mut payloads = Vec::new();
    let mut rest = step;
    while let Some(start) = rest.find('{') {
        let tail = &rest[start..];
        let mut stream = serde_json::Deserializer::from_str(tail).into_iter::<Value>();
        match stream.next() {
            Some(Ok(value)) if value.get("command").is_some_and(Value::is_string) => {
                let used = stream.byte_offset();
                words.push_str(&rest[..start]);
                payloads.push(value.to_string());
                rest = &tail[used..];
            }
            _ => {
                words.push_str(&rest[..=start]);
                rest = &rest[start + 1..];
            }
        }
    }
    words.push_str(rest);
    let words = words.trim_end().trim_end_matches(':').to_owned();
    let words = if payloads.is_empty() || words.is_empty() { words } else { format!("{words}:") };
    (words, payloads)
}

/// `text` quoted for a POSIX shell: in single quotes, each single quote written `'\''`.
pub fn shell_quote(text: &str) -> String {
    if !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "-_./:=@".contains(c)) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The details flattened into `(path, value)` rows: scalars as they are, objects by dotted path, arrays of
/// scalars joined, the first few objects of an array by index; capped, with a last row that says what was left out.
fn table_rows(details: &Value) -> Vec<(String, String)> {
    let mut rows = Vec::new();
    flatten(&mut rows, "", details, 0);
    if rows.len() > MAX_ROWS {
        let left = rows.len() - (MAX_ROWS - 1);
        rows.truncate(MAX_ROWS - 1);
        rows.push(("...".into(), format!("{left} more in the JSON notification")));
    }
    rows
}

fn flatten(rows: &mut Vec<(String, String)>, path: &str, value: &Value, depth: usize) {
    let join = |key: &str| if path.is_empty() { key.to_owned() } else { format!("{path}.{key}") };
    match value {
        Value::Null => {}
        Value::Object(map) if depth < MAX_DEPTH => {
            for (key, v) in map {
                flatten(rows, &join(key), v, depth + 1);
            }
        }
        Value::Array(items) if depth < MAX_DEPTH && items.iter().any(Value::is_object) => {
            for (i, item) in items.iter().take(MAX_ITEMS).enumerate() {
                flatten(rows, &format!("{path}[{i}]"), item, depth + 1);
            }
            if items.len() > MAX_ITEMS {
                rows.push((
                    format!("{path}[...]"),
                    format!("{} more in the JSON notification", items.len() - MAX_ITEMS),
                ));
            }
        }
        Value::Array(items) if items.iter().all(|v| !v.is_object() && !v.is_array()) => {
            let joined = items.iter().map(scalar).collect::<Vec<_>>().join(", ");
            rows.push((path.to_owned(), clip(&joined)));
        }
        other => rows.push((path.to_owned(), clip(&scalar(other)))),
    }
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One line (the table wraps it), at most [`MAX_VALUE_CHARS`].
fn clip(text: &str) -> String {
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX_VALUE_CHARS {
        line
    } else {
        format!("{}...", line.chars().take(MAX_VALUE_CHARS - 3).collect::<String>())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::outcome::{Outcome, Severity};

    fn sample() -> Report {
        Report::new("target-failover", "deregister-targets", Outcome::Refused, Severity::Critical, "web: 3 kept")
            .summary("Alarm fired; removing would leave 1 healthy target, floor is 2.\nSecond paragraph.")
            .details(json!({
                "healthy": 1,
                "floor": 2,
                "counts": {"before": {"healthy": 3}},
                "targets": ["i-1", "i-2"],
                "entries": [{"group": "a"}, {"group": "b"}],
                "skip": null
            }))
            .steps([
                r#"Check the group: {"command":"status","target_group_arn":"arn:aws:x:it's"}"#.to_owned(),
                "Add capacity.".to_owned(),
            ])
    }

    #[test]
    fn the_text_opens_with_the_outcome_and_lists_the_numbers_and_runnable_commands() {
        let mut report = sample();
        report.resources = vec!["arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1".into()];
        report.incident_id = "target-failover/web".into();
        let text = report.text_body("failover-dev-target-failover");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "REFUSED (critical): web: 3 kept");
        assert_eq!(lines[1], "Resource: arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/web/1");
        assert!(text.contains("\n  healthy                1\n"), "{text}");
        assert!(text.contains("\n  counts.before.healthy  3\n"), "{text}");
        assert!(text.contains("\n  targets                i-1, i-2\n"), "{text}");
        assert!(text.contains("\n  entries[1].group       b\n"), "{text}");
        assert!(!text.contains("skip"), "{text}");
        assert!(text.contains(
            "  1. Check the group:\n     aws lambda invoke --function-name failover-dev-target-failover \\\n"
        ));
        assert!(
            text.contains(r#"--payload '{"command":"status","target_group_arn":"arn:aws:x:it'\''s"}' \"#),
            "{text}"
        );
        assert!(text.contains("  2. Add capacity.\n"), "{text}");
        assert!(
            text.lines().all(|l| l.chars().count() <= WIDTH
                || !l.trim().contains(' ')
                || l.contains("--payload")
                || l.starts_with("Resource:")),
            "{text}"
        );
    }

    #[test]
    fn long_summaries_wrap_and_large_details_are_capped() {
        let mut report = sample();
        report.summary = "word ".repeat(100);
        report.title = "title ".repeat(20);
        report.details = json!({"reason": "a long reason ".repeat(10)});
        let text = report.text_body("f");
        assert!(text.lines().filter(|l| !l.contains("--payload")).all(|l| l.chars().count() <= WIDTH), "{text}");
        assert!(text.contains("\n  reason  a long reason"), "{text}");
        let value_lines: Vec<&str> = text.lines().skip_while(|l| !l.starts_with("  reason  ")).take(3).collect();
        assert!(
            value_lines[1..].iter().all(|l| l.starts_with("          ") && !l.starts_with("           ")),
            "{text}"
        );
        let many: serde_json::Map<String, Value> = (0..100).map(|i| (format!("k{i:03}"), json!(i))).collect();
        report.details = Value::Object(many);
        let text = report.text_body("f");
        assert!(text.lines().filter(|l| l.starts_with("word")).all(|l| l.len() <= WIDTH), "{text}");
        assert!(text.contains("  ...   61 more in the JSON notification"), "{text}");
    }

    #[test]
    fn a_step_without_a_command_payload_keeps_its_braces() {
        let (words, payloads) = split_payloads("Keep {this} and {\"no\":\"command\"} as they are");
        assert_eq!(words, "Keep {this} and {\"no\":\"command\"} as they are");
        assert!(payloads.is_empty());
        assert_eq!(shell_quote("plain-name_1"), "plain-name_1");
        assert_eq!(shell_quote("a b"), "'a b'");
    }
}
