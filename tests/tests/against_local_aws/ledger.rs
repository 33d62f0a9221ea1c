//! The ledger's DynamoDB adapter against the local AWS, on the table as the template declares it: a change is
//! begun only on the ledger as read (nobody holding the resource, no change ended since, no live record with the
//! same key, not paused), a crashed holder's lease is taken over only once it ran out, a change is ended only
//! by its holder; and the in-memory ledger the property tests use answers exactly as this adapter does.

use failover_core::ledger::{Begin, Begun, DynamoLedger, Holder, Ledger, Pause, Record, Settle, State};
use integration_tests::Account;
use serde_json::json;

const HOLD: i64 = 60;
const DAY: i64 = 86_400;
const R: &str = "targetgroup/web";

async fn ledger() -> DynamoLedger {
    let account = Account::new().await;
    let table = account.ledger_table();
    DynamoLedger::new(account.dynamodb(), table)
}

fn pending(key: &str, owner: &str, now: i64) -> Record {
    Record::pending(R, key, owner, "alarm web-5xx", now, DAY).with_data(json!({"weights": [1, 0]}))
}

fn begin<'a>(owner: &'a str, now: i64, records: &'a [Record]) -> Begin<'a> {
    Begin { owner, now, hold_secs: HOLD, retention_secs: DAY, records, force: false }
}

#[tokio::test]
async fn a_change_begins_on_the_ledger_as_read_and_ends_by_its_holder() {
    let ledger = ledger().await;
    let read = ledger.read(R, 1_000).await.unwrap();
    assert_eq!((read.version, read.holder.clone(), read.records.len()), (0, None, 0));

    let intent = [pending("shift#l-1", "a", 1_001)];
    assert_eq!(ledger.begin(&read, &begin("a", 1_001, &intent)).await.unwrap(), Begun::Started { until: 1_061 });
    // b read before a began: its begin finds the resource held.
    let busy = ledger.begin(&read, &begin("b", 1_002, &[])).await.unwrap();
    assert_eq!(busy, Begun::Busy(Holder { owner: "a".into(), until: 1_061 }));
    // What b reads now says so, with a's pending record.
    let during = ledger.read(R, 1_003).await.unwrap();
    assert_eq!(during.held().map(|h| h.owner.as_str()), Some("a"));
    assert_eq!(during.record("shift#l-1").map(|r| r.state), Some(State::Pending));

    // Only the holder ends the change; it settles the record and moves the version on.
    let settle = [Settle::pending("shift#l-1", "a", State::Done)];
    assert!(!ledger.end(R, "b", 1_010, DAY, &settle, &[]).await.unwrap(), "not b's lease");
    assert!(ledger.end(R, "a", 1_010, DAY, &settle, &[]).await.unwrap());
    assert!(!ledger.end(R, "a", 1_011, DAY, &[], &[]).await.unwrap(), "already ended");

    // b's facts from before a's change are stale now, even though nobody holds the resource.
    assert_eq!(ledger.begin(&read, &begin("b", 1_012, &[])).await.unwrap(), Begun::Stale);
    let after = ledger.read(R, 1_013).await.unwrap();
    assert_eq!((after.version, after.held()), (1, None));
    let record = after.record("shift#l-1").unwrap();
    assert_eq!((record.state, record.owner.as_str(), record.updated_at), (State::Done, "a", 1_010));
    assert_eq!(record.data, json!({"weights": [1, 0]}));
    assert!(matches!(ledger.begin(&after, &begin("b", 1_014, &[])).await.unwrap(), Begun::Started { .. }));
}

#[tokio::test]
async fn a_crashed_holder_is_taken_over_only_after_its_lease_ran_out_and_only_when_seen_dead() {
    let ledger = ledger().await;
    let read = ledger.read(R, 2_000).await.unwrap();
    let intent = [pending("removal#i-1", "a", 2_000)];
    assert!(matches!(ledger.begin(&read, &begin("a", 2_000, &intent)).await.unwrap(), Begun::Started { .. }));
    // a crashes. While its lease runs, nobody takes over.
    let live = ledger.read(R, 2_030).await.unwrap();
    assert!(live.held().is_some());
    assert!(matches!(ledger.begin(&live, &begin("b", 2_030, &[])).await.unwrap(), Begun::Busy(_)));
    // A read made while a was alive is no ground for a takeover even after the lease ran out: the facts read
    // then may predate a's change.
    assert_eq!(ledger.begin(&live, &begin("b", 2_070, &[])).await.unwrap(), Begun::Stale);
    // A read that saw the lease run out is.
    let dead = ledger.read(R, 2_070).await.unwrap();
    assert_eq!((dead.held(), dead.holder.as_ref().map(|h| h.owner.as_str())), (None, Some("a")));
    assert!(matches!(ledger.begin(&dead, &begin("b", 2_071, &[])).await.unwrap(), Begun::Started { .. }));
    // b completes a's pending record (it found the change made) and ends.
    let settle = [Settle::pending("removal#i-1", "a", State::Done)];
    assert!(ledger.end(R, "b", 2_080, DAY, &settle, &[]).await.unwrap());
    let record = ledger.read(R, 2_081).await.unwrap().records.remove(0);
    assert_eq!((record.state, record.owner.as_str()), (State::Done, "b"));
}

