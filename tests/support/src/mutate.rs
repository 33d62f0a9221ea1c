//! The samples in `events/`, and structural mutations of JSON values: for the intake property tests, the intake
//! fuzzer (`examples/fuzz_intake.rs`) and the functions' property tests.

use std::path::PathBuf;

use serde_json::Value;

pub fn samples() -> Vec<(String, Value)> {
    // The workspace's `events/`, above this package.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .map(|d| d.join("events"))
        .find(|d| d.is_dir())
        .expect("events/ in the workspace");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("events/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("sample");
            (p.file_name().unwrap().to_string_lossy().into_owned(), serde_json::from_str(&text).expect("sample JSON"))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 15, "expected the samples in events/");
    out
}

/// What is done to one field.
#[derive(Debug, Clone)]
pub enum Mutation {
    Remove,
    Null,
    Replace(Value),
    Stringify,
}

#[derive(Debug, Clone)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// Every path to a value inside `value` (object keys and array indexes).
pub fn paths(value: &Value, prefix: &mut Vec<PathSeg>, out: &mut Vec<Vec<PathSeg>>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                prefix.push(PathSeg::Key(k.clone()));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                prefix.push(PathSeg::Index(i));
                out.push(prefix.clone());
                paths(v, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

pub fn apply(value: &mut Value, path: &[PathSeg], mutation: &Mutation) {
    let Some((last, parents)) = path.split_last() else { return };
    let mut node = value;
    for seg in parents {
        node = match (seg, node) {
            (PathSeg::Key(k), Value::Object(m)) => m.get_mut(k).expect("path exists"),
            (PathSeg::Index(i), Value::Array(a)) => &mut a[*i],
            _ => return,
        };
    }
    match (last, node) {
        (PathSeg::Key(k), Value::Object(m)) => match mutation {
            Mutation::Remove => {
                m.remove(k);
            }
            Mutation::Null => {
                m.insert(k.clone(), Value::Null);
            }
            Mutation::Replace(v) => {
                m.insert(k.clone(), v.clone());
            }
            Mutation::Stringify => {
                let text = m[k].to_string();
                m.insert(k.clone(), Value::String(text));
            }
        },
        (PathSeg::Index(i), Value::Array(a)) => match mutation {
            Mutation::Remove => {
                a.remove(*i);
            }
            Mutation::Null => a[*i] = Value::Null,
            Mutation::Replace(v) => a[*i] = v.clone(),
            Mutation::Stringify => a[*i] = Value::String(a[*i].to_string()),
        },
        _ => {}
    }
}
