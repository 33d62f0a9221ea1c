"""Auto Scaling in the local AWS: SetInstanceHealth(Unhealthy) replaces the instance, and groups spread their
instances over their zones, as on AWS.

Imported by ``tools/local_aws.py`` for its side effect (it patches moto 5.2.5's Auto Scaling backend). Checked by
``tools/test_arc_zonal_shift.py`` (``AutoScalingHealthTest``).

Fidelity: what AWS does, what moto did, what we do (sources: Amazon EC2 Auto Scaling API Reference,
"SetInstanceHealth" and "CreateAutoScalingGroup"; User Guide, "Health checks for instances in an Auto Scaling
group")
  * SetInstanceHealth(HealthStatus=Unhealthy). AWS: "Amazon EC2 Auto Scaling terminates and replaces the
    unhealthy instance": the instance is deregistered from the group's target groups, terminated, and a new one
    is launched (and registered) to keep the desired capacity. moto only records ``HealthStatus`` Unhealthy in
    DescribeAutoScalingInstances and keeps the instance in service and registered forever. We replace it at
    once: the instance is deregistered from the group's target groups, leaves the group, is terminated in EC2,
    and the group launches a replacement that is registered with its target groups (moto's own capacity code).
    Desired capacity is unchanged. DescribeAutoScalingInstances no longer lists the old instance.
  * ShouldRespectGracePeriod (default true). AWS: the call respects the group's HealthCheckGracePeriod: an
    instance still inside its grace period is not acted on yet. moto ignores the parameter. We read it: an
    instance launched less than HealthCheckGracePeriod seconds ago is recorded ``Unhealthy`` and left in service
    (AWS replaces it once the grace period is over; this emulator runs no clock, so nothing happens later).
    With ShouldRespectGracePeriod=false, or a grace period of 0 or already over, the instance is replaced.
  * HealthCheckGracePeriod default. AWS's CreateAutoScalingGroup: "Default: 0 seconds" (the console proposes
    300). moto sets 300 when the parameter is missing *and when it is 0* (``health_check_period or 300``). We keep
    what the caller gave and 0 when absent.
  * Errors. AWS answers a ValidationError for an instance that is not in an Auto Scaling group and for a health
    status other than Healthy / Unhealthy. moto failed with an HTTP 500 (StopIteration / ValueError). We answer
    400 ``ValidationError``.
  * HealthStatus=Healthy is recorded as moto did. DescribeAutoScalingInstances spells the status as moto does
    (``Healthy`` / ``Unhealthy``); AWS's own examples of that call show ``HEALTHY`` / ``UNHEALTHY`` (not changed
    here: a reader should compare without regard to case).
  * Zones. AWS launches a group's instances balanced across its zones ("Amazon EC2 Auto Scaling attempts to
    distribute instances evenly between the Availability Zones that are enabled for your Auto Scaling group",
    User Guide, "Availability Zone distribution"). moto launched every instance into the first subnet of
    VPCZoneIdentifier (one zone), or a random zone of AvailabilityZones. We launch each new instance into the
    subnet (or zone) of the group that has the fewest of its instances, the first listed on a tie; so
    replacements land where capacity is missing, and a zone's instances can be failed on purpose in tests.
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
    result = _orig_create_group(self, *args, **kwargs)
    group = self.autoscaling_groups[kwargs["name"] if "name" in kwargs else args[0]]
    period = kwargs.get("health_check_period")
    group.health_check_grace_period = 0 if period is None else int(period)
    return result


def _within_grace_period(group, instance) -> bool:
    period = int(group.health_check_grace_period or 0)
    launched = instance.launch_time
    if period <= 0 or not isinstance(launched, dt.datetime):
        return False
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) if launched.tzinfo is None \
        else dt.datetime.now(dt.timezone.utc)
    return (now - launched).total_seconds() < period


def _set_instance_health(self, instance_id: str, health_status: str, should_respect_grace_period: bool = True):
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
    self.autoscaling_backend.set_instance_health(
        self._get_param("InstanceId"),
        self._get_param("HealthStatus"),
        self._get_bool_param("ShouldRespectGracePeriod", True),
    )
    return EmptyResult()


_orig_launch = FakeAutoScalingGroup.replace_autoscaling_group_instances


def _launch_balanced(self, count_needed: int, propagated_tags: dict) -> None:
    """moto's launch, one instance at a time, each into the group's zone that has the fewest of its instances."""
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
