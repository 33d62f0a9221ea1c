#!/usr/bin/env python3
"""``make demo``: the real binaries tell the failover story on the local AWS.

Usage
    .venv/bin/python tools/demo.py [--logs DIR] [--keep-logs]

It starts the local AWS (``tools/local_aws/``) and cargo-lambda's Lambda emulator, provisions a small shop in
one account (a load balancer with a ``web`` group of four instances and a ``web-backup`` group, an ``admin``
group sharing one instance with ``web``; a MySQL primary with two read replicas whose lags differ, a Route 53
record clients use to reach it; an Aurora cluster with two readers; the notification topic with a queue
subscribed; ``api-alb`` over three zones, registered with ARC zonal shift), starts
``target/lambda/<function>/bootstrap`` for both functions, and plays six steps. Each step is
one or more real events (shaped like the samples in ``events/``, with this environment's ARNs) sent through the
Invoke API to a real binary. For each step it prints the state before and after, the function's answer, and the
notifications as the subscriber received them; then it checks the outcome. The exit status is 0 only when every
step turned out as expected.

The bootstraps must exist: ``make demo`` builds them first with ``make lambda-build`` (the functions' binaries
as the tests build them, linked into ``target/lambda/``; see the Makefile).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import textwrap
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import lambda_local as L  # noqa: E402

ACCOUNT = "123456789012"  # the account of the samples in events/, so the RDS samples work as they are
REGION = L.REGION
EVENTS = L.ROOT / "events"
OPT_IN = {"Key": "failover:enabled", "Value": "true"}

# --------------------------------------------------------------------------- events, from the samples


def sample(name: str) -> dict:
    return json.loads((EVENTS / name).read_text())


def _now(fmt: str = "%Y-%m-%dT%H:%M:%SZ") -> str:
    return dt.datetime.now(dt.timezone.utc).strftime(fmt)


def _alarm_timestamp() -> str:
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def _fill_alarm(detail: dict, name: str, state: str, namespace: str, metric: str, dimensions: dict[str, str],
                description: str, reason: str) -> None:
    detail["alarmName"] = name
    previous = "ALARM" if state == "OK" else "OK"
    detail["state"].update(value=state, reason=reason, timestamp=_alarm_timestamp())
    detail["previousState"]["value"] = previous
    detail["configuration"]["description"] = description
    stat = detail["configuration"]["metrics"][0]["metricStat"]
    stat["metric"] = {"namespace": namespace, "name": metric, "dimensions": dimensions}


def alarm_eventbridge(account: str, name: str, state: str, namespace: str, metric: str,
                      dimensions: dict[str, str], description: str, reason: str) -> dict:
    """A CloudWatch alarm state change as EventBridge delivers it (``events/alarm-eventbridge-*.json``)."""
    event = sample("alarm-eventbridge-target-group.json")
    event.update(id=str(uuid.uuid4()), account=account, time=_now(), region=REGION,
                 resources=[f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{name}"])
    _fill_alarm(event["detail"], name, state, namespace, metric, dimensions, description, reason)
    return event


def alarm_action(account: str, name: str, state: str, namespace: str, metric: str, dimensions: dict[str, str],
                 description: str, reason: str) -> dict:
    """The same change as a direct Lambda alarm action (``events/alarm-action-*.json``)."""
    event = sample("alarm-action-aurora-cluster.json")
    event.update(alarmArn=f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{name}", accountId=account,
                 time=_alarm_timestamp(), region=REGION)
    _fill_alarm(event["alarmData"], name, state, namespace, metric, dimensions, description, reason)
    return event


def alarm_sns(account: str, name: str, state: str, namespace: str, metric: str, dimensions: dict[str, str],
              description: str, reason: str) -> dict:
    """The same change through an SNS topic (``events/alarm-sns-*.json``): the alarm is a JSON string, its
    dimensions a list, its region a display name."""
    event = sample("alarm-sns-target-group.json")
    sns = event["Records"][0]["Sns"]
    message = json.loads(sns["Message"])
    message.update(AlarmName=name, AlarmDescription=description, AWSAccountId=account, NewStateValue=state,
                   OldStateValue="ALARM" if state == "OK" else "OK", NewStateReason=reason,
                   StateChangeTime=_alarm_timestamp(), AlarmArn=f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{name}")
    message["Trigger"].update(MetricName=metric, Namespace=namespace,
                              Dimensions=[{"value": v, "name": k} for k, v in dimensions.items()])
    topic = f"arn:aws:sns:{REGION}:{account}:failover-alarms"
    message["AlarmActions"] = [topic]
    sns.update(MessageId=str(uuid.uuid4()), TopicArn=topic, Message=json.dumps(message),
               Timestamp=_now("%Y-%m-%dT%H:%M:%S.000Z"))
    event["Records"][0]["EventSubscriptionArn"] = f"{topic}:{uuid.uuid4()}"
    return event


def rds_instance_event(account: str, db_id: str, event_id: str, message: str, tags: dict[str, str]) -> dict:
    """An RDS instance event through EventBridge (``events/rds-instance-failure.json``)."""
    event = sample("rds-instance-failure.json")
    arn = f"arn:aws:rds:{REGION}:{account}:db:{db_id}"
    event.update(id=str(uuid.uuid4()), account=account, time=_now(), region=REGION, resources=[arn])
    event["detail"].update(SourceArn=arn, SourceIdentifier=f"rds:{db_id}", EventID=event_id, Message=message,
                           Date=_now("%Y-%m-%dT%H:%M:%S.000Z"), Tags=tags)
    return event


def arn_suffix(arn: str) -> str:
    """``targetgroup/web/<id>`` from a target group ARN: the form ELB metric dimensions use."""
    return arn.split(":", 5)[5]


# --------------------------------------------------------------------------- the environment


@dataclass
class Env:
    """What ``provision`` created, by the names the story uses."""

    account: str
    aws: L.LocalAws
    subscriber: L.Subscriber
    lb_arn: str = ""
    listener_arn: str = ""
    groups: dict[str, str] = field(default_factory=dict)  # name -> ARN
    instances: dict[str, str] = field(default_factory=dict)  # role (web-1 ...) -> instance id
    zone_id: str = ""
    record: str = "writer.orders.internal"
    # The zonal part: a second load balancer over three zones, registered with ARC zonal shift.
    api_lb_arn: str = ""
    zones: dict[str, str] = field(default_factory=dict)  # zone name -> AZ ID, the load balancer's zones

    def client(self, service: str):
        return self.aws.client(service, self.account)

    def name_of(self, value: str) -> str:
        """A readable name for an instance id or a target group ARN."""
        for role, iid in self.instances.items():
            if iid == value:
                return f"{role} ({iid})"
        for name, arn in self.groups.items():
            if arn == value:
                return name
        return value

    def control(self, path: str, body: dict) -> dict:
        return self.aws.control(path, {"account": self.account, "region": REGION, **body})

    def set_health(self, group: str, roles: list[str], state: str) -> None:
        targets = [{"id": self.instances[r], "state": state} for r in roles]
        self.control("/_failover/elbv2/target-health", {"target_group_arn": self.groups[group], "targets": targets})

    def set_db_status(self, db_id: str, status: str) -> None:
        self.control("/_failover/rds/instance-status", {"db_instance_identifier": db_id, "status": status})


def provision_load_balancer(env: Env) -> None:
    elb = env.client("elbv2")
    net = env.aws.network(env.account)
    roles = ["web-1", "web-2", "web-3", "web-4", "backup-1", "backup-2", "admin-1", "admin-2"]
    env.instances = dict(zip(roles, env.control("/_failover/ec2/instances", {"count": len(roles)})["instance_ids"]))
    env.lb_arn = elb.create_load_balancer(Name="shop-alb", Subnets=net["subnet_ids"][:2])["LoadBalancers"][0][
        "LoadBalancerArn"]
    for name in ("web", "web-backup", "admin"):
        env.groups[name] = elb.create_target_group(
            Name=name, Protocol="HTTP", Port=80, VpcId=net["vpc_id"], TargetType="instance",
            HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
    elb.add_tags(ResourceArns=[env.groups["web"]],
                 Tags=[OPT_IN, {"Key": "failover:backup-target-group", "Value": env.groups["web-backup"]}])
    elb.add_tags(ResourceArns=[env.groups["web-backup"], env.groups["admin"]], Tags=[OPT_IN])
    members = {"web": ["web-1", "web-2", "web-3", "web-4"], "web-backup": ["backup-1", "backup-2"],
               "admin": ["web-1", "admin-1", "admin-2"]}
    for group, roles in members.items():
        elb.register_targets(TargetGroupArn=env.groups[group], Targets=[{"Id": env.instances[r]} for r in roles])
    env.listener_arn = elb.create_listener(
        LoadBalancerArn=env.lb_arn, Protocol="HTTP", Port=80,
        DefaultActions=[{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": env.groups["web"], "Weight": 100},
            {"TargetGroupArn": env.groups["web-backup"], "Weight": 0}]}}])["Listeners"][0]["ListenerArn"]
    # The listener whose traffic the shift moves opts in too: IAM lets ModifyListener change only a listener
    # that carries the tag, and target-failover refuses (or leaves out) a listener without it.
    elb.add_tags(ResourceArns=[env.listener_arn], Tags=[OPT_IN])
    elb.create_listener(LoadBalancerArn=env.lb_arn, Protocol="HTTP", Port=8080,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": env.groups["admin"]}])


def provision_zonal(env: Env) -> None:
    """``api-alb`` over three zones, registered with ARC zonal shift (its attribute zonal_shift.config.enabled) and
    opted in, forwarding to the opted-in group ``api``: two instances in each zone."""
    elb, ec2 = env.client("elbv2"), env.client("ec2")
    net = env.aws.network(env.account)
    subnets = ec2.describe_subnets(SubnetIds=net["subnet_ids"])["Subnets"]
    subnets = sorted(subnets, key=lambda s: s["AvailabilityZone"])[:3]
    env.zones = {s["AvailabilityZone"]: s["AvailabilityZoneId"] for s in subnets}
    env.api_lb_arn = elb.create_load_balancer(Name="api-alb", Subnets=[s["SubnetId"] for s in subnets])[
        "LoadBalancers"][0]["LoadBalancerArn"]
    elb.modify_load_balancer_attributes(LoadBalancerArn=env.api_lb_arn, Attributes=[
        {"Key": "zonal_shift.config.enabled", "Value": "true"}])
    env.groups["api"] = elb.create_target_group(
        Name="api", Protocol="HTTP", Port=80, VpcId=net["vpc_id"], TargetType="instance",
        HealthCheckPath="/health")["TargetGroups"][0]["TargetGroupArn"]
    elb.add_tags(ResourceArns=[env.api_lb_arn, env.groups["api"]], Tags=[OPT_IN])
    for zone in env.zones:
        ids = env.control("/_failover/ec2/instances", {"count": 2, "zone": zone})["instance_ids"]
        for n, iid in enumerate(ids, 1):
            env.instances[f"api-{zone[-1]}{n}"] = iid
        elb.register_targets(TargetGroupArn=env.groups["api"], Targets=[{"Id": i} for i in ids])
    elb.create_listener(LoadBalancerArn=env.api_lb_arn, Protocol="HTTP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": env.groups["api"]}])


def provision_databases(env: Env) -> None:
    rds, cw, r53 = env.client("rds"), env.client("cloudwatch"), env.client("route53")
    common = dict(Engine="mysql", DBInstanceClass="db.t3.micro")
    rds.create_db_instance(DBInstanceIdentifier="orders-primary", AllocatedStorage=20, MasterUsername="admin",
                           MasterUserPassword="demo-password-1", BackupRetentionPeriod=7,
                           Tags=[OPT_IN, {"Key": "team", "Value": "orders"}], **common)
    # Replicas opt in too: database-failover promotes only opted-in replicas.
    # The lagging replica is created first, so "the first replica" would be the wrong answer.
    for replica in ("orders-replica-1", "orders-replica-2"):
        rds.create_db_instance_read_replica(DBInstanceIdentifier=replica, SourceDBInstanceIdentifier="orders-primary",
                                            DBInstanceClass="db.t3.micro",
                                            Tags=[OPT_IN, {"Key": "team", "Value": "orders"}])
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    lags = {"orders-replica-1": [18.0, 24.0, 21.0], "orders-replica-2": [0.4, 1.2, 0.8]}
    cw.put_metric_data(Namespace="AWS/RDS", MetricData=[
        {"MetricName": "ReplicaLag", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": db}], "Value": v,
         "Unit": "Seconds", "Timestamp": now - dt.timedelta(seconds=60 * (i + 1))}
        for db, values in lags.items() for i, v in enumerate(values)])
    primary = rds.describe_db_instances(DBInstanceIdentifier="orders-primary")["DBInstances"][0]
    env.zone_id = r53.create_hosted_zone(Name="orders.internal", CallerReference=f"demo-{env.account}")[
        "HostedZone"]["Id"].rsplit("/", 1)[-1]
    r53.change_resource_record_sets(HostedZoneId=env.zone_id, ChangeBatch={"Changes": [{
        "Action": "UPSERT", "ResourceRecordSet": {"Name": env.record, "Type": "CNAME", "TTL": 30,
                                                  "ResourceRecords": [{"Value": primary["Endpoint"]["Address"]}]}}]})
    # The record belongs to its primary: the primary's tag names it, and only its failover repoints it.
    rds.add_tags_to_resource(ResourceName=primary["DBInstanceArn"],
                             Tags=[{"Key": "failover:dns-record", "Value": f"{env.zone_id}/{env.record}"}])

    rds.create_db_cluster(DBClusterIdentifier="catalog-cluster", Engine="aurora-mysql", MasterUsername="admin",
                          MasterUserPassword="demo-password-1", Tags=[OPT_IN])
    # Creation order: the writer, then a tier-2 reader, then the tier-0 reader Aurora should pick.
    for name, tier in (("catalog-writer", 1), ("catalog-reader-a", 2), ("catalog-reader-b", 0)):
        rds.create_db_instance(DBInstanceIdentifier=name, DBClusterIdentifier="catalog-cluster",
                               Engine="aurora-mysql", DBInstanceClass="db.r6g.large", PromotionTier=tier,
                               Tags=[OPT_IN])
    cw.put_metric_data(Namespace="AWS/RDS", MetricData=[
        {"MetricName": "AuroraReplicaLag", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": db}],
         "Value": v, "Unit": "Milliseconds", "Timestamp": now - dt.timedelta(seconds=60)}
        for db, v in (("catalog-reader-a", 12.0), ("catalog-reader-b", 20.0))])


def provision(aws: L.LocalAws, account: str = ACCOUNT, load_balancer: bool = True, databases: bool = True) -> Env:
    """The demo's environment in ``account`` (the end-to-end tests provide only the part they need)."""
    env = Env(account, aws, L.Subscriber(aws, account))
    if load_balancer:
        provision_load_balancer(env)
        provision_zonal(env)
    if databases:
        provision_databases(env)
    return env


