#!/usr/bin/env python3
"""``make bench``: speed, size, memory and AWS API calls of the release binaries, against the local AWS.

Usage
    .venv/bin/python benches/bench.py [--out BENCHMARKS.md] [--logs DIR] [--quick] [--only group_4 storm ...]

What runs
    * ``tools/local_aws/`` (through ``tools/lambda_local.LocalAws``), whose call log counts every AWS API call
      per account and the server time spent answering it. One account per scenario. The functions reach it
      through ``benches/wire_proxy.py``, which times each of their calls on the wire.
    * ``benches/runtime_api.py``: a Runtime API of our own (TCP_NODELAY, keep-alive, one segment per answer)
      that starts each ``target/lambda-release/<function>/bootstrap`` (the release profile, as shipped, from
      ``make lambda-build-release``) and stamps process start, first ``next`` (ready),
      each event written and each response read. One Runtime API per process.
    * ``benches/baseline/``: the target-group scenario written as a user would otherwise write it, a Python
      handler with boto3, under the same Runtime API, against the same local AWS, in the same run.

Scenarios (each in its own account; the events are built by ``tools/demo.py`` from the samples in ``events/``)
    group-4        a group of 4 targets, 1 unhealthy: cold starts (the scenario event first), then warm
                   invocations, the failing target re-registered and marked unhealthy again between them.
    no-call        an event that is not the function's (EC2 state change): no AWS call, so its latency is the
                   overhead of the runtime loop, intake, decision and response.
    group-1000     a group of 1,000 targets, 200 unhealthy.
    instance-3x4   an instance alarm, the instance failing in each of 3 opted-in groups of 4 targets: target-failover
                   and the Python baseline side by side (warm, state restored between invocations).
    instance-200   an instance alarm (gray failure) for an instance registered in 50 opted-in groups out of 200
                   (it is also in 50 of the 150 groups that did not opt in).
    storm-500      500 alarm events in a row for one group (the first acts, the other 499 find nothing to do).
    pause-storm    200 alarm events over 20 opted-in groups of 4 (1 or 2 targets failing in each), drained by 5
                   processes at once (``benches/slots.py``: the template's reserved concurrency, Lambda's async
                   queue), and a ``pause`` command submitted after the 20th event, ahead of the queue: the time
                   to its answer, and that nothing changed after it.
    replicas-5     an RDS failure event for an opted-in primary with 5 replicas (cold start, promotion), then
                   warm ``status`` commands on it.

Nothing here asserts a timing: the figures go into the report next to the product's targets, with what is not
met said plainly. The exit status is non-zero only when the harness could not measure (a scenario crashed).
Every process started is stopped; only 127.0.0.1 is used.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import functools
import io
import itertools
import json
import math
import os
import platform
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(HERE))
import demo  # noqa: E402  (event builders shaped like the samples in events/)
import lambda_local as L  # noqa: E402  (the local AWS launcher and its clients)
from runtime_api import Invocation, Process, RuntimeApi  # noqa: E402
from slots import Slots, Ticket  # noqa: E402
from wire_proxy import Call, WireProxy, round_trips  # noqa: E402
from wire_proxy import _headers as http_headers  # noqa: E402

REGION = L.REGION
FUNCTIONS = L.FUNCTIONS
OPT_IN = demo.OPT_IN
PYTHON = L.VENV_BIN / "python"
_accounts = itertools.count(730000000001)
# `make lambda-build-release` writes the release profile's bootstraps here; target/lambda/ holds the dev-profile
# binaries that e2e and the demo run (Makefile), which this report must not measure.
RELEASE_DIR = ROOT / "target" / "lambda-release"


def bootstrap_path(name: str) -> Path:
    return RELEASE_DIR / name / "bootstrap"


# --------------------------------------------------------------------------- numbers


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    if seconds != seconds:  # nan
        return "n/a"
    return f"{seconds * 1000:.1f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"


def yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def mb(size_bytes: float, digits: int = 1) -> str:
    """Sizes in decimal megabytes (10^6 bytes): the stricter reading of the targets' "MB"."""
    return f"{size_bytes / 1e6:.{digits}f} MB"


def mib(kib: int) -> str:
    return mb(kib * 1024)


# --------------------------------------------------------------------------- the local AWS's call log


Calls = dict[str, tuple[int, float]]  # "service:Action" -> (count, the local AWS's server seconds)


def read_calls(aws: MeasuredAws, account: str) -> Calls:
    status, answer = L.http_json(aws.port, "GET", f"/_failover/calls?account={account}")
    if status != 200:
        raise RuntimeError(f"call log of {account}: {status} {answer}")
    return {f"{c['service']}:{c['action']}": (c["count"], c["seconds"]) for c in answer["calls"]}


def calls_since(before: Calls, after: Calls) -> Calls:
    out = {}
    for key, (count, seconds) in after.items():
        count0, seconds0 = before.get(key, (0, 0.0))
        if count > count0:
            out[key] = (count - count0, seconds - seconds0)
    return out


def proxy_delay(aws: "MeasuredAws", samples: int = 50) -> list[float]:
    """The wire proxy's own delay per call outside its spans (its wake-up on a request), as a raw-socket
    client on a kept-alive connection sees it: round trip minus span. A calibration, not a figure of the
    functions; own times are reported with and without it."""
    account = str(next(_accounts))
    body = b"Action=ListTopics&Version=2010-03-31"
    request = (b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
               b"Authorization: AWS4-HMAC-SHA256 Credential=" + account.encode() + b"/20240101/" + REGION.encode()
               + b"/sns/aws4_request, SignedHeaders=host, Signature=0\r\nContent-Length: "
               + str(len(body)).encode() + b"\r\n\r\n" + body)
    delays = []
    with socket.create_connection(("127.0.0.1", aws.wire.port), timeout=30) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(samples + 1):
            started = time.monotonic()
            sock.sendall(request)
            answer = b""
            while b"</ListTopicsResponse>" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    raise RuntimeError("the wire proxy closed the calibration connection")
                answer += chunk
            finished = time.monotonic()
            delays.append(finished - started - aws.wire.seconds_between(started, finished))
    return delays[1:]  # the first call builds the account's backend


@functools.cache
def _identify_call():
    """``tools/local_aws/calls.identify_call``: the proxy's calls are named as the call log names them. Imported on
    first use (it brings moto into the harness process, which never serves with it)."""
    from local_aws.calls import identify_call
    return identify_call


def call_name(call: Call) -> tuple[str, str]:
    """(service, action) of a call the wire proxy relayed."""
    start, *_ = call.head.split(b"\r\n", 1)
    method, target, _ = (start.decode("latin-1") + "  ").split(" ", 2)
    path, _, query = target.partition("?")
    headers = http_headers(call.head)
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
               "CONTENT_TYPE": headers.get("content-type", ""), "CONTENT_LENGTH": str(len(call.body)),
               "wsgi.input": io.BytesIO(call.body),
               **{"HTTP_" + name.upper().replace("-", "_"): value for name, value in headers.items()}}
    return _identify_call()(environ)


# Calls that change nothing on the user's resources: reads, the ledger's own table and the notification.
NOT_A_CHANGE = ("Describe", "List", "Get")
OWN_SERVICES = ("dynamodb", "sns")


def is_change(service: str, action: str) -> bool:
    """A call that changes the user's resources (DeregisterTargets, ModifyListener, StartZonalShift,
    PromoteReadReplica...)."""
    return service not in OWN_SERVICES and not action.startswith(NOT_A_CHANGE)


@dataclass
class CriticalPath:
    """An invocation's critical path to its first change: the round trips before it (``wire_proxy.round_trips``:
    calls that overlap in time are one round trip), each the actions of its calls, and the time from the event
    to the change's first request byte."""

    trips: tuple[tuple[str, ...], ...]
    change: str
    seconds: float

    def text(self, shown: int = 12) -> str:
        """``Query → TransactWriteItems → (DescribeTargetHealth ×3) → ... → **DeregisterTargets**``; a long path
        shows its first ``shown`` round trips."""
        steps = []
        for trip in self.trips[:shown]:
            counted = collections.Counter(trip)
            inner = " + ".join(a if n == 1 else f"{a} ×{n}" for a, n in sorted(counted.items()))
            steps.append(inner if len(trip) == 1 else f"({inner})")
        if len(self.trips) > shown:
            steps.append(f"… {len(self.trips) - shown} more")
        return " → ".join(steps + [f"**{self.change}**"])


def path_to_change(calls: list[Call], dispatched: float) -> CriticalPath | None:
    """The critical path before the first change among ``calls`` (one invocation's), or None without a change."""
    named = [(call, *call_name(call)) for call in calls]
    first = next(((c, action) for c, service, action in named if is_change(service, action)), None)
    if first is None:
        return None
    change, action = first
    before = [c for c in calls if c.end <= change.start]  # one still in flight is beside the change
    names = {id(c): a for c, _, a in named}
    trips = tuple(tuple(sorted(names[id(c)] for c in trip)) for trip in round_trips(before))
    return CriticalPath(trips, action, change.start - dispatched)


