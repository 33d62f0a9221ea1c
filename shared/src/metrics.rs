//! Metrics as CloudWatch Embedded Metric Format (EMF): one JSON log line per metric document on stdout, which
//! CloudWatch Logs turns into metrics in the namespace [`NAMESPACE`]. No API call, no extra client, nothing
//! lost when the invocation ends.
//!
//! # Why a small writer, not `metrics_cloudwatch_embedded`
//! The release binaries are 7.52 / 7.73 MB against an 8 MB limit. `metrics_cloudwatch_embedded` 0.10's default
//! `lambda` feature pulls in `lambda_http` (with its API Gateway and ALB event types), `tower` and
//! `lambda_runtime` with its `tracing` feature; even without default features it adds the `metrics` 0.24
//! facade and a global recorder (a registry behind a mutex, flushed per invocation). This writer is one
//! `serde_json` object per line, built with the `serde_json` every binary already links, so it adds only its
//! own code. It writes only what we use: counts and milliseconds with a few fixed dimension sets. Measured: the
//! stripped release bootstraps of target-failover / database-failover grew from 7,523,424 / 7,731,144 B to
//! 7,541,696 / 7,749,384 B (+18 KB each, with the SDK app name, the AWS call error record and the richer log
//! lines of the same change); zipped, 3,178,498 / 3,263,046 B. The crate's size was not measured by
//! building it in (a release build takes 20 minutes on the shared build machine); what it pulls in is read
//! from its manifest.
//!
//! # What is emitted (see [`invocation`])
//! - `Actions` (Count): one per report that is not a skip (one per entry of a notification merging an event's reports), dimensions `function`, `action`, `outcome`, and
//!   the roll-up `function`, `outcome`.
//! - `Duration` (Milliseconds): one per invocation that concerned us, dimension `function`.
//! - `AwsCallErrors` (Count): the invocation's failed AWS calls (every one, also those it went on after), by
//!   dimensions `function`, `operation`, `code` (`Unknown` when AWS gave none: a timeout, a dropped connection).
//! - `Paused` (Count, a gauge): 1 when an invocation met the pause (a `pause` command, a refusal because paused,
//!   a `status` showing it), 0 on `resume` or a `status` showing none.
//! - `TimeToMitigate` and `TimeToRecover` (Seconds): one each per notification that closes an incident (its
//!   `details.recovered`, or an entry's of a merged one: [`crate::timeline::Recovery`]), dimension `function`.
//!   `TimeToMitigate` is left out for an incident with no change made.
//! - Nothing at all for an invocation whose reports are all skips (an event that is not ours).
//!
//! Other code emits one value with [`emit_count`] (e.g. `ReadinessGaps`).
//!
//! Lines are written only once [`enable`] ran, which [`crate::telemetry::init`] does in each binary's `main`:
//! tests that run the handlers in-process build the same documents but print nothing (stdout written directly
//! escapes the test harness's capture).

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::{json, Map, Value};

use crate::outcome::Outcome;
use crate::pause::{PAUSE, RESUME};
use crate::report::Report;
use crate::timeline::RECOVERED;

/// The CloudWatch namespace of every metric.
pub const NAMESPACE: &str = "Failover";

static ENABLED: AtomicBool = AtomicBool::new(false);

/// Turns the writing of metric lines on, for the rest of the process.
pub fn enable() {
    ENABLED.store(true, Ordering::Relaxed);
}

/// The units we use, spelled as CloudWatch spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// One EMF document: dimension values, the dimension sets to aggregate by, and the metrics' values.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub dimensions: Vec<(&'static str, String)>,
    pub dimension_sets: Vec<Vec<&'static str>>,
    pub metrics: Vec<(&'static str, f64, Unit)>,
}

impl Document {
    fn new(dimensions: Vec<(&'static str, String)>, metric: &'static str, value: f64, unit: Unit) -> Self {
        let set = dimensions.iter().map(|(name, _)| *name).collect();
        Document { dimensions, dimension_sets: vec![set], metrics: vec![(metric, value, unit)] }
    }

    /// The EMF JSON object, stamped with `timestamp_ms` (milliseconds since the epoch).
    pub fn to_json(&self, timestamp_ms: i64) -> Value {
        let metrics: Vec<Value> =
            self.metrics.iter().map(|(name, _, unit)| json!({"Name": name, "Unit": unit.as_str()})).collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": timestamp_ms,
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": self.dimension_sets,
                    "Metrics": metrics,
                }],
            }),
        );
        for (name, value) in &self.dimensions {
            root.insert((*name).into(), json!(value));
        }
        for (name, value, _) in &self.metrics {
            root.insert((*name).into(), json!(value));
        }
        Value::Object(root)
    }
}

