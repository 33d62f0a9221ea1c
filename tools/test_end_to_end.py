"""End-to-end tests: the release bootstraps under cargo lambda's Runtime API emulator, against the local AWS.

Run with ``make e2e`` (after ``cargo lambda build --release --workspace``), or
``.venv/bin/python -m unittest tools/test_end_to_end.py -v``.

One local AWS and one emulator serve the whole module. Each test provisions what it needs in its own account and
starts fresh bootstraps pointed at that account (``AWS_ACCESS_KEY_ID`` selects the account), then asserts the
state of the emulated AWS and the notifications a subscriber received, not only what the function answered.
"""

from __future__ import annotations

import itertools
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo as D  # noqa: E402
import lambda_local as L  # noqa: E402

_accounts = itertools.count(300000000001)


class EndToEnd(unittest.TestCase):
    stack: L.Stack

    @classmethod
    def setUpClass(cls):
        missing = [f for f in L.FUNCTIONS if not L.bootstrap_path(f).exists()]
        if missing:
            raise RuntimeError(f"missing release binaries for {missing}: run `cargo lambda build --release "
                               "--workspace` (make lambda-build) first")
        cls.stack = L.Stack.start()

    @classmethod
    def tearDownClass(cls):
        cls.stack.close()

    def env(self, load_balancer: bool = False, databases: bool = False) -> D.Env:
        """A fresh account with part of the demo's environment, and both functions pointed at it."""
        env = D.provision(self.stack.aws, str(next(_accounts)), load_balancer=load_balancer, databases=databases)
        for function in L.FUNCTIONS:
            self.stack.start_function(function, env.account, D.settings(env, function))
        return env

    def invoke(self, function: str, event) -> L.Invocation:
        return self.stack.invoke(function, event)

    def assert_alive(self, function: str) -> None:
        process = self.stack.functions[function]
        self.assertTrue(process.alive(), f"{function} exited:\n{process.log()[-3000:]}")

    def assert_status(self, invocation: L.Invocation, status: str) -> None:
        self.assertEqual(invocation.status, status, f"{invocation.function} answered {invocation.payload}")

    # ------------------------------------------------------------------ both functions

    def test_each_function_when_sent_a_malformed_event_answers_invalid_event_then_serves_a_good_one(self):
        env = self.env()
        malformed = [
            ["not", "an", "object"],
            {"Records": [{"Sns": {"Message": "{not json"}}]},
            {"source": "aws.cloudwatch", "detail-type": "CloudWatch Alarm State Change", "detail": {"state": 3}},
            {"unexpected": "shape"},
        ]
        foreign = {"version": "0", "id": "1", "source": "aws.ec2", "detail-type": "EC2 Instance State-change "
                   "Notification", "account": env.account, "region": L.REGION, "time": "2024-05-01T10:00:00Z",
                   "resources": [], "detail": {"instance-id": "i-1", "state": "stopped"}}
        for function in L.FUNCTIONS:
            pid = self.stack.functions[function].process.proc.pid
            for event in malformed:
                with self.subTest(function=function, event=event):
                    invocation = self.invoke(function, event)
                    self.assertEqual(invocation.http_status, 500, invocation.payload)
                    self.assert_status(invocation, "error:InvalidEvent")
                    self.assert_alive(function)
            good = self.invoke(function, foreign)
            self.assert_status(good, "skipped")
            self.assertIn("aws.ec2", good.payload["message"])
            self.assert_alive(function)
            self.assertEqual(self.stack.functions[function].process.proc.pid, pid, "the process was restarted")
        self.assertEqual(env.subscriber.drain(), [], "malformed and foreign events are not notified")


if __name__ == "__main__":
    unittest.main()