class MeasuredAws(L.LocalAws):
    """The local AWS, and the wire proxy the functions reach it through (the harness's calls go direct)."""

    def __init__(self, log_dir: Path):
        super().__init__(log_dir)
        try:
            self.wire = WireProxy(self.port)
        except BaseException:
            super().stop()
            raise

    def stop(self) -> None:
        self.wire.close()
        super().stop()


# --------------------------------------------------------------------------- functions under the Runtime API


@dataclass
class Cold:
    ready: float  # process start -> first `next`
    first_response: float  # process start -> first response read
    invocation: Invocation


class Function:
    """A bootstrap (Rust) or the Python baseline, started against a fresh RuntimeApi for each process."""

    def __init__(self, label: str, name: str, cmd: list[str], env: dict[str, str], log_dir: Path):
        self.label, self.name, self.cmd, self.env, self.log_dir = label, name, cmd, env, log_dir
        self.api: RuntimeApi | None = None
        self.process: Process | None = None

    def start(self, first_event=None, timeout: float = 60) -> Cold | None:
        """A new process (a cold start); with ``first_event``, that event is waiting for its first `next`."""
        self.stop()
        self.api = RuntimeApi(self.name, REGION, self.env["AWS_ACCESS_KEY_ID"])
        first = self.api.submit(first_event) if first_event is not None else None
        self.process = Process(self.cmd, self.env, self.api, self.log_dir / f"{self.label}.log")
        ready = self.process.wait_ready(timeout)
        if first is None:
            return None
        if not first.done.wait(timeout):
            raise TimeoutError(f"{self.label}: no first response within {timeout} s")
        return Cold(ready, first.finished - self.process.started, first)

    def invoke(self, event) -> Invocation:
        assert self.api is not None and self.process is not None
        if self.process.proc.poll() is not None:
            raise RuntimeError(f"{self.label} exited with {self.process.proc.returncode}; see its log in "
                               f"{self.log_dir}")
        return self.api.invoke(event)

    def peak_rss_kib(self) -> int:
        return self.process.peak_rss_kib() if self.process else 0

    def stop(self) -> None:
        if self.process:
            self.process.stop()
            self.process = None
        if self.api:
            self.api.close()
            self.api = None


def lambda_env(name: str, account: str, aws: MeasuredAws, settings: dict[str, str]) -> dict[str, str]:
    """The environment Lambda gives a function (256 MB as in template.yaml, JSON logs), pointed at the local
    AWS (through the wire proxy) in ``account`` through a 12-digit access key id, with the ledger table created
    as the template declares it."""
    ledger = aws.control("/_failover/dynamodb/ledger-table", {"account": account, "region": REGION})["table_name"]
    return {
        "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "TZ": ":UTC",
        "AWS_LAMBDA_FUNCTION_NAME": name, "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}", "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "AWS_ENDPOINT_URL": aws.wire.endpoint,
        "AWS_ACCESS_KEY_ID": account, "AWS_SECRET_ACCESS_KEY": "local-secret", "AWS_EC2_METADATA_DISABLED": "true",
        "LEDGER_TABLE": ledger,
        **settings,
    }


def rust_function(name: str, account: str, aws: MeasuredAws, settings: dict[str, str], log_dir: Path,
                  label: str | None = None) -> Function:
    return Function(label or name, name, [str(bootstrap_path(name))], lambda_env(name, account, aws, settings),
                    log_dir)


def python_baseline(account: str, aws: MeasuredAws, settings: dict[str, str], log_dir: Path) -> Function:
    cmd = [str(PYTHON), str(HERE / "baseline" / "bootstrap.py"), "handler.handler"]
    return Function("python-boto3", "python-boto3", cmd, lambda_env("python-boto3", account, aws, settings),
                    log_dir)


def status_of(invocation: Invocation) -> str:
    """The response's ``status`` (``succeeded``, ``skipped``...), or ``error:<type>``."""
    if not invocation.ok:
        return f"error:{invocation.error_type}"
    body = invocation.json()
    return str(body.get("status")) if isinstance(body, dict) else "?"


# --------------------------------------------------------------------------- environments


def new_account(aws: MeasuredAws) -> tuple[str, str]:
    """A fresh account with its notification topic (no subscriber: publishing is the work measured)."""
    account = str(next(_accounts))
    topic = aws.client("sns", account).create_topic(Name="failover-notifications")["TopicArn"]
    return account, topic


def instance_ids(start: int, count: int) -> list[str]:
    """Well-formed instance ids (moto does not require them to exist in EC2)."""
    return [f"i-{n:017x}" for n in range(start, start + count)]


def create_group(elb, vpc_id: str, name: str, targets: list[str], opted_in: bool) -> str:
    arn = elb.create_target_group(Name=name, Protocol="HTTP", Port=80, VpcId=vpc_id, TargetType="instance")[
        "TargetGroups"][0]["TargetGroupArn"]
    if opted_in:
        elb.add_tags(ResourceArns=[arn], Tags=[OPT_IN])
    for batch in range(0, len(targets), 500):
        elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": t} for t in targets[batch:batch + 500]])
    return arn


def set_health(aws: MeasuredAws, account: str, group_arn: str, targets: list[str], state: str) -> None:
    aws.control("/_failover/elbv2/target-health", {"account": account, "region": REGION,
                                                    "target_group_arn": group_arn,
                                                    "targets": [{"id": t, "state": state} for t in targets]})


def group_alarm(account: str, group_arn: str) -> dict:
    return demo.alarm_eventbridge(account, "failover-web-unhealthy-hosts", "ALARM", "AWS/ApplicationELB",
                                  "UnHealthyHostCount", {"TargetGroup": demo.arn_suffix(group_arn)},
                                  "Unhealthy targets", "Threshold Crossed: 1 datapoint [1.0] > 0.0")


def not_theirs_event() -> dict:
    return json.loads((demo.EVENTS / "eventbridge-ec2-state-change.json").read_text())


def forget_changes(aws: MeasuredAws, account: str, resource: str) -> None:
    """Deletes a resource's records from the account's ledger table, its lease item (and version) kept.

    The harness puts the removed targets back behind the function's back, so every removal record stays open
    in the ledger (done, in effect) until it expires (LEDGER_RETENTION_DAYS). Kept, they pile up one per
    invocation, and each invocation reads them all (the group's ledger Query, 614 bytes more each time): a warm
    figure that grows with the number of invocations before it, instead of the cost of one incident."""
    table = aws.control("/_failover/dynamodb/ledger-table", {"account": account, "region": REGION})["table_name"]
    dynamodb = aws.client("dynamodb", account)
    pages = dynamodb.get_paginator("query").paginate(
        TableName=table, KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": {"S": resource}},
        ProjectionExpression="pk, sk", ConsistentRead=True)
    keys = [item for page in pages for item in page["Items"] if item["sk"]["S"] != "lease"]
    for start in range(0, len(keys), 25):
        dynamodb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": key}} for key in
                                                        keys[start:start + 25]]})


@dataclass
class Group:
    """One target group with its failing targets, restorable between invocations."""

    aws: MeasuredAws
    account: str
    arn: str
    targets: list[str]
    failing: list[str]

    def fail(self) -> None:
        """Re-register the failing targets (a no-op when they are registered) and mark them unhealthy, and
        clear the group's ledger records (``forget_changes``): the group as before its first incident."""
        elb = self.aws.client("elbv2", self.account)
        for batch in range(0, len(self.failing), 500):
            elb.register_targets(TargetGroupArn=self.arn, Targets=[{"Id": t} for t in self.failing[batch:batch + 500]])
        set_health(self.aws, self.account, self.arn, self.failing, "unhealthy")
        forget_changes(self.aws, self.account, f"target-group:{self.arn}")

    def registered(self) -> set[str]:
        health = self.aws.client("elbv2", self.account).describe_target_health(TargetGroupArn=self.arn)
        return {d["Target"]["Id"] for d in health["TargetHealthDescriptions"]}

    def failing_removed(self) -> bool:
        return not (self.registered() & set(self.failing))


def target_group_env(aws: MeasuredAws, size: int, failing: int, name: str = "web") -> tuple[Group, str]:
    account, topic = new_account(aws)
    elb = aws.client("elbv2", account)
    targets = instance_ids(0x1000, size)
    arn = create_group(elb, aws.network(account)["vpc_id"], name, targets, opted_in=True)
    group = Group(aws, account, arn, targets, targets[:failing])
    group.fail()
    return group, topic


# --------------------------------------------------------------------------- measuring


def add_calls(a: Calls, b: Calls) -> Calls:
    out = dict(a)
    for key, (count, seconds) in b.items():
        count0, seconds0 = out.get(key, (0, 0.0))
        out[key] = (count0 + count, seconds0 + seconds)
    return out


@dataclass
class PauseFigure:
    """pause-storm's figure: the `pause` command during the storm, from its submission to its response."""

    events: int  # the storm's
    slots: int
    answered: float  # submitted -> response read
    waited: float  # submitted -> a slot took it
    ok: bool  # it succeeded, no change began after its response, the groups alarmed after it kept their targets
    found: str  # what the check found, in a few words


