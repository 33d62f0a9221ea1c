//! What the zonal actions ([`crate::actions::zonal::evacuate`], [`super::return_zone`], `status`) read: a load balancer's
//! ledger (resource `load-balancer:<ARN>`, records `zonal-shift#<time>-<invocation>` of the shifts this function
//! started, `deferred#<shift>` of the shifts it deferred to), and the capacity of its opted-in target groups
//! by zone (`DescribeLoadBalancers`/`DescribeTargetGroups`, `DescribeTags`, per opted-in group its ledger (the
//! incident's baseline floor while a removal is open), then `DescribeTargetHealth` beside
//! `DescribeTargetGroupAttributes` (a few groups at once), and one `DescribeInstances` for the zones of instance targets: ELB gives
//! no zone for them). An IP target's zone is its own `AvailabilityZone`; a target named by ARN (a Lambda
//! function, an NLB's ALB) serves from every zone.

use std::collections::{BTreeMap, BTreeSet};

use failover_core::ledger::{Record, Snapshot, State};
use futures::stream::{self, StreamExt};
use serde_json::Value;

use crate::actions::ledger::{self, open};
use crate::actions::Context;
use crate::decide::zonal::{GroupZones, ALL_ZONES};
use crate::model::{Balancer, ManagedResource, ShiftKind};
use crate::ports::{LoadBalancer, Ports, Zonal};

/// The ledger's name of a load balancer.
pub fn resource(load_balancer: &str) -> String {
    format!("load-balancer:{load_balancer}")
}

/// The key of the record of one zonal shift this function started: when and by which invocation (a key is
/// never reused while its record is kept, and a retry of the invocation may start another).
pub fn shift_key(owner: &str, now: i64) -> String {
    format!("zonal-shift#{now}-{owner}")
}

/// The key of the record of a shift someone else started that this function deferred to (notified once).
pub fn deferred_key(shift: &crate::model::ActiveShift) -> String {
    let id = shift.id.clone().unwrap_or_else(|| {
        format!("{:?}-{}-{}", shift.kind, shift.away_from, shift.started_at.unwrap_or_default()).to_lowercase()
    });
    format!("deferred#{id}")
}

/// One shift this function started, as its ledger record says.
#[derive(Debug, Clone, PartialEq)]
pub struct OurShift<'a> {
    pub record: &'a Record,
    /// `None` while pending (the call may or may not have been made).
    pub id: Option<&'a str>,
    pub zone: &'a str,
    pub az_id: &'a str,
}

/// The open `zonal-shift#` records of the load balancer's ledger.
pub fn our_shifts(snapshot: &Snapshot) -> Vec<OurShift<'_>> {
    snapshot
        .records
        .iter()
        .filter(|r| open(r) && r.key.starts_with("zonal-shift#"))
        .map(|r| {
            let text = |key: &str| r.data.get(key).and_then(Value::as_str);
            OurShift {
                record: r,
                id: text("shift_id").filter(|_| r.state == State::Done),
                zone: text("zone").unwrap_or_default(),
                az_id: text("az_id").unwrap_or_default(),
            }
        })
        .collect()
}

/// The ids of the shifts this function started and has not seen end.
pub fn our_ids(snapshot: &Snapshot) -> BTreeSet<String> {
    our_shifts(snapshot).iter().filter_map(|s| s.id.map(str::to_owned)).collect()
}

/// Shifts an interrupted run started without recording their id: a `zonal-shift#` record left pending (the run
/// died after `StartZonalShift`) or abandoned (the call timed out after ARC took it), without a shift id, and an
/// active zonal shift away from its AZ ID with its very comment that no other record claims. Each with its id.
pub fn interrupted<'s>(snapshot: &'s Snapshot, resource: &ManagedResource) -> Vec<(&'s Record, String)> {
    let claimed = our_ids(snapshot);
    snapshot
        .records
        .iter()
        .filter(|r| matches!(r.state, State::Pending | State::Abandoned) && r.key.starts_with("zonal-shift#"))
        .filter(|r| r.data.get("shift_id").is_none())
        .filter_map(|r| {
            let text = |key: &str| r.data.get(key).and_then(Value::as_str);
            let shift = resource.shifts.iter().find(|s| {
                s.kind == ShiftKind::ZonalShift
                    && Some(s.away_from.as_str()) == text("az_id")
                    && s.comment.as_deref() == text("comment")
                    && s.id.as_ref().is_some_and(|id| !claimed.contains(id))
            })?;
            Some((r, shift.id.clone()?))
        })
        .collect()
}

impl<P: Ports> Context<'_, P> {
    /// The load balancer's opted-in target groups, their targets placed in zones, and their floors: each from
    /// the group's ledger (one `Query`, before its health), so that while a removal of the group is open its
    /// incident's baseline floor holds for the evacuation too. `Err`: what failed, for the failure report.
    pub async fn zonal_groups(
        &self,
        balancer: &Balancer,
    ) -> Result<Vec<GroupZones>, (failover_core::aws::AwsError, &'static str)> {
        let tagged = if balancer.groups.is_empty() {
            Vec::new()
        } else {
            self.lb.tags(&balancer.groups).await.map_err(|e| (e, "reading the target groups' tags"))?
        };
        let opted_in = tagged
            .into_iter()
            .filter(|(_, tags)| tags.as_ref().is_some_and(|t| failover_core::tags::opted_in(t, self.opt_in_key())));
        // Each group's ledger before its health (while a removal is open, the incident's baseline floor holds);
        // its health and thresholds at once; the groups a few at a time.
        let read = stream::iter(opted_in)
            .map(async |(arn, _)| {
                let group_ledger =
                    self.session.read(&ledger::resource(&arn)).await.map_err(|e| (e, "reading the group's ledger"))?;
                let (targets, thresholds) = futures::join!(self.lb.target_health(&arn), self.health_thresholds(&arn));
                let Some(targets) = targets.map_err(|e| (e, "reading target health"))? else { return Ok(None) };
                let floor = match thresholds.map_err(|e| (e, "reading the group's health thresholds"))? {
                    Some(t) => self.floor_in(&group_ledger).with_group((&t).into()),
                    None => self.floor_in(&group_ledger),
                };
                Ok(Some((arn, targets, floor)))
            })
            .buffered(crate::actions::alarm::MAX_CONCURRENT_GROUPS)
            .collect::<Vec<Result<_, (failover_core::aws::AwsError, &'static str)>>>()
            .await;
        let mut groups = Vec::new();
        for group in read {
            groups.extend(group?);
        }
        let instances: Vec<String> = groups
            .iter()
            .flat_map(|(_, targets, _)| targets.iter())
            .filter(|t| crate::model::is_instance(&t.target.id))
            .map(|t| t.target.id.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let zones: BTreeMap<String, String> = if instances.is_empty() {
            BTreeMap::new()
        } else {
            self.lb.instance_zones(&instances).await.map_err(|e| (e, "reading the instances' zones"))?
        };
        Ok(groups
            .into_iter()
            .map(|(arn, targets, floor)| {
                let targets = targets
                    .into_iter()
                    .map(|t| {
                        // A Lambda function or an ALB (an NLB's target, by ARN) serves from every zone.
                        let zone = if crate::model::is_instance(&t.target.id) {
                            zones.get(&t.target.id).cloned()
                        } else if t.target.id.starts_with("arn:") {
                            Some(ALL_ZONES.to_owned())
                        } else {
                            t.target.availability_zone.clone()
                        };
                        (t, zone)
                    })
                    .collect();
                GroupZones { arn, targets, floor }
            })
            .collect())
    }
}
