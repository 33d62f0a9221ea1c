#!/usr/bin/env python3
"""Run the real binaries of the failover functions under a Lambda Runtime API, against the local AWS.

Shared by ``tools/demo.py`` (``make demo``) and ``tools/test_end_to_end.py`` (``make e2e``). Never used in
production.

What runs
    * ``tools/local_aws --port 0``: the local AWS (moto plus the project's fidelity fixes, among them
      ``tools/local_aws/rpcv2_cbor.py`` translating the rpc-v2-cbor protocol of aws-sdk-cloudwatch, which moto
      lacks). One account per scenario, selected by a 12-digit ``AWS_ACCESS_KEY_ID``.
    * ``cargo lambda watch --only-lambda-apis -A 127.0.0.1 -P <port>``: cargo-lambda's Lambda emulator with
      only its APIs: the Invoke API (``POST /2015-03-31/functions/<name>/invocations``) and the Runtime API
      under ``/.rt``. It builds and starts nothing itself.
    * ``target/lambda/<name>/bootstrap`` (from ``make lambda-build``: a link to the binary the tests build, dev
      profile; see the Makefile), started here with
      ``AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:<port>/.rt/<name>``: the emulator routes the Runtime API by the
      path segment after ``/.rt``, so each bootstrap polls the invocations sent to its own function name. The
      bootstrap is the deployable artefact's code, unchanged; its profile (debug assertions on), its target
      (x86_64), the features the tests' dev-dependencies add to shared crates, and its environment differ from
      Lambda's.

Every process is started through ``guard`` (``python tools/lambda_local.py guard -- <cmd>``): the command runs
in its own process group and the whole group is killed when the guard's stdin reaches EOF, so a demo or test
that dies for any reason leaves no server behind. ``Stack.close()`` also closes and kills them explicitly.

Loopback only: every address is 127.0.0.1.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
REGION = "us-east-1"
FUNCTIONS = ("target-failover", "database-failover")


# --------------------------------------------------------------------------- processes


def guard_main(argv: list[str]) -> None:
    """``guard -- cmd...``: run cmd in its own process group; kill the group on stdin EOF or SIGTERM."""
    if argv[:1] == ["--"]:
        argv = argv[1:]
    child = subprocess.Popen(argv, start_new_session=True, stdin=subprocess.DEVNULL)

    def stop(*_):
        try:
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(child.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def watch_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        stop()
        os._exit(0)

    signal.signal(signal.SIGTERM, lambda *_: (stop(), os._exit(0)))
    signal.signal(signal.SIGINT, lambda *_: (stop(), os._exit(0)))
    threading.Thread(target=watch_stdin, daemon=True).start()
    code = child.wait()
    # The command ended by itself: its group may still hold children.
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    sys.stdout.flush()
    # Not sys.exit: the stdin thread is blocked in a read, which interpreter shutdown would trip over.
    os._exit(code if code >= 0 else 128 - code)


class Guarded:
    """A command run under ``guard`` (or directly, ``guard=False``, for a command that itself exits on stdin
    EOF): stdin held open by us, stdout/stderr to a log file."""

    def __init__(self, name: str, cmd: list[str], env: dict[str, str] | None, log_dir: Path,
                 stdout=None, cwd: Path = ROOT, guard: bool = True):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "guard", "--", *cmd] if guard else cmd,
            stdin=subprocess.PIPE, stdout=stdout if stdout is not None else self._log, stderr=self._log,
            env=env, cwd=cwd,
        )

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.stdin and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout:
            self.proc.stdout.close()
        self._log.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, process: Guarded, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process.alive():
            raise RuntimeError(f"{process.name} exited during start-up:\n{process.log()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{process.name} did not listen on 127.0.0.1:{port} within {timeout:.0f} s:\n"
                       f"{process.log()[-3000:]}")


def http_json(port: int, method: str, path: str, body=None, timeout: float = 60) -> tuple[int, object]:
    """One HTTP/1.1 request to 127.0.0.1:port with TCP_NODELAY; the body parsed as JSON when it is JSON."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.connect()
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        data = None if body is None else (body if isinstance(body, (bytes, str)) else json.dumps(body))
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        raw = response.read().decode(errors="replace")
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw
    finally:
        conn.close()


# --------------------------------------------------------------------------- the local AWS


def local_aws_main(argv: list[str]) -> int:
    """``local-aws ARGS``: the local AWS's command line (``python tools/local_aws ARGS``)."""
    sys.path.insert(0, str(ROOT / "tools"))
    from local_aws.server import main

    return main(argv)


