"""Amazon DynamoDB as AWS behaves where moto 5.2.5 differs (patches moto's DynamoDB backend on import), and the
ledger table as the deployment creates it.

API reference: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import copy
import functools
import threading
import time
from collections import deque
from pathlib import Path

import yaml
from moto.dynamodb.comparisons import ConditionExpressionParser
from moto.dynamodb.exceptions import TransactionCanceledException
import moto.dynamodb.models as dynamodb_models
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends
from moto.dynamodb.models.table import Table
from moto.dynamodb.parsing.expressions import UpdateExpressionParser

from .control import ControlError, backend, seconds, where

# moto's TransactWriteItems deep-copies the tables it touches and, when a condition fails, rolls back by putting
# those copies back, so a write that another request thread made meanwhile (the server is threaded) is silently
# undone. One lock around every DynamoDB read and write makes moto's transactions isolated (the ledger's leases
# depend on it).
_DYNAMODB_LOCK = threading.RLock()


# --------------------------------------------------------------------------- transactions: rollback by item
# The copy of every table a transaction names costs time (and garbage) in proportion to the table, on every
# transaction, failed or not: DynamoDB's does not grow with the table (a table of 700 items here: 42 ms a
# transaction, 13 ms without the copies). moto's copy is turned into a no-op for tables, and the transaction
# keeps a copy of each item it names instead, put back in reverse order when it is cancelled (an item it created
# is deleted), which is the all-or-nothing result DynamoDB gives.
# https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html
class _TablesNotCopied:
    """The ``copy`` module as moto's DynamoDB models see it, except that ``deepcopy`` hands a table back as it is."""

    @staticmethod
    def deepcopy(value, memo=None):
        return value if isinstance(value, Table) else copy.deepcopy(value, memo)


dynamodb_models.copy = _TablesNotCopied


# moto parses a request's update expression, and lexes its condition expression, again on every call, a good
# part of the time a ledger transaction takes here. Both depend on the expression's text alone (the names and
# values are applied afterwards: moto's validator copies the update's tree before it fills it in, and the
# condition's parser builds new nodes from the lexed ones), and a client sends the same few expressions again
# and again: each text is parsed (lexed) once.
_parse_update = functools.lru_cache(maxsize=1024)(UpdateExpressionParser.make)
UpdateExpressionParser.make = classmethod(lambda cls, expression: _parse_update(expression))
_lex_condition = ConditionExpressionParser._lex_condition_expression
_lexed: dict[str, tuple] = {}


def _lex_condition_once(self):
    text = self.condition_expression
    nodes = _lexed.get(text)
    if nodes is None:
        if len(_lexed) >= 1024:
            _lexed.clear()
        nodes = _lexed[text] = tuple(_lex_condition(self))
    return deque(nodes)


ConditionExpressionParser._lex_condition_expression = _lex_condition_once


def _item_named(tables: DynamoDBBackend, op_type: str, op: dict) -> tuple[str | None, dict]:
    """The table and key of the item one operation of a transaction names (a Put's key from its item)."""
    table_name = op.get("TableName")
    if op_type != "Put":
        return table_name, dict(op.get("Key") or {})
    table = tables.tables.get(table_name)
    names = (table.hash_key_attr, table.range_key_attr) if table else ()
    return table_name, {name: value for name, value in (op.get("Item") or {}).items() if name in names}


def _rolled_back_by_item(transact):
    def transact_write_items(self, transact_items):
        before = []
        for entry in transact_items if isinstance(transact_items, list) else []:
            if not isinstance(entry, dict) or len(entry) != 1:
                continue
            named = _item_named(self, *next(iter(entry.items())))
            if named[0] not in self.tables:
                continue
            try:
                item = self.get_item(*named)
            except Exception:  # a malformed key: moto's own checks answer it, and nothing is written
                continue
            before.append((*named, copy.deepcopy(item)))
        try:
            return transact(self, transact_items)
        except Exception:
            for table_name, key, item in reversed(before):
                table = self.tables[table_name]
                hash_key, range_key = self.get_keys_value(table, key)
                if item is None:
                    table.delete_item(hash_key, range_key)
                elif range_key is not None:
                    table.items[hash_key][range_key] = item
                else:
                    table.items[hash_key] = item
            raise
    transact_write_items.__name__ = transact.__name__
    return transact_write_items


DynamoDBBackend.transact_write_items = _rolled_back_by_item(DynamoDBBackend.transact_write_items)


def _serialised(method):
    """DynamoDB transactions are atomic and isolated from other operations: ``method`` under one lock.
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-isolation"""
    def locked(self, *args, **kwargs):
        with _DYNAMODB_LOCK:
            return method(self, *args, **kwargs)
    locked.__name__ = method.__name__
    return locked


