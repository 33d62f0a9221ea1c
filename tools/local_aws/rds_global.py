"""Aurora Global Database as AWS behaves where moto 5.2.5 differs or is silent; patches moto's RDS on import.

Stock moto keeps global clusters in its ``us-east-1`` backend (AWS: global clusters belong to no region), creates
them and adds secondaries, but: DescribeGlobalClusters ignores ``GlobalClusterIdentifier`` and ``Filters``; a
cluster a global cluster is created from is not its writer; a secondary cluster gets a writer instance;
RemoveFromGlobalCluster called in another region than ``us-east-1`` does nothing and answers an empty result, and
the removed cluster still names its global cluster; SwitchoverGlobalCluster and FailoverGlobalCluster do not exist
(moto answers "not yet implemented"). Here:

- **Membership**: ``GlobalClusterMembers[]`` (``DBClusterArn``, ``IsWriter``, ``Readers``) holds one writer, the
  primary cluster. A secondary cluster has no writer instance: its instances report ``IsClusterWriter`` false
  ("an Aurora secondary cluster ... has only reader DB instances") until it is promoted, when the reader of the
  lowest promotion tier becomes its writer; the demoted primary's instances all become readers.
- **DescribeGlobalClusters**: ``GlobalClusterIdentifier`` (case-insensitive) names one, else
  ``GlobalClusterNotFoundFault`` (404); ``Filters`` ``region`` keeps the global clusters with a member in one of
  the regions given. https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeGlobalClusters.html
- **SwitchoverGlobalCluster** (``GlobalClusterIdentifier``, ``TargetDbClusterIdentifier`` = the secondary's ARN):
  the secondary becomes the writer and the primary a secondary, with no data loss. Needs every member
  ``available``: an unknown global cluster is ``GlobalClusterNotFoundFault`` (404), a target that is not one of
  its members ``DBClusterNotFoundFault`` (404), a target that is the primary already, or a global cluster with a
  switchover or failover under way, ``InvalidGlobalClusterStateFault`` (400), a member cluster not ``available``
  ``InvalidDBClusterStateFault`` (400).
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_SwitchoverGlobalCluster.html
- **FailoverGlobalCluster** (``GlobalClusterIdentifier``, ``TargetDbClusterIdentifier``, ``AllowDataLoss``,
  ``Switchover``): with ``AllowDataLoss`` the secondary becomes the writer whatever state the primary is in (an
  unplanned failover: data not yet replicated is lost); with ``Switchover`` or neither, as SwitchoverGlobalCluster.
  Both together: ``InvalidParameterCombination``. Same faults otherwise (the target itself must be ``available``).
  https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverGlobalCluster.html
- **FailoverState** (``Status`` pending | failing-over | cancelling, ``FromDbClusterArn``, ``ToDbClusterArn``,
  ``IsDataLossAllowed``) is shown while a switchover or failover is under way. Stock AWS takes minutes; here a
  change completes at once unless held: ``POST /_failover/rds/global-hold`` ``{"account",
  "global_cluster_identifier"}`` leaves the next one ``pending`` (the global cluster ``failing-over`` or
  ``switching-over``, another call refused with ``InvalidGlobalClusterStateFault``) until ``POST
  /_failover/rds/global-finish``. https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverState.html
- **RemoveFromGlobalCluster** (``DbClusterIdentifier`` = the member's ARN), in any region: the cluster leaves the
  global database and becomes a standalone cluster with its own writer (a detached secondary is promoted: "detach
  and promote"). The primary cannot leave while secondaries remain (``InvalidGlobalClusterStateFault``); an
  unknown global cluster is ``GlobalClusterNotFoundFault``, a cluster that is not a member
  ``DBClusterNotFoundFault``. https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_RemoveFromGlobalCluster.html
"""

from __future__ import annotations

import io
import uuid
from urllib.parse import parse_qs

