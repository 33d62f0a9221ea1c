//! An ARC Region switch custom action (a plan step of the `CustomActionLambda` execution block): Region switch
//! invokes the function with the step's JSON payload, a command, and merges its execution metadata into the
//! payload's top level: `InvokedBy`, `PlanArn`, `ExecutionId`, `StepName` (ARC Region switch API reference,
//! `Lambdas.payload`). [`take`] moves them out of the command, so that each function's vocabulary, which
//! rejects unknown fields, sees the command as a person would send it, and keeps them as a [`RegionSwitch`]:
//! the ledger records it with the action's records ([`crate::ledger::Session::with_region_switch`]), every
//! notification shows it, and the invocation's answer follows Region switch's rule: a refused, failed or
//! skipped action is an error, so the step fails ([`crate::invoke::finish_owing`]).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::IntakeError;

/// The metadata keys Region switch merges into the payload, in the order it documents them.
pub const KEYS: [&str; 4] = ["InvokedBy", "PlanArn", "ExecutionId", "StepName"];
/// The key under which records' data and notification bodies carry the metadata.
pub const FIELD: &str = "region_switch";

const CONTEXT: &str = "ARC Region switch invocation";
/// Longest value accepted for a metadata key: they name things, they do not carry data.
const MAX_CHARS: usize = 1024;

/// Who invoked this run: one step of one execution of one Region switch plan. Serialized with the keys
/// Region switch sends (its names are the public contract).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RegionSwitch {
    /// As Region switch sends it (the documentation names the key, not its values).
    pub invoked_by: String,
    /// `arn:aws:arc-region-switch::<account>:plan/<name>:<suffix>`: plans are global, with no region.
    pub plan_arn: String,
    pub execution_id: String,
    pub step_name: String,
    /// The step's payload asked for a dry run itself (`"dry_run": true`): a rehearsal, which succeeds. A dry run
    /// only the stack's `DRY_RUN=true` made fails the step ([`crate::step::failure`]). Not Region switch's
    /// metadata: never serialized.
    #[serde(skip)]
    pub rehearsal: bool,
}

impl RegionSwitch {
    /// One line for people: which step of which execution of which plan.
    pub fn describe(&self) -> String {
        format!(
            "ARC Region switch step {} of plan {}, execution {} (InvokedBy {})",
            self.step_name, self.plan_arn, self.execution_id, self.invoked_by
        )
    }

    /// Adds the metadata to a record's data under [`FIELD`], unless it already names an invocation (a record
    /// settled by a later run keeps the step that made it). Data that is not an object is left as it is.
    pub fn stamp(&self, data: &mut Value) {
        if let Some(fields) = data.as_object_mut() {
            fields.entry(FIELD).or_insert_with(|| serde_json::to_value(self).unwrap_or(Value::Null));
        }
    }
}

/// Takes Region switch's metadata out of a command's fields. `Ok(None)`: none of the keys is there (a
/// person's command). Any key present makes it Region switch's invocation, which must carry all four, each a
/// non-empty string, and a plan ARN that is one.
pub fn take(fields: &mut Map<String, Value>) -> Result<Option<RegionSwitch>, IntakeError> {
    if !KEYS.iter().any(|k| fields.contains_key(*k)) {
        return Ok(None);
    }
    let mut values = Vec::with_capacity(KEYS.len());
    for key in KEYS {
        values.push(text(key, fields.remove(key))?);
    }
    let [invoked_by, plan_arn, execution_id, step_name] = <[String; 4]>::try_from(values)
        .map_err(|_| IntakeError::Unrecognised("Region switch metadata: four keys expected".into()))?;
    if !plausible_plan_arn(&plan_arn) {
        return Err(IntakeError::InvalidValue {
            field: "PlanArn".into(),
            context: CONTEXT,
            value: super::json::quote(&plan_arn),
            expected: "a Region switch plan ARN, arn:aws:arc-region-switch::<account>:plan/<name>:<id>",
        });
    }
    Ok(Some(RegionSwitch { invoked_by, plan_arn, execution_id, step_name, rehearsal: false }))
}

