//! proptest strategies shared by the property tests of the intake and of both functions: random JSON over chosen keys and leaves, and mutated
//! samples from `events/`.

use std::ops::Range;
use std::sync::OnceLock;

use proptest::prelude::*;
use proptest::sample::Index;
use serde_json::{Map, Value};

use crate::mutate::{apply, paths, samples, Mutation};

/// A JSON scalar: null, a boolean, any integer or float, one of `strings` (the values the code looks for), or
/// any short text.
pub fn leaf(strings: &'static [&'static str]) -> BoxedStrategy<Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        prop::sample::select(strings).prop_map(|s| Value::String(s.to_owned())),
        ".{0,40}".prop_map(Value::String),
    ]
    .boxed()
}

/// JSON up to 5 levels deep whose objects use `keys` and whose leaves come from `leaf`.
pub fn json(keys: &'static [&'static str], leaf: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Value> {
    leaf.prop_recursive(5, 64, 6, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(keys), inner), 0..6).prop_map(|pairs| {
                Value::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect::<Map<_, _>>())
            }),
        ]
    })
    .boxed()
}

/// What is done to one field: removed, nulled, replaced with a `replacement`, or turned into a string.
pub fn mutation(replacement: impl Strategy<Value = Value> + 'static) -> BoxedStrategy<Mutation> {
    prop_oneof![
        Just(Mutation::Remove),
        Just(Mutation::Null),
        replacement.prop_map(Mutation::Replace),
        Just(Mutation::Stringify),
    ]
    .boxed()
}

/// A sample from `events/` with `edits` mutations, each on a field chosen among those left by the previous.
pub fn mutated_sample(mutation: BoxedStrategy<Mutation>, edits: Range<usize>) -> impl Strategy<Value = Value> {
    static SAMPLES: OnceLock<Vec<(String, Value)>> = OnceLock::new();
    (any::<Index>(), prop::collection::vec((any::<Index>(), mutation), edits)).prop_map(|(sample, edits)| {
        let all = SAMPLES.get_or_init(samples);
        let mut payload = all[sample.index(all.len())].1.clone();
        for (at, mutation) in &edits {
            let mut found = Vec::new();
            paths(&payload, &mut Vec::new(), &mut found);
            if found.is_empty() {
                break;
            }
            apply(&mut payload, &found[at.index(found.len())], mutation);
        }
        payload
    })
}
