"""ARC zonal shift for the local AWS: the part of the ``arc-zonal-shift`` API (2022-10-30) that failover uses.

moto 5.2.5 has no ARC zonal shift (a request signed for ``arc-zonal-shift`` gets moto's 404). ``ArcZonalShift``
is a WSGI middleware in front of moto (``tools/local_aws.py`` puts it inside ``FailoverApp``, so accounts from
12-digit access keys and the call log work as for any other service). It answers requests whose SigV4 credential
scope names the service ``arc-zonal-shift``; the region is the scope's region, the account is moto's
``x-moto-account-id`` (set by ``FailoverApp``). State is kept per account and region, in memory.

Wire (AWS protocol ``rest-json``, shapes from botocore's ``arc-zonal-shift/2022-10-30/service-2.json``):
    StartZonalShift   POST   /zonalshifts                               -> 201 ZonalShift
        body {resourceIdentifier, awayFrom, expiresIn, comment} (all required)
    ListZonalShifts   GET    /zonalshifts?status&resourceIdentifier&maxResults&nextToken
        -> 200 {items: [ZonalShiftSummary (with shiftType, practiceRunOutcome for practice runs)], nextToken?}
        Autoshifts are not listed there (as on AWS: ListAutoshifts lists them).
    GetManagedResource GET   /managedresources/{resourceIdentifier}     (the ARN, URL-encoded)
        -> 200 {arn, name, appliedWeights {AZ ID: 1.0, or 0.0 for the zone of the applied shift},
                zonalShifts [ZonalShiftInResource, active ones, with appliedStatus], autoshifts
                [AutoshiftInResource, active ones], zonalAutoshiftStatus ENABLED|DISABLED}
    CancelZonalShift  DELETE /zonalshifts/{zonalShiftId}                -> 200 ZonalShift (status CANCELED)
    UpdateZonalShift  PATCH  /zonalshifts/{zonalShiftId} body {comment?, expiresIn?} -> 200 ZonalShift
        (a new expiresIn counts from the time of the update)
    ListAutoshifts    GET    /autoshifts?status&maxResults&nextToken     -> 200 {items: [AutoshiftSummary]}
    Timestamps are epoch seconds (rest-json's default). Errors: the HTTP status of the modelled error, header
    ``x-amzn-ErrorType: <Code>`` and a JSON body ``{"message", ...}``:
      * ValidationException 400 ``{"message", "reason"}``: reason ``MissingValue`` (a required member
        missing or empty, or an update with neither comment nor expiresIn), ``InvalidExpiresIn`` (not
        ``<n>m`` / ``<n>h`` matching the model's pattern ``([1-9][0-9]*)(m|h)``, or outside 1 minute to 72 hours),
        ``InvalidAz`` (awayFrom is not the AZ ID of one of the resource's zones; a zone *name* such as
        ``us-east-1a`` is refused the same way), ``InvalidResourceIdentifier`` (shorter than 8 or longer than 1024
        characters, the model's bounds), ``InvalidStatus`` (a status filter outside the enum), ``InvalidToken``
        (a nextToken this server did not give). A maxResults outside 1-100 or a comment over 128 characters is
        refused with reason ``MissingValue`` (the model has no closer reason; AWS's choice is not documented).
      * ConflictException 409 ``{"message", "reason", "zonalShiftId"}``: reason ``ZonalShiftAlreadyExists`` when
        the resource already has an active customer zonal shift (``zonalShiftId`` names it; ARC allows one per
        resource); ``ZonalShiftStatusNotActive`` when cancelling or updating a shift that is not ACTIVE.
      * ResourceNotFoundException 404 ``{"message"}``: the resource is not a load balancer of this account and
        region registered with ARC, or the zonal shift id is unknown.
      * Anything else under this service: 404 ``UnknownOperationException``; a body that is not a JSON object:
        400 ``SerializationException``; a failure of the emulator itself: 500 ``InternalServerException``.
    The messages are ours, not AWS's words; codes, reasons, statuses and fields are AWS's.

Fidelity: what AWS does, what moto did, what we do (sources: botocore's model above and its documentation
strings, the ARC Developer Guide page "Precedence for zonal shifts", and the project's AWS facts, section 7, for
registration through the load balancer attribute)
  * Registration. AWS: an ALB or NLB is a managed resource when its attribute ``zonal_shift.config.enabled`` is
    ``true``; otherwise GetManagedResource and StartZonalShift answer ResourceNotFoundException. moto 5.2.5's
    ELBv2 accepts and stores that attribute (ModifyLoadBalancerAttributes / DescribeLoadBalancerAttributes,
    checked by the tests); we read it from moto's ELBv2 backend of the same account and region.
  * Zones. AWS identifies a zone by its AZ ID (``use1-az1``), which maps to a different zone name in each
    account. We take the AZ IDs of the load balancer's subnets from moto's EC2 (moto's default subnets carry ids
    such as ``use1-az6``; DescribeSubnets' ``AvailabilityZoneId`` and DescribeAvailabilityZones' ``ZoneId`` give the
    same ids). ELBv2's DescribeLoadBalancers gives zone names only (its ``AvailabilityZone`` shape has no id).
  * Expiry. AWS: a shift ends by itself at its expiry time and is then EXPIRED. We compute it on every read: an
    ACTIVE shift whose expiry time has passed is reported EXPIRED (and no longer blocks a new shift).
  * Precedence. AWS allows one applied shift per resource; a customer's zonal shift wins over an autoshift and
    a practice run, and starting one while a practice run is active cancels the practice run with outcome
    INTERRUPTED. We do the same; between an autoshift and a practice run, the autoshift is applied.
  * Autoshifts. AWS starts them from its own telemetry, per zone of a region, for the resources that enabled
    zonal autoshift. There is no API to start one, so the control endpoint below sets them.
  * Not emulated: traffic (a shift changes no target health), fail-open load balancers ignoring a shift,
    practice-run configurations, FIS experiments, Auto Scaling groups as managed resources, ListManagedResources,
    the autoshift observer notification; no request throttling.

Control endpoints (served by local_aws's FailoverApp under /_failover/; JSON in, JSON out; ``account`` defaults
to 123456789012, ``region`` to us-east-1):
    POST /_failover/arc/autoshift
        {"account","region","away_from","status": "ACTIVE"|"COMPLETED","resource_identifiers": [...]?}
        ACTIVE starts an autoshift away from that AZ ID for the given registered load balancers (each must have a
        zone with that id; they get zonalAutoshiftStatus ENABLED): it shows in ListAutoshifts and in their
        GetManagedResource ``autoshifts``. COMPLETED ends the active autoshift away from that AZ ID (endTime set).
        -> {"ok": true}
    POST /_failover/arc/zonal-shift
        {"account","region","resource_identifier","away_from","shift_type": "ZONAL_SHIFT"|"PRACTICE_RUN",
         "comment"?, "start_time"?, "expiry_time"?}  (epoch seconds; default now and now + 30 minutes)
        Records a shift as another party would have started it (a person, or AWS's practice run), without the
        API's conflict checks, e.g. one whose expiry has already passed. -> {"zonal_shift_id": "..."}
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
import time
import uuid
from urllib.parse import parse_qs

from moto.ec2.models import ec2_backends
from moto.elbv2.models import elbv2_backends

log = logging.getLogger("local_aws.arc_zonal_shift")
SERVICE = "arc-zonal-shift"
DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
ENABLED_ATTRIBUTE = "zonal_shift.config.enabled"
MAX_EXPIRY_SECONDS = 72 * 3600
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/")
_EXPIRES_IN = re.compile(r"([1-9][0-9]*)(m|h)")
_SHIFT_PATH = re.compile(r"^/zonalshifts/([^/]+)$")
_RESOURCE_PATH = re.compile(r"^/managedresources/(.+)$")
SHIFT_STATUSES = ("ACTIVE", "EXPIRED", "CANCELED")
AUTOSHIFT_STATUSES = ("ACTIVE", "COMPLETED")


class ApiError(Exception):
    """An ARC error answer: HTTP status, error code (``x-amzn-ErrorType``) and body fields besides message."""

    def __init__(self, status: int, code: str, message: str, **fields):
        super().__init__(message)
        self.status, self.code, self.fields = status, code, fields


def _validation(reason: str, message: str) -> ApiError:
    return ApiError(400, "ValidationException", message, reason=reason)


def _not_found(message: str) -> ApiError:
    return ApiError(404, "ResourceNotFoundException", message)


class ControlError(ValueError):
    """A bad control request (local_aws answers it with HTTP 400 {"error": ...})."""


# --------------------------------------------------------------------------- state


class _Region:
    """One account's ARC state in one region."""

    def __init__(self):
        self.shifts: list[dict] = []  # in start order
        self.autoshifts: list[dict] = []  # {awayFrom, startTime, endTime?, status, resources: set}


