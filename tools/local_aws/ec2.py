"""Amazon EC2 control endpoints: instances and the default network, for tests that need no EC2 client.
moto's EC2 is used as it is (no patches).

API reference: https://docs.aws.amazon.com/AWSEC2/latest/APIReference/Welcome.html
"""

from __future__ import annotations

from moto.ec2.models import ec2_backends

from .control import ControlError, backend, where


def run_instances(body: dict) -> dict:
    """``POST /_failover/ec2/instances``: ``count`` running instances in the default VPC, in the default subnet of
    ``zone`` (a zone name) when given, else in moto's default (<region>a).
    https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_RunInstances.html"""
    account, region = where(body)
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
        raise ControlError("count must be an integer from 1 to 100")
    ec2 = backend(ec2_backends, account, region)
    zone = body.get("zone")
    subnet = ec2.get_default_subnets().get(zone) if zone is not None else None
    if zone is not None and subnet is None:
        raise ControlError(f"zone must be a zone name of {region} with a default subnet, got {zone!r}")
    reservation = ec2.run_instances(
        "ami-12c6146b", count, None, [], instance_type="t3.micro", is_instance_type_default=False,
        region_name=region, tags={}, **({"subnet_id": subnet.id} if subnet else {}),
    )
    return {"instance_ids": [i.id for i in reservation.instances]}


def terminate_instances(body: dict) -> dict:
    """``POST /_failover/ec2/instances/terminate``: the instances are terminated (as an Auto Scaling group replacing
    them would), so that RegisterTargets refuses them with ``InvalidTarget`` as AWS does.
    https://docs.aws.amazon.com/elasticloadbalancing/latest/APIReference/API_RegisterTargets.html"""
    account, region = where(body)
    ids = body.get("instance_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ControlError("instance_ids must be a non-empty list of instance ids")
    try:
        backend(ec2_backends, account, region).terminate_instances(ids)
    except Exception as e:  # moto's InvalidInstanceIdError and the like
        raise ControlError(f"cannot terminate {ids}: {e}") from e
    return {"ok": True}


def default_network(body: dict) -> dict:
    """``GET /_failover/ec2/network``: the default VPC and its default subnets, one per Availability Zone.
    https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html"""
    account, region = where(body)
    ec2 = backend(ec2_backends, account, region)
    vpc = ec2.get_default_vpc()
    if vpc is None:
        raise ControlError(f"no default VPC in {account}/{region}")
    subnets = sorted(ec2.get_default_subnets().items())
    return {"vpc_id": vpc.id, "subnet_ids": [s.id for _, s in subnets if s.vpc_id == vpc.id]}
