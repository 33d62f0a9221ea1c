"""Amazon Route 53 as AWS behaves where moto 5.2.5 differs; patches moto's Route 53 backend on import.

API reference: https://docs.aws.amazon.com/Route53/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import itertools
import threading
import time

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.route53 import models as route53_models
from moto.route53 import responses as route53_responses
from moto.route53.exceptions import Route53ClientError

from .control import seconds, where

Route53Backend = route53_models.Route53Backend
_orig_change_rrsets = Route53Backend.change_resource_record_sets


class InvalidChangeBatch(Route53ClientError):
    """Route 53's answer to a batch that does not fit the zone's current records (HTTP 400), in the error list of
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html"""

    def __init__(self, message: str):
        super().__init__("InvalidChangeBatch", f"[{message}]")


def _rr_key(record_set: dict) -> tuple:
    name = str(record_set.get("Name", "")).rstrip(".").lower()
    return name, record_set.get("Type"), record_set.get("SetIdentifier")


def _rr_values(records) -> list:
    return [r["Value"] if isinstance(r, dict) else r for r in records or []]


def _change_resource_record_sets(self, zoneid, change_list):
    """ChangeResourceRecordSets checks the whole batch against the zone's current record sets, atomically, and
    answers ``InvalidChangeBatch`` changing nothing: a DELETE whose TTL or values differ from the record's, a
    DELETE of a record that does not exist, a CREATE of one that exists. Each change sees the ones before it in
    the batch. Stock moto compared a DELETE with every value the record ever had (its change journal) and let a
    CREATE add a duplicate. Checked here, then moto applies the batch.
    https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html"""
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
    if not isinstance(zone.rr_changes, _CheckedJournal):
        zone.rr_changes = _CheckedJournal(zone.rr_changes)
    return _orig_change_rrsets(self, zoneid, change_list)


class _CheckedJournal(route53_models.ChangeList):
    """A zone's change journal, still written, no longer consulted: the batch was checked above against the
    current record sets. Stock moto rejected a CREATE identical to any CREATE in the journal while a record set of
    that name exists, even one the batch DELETEs first, so a record could not be repointed (DELETE + CREATE) to a
    value it held before (A, B, A, B); and it let a DELETE through when any journal entry matched it."""

    def __contains__(self, item) -> bool:
        return False

    def has_insert_or_update(self, new_rr_set) -> bool:
        return True


Route53Backend.change_resource_record_sets = _change_resource_record_sets


# ---------------------------------------------------------------------------------------------- change status
# ChangeResourceRecordSets answers PENDING with a change id of its own; GetChange answers PENDING until the change
# has reached every Route 53 authoritative server, then INSYNC, and NoSuchChange (404) for an unknown id
# (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html,
# https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html). Stock moto answers INSYNC with the
# same id for every change, and INSYNC for any id. Here propagation takes the account's
# `POST /_failover/route53/propagation` `{"account", "seconds"}` (default 0: INSYNC at the first GetChange; AWS
# usually takes under 60 s).


_lock = threading.Lock()
_propagation: dict[str, float] = {}
_changes: dict[tuple[str, str], float] = {}  # (account, change id) -> when INSYNC
_ids = itertools.count(1)
_orig_response_change = route53_responses.Route53.change_resource_record_sets


class NoSuchChange(Route53ClientError):
    def __init__(self, change_id: str):
        super().__init__("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")


def _change_id(raw: str) -> str:
    return raw.rsplit("/", 1)[-1]


def _response_change(self):
    result = _orig_response_change(self)
    account = self.current_account
    change_id = f"C{next(_ids):012d}FAILOVER"
    with _lock:
        _changes[(account, change_id)] = time.time() + _propagation.get(account, 0.0)
    result.result["ChangeInfo"].update(Id=f"/change/{change_id}", Status="PENDING")
    return result


def _get_change(self):
    change_id = _change_id(self._get_param("Id") or "")
    with _lock:
        in_sync_at = _changes.get((self.current_account, change_id))
    if in_sync_at is None:
        raise NoSuchChange(change_id)
    status = "INSYNC" if time.time() >= in_sync_at else "PENDING"
    return ActionResult({"ChangeInfo": {"Id": f"/change/{change_id}", "Status": status, "SubmittedAt": utcnow()}})


route53_responses.Route53.change_resource_record_sets = _response_change
route53_responses.Route53.get_change = _get_change


def set_propagation(body: dict) -> dict:
    """``POST /_failover/route53/propagation``: how long the account's later changes stay PENDING."""
    account, _ = where(body)
    wait = seconds(body, 3600)
    with _lock:
        _propagation[account] = wait
    return {"account": account, "seconds": wait}
