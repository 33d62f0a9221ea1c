#!/usr/bin/env python3
"""Checks alarms/template.yaml (the recommended alarms) against the failover stack's EventBridge rules.

Usage:
    check_alarms.py              check; exit 1 on any problem
    check_alarms.py --self-test  prove the checks fail on broken alarm templates

The alarms template is expanded (its Fn::ForEach loops, over two zones and two instances) and evaluated with
every resource named (parameters below) and the default AlarmNamePrefix. Rules:
1. It declares each kind of alarm: a target group's, one per zone, one per instance, an RDS primary's and an
   Aurora writer's; each kind's resources exist only when its parameters are given (all empty: no alarm).
2. Every alarm name starts with AlarmNamePrefix.
3. The EventBridge event of each alarm entering ALARM (the events/ sample of its kind, with the alarm's name,
   namespace, metric and dimensions) is matched by the stack's alarm rule of the function that acts on it
   (target-failover for load balancers and instances, database-failover for RDS), with moto's matcher, as
   check_template.py rule 8 does for the samples themselves.
"""

from __future__ import annotations

import copy
import json
import re
import sys
import unittest
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import check_main  # noqa: E402
import check_template as T  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ALARMS = ROOT / "alarms" / "template.yaml"
EVENTS = ROOT / "events"
GIVEN = {
    "Application": "web",
    "LoadBalancer": "app/shop-alb/50dc6c495c0c9188",
    "TargetGroup": "targetgroup/web/73e2d6bc24d8a067",
    "Zones": ["us-east-1a", "us-east-1b"],
    "InstanceIds": ["i-0abc1234def567890", "i-0def5678abc123456"],
    "DbInstanceIdentifier": "orders-primary",
    "DbClusterIdentifier": "catalog-cluster",
}
# Kind -> (the dimension that tells it, the sample its event is made from, the function that acts on it).
# What target-failover needs to see to treat an alarm as that kind (a per-zone alarm names the load balancer too).
NEEDS = {"zone": {"LoadBalancer", "AvailabilityZone"}, "target group": {"TargetGroup", "LoadBalancer"}}
KINDS = {
    "zone": ("AvailabilityZone", "alarm-eventbridge-zone.json", "TargetFailoverFunction"),
    "target group": ("TargetGroup", "alarm-eventbridge-target-group.json", "TargetFailoverFunction"),
    "instance": ("InstanceId", "alarm-eventbridge-instance.json", "TargetFailoverFunction"),
    "RDS primary": ("DBInstanceIdentifier", "alarm-action-db-instance.json", "DatabaseFailoverFunction"),
    "Aurora writer": ("DBClusterIdentifier", "alarm-action-aurora-cluster.json", "DatabaseFailoverFunction"),
}


def expand(node, var: str | None = None, item: str | None = None):
    """The template with its Fn::ForEach loops unrolled over the lists in GIVEN (`&{x}`: x without
    non-alphanumerics, as CloudFormation's language extensions do)."""
    if isinstance(node, list):
        return [expand(n, var, item) for n in node]
    if isinstance(node, str):
        return node.replace(f"${{{var}}}", item) if var else node
    if not isinstance(node, dict):
        return node
    if var and node == {"Ref": var}:
        return item
    out = {}
    for key, value in node.items():
        if key.startswith("Fn::ForEach::"):
            loop_var, collection, body = value
            items = GIVEN.get(collection.get("Ref"), []) if isinstance(collection, dict) else collection
            for each in items:
                for name, resource in body.items():
                    out[name.replace(f"&{{{loop_var}}}", re.sub(r"[^A-Za-z0-9]", "", each))] = expand(
                        resource, loop_var, each)
        else:
            out[key] = expand(value, var, item)
    return out


def evaluate(template: dict, given: dict) -> list[dict]:
    """Each active alarm's AlarmName, Namespace, MetricName and Dimensions, evaluated."""
    cfn = expand(template) if given else expand(template, None, None)
    ev = T.Evaluator(cfn, {k: ",".join(v) if isinstance(v, list) else v for k, v in given.items()})
    alarms = []
    for name, resource in cfn.get("Resources", {}).items():
        if resource.get("Type") != "AWS::CloudWatch::Alarm" or not ev.active(resource):
            continue
        props = ev.value(resource.get("Properties", {}))
        props["LogicalId"] = name
        alarms.append(props)
    return alarms


def kind_of(alarm: dict) -> str | None:
    names = {d["Name"] for d in alarm.get("Dimensions", [])}
    return next((kind for kind, (dimension, _, _) in KINDS.items() if dimension in names), None)


def event_for(alarm: dict, kind: str) -> dict:
    """The EventBridge event of `alarm` entering ALARM, from the sample of its kind."""
    _, sample, _ = KINDS[kind]
    loaded = json.loads((EVENTS / sample).read_text())
    if "detail" in loaded:
        event = loaded
    else:  # a direct alarm action's payload: the same alarm data, in EventBridge's envelope
        event = copy.deepcopy(json.loads((EVENTS / "alarm-eventbridge-instance.json").read_text()))
        event["detail"] = {k: v for k, v in loaded["alarmData"].items() if k != "alarmName"}
    name = alarm["AlarmName"]
    event["detail"]["alarmName"] = name
    event["resources"] = [f"arn:aws:cloudwatch:{T.REGION}:{T.ACCOUNT}:alarm:{name}"]
    event["account"] = T.ACCOUNT
    metric = event["detail"]["configuration"]["metrics"][0]["metricStat"]["metric"]
    metric.update(namespace=alarm["Namespace"], name=alarm["MetricName"],
                  dimensions={d["Name"]: d["Value"] for d in alarm["Dimensions"]})
    event["detail"]["state"]["value"] = "ALARM"
    return event


