//! An incident as a timeline (pure): a resource's ledger records in, its steps in order and two durations out.
//! Both functions' `timeline` command answers with it, and the notification that closes an incident carries it
//! ([`Recovery`]), from which [`crate::metrics`] emits `TimeToMitigate` and `TimeToRecover`.
//!
//! # What the records say
//! - A change's record is written pending just before the change, in the invocation that makes it: its
//!   `created_at` is when the change was made (removal, shift, evacuation, promotion...).
//! - A record written for an alarm carries the alarm's state timestamp, `data.event_at` (milliseconds): when
//!   the alarm fired.
//! - A record closed (a restore, a failback, a zone's return) or abandoned was settled at its `updated_at`;
//!   closed by an event, it carries that event's trigger (`data.closed_by`) and state timestamp
//!   (`data.closed_event_at`, milliseconds: when the alarm returned to OK).
//!
//! # One incident
//! A resource's ledger keeps the records of earlier incidents for the retention. One incident is a run of
//! records each created before every earlier one was settled ([`incidents`]); the timeline is the last one's.
//!
//! # The two durations (seconds)
//! - Time to mitigate: from the first alarm (or, for an incident a person started, its first change) to the
//!   first change that was made (a record not abandoned).
//! - Time to recover: from the same start to the last record closed, once no record of the incident is open.
//!
//! The alarm's clock is CloudWatch's and the records' the function's: a difference below zero is taken as 0.

use serde::Serialize;
use serde_json::{json, Value};

use crate::ledger::{Record, Settle, State};
use crate::outcome::{Outcome, Severity};
use crate::report::Report;
use crate::time::format_time;

/// The command's name, and its report's action.
pub const TIMELINE: &str = "timeline";

/// The data field of a record closed by an event: the event's trigger.
pub const CLOSED_BY: &str = "closed_by";
/// The data field of a record closed by an alarm event: its state timestamp (milliseconds).
pub const CLOSED_EVENT_AT: &str = "closed_event_at";
/// The data field of a record written for an alarm: its state timestamp (milliseconds).
pub const EVENT_AT: &str = "event_at";
/// Where a report's `details` carry a closed incident's [`Recovery`].
pub const RECOVERED: &str = "recovered";

/// What happened at one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum What {
    /// An alarm fired, and the function changed something for it.
    Alarm,
    /// A change was made (its record written).
    Change,
    /// A change was given up.
    Abandoned,
    /// An alarm returned to OK, and the function undid a change for it.
    Ok,
    /// A change was undone or is over (restore, failback, return): its record closed.
    Closed,
}

impl What {
    pub fn as_str(self) -> &'static str {
        match self {
            What::Alarm => "alarm",
            What::Change => "change",
            What::Abandoned => "abandoned",
            What::Ok => "ok",
            What::Closed => "closed",
        }
    }
}

/// One step of an incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Entry {
    /// Seconds since the epoch.
    pub at: i64,
    /// `at` in RFC 3339 UTC.
    pub time: String,
    pub what: What,
    /// The record it is about (`removal#…`, `shift#…`, `zonal-shift#…`, `promotion#…`).
    pub record: String,
    /// What caused it: `alarm web-5xx`, `manual command restore`.
    pub trigger: String,
    /// Where the record stands now: `pending`, `done`, `closed`, `abandoned`.
    pub outcome: &'static str,
}

/// A resource's last incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Timeline {
    pub resource: String,
    /// In time order; steps at the same second in the order alarm, change, abandoned, ok, closed.
    pub entries: Vec<Entry>,
    /// The first alarm, or the first change when no alarm started it.
    pub started_at: Option<i64>,
    pub first_change_at: Option<i64>,
    /// The last close, once nothing of the incident is open.
    pub recovered_at: Option<i64>,
    /// Records of the incident still pending or done.
    pub open: usize,
    pub time_to_mitigate_secs: Option<i64>,
    pub time_to_recover_secs: Option<i64>,
}

/// The durations of a closed incident, as the notification that closes it carries them (`details.recovered`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Recovery {
    pub time_to_mitigate_secs: Option<i64>,
    pub time_to_recover_secs: i64,
}

fn open(record: &Record) -> bool {
    !record.state.closes()
}

/// When a record stopped being open: its `updated_at` once closed or abandoned, never while open.
fn ended_at(record: &Record) -> Option<i64> {
    (!open(record)).then_some(record.updated_at)
}

