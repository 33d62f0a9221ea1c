"""Tests for the local AWS (tools/local_aws/): run with `.venv/bin/python -m unittest tools/test_local_aws.py -v`.

The launcher is started through its real command line; each test works in its own account,
selected by a 12-digit access key id, so tests never see each other's resources.
"""

from __future__ import annotations

import copy
import datetime as dt
import http.client
import itertools
import json
import threading
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import boto3
import botocore.session
from botocore.config import Config
from botocore.exceptions import ClientError

LAUNCHER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "local_aws")  # the package, run as a directory
_accounts = itertools.count(100000000001)


def start_launcher(*extra: str) -> tuple[subprocess.Popen, str]:
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        [sys.executable, LAUNCHER, "--port", "0", *extra],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
    )
    proc.log = log
    line = proc.stdout.readline().decode()
    if not line.startswith("READY http://127.0.0.1:"):
        proc.kill()
        log.seek(0)
        raise RuntimeError(f"launcher not ready: {line!r}\n{log.read().decode()}")
    return proc, line.split()[1]


def cbor_session() -> botocore.session.Session:
    """A botocore session whose CloudWatch model lists only ``smithy-rpc-v2-cbor``: its clients send what
    aws-sdk-cloudwatch (Rust) sends (botocore's own CBOR serializer and parser, not the launcher's codec)."""
    session = botocore.session.Session()
    loader = session.get_component("data_loader")
    load = loader.load_service_model

    def cbor_only(service_name, type_name, api_version=None):
        model = load(service_name, type_name, api_version)
        if service_name == "cloudwatch" and type_name == "service-2":
            model = copy.deepcopy(model)
            model["metadata"].update(protocol="smithy-rpc-v2-cbor", protocols=["smithy-rpc-v2-cbor"])
        return model

    loader.load_service_model = cbor_only
    return session


def stop_launcher(proc: subprocess.Popen) -> int:
    proc.stdin.close()
    try:
        return proc.wait(timeout=10)
    finally:
        proc.stdout.close()
        proc.log.close()


class LauncherCase(unittest.TestCase):
    """One launcher per class, one account per test, and helpers for clients and control calls (no tests)."""

    @classmethod
    def setUpClass(cls):
        cls.proc, cls.url = start_launcher()

    @classmethod
    def tearDownClass(cls):
        stop_launcher(cls.proc)

    def setUp(self):
        self.account = str(next(_accounts))

    def client(self, service: str, region: str = "us-east-1", account: str | None = None, validate: bool = True):
        return boto3.client(
            service, endpoint_url=self.url, region_name=region,
            aws_access_key_id=account or self.account, aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 1}, parameter_validation=validate),
        )

    def control(self, method: str, path: str, body=None, raw: bytes | None = None) -> tuple[int, dict]:
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def ok(self, method: str, path: str, body=None) -> dict:
        status, result = self.control(method, path, body)
        self.assertEqual(status, 200, result)
        return result

    def assert_error(self, code: str, fn, *args, **kwargs):
        with self.assertRaises(ClientError) as ctx:
            fn(*args, **kwargs)
        self.assertEqual(ctx.exception.response["Error"]["Code"], code)