def check(template: dict | None = None, stack_sam: dict | None = None) -> list[str]:
    from moto.events.models import EventPattern

    template = template if template is not None else T.load_sam(ALARMS)
    problems = []
    if evaluate(template, {"Application": "web"}):
        problems.append("alarms exist when no resource is given: each kind needs its parameters")
    alarms = evaluate(template, GIVEN)
    stack = T.transform(stack_sam if stack_sam is not None else T.load_sam(T.TEMPLATE))
    rules = T.alarm_rules(stack, T.Evaluator(stack))
    prefix = str(template.get("Parameters", {}).get("AlarmNamePrefix", {}).get("Default"))
    stack_prefix = str(stack.get("Parameters", {}).get("AlarmNamePrefix", {}).get("Default"))
    if prefix != stack_prefix:
        problems.append(f"AlarmNamePrefix defaults to {prefix!r}, the stack's to {stack_prefix!r}")
    found: dict[str, int] = {}
    for alarm in alarms:
        kind = kind_of(alarm)
        if kind is None:
            problems.append(f"{alarm['LogicalId']}: not one of the kinds the functions act on ({', '.join(KINDS)})")
            continue
        found[kind] = found.get(kind, 0) + 1
        missing = NEEDS.get(kind, set()) - {d["Name"] for d in alarm["Dimensions"]}
        if missing:
            problems.append(f"{alarm['LogicalId']}: a {kind} alarm without the dimension(s) {', '.join(sorted(missing))}")
        if not alarm["AlarmName"].startswith(stack_prefix):
            problems.append(f"{alarm['LogicalId']}: {alarm['AlarmName']} does not start with {stack_prefix}")
        function = KINDS[kind][2]
        event = event_for(alarm, kind)
        if not any(EventPattern(json.dumps(p), p).matches_event(event) for p in rules.get(function, [])):
            problems.append(f"{alarm['LogicalId']}: {function}'s alarm rule does not match {alarm['AlarmName']}")
    expected = {"zone": len(GIVEN["Zones"]), "instance": len(GIVEN["InstanceIds"])}
    for kind in KINDS:
        want = expected.get(kind, 1)
        if found.get(kind, 0) != want:
            problems.append(f"{want} {kind} alarm(s) expected, {found.get(kind, 0)} declared")
    return problems


class SelfTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.template = T.load_sam(ALARMS)

    def broken(self, mutate) -> list[str]:
        template = copy.deepcopy(self.template)
        mutate(template["Resources"])
        return check(template)

    def test_the_real_template_passes(self):
        self.assertEqual(check(self.template), [])

    def test_each_rule_fires(self):
        zone = lambda r: r["Fn::ForEach::ZoneAlarms"][2]["ZoneErrors&{Zone}"]  # noqa: E731
        cases = [
            (lambda r: r.pop("WriterCommitLatency"), "1 Aurora writer alarm(s) expected, 0 declared"),
            (lambda r: r["PrimaryWriteLatency"]["Properties"].update(AlarmName="orders-write-latency"),
             "does not start with failover-"),
            (lambda r: zone(r)["Properties"].update(Dimensions=[{"Name": "AvailabilityZone", "Value": {"Ref": "Zone"}}]),
             "a zone alarm without the dimension(s) LoadBalancer"),
            (lambda r: r["TargetGroupUnhealthy"].pop("Condition"), "alarms exist when no resource is given"),
            (lambda r: r["PrimaryWriteLatency"]["Properties"].update(
                Dimensions=[{"Name": "DBSomething", "Value": "x"}]), "not one of the kinds"),
        ]
        for mutate, fragment in cases:
            with self.subTest(fragment):
                found = self.broken(mutate)
                self.assertTrue(any(fragment in p for p in found), f"{fragment!r} not in {found}")

    def test_a_stack_with_another_prefix_routes_none_of_them(self):
        stack = T.load_sam(T.TEMPLATE)
        stack["Parameters"]["AlarmNamePrefix"]["Default"] = "prod-failover-"
        found = check(self.template, stack)
        self.assertTrue(any("AlarmNamePrefix defaults to 'failover-', the stack's to 'prod-failover-'" in p
                            for p in found), found)
        self.assertTrue(any("TargetFailoverFunction's alarm rule does not match failover-web-5xx-us-east-1a" in p
                            for p in found), found)
        self.assertTrue(any("DatabaseFailoverFunction's alarm rule does not match" in p for p in found), found)


if __name__ == "__main__":
    sys.exit(check_main.run(sys.argv, "check_alarms", check, "alarms/template.yaml: every kind declared, every alarm routed to its function"))
