"""A local implementation of the Lambda Runtime API, made for measuring: it starts a bootstrap and times it.

Used by ``benches/bench.py`` (``make bench``). Never used in production.

Protocol (the subset a custom runtime uses, as documented in "Using the Lambda runtime API for custom
runtimes")
    GET  /2018-06-01/runtime/invocation/next           blocks until an event is queued; answers the event with
                                                       Lambda-Runtime-Aws-Request-Id, -Deadline-Ms,
                                                       -Invoked-Function-Arn and -Trace-Id
    POST /2018-06-01/runtime/invocation/<id>/response  the function's result -> 202
    POST /2018-06-01/runtime/invocation/<id>/error     an invocation error -> 202
    POST /2018-06-01/runtime/init/error                an init error -> 202; pending and later invocations fail
The bootstrap gets ``AWS_LAMBDA_RUNTIME_API=127.0.0.1:<port>`` (host and port, as on Lambda).

Measuring
    * HTTP/1.1 with keep-alive (the runtime client keeps one connection, as on Lambda) and TCP_NODELAY on every
      accepted socket; each answer leaves in one ``send`` (without this, a response in two
      segments stalls ~40 ms against hyper, and the figures would measure the stall).
    * ``Process.start()`` takes a monotonic timestamp just before ``fork``/``exec``; the server stamps the arrival
      of the first ``next`` request (ready: init done) and of each response.
    * Invocation latency is from the moment the event is written to the runtime (the answer to its ``next``) to
      the moment its response has been read: what Lambda bills as duration, plus one loopback round trip.
    * Peak resident memory is the kernel's high-water mark, ``VmHWM`` in ``/proc/<pid>/status``.

Loopback only (127.0.0.1). ``RuntimeApi.close()`` stops the server; ``Process.stop()`` kills the bootstrap.
Each bootstrap exits by itself when its Runtime API goes away (its ``next`` request fails).
"""

from __future__ import annotations

import gc
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

API = "/2018-06-01/runtime"
_INVOCATION = re.compile(rf"^{API}/invocation/([^/]+)/(response|error)$")


