"""Tests for tools/local_aws/rpcv2_cbor.py: `.venv/bin/python -m unittest tools/test_rpcv2_cbor.py -v`."""

from __future__ import annotations

import io
import json
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_aws import rpcv2_cbor as C  # noqa: E402  (tools/, beside this file)


class Codec(unittest.TestCase):
    def test_rfc_8949_examples_decode(self):
        examples = {
            "00": 0, "17": 23, "1818": 24, "190100": 256, "20": -1, "3863": -100, "f93c00": 1.0, "f97bff": 65504.0,
            "fa47c35000": 100000.0, "fb3ff199999999999a": 1.1, "f4": False, "f5": True, "f6": None,
            "6161": "a", "4401020304": b"\x01\x02\x03\x04", "83010203": [1, 2, 3],
            "a201020304": {1: 2, 3: 4}, "9f018202039f0405ffff": [1, [2, 3], [4, 5]],
            "bf61610161629f0203ffff": {"a": 1, "b": [2, 3]}, "7f657374726561646d696e67ff": "streaming",
        }
        for hex_, value in examples.items():
            with self.subTest(hex_):
                self.assertEqual(C.decode(bytes.fromhex(hex_)), value)

    def test_tag_1_is_a_timestamp_both_ways(self):
        decoded = C.decode(bytes.fromhex("c11a514b67b0"))
        self.assertIsInstance(decoded, C.Timestamp)
        self.assertEqual(decoded, 1363896240)
        self.assertEqual(C.decode(C.encode(C.Timestamp(1.5))), 1.5)
        self.assertEqual(C.encode(C.Timestamp(1.5))[:1], b"\xc1")

    def test_round_trip(self):
        value = {"Id": "m0", "Values": [1.0, -2.5], "Count": 70000, "Neg": -300, "Ok": True, "None": None,
                 "Blob": b"\x00\xff", "Nested": [{"k": "v"}]}
        self.assertEqual(C.decode(C.encode(value)), value)


class Middleware(unittest.TestCase):
    def test_cloudwatch_cbor_request_reaches_the_app_as_json_and_returns_cbor_with_timestamps(self):
        seen = {}

        def app(environ, start_response):
            seen.update(target=environ["HTTP_X_AMZ_TARGET"], type=environ["CONTENT_TYPE"],
                        body=json.loads(environ["wsgi.input"].read()))
            start_response("200 OK", [("Content-Type", "application/x-amz-json-1.0")])
            return [json.dumps({"MetricDataResults": [{"Id": "m0", "Timestamps": [1700000000],
                                                       "Values": [3], "StatusCode": "Complete"}]}).encode()]

        body = C.encode({"StartTime": C.Timestamp(1699999700.0), "EndTime": C.Timestamp(1700000000.0),
                         "MetricDataQueries": [{"Id": "m0", "ReturnData": True}]})
        environ = {"PATH_INFO": "/service/GraniteServiceVersion20100801/operation/GetMetricData",
                   "HTTP_SMITHY_PROTOCOL": "rpc-v2-cbor", "CONTENT_LENGTH": str(len(body)),
                   "wsgi.input": io.BytesIO(body), "REQUEST_METHOD": "POST"}
        answered = {}
        payload = b"".join(C.RpcV2CborToJson(app)(environ, lambda s, h: answered.update(status=s, headers=h)))
        self.assertEqual(seen["target"], "GraniteServiceVersion20100801.GetMetricData")
        self.assertEqual(seen["type"], "application/x-amz-json-1.0")
        self.assertEqual(seen["body"]["StartTime"], 1699999700.0)
        self.assertEqual(answered["status"], "200 OK")
        self.assertIn(("smithy-protocol", "rpc-v2-cbor"), answered["headers"])
        result = C.decode(payload)["MetricDataResults"][0]
        self.assertIsInstance(result["Timestamps"][0], C.Timestamp)
        self.assertEqual(result["Values"], [3.0])
        self.assertIsInstance(result["Values"][0], float)

    def test_missing_members_unknown_operations_and_app_failures_are_cbor_errors(self):
        def failing(environ, start_response):
            raise KeyError("MetricDataQueries")

        def call(operation, value):
            body = C.encode(value)
            environ = {"PATH_INFO": f"/service/GraniteServiceVersion20100801/operation/{operation}",
                       "HTTP_SMITHY_PROTOCOL": "rpc-v2-cbor", "CONTENT_LENGTH": str(len(body)),
                       "wsgi.input": io.BytesIO(body), "REQUEST_METHOD": "POST"}
            answered = {}
            payload = b"".join(C.RpcV2CborToJson(failing)(environ, lambda s, h: answered.update(status=s, headers=h)))
            return answered["status"], dict(answered["headers"]), C.decode(payload)

        status, headers, body = call("PutMetricData", {"Namespace": "AWS/RDS", "MetricData": [{"Value": 1.0}]})
        self.assertEqual((status, headers["x-amzn-query-error"]), ("400 Bad Request", "MissingParameter;Sender"))
        self.assertEqual(body["__type"], "MissingRequiredParameterException")
        self.assertIn("MetricData[0].MetricName", body["message"])
        status, headers, body = call("Nope", {})
        self.assertEqual((status, body["__type"]), ("404 Not Found", "UnknownOperationException"))
        with self.assertLogs("local_aws.rpcv2_cbor", "ERROR"):
            status, headers, body = call("ListMetrics", {})
        self.assertEqual((status, body["__type"], headers["Content-Type"]),
                         ("500 Internal Server Error", "InternalFailure", "application/cbor"))

    def test_other_requests_pass_through(self):
        environ = {"PATH_INFO": "/", "wsgi.input": io.BytesIO(b"")}
        out = C.RpcV2CborToJson(lambda e, s: [b"untouched"])(environ, lambda s, h: None)
        self.assertEqual(out, [b"untouched"])


if __name__ == "__main__":
    unittest.main()
