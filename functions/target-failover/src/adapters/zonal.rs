//! [`Zonal`] for [`ElbClient`]: the load balancer and its groups (ELB), ARC zonal shift (aws-sdk-arczonalshift),
//! and EC2's zone facts ([`super::ec2`]). A client built without ARC or EC2 answers their calls "not modelled".
//!
//! Calls: `DescribeLoadBalancers` (one ARN) and `DescribeTargetGroups` (by load balancer, paginated) for
//! [`Zonal::balancer`]; `DescribeTargetGroups` (one group) for [`Zonal::balancers_of`];
//! `DescribeLoadBalancerAttributes` for [`Zonal::balancer_cross_zone`]; `GetManagedResource`,
//! `StartZonalShift`, `CancelZonalShift`; CloudWatch `DescribeAlarms` for [`Zonal::zone_alarms_in_alarm`]
//! ([`super::alarms`]).

use std::collections::BTreeMap;

use aws_sdk_arczonalshift::operation::cancel_zonal_shift::CancelZonalShiftError;
use aws_sdk_arczonalshift::operation::update_zonal_shift::UpdateZonalShiftError;
use aws_sdk_arczonalshift::types::{
    AppliedStatus, AutoshiftAppliedStatus, AutoshiftInResource, ConflictExceptionReason, ShiftType,
    ZonalAutoshiftStatus, ZonalShiftInResource,
};
use failover_core::aws::{AwsContext, AwsError};

use super::ElbClient;
use crate::model::{ActiveShift, Balancer, ManagedResource, ShiftKind, CROSS_ZONE};
use crate::ports::Zonal;

impl ElbClient {
    fn arc(&self, operation: &'static str, resource: &str) -> Result<&aws_sdk_arczonalshift::Client, AwsError> {
        self.arc.as_ref().ok_or_else(|| AwsError::not_modelled(operation, resource))
    }

    fn ec2(&self, operation: &'static str, resource: &str) -> Result<&super::Ec2Query, AwsError> {
        self.ec2.as_ref().ok_or_else(|| AwsError::not_modelled(operation, resource))
    }
}

impl Zonal for ElbClient {
    async fn zone_alarms_in_alarm(&self, load_balancer: &str, zone: &str) -> Result<Vec<(String, String)>, AwsError> {
        self.alarms_about_zone(load_balancer, zone).await
    }