for _name in ("transact_write_items", "put_item", "update_item", "delete_item", "get_item", "query", "scan",
              "batch_write_item"):
    setattr(DynamoDBBackend, _name, _serialised(getattr(DynamoDBBackend, _name)))


# --------------------------------------------------------------------------- transaction conflicts
# DynamoDB cancels a TransactWriteItems that names an item another TransactWriteItems in progress names (its
# ConditionChecks included), with the reason `TransactionConflict` for that item and `None` for the others.
# https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling
# moto applies a transaction at once, so no two are ever in progress together: an account's
# `POST /_failover/dynamodb/transaction-window` `{"account", "seconds"}` keeps its transactions in progress
# that long before they apply (default 0: at once, no conflict).
_flight_lock = threading.Lock()
_windows: dict[str, float] = {}
_in_flight: dict[tuple, int] = {}  # (account, region, table, key) -> transactions in progress naming it
_serialised_transaction = DynamoDBBackend.transact_write_items


def _item_key(tables: DynamoDBBackend, op_type: str, op: dict) -> tuple:
    table_name, key = _item_named(tables, op_type, op)
    return (tables.account_id, tables.region_name, table_name, str(sorted(key.items())))


def _transact_write_items(self, transact_items):
    window = _windows.get(self.account_id, 0.0)
    if not window:
        return _serialised_transaction(self, transact_items)
    keys = [_item_key(self, *next(iter(item.items()))) for item in transact_items]
    with _flight_lock:
        if any(key in _in_flight for key in keys):
            raise TransactionCanceledException([
                ("TransactionConflict", "Transaction is ongoing for the item", None) if key in _in_flight
                else (None, None, None) for key in keys])
        for key in keys:
            _in_flight[key] = _in_flight.get(key, 0) + 1
    try:
        time.sleep(window)
        return _serialised_transaction(self, transact_items)
    finally:
        with _flight_lock:
            for key in keys:
                _in_flight[key] -= 1
                if not _in_flight[key]:
                    del _in_flight[key]


DynamoDBBackend.transact_write_items = _transact_write_items


def set_transaction_window(body: dict) -> dict:
    """``POST /_failover/dynamodb/transaction-window``: how long the account's later transactions stay in
    progress (0 to 5 seconds), during which another transaction naming one of their items is cancelled."""
    account, _ = where(body)
    window = seconds(body, 5)
    with _flight_lock:
        _windows[account] = window
    return {"account": account, "seconds": window}


# --------------------------------------------------------------------------- the ledger table
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


class _TemplateLoader(yaml.SafeLoader):
    """Reads template.yaml with its CloudFormation short tags (!Ref, !Sub...) kept as plain values."""


_TemplateLoader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_scalar(node) if isinstance(node, yaml.ScalarNode)
    else loader.construct_sequence(node) if isinstance(node, yaml.SequenceNode)
    else loader.construct_mapping(node)))


def ledger_table_properties(template: Path = TEMPLATE) -> dict:
    """The ledger table's properties exactly as the deployment declares them (a deep copy, the template read
    once per version of the file: the pure-Python YAML parse takes longer than any AWS call here)."""
    stat = template.stat()
    return copy.deepcopy(_ledger_table_properties(template, stat.st_mtime_ns, stat.st_size))


@functools.lru_cache(maxsize=4)
def _ledger_table_properties(template: Path, _mtime_ns: int, _size: int) -> dict:
    resource = yaml.load(template.read_text(), Loader=_TemplateLoader)["Resources"].get("LedgerTable")
    if not resource or resource.get("Type") != "AWS::DynamoDB::Table":
        raise ControlError(f"{template}: no AWS::DynamoDB::Table resource LedgerTable")
    return resource["Properties"]


def create_ledger_table(body: dict) -> dict:
    """``POST /_failover/dynamodb/ledger-table``: creates the ledger table as the template's LedgerTable declares
    it (keys, billing, encryption, TTL, point-in-time recovery), as CloudFormation would, so that tests, the demo
    and the benchmarks run on the table the stack creates. An existing table of that name is left as it is.
    https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-dynamodb-table.html"""
    account, region = where(body)
    name = str(body.get("table_name") or "failover-ledger")
    props = ledger_table_properties()
    tables = backend(dynamodb_backends, account, region)
    if name in tables.tables:
        return {"table_name": name, "created": False}
    sse = props.get("SSESpecification") or {}
    tables.create_table(
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
        tables.update_time_to_live(name, {"AttributeName": ttl["AttributeName"], "Enabled": bool(ttl["Enabled"])})
    if pitr := props.get("PointInTimeRecoverySpecification"):
        tables.update_continuous_backups(
            name, {"PointInTimeRecoveryEnabled": bool(pitr.get("PointInTimeRecoveryEnabled"))})
    return {"table_name": name, "created": True}
