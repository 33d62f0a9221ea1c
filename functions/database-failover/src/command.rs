//! The manual command vocabulary (pure parsing; the handler runs them).
//!
//! | command | fields | does |
//! |---|---|---|
//! | `status` | `db_instance_identifier` (a primary) or `db_cluster_identifier` | reports the primary or cluster, its replicas or readers with status, priority and lag, any recorded failover, and what would happen if it failed now; changes nothing |
//! | `promote` | `db_instance_identifier` (the replica) | promotes that replica of its primary, with the same guards as an automatic failover except that the primary need not be down |
//! | `failover-cluster` | `db_cluster_identifier`, optional `target_db_instance_identifier` | fails an Aurora or Multi-AZ DB cluster over to that reader, or to the best one; with `force`, a named Multi-AZ reader past the lag guard |
//! | `pause` | optional `reason`, `by` | pauses automation (both functions of the stack): every change is refused until `resume` |
//! | `resume` | — | resumes automation |
//! | `timeline` | `db_instance_identifier` (a primary) or `db_cluster_identifier` | the last incident the ledger holds for it (promotions, cluster failovers), step by step with its time, trigger and outcome, and the time to mitigate and to recover; changes nothing |
//! | `unfence` | `db_instance_identifier` (an old primary), optional `by`, `reason` | restores the VPC security groups its fence recorded and closes the fence record with who and why; it is not fenced again automatically |
//! | `switchover-global` | `global_cluster_identifier`, `target_db_cluster_identifier` (the secondary: its ARN, or its identifier in `region`) | switches an Aurora Global Database over to that secondary with `SwitchoverGlobalCluster` (no data loss) once it is healthy and in sync; refused, with the lag, when it is not |
//! | `approve` | `decision` (the id a notification gave), `by` (who approves) | approves a pending decision of the approval gate: the action is decided again with every guard, then done, and the approval recorded with who; an unknown, expired, approved or rejected decision is refused |
//! | `reject` | `decision`, `by` | closes a pending decision: it can no longer be approved |
//! | `readiness` | optional `db_instance_identifier` or `db_cluster_identifier` | checks every opted-in primary and cluster of the region (or the one named) against what a failover would need: an eligible replica or reader, the `failover:dns-record` record, the `failover:rds-proxy` target group, backups; one notification; changes nothing, except (not in a dry run) fencing an old primary found unfenced and asking again for a replica RDS refused for the time being |
//!
//! Every command also takes `dry_run` (`true`/`false`, overriding `DRY_RUN`), `region` (default: the
//! function's region) and `force` (`true`: act even while automation is paused). Unknown fields are rejected, so a misspelt field never silently changes the meaning.
//! The keys an ARC Region switch step merges into its payload (`InvokedBy`, `PlanArn`, `ExecutionId`,
//! `StepName`) never reach this vocabulary: the intake takes them out ([`failover_core::intake::region_switch`]).

use failover_core::intake::InvalidCommand;
use failover_core::intake::ManualCommand;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Status {
        region: Option<String>,
        subject: Subject,
    },
    Promote {
        region: Option<String>,
        replica: String,
    },
    FailoverCluster {
        region: Option<String>,
        cluster: String,
        target: Option<String>,
    },
    Pause {
        reason: Option<String>,
        by: Option<String>,
    },
    Resume,
    /// Restores an old primary's recorded groups.
    Unfence {
        region: Option<String>,
        instance: String,
        by: Option<String>,
        reason: Option<String>,
    },
    /// Every opted-in primary and cluster of the region, or the one named. Changes nothing.
    Readiness {
        region: Option<String>,
        subject: Option<Subject>,
    },
    /// A planned switchover of an Aurora Global Database to `target` (an ARN, or an identifier in `region`).
    SwitchoverGlobal {
        region: Option<String>,
        global: String,
        target: String,
    },
    /// Approves a pending decision of the approval gate (its id), recording who.
    Approve {
        decision: String,
        by: String,
    },
    /// Closes a pending decision.
    Reject {
        decision: String,
        by: String,
    },
    /// The last incident of a primary or cluster, as the ledger records it. Changes nothing.
    Timeline {
        region: Option<String>,
        subject: Subject,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Instance(String),
    Cluster(String),
}

