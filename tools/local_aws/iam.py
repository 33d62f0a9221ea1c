"""IAM as a function meets it: a call its policy does not allow is answered ``AccessDenied``, in the service's
own protocol, and changes nothing. moto's server does not evaluate IAM policies; this mirrors the outcome of
one that denies, for the calls a test names.

``POST /_failover/iam/deny`` ``{"account", "region", "actions": ["rds:DescribeDBInstances", ...]}`` replaces the
actions denied to that account in that region (``[]`` allows everything again). The region is the request's
SigV4 credential scope, as IAM's ``aws:RequestedRegion``; the action is ``<IAM prefix>:<operation>``
(CloudWatch signs as ``monitoring`` but its IAM prefix is ``cloudwatch``). A denied call gets HTTP 403:
- query protocol (RDS, ...): ``<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>...``;
- JSON protocols (what the rpc-v2-cbor translation sends for CloudWatch): ``{"__type": "AccessDenied"}`` with
  ``x-amzn-query-error: AccessDenied;Sender`` (CloudWatch is ``awsQueryCompatible``);
- DynamoDB: HTTP 400 ``{"__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException"}``, as DynamoDB answers.
  https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Programming.Errors.html

The message is IAM's: "User: <arn> is not authorized to perform: <action> on resource: <resource> because no
identity-based policy allows the <action> action".
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-requestedregion
https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from xml.sax.saxutils import escape

from .calls import identify_call
from .control import DEFAULT_ACCOUNT, ControlError, where

_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/([^/]+)/aws4_request")
# SigV4 signing names whose IAM action prefix differs.
_IAM_PREFIX = {"monitoring": "cloudwatch"}
_ACTION = re.compile(r"[a-z0-9-]+:[A-Za-z0-9]+")

_lock = threading.Lock()
_denied: dict[tuple[str, str], frozenset[str]] = {}


def deny(body: dict) -> dict:
    """``POST /_failover/iam/deny``: the actions denied to the account in the region, replacing earlier ones."""
    account, region = where(body)
    actions = body.get("actions")
    if not isinstance(actions, list) or not all(isinstance(a, str) and _ACTION.fullmatch(a) for a in actions):
        raise ControlError("actions must be a list of IAM actions such as \"rds:DescribeDBInstances\"")
    with _lock:
        _denied[(account, region)] = frozenset(actions)
    return {"denied": sorted(actions)}


def denied_action(environ) -> str | None:
    """The IAM action of this request when it is denied to its account in its region, else None."""
    scope = _SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    if scope is None:
        return None
    region, signing_name = scope.groups()
    account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT
    with _lock:
        denied = _denied.get((account, region))
    if not denied:
        return None
    _, operation = identify_call(environ)
    action = f"{_IAM_PREFIX.get(signing_name, signing_name)}:{operation}"
    return action if action in denied else None


class IamDeny:
    """WSGI middleware in front of moto: answers a denied call ``AccessDenied``; passes every other one on."""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        action = denied_action(environ)
        if action is None:
            return self.app(environ, start_response)
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT
        message = (f"User: arn:aws:sts::{account}:assumed-role/failover/function is not authorized to perform: "
                   f"{action} on resource: * because no identity-based policy allows the {action} action")
        request_id = str(uuid.uuid4())
        if action.startswith("dynamodb:"):
            # DynamoDB's own error: AccessDeniedException, HTTP 400 (its errors are 400 unless the server failed).
            payload = json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#AccessDeniedException",
                                  "message": message}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-requestid", request_id)]
            start_response("400 Bad Request", [*headers, ("Content-Length", str(len(payload)))])
            return [payload]
        if environ.get("HTTP_X_AMZ_TARGET"):
            payload = json.dumps({"__type": "AccessDenied", "message": message}).encode()
            headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-query-error", "AccessDenied;Sender"),
                       ("x-amzn-requestid", request_id)]
        else:
            payload = ("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                       f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId>"
                       "</ErrorResponse>").encode()
            headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
        start_response("403 Forbidden", [*headers, ("Content-Length", str(len(payload)))])
        return [payload]
