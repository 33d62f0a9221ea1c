"""End-to-end tests: the bootstraps under cargo lambda's Runtime API emulator, against the local AWS.

The bootstraps are those of ``make lambda-build``: the functions' binaries as the tests build them (dev
profile), linked into ``target/lambda/`` (Makefile). Run with ``make e2e`` (which builds them first), or
``.venv/bin/python -m unittest tools/test_end_to_end.py -v``.

One local AWS and one emulator serve the whole module (logs in ``target/e2e/``). Each test provisions what it needs in its own account and
starts fresh bootstraps pointed at that account (``AWS_ACCESS_KEY_ID`` selects the account), then asserts the
state of the emulated AWS and the notifications a subscriber received, not only what the function answered.
"""

from __future__ import annotations

import itertools
import json
import shlex
import shutil
import sys
import time
import tomllib
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import demo as D  # noqa: E402
import lambda_local as L  # noqa: E402

_accounts = itertools.count(300000000001)

# CloudWatch Embedded Metric Format specification
# (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html):
# the units a MetricDefinition may name, and the limits on directives.
EMF_UNITS = {
    "Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes", "Gigabytes", "Terabytes", "Bits",
    "Kilobits", "Megabits", "Gigabits", "Terabits", "Percent", "Count", "Bytes/Second", "Kilobytes/Second",
    "Megabytes/Second", "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second", "Megabits/Second",
    "Gigabits/Second", "Terabits/Second", "Count/Second", "None",
}


def emf_documents(log: str) -> list[dict]:
    """The log lines that are EMF documents (JSON objects with an ``_aws`` member)."""
    documents = []
    for line in log.splitlines():
        if line.startswith("{") and '"_aws"' in line:
            documents.append(json.loads(line))
    return documents


def emf_errors(doc: dict, now_ms: int) -> list[str]:
    """What in one document breaks the EMF specification (empty when it is valid)."""
    errors = []
    meta = doc.get("_aws")
    if not isinstance(meta, dict):
        return ["_aws is not an object"]
    stamp = meta.get("Timestamp")
    if not isinstance(stamp, int) or isinstance(stamp, bool) or abs(stamp - now_ms) > 3_600_000:
        errors.append(f"Timestamp {stamp!r} is not epoch milliseconds near now")
    directives = meta.get("CloudWatchMetrics")
    if not isinstance(directives, list) or not directives:
        return errors + ["CloudWatchMetrics is not a non-empty array"]
    for d in directives:
        namespace = d.get("Namespace")
        if not isinstance(namespace, str) or not namespace.strip() or len(namespace) > 255:
            errors.append(f"Namespace {namespace!r}")
        sets = d.get("Dimensions")
        if not isinstance(sets, list):
            errors.append("Dimensions is not an array")
            sets = []
        for dimension_set in sets:
            if not isinstance(dimension_set, list) or len(dimension_set) > 30:
                errors.append(f"dimension set {dimension_set!r}")
                continue
            for name in dimension_set:
                if not isinstance(doc.get(name), str) or not doc[name]:
                    errors.append(f"dimension {name!r} has no string value in the document")
        metrics = d.get("Metrics")
        if not isinstance(metrics, list) or not metrics or len(metrics) > 100:
            errors.append("Metrics is not an array of 1 to 100 definitions")
            metrics = []
        for m in metrics:
            name = m.get("Name")
            if not isinstance(name, str) or not 1 <= len(name) <= 255:
                errors.append(f"metric name {name!r}")
                continue
            if "Unit" in m and m["Unit"] not in EMF_UNITS:
                errors.append(f"{name}: unit {m['Unit']!r} is not a CloudWatch unit")
            value = doc.get(name)
            values = value if isinstance(value, list) else [value]
            if not values or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                errors.append(f"{name}: value {value!r} is not a number")
    return errors


