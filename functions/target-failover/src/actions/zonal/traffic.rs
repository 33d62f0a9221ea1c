//! What traffic sees of a group, read once per alarm and per group before its plan: the group's load balancers
//! (`DescribeTargetGroups`, once per invocation: [`crate::actions::reads`]), what ARC applies to each (one
//! `GetManagedResource` per load balancer, all at once), and, when a decision needs zones, the AZ IDs' names
//! (`DescribeAvailabilityZones`, only when a shift is applied) beside the zones of the group's instances and of those it removed within the zone window (one `DescribeInstances`).
//! [`crate::decide::traffic`] places the targets with them; the removal plan, its zone rule and signal 2
//! ([`super::zone_watch`]) all use these facts, and so does a person's `deregister` ([`placed_for_removal`]).
//!
//! Zones are needed when a shift is applied (which targets it takes out of traffic), when signal 2's pre-check
//! passes, or when the plan takes or keeps a serving target (the zone rule). A read that is denied or not
//! available (the zonal IAM missing) leaves the group as `DescribeTargetHealth` alone shows it (its
//! `AdministrativeOverride` still counts), noted in the report's details (`zonal_checks`); a transient one fails
//! the group's entry (Lambda retries the event).

use std::collections::BTreeMap;

use failover_core::aws::AwsError;
use failover_core::report::Report;

use crate::actions::Context;
use crate::decide::{self, traffic, zonal_signal, Candidates, Floor, GroupView, Plan};
use crate::model::{balancer_kind, is_instance, CrossZone, ManagedResource, Target, TargetHealth};
use crate::ports::{Ports, Zonal};
use crate::report::{self, action};

/// The facts, as read.
#[derive(Debug, Clone, Default)]
pub struct Traffic {
    pub balancers: Vec<String>,
    /// The load balancers registered with ARC, as `GetManagedResource` gives them.
    pub resources: Vec<ManagedResource>,
    /// Zone name → AZ ID (read only when a shift is applied).
    pub ids: BTreeMap<String, String>,
    /// Instance id → zone name; `None` when zones were not needed.
    pub instances: Option<BTreeMap<String, String>>,
}

impl Traffic {
    /// The targets placed in their zones, those traffic left marked; as they were when zones were not read.
    pub fn place(&self, targets: &[TargetHealth]) -> Vec<TargetHealth> {
        match &self.instances {
            Some(instances) => traffic::place(targets, instances, &traffic::shifted_zones(&self.resources, &self.ids)),
            None => targets.to_vec(),
        }
    }

    pub fn any_applied(&self) -> bool {
        zonal_signal::any_applied(&self.resources)
    }
}

/// Whether a plan is worth the reads: it removes targets or keeps accused targets in service. A shift to the
/// backup group is decided on `DescribeTargetHealth` alone, whose `AdministrativeOverride` already takes the
/// targets of a zone shifted away out of `can_serve`: it reads nothing more before moving the traffic.
pub fn worth_reading(plan: &Plan) -> bool {
    match plan {
        Plan::Deregister { .. } => true,
        Plan::Refuse { kept, .. } => !kept.is_empty(),
        _ => false,
    }
}

/// Reads what traffic sees of the group. `removed` are the targets the group removed within the zone window
/// (their zones serve signal 2), `look` is signal 2's pre-check. `Ok(None)`: a read was denied or is not
/// available (noted in `notes`); `Err`: a transient failure, as the group's report.
pub async fn read<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    targets: &[TargetHealth],
    removed: &[Target],
    plan: &Plan,
    look: bool,
    notes: &mut Vec<String>,
) -> Result<Option<Traffic>, Box<Report>> {
    let doing = "reading the group's load balancers";
    let Some(balancers) = noted(ctx.balancers_of(arn).await, arn, doing, notes)? else { return Ok(None) };
    let mut facts = Traffic { balancers, ..Traffic::default() };
    // The load balancers at once (a group is behind a few at most).
    let managed = futures::future::join_all(facts.balancers.iter().map(|lb| ctx.lb.managed_resource(lb))).await;
    for read in managed {
        let doing = "reading the load balancer's zonal shifts";
        // One not registered with ARC (or whose read is denied, noted) applies no shift: ELB's override still counts.
        if let Some(Some(resource)) = noted(read, arn, doing, notes)? {
            facts.resources.push(resource);
        }
    }
    let serving_in_plan = match plan {
        Plan::Deregister { targets, kept, .. } => !kept.is_empty() || targets.iter().any(TargetHealth::serves),
        Plan::Refuse { kept, .. } => !kept.is_empty(),
        _ => false,
    };
    let look = look && !facts.resources.is_empty();
    // A group behind no load balancer takes no traffic anywhere: no zone of it to keep lit.
    let serving_in_plan = serving_in_plan && !facts.balancers.is_empty();
    if !(facts.any_applied() || look || serving_in_plan) {
        return Ok(Some(facts));
    }
    let mut ids: Vec<String> =
        targets.iter().map(|t| t.target.id.clone()).chain(removed.iter().map(|t| t.id.clone())).collect();
    ids.retain(|id| is_instance(id));
    ids.sort();
    ids.dedup();
    // The AZ IDs (only when a shift is applied) beside the instances' zones.
    let zone_ids = async {
        if facts.any_applied() {
            Some(ctx.lb.zone_ids().await)
        } else {
            None
        }
    };
    let zones = async {
        if ids.is_empty() {
            None
        } else {
            Some(ctx.lb.instance_zones(&ids).await)
        }
    };
    let (zone_ids, zones) = futures::join!(zone_ids, zones);
    if let Some(read) = zone_ids {
        let doing = "reading the zones' AZ IDs";
        let Some(ids) = noted(read, arn, doing, notes)? else { return Ok(None) };
        facts.ids = ids;
    }
    let Some(read) = zones else {
        facts.instances = Some(BTreeMap::new());
        return Ok(Some(facts));
    };
    let doing = "reading the instances' zones";
    let Some(instances) = noted(read, arn, doing, notes)? else { return Ok(None) };
    facts.instances = Some(instances);
    Ok(Some(facts))
}

