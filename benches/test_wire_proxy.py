"""Tests for benches/wire_proxy.py: `.venv/bin/python -m unittest benches/test_wire_proxy.py -v`.

An upstream that answers like the local AWS (``Connection: close`` after each answer) stands behind the proxy;
the client keeps one connection, as an SDK does. No timing is asserted beyond ordering: a call's span lies
inside the client's own view of it.
"""

from __future__ import annotations

import http.client
import sys
import threading
import time
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wire_proxy import Call, WireProxy, keep_alive, round_trips  # noqa: E402


class _Upstream(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.005)
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body[::-1])

    def log_message(self, *args):
        pass


class WireProxyTest(unittest.TestCase):
    def setUp(self):
        self.upstream = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
        threading.Thread(target=self.upstream.serve_forever, daemon=True).start()
        self.proxy = WireProxy(self.upstream.server_address[1])

    def tearDown(self):
        self.proxy.close()
        self.upstream.shutdown()
        self.upstream.server_close()

    def call(self, body: bytes, conn: http.client.HTTPConnection | None = None) -> bytes:
        own = conn is None
        conn = conn or http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=10)
        conn.request("POST", "/", body=body)
        response = conn.getresponse()
        answer = response.read()
        self.assertEqual(response.getheader("Connection"), "keep-alive")
        if own:
            conn.close()
        return answer

    def test_keeps_the_clients_connection_open(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=10)
        conn.connect()
        sock = conn.sock
        for body in (b"one", b"two", b"three"):
            self.assertEqual(self.call(body, conn), body[::-1])
        self.assertIs(conn.sock, sock)  # the same socket throughout
        conn.close()

    def test_an_answer_without_length_gets_one(self):
        framed = keep_alive(b"HTTP/1.1 200 OK\r\nConnection: close\r\nServer: x\r\n\r\nhello")
        self.assertEqual(framed, b"HTTP/1.1 200 OK\r\nServer: x\r\nContent-Length: 5\r\n"
                                 b"Connection: keep-alive\r\n\r\nhello")

    def test_relays_each_call_and_times_it_inside_the_clients_view(self):
        start = time.monotonic()
        self.assertEqual(self.call(b"abc"), b"cba")
        self.assertEqual(self.call(b"x" * 100_000), b"x" * 100_000)  # more than one read each way
        end = time.monotonic()
        wire = self.proxy.seconds_between(start, end)
        self.assertGreater(wire, 0.01)  # two calls of at least 5 ms each upstream
        self.assertLessEqual(wire, end - start)
        self.assertEqual(self.proxy.seconds_between(end, time.monotonic()), 0)

    def test_overlapping_calls_count_once(self):
        start = time.monotonic()
        threads = [threading.Thread(target=self.call, args=(b"y",)) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        end = time.monotonic()
        self.assertLessEqual(self.proxy.seconds_between(start, end), end - start)

    def test_each_call_keeps_its_request(self):
        start = time.monotonic()
        self.call(b"Action=DescribeTags&Version=2015-12-01")
        calls = self.proxy.calls_between(start, time.monotonic())
        self.assertEqual(len(calls), 1)
        self.assertTrue(calls[0].head.startswith(b"POST / HTTP/1.1\r\n"))
        self.assertEqual(calls[0].body, b"Action=DescribeTags&Version=2015-12-01")
        self.assertLess(calls[0].start, calls[0].end)

    def test_an_idle_connection_does_not_hold_the_count(self):
        idle = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=10)
        idle.connect()
        started = time.monotonic()
        self.proxy.seconds_between(0, started)
        self.assertLess(time.monotonic() - started, 1.0)
        idle.close()


class RoundTripsTest(unittest.TestCase):
    @staticmethod
    def call(start: float, end: float) -> Call:
        return Call(start, end, b"", b"")

    def test_calls_in_a_row_are_a_round_trip_each(self):
        calls = [self.call(0, 1), self.call(1, 2), self.call(3, 4)]
        self.assertEqual(round_trips(calls), [[c] for c in calls])

    def test_overlapping_calls_are_one_round_trip(self):
        a, b, c, d = self.call(0, 3), self.call(1, 2), self.call(2.5, 5), self.call(6, 7)
        self.assertEqual(round_trips([d, c, b, a]), [[a, b], [c], [d]])  # b, c, d in a row; a beside b
        self.assertEqual(round_trips([self.call(0, 5), self.call(1, 4)]), [[self.call(0, 5), self.call(1, 4)]])
        self.assertEqual(round_trips([]), [])

    def test_concurrent_chains_count_as_the_longest(self):
        first = [self.call(0, 1), self.call(1.1, 2.1), self.call(2.2, 3.2)]
        second = [self.call(0.5, 1.5), self.call(1.6, 2.6)]  # a group with one call fewer, a little later
        trips = round_trips(first + second)
        self.assertEqual(len(trips), 3)
        self.assertEqual(sorted((c for trip in trips for c in trip), key=lambda c: c.start),
                         sorted(first + second, key=lambda c: c.start))

if __name__ == "__main__":
    unittest.main()