@dataclass
class Scenario:
    """What one scenario measured, for the report."""

    name: str
    function: str
    description: str
    cold: list[Cold] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)  # warm invocations
    own: list[float] = field(default_factory=list)  # warm latency minus its AWS calls' time on the wire
    statuses: dict[str, int] = field(default_factory=dict)
    total_calls: Calls = field(default_factory=dict)
    counted: int = 0  # runs whose calls are in total_calls (a run: one invocation, or the whole storm)
    called: int = 0  # invocations whose calls are in total_calls
    peak_rss_kib: int = 0
    check: str = ""  # the end state, checked against the local AWS
    error: str = ""
    wall: float = 0.0
    paths: list[CriticalPath] = field(default_factory=list)  # warm invocations that changed something
    pause: PauseFigure | None = None  # pause-storm

    def status(self, invocation: Invocation) -> None:
        key = status_of(invocation)
        self.statuses[key] = self.statuses.get(key, 0) + 1

    def record(self, invocation: Invocation, wire: WireProxy, calls: Calls | None = None) -> None:
        self.status(invocation)
        self.latencies.append(invocation.seconds)
        self.own.append(invocation.seconds - wire.seconds_between(invocation.dispatched, invocation.finished))
        path = path_to_change(wire.calls_between(invocation.dispatched, invocation.finished), invocation.dispatched)
        if path:
            self.paths.append(path)
        if calls is not None:
            self.add_calls(calls, 1)

    def add_calls(self, calls: Calls, runs: int, invocations: int | None = None) -> None:
        self.total_calls = add_calls(self.total_calls, calls)
        self.counted += runs
        self.called += runs if invocations is None else invocations

    def own_less_proxy(self, delay: float) -> float:
        """Median own time less the proxy's delay for each call (the mean number of calls per invocation)."""
        calls = sum(count for count, _ in self.total_calls.values()) / max(self.called, 1)
        return median(self.own) - calls * delay

    def calls_per_invocation(self) -> dict[str, float]:
        n = max(self.counted, 1)
        return {key: count / n for key, (count, _) in sorted(self.total_calls.items())}

    def measure_rss(self, function: Function) -> None:
        self.peak_rss_kib = max(self.peak_rss_kib, function.peak_rss_kib())

    def status_text(self) -> str:
        return ", ".join(f"{s} ×{n}" for s, n in sorted(self.statuses.items()))


def measure_cold(function: Function, aws: MeasuredAws, account: str, scenario: Scenario, event_for, runs: int,
                 reset=None) -> None:
    """``runs`` cold starts, each a new process whose first event is ``event_for()``."""
    for _ in range(runs):
        if reset:
            reset()
        before = read_calls(aws, account)
        cold = function.start(event_for())
        scenario.add_calls(calls_since(before, read_calls(aws, account)), 1)
        scenario.cold.append(cold)
        scenario.status(cold.invocation)
        scenario.measure_rss(function)
        function.stop()


def measure_warm(function: Function, aws: MeasuredAws, account: str, scenario: Scenario, event_for, count: int,
                 reset=None) -> None:
    """``count`` invocations of a running process; ``reset`` restores the state before each, outside the
    timing; the call log is read around each, outside the timing too."""
    for _ in range(count):
        if reset:
            reset()
        before = read_calls(aws, account)
        invocation = function.invoke(event_for())
        scenario.record(invocation, aws.wire, calls_since(before, read_calls(aws, account)))
    scenario.measure_rss(function)


# --------------------------------------------------------------------------- scenarios


@dataclass
class Plan:
    cold_rust: int = 10
    cold_python: int = 5
    cold_database: int = 5
    warm: int = 200
    storm: int = 500
    repeats: int = 3
    pause_storm: int = 200  # events; the slots are the template's reserved concurrency either way

    @classmethod
    def quick(cls) -> "Plan":
        return cls(cold_rust=3, cold_python=2, cold_database=2, warm=20, storm=50, repeats=1, pause_storm=50)


def guarded(scenario: Scenario, functions: Function | list[Function] | None, body) -> None:
    """Runs one scenario's body; a crash is recorded in the scenario (and fails the run), never hidden. Then
    stops the function, or every function in the list as the body left it."""
    try:
        body()
    except Exception:
        scenario.error = traceback.format_exc(limit=4)
    finally:
        for function in functions if isinstance(functions, list) else [functions]:
            if function:
                function.stop()


def bench_group_4(aws: MeasuredAws, log_dir: Path, plan: Plan) -> list[Scenario]:
    """target-failover and the Python baseline on the same small group: cold starts, warm, no-call."""
    group, topic = target_group_env(aws, 4, 1)
    settings, account = {"NOTIFICATION_TOPIC_ARN": topic}, group.account
    out = []
    for function, runs in ((rust_function("target-failover", account, aws, settings, log_dir), plan.cold_rust),
                           (python_baseline(account, aws, settings, log_dir), plan.cold_python)):
        act = Scenario("group-4", function.label, "alarm on a group of 4 targets, 1 unhealthy: deregister it")
        idle = Scenario("no-call", function.label, "an event that is not the function's (EC2 state change)")

        def body(function=function, runs=runs, act=act, idle=idle):
            alarm = lambda: group_alarm(account, group.arn)  # noqa: E731
            measure_cold(function, aws, account, act, alarm, runs, reset=group.fail)
            function.start()
            checks = []

            def reset():
                if act.latencies:
                    checks.append(group.failing_removed())
                group.fail()

            measure_warm(function, aws, account, act, alarm, plan.warm, reset=reset)
            checks.append(group.failing_removed())
            act.check = f"failing target removed by every invocation: {yes(all(checks))}"
            measure_warm(function, aws, account, idle, not_theirs_event, plan.warm)

        guarded(act, function, body)
        out += [act, idle]
    return out


def bench_group_1000(aws: MeasuredAws, log_dir: Path, plan: Plan) -> list[Scenario]:
    group, topic = target_group_env(aws, 1000, 200)
    settings, account = {"NOTIFICATION_TOPIC_ARN": topic}, group.account
    out = []
    for function in (rust_function("target-failover", account, aws, settings, log_dir, "target-failover-1000"),
                     python_baseline(account, aws, settings, log_dir)):
        scenario = Scenario("group-1000", function.label, "alarm on a group of 1,000 targets, 200 unhealthy")

        def body(function=function, scenario=scenario):
            function.start()
            checks = []
            for _ in range(plan.repeats):
                measure_warm(function, aws, account, scenario, lambda: group_alarm(account, group.arn), 1,
                             reset=group.fail)
                checks.append(group.failing_removed() and len(group.registered()) == 800)
            scenario.check = f"the 200 failing targets removed, 800 kept, every time: {yes(all(checks))}"

        guarded(scenario, function, body)
        out.append(scenario)
    return out


def instance_alarm(account: str, instance: str) -> dict:
    """An instance's status check alarm. A new state change each call: the same event again is stale (the
    ledger keeps the alarm's last one)."""
    return demo.alarm_eventbridge(account, "i-sick-status-check", "ALARM", "AWS/EC2", "StatusCheckFailed",
                                  {"InstanceId": instance}, "Status check failed", "Threshold Crossed")


def bench_instance_3x4(aws: MeasuredAws, log_dir: Path, plan: Plan) -> list[Scenario]:
    """target-failover and the Python baseline side by side: an instance alarm, the instance failing in each of
    3 opted-in target groups of 4 targets; both remove it from the three and publish one notification."""
    account, topic = new_account(aws)
    elb = aws.client("elbv2", account)
    vpc = aws.network(account)["vpc_id"]
    sick = "i-0badbadbadbadbad1"
    groups = [Group(aws, account, create_group(elb, vpc, f"web{n}", [sick, *instance_ids(0x200000 + 4 * n, 3)],
                                               opted_in=True), [], [sick]) for n in range(3)]
    settings = {"NOTIFICATION_TOPIC_ARN": topic}
    out = []
    for function in (rust_function("target-failover", account, aws, settings, log_dir, "target-failover"),
                     python_baseline(account, aws, settings, log_dir)):
        scenario = Scenario("instance-3x4", function.label,
                            "instance alarm; the instance fails in 3 opted-in groups of 4 targets: remove it from each")

        def body(function=function, scenario=scenario):
            function.start()
            checks = []

            def reset():
                if scenario.latencies:
                    checks.append(all(g.failing_removed() for g in groups))
                for g in groups:
                    g.fail()

            measure_warm(function, aws, account, scenario, lambda: instance_alarm(account, sick), plan.warm,
                         reset=reset)
            checks.append(all(g.failing_removed() for g in groups))
            scenario.check = f"removed from the 3 groups by every invocation: {yes(all(checks))}"

        guarded(scenario, function, body)
        out.append(scenario)
    return out


