//! The manual command vocabulary: parsing only (pure), from the intake's [`ManualCommand`].
//!
//! ```json
//! {"command": "status",     "target_group_arn": "arn:...:targetgroup/web/73e2d6bc24d8a067"}
//! {"command": "deregister", "target_group_arn": "...", "targets": ["i-0abc", {"id": "10.0.1.7", "port": 8080}]}
//! {"command": "restore",    "target_group_arn": "...", "targets": [{"id": "i-0abc", "port": 80}]}
//! {"command": "shift",      "target_group_arn": "..."}
//! {"command": "failback",   "target_group_arn": "...", "force": false}
//! {"command": "pause",      "reason": "bad deploy, investigating", "by": "alice"}
//! {"command": "resume"}
//! {"command": "readiness"}                       (every opted-in group of the region)
//! {"command": "readiness", "target_group_arn": "..."}  (one group)
//! {"command": "evacuate-zone", "load_balancer_arn": "arn:...:loadbalancer/app/shop/50dc6c495c0c9188",
//!  "zone": "us-east-1a", "expires_minutes": 60}   (zone: a name or an AZ ID such as use1-az1)
//! {"command": "return-zone", "load_balancer_arn": "..."}
//! {"command": "timeline", "target_group_arn": "..."}    (or "load_balancer_arn", or "incident":
//!                                                       "target-failover/targetgroup/web/73e2d6bc24d8a067")
//! ```
//! Every command takes `"dry_run": true|false` to override `DRY_RUN` for that invocation, and `"force": true`
//! to act while automation is paused ([`force`]; for `failback` it also overrides the floor). Unknown fields
//! are rejected, so a typo (`"target"`) fails loudly instead of doing something else. The keys an ARC Region
//! switch step merges into its payload (`InvokedBy`, `PlanArn`, `ExecutionId`, `StepName`) never reach this
//! vocabulary: the intake takes them out ([`failover_core::intake::region_switch`]).

use failover_core::intake::InvalidCommand;
use failover_core::intake::ManualCommand;
use serde_json::{Map, Value};

use crate::model::{group_suffix, Target};

/// The command names, as `command` spells them.
pub const COMMANDS: [&str; 11] = [
    "status",
    "deregister",
    "restore",
    "shift",
    "failback",
    "pause",
    "resume",
    "readiness",
    "evacuate-zone",
    "return-zone",
    "timeline",
];

/// ARC zonal shift's longest expiry: 72 hours.
pub const MAX_EXPIRES_MINUTES: u32 = 4320;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Health, floor, backup, saved weights, and what an alarm now would do. Changes nothing.
    Status {
        group: String,
    },
    /// Take these targets out, within the guardrail (as an instance alarm would).
    Deregister {
        group: String,
        targets: Vec<Target>,
    },
    /// Register these targets again (after a repair).
    Restore {
        group: String,
        targets: Vec<Target>,
    },
    /// Move the group's traffic to its backup group now, whatever its health.
    Shift {
        group: String,
    },
    /// Restore the saved weights now; refused while the group is below its floor unless `force`.
    Failback {
        group: String,
        force: bool,
    },
    /// Pause automation (both functions of the stack): every change is refused until `resume`.
    Pause {
        by: Option<String>,
        reason: Option<String>,
    },
    Resume,
    /// Checks what a failover would need, for every opted-in group or the one named. Changes nothing.
    Readiness {
        group: Option<String>,
    },
    /// Start a zonal shift away from a zone of a load balancer, with the guards of a per-zone alarm.
    EvacuateZone {
        load_balancer: String,
        /// A zone name (`us-east-1a`) or an AZ ID (`use1-az1`).
        zone: String,
        /// 1 to [`MAX_EXPIRES_MINUTES`]; `None`: `ZONAL_SHIFT_EXPIRES_MINUTES`.
        expires_minutes: Option<u32>,
    },
    /// Cancel the zonal shifts this function started on the load balancer (never anyone else's).
    ReturnZone {
        load_balancer: String,
    },
    /// The last incident of a group or of a load balancer's zones, as its ledger records it: its steps in order,
    /// time to mitigate and to recover. Changes nothing.
    Timeline {
        of: Subject,
    },
}

/// What a `timeline` is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    /// A target group's ARN.
    Group(String),
    /// A load balancer's ARN (its zones' incidents).
    LoadBalancer(String),
    /// An incident id as the notifications carry it, without the function's name: `targetgroup/<name>/<id>` or
    /// `loadbalancer/app/<name>/<id>`; the route makes it an ARN of the function's own account and region.
    Incident(String),
}

