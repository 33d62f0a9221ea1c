//! Property tests: the intake never panics, whatever it is fed, and every rejection is a short, clear error.
//! Inputs: random JSON built from the keys and values AWS payloads use, and mutated versions of every sample
//! in `events/` (fields removed, nulled, replaced with other JSON, or turned into strings).

use failover_core::intake::{parse, Event};
use proptest::prelude::*;
use serde_json::Value;

use test_support::mutate::{apply, paths, samples, Mutation};
use test_support::strategies;

const KEYS: &[&str] = &[
    "Records",
    "Sns",
    "Message",
    "MessageId",
    "detail",
    "detail-type",
    "source",
    "resources",
    "account",
    "region",
    "alarmData",
    "alarmArn",
    "alarmName",
    "state",
    "previousState",
    "value",
    "configuration",
    "metrics",
    "metricStat",
    "metric",
    "dimensions",
    "period",
    "expression",
    "command",
    "dry_run",
    "EventID",
    "SourceArn",
    "SourceType",
    "SourceIdentifier",
    "AlarmArn",
    "AlarmName",
    "NewStateValue",
    "Trigger",
    "Dimensions",
    "name",
    "Tags",
];

const STRINGS: &[&str] = &[
    "ALARM",
    "OK",
    "INSUFFICIENT_DATA",
    "aws.cloudwatch",
    "aws.rds",
    "CloudWatch Alarm State Change",
    "RDS DB Instance Event",
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x",
    "arn:aws:rds:us-east-1:123456789012:db:orders",
    "arn:aws:rds::::",
    "arn:",
    "RDS-EVENT-0031",
    "{\"AlarmName\":\"a\"}",
    "{",
    "",
];

fn leaf() -> BoxedStrategy<Value> {
    strategies::leaf(STRINGS)
}

fn json() -> BoxedStrategy<Value> {
    strategies::json(KEYS, leaf())
}

/// The properties every outcome must have: no panic (the call returned), and a rejection that says something
/// in a bounded number of characters.
fn check(payload: &Value) {
    match parse(payload) {
        Ok(Event::Manual(m)) => assert!(!m.command.is_empty()),
        Ok(_) => {}
        Err(e) => {
            let text = e.to_string();
            assert!(!text.is_empty());
            assert!(text.len() < 2_000, "error message of {} bytes: {text:.200}", text.len());
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_json_never_panics(payload in json()) {
        check(&payload);
    }

    #[test]
    fn mutated_samples_never_panic(payload in strategies::mutated_sample(strategies::mutation(json()), 1..4)) {
        check(&payload);
    }

    #[test]
    fn any_text_in_an_sns_message_never_panics(text in ".{0,200}") {
        let (_, mut payload) = samples().into_iter().find(|(n, _)| n == "alarm-sns-target-group.json").expect("sample");
        payload["Records"][0]["Sns"]["Message"] = Value::String(text);
        check(&payload);
    }
}

#[test]
fn every_single_field_removal_from_every_sample_is_handled() {
    // Exhaustive, not random: each sample with each one of its fields removed.
    for (name, sample) in samples() {
        let mut found = Vec::new();
        paths(&sample, &mut Vec::new(), &mut found);
        for path in found {
            let mut payload = sample.clone();
            apply(&mut payload, &path, &Mutation::Remove);
            let result = std::panic::catch_unwind(|| check(&payload));
            assert!(result.is_ok(), "{name} without {path:?} panicked");
        }
    }
}