def settings(env: Env, function: str) -> dict[str, str]:
    """The functions' settings: the defaults, plus the topic, the ledger table (created as the template declares
    it), and a floor of two healthy
    targets per group (``MIN_HEALTHY_TARGETS=2``; the default 1 would let a series of gray failures empty a
    small group down to one target)."""
    ledger = env.control("/_failover/dynamodb/ledger-table", {})["table_name"]
    common = {"NOTIFICATION_TOPIC_ARN": env.subscriber.topic_arn, "LEDGER_TABLE": ledger}
    if function == "target-failover":
        common["MIN_HEALTHY_TARGETS"] = "2"
    return common


# --------------------------------------------------------------------------- views of the state


def target_health(env: Env, group: str) -> dict[str, str]:
    """instance id -> health state of one group (moto lists only registered targets)."""
    descriptions = env.client("elbv2").describe_target_health(TargetGroupArn=env.groups[group])[
        "TargetHealthDescriptions"]
    return {d["Target"]["Id"]: d["TargetHealth"]["State"] for d in descriptions}


def listener_weights(env: Env) -> dict[str, int]:
    listener = env.client("elbv2").describe_listeners(ListenerArns=[env.listener_arn])["Listeners"][0]
    weights: dict[str, int] = {}
    for action in listener["DefaultActions"]:
        for group in (action.get("ForwardConfig") or {}).get("TargetGroups", []):
            weights[env.name_of(group["TargetGroupArn"])] = group.get("Weight", 1)
    return weights