class EndToEnd(unittest.TestCase):
    stack: L.Stack

    @classmethod
    def setUpClass(cls):
        missing = [f for f in L.FUNCTIONS if not L.bootstrap_path(f).exists()]
        if missing:
            raise RuntimeError(f"missing bootstraps for {missing}: run `make lambda-build` first")
        # The processes' logs, kept after the run for a look when a test fails.
        logs = L.ROOT / "target" / "e2e"
        shutil.rmtree(logs, ignore_errors=True)
        cls.stack = L.Stack.start(logs)

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
            with self.subTest(function=function, event="not JSON at all"):
                # The runtime cannot deserialise the payload: an invocation error, and the process lives on.
                invocation = self.invoke(function, b"{not json")
                self.assertEqual(invocation.http_status, 500, invocation.payload)
                self.assert_alive(function)
            good = self.invoke(function, foreign)
            self.assert_status(good, "skipped")
            self.assertIn("aws.ec2", good.payload["message"])
            self.assert_alive(function)
            self.assertEqual(self.stack.functions[function].process.proc.pid, pid, "the process was restarted")
        self.assertEqual(env.subscriber.drain(), [], "malformed and foreign events are not notified")

    def test_each_function_writes_valid_emf_metrics_for_its_own_events_and_none_for_foreign_ones(self):
        env = self.env(load_balancer=True, databases=True)
        foreign = {"version": "0", "id": "2", "source": "aws.ec2", "detail-type": "EC2 Instance State-change "
                   "Notification", "account": env.account, "region": L.REGION, "time": "2024-05-01T10:00:00Z",
                   "resources": [], "detail": {"instance-id": "i-1", "state": "stopped"}}
        env.set_db_status("orders-primary", "failed")
        ours = {"target-failover": self.gray_failure(env, "web-1"), "database-failover": self.failure_event(env)}
        for function in L.FUNCTIONS:
            with self.subTest(function=function):
                process = self.stack.functions[function]
                before = len(process.log())
                self.assert_status(self.invoke(function, foreign), "skipped")
                time.sleep(0.2)
                self.assertEqual(emf_documents(process.log()[before:]), [], "metrics for an event that is not ours")

                self.assert_status(self.invoke(function, ours[function]), "succeeded")
                time.sleep(0.2)
                documents = emf_documents(process.log()[before:])
                now = int(time.time() * 1000)
                for doc in documents:
                    self.assertEqual(emf_errors(doc, now), [], doc)
                    directive = doc["_aws"]["CloudWatchMetrics"][0]
                    self.assertEqual(directive["Namespace"], "Failover")
                    self.assertEqual(doc["function"], function)
                by_name = {d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: d for d in documents}
                self.assertEqual(set(by_name), {"Actions", "Duration"}, documents)
                actions = by_name["Actions"]
                self.assertEqual((actions["outcome"], actions["Actions"]), ("succeeded", 1))
                self.assertIn(["function", "action", "outcome"], actions["_aws"]["CloudWatchMetrics"][0]["Dimensions"])
                self.assertEqual(actions["_aws"]["CloudWatchMetrics"][0]["Metrics"], [{"Name": "Actions", "Unit": "Count"}])
                duration = by_name["Duration"]
                self.assertEqual(duration["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"], "Milliseconds")
                self.assertGreater(duration["Duration"], 0)
        env.subscriber.drain()

    def test_each_functions_readiness_run_writes_its_gap_count_as_an_emf_metric(self):
        env = self.env(load_balancer=True, databases=True)
        for function in L.FUNCTIONS:
            with self.subTest(function=function):
                process = self.stack.functions[function]
                before = len(process.log())
                response = self.invoke(function, {"command": "readiness"})
                time.sleep(0.2)
                documents = emf_documents(process.log()[before:])
                now = int(time.time() * 1000)
                for doc in documents:
                    self.assertEqual(emf_errors(doc, now), [], doc)
                gaps = [d for d in documents
                        if d["_aws"]["CloudWatchMetrics"][0]["Metrics"] == [{"Name": "ReadinessGaps", "Unit": "Count"}]]
                self.assertEqual(len(gaps), 1, documents)
                self.assertEqual(gaps[0]["function"], function)
                self.assertEqual(gaps[0]["ReadinessGaps"], response.payload["details"]["gaps"], response.payload)
        env.subscriber.drain()

    def test_each_functions_aws_calls_carry_its_app_name_for_cloudtrail(self):
        env = self.env(load_balancer=True, databases=True)
        env.set_db_status("orders-primary", "failed")
        self.assert_status(self.invoke("target-failover", self.gray_failure(env, "web-1")), "succeeded")
        self.assert_status(self.invoke("database-failover", self.failure_event(env)), "succeeded")
        env.subscriber.drain()
        version = tomllib.loads((L.ROOT / "Cargo.toml").read_text())["workspace"]["package"]["version"]
        status, answer = L.http_json(self.stack.aws.port, "GET", f"/_failover/calls?account={env.account}")
        self.assertEqual(status, 200, answer)
        apps = {c["action"]: c["apps"] for c in answer["calls"]}
        self.assertEqual(apps["DeregisterTargets"], [f"failover_target-failover_{version}"])
        self.assertEqual(apps["PromoteReadReplica"], [f"failover_database-failover_{version}"])
        self.assertEqual(apps["Publish"], [f"failover_database-failover_{version}", f"failover_target-failover_{version}"])

    # ------------------------------------------------------------------ target-failover

    def gray_failure(self, env: D.Env, role: str) -> dict:
        iid = env.instances[role]
        return D.alarm_eventbridge(env.account, f"{iid}-5xx", "ALARM", "Shop/Web", "Http5xxRate", {"InstanceId": iid},
                                   "5xx from one instance", "Threshold Crossed")

    def test_target_failover_instance_alarm_deregisters_the_instance_from_every_opted_in_group(self):
        env = self.env(load_balancer=True)
        web1 = env.instances["web-1"]
        invocation = self.invoke("target-failover", self.gray_failure(env, "web-1"))
        self.assert_status(invocation, "succeeded")
        self.assertNotIn(web1, D.target_health(env, "web"))
        self.assertNotIn(web1, D.target_health(env, "admin"))
        self.assertEqual(len(D.target_health(env, "web")), 3)
        self.assertEqual(D.listener_weights(env), {"web": 100, "web-backup": 0})
        notes = env.subscriber.drain()
        self.assertTrue(notes, "no notification")
        self.assertEqual({n.outcome for n in notes}, {"succeeded"})
        self.assertEqual({n.attributes.get("function") for n in notes}, {"target-failover"})
        self.assertTrue(all(n.subject.startswith("[failover] succeeded: ") for n in notes), [n.subject for n in notes])
        self.assertIn(web1, json.dumps([n.body for n in notes]))

    def test_target_failover_refuses_to_go_below_the_floor_and_notifies_critical(self):
        env = self.env(load_balancer=True)  # MIN_HEALTHY_TARGETS=2
        for role in ("web-1", "web-2"):
            self.assert_status(self.invoke("target-failover", self.gray_failure(env, role)), "succeeded")
        env.subscriber.drain()
        invocation = self.invoke("target-failover", self.gray_failure(env, "web-3"))
        self.assert_status(invocation, "refused")
        self.assertIn(env.instances["web-3"], D.target_health(env, "web"))
        notes = env.subscriber.drain()
        self.assertEqual([(n.outcome, n.severity) for n in notes], [("refused", "critical")])
        self.assertTrue(notes[0].body.get("next_steps"), notes[0].body)

    def test_an_email_subscriber_reads_text_with_a_command_that_runs_and_the_queue_still_gets_json(self):
        """SNS's per-protocol structure: the e-mail is plain text, outcome and resource first, its next step a
        complete `aws lambda invoke` command whose payload the function answers; the SQS subscriber gets JSON."""
        env = self.env(load_balancer=True)  # MIN_HEALTHY_TARGETS=2
        address = {"account": env.account, "address": "ops@example.com"}
        self.stack.aws.client("sns", env.account).subscribe(
            TopicArn=env.subscriber.topic_arn, Protocol="email", Endpoint=address["address"])
        for role in ("web-1", "web-2"):
            self.assert_status(self.invoke("target-failover", self.gray_failure(env, role)), "succeeded")
        env.subscriber.drain()
        self.stack.aws.control("/_failover/sns/inbox", address)
        self.assert_status(self.invoke("target-failover", self.gray_failure(env, "web-3")), "refused")
        notes = env.subscriber.drain()
        self.assertEqual([(n.outcome, n.body.get("outcome")) for n in notes], [("refused", "refused")])
        mails = self.stack.aws.control("/_failover/sns/inbox", address)["messages"]
        self.assertEqual([m["subject"] for m in mails], [notes[0].subject])
        text = mails[0]["body"]
        with self.assertRaises(ValueError):
            json.loads(text)
        lines = text.splitlines()
        self.assertTrue(lines[0].startswith("REFUSED (critical): "), text)
        self.assertTrue(lines[1].startswith("Resource: arn:aws:elasticloadbalancing:"), text)
        self.assertIn("\nNumbers:\n", text)
        self.assertTrue(all(len(line) <= 76 for line in lines if " " in line.strip() and "--payload" not in line
                            and not line.startswith("Resource:")), text)
        start = next(i for i, line in enumerate(lines) if line.strip().startswith("aws lambda invoke"))
        end = next(i for i in range(start, len(lines)) if lines[i].strip().endswith("/dev/stdout"))
        argv = shlex.split(" ".join(line.strip().removesuffix("\\") for line in lines[start:end + 1]))
        self.assertEqual(argv[:5], ["aws", "lambda", "invoke", "--function-name", "target-failover"])
        self.assertEqual(argv[5:7], ["--cli-binary-format", "raw-in-base64-out"])
        payload = json.loads(argv[argv.index("--payload") + 1])
        answer = self.invoke("target-failover", payload)
        self.assertNotIn(answer.status, ("invalid-event", "failed"), answer.payload)
        self.assertIn(env.instances["web-3"], D.target_health(env, "web"))
        env.subscriber.drain()

    def test_target_failover_shifts_traffic_to_the_backup_group_and_fails_back_when_ok(self):
        env = self.env(load_balancer=True)
        # The demo's listener carries the opt-in tag itself: without it the shift would be refused.
        tags = env.client("elbv2").describe_tags(ResourceArns=[env.listener_arn])["TagDescriptions"][0]["Tags"]
        self.assertIn(D.OPT_IN, tags)
        roles = ["web-1", "web-2", "web-3", "web-4"]
        env.set_health("web", roles, "unhealthy")
        alarm = "web-unhealthy-hosts"
        self.assert_status(self.invoke("target-failover", D.web_alarm(env, alarm, "ALARM")), "succeeded")
        self.assertEqual(D.listener_weights(env), {"web": 0, "web-backup": 100})
        self.assertEqual(len(D.target_health(env, "web")), 4, "nothing is removed from a group that cannot serve")
        shifted = env.subscriber.drain()
        self.assertEqual([n.outcome for n in shifted], ["succeeded"])
        self.assertNotIn("not_opted_in", [k for k, v in shifted[0].body["details"].items() if v])
        # The same alarm again (re-evaluation, duplicate delivery): no second shift, nothing notified as a change.
        again = self.invoke("target-failover", D.web_alarm(env, alarm, "ALARM"))
        self.assertIn(again.status, ("skipped", "info"), again.payload)
        self.assertEqual(D.listener_weights(env), {"web": 0, "web-backup": 100})
        self.assertFalse([n for n in env.subscriber.drain() if n.outcome in ("succeeded", "failed")])

        env.set_health("web", roles, "healthy")
        self.assert_status(self.invoke("target-failover", D.web_alarm(env, alarm, "OK")), "succeeded")
        self.assertEqual(D.listener_weights(env), {"web": 100, "web-backup": 0})
        self.assertEqual([n.outcome for n in env.subscriber.drain()], ["succeeded"])

    # ------------------------------------------------------------------ database-failover

    def failure_event(self, env: D.Env) -> dict:
        return D.rds_instance_event(env.account, "orders-primary", "RDS-EVENT-0031",
                                    "DB instance put into failed state.", {"failover:enabled": "true"})

    def test_database_failover_promotes_the_low_lag_replica_exactly_once(self):
        env = self.env(databases=True)
        env.set_db_status("orders-primary", "failed")
        invocation = self.invoke("database-failover", self.failure_event(env))
        self.assert_status(invocation, "succeeded")
        promoted = D.db_instance(env, "orders-replica-2")
        self.assertNotIn("ReadReplicaSourceDBInstanceIdentifier", promoted)
        self.assertEqual(promoted["BackupRetentionPeriod"], 7)
        self.assertEqual(D.db_instance(env, "orders-replica-1")["ReadReplicaSourceDBInstanceIdentifier"],
                         "orders-primary")
        self.assertEqual(D.cname(env), promoted["Endpoint"]["Address"])
        notes = env.subscriber.drain()
        self.assertEqual([n.outcome for n in notes], ["succeeded"])
        self.assertIn("orders-replica-2", json.dumps(notes[0].body))

        # The same event twice more, then another failure event: nothing else is promoted.
        for event in (self.failure_event(env), self.failure_event(env),
                      D.rds_instance_event(env.account, "orders-primary", "RDS-EVENT-0221", "storage full",
                                           {"failover:enabled": "true"})):
            again = self.invoke("database-failover", event)
            self.assertIn(again.status, ("skipped", "info"), again.payload)
        self.assertEqual(D.db_instance(env, "orders-replica-1")["ReadReplicaSourceDBInstanceIdentifier"],
                         "orders-primary")
        self.assertFalse([n for n in env.subscriber.drain() if n.outcome in ("succeeded", "failed", "refused")])
        self.assert_alive("database-failover")

    def test_database_failover_aurora_alarm_fails_the_cluster_over_to_the_lowest_tier_reader(self):
        env = self.env(databases=True)
        event = D.alarm_action(env.account, "catalog-commit-latency", "ALARM", "AWS/RDS", "CommitLatency",
                               {"DBClusterIdentifier": "catalog-cluster", "Role": "WRITER"}, "hung writer",
                               "Threshold Crossed")
        self.assert_status(self.invoke("database-failover", event), "succeeded")
        self.assertEqual([n for n, (writer, _) in D.cluster_members(env).items() if writer], ["catalog-reader-b"])
        self.assertEqual([n.outcome for n in env.subscriber.drain()], ["succeeded"])
        # A duplicate delivery of the alarm does not bounce the writer.
        again = self.invoke("database-failover", event)
        self.assertIn(again.status, ("skipped", "info"), again.payload)
        self.assertEqual([n for n, (writer, _) in D.cluster_members(env).items() if writer], ["catalog-reader-b"])