#[tokio::test]
async fn a_change_whose_record_is_live_is_stale_and_nothing_of_it_is_written() {
    let ledger = ledger().await;
    let read = ledger.read(R, 3_000).await.unwrap();
    let first = [pending("shift#l-1", "a", 3_000)];
    assert!(matches!(ledger.begin(&read, &begin("a", 3_000, &first)).await.unwrap(), Begun::Started { .. }));
    assert!(ledger.end(R, "a", 3_001, DAY, &[], &[]).await.unwrap());
    // The same change decided again on fresh facts: its record exists, so it is not begun twice.
    let read = ledger.read(R, 3_002).await.unwrap();
    let again = [pending("removal#i-2", "b", 3_002), pending("shift#l-1", "b", 3_002)];
    assert_eq!(ledger.begin(&read, &begin("b", 3_002, &again)).await.unwrap(), Begun::Stale);
    let after = ledger.read(R, 3_003).await.unwrap();
    assert_eq!(after.held(), None, "no lease taken");
    assert_eq!(after.records.iter().map(|r| r.key.as_str()).collect::<Vec<_>>(), ["shift#l-1"]);
    // An expired record is ignored, and its key may be used again.
    let later = ledger.read(R, 3_000 + DAY + 1).await.unwrap();
    assert!(later.records.is_empty());
    let reuse = [pending("shift#l-1", "c", 3_000 + DAY + 1)];
    assert!(matches!(ledger.begin(&later, &begin("c", 3_000 + DAY + 1, &reuse)).await.unwrap(), Begun::Started { .. }));
}

#[tokio::test]
async fn of_many_invocations_beginning_at_once_exactly_one_starts() {
    let ledger = ledger().await;
    let read = ledger.read("db/us-east-1/orders", 5_000).await.unwrap();
    let tasks = (0..8).map(|i| {
        let (ledger, read) = (ledger.clone(), read.clone());
        tokio::spawn(async move {
            let owner = format!("inv-{i}");
            let record = Record::pending(&read.resource, "decision#1", &owner, "t", 5_000, DAY).with_data(json!(i));
            ledger.begin(&read, &begin(&owner, 5_000, std::slice::from_ref(&record))).await
        })
    });
    let mut started = 0;
    for task in tasks {
        if let Begun::Started { .. } = task.await.unwrap().unwrap() {
            started += 1;
        }
    }
    assert_eq!(started, 1);
}

#[tokio::test]
async fn while_paused_nothing_begins_unless_forced() {
    let ledger = ledger().await;
    assert_eq!(ledger.paused().await.unwrap(), None);
    assert!(!ledger.resume().await.unwrap(), "was not paused");
    let pause = Pause { by: "arn:aws:iam::123456789012:user/ops".into(), reason: "bad deploy".into(), at: 3_000 };
    ledger.pause(&pause).await.unwrap();
    assert_eq!(ledger.paused().await.unwrap(), Some(pause.clone()));
    let read = ledger.read(R, 3_001).await.unwrap();
    let intent = [pending("shift#l-1", "a", 3_001)];
    assert_eq!(ledger.begin(&read, &begin("a", 3_001, &intent)).await.unwrap(), Begun::Paused(pause));
    assert!(ledger.read(R, 3_002).await.unwrap().records.is_empty(), "nothing written while paused");
    let forced = Begin { force: true, ..begin("a", 3_003, &intent) };
    assert!(matches!(ledger.begin(&read, &forced).await.unwrap(), Begun::Started { .. }));
    assert!(ledger.resume().await.unwrap());
    assert_eq!(ledger.paused().await.unwrap(), None);
}

