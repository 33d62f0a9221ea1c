"""The call log: every AWS API call the local AWS answered, per account, by service and action, with the time moto
took and the SDK app names the calls carried (``GET /_failover/calls``, ``POST /_failover/calls/reset``)."""

from __future__ import annotations

import io
import re
import threading
from collections import defaultdict
from urllib.parse import parse_qs

from . import arc_zonal_shift
from .control import where

_CREDENTIAL_SERVICE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/")
_CBOR_OPERATION = re.compile(r"/service/[^/]+/operation/([^/?]+)")
_ROUTE53_ID = re.compile(r"/(hostedzone|change|healthcheck|delegationset)/[^/]+")
_APP_NAME = re.compile(r"(?:^|\s)app/(\S+)")


class CallLog:
    """AWS API calls answered, per account: (service, action) -> [count, seconds inside moto, app names, first,
    last], where first and last are the account's answer sequence numbers (1, 2, ...) of the first and the last
    such call: the order in which the calls were answered."""

    def __init__(self):
        self._lock = threading.Lock()
        self._calls: dict[str, dict[tuple[str, str], list]] = defaultdict(dict)
        self._seq: dict[str, int] = defaultdict(int)

    def add(self, account: str, service: str, action: str, seconds: float, app: str | None = None) -> None:
        with self._lock:
            self._seq[account] += 1
            seq = self._seq[account]
            entry = self._calls[account].setdefault((service, action), [0, 0.0, set(), seq, seq])
            entry[0] += 1
            entry[1] += seconds
            entry[4] = seq
            if app:
                entry[2].add(app)

    def report(self, body: dict) -> dict:
        account, _ = where(body)
        with self._lock:
            calls = sorted(self._calls.get(account, {}).items())
        return {"calls": [{"service": service, "action": action, "count": count, "seconds": round(seconds, 6),
                           "apps": sorted(apps), "first": first, "last": last}
                          for (service, action), (count, seconds, apps, first, last) in calls]}

    def reset(self, body: dict) -> dict:
        account, _ = where(body)
        with self._lock:
            self._calls.pop(account, None)
            self._seq.pop(account, None)
        return {"ok": True}


CALLS = CallLog()


def app_name(environ) -> str | None:
    """The SDK app name of a request: the ``app/<name>`` token of its User-Agent (or x-amz-user-agent), what
    CloudTrail's ``userAgent`` would show. https://docs.aws.amazon.com/sdkref/latest/guide/feature-appid.html"""
    for header in ("HTTP_USER_AGENT", "HTTP_X_AMZ_USER_AGENT"):
        match = _APP_NAME.search(environ.get(header, ""))
        if match:
            return match.group(1)
    return None


def identify_call(environ) -> tuple[str, str]:
    """(service, action) of an AWS API request; reading a form body puts it back for moto. The service is the
    SigV4 credential scope's; the action is ``X-Amz-Target``'s, the rpc-v2-cbor path's, ARC's operation, the query
    protocol's ``Action``, else ``METHOD /path`` with Route 53 ids generalised.
    https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html"""
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