impl Command {
    pub fn name(&self) -> &'static str {
        match self {
            Command::Status { .. } => "status",
            Command::Deregister { .. } => "deregister",
            Command::Restore { .. } => "restore",
            Command::Shift { .. } => "shift",
            Command::Failback { .. } => "failback",
            Command::Pause { .. } => "pause",
            Command::Resume => "resume",
            Command::Readiness { .. } => "readiness",
            Command::EvacuateZone { .. } => "evacuate-zone",
            Command::ReturnZone { .. } => "return-zone",
            Command::Timeline { .. } => "timeline",
        }
    }

    /// The load balancer a zonal command is about.
    pub fn load_balancer(&self) -> Option<&str> {
        match self {
            Command::EvacuateZone { load_balancer, .. } | Command::ReturnZone { load_balancer } => Some(load_balancer),
            Command::Timeline { of: Subject::LoadBalancer(load_balancer) } => Some(load_balancer),
            _ => None,
        }
    }

    /// The group it is about; `None` for `pause`, `resume` and a region-wide `readiness`.
    pub fn group(&self) -> Option<&str> {
        match self {
            Command::Status { group }
            | Command::Deregister { group, .. }
            | Command::Restore { group, .. }
            | Command::Shift { group }
            | Command::Failback { group, .. } => Some(group),
            Command::Readiness { group } => group.as_deref(),
            Command::Timeline { of: Subject::Group(group) } => Some(group),
            Command::Pause { .. }
            | Command::Resume
            | Command::EvacuateZone { .. }
            | Command::ReturnZone { .. }
            | Command::Timeline { .. } => None,
        }
    }
}

pub fn parse(manual: &ManualCommand) -> Result<Command, InvalidCommand> {
    let Some(body) = manual.body.as_object() else { return Err("the command must be a JSON object".into()) };
    let name = manual.command.as_str();
    let allowed: &[&str] = match name {
        "status" | "shift" | "failback" | "readiness" => &["target_group_arn"],
        "deregister" | "restore" => &["target_group_arn", "targets"],
        "pause" => &["reason", "by"],
        "evacuate-zone" => &["load_balancer_arn", "zone", "expires_minutes"],
        "return-zone" => &["load_balancer_arn"],
        "timeline" => &["target_group_arn", "load_balancer_arn", "incident"],
        "resume" => &[],
        other => return Err(format!("unknown command {other:?}; expected one of {}", COMMANDS.join(", ")).into()),
    };
    if let Some(unknown) =
        body.keys().find(|k| !["command", "dry_run", "force"].contains(&k.as_str()) && !allowed.contains(&k.as_str()))
    {
        return Err(format!("command {name:?} does not take field {unknown:?}").into());
    }
    let force = force(body)?;
    match name {
        "pause" => return Ok(Command::Pause { by: text(body, "by")?, reason: text(body, "reason")? }),
        "resume" => return Ok(Command::Resume),
        "evacuate-zone" | "return-zone" => return zonal(name, body),
        "timeline" => return timeline(body),
        "readiness" if !body.contains_key("target_group_arn") => return Ok(Command::Readiness { group: None }),
        _ => {}
    }
    let group = match body.get("target_group_arn") {
        Some(Value::String(arn)) if group_suffix(arn.trim()).is_some() => arn.trim().to_owned(),
        Some(other) => return Err(format!("target_group_arn must be a target group ARN, got {other}").into()),
        None => return Err(format!("command {name:?} needs target_group_arn").into()),
    };
    Ok(match name {
        "status" => Command::Status { group },
        "readiness" => Command::Readiness { group: Some(group) },
        "shift" => Command::Shift { group },
        "failback" => Command::Failback { group, force },
        "deregister" => Command::Deregister { group, targets: targets(body)? },
        _ => Command::Restore { group, targets: targets(body)? },
    })
}

/// `evacuate-zone` and `return-zone`.
fn zonal(name: &str, body: &Map<String, Value>) -> Result<Command, InvalidCommand> {
    let load_balancer = match body.get("load_balancer_arn") {
        Some(Value::String(arn)) if balancer_arn(arn.trim()) => arn.trim().to_owned(),
        Some(other) => {
            return Err(
                format!("load_balancer_arn must be an application or network load balancer ARN, got {other}").into()
            )
        }
        None => return Err(format!("command {name:?} needs load_balancer_arn").into()),
    };
    if name == "return-zone" {
        return Ok(Command::ReturnZone { load_balancer });
    }
    let Some(zone) = text(body, "zone")? else {
        return Err("command \"evacuate-zone\" needs zone (a zone name such as us-east-1a, or an AZ ID)".into());
    };
    let expires_minutes = match body.get("expires_minutes") {
        None | Some(Value::Null) => None,
        Some(v) => {
            match v.as_u64().and_then(|m| u32::try_from(m).ok()).filter(|m| (1..=MAX_EXPIRES_MINUTES).contains(m)) {
                Some(m) => Some(m),
                None => {
                    return Err(format!(
                        "expires_minutes must be a whole number from 1 to {MAX_EXPIRES_MINUTES}, got {v}"
                    )
                    .into())
                }
            }
        }
    };
    Ok(Command::EvacuateZone { load_balancer, zone, expires_minutes })
}

