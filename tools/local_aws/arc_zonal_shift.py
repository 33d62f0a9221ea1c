"""ARC zonal shift, which moto 5.2.5 lacks: the part of the ``arc-zonal-shift`` API (2022-10-30) that failover uses.

``ArcZonalShift`` is a WSGI middleware in front of moto, inside ``server.FailoverApp`` (so accounts from 12-digit
access keys and the call log work as for any other service). It answers requests whose SigV4 credential scope names
the service ``arc-zonal-shift``, in the scope's region and moto's account; state is ``arc_state``'s. Wire: AWS's
rest-json, shapes and errors from botocore's ``arc-zonal-shift/2022-10-30/service-2.json``; the messages are ours.
tools/README.md lists what is emulated and what is not.
API reference: https://docs.aws.amazon.com/arc-zonal-shift/latest/api/Welcome.html
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
import uuid
from urllib.parse import parse_qs

from .arc_state import (
    AUTOSHIFT_STATUSES,
    LOCK,
    SHIFT_STATUSES,
    ApiError,
    applied_shift,
    load_balancer,
    not_found,
    record,
    refresh,
    region_state,
    shift_view,
    summary_view,
    validation,
    zone_ids,
)
from .control import DEFAULT_ACCOUNT

log = logging.getLogger("local_aws.arc_zonal_shift")
SERVICE = "arc-zonal-shift"
MAX_EXPIRY_SECONDS = 72 * 3600
_SCOPE = re.compile(r"Credential=[^/]+/[^/]+/([^/]+)/([^/]+)/")
_EXPIRES_IN = re.compile(r"([1-9][0-9]*)(m|h)")
_SHIFT_PATH = re.compile(r"^/zonalshifts/([^/]+)$")
_RESOURCE_PATH = re.compile(r"^/managedresources/(.+)$")

# --------------------------------------------------------------------------- input checks (the model's bounds)


def _expiry_seconds(expires_in) -> int:
    """``expiresIn``: ``<n>m`` or ``<n>h`` (pattern ``([1-9][0-9]*)(m|h)``), 1 minute to 72 hours, else
    InvalidExpiresIn."""
    if not isinstance(expires_in, str) or not _EXPIRES_IN.fullmatch(expires_in):
        raise validation("InvalidExpiresIn", f"expiresIn must be <n>m or <n>h, got {expires_in!r}")
    seconds = int(expires_in[:-1]) * (60 if expires_in.endswith("m") else 3600)
    if not 60 <= seconds <= MAX_EXPIRY_SECONDS:
        raise validation("InvalidExpiresIn", f"expiresIn must be from 1 minute to 72 hours, got {expires_in!r}")
    return seconds


def _required(body: dict, name: str) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value:
        raise validation("MissingValue", f"{name} is required")
    return value


def _comment(value) -> str:
    """At most 128 characters; the model has no closer reason than MissingValue (AWS's choice is undocumented)."""
    if not isinstance(value, str) or len(value) > 128:
        raise validation("MissingValue", "comment must be a string of at most 128 characters")
    return value


def _resource_identifier(value: str) -> str:
    if not 8 <= len(value) <= 1024:
        raise validation("InvalidResourceIdentifier", f"resourceIdentifier must have 8 to 1024 characters: {value!r}")
    return value


def _status_filter(query: dict, statuses: tuple[str, ...]) -> str | None:
    """The ``status`` filter of a list call: one of ``statuses``, else InvalidStatus."""
    status = query.get("status")
    if status is not None and status not in statuses:
        raise validation("InvalidStatus", f"status must be one of {', '.join(statuses)}")
    return status


def _page(items: list, query: dict, token_kind: str) -> dict:
    """One page of ``items``: maxResults 1-100, a nextToken this server gave (else InvalidToken)."""
    max_results = query.get("maxResults")
    try:
        limit = 100 if max_results is None else int(max_results)
    except ValueError:
        limit = 0
    if not 1 <= limit <= 100:
        raise validation("MissingValue", f"maxResults must be from 1 to 100, got {max_results!r}")
    start = 0
    if query.get("nextToken"):
        try:
            kind, _, offset = base64.urlsafe_b64decode(query["nextToken"].encode()).decode().partition(":")
            start = int(offset)
            if kind != token_kind or start < 0:
                raise ValueError(kind)
        except ValueError:
            raise validation("InvalidToken", "nextToken is not valid") from None
    result: dict = {"items": items[start:start + limit]}
    if start + limit < len(items):
        result["nextToken"] = base64.urlsafe_b64encode(f"{token_kind}:{start + limit}".encode()).decode()
    return result


# --------------------------------------------------------------------------- operations


def start_zonal_shift(account: str, region: str, body: dict) -> tuple[int, dict]:
    """StartZonalShift: 201 ZonalShift. awayFrom must be the AZ ID of one of the resource's zones (InvalidAz); one
    active customer shift per resource (409 ZonalShiftAlreadyExists); it interrupts an active practice run
    (CANCELED, outcome INTERRUPTED). https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_StartZonalShift.html"""
    arn = _resource_identifier(_required(body, "resourceIdentifier"))
    away_from = _required(body, "awayFrom")
    seconds = _expiry_seconds(_required(body, "expiresIn"))
    if "comment" not in body:
        raise validation("MissingValue", "comment is required")
    comment = _comment(body["comment"])
    lb = load_balancer(account, region, arn)
    if away_from not in zone_ids(account, region, lb):
        raise validation("InvalidAz", f"{away_from} is not the AZ ID of a zone of {arn}"
                                       f" (its zones: {', '.join(zone_ids(account, region, lb))})")
    now = time.time()
    state = region_state(account, region)
    for shift in state.shifts:
        if shift["resourceIdentifier"] == arn and refresh(shift, now)["status"] == "ACTIVE":
            if shift["shiftType"] == "ZONAL_SHIFT":
                raise ApiError(409, "ConflictException",
                               f"zonal shift {shift['zonalShiftId']} is already active for {arn}",
                               reason="ZonalShiftAlreadyExists", zonalShiftId=shift["zonalShiftId"])
            if shift["shiftType"] == "PRACTICE_RUN":  # a customer shift takes precedence
                shift.update(status="CANCELED", practiceRunOutcome="INTERRUPTED")
    shift = record(state, arn, away_from, "ZONAL_SHIFT", comment, now, now + seconds)
    return 201, shift_view(shift)


def list_zonal_shifts(account: str, region: str, query: dict) -> tuple[int, dict]:
    """ListZonalShifts: ZonalShiftSummary items (with shiftType, practiceRunOutcome), autoshifts not included.
    https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_ListZonalShifts.html"""
    status = _status_filter(query, SHIFT_STATUSES)
    arn = query.get("resourceIdentifier")
    now = time.time()
    items = [summary_view(s) for s in region_state(account, region).shifts
             if refresh(s, now) and (status is None or s["status"] == status)
             and (arn is None or s["resourceIdentifier"] == arn)]
    return 200, _page(items, query, "zonalshifts")


def get_managed_resource(account: str, region: str, arn: str) -> tuple[int, dict]:
    """GetManagedResource: appliedWeights per AZ ID (0.0 away from the applied shift), the active zonal shifts and
    autoshifts with their appliedStatus, zonalAutoshiftStatus.
    https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_GetManagedResource.html"""
    lb = load_balancer(account, region, _resource_identifier(arn))
    now = time.time()
    state = region_state(account, region)
    shifts = [s for s in state.shifts if s["resourceIdentifier"] == arn and refresh(s, now)["status"] == "ACTIVE"]
    autoshifts = [a for a in state.autoshifts if a["status"] == "ACTIVE" and arn in a["resources"]]
    applied = applied_shift(shifts, autoshifts)
    zones = zone_ids(account, region, lb)
    result = {
        "arn": lb.arn,
        "name": lb.name,
        "appliedWeights": {z: 0.0 if applied is not None and applied["awayFrom"] == z else 1.0 for z in zones},
        "zonalShifts": [
            {"appliedStatus": "APPLIED" if s is applied else "NOT_APPLIED"} | shift_view(s)
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
    """An ACTIVE shift by id: 404 when unknown, 409 ZonalShiftStatusNotActive when no longer active."""
    for shift in region_state(account, region).shifts:
        if shift["zonalShiftId"] == shift_id:
            if refresh(shift, time.time())["status"] != "ACTIVE":
                raise ApiError(409, "ConflictException", f"zonal shift {shift_id} is {shift['status']}",
                               reason="ZonalShiftStatusNotActive", zonalShiftId=shift_id)
            return shift
    raise not_found(f"zonal shift {shift_id} not found")


def cancel_zonal_shift(account: str, region: str, shift_id: str) -> tuple[int, dict]:
    """CancelZonalShift: 200 ZonalShift, status CANCELED.
    https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_CancelZonalShift.html"""
    shift = _find_shift(account, region, shift_id)
    shift["status"] = "CANCELED"
    return 200, shift_view(shift)


def update_zonal_shift(account: str, region: str, shift_id: str, body: dict) -> tuple[int, dict]:
    """UpdateZonalShift: comment and/or expiresIn (counted from the update).
    https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_UpdateZonalShift.html"""
    if body.get("comment") is None and body.get("expiresIn") is None:
        raise validation("MissingValue", "give comment or expiresIn")
    comment = None if body.get("comment") is None else _comment(body["comment"])
    seconds = None if body.get("expiresIn") is None else _expiry_seconds(body["expiresIn"])
    shift = _find_shift(account, region, shift_id)
    if comment is not None:
        shift["comment"] = comment
    if seconds is not None:
        shift["expiryTime"] = time.time() + seconds
    return 200, shift_view(shift)


def list_autoshifts(account: str, region: str, query: dict) -> tuple[int, dict]:
    """ListAutoshifts: AutoshiftSummary items.
    https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_ListAutoshifts.html"""
    status = _status_filter(query, AUTOSHIFT_STATUSES)
    items = []
    for a in region_state(account, region).autoshifts:
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
    """The API operation a request calls (for the call log), else ``METHOD /path``."""
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
    """WSGI middleware: requests signed for ``arc-zonal-shift`` are answered here, everything else by ``app``.
    Errors as rest-json has them: the modelled status, ``x-amzn-ErrorType: <Code>`` and ``{"message", ...}``;
    400 SerializationException for a body that is not a JSON object, 500 InternalServerException for a failure
    here. https://docs.aws.amazon.com/arc-zonal-shift/latest/api/API_StartZonalShift.html#API_StartZonalShift_Errors"""

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
            with LOCK:
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