_STATE: dict[tuple[str, str], _Region] = {}
_LOCK = threading.RLock()


def _region_state(account: str, region: str) -> _Region:
    return _STATE.setdefault((account, region), _Region())


def _refresh(shift: dict, now: float) -> dict:
    if shift["status"] == "ACTIVE" and shift["expiryTime"] <= now:
        shift["status"] = "EXPIRED"
    return shift


def _load_balancer(account: str, region: str, arn: str):
    """The registered load balancer, or ResourceNotFoundException."""
    try:
        lb = elbv2_backends[account][region].load_balancers.get(arn)
    except KeyError:
        lb = None
    if lb is None or str(lb.attrs.get(ENABLED_ATTRIBUTE, "false")).lower() != "true":
        raise _not_found(f"resource {arn} is not registered with zonal shift in {account}/{region}"
                         f" (it needs the load balancer attribute {ENABLED_ATTRIBUTE}=true)")
    return lb


def zone_ids(account: str, region: str, lb) -> list[str]:
    """The AZ IDs of a load balancer's zones, in its subnets' order (no duplicates)."""
    ids: list[str] = []
    for subnet in lb.subnets:
        zone_id = getattr(subnet, "availability_zone_id", None)
        if zone_id is None:  # a subnet given by id only: look it up in EC2
            zone_id = ec2_backends[account][region].get_subnet(subnet).availability_zone_id
        if zone_id not in ids:
            ids.append(zone_id)
    return ids