from moto.core.responses import ActionResult
from moto.rds import models as rds_models
from moto.rds import responses as rds_responses
from moto.rds.exceptions import RDSClientError

from .control import DEFAULT_ACCOUNT, ControlError, field, where

RDSBackend = rds_models.RDSBackend
RDSResponse = rds_responses.RDSResponse
DBCluster = rds_models.DBCluster
GlobalCluster = rds_models.GlobalCluster
GLOBAL_REGION = "us-east-1"  # where moto keeps global clusters

def _not_found(identifier: str) -> RDSClientError:
    return RDSClientError("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")


def _secondary(cluster) -> bool:
    """A member of a global cluster that is not its writer (a secondary: readers only)."""
    return bool(getattr(cluster, "_failover_global", None)) and not cluster.is_writer


_orig_designate_writer = DBCluster.designate_writer
_orig_members_prop = DBCluster.db_cluster_members


def _designate_writer(self):
    """A secondary cluster has no writer instance; any other cluster gets one as moto gives it."""
    if _secondary(self):
        return
    _orig_designate_writer(self)


def _db_cluster_members(self):
    members = _orig_members_prop.fget(self)
    if _secondary(self):
        for member in members:
            member["IsClusterWriter"] = False
    return members


DBCluster.designate_writer = _designate_writer
DBCluster.db_cluster_members = property(_db_cluster_members)


def _global_backend(account: str) -> RDSBackend:
    return rds_models.rds_backends[account][GLOBAL_REGION]


def _find(account: str, identifier: str):
    gc = _global_backend(account).global_clusters.get(identifier or "")
    if gc is None:
        raise _not_found(identifier)
    return gc


def _member(gc, arn: str):
    """The member cluster ``arn`` names (its ARN; a plain identifier of a member is accepted too)."""
    for cluster in gc.members:
        if arn in (cluster.db_cluster_arn, cluster.db_cluster_identifier):
            return cluster
    raise RDSClientError("DBClusterNotFoundFault",
                         f"DBCluster {arn} is not a member of global cluster {gc.global_cluster_identifier}.")


def _join(gc, cluster, writer: bool) -> None:
    cluster._failover_global = gc.global_cluster_identifier
    cluster.global_cluster_identifier = gc.global_cluster_identifier
    cluster.is_writer = writer
    if not writer:
        for instance in cluster._members:
            instance.is_cluster_writer = False


_orig_create_global = RDSBackend.create_global_cluster
_orig_create_cluster = RDSBackend.create_db_cluster


def _create_global_cluster(self, global_cluster_identifier, source_db_cluster_identifier, **kwargs):
    """CreateGlobalCluster from an existing cluster: that cluster is the writer (stock moto: not)."""
    gc = _orig_create_global(self, global_cluster_identifier, source_db_cluster_identifier, **kwargs)
    for cluster in gc.members:
        _join(gc, cluster, True)
    gc.failover_state = None
    return gc


def _create_db_cluster(self, kwargs):
    """CreateDBCluster with ``GlobalClusterIdentifier``: the first member is the writer, later ones secondaries."""
    cluster = _orig_create_cluster(self, kwargs)
    gid = kwargs.get("global_cluster_identifier")
    if gid:
        gc = _global_backend(self.account_id).global_clusters.get(gid)
        if gc is not None and cluster in gc.members:
            _join(gc, cluster, len(gc.members) == 1)
    return cluster


RDSBackend.create_global_cluster = _create_global_cluster
RDSBackend.create_db_cluster = _create_db_cluster


def _failover_state(self):
    return getattr(self, "_failover_state", None)


def _set_failover_state(self, value):
    self._failover_state = value


GlobalCluster.failover_state = property(_failover_state, _set_failover_state)


def _regions(gc) -> set[str]:
    return {cluster.region for cluster in gc.members}