/// Why a payload with Region switch's metadata and no `command` cannot be run, when it has that metadata.
pub fn without_command(payload: &Map<String, Value>) -> Option<IntakeError> {
    KEYS.iter().any(|k| payload.contains_key(*k)).then(|| {
        let name =
            |key: &str| payload.get(key).and_then(Value::as_str).unwrap_or("?").chars().take(200).collect::<String>();
        IntakeError::Unrecognised(format!(
            "ARC Region switch invoked this function (plan {}, step {}) without a command: set the step's Lambda \
             payload to a command object, e.g. {{\"command\": \"status\", ...}}; Region switch merges its metadata \
             into it",
            name("PlanArn"),
            name("StepName")
        ))
    })
}

fn text(key: &str, value: Option<Value>) -> Result<String, IntakeError> {
    match value {
        None | Some(Value::Null) => Err(IntakeError::Missing { field: key.to_owned(), context: CONTEXT }),
        Some(Value::String(s)) if s.trim().is_empty() => Err(IntakeError::InvalidValue {
            field: key.to_owned(),
            context: CONTEXT,
            value: "\"\"".into(),
            expected: "a non-empty string",
        }),
        Some(Value::String(s)) if s.chars().count() > MAX_CHARS || s.chars().any(char::is_control) => {
            Err(IntakeError::InvalidValue {
                field: key.to_owned(),
                context: CONTEXT,
                value: super::json::quote(&s),
                expected: "a name of at most 1024 characters, on one line",
            })
        }
        Some(Value::String(s)) => Ok(s.trim().to_owned()),
        Some(other) => Err(IntakeError::WrongType {
            field: key.to_owned(),
            context: CONTEXT,
            expected: "a string",
            got: super::json::describe(&other),
        }),
    }
}

