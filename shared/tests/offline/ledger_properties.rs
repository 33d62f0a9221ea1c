//! The ledger protocol across random interleavings of two invocations on one resource. Each reads the ledger,
//! then the facts, decides, begins (taking the lease and writing its intent), makes the change and ends — and
//! any of them may be cut short (a crash), wait for the other, or be stopped by its timeout (which the lease
//! outlasts) while the clock jumps between steps. Whatever the interleaving, the change is made at most once,
//! and a record settled `done` means it was made.

use failover_core::ledger::{Begin, Begun, Ledger, Record, Settle, Snapshot, State};
use proptest::prelude::*;
use serde_json::json;
use test_support::memory_ledger::MemoryLedger;

const RESOURCE: &str = "targetgroup/web";
const KEY: &str = "shift#listener-1";
/// The lease lasts longer than the function's timeout: an invocation never acts after its lease ran out.
const HOLD: i64 = 30;
const TIMEOUT: i64 = 20;
const DAY: i64 = 86_400;

fn ready<F: std::future::Future>(future: F) -> F::Output {
    // The in-memory ledger never waits: one poll completes its futures.
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the in-memory ledger waited"),
    }
}

/// What an invocation decided from the ledger and the facts.
#[derive(Debug, Clone, PartialEq)]
struct Decision {
    act: bool,
    /// The pending record a dead invocation left, to settle (its owner).
    takeover: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Read,
    Facts(Snapshot),
    Begin(Snapshot, Decision),
    Act(Decision),
    End(Decision),
    Ended,
}

struct Invocation {
    owner: String,
    started: i64,
    step: Step,
}

fn advance(inv: &mut Invocation, ledger: &MemoryLedger, changes: &mut u32, now: i64) {
    if now > inv.started + TIMEOUT {
        inv.step = Step::Ended; // stopped by its timeout, wherever it was
        return;
    }
    inv.step = match std::mem::replace(&mut inv.step, Step::Ended) {
        Step::Read => {
            let snapshot = ready(ledger.read(RESOURCE, now)).unwrap();
            if snapshot.held().is_some() {
                Step::Read // wait for the holder
            } else {
                Step::Facts(snapshot)
            }
        }
        // The facts are read after the ledger.
        Step::Facts(snapshot) => {
            let takeover = snapshot.record(KEY).filter(|r| r.state == State::Pending).map(|r| r.owner.clone());
            let decision = Decision { act: *changes == 0, takeover };
            if !decision.act && decision.takeover.is_none() {
                Step::Ended // nothing to do
            } else {
                Step::Begin(snapshot, decision)
            }
        }
        Step::Begin(snapshot, decision) => {
            let intent = Record::pending(RESOURCE, KEY, &inv.owner, "alarm", now, DAY).with_data(json!({}));
            let records = if decision.takeover.is_none() { vec![intent] } else { Vec::new() };
            let begin =
                Begin { owner: &inv.owner, now, hold_secs: HOLD, retention_secs: DAY, records: &records, force: false };
            match ready(ledger.begin(&snapshot, &begin)).unwrap() {
                Begun::Started { .. } if decision.act => Step::Act(decision),
                Begun::Started { .. } => Step::End(decision),
                Begun::Busy(_) | Begun::Stale => Step::Read,
                Begun::Paused(_) => Step::Ended,
            }
        }
        Step::Act(decision) => {
            *changes += 1;
            Step::End(decision)
        }
        Step::End(decision) => {
            let owner = decision.takeover.clone().unwrap_or_else(|| inv.owner.clone());
            let settle = [Settle::pending(KEY, &owner, State::Done)];
            ready(ledger.end(RESOURCE, &inv.owner, now, DAY, &settle, &[])).unwrap();
            Step::Ended
        }
        Step::Ended => Step::Ended,
    };
}

/// Mostly small steps of the clock, sometimes a leap past a lease.
fn jump() -> impl Strategy<Value = i64> {
    prop_oneof![8 => 0..3i64, 2 => 0..45i64]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]
    #[test]
    fn two_invocations_make_the_change_at_most_once(
        schedule in proptest::collection::vec((0..2usize, jump(), proptest::bool::weighted(0.05)), 1..80),
        second_starts in 0..40i64,
    ) {
        let ledger = MemoryLedger::new();
        let mut changes = 0;
        let mut now = 1_000;
        let mut invocations = [
            Invocation { owner: "inv-1".into(), started: now, step: Step::Read },
            Invocation { owner: "inv-2".into(), started: now + second_starts, step: Step::Read },
        ];
        for (who, jump, crash) in schedule {
            now += jump;
            let inv = &mut invocations[who];
            if now < inv.started {
                continue;
            }
            if crash {
                inv.step = Step::Ended;
                continue;
            }
            advance(inv, &ledger, &mut changes, now);
        }
        prop_assert!(changes <= 1, "changed {} times", changes);
        let done = ledger.all_records().iter().filter(|r| r.state == State::Done).count();
        prop_assert!(done == 0 || changes == 1, "a done record without the change");
    }
}

#[test]
fn reading_the_facts_before_the_ledger_would_not_be_enough_without_begin() {
    // The property above is not vacuous: two invocations that both read the facts before either acts would
    // both act; `begin` on the second one's read is what stops it.
    let ledger = MemoryLedger::new();
    let first = ready(ledger.read(RESOURCE, 1_000)).unwrap();
    let second = ready(ledger.read(RESOURCE, 1_000)).unwrap();
    let intent = |owner: &str| [Record::pending(RESOURCE, KEY, owner, "alarm", 1_001, DAY).with_data(json!({}))];
    let (one, two) = (intent("inv-1"), intent("inv-2"));
    let begin =
        |owner, records| Begin { owner, now: 1_001, hold_secs: HOLD, retention_secs: DAY, records, force: false };
    assert!(matches!(ready(ledger.begin(&first, &begin("inv-1", &one))).unwrap(), Begun::Started { .. }));
    assert!(matches!(ready(ledger.begin(&second, &begin("inv-2", &two))).unwrap(), Begun::Busy(_)));
}