def _describe_global_clusters(self):
    account = self.current_account
    clusters = list(_global_backend(account).global_clusters.values())
    identifier = self.params.get("GlobalClusterIdentifier")
    if identifier:
        clusters = [c for c in clusters if c.global_cluster_identifier == identifier.lower()]
        if not clusters:
            raise _not_found(identifier)
    for f in self.params.get("Filters") or []:
        if f.get("Name") == "region":
            wanted = set(f.get("Values") or [])
            clusters = [c for c in clusters if _regions(c) & wanted]
    return ActionResult({"GlobalClusters": clusters})


def _change(account: str, identifier: str, target_arn: str, allow_data_loss: bool):
    gc = _find(account, identifier)
    target = _member(gc, target_arn)
    primary = next((c for c in gc.members if c.is_writer), None)
    if gc.failover_state is not None:
        state = gc.failover_state
        raise RDSClientError("InvalidGlobalClusterStateFault",
                             f"Global cluster {gc.global_cluster_identifier} is {gc.status}: "
                             f"{state['Status']} from {state['FromDbClusterArn']} to {state['ToDbClusterArn']}.")
    if target is primary:
        raise RDSClientError("InvalidGlobalClusterStateFault",
                             f"DB cluster {target_arn} is already the primary of {gc.global_cluster_identifier}.")
    must_be_available = [target] if allow_data_loss else gc.members
    for cluster in must_be_available:
        if cluster.status != "available":
            raise RDSClientError("InvalidDBClusterStateFault",
                                 f"DB cluster {cluster.db_cluster_arn} is {cluster.status}, not available.")
    state = {"Status": "pending", "FromDbClusterArn": primary.db_cluster_arn if primary else None,
             "ToDbClusterArn": target.db_cluster_arn, "IsDataLossAllowed": bool(allow_data_loss)}
    if getattr(gc, "_failover_hold", False):
        gc._failover_hold = False
        gc.failover_state = state
        gc.status = "failing-over" if allow_data_loss else "switching-over"
        return gc
    _complete(gc, target)
    return gc


def _promote(cluster) -> None:
    """The cluster's writer: its available instance of the lowest promotion tier (an instance a secondary created
    first may carry moto's writer flag; a secondary has no writer)."""
    for instance in cluster._members:
        instance.is_cluster_writer = False
    cluster.designate_writer()


def _complete(gc, target) -> None:
    for cluster in gc.members:
        _join(gc, cluster, cluster is target)
    _promote(target)
    gc.failover_state = None
    gc.status = "available"


def _switchover_global_cluster(self):
    gc = _change(self.current_account, self.params.get("GlobalClusterIdentifier"),
                 self.params.get("TargetDbClusterIdentifier"), False)
    return ActionResult({"GlobalCluster": gc})


def _failover_global_cluster(self):
    allow = self.params.get("AllowDataLoss") in (True, "true", "True")
    switchover = self.params.get("Switchover") in (True, "true", "True")
    if allow and switchover:
        raise RDSClientError("InvalidParameterCombination", "AllowDataLoss and Switchover cannot both be specified.")
    gc = _change(self.current_account, self.params.get("GlobalClusterIdentifier"),
                 self.params.get("TargetDbClusterIdentifier"), allow)
    return ActionResult({"GlobalCluster": gc})


def _remove_from_global_cluster(self):
    gc = _find(self.current_account, self.params.get("GlobalClusterIdentifier"))
    cluster = _member(gc, self.params.get("DbClusterIdentifier"))
    if cluster.is_writer and len(gc.members) > 1:
        raise RDSClientError("InvalidGlobalClusterStateFault",
                             f"DB cluster {cluster.db_cluster_arn} is the primary of {gc.global_cluster_identifier} "
                             "and it has secondary clusters: remove them first.")
    was_secondary = not cluster.is_writer
    gc.members.remove(cluster)
    cluster._failover_global = None
    cluster.global_cluster_identifier = None
    cluster.is_writer = False
    if was_secondary:
        _promote(cluster)  # standalone: its reader of the lowest tier is its writer
    return ActionResult({"GlobalCluster": gc})