/// The records split into incidents, each in creation order: a record created after every earlier one ended
/// begins a new incident.
pub fn incidents(records: &[Record]) -> Vec<Vec<&Record>> {
    let mut sorted: Vec<&Record> = records.iter().collect();
    sorted.sort_by(|a, b| (a.created_at, &a.key).cmp(&(b.created_at, &b.key)));
    let mut out: Vec<Vec<&Record>> = Vec::new();
    // The latest end among the current incident's records; `None` while one of them is open.
    let mut end: Option<i64> = None;
    for record in sorted {
        let begins = out.is_empty() || end.is_some_and(|e| record.created_at > e);
        end = match (begins, end, ended_at(record)) {
            (true, _, this) => this,
            (false, Some(e), Some(this)) => Some(e.max(this)),
            (false, _, _) => None,
        };
        match out.last_mut() {
            Some(current) if !begins => current.push(record),
            _ => out.push(vec![record]),
        }
    }
    out
}

/// Milliseconds in a record's data, as seconds.
fn secs(data: &Value, field: &str) -> Option<i64> {
    data.get(field).and_then(Value::as_i64).map(|ms| ms.div_euclid(1000))
}

fn text<'a>(data: &'a Value, field: &str) -> Option<&'a str> {
    data.get(field).and_then(Value::as_str)
}

/// The steps one record stands for.
fn entries_of(record: &Record) -> Vec<Entry> {
    let outcome = record.state.as_str();
    let entry = |at: i64, what: What, trigger: &str| Entry {
        at,
        time: format_time(at),
        what,
        record: record.key.clone(),
        trigger: trigger.to_owned(),
        outcome,
    };
    let mut entries = Vec::new();
    if let Some(at) = secs(&record.data, EVENT_AT) {
        entries.push(entry(at, What::Alarm, &record.trigger));
    }
    entries.push(entry(record.created_at, What::Change, &record.trigger));
    let closed_by = text(&record.data, CLOSED_BY).unwrap_or(&record.trigger);
    match record.state {
        State::Closed => {
            if let Some(at) = secs(&record.data, CLOSED_EVENT_AT) {
                entries.push(entry(at, What::Ok, closed_by));
            }
            entries.push(entry(record.updated_at, What::Closed, closed_by));
        }
        State::Abandoned => entries.push(entry(record.updated_at, What::Abandoned, &record.trigger)),
        State::Pending | State::Done => {}
    }
    entries
}

impl Timeline {
    /// The timeline of `resource`'s last incident among `records` (empty when there are none).
    pub fn last(resource: &str, records: &[Record]) -> Self {
        let incidents = incidents(records);
        Timeline::of(resource, incidents.last().map_or(&[][..], Vec::as_slice))
    }

    /// The timeline of one incident's records.
    pub fn of(resource: &str, records: &[&Record]) -> Self {
        let mut entries: Vec<Entry> = records.iter().flat_map(|r| entries_of(r)).collect();
        entries.sort_by(|a, b| (a.at, a.what, &a.record).cmp(&(b.at, b.what, &b.record)));
        entries
            .dedup_by(|b, a| a.what == What::Alarm && b.what == What::Alarm && a.at == b.at && a.trigger == b.trigger);
        let first_alarm = entries.iter().find(|e| e.what == What::Alarm).map(|e| e.at);
        let first_change_at = records.iter().filter(|r| r.state != State::Abandoned).map(|r| r.created_at).min();
        let started_at = first_alarm.or_else(|| records.iter().map(|r| r.created_at).min());
        let open = records.iter().filter(|r| open(r)).count();
        let recovered_at = if open == 0 {
            records.iter().filter(|r| r.state == State::Closed).map(|r| r.updated_at).max()
        } else {
            None
        };
        let since = |to: Option<i64>| Some((to? - started_at?).max(0));
        Timeline {
            resource: resource.to_owned(),
            entries,
            started_at,
            first_change_at,
            recovered_at,
            open,
            time_to_mitigate_secs: since(first_change_at),
            time_to_recover_secs: since(recovered_at),
        }
    }

    /// The durations, once the incident is recovered.
    pub fn recovery(&self) -> Option<Recovery> {
        Some(Recovery {
            time_to_mitigate_secs: self.time_to_mitigate_secs,
            time_to_recover_secs: self.time_to_recover_secs?,
        })
    }