def bench_instance_200(aws: MeasuredAws, log_dir: Path, plan: Plan) -> list[Scenario]:
    """An instance alarm: the instance is in 50 opted-in groups (and in 50 of the 150 others)."""
    account, topic = new_account(aws)
    elb = aws.client("elbv2", account)
    vpc = aws.network(account)["vpc_id"]
    sick = "i-0badbadbadbadbad0"
    opted, others = [], []
    for n in range(200):
        opted_in = n < 50
        members = ([sick] if n < 100 else []) + instance_ids(0x100000 + 4 * n, 3)
        (opted if opted_in else others).append(create_group(elb, vpc, f"g{n:03d}", members, opted_in))
    event = lambda: instance_alarm(account, sick)  # noqa: E731
    function = rust_function("target-failover", account, aws, {"NOTIFICATION_TOPIC_ARN": topic}, log_dir,
                             "target-failover-instance")
    scenario = Scenario("instance-200", function.label,
                        "instance alarm; the instance is in 50 opted-in groups of 200 (and in 50 not opted in)")

    def members(arn: str) -> set[str]:
        return {d["Target"]["Id"] for d in elb.describe_target_health(TargetGroupArn=arn)["TargetHealthDescriptions"]}

    def rejoin() -> None:
        for arn in opted:
            elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": sick}])

    def body():
        function.start()
        checks = []
        for _ in range(plan.repeats):
            measure_warm(function, aws, account, scenario, event, 1, reset=rejoin)
            checks.append(all(sick not in members(arn) for arn in opted))
        untouched = all(sick in members(arn) for arn in others[:50])
        scenario.check = (f"removed from the 50 opted-in groups every time: {yes(all(checks))}; "
                          f"left in the 50 groups not opted in: {yes(untouched)}")

    guarded(scenario, function, body)
    return [scenario]


def bench_storm(aws: MeasuredAws, log_dir: Path, plan: Plan) -> list[Scenario]:
    """Alarm events in a row for one group: the first deregisters, the others find nothing to do."""
    out = []
    for python in (False, True):
        group, topic = target_group_env(aws, 4, 1)
        settings, account = {"NOTIFICATION_TOPIC_ARN": topic}, group.account
        function = (python_baseline(account, aws, settings, log_dir) if python else
                    rust_function("target-failover", account, aws, settings, log_dir, "target-failover-storm"))
        scenario = Scenario("storm-500", function.label, f"{plan.storm} alarm events in a row for one group")

        def body(function=function, scenario=scenario, group=group, account=account):
            function.start()
            before = read_calls(aws, account)
            started = time.monotonic()
            rss_first = 0
            for n in range(plan.storm):  # back to back: the call log is read once, after all of them
                scenario.record(function.invoke(group_alarm(account, group.arn)), aws.wire)
                if n == 0:
                    rss_first = function.peak_rss_kib()
            scenario.wall = time.monotonic() - started
            scenario.add_calls(calls_since(before, read_calls(aws, account)), 1, plan.storm)  # one run: the storm
            scenario.measure_rss(function)
            scenario.check = (f"failing target removed: {yes(group.failing_removed())}; peak memory after the first "
                              f"event {mib(rss_first)}, after the last {mib(scenario.peak_rss_kib)}")

        guarded(scenario, function, body)
        out.append(scenario)
    return out


# --------------------------------------------------------------------------- pause during a storm

STORM_GROUPS = 20  # opted-in groups of 4 targets, 1 or 2 of them failing
PAUSE_AFTER = 20  # queued events handed to a slot before the pause is submitted


def reserved_concurrency() -> int:
    """template.yaml's `ReservedConcurrency` default: how many invocations Lambda runs at once per function."""
    found = re.search(r"^  ReservedConcurrency:\n(?:    .*\n)*?    Default: (\d+)$",
                      (ROOT / "template.yaml").read_text(), re.M)
    if not found:
        raise RuntimeError("template.yaml declares no ReservedConcurrency default")
    return int(found.group(1))


def storm_env(aws: MeasuredAws) -> tuple[str, str, list[Group]]:
    """One account, STORM_GROUPS opted-in groups of 4 targets: 1 failing in the even ones, 2 in the odd ones (2
    healthy of 4 is the default floor, 50 %, so both act)."""
    account, topic = new_account(aws)
    elb = aws.client("elbv2", account)
    vpc = aws.network(account)["vpc_id"]
    groups = []
    for n in range(STORM_GROUPS):
        targets = instance_ids(0x300000 + 4 * n, 4)
        group = Group(aws, account, create_group(elb, vpc, f"storm{n:02d}", targets, opted_in=True), targets,
                      targets[:1 + n % 2])
        group.fail()
        groups.append(group)
    return account, topic, groups


def storm_group(event: int, count: int) -> int:
    """The group the storm's ``event``-th event is about: the groups fail one after another, each group's alarm
    bringing its state changes together (flapping, re-deliveries)."""
    return event * STORM_GROUPS // count


def storm_events(account: str, groups: list[Group], count: int) -> list[dict]:
    """The storm as Lambda's queue holds it: each group's own alarm, each state change with its own timestamp, a
    millisecond after the one before (the same timestamp again would be a re-delivery of one change)."""
    start = dt.datetime.now(dt.timezone.utc)
    events = []
    for i in range(count):
        n = storm_group(i, count)
        event = demo.alarm_eventbridge(account, f"failover-storm{n:02d}-unhealthy-hosts", "ALARM",
                                       "AWS/ApplicationELB", "UnHealthyHostCount",
                                       {"TargetGroup": demo.arn_suffix(groups[n].arn)}, "Unhealthy targets",
                                       "Threshold Crossed: 1 datapoint [1.0] > 0.0")
        at = start + dt.timedelta(milliseconds=i)
        stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"
        event["detail"]["state"]["timestamp"] = stamp
        events.append(event)
    return events


# Why an event of the storm was refused or skipped, by the words of its response's message.
STORM_REASONS = {"refused": ((b"automation is paused", "paused"),),
                 "skipped": ((b"stale event", "stale: a later change of its alarm came first"),
                             (b"no target is unhealthy", "nothing left to do"))}


def storm_outcome(invocation: Invocation) -> str:
    """``status_of``, with the reason of a refusal (automation paused) or a skip (a stale event, nothing left to
    do), told apart from any other."""
    status = status_of(invocation)
    if status not in STORM_REASONS:
        return status
    reason = next((why for words, why in STORM_REASONS[status] if words in invocation.response), "other")
    return f"{status} ({reason})"


def call_account(call: Call) -> str:
    """The account a relayed call is signed for (a function's access key id is its account here)."""
    credential = http_headers(call.head).get("authorization", "").partition("Credential=")[2]
    return credential.split("/", 1)[0]


def call_group(call: Call) -> str:
    """The target group an ELB call (query protocol) names, from the start of its body the proxy kept."""
    return urllib.parse.parse_qs(call.body.decode("latin-1")).get("TargetGroupArn", [""])[0]


def counted(outcomes: list[str]) -> str:
    return ", ".join(f"{k} ×{n}" for k, n in sorted(collections.Counter(outcomes).items())) or "none"


def bench_pause_storm(aws: MeasuredAws, log_dir: Path, plan: Plan) -> list[Scenario]:
    """`pause` while the template's reserved concurrency of target-failover processes drains an alarm storm
    (``benches/slots.py``): how long until it answers, and whether anything changes after it."""
    count, width = plan.pause_storm, reserved_concurrency()
    scenario = Scenario("pause-storm", "target-failover",
                        f"{count} alarm events over {STORM_GROUPS} groups of 4 on {width} slots; `pause` submitted "
                        f"after the {PAUSE_AFTER}th event was handed out")
    scenario.pause = PauseFigure(count, width, float("nan"), float("nan"), False, "not measured")
    functions: list[Function] = []

    def body():
        account, topic, groups = storm_env(aws)
        settings = {"NOTIFICATION_TOPIC_ARN": topic}
        functions.extend(rust_function("target-failover", account, aws, settings, log_dir,
                                       f"target-failover-slot{n}") for n in range(width))
        for function in functions:
            function.start()
        events = storm_events(account, groups, count)
        before = read_calls(aws, account)
        slots = Slots([function.invoke for function in functions], events)
        started = time.monotonic()
        slots.start()
        try:
            if not slots.wait_handed(PAUSE_AFTER, 120):
                raise RuntimeError(f"the slots stopped before handing out {PAUSE_AFTER} events")
            pause = slots.submit({"command": "pause", "by": "bench", "reason": "alarm storm (bench pause-storm)"})
            if not pause.done.wait(120):
                raise TimeoutError("the pause found no free slot within 120 s")
        finally:
            slots.close()
            slots.join(600)
        scenario.wall = time.monotonic() - started
        scenario.add_calls(calls_since(before, read_calls(aws, account)), 1, count + 1)  # one run: the storm
        for function in functions:
            scenario.measure_rss(function)
        judge_pause_storm(scenario, aws, account, groups, slots.tickets, pause, started)

    guarded(scenario, functions, body)
    return [scenario]


