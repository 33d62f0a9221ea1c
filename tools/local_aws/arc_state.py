"""ARC zonal shift state, per account and region, in memory: the shifts and autoshifts, which load balancers are
managed resources and their zones, and the control endpoints that set what only AWS or another party starts.
``arc_zonal_shift`` serves the API over it; tools/README.md lists what is emulated and what is not.
"""

from __future__ import annotations

import threading
import time
import uuid

from moto.ec2.models import ec2_backends
from moto.elbv2.models import elbv2_backends

from .control import ControlError

ENABLED_ATTRIBUTE = "zonal_shift.config.enabled"
SHIFT_STATUSES = ("ACTIVE", "EXPIRED", "CANCELED")
AUTOSHIFT_STATUSES = ("ACTIVE", "COMPLETED")


class ApiError(Exception):
    """An ARC error answer: HTTP status, error code (``x-amzn-ErrorType``) and body fields besides message."""

    def __init__(self, status: int, code: str, message: str, **fields):
        super().__init__(message)
        self.status, self.code, self.fields = status, code, fields


def validation(reason: str, message: str) -> ApiError:
    """ValidationException 400 with its ``reason``.
    https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_StartZonalShift.html#API_StartZonalShift_Errors"""
    return ApiError(400, "ValidationException", message, reason=reason)


def not_found(message: str) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", message)


class Region:
    """One account's ARC state in one region."""

    def __init__(self):
        self.shifts: list[dict] = []  # in start order
        self.autoshifts: list[dict] = []  # {awayFrom, startTime, endTime?, status, resources: set}


_STATE: dict[tuple[str, str], Region] = {}
LOCK = threading.RLock()


def region_state(account: str, region: str) -> Region:
    return _STATE.setdefault((account, region), Region())


def refresh(shift: dict, now: float) -> dict:
    """A zonal shift ends by itself at its expiry time and is then EXPIRED: computed on every read.
    https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_ZonalShift.html"""
    if shift["status"] == "ACTIVE" and shift["expiryTime"] <= now:
        shift["status"] = "EXPIRED"
    return shift


def load_balancer(account: str, region: str, arn: str):
    """The load balancer as an ARC managed resource: an ALB or NLB is one when its attribute
    ``zonal_shift.config.enabled`` is ``true`` (read from moto's ELBv2 of the same account and region); else
    ResourceNotFoundException. https://docs.aws.amazon.com/elasticloadbalancing/latest/application/zonal-shift.html"""
    try:
        lb = elbv2_backends[account][region].load_balancers.get(arn)
    except KeyError:
        lb = None
    if lb is None or str(lb.attrs.get(ENABLED_ATTRIBUTE, "false")).lower() != "true":
        raise not_found(f"resource {arn} is not registered with zonal shift in {account}/{region}"
                        f" (it needs the load balancer attribute {ENABLED_ATTRIBUTE}=true)")
    return lb


def zone_ids(account: str, region: str, lb) -> list[str]:
    """The AZ IDs of a load balancer's zones, in its subnets' order (no duplicates): ARC names a zone by its AZ ID
    (``use1-az1``), not by its account-specific name; moto's EC2 subnets carry them.
    https://docs.aws.amazon.com/ram/latest/userguide/working-with-az-ids.html"""
    ids: list[str] = []
    for subnet in lb.subnets:
        zone_id = getattr(subnet, "availability_zone_id", None)
        if zone_id is None:  # a subnet given by id only: look it up in EC2
            zone_id = ec2_backends[account][region].get_subnet(subnet).availability_zone_id
        if zone_id not in ids:
            ids.append(zone_id)
    return ids


def shift_view(shift: dict) -> dict:
    """ZonalShift (StartZonalShift, CancelZonalShift, UpdateZonalShift)."""
    keys = ("zonalShiftId", "resourceIdentifier", "awayFrom", "expiryTime", "startTime", "status", "comment")
    return {k: shift[k] for k in keys}


def summary_view(shift: dict) -> dict:
    """ZonalShiftSummary (ListZonalShifts)."""
    view = shift_view(shift) | {"shiftType": shift["shiftType"]}
    if shift.get("practiceRunOutcome"):
        view["practiceRunOutcome"] = shift["practiceRunOutcome"]
    return view


def applied_shift(active_shifts: list[dict], active_autoshifts: list[dict]):
    """What is applied to a resource: one shift at a time, a customer's zonal shift first, then an autoshift, then a
    practice run. https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.how-it-works.precedence.html"""
    for shift in active_shifts:
        if shift["shiftType"] == "ZONAL_SHIFT":
            return shift
    if active_autoshifts:
        return active_autoshifts[0]
    return active_shifts[0] if active_shifts else None


