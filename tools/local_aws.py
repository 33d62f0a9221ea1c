#!/usr/bin/env python3
"""Local AWS emulator for the failover project: moto 5.2.5 in server mode, made closer to AWS.

Used by the Rust integration tests, the demo and the benchmarks. Never used in production.

Command line
    python tools/local_aws.py [--host 127.0.0.1] [--port 0] [--no-stdin-watch] [--verbose]

    --port 0 picks a free port. When the server accepts connections, exactly one line
    ``READY http://<host>:<port>`` is printed to stdout; everything else (including anything
    moto prints later) goes to stderr. Per-request access logs only with --verbose.
    The process exits when stdin reaches EOF (so a dead test process never leaves an orphan),
    unless --no-stdin-watch is given, and on SIGTERM / SIGINT.

Server
    moto's WSGI app (``DomainDispatcherApplication(create_backend_app)``) behind werkzeug's
    threaded server (one thread per connection). Accepted sockets get TCP_NODELAY: without it a
    response written in two segments (werkzeug writes headers, then body) can stall ~40 ms against
    hyper-based clients (Nagle + delayed ACK), which would dominate every benchmark figure.
    Werkzeug 3 answers every request with ``Connection: close``, so SDK clients reconnect per call
    (cheap on loopback; the first call in a new account or region also builds moto's backends,
    ~0.25 s for EC2's default VPC).

Deviations from stock moto, and why
    Smithy RPC v2 CBOR (CloudWatch)
      * aws-sdk-cloudwatch (Rust) speaks only rpc-v2-cbor: ``POST /service/GraniteServiceVersion20100801/
        operation/<Op>``, ``smithy-protocol: rpc-v2-cbor``, CBOR bodies. Stock moto answers 404; it knows
        CloudWatch's JSON protocol (what boto3 picks). ``tools/rpcv2_cbor.py`` (``RpcV2CborToJson``, in front of
        moto) re-dispatches such a request as awsJson1.0 (``X-Amz-Target: GraniteServiceVersion20100801.<Op>``;
        CBOR tag-1 timestamps become epoch seconds, byte strings base64) and encodes moto's answer back as CBOR
        (``smithy-protocol: rpc-v2-cbor``, ``application/cbor``; members that botocore's CloudWatch model calls
        timestamps as tag 1 epoch-second doubles; errors as ``{"__type", "message"}`` with moto's status and
        its ``x-amzn-query-error`` header, which the Rust SDK reads the error code from). Checked there, not
        in moto: a required input member missing gives 400 ``MissingRequiredParameterException``
        (``MissingParameter``; moto would raise and answer an HTML 500), an unknown operation 404
        ``UnknownOperationException``, a body that is not a CBOR map 400 ``SerializationException``; moto
        raising gives a CBOR 500 ``InternalFailure``. Data and behaviour are moto's; only the wire changes.
    Accounts
      * Stock moto: header ``x-moto-account-id`` selects the account, default 123456789012.
        Added: when the SigV4 access key id (``Authorization: ... Credential=<AKID>/...``) is
        exactly 12 digits, it is the account id (unless the header is present). A real Lambda
        binary can then be isolated in its own account through AWS_ACCESS_KEY_ID alone.
    ELBv2
      * A forward action of a network load balancer's listener (TCP, UDP, TLS, TCP_UDP) names one target
        group: CreateListener / ModifyListener with a ForwardConfig of several target groups fail with
        ``ValidationError`` as on AWS; stock moto accepts them.
      * A target group's LoadBalancerArns follow the listeners and rules: after ModifyListener a group no
        action forwards to any more leaves the load balancer's list, and a group newly forwarded to joins
        it, as on AWS; stock moto only adds at CreateListener / CreateRule.
      * DescribeTargetHealth honours per-target overrides set by POST /_failover/elbv2/target-health
        (state, reason, description). Stock moto reports every registered target ``healthy``;
        AWS reports ``unhealthy`` / ``Target.FailedHealthChecks`` when health checks fail.
        An override applies only while the target is registered, and is dropped when it is
        deregistered.
      * DeregisterTargets of a target that is not registered succeeds (AWS behaviour); stock moto
        raises InvalidTarget. A target given with a Port deregisters only if that port is the
        registered one (AWS identifies a registration by id and port; moto keeps one port per id).
    DynamoDB
      * Requests are serialised. Stock moto's TransactWriteItems rolls a failed transaction back by
        restoring a copy of the whole table taken before it, undoing writes that other request
        threads made in the meantime; DynamoDB transactions are atomic and isolated.
    ARC zonal shift (``tools/arc_zonal_shift.py``, which documents each point)
      * moto has no ``arc-zonal-shift``: StartZonalShift, ListZonalShifts, GetManagedResource, CancelZonalShift,
        UpdateZonalShift and ListAutoshifts are emulated with the real REST+JSON shapes and errors, per account
        and region, for load balancers whose attribute ``zonal_shift.config.enabled`` is ``true``.
    Auto Scaling (``tools/autoscaling_health.py``, which documents each point)
      * SetInstanceHealth(Unhealthy) replaces the instance (deregistered, terminated, a new one launched and
        registered), respecting ShouldRespectGracePeriod; stock moto only records the status. A missing
        HealthCheckGracePeriod is 0 (AWS), not moto's 300; bad input is a ValidationError, not an HTTP 500.
      * A group spreads its instances over its zones (the zone with the fewest first); stock moto put them all
        in the first subnet of VPCZoneIdentifier.
    Route 53
      * ChangeResourceRecordSets checks the batch against the zone's current record sets, atomically, as
        Route 53 does, and answers ``InvalidChangeBatch`` (HTTP 400) with AWS's messages, changing nothing:
        a DELETE whose TTL or values differ from the record's ("Tried to delete resource record set
        [name='x.', type='CNAME'] but the values provided do not match the current values"), a DELETE of
        a record that does not exist ("... but it was not found"), a CREATE of one that exists ("... but it
        already exists"); each change sees the ones before it in the batch (DELETE then CREATE of one name
        repoints it). Stock moto compares a DELETE with every value the record ever had (its change journal),
        so a DELETE naming a value the record no longer has passed, and a CREATE over an existing record added
        a duplicate.
    RDS
      * PromoteReadReplica detaches the replica as AWS does: ``ReadReplicaSourceDBInstanceIdentifier``
        disappears, the source (same- or cross-region) stops listing it in
        ``ReadReplicaDBInstanceIdentifiers``, ``BackupRetentionPeriod`` is set (AWS default 1 when
        not given) and ``PreferredBackupWindow`` if given. Stock moto only flips an internal flag.
      * PromoteReadReplica fails with ``InvalidDBInstanceState`` when the instance is not a read
        replica or is ``backing-up`` (AWS API reference); stock moto succeeds silently. An unknown
        instance gives ``DBInstanceNotFound`` instead of an HTTP 500.
      * CreateDBInstanceReadReplica creates the replica with ``BackupRetentionPeriod`` 0: "All read
        replica DB instances are created with backups disabled" (AWS API reference). Stock moto
        copies the source's value.
      * FailoverDBCluster without TargetDBInstanceIdentifier promotes the available reader with
        the lowest PromotionTier (AWS: tier 0 first). Stock moto takes the first reader in
        creation order, whatever its tier.
      * Any status string can be set on an instance through POST /_failover/rds/instance-status
        (``failed``, ``storage-full``, ``incompatible-network``, ``backing-up``...); stock moto
        instances are always ``available``.

Control endpoints (JSON in, JSON out; ``account`` defaults to 123456789012, ``region`` to us-east-1)
    POST /_failover/elbv2/target-health
        {"account","region","target_group_arn","targets":[{"id","port"?,"state","reason"?,"description"?}]}
        state is one of initial|healthy|unhealthy|unhealthy.draining|unused|draining|unavailable;
        ``healthy`` clears the override. Targets must be registered. -> {"ok": true}
    POST /_failover/rds/instance-status
        {"account","region","db_instance_identifier","status"} -> {"ok": true}
    POST /_failover/ec2/instances
        {"account","region","count","zone"?} -> {"instance_ids": [...]}   (running, in the default VPC; in the
        default subnet of ``zone``, a zone name such as us-east-1b, when given; else in moto's default, <region>a)
    POST /_failover/ec2/instances/terminate
        {"account","region","instance_ids":[...]} -> {"ok": true}: the instances are terminated (as an Auto Scaling
        group replacing them would), so that RegisterTargets refuses them with ``InvalidTarget`` as AWS does
        (the tests of a removed target that no longer exists; no EC2 client is needed).
    GET  /_failover/ec2/network?account=..&region=..
        -> {"vpc_id": "...", "subnet_ids": [...]}   (default VPC, one default subnet per AZ)
    GET  /_failover/calls?account=..
        -> {"calls": [{"service", "action", "count", "seconds", "apps"}, ...]}: every AWS API call answered for that
        account since the start (or the last reset), by service (from the SigV4 credential scope) and action
        (``Action`` of query-protocol calls, ``X-Amz-Target``, the rpc-v2-cbor path, else ``METHOD /path``
        with Route 53 ids generalised); ``seconds`` is the server's time from reading the request line to
        moto's answer (werkzeug's parsing and moto's work, not the connection or the write). Used by the
        benchmarks (benches/) to count calls per scenario and to subtract the emulator's time from latencies.
        ``apps``: the SDK app names (the ``app/<name>`` token of the User-Agent) the calls carried, sorted, so
        that a test can check what CloudTrail's ``userAgent`` would name (boto3 without an app name adds none).
    POST /_failover/calls/reset {"account"} -> {"ok": true}
    POST /_failover/dynamodb/ledger-table {"account","region","table_name"?}
        -> {"table_name", "created"}: the ledger table, created exactly as template.yaml's LedgerTable declares
        it (key schema, billing, encryption, TTL attribute, point-in-time recovery), default name
        ``failover-ledger``; an existing table of that name is left as it is (``created`` false).
    POST /_failover/arc/autoshift
        {"account","region","away_from","status": "ACTIVE"|"COMPLETED","resource_identifiers"?}
        starts / ends an AWS autoshift away from an AZ ID (ListAutoshifts, GetManagedResource) -> {"ok": true}
    POST /_failover/arc/zonal-shift
        {"account","region","resource_identifier","away_from","shift_type"?,"comment"?,"start_time"?,"expiry_time"?}
        records a zonal shift or practice run started by someone else -> {"zonal_shift_id"}
    Unknown path, bad JSON or a failed operation -> HTTP 400 {"error": "..."}.

Verified unchanged in moto 5.2.5 (tools/test_local_aws.py exercises them)
    ELBv2 load balancers / target groups (instance and ip) / targets (instance ids need not exist
    in EC2) / tags (20 ARNs per DescribeTags) / listeners and rules with weighted ForwardConfig
    (weights are reported back) / target group attributes (ModifyTargetGroupAttributes accepts the
    ``target_group_health.*`` thresholds and DescribeTargetGroupAttributes returns them; unset ones are
    absent where AWS returns its defaults, count 1 and percentage ``off``); RDS instances, same- and cross-region replicas (cross-region
    source given as an ARN, listed by ARN on the source), DescribeDBInstances with a
    ``db-instance-id`` filter of several identifiers (those of the region that exist; missing ones
    left out, no error), tags, Aurora clusters with
    IsClusterWriter / PromotionTier and FailoverDBCluster with a target; CloudWatch PutMetricData
    (moto accepts the ``AWS/`` namespaces that AWS refuses, so no injection endpoint is needed)
    and GetMetricData (Maximum per Period, ScanBy), also over rpc-v2-cbor; Route 53 hosted zones
    and UPSERT (DELETE / CREATE checked as above); SNS -> SQS with MessageAttributes and Subject, raw delivery on and off, also in
    non-default accounts; DynamoDB conditional PutItem / UpdateItem / DeleteItem failing with
    ``ConditionalCheckFailedException`` (with the old item when ``ReturnValuesOnConditionCheckFailure``
    is ``ALL_OLD``), the ledger's key schema, TTL settings (DescribeTimeToLive), point-in-time recovery
    and encryption as declared, consistent Query by partition key.

Known gaps left as they are
    No ``draining`` after deregistration (targets vanish at once); instances, promotions and
    failovers complete instantly (no ``modifying`` / ``rebooting``); no RDS events; alarms are
    never evaluated; a replica created without Tags starts with a copy of its source's tags
    (not checked against AWS); Route 53's SOA record value is a mangled string; DynamoDB never
    deletes expired items (AWS does so eventually, up to days later: the ledger's readers ignore
    an item whose ``expires_at`` has passed either way).
"""