def _expiry_seconds(expires_in) -> int:
    if not isinstance(expires_in, str) or not _EXPIRES_IN.fullmatch(expires_in):
        raise _validation("InvalidExpiresIn", f"expiresIn must be <n>m or <n>h, got {expires_in!r}")
    seconds = int(expires_in[:-1]) * (60 if expires_in.endswith("m") else 3600)
    if not 60 <= seconds <= MAX_EXPIRY_SECONDS:
        raise _validation("InvalidExpiresIn", f"expiresIn must be from 1 minute to 72 hours, got {expires_in!r}")
    return seconds


def _required(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise _validation("MissingValue", f"{name} is required")
    return value


def _comment(value) -> str:
    if not isinstance(value, str) or len(value) > 128:
        raise _validation("MissingValue", "comment must be a string of at most 128 characters")
    return value


def _resource_identifier(value: str) -> str:
    if not 8 <= len(value) <= 1024:
        raise _validation("InvalidResourceIdentifier", f"resourceIdentifier must have 8 to 1024 characters: {value!r}")
    return value


def _shift_view(shift: dict) -> dict:
    """ZonalShift (StartZonalShift, CancelZonalShift, UpdateZonalShift)."""
    keys = ("zonalShiftId", "resourceIdentifier", "awayFrom", "expiryTime", "startTime", "status", "comment")
    return {k: shift[k] for k in keys}


def _summary_view(shift: dict) -> dict:
    """ZonalShiftSummary (ListZonalShifts)."""
    view = _shift_view(shift) | {"shiftType": shift["shiftType"]}
    if shift.get("practiceRunOutcome"):
        view["practiceRunOutcome"] = shift["practiceRunOutcome"]
    return view


def _applied(active_shifts: list[dict], active_autoshifts: list[dict]):
    """What is applied to a resource: a customer shift first, then an autoshift, then a practice run."""
    for shift in active_shifts:
        if shift["shiftType"] == "ZONAL_SHIFT":
            return shift
    if active_autoshifts:
        return active_autoshifts[0]
    return active_shifts[0] if active_shifts else None


def _page(items: list, query: dict, token_kind: str) -> dict:
    max_results = query.get("maxResults")
    try:
        limit = 100 if max_results is None else int(max_results)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise _validation("MissingValue", f"maxResults must be from 1 to 100, got {max_results!r}")
    start = 0
    if query.get("nextToken"):
        try:
            kind, _, offset = base64.urlsafe_b64decode(query["nextToken"].encode()).decode().partition(":")
            start = int(offset)
            if kind != token_kind or start < 0:
                raise ValueError(kind)
        except ValueError:
            raise _validation("InvalidToken", "nextToken is not valid") from None
    result: dict = {"items": items[start:start + limit]}
    if start + limit < len(items):
        result["nextToken"] = base64.urlsafe_b64encode(f"{token_kind}:{start + limit}".encode()).decode()
    return result


# --------------------------------------------------------------------------- operations


def start_zonal_shift(account: str, region: str, body: dict) -> tuple[int, dict]:
    arn = _resource_identifier(_required(body, "resourceIdentifier"))
    away_from = _required(body, "awayFrom")
    seconds = _expiry_seconds(_required(body, "expiresIn"))
    if "comment" not in body:
        raise _validation("MissingValue", "comment is required")
    comment = _comment(body["comment"])
    lb = _load_balancer(account, region, arn)
    if away_from not in zone_ids(account, region, lb):
        raise _validation("InvalidAz", f"{away_from} is not the AZ ID of a zone of {arn}"
                                       f" (its zones: {', '.join(zone_ids(account, region, lb))})")
    now = time.time()
    state = _region_state(account, region)
    for shift in state.shifts:
        if shift["resourceIdentifier"] == arn and _refresh(shift, now)["status"] == "ACTIVE":
            if shift["shiftType"] == "ZONAL_SHIFT":
                raise ApiError(409, "ConflictException",
                               f"zonal shift {shift['zonalShiftId']} is already active for {arn}",
                               reason="ZonalShiftAlreadyExists", zonalShiftId=shift["zonalShiftId"])
            if shift["shiftType"] == "PRACTICE_RUN":  # a customer shift takes precedence
                shift.update(status="CANCELED", practiceRunOutcome="INTERRUPTED")
    shift = _record(state, arn, away_from, "ZONAL_SHIFT", comment, now, now + seconds)
    return 201, _shift_view(shift)


def _record(state: _Region, arn: str, away_from: str, shift_type: str, comment: str, start: float,
            expiry: float) -> dict:
    shift = {"zonalShiftId": str(uuid.uuid4()), "resourceIdentifier": arn, "awayFrom": away_from,
             "startTime": start, "expiryTime": expiry, "status": "ACTIVE", "comment": comment,
             "shiftType": shift_type}
    if shift_type == "PRACTICE_RUN":
        shift["practiceRunOutcome"] = "PENDING"
    state.shifts.append(shift)
    return shift


def list_zonal_shifts(account: str, region: str, query: dict) -> tuple[int, dict]:
    status = query.get("status")
    if status is not None and status not in SHIFT_STATUSES:
        raise _validation("InvalidStatus", f"status must be one of {', '.join(SHIFT_STATUSES)}")
    arn = query.get("resourceIdentifier")
    now = time.time()
    items = [_summary_view(s) for s in _region_state(account, region).shifts
             if _refresh(s, now) and (status is None or s["status"] == status)
             and (arn is None or s["resourceIdentifier"] == arn)]
    return 200, _page(items, query, "zonalshifts")


def get_managed_resource(account: str, region: str, arn: str) -> tuple[int, dict]:
    lb = _load_balancer(account, region, _resource_identifier(arn))
    now = time.time()
    state = _region_state(account, region)
    shifts = [s for s in state.shifts if s["resourceIdentifier"] == arn and _refresh(s, now)["status"] == "ACTIVE"]
    autoshifts = [a for a in state.autoshifts if a["status"] == "ACTIVE" and arn in a["resources"]]
    applied = _applied(shifts, autoshifts)
    zones = zone_ids(account, region, lb)
    result = {
        "arn": lb.arn,
        "name": lb.name,
        "appliedWeights": {z: 0.0 if applied is not None and applied["awayFrom"] == z else 1.0 for z in zones},
        "zonalShifts": [
            {"appliedStatus": "APPLIED" if s is applied else "NOT_APPLIED"} | _shift_view(s)
            | {"shiftType": s["shiftType"]} | ({"practiceRunOutcome": s["practiceRunOutcome"]}
                                              if s.get("practiceRunOutcome") else {})
            for s in shifts
        ],
        "autoshifts": [{"appliedStatus": "APPLIED" if a is applied else "NOT_APPLIED", "awayFrom": a["awayFrom"],
                        "startTime": a["startTime"]} for a in autoshifts],
        "zonalAutoshiftStatus": "ENABLED" if any(arn in a["resources"] for a in state.autoshifts) else "DISABLED",
    }
    for shift in result["zonalShifts"]:
        shift.pop("status")  # ZonalShiftInResource has no status: all are active
    return 200, result


def _find_shift(account: str, region: str, shift_id: str) -> dict:
    for shift in _region_state(account, region).shifts:
        if shift["zonalShiftId"] == shift_id:
            if _refresh(shift, time.time())["status"] != "ACTIVE":
                raise ApiError(409, "ConflictException", f"zonal shift {shift_id} is {shift['status']}",
                               reason="ZonalShiftStatusNotActive", zonalShiftId=shift_id)
            return shift
    raise _not_found(f"zonal shift {shift_id} not found")


def cancel_zonal_shift(account: str, region: str, shift_id: str) -> tuple[int, dict]:
    shift = _find_shift(account, region, shift_id)
    shift["status"] = "CANCELED"
    return 200, _shift_view(shift)


def update_zonal_shift(account: str, region: str, shift_id: str, body: dict) -> tuple[int, dict]:
    if body.get("comment") is None and body.get("expiresIn") is None:
        raise _validation("MissingValue", "give comment or expiresIn")
    comment = None if body.get("comment") is None else _comment(body["comment"])
    seconds = None if body.get("expiresIn") is None else _expiry_seconds(body["expiresIn"])
    shift = _find_shift(account, region, shift_id)
    if comment is not None:
        shift["comment"] = comment
    if seconds is not None:
        shift["expiryTime"] = time.time() + seconds
    return 200, _shift_view(shift)


def list_autoshifts(account: str, region: str, query: dict) -> tuple[int, dict]:
    status = query.get("status")
    if status is not None and status not in AUTOSHIFT_STATUSES:
        raise _validation("InvalidStatus", f"status must be one of {', '.join(AUTOSHIFT_STATUSES)}")
    items = []
    for a in _region_state(account, region).autoshifts:
        if status is None or a["status"] == status:
            item = {"awayFrom": a["awayFrom"], "startTime": a["startTime"], "status": a["status"]}
            if a.get("endTime") is not None:
                item["endTime"] = a["endTime"]
            items.append(item)
    return 200, _page(items, query, "autoshifts")


_OPERATIONS = (
    ("POST", re.compile(r"^/zonalshifts$"), "StartZonalShift"),
    ("GET", re.compile(r"^/zonalshifts$"), "ListZonalShifts"),
    ("GET", re.compile(r"^/autoshifts$"), "ListAutoshifts"),
    ("GET", _RESOURCE_PATH, "GetManagedResource"),
    ("DELETE", _SHIFT_PATH, "CancelZonalShift"),
    ("PATCH", _SHIFT_PATH, "UpdateZonalShift"),
)


def operation_name(method: str, path: str) -> str:
    """The API operation a request calls (for local_aws's call log), else ``METHOD /path``."""
    for op_method, pattern, name in _OPERATIONS:
        if method == op_method and pattern.match(path):
            return name
    return f"{method} {path}"


def dispatch(account: str, region: str, method: str, path: str, query: dict, body: dict) -> tuple[int, dict]:
    name = operation_name(method, path)
    match = _SHIFT_PATH.match(path) or _RESOURCE_PATH.match(path)
    if name == "StartZonalShift":
        return start_zonal_shift(account, region, body)
    if name == "ListZonalShifts":
        return list_zonal_shifts(account, region, query)
    if name == "ListAutoshifts":
        return list_autoshifts(account, region, query)
    if name == "GetManagedResource":
        return get_managed_resource(account, region, match.group(1))
    if name == "CancelZonalShift":
        return cancel_zonal_shift(account, region, match.group(1))
    if name == "UpdateZonalShift":
        return update_zonal_shift(account, region, match.group(1), body)
    raise ApiError(404, "UnknownOperationException", f"{SERVICE} has no operation {method} {path}")


# --------------------------------------------------------------------------- WSGI


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 404: "Not Found", 409: "Conflict",
            500: "Internal Server Error"}