def db_instance(env: Env, db_id: str) -> dict:
    return env.client("rds").describe_db_instances(DBInstanceIdentifier=db_id)["DBInstances"][0]


def cname(env: Env) -> str:
    records = env.client("route53").list_resource_record_sets(HostedZoneId=env.zone_id)["ResourceRecordSets"]
    for record in records:
        if record["Type"] == "CNAME" and record["Name"].rstrip(".") == env.record:
            return record["ResourceRecords"][0]["Value"]
    return "(none)"


def cluster_members(env: Env) -> dict[str, tuple[bool, int]]:
    cluster = env.client("rds").describe_db_clusters(DBClusterIdentifier="catalog-cluster")["DBClusters"][0]
    return {m["DBInstanceIdentifier"]: (m["IsClusterWriter"], m["PromotionTier"]) for m in cluster["DBClusterMembers"]}


def show_targets(env: Env, groups=("web", "admin", "web-backup")) -> list[str]:
    lines = []
    for group in groups:
        health = target_health(env, group)
        cells = [f"{env.name_of(i).split(' ')[0]}={state}" for i, state in sorted(
            health.items(), key=lambda kv: env.name_of(kv[0]))] or ["(no targets)"]
        lines.append(f"{group:<11} {', '.join(cells)}")
    weights = listener_weights(env)
    lines.append("listener    :80 forwards " + ", ".join(f"{g} {w}" for g, w in weights.items()))
    return lines