mod same_as_memory {
    //! The in-memory ledger answers every operation sequence exactly as the DynamoDB adapter does.

    use super::*;
    use failover_core::ledger::Snapshot;
    use proptest::prelude::*;
    use test_support::memory_ledger::MemoryLedger;

    #[derive(Debug, Clone)]
    enum Op {
        /// Read, then begin on that read with these record keys (after `delay` seconds).
        Begin {
            owner: usize,
            keys: Vec<usize>,
            delay: i64,
            force: bool,
        },
        /// Begin on the last read of another owner (a stale or a takeover read).
        BeginOnOld {
            owner: usize,
        },
        End {
            owner: usize,
            settle: Vec<(usize, usize, u8)>,
            new: Vec<usize>,
        },
        Pause,
        Resume,
    }

    const OWNERS: [&str; 3] = ["inv-1", "inv-2", "inv-3"];
    const KEYS: [&str; 3] = ["removal#i-1", "shift#l-1", "decision#1"];

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (0..3usize, proptest::sample::subsequence(vec![0usize, 1, 2], 0..3), 0..80i64, proptest::bool::weighted(0.1))
                .prop_map(|(owner, keys, delay, force)| Op::Begin { owner, keys, delay, force }),
            1 => (0..3usize).prop_map(|owner| Op::BeginOnOld { owner }),
            3 => (0..3usize, proptest::collection::vec((0..3usize, 0..3usize, 0..3u8), 0..2),
                  proptest::sample::subsequence(vec![0usize, 1, 2], 0..2))
                .prop_map(|(owner, settle, new)| Op::End { owner, settle, new }),
            1 => Just(Op::Pause),
            1 => Just(Op::Resume),
        ]
    }

    async fn apply<L: Ledger>(ledger: &L, op: &Op, now: i64, old: &mut Option<Snapshot>) -> String {
        match op {
            Op::Begin { owner, keys, delay, force } => {
                let read = ledger.read(R, now).await.unwrap();
                let records: Vec<Record> =
                    keys.iter().map(|k| pending(KEYS[*k], OWNERS[*owner], now + delay)).collect();
                let b = Begin { force: *force, ..begin(OWNERS[*owner], now + delay, &records) };
                let out = format!("{read:?} {:?}", ledger.begin(&read, &b).await.unwrap());
                *old = Some(read);
                out
            }
            Op::BeginOnOld { owner } => match old {
                Some(read) => format!("{:?}", ledger.begin(read, &begin(OWNERS[*owner], now, &[])).await.unwrap()),
                None => "no read".into(),
            },
            Op::End { owner, settle, new } => {
                let settle: Vec<Settle> = settle
                    .iter()
                    .map(|(k, was, kind)| match kind {
                        0 => Settle::pending(KEYS[*k], OWNERS[*was], State::Done).with_data(json!({"at": now})),
                        1 => Settle::pending(KEYS[*k], OWNERS[*was], State::Abandoned),
                        _ => Settle::close(KEYS[*k]),
                    })
                    .collect();
                let records: Vec<Record> = new
                    .iter()
                    .map(|k| Record::pending(R, KEYS[*k], OWNERS[*owner], "t", now, 200).with_state(State::Done))
                    .collect();
                format!("{:?}", ledger.end(R, OWNERS[*owner], now, DAY, &settle, &records).await.map_err(|e| e.message))
            }
            Op::Pause => {
                let pause = Pause { by: "ops".into(), reason: "r".into(), at: now };
                format!("{:?}", ledger.pause(&pause).await.unwrap())
            }
            Op::Resume => format!("{:?}", ledger.resume().await.unwrap()),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 12, failure_persistence: None, ..ProptestConfig::default() })]
        #[test]
        fn memory_and_dynamodb_answer_alike(ops in proptest::collection::vec((op(), 0..50i64), 1..25)) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let dynamo = ledger().await;
                let memory = MemoryLedger::new();
                let (mut old_d, mut old_m) = (None, None);
                let mut now = 1_000;
                for (op, step) in &ops {
                    now += step;
                    let d = apply(&dynamo, op, now, &mut old_d).await;
                    let m = apply(&memory, op, now, &mut old_m).await;
                    assert_eq!(d, m, "{op:?} at {now}");
                }
                let (d, m) = (dynamo.read(R, now).await.unwrap(), memory.read(R, now).await.unwrap());
                assert_eq!(d, m);
            });
        }
    }
}
