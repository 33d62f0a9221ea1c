//! A bounded-time fuzzer for the event intake, on the stable toolchain (cargo-fuzz needs nightly, which this
//! project cannot install). It mutates the samples in `events/` structurally (fields removed, nulled, replaced,
//! stringified) and byte-wise (the mutated JSON text corrupted, then re-read when it still parses), and calls
//! the intake on each. A panic aborts the run with the input that caused it; otherwise it prints how many
//! inputs ran and how they were answered.
//!
//! `cargo run --example fuzz_intake -- [seconds] [seed]` (defaults: 30 s, seed from the clock).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use failover_core::intake::{parse, Event};
use serde_json::Value;

use mutate::{apply, paths, samples, Mutation};
use test_support::mutate;

/// xorshift64*: enough randomness for mutation choices, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const REPLACEMENTS: &[&str] = &[
    "null",
    "true",
    "0",
    "-1",
    "1e309",
    "65536",
    "\"\"",
    "\"ALARM\"",
    "\"OK\"",
    "[]",
    "{}",
    "[null]",
    "{\"value\":\"ALARM\"}",
    "\"arn:aws:cloudwatch:us-east-1:1:alarm:x\"",
    "\"arn:\"",
    "\"RDS-EVENT-0031\"",
    "\"{\\\"AlarmName\\\":1}\"",
];

fn mutate_structure(rng: &mut Rng, payload: &mut Value) {
    for _ in 0..=rng.below(3) {
        let mut found = Vec::new();
        paths(payload, &mut Vec::new(), &mut found);
        if found.is_empty() {
            return;
        }
        let path = &found[rng.below(found.len())];
        let mutation = match rng.below(4) {
            0 => Mutation::Remove,
            1 => Mutation::Null,
            2 => Mutation::Stringify,
            _ => Mutation::Replace(
                serde_json::from_str(REPLACEMENTS[rng.below(REPLACEMENTS.len())]).unwrap_or(Value::Null),
            ),
        };
        apply(payload, path, &mutation);
    }
}

const INSERTS: &[u8] = b"{}[]\",:0aZ\\";

fn mutate_bytes(rng: &mut Rng, payload: &Value) -> Option<Value> {
    let mut bytes = payload.to_string().into_bytes();
    for _ in 0..=rng.below(4) {
        if bytes.is_empty() {
            break;
        }
        let at = rng.below(bytes.len());
        match rng.below(3) {
            0 => bytes[at] = (rng.next() & 0x7f) as u8,
            1 => {
                bytes.remove(at);
            }
            _ => bytes.insert(at, INSERTS[rng.below(INSERTS.len())]),
        }
    }
    serde_json::from_slice(&bytes).ok()
}

fn main() {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(30);
    let seed: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64) | 1
    });
    let corpus = samples();
    let mut rng = Rng(seed);
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let mut answers: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut runs: u64 = 0;
    while Instant::now() < deadline {
        for _ in 0..256 {
            let (_, sample) = &corpus[rng.below(corpus.len())];
            let mut payload = sample.clone();
            mutate_structure(&mut rng, &mut payload);
            let payload = if rng.below(4) == 0 { mutate_bytes(&mut rng, &payload).unwrap_or(payload) } else { payload };
            let outcome = std::panic::catch_unwind(|| parse(&payload));
            let answer = match outcome {
                Ok(Ok(Event::Alarm(_))) => "alarm",
                Ok(Ok(Event::Rds(_))) => "rds",
                Ok(Ok(Event::Manual(_))) => "manual",
                Ok(Ok(Event::Unsupported { .. })) => "unsupported",
                Ok(Err(e)) if e.to_string().is_empty() => panic!("empty error message for input {payload}"),
                Ok(Err(_)) => "rejected",
                Err(_) => {
                    eprintln!("PANIC on input (seed {seed}): {payload}");
                    std::process::exit(1);
                }
            };
            *answers.entry(answer).or_default() += 1;
            runs += 1;
        }
    }
    println!("fuzz_intake: {runs} inputs in {seconds} s (seed {seed}), no panic; answers: {answers:?}");
}
