"""Elastic Load Balancing (v2) as AWS behaves where moto 5.2.5 differs; patches moto's ELBv2 backend on import.

API reference: https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/Welcome.html
"""

from __future__ import annotations

from moto.elbv2.exceptions import ValidationError as ElbValidationError
from moto.elbv2.models import ELBv2Backend, FakeTargetGroup, elbv2_backends

from .arc_state import applied_away_from
from .control import ControlError, backend, field, where

# Default reason / description per state, as AWS reports them
# (https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetHealth.html).
TARGET_STATES = {
    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "healthy": (None, None),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "unhealthy.draining": ("Target.FailedHealthChecks", "Health checks failed"),
    "unused": ("Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "unavailable": ("Target.HealthCheckDisabled", "Health checks are disabled"),
}
NLB_PROTOCOLS = {"TCP", "UDP", "TLS", "TCP_UDP"}


def _overrides(tg: FakeTargetGroup) -> dict:
    """Per-target-group health overrides: target id -> (state, reason, description)."""
    if "_failover_health" not in tg.__dict__:
        tg._failover_health = {}
    return tg._failover_health


def _sticky(tg: FakeTargetGroup) -> set:
    """Targets whose override is the instance's own state (``"sticky": true``): it outlives a deregistration, so
    the target fails its health check again when registered again (a broken instance stays broken)."""
    if "_failover_sticky" not in tg.__dict__:
        tg._failover_sticky = set()
    return tg._failover_sticky


_orig_health_for = FakeTargetGroup.health_for


def _health_for(self, target, ec2_backend):
    """DescribeTargetHealth reports a target's state, reason and description as its health checks found it
    (``unhealthy`` / ``Target.FailedHealthChecks`` when they fail); stock moto reports every target ``healthy``.
    Here: the override set through ``POST /_failover/elbv2/target-health``, while the target is registered.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DescribeTargetHealth.html"""
    status = _orig_health_for(self, target, ec2_backend)
    override = _overrides(self).get(target["Id"])
    if override and target["Id"] in self.targets:
        status.status, status.reason, status.description = override
    status.administrative_override = _administrative_override(self, target, ec2_backend)
    return status


def _zone_id(target: dict, ec2_backend) -> str | None:
    """The AZ ID of a registered target: an instance's zone (EC2), or the zone an IP target was registered in;
    ``None`` when neither tells (an IP target without one, ``all``, a Lambda function)."""
    zone = target.get("AvailabilityZone")
    if target["Id"].startswith("i-"):
        instance = ec2_backend.get_instance_by_id(target["Id"])
        zone = instance.availability_zone if instance is not None else None
    if not zone or zone == "all":
        return None
    ids = {z.name: z.zone_id for z in ec2_backend.describe_availability_zones()}
    return ids.get(zone)


def _administrative_override(tg: FakeTargetGroup, target: dict, ec2_backend) -> dict:
    """During a zonal shift ARC applies to one of the group's load balancers, DescribeTargetHealth reports the
    targets in the zone shifted away with ``AdministrativeOverride`` state ``zonal_shift_active``, and the load
    balancer sends them no new traffic; other targets show ``no_override`` (stock moto has no such field).
    https://docs.aws.amazon.com/elasticloadbalancing/latest/network/zonal-shift.html#admin-override and
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_AdministrativeOverride.html"""
    registered = tg.targets.get(target["Id"])
    zone_id = _zone_id(registered, ec2_backend) if registered is not None else None
    shifted = zone_id is not None and any(
        applied_away_from(tg.account_id, tg.region_name, arn) == zone_id for arn in tg.load_balancer_arns)
    if shifted:
        return {"State": "zonal_shift_active", "Reason": "AdministrativeOverride.ZonalShiftActive",
                "Description": "Target is in an Availability Zone that a zonal shift moves traffic away from"}
    return {"State": "no_override", "Reason": "AdministrativeOverride.NoOverride",
            "Description": "No override is currently active on target"}


def _deregister(self, targets):
    """DeregisterTargets of a target that is not registered succeeds (stock moto raises InvalidTarget), and a
    target given with a Port deregisters only if that port is the registered one (AWS identifies a registration
    by id and port). A deregistered target loses its health override, unless it was set sticky.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_DeregisterTargets.html"""
    for target in targets:
        registered = self.targets.get(target["Id"])
        if registered is None:
            continue
        if "Port" in target and str(target["Port"]) != str(registered["Port"]):
            continue  # that (id, port) pair is not registered
        self.deregistered_targets[target["Id"]] = self.targets.pop(target["Id"])
        if target["Id"] not in _sticky(self):
            _overrides(self).pop(target["Id"], None)


FakeTargetGroup.health_for = _health_for
FakeTargetGroup.deregister = _deregister

_orig_create_listener = ELBv2Backend.create_listener
_orig_modify_listener = ELBv2Backend.modify_listener


def _single_group_forward(protocol, actions) -> None:
    """A network load balancer's forward action names a single target group: a ForwardConfig of several fails
    with ValidationError on AWS; stock moto accepts it.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_Action.html"""
    if protocol not in NLB_PROTOCOLS:
        return
    for action in actions or []:
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if action.get("Type") == "forward" and len(groups) > 1:
            raise ElbValidationError("a network load balancer's forward action takes a single target group")


def _follow_forwards(self, load_balancer_arn: str) -> None:
    """A target group's LoadBalancerArns are the load balancers that route traffic to it: each target group lists
    this load balancer exactly when one of its listeners or rules forwards to it (stock moto only adds to the list,
    at CreateListener / CreateRule).
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_TargetGroup.html"""
    balancer = self.load_balancers.get(load_balancer_arn)
    if balancer is None:
        return
    used = set()
    for listener in balancer.listeners.values():
        actions = list(listener.default_actions)
        for rule in getattr(listener, "_non_default_rules", {}).values():
            actions.extend(rule.actions)
        for action in actions:
            if action.type == "forward":
                used.update(self._get_target_group_arns_from(action_data=action.data))
    for arn, group in self.target_groups.items():
        listed = load_balancer_arn in group.load_balancer_arns
        if arn in used and not listed:
            group.load_balancer_arns.append(load_balancer_arn)
        elif arn not in used and listed:
            group.load_balancer_arns = [a for a in group.load_balancer_arns if a != load_balancer_arn]


def _create_listener(self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions, *args, **kwargs):
    """CreateListener, refusing a network load balancer's forward to several target groups.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_CreateListener.html"""
    _single_group_forward(protocol, actions)
    return _orig_create_listener(self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions,
                                 *args, **kwargs)


def _modify_listener(self, arn, port=None, protocol=None, ssl_policy=None, certificates=None, actions=None,
                     *args, **kwargs):
    """ModifyListener, refusing a network load balancer's forward to several target groups; afterwards the
    target groups' LoadBalancerArns follow the new actions.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_ModifyListener.html"""
    current = self.describe_listeners(load_balancer_arn=None, listener_arns=[arn])[0]
    _single_group_forward(protocol or current.protocol, actions)
    listener = _orig_modify_listener(self, arn, port, protocol, ssl_policy, certificates, actions, *args, **kwargs)
    _follow_forwards(self, listener.load_balancer_arn)
    return listener


ELBv2Backend.create_listener = _create_listener
ELBv2Backend.modify_listener = _modify_listener

_orig_create_load_balancer = ELBv2Backend.create_load_balancer
ARN_KIND = {"network": "net", "gateway": "gwy"}


def _create_load_balancer(self, *args, **kwargs):
    """CreateLoadBalancer, the ARN naming the type as on AWS (`loadbalancer/net/...` for a network load balancer,
    `gwy/` for a gateway one); stock moto names every one `app/`.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/network/network-load-balancers.html"""
    balancer = _orig_create_load_balancer(self, *args, **kwargs)
    kind = ARN_KIND.get(balancer.type)
    if kind is None:
        return balancer
    old = balancer.arn
    new = old.replace(":loadbalancer/app/", f":loadbalancer/{kind}/", 1)
    tags = self.tagging_service.list_tags_for_resource(old).get("Tags") or []
    self.tagging_service.delete_all_tags_for_resource(old)
    self.tagging_service.tag_resource(new, tags)
    self.load_balancers[new] = self.load_balancers.pop(old)
    balancer.arn = new
    return balancer


ELBv2Backend.create_load_balancer = _create_load_balancer


def set_target_health(body: dict) -> dict:
    """``POST /_failover/elbv2/target-health``: what failing health checks would make DescribeTargetHealth report
    (state, reason, description per registered target; ``healthy`` clears the override). ``"sticky": true`` on a
    target makes the state the instance's own: kept when it is deregistered, and reported again as soon as it is
    registered again (on AWS a target re-registered is ``initial`` until its first checks; here it shows the
    state they would find at once)."""
    account, region = where(body)
    arn = field(body, "target_group_arn")
    tg = backend(elbv2_backends, account, region).target_groups.get(arn)
    if tg is None:
        raise ControlError(f"target group not found: {arn}")
    changes = []
    for t in field(body, "targets", list):
        if not isinstance(t, dict):
            raise ControlError("each target must be an object")
        target_id, state = field(t, "id"), field(t, "state")
        if state not in TARGET_STATES:
            raise ControlError(f"state must be one of {sorted(TARGET_STATES)}, got {state!r}")
        registered = tg.targets.get(target_id)
        if registered is None:
            raise ControlError(f"target {target_id} is not registered in {arn}")
        if t.get("port") is not None and str(t["port"]) != str(registered["Port"]):
            raise ControlError(f"target {target_id} is registered on port {registered['Port']}")
        reason, description = TARGET_STATES[state]
        sticky = t.get("sticky", False)
        if not isinstance(sticky, bool):
            raise ControlError("sticky must be true or false")
        changes.append((target_id, state, t.get("reason") or reason, t.get("description") or description, sticky))
    overrides = _overrides(tg)
    for target_id, state, reason, description, sticky in changes:
        if sticky and state != "healthy":
            _sticky(tg).add(target_id)
        else:
            _sticky(tg).discard(target_id)
        if state == "healthy":
            overrides.pop(target_id, None)
        else:
            overrides[target_id] = (state, reason, description)
    return {"ok": True}
