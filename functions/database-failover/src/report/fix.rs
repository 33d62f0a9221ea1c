//! The report of a primary fixed in place rather than promoted away from: the command that fixes it, and the
//! forced `promote` should the fix fail. Nothing was changed.

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::{incident, FIX_IN_PLACE};
use crate::decide::{FixInPlace, FixKind, Trigger};
use crate::FUNCTION;

/// A primary to fix in place (storage full, invalid parameters, its KMS key out of reach), whatever the trigger.
pub fn fix_in_place(f: &FixInPlace, trigger: &Trigger) -> Report {
    let instance = &f.primary;
    let (id, region) = (&instance.at.id, &instance.at.region);
    let modify = format!("aws rds modify-db-instance --region {region} --db-instance-identifier {id}");
    let (problem, fix) = match f.kind {
        FixKind::Storage => (
            "ran out of storage",
            format!(
                "{modify} --allocated-storage <GiB, at least 10% more than now> --max-allocated-storage <GiB> \
                 --apply-immediately"
            ),
        ),
        FixKind::Parameters => (
            "has parameters it cannot start with",
            format!(
                "{modify} --db-parameter-group-name <a compatible group> --apply-immediately && aws rds \
                 reboot-db-instance --region {region} --db-instance-identifier {id}"
            ),
        ),
        FixKind::EncryptionKey => (
            "cannot reach its KMS key",
            format!(
                "make its KMS key usable again (aws kms enable-key / cancel-key-deletion, or restore the key's \
                 grants), then aws rds start-db-instance --region {region} --db-instance-identifier {id}"
            ),
        ),
    };
    let mut next_steps = vec![format!("Fix {id} in place: {fix}")];
    match &f.replica {
        Some(replica) => {
            let command = json!({"command": "promote", "db_instance_identifier": replica.id,
                "region": replica.region, "force": true});
            next_steps.push(format!(
                "Only if it cannot be fixed: promote a replica (irreversible; {id} is not fenced) with {command}."
            ));
        }
        None => next_steps.push(format!("{id} has no read replica: fixing it in place is the only way back.")),
    }
    let summary = format!(
        "{id} {problem} (trigger: {}); it is {}. database-failover never promotes away from a primary fixed in \
         place unless a person asks with \"force\": true: a person usually fixes it in minutes and keeps the \
         primary. Nothing was changed.",
        trigger.describe(),
        instance.status
    );
    let (event_id, message) = match trigger {
        Trigger::FailureEvent { event_id, message } => (Some(event_id), Some(message)),
        _ => (None, None),
    };
    Report::new(
        FUNCTION,
        FIX_IN_PLACE,
        Outcome::Refused,
        Severity::Critical,
        format!("{id} {problem}: fix it in place"),
    )
    .summary(summary)
    .incident(incident(region, id))
    .resources([instance.arn.clone()])
    .details(json!({"trigger": trigger, "event_id": event_id, "message": message, "status": instance.status,
            "kind": f.kind, "fix": fix, "replica": f.replica}))
    .steps(next_steps)
}