from __future__ import annotations

import argparse
import io
import json
import logging
import re
import signal
import sys
import threading
import time
from collections import defaultdict
from urllib.parse import parse_qs

from pathlib import Path

import yaml
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.ec2.models import ec2_backends
from moto.elbv2.exceptions import ValidationError as ElbValidationError
from moto.elbv2.models import ELBv2Backend, FakeTargetGroup, elbv2_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.rds import models as rds_models
from moto.route53 import models as route53_models
from moto.route53.exceptions import Route53ClientError
from moto.rds.exceptions import DBInstanceNotFoundError, RDSClientError
from rpcv2_cbor import RpcV2CborToJson  # tools/, beside this file
import arc_zonal_shift  # tools/: ARC zonal shift, which moto lacks
import autoscaling_health  # noqa: F401  tools/: patches moto's SetInstanceHealth on import
from werkzeug.serving import make_server

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
CONTROL_PREFIX = "/_failover/"
_ACCOUNT_AKID = re.compile(r"Credential=(\d{12})/")
_CREDENTIAL_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")
_CBOR_OPERATION = re.compile(r"/service/[^/]+/operation/([^/?]+)")
_ROUTE53_ID = re.compile(r"/(hostedzone|change|healthcheck|delegationset)/[^/]+")

log = logging.getLogger("local_aws")


