"""Amazon RDS as AWS behaves where moto 5.2.5 differs; patches moto's RDS backend on import.

API reference: https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import datetime as dt
import string
import types

from moto.moto_api._internal import mock_random as random
from moto.ec2.models import ec2_backends
from moto.rds import models as rds_models
from moto.rds.exceptions import DBInstanceAlreadyExists, DBInstanceNotFoundError, RDSClientError

from .control import ControlError, backend, field, where

RDSBackend = rds_models.RDSBackend
DBInstance = rds_models.DBInstance
_orig_instance_init = DBInstance.__init__
_orig_create_replica = RDSBackend.create_db_instance_read_replica
_orig_failover = RDSBackend.failover_db_cluster
_orig_describe_events = RDSBackend.describe_events
_orig_modify_db_instance = RDSBackend.modify_db_instance
_orig_create_db_cluster = RDSBackend.create_db_cluster

#: Engines of Multi-AZ DB clusters (RDS for MySQL and PostgreSQL; Aurora's engines are ``aurora-*``).
MULTI_AZ_ENGINES = ("mysql", "postgres")
#: Storage types a Multi-AZ DB cluster accepts; io1 and io2 need ``Iops``.
MULTI_AZ_STORAGE_TYPES = ("io1", "io2", "gp3")


def _instance_init(self, *args, **kwargs):
    """Each instance gets its own ``DbiResourceId`` (``db-`` and 26 upper-case letters and digits), kept for its
    life (a rename keeps it) and never reused: an instance created again under an old name has another one. Stock
    moto gives every instance the same ``db-M5ENSHXFPU6XHZ4G4ZEI5QIO2U``.
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DBInstance.html"""
    _orig_instance_init(self, *args, **kwargs)
    self.dbi_resource_id = _new_resource_id()


def _new_resource_id() -> str:
    alphabet = string.ascii_uppercase + string.digits
    return "db-" + "".join(random.choice(alphabet) for _ in range(26))


def _promote_read_replica(self, db_kwargs):
    """PromoteReadReplica detaches the replica: ``ReadReplicaSourceDBInstanceIdentifier`` disappears, the source
    (same- or cross-region) stops listing it in ``ReadReplicaDBInstanceIdentifiers``, ``BackupRetentionPeriod`` is
    set (default 1) and ``PreferredBackupWindow`` if given; stock moto only flips an internal flag. An instance that
    is not a read replica or is ``backing-up`` fails with ``InvalidDBInstanceState`` (stock moto succeeds), an
    unknown one with ``DBInstanceNotFound`` (stock moto: HTTP 500). A promotion held by
    ``POST /_failover/rds/promotion-hold`` is left under way (see ``hold_promotion``).
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_PromoteReadReplica.html"""
    db_id = db_kwargs["db_instance_identifier"]
    db = self.databases.get(db_id)
    if db is None:
        raise DBInstanceNotFoundError(db_id)
    if not db.is_replica:
        raise RDSClientError("InvalidDBInstanceState", "DB Instance is not a read replica.")
    if db.status == "backing-up":
        raise RDSClientError(
            "InvalidDBInstanceState", f"DB Instance {db_id} is backing up; it cannot be promoted now."
        )
    if getattr(db, "_failover_promotion", None) is not None:
        raise RDSClientError("InvalidDBInstanceState", f"DB Instance {db_id} is already being promoted.")
    if getattr(db, "_failover_hold", False):
        # Held (POST /_failover/rds/promotion-hold): accepted and left under way, as RDS answers a promotion.
        db._failover_hold = False
        db._failover_promotion = dict(db_kwargs)
        db.status = "modifying"
        return db
    return _detach(self, db, db_kwargs)


def _detach(self, db, db_kwargs):
    """The promotion done: the replica is a standalone instance, ``available``."""
    source_id = db.source_db_instance_identifier
    if source_id:
        try:
            source = self.find_db_from_id(source_id)
        except DBInstanceNotFoundError:
            source = None
        if source is not None:
            names = (db.db_instance_identifier, db.db_instance_arn)  # same-region id, cross-region ARN
            source.replicas = [r for r in source.replicas if r not in names]
    db.is_replica = False
    db.source_db_instance_identifier = None
    db.status = "available"
    retention = db_kwargs.get("backup_retention_period")
    db.backup_retention_period = 1 if retention is None else int(retention)
    if db_kwargs.get("preferred_backup_window"):
        db.preferred_backup_window = db_kwargs["preferred_backup_window"]
    return db


def _create_db_instance_read_replica(self, db_kwargs):
    """"All read replica DB instances are created with backups disabled": ``BackupRetentionPeriod`` 0 (stock moto
    copies the source's value); the replica has its own ``DbiResourceId`` (stock moto copies the source's); an
    identifier already in use is refused with ``DBInstanceAlreadyExists`` (stock moto replaces that instance and
    lists the replica twice on its source); without ``VpcSecurityGroupIds`` the replica is in the VPC's default
    security group ("Default: The default EC2 VPC security group for the DB subnet group's VPC"; stock moto
    copies the source's groups); a source that is not ``available`` (``backing-up``, ``modifying``…) is refused
    with ``InvalidDBInstanceState`` (stock moto copies any source).
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBInstanceReadReplica.html"""
    if db_kwargs["db_instance_identifier"] in self.databases:
        raise DBInstanceAlreadyExists()
    source = self.databases.get(db_kwargs["source_db_instance_identifier"])
    if source is not None and source.status != "available":
        raise RDSClientError("InvalidDBInstanceState",
                             f"DB Instance {source.db_instance_identifier} is {source.status}, not available.")
    replica = _orig_create_replica(self, db_kwargs)
    if not db_kwargs.get("vpc_security_group_ids"):
        ec2 = ec2_backends[self.account_id][self.region_name]
        replica.vpc_security_group_ids = [ec2.get_default_security_group(ec2.default_vpc.id).id]
    replica.backup_retention_period = 0
    replica.dbi_resource_id = _new_resource_id()
    return replica


#: Statuses in which RDS refuses ModifyDBInstance with InvalidDBInstanceState: the instance is down or not
#: reachable for a change (a fence waits for it to be ``available`` again).
NOT_MODIFIABLE = frozenset({
    "failed", "storage-full", "incompatible-network", "incompatible-parameters", "incompatible-restore",
    "restore-error", "inaccessible-encryption-credentials", "stopped", "stopping", "deleting", "starting",
    "rebooting",
})


def _modify_db_instance(self, db_instance_identifier, db_kwargs):
    """ModifyDBInstance of an instance RDS cannot modify now (``failed``, ``storage-full``, ``stopped``, ...)
    fails with ``InvalidDBInstanceState`` and changes nothing (stock moto modifies it whatever its status).
    ``VpcSecurityGroupIds`` are kept in the order given, as stock moto does, and, as stock moto does, not
    checked against EC2 (RDS answers ``InvalidParameterValue`` for an unknown group: not emulated).
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBInstance.html"""
    db = self.databases.get(db_instance_identifier)
    if db is None:
        raise DBInstanceNotFoundError(db_instance_identifier)
    if db.status in NOT_MODIFIABLE:
        raise RDSClientError(
            "InvalidDBInstanceState",
            f"Database instance is not in available state: {db_instance_identifier} is {db.status}.",
        )
    return _orig_modify_db_instance(self, db_instance_identifier, db_kwargs)


def _create_db_cluster(self, kwargs):
    """CreateDBCluster with engine ``mysql`` or ``postgres`` creates a Multi-AZ DB cluster: "the request creates
    a writer and two reader DB instances for you, each in a different Availability Zone" (stock moto creates an
    empty cluster, as for Aurora). They are ``<cluster>-instance-1`` (the writer), ``-instance-2`` and
    ``-instance-3``, of the cluster's engine and ``DBClusterInstanceClass``, in the cluster's first three zones,
    with no tags. Such a cluster needs ``DBClusterInstanceClass`` ("Valid for Cluster Type: Multi-AZ DB clusters
    only"), ``AllocatedStorage`` and ``StorageType`` (io1, io2 or gp3; ``Iops`` with io1 and io2), else
    ``InvalidParameterCombination`` / ``InvalidParameterValue``; an Aurora engine with ``DBClusterInstanceClass``
    is refused with ``InvalidParameterCombination`` (stock moto accepts all of these).
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_CreateDBCluster.html and
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/multi-az-db-clusters-concepts.html"""
    engine = kwargs.get("engine") or ""
    instance_class = kwargs.get("db_cluster_instance_class")
    if instance_class and engine.startswith("aurora"):
        raise RDSClientError("InvalidParameterCombination",
                             f"DBClusterInstanceClass isn't supported for DB engine {engine}.")
    if engine not in MULTI_AZ_ENGINES:
        return _orig_create_db_cluster(self, kwargs)
    if not instance_class:
        raise RDSClientError("InvalidParameterCombination",
                             f"DBClusterInstanceClass is required to create a Multi-AZ DB cluster ({engine}).")
    if not kwargs.get("allocated_storage"):
        raise RDSClientError("InvalidParameterCombination",
                             "AllocatedStorage is required to create a Multi-AZ DB cluster.")
    storage = kwargs.get("storage_type")
    if storage not in MULTI_AZ_STORAGE_TYPES:
        raise RDSClientError("InvalidParameterValue",
                             f"Invalid storage type for a Multi-AZ DB cluster: {storage}; use io1, io2 or gp3.")
    if storage in ("io1", "io2") and not kwargs.get("iops"):
        raise RDSClientError("InvalidParameterCombination", f"Iops is required with StorageType {storage}.")
    cluster = _orig_create_db_cluster(self, kwargs)
    cluster_id = kwargs["db_cluster_identifier"]
    zones = list(cluster.availability_zones)
    for n in range(3):
        self.create_db_instance({
            "db_instance_identifier": f"{cluster.db_cluster_identifier}-instance-{n + 1}",
            "db_cluster_identifier": cluster_id,
            "engine": engine,
            "db_instance_class": instance_class,
            "availability_zone": zones[n % len(zones)],
        })
    return cluster


def _failover_db_cluster(self, db_cluster_identifier, target_db_instance_identifier=None):
    """FailoverDBCluster without TargetDBInstanceIdentifier promotes the available reader of the lowest
    PromotionTier (tier 0 first); stock moto takes the first reader in creation order, whatever its tier. The
    failover is recorded as RDS records it, for DescribeEvents (source type ``db-cluster``, category ``failover``:
    "Started cross AZ failover to DB instance: <writer>", then "Completed failover to DB instance: <writer>").
    https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_FailoverDBCluster.html and
    https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/Concepts.AuroraHighAvailability.html"""
    cluster = self.clusters.get(db_cluster_identifier)
    if target_db_instance_identifier is None and cluster is not None:
        readers = [
            m for m in cluster.members if not m.is_cluster_writer and m.status == "available"
        ]
        if readers:
            best = min(readers, key=lambda m: int(m.promotion_tier if m.promotion_tier is not None else 1))
            target_db_instance_identifier = best.db_instance_identifier
    result = _orig_failover(self, db_cluster_identifier, target_db_instance_identifier)
    writer = next((m.db_instance_identifier for m in result.members if m.is_cluster_writer), "")
    source = types.SimpleNamespace(resource_id=db_cluster_identifier, event_source_type="db-cluster",
                                   arn=result.db_cluster_arn)
    # RDS records a cluster's failover, whoever asked for it (RDS-EVENT-0073 or 0072, then 0071); moto none.
    _append_event(self, source, f"Started cross AZ failover to DB instance: {writer}", ["failover"])
    _append_event(self, source, f"Completed failover to DB instance: {writer}", ["failover"])
    return result


def _describe_events(self, source_identifier=None, source_type=None, start_time=None, end_time=None,
                     duration=None, event_categories=None, **kwargs):
    """DescribeEvents answers the events of the window only: ``StartTime`` to ``EndTime`` (default now), or the
    ``Duration`` minutes before ``EndTime`` (default 60: "by default, the past hour of events are returned"), and
    only those of the ``EventCategories`` given; stock moto ignores all four and returns every event it has. The
    answer has the real shape (``SourceIdentifier``, ``SourceType``, ``Message``, ``EventCategories``, ``Date``,
    ``SourceArn``; no event ID: RDS does not return one here). Events are those moto makes and those recorded with
    ``POST /_failover/rds/event``. https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_DescribeEvents.html"""
    events = _orig_describe_events(self, source_identifier=source_identifier, source_type=source_type, **kwargs)
    end = _naive_utc(end_time) or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    start = _naive_utc(start_time) or end - dt.timedelta(minutes=int(duration or 60))
    wanted = set(event_categories or [])
    return [
        e for e in events
        if start <= _naive_utc(e.date) <= end and (not wanted or wanted & set(e.event_categories))
    ]


def _naive_utc(when):
    """A datetime as naive UTC (moto stamps its events with naive UTC), or None."""
    if when is None:
        return None
    if when.tzinfo is not None:
        when = when.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when


def record_event(body: dict) -> dict:
    """``POST /_failover/rds/event`` ``{"account","region","db_instance_identifier","message","categories",
    "date"}``: an RDS event about a DB instance, as RDS records it for DescribeEvents (``date``: seconds since the
    epoch, default now; ``categories``: e.g. ``["failover"]``). RDS records such events itself (a Multi-AZ
    failover started, RDS-EVENT-0013); moto records none of them. The event is NOT delivered to EventBridge: that
    is what a test of the DescribeEvents fallback needs (EventBridge delivers RDS events best effort). With
    ``db_cluster_identifier`` instead, the event is about that DB cluster (source type ``db-cluster``: a cluster's
    failover started, RDS-EVENT-0072 / 0073). https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_Events.Messages.html"""
    rds, db = _cluster_source(body) if "db_cluster_identifier" in body else _instance(body)
    message = field(body, "message")
    categories = body.get("categories", [])
    if not isinstance(categories, list) or not all(isinstance(c, str) for c in categories):
        raise ControlError("field 'categories' must be a list of strings")
    date = body.get("date")
    if date is not None and not isinstance(date, (int, float)):
        raise ControlError("field 'date' must be seconds since the epoch")
    _append_event(rds, db, message, categories, date)
    return {"ok": True}


def _append_event(rds, source, message: str, categories: list, date=None) -> None:
    """An event about ``source`` (anything with ``resource_id``, ``event_source_type`` and ``arn``) for
    DescribeEvents; ``date`` in seconds since the epoch, default now."""
    event = rds_models.Event("DB_INSTANCE_CREATE", source)
    event.message, event.event_categories = message, categories
    if date is not None:
        event.date = dt.datetime.fromtimestamp(date, dt.timezone.utc).replace(tzinfo=None)
    rds.events.append(event)


DBInstance.__init__ = _instance_init
RDSBackend.describe_events = _describe_events
RDSBackend.promote_read_replica = _promote_read_replica
RDSBackend.create_db_instance_read_replica = _create_db_instance_read_replica
RDSBackend.failover_db_cluster = _failover_db_cluster
RDSBackend.create_db_cluster = _create_db_cluster
RDSBackend.modify_db_instance = _modify_db_instance


def set_instance_status(body: dict) -> dict:
    """``POST /_failover/rds/instance-status``: any DBInstanceStatus (``failed``, ``storage-full``,
    ``backing-up``...); stock moto instances are always ``available``.
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/accessing-monitoring.html"""
    account, region = where(body)
    db_id, status = field(body, "db_instance_identifier"), field(body, "status")
    db = backend(rds_models.rds_backends, account, region).databases.get(db_id)
    if db is None:
        raise ControlError(f"DB instance not found: {db_id}")
    db.status = status
    return {"ok": True}


def _cluster_source(body: dict):
    """The RDS backend and the DB cluster ``body`` names, as an event's source."""
    rds, cluster = _named(body, "db_cluster_identifier", "clusters", "DB cluster")
    return rds, types.SimpleNamespace(resource_id=cluster.db_cluster_identifier, event_source_type="db-cluster",
                                      arn=cluster.db_cluster_arn)


def _instance(body: dict):
    return _named(body, "db_instance_identifier", "databases", "DB instance")


def _named(body: dict, name_field: str, collection: str, what: str):
    """The RDS backend of ``body``'s account and region, and its ``collection`` item ``body[name_field]`` names."""
    account, region = where(body)
    rds = backend(rds_models.rds_backends, account, region)
    name = field(body, name_field)
    found = getattr(rds, collection).get(name)
    if found is None:
        raise ControlError(f"{what} not found: {name}")
    return rds, found


def hold_promotion(body: dict) -> dict:
    """``POST /_failover/rds/promotion-hold``: the next PromoteReadReplica of the replica succeeds and leaves the
    promotion under way, as RDS does for minutes: the replica is ``modifying`` and still a replica (its source
    still lists it), and another PromoteReadReplica fails with ``InvalidDBInstanceState``, until
    ``POST /_failover/rds/promotion-finish``. Stock moto (and this launcher otherwise) completes it at once.
    https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_ReadRepl.Promote.html"""
    _, db = _instance(body)
    if not db.is_replica:
        raise ControlError(f"not a read replica: {db.db_instance_identifier}")
    db._failover_hold = True
    return {"ok": True}


def finish_promotion(body: dict) -> dict:
    """``POST /_failover/rds/promotion-finish`` ``{"outcome": "promoted" | "failed"}``: the held promotion ends.
    ``promoted``: the replica is detached as PromoteReadReplica does, ``available``. ``failed``: the promotion
    did not happen (it failed after the call had returned): the instance is ``available`` and still a replica."""
    rds, db = _instance(body)
    outcome = field(body, "outcome")
    kwargs = getattr(db, "_failover_promotion", None)
    if kwargs is None:
        raise ControlError(f"no promotion under way on {db.db_instance_identifier}")
    if outcome not in ("promoted", "failed"):
        raise ControlError(f"outcome must be promoted or failed, got {outcome!r}")
    db._failover_promotion = None
    if outcome == "promoted":
        _detach(rds, db, kwargs)
    else:
        db.status = "available"
    return {"ok": True}
