"""Smithy RPC v2 CBOR in front of moto: the protocol aws-sdk-cloudwatch (Rust) speaks, which moto 5.2.5 lacks.

The Rust SDK's CloudWatch client sends ``POST /service/GraniteServiceVersion20100801/operation/<Op>`` with a CBOR
body and ``smithy-protocol: rpc-v2-cbor``; moto answers 404. boto3 picks the JSON protocol for the same service,
which moto does answer. This WSGI middleware translates one into the other: the CBOR request becomes the
equivalent awsJson1.0 request (``X-Amz-Target: <targetPrefix>.<Op>``), and moto's JSON answer (result or
``__type`` error, same status) is re-encoded as CBOR, with timestamps as CBOR tag 1 (epoch seconds) where the
service model (botocore's, for the shapes) says a member is a timestamp. The data are moto's own; only the wire
format changes.

Errors are CBOR maps ``{"__type", "message"}`` with moto's HTTP status and its ``x-amzn-query-error`` header
(``Code;Sender``: CloudWatch is ``awsQueryCompatible``, and the Rust SDK takes the error code from that header
when present); ``x-amzn-requestid`` is passed on too. Answered here, before moto:
  * an undecodable body, or one that is not a CBOR map: 400 ``SerializationException``;
  * an operation the model does not have: 404 ``UnknownOperationException``;
  * a required input member missing (at any depth, per the model): 400 ``MissingRequiredParameterException``
    with ``x-amzn-query-error: MissingParameter;Sender``, CloudWatch's modelled error for it (moto would
    otherwise fail with a KeyError and an HTML page);
  * moto raising, or answering something that is not JSON: 500 ``InternalFailure``.

Scope: services whose botocore model lists ``smithy-rpc-v2-cbor`` and ``json`` (CloudWatch is the one this
project uses). The CBOR codec covers what those services send: integers, floats, strings, byte strings,
arrays and maps (definite or indefinite length), booleans, null, and tag 1.

Always on in the local AWS (``server.main``), so in everything that starts it: the Rust integration tests,
``tools/lambda_local.py`` (``make demo``, ``make e2e``) and the benchmarks.
Protocol: https://smithy.io/2.0/additional-specs/protocols/smithy-rpc-v2.html
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import re
import struct

_PATH = re.compile(r"^/service/([^/]+)/operation/([^/?]+)$")
_PASSED_ON = ("x-amzn-requestid", "x-amzn-query-error")  # moto's headers kept on the CBOR answer

log = logging.getLogger("local_aws.rpcv2_cbor")


class Timestamp(float):
    """A float that is encoded as CBOR tag 1 (epoch seconds)."""


# --------------------------------------------------------------------------- CBOR codec (RFC 8949 subset)


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ValueError("CBOR: truncated input")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def argument(self, info: int) -> int | None:
        if info < 24:
            return info
        if info in (24, 25, 26, 27):
            size = 1 << (info - 24)
            return int.from_bytes(self.take(size), "big")
        if info == 31:
            return None  # indefinite length
        raise ValueError(f"CBOR: reserved additional information {info}")


_BREAK = object()


def _decode_item(r: _Reader):
    initial = r.take(1)[0]
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        if info == 20:
            return False
        if info == 21:
            return True
        if info in (22, 23):
            return None
        if info == 25:
            return _half(r.take(2))
        if info == 26:
            return struct.unpack(">f", r.take(4))[0]
        if info == 27:
            return struct.unpack(">d", r.take(8))[0]
        if info == 31:
            return _BREAK
        raise ValueError(f"CBOR: unsupported simple value {info}")
    arg = r.argument(info)
    if major == 0:
        return arg
    if major == 1:
        return -1 - arg
    if major in (2, 3):
        if arg is None:
            parts = []
            while (part := _decode_item(r)) is not _BREAK:
                parts.append(part)
            raw = b"".join(p if isinstance(p, bytes) else p.encode() for p in parts)
        else:
            raw = r.take(arg)
        return raw if major == 2 else raw.decode("utf-8")
    if major == 4:
        items = []
        if arg is None:
            while (item := _decode_item(r)) is not _BREAK:
                items.append(item)
        else:
            items = [_decode_item(r) for _ in range(arg)]
        return items
    if major == 5:
        out = {}
        count = 0
        while arg is None or count < arg:
            key = _decode_item(r)
            if key is _BREAK:
                break
            out[key] = _decode_item(r)
            count += 1
        return out
    if major == 6:
        value = _decode_item(r)
        return Timestamp(value) if arg == 1 else value
    raise ValueError(f"CBOR: unknown major type {major}")


def _half(raw: bytes) -> float:
    h = int.from_bytes(raw, "big")
    sign = -1.0 if h & 0x8000 else 1.0
    exponent, fraction = (h >> 10) & 0x1F, h & 0x3FF
    if exponent == 0:
        return sign * fraction * 2.0 ** -24
    if exponent == 31:
        return sign * float("inf") if fraction == 0 else float("nan")
    return sign * (1 + fraction / 1024) * 2.0 ** (exponent - 15)


def decode(data: bytes):
    if not data:
        return {}
    reader = _Reader(data)
    value = _decode_item(reader)
    if reader.pos != len(data):
        raise ValueError("CBOR: trailing bytes")
    return value


def _head(major: int, n: int) -> bytes:
    if n < 24:
        return bytes([major << 5 | n])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if n < 1 << (8 * size):
            return bytes([major << 5 | info]) + n.to_bytes(size, "big")
    raise ValueError("CBOR: integer too large")


def encode(value) -> bytes:
    out = io.BytesIO()
    _encode(value, out)
    return out.getvalue()


def _encode(value, out: io.BytesIO) -> None:
    if isinstance(value, Timestamp):
        out.write(_head(6, 1))
        _encode(float(value), out)
    elif value is None:
        out.write(b"\xf6")
    elif value is True:
        out.write(b"\xf5")
    elif value is False:
        out.write(b"\xf4")
    elif isinstance(value, int):
        out.write(_head(0, value) if value >= 0 else _head(1, -1 - value))
    elif isinstance(value, float):
        out.write(b"\xfb" + struct.pack(">d", value))
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        out.write(_head(3, len(raw)) + raw)
    elif isinstance(value, (bytes, bytearray)):
        out.write(_head(2, len(value)) + bytes(value))
    elif isinstance(value, (list, tuple)):
        out.write(_head(4, len(value)))
        for item in value:
            _encode(item, out)
    elif isinstance(value, dict):
        out.write(_head(5, len(value)))
        for key, item in value.items():
            _encode(key, out)
            _encode(item, out)
    else:
        raise TypeError(f"CBOR: cannot encode {type(value).__name__}")


# --------------------------------------------------------------------------- shapes


def _epoch(value) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).replace("Z", "+00:00")
    parsed = dt.datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return parsed.timestamp()


def to_cbor_types(value, shape):
    """moto's JSON answer, with the members the model calls timestamps made :class:`Timestamp`."""
    if shape is None or value is None:
        return value
    kind = shape.type_name
    if kind == "timestamp":
        return Timestamp(_epoch(value))
    if kind == "structure" and isinstance(value, dict):
        members = shape.members
        return {k: to_cbor_types(v, members.get(k)) for k, v in value.items()}
    if kind == "list" and isinstance(value, list):
        return [to_cbor_types(v, shape.member) for v in value]
    if kind == "map" and isinstance(value, dict):
        return {k: to_cbor_types(v, shape.value) for k, v in value.items()}
    if kind == "blob" and isinstance(value, str):
        import base64

        return base64.b64decode(value)
    if kind in ("double", "float") and isinstance(value, int):
        return float(value)
    return value