class ControlError(Exception):
    """A bad control request: answered with HTTP 400 {"error": ...}."""


# --------------------------------------------------------------------------- ELBv2 patches

# Default reason / description per state, as AWS reports them (TargetHealth reference).
TARGET_STATES = {
    "initial": ("Elb.RegistrationInProgress", "Target registration is in progress"),
    "healthy": (None, None),
    "unhealthy": ("Target.FailedHealthChecks", "Health checks failed"),
    "unhealthy.draining": ("Target.FailedHealthChecks", "Health checks failed"),
    "unused": ("Target.NotInUse", "Target group is not configured to receive traffic from the load balancer"),
    "draining": ("Target.DeregistrationInProgress", "Target deregistration is in progress"),
    "unavailable": ("Target.HealthCheckDisabled", "Health checks are disabled"),
}


def _overrides(tg: FakeTargetGroup) -> dict:
    """Per-target-group health overrides: target id -> (state, reason, description)."""
    if "_failover_health" not in tg.__dict__:
        tg._failover_health = {}
    return tg._failover_health


_orig_health_for = FakeTargetGroup.health_for


def _health_for(self, target, ec2_backend):
    status = _orig_health_for(self, target, ec2_backend)
    override = _overrides(self).get(target["Id"])
    if override and target["Id"] in self.targets:
        status.status, status.reason, status.description = override
    return status