class LocalAws:
    """The local AWS (``tools/local_aws/``, which translates rpc-v2-cbor itself) on a free port."""

    def __init__(self, log_dir: Path):
        python = VENV_BIN / "python"
        # The launcher exits by itself when its stdin closes: no guard needed.
        self.process = Guarded("local-aws", [str(python), str(Path(__file__).resolve()), "local-aws", "--port", "0"],
                               None, log_dir, stdout=subprocess.PIPE, guard=False)
        line = self.process.proc.stdout.readline().decode()
        if not line.startswith("READY "):
            self.process.stop()
            raise RuntimeError(f"local AWS not ready: {line!r}\n{self.process.log()[-3000:]}")
        self.endpoint = line.split()[1]
        self.port = int(self.endpoint.rsplit(":", 1)[1])
        # Keep draining stdout so the launcher never blocks on a full pipe.
        threading.Thread(target=self.process.proc.stdout.read, daemon=True).start()

    def control(self, path: str, body: dict) -> dict:
        status, answer = http_json(self.port, "POST", path, body)
        if status != 200:
            raise RuntimeError(f"POST {path} answered {status}: {answer}")
        return answer

    def network(self, account: str, region: str = REGION) -> dict:
        status, answer = http_json(self.port, "GET", f"/_failover/ec2/network?account={account}&region={region}")
        if status != 200:
            raise RuntimeError(f"network of {account}: {status} {answer}")
        return answer

    def client(self, service: str, account: str, region: str = REGION):
        import boto3
        from botocore.config import Config

        return boto3.client(
            service, endpoint_url=self.endpoint, region_name=region,
            aws_access_key_id=account, aws_secret_access_key="local-secret",
            # Moto answers some bad requests with HTTP 500: one attempt, so errors show at once.
            config=Config(retries={"max_attempts": 1}),
        )

    def stop(self) -> None:
        self.process.stop()


# --------------------------------------------------------------------------- the Lambda emulator


@dataclass
class Invocation:
    """What the Invoke API answered: the function's response, or its error (``errorType``, ``errorMessage``)."""

    function: str
    http_status: int
    payload: object
    seconds: float

    @property
    def ok(self) -> bool:
        return self.http_status == 200

    @property
    def status(self) -> str:
        """The response's ``status`` (``succeeded``, ``refused``...), or ``error:<errorType>``."""
        if self.ok and isinstance(self.payload, dict):
            return str(self.payload.get("status"))
        if isinstance(self.payload, dict) and "errorType" in self.payload:
            return f"error:{self.payload['errorType']}"
        return f"http-{self.http_status}"


class Emulator:
    """``cargo lambda watch --only-lambda-apis``: the Invoke API and the Runtime API on one port."""

    def __init__(self, log_dir: Path):
        self.port = free_port()
        cargo_lambda = VENV_BIN / "cargo-lambda"
        env = dict(os.environ)
        env["PATH"] = f"{VENV_BIN}:{env.get('PATH', '')}"
        env.setdefault("RUST_LOG", "cargo_lambda=warn")
        env["CARGO_TERM_COLOR"] = "never"
        cmd = [str(cargo_lambda), "lambda", "watch", "--only-lambda-apis", "--ignore-changes", "--quiet",
               "-A", "127.0.0.1", "-P", str(self.port)]
        self.process = Guarded("cargo-lambda-watch", cmd, env, log_dir)
        wait_for_port(self.port, self.process, timeout=60)

    def runtime_api(self, function: str) -> str:
        return f"http://127.0.0.1:{self.port}/.rt/{function}"

    def invoke(self, function: str, payload, timeout: float = 60) -> Invocation:
        started = time.monotonic()
        status, answer = http_json(self.port, "POST", f"/2015-03-31/functions/{function}/invocations", payload,
                                   timeout=timeout)
        return Invocation(function, status, answer, time.monotonic() - started)

    def stop(self) -> None:
        self.process.stop()


def bootstrap_path(function: str) -> Path:
    return ROOT / "target" / "lambda" / function / "bootstrap"


