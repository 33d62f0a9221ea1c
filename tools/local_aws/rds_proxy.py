"""RDS Proxy targets as AWS behaves where moto 5.2.5 differs; patches moto's RDS backend on import.

Stock moto models a proxy and its ``default`` target group but answers an unknown proxy or target group with a
KeyError (HTTP 500), ignores ``TargetGroupName`` in DescribeDBProxyTargets, registers an instance that does not
exist, registers the same instance twice, accepts a second RDS instance in one target group, deregisters a target
that is not registered without a word, and leaves a target's ``Endpoint`` and ``TargetArn`` empty. Here each call
answers with AWS's documented faults, and a target group holds at most one RDS DB instance, as AWS associates
"each target group with exactly one RDS DB instance or Aurora DB cluster".
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RegisterDBProxyTargets.html
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DeregisterDBProxyTargets.html
https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeDBProxyTargets.html
https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-rds-dbproxytargetgroup.html
"""

from __future__ import annotations

from moto.core.responses import ActionResult, EmptyResult
from moto.rds import models as rds_models
from moto.rds import responses as rds_responses
from moto.rds.exceptions import DBInstanceNotFoundError, DBProxyNotFoundFault, RDSClientError

RDSBackend = rds_models.RDSBackend
RDSResponse = rds_responses.RDSResponse
_orig_register = RDSBackend.register_db_proxy_targets


def _group(self, proxy_name, target_group_name):
    """The proxy's target group, or the documented fault: ``DBProxyNotFoundFault``,
    ``DBProxyTargetGroupNotFoundFault`` (both HTTP 404)."""
    proxy = self.db_proxies.get(proxy_name)
    if proxy is None:
        raise DBProxyNotFoundFault(proxy_name)
    name = target_group_name or "default"
    group = proxy.proxy_target_groups.get(name)
    if group is None:
        raise RDSClientError(
            "DBProxyTargetGroupNotFoundFault",
            f"The specified target group {name} isn't found or doesn't belong to proxy {proxy_name}.",
        )
    return group


def _describe_db_proxy_targets(self, proxy_name, target_group_name=None):
    """DescribeDBProxyTargets of the target group named (``default`` when none is)."""
    return _group(self, proxy_name, target_group_name).targets


def _register_db_proxy_targets(self, db_proxy_name, target_group_name, db_cluster_identifiers,
                               db_instance_identifiers):
    """RegisterDBProxyTargets: an unknown instance is ``DBInstanceNotFound``; one already registered is
    ``DBProxyTargetAlreadyRegisteredFault``; a target group that already has a target refuses another (AWS: one
    instance or cluster per group) with ``DBProxyTargetAlreadyRegisteredFault`` too: the proxy is already associated
    with a database. A registered instance's target has its endpoint, port and ARN."""
    group = _group(self, db_proxy_name, target_group_name)
    for db_id in db_instance_identifiers:
        if db_id not in self.databases:
            raise DBInstanceNotFoundError(db_id)
    registered = {t.rds_resource_id for t in group.targets}
    for db_id in list(db_instance_identifiers) + list(db_cluster_identifiers):
        if db_id in registered:
            raise RDSClientError("DBProxyTargetAlreadyRegisteredFault",
                                 f"The proxy {db_proxy_name} is already associated with {db_id}.")
    if group.targets or len(db_instance_identifiers) + len(db_cluster_identifiers) > 1:
        raise RDSClientError(
            "DBProxyTargetAlreadyRegisteredFault",
            f"The target group {group.target_group_name} of proxy {db_proxy_name} is already associated with a "
            f"database ({', '.join(sorted(registered)) or 'one per request'}): it holds one DB instance or cluster.",
        )
    targets = _orig_register(self, db_proxy_name, group.target_group_name, db_cluster_identifiers,
                             db_instance_identifiers)
    for target in targets:
        db = self.databases.get(target.rds_resource_id)
        if db is not None:
            target.endpoint, target.port, target.target_arn = db.address, int(db.port), db.db_instance_arn
    return targets


def _deregister_db_proxy_targets(self, db_proxy_name, target_group_name, db_cluster_identifiers,
                                 db_instance_identifiers):
    """DeregisterDBProxyTargets: a target that is not registered is ``DBProxyTargetNotFoundFault`` (HTTP 404),
    and nothing is deregistered."""
    group = _group(self, db_proxy_name, target_group_name)
    registered = {t.rds_resource_id for t in group.targets}
    for db_id in list(db_instance_identifiers) + list(db_cluster_identifiers):
        if db_id not in registered:
            raise RDSClientError("DBProxyTargetNotFoundFault",
                                 f"{db_id} is not a target of proxy {db_proxy_name}'s {group.target_group_name}.")
    group.targets = [t for t in group.targets
                     if t.rds_resource_id not in db_instance_identifiers + db_cluster_identifiers]


def _describe_targets_response(self):
    """DescribeDBProxyTargets reads ``TargetGroupName`` (stock moto always answers the ``default`` group)."""
    targets = self.backend.describe_db_proxy_targets(
        proxy_name=self.params.get("DBProxyName"), target_group_name=self.params.get("TargetGroupName"))
    return ActionResult({"Targets": targets})


def _deregister_response(self):
    self.backend.deregister_db_proxy_targets(
        db_proxy_name=self.params.get("DBProxyName"),
        target_group_name=self.params.get("TargetGroupName"),
        db_cluster_identifiers=self.params.get("DBClusterIdentifiers", []),
        db_instance_identifiers=self.params.get("DBInstanceIdentifiers", []),
    )
    return EmptyResult()


RDSBackend.describe_db_proxy_targets = _describe_db_proxy_targets
RDSBackend.register_db_proxy_targets = _register_db_proxy_targets
RDSBackend.deregister_db_proxy_targets = _deregister_db_proxy_targets
RDSResponse.describe_db_proxy_targets = _describe_targets_response
RDSResponse.deregister_db_proxy_targets = _deregister_response
