//! Exactly one notification of a promotion, even across a crash. [`super::promote`] settles a promotion record
//! done with `"notified": false` ([`unnotified`], with what its DNS step did); [`finish`] publishes the
//! invocation's report and, once a promotion's notification is out, marks the record `"notified": true`. A
//! publish that failed leaves the mark off and makes the invocation an error, so Lambda retries; so does a
//! run that died between the promotion and the publish. The retry finds the done record not yet notified and
//! publishes the notification it owes, rebuilt from the record ([`notification`]), instead of deciding again
//! (which would find the replica promoted and stay silent); then marks it. (A run that dies after publishing
//! and before the mark publishes twice: the window is one ledger write.)

use std::time::Instant;

use failover_core::invoke::{finish_published, InvokeError};
use failover_core::ledger::{Ledger, Settle, Snapshot, State};
use failover_core::notify::Notifier;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use failover_core::response::Response;
use serde_json::{json, Value};

use super::claim::{Started, TRIES};
use super::{promote, Context};
use crate::decide::{DnsResult, Promotion, Trigger};
use crate::model::{self, is_promotion_key, promotion_resource, DbRef};
use crate::ports::{Databases, Dns, ReplicaLag};
use crate::report::{self, PROMOTE};
use crate::FUNCTION;

/// The data field that says whether a done promotion's notification was published.
pub const NOTIFIED: &str = "notified";
/// The data field that keeps what the promotion's DNS step did, for a notification rebuilt from the record.
const DNS_RESULT: &str = "dns_result";

/// The data of a promotion record settled done: the decision's, what the DNS step did, not yet notified.
pub fn unnotified(p: &Promotion, dns: &DnsResult) -> Value {
    let mut data = p.record.data("replica", &p.replica_arn, p.endpoint.as_deref());
    data[DNS_RESULT] = serde_json::to_value(dns).unwrap_or(Value::Null);
    data[NOTIFIED] = json!(false);
    data
}

/// A done promotion record of the resource whose notification was not published.
fn owed(snapshot: &Snapshot) -> Option<&failover_core::ledger::Record> {
    snapshot
        .records
        .iter()
        .filter(|r| r.state == State::Done && is_promotion_key(&r.key))
        .find(|r| r.data.get(NOTIFIED) == Some(&Value::Bool(false)))
}

/// The notification an interrupted run owes for a promotion of the primary whose ledger this is: `None` when
/// none is owed (or in a dry run, which writes nothing and so could not mark it).
pub fn notification(snapshot: &Snapshot, trigger: &Trigger, days: i32, dry_run: bool) -> Option<Report> {
    if dry_run {
        return None;
    }
    let record = owed(snapshot)?;
    let decision = model::Record::from_ledger(record, "replica")?;
    let (region, id) = snapshot.resource.strip_prefix("db-instance:")?.split_once('/')?;
    let text = |name: &str| record.data.get(name).and_then(Value::as_str).map(str::to_owned);
    let p = Promotion {
        primary: DbRef::new(region, id),
        primary_arn: None,
        primary_status: "not described again".into(),
        replica: decision.subject.clone(),
        replica_arn: text("arn").unwrap_or_default(),
        endpoint: text("endpoint"),
        dns: Ok(decision.dns.clone()),
        record: decision,
        resumed: false,
        standalone: true,
        replicas: Vec::new(),
    };
    let dns = record.data.get(DNS_RESULT).cloned().and_then(|v| serde_json::from_value(v).ok());
    let dns = dns.unwrap_or_else(|| promote::planned_dns(&p));
    tracing::info!(resource = %snapshot.resource, key = %record.key, "publishing the notification an interrupted run owed");
    let mut report = report::promotion(&p, trigger, Outcome::Succeeded, None, &dns, days);
    report.summary.push_str(&format!(
        " An earlier run promoted {} at {} and stopped before notifying; this is its notification, from the ledger.",
        p.replica.id, p.record.at
    ));
    report.details["recovered_from_ledger"] = json!(true);
    Some(report)
}

