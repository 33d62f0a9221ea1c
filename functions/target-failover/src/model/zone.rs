//! Zones and ARC zonal shift, as the zonal actions see them: a load balancer with its zones and target groups,
//! and what ARC says of it (its AZ IDs, its active shifts and autoshifts). No SDK type appears here.

use std::collections::BTreeMap;

use serde::Serialize;

/// A load balancer (`DescribeLoadBalancers`) and the target groups attached to it (`DescribeTargetGroups`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Balancer {
    pub arn: String,
    /// `application`, `network`, `gateway`.
    pub kind: String,
    /// The names of its enabled zones (`us-east-1a`); ELB gives names only.
    pub zones: Vec<String>,
    /// Every target group it forwards to.
    pub groups: Vec<String>,
}

/// Who started a shift ARC applies to a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ShiftKind {
    /// A customer's zonal shift (`StartZonalShift`): a person's, or this function's (the ledger knows which).
    ZonalShift,
    /// ARC's practice run of zonal autoshift.
    PracticeRun,
    /// AWS's zonal autoshift, started from AWS's own telemetry.
    Autoshift,
}

/// One active shift (zonal shift, practice run or autoshift) on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveShift {
    pub kind: ShiftKind,
    /// The zonal shift's id (`None` for an autoshift, which has none).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The AZ ID traffic is moved away from (`use1-az1`).
    pub away_from: String,
    /// Whether ARC applies it now (`appliedStatus` APPLIED; one shift at a time is).
    pub applied: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Epoch seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<i64>,
    /// Epoch seconds (`None` for an autoshift).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// `GetManagedResource`: a load balancer registered with ARC.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ManagedResource {
    pub arn: String,
    /// AZ ID → traffic weight now (`appliedWeights`: 1.0, or 0.0 for the zone an applied shift moves away
    /// from): the resource's zones, by ID.
    pub applied_weights: BTreeMap<String, f32>,
    /// Active zonal shifts and practice runs (`zonalShifts`) and autoshifts (`autoshifts`).
    pub shifts: Vec<ActiveShift>,
    /// `zonalAutoshiftStatus` is `ENABLED`.
    pub autoshift_enabled: bool,
}