def to_json_types(value):
    """A decoded CBOR request as the JSON protocol wants it: timestamps as epoch seconds, blobs as base64."""
    if isinstance(value, dict):
        return {k: to_json_types(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json_types(v) for v in value]
    if isinstance(value, (bytes, bytearray)):
        import base64

        return base64.b64encode(value).decode()
    if isinstance(value, Timestamp):
        return float(value)
    return value


_MODELS: dict[str, object] = {}


def _service_model(target_prefix: str):
    """The botocore model of the rpc-v2-cbor service with this target prefix (None if unknown)."""
    if target_prefix not in _MODELS:
        import botocore.session

        session = botocore.session.get_session()
        found = None
        for name in ("cloudwatch",):  # the rpc-v2-cbor services the project calls
            model = session.get_service_model(name)
            if model.metadata.get("targetPrefix") == target_prefix:
                found = model
        _MODELS[target_prefix] = found
    return _MODELS[target_prefix]


def missing_members(value, shape, path: str = "") -> list[str]:
    """Paths of the required members missing from a decoded request, per the model (e.g. ``MetricData[0].MetricName``)."""
    if shape is None or value is None:
        return []
    kind = shape.type_name
    if kind == "structure" and isinstance(value, dict):
        prefix = f"{path}." if path else ""
        missing = [f"{prefix}{name}" for name in shape.required_members if value.get(name) is None]
        for name, member in shape.members.items():
            missing += missing_members(value.get(name), member, f"{prefix}{name}")
        return missing
    if kind == "list" and isinstance(value, list):
        return [m for i, v in enumerate(value) for m in missing_members(v, shape.member, f"{path}[{i}]")]
    if kind == "map" and isinstance(value, dict):
        return [m for k, v in value.items() for m in missing_members(v, shape.value, f"{path}[{k}]")]
    return []


# --------------------------------------------------------------------------- WSGI


class RpcV2CborToJson:
    """WSGI middleware: rpc-v2-cbor requests in, the JSON protocol to the wrapped app, CBOR answers out, as CloudWatch
    answers aws-sdk-cloudwatch (Rust) over Smithy RPC v2 CBOR (GetMetricData, PutMetricData...).
    https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/Welcome.html"""

    def __init__(self, app):
        self.app = app

    def __call__(self, environ, start_response):
        match = _PATH.match(environ.get("PATH_INFO", ""))
        if not match or environ.get("HTTP_SMITHY_PROTOCOL", "").lower() != "rpc-v2-cbor":
            return self.app(environ, start_response)
        prefix, operation = match.groups()
        model = _service_model(prefix)
        if model is None:
            return self.app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        if operation not in model.operation_names:
            return _answer(start_response, "404 Not Found", {"__type": "UnknownOperationException",
                                                             "message": f"{prefix} has no operation {operation}"})
        try:
            decoded = decode(raw)
            if not isinstance(decoded, dict):
                raise ValueError(f"CBOR: the input must be a map, not {type(decoded).__name__}")
        except ValueError as e:
            return _answer(start_response, "400 Bad Request",
                           {"__type": "SerializationException", "message": str(e)})
        missing = missing_members(decoded, model.operation_model(operation).input_shape)
        if missing:
            return _answer(start_response, "400 Bad Request",
                           {"__type": "MissingRequiredParameterException",
                            "message": f"Missing required parameter(s): {', '.join(missing)}"},
                           [("x-amzn-query-error", "MissingParameter;Sender")])
        body = json.dumps(to_json_types(decoded)).encode()
        inner = dict(environ)
        inner.pop("HTTP_SMITHY_PROTOCOL", None)
        inner.update({
            "PATH_INFO": "/",
            "QUERY_STRING": "",
            "CONTENT_TYPE": f"application/x-amz-json-{model.metadata.get('jsonVersion', '1.0')}",
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_X_AMZ_TARGET": f"{prefix}.{operation}",
            "wsgi.input": io.BytesIO(body),
        })
        captured: dict = {}

        def capture(status, headers, exc_info=None):
            captured["status"] = status
            captured["headers"] = [(k, v) for k, v in headers if k.lower() in _PASSED_ON]
            return lambda _data: None

        try:
            chunks = self.app(inner, capture)
            try:
                payload = b"".join(chunks)
            finally:
                if hasattr(chunks, "close"):
                    chunks.close()
        except Exception as e:  # moto failed on input it did not expect: an error answer, not an HTML page
            log.exception("%s.%s failed in moto", prefix, operation)
            return _answer(start_response, "500 Internal Server Error",
                           {"__type": "InternalFailure", "message": f"{type(e).__name__}: {e}"})
        status = captured.get("status", "500 Internal Server Error")
        try:
            answer = json.loads(payload or b"{}")
        except ValueError:
            status = status if not status.startswith("2") else "500 Internal Server Error"
            answer = {"__type": "InternalFailure", "message": payload.decode(errors="replace")[:500]}
        if status.startswith("2"):
            try:
                shape = model.operation_model(operation).output_shape
            except Exception:
                shape = None
            answer = to_cbor_types(answer, shape)
        return _answer(start_response, status, answer, captured.get("headers", []))


def _answer(start_response, status: str, value, extra_headers=()) -> list[bytes]:
    payload = encode(value)
    start_response(status, [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor"),
                            ("Content-Length", str(len(payload))), *extra_headers])
    return [payload]