const COMMON_FIELDS: &[&str] = &["command", "dry_run", "region", "force"];

/// The command names, for error messages.
pub const COMMANDS: &[&str] = &[
    "status",
    "promote",
    "failover-cluster",
    "pause",
    "resume",
    "readiness",
    "timeline",
    "unfence",
    "switchover-global",
    "approve",
    "reject",
];

pub fn parse(manual: &ManualCommand) -> Result<Command, InvalidCommand> {
    let body = &manual.body;
    let allowed: &[&str] = match manual.command.as_str() {
        "status" | "readiness" | "timeline" => &["db_instance_identifier", "db_cluster_identifier"],
        "promote" => &["db_instance_identifier"],
        "failover-cluster" => &["db_cluster_identifier", "target_db_instance_identifier"],
        "pause" => &["reason", "by"],
        "unfence" => &["db_instance_identifier", "reason", "by"],
        "resume" => &[],
        "switchover-global" => &["global_cluster_identifier", "target_db_cluster_identifier"],
        "approve" | "reject" => &["decision", "by"],
        other => {
            return Err(format!("unknown command {other:?}; database-failover knows {}", COMMANDS.join(", ")).into());
        }
    };
    if let Some(object) = body.as_object() {
        if let Some(unknown) =
            object.keys().find(|k| !COMMON_FIELDS.contains(&k.as_str()) && !allowed.contains(&k.as_str()))
        {
            return Err(format!(
                "{}: unknown field {unknown:?}; allowed: {}",
                manual.command,
                allowed.iter().chain(COMMON_FIELDS.iter().skip(1)).copied().collect::<Vec<_>>().join(", ")
            )
            .into());
        }
    }
    let region = text(body, "region")?;
    force(manual)?;
    match manual.command.as_str() {
        name @ ("status" | "timeline") => {
            let subject = match (text(body, "db_instance_identifier")?, text(body, "db_cluster_identifier")?) {
                (Some(instance), None) => Subject::Instance(instance),
                (None, Some(cluster)) => Subject::Cluster(cluster),
                _ => {
                    return Err(
                        format!("{name}: give exactly one of db_instance_identifier or db_cluster_identifier").into()
                    )
                }
            };
            Ok(if name == "status" {
                Command::Status { region, subject }
            } else {
                Command::Timeline { region, subject }
            })
        }
        "readiness" => {
            let subject = match (text(body, "db_instance_identifier")?, text(body, "db_cluster_identifier")?) {
                (None, None) => None,
                (Some(instance), None) => Some(Subject::Instance(instance)),
                (None, Some(cluster)) => Some(Subject::Cluster(cluster)),
                _ => {
                    return Err("readiness: give at most one of db_instance_identifier or db_cluster_identifier".into())
                }
            };
            Ok(Command::Readiness { region, subject })
        }
        "pause" => Ok(Command::Pause { reason: text(body, "reason")?, by: text(body, "by")? }),
        "resume" => Ok(Command::Resume),
        "unfence" => match text(body, "db_instance_identifier")? {
            Some(instance) => {
                Ok(Command::Unfence { region, instance, by: text(body, "by")?, reason: text(body, "reason")? })
            }
            None => Err("unfence: db_instance_identifier (the fenced old primary) is required".into()),
        },
        "switchover-global" => {
            match (text(body, "global_cluster_identifier")?, text(body, "target_db_cluster_identifier")?) {
                (Some(global), Some(target)) => Ok(Command::SwitchoverGlobal { region, global, target }),
                _ => Err("switchover-global: global_cluster_identifier and target_db_cluster_identifier (the \
                          secondary cluster: its ARN, or its identifier in region) are required"
                    .into()),
            }
        }
        name @ ("approve" | "reject") => match (text(body, "decision")?, text(body, "by")?) {
            (Some(decision), Some(by)) if name == "approve" => Ok(Command::Approve { decision, by }),
            (Some(decision), Some(by)) => Ok(Command::Reject { decision, by }),
            _ => Err(format!("{name}: decision (the id the notification gave) and by (who) are required").into()),
        },
        "promote" => match text(body, "db_instance_identifier")? {
            Some(replica) => Ok(Command::Promote { region, replica }),
            None => Err("promote: db_instance_identifier (the read replica to promote) is required".into()),
        },
        _ => match text(body, "db_cluster_identifier")? {
            Some(cluster) => {
                Ok(Command::FailoverCluster { region, cluster, target: text(body, "target_db_instance_identifier")? })
            }
            None => Err("failover-cluster: db_cluster_identifier is required".into()),
        },
    }
}