def show_orders(env: Env) -> list[str]:
    lines = []
    for db_id in ("orders-primary", "orders-replica-1", "orders-replica-2"):
        db = db_instance(env, db_id)
        source = db.get("ReadReplicaSourceDBInstanceIdentifier")
        role = f"replica of {source}" if source else "primary"
        replicas = db.get("ReadReplicaDBInstanceIdentifiers") or []
        extra = f", replicas {', '.join(replicas)}" if replicas else ""
        lines.append(f"{db_id:<17} {db['DBInstanceStatus']:<10} {role}{extra}"
                     f" (backups {db.get('BackupRetentionPeriod', 0)} d)")
    lines.append(f"{env.record} CNAME {cname(env)}")
    lines += [f"ledger {r}" for r in ledger_records(env, f"db-instance:{REGION}/orders-primary")]
    return lines


def ledger_records(env: Env, resource: str) -> list[str]:
    """The resource's records in the ledger table, as `aws dynamodb query` shows them (the lease aside)."""
    table = env.control("/_failover/dynamodb/ledger-table", {})["table_name"]
    items = env.client("dynamodb").query(
        TableName=table, ConsistentRead=True, KeyConditionExpression="pk = :r",
        ExpressionAttributeValues={":r": {"S": resource}})["Items"]
    return [f"{i['sk']['S']}: {i['state']['S']} ({i['trigger']['S']})" for i in items if i["sk"]["S"] != "lease"]


def active_shifts(env: Env) -> list[dict]:
    """api-alb's active zonal shifts, as ARC lists them."""
    arc = env.client("arc-zonal-shift")
    return arc.list_zonal_shifts(status="ACTIVE", resourceIdentifier=env.api_lb_arn)["items"]


def show_zonal(env: Env) -> list[str]:
    """api-alb's zonal state (ARC's GetManagedResource) and the api group's targets per zone."""
    resource = env.client("arc-zonal-shift").get_managed_resource(resourceIdentifier=env.api_lb_arn)
    names = {v: k for k, v in env.zones.items()}
    weights = ", ".join(f"{names.get(az, az)} ({az}) {w:g}" for az, w in sorted(resource["appliedWeights"].items()))
    lines = [f"api-alb traffic weights: {weights}"]
    shifts = resource.get("zonalShifts", []) + resource.get("autoshifts", [])
    for shift in shifts:
        lines.append(f"  shift away from {names.get(shift['awayFrom'], shift['awayFrom'])} ({shift['awayFrom']}), "
                     f"{shift.get('appliedStatus', 'APPLIED')}, comment {shift.get('comment', '')!r}")
    if not shifts:
        lines.append("  no zonal shift")
    health = target_health(env, "api")
    for zone in env.zones:
        cells = [f"{r}={health.get(i, 'deregistered')}" for r, i in env.instances.items() if r.startswith(f"api-{zone[-1]}")]
        lines.append(f"  {zone}: {', '.join(cells)}")
    return lines


def show_catalog(env: Env) -> list[str]:
    return [f"{name:<16} {'writer' if writer else 'reader'} (promotion tier {tier})"
            for name, (writer, tier) in cluster_members(env).items()]


# --------------------------------------------------------------------------- printing


def indent(lines: list[str], prefix: str = "    ") -> str:
    return "\n".join(prefix + line for line in lines)


def wrap(text: str, prefix: str) -> str:
    # ARNs and ids stay whole: no breaks at their hyphens.
    return textwrap.fill(text, width=110, initial_indent=prefix, subsequent_indent=" " * len(prefix),
                         break_on_hyphens=False, break_long_words=False)


def show_notification(n: L.Notification) -> str:
    body = n.body
    lines = [f"    >> {n.subject}",
             f"       outcome={n.outcome or '?'}  severity={n.severity or '?'}  action={n.action or '?'}"]
    summary = body.get("summary") or (body.get("content") or {}).get("description") or body.get("raw", "")
    if summary:
        lines.append(wrap(str(summary), "       "))
    for step in body.get("next_steps") or (body.get("content") or {}).get("nextSteps") or []:
        lines.append(wrap(str(step), "       - next: "))
    return "\n".join(lines)


def show_answer(inv: L.Invocation) -> str:
    payload = inv.payload
    if isinstance(payload, dict) and inv.ok:
        text = f"{payload.get('status')}, {payload.get('action')}: {payload.get('message')}"
    elif isinstance(payload, dict):
        text = f"error {payload.get('errorType')}: {payload.get('errorMessage')}"
    else:
        text = f"HTTP {inv.http_status}: {str(payload)[:300]}"
    return wrap(text, f"    {inv.function} answered in {inv.seconds * 1000:.0f} ms: ")