class ArcZonalShift:
    """WSGI middleware: requests signed for ``arc-zonal-shift`` are answered here, everything else by ``app``."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not scope or scope.group(2) != SERVICE:
            return self.app(environ, start_response)
        region = scope.group(1)
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT
        query = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        try:
            try:
                body = json.loads(raw) if raw.strip() else {}
            except ValueError as e:
                raise ApiError(400, "SerializationException", f"body is not JSON: {e}") from None
            if not isinstance(body, dict):
                raise ApiError(400, "SerializationException", "body must be a JSON object")
            with _LOCK:
                status, result = dispatch(account, region, environ.get("REQUEST_METHOD", "GET"),
                                          environ.get("PATH_INFO", ""), query, body)
            headers = []
        except ApiError as e:
            status, result = e.status, {"message": str(e)} | e.fields
            headers = [("x-amzn-ErrorType", e.code)]
        except Exception as e:  # a bug here must not take the server down, nor answer an HTML page
            log.exception("arc-zonal-shift request failed")
            status, result = 500, {"message": f"{type(e).__name__}: {e}"}
            headers = [("x-amzn-ErrorType", "InternalServerException")]
        payload = json.dumps(result).encode()
        start_response(f"{status} {_REASONS.get(status, '')}".strip(),
                       [("Content-Type", "application/json"), ("Content-Length", str(len(payload))),
                        ("x-amzn-RequestId", str(uuid.uuid4()))] + headers)
        return [payload]


# --------------------------------------------------------------------------- control endpoints


def _control_zone(account: str, region: str, arn: str, away_from: str):
    try:
        lb = _load_balancer(account, region, arn)
    except ApiError as e:
        raise ControlError(str(e)) from None
    if away_from not in zone_ids(account, region, lb):
        raise ControlError(f"{away_from} is not the AZ ID of a zone of {arn}")


def set_autoshift(account: str, region: str, body: dict) -> dict:
    away_from, status = body.get("away_from"), body.get("status", "ACTIVE")
    if not isinstance(away_from, str) or not away_from:
        raise ControlError("field 'away_from' is required (an AZ ID)")
    if status not in AUTOSHIFT_STATUSES:
        raise ControlError(f"status must be one of {AUTOSHIFT_STATUSES}, got {status!r}")
    resources = body.get("resource_identifiers") or []
    if not isinstance(resources, list) or not all(isinstance(r, str) for r in resources):
        raise ControlError("resource_identifiers must be a list of load balancer ARNs")
    with _LOCK:
        for arn in resources:
            _control_zone(account, region, arn, away_from)
        state = _region_state(account, region)
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
    with _LOCK:
        _control_zone(account, region, arn, away_from)
        shift = _record(_region_state(account, region), arn, away_from, shift_type, comment, float(start),
                        float(expiry))
    return {"zonal_shift_id": shift["zonalShiftId"]}


# local_aws serves them: it reads ``account`` and ``region`` from the body and calls handler(account, region, body).
CONTROL_ROUTES = {
    ("POST", "arc/autoshift"): set_autoshift,
    ("POST", "arc/zonal-shift"): record_zonal_shift,
}
