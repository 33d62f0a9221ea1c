//! A read replica the function creates after a promotion (`crate::actions::recreate`): what it asks RDS for,
//! and what came of it.

use failover_core::tags::Tags;
use serde::{Deserialize, Serialize};

use super::DbRef;

/// A read replica to create (`CreateDBInstanceReadReplica`): of `source`, in its region, named `id`, with
/// these tags set on creation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewReplica {
    pub source: DbRef,
    pub id: String,
    pub class: Option<String>,
    pub zone: Option<String>,
    /// The promoted replica's VPC security groups: without them RDS gives the new replica the VPC's default
    /// group, which the clients of its next failover could not reach.
    pub security_groups: Vec<String>,
    pub tags: Tags,
}

impl NewReplica {
    /// The `aws` command that creates the replica by hand.
    pub fn command(&self) -> String {
        let request = self;
        let mut command = format!(
            "aws rds create-db-instance-read-replica --region {} --db-instance-identifier {} \
             --source-db-instance-identifier {}",
            request.source.region, request.id, request.source.id
        );
        if let Some(class) = &request.class {
            command.push_str(&format!(" --db-instance-class {class}"));
        }
        if let Some(zone) = &request.zone {
            command.push_str(&format!(" --availability-zone {zone}"));
        }
        if !request.security_groups.is_empty() {
            command.push_str(&format!(" --vpc-security-group-ids {}", request.security_groups.join(" ")));
        }
        let tags: Vec<String> = request.tags.iter().map(|(k, v)| format!("Key={k},Value={v}")).collect();
        command.push_str(&format!(" --tags {}", tags.join(" ")));
        command
    }
}

/// What the replica step did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum Recreated {
    /// `RECREATE_REPLICA` is off.
    Off,
    Created {
        id: String,
        of: String,
    },
    /// An earlier run of the same decision created it.
    AlreadyCreated {
        id: String,
        of: String,
    },
    /// Not created: why, and the command that creates it.
    NotCreated {
        id: String,
        of: String,
        reason: String,
        command: String,
    },
}

impl Recreated {
    /// One sentence for the notification; `None` when the step is off.
    pub fn sentence(&self) -> Option<String> {
        Some(match self {
            Recreated::Off => return None,
            Recreated::Created { id, of } => format!("Read replica {id} of {of} is being created (RECREATE_REPLICA)."),
            Recreated::AlreadyCreated { id, of } => {
                format!("Read replica {id} of {of} was already created by an earlier run of this decision.")
            }
            Recreated::NotCreated { id, of, reason, command } => {
                format!("WARNING: no read replica of {of} was created ({id}: {reason}); create one: {command}")
            }
        })
    }
}