class Function:
    """One bootstrap, polling the emulator's Runtime API for its own name."""

    def __init__(self, name: str, emulator: Emulator, aws: LocalAws, account: str, settings: dict[str, str],
                 log_dir: Path):
        binary = bootstrap_path(name)
        if not binary.exists():
            raise RuntimeError(f"{binary} is missing: run `make lambda-build` first")
        self.name = name
        env = {
            "PATH": "/usr/bin:/bin",
            # What Lambda sets (cargo lambda's watch docs list the ones its emulator needs).
            "AWS_LAMBDA_RUNTIME_API": emulator.runtime_api(name),
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "1",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_FORMAT": "Text",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            # The local AWS, in the scenario's account.
            "AWS_ENDPOINT_URL": aws.endpoint,
            "AWS_ACCESS_KEY_ID": account,
            "AWS_SECRET_ACCESS_KEY": "local-secret",
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_COLOR": "1",
        }
        env.update(settings)
        self.process = Guarded(name, [str(binary)], env, log_dir)

    def alive(self) -> bool:
        return self.process.alive()

    def log(self) -> str:
        return self.process.log()

    def stop(self) -> None:
        self.process.stop()


# --------------------------------------------------------------------------- notifications


@dataclass
class Notification:
    """A notification as the subscriber's queue received it (SNS envelope kept)."""

    subject: str
    attributes: dict[str, str]
    body: dict

    @property
    def outcome(self) -> str:
        return self.attributes.get("outcome", "")

    @property
    def severity(self) -> str:
        return self.attributes.get("severity", "")

    @property
    def action(self) -> str:
        return self.attributes.get("action", "")


class Subscriber:
    """An SNS topic with an SQS queue subscribed: the notifications as a person's inbox receives them."""

    def __init__(self, aws: LocalAws, account: str, topic: str = "failover-notifications"):
        self.sns = aws.client("sns", account)
        self.sqs = aws.client("sqs", account)
        self.topic_arn = self.sns.create_topic(Name=topic)["TopicArn"]
        self.queue_url = self.sqs.create_queue(QueueName=f"{topic}-inbox")["QueueUrl"]
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        self.sns.subscribe(TopicArn=self.topic_arn, Protocol="sqs", Endpoint=queue_arn)

    def drain(self, settle: float = 0.2) -> list[Notification]:
        """Everything delivered so far, oldest first (SNS to SQS is synchronous in moto; a short settle anyway)."""
        out: list[Notification] = []
        empty_rounds = 0
        while empty_rounds < 2:
            messages = self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10,
                                                WaitTimeSeconds=0).get("Messages", [])
            if not messages:
                empty_rounds += 1
                time.sleep(settle if empty_rounds == 1 else 0)
                continue
            empty_rounds = 0
            for message in messages:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
                envelope = json.loads(message["Body"])
                try:
                    body = json.loads(envelope.get("Message", ""))
                except ValueError:
                    body = {"raw": envelope.get("Message", "")}
                attributes = {k: v.get("Value", "") for k, v in (envelope.get("MessageAttributes") or {}).items()}
                out.append(Notification(envelope.get("Subject") or "", attributes, body))
        return out


# --------------------------------------------------------------------------- everything together


@dataclass
class Stack:
    """The local AWS, the emulator, and (once ``start_functions`` ran) one bootstrap per function."""

    log_dir: Path
    aws: LocalAws
    emulator: Emulator
    functions: dict[str, Function] = field(default_factory=dict)

    @classmethod
    def start(cls, log_dir: Path | None = None) -> "Stack":
        log_dir = log_dir or Path(tempfile.mkdtemp(prefix="failover-e2e-"))
        log_dir.mkdir(parents=True, exist_ok=True)
        aws = LocalAws(log_dir)
        try:
            emulator = Emulator(log_dir)
        except BaseException:
            aws.stop()
            raise
        return cls(log_dir, aws, emulator)

    def start_function(self, name: str, account: str, settings: dict[str, str]) -> Function:
        old = self.functions.pop(name, None)
        if old:
            old.stop()
        function = Function(name, self.emulator, self.aws, account, settings, self.log_dir)
        self.functions[name] = function
        return function

    def invoke(self, name: str, payload) -> Invocation:
        function = self.functions[name]
        if not function.alive():
            raise RuntimeError(f"{name} is not running:\n{function.log()[-3000:]}")
        return self.emulator.invoke(name, payload)

    def close(self) -> None:
        for function in self.functions.values():
            function.stop()
        self.emulator.stop()
        self.aws.stop()


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "guard":
        guard_main(sys.argv[2:])
    if len(sys.argv) >= 2 and sys.argv[1] == "local-aws":
        sys.exit(local_aws_main(sys.argv[2:]))
    print(__doc__)
    sys.exit(2)