/// "inv-1"'s session at time 1 001, with no time to wait and no Region switch step.
fn session<'a>(
    ledger: &'a MemoryLedger,
    budget: &'a failover_core::ledger::WaitBudget,
) -> failover_core::ledger::Session<'a, MemoryLedger> {
    failover_core::ledger::Session {
        ledger,
        owner: "inv-1",
        hold_secs: HOLD,
        retention_secs: DAY,
        force: false,
        clock: || 1_001,
        budget,
        region_switch: None,
    }
}

#[test]
fn a_pause_refuses_a_change_but_not_the_record_of_one_already_made() {
    use failover_core::ledger::{Pause, Start, WaitBudget};
    let ledger = MemoryLedger::new();
    let pause = Pause { by: "ops".into(), reason: "drill".into(), at: 1_000 };
    ready(ledger.pause(&pause)).unwrap();
    let budget = WaitBudget::new(std::time::Duration::ZERO);
    let session = session(&ledger, &budget);
    let snapshot = ready(ledger.read(RESOURCE, 1_001)).unwrap();
    assert!(matches!(ready(session.start(&snapshot, &[])).unwrap(), Start::Paused(_)));
    assert_eq!(ready(session.start_record_only(&snapshot, &[])).unwrap(), Start::Started);
}

#[test]
fn a_region_switch_run_records_its_step_on_what_it_writes_and_settles_and_a_persons_run_does_not() {
    use failover_core::intake::RegionSwitch;
    use failover_core::ledger::{Start, WaitBudget};
    let origin = RegionSwitch {
        invoked_by: "ARC Region switch".into(),
        plan_arn: "arn:aws:arc-region-switch::123456789012:plan/orders:a1b2c3".into(),
        execution_id: "e-1".into(),
        step_name: "shift".into(),
        rehearsal: false,
    };
    let ledger = MemoryLedger::new();
    let budget = WaitBudget::new(std::time::Duration::ZERO);
    let (person, plan) = (session(&ledger, &budget), session(&ledger, &budget).with_region_switch(Some(&origin)));
    let record = |key: &str| Record::pending(RESOURCE, key, "inv-1", "manual command shift", 1_001, DAY);
    let data = json!({"listener": "l-1"});

    let snapshot = ready(ledger.read(RESOURCE, 1_001)).unwrap();
    let begun = ready(plan.start(&snapshot, &[record(KEY).with_data(data.clone())])).unwrap();
    assert_eq!(begun, Start::Started);
    let settle = Settle::pending(KEY, "inv-1", State::Done).with_data(json!({"listener": "l-1", "weight": 0}));
    ready(plan.end(RESOURCE, &[settle], &[record("lineage#1").with_data(data.clone())])).unwrap();
    let records = ready(ledger.read(RESOURCE, 1_002)).unwrap().records;
    assert_eq!(records.len(), 2);
    for r in &records {
        assert_eq!(r.data["region_switch"], serde_json::to_value(&origin).unwrap(), "{}", r.key);
        assert_eq!(r.data["region_switch"]["StepName"], "shift");
    }
    assert_eq!(records.iter().find(|r| r.key == KEY).unwrap().data["weight"], 0, "the settle's own data kept");

    let snapshot = ready(ledger.read("other", 1_003)).unwrap();
    assert_eq!(
        ready(person.start(&snapshot, &[Record { resource: "other".into(), ..record("x#1") }.with_data(data)]))
            .unwrap(),
        Start::Started
    );
    ready(person.end("other", &[], &[])).unwrap();
    let records = ready(ledger.read("other", 1_004)).unwrap().records;
    assert_eq!(records[0].data, json!({"listener": "l-1"}), "a person's command writes the data as given");
}

/// An invocation never waits on itself: a resource it holds (two of its groups on one shared resource, such
/// as the restore holds' index) is read again as soon as it releases it, not after a whole pause; another
/// invocation's lease is still waited on. Virtual time: the waits are exact.
#[test]
fn a_resource_held_by_the_invocation_itself_is_read_again_at_its_release_and_another_holder_is_waited_on() {
    use failover_core::ledger::{Start, Stop, WaitBudget};
    use tokio::time::{Duration, Instant};
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
    runtime.block_on(async {
        let waited = async |holder: &str| {
            let ledger = MemoryLedger::new();
            let budget = WaitBudget::new(Duration::from_secs(5));
            let ours = session(&ledger, &budget);
            let theirs = failover_core::ledger::Session { owner: holder, ..ours };
            let read = ledger.read(RESOURCE, 1_001).await.unwrap();
            assert_eq!(theirs.start(&read, &[]).await.unwrap(), Start::Started);
            let started = Instant::now();
            // One of the invocation's attempts reads the resource held; the holder then ends its change.
            let attempt = ours.attempt(RESOURCE, async |snapshot| -> Result<u64, Stop<failover_core::fault::Fault>> {
                Ok(snapshot.version)
            });
            let release = async {
                tokio::task::yield_now().await;
                theirs.end(RESOURCE, &[], &[]).await.unwrap();
            };
            let (version, ()) = tokio::join!(attempt, release);
            assert_eq!(version.unwrap(), 1, "acted after the release");
            started.elapsed()
        };
        assert_eq!(waited("inv-1").await, Duration::ZERO, "its own lease: no pause");
        assert_eq!(waited("inv-2").await, Duration::from_millis(50), "another invocation's: the first pause");
    });
}
