//! target-failover's instance alarm over several groups, against the local AWS: one invocation never waits on
//! itself. Its groups are decided at once, and each `begin` names the ledger's pause item; DynamoDB cancels a
//! transaction that meets another in progress on one item (`TransactionConflict`, emulated by the launcher's
//! transaction window), so the invocation's begins go one at a time ([`failover_core::ledger::Session`]) and
//! no group starts over after a wait.

use crate::shop::*;
use aws_sdk_elasticloadbalancingv2::types::TargetTypeEnum;
use failover_core::aws::AwsError;
use failover_core::ledger::{Begin, Begun, DynamoLedger, Ledger, Record, Settle, Snapshot};
use failover_core::outcome::Outcome;
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

/// The ledger table's adapter, counting the `begin`s in flight at once. Each begin waits a while for another
/// to join it before it is sent, so that begins made at once are seen at once however the machine schedules
/// them.
struct Overlap {
    inner: DynamoLedger,
    in_flight: AtomicUsize,
    most: AtomicUsize,
}

/// How long a begin waits for another: far longer than the groups' reads take to line up.
const LINGER: Duration = Duration::from_millis(400);

impl Ledger for Overlap {
    async fn read(&self, resource: &str, now: i64) -> Result<Snapshot, AwsError> {
        self.inner.read(resource, now).await
    }

    async fn begin(&self, snapshot: &Snapshot, begin: &Begin<'_>) -> Result<Begun, AwsError> {
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.most.fetch_max(now, SeqCst);
        let until = std::time::Instant::now() + LINGER;
        while self.in_flight.load(SeqCst) < 2 && std::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.most.fetch_max(self.in_flight.load(SeqCst), SeqCst);
        let begun = self.inner.begin(snapshot, begin).await;
        self.in_flight.fetch_sub(1, SeqCst);
        begun
    }

    async fn end(&self, r: &str, o: &str, n: i64, k: i64, s: &[Settle], rec: &[Record]) -> Result<bool, AwsError> {
        self.inner.end(r, o, n, k, s, rec).await
    }

    test_support::delegate_settle_and_pause!();
}

#[tokio::test]
async fn an_instance_alarm_over_four_groups_begins_them_one_at_a_time_and_never_reads_a_group_twice() {
    let shop = Shop::new().await;
    let sick = shop.account.instances(1).remove(0);
    let mut groups = Vec::new();
    for n in 0..4 {
        let mut ids = vec![sick.clone()];
        ids.extend(shop.account.instances(3));
        let group = shop.group(&format!("web{n}"), TargetTypeEnum::Instance, true, &ids).await;
        shop.set_health(&group, &[&sick], "unhealthy");
        groups.push(group);
    }
    let ledger = Overlap { inner: shop.dynamo_ledger(), in_flight: AtomicUsize::new(0), most: AtomicUsize::new(0) };
    let app = shop.app_on(&[], ledger, failover_core::time::now_secs);
    // Each transaction in progress a while, as on DynamoDB: begins made at once meet on the pause item.
    shop.account.control("/_failover/dynamodb/transaction-window", json!({"seconds": 0.3}));
    let (queries, writes) = (shop.account.calls_answered("Query"), shop.account.calls_answered("TransactWriteItems"));

    let response = app.handle(shop.alarm_eventbridge("i-sick", "ALARM", "OK", json!({"InstanceId": sick}))).await;

    assert_status(&response.unwrap(), Outcome::Succeeded);
    for group in &groups {
        assert!(!shop.health(group).await.contains_key(&sick), "removed from {group}");
    }
    // The alarm's ledger and each group's once: no group read again after a wait or a start-over.
    assert_eq!(shop.account.calls_answered("Query") - queries, 1 + 4);
    // The alarm's lease and transition, and each group's begin and end.
    assert_eq!(shop.account.calls_answered("TransactWriteItems") - writes, 2 + 2 * 4);
    assert_eq!(app.ledger().most.load(SeqCst), 1, "the invocation's begins never met in flight");
    assert_eq!(outcomes(&shop.received().await), [("succeeded".into(), "warning".into(), "deregister-targets".into())]);
}