class EmfCheck(unittest.TestCase):
    """The EMF check itself fails on documents that break the specification (no binaries needed)."""

    def test_the_emf_check_rejects_documents_that_break_the_specification(self):
        now = int(time.time() * 1000)
        good = {"_aws": {"Timestamp": now, "CloudWatchMetrics": [{"Namespace": "Failover", "Dimensions": [["function"]],
                "Metrics": [{"Name": "Actions", "Unit": "Count"}]}]}, "function": "f", "Actions": 1}
        self.assertEqual(emf_errors(good, now), [])
        broken = [
            (lambda d: d["_aws"].update(Timestamp="now"), "Timestamp"),
            (lambda d: d["_aws"]["CloudWatchMetrics"][0].update(Namespace=" "), "Namespace"),
            (lambda d: d.pop("function"), "dimension 'function'"),
            (lambda d: d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0].update(Unit="Things"), "unit"),
            (lambda d: d.update(Actions="1"), "not a number"),
            (lambda d: d.pop("_aws"), "_aws"),
        ]
        for mutate, fragment in broken:
            doc = json.loads(json.dumps(good))
            mutate(doc)
            with self.subTest(fragment=fragment):
                self.assertTrue(any(fragment in e for e in emf_errors(doc, now)), emf_errors(doc, now))


if __name__ == "__main__":
    unittest.main()