def _deregister(self, targets):
    """Idempotent: deregistering a target that is not registered succeeds, as on AWS."""
    for target in targets:
        registered = self.targets.get(target["Id"])
        if registered is None:
            continue
        if "Port" in target and str(target["Port"]) != str(registered["Port"]):
            continue  # that (id, port) pair is not registered
        self.deregistered_targets[target["Id"]] = self.targets.pop(target["Id"])
        _overrides(self).pop(target["Id"], None)


FakeTargetGroup.health_for = _health_for
FakeTargetGroup.deregister = _deregister

NLB_PROTOCOLS = {"TCP", "UDP", "TLS", "TCP_UDP"}
_orig_create_listener = ELBv2Backend.create_listener
_orig_modify_listener = ELBv2Backend.modify_listener


def _single_group_forward(protocol, actions) -> None:
    """A network load balancer's forward action names one target group (AWS: ValidationError)."""
    if protocol not in NLB_PROTOCOLS:
        return
    for action in actions or []:
        groups = (action.get("ForwardConfig") or {}).get("TargetGroups") or []
        if action.get("Type") == "forward" and len(groups) > 1:
            raise ElbValidationError("a network load balancer's forward action takes a single target group")


def _follow_forwards(self, load_balancer_arn: str) -> None:
    """Each target group lists this load balancer exactly when one of its listeners or rules forwards to it."""
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
    _single_group_forward(protocol, actions)
    return _orig_create_listener(self, load_balancer_arn, protocol, port, ssl_policy, certificate, actions,
                                 *args, **kwargs)


