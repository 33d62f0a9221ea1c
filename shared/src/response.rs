//! What an invocation returns: a small summary for the caller (a person running a manual command sees it;
//! for asynchronous triggers it lands in the function's logs and destinations).

use serde::Serialize;
use serde_json::{json, Value};

use crate::intake::RegionSwitch;
use crate::outcome::Outcome;
use crate::report::Report;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Response {
    pub function: &'static str,
    /// The most telling outcome among the invocation's reports.
    pub status: Outcome,
    /// The action considered, e.g. `deregister-targets`; `none` for skipped events.
    pub action: String,
    /// One line saying what happened or why nothing did.
    pub message: String,
    /// The report's sentences, for a person who ran a manual command.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub summary: String,
    #[serde(skip_serializing_if = "Value::is_null")]
    pub details: Value,
    /// The ARC Region switch step that invoked the run, if one did (the step's output shows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region_switch: Option<RegionSwitch>,
}

impl Response {
    /// One response for all the reports of an invocation: a single report answers as itself; several answer
    /// with the most telling outcome and a line per report.
    pub fn of(function: &'static str, reports: &[Report]) -> Self {
        let mut ordered: Vec<&Report> = reports.iter().collect();
        ordered.sort_by_key(|r| r.outcome.rank());
        let Some(first) = ordered.first() else {
            return Response {
                function,
                status: Outcome::Skipped,
                action: "none".into(),
                message: "nothing to do".into(),
                summary: String::new(),
                details: Value::Null,
                region_switch: None,
            };
        };
        if reports.len() == 1 {
            return Response {
                function,
                status: first.outcome,
                action: first.action.clone(),
                message: first.title.clone(),
                summary: if first.summary == first.title { String::new() } else { first.summary.clone() },
                details: first.details.clone(),
                region_switch: None,
            };
        }
        let reports_json: Vec<Value> = reports
            .iter()
            .map(|r| json!({"resources": r.resources, "action": r.action, "status": r.outcome, "message": r.title}))
            .collect();
        let acted: Vec<&str> = ordered.iter().filter(|r| r.outcome.notified()).map(|r| r.title.as_str()).collect();
        let message = if acted.is_empty() {
            format!("{} reports, nothing to do: {}", reports.len(), first.title)
        } else {
            acted.join("; ")
        };
        Response {
            function,
            status: first.outcome,
            action: first.action.clone(),
            message,
            summary: String::new(),
            details: json!({ "reports": reports_json }),
            region_switch: None,
        }
    }
}