/// `arn:<aws partition>:arc-region-switch::<12 digits>:plan/<name>...`: the API's `PlanArn` pattern is
/// `plan/<name>:<6 characters>`, the IAM examples write `plan/<name>/<6 characters>`; both are accepted.
fn plausible_plan_arn(arn: &str) -> bool {
    let Some(parts) = super::split_arn(arn) else { return false };
    let name = parts.resource.strip_prefix("plan/").unwrap_or_default();
    parts.partition.starts_with("aws")
        && parts.service == "arc-region-switch"
        && parts.region.is_empty()
        && parts.account.len() == 12
        && parts.account.bytes().all(|b| b.is_ascii_digit())
        && !name.is_empty()
        && !name.starts_with([':', '/'])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PLAN: &str = "arn:aws:arc-region-switch::123456789012:plan/orders-failover:a1b2c3";

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap()
    }

    fn metadata() -> Value {
        json!({"InvokedBy": "ARC Region switch", "PlanArn": PLAN, "ExecutionId": "e-1", "StepName": "promote"})
    }

    #[test]
    fn the_metadata_is_taken_out_of_the_command_and_kept() {
        let mut body = fields(json!({"command": "promote", "db_instance_identifier": "r1"}));
        body.extend(fields(metadata()));
        let origin = take(&mut body).unwrap().expect("a Region switch invocation");
        assert_eq!(origin.plan_arn, PLAN);
        assert_eq!((origin.execution_id.as_str(), origin.step_name.as_str()), ("e-1", "promote"));
        assert_eq!(body, fields(json!({"command": "promote", "db_instance_identifier": "r1"})), "the command alone");
        assert_eq!(serde_json::to_value(&origin).unwrap(), metadata(), "serialized with Region switch's keys");
    }

    #[test]
    fn a_command_without_the_metadata_is_a_persons_and_unchanged() {
        let mut body = fields(json!({"command": "status", "db_instance_identifier": "orders"}));
        assert_eq!(take(&mut body), Ok(None));
        assert_eq!(body.len(), 2);
    }

    #[test]
    fn incomplete_or_mistyped_metadata_is_an_error_naming_the_key() {
        let cases = [
            (json!({"PlanArn": PLAN, "ExecutionId": "e", "StepName": "s"}), "missing field InvokedBy"),
            (json!({"InvokedBy": "x", "PlanArn": PLAN, "ExecutionId": 7, "StepName": "s"}), "ExecutionId"),
            (json!({"InvokedBy": "x", "PlanArn": PLAN, "ExecutionId": "e", "StepName": " "}), "non-empty"),
            (json!({"InvokedBy": "x", "PlanArn": PLAN, "ExecutionId": "e\nx", "StepName": "s"}), "one line"),
            (json!({"InvokedBy": "x", "PlanArn": "orders", "ExecutionId": "e", "StepName": "s"}), "plan ARN"),
        ];
        for (value, expected) in cases {
            let error = take(&mut fields(value.clone())).unwrap_err().to_string();
            assert!(error.contains(expected), "{value}: {error}");
        }
    }

    #[test]
    fn plan_arns_are_region_switch_plans_of_an_account() {
        assert!(plausible_plan_arn(PLAN));
        assert!(plausible_plan_arn("arn:aws:arc-region-switch::123456789012:plan/child-plan-1/abcde1"));
        assert!(plausible_plan_arn("arn:aws-cn:arc-region-switch::123456789012:plan/p:abcdef"));
        for bad in [
            "arn:aws:arc-region-switch:us-east-1:123456789012:plan/p:abcdef",
            "arn:aws:lambda::123456789012:plan/p:abcdef",
            "arn:aws:arc-region-switch::12345:plan/p:abcdef",
            "arn:aws:arc-region-switch::123456789012:plan/",
            "arn:aws:arc-region-switch::123456789012:execution/p",
        ] {
            assert!(!plausible_plan_arn(bad), "{bad}");
        }
    }

    #[test]
    fn records_get_the_metadata_once_and_keep_the_first() {
        let origin = take(&mut fields(metadata())).unwrap().unwrap();
        let mut data = json!({"replica": "r1"});
        origin.stamp(&mut data);
        assert_eq!(data[FIELD]["ExecutionId"], "e-1");
        let later = RegionSwitch { execution_id: "e-2".into(), ..origin.clone() };
        later.stamp(&mut data);
        assert_eq!(data[FIELD]["ExecutionId"], "e-1", "the run that made the record");
        let mut none = Value::Null;
        origin.stamp(&mut none);
        assert_eq!(none, Value::Null);
    }

    fn sample(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events").join(name);
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn error_of(payload: Value) -> String {
        super::super::parse(&payload).expect_err("must be rejected").to_string()
    }

    #[test]
    fn a_region_switch_step_is_a_manual_command_with_its_metadata_taken_out() {
        for file in ["region-switch-database-promote.json", "region-switch-target-shift.json"] {
            let payload = sample(file);
            let Ok(event) = super::super::parse(&payload) else { panic!("{file}") };
            let origin = event.region_switch().cloned().unwrap_or_else(|| panic!("{file}: no metadata"));
            assert_eq!(origin.plan_arn, "arn:aws:arc-region-switch::123456789012:plan/orders-failover:a1b2c3");
            assert_eq!(origin.step_name, payload["StepName"].as_str().unwrap());
            let super::super::Event::Manual(m) = event else { panic!("{file}") };
            let mut body = payload.as_object().unwrap().clone();
            for key in KEYS {
                assert!(body.remove(key).is_some(), "{file}: {key}");
            }
            assert_eq!(m.body, Value::Object(body), "{file}: the command as a person would send it");
        }
    }

    #[test]
    fn region_switch_metadata_that_is_bad_or_without_a_command_is_an_invalid_event() {
        let mut wrong = sample("region-switch-target-shift.json");
        wrong["ExecutionId"] = json!(42);
        assert_eq!(
            error_of(wrong),
            "field ExecutionId in ARC Region switch invocation must be a string, got number 42"
        );
        let mut bare = sample("region-switch-target-shift.json");
        bare.as_object_mut().unwrap().retain(|k, _| KEYS.contains(&k.as_str()));
        let error = error_of(bare);
        assert!(error.contains("plan arn:aws:arc-region-switch::123456789012:plan/orders-failover:a1b2c3"), "{error}");
        assert!(error.contains("step shift-web-traffic") && error.contains("without a command"), "{error}");
        let mut alarm = sample("alarm-eventbridge-target-group.json");
        alarm.as_object_mut().unwrap().extend(sample("region-switch-target-shift.json").as_object().unwrap().clone());
        alarm.as_object_mut().unwrap().remove("command");
        alarm.as_object_mut().unwrap().remove("target_group_arn");
        assert!(error_of(alarm).contains("without a command"), "an event with the metadata is not run as a step");
    }
}