class LocalAwsTest(LauncherCase):
    # ------------------------------------------------------------------ launcher & accounts

    def test_access_key_selects_account(self):
        arn = self.client("sns").create_topic(Name="t")["TopicArn"]
        self.assertEqual(arn.split(":")[4], self.account)
        other = self.client("sns", account="AKIDNOTANACCOUNT")  # not 12 digits: default account
        self.assertEqual(other.create_topic(Name="t")["TopicArn"].split(":")[4], "123456789012")
        mine = [t["TopicArn"] for t in self.client("sns").list_topics()["Topics"]]
        self.assertEqual(mine, [arn])

    def test_calls_do_not_stall(self):
        """A latency guard (TCP_NODELAY itself is not observable from the client side)."""
        host, port = self.url.rsplit("/", 1)[1].split(":")
        timings = []
        for _ in range(15):
            start = time.perf_counter()
            conn = http.client.HTTPConnection(host, int(port), timeout=5)
            conn.request("GET", f"/_failover/ec2/network?account={self.account}")
            self.assertEqual(conn.getresponse().read()[:1], b"{")
            conn.close()
            timings.append(time.perf_counter() - start)
        self.assertLess(sorted(timings)[len(timings) // 2], 0.02, timings)  # Nagle stall is ~40 ms

    def test_calls_are_counted_per_account_and_action(self):
        elb, sns, r53 = self.client("elbv2"), self.client("sns"), self.client("route53")
        elb.describe_target_groups()
        elb.describe_target_groups()
        sns.create_topic(Name="t")
        zone = r53.create_hosted_zone(Name="z.internal", CallerReference=self.account)["HostedZone"]["Id"]
        r53.list_resource_record_sets(HostedZoneId=zone)
        calls = {(c["service"], c["action"]): c for c in
                 self.ok("GET", f"/_failover/calls?account={self.account}")["calls"]}
        self.assertEqual(calls[("elasticloadbalancing", "DescribeTargetGroups")]["count"], 2)
        self.assertEqual(calls[("sns", "CreateTopic")]["count"], 1)
        self.assertEqual(calls[("route53", "GET /2013-04-01/hostedzone/{id}/rrset")]["count"], 1)
        self.assertGreater(calls[("sns", "CreateTopic")]["seconds"], 0)
        self.assertEqual(len(calls), 4, calls)  # control calls are not counted
        self.assertEqual(calls[("sns", "CreateTopic")]["apps"], [])  # boto3 here sends no app name
        self.ok("POST", "/_failover/calls/reset", {"account": self.account})
        self.assertEqual(self.ok("GET", f"/_failover/calls?account={self.account}")["calls"], [])

    def test_calls_say_in_which_order_they_were_answered(self):
        elb, sns = self.client("elbv2"), self.client("sns")
        sns.create_topic(Name="first")
        elb.describe_target_groups()
        sns.create_topic(Name="again")
        calls = {c["action"]: c for c in self.ok("GET", f"/_failover/calls?account={self.account}")["calls"]}
        self.assertEqual((calls["CreateTopic"]["first"], calls["CreateTopic"]["last"]), (1, 3))
        self.assertEqual((calls["DescribeTargetGroups"]["first"], calls["DescribeTargetGroups"]["last"]), (2, 2))
        self.ok("POST", "/_failover/calls/reset", {"account": self.account})
        sns.create_topic(Name="after-reset")
        calls = self.ok("GET", f"/_failover/calls?account={self.account}")["calls"]
        self.assertEqual([(c["first"], c["last"]) for c in calls], [(1, 1)])

    def test_calls_keep_the_sdk_app_name_of_the_user_agent(self):
        sns = self.client("sns")
        sns.meta.events.register("before-sign.sns.*", lambda request, **_: request.headers.__setitem__(
            "User-Agent", "aws-sdk-rust/1.3 os/linux lang/rust/1.94 app/failover_target-failover_0.1.0"))
        sns.create_topic(Name="with-app")
        calls = {(c["service"], c["action"]): c for c in
                 self.ok("GET", f"/_failover/calls?account={self.account}")["calls"]}
        self.assertEqual(calls[("sns", "CreateTopic")]["apps"], ["failover_target-failover_0.1.0"])
        # Only in x-amz-user-agent (the Rust SDK sends both headers), and a User-Agent without an app name.
        elb = self.client("elbv2")
        elb.meta.events.register("before-sign", lambda request, **_: (
            request.headers.__setitem__("X-Amz-User-Agent", "aws-sdk-rust/1.3 app/failover_database-failover_0.1.0"),
            request.headers.__setitem__("User-Agent", "aws-sdk-rust/1.3 os/linux")))
        elb.describe_target_groups()
        calls = {(c["service"], c["action"]): c for c in
                 self.ok("GET", f"/_failover/calls?account={self.account}")["calls"]}
        self.assertEqual(calls[("elasticloadbalancing", "DescribeTargetGroups")]["apps"],
                         ["failover_database-failover_0.1.0"])

    def test_exits_on_stdin_eof_and_sigterm(self):
        proc, _ = start_launcher()
        start = time.monotonic()
        self.assertEqual(stop_launcher(proc), 0)
        self.assertLess(time.monotonic() - start, 5)
        proc, _ = start_launcher("--no-stdin-watch")
        proc.stdin.close()
        time.sleep(0.3)
        self.assertIsNone(proc.poll(), "must ignore stdin EOF with --no-stdin-watch")
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(timeout=10), 0)
        proc.stdout.close()
        proc.log.close()

    def test_control_errors_are_json_400(self):
        for method, path, body, raw in [
            ("POST", "/_failover/nope", {}, None),
            ("GET", "/_failover/elbv2/target-health", None, None),
            ("POST", "/_failover/rds/instance-status", None, b"{not json"),
            ("POST", "/_failover/rds/instance-status", [1], None),
            ("POST", "/_failover/rds/instance-status", {"db_instance_identifier": "x"}, None),
            ("POST", "/_failover/rds/instance-status", {"db_instance_identifier": "x", "status": "failed"}, None),
            ("POST", "/_failover/ec2/instances", {"count": "two"}, None),
            ("POST", "/_failover/ec2/instances", {"account": "12", "count": 1}, None),
            ("POST", "/_failover/ec2/instances/terminate", {"instance_ids": []}, None),
            ("POST", "/_failover/ec2/instances/terminate", {"instance_ids": ["i-00000000000000000"]}, None),
            ("POST", "/_failover/elbv2/target-health", {"target_group_arn": "arn:nope", "targets": []}, None),
        ]:
            status, result = self.control(method, path, body, raw)
            self.assertEqual(status, 400, (path, result))
            self.assertIn("error", result)

    # ------------------------------------------------------------------ ELBv2

    def make_alb(self):
        """A load balancer in the default VPC with an instance and an ip target group."""
        elb = self.client("elbv2")
        net = self.ok("GET", f"/_failover/ec2/network?account={self.account}&region=us-east-1")
        self.assertGreaterEqual(len(net["subnet_ids"]), 2)
        lb = elb.create_load_balancer(Name="lb", Subnets=net["subnet_ids"][:2])["LoadBalancers"][0]
        tgs = [
            elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=net["vpc_id"],
                                    TargetType=kind)["TargetGroups"][0]["TargetGroupArn"]
            for name, kind in (("blue", "instance"), ("green", "ip"))
        ]
        return elb, lb["LoadBalancerArn"], tgs

    def health(self, elb, tg, **kw):
        return {(d["Target"]["Id"], d["Target"]["Port"]): d["TargetHealth"]
                for d in elb.describe_target_health(TargetGroupArn=tg, **kw)["TargetHealthDescriptions"]}

    def test_a_network_listener_forwards_to_one_group_and_groups_follow_the_listener(self):
        elb = self.client("elbv2")
        net = self.ok("GET", f"/_failover/ec2/network?account={self.account}&region=us-east-1")
        lb = elb.create_load_balancer(Name="nlb", Subnets=net["subnet_ids"][:2], Type="network")
        lb = lb["LoadBalancers"][0]["LoadBalancerArn"]
        a, b = (elb.create_target_group(Name=n, Protocol="TCP", Port=80, VpcId=net["vpc_id"])["TargetGroups"][0]
                ["TargetGroupArn"] for n in ("nlb-a", "nlb-b"))
        listener = elb.create_listener(LoadBalancerArn=lb, Protocol="TCP", Port=80,
                                       DefaultActions=[{"Type": "forward", "TargetGroupArn": a}])
        listener = listener["Listeners"][0]["ListenerArn"]
        weighted = {"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": a, "Weight": 0}, {"TargetGroupArn": b, "Weight": 1}]}}
        with self.assertRaises(elb.exceptions.ClientError) as refused:
            elb.modify_listener(ListenerArn=listener, DefaultActions=[weighted])
        self.assertEqual(refused.exception.response["Error"]["Code"], "ValidationError")
        elb.modify_listener(ListenerArn=listener, DefaultActions=[{"Type": "forward", "TargetGroupArn": b}])
        groups = {g["TargetGroupArn"]: g["LoadBalancerArns"]
                  for g in elb.describe_target_groups(TargetGroupArns=[a, b])["TargetGroups"]}
        self.assertEqual(groups, {a: [], b: [lb]})

    def test_a_load_balancers_arn_names_its_type_and_its_tags_follow(self):
        elb = self.client("elbv2")
        net = self.ok("GET", f"/_failover/ec2/network?account={self.account}&region=us-east-1")
        tags = [{"Key": "team", "Value": "web"}]
        nlb = elb.create_load_balancer(Name="typed-nlb", Subnets=net["subnet_ids"][:2], Type="network", Tags=tags)
        nlb = nlb["LoadBalancers"][0]["LoadBalancerArn"]
        alb = elb.create_load_balancer(Name="typed-alb", Subnets=net["subnet_ids"][:2])["LoadBalancers"][0]
        self.assertIn(":loadbalancer/net/typed-nlb/", nlb)
        self.assertIn(":loadbalancer/app/typed-alb/", alb["LoadBalancerArn"])
        described = elb.describe_load_balancers(LoadBalancerArns=[nlb])["LoadBalancers"][0]
        self.assertEqual((described["LoadBalancerArn"], described["Type"]), (nlb, "network"))
        self.assertEqual(elb.describe_tags(ResourceArns=[nlb])["TagDescriptions"][0]["Tags"], tags)
        attributes = elb.describe_load_balancer_attributes(LoadBalancerArn=nlb)["Attributes"]
        self.assertIn({"Key": "load_balancing.cross_zone.enabled", "Value": "false"}, attributes)

    def test_target_group_health_thresholds_round_trip(self):
        elb, _, (blue, _) = self.make_alb()
        key = "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count"
        elb.modify_target_group_attributes(TargetGroupArn=blue, Attributes=[{"Key": key, "Value": "4"}])
        attributes = elb.describe_target_group_attributes(TargetGroupArn=blue)["Attributes"]
        self.assertIn({"Key": key, "Value": "4"}, attributes)

    def test_a_terminated_instance_cannot_be_registered_again(self):
        elb, _, (blue, _) = self.make_alb()
        ids = self.ok("POST", "/_failover/ec2/instances", {"account": self.account, "count": 2})["instance_ids"]
        self.ok("POST", "/_failover/ec2/instances/terminate", {"account": self.account, "instance_ids": [ids[0]]})
        with self.assertRaises(elb.exceptions.ClientError) as refused:
            elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": ids[0], "Port": 80}])
        self.assertEqual(refused.exception.response["Error"]["Code"], "InvalidTarget")
        elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": ids[1], "Port": 80}])

    def test_target_health_overrides(self):
        elb, _, (blue, green) = self.make_alb()
        ids = self.ok("POST", "/_failover/ec2/instances", {"account": self.account, "count": 3})["instance_ids"]
        self.assertEqual(len(ids), 3)
        elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": i, "Port": 8080} for i in ids])
        elb.register_targets(TargetGroupArn=green, Targets=[{"Id": "10.0.0.1"}, {"Id": "10.0.0.2", "Port": 81}])
        self.assertEqual({h["State"] for h in self.health(elb, blue).values()}, {"healthy"})

        self.ok("POST", "/_failover/elbv2/target-health", {
            "account": self.account, "target_group_arn": blue, "targets": [
                {"id": ids[0], "port": 8080, "state": "unhealthy"},
                {"id": ids[1], "state": "unhealthy", "reason": "Target.Timeout", "description": "Request timed out"},
            ]})
        health = self.health(elb, blue)
        self.assertEqual(health[(ids[0], 8080)], {"State": "unhealthy", "Reason": "Target.FailedHealthChecks",
                                                  "Description": "Health checks failed"})
        self.assertEqual(health[(ids[1], 8080)]["Reason"], "Target.Timeout")
        self.assertEqual(health[(ids[2], 8080)], {"State": "healthy"})
        filtered = self.health(elb, blue, Targets=[{"Id": ids[1], "Port": 8080}])
        self.assertEqual(list(filtered), [(ids[1], 8080)])
        self.assertEqual(filtered[(ids[1], 8080)]["State"], "unhealthy")

        # ip targets, wrong port and unregistered targets
        self.ok("POST", "/_failover/elbv2/target-health", {
            "account": self.account, "target_group_arn": green,
            "targets": [{"id": "10.0.0.2", "state": "draining"}]})
        self.assertEqual(self.health(elb, green)[("10.0.0.2", 81)]["Reason"], "Target.DeregistrationInProgress")
        for bad in ({"id": "10.0.0.2", "port": 80, "state": "unhealthy"}, {"id": "10.9.9.9", "state": "unhealthy"},
                    {"id": "10.0.0.1", "state": "sick"}):
            status, _ = self.control("POST", "/_failover/elbv2/target-health", {
                "account": self.account, "target_group_arn": green, "targets": [bad]})
            self.assertEqual(status, 400, bad)

        # healthy clears; deregistration drops the override
        self.ok("POST", "/_failover/elbv2/target-health", {
            "account": self.account, "target_group_arn": blue, "targets": [{"id": ids[1], "state": "healthy"}]})
        self.assertEqual(self.health(elb, blue)[(ids[1], 8080)], {"State": "healthy"})
        elb.deregister_targets(TargetGroupArn=blue, Targets=[{"Id": ids[0], "Port": 8080}])
        self.assertNotIn((ids[0], 8080), self.health(elb, blue))
        elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": ids[0], "Port": 8080}])
        self.assertEqual(self.health(elb, blue)[(ids[0], 8080)], {"State": "healthy"})

        # a sticky override is the instance's own state: it fails again once registered again, until cleared
        self.ok("POST", "/_failover/elbv2/target-health", {
            "account": self.account, "target_group_arn": blue,
            "targets": [{"id": ids[2], "state": "unhealthy", "sticky": True}]})
        elb.deregister_targets(TargetGroupArn=blue, Targets=[{"Id": ids[2], "Port": 8080}])
        self.assertNotIn((ids[2], 8080), self.health(elb, blue))
        elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": ids[2], "Port": 8080}])
        self.assertEqual(self.health(elb, blue)[(ids[2], 8080)]["State"], "unhealthy")
        self.ok("POST", "/_failover/elbv2/target-health", {
            "account": self.account, "target_group_arn": blue, "targets": [{"id": ids[2], "state": "healthy"}]})
        elb.deregister_targets(TargetGroupArn=blue, Targets=[{"Id": ids[2], "Port": 8080}])
        elb.register_targets(TargetGroupArn=blue, Targets=[{"Id": ids[2], "Port": 8080}])
        self.assertEqual(self.health(elb, blue)[(ids[2], 8080)], {"State": "healthy"})
        status, _ = self.control("POST", "/_failover/elbv2/target-health", {
            "account": self.account, "target_group_arn": blue,
            "targets": [{"id": ids[2], "state": "unhealthy", "sticky": "yes"}]})
        self.assertEqual(status, 400)

        # a different account sees nothing of this
        other = self.client("elbv2", account=str(next(_accounts)))
        self.assert_error("TargetGroupNotFound", other.describe_target_health, TargetGroupArn=blue)

    def test_deregister_is_idempotent(self):
        elb, _, (_, green) = self.make_alb()
        elb.register_targets(TargetGroupArn=green, Targets=[{"Id": "10.0.0.1", "Port": 80}])
        elb.deregister_targets(TargetGroupArn=green, Targets=[{"Id": "10.0.0.9"}])  # never registered
        elb.deregister_targets(TargetGroupArn=green, Targets=[{"Id": "10.0.0.1", "Port": 81}])  # other port
        self.assertIn(("10.0.0.1", 80), self.health(elb, green))
        for _ in range(2):
            elb.deregister_targets(TargetGroupArn=green, Targets=[{"Id": "10.0.0.1", "Port": 80}])
        self.assertEqual(self.health(elb, green), {})
        self.assert_error("TargetGroupNotFound", elb.deregister_targets,
                          TargetGroupArn=green.replace("green", "gone"), Targets=[{"Id": "10.0.0.1"}])

    def test_listeners_rules_and_tags(self):
        elb, lb, (blue, green) = self.make_alb()
        net = self.ok("GET", f"/_failover/ec2/network?account={self.account}")
        more = [elb.create_target_group(Name=f"tg{i}", Protocol="HTTP", Port=80, VpcId=net["vpc_id"])
                ["TargetGroups"][0]["TargetGroupArn"] for i in range(18)]
        arns = [lb, blue, green, *more][:20]
        elb.add_tags(ResourceArns=arns, Tags=[{"Key": "failover:role", "Value": "primary"}])
        described = elb.describe_tags(ResourceArns=arns)["TagDescriptions"]
        self.assertEqual([d["ResourceArn"] for d in described], arns)
        self.assertTrue(all(d["Tags"] == [{"Key": "failover:role", "Value": "primary"}] for d in described))

        def forward(b, g):
            return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
                {"TargetGroupArn": blue, "Weight": b}, {"TargetGroupArn": green, "Weight": g}]}}]

        def weights(actions):
            return {t["TargetGroupArn"]: t["Weight"] for t in actions[0]["ForwardConfig"]["TargetGroups"]}

        listener = elb.create_listener(LoadBalancerArn=lb, Protocol="HTTP", Port=80,
                                       DefaultActions=forward(100, 0))["Listeners"][0]["ListenerArn"]
        elb.modify_listener(ListenerArn=listener, DefaultActions=forward(0, 100))
        actions = elb.describe_listeners(ListenerArns=[listener])["Listeners"][0]["DefaultActions"]
        self.assertEqual(weights(actions), {blue: 0, green: 100})
        self.assertEqual(elb.describe_listeners(LoadBalancerArn=lb)["Listeners"][0]["ListenerArn"], listener)

        rule = elb.create_rule(ListenerArn=listener, Priority=10, Actions=forward(100, 0),
                               Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}])["Rules"][0]["RuleArn"]
        elb.modify_rule(RuleArn=rule, Actions=forward(20, 80))
        rules = {r["RuleArn"]: r for r in elb.describe_rules(ListenerArn=listener)["Rules"]}
        self.assertEqual(weights(rules[rule]["Actions"]), {blue: 20, green: 80})
        self.assertTrue(any(r["IsDefault"] for r in rules.values()))

        by_lb = elb.describe_target_groups(LoadBalancerArn=lb)["TargetGroups"]
        self.assertEqual({t["TargetGroupArn"] for t in by_lb}, {blue, green})
        self.assertEqual(set(by_lb[0]["LoadBalancerArns"]), {lb})
        by_arn = elb.describe_target_groups(TargetGroupArns=[green, blue])["TargetGroups"]
        self.assertEqual({t["TargetGroupArn"] for t in by_arn}, {blue, green})
        self.assertEqual({t["TargetType"] for t in by_arn}, {"instance", "ip"})

    # ------------------------------------------------------------------ RDS

    def describe(self, rds, db_id):
        return rds.describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]

    def test_a_replica_without_security_groups_is_in_the_vpcs_default_group(self):
        rds = self.client("rds")
        rds.create_db_instance(DBInstanceIdentifier="src", Engine="mysql", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password1",
                               BackupRetentionPeriod=7, VpcSecurityGroupIds=["sg-app"])
        rds.create_db_instance_read_replica(DBInstanceIdentifier="src-r1", SourceDBInstanceIdentifier="src")
        rds.create_db_instance_read_replica(DBInstanceIdentifier="src-r2", SourceDBInstanceIdentifier="src",
                                            VpcSecurityGroupIds=["sg-app"])
        groups = lambda db_id: [g["VpcSecurityGroupId"] for g in self.describe(rds, db_id)["VpcSecurityGroups"]]
        self.assertEqual(groups("src"), ["sg-app"])
        self.assertEqual(len(groups("src-r1")), 1)
        self.assertNotEqual(groups("src-r1"), ["sg-app"], "not the source's groups")
        self.assertEqual(groups("src-r2"), ["sg-app"])
        # A source that is not available (its backup running) is refused, as RDS does.
        self.ok("POST", "/_failover/rds/instance-status",
                {"account": self.account, "db_instance_identifier": "src", "status": "backing-up"})
        with self.assertRaises(ClientError) as refused:
            rds.create_db_instance_read_replica(DBInstanceIdentifier="src-r3", SourceDBInstanceIdentifier="src")
        self.assertEqual(refused.exception.response["Error"]["Code"], "InvalidDBInstanceState")

    def test_read_replicas_and_promotion(self):
        rds, west = self.client("rds"), self.client("rds", "us-west-2")
        primary = rds.create_db_instance(
            DBInstanceIdentifier="db", Engine="mysql", DBInstanceClass="db.t3.micro", AllocatedStorage=20,
            MasterUsername="admin", MasterUserPassword="password1", BackupRetentionPeriod=7,
            Tags=[{"Key": "failover:group", "Value": "orders"}])["DBInstance"]
        self.assertEqual(primary["DBInstanceArn"], f"arn:aws:rds:us-east-1:{self.account}:db:db")
        rds.create_db_instance_read_replica(DBInstanceIdentifier="db-r1", SourceDBInstanceIdentifier="db",
                                            Tags=[{"Key": "failover:role", "Value": "replica"}])
        west.create_db_instance_read_replica(DBInstanceIdentifier="db-west",
                                             SourceDBInstanceIdentifier=primary["DBInstanceArn"])
        source = self.describe(rds, "db")
        replica_west_arn = f"arn:aws:rds:us-west-2:{self.account}:db:db-west"
        self.assertEqual(source["ReadReplicaDBInstanceIdentifiers"], ["db-r1", replica_west_arn])
        self.assertEqual(source["Endpoint"]["Port"], 3306)
        replica = self.describe(rds, "db-r1")
        self.assertEqual(replica["ReadReplicaSourceDBInstanceIdentifier"], "db")
        self.assertEqual(replica["BackupRetentionPeriod"], 0)  # replicas start with backups disabled
        self.assertIn("db-r1", replica["Endpoint"]["Address"])
        self.assertEqual(replica["TagList"], [{"Key": "failover:role", "Value": "replica"}])
        # An identifier in use is refused, as RDS does; the source still lists the replica once.
        with self.assertRaises(ClientError) as refused:
            rds.create_db_instance_read_replica(DBInstanceIdentifier="db-r1", SourceDBInstanceIdentifier="db")
        self.assertEqual(refused.exception.response["Error"]["Code"], "DBInstanceAlreadyExists")
        self.assertEqual(self.describe(west, "db-west")["ReadReplicaSourceDBInstanceIdentifier"],
                         primary["DBInstanceArn"])
        # All of a region's replicas in one call: a db-instance-id filter; missing ones (and other regions')
        # are left out, not an error.
        def by_id(client, ids):
            found = client.describe_db_instances(Filters=[{"Name": "db-instance-id", "Values": ids}])
            return sorted(d["DBInstanceIdentifier"] for d in found["DBInstances"])
        self.assertEqual(by_id(rds, ["db-r1", "db", "gone", "db-west"]), ["db", "db-r1"])
        self.assertEqual(by_id(west, ["db-west", "db-r1"]), ["db-west"])
        self.assertEqual(by_id(rds, ["gone"]), [])
        rds.add_tags_to_resource(ResourceName=replica["DBInstanceArn"], Tags=[{"Key": "k", "Value": "v"}])
        self.assertIn({"Key": "k", "Value": "v"},
                      rds.list_tags_for_resource(ResourceName=replica["DBInstanceArn"])["TagList"])
        self.assertEqual(self.describe(rds, "db")["TagList"], [{"Key": "failover:group", "Value": "orders"}])

        self.assert_error("InvalidDBInstanceState", rds.promote_read_replica, DBInstanceIdentifier="db")
        self.assert_error("DBInstanceNotFound", rds.promote_read_replica, DBInstanceIdentifier="nope")
        self.ok("POST", "/_failover/rds/instance-status",
                {"account": self.account, "db_instance_identifier": "db-r1", "status": "backing-up"})
        self.assert_error("InvalidDBInstanceState", rds.promote_read_replica, DBInstanceIdentifier="db-r1")
        self.ok("POST", "/_failover/rds/instance-status",
                {"account": self.account, "db_instance_identifier": "db-r1", "status": "available"})

        promoted = rds.promote_read_replica(DBInstanceIdentifier="db-r1", BackupRetentionPeriod=5,
                                            PreferredBackupWindow="03:00-03:30")["DBInstance"]
        for view in (promoted, self.describe(rds, "db-r1")):
            self.assertNotIn("ReadReplicaSourceDBInstanceIdentifier", view)
            self.assertEqual(view["BackupRetentionPeriod"], 5)
            self.assertEqual(view["PreferredBackupWindow"], "03:00-03:30")
            self.assertEqual(view["DBInstanceStatus"], "available")
        self.assertEqual(self.describe(rds, "db")["ReadReplicaDBInstanceIdentifiers"], [replica_west_arn])
        self.assert_error("InvalidDBInstanceState", rds.promote_read_replica, DBInstanceIdentifier="db-r1")

        west.promote_read_replica(DBInstanceIdentifier="db-west")
        self.assertEqual(self.describe(west, "db-west")["BackupRetentionPeriod"], 1)  # AWS default
        self.assertNotIn("ReadReplicaSourceDBInstanceIdentifier", self.describe(west, "db-west"))
        self.assertEqual(self.describe(rds, "db").get("ReadReplicaDBInstanceIdentifiers", []), [])

    def test_rds_proxy_targets_answer_awss_documented_faults_and_hold_one_instance(self):
        rds, ec2 = self.client("rds"), self.client("ec2")
        vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
        subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.9.{i}.0/24", AvailabilityZone=f"us-east-1{z}")
                   ["Subnet"]["SubnetId"] for i, z in ((1, "a"), (2, "b"))]
        for db_id in ("orders", "orders-r1"):
            rds.create_db_instance(DBInstanceIdentifier=db_id, Engine="postgres", DBInstanceClass="db.t3.micro",
                                   AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password1")
        rds.create_db_proxy(DBProxyName="orders-proxy", EngineFamily="POSTGRESQL", RoleArn="arn:aws:iam::1:role/p",
                            Auth=[{"SecretArn": "arn:aws:secretsmanager:us-east-1:1:secret:s"}],
                            VpcSubnetIds=subnets)
        proxy = dict(DBProxyName="orders-proxy", TargetGroupName="default")
        # Unknown proxy, unknown target group, unknown instance: documented faults, not HTTP 500.
        self.assert_error("DBProxyNotFoundFault", rds.describe_db_proxy_targets, DBProxyName="nope")
        self.assert_error("DBProxyNotFoundFault", rds.register_db_proxy_targets, DBProxyName="nope",
                          DBInstanceIdentifiers=["orders"])
        self.assert_error("DBProxyTargetGroupNotFoundFault", rds.describe_db_proxy_targets,
                          DBProxyName="orders-proxy", TargetGroupName="writers")
        self.assert_error("DBProxyTargetGroupNotFoundFault", rds.deregister_db_proxy_targets,
                          DBProxyName="orders-proxy", TargetGroupName="writers", DBInstanceIdentifiers=["orders"])
        self.assert_error("DBInstanceNotFound", rds.register_db_proxy_targets, DBInstanceIdentifiers=["ghost"],
                          **proxy)
        registered = rds.register_db_proxy_targets(DBInstanceIdentifiers=["orders"], **proxy)["DBProxyTargets"]
        self.assertEqual([(t["RdsResourceId"], t["Type"], t["TargetArn"]) for t in registered],
                         [("orders", "RDS_INSTANCE", f"arn:aws:rds:us-east-1:{self.account}:db:orders")])
        self.assertIn("orders", registered[0]["Endpoint"])
        # The same instance again, or a second one: the group already holds its one database.
        self.assert_error("DBProxyTargetAlreadyRegisteredFault", rds.register_db_proxy_targets,
                          DBInstanceIdentifiers=["orders"], **proxy)
        self.assert_error("DBProxyTargetAlreadyRegisteredFault", rds.register_db_proxy_targets,
                          DBInstanceIdentifiers=["orders-r1"], **proxy)
        targets = rds.describe_db_proxy_targets(**proxy)["Targets"]
        self.assertEqual([t["RdsResourceId"] for t in targets], ["orders"])
        self.assertIn(targets[0]["TargetHealth"]["State"], ("REGISTERING", "AVAILABLE"))
        # Deregistering one that is not a target changes nothing and says so.
        self.assert_error("DBProxyTargetNotFoundFault", rds.deregister_db_proxy_targets,
                          DBInstanceIdentifiers=["orders-r1"], **proxy)
        self.assertEqual(len(rds.describe_db_proxy_targets(**proxy)["Targets"]), 1)
        rds.deregister_db_proxy_targets(DBInstanceIdentifiers=["orders"], **proxy)
        self.assertEqual(rds.describe_db_proxy_targets(**proxy)["Targets"], [])
        rds.register_db_proxy_targets(DBInstanceIdentifiers=["orders-r1"], **proxy)
        targets = rds.describe_db_proxy_targets(DBProxyName="orders-proxy")["Targets"]
        self.assertEqual([t["RdsResourceId"] for t in targets], ["orders-r1"])

    def test_describe_events_answers_recorded_events_of_the_window_and_categories_only(self):
        rds = self.client("rds")
        rds.create_db_instance(DBInstanceIdentifier="db", Engine="mysql", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password1",
                               MultiAZ=True)
        now = time.time()
        started = "A Multi-AZ failover that resulted in the promotion of a standby instance has started."
        for message, ago in [(started, 120), ("A Multi-AZ failover has completed.", 3 * 3600)]:
            self.ok("POST", "/_failover/rds/event", {"account": self.account, "db_instance_identifier": "db",
                                                      "message": message, "categories": ["failover"],
                                                      "date": now - ago})
        def failovers(**window):
            found = rds.describe_events(SourceType="db-instance", SourceIdentifier="db",
                                        EventCategories=["failover"], **window)["Events"]
            return [(e["Message"], e["SourceType"], e["EventCategories"]) for e in found]
        since = dt.datetime.fromtimestamp(now - 600, dt.timezone.utc)
        self.assertEqual(failovers(StartTime=since), [(started, "db-instance", ["failover"])])
        self.assertEqual(failovers(), [(started, "db-instance", ["failover"])], "the past hour by default")
        self.assertEqual(len(failovers(StartTime=dt.datetime.fromtimestamp(now - 4 * 3600, dt.timezone.utc))), 2)
        self.assertEqual(failovers(StartTime=since, EndTime=dt.datetime.fromtimestamp(now - 300, dt.timezone.utc)),
                         [])
        everything = rds.describe_events(SourceType="db-instance", SourceIdentifier="db")["Events"]
        self.assertIn("DB instance created", [e["Message"] for e in everything], "moto's own events stay")
        self.assertTrue(all("EventId" not in e and "SourceArn" in e for e in everything))
        for body in [{"db_instance_identifier": "nope", "message": "m"}, {"db_instance_identifier": "db"},
                     {"db_instance_identifier": "db", "message": "m", "categories": "failover"},
                     {"db_instance_identifier": "db", "message": "m", "date": "yesterday"}]:
            status, result = self.control("POST", "/_failover/rds/event", {"account": self.account, **body})
            self.assertEqual(status, 400, (body, result))

    def test_each_instance_has_its_own_resource_id_kept_through_a_rename(self):
        rds = self.client("rds")
        def create(db_id):
            return rds.create_db_instance(
                DBInstanceIdentifier=db_id, Engine="mysql", DBInstanceClass="db.t3.micro", AllocatedStorage=20,
                MasterUsername="admin", MasterUserPassword="password1")["DBInstance"]["DbiResourceId"]
        first = create("db")
        rds.create_db_instance_read_replica(DBInstanceIdentifier="db-r1", SourceDBInstanceIdentifier="db")
        replica = self.describe(rds, "db-r1")["DbiResourceId"]
        self.assertRegex(first, r"^db-[A-Z0-9]{26}$")
        self.assertNotEqual(first, replica)
        self.assertEqual(self.describe(rds, "db")["DbiResourceId"], first)
        rds.modify_db_instance(DBInstanceIdentifier="db", NewDBInstanceIdentifier="db-old", ApplyImmediately=True)
        self.assertEqual(self.describe(rds, "db-old")["DbiResourceId"], first)  # a rename keeps it
        second = create("db-new")  # then renamed to the old name: another instance, another id
        rds.modify_db_instance(DBInstanceIdentifier="db-new", NewDBInstanceIdentifier="db", ApplyImmediately=True)
        self.assertNotIn(second, (first, replica))
        self.assertEqual(self.describe(rds, "db")["DbiResourceId"], second)

    def test_a_held_promotion_stays_under_way_until_it_is_finished_promoted_or_failed(self):
        rds = self.client("rds")
        rds.create_db_instance(DBInstanceIdentifier="db", Engine="mysql", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password1")
        for replica in ("db-r1", "db-r2"):
            rds.create_db_instance_read_replica(DBInstanceIdentifier=replica, SourceDBInstanceIdentifier="db")
        where = {"account": self.account, "region": "us-east-1"}
        status, _ = self.control("POST", "/_failover/rds/promotion-finish",
                                 {**where, "db_instance_identifier": "db-r1", "outcome": "promoted"})
        self.assertEqual(status, 400)  # nothing under way
        for replica in ("db-r1", "db-r2"):
            self.ok("POST", "/_failover/rds/promotion-hold", {**where, "db_instance_identifier": replica})
            answer = rds.promote_read_replica(DBInstanceIdentifier=replica, BackupRetentionPeriod=3)["DBInstance"]
            for view in (answer, self.describe(rds, replica)):  # under way: modifying, still a replica
                self.assertEqual(view["DBInstanceStatus"], "modifying")
                self.assertEqual(view["ReadReplicaSourceDBInstanceIdentifier"], "db")
            self.assert_error("InvalidDBInstanceState", rds.promote_read_replica, DBInstanceIdentifier=replica)
        self.assertEqual(self.describe(rds, "db")["ReadReplicaDBInstanceIdentifiers"], ["db-r1", "db-r2"])

        self.ok("POST", "/_failover/rds/promotion-finish",
                {**where, "db_instance_identifier": "db-r1", "outcome": "promoted"})
        promoted = self.describe(rds, "db-r1")
        self.assertEqual((promoted["DBInstanceStatus"], promoted["BackupRetentionPeriod"]), ("available", 3))
        self.assertNotIn("ReadReplicaSourceDBInstanceIdentifier", promoted)
        self.ok("POST", "/_failover/rds/promotion-finish",
                {**where, "db_instance_identifier": "db-r2", "outcome": "failed"})
        failed = self.describe(rds, "db-r2")
        self.assertEqual(failed["DBInstanceStatus"], "available")
        self.assertEqual(failed["ReadReplicaSourceDBInstanceIdentifier"], "db")
        self.assertEqual(self.describe(rds, "db")["ReadReplicaDBInstanceIdentifiers"], ["db-r2"])
        # Not held any more: the next promotion completes at once.
        rds.promote_read_replica(DBInstanceIdentifier="db-r2")
        self.assertNotIn("ReadReplicaSourceDBInstanceIdentifier", self.describe(rds, "db-r2"))

    def test_modify_db_instance_replaces_security_groups_in_order_and_refuses_an_instance_it_cannot_modify(self):
        rds = self.client("rds")
        rds.create_db_instance(DBInstanceIdentifier="db", Engine="mysql", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password1",
                               VpcSecurityGroupIds=["sg-b", "sg-a"])
        groups = lambda view: [g["VpcSecurityGroupId"] for g in view["VpcSecurityGroups"]]
        self.assertEqual(groups(self.describe(rds, "db")), ["sg-b", "sg-a"])
        for status in ("failed", "storage-full", "stopped"):
            self.ok("POST", "/_failover/rds/instance-status",
                    {"account": self.account, "db_instance_identifier": "db", "status": status})
            self.assert_error("InvalidDBInstanceState", rds.modify_db_instance, DBInstanceIdentifier="db",
                              VpcSecurityGroupIds=["sg-fence"], ApplyImmediately=True)
            self.assertEqual(groups(self.describe(rds, "db")), ["sg-b", "sg-a"], "nothing changed")
        self.ok("POST", "/_failover/rds/instance-status",
                {"account": self.account, "db_instance_identifier": "db", "status": "available"})
        answer = rds.modify_db_instance(DBInstanceIdentifier="db", VpcSecurityGroupIds=["sg-fence"],
                                        ApplyImmediately=True)["DBInstance"]
        self.assertEqual(groups(answer), ["sg-fence"])
        rds.modify_db_instance(DBInstanceIdentifier="db", VpcSecurityGroupIds=["sg-b", "sg-a"], ApplyImmediately=True)
        self.assertEqual(groups(self.describe(rds, "db")), ["sg-b", "sg-a"], "restored, in order")
        self.assert_error("DBInstanceNotFound", rds.modify_db_instance, DBInstanceIdentifier="nope",
                          VpcSecurityGroupIds=["sg-fence"], ApplyImmediately=True)

    def test_instance_status(self):
        rds = self.client("rds")
        rds.create_db_instance(DBInstanceIdentifier="db", Engine="mysql", DBInstanceClass="db.t3.micro",
                               AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password1")
        for status in ("failed", "storage-full", "incompatible-network", "incompatible-parameters",
                       "inaccessible-encryption-credentials", "backing-up", "stopped", "available"):
            self.ok("POST", "/_failover/rds/instance-status",
                    {"account": self.account, "region": "us-east-1", "db_instance_identifier": "db", "status": status})
            self.assertEqual(self.describe(rds, "db")["DBInstanceStatus"], status)
        status, _ = self.control("POST", "/_failover/rds/instance-status",
                                 {"account": self.account, "db_instance_identifier": "db", "status": "x",
                                  "region": "us-west-2"})
        self.assertEqual(status, 400)

    def test_aurora_failover(self):
        rds = self.client("rds")
        rds.create_db_cluster(DBClusterIdentifier="cl", Engine="aurora-mysql", MasterUsername="admin",
                              MasterUserPassword="password1")
        for name, tier in (("cl-a", 1), ("cl-b", 2), ("cl-c", 0), ("cl-d", 0)):
            rds.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier="cl", Engine="aurora-mysql",
                                   DBInstanceClass="db.r5.large", PromotionTier=tier)

        def members():
            cluster = rds.describe_db_clusters(DBClusterIdentifier="cl")["DBClusters"][0]
            return {m["DBInstanceIdentifier"]: (m["IsClusterWriter"], m["PromotionTier"])
                    for m in cluster["DBClusterMembers"]}

        self.assertEqual(members(), {"cl-a": (True, 1), "cl-b": (False, 2), "cl-c": (False, 0), "cl-d": (False, 0)})
        self.assertEqual(self.describe(rds, "cl-b")["DBClusterIdentifier"], "cl")
        rds.failover_db_cluster(DBClusterIdentifier="cl", TargetDBInstanceIdentifier="cl-b")
        self.assertEqual([i for i, (w, _) in members().items() if w], ["cl-b"])
        self.ok("POST", "/_failover/rds/instance-status",
                {"account": self.account, "db_instance_identifier": "cl-c", "status": "failed"})
        rds.failover_db_cluster(DBClusterIdentifier="cl")  # lowest available tier: cl-d
        self.assertEqual([i for i, (w, _) in members().items() if w], ["cl-d"])
        # Each failover recorded as RDS records it, for DescribeEvents (no event ID there).
        events = rds.describe_events(SourceType="db-cluster", SourceIdentifier="cl", EventCategories=["failover"])
        self.assertEqual([e["Message"] for e in events["Events"]], [
            "Started cross AZ failover to DB instance: cl-b", "Completed failover to DB instance: cl-b",
            "Started cross AZ failover to DB instance: cl-d", "Completed failover to DB instance: cl-d"])
        self.assertTrue(all(e["SourceType"] == "db-cluster" and e["SourceArn"].endswith(":cluster:cl")
                            for e in events["Events"]))

    def test_multi_az_db_cluster_gets_a_writer_and_two_readers_and_fails_over(self):
        """CreateDBCluster with engine mysql/postgres, DBClusterInstanceClass, AllocatedStorage and StorageType io1
        (with Iops) creates the writer and two readers in three zones; FailoverDBCluster moves the writer."""
        rds = self.client("rds")
        answer = rds.create_db_cluster(
            DBClusterIdentifier="shop", Engine="postgres", DBClusterInstanceClass="db.m6gd.large",
            AllocatedStorage=100, StorageType="io1", Iops=1000, MasterUsername="admin",
            MasterUserPassword="password1")["DBCluster"]
        self.assertEqual((answer["Engine"], answer["DBClusterInstanceClass"]), ("postgres", "db.m6gd.large"))

        def members():
            cluster = rds.describe_db_clusters(DBClusterIdentifier="shop")["DBClusters"][0]
            return {m["DBInstanceIdentifier"]: m["IsClusterWriter"] for m in cluster["DBClusterMembers"]}

        self.assertEqual(members(), {"shop-instance-1": True, "shop-instance-2": False, "shop-instance-3": False})
        described = [self.describe(rds, f"shop-instance-{n}") for n in (1, 2, 3)]
        self.assertEqual({d["DBClusterIdentifier"] for d in described}, {"shop"})
        self.assertEqual({d["DBInstanceClass"] for d in described}, {"db.m6gd.large"})
        self.assertEqual(len({d["AvailabilityZone"] for d in described}), 3, "each in its own zone")
        rds.failover_db_cluster(DBClusterIdentifier="shop", TargetDBInstanceIdentifier="shop-instance-3")
        self.assertEqual([i for i, w in members().items() if w], ["shop-instance-3"])

    def test_multi_az_db_cluster_parameters_are_checked_as_rds_checks_them(self):
        rds = self.client("rds")
        base = {"Engine": "mysql", "MasterUsername": "admin", "MasterUserPassword": "password1"}
        self.assert_error("InvalidParameterCombination", rds.create_db_cluster, DBClusterIdentifier="a",
                          AllocatedStorage=100, StorageType="io1", Iops=1000, **base)  # no DBClusterInstanceClass
        self.assert_error("InvalidParameterCombination", rds.create_db_cluster, DBClusterIdentifier="b",
                          DBClusterInstanceClass="db.m6gd.large", StorageType="io1", Iops=1000, **base)
        self.assert_error("InvalidParameterValue", rds.create_db_cluster, DBClusterIdentifier="c",
                          DBClusterInstanceClass="db.m6gd.large", AllocatedStorage=100, StorageType="gp2", **base)
        self.assert_error("InvalidParameterCombination", rds.create_db_cluster, DBClusterIdentifier="d",
                          DBClusterInstanceClass="db.m6gd.large", AllocatedStorage=100, StorageType="io1", **base)
        self.assert_error("InvalidParameterCombination", rds.create_db_cluster, DBClusterIdentifier="e",
                          Engine="aurora-mysql", DBClusterInstanceClass="db.m6gd.large",
                          MasterUsername="admin", MasterUserPassword="password1")
        self.assertEqual(rds.describe_db_clusters()["DBClusters"], [], "nothing created")
        self.assertEqual(rds.describe_db_instances()["DBInstances"], [])

    def test_a_recorded_cluster_event_is_answered_by_describe_events_only(self):
        rds = self.client("rds")
        rds.create_db_cluster(DBClusterIdentifier="shop", Engine="mysql", DBClusterInstanceClass="db.m6gd.large",
                              AllocatedStorage=100, StorageType="gp3", MasterUsername="admin",
                              MasterUserPassword="password1")
        self.ok("POST", "/_failover/rds/event", {"account": self.account, "db_cluster_identifier": "shop",
                                                  "message": "Started cross AZ failover to DB instance: x",
                                                  "categories": ["failover"]})
        events = rds.describe_events(SourceType="db-cluster", SourceIdentifier="shop", EventCategories=["failover"])
        self.assertEqual([(e["Message"], e["SourceType"]) for e in events["Events"]],
                         [("Started cross AZ failover to DB instance: x", "db-cluster")])
        status, _ = self.control("POST", "/_failover/rds/event", {"account": self.account,
                                                                   "db_cluster_identifier": "nope", "message": "m"})
        self.assertEqual(status, 400)

    # ------------------------------------------------------------------ CloudWatch, Route 53, SNS

    @staticmethod
    def put_lags(cw) -> tuple[dt.datetime, list[dict]]:
        """ReplicaLag of r1: 12 (150 s ago), 30 (20 s), 5 (25 s); of r2: -1 (10 s); of r3: none. Returns now and
        the GetMetricData queries (m0, m1, m2) the function sends for r1, r2, r3."""
        now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)

        def lag(db, value, ago):
            return {"MetricName": "ReplicaLag", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": db}],
                    "Value": value, "Unit": "Seconds", "Timestamp": now - dt.timedelta(seconds=ago)}

        cw.put_metric_data(Namespace="AWS/RDS", MetricData=[lag("r1", 12.0, 150), lag("r1", 30.0, 20),
                                                            lag("r1", 5.0, 25), lag("r2", -1.0, 10)])
        return now, [{"Id": f"m{i}", "ReturnData": True, "MetricStat": {
            "Metric": {"Namespace": "AWS/RDS", "MetricName": "ReplicaLag",
                       "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": db}]},
            "Period": 60, "Stat": "Maximum"}} for i, db in enumerate(("r1", "r2", "r3"))]

    def test_denied_calls_get_access_denied_in_their_region_only(self):
        """What a policy without the right answers: AccessDenied (403) in the call's protocol, nothing done; the
        same call signed for another region, or another account, is answered as before; [] allows all again."""
        east, west = self.client("rds"), self.client("rds", "us-west-2")
        west.create_db_instance(DBInstanceIdentifier="w", Engine="mysql", DBInstanceClass="db.t3.micro",
                                AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="password1")
        denied = {"account": self.account, "region": "us-west-2",
                  "actions": ["rds:DescribeDBInstances", "rds:DeleteDBInstance", "cloudwatch:GetMetricData"]}
        self.assertEqual(self.ok("POST", "/_failover/iam/deny", denied)["denied"], sorted(denied["actions"]))
        with self.assertRaises(ClientError) as ctx:
            west.describe_db_instances()
        error = ctx.exception.response
        self.assertEqual((error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]), ("AccessDenied", 403))
        self.assertIn("is not authorized to perform: rds:DescribeDBInstances", error["Error"]["Message"])
        self.assert_error("AccessDenied", west.delete_db_instance, DBInstanceIdentifier="w", SkipFinalSnapshot=True)
        self.assertEqual(east.describe_db_instances()["DBInstances"], [])
        other = self.client("rds", "us-west-2", account=str(next(_accounts)))
        self.assertEqual(other.describe_db_instances()["DBInstances"], [])
        now = dt.datetime.now(dt.timezone.utc)
        query = [{"Id": "m0", "MetricStat": {"Metric": {"Namespace": "AWS/RDS", "MetricName": "ReplicaLag"},
                                             "Period": 60, "Stat": "Maximum"}}]
        cbor = cbor_session().create_client(
            "cloudwatch", endpoint_url=self.url, region_name="us-west-2", aws_access_key_id=self.account,
            aws_secret_access_key="secret", config=Config(retries={"max_attempts": 1}))
        for cw in (self.client("cloudwatch", "us-west-2"), cbor):
            self.assert_error("AccessDenied", cw.get_metric_data, MetricDataQueries=query,
                              StartTime=now - dt.timedelta(minutes=5), EndTime=now)
        self.ok("POST", "/_failover/iam/deny", {**denied, "actions": []})
        self.assertEqual([d["DBInstanceIdentifier"] for d in west.describe_db_instances()["DBInstances"]], ["w"])
        for bad in ({"account": self.account}, {"account": self.account, "actions": ["DescribeDBInstances"]}):
            self.assertEqual(self.control("POST", "/_failover/iam/deny", bad)[0], 400)

    def test_email_subscriptions_get_the_email_member_of_a_structured_message(self):
        """An e-mail subscriber gets the structure's `email` member (else `default`), SQS gets `default`; a plain
        message goes to both as it is; the inbox empties when read; another address or account sees nothing."""
        sns, sqs = self.client("sns"), self.client("sqs")
        topic = sns.create_topic(Name="t")["TopicArn"]
        queue = sqs.create_queue(QueueName="q")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        sns.subscribe(TopicArn=topic, Protocol="email", Endpoint="ops@example.com")
        structure = {"default": '{"outcome":"refused"}', "email": "REFUSED: web\nNext steps: ..."}
        sns.publish(TopicArn=topic, Subject="[failover] refused: web", MessageStructure="json",
                    Message=json.dumps(structure))
        sns.publish(TopicArn=topic, Message=json.dumps({"default": "only default"}), MessageStructure="json")
        sns.publish(TopicArn=topic, Message="plain")
        where = {"account": self.account, "address": "ops@example.com"}
        got = self.ok("POST", "/_failover/sns/inbox", where)["messages"]
        self.assertEqual([(m["subject"], m["body"], m["protocol"]) for m in got], [
            ("[failover] refused: web", structure["email"], "email"), (None, "only default", "email"),
            (None, "plain", "email")])
        self.assertEqual(got[0]["topic_arn"], topic)
        self.assertEqual(self.ok("POST", "/_failover/sns/inbox", where)["messages"], [])
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
        self.assertEqual(sorted(json.loads(m["Body"])["Message"] for m in received),
                         sorted([structure["default"], "only default", "plain"]))
        other = {"account": str(next(_accounts)), "address": "ops@example.com"}
        self.assertEqual(self.ok("POST", "/_failover/sns/inbox", other)["messages"], [])
        self.assertEqual(self.control("POST", "/_failover/sns/inbox", {"account": self.account})[0], 400)

    def test_replica_lag_metrics(self):
        cw = self.client("cloudwatch")
        now, queries = self.put_lags(cw)
        results = {r["Id"]: r for r in cw.get_metric_data(
            MetricDataQueries=queries, StartTime=now - dt.timedelta(minutes=5), EndTime=now)["MetricDataResults"]}
        self.assertEqual(max(results["m0"]["Values"]), 30.0)
        self.assertIn(12.0, results["m0"]["Values"])
        self.assertNotIn(5.0, results["m0"]["Values"])  # Maximum per period
        self.assertEqual(results["m1"]["Values"], [-1.0])
        self.assertEqual(results["m2"]["Values"], [])

    def test_replica_lag_over_rpc_v2_cbor(self):
        """PutMetricData -> GetMetricData as aws-sdk-cloudwatch sends them (rpc-v2-cbor), and CBOR errors."""
        cw = cbor_session().create_client(
            "cloudwatch", endpoint_url=self.url, region_name="us-east-1", aws_access_key_id=self.account,
            aws_secret_access_key="secret",
            config=Config(retries={"max_attempts": 1}, parameter_validation=False))
        wire = []
        cw.meta.events.register("before-send.cloudwatch", lambda request, **_: wire.append(
            (request.url, request.headers.get("smithy-protocol"), request.headers.get("Content-Type"))))
        answers = {}
        cw.meta.events.register("before-parse.cloudwatch", lambda operation_model, response_dict, **_:
                                answers.__setitem__(operation_model.name, response_dict))
        now, queries = self.put_lags(cw)
        start = now - dt.timedelta(minutes=5)
        got = cw.get_metric_data(MetricDataQueries=queries, StartTime=start, EndTime=now,
                                 ScanBy="TimestampDescending")
        self.assertEqual([w[0].split(self.url)[1] for w in wire],
                         ["/service/GraniteServiceVersion20100801/operation/PutMetricData",
                          "/service/GraniteServiceVersion20100801/operation/GetMetricData"])
        self.assertEqual({w[1:] for w in wire}, {(b"rpc-v2-cbor", b"application/cbor")})
        results = {r["Id"]: r for r in got["MetricDataResults"]}
        # moto's periods start at StartTime: [now-60, now) holds 30 and 5, [now-180, now-120) holds 12.
        bucket = [start + dt.timedelta(seconds=60 * k) for k in range(6)]
        self.assertEqual((results["m0"]["Values"], results["m0"]["Timestamps"]), ([30.0, 12.0], [bucket[4], bucket[2]]))
        self.assertEqual((results["m1"]["Values"], results["m1"]["Timestamps"]), ([-1.0], [bucket[4]]))
        self.assertEqual((results["m2"]["Values"], results["m2"]["Timestamps"]), ([], []))
        answer = answers["GetMetricData"]
        self.assertEqual((answer["status_code"], answer["headers"]["content-type"],
                          answer["headers"]["smithy-protocol"]), (200, "application/cbor", "rpc-v2-cbor"))
        self.assertIn(b"\xc1\xfb" + struct.pack(">d", bucket[4].timestamp()), answer["body"])  # tag 1, double
        # The same data through the JSON protocol boto3 uses: one account, one backend.
        same = self.client("cloudwatch").get_metric_data(MetricDataQueries=queries[:1], StartTime=start, EndTime=now)
        self.assertEqual(same["MetricDataResults"][0]["Values"], [30.0, 12.0])
        calls = {(c["service"], c["action"]): c["count"] for c in
                 self.ok("GET", f"/_failover/calls?account={self.account}")["calls"]}
        self.assertEqual((calls[("monitoring", "PutMetricData")], calls[("monitoring", "GetMetricData")]), (1, 2))

        with self.assertRaises(ClientError) as ctx:  # MetricDataQueries is required
            cw.get_metric_data(StartTime=start, EndTime=now)
        error = ctx.exception.response
        self.assertEqual(error["Error"]["Code"], "MissingParameter")
        self.assertIn("MetricDataQueries", error["Error"]["Message"])
        answer = answers["GetMetricData"]
        self.assertEqual((answer["status_code"], answer["headers"]["content-type"],
                          answer["headers"]["smithy-protocol"], answer["headers"]["x-amzn-query-error"]),
                         (400, "application/cbor", "rpc-v2-cbor", "MissingParameter;Sender"))
        self.assert_error("MissingParameter", cw.put_metric_data,  # at depth: MetricData[0].MetricName
                          Namespace="AWS/RDS", MetricData=[{"Value": 1.0}])
        self.assert_error("ResourceNotFound", cw.get_dashboard, DashboardName="nope")  # moto's own error

        def raw(operation: str, body: bytes) -> tuple[int, str, str]:
            req = urllib.request.Request(
                f"{self.url}/service/GraniteServiceVersion20100801/operation/{operation}", data=body, method="POST",
                headers={"smithy-protocol": "rpc-v2-cbor", "Content-Type": "application/cbor",
                         "Authorization": f"AWS4-HMAC-SHA256 Credential={self.account}/20260101/us-east-1/"
                                          "monitoring/aws4_request, SignedHeaders=host, Signature=0"})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    return resp.status, resp.headers["Content-Type"], resp.read()
            except urllib.error.HTTPError as e:
                return e.code, e.headers["Content-Type"], e.read()

        self.assertEqual(raw("ListMetrics", b"\xa0")[:2], (200, "application/cbor"))  # {}
        status, kind, body = raw("NoSuchOperation", b"\xa0")
        self.assertEqual((status, kind), (404, "application/cbor"))
        self.assertIn(b"UnknownOperationException", body)
        status, kind, body = raw("ListMetrics", b"\x83\x01\x02\x03")  # [1, 2, 3]: not a map
        self.assertEqual((status, kind), (400, "application/cbor"))
        self.assertIn(b"SerializationException", body)

    def test_route53_changes_are_pending_until_they_propagate(self):
        """ChangeResourceRecordSets answers PENDING with an id of its own; GetChange says PENDING until the
        account's propagation time has passed, then INSYNC; an unknown id is NoSuchChange."""
        r53 = self.client("route53")
        zone = r53.create_hosted_zone(Name="db.internal", CallerReference=self.account)["HostedZone"]["Id"]

        def change(target):
            return r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
                "Action": "UPSERT", "ResourceRecordSet": {"Name": "writer.db.internal", "Type": "CNAME",
                                                          "TTL": 30, "ResourceRecords": [{"Value": target}]}}]})["ChangeInfo"]

        first = change("db.example.com")
        self.assertEqual(first["Status"], "PENDING")
        self.assertEqual(r53.get_change(Id=first["Id"])["ChangeInfo"]["Status"], "INSYNC")  # default: at once
        self.ok("POST", "/_failover/route53/propagation", {"account": self.account, "seconds": 1.5})
        second = change("db-r1.example.com")
        self.assertNotEqual(second["Id"], first["Id"])
        self.assertEqual(r53.get_change(Id=second["Id"])["ChangeInfo"]["Status"], "PENDING")
        time.sleep(1.6)
        self.assertEqual(r53.get_change(Id=second["Id"].rsplit("/", 1)[-1])["ChangeInfo"]["Status"], "INSYNC")
        self.assert_error("NoSuchChange", r53.get_change, Id="/change/CNOSUCHCHANGE")
        self.assert_error("NoSuchChange", self.client("route53", account=str(next(_accounts))).get_change,
                          Id=second["Id"])
        self.assertEqual(self.control("POST", "/_failover/route53/propagation", {"account": self.account,
                                                                                "seconds": -1})[0], 400)

    def test_route53_upsert(self):
        r53 = self.client("route53")
        zone = r53.create_hosted_zone(Name="db.internal", CallerReference=self.account)["HostedZone"]["Id"]
        for target in ("db.example.com", "db-r1.example.com"):
            r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [{
                "Action": "UPSERT", "ResourceRecordSet": {"Name": "writer.db.internal", "Type": "CNAME",
                                                          "TTL": 30, "ResourceRecords": [{"Value": target}]}}]})
        records = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
        cnames = [r for r in records if r["Type"] == "CNAME"]
        self.assertEqual(cnames, [{"Name": "writer.db.internal.", "Type": "CNAME", "TTL": 30,
                                   "ResourceRecords": [{"Value": "db-r1.example.com"}]}])

    def test_route53_delete_must_name_the_current_value_and_the_batch_is_atomic(self):
        r53 = self.client("route53")
        zone = r53.create_hosted_zone(Name="db.internal", CallerReference=self.account)["HostedZone"]["Id"]

        def change(action, target, name="writer.db.internal"):
            return {"Action": action, "ResourceRecordSet": {"Name": name, "Type": "CNAME", "TTL": 30,
                                                           "ResourceRecords": [{"Value": target}]}}

        def batch(*changes):
            return r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": list(changes)})

        def cnames():
            records = r53.list_resource_record_sets(HostedZoneId=zone)["ResourceRecordSets"]
            return [(r["Name"], [v["Value"] for v in r["ResourceRecords"]]) for r in records if r["Type"] == "CNAME"]

        batch(change("CREATE", "orders.example.com"))
        batch(change("UPSERT", "billing.example.com"))
        # moto's journal still holds orders.example.com: stock moto accepted this DELETE.
        for changes, message in [
            ((change("DELETE", "orders.example.com"), change("CREATE", "r1.example.com")),
             "but the values provided do not match the current values"),
            ((change("DELETE", "billing.example.com", "other.db.internal"),), "but it was not found"),
            ((change("CREATE", "r1.example.com"),), "but it already exists"),
        ]:
            with self.assertRaises(ClientError) as raised:
                batch(*changes)
            error = raised.exception.response["Error"]
            self.assertEqual(error["Code"], "InvalidChangeBatch")
            self.assertIn(message, error["Message"])
            self.assertEqual(raised.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
            self.assertEqual(cnames(), [("writer.db.internal.", ["billing.example.com"])], "nothing changed")

        batch(change("DELETE", "billing.example.com"), change("CREATE", "r2.example.com"))
        self.assertEqual(cnames(), [("writer.db.internal.", ["r2.example.com"])])

        # Back to a value it held before, and on again (A, B, A, B): each batch is judged on the current record
        # only (stock moto found the second CREATE of r2 in its journal and answered that it already exists).
        batch(change("DELETE", "r2.example.com"), change("CREATE", "billing.example.com"))
        batch(change("DELETE", "billing.example.com"), change("CREATE", "r2.example.com"))
        self.assertEqual(cnames(), [("writer.db.internal.", ["r2.example.com"])])

    def test_ledger_table_as_the_template_declares_it_with_conditional_writes(self):
        name = self.ok("POST", "/_failover/dynamodb/ledger-table", {"account": self.account})["table_name"]
        ddb = self.client("dynamodb")
        table = ddb.describe_table(TableName=name)["Table"]
        self.assertEqual(table["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"},
                                              {"AttributeName": "sk", "KeyType": "RANGE"}])
        self.assertEqual(table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual(table["SSEDescription"]["Status"], "ENABLED")
        ttl = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        self.assertEqual((ttl["TimeToLiveStatus"], ttl["AttributeName"]), ("ENABLED", "expires_at"))
        pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
        self.assertEqual(pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"], "ENABLED")

        def claim(owner, now):
            return ddb.put_item(
                TableName=name, Item={"pk": {"S": "r"}, "sk": {"S": "lease"}, "owner": {"S": owner},
                                      "expires_at": {"N": str(now + 60)}},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now OR #o = :me",
                ExpressionAttributeNames={"#o": "owner"},
                ExpressionAttributeValues={":now": {"N": str(now)}, ":me": {"S": owner}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD")

        claim("a", 100)
        with self.assertRaises(ClientError) as ctx:
            claim("b", 130)
        self.assertEqual(ctx.exception.response["Error"]["Code"], "ConditionalCheckFailedException")
        self.assertEqual(ctx.exception.response["Item"]["owner"], {"S": "a"})
        claim("b", 161)  # a's lease expired at 160
        self.assert_error("ConditionalCheckFailedException", ddb.update_item, TableName=name,
                          Key={"pk": {"S": "r"}, "sk": {"S": "lease"}}, UpdateExpression="SET x = :x",
                          ConditionExpression="#o = :me", ExpressionAttributeNames={"#o": "owner"},
                          ExpressionAttributeValues={":x": {"S": "1"}, ":me": {"S": "a"}})
        self.assert_error("ConditionalCheckFailedException", ddb.delete_item, TableName=name,
                          Key={"pk": {"S": "r"}, "sk": {"S": "lease"}}, ConditionExpression="#o = :me",
                          ExpressionAttributeNames={"#o": "owner"}, ExpressionAttributeValues={":me": {"S": "a"}})
        items = ddb.query(TableName=name, KeyConditionExpression="pk = :p", ConsistentRead=True,
                          ExpressionAttributeValues={":p": {"S": "r"}})["Items"]
        self.assertEqual([i["owner"]["S"] for i in items], ["b"])
        again = self.ok("POST", "/_failover/dynamodb/ledger-table", {"account": self.account})
        self.assertEqual(again, {"table_name": name, "created": False})  # left as it is
        self.assertEqual(len(ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                                       ExpressionAttributeValues={":p": {"S": "r"}})["Items"]), 1)

    def test_each_region_has_its_own_ledger_table_of_one_name_and_a_denial_holds_in_its_region_only(self):
        # Two regions' stacks deployed under one name: one table name, two tables (database-failover writes a
        # primary's decisions in its region's). DynamoDB answers a denied call AccessDeniedException (400).
        for region in ("us-east-1", "us-west-2"):
            made = self.ok("POST", "/_failover/dynamodb/ledger-table",
                           {"account": self.account, "region": region, "table_name": "shop-ledger"})
            self.assertEqual(made, {"table_name": "shop-ledger", "created": True})
        east, west = self.client("dynamodb"), self.client("dynamodb", "us-west-2")
        east.put_item(TableName="shop-ledger", Item={"pk": {"S": "db-instance:us-east-1/orders"}, "sk": {"S": "lease"}})
        key = {":p": {"S": "db-instance:us-east-1/orders"}}
        query = {"TableName": "shop-ledger", "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": key}
        self.assertEqual(len(east.query(**query)["Items"]), 1)
        self.assertEqual(west.query(**query)["Items"], [], "another region's table of the same name")
        denied = {"account": self.account, "region": "us-east-1", "actions": ["dynamodb:Query"]}
        self.ok("POST", "/_failover/iam/deny", denied)
        try:
            with self.assertRaises(ClientError) as ctx:
                east.query(**query)
            error = ctx.exception.response
            self.assertEqual((error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]),
                             ("AccessDeniedException", 400))
            self.assertIn("is not authorized to perform: dynamodb:Query", error["Error"]["Message"])
            self.assertEqual(west.query(**query)["Items"], [])
        finally:
            self.ok("POST", "/_failover/iam/deny", {**denied, "actions": []})

    def test_a_transaction_naming_an_item_another_one_in_progress_names_is_cancelled_as_a_conflict(self):
        # DynamoDB cancels it with TransactionConflict for that item and None for the others; the account's
        # window keeps its transactions in progress long enough to meet (default 0: none ever do).
        name = self.ok("POST", "/_failover/dynamodb/ledger-table", {"account": self.account})["table_name"]
        ddb = self.client("dynamodb")
        pause = {"pk": {"S": "control"}, "sk": {"S": "pause"}}

        def begin(resource):
            return ddb.transact_write_items(TransactItems=[
                {"ConditionCheck": {"TableName": name, "Key": pause,
                                    "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": name, "Item": {"pk": {"S": resource}, "sk": {"S": "lease"}}}}])

        begin("a")
        begin("b")  # no window: one after the other, never together
        self.assertEqual(self.ok("POST", "/_failover/dynamodb/transaction-window",
                                 {"account": self.account, "seconds": 0.6}), {"account": self.account, "seconds": 0.6})
        first = threading.Thread(target=begin, args=("c",))
        first.start()
        time.sleep(0.2)
        with self.assertRaises(ClientError) as ctx:
            begin("d")
        error = ctx.exception.response
        self.assertEqual(error["Error"]["Code"], "TransactionCanceledException")
        self.assertEqual([r["Code"] for r in error["CancellationReasons"]], ["TransactionConflict", "None"])
        ddb.transact_write_items(TransactItems=[  # names none of its items: not held up
            {"Put": {"TableName": name, "Item": {"pk": {"S": "e"}, "sk": {"S": "lease"}}}}])
        first.join()
        begin("f")  # the first one is over
        self.ok("POST", "/_failover/dynamodb/transaction-window", {"account": self.account, "seconds": 0})
        leases = {i["pk"]["S"] for i in ddb.scan(TableName=name)["Items"] if i["sk"]["S"] == "lease"}
        self.assertEqual(leases, {"a", "b", "c", "e", "f"}, "the cancelled one wrote nothing")
        self.assertEqual(self.control("POST", "/_failover/dynamodb/transaction-window",
                                      {"account": self.account, "seconds": 6})[0], 400)

    def test_a_cancelled_transaction_leaves_every_item_it_names_as_it_was(self):
        # All or nothing: the launcher puts back the items a cancelled transaction names (moto's rollback copied
        # whole tables); one it would have created is not left behind, and items it does not name are untouched.
        name = self.ok("POST", "/_failover/dynamodb/ledger-table", {"account": self.account})["table_name"]
        ddb = self.client("dynamodb")
        held = {"pk": {"S": "held"}, "sk": {"S": "lease"}}
        ddb.put_item(TableName=name, Item={**held, "owner": {"S": "first"}, "n": {"N": "1"}})
        ddb.put_item(TableName=name, Item={"pk": {"S": "other"}, "sk": {"S": "lease"}})
        with self.assertRaises(ClientError) as ctx:
            ddb.transact_write_items(TransactItems=[
                {"Update": {"TableName": name, "Key": held, "UpdateExpression": "SET #o = :o REMOVE n",
                            "ExpressionAttributeNames": {"#o": "owner"},
                            "ExpressionAttributeValues": {":o": {"S": "second"}}}},
                {"Put": {"TableName": name, "Item": {"pk": {"S": "new"}, "sk": {"S": "lease"}}}},
                {"Delete": {"TableName": name, "Key": {"pk": {"S": "other"}, "sk": {"S": "lease"}}}},
                {"ConditionCheck": {"TableName": name, "Key": {"pk": {"S": "control"}, "sk": {"S": "pause"}},
                                    "ConditionExpression": "attribute_exists(pk)"}}])
        self.assertEqual([r["Code"] for r in ctx.exception.response["CancellationReasons"]],
                         ["None", "None", "None", "ConditionalCheckFailed"])
        items = {(i["pk"]["S"], i["sk"]["S"]): i for i in ddb.scan(TableName=name)["Items"]}
        self.assertEqual(set(items), {("held", "lease"), ("other", "lease")})
        self.assertEqual(items[("held", "lease")], {**held, "owner": {"S": "first"}, "n": {"N": "1"}})
        ddb.transact_write_items(TransactItems=[  # and one that succeeds applies all of its writes
            {"Update": {"TableName": name, "Key": held, "UpdateExpression": "SET #o = :o",
                        "ExpressionAttributeNames": {"#o": "owner"}, "ExpressionAttributeValues": {":o": {"S": "b"}}}},
            {"Put": {"TableName": name, "Item": {"pk": {"S": "new"}, "sk": {"S": "lease"}}}}])
        items = {(i["pk"]["S"], i["sk"]["S"]): i for i in ddb.scan(TableName=name)["Items"]}
        self.assertEqual(set(items), {("held", "lease"), ("other", "lease"), ("new", "lease")})
        self.assertEqual(items[("held", "lease")]["owner"], {"S": "b"})

    def test_a_failed_transaction_does_not_undo_a_concurrent_write(self):
        # Stock moto rolls a failed transaction back by restoring a copy of the table taken before it, which
        # loses any write another request thread made meanwhile; the launcher serialises DynamoDB.
        name = self.ok("POST", "/_failover/dynamodb/ledger-table", {"account": self.account})["table_name"]
        ddb = self.client("dynamodb")
        ddb.put_item(TableName=name, Item={"pk": {"S": "x"}, "sk": {"S": "lease"}})
        for i in range(300):  # a larger table: moto's copy before each transaction takes longer
            ddb.put_item(TableName=name, Item={"pk": {"S": "z"}, "sk": {"S": f"{i}"}, "pad": {"S": "p" * 200}})
        stop = threading.Event()

        def failing():
            while not stop.is_set():
                try:
                    ddb.transact_write_items(TransactItems=[{"Put": {
                        "TableName": name, "Item": {"pk": {"S": "x"}, "sk": {"S": "lease"}},
                        "ConditionExpression": "attribute_not_exists(pk)"}}])
                except ClientError:
                    pass

        threads = [threading.Thread(target=failing) for _ in range(2)]
        for thread in threads:
            thread.start()
        try:
            writer = self.client("dynamodb")
            for i in range(60):
                writer.put_item(TableName=name, Item={"pk": {"S": "y"}, "sk": {"S": f"r{i}"}})
        finally:
            stop.set()
            for thread in threads:
                thread.join()
        items = ddb.query(TableName=name, KeyConditionExpression="pk = :p", ConsistentRead=True,
                          ExpressionAttributeValues={":p": {"S": "y"}})["Items"]
        self.assertEqual(len(items), 60)

    def test_sns_to_sqs_in_own_account(self):
        sns, sqs = self.client("sns"), self.client("sqs")
        topic = sns.create_topic(Name="alerts")["TopicArn"]
        queues = {}
        for raw in ("false", "true"):
            url = sqs.create_queue(QueueName=f"q-{raw}")["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            self.assertEqual(arn.split(":")[4], self.account)
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": raw})
            queues[raw] = url
        sns.publish(TopicArn=topic, Message='{"a":1}', Subject="Failover",
                    MessageAttributes={"severity": {"DataType": "String", "StringValue": "high"}})

        def receive(url):
            messages = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["All"])["Messages"]
            self.assertEqual(len(messages), 1)
            return messages[0]

        envelope = json.loads(receive(queues["false"])["Body"])
        self.assertEqual((envelope["Message"], envelope["Subject"], envelope["TopicArn"]),
                         ('{"a":1}', "Failover", topic))
        self.assertEqual(envelope["MessageAttributes"], {"severity": {"Type": "String", "Value": "high"}})
        raw = receive(queues["true"])
        self.assertEqual(raw["Body"], '{"a":1}')
        self.assertEqual(raw["MessageAttributes"], {"severity": {"StringValue": "high", "DataType": "String"}})
        # the default account's queues stay empty
        default_sqs = self.client("sqs", account="AKIDEXAMPLE")
        self.assertEqual(default_sqs.list_queues().get("QueueUrls", []), [])


class GlobalDatabaseTest(LauncherCase):
    """Aurora Global Database (tools/local_aws/rds_global.py): membership, switchover, failover, detach."""

    def global_db(self):
        """orders-global: orders-east (us-east-1, primary, writer e1 and reader e2) and orders-west (us-west-2,
        secondary, readers w1 tier 1 and w2 tier 0). Returns the two clients and the two cluster ARNs."""
        east, west = self.client("rds"), self.client("rds", "us-west-2")
        east.create_db_cluster(DBClusterIdentifier="orders-east", Engine="aurora-postgresql",
                               MasterUsername="admin", MasterUserPassword="password1")
        for name, tier in (("e1", 1), ("e2", 1)):
            east.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier="orders-east",
                                    Engine="aurora-postgresql", DBInstanceClass="db.r5.large", PromotionTier=tier)
        east_arn = f"arn:aws:rds:us-east-1:{self.account}:cluster:orders-east"
        east.create_global_cluster(GlobalClusterIdentifier="orders-global", SourceDBClusterIdentifier=east_arn)
        west.create_db_cluster(DBClusterIdentifier="orders-west", Engine="aurora-postgresql",
                               GlobalClusterIdentifier="orders-global")
        for name, tier in (("w1", 1), ("w2", 0)):
            west.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier="orders-west",
                                    Engine="aurora-postgresql", DBInstanceClass="db.r5.large", PromotionTier=tier)
        return east, west, east_arn, f"arn:aws:rds:us-west-2:{self.account}:cluster:orders-west"

    @staticmethod
    def writers(client, cluster):
        members = client.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]["DBClusterMembers"]
        return [m["DBInstanceIdentifier"] for m in members if m["IsClusterWriter"]]

    @staticmethod
    def global_writer(client):
        gc = client.describe_global_clusters(GlobalClusterIdentifier="orders-global")["GlobalClusters"][0]
        return [m["DBClusterArn"] for m in gc["GlobalClusterMembers"] if m["IsWriter"]], gc

    def test_membership_one_writer_a_secondary_without_writer_and_describe_by_id_or_region(self):
        east, west, east_arn, west_arn = self.global_db()
        writer, gc = self.global_writer(west)  # any region answers
        self.assertEqual(writer, [east_arn])
        self.assertEqual(sorted(m["DBClusterArn"] for m in gc["GlobalClusterMembers"]), [east_arn, west_arn])
        self.assertNotIn("FailoverState", gc)
        self.assertEqual((self.writers(east, "orders-east"), self.writers(west, "orders-west")), (["e1"], []))
        east.create_global_cluster(GlobalClusterIdentifier="other", Engine="aurora-postgresql")
        self.assertEqual(len(east.describe_global_clusters()["GlobalClusters"]), 2)
        by_region = east.describe_global_clusters(Filters=[{"Name": "region", "Values": ["us-west-2"]}])
        self.assertEqual([g["GlobalClusterIdentifier"] for g in by_region["GlobalClusters"]], ["orders-global"])
        self.assert_error("GlobalClusterNotFoundFault", east.describe_global_clusters, GlobalClusterIdentifier="x")

    def test_switchover_swaps_the_roles_and_answers_the_documented_faults(self):
        east, west, east_arn, west_arn = self.global_db()
        switch = west.switchover_global_cluster
        self.assert_error("GlobalClusterNotFoundFault", switch, GlobalClusterIdentifier="x",
                          TargetDbClusterIdentifier=west_arn)
        self.assert_error("DBClusterNotFoundFault", switch, GlobalClusterIdentifier="orders-global",
                          TargetDbClusterIdentifier=west_arn.replace("orders-west", "nope"))
        self.assert_error("InvalidGlobalClusterStateFault", switch, GlobalClusterIdentifier="orders-global",
                          TargetDbClusterIdentifier=east_arn)
        status = {"account": self.account, "region": "us-east-1", "db_cluster_identifier": "orders-east"}
        self.ok("POST", "/_failover/rds/cluster-status", {**status, "status": "failing-over"})
        self.assert_error("InvalidDBClusterStateFault", switch, GlobalClusterIdentifier="orders-global",
                          TargetDbClusterIdentifier=west_arn)
        self.ok("POST", "/_failover/rds/cluster-status", {**status, "status": "available"})
        self.assertEqual(self.global_writer(east)[0], [east_arn])  # nothing changed by the refusals

        answer = switch(GlobalClusterIdentifier="orders-global", TargetDbClusterIdentifier=west_arn)
        self.assertEqual(answer["GlobalCluster"]["GlobalClusterIdentifier"], "orders-global")
        self.assertEqual(self.global_writer(east)[0], [west_arn])
        # The promoted secondary's writer is its reader of the lowest tier; the old primary has readers only.
        self.assertEqual((self.writers(east, "orders-east"), self.writers(west, "orders-west")), ([], ["w2"]))

    def test_failover_with_data_loss_needs_only_the_target_available_and_a_held_one_shows_its_state(self):
        east, west, east_arn, west_arn = self.global_db()
        fail = west.failover_global_cluster
        self.assert_error("InvalidParameterCombination", fail, GlobalClusterIdentifier="orders-global",
                          TargetDbClusterIdentifier=west_arn, AllowDataLoss=True, Switchover=True)
        self.ok("POST", "/_failover/rds/cluster-status", {"account": self.account, "region": "us-east-1",
                                                          "db_cluster_identifier": "orders-east", "status": "inaccessible-encryption-credentials"})
        # Without AllowDataLoss it is a switchover, which needs the primary available.
        self.assert_error("InvalidDBClusterStateFault", fail, GlobalClusterIdentifier="orders-global",
                          TargetDbClusterIdentifier=west_arn)
        self.ok("POST", "/_failover/rds/global-hold", {"account": self.account,
                                                       "global_cluster_identifier": "orders-global"})
        fail(GlobalClusterIdentifier="orders-global", TargetDbClusterIdentifier=west_arn, AllowDataLoss=True)
        writer, gc = self.global_writer(east)
        self.assertEqual((writer, gc["Status"]), ([east_arn], "failing-over"))
        self.assertEqual(gc["FailoverState"], {"Status": "pending", "FromDbClusterArn": east_arn,
                                               "ToDbClusterArn": west_arn, "IsDataLossAllowed": True})
        self.assert_error("InvalidGlobalClusterStateFault", fail, GlobalClusterIdentifier="orders-global",
                          TargetDbClusterIdentifier=west_arn, AllowDataLoss=True)
        self.ok("POST", "/_failover/rds/global-finish", {"account": self.account,
                                                         "global_cluster_identifier": "orders-global"})
        writer, gc = self.global_writer(east)
        self.assertEqual((writer, gc["Status"]), ([west_arn], "available"))
        self.assertNotIn("FailoverState", gc)
        self.assertEqual(self.writers(west, "orders-west"), ["w2"])
        self.assertEqual(self.control("POST", "/_failover/rds/global-finish", {
            "account": self.account, "global_cluster_identifier": "orders-global"})[0], 400)

    def test_an_impaired_primary_region_fails_the_global_changes_but_not_the_detach(self):
        east, west, east_arn, west_arn = self.global_db()
        impaired = {"account": self.account, "region": "us-east-1", "impaired": True}
        self.ok("POST", "/_failover/rds/global-impaired", impaired)
        for call in (lambda: west.failover_global_cluster(GlobalClusterIdentifier="orders-global",
                                                          TargetDbClusterIdentifier=west_arn, AllowDataLoss=True),
                     lambda: west.switchover_global_cluster(GlobalClusterIdentifier="orders-global",
                                                            TargetDbClusterIdentifier=west_arn)):
            with self.assertRaises(ClientError) as ctx:
                call()
            error = ctx.exception.response
            self.assertEqual((error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]),
                             ("ServiceUnavailable", 503))
        self.assertEqual(self.global_writer(west)[0], [east_arn])
        west.remove_from_global_cluster(GlobalClusterIdentifier="orders-global", DbClusterIdentifier=west_arn)
        self.assertEqual(self.writers(west, "orders-west"), ["w2"])
        self.ok("POST", "/_failover/rds/global-impaired", {**impaired, "impaired": False})

    def test_remove_from_global_cluster_detaches_a_secondary_in_its_region_as_a_standalone_writer(self):
        east, west, east_arn, west_arn = self.global_db()
        self.assert_error("InvalidGlobalClusterStateFault", east.remove_from_global_cluster,
                          GlobalClusterIdentifier="orders-global", DbClusterIdentifier=east_arn)
        self.assert_error("GlobalClusterNotFoundFault", west.remove_from_global_cluster,
                          GlobalClusterIdentifier="x", DbClusterIdentifier=west_arn)
        west.remove_from_global_cluster(GlobalClusterIdentifier="orders-global", DbClusterIdentifier=west_arn)
        writer, gc = self.global_writer(west)
        self.assertEqual((writer, [m["DBClusterArn"] for m in gc["GlobalClusterMembers"]]), ([east_arn], [east_arn]))
        self.assertEqual(self.writers(west, "orders-west"), ["w2"])
        self.assert_error("DBClusterNotFoundFault", west.remove_from_global_cluster,
                          GlobalClusterIdentifier="orders-global", DbClusterIdentifier=west_arn)


if __name__ == "__main__":
    unittest.main()