/// Whether the group's floor and thresholds hold per zone: cross-zone load balancing is off for it behind one
/// of its load balancers (its own `load_balancing.cross_zone.enabled`; when it defers, an NLB's or a GWLB's
/// own setting, one `DescribeLoadBalancerAttributes` each; an ALB is always cross-zone at its level). A read
/// denied or not available is noted and the group's floor is held as a whole, as without the attribute.
pub async fn per_zone<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    cross_zone: CrossZone,
    balancers: &[String],
    notes: &mut Vec<String>,
) -> Result<bool, Box<Report>> {
    if !cross_zone.defers() {
        return Ok(!cross_zone.enabled("", None));
    }
    for lb in balancers {
        let kind = balancer_kind(lb);
        let value = if kind == "application" {
            None
        } else {
            let doing = "reading the load balancer's cross-zone setting";
            match noted(ctx.lb.balancer_cross_zone(lb).await, arn, doing, notes)? {
                Some(value) => value,
                None => return Ok(false),
            }
        };
        if !cross_zone.enabled(kind, value.as_deref()) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// The group's targets placed in their zones for a person's removal (`deregister`): the same reads as an alarm's,
/// without signal 2. `Ok(None)`: nothing to place (no removal or refusal planned, or a read denied: logged).
pub async fn placed_for_removal<P: Ports>(
    ctx: &Context<'_, P>,
    view: GroupView<'_>,
    wanted: &[Target],
    floor: Floor,
) -> Result<Option<Vec<TargetHealth>>, Box<Report>> {
    let first = decide::on_alarm(view, Candidates::Named(wanted), floor);
    if !worth_reading(&first) {
        return Ok(None);
    }
    let mut notes = Vec::new();
    let facts = read(ctx, view.arn, view.targets, &[], &first, false, &mut notes).await?;
    Ok(facts.map(|f| f.place(view.targets)))
}

/// A read: `Ok(Some)` on success; a transient failure fails the group's entry (`Err`, retried); any other (not
/// modelled, access denied) is noted and the group is decided without it (`Ok(None)`).
pub fn noted<T>(
    result: Result<T, AwsError>,
    arn: &str,
    doing: &str,
    notes: &mut Vec<String>,
) -> Result<Option<T>, Box<Report>> {
    match result {
        Ok(value) => Ok(Some(value)),
        Err(e) if e.transient => Err(Box::new(report::failed(Some(arn), action::DEREGISTER, &e, doing))),
        Err(e) => {
            tracing::warn!(target_group = %arn, error = %e, "skipping the zonal checks of a removal");
            notes.push(format!("{doing}: {e}"));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use failover_core::outcome::Outcome;

    fn error(transient: bool) -> AwsError {
        let code = if transient { "Throttling" } else { "AccessDeniedException" };
        AwsError { code: Some(code.into()), transient, ..AwsError::not_modelled("GetManagedResource", "lb") }
    }

    #[test]
    fn a_denied_or_unmodelled_zonal_read_is_noted_and_the_removal_goes_on() {
        let mut notes = Vec::new();
        let denied: Result<(), AwsError> = Err(error(false));
        assert!(matches!(noted(denied, "tg", "reading", &mut notes), Ok(None)));
        let missing: Result<(), AwsError> = Err(AwsError::not_modelled("DescribeTargetGroups", "tg"));
        assert!(matches!(noted(missing, "tg", "reading", &mut notes), Ok(None)));
        assert_eq!(notes.len(), 2);
        assert!(notes[0].starts_with("reading: GetManagedResource lb"), "{notes:?}");
    }

    #[test]
    fn a_transient_zonal_read_fails_the_group() {
        let mut notes = Vec::new();
        let throttled: Result<(), AwsError> = Err(error(true));
        let failed = noted(throttled, "tg", "reading", &mut notes).expect_err("a failure report");
        assert_eq!((failed.outcome, failed.retry()), (Outcome::Failed, true));
        assert!(notes.is_empty());
    }
}