RDSResponse.describe_global_clusters = _describe_global_clusters
RDSResponse.switchover_global_cluster = _switchover_global_cluster
RDSResponse.failover_global_cluster = _failover_global_cluster
RDSResponse.remove_from_global_cluster = _remove_from_global_cluster


def _control_global(body: dict):
    account, _ = where(body)
    identifier = field(body, "global_cluster_identifier")
    gc = _global_backend(account).global_clusters.get(identifier)
    if gc is None:
        raise ControlError(f"global cluster not found: {identifier}")
    return gc


def hold(body: dict) -> dict:
    """``POST /_failover/rds/global-hold``: the next switchover or failover of the global cluster stays pending."""
    _control_global(body)._failover_hold = True
    return {"ok": True}


def finish(body: dict) -> dict:
    """``POST /_failover/rds/global-finish``: the pending switchover or failover completes."""
    gc = _control_global(body)
    state = gc.failover_state
    if state is None:
        raise ControlError(f"no switchover or failover under way on {gc.global_cluster_identifier}")
    _complete(gc, _member(gc, state["ToDbClusterArn"]))
    return {"ok": True}


def set_cluster_status(body: dict) -> dict:
    """``POST /_failover/rds/cluster-status`` ``{"account", "region", "db_cluster_identifier", "status"}``: any
    DB cluster status (``available``, ``failing-over``, ``inaccessible-encryption-credentials``...); stock moto
    clusters are always ``available``. https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/accessing-monitoring.html"""
    account, region = where(body)
    cluster_id, status = field(body, "db_cluster_identifier"), field(body, "status")
    cluster = rds_models.rds_backends[account][region].clusters.get(cluster_id)
    if cluster is None:
        raise ControlError(f"DB cluster not found: {cluster_id}")
    cluster.status = status
    return {"ok": True}


_impaired: set[tuple[str, str]] = set()


def impaired(body: dict) -> dict:
    """``POST /_failover/rds/global-impaired`` ``{"account", "region", "impaired": true|false}``: the control
    plane of ``region`` impaired for the global APIs: SwitchoverGlobalCluster and FailoverGlobalCluster of a global
    cluster whose primary is there answer HTTP 503 ``ServiceUnavailable`` (a server error, which SDKs retry), in
    whichever region they are called; RemoveFromGlobalCluster of a secondary elsewhere still works, as AWS
    documents detaching for a primary region that is unavailable.
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/aurora-global-database-disaster-recovery.html"""
    account, region = where(body)
    flag = body.get("impaired")
    if not isinstance(flag, bool):
        raise ControlError("field 'impaired' is required (bool)")
    (_impaired.add if flag else _impaired.discard)((account, region))
    return {"ok": True}


class GlobalImpaired:
    """WSGI middleware in front of moto: a global change whose primary's region is impaired gets HTTP 503."""

    ACTIONS = ("SwitchoverGlobalCluster", "FailoverGlobalCluster")

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        if not _impaired or "x-www-form-urlencoded" not in environ.get("CONTENT_TYPE", ""):
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        form = {k: v[-1] for k, v in parse_qs(raw.decode(errors="replace")).items()}
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT
        if form.get("Action") not in self.ACTIONS:
            return self.app(environ, start_response)
        try:
            gc = _global_backend(account).global_clusters.get(form.get("GlobalClusterIdentifier", ""))
        except KeyError:
            gc = None
        primary = next((c for c in gc.members if c.is_writer), None) if gc is not None else None
        if primary is None or (account, primary.region) not in _impaired:
            return self.app(environ, start_response)
        payload = ("<ErrorResponse><Error><Type>Receiver</Type><Code>ServiceUnavailable</Code>"
                   f"<Message>The RDS control plane in {primary.region} is unavailable.</Message></Error>"
                   f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>").encode()
        start_response("503 Service Unavailable", [("Content-Type", "text/xml"), ("Content-Length", str(len(payload)))])
        return [payload]