/// The command and its `force`.
pub fn read(manual: &ManualCommand) -> Result<(Command, bool), InvalidCommand> {
    Ok((parse(manual)?, force(manual)?))
}

/// The command's `"force"` ([`failover_core::intake::force`]).
pub fn force(manual: &ManualCommand) -> Result<bool, InvalidCommand> {
    failover_core::intake::force(manual.body.get("force"))
}

/// An optional text field ([`failover_core::intake::text`]).
fn text(body: &Value, field: &str) -> Result<Option<String>, InvalidCommand> {
    failover_core::intake::text(body.get(field), field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn command(body: Value) -> Result<Command, String> {
        let name = body["command"].as_str().unwrap_or_default().to_owned();
        parse(&ManualCommand { command: name, dry_run: None, body, region_switch: None }).map_err(|e| e.0)
    }

    #[test]
    fn status_takes_an_instance_or_a_cluster() {
        assert_eq!(
            command(json!({"command": "status", "db_instance_identifier": "orders"})),
            Ok(Command::Status { region: None, subject: Subject::Instance("orders".into()) })
        );
        assert_eq!(
            command(json!({"command": "status", "db_cluster_identifier": "catalog", "region": "eu-west-1"})),
            Ok(Command::Status { region: Some("eu-west-1".into()), subject: Subject::Cluster("catalog".into()) })
        );
        assert!(command(json!({"command": "status"})).unwrap_err().contains("exactly one"));
    }

    #[test]
    fn timeline_takes_a_primary_or_a_cluster() {
        assert_eq!(
            command(json!({"command": "timeline", "db_instance_identifier": "orders"})),
            Ok(Command::Timeline { region: None, subject: Subject::Instance("orders".into()) })
        );
        assert_eq!(
            command(json!({"command": "timeline", "db_cluster_identifier": "catalog", "region": "eu-west-1"})),
            Ok(Command::Timeline { region: Some("eu-west-1".into()), subject: Subject::Cluster("catalog".into()) })
        );
        assert!(command(json!({"command": "timeline"})).unwrap_err().contains("timeline: give exactly one"));
    }

    #[test]
    fn unfence_needs_the_instance_and_takes_who_and_why() {
        assert_eq!(
            command(json!({"command": "unfence", "db_instance_identifier": "orders", "by": "ana", "reason": "r"})),
            Ok(Command::Unfence {
                region: None,
                instance: "orders".into(),
                by: Some("ana".into()),
                reason: Some("r".into())
            })
        );
        assert!(command(json!({"command": "unfence"})).unwrap_err().contains("required"));
    }

    #[test]
    fn promote_needs_the_replica() {
        assert_eq!(
            command(json!({"command": "promote", "db_instance_identifier": " r1 ", "dry_run": true})),
            Ok(Command::Promote { region: None, replica: "r1".into() })
        );
        assert!(command(json!({"command": "promote"})).unwrap_err().contains("required"));
    }

    #[test]
    fn failover_cluster_takes_an_optional_target() {
        assert_eq!(
            command(json!({"command": "failover-cluster", "db_cluster_identifier": "c"})),
            Ok(Command::FailoverCluster { region: None, cluster: "c".into(), target: None })
        );
        assert_eq!(
            command(
                json!({"command": "failover-cluster", "db_cluster_identifier": "c", "target_db_instance_identifier": "b"})
            ),
            Ok(Command::FailoverCluster { region: None, cluster: "c".into(), target: Some("b".into()) })
        );
    }

    #[test]
    fn pause_takes_a_reason_and_who_and_every_command_takes_force() {
        assert_eq!(
            command(json!({"command": "pause", "reason": "migration", "by": "ana"})),
            Ok(Command::Pause { reason: Some("migration".into()), by: Some("ana".into()) })
        );
        assert_eq!(command(json!({"command": "resume"})), Ok(Command::Resume));
        assert!(command(json!({"command": "resume", "reason": "x"})).unwrap_err().contains("unknown field"));
        let body = json!({"command": "promote", "db_instance_identifier": "r1", "force": true});
        let manual = ManualCommand { command: "promote".into(), dry_run: None, body, region_switch: None };
        assert_eq!(force(&manual), Ok(true));
        assert!(command(json!({"command": "status", "db_instance_identifier": "o", "force": "yes"}))
            .unwrap_err()
            .contains("force must be"));
    }

    #[test]
    fn unknown_commands_fields_and_wrong_types_are_rejected_with_the_vocabulary() {
        let e = command(json!({"command": "deregister"})).unwrap_err();
        assert!(e.contains("status, promote, failover-cluster, pause, resume"), "{e}");
        let e = command(json!({"command": "promote", "db_instance_id": "r1"})).unwrap_err();
        assert!(e.contains("unknown field \"db_instance_id\""), "{e}");
        let e = command(json!({"command": "promote", "db_instance_identifier": 7})).unwrap_err();
        assert!(e.contains("must be a non-empty string"), "{e}");
    }

    #[test]
    fn switchover_global_needs_the_global_database_and_the_target() {
        let arn = "arn:aws:rds:us-west-2:123456789012:cluster:orders-west";
        assert_eq!(
            command(json!({"command": "switchover-global", "global_cluster_identifier": "orders",
                "target_db_cluster_identifier": arn})),
            Ok(Command::SwitchoverGlobal { region: None, global: "orders".into(), target: arn.into() })
        );
        let e = command(json!({"command": "switchover-global", "global_cluster_identifier": "orders"})).unwrap_err();
        assert!(e.contains("are required"), "{e}");
    }

    #[test]
    fn approve_and_reject_need_the_decision_and_who() {
        let id = "global-cluster:orders@1765112345";
        assert_eq!(
            command(json!({"command": "approve", "decision": id, "by": "ana"})),
            Ok(Command::Approve { decision: id.into(), by: "ana".into() })
        );
        assert_eq!(
            command(json!({"command": "reject", "decision": id, "by": "ana"})),
            Ok(Command::Reject { decision: id.into(), by: "ana".into() })
        );
        assert!(command(json!({"command": "approve", "decision": id})).unwrap_err().contains("are required"));
    }

    #[test]
    fn readiness_takes_an_optional_instance_or_cluster_and_nothing_else() {
        assert_eq!(
            command(json!({"command": "readiness", "dry_run": true})),
            Ok(Command::Readiness { region: None, subject: None })
        );
        assert_eq!(
            command(json!({"command": "readiness", "db_cluster_identifier": "c1", "region": "eu-west-1"})),
            Ok(Command::Readiness { region: Some("eu-west-1".into()), subject: Some(Subject::Cluster("c1".into())) })
        );
        let e = command(json!({"command": "readiness", "db_instance_identifier": "a", "db_cluster_identifier": "b"}));
        assert!(e.unwrap_err().contains("at most one"));
        let e = command(json!({"command": "readiness", "primary": "a"})).unwrap_err();
        assert!(e.contains("unknown field \"primary\""), "{e}");
    }

    #[test]
    fn every_sample_command_in_events_parses() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
        let mut seen = Vec::new();
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if !name.starts_with("manual-database-") {
                continue;
            }
            let body: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let parsed = command(body).unwrap_or_else(|e| panic!("{name}: {e}"));
            seen.push(match parsed {
                Command::Status { .. } => "status",
                Command::Promote { .. } => "promote",
                Command::FailoverCluster { .. } => "failover-cluster",
                Command::Pause { .. } => "pause",
                Command::Resume => "resume",
                Command::Readiness { .. } => "readiness",
                Command::Timeline { .. } => "timeline",
                Command::Unfence { .. } => "unfence",
                Command::SwitchoverGlobal { .. } => "switchover-global",
                Command::Approve { .. } => "approve",
                Command::Reject { .. } => "reject",
            });
        }
        for name in COMMANDS {
            assert!(seen.contains(name), "no events/manual-database-*.json sample for {name}");
        }
    }
}
