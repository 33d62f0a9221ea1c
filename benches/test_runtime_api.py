"""Tests for benches/runtime_api.py: `.venv/bin/python -m unittest benches/test_runtime_api.py -v`.

A runtime is played by http.client on one keep-alive connection, as a real runtime client holds one.
No timing is asserted, only that the timestamps are ordered.
"""

from __future__ import annotations

import http.client
import json
import sys
import threading
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from runtime_api import API, RuntimeApi  # noqa: E402


class FakeRuntime:
    def __init__(self, api: RuntimeApi):
        host, port = api.address.split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=10)

    def next(self) -> tuple[str, dict, dict]:
        self.conn.request("GET", f"{API}/invocation/next")
        response = self.conn.getresponse()
        body = json.loads(response.read())
        return response.headers["Lambda-Runtime-Aws-Request-Id"], dict(response.headers), body

    def post(self, path: str, body: dict, headers: dict | None = None) -> int:
        self.conn.request("POST", f"{API}/{path}", body=json.dumps(body), headers=headers or {})
        response = self.conn.getresponse()
        response.read()
        return response.status


class RuntimeApiTest(unittest.TestCase):
    def setUp(self):
        self.api = RuntimeApi("fn", account="123456789012")
        self.runtime = FakeRuntime(self.api)

    def tearDown(self):
        self.runtime.conn.close()
        self.api.close()

    def serve(self, answer):
        """Runs the fake runtime for one event in a thread; ``answer(request_id, event)`` posts the outcome."""
        def loop():
            request_id, self.headers, event = self.runtime.next()
            answer(request_id, event)
        thread = threading.Thread(target=loop)
        thread.start()
        return thread

    def test_event_and_response_on_one_connection(self):
        for n in range(3):
            thread = self.serve(lambda rid, event: self.runtime.post(f"invocation/{rid}/response", {"got": event}))
            invocation = self.api.invoke({"n": n}, timeout=10)
            thread.join()
            self.assertTrue(invocation.ok)
            self.assertEqual(invocation.json(), {"got": {"n": n}})
            self.assertLessEqual(invocation.queued, invocation.dispatched)
            self.assertLessEqual(invocation.dispatched, invocation.finished)
        self.assertEqual(self.headers["Lambda-Runtime-Invoked-Function-Arn"],
                         "arn:aws:lambda:us-east-1:123456789012:function:fn")
        self.assertIn("Lambda-Runtime-Deadline-Ms", self.headers)
        self.assertIsNotNone(self.api.ready_at)

    def test_invocation_error_keeps_its_type(self):
        thread = self.serve(lambda rid, _: self.runtime.post(
            f"invocation/{rid}/error", {"errorType": "InvalidEvent", "errorMessage": "bad"},
            {"Lambda-Runtime-Function-Error-Type": "InvalidEvent"}))
        invocation = self.api.invoke({}, timeout=10)
        thread.join()
        self.assertEqual(invocation.error_type, "InvalidEvent")
        self.assertEqual(invocation.json()["errorMessage"], "bad")

    def test_init_error_fails_the_pending_invocation(self):
        invocation = self.api.submit({"first": True})
        status = self.runtime.post("init/error", {"errorType": "Runtime.ConfigError", "errorMessage": "no topic"},
                                   {"Lambda-Runtime-Function-Error-Type": "Runtime.ConfigError"})
        self.assertEqual(status, 202)
        self.assertTrue(invocation.done.wait(5))
        self.assertEqual(invocation.error_type, "Runtime.ConfigError")
        self.assertIn("no topic", self.api.init_error)

    def test_unknown_invocation_is_404(self):
        self.assertEqual(self.runtime.post("invocation/nope/response", {}), 404)


if __name__ == "__main__":
    unittest.main()