@dataclass
class Invocation:
    """One event handed to the function and what came back."""

    request_id: str
    payload: bytes
    queued: float
    dispatched: float = 0.0
    finished: float = 0.0
    response: bytes = b""
    error_type: str | None = None
    done: threading.Event = field(default_factory=threading.Event)

    @property
    def seconds(self) -> float:
        """Latency: event written to the runtime -> response read."""
        return self.finished - self.dispatched

    @property
    def ok(self) -> bool:
        return self.error_type is None

    def json(self):
        try:
            return json.loads(self.response)
        except ValueError:
            return self.response.decode(errors="replace")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # TCP_NODELAY on the accepted socket (StreamRequestHandler.setup)
    server: "_Server"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _answer(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} {self.responses.get(status, ('',))[0]}", f"Content-Length: {len(body)}",
                 "Content-Type: application/json"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)  # one segment

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def do_GET(self) -> None:
        api = self.server.api
        if self.path != f"{API}/invocation/next":
            return self._answer(404, b'{"errorMessage":"unknown path"}')
        api._ready(time.monotonic())
        while True:
            try:
                invocation = api._queue.get(timeout=0.2)
                break
            except queue.Empty:
                if api._closing.is_set():
                    self.close_connection = True
                    return self._answer(500, b'{"errorMessage":"runtime API closing"}', {"Connection": "close"})
        headers = {
            "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
            "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
            "Lambda-Runtime-Invoked-Function-Arn": api.function_arn,
            "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
        }
        invocation.dispatched = time.monotonic()
        self._answer(200, invocation.payload, headers)

    def do_POST(self) -> None:
        api = self.server.api
        body = self._body()
        now = time.monotonic()
        if self.path == f"{API}/init/error":
            api.init_error = body.decode(errors="replace")
            api._fail_all(self.headers.get("Lambda-Runtime-Function-Error-Type") or "Runtime.InitError", body)
            return self._answer(202, b'{"status":"OK"}')
        match = _INVOCATION.match(self.path)
        invocation = api._pending.get(match.group(1)) if match else None
        if invocation is None:
            return self._answer(404, b'{"errorMessage":"unknown invocation"}')
        invocation.finished, invocation.response = now, body
        if match.group(2) == "error":
            invocation.error_type = self.headers.get("Lambda-Runtime-Function-Error-Type") or "Unhandled"
        api._pending.pop(invocation.request_id, None)
        self._answer(202, b'{"status":"OK"}')
        invocation.done.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    api: "RuntimeApi"

    def handle_error(self, request, client_address) -> None:
        """A runtime killed between invocations resets its connection: expected, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RuntimeApi:
    """The Runtime API for one function, on 127.0.0.1 and a free port."""

    def __init__(self, function: str, region: str = "us-east-1", account: str = "123456789012"):
        self.function = function
        self.function_arn = f"arn:aws:lambda:{region}:{account}:function:{function}"
        self._queue: queue.Queue[Invocation] = queue.Queue()
        self._pending: dict[str, Invocation] = {}
        self._closing = threading.Event()
        self._ready_lock = threading.Lock()
        self.ready_at: float | None = None  # first `next` request since the last reset_ready()
        self.init_error: str | None = None
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"runtime-api-{function}", daemon=True)
        self._thread.start()

    def _ready(self, at: float) -> None:
        with self._ready_lock:
            if self.ready_at is None:
                self.ready_at = at

    def reset_ready(self) -> None:
        """Before starting a new process: the next `next` request is its first."""
        with self._ready_lock:
            self.ready_at = None
        self.init_error = None

    def _fail_all(self, error_type: str, body: bytes) -> None:
        now = time.monotonic()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for invocation in list(self._pending.values()):
            invocation.finished, invocation.response, invocation.error_type = now, body, error_type
            invocation.done.set()
        self._pending.clear()

    def submit(self, payload) -> Invocation:
        """Queue an event; the function takes it with its next `next` request."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        invocation = Invocation(str(uuid.uuid4()), data, time.monotonic())
        self._pending[invocation.request_id] = invocation
        self._queue.put(invocation)
        return invocation

    def invoke(self, payload, timeout: float = 60) -> Invocation:
        """One event, answered. This process's garbage collector is held off until the response is read (as
        `timeit` does): a full collection of what the harness has recorded so far stops this Runtime API and the
        wire proxy, both threads of this process, for tens to hundreds of milliseconds, which the figures would
        count as the function's time. It runs after the response instead."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            invocation = self.submit(payload)
            if not invocation.done.wait(timeout):
                self._pending.pop(invocation.request_id, None)
                raise TimeoutError(f"{self.function}: no response within {timeout} s")
            return invocation
        finally:
            if collecting:
                gc.enable()

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()


class Process:
    """A bootstrap (or any runtime command) started against a RuntimeApi, with its start time."""

    def __init__(self, cmd: list[str], env: dict[str, str], api: RuntimeApi, log_path: Path):
        self.api = api
        self._log = open(log_path, "ab")
        env = {**env, "AWS_LAMBDA_RUNTIME_API": api.address}
        api.reset_ready()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 30) -> float:
        """Seconds from process start to its first `next` request."""
        deadline = time.monotonic() + timeout
        while self.api.ready_at is None:
            if self.proc.poll() is not None:
                raise RuntimeError(f"process exited with {self.proc.returncode} before asking for an event")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready within {timeout} s")
            time.sleep(0.0005)
        return self.api.ready_at - self.started

    def peak_rss_kib(self) -> int:
        """VmHWM: the most resident memory the process has used so far."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.M)
        return int(match.group(1)) if match else 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.proc.wait()
        self._log.close()