/// The metric documents of one invocation (pure; [`emit_invocation`] writes them).
/// `call_errors` are the invocation's failed AWS calls, (operation, code): see [`crate::aws::take_call_errors`].
pub fn invocation(
    function: &str,
    reports: &[Report],
    call_errors: &[(&'static str, String)],
    elapsed: Duration,
) -> Vec<Document> {
    let ours: Vec<&Report> = reports.iter().filter(|r| r.outcome.notified()).collect();
    if ours.is_empty() {
        return Vec::new();
    }
    let mut documents = Vec::new();
    for (action, outcome) in ours.iter().flat_map(|r| actions_of(r)) {
        let mut actions = Document::new(
            vec![("function", function.to_owned()), ("action", action), ("outcome", outcome)],
            "Actions",
            1.0,
            Unit::Count,
        );
        actions.dimension_sets.push(vec!["function", "outcome"]);
        documents.push(actions);
    }
    let mut counted: BTreeMap<(&str, &str), u32> = BTreeMap::new();
    for (operation, code) in call_errors {
        *counted.entry((operation, code)).or_default() += 1;
    }
    for ((operation, code), n) in counted {
        documents.push(Document::new(
            vec![("function", function.to_owned()), ("operation", operation.to_owned()), ("code", code.to_owned())],
            "AwsCallErrors",
            f64::from(n),
            Unit::Count,
        ));
    }
    for details in ours.iter().flat_map(|r| details_of(r)) {
        let recovered = details.get(RECOVERED);
        let secs = |field: &str| recovered.and_then(|r| r.get(field)).and_then(Value::as_i64);
        let Some(recover) = secs("time_to_recover_secs") else { continue };
        let mitigate = secs("time_to_mitigate_secs").map(|m| ("TimeToMitigate", m));
        for (metric, value) in mitigate.into_iter().chain([("TimeToRecover", recover)]) {
            // Seconds of an incident are exact in an f64.
            let value = value as f64;
            documents.push(Document::new(vec![("function", function.to_owned())], metric, value, Unit::Seconds));
        }
    }
    if let Some(paused) = paused(&ours) {
        documents.push(Document::new(
            vec![("function", function.to_owned())],
            "Paused",
            if paused { 1.0 } else { 0.0 },
            Unit::Count,
        ));
    }
    documents.push(Document::new(
        vec![("function", function.to_owned())],
        "Duration",
        elapsed.as_secs_f64() * 1000.0,
        Unit::Milliseconds,
    ));
    documents
}

/// The (action, outcome) pairs one report stands for: itself, or, for one notification that merges an event's
/// reports (`details.entries`, each with its own `action` and `outcome`), each entry that is not a skip, so
/// that a removal beside a refusal counts one of each.
fn actions_of(report: &Report) -> Vec<(String, String)> {
    let entries = report.details.get("entries").and_then(Value::as_array);
    let pairs: Vec<(String, String)> = entries
        .into_iter()
        .flatten()
        .filter_map(|e| Some((e.get("action")?.as_str()?.to_owned(), e.get("outcome")?.as_str()?.to_owned())))
        .filter(|(_, outcome)| outcome != Outcome::Skipped.as_str())
        .collect();
    if pairs.is_empty() {
        vec![(report.action.clone(), report.outcome.as_str().to_owned())]
    } else {
        pairs
    }
}

/// A report's details, or each entry's of one notification merging an event's reports.
fn details_of(report: &Report) -> Vec<&Value> {
    match report.details.get("entries").and_then(Value::as_array) {
        Some(entries) => entries.iter().filter_map(|e| e.get("details")).collect(),
        None => vec![&report.details],
    }
}

/// What the reports say of the pause switch: 1 after a `pause`, on a change refused because paused and on a
/// `status` that shows the pause (their details carry the pause under `paused`); 0 after a `resume` and on a
/// `status` that shows none (`paused` is null); nothing known otherwise.
fn paused(reports: &[&Report]) -> Option<bool> {
    let shown = |r: &Report| r.details.get("paused").map(Value::is_object);
    if reports.iter().any(|r| (r.action == PAUSE && r.outcome == Outcome::Succeeded) || shown(r) == Some(true)) {
        Some(true)
    } else if reports.iter().any(|r| (r.action == RESUME && r.outcome == Outcome::Succeeded) || shown(r) == Some(false))
    {
        Some(false)
    } else {
        None
    }
}

/// Writes one invocation's metrics (nothing for an event that was not ours), with the AWS call errors recorded
/// since the last invocation.
pub fn emit_invocation(function: &str, reports: &[Report], elapsed: Duration) {
    let call_errors = crate::aws::take_call_errors();
    write(&invocation(function, reports, &call_errors, elapsed));
}

/// One count or gauge with the `function` dimension, e.g. `emit_count("target-failover", "ReadinessGaps", 2)`.
pub fn emit_count(function: &str, metric: &'static str, value: u64) {
    write(&[count(function, metric, value)]);
}

/// The document [`emit_count`] writes.
pub fn count(function: &str, metric: &'static str, value: u64) -> Document {
    // Counts this small are exact in an f64.
    Document::new(vec![("function", function.to_owned())], metric, value as f64, Unit::Count)
}

/// One line per document on stdout, beside the JSON logs. A closed stdout loses the metrics, never the work.
fn write(documents: &[Document]) {
    if documents.is_empty() || !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let now = crate::time::now_millis();
    let mut out = std::io::stdout().lock();
    for document in documents {
        let _ = writeln!(out, "{}", document.to_json(now));
    }
    let _ = out.flush();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outcome::Severity;

    fn names(documents: &[Document]) -> Vec<&str> {
        documents.iter().map(|d| d.metrics[0].0).collect()
    }

    #[test]
    fn an_event_that_is_not_ours_emits_nothing() {
        let reports = vec![Report::skipped("f", "none", "not ours")];
        assert!(invocation("f", &reports, &[], Duration::from_millis(3)).is_empty());
        assert!(invocation("f", &[], &[], Duration::from_millis(3)).is_empty());
    }

    #[test]
    fn each_report_counts_one_action_by_its_outcome_and_the_invocation_its_duration() {
        let reports = vec![
            Report::new("f", "deregister-targets", Outcome::Succeeded, Severity::Warning, "done"),
            Report::skipped("f", "none", "nothing else"),
        ];
        let documents = invocation("target-failover", &reports, &[], Duration::from_micros(12_500));
        assert_eq!(names(&documents), ["Actions", "Duration"]);
        let actions = documents[0].to_json(1_700_000_000_000);
        assert_eq!(actions["function"], "target-failover");
        assert_eq!(actions["action"], "deregister-targets");
        assert_eq!(actions["outcome"], "succeeded");
        assert_eq!(actions["Actions"], 1.0);
        let directive = &actions["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(actions["_aws"]["Timestamp"], 1_700_000_000_000_i64);
        assert_eq!(directive["Namespace"], "Failover");
        assert_eq!(directive["Dimensions"], json!([["function", "action", "outcome"], ["function", "outcome"]]));
        assert_eq!(directive["Metrics"], json!([{"Name": "Actions", "Unit": "Count"}]));
        let duration = documents[1].to_json(0);
        assert_eq!(duration["Duration"], 12.5);
        assert_eq!(duration["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Milliseconds");
        assert_eq!(duration["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"]]));
    }

    #[test]
    fn one_notification_merging_an_events_reports_counts_each_entry_that_is_not_a_skip() {
        let merged = Report::new("f", "alarm", Outcome::Refused, Severity::Critical, "2 groups").details(json!({
            "entries": [
                {"action": "deregister-targets", "outcome": "succeeded"},
                {"action": "shift-traffic", "outcome": "refused"},
                {"action": "none", "outcome": "skipped"},
            ]
        }));
        let documents = invocation("target-failover", &[merged], &[], Duration::ZERO);
        assert_eq!(names(&documents), ["Actions", "Actions", "Duration"]);
        let pairs: Vec<(Value, Value)> =
            documents[..2].iter().map(|d| d.to_json(0)).map(|j| (j["action"].clone(), j["outcome"].clone())).collect();
        assert_eq!(
            pairs,
            [(json!("deregister-targets"), json!("succeeded")), (json!("shift-traffic"), json!("refused"))]
        );
    }

    #[test]
    fn aws_call_errors_count_by_operation_and_code() {
        let reports = vec![Report::new("f", "promote-replica", Outcome::Failed, Severity::Critical, "x")];
        let calls = [
            ("PromoteReadReplica", "AccessDenied".to_owned()),
            ("DescribeDBInstances", "Unknown".to_owned()),
            ("PromoteReadReplica", "AccessDenied".to_owned()),
        ];
        let documents = invocation("database-failover", &reports, &calls, Duration::ZERO);
        assert_eq!(names(&documents), ["Actions", "AwsCallErrors", "AwsCallErrors", "Duration"]);
        let (first, second) = (documents[1].to_json(0), documents[2].to_json(0));
        assert_eq!(
            (first["operation"].as_str(), first["code"].as_str()),
            (Some("DescribeDBInstances"), Some("Unknown"))
        );
        assert_eq!(first["AwsCallErrors"], 1.0);
        assert_eq!(
            (second["operation"].as_str(), second["code"].as_str(), second["AwsCallErrors"].as_f64()),
            (Some("PromoteReadReplica"), Some("AccessDenied"), Some(2.0))
        );
        assert_eq!(first["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function", "operation", "code"]]));
        // An event that is not ours counts nothing, even if a call failed on the way.
        assert!(invocation("f", &[Report::skipped("f", "none", "x")], &calls, Duration::ZERO).is_empty());
    }

    #[test]
    fn paused_is_one_on_pause_a_refusal_because_paused_or_a_status_showing_it_and_zero_on_resume_or_a_status_without() {
        let paused_value = |report: Report| {
            let documents = invocation("f", &[report], &[], Duration::ZERO);
            documents.iter().find(|d| d.metrics[0].0 == "Paused").map(|d| d.metrics[0].1)
        };
        let pause = crate::ledger::Pause { by: "me".into(), reason: String::new(), at: 0 };
        assert_eq!(paused_value(Report::new("f", PAUSE, Outcome::Succeeded, Severity::Warning, "p")), Some(1.0));
        assert_eq!(paused_value(crate::pause::refused("f", "promote-replica", "db1", &pause, "promote")), Some(1.0));
        assert_eq!(paused_value(Report::new("f", RESUME, Outcome::Succeeded, Severity::Info, "r")), Some(0.0));
        let status = |paused: Value| {
            Report::new("f", "status", Outcome::Info, Severity::Info, "s").details(json!({"paused": paused}))
        };
        assert_eq!(paused_value(status(json!(pause))), Some(1.0));
        assert_eq!(paused_value(status(Value::Null)), Some(0.0));
        assert_eq!(paused_value(Report::new("f", "promote-replica", Outcome::Refused, Severity::Critical, "r")), None);
        assert_eq!(paused_value(Report::new("f", "promote-replica", Outcome::Succeeded, Severity::Warning, "s")), None);
    }

    #[test]
    fn a_notification_closing_an_incident_emits_its_time_to_mitigate_and_to_recover_in_seconds() {
        let recovered = json!({"recovered": {"time_to_mitigate_secs": 3, "time_to_recover_secs": 201}});
        let closing = Report::new("f", "register-targets", Outcome::Succeeded, Severity::Info, "r").details(recovered);
        let documents = invocation("target-failover", &[closing], &[], Duration::ZERO);
        assert_eq!(names(&documents), ["Actions", "TimeToMitigate", "TimeToRecover", "Duration"]);
        let (mitigate, recover) = (documents[1].to_json(0), documents[2].to_json(0));
        assert_eq!((mitigate["TimeToMitigate"].as_f64(), recover["TimeToRecover"].as_f64()), (Some(3.0), Some(201.0)));
        assert_eq!(
            recover["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "TimeToRecover", "Unit": "Seconds"}])
        );
        assert_eq!(recover["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"]]));
        // Merged into one notification, the entry that closed it still counts; nothing else emits them.
        let merged = Report::new("f", "handle-alarm", Outcome::Succeeded, Severity::Info, "m").details(json!({
            "entries": [{"action": "failback", "outcome": "succeeded",
                         "details": {"recovered": {"time_to_mitigate_secs": null, "time_to_recover_secs": 9}}}]
        }));
        let documents = invocation("target-failover", &[merged], &[], Duration::ZERO);
        assert_eq!(names(&documents), ["Actions", "TimeToRecover", "Duration"]);
        let plain = Report::new("f", "failback", Outcome::Succeeded, Severity::Info, "p");
        assert_eq!(names(&invocation("f", &[plain], &[], Duration::ZERO)), ["Actions", "Duration"]);
    }

    #[test]
    fn a_single_count_carries_the_function_dimension() {
        let line = count("target-failover", "ReadinessGaps", 3).to_json(5);
        assert_eq!(line["ReadinessGaps"], 3.0);
        assert_eq!(line["function"], "target-failover");
        assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["function"]]));
        assert_eq!(
            line["_aws"]["CloudWatchMetrics"][0]["Metrics"],
            json!([{"Name": "ReadinessGaps", "Unit": "Count"}])
        );
    }
}