/// `timeline`: exactly one of `target_group_arn`, `load_balancer_arn`, `incident`.
fn timeline(body: &Map<String, Value>) -> Result<Command, InvalidCommand> {
    let given: Vec<&str> = ["target_group_arn", "load_balancer_arn", "incident"]
        .into_iter()
        .filter(|field| body.get(*field).is_some_and(|v| !v.is_null()))
        .collect();
    let [field] = given.as_slice() else {
        return Err("command \"timeline\" needs one of target_group_arn, load_balancer_arn, incident".into());
    };
    let value = &body[*field];
    let text = value.as_str().map(str::trim).unwrap_or_default();
    let of = match *field {
        "target_group_arn" if group_suffix(text).is_some() => Subject::Group(text.to_owned()),
        "load_balancer_arn" if balancer_arn(text) => Subject::LoadBalancer(text.to_owned()),
        "incident" => {
            let suffix = text.strip_prefix(crate::FUNCTION).and_then(|s| s.strip_prefix('/')).unwrap_or(text);
            let parts: Vec<&str> = suffix.split('/').collect();
            let valid = match parts.as_slice() {
                ["targetgroup", name, id] => !name.is_empty() && !id.is_empty(),
                ["loadbalancer", kind, name, id] => ["app", "net"].contains(kind) && !name.is_empty() && !id.is_empty(),
                _ => false,
            };
            if !valid {
                return Err(format!(
                    "incident must be an incident id such as {}/targetgroup/<name>/<id> or \
                     {}/loadbalancer/app/<name>/<id>, got {value}",
                    crate::FUNCTION,
                    crate::FUNCTION
                )
                .into());
            }
            Subject::Incident(suffix.to_owned())
        }
        "target_group_arn" => return Err(format!("target_group_arn must be a target group ARN, got {value}").into()),
        _ => return Err(format!("load_balancer_arn must be a load balancer ARN, got {value}").into()),
    };
    Ok(Command::Timeline { of })
}

/// `arn:<partition>:elasticloadbalancing:<region>:<account>:loadbalancer/app|net/<name>/<id>`.
pub fn balancer_arn(arn: &str) -> bool {
    let Some((prefix, suffix)) = arn.split_once(":loadbalancer/") else { return false };
    let parts: Vec<&str> = suffix.split('/').collect();
    prefix.contains(":elasticloadbalancing:")
        && matches!(parts.as_slice(), [kind, name, id] if ["app", "net"].contains(kind) && !name.is_empty() && !id.is_empty())
}

/// `"force"` ([`failover_core::intake::force`]).
pub fn force(body: &Map<String, Value>) -> Result<bool, InvalidCommand> {
    failover_core::intake::force(body.get("force"))
}

/// An optional text field ([`failover_core::intake::text`]).
fn text(body: &Map<String, Value>, field: &str) -> Result<Option<String>, InvalidCommand> {
    failover_core::intake::text(body.get(field), field)
}

/// `targets`: a non-empty list of ids (`"i-0abc"`) or objects `{"id", "port"?, "availability_zone"?}`.
fn targets(body: &Map<String, Value>) -> Result<Vec<Target>, InvalidCommand> {
    let Some(Value::Array(items)) = body.get("targets") else {
        return Err("targets must be a non-empty list of ids or {\"id\", \"port\"} objects".into());
    };
    if items.is_empty() {
        return Err("targets must not be empty".into());
    }
    items
        .iter()
        .map(|item| match item {
            Value::String(id) if !id.trim().is_empty() => Ok(Target::new(id.trim(), None)),
            Value::Object(o) => {
                let id = o.get("id").and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty());
                let Some(id) = id else { return Err(format!("target {item} has no id").into()) };
                let port = match o.get("port") {
                    None => None,
                    Some(p) => match p.as_i64().and_then(|p| i32::try_from(p).ok()).filter(|p| (1..=65535).contains(p))
                    {
                        Some(p) => Some(p),
                        None => return Err(format!("target {item} has a bad port").into()),
                    },
                };
                let mut target = Target::new(id, port);
                target.availability_zone = o.get("availability_zone").and_then(Value::as_str).map(str::to_owned);
                Ok(target)
            }
            other => Err(format!("target {other} must be an id or an {{\"id\", \"port\"}} object").into()),
        })
        .collect()
}

#[cfg(test)]
mod tests;
