//! Exactly one notification of a promotion, even across a crash. [`super::promote`] settles a promotion record
//! done with `"notified": false` ([`unnotified`], with what its DNS and proxy steps did) and names it in the context
//! ([`super::Context::owes`]); once the invocation's report is published, [`MarkNotified`] marks the record
//! `"notified": true`. A
//! publish that failed leaves the mark off and makes the invocation an error, so Lambda retries; so does a
//! run that died between the promotion and the publish. The retry finds the done record not yet notified and
//! publishes the notification it owes, rebuilt from the record ([`notification`]), instead of deciding again
//! (which would find the replica promoted and stay silent); then marks it. (A run that dies after publishing
//! and before the mark publishes twice: the window is one ledger write.)
//!
//! AWS calls: rebuilding the notification reads nothing more (the record holds what the DNS and proxy steps did);
//! [`MarkNotified`], after the publish, is one ledger `Query` of the resource and `begin`/`end` (two
//! `TransactWriteItems`), the waits for a held resource included in the invocation's one wait budget.

use failover_core::fault::Fault;
use failover_core::invoke::Owed;
use failover_core::ledger::{Settle, Snapshot, Start, State, Stop};
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use super::Context;
use crate::decide::fence::FencePlan;
use crate::decide::{DnsResult, Promotion, ProxyResult, Trigger};
use crate::model::{self, is_promotion_key, DbRef, Recreated};
use crate::ports::Ports;
use crate::report;

/// The data field that says whether a done promotion's notification was published.
pub const NOTIFIED: &str = "notified";
/// The data field that keeps what the promotion's DNS step did, for a notification rebuilt from the record.
const DNS_RESULT: &str = "dns_result";
/// The data field that keeps what the replica step did ([`super::recreate`]).
const REPLICA_RESULT: &str = "replica_result";

/// The data field that keeps what the promotion's proxy step did, likewise.
const PROXY_RESULT: &str = "proxy_result";
/// The fence step's plan, whether it was applied, and the primary's status then ([`super::fence::Guard::result`]):
/// a notification rebuilt from the ledger tells the fence as it was, never "NOT fenced" about a fenced primary.
const FENCE_RESULT: &str = "fence_result";

/// The data of a promotion record settled done: the decision's, what the DNS, proxy and replica steps did, not
/// yet notified.
pub fn unnotified(p: &Promotion, dns: &DnsResult, proxy: &ProxyResult, replica: &Recreated, fence: Value) -> Value {
    let mut data = p.record.data("replica", &p.replica_arn, p.endpoint.as_deref());
    data[FENCE_RESULT] = fence;
    data[DNS_RESULT] = serde_json::to_value(dns).unwrap_or(Value::Null);
    data[PROXY_RESULT] = serde_json::to_value(proxy).unwrap_or(Value::Null);
    data[REPLICA_RESULT] = serde_json::to_value(replica).unwrap_or(Value::Null);
    data[NOTIFIED] = json!(false);
    data
}

/// How long after a promotion was settled done its own run may still be publishing its notification: another
/// invocation that finds it unnotified sooner waits for it (a retryable [`Fault::InProgress`]) instead of
/// publishing it a second time. A retry of the same event (same request id) never waits.
pub const PUBLISHING_SECS: i64 = 30;

/// The run that settled `record` may still be publishing its notification: why, when it may.
pub fn publishing(snapshot: &Snapshot, owner: &str, now: i64) -> Option<String> {
    let record = owed(snapshot)?;
    (record.owner != owner && now < record.updated_at + PUBLISHING_SECS).then(|| {
        format!(
            "{} was promoted by invocation {} {} s ago, which is still publishing its notification",
            record.data["replica"]["id"].as_str().unwrap_or("a replica"),
            record.owner,
            now - record.updated_at
        )
    })
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
        proxy: Ok(decision.proxy.clone()),
        record: decision,
        resumed: false,
        standalone: true,
        replicas: Vec::new(),
    };
    let dns = record.data.get(DNS_RESULT).cloned().and_then(|v| serde_json::from_value(v).ok());
    let dns = dns.unwrap_or_else(|| p.planned_dns());
    tracing::info!(resource = %snapshot.resource, key = %record.key, "publishing the notification an interrupted run owed");
    let proxy = record.data.get(PROXY_RESULT).cloned().and_then(|v| serde_json::from_value(v).ok());
    let proxy = proxy.unwrap_or_else(|| p.planned_proxy());
    let replica = record.data.get(REPLICA_RESULT).cloned().and_then(|v| serde_json::from_value(v).ok());
    let replica = replica.unwrap_or(Recreated::Off);
    let fence = record.data.get(FENCE_RESULT);
    let status = fence.and_then(|f| f.get("primary_status")).and_then(Value::as_str);
    let p = Promotion { primary_status: status.map_or(p.primary_status.clone(), str::to_owned), ..p };
    let report = report::promotion(&p, trigger, Outcome::Succeeded, None, &dns, days);
    let report = report::with_replica(report::with_client_paths(report, &p, &dns, &proxy), &replica);
    let plan = fence.and_then(|f| serde_json::from_value::<FencePlan>(f.get("plan")?.clone()).ok());
    let applied = fence.and_then(|f| f.get("applied")).and_then(Value::as_bool).unwrap_or(false);
    let mut report = match plan {
        Some(plan) => report::promotion_fence(report, &p, &plan, applied),
        None => report,
    };
    report.summary.push_str(&format!(
        " An earlier run promoted {} at {} and stopped before notifying; this is its notification, from the ledger.",
        p.replica.id, p.record.at
    ));
    report.details["recovered_from_ledger"] = json!(true);
    Some(report)
}