# --------------------------------------------------------------------------- the story


class StepFailed(Exception):
    pass


@dataclass
class Result:
    title: str
    problems: list[str]
    seconds: float
    pending: bool = False


class Story:
    def __init__(self, stack: L.Stack, env: Env):
        self.stack = stack
        self.env = env
        self.results: list[Result] = []
        # Set when a function answers "not handled yet": the behaviour has not landed.
        self.pending = False

    # Helpers used by the steps -------------------------------------------------------------

    def send(self, function: str, label: str, event: dict) -> tuple[L.Invocation, list[L.Notification]]:
        print(f"\n  -> {label}")
        inv = self.stack.invoke(function, event)
        print(show_answer(inv))
        if isinstance(inv.payload, dict) and "not handled yet" in str(inv.payload.get("message", "")):
            self.pending = True
        notes = self.env.subscriber.drain()
        if notes:
            print("    the subscriber received:")
            for n in notes:
                print(show_notification(n))
        else:
            print("    the subscriber received nothing")
        return inv, notes

    @staticmethod
    def expect(problems: list[str], what: str, got, want) -> None:
        if got != want:
            problems.append(f"{what}: expected {want!r}, got {got!r}")

    @staticmethod
    def expect_outcomes(problems: list[str], notes: list[L.Notification], want: list[str]) -> None:
        got = sorted(n.outcome for n in notes)
        if got != sorted(want):
            problems.append(f"notification outcomes: expected {sorted(want)}, got {got}")

    def step(self, title: str, story: str, show, body) -> None:
        print("\n" + "=" * 110)
        print(title)
        print(wrap(story, "  "))
        print("  before:")
        print(indent(show()))
        started = time.monotonic()
        self.pending = False
        problems: list[str] = []
        try:
            body(problems)
        except Exception as e:  # a step that crashes is a failed step, the story goes on
            problems.append(f"{type(e).__name__}: {e}")
        print("  after:")
        try:
            print(indent(show()))
        except Exception as e:
            problems.append(f"reading the state after: {e}")
        for name, function in self.stack.functions.items():
            if not function.alive():
                problems.append(f"{name} is no longer running")
        if self.pending:
            problems.insert(0, "PENDING: the function does not handle this event yet")
        verdict = "as expected" if not problems else "NOT AS EXPECTED"
        print(f"  => {verdict}")
        for p in problems:
            print(f"     - {p}")
        self.results.append(Result(title, problems, time.monotonic() - started, self.pending))

    # The steps --------------------------------------------------------------------------

    def gray_failure(self, role: str, delivery: str, state: str = "ALARM") -> tuple[L.Invocation, list[L.Notification]]:
        """The 5xx alarm of one instance enters ALARM (or returns to OK), through EventBridge or SNS."""
        iid = self.env.instances[role]
        alarm = f"shop-{iid}-5xx"
        reason = ("Threshold Crossed: 1 out of the last 1 datapoints [38.0] was greater than the threshold (5.0)."
                  if state == "ALARM" else
                  "Threshold Crossed: 1 out of the last 1 datapoints [0.0] was not greater than the threshold (5.0).")
        args = (self.env.account, alarm, state, "Shop/Web", "Http5xxRate", {"InstanceId": iid},
                f"HTTP 5xx from {role} (a failure health checks miss)", reason)
        event = alarm_eventbridge(*args) if delivery == "EventBridge" else alarm_sns(*args)
        verb = "enters ALARM" if state == "ALARM" else "returns to OK"
        return self.send("target-failover", f"alarm {alarm} ({role}) {verb} ({delivery})", event)

    def step1_gray_failure(self) -> None:
        env = self.env
        web1 = env.instances["web-1"]

        def body(problems):
            inv, notes = self.gray_failure("web-1", "EventBridge")
            self.expect(problems, "status", inv.status, "succeeded")
            self.expect(problems, "web-1 registered in web", web1 in target_health(env, "web"), False)
            self.expect(problems, "web-1 registered in admin", web1 in target_health(env, "admin"), False)
            self.expect(problems, "targets left in web", len(target_health(env, "web")), 3)
            self.expect(problems, "targets left in admin", len(target_health(env, "admin")), 2)
            # One notification for the event, listing both groups.
            self.expect_outcomes(problems, notes, ["succeeded"])
            entries = notes[0].body.get("details", {}).get("entries", []) if notes else []
            self.expect(problems, "groups listed in the notification", len(entries), 2)

        self.step("1. One instance fails in a way health checks miss",
                  "web-1 passes its health check but answers customers with HTTP 500. Its 5xx alarm fires; "
                  "target-failover takes it out of every opted-in group it serves: web and admin, "
                  "and says so in one notification.",
                  lambda: show_targets(env, ("web", "admin")), body)

    def step2_guardrail(self) -> None:
        env = self.env

        def body(problems):
            inv, notes = self.gray_failure("web-2", "EventBridge")
            self.expect(problems, "status for web-2", inv.status, "succeeded")
            self.expect(problems, "web-2 registered in web", env.instances["web-2"] in target_health(env, "web"),
                        False)
            self.expect_outcomes(problems, notes, ["succeeded"])

            inv, notes = self.gray_failure("web-3", "SNS")
            self.expect(problems, "status for web-3", inv.status, "refused")
            self.expect(problems, "web-3 registered in web", env.instances["web-3"] in target_health(env, "web"),
                        True)
            self.expect(problems, "targets left in web", len(target_health(env, "web")), 2)
            self.expect_outcomes(problems, notes, ["refused"])
            self.expect(problems, "refusal severity", [n.severity for n in notes], ["critical"])

        self.step("2. More targets fail: the guardrail holds the floor",
                  "web-2 starts failing the same way and is taken out: web keeps 2 healthy targets, its floor "
                  "(MIN_HEALTHY_TARGETS=2). Then web-3's alarm arrives through SNS: removing it would leave one, "
                  "below the floor. The function refuses, keeps web-3 in service, and says so with the numbers.",
                  lambda: show_targets(env, ("web",)), body)

    def step3_backup_and_back(self) -> None:
        env = self.env
        alarm = "shop-web-unhealthy-hosts"

        def body(problems):
            left = sorted(target_health(env, "web"))
            roles = [r for r, i in env.instances.items() if i in left]
            env.set_health("web", roles, "unhealthy")
            print(f"\n  ({' and '.join(roles)} now fail their health checks: web has no healthy target)")
            inv, notes = self.send("target-failover", f"alarm {alarm} enters ALARM (EventBridge)",
                                   web_alarm(env, alarm, "ALARM"))
            self.expect(problems, "status of the shift", inv.status, "succeeded")
            self.expect(problems, "weights after the shift", listener_weights(env), {"web": 0, "web-backup": 100})
            self.expect(problems, "web targets kept registered (removing them cannot help)",
                        sorted(target_health(env, "web")), left)
            self.expect_outcomes(problems, notes, ["succeeded"])
            print("\n  during the failover:")
            print(indent(show_targets(env, ("web", "web-backup"))))

            env.set_health("web", roles, "healthy")
            print(f"\n  (web recovers: {' and '.join(roles)} pass their health checks again)")
            inv, notes = self.send("target-failover", f"alarm {alarm} returns to OK (EventBridge)",
                                   web_alarm(env, alarm, "OK"))
            self.expect(problems, "status of the failback", inv.status, "succeeded")
            self.expect(problems, "weights after the failback", listener_weights(env), {"web": 100, "web-backup": 0})
            self.expect_outcomes(problems, notes, ["succeeded"])

        self.step("3. The whole group fails: traffic moves to the backup group, and back",
                  "The last web targets fail their health checks. web can no longer serve and names a backup "
                  "group (tag failover:backup-target-group): the listener sends all traffic to web-backup, and "
                  "the old weights are remembered on web. When the alarm returns to OK and web is healthy again, "
                  "the weights are restored (FAILBACK=auto).",
                  lambda: show_targets(env, ("web", "web-backup")), body)

    def step4_promote(self) -> None:
        env = self.env

        def body(problems):
            env.set_db_status("orders-primary", "failed")
            print("\n  (orders-primary is now in state failed)")
            event = rds_instance_event(env.account, "orders-primary", "RDS-EVENT-0031",
                                       "DB instance put into failed state.", {OPT_IN["Key"]: "true", "team": "orders"})
            inv, notes = self.send("database-failover", "RDS-EVENT-0031 for orders-primary (EventBridge)", event)
            self.expect(problems, "status", inv.status, "succeeded")
            b, a = db_instance(env, "orders-replica-2"), db_instance(env, "orders-replica-1")
            self.expect(problems, "orders-replica-2's source (none once promoted)",
                        b.get("ReadReplicaSourceDBInstanceIdentifier"), None)
            self.expect(problems, "orders-replica-2 backups (days)", b.get("BackupRetentionPeriod"), 7)
            self.expect(problems, "orders-replica-1's source", a.get("ReadReplicaSourceDBInstanceIdentifier"),
                        "orders-primary")
            self.expect(problems, f"{env.record}", cname(env), b["Endpoint"]["Address"])
            self.expect_outcomes(problems, notes, ["succeeded"])

            print("\n  the same event arrives again (EventBridge delivers at least once):")
            inv, notes = self.send("database-failover", "RDS-EVENT-0031 for orders-primary, again", event)
            if inv.status not in ("skipped", "info"):
                problems.append(f"status of the repeat: expected skipped or info, got {inv.status}")
            self.expect(problems, "orders-replica-1's source after the repeat",
                        db_instance(env, "orders-replica-1").get("ReadReplicaSourceDBInstanceIdentifier"),
                        "orders-primary")
            if any(n.outcome in ("succeeded", "failed", "refused") for n in notes):
                problems.append("the repeat produced a change, refusal or failure notification")

        self.step("4. The MySQL primary fails: the low-lag replica is promoted, once",
                  "orders-primary fails (RDS-EVENT-0031). Of its two replicas, orders-replica-1 lagged up to 24 s "
                  "in the last 5 minutes and orders-replica-2 1.2 s: database-failover promotes orders-replica-2 "
                  "with 7 days of backups, records the decision on orders-primary, and repoints the writer CNAME. "
                  "The same event delivered again promotes nothing more.",
                  lambda: show_orders(env), body)

    def step5_aurora(self) -> None:
        env = self.env
        alarm = "catalog-cluster-commit-latency"

        def body(problems):
            inv, notes = self.send("database-failover", f"alarm {alarm} enters ALARM (direct alarm action)",
                                   alarm_action(env.account, alarm, "ALARM", "AWS/RDS", "CommitLatency",
                                                {"DBClusterIdentifier": "catalog-cluster", "Role": "WRITER"},
                                                "Commit latency on the Aurora writer (hung writer)",
                                                "Threshold Crossed: 3 out of the last 3 datapoints were greater "
                                                "than the threshold (2000.0)."))
            self.expect(problems, "status", inv.status, "succeeded")
            writers = [n for n, (w, _) in cluster_members(env).items() if w]
            self.expect(problems, "writer", writers, ["catalog-reader-b"])
            self.expect_outcomes(problems, notes, ["succeeded"])

        self.step("5. The Aurora writer hangs: its alarm fails the cluster over to the best reader",
                  "catalog-writer still reports available but its commits take seconds, so Aurora does not fail "
                  "over by itself. The commit-latency alarm calls database-failover directly (alarm action), "
                  "which fails catalog-cluster over to the reader with the lowest promotion tier, "
                  "catalog-reader-b.",
                  lambda: show_catalog(env), body)

    def step6_zone(self) -> None:
        env = self.env
        zone = sorted(env.zones)[0]
        alarm = f"api-5xx-{zone}"

        def event(state: str) -> dict:
            reason = ("Threshold Crossed: 1 out of the last 1 datapoints [57.0] was greater than the threshold (20.0)."
                      if state == "ALARM" else
                      "Threshold Crossed: 1 out of the last 1 datapoints [0.0] was not greater than the threshold.")
            return alarm_eventbridge(env.account, alarm, state, "AWS/ApplicationELB", "HTTPCode_Target_5XX_Count",
                                     {"LoadBalancer": arn_suffix(env.api_lb_arn).removeprefix("loadbalancer/"),
                                      "AvailabilityZone": zone},
                                     f"Target 5XX responses of api-alb in {zone}", reason)

        def body(problems):
            registered = sorted(target_health(env, "api"))
            inv, notes = self.send("target-failover", f"alarm {alarm} enters ALARM (EventBridge)", event("ALARM"))
            self.expect(problems, "status of the evacuation", inv.status, "succeeded")
            shifts = active_shifts(env)
            self.expect(problems, "active shifts away from", [s["awayFrom"] for s in shifts], [env.zones[zone]])
            self.expect(problems, "api targets (none deregistered)", sorted(target_health(env, "api")), registered)
            self.expect_outcomes(problems, notes, ["succeeded"])
            print("\n  during the evacuation:")
            print(indent(show_zonal(env)))

            print(f"\n  ({zone} recovers)")
            inv, notes = self.send("target-failover", f"alarm {alarm} returns to OK (EventBridge)", event("OK"))
            # Its 5XX count fell because the shift took the zone's traffic away: the OK is no evidence of repair.
            self.expect(problems, "status of the OK (held)", inv.status, "info")
            self.expect(problems, "active shifts during the hold", [s["awayFrom"] for s in active_shifts(env)],
                        [env.zones[zone]])
            self.expect_outcomes(problems, notes, ["info"])

            print(f"\n  (the on-call engineer checks {zone}'s deployment and returns the zone without waiting)")
            inv, notes = self.send("target-failover", "manual command return-zone",
                                   {"command": "return-zone", "load_balancer_arn": env.api_lb_arn})
            self.expect(problems, "status of the return", inv.status, "succeeded")
            self.expect(problems, "active shifts after the return", active_shifts(env), [])
            self.expect_outcomes(problems, notes, ["succeeded"])

        self.step("6. A zone goes bad: it is evacuated with ARC zonal shift, and comes back",
                  f"api-alb spreads the api group over three zones and is registered with ARC zonal shift. A bad "
                  f"deployment in {zone} makes its targets answer HTTP 500 while passing their health checks; the "
                  f"load balancer's per-zone 5XX alarm fires. target-failover checks that the two other zones "
                  f"keep api above its floor and that no other shift is active, then starts a zonal shift away "
                  f"from {zone}'s AZ ID (ZONAL_SHIFT_EXPIRES_MINUTES=180): traffic leaves the zone, no target is "
                  f"deregistered. When the alarm returns to OK, the shift is held for RESTORE_HOLD_MINUTES (its "
                  f"metric counts the traffic the shift took away, so the OK is no proof of repair); a person who "
                  f"has checked the zone returns it with the return-zone command.",
                  lambda: show_zonal(env), body)

    def run(self) -> bool:
        self.step1_gray_failure()
        self.step2_guardrail()
        self.step3_backup_and_back()
        self.step4_promote()
        self.step5_aurora()
        self.step6_zone()
        self.step7_timeline()
        return all(not r.problems for r in self.results)

    def step7_timeline(self) -> None:
        env = self.env
        web = env.groups["web"]

        def body(problems):
            log_start = len(self.stack.functions["target-failover"].log().splitlines())
            last = []
            for role in ("web-1", "web-2"):
                inv, last = self.gray_failure(role, "EventBridge", state="OK")
                self.expect(problems, f"status of {role}'s OK", inv.status, "succeeded")
                self.expect(problems, f"{role} registered in web again",
                            env.instances[role] in target_health(env, "web"), True)
                self.expect_outcomes(problems, last, ["succeeded"])
            self.expect(problems, "targets in web", len(target_health(env, "web")), 4)
            # web-1's OK closed admin's incident (its one removal); web-2's closes web's, with the durations.
            recovered = last[0].body.get("details", {}).get("recovered", {}) if last else {}
            self.expect(problems, "the durations in the notification that closed web's incident",
                        sorted(recovered), ["time_to_mitigate_secs", "time_to_recover_secs"])
            inv, notes = self.send("target-failover", "command timeline on web",
                                   {"command": "timeline", "target_group_arn": web})
            self.expect(problems, "status of timeline", inv.status, "info")
            details = inv.payload.get("details", {}) if isinstance(inv.payload, dict) else {}
            timeline = details.get("timeline", {})
            entries = timeline.get("entries", [])
            times = [e.get("at") for e in entries]
            self.expect(problems, "steps in time order", times, sorted(times))
            # Three records (web-1's and web-2's removals, the listener's shift), each alarm, change, ok, closed.
            whats = [e.get("what") for e in entries]
            self.expect(problems, "timeline steps by kind", {w: whats.count(w) for w in set(whats)},
                        {"alarm": 3, "change": 3, "ok": 3, "closed": 3})
            self.expect(problems, "the durations the timeline and the closing notification give",
                        (timeline.get("time_to_mitigate_secs"), timeline.get("time_to_recover_secs")),
                        (recovered.get("time_to_mitigate_secs"), recovered.get("time_to_recover_secs")))
            mitigate, recover = timeline.get("time_to_mitigate_secs"), timeline.get("time_to_recover_secs")
            if not (isinstance(mitigate, int) and isinstance(recover, int) and 0 <= mitigate <= recover):
                problems.append(f"timeline durations: mitigate {mitigate!r}, recover {recover!r}")
            # The closing notifications' durations as CloudWatch metrics (EMF lines in the function's log).
            log = self.stack.functions["target-failover"].log().splitlines()[log_start:]
            emf = [json.loads(line) for line in log if line.startswith("{") and '"TimeToRecover"' in line]
            self.expect(problems, "TimeToRecover EMF lines (admin's and web's incidents)", len(emf), 2)
            if emf and recovered:
                self.expect(problems, "web's TimeToRecover metric (seconds)", emf[-1].get("TimeToRecover"),
                            float(recovered.get("time_to_recover_secs", -1)))
            print("\n  the incident, as the timeline command tells it:")
            print(indent(details.get("text", [])))
            print("\n  and as a Mermaid diagram (details.mermaid):")
            print(indent(str(details.get("mermaid", "")).splitlines()))

        self.step("7. The incident as a timeline",
                  "web-1 and web-2 are repaired: their 5xx alarms return to OK and they are registered again "
                  "(RESTORE=auto; their alarm's metric is their own, which a removal does not silence, so no "
                  "hold). That closes admin's incident, then web's: each last notification says how long it took "
                  "to mitigate and to recover, and the timeline command lists every step of web's, from the "
                  "ledger.",
                  lambda: show_targets(env, ("web", "admin")), body)


