"""An HTTP proxy in front of the local AWS: keep-alive towards the functions, and each AWS call timed on the wire.

Used by ``benches/bench.py``: the functions get ``AWS_ENDPOINT_URL=http://127.0.0.1:<proxy port>``; the harness's
own boto3 calls go to the local AWS directly, so every request the proxy sees is a function's AWS call.

Keep-alive: the local AWS (werkzeug) answers every request with ``Connection: close``, so an SDK talking to it
directly opens a new connection per call, which it does not do on AWS (it keeps its connections). The proxy
keeps the function's connection open: it reads one request (``Content-Length`` framing, as both SDKs send),
sends it upstream on a new connection, reads the answer (by its ``Content-Length``, else to the close), and
returns it with ``Connection: keep-alive`` (and a ``Content-Length`` when the upstream gave none). The bytes
are otherwise untouched.

Timing: a call's span runs from the first byte of its request read by the proxy to the last byte of its answer
written back. An invocation's time on AWS calls is the union of the spans inside it (concurrent calls overlap);
its latency minus that is the function's own time: runtime loop, intake, decision, logging, and the SDK's work
before and after each call. The proxy's wake-up on each request still falls outside the span, so the own time
is, if anything, a little high.

Calls: each span keeps its request's head and the start of its body (``Call``), so that the harness can name
the call (``calls_between``, named outside the timing by whoever reads them) and tell which calls of an
invocation ran one after the other and which overlapped (``round_trips``).

One asyncio loop in one thread, TCP_NODELAY on every socket, loopback only. ``close()`` stops it.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from dataclasses import dataclass

_MAX_HEAD = 64 * 1024
# Of a request's body, what a call keeps: enough for a query-protocol call's leading ``Action=...``.
_KEPT_BODY = 1024


@dataclass(frozen=True)
class Call:
    """One relayed request: its span on the wire, its head and the start of its body."""

    start: float
    end: float
    head: bytes
    body: bytes

    def overlaps(self, other: "Call") -> bool:
        return self.start < other.end and other.start < self.end


def round_trips(calls: list[Call]) -> list[list[Call]]:
    """The calls as round trips one after the other: the longest chain of calls each of which begins after the
    one before it has ended (calls that overlap in time cannot both be on it, so they count as one), each
    link with the calls that began while it was the next to come (since the link before it ended). Calls in a
    row are a round trip each; concurrent chains (one per group, say) count as the longest of them."""
    ordered = sorted(calls, key=lambda c: c.end)
    length: list[int] = []
    before: list[int | None] = []
    for i, call in enumerate(ordered):
        links = [j for j in range(i) if ordered[j].end <= call.start]
        best = max(links, key=lambda j: (length[j], ordered[j].end), default=None)
        length.append(1 if best is None else length[best] + 1)
        before.append(best)
    if not ordered:
        return []
    last: int | None = max(range(len(ordered)), key=lambda i: (length[i], -ordered[i].end))
    chain = []
    while last is not None:
        chain.append(ordered[last])
        last = before[last]
    chain.reverse()
    trips, since = [], float("-inf")
    for link in chain:
        trips.append([c for c in sorted(calls, key=lambda c: c.start) if since <= c.start < link.end])
        since = link.end
    return trips


def _nodelay(writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _headers(head: bytes) -> dict[str, str]:
    """Lower-cased header names -> values of an HTTP head (start line first, then headers)."""
    out = {}
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name:
            out[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return out


def keep_alive(answer: bytes) -> bytes:
    """The upstream's complete answer (read to its close), framed for a connection that stays open."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("upstream answer without a header block")
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    headers = _headers(head)
    if "content-length" not in headers and "chunked" not in headers.get("transfer-encoding", "").lower():
        lines.append(b"Content-Length: " + str(len(body)).encode())
    lines.append(b"Connection: keep-alive")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class WireProxy:
    def __init__(self, upstream_port: int):
        self.upstream_port = upstream_port
        self._calls: list[Call] = []
        self._active = 0  # requests being relayed
        # asyncio keeps only weak references to tasks; a connection's task must not be collected mid-call.
        self._relays: set[asyncio.Task] = set()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        started = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(started,), name="wire-proxy", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("wire proxy did not start")
        self.endpoint = f"http://127.0.0.1:{self.port}"

    def _run(self, started: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        started.set()
        self._loop.run_forever()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """One client connection: requests one after the other, until the client closes it."""
        task = asyncio.current_task()
        self._relays.add(task)
        task.add_done_callback(self._relays.discard)
        _nodelay(writer)
        try:
            while True:
                first = await reader.read(1)  # wait for a request without counting the wait
                if not first:
                    return
                start = time.monotonic()
                with self._lock:
                    self._active += 1
                try:
                    head = first + await reader.readuntil(b"\r\n\r\n")
                    length = int(_headers(head).get("content-length") or 0)
                    body = await reader.readexactly(length) if length else b""
                    answer = await self._upstream(head + body)
                    writer.write(answer)
                    await writer.drain()
                    with self._lock:
                        self._calls.append(Call(start, time.monotonic(), head, body[:_KEPT_BODY]))
                finally:
                    with self._lock:
                        self._active -= 1
        except (ConnectionError, OSError, ValueError, asyncio.IncompleteReadError, asyncio.LimitOverrunError,
                asyncio.CancelledError):
            pass  # a client gone, a request this proxy cannot frame, or close(): the connection ends
        finally:
            writer.close()

    async def _upstream(self, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.upstream_port, limit=_MAX_HEAD)
        try:
            _nodelay(writer)
            writer.write(request)
            await writer.drain()
            head = await reader.readuntil(b"\r\n\r\n")
            length = _headers(head).get("content-length")
            # By its length, as a client reads it: werkzeug closes the connection some milliseconds later.
            body = await reader.readexactly(int(length)) if length is not None else await reader.read()
            return keep_alive(head + body)
        finally:
            writer.close()

    def calls_between(self, start: float, end: float) -> list[Call]:
        """The calls that began inside [start, end], in the order they began. Waits (a little) for calls still
        being relayed: a function may be done with an answer before the proxy has noted it."""
        deadline = time.monotonic() + 2
        while self._active and time.monotonic() < deadline:
            time.sleep(0.0002)
        with self._lock:  # a call that began inside belongs to it; its end is noted after the client may be done
            return sorted((c for c in self._calls if start <= c.start <= end), key=lambda c: c.start)

    def seconds_between(self, start: float, end: float) -> float:
        """Time covered by calls that began inside [start, end] (the union of their spans, cut at ``end``)."""
        spans = [(c.start, min(c.end, end)) for c in self.calls_between(start, end)]
        total, reach = 0.0, start
        for s, e in spans:
            if e > reach:
                total += e - max(s, reach)
                reach = e
        return total

    def close(self) -> None:
        async def stop() -> None:
            self._server.close()
            await asyncio.sleep(0)  # connections accepted just now get their task started
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._loop.stop()

        asyncio.run_coroutine_threadsafe(stop(), self._loop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
