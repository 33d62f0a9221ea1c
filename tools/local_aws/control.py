"""What the control endpoints (``/_failover/...``) share: their error, the default account and region, and the
checks of a JSON body. Each endpoint lives in the module of its service; ``server.ROUTES`` lists them all."""

from __future__ import annotations

import re

DEFAULT_ACCOUNT = "123456789012"
DEFAULT_REGION = "us-east-1"
CONTROL_PREFIX = "/_failover/"


class ControlError(Exception):
    """A bad control request: answered with HTTP 400 {"error": ...}."""


def field(body: dict, name: str, kind=str):
    """``body[name]``, which must be a ``kind`` (a non-empty one for a string), else ControlError."""
    value = body.get(name)
    if not isinstance(value, kind) or (kind is str and not value):
        raise ControlError(f"field {name!r} is required ({kind.__name__})")
    return value


def seconds(body: dict, most: float) -> float:
    """``body["seconds"]``, a number from 0 to ``most``, else ControlError."""
    value = body.get("seconds")
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= most:
        raise ControlError(f"seconds must be a number from 0 to {most}")
    return float(value)


def where(body: dict) -> tuple[str, str]:
    """The (account, region) a control request names, with the defaults."""
    account = str(body.get("account") or DEFAULT_ACCOUNT)
    region = str(body.get("region") or DEFAULT_REGION)
    if not re.fullmatch(r"\d{12}", account):
        raise ControlError(f"account must be 12 digits, got {account!r}")
    return account, region


def backend(backends, account: str, region: str):
    """moto's backend of one service for an account and region."""
    try:
        return backends[account][region]
    except KeyError:
        raise ControlError(f"unknown region {region!r}") from None