def _modify_listener(self, arn, port=None, protocol=None, ssl_policy=None, certificates=None, actions=None,
                     *args, **kwargs):
    current = self.describe_listeners(load_balancer_arn=None, listener_arns=[arn])[0]
    _single_group_forward(protocol or current.protocol, actions)
    listener = _orig_modify_listener(self, arn, port, protocol, ssl_policy, certificates, actions, *args, **kwargs)
    _follow_forwards(self, listener.load_balancer_arn)
    return listener


ELBv2Backend.create_listener = _create_listener
ELBv2Backend.modify_listener = _modify_listener


# --------------------------------------------------------------------------- RDS patches

RDSBackend = rds_models.RDSBackend
_orig_create_replica = RDSBackend.create_db_instance_read_replica
_orig_failover = RDSBackend.failover_db_cluster


def _promote_read_replica(self, db_kwargs):
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
    retention = db_kwargs.get("backup_retention_period")
    db.backup_retention_period = 1 if retention is None else int(retention)
    if db_kwargs.get("preferred_backup_window"):
        db.preferred_backup_window = db_kwargs["preferred_backup_window"]
    return db


def _create_db_instance_read_replica(self, db_kwargs):
    replica = _orig_create_replica(self, db_kwargs)
    replica.backup_retention_period = 0
    return replica


def _failover_db_cluster(self, db_cluster_identifier, target_db_instance_identifier=None):
    cluster = self.clusters.get(db_cluster_identifier)
    if target_db_instance_identifier is None and cluster is not None:
        readers = [
            m for m in cluster.members if not m.is_cluster_writer and m.status == "available"
        ]
        if readers:
            best = min(readers, key=lambda m: int(m.promotion_tier if m.promotion_tier is not None else 1))
            target_db_instance_identifier = best.db_instance_identifier
    return _orig_failover(self, db_cluster_identifier, target_db_instance_identifier)


RDSBackend.promote_read_replica = _promote_read_replica
RDSBackend.create_db_instance_read_replica = _create_db_instance_read_replica
RDSBackend.failover_db_cluster = _failover_db_cluster


# DynamoDB: moto's TransactWriteItems deep-copies the tables it touches and, when a condition fails, rolls back
# by putting those copies back, so a write that another request thread made meanwhile (the server is
# threaded) is silently undone. DynamoDB's transactions are atomic and isolated; one lock around every
# DynamoDB read and write makes moto's the same (the ledger's leases depend on it).
_DYNAMODB_LOCK = threading.RLock()


def _serialised(method):
    def locked(self, *args, **kwargs):
        with _DYNAMODB_LOCK:
            return method(self, *args, **kwargs)
    locked.__name__ = method.__name__
    return locked


for _name in ("transact_write_items", "put_item", "update_item", "delete_item", "get_item", "query", "scan",
              "batch_write_item"):
    setattr(DynamoDBBackend, _name, _serialised(getattr(DynamoDBBackend, _name)))


# --------------------------------------------------------------------------- Route 53 patches

Route53Backend = route53_models.Route53Backend
_orig_change_rrsets = Route53Backend.change_resource_record_sets


class InvalidChangeBatch(Route53ClientError):
    """Route 53's answer to a batch that does not fit the zone's current records (HTTP 400)."""

    def __init__(self, message: str):
        super().__init__("InvalidChangeBatch", f"[{message}]")


def _rr_key(record_set: dict) -> tuple:
    name = str(record_set.get("Name", "")).rstrip(".").lower()
    return name, record_set.get("Type"), record_set.get("SetIdentifier")


def _rr_values(records) -> list:
    return [r["Value"] if isinstance(r, dict) else r for r in records or []]