def judge_pause_storm(scenario: Scenario, aws: MeasuredAws, account: str, groups: list[Group], storm: list[Ticket],
                      pause: Ticket, started: float) -> None:
    """The outcome, from the wire proxy's record of the functions' calls and from the groups afterwards: the
    pause succeeded; no change began after its response was read; the events handed out after it were refused
    or skipped (stale, or nothing left to do); no event failed; the storm removed targets before the pause, each
    seen on the wire; the groups first alarmed after it keep their failing targets."""
    answer: Invocation = pause.result
    answered_at = answer.finished
    outcomes = [storm_outcome(t.result) for t in storm]
    for outcome in outcomes + [f"pause {status_of(answer)}"]:
        scenario.statuses[outcome] = scenario.statuses.get(outcome, 0) + 1
    scenario.latencies = [t.result.seconds for t in storm]
    after = [i for i, t in enumerate(storm) if t.taken >= answered_at]
    earlier = [i for i, t in enumerate(storm) if t.taken < answered_at]
    calls = [c for c in aws.wire.calls_between(started, time.monotonic()) if call_account(c) == account]
    changes = [(c, action) for c in calls for service, action in [call_name(c)] if is_change(service, action)]
    late = [(c, action) for c, action in changes if c.start >= answered_at]
    waiting = [c for c, _ in changes if pause.submitted <= c.start < answered_at]
    deregistered = {call_group(c) for c, action in changes if action == "DeregisterTargets"}
    removed = {g.arn for g in groups if g.failing_removed()}
    kept = {g.arn for g in groups if set(g.failing) <= g.registered()}
    count = len(storm)
    alarmed_after = {groups[storm_group(i, count)].arn for i in after} - {
        groups[storm_group(i, count)].arn for i in earlier}
    succeeded = status_of(answer) == "succeeded"
    answered, waited = answered_at - pause.submitted, answer.dispatched - pause.submitted
    late_text = counted([action for _, action in late])
    scenario.pause.answered, scenario.pause.waited = answered, waited
    # After the pause only refusals and skips; no error or unexplained outcome anywhere; the storm acted before
    # the pause, and every removal was seen on the wire (a run whose calls bypassed the proxy would show none).
    quiet = {"refused (paused)", "skipped (stale: a later change of its alarm came first)",
             "skipped (nothing left to do)"}
    after_ok = all(outcomes[i] in quiet for i in after)
    clean = not any(o.startswith("error") or o.endswith("(other)") for o in outcomes)
    acted = bool(removed) and removed <= deregistered
    scenario.pause.ok = succeeded and not late and alarmed_after <= kept and after_ok and clean and acted
    faults = [what for what, fine in (("an event after it neither refused nor skipped", after_ok),
                                      ("an event failed", clean), ("no removal seen on the wire", acted)) if not fine]
    scenario.pause.found = (f"pause {status_of(answer)}; changes begun after its response: "
                            f"{'none' if not late else late_text}" + "".join(f"; {f}" for f in faults))
    late_note = f" ({late_text})" if late else ""
    scenario.check = (
        f"pause {status_of(answer)}, answered {ms(answered)} after its submission (waited {ms(waited)} for a slot, "
        f"ran {ms(answer.seconds)}), {len(earlier)} events handed out before; no change begun after its response: "
        f"{yes(not late)}{late_note} ({len(waiting)} begun while it waited or ran); events handed out after it: "
        f"{counted([outcomes[i] for i in after])}; before it: {counted([outcomes[i] for i in earlier])}; groups "
        f"whose failing targets were removed: {len(removed)} of {len(groups)}, each seen deregistered on the wire: "
        f"{yes(removed <= deregistered)}; the {len(alarmed_after)} groups first alarmed after the pause keep their "
        f"failing targets: {yes(alarmed_after <= kept)}")


def replicas_env(aws: MeasuredAws, replicas: int = 5) -> tuple[str, str]:
    """A failed, opted-in MySQL primary with opted-in replicas whose lags differ (the last one lags least)."""
    account, topic = new_account(aws)
    rds, cw = aws.client("rds", account), aws.client("cloudwatch", account)
    rds.create_db_instance(DBInstanceIdentifier="orders-primary", Engine="mysql", DBInstanceClass="db.t3.micro",
                           AllocatedStorage=20, MasterUsername="admin", MasterUserPassword="bench-password-1",
                           BackupRetentionPeriod=7, Tags=[OPT_IN])
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    data = []
    for n in range(1, replicas + 1):
        replica = f"orders-replica-{n}"
        rds.create_db_instance_read_replica(DBInstanceIdentifier=replica, SourceDBInstanceIdentifier="orders-primary",
                                            DBInstanceClass="db.t3.micro", Tags=[OPT_IN])
        data += [{"MetricName": "ReplicaLag", "Dimensions": [{"Name": "DBInstanceIdentifier", "Value": replica}],
                  "Value": float(replicas + 1 - n) + i / 10, "Unit": "Seconds",
                  "Timestamp": now - dt.timedelta(seconds=60 * (i + 1))} for i in range(3)]
    cw.put_metric_data(Namespace="AWS/RDS", MetricData=data)
    aws.control("/_failover/rds/instance-status", {"account": account, "region": REGION,
                                                   "db_instance_identifier": "orders-primary", "status": "failed"})
    return account, topic


def bench_replicas(aws: MeasuredAws, log_dir: Path, plan: Plan) -> list[Scenario]:
    """database-failover: cold starts, each promoting in a fresh environment; then warm status commands."""
    promote = Scenario("replicas-5", "database-failover", "RDS failure event; primary with 5 replicas: promote one")
    status = Scenario("replicas-5-status", "database-failover", "manual status command on that primary")
    idle = Scenario("no-call", "database-failover", "an event that is not the function's (EC2 state change)")
    holder: list[Function] = []

    def body():
        promoted = []
        for _ in range(plan.cold_database):  # the promotion happens once per environment
            account, topic = replicas_env(aws)
            function = rust_function("database-failover", account, aws, {"NOTIFICATION_TOPIC_ARN": topic}, log_dir)
            holder[:] = [function]
            event = demo.rds_instance_event(account, "orders-primary", "RDS-EVENT-0031",
                                            "DB instance put into failed state.", {OPT_IN["Key"]: OPT_IN["Value"]})
            measure_cold(function, aws, account, promote, lambda: event, 1)
            db = aws.client("rds", account).describe_db_instances(DBInstanceIdentifier="orders-replica-5")
            promoted.append("ReadReplicaSourceDBInstanceIdentifier" not in db["DBInstances"][0])
        promote.check = f"the least-lagging replica promoted in every run: {yes(all(promoted))}"
        function.start()
        command = {"command": "status", "db_instance_identifier": "orders-primary"}
        measure_warm(function, aws, account, status, lambda: command, plan.warm)
        measure_warm(function, aws, account, idle, not_theirs_event, plan.warm)

    guarded(promote, holder, body)
    return [promote, status, idle]


# --------------------------------------------------------------------------- API call minimums

ELB = "elasticloadbalancing"
# The fewest calls each scenario needs, per run, by "service:Action" (one DescribeTargetHealth and at most one
# DeregisterTargets per group involved, tags in batches of 20; one GetMetricData for all replicas). None: counted
# and shown, but no minimum is stated. target-failover publishes one notification per event, however many
# groups it touched.
# Any call not listed is over the minimum.


def minimum(scenario: str, plan: Plan) -> dict[str, float | None]:
    # The ledger (DynamoDB): one Query per resource an event of ours looks at; a change adds two
    # TransactWriteItems (begin, end). Events that are not ours make no ledger call.
    # A planned removal reads the group's target_group_health thresholds once (they may raise the floor).
    removal = f"{ELB}:DescribeTargetGroupAttributes"
    # ... and the group's load balancers (DescribeTargetGroups of that group), whose ARC zonal shifts it defers to
    # or starts; a group behind no load balancer registered with ARC stops there.
    zonal = f"{ELB}:DescribeTargetGroups"
    # target-failover: an alarm event reads its alarm's last transition (one Query: a stale event stops there)
    # and an event acted on records its own (two TransactWriteItems).
    transition = {"dynamodb:Query": 1, "dynamodb:TransactWriteItems": 2}
    one_group = {f"{ELB}:DescribeTags": 1, f"{ELB}:DescribeTargetHealth": 1, removal: 1, zonal: 1,
                 f"{ELB}:DeregisterTargets": 1, "sns:Publish": 1, "dynamodb:Query": 2, "dynamodb:TransactWriteItems": 4}
    return {
        "group-4": one_group,
        "group-1000": one_group,
        "no-call": {},
        # Every group listed (one page, which names each one's load balancers), tags in one call (3 groups), then
        # each group as in group-4; one notification for the event, and the alarm's own transition in the ledger.
        "instance-3x4": {f"{ELB}:DescribeTargetGroups": 1, f"{ELB}:DescribeTags": 1,
                         f"{ELB}:DescribeTargetHealth": 3, removal: 3, f"{ELB}:DeregisterTargets": 3,
                         "sns:Publish": 1,
                         "dynamodb:Query": 3 + transition["dynamodb:Query"],
                         "dynamodb:TransactWriteItems": 6 + transition["dynamodb:TransactWriteItems"]},
        # DescribeTargetGroups: one page of up to 400 groups (their load balancers with them); tags: 200 groups /
        # 20 per call.
        "instance-200": {f"{ELB}:DescribeTargetGroups": 1, f"{ELB}:DescribeTags": 10,
                         f"{ELB}:DescribeTargetHealth": 50, removal: 50, f"{ELB}:DeregisterTargets": 50,
                         "sns:Publish": 1,
                         "dynamodb:Query": 50 + transition["dynamodb:Query"],
                         "dynamodb:TransactWriteItems": 100 + transition["dynamodb:TransactWriteItems"]},
        # The whole storm: every event looks at the group once; only the first changes (and notifies) anything.
        # Each event is a new state change of the alarm (its own timestamp), so each records it as the last one
        # handled (two TransactWriteItems: the alarm's lease, then the record), which is what makes a later
        # re-delivery of any of them stale; the change adds its own two.
        "storm-500": {f"{ELB}:DescribeTags": plan.storm, f"{ELB}:DescribeTargetHealth": plan.storm,
                      removal: 1, zonal: 1, f"{ELB}:DeregisterTargets": 1, "sns:Publish": 1,
                      "dynamodb:Query": 2 * plan.storm,
                      "dynamodb:TransactWriteItems": 2 * plan.storm + 2},
        # The primary (state, tags, replica list), then its replicas in one filtered call; one GetMetricData for
        # all lags; the never-twice record in the ledger around the promotion, and once its notification is out,
        # the record marked notified (a read, begin and end: a retry after a crash before it publishes it once).
        # The promotion also records its lineage on the promoted replica's own resource (which primary it
        # replaced, for the next failover's bindings): one more Query and two more TransactWriteItems.
        "replicas-5": {"rds:DescribeDBInstances": 2, "monitoring:GetMetricData": 1, "rds:PromoteReadReplica": 1,
                       "sns:Publish": 1, "dynamodb:Query": 2 + 1, "dynamodb:TransactWriteItems": 4 + 2},
        # The whole storm and the pause: how many events find a group still to act on, wait on its lease, or meet
        # the pause depends on timing, so only the changes and the pause itself have a stated minimum: at most one
        # DeregisterTargets per group, and the pause is one PutItem.
        "pause-storm": {f"{ELB}:DescribeTags": None, f"{ELB}:DescribeTargetHealth": None, removal: None,
                        zonal: None, f"{ELB}:DeregisterTargets": STORM_GROUPS, "sns:Publish": None,
                        "dynamodb:Query": None, "dynamodb:TransactWriteItems": None, "dynamodb:PutItem": 1},
        # status also shows the pause switch.
        "replicas-5-status": {"rds:DescribeDBInstances": 2, "monitoring:GetMetricData": 1, "sns:Publish": None,
                              "dynamodb:Query": 1, "dynamodb:GetItem": 1},
    }.get(scenario, {})