def applied_away_from(account: str, region: str, arn: str) -> str | None:
    """The AZ ID the shift ARC applies to a load balancer now moves its traffic away from (``None``: no shift
    applied, or the load balancer is not registered with zonal shift): what ``appliedWeights`` gives 0.
    https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_GetManagedResource.html"""
    with LOCK:
        try:
            load_balancer(account, region, arn)
        except ApiError:
            return None
        state, now = region_state(account, region), time.time()
        shifts = [s for s in state.shifts if s["resourceIdentifier"] == arn and refresh(s, now)["status"] == "ACTIVE"]
        autoshifts = [a for a in state.autoshifts if a["status"] == "ACTIVE" and arn in a["resources"]]
        applied = applied_shift(shifts, autoshifts)
        return applied["awayFrom"] if applied is not None else None


def record(state: Region, arn: str, away_from: str, shift_type: str, comment: str, start: float,
           expiry: float) -> dict:
    """Records an ACTIVE shift (a practice run's outcome PENDING)."""
    shift = {"zonalShiftId": str(uuid.uuid4()), "resourceIdentifier": arn, "awayFrom": away_from,
             "startTime": start, "expiryTime": expiry, "status": "ACTIVE", "comment": comment,
             "shiftType": shift_type}
    if shift_type == "PRACTICE_RUN":
        shift["practiceRunOutcome"] = "PENDING"
    state.shifts.append(shift)
    return shift


# --------------------------------------------------------------------------- control endpoints


def _control_zone(account: str, region: str, arn: str, away_from: str):
    try:
        lb = load_balancer(account, region, arn)
    except ApiError as e:
        raise ControlError(str(e)) from None
    if away_from not in zone_ids(account, region, lb):
        raise ControlError(f"{away_from} is not the AZ ID of a zone of {arn}")


def set_autoshift(account: str, region: str, body: dict) -> dict:
    """``POST /_failover/arc/autoshift``: starts (ACTIVE) or ends (COMPLETED) an autoshift away from an AZ ID, as
    AWS does from its own telemetry for resources with zonal autoshift (there is no API to start one); the given
    load balancers get zonalAutoshiftStatus ENABLED. It shows in ListAutoshifts and GetManagedResource.
    https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-autoshift.html"""
    away_from, status = body.get("away_from"), body.get("status", "ACTIVE")
    if not isinstance(away_from, str) or not away_from:
        raise ControlError("field 'away_from' is required (an AZ ID)")
    if status not in AUTOSHIFT_STATUSES:
        raise ControlError(f"status must be one of {AUTOSHIFT_STATUSES}, got {status!r}")
    resources = body.get("resource_identifiers") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise ControlError("resource_identifiers must be a list of load balancer ARNs")
    with LOCK:
        for arn in resources:
            _control_zone(account, region, arn, away_from)
        state = region_state(account, region)
        active = [a for a in state.autoshifts if a["status"] == "ACTIVE" and a["awayFrom"] == away_from]
        now = time.time()
        if status == "COMPLETED":
            if not active:
                raise ControlError(f"no active autoshift away from {away_from} in {account}/{region}")
            for a in active:
                a.update(status="COMPLETED", endTime=now)
        elif active:
            active[0]["resources"].update(resources)
        else:
            state.autoshifts.append({"awayFrom": away_from, "startTime": now, "status": "ACTIVE",
                                     "resources": set(resources)})
    return {"ok": True}


def record_zonal_shift(account: str, region: str, body: dict) -> dict:
    """``POST /_failover/arc/zonal-shift``: records a zonal shift or practice run as another party would have
    started it (a person, or AWS's practice run), without the API's conflict checks (e.g. one already expired).
    https://docs.aws.amazon.com/r53recovery/latest/dg/arc-zonal-shift.start-cancel.html"""
    arn, away_from = body.get("resource_identifier"), body.get("away_from")
    shift_type = body.get("shift_type", "ZONAL_SHIFT")
    if not isinstance(arn, str) or not isinstance(away_from, str):
        raise ControlError("fields 'resource_identifier' and 'away_from' are required")
    if shift_type not in ("ZONAL_SHIFT", "PRACTICE_RUN"):
        raise ControlError(f"shift_type must be ZONAL_SHIFT or PRACTICE_RUN, got {shift_type!r}")
    now = time.time()
    start, expiry = body.get("start_time", now), body.get("expiry_time", now + 1800)
    if not all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in (start, expiry)):
        raise ControlError("start_time and expiry_time are epoch seconds")
    comment = body.get("comment", "")
    if not isinstance(comment, str) or len(comment) > 128:
        raise ControlError("comment must be a string of at most 128 characters")
    with LOCK:
        _control_zone(account, region, arn, away_from)
        shift = record(region_state(account, region), arn, away_from, shift_type, comment, float(start),
                       float(expiry))
    return {"zonal_shift_id": shift["zonalShiftId"]}


# server.ROUTES serves them: it reads ``account`` and ``region`` from the body and calls handler(account, region, body).
CONTROL_ROUTES = {
    ("POST", "arc/autoshift"): set_autoshift,
    ("POST", "arc/zonal-shift"): record_zonal_shift,
}