def _change_resource_record_sets(self, zoneid, change_list):
    """Checks the batch against the current record sets (not moto's journal), then lets moto apply it."""
    zone = self.get_hosted_zone(zoneid)
    current = {_rr_key({"Name": r.name, "Type": r.type, "SetIdentifier": r.set_identifier}):
               (None if r.ttl is None else int(r.ttl), _rr_values(r.records), r.alias_target) for r in zone.rrsets}
    for change in change_list:
        record_set = change.get("ResourceRecordSet", {})
        key = _rr_key(record_set)
        shown = f"[name='{key[0]}.', type='{key[1]}'" + (f", set-identifier='{key[2]}'" if key[2] else "") + "]"
        ttl = record_set.get("TTL")
        given = (None if ttl is None else int(ttl), _rr_values(record_set.get("ResourceRecords")),
                 record_set.get("AliasTarget"))
        action = change.get("Action")
        if action == "DELETE":
            if key not in current:
                raise InvalidChangeBatch(f"Tried to delete resource record set {shown} but it was not found")
            if current[key][:2] != given[:2]:
                raise InvalidChangeBatch(
                    f"Tried to delete resource record set {shown} but the values provided do not match the "
                    "current values")
            del current[key]
        elif action == "CREATE":
            if key in current:
                raise InvalidChangeBatch(f"Tried to create resource record set {shown} but it already exists")
            current[key] = given
        elif action == "UPSERT":
            current[key] = given
    return _orig_change_rrsets(self, zoneid, change_list)


Route53Backend.change_resource_record_sets = _change_resource_record_sets


# --------------------------------------------------------------------------- control endpoints


def _field(body: dict, name: str, kind=str):
    value = body.get(name)
    if not isinstance(value, kind) or (kind is str and not value):
        raise ControlError(f"field {name!r} is required ({kind.__name__})")
    return value


def _where(body: dict) -> tuple[str, str]:
    account = str(body.get("account") or DEFAULT_ACCOUNT)
    region = str(body.get("region") or DEFAULT_REGION)
    if not re.fullmatch(r"\d{12}", account):
        raise ControlError(f"account must be 12 digits, got {account!r}")
    return account, region


def _backend(backends, account: str, region: str):
    try:
        return backends[account][region]
    except KeyError:
        raise ControlError(f"unknown region {region!r}") from None


def set_target_health(body: dict) -> dict:
    account, region = _where(body)
    arn = _field(body, "target_group_arn")
    tg = _backend(elbv2_backends, account, region).target_groups.get(arn)
    if tg is None:
        raise ControlError(f"target group not found: {arn}")
    changes = []
    for t in _field(body, "targets", list):
        if not isinstance(t, dict):
            raise ControlError("each target must be an object")
        target_id, state = _field(t, "id"), _field(t, "state")
        if state not in TARGET_STATES:
            raise ControlError(f"state must be one of {sorted(TARGET_STATES)}, got {state!r}")
        registered = tg.targets.get(target_id)
        if registered is None:
            raise ControlError(f"target {target_id} is not registered in {arn}")
        if t.get("port") is not None and str(t["port"]) != str(registered["Port"]):
            raise ControlError(f"target {target_id} is registered on port {registered['Port']}")
        reason, description = TARGET_STATES[state]
        changes.append((target_id, state, t.get("reason") or reason, t.get("description") or description))
    overrides = _overrides(tg)
    for target_id, state, reason, description in changes:
        if state == "healthy":
            overrides.pop(target_id, None)
        else:
            overrides[target_id] = (state, reason, description)
    return {"ok": True}


def set_instance_status(body: dict) -> dict:
    account, region = _where(body)
    db_id, status = _field(body, "db_instance_identifier"), _field(body, "status")
    db = _backend(rds_models.rds_backends, account, region).databases.get(db_id)
    if db is None:
        raise ControlError(f"DB instance not found: {db_id}")
    db.status = status
    return {"ok": True}


