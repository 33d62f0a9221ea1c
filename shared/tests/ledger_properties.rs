//! The lease protocol across random interleavings of two invocations on one resource: each holds the resource,
//! reads the facts fresh, records its intent, acts, settles and releases — any of them may be cut short (a
//! crash), and the clock jumps between steps (an invocation whose lease ran out has been stopped by its timeout,
//! which the lease outlasts). Whatever the interleaving, the change is made at most once, and a `done` record
//! means it was made.

use failover_core::ledger::{hold, Held, Ledger, Record, State, Wait, Written};
use proptest::prelude::*;
use serde_json::json;
use std::time::Duration;
use test_support::memory_ledger::MemoryLedger;

const RESOURCE: &str = "targetgroup/web";
const KEY: &str = "shift#listener-1";
/// The lease: the function's timeout plus a margin. Invocations are stopped at their timeout.
const HOLD: i64 = 30;
const TIMEOUT: i64 = 20;

fn ready<F: std::future::Future>(future: F) -> F::Output {
    // The in-memory ledger never waits, and a single-attempt hold never sleeps: one poll completes it.
    let mut future = std::pin::pin!(future);
    match future.as_mut().poll(&mut std::task::Context::from_waker(std::task::Waker::noop())) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the in-memory ledger waited"),
    }
}

/// Where an invocation is.
#[derive(Debug, Clone, PartialEq)]
enum Step {
    Hold,
    Facts(Held),
    Intent(Held),
    Act(Held),
    Settle(Held),
    Release(Held),
    Ended,
}

struct Invocation {
    owner: String,
    started: i64,
    step: Step,
}

/// The world the change is made to.
#[derive(Default)]
struct World {
    changes: u32,
}

fn advance(inv: &mut Invocation, ledger: &MemoryLedger, world: &mut World, now: i64) {
    if now > inv.started + TIMEOUT {
        inv.step = Step::Ended; // stopped by its timeout, wherever it was
        return;
    }
    let single = Wait { attempts: 1, delay: Duration::ZERO };
    inv.step = match std::mem::replace(&mut inv.step, Step::Ended) {
        Step::Hold => match ready(hold(ledger, RESOURCE, &inv.owner, || now, HOLD, single)) {
            Ok(held) => Step::Facts(held),
            Err(_) => Step::Ended, // busy: Lambda retries later
        },
        // Fresh facts, read while holding the resource: nothing to do once the change is made.
        Step::Facts(held) if world.changes > 0 => Step::Release(held),
        Step::Facts(held) => Step::Intent(held),
        Step::Intent(held) => {
            let record = Record::pending(RESOURCE, KEY, &inv.owner, "alarm", now, 3_600, json!({}));
            match ready(ledger.record(&record)).unwrap() {
                Written::New => Step::Act(held),
                // An earlier invocation decided and was cut short: the facts say the change is not made, so
                // this one makes it; the record stays the earlier one's, settled by nobody but a person.
                Written::Exists(_) => Step::Act(held),
            }
        }
        Step::Act(held) => {
            world.changes += 1;
            Step::Settle(held)
        }
        Step::Settle(held) => {
            ready(ledger.settle(RESOURCE, KEY, &inv.owner, State::Done, now, None)).unwrap();
            Step::Release(held)
        }
        Step::Release(held) => {
            ready(held.release(ledger)).unwrap();
            Step::Ended
        }
        Step::Ended => Step::Ended,
    };
}

proptest! {
    #[test]
    fn two_invocations_change_the_world_at_most_once(
        schedule in proptest::collection::vec((0..2usize, 0..12i64, any::<bool>()), 1..60),
        second_starts in 0..40i64,
    ) {
        let ledger = MemoryLedger::new();
        let mut world = World::default();
        let mut now = 1_000;
        let mut invocations = [
            Invocation { owner: "inv-1".into(), started: now, step: Step::Hold },
            Invocation { owner: "inv-2".into(), started: now + second_starts, step: Step::Hold },
        ];
        for (who, jump, crash) in schedule {
            now += jump;
            let inv = &mut invocations[who];
            if now < inv.started {
                continue;
            }
            if crash && inv.step != Step::Hold {
                inv.step = Step::Ended;
                continue;
            }
            advance(inv, &ledger, &mut world, now);
        }
        prop_assert!(world.changes <= 1, "changed {} times", world.changes);
        let done = ledger.all_records().iter().filter(|r| r.state == State::Done).count();
        prop_assert!(done == 0 || world.changes == 1, "a done record without the change");
    }
}

#[test]
fn without_the_lease_two_invocations_would_both_change_the_world() {
    // The property above is not vacuous: the same steps without holding the resource change the world twice
    // when both read the facts before either acts.
    let mut world = World::default();
    let facts_1 = world.changes == 0;
    let facts_2 = world.changes == 0;
    if facts_1 {
        world.changes += 1;
    }
    if facts_2 {
        world.changes += 1;
    }
    assert_eq!(world.changes, 2);
    let ledger = MemoryLedger::new();
    let single = Wait { attempts: 1, delay: Duration::ZERO };
    assert!(ready(hold(&ledger, RESOURCE, "inv-1", || 1_000, HOLD, single)).is_ok());
    assert!(ready(hold(&ledger, RESOURCE, "inv-2", || 1_000, HOLD, single)).is_err(), "the lease excludes it");
}