/// A promotion done and not yet marked notified (its record on `resource`): once the invocation's notification
/// is out ([`failover_core::invoke::finish_owing`]), the record is marked `"notified": true`; one that did not go
/// out is left unmarked, and Lambda's retry publishes it ([`notification`]).
pub struct MarkNotified<'c, 'a, P: Ports> {
    pub ctx: &'c Context<'a, P>,
    pub resource: String,
}

impl<P: Ports> Owed for MarkNotified<'_, '_, P> {
    fn what(&self) -> String {
        format!("the notification of the promotion on {}", self.resource)
    }

    async fn settle(self, published: bool) {
        if published {
            mark(self.ctx, &self.resource).await;
        }
    }
}

/// Marks the resource's done promotion records not yet notified as notified. A failure is logged: the
/// notification is out, and a retry would publish it once more at worst.
async fn mark<P: Ports>(ctx: &Context<'_, P>, resource: &str) {
    let marked = ctx
        .session
        .attempt(resource, async |snapshot| -> Result<(), Stop<Fault>> {
            let Some(record) = owed(&snapshot) else { return Ok(()) };
            let mut data = record.data.clone();
            data[NOTIFIED] = json!(true);
            let settle =
                Settle { key: record.key.clone(), from: State::Done, owner: None, to: State::Done, data: Some(data) };
            match ctx.session.start(&snapshot, &[]).await? {
                Start::Started => ctx.session.end(resource, &[settle], &[]).await.map_err(Stop::Failed),
                Start::Again => Err(Stop::Again),
                Start::Paused(_) => {
                    tracing::warn!(resource, "paused: promotion not marked notified");
                    Ok(())
                }
            }
        })
        .await;
    if let Err(error) = marked {
        tracing::warn!(resource, %error, "promotion not marked notified");
    }
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
            "dns_result": {"result": "repointed", "record": "writer.shop.internal", "to": "r-fast.example"},
            "proxy_result": {"result": "moved", "proxy": "orders-proxy", "target_group": "default", "from": "orders",
                "to": "r-fast"}});
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
        assert!(
            report.summary.contains("RDS Proxy orders-proxy (target group default) was moved"),
            "{}",
            report.summary
        );
        assert_eq!(report.details["client_paths"][1]["state"], "moved", "{}", report.details);
    }

    #[test]
    fn a_notification_rebuilt_from_the_record_tells_the_fence_it_made() {
        let mut snapshot = ledger(Some(false), State::Done);
        snapshot.records[0].data["fence_result"] = json!({"applied": true, "primary_status": "available",
            "plan": {"fence": "fence", "again": false, "record": {"key": "fence#db-ORDERS", "state": "pending",
                "owner": "run", "instance": {"region": "us-east-1", "id": "orders"}, "resource_id": "db-ORDERS",
                "original": ["sg-app"], "group": "sg-fence"}}});
        let alarm = Trigger::Alarm { name: "failover-orders-latency".into() };
        let report = notification(&snapshot, &alarm, 7, false).expect("owed");
        assert!(!report.summary.contains("NOT fenced"), "{}", report.summary);
        assert!(
            report.summary.contains("orders was available and was fenced before the promotion"),
            "{}",
            report.summary
        );
        assert!(report.summary.contains("sg-app were replaced by sg-fence"), "{}", report.summary);
    }

    #[test]
    fn nothing_is_owed_once_notified_by_records_of_earlier_versions_in_a_dry_run_or_while_pending() {
        assert!(notification(&ledger(Some(true), State::Done), &event(), 7, false).is_none());
        assert!(notification(&ledger(None, State::Done), &event(), 7, false).is_none(), "no flag: older versions");
        assert!(notification(&ledger(Some(false), State::Done), &event(), 7, true).is_none(), "dry run");
        assert!(notification(&ledger(Some(false), State::Pending), &event(), 7, false).is_none());
    }
}
