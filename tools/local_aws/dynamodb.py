"""Amazon DynamoDB as AWS behaves where moto 5.2.5 differs (patches moto's DynamoDB backend on import), and the
ledger table as the deployment creates it.

API reference: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/Welcome.html
"""

from __future__ import annotations

import threading
from pathlib import Path

import yaml
from moto.dynamodb.models import DynamoDBBackend, dynamodb_backends

from .control import ControlError, backend, where

# moto's TransactWriteItems deep-copies the tables it touches and, when a condition fails, rolls back by putting
# those copies back, so a write that another request thread made meanwhile (the server is threaded) is silently
# undone. One lock around every DynamoDB read and write makes moto's transactions isolated (the ledger's leases
# depend on it).
_DYNAMODB_LOCK = threading.RLock()


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


# --------------------------------------------------------------------------- the ledger table
TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"


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