    async fn balancer(&self, arn: &str) -> Result<Option<Balancer>, AwsError> {
        let described = match self.client.describe_load_balancers().load_balancer_arns(arn).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_load_balancer_not_found_exception()) => {
                return Ok(None)
            }
            Err(e) => return Err(AwsError::from_sdk("DescribeLoadBalancers", arn, &e)),
        };
        let Some(found) = described.load_balancers().iter().find(|b| b.load_balancer_arn() == Some(arn)) else {
            return Ok(None);
        };
        let described =
            self.client.describe_target_groups().load_balancer_arn(arn).into_paginator().items().send().try_collect();
        // A load balancer with no target group: moto answers TargetGroupNotFound; either way, none.
        let groups = match described.await {
            Ok(groups) => groups,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_target_group_not_found_exception()) => Vec::new(),
            Err(e) => return Err(AwsError::from_sdk("DescribeTargetGroups", arn, &e)),
        };
        Ok(Some(Balancer {
            arn: arn.to_owned(),
            kind: found.r#type().map(|t| t.as_str().to_owned()).unwrap_or_default(),
            zones: found.availability_zones().iter().filter_map(|z| z.zone_name().map(str::to_owned)).collect(),
            groups: groups.into_iter().filter_map(|g| g.target_group_arn).collect(),
        }))
    }

    async fn balancers_of(&self, group: &str) -> Result<Vec<String>, AwsError> {
        let described = match self.client.describe_target_groups().target_group_arns(group).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_target_group_not_found_exception()) => {
                return Ok(Vec::new())
            }
            Err(e) => return Err(AwsError::from_sdk("DescribeTargetGroups", group, &e)),
        };
        Ok(attached(described.target_groups()))
    }

    async fn zone_ids(&self) -> Result<BTreeMap<String, String>, AwsError> {
        self.ec2("DescribeAvailabilityZones", "(all)")?.zone_ids().await
    }

    async fn instance_zones(&self, ids: &[String]) -> Result<BTreeMap<String, String>, AwsError> {
        if ids.is_empty() {
            return Ok(BTreeMap::new());
        }
        self.ec2("DescribeInstances", &ids.join(", "))?.instance_zones(ids).await
    }

    async fn balancer_cross_zone(&self, arn: &str) -> Result<Option<String>, AwsError> {
        let output = match self.client.describe_load_balancer_attributes().load_balancer_arn(arn).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_load_balancer_not_found_exception()) => {
                return Ok(None)
            }
            Err(e) => return Err(AwsError::from_sdk("DescribeLoadBalancerAttributes", arn, &e)),
        };
        let value = output.attributes().iter().find(|a| a.key() == Some(CROSS_ZONE)).and_then(|a| a.value());
        Ok(value.map(str::to_owned))
    }

    async fn managed_resource(&self, arn: &str) -> Result<Option<ManagedResource>, AwsError> {
        let arc = self.arc("GetManagedResource", arn)?;
        let output = match arc.get_managed_resource().resource_identifier(arn).send().await {
            Ok(output) => output,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => return Ok(None),
            Err(e) => return Err(AwsError::from_sdk("GetManagedResource", arn, &e)),
        };
        let shifts =
            output.zonal_shifts().iter().map(zonal_shift).chain(output.autoshifts().iter().map(autoshift)).collect();
        Ok(Some(ManagedResource {
            arn: output.arn().unwrap_or(arn).to_owned(),
            applied_weights: output.applied_weights().iter().map(|(k, v)| (k.clone(), *v)).collect(),
            shifts,
            autoshift_enabled: output.zonal_autoshift_status() == Some(&ZonalAutoshiftStatus::Enabled),
        }))
    }

    async fn start_shift(
        &self,
        arn: &str,
        away_from: &str,
        expires_minutes: u32,
        comment: &str,
    ) -> Result<String, AwsError> {
        let arc = self.arc("StartZonalShift", arn)?;
        let output = arc
            .start_zonal_shift()
            .resource_identifier(arn)
            .away_from(away_from)
            .expires_in(format!("{expires_minutes}m"))
            // A longer comment is cut to ARC's limit, not refused.
            .comment(comment.chars().take(crate::decide::zonal::COMMENT_MAX).collect::<String>())
            .send()
            .await
            .aws("StartZonalShift", arn)?;
        Ok(output.zonal_shift_id().to_owned())
    }

    async fn cancel_shift(&self, id: &str) -> Result<bool, AwsError> {
        let arc = self.arc("CancelZonalShift", id)?;
        match arc.cancel_zonal_shift().zonal_shift_id(id).send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    matches!(s, CancelZonalShiftError::ResourceNotFoundException(_))
                        || matches!(s, CancelZonalShiftError::ConflictException(c)
                            if c.reason() == &ConflictExceptionReason::ZonalShiftStatusNotActive)
                }) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::from_sdk("CancelZonalShift", id, &e)),
        }
    }

    async fn extend_shift(&self, id: &str, expires_minutes: u32) -> Result<bool, AwsError> {
        let arc = self.arc("UpdateZonalShift", id)?;
        match arc.update_zonal_shift().zonal_shift_id(id).expires_in(format!("{expires_minutes}m")).send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error().is_some_and(|s| {
                    matches!(s, UpdateZonalShiftError::ResourceNotFoundException(_))
                        || matches!(s, UpdateZonalShiftError::ConflictException(c)
                            if c.reason() == &ConflictExceptionReason::ZonalShiftStatusNotActive)
                }) =>
            {
                Ok(false)
            }
            Err(e) => Err(AwsError::from_sdk("UpdateZonalShift", id, &e)),
        }
    }
}