def run_instances(body: dict) -> dict:
    account, region = _where(body)
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 100:
        raise ControlError("count must be an integer from 1 to 100")
    ec2 = _backend(ec2_backends, account, region)
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
    account, region = _where(body)
    ids = body.get("instance_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise ControlError("instance_ids must be a non-empty list of instance ids")
    try:
        _backend(ec2_backends, account, region).terminate_instances(ids)
    except Exception as e:  # moto's InvalidInstanceIdError and the like
        raise ControlError(f"cannot terminate {ids}: {e}") from e
    return {"ok": True}


def default_network(body: dict) -> dict:
    account, region = _where(body)
    ec2 = _backend(ec2_backends, account, region)
    vpc = ec2.get_default_vpc()
    if vpc is None:
        raise ControlError(f"no default VPC in {account}/{region}")
    subnets = sorted(ec2.get_default_subnets().items())
    return {"vpc_id": vpc.id, "subnet_ids": [s.id for _, s in subnets if s.vpc_id == vpc.id]}


# --------------------------------------------------------------------------- the ledger table
TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


class _TemplateLoader(yaml.SafeLoader):
    """Reads template.yaml with its CloudFormation short tags (!Ref, !Sub...) kept as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node)))


def ledger_table_properties(template: Path = TEMPLATE) -> dict:
    """The ledger table's properties exactly as the deployment declares them."""
    resource = yaml.load(template.read_text(), Loader=_TemplateLoader)["Resources"].get("LedgerTable")
    if not resource or resource.get("Type") != "AWS::DynamoDB::Table":
        raise ControlError(f"{template}: no AWS::DynamoDB::Table resource LedgerTable")
    return resource["Properties"]


def create_ledger_table(body: dict) -> dict:
    """Creates the ledger table as the template's LedgerTable declares it (keys, billing, encryption, TTL,
    point-in-time recovery), so that tests, the demo and the benchmarks run on the table the stack creates."""
    account, region = _where(body)
    name = str(body.get("table_name") or "failover-ledger")
    props = ledger_table_properties()
    backend = _backend(dynamodb_backends, account, region)
    if name in backend.tables:
        return {"table_name": name, "created": False}
    sse = props.get("SSESpecification") or {}
    backend.create_table(
        name,
        schema=props["KeySchema"],
        throughput=None,
        attr=props["AttributeDefinitions"],
        global_indexes=None,
        indexes=None,
        streams=None,
        billing_mode=props.get("BillingMode", "PROVISIONED"),
        sse_specification={"Enabled": bool(sse.get("SSEEnabled"))} if sse else None,
        tags=[],
        deletion_protection_enabled=None,
        warm_throughput=None,
    )
    if ttl := props.get("TimeToLiveSpecification"):
        backend.update_time_to_live(name, {"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])})
    if pitr := props.get("PointInTimeRecoverySpecification"):
        backend.update_continuous_backups(
            name, {"PointInTimeRecoveryEnabled": bool(pitr.get("PointInTimeRecoveryEnabled"))})
    return {"table_name": name, "created": True}


# --------------------------------------------------------------------------- call log


class CallLog:
    """AWS API calls answered, per account: (service, action) -> [count, seconds inside moto, app names]."""

    def __init__(self):
        self._lock = threading.Lock()
        self._calls: dict[str, dict[tuple[str, str], list]] = defaultdict(dict)

    def add(self, account: str, service: str, action: str, seconds: float, app: str | None = None) -> None:
        with self._lock:
            entry = self._calls[account].setdefault((service, action), [0, 0.0, set()])
            entry[0] += 1
            entry[1] += seconds
            if app:
                entry[2].add(app)

    def report(self, body: dict) -> dict:
        account, _ = _where(body)
        with self._lock:
            calls = sorted(self._calls.get(account, {}).items())
        return {"calls": [{"service": service, "action": action, "count": count, "seconds": round(seconds, 6),
                           "apps": sorted(apps)} for (service, action), (count, seconds, apps) in calls]}

    def reset(self, body: dict) -> dict:
        account, _ = _where(body)
        with self._lock:
            self._calls.pop(account, None)
        return {"ok": True}


CALLS = CallLog()
_request_clock = threading.local()
_APP_NAME = re.compile(r"(?:^|\s)app/(\S+)")


def app_name(environ) -> str | None:
    """The SDK app name of a request: the ``app/<name>`` token of its User-Agent (or x-amz-user-agent)."""
    for header in ("HTTP_USER_AGENT", "HTTP_X_AMZ_USER_AGENT"):
        match = _APP_NAME.search(environ.get(header, ""))
        if match:
            return match.group(1)
    return None  # .started: when the server thread parsed this request's first line


def identify_call(environ) -> tuple[str, str]:
    """(service, action) of an AWS API request; reading a form body puts it back for moto."""
    match = _CREDENTIAL_SERVICE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(1) if match else "unsigned"
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return service, target.rsplit(".", 1)[-1]
    path = environ.get("PATH_INFO", "")
    match = _CBOR_OPERATION.search(path)
    if match:
        return service, match.group(1)
    if service == arc_zonal_shift.SERVICE:
        return service, arc_zonal_shift.operation_name(environ.get("REQUEST_METHOD", "GET"), path)
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if "Action" in query:
        return service, query["Action"][-1]
    if environ.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(raw)
        action = parse_qs(raw.decode(errors="replace")).get("Action")
        if action:
            return service, action[-1]
    generic_path = _ROUTE53_ID.sub(r"/\1/{id}", path)
    return service, f"{environ.get('REQUEST_METHOD', 'GET')} {generic_path}"


ROUTES = {
    ("GET", "calls"): CALLS.report,
    ("POST", "calls/reset"): CALLS.reset,
    ("POST", "elbv2/target-health"): set_target_health,
    ("POST", "rds/instance-status"): set_instance_status,
    ("POST", "ec2/instances"): run_instances,
    ("POST", "ec2/instances/terminate"): terminate_instances,
    ("GET", "ec2/network"): default_network,
    ("POST", "dynamodb/ledger-table"): create_ledger_table,
    **{route: (lambda body, handler=handler: handler(*_where(body), body))
       for route, handler in arc_zonal_shift.CONTROL_ROUTES.items()},
}


# --------------------------------------------------------------------------- WSGI / server


class FailoverApp:
    """Answers /_failover/ control calls; maps 12-digit access keys to accounts; else moto, with each call
    counted in ``CALLS`` (``/moto-api/`` calls are not counted)."""

    def __init__(self, moto_app):
        self.moto_app = moto_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self.control(environ, start_response, path[len(CONTROL_PREFIX):])
        if "HTTP_X_MOTO_ACCOUNT_ID" not in environ:
            match = _ACCOUNT_AKID.search(environ.get("HTTP_AUTHORIZATION", ""))
            if match:
                environ["HTTP_X_MOTO_ACCOUNT_ID"] = match.group(1)
        if path.startswith("/moto-api/"):
            return self.moto_app(environ, start_response)
        service, action = identify_call(environ)
        started = getattr(_request_clock, "started", None) or time.perf_counter()
        try:
            return self.moto_app(environ, start_response)  # moto's responses are complete lists of bytes
        finally:
            account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT
            CALLS.add(account, service, action, time.perf_counter() - started, app_name(environ))

    def control(self, environ, start_response, route):
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            handler = ROUTES.get((method, route.strip("/")))
            if handler is None:
                raise ControlError(f"unknown control endpoint: {method} {CONTROL_PREFIX}{route}")
            if method == "GET":
                body = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            else:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                raw = environ["wsgi.input"].read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError as e:
                    raise ControlError(f"body is not JSON: {e}") from None
                if not isinstance(body, dict):
                    raise ControlError("body must be a JSON object")
            status, result = "200 OK", handler(body)
        except (ControlError, arc_zonal_shift.ControlError) as e:
            status, result = "400 Bad Request", {"error": str(e)}
        except Exception as e:  # a control call must never take the server down
            log.exception("control endpoint failed")
            status, result = "400 Bad Request", {"error": f"{type(e).__name__}: {e}"}
        payload = json.dumps(result).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


class Handler(MotoRequestHandler):
    """moto's request handler with TCP_NODELAY and an optional access log."""

    disable_nagle_algorithm = True  # socketserver.StreamRequestHandler sets TCP_NODELAY in setup()
    verbose = False

    def parse_request(self):
        _request_clock.started = time.perf_counter()
        return super().parse_request()

    def log_request(self, code="-", size="-"):
        if self.verbose:
            super().log_request(code, size)



def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-stdin-watch", action="store_true", help="do not exit on stdin EOF")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    logging.basicConfig(stream=sys.stderr, level=logging.INFO if args.verbose else logging.WARNING,
                        format="local_aws: %(levelname)s %(message)s")
    Handler.verbose = args.verbose
    moto_app = RpcV2CborToJson(DomainDispatcherApplication(create_backend_app))
    app = FailoverApp(arc_zonal_shift.ArcZonalShift(moto_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if not args.no_stdin_watch:
        def watch_stdin():
            while sys.stdin.buffer.read1(65536):
                pass
            stop.set()
        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    threading.Thread(target=server.serve_forever, name="server", daemon=True).start()

    host, port = server.server_address[:2]
    ready = sys.stdout
    sys.stdout = sys.stderr  # stdout carries the READY line only
    ready.write(f"READY http://{host}:{port}\n")
    ready.flush()

    while not stop.wait(1.0):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
