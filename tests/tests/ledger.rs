//! The ledger's DynamoDB adapter against the local AWS, on the table as the template declares it: leases that
//! exactly one invocation wins and that expire by themselves, records written once and settled only while
//! pending and owned, the records of a resource, and the pause switch.

use failover_core::ledger::{Claim, DynamoLedger, Ledger, Pause, Record, State, Written};
use integration_tests::Account;
use serde_json::json;

const HOLD: i64 = 60;
const DAY: i64 = 86_400;

async fn ledger() -> DynamoLedger {
    let account = Account::new().await;
    let table = account.ledger_table();
    DynamoLedger::new(account.dynamodb(), table)
}

#[tokio::test]
async fn a_lease_is_held_by_one_invocation_until_it_expires_or_is_released() {
    let ledger = ledger().await;
    let r = "targetgroup/web";
    assert_eq!(ledger.claim(r, "a", 1_000, HOLD).await.unwrap(), Claim::Acquired { until: 1_060 });
    assert_eq!(ledger.claim(r, "b", 1_010, HOLD).await.unwrap(), Claim::Held { owner: "a".into(), until: 1_060 });
    // The holder may renew.
    assert_eq!(ledger.claim(r, "a", 1_020, HOLD).await.unwrap(), Claim::Acquired { until: 1_080 });
    // A crashed holder blocks no longer than the lease.
    assert_eq!(ledger.claim(r, "b", 1_081, HOLD).await.unwrap(), Claim::Acquired { until: 1_141 });
    // a's release cannot take b's lease away.
    ledger.release(r, "a").await.unwrap();
    assert_eq!(ledger.claim(r, "c", 1_090, HOLD).await.unwrap(), Claim::Held { owner: "b".into(), until: 1_141 });
    ledger.release(r, "b").await.unwrap();
    assert_eq!(ledger.claim(r, "c", 1_091, HOLD).await.unwrap(), Claim::Acquired { until: 1_151 });
    // Another resource is another lease.
    assert!(matches!(ledger.claim("targetgroup/api", "a", 1_091, HOLD).await.unwrap(), Claim::Acquired { .. }));
}

#[tokio::test]
async fn of_many_invocations_claiming_at_once_exactly_one_wins() {
    let ledger = ledger().await;
    let claims = (0..8).map(|i| {
        let ledger = ledger.clone();
        tokio::spawn(async move { ledger.claim("db/us-east-1/orders", &format!("inv-{i}"), 5_000, HOLD).await })
    });
    let mut won = Vec::new();
    for (i, claim) in claims.enumerate() {
        if let Claim::Acquired { .. } = claim.await.unwrap().unwrap() {
            won.push(i);
        }
    }
    assert_eq!(won.len(), 1, "winners: {won:?}");
}

#[tokio::test]
async fn a_record_is_written_once_and_settled_only_while_pending_by_its_owner() {
    let ledger = ledger().await;
    let r = "targetgroup/web";
    let record = Record::pending(r, "removal#i-1", "a", "alarm web-1", 2_000, DAY, json!({"port": 80}));
    assert_eq!(ledger.record(&record).await.unwrap(), Written::New);
    let again = Record::pending(r, "removal#i-1", "b", "alarm web-1", 2_005, DAY, json!({"port": 81}));
    assert_eq!(ledger.record(&again).await.unwrap(), Written::Exists(Box::new(record.clone())));

    assert!(!ledger.settle(r, "removal#i-1", "b", State::Done, 2_010, None).await.unwrap(), "not b's");
    assert!(ledger
        .settle(r, "removal#i-1", "a", State::Done, 2_010, Some(&json!({"port": 80, "back": true})))
        .await
        .unwrap());
    assert!(!ledger.settle(r, "removal#i-1", "a", State::Abandoned, 2_011, None).await.unwrap(), "no longer pending");
    assert!(!ledger.settle(r, "removal#i-9", "a", State::Done, 2_011, None).await.unwrap(), "no such record");

    ledger.claim(r, "a", 2_000, HOLD).await.unwrap();
    let records = ledger.records(r, 2_020).await.unwrap();
    assert_eq!(records.len(), 1, "the lease is not a record: {records:?}");
    assert_eq!(records[0].state, State::Done);
    assert_eq!(records[0].updated_at, 2_010);
    assert_eq!(records[0].data, json!({"port": 80, "back": true}));
    assert_eq!(records[0].trigger, "alarm web-1");
}