/// Ends the invocation ([`finish_published`]); once a promotion's notification is out, its record is marked
/// notified. One that did not go out asks for Lambda's retry, which publishes it ([`notification`]).
pub async fn finish<D, L, R, G, N>(
    ctx: &Context<'_, D, L, R, G>,
    notifier: &N,
    report: Report,
    started: Instant,
) -> Result<Response, InvokeError>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
    G: Ledger,
    N: Notifier,
{
    let field = |name: &str| report.details["primary"][name].as_str().map(str::to_owned);
    let promoted =
        match (report.action == PROMOTE && report.outcome == Outcome::Succeeded, field("region"), field("id")) {
            (true, Some(region), Some(id)) => Some(DbRef::new(region, id)),
            _ => None,
        };
    let (response, published) = finish_published(notifier, FUNCTION, vec![report], started).await;
    let Some(primary) = promoted else { return response };
    if !published {
        return response.and(Err(InvokeError::Aws("the promotion's notification was not published".into())));
    }
    mark(ctx, &promotion_resource(&primary)).await;
    response
}

/// Marks the resource's done promotion records not yet notified as notified. A failure is logged: the
/// notification is out, and a retry would publish it once more at worst.
async fn mark<D, L, R, G>(ctx: &Context<'_, D, L, R, G>, resource: &str)
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
    G: Ledger,
{
    for attempt in 0..TRIES {
        let snapshot = match ctx.read_ledger(resource, attempt).await {
            Ok(Some(snapshot)) => snapshot,
            Ok(None) => continue,
            Err(error) => return tracing::warn!(resource, %error, "promotion not marked notified"),
        };
        let Some(record) = owed(&snapshot) else { return };
        let mut data = record.data.clone();
        data[NOTIFIED] = json!(true);
        let settle =
            Settle { key: record.key.clone(), from: State::Done, owner: None, to: State::Done, data: Some(data) };
        match ctx.begin(&snapshot, &[]).await {
            Ok(Started::Yes) => {}
            Ok(Started::Again) => continue,
            Ok(Started::Paused(_)) => return tracing::warn!(resource, "paused: promotion not marked notified"),
            Err(error) => return tracing::warn!(resource, %error, "promotion not marked notified"),
        }
        if let Err(error) = ctx.end(resource, &[settle], &[]).await {
            tracing::warn!(resource, %error, "promotion not marked notified");
        }
        return;
    }
    tracing::warn!(resource, "resource busy: promotion not marked notified");
}

#[cfg(test)]
mod tests {
    use failover_core::ledger::{Record, Snapshot, State};
    use serde_json::{json, Value};

    use super::{notification, NOTIFIED};
    use crate::decide::Trigger;

    fn ledger(notified: Option<bool>, state: State) -> Snapshot {
        let resource = "db-instance:us-east-1/orders";
        let mut data = json!({"replica": {"region": "us-east-1", "id": "r-fast"}, "arn": "arn:aws:rds:us-east-1:1:db:r-fast",
            "decided_at": "2026-12-02T17:00:00Z", "endpoint": "r-fast.example",
            "dns_result": {"result": "repointed", "record": "writer.shop.internal", "to": "r-fast.example"}});
        if let Some(flag) = notified {
            data[NOTIFIED] = json!(flag);
        }
        let record = Record::pending(resource, "promotion#1", "run", "RDS-EVENT-0031", 1, 60).with_state(state);
        Snapshot { resource: resource.into(), at: 2, version: 1, holder: None, records: vec![record.with_data(data)] }
    }

    fn event() -> Trigger {
        Trigger::FailureEvent { event_id: "RDS-EVENT-0031".into(), message: String::new() }
    }

    #[test]
    fn a_done_promotion_not_notified_owes_its_notification_rebuilt_from_the_record() {
        let report = notification(&ledger(Some(false), State::Done), &event(), 7, false).expect("owed");
        assert_eq!((report.action.as_str(), report.outcome.as_str()), ("promote-replica", "succeeded"));
        assert!(report.title.contains("orders failed over: r-fast promoted"), "{}", report.title);
        assert!(report.summary.contains("from the ledger"), "{}", report.summary);
        assert!(report.summary.contains("writer.shop.internal"), "{}", report.summary);
        assert_eq!(report.details["recovered_from_ledger"], Value::Bool(true));
    }

    #[test]
    fn nothing_is_owed_once_notified_by_records_of_earlier_versions_in_a_dry_run_or_while_pending() {
        assert!(notification(&ledger(Some(true), State::Done), &event(), 7, false).is_none());
        assert!(notification(&ledger(None, State::Done), &event(), 7, false).is_none(), "no flag: older versions");
        assert!(notification(&ledger(Some(false), State::Done), &event(), 7, true).is_none(), "dry run");
        assert!(notification(&ledger(Some(false), State::Pending), &event(), 7, false).is_none());
    }
}
