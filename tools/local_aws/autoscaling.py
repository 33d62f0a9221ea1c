"""Amazon EC2 Auto Scaling as AWS behaves where moto 5.2.5 differs; patches moto's Auto Scaling backend on import:
SetInstanceHealth(Unhealthy) replaces the instance, and groups spread their instances over their zones.

API reference: https://docs.aws.amazon.com/autoscaling/ec2/APIReference/Welcome.html
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from moto.autoscaling.exceptions import ValidationError
from moto.autoscaling.models import AutoScalingBackend, FakeAutoScalingGroup
from moto.autoscaling.responses import AutoScalingResponse
from moto.core.responses import EmptyResult

_orig_create_group = AutoScalingBackend.create_auto_scaling_group


def _create_auto_scaling_group(self, *args, **kwargs):
    """CreateAutoScalingGroup's HealthCheckGracePeriod: "Default: 0 seconds"; moto sets 300 when it is missing
    and when it is 0. Kept as given, 0 when absent.
    https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_CreateAutoScalingGroup.html"""
    result = _orig_create_group(self, *args, **kwargs)
    group = self.autoscaling_groups[kwargs["name"] if "name" in kwargs else args[0]]
    period = kwargs.get("health_check_period")
    group.health_check_grace_period = 0 if period is None else int(period)
    return result


def _within_grace_period(group, instance) -> bool:
    """The instance was launched less than the group's HealthCheckGracePeriod ago.
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/health-check-grace-period.html"""
    period = int(group.health_check_grace_period or 0)
    launched = instance.launch_time
    if period <= 0 or not isinstance(launched, dt.datetime):
        return False
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) if launched.tzinfo is None \
        else dt.datetime.now(dt.timezone.utc)
    return (now - launched).total_seconds() < period


def _set_instance_health(self, instance_id: str, health_status: str, should_respect_grace_period: bool = True):
    """SetInstanceHealth(Unhealthy): "Amazon EC2 Auto Scaling terminates and replaces the unhealthy instance": it is
    deregistered from the group's target groups, leaves the group, is terminated, and a replacement is launched and
    registered (desired capacity unchanged); moto only recorded the status. ShouldRespectGracePeriod (default
    true) leaves an instance inside its grace period in service, recorded Unhealthy (no clock runs here to replace
    it later). Healthy is recorded as moto did. An unknown instance or status is a 400 ValidationError (moto: HTTP
    500). https://docs.aws.amazon.com/autoscaling/ec2/APIReference/API_SetInstanceHealth.html and
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-health-checks.html"""
    if health_status not in ("Healthy", "Unhealthy"):
        raise ValidationError("Valid instance health states are: [Healthy, Unhealthy].")
    state = next((s for group in self.autoscaling_groups.values() for s in group.instance_states
                  if s.instance.id == instance_id), None)
    if state is None:
        raise ValidationError(f"Instance Id not found - No managed instance found for instance ID: {instance_id}")
    state.health_status = health_status
    group = state.instance.autoscaling_group
    if health_status == "Healthy" or (should_respect_grace_period and _within_grace_period(group, state.instance)):
        return
    for arn in group.target_group_arns or []:
        target_group = self.elbv2_backend.target_groups.get(arn)
        if target_group is not None:
            target_group.deregister([{"Id": instance_id}])
    group.instance_states = [s for s in group.instance_states if s is not state]
    self.ec2_backend.terminate_instances([instance_id])
    group.set_desired_capacity(group.desired_capacity)  # launches the replacement, registers it


def _set_instance_health_response(self):
    """The query-protocol handler of SetInstanceHealth, passing ShouldRespectGracePeriod on (moto ignored it)."""
    self.autoscaling_backend.set_instance_health(
        self._get_param("InstanceId"),
        self._get_param("HealthStatus"),
        self._get_bool_param("ShouldRespectGracePeriod", True),
    )
    return EmptyResult()


_orig_launch = FakeAutoScalingGroup.replace_autoscaling_group_instances


def _launch_balanced(self, count_needed: int, propagated_tags: dict) -> None:
    """Auto Scaling "attempts to distribute instances evenly between the Availability Zones that are enabled for
    your Auto Scaling group": moto's launch, one instance at a time, each into the group's subnet (or zone) that has
    the fewest of its instances, the first listed on a tie; moto put them all in the first subnet of
    VPCZoneIdentifier.
    https://docs.aws.amazon.com/autoscaling/ec2/userguide/ec2-auto-scaling-availability-zone-balanced.html"""
    subnets = [s.strip() for s in (self.vpc_zone_identifier or "").split(",") if s.strip()]
    if subnets:
        places = [(self.autoscaling_backend.ec2_backend.get_subnet(s).availability_zone, s) for s in subnets]
    else:
        places = [(zone, None) for zone in self.availability_zones]
    saved = self.vpc_zone_identifier, self.availability_zones
    try:
        for _ in range(count_needed):
            counts = Counter(state.instance.placement.zone for state in self.instance_states)
            zone, subnet = min(places, key=lambda place: counts[place[0]])
            self.vpc_zone_identifier, self.availability_zones = subnet, [zone]
            _orig_launch(self, 1, dict(propagated_tags))
    finally:
        self.vpc_zone_identifier, self.availability_zones = saved


FakeAutoScalingGroup.replace_autoscaling_group_instances = _launch_balanced
AutoScalingBackend.create_auto_scaling_group = _create_auto_scaling_group
AutoScalingBackend.set_instance_health = _set_instance_health
AutoScalingResponse.set_instance_health = _set_instance_health_response