# Why a known call is over the minimum, printed under the table while it is.
OVER_NOTES = {
    "rds:DescribeDBInstances": "database-failover describes the primary, then its replicas in one filtered "
                               "call per region; after the earlier promotion, the primary's record names a "
                               "replica that has left its replica list, and the status report describes that "
                               "replica in a call of its own (it could join the filtered call).",
}


def calls_verdict(scenario: Scenario, plan: Plan) -> tuple[bool, str]:
    """(within the minimum, the calls per run with their minimum)."""
    wanted = minimum(scenario.name, plan)
    measured = scenario.calls_per_invocation()
    over, cells = [], []
    for key in sorted(set(wanted) | set(measured)):
        count = measured.get(key, 0)
        limit = wanted.get(key, 0)
        action = key.split(":", 1)[1]
        shown = f"{count:g}"
        if limit is None:
            cells.append(f"{action} {shown}")
            continue
        if count > limit + 1e-9:
            over.append(key)
            cells.append(f"**{action} {shown} (min {limit:g})**")
        else:
            cells.append(f"{action} {shown} (min {limit:g})")
    return not over, "; ".join(cells) if cells else "none"


# --------------------------------------------------------------------------- sizes and machine


def sizes(name: str, work: Path) -> dict:
    """The bootstrap as built, stripped again (to check it is), and zipped as Lambda takes it."""
    binary = bootstrap_path(name)
    out = {"binary": binary.stat().st_size, "built": dt.datetime.fromtimestamp(binary.stat().st_mtime,
                                                                             dt.timezone.utc)}
    stripped = work / f"{name}.stripped"
    if shutil.which("strip"):
        subprocess.run(["strip", "--strip-all", "-o", str(stripped), str(binary)], check=True)
        out["stripped"] = stripped.stat().st_size
    else:
        out["stripped"] = out["binary"]
    archive = work / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        info = zipfile.ZipInfo("bootstrap", date_time=(2024, 1, 1, 0, 0, 0))
        info.external_attr = 0o755 << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(info, binary.read_bytes())
    out["zip"] = archive.stat().st_size
    return out


def load_average() -> str:
    """1, 5 and 15 minutes: other work on the machine slows every figure, the cold starts most."""
    return " / ".join(Path("/proc/loadavg").read_text().split()[:3])


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kib = next((int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                    if line.startswith("MemTotal:")), 0)

    def run(*cmd: str) -> str:
        try:
            return subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=20).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return "unknown"

    commit = run("git", "rev-parse", "--short", "HEAD")
    dirty = run("git", "status", "--porcelain", "--untracked-files=no")
    import boto3
    return {
        "cpus": f"{len(os.sched_getaffinity(0))} (nproc)",
        "cpu": cpu,
        "memory": f"{mem_kib / 1024 / 1024:.1f} GiB",
        "kernel": f"{platform.system()} {platform.release()}",
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load average": load_average(),
        "commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "rustc": run("rustc", "--version"),
        "python": f"Python {platform.python_version()}, boto3 {boto3.__version__}",
    }


# --------------------------------------------------------------------------- the report

TARGETS = {"ready": 0.030, "overhead": 0.002, "rss_bytes": 32e6, "stripped": 10e6, "zip": 4e6, "ratio": 10.0,
           "pause": 5.0, "group_p99": 0.100}


def met(ok: bool) -> str:
    return "met" if ok else "**NOT MET**"


def find(scenarios: list[Scenario], name: str, function: str) -> Scenario | None:
    return next((s for s in scenarios if s.name == name and s.function == function), None)


def cold_figures(scenario: Scenario | None) -> tuple[float, float]:
    if not scenario or not scenario.cold:
        return float("nan"), float("nan")
    return median([c.ready for c in scenario.cold]), median([c.first_response for c in scenario.cold])