/// The load balancers the described target groups are attached to, sorted, once each.
pub(super) fn attached(groups: &[aws_sdk_elasticloadbalancingv2::types::TargetGroup]) -> Vec<String> {
    let mut balancers: Vec<String> = groups.iter().flat_map(|g| g.load_balancer_arns().iter().cloned()).collect();
    balancers.sort();
    balancers.dedup();
    balancers
}

/// A zonal shift or a practice run (ARC lists both under `zonalShifts`; a practice run has a
/// `practiceRunOutcome` and the shift type `PRACTICE_RUN`). An autoshift listed there counts as one.
fn zonal_shift(shift: &ZonalShiftInResource) -> ActiveShift {
    let kind = match shift.shift_type() {
        Some(ShiftType::PracticeRun) => ShiftKind::PracticeRun,
        Some(ShiftType::ZonalAutoshift) => ShiftKind::Autoshift,
        _ if shift.practice_run_outcome().is_some() => ShiftKind::PracticeRun,
        _ => ShiftKind::ZonalShift,
    };
    ActiveShift {
        kind,
        id: Some(shift.zonal_shift_id().to_owned()),
        away_from: shift.away_from().to_owned(),
        applied: shift.applied_status() == &AppliedStatus::Applied,
        comment: Some(shift.comment().to_owned()).filter(|c| !c.is_empty()),
        started_at: Some(shift.start_time().secs()),
        expires_at: Some(shift.expiry_time().secs()),
    }
}

fn autoshift(shift: &AutoshiftInResource) -> ActiveShift {
    ActiveShift {
        kind: ShiftKind::Autoshift,
        id: None,
        away_from: shift.away_from().to_owned(),
        applied: shift.applied_status() == &AutoshiftAppliedStatus::Applied,
        comment: None,
        started_at: Some(shift.start_time().secs()),
        expires_at: None,
    }
}

#[cfg(test)]
mod tests {
    use aws_sdk_arczonalshift::types::PracticeRunOutcome;
    use aws_smithy_types::DateTime;

    use super::*;

    fn shift(kind: Option<ShiftType>, outcome: Option<PracticeRunOutcome>) -> ZonalShiftInResource {
        ZonalShiftInResource::builder()
            .applied_status(AppliedStatus::Applied)
            .zonal_shift_id("s-1")
            .resource_identifier("arn:lb")
            .away_from("use1-az1")
            .start_time(DateTime::from_secs(10))
            .expiry_time(DateTime::from_secs(70))
            .comment("")
            .set_shift_type(kind)
            .set_practice_run_outcome(outcome)
            .build()
            .expect("a complete shift")
    }

    #[test]
    fn a_practice_run_is_told_from_a_zonal_shift() {
        assert_eq!(zonal_shift(&shift(Some(ShiftType::ZonalShift), None)).kind, ShiftKind::ZonalShift);
        assert_eq!(zonal_shift(&shift(None, None)).kind, ShiftKind::ZonalShift);
        assert_eq!(zonal_shift(&shift(Some(ShiftType::PracticeRun), None)).kind, ShiftKind::PracticeRun);
        assert_eq!(zonal_shift(&shift(None, Some(PracticeRunOutcome::Pending))).kind, ShiftKind::PracticeRun);
    }

    #[test]
    fn a_shift_keeps_its_zone_times_and_leaves_an_empty_comment_out() {
        let active = zonal_shift(&shift(None, None));
        assert_eq!(active.away_from, "use1-az1");
        assert!(active.applied);
        assert_eq!((active.started_at, active.expires_at), (Some(10), Some(70)));
        assert_eq!(active.comment, None);
        assert_eq!(active.id.as_deref(), Some("s-1"));
    }
}