    /// One line per step: `2026-12-07T03:50:01Z  alarm   removal#…  alarm web-5xx  (closed)`.
    pub fn lines(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|e| format!("{}  {:<9} {}  {}  ({})", e.time, e.what.as_str(), e.record, e.trigger, e.outcome))
            .collect()
    }

    /// `time to mitigate 12 s, time to recover 4 min 3 s` (or what is not known yet).
    pub fn durations(&self) -> String {
        let mitigate = self.time_to_mitigate_secs.map_or_else(|| "not mitigated".to_owned(), duration);
        let recover = self.time_to_recover_secs.map_or_else(
            || format!("not recovered ({} record{} open)", self.open, if self.open == 1 { "" } else { "s" }),
            duration,
        );
        format!("time to mitigate {mitigate}, time to recover {recover}")
    }

    /// The steps as a Mermaid `timeline` diagram: one period per second with steps, named by its offset from
    /// the start (`+3 s`). Mermaid reads `:` as the separator and `#` as an entity: the texts have neither.
    pub fn mermaid(&self) -> String {
        let plain = |text: &str| text.replace([':', '#'], " ");
        let start = self.started_at.map_or_else(String::new, |at| format!(" from {}", plain(&format_time(at))));
        // `target-group:arn:…:targetgroup/web/<id>` → `targetgroup/web/<id>`; `db-instance:<region>/<id>` → `<region>/<id>`.
        let name = self.resource.rsplit(':').next().unwrap_or(&self.resource);
        let mut out = format!("timeline\n    title {}{start}, {}\n", plain(name), self.durations());
        let mut last = None;
        for e in &self.entries {
            if last == Some(e.at) {
                out.push_str("        :");
            } else {
                let offset = self.started_at.map_or(0, |s| (e.at - s).max(0));
                out.push_str(&format!("    +{} :", duration(offset)));
                last = Some(e.at);
            }
            out.push_str(&format!(" {} {} ({})\n", e.what.as_str(), plain(&e.record), plain(&e.trigger)));
        }
        out
    }
}

/// The `timeline` command's report about `name` (`web`, `orders`): `info`, published as `status` is; the caller
/// adds its resources and incident. `details`: `timeline` (the steps and durations), `text` (a line per step),
/// `mermaid` (the diagram).
pub fn report(function: &str, name: &str, timeline: &Timeline) -> Report {
    let (title, summary) = match timeline.started_at {
        None => (
            format!("{name}: no incident in the ledger"),
            format!("The ledger holds no record of {} (closed records are kept for the retention).", timeline.resource),
        ),
        Some(at) => (
            format!("{name}: incident from {}, {}", format_time(at), timeline.durations()),
            format!("{}.\n{}", timeline.durations(), timeline.lines().join("\n")),
        ),
    };
    Report::new(function, TIMELINE, Outcome::Info, Severity::Info, title).summary(summary).details(json!({
        "timeline": timeline,
        "text": timeline.lines(),
        "mermaid": timeline.mermaid(),
    }))
}

/// The report of a change that closed its incident, with the durations (`details.recovered`, which
/// [`crate::metrics`] emits as `TimeToMitigate` and `TimeToRecover`) and the steps (`details.timeline`).
pub fn with_recovery(mut report: Report, timeline: Option<Timeline>) -> Report {
    let Some((timeline, recovery)) = timeline.and_then(|t| t.recovery().map(|r| (t, r))) else { return report };
    report.summary = format!("{} The incident is over: {}.", report.summary, timeline.durations());
    if let Some(details) = report.details.as_object_mut() {
        details.insert(RECOVERED.into(), json!(recovery));
        details.insert("timeline".into(), json!(timeline.lines()));
    }
    report
}

/// `45 s`, `4 min 3 s`, `2 h 5 min`.
pub fn duration(secs: i64) -> String {
    match secs {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// The records as `end` leaves them after settling `settle` at `now` (a settle whose record is not in the
/// state it names leaves it as it was, as the ledger would refuse it).
pub fn settled(records: &[Record], settle: &[Settle], now: i64) -> Vec<Record> {
    records
        .iter()
        .map(|r| match settle.iter().find(|s| s.key == r.key && s.from == r.state) {
            Some(s) => Record {
                state: s.to,
                updated_at: now,
                data: s.data.clone().unwrap_or_else(|| r.data.clone()),
                ..r.clone()
            },
            None => r.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests;