def web_alarm(env: Env, name: str, state: str) -> dict:
    reason = ("Threshold Crossed: 1 out of the last 1 datapoints [3.0] was greater than the threshold (0.0)."
              if state == "ALARM" else
              "Threshold Crossed: 1 out of the last 1 datapoints [0.0] was not greater than the threshold (0.0).")
    return alarm_eventbridge(env.account, name, state, "AWS/ApplicationELB", "UnHealthyHostCount",
                             {"TargetGroup": arn_suffix(env.groups["web"]), "LoadBalancer": arn_suffix(env.lb_arn)},
                             "Unhealthy targets in the web target group", reason)


def serve(stack: L.Stack, env: Env) -> None:
    """Keep the environment up for manual invocations with ``cargo lambda invoke``."""
    port = stack.emulator.port
    invoke = f"cargo lambda invoke --invoke-address 127.0.0.1 --invoke-port {port}"
    web_status = json.dumps({"command": "status", "target_group_arn": env.groups["web"]})
    print(f"""
  serving; the functions' logs are in {stack.log_dir}. Invoke them from another shell (with .venv/bin on PATH):

    {invoke} database-failover --data-file events/manual-database-status.json
    {invoke} database-failover --data-file events/manual-database-promote.json      (dry run)
    {invoke} target-failover --data-ascii '{web_status}'

  Look at the local AWS with the AWS CLI or boto3: endpoint {stack.aws.endpoint}, access key id {env.account}
  (any secret), region {REGION}. Notifications arrive in the SQS queue {env.subscriber.queue_url}.
  Ctrl-C (or end of input) stops everything.
""", flush=True)
    try:
        while sys.stdin.read(1):
            pass
    except KeyboardInterrupt:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--logs", type=Path, default=L.ROOT / "target" / "demo",
                        help="where the processes' logs go (default target/demo)")
    parser.add_argument("--serve", action="store_true",
                        help="provision and start the functions, print how to invoke them by hand, and wait "
                             "(until Ctrl-C or end of input) instead of playing the story")
    args = parser.parse_args()
    started = time.monotonic()
    missing = [f for f in L.FUNCTIONS if not L.bootstrap_path(f).exists()]
    if missing:
        print(f"missing bootstraps for {', '.join(missing)}: run `make lambda-build`")
        return 2
    shutil.rmtree(args.logs, ignore_errors=True)
    print("failover demo: the bootstraps (target/lambda/*/bootstrap) under cargo lambda's Runtime API "
          "emulator, against the local AWS")
    stack = L.Stack.start(args.logs)
    ok = False
    try:
        print(f"  local AWS {stack.aws.endpoint}, account {ACCOUNT}; Lambda emulator http://127.0.0.1:"
              f"{stack.emulator.port}")
        env = provision(stack.aws, ACCOUNT)
        for function in L.FUNCTIONS:
            stack.start_function(function, ACCOUNT, settings(env, function))
        print(f"  environment provisioned and functions started in {time.monotonic() - started:.1f} s; "
              f"logs in {args.logs}")
        if args.serve:
            serve(stack, env)
            return 0
        story = Story(stack, env)
        ok = story.run()
        print("\n" + "=" * 110)
        for r in story.results:
            mark = "ok     " if not r.problems else "PENDING" if r.pending else "FAIL   "
            print(f"  {mark} {r.title} ({r.seconds:.1f} s)")
        print(f"demo {'passed' if ok else 'FAILED'} in {time.monotonic() - started:.1f} s")
        if not ok:
            for name, function in stack.functions.items():
                print(f"\n--- last lines of {name}'s log ({function.process.log_path}):")
                print(indent(function.log().splitlines()[-25:]))
    finally:
        stack.close()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