def render(info: dict, size: dict[str, dict], scenarios: list[Scenario], plan: Plan, seconds: float,
           delay: float) -> str:
    rust_tg = find(scenarios, "group-4", "target-failover")
    python = find(scenarios, "group-4", "python-boto3")
    db = find(scenarios, "replicas-5", "database-failover")
    db_status = find(scenarios, "replicas-5-status", "database-failover")
    ready_tg, first_tg = cold_figures(rust_tg)
    ready_db, first_db = cold_figures(db)
    ready_py, first_py = cold_figures(python)
    idle = {f: find(scenarios, "no-call", f) for f in (*FUNCTIONS, "python-boto3")}
    rss = {f: max([s.peak_rss_kib for s in scenarios if s.function.startswith(f)] or [0]) for f in FUNCTIONS}
    verdicts = [(s, *calls_verdict(s, plan)) for s in scenarios if s.counted]
    not_met: list[str] = []

    def row(figure: str, measured: str, target: str, ok: bool) -> str:
        if "n/a" in measured or measured.startswith("0.0 MB"):
            not_met.append(f"{figure}: not measured (see below)")
            return f"| {figure} | not measured | {target} | **NOT MEASURED** |"
        if not ok:
            not_met.append(f"{figure}: {measured} (target {target})")
        return f"| {figure} | {measured} | {target} | {met(ok)} |"

    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (`benches/bench.py`); do not edit by hand. The release bootstraps run under a local",
        "Lambda Runtime API against the local AWS (`tools/local_aws/`, moto), both on this machine over",
        "127.0.0.1; the Python baseline (`benches/baseline/`, boto3) runs the same target-group scenarios under the",
        "same Runtime API, against the same local AWS, in the same run. Targets are the product's own; nothing here is",
        "asserted by a test.",
        "",
        "| Machine | |",
        "| --- | --- |",
        *[f"| {k} | {v} |" for k, v in info.items()],
        "| bootstraps built | " + ", ".join(f"{n} {size[n]['built']:%Y-%m-%d %H:%M} UTC" for n in FUNCTIONS) + " |",
        f"| run | {seconds:.0f} s; cold starts: {plan.cold_rust} (target-failover), {plan.cold_database} "
        f"(database-failover), {plan.cold_python} (Python); {plan.warm} warm invocations per figure |",
        "",
        "## Against the targets",
        "",
        "| Figure | Measured | Target | |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        row("cold start to ready, target-failover (median)", ms(ready_tg), "< 30 ms", ready_tg < TARGETS["ready"]),
        row("cold start to ready, database-failover (median)", ms(ready_db), "< 30 ms", ready_db < TARGETS["ready"]),
    ]
    for f in FUNCTIONS:
        s = idle[f]
        value = p99(s.latencies) if s else float("nan")
        lines.append(row(f"warm overhead beyond AWS calls, {f} (p99 of a no-call event)",
                         f"{ms(value)} (median {ms(median(s.latencies) if s else float('nan'))})", "< 2 ms",
                         value < TARGETS["overhead"]))
    for s in (rust_tg, db_status):
        if s:
            value = median(s.own)
            lines.append(row(f"warm overhead beyond AWS calls, {s.function} ({s.name}: latency minus its calls' "
                             f"time on the wire, median; p99 {ms(p99(s.own))})",
                             f"{ms(value)} ({ms(s.own_less_proxy(delay))} less the proxy's delay)", "< 2 ms",
                             value < TARGETS["overhead"]))
    for f in FUNCTIONS:
        lines.append(row(f"peak memory, {f} (VmHWM, worst scenario)", mib(rss[f]), "< 32 MB",
                         0 < rss[f] * 1024 < TARGETS["rss_bytes"]))
    for f in FUNCTIONS:
        lines.append(row(f"stripped binary, {f}", mb(size[f]["stripped"], 2), "≤ 10 MB",
                         size[f]["stripped"] <= TARGETS["stripped"]))
    for f in FUNCTIONS:
        lines.append(row(f"zip, {f}", mb(size[f]["zip"], 2), "< 4 MB", size[f]["zip"] < TARGETS["zip"]))
    ratio_ready, ratio_first = ready_py / ready_tg, first_py / first_tg
    lines.append(row("cold start vs Python + boto3, to ready", f"{ratio_ready:.1f}x faster ({ms(ready_py)} vs "
                     f"{ms(ready_tg)})", "≥ 10x", ratio_ready >= TARGETS["ratio"]))
    lines.append(row("cold start vs Python + boto3, to first response", f"{ratio_first:.1f}x faster "
                     f"({ms(first_py)} vs {ms(first_tg)})", "≥ 10x", ratio_first >= TARGETS["ratio"]))
    if rust_tg and rust_tg.latencies:
        lines.append(row("warm latency, target-failover, group-4 (p99)", f"{ms(p99(rust_tg.latencies))} (median "
                         f"{ms(median(rust_tg.latencies))})", "< 100 ms", p99(rust_tg.latencies) < TARGETS["group_p99"]))
    ours, peer = find(scenarios, "instance-3x4", "target-failover"), find(scenarios, "instance-3x4", "python-boto3")
    if ours and peer and ours.latencies and peer.latencies:
        calls = {s.function: sum(s.calls_per_invocation().values()) for s in (ours, peer)}
        trips = {s.function: median([len(p.trips) for p in s.paths]) if s.paths else float("nan") for s in (ours, peer)}
        lines.append(row("warm latency vs the Python + boto3 peer, instance-3x4 (median)",
                         f"{ms(median(ours.latencies))} vs {ms(median(peer.latencies))} ({calls[ours.function]:.0f} "
                         f"calls vs {calls[peer.function]:.0f}; round trips before the change "
                         f"{trips[ours.function]:.0f} vs {trips[peer.function]:.0f})", "≤ the peer's",
                         median(ours.latencies) <= median(peer.latencies)))
    for s in scenarios:
        if s.pause:
            p = s.pause
            lines.append(row(f"`pause` during a {p.events}-event storm on {p.slots} slots (its submission to its "
                             f"response, given the next free slot: a lower bound, without Lambda's throttling "
                             f"and the CLI's back-off between retries)", f"{ms(p.answered)} ({ms(p.waited)} of it waiting for a slot); {p.found}",
                             "< 5 s", p.ok and p.answered < TARGETS["pause"]))
    over = [s for s, ok, _ in verdicts if not ok and s.function != "python-boto3"]
    lines.append(row("AWS API calls, every scenario of both functions", "within the minimum" if not over else
                     "over in " + ", ".join(f"{s.name} ({s.function})" for s in over), "≤ the minimum",
                     not over))
    lines += ["", "**Not met:** " + ("; ".join(not_met) + "." if not_met else "nothing; every target is met."), ""]

    lines += ["## Cold start", "",
              "Process start (just before `exec`) to the first `next` request (ready: init done, SDK clients built), "
              "and to the first response read (that first event is the scenario's, so it includes its AWS calls on "
              "new connections). Each run is a new process.", "",
              "| Function | Runs | Ready median (min–max) | First response median (min–max) | Peak memory |",
              "| --- | --- | --- | --- | --- |"]
    for s in (rust_tg, db, python):
        if s and s.cold:
            r = [c.ready for c in s.cold]
            f1 = [c.first_response for c in s.cold]
            lines.append(f"| {s.function} ({s.name}) | {len(s.cold)} | {ms(median(r))} ({ms(min(r))}–{ms(max(r))}) "
                         f"| {ms(median(f1))} ({ms(min(f1))}–{ms(max(f1))}) | {mib(s.peak_rss_kib)} |")
    lines += ["", "## Warm invocations", "",
              "Latency: event written to the runtime → response read (Lambda's billed duration plus one loopback "
              "round trip). *Own time*: each invocation's latency less the time its AWS calls spent on the wire, "
              "from the first request byte to the last response byte at a proxy in front of the local AWS "
              "(`benches/wire_proxy.py`; the union of the spans when calls overlap): the runtime loop, intake, "
              "decision, logging, and the SDK's own work around each call (building, signing, parsing), and the "
              f"proxy's wake-up on each request; *less the proxy's delay* takes that out too ({ms(delay)} per "
              "call, the median round trip minus span of a raw-socket client through the proxy, `proxy_delay()`, "
              "100 calls at the start and the end of the run). The proxy keeps the functions' connections "
              "alive, as AWS does (the local AWS itself closes each). *Outcome* counts every invocation of the "
              "scenario, cold starts included.", "",
              "| Scenario | Function | Invocations | Median | p99 | Own time, median (p99) | Less the proxy's "
              "delay | Outcome |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for s in scenarios:
        if s.latencies and s.name not in ("storm-500", "pause-storm"):
            lines.append(f"| {s.name}: {s.description} | {s.function} | {len(s.latencies)} | "
                         f"{ms(median(s.latencies))} | {ms(p99(s.latencies))} | {ms(median(s.own))} "
                         f"({ms(p99(s.own))}) | {ms(s.own_less_proxy(delay))} | {s.status_text()} |")
    lines += ["", "## Round trips before the first change", "",
              "The AWS calls on the critical path before an invocation's first change to the user's resources "
              "(its first call that is not a `Describe`/`List`/`Get`, outside the ledger's table and SNS: "
              "`DeregisterTargets`, `ModifyListener`, `StartZonalShift`, `PromoteReadReplica`...), from the wire "
              "proxy's spans (`round_trips()` in `benches/wire_proxy.py`): the longest chain of calls each begun "
              "after the one before it ended, so calls in a row are a round trip each and calls that overlap in "
              "time count as one (groups handled concurrently count as the longest group's chain). On AWS each "
              "round trip costs tens of milliseconds, so this, not the local AWS's speed, is what the time to "
              "act comes to. Warm invocations that made a change; *time to the change* is from the event "
              "written to the runtime to the change's first request byte at the proxy. The path is the most "
              "frequent one; parentheses: the calls begun during that round trip (in flight together).", "",
              "| Scenario | Function | Invocations with a change | Round trips before it, median (min–max) | "
              "Time to the change, median | Path (most frequent) |",
              "| --- | --- | --- | --- | --- | --- |"]
    for s in scenarios:
        if s.paths:
            trips = [len(p.trips) for p in s.paths]
            common = collections.Counter(p.text() for p in s.paths).most_common(1)[0][0]
            lines.append(f"| {s.name} | {s.function} | {len(s.paths)} | {median(trips):g} ({min(trips)}–"
                         f"{max(trips)}) | {ms(median([p.seconds for p in s.paths]))} | {common} |")
    lines += ["", "## Scale", "", "| Scenario | Function | Latency | Peak memory | State afterwards |",
              "| --- | --- | --- | --- | --- |"]
    for s in scenarios:
        if s.name in ("group-1000", "instance-200"):
            lines.append(f"| {s.name}: {s.description} | {s.function} | median {ms(median(s.latencies))} over "
                         f"{len(s.latencies)} runs (own time {ms(median(s.own))}) | {mib(s.peak_rss_kib)} "
                         f"| {s.check} |")
        if s.name == "storm-500":
            lines.append(f"| {s.name}: {s.description} | {s.function} | {s.wall:.2f} s in all "
                         f"({len(s.latencies) / s.wall:.0f} events/s); median {ms(median(s.latencies))}, "
                         f"p99 {ms(p99(s.latencies))}; own time median {ms(median(s.own))} | "
                         f"{mib(s.peak_rss_kib)} | {s.check} |")
        if s.name == "pause-storm" and s.latencies and s.wall:
            lines.append(f"| {s.name}: {s.description} | {s.function} ×{s.pause.slots} | {s.wall:.2f} s in all "
                         f"({len(s.latencies) / s.wall:.0f} events/s); per event median {ms(median(s.latencies))}, "
                         f"p99 {ms(p99(s.latencies))} | {mib(s.peak_rss_kib)} (the largest process) | {s.check} |")
    lines += ["", "## AWS API calls", "",
              "Counted by the local AWS's call log (`GET /_failover/calls`), per run (one event; the whole "
              "storm for storm-500 and pause-storm), next to the fewest the scenario needs (see `minimum()` in `benches/bench.py`: "
              "one DescribeTargetHealth and at most one DeregisterTargets per group and tags in batches "
              "of 20, a single GetMetricData; the ledger's cost: one Query per resource an event of ours looks at, and two "
              "TransactWriteItems per change). Bold: over the minimum.", "",
              "| Scenario | Function | Calls per run | Within the minimum | Outcome | Checked |",
              "| --- | --- | --- | --- | --- | --- |"]
    for s, ok, text in verdicts:
        lines.append(f"| {s.name} | {s.function} | {text} | {'yes' if ok else '**no**'} | {s.status_text()} | "
                     f"{s.check or '—'} |")
    over_keys = sorted({key for s, ok, _ in verdicts if not ok for key in s.total_calls
                        if key in OVER_NOTES and f"**{key.split(':', 1)[1]} " in calls_verdict(s, plan)[1]})
    if over_keys:
        lines += [""] + [f"- {key.split(':', 1)[1]}: {OVER_NOTES[key]}" for key in over_keys]
    lines += ["", "## Sizes", "", "| Function | Bootstrap as built | Stripped | Zip (deflate, as deployed) |",
              "| --- | --- | --- | --- |"]
    for f in FUNCTIONS:
        lines.append(f"| {f} | {size[f]['binary']:,} B | {size[f]['stripped']:,} B | {size[f]['zip']:,} B |")
    lines.append(f"| Python baseline (for scale) | handler {(HERE / 'baseline' / 'handler.py').stat().st_size:,} B; "
                 f"boto3 is in the Lambda runtime | | |")
    errors = [s for s in scenarios if s.error]
    if errors:
        lines += ["", "## Scenarios that could not be measured", ""]
        for s in errors:
            lines += [f"### {s.name} ({s.function})", "", "```", s.error.strip(), "```", ""]
    lines += ["", "## Method and limits", "",
              *METHOD_NOTES, ""]
    return "\n".join(lines)


METHOD_NOTES = [
    "- **Runtime API**: `benches/runtime_api.py`, HTTP/1.1 keep-alive, TCP_NODELAY on every socket and each "
    "answer in one `send` (otherwise a ~40 ms Nagle/delayed-ACK stall is measured). One "
    "Runtime API per process; `AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>` as on Lambda; the environment is "
    "Lambda's (256 MB, JSON logs written to a file). The harness's own garbage collector (this Python process "
    "runs the Runtime API and the wire proxy) is held off from an event's submission to its response, as "
    "`timeit` does, so that its full collections are not counted as the function's time.",
    "- **Cold start** here is process start to ready on this machine, files in its page cache: Lambda adds the sandbox "
    "and the download of the zip, the same for both languages. The Python baseline runs under a minimal runtime "
    "loop (`benches/baseline/bootstrap.py`), not AWS's `awslambdaric`, which imports more: its cold start here is "
    "a lower bound, so the ratio is, if anything, kind to Python.",
    "- **Overhead beyond the AWS calls**, two ways: (1) the latency of an event that makes no AWS call (an EC2 "
    "state change, which both functions skip): runtime loop, intake, decision, logging, response; (2) *own "
    "time*: the latency of a real scenario less the time its AWS calls spent on the wire, measured by a proxy "
    "between the function and the local AWS (`benches/wire_proxy.py`). What (2) leaves is the function's work "
    "and the SDK's around each call, plus the proxy's wake-up for each request, so it is, if anything, high. "
    "The local AWS's werkzeug server answers `Connection: close`; the proxy keeps the function's side of each "
    "connection open, so the SDKs reuse their connections as they do on AWS (for both languages alike).",
    "- **Warm state**: between warm group-4 (and instance-3x4) invocations the failing target is registered again "
    "and marked unhealthy, and the group's records are deleted from the ledger (its lease item kept), all "
    "outside the timing, so each invocation does the full work of a first incident: tags, health, "
    "deregistration, notification. Without the ledger reset every invocation left one more open removal "
    "record that the later ones read (and moto's TransactWriteItems then copied the whole table), so the figure "
    "grew with the invocations before it: 101.6 ms median and 500.1 ms p99 in the run before this reset, the "
    "group's ledger going from 1 to 200 records. The call log is read around each invocation, outside the timing; the storm reads it once.",
    "- **pause-storm**: Lambda's asynchronous queue on reserved concurrency, modelled by `benches/slots.py`: as "
    "many target-failover processes as template.yaml's `ReservedConcurrency` default, each under its own Runtime "
    "API and each taking the next queued event as soon as it has answered the one before; the events are built "
    "before the storm, each with its own alarm timestamp. The `pause` command is submitted once the 20th event "
    "has been handed out and takes the next free slot ahead of the queue, as a synchronous invocation retried "
    "until Lambda has a slot for it: its figure is the wait for that slot plus its run, without a client's "
    "back-off between retries (or the write to the ledger table that needs no slot, README). What changed, and "
    "when, comes from the wire proxy's record of the functions' calls (first request byte), compared with the "
    "moment the pause's response was read; the groups' targets are described afterwards.",
    "- **Memory**: `VmHWM` of the process (its peak resident set), read after the scenario's invocations.",
    "- **Sizes**: the bootstrap from `cargo lambda build --release` (the workspace profile strips it); "
    "*stripped* is `strip --strip-all` run again on a copy (equal sizes mean it was stripped already); the zip "
    "holds `bootstrap` alone, deflated, as Lambda's `provided.al2023` runtime takes it.",
    "- **Noise**: figures are medians (and p99) of one run on the machine above, which may be busy with other "
    "work (see its load average); a loaded 2-CPU machine stretches the cold starts and the p99s first. Run "
    "`make bench` again on an idle machine before quoting a figure that is near its target.",
    "- **Sizes, levers not tried here**: the SDK's default HTTPS client brings rustls with aws-lc-rs (a large "
    "C crypto library); `tracing-subscriber`'s `env-filter` brings `regex`; the release profile uses thin LTO, "
    "4 codegen units and `opt-level = \"s\"`. Each is a candidate for the size targets, at a cost this report "
    "does not measure.",
    "- **The local AWS is not AWS**: moto answers in 3 to 15 ms a call on this machine (its own parsing, "
    "validating and serialising, in Python; a ledger `TransactWriteItems` takes the longest), and AWS in tens of "
    "milliseconds; latencies that include AWS calls are therefore not Lambda's, only comparable with each other. "
    "Counts of calls, memory, sizes and the no-call overhead carry over. Stalls of the local AWS's own are taken "
    "out (tools/README.md, *Speed*): its garbage collector's full collections (200 to 320 ms, every request "
    "waiting) set group-4's p99 in earlier runs, and a `TransactWriteItems` copied every table it named.",
    "- **Calls, not round trips, set the local latency**: the local AWS is one Python process, which answers one "
    "call at a time (its interpreter lock, and the launcher's lock around DynamoDB), so calls made at once here "
    "queue, and a scenario's local latency is close to the sum of its calls' server time. instance-3x4 compares "
    "target-failover, which makes its ledger's calls (a `Query` per resource, two `TransactWriteItems` per "
    "change and two for the alarm's transition) beside the ELB calls and acts on the three groups at once, with a "
    "peer that keeps no ledger and acts on one group after another: locally the count of calls decides it; on AWS, "
    "where calls made at once overlap, the round trips before the change (the table below) do.",
]


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    parser.add_argument("--logs", help="keep the processes' logs in this folder (default: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="few iterations, to try the harness")
    parser.add_argument("--only", nargs="*", help="scenario functions to run, e.g. group_4 storm")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so that every `finally` stops what it started
    plan = Plan.quick() if args.quick else Plan()
    for name in FUNCTIONS:
        if not bootstrap_path(name).exists():
            print(f"bench: {bootstrap_path(name)} is missing: run `make lambda-build-release` first",
                  file=sys.stderr)
            return 2
    work = Path(tempfile.mkdtemp(prefix="failover-bench-"))
    log_dir = Path(args.logs) if args.logs else work
    log_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    info = machine()
    size = {name: sizes(name, work) for name in FUNCTIONS}
    benches = {"group_4": bench_group_4, "instance_3x4": bench_instance_3x4, "group_1000": bench_group_1000,
               "instance_200": bench_instance_200,
               "storm": bench_storm, "pause_storm": bench_pause_storm, "replicas": bench_replicas}
    scenarios: list[Scenario] = []
    aws = MeasuredAws(log_dir)
    try:
        delays = proxy_delay(aws)
        for key, bench in benches.items():
            if args.only and key not in args.only:
                continue
            t0 = time.monotonic()
            found = bench(aws, log_dir, plan)
            scenarios += found
            print(f"bench: {key}: {time.monotonic() - t0:.1f} s" +
                  "".join(f"\n  {s.function} {s.name}: {s.status_text()}"
                          + (f" ERROR {s.error.strip().splitlines()[-1]}" if s.error else "") for s in found),
                  file=sys.stderr)
        delays += proxy_delay(aws)
    finally:
        aws.stop()
    info["load average"] = f"{info['load average']} at the start, {load_average()} at the end (1 / 5 / 15 min)"
    report = render(info, size, scenarios, plan, time.monotonic() - started, median(delays))
    Path(args.out).write_text(report)
    kept = f" (logs in {log_dir})" if args.logs else ""
    print(f"bench: wrote {args.out} in {time.monotonic() - started:.0f} s{kept}", file=sys.stderr)
    if not args.logs:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if any(s.error for s in scenarios) else 0


if __name__ == "__main__":
    sys.exit(main())