#[tokio::test]
async fn an_expired_record_is_ignored_and_may_be_written_anew() {
    let ledger = ledger().await;
    let r = "cluster/us-east-1/catalog";
    let old = Record::pending(r, "decision#1", "a", "alarm", 100, 50, json!(null));
    assert_eq!(ledger.record(&old).await.unwrap(), Written::New);
    assert_eq!(ledger.records(r, 149).await.unwrap().len(), 1);
    assert!(ledger.records(r, 151).await.unwrap().is_empty(), "expired at 150");
    let new = Record::pending(r, "decision#1", "b", "alarm", 151, DAY, json!(null));
    assert_eq!(ledger.record(&new).await.unwrap(), Written::New);
}

#[tokio::test]
async fn the_pause_switch_says_who_why_and_when() {
    let ledger = ledger().await;
    assert_eq!(ledger.paused().await.unwrap(), None);
    assert!(!ledger.resume().await.unwrap(), "was not paused");
    let pause = Pause { by: "arn:aws:iam::123456789012:user/ops".into(), reason: "bad deploy".into(), at: 3_000 };
    ledger.pause(&pause).await.unwrap();
    assert_eq!(ledger.paused().await.unwrap(), Some(pause));
    assert!(ledger.resume().await.unwrap());
    assert_eq!(ledger.paused().await.unwrap(), None);
}

mod same_as_memory {
    //! The in-memory ledger the property tests use answers every operation sequence exactly as the DynamoDB
    //! adapter does against the local AWS.

    use super::*;
    use proptest::prelude::*;
    use test_support::memory_ledger::MemoryLedger;

    #[derive(Debug, Clone)]
    enum Op {
        Claim { resource: usize, owner: usize, hold: i64 },
        Release { resource: usize, owner: usize },
        Record { resource: usize, key: usize, owner: usize, keep: i64 },
        Settle { resource: usize, key: usize, owner: usize, done: bool },
        Records { resource: usize },
    }

    const RESOURCES: [&str; 2] = ["targetgroup/a", "targetgroup/b"];
    const OWNERS: [&str; 3] = ["inv-1", "inv-2", "inv-3"];
    const KEYS: [&str; 2] = ["removal#i-1", "shift#l-1"];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0..2usize, 0..3usize, 1..40i64).prop_map(|(resource, owner, hold)| Op::Claim { resource, owner, hold }),
            (0..2usize, 0..3usize).prop_map(|(resource, owner)| Op::Release { resource, owner }),
            (0..2usize, 0..2usize, 0..3usize, 1..40i64).prop_map(|(resource, key, owner, keep)| Op::Record {
                resource,
                key,
                owner,
                keep
            }),
            (0..2usize, 0..2usize, 0..3usize, any::<bool>()).prop_map(|(resource, key, owner, done)| Op::Settle {
                resource,
                key,
                owner,
                done
            }),
            (0..2usize).prop_map(|resource| Op::Records { resource }),
        ]
    }

    async fn apply<L: Ledger>(ledger: &L, op: &Op, now: i64) -> String {
        match *op {
            Op::Claim { resource, owner, hold } => {
                format!("{:?}", ledger.claim(RESOURCES[resource], OWNERS[owner], now, hold).await.unwrap())
            }
            Op::Release { resource, owner } => {
                format!("{:?}", ledger.release(RESOURCES[resource], OWNERS[owner]).await.unwrap())
            }
            Op::Record { resource, key, owner, keep } => {
                let record =
                    Record::pending(RESOURCES[resource], KEYS[key], OWNERS[owner], "t", now, keep, json!({"at": now}));
                format!("{:?}", ledger.record(&record).await.unwrap())
            }
            Op::Settle { resource, key, owner, done } => {
                let state = if done { State::Done } else { State::Abandoned };
                format!(
                    "{:?}",
                    ledger.settle(RESOURCES[resource], KEYS[key], OWNERS[owner], state, now, None).await.unwrap()
                )
            }
            Op::Records { resource } => format!("{:?}", ledger.records(RESOURCES[resource], now).await.unwrap()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn memory_and_dynamodb_answer_alike(ops in proptest::collection::vec((op(), 0..15i64), 1..25)) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let dynamo = ledger().await;
                let memory = MemoryLedger::new();
                let mut now = 1_000;
                for (op, step) in &ops {
                    now += step;
                    let (d, m) = (apply(&dynamo, op, now).await, apply(&memory, op, now).await);
                    assert_eq!(d, m, "{op:?} at {now}");
                }
            });
        }
    }
}
