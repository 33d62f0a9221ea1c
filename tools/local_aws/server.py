"""Local AWS emulator for the failover project: moto 5.2.5 in server mode, made closer to AWS.

The WSGI app (control endpoints, accounts from access keys, the call log, ARC zonal shift, the rpc-v2-cbor
translation, then moto), the werkzeug server and the command line. tools/README.md describes them.
"""

from __future__ import annotations

import argparse
import gc
import json
import logging
import re
import signal
import sys
import threading
import time
from urllib.parse import parse_qs

from moto import backends as moto_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

# Each service module patches moto when imported.
from . import arc_zonal_shift, arc_state, autoscaling, dynamodb, ec2, elbv2, iam, rds, rds_global, rds_proxy, route53, sns  # noqa: F401
from .calls import CALLS, app_name, identify_call
from .control import CONTROL_PREFIX, DEFAULT_ACCOUNT, ControlError, where
from .rpcv2_cbor import RpcV2CborToJson

# moto's server lists its own package directory on every request to tell a service's name from a host name
# (`list_of_moto_modules`, a sorted `listdir` and a `stat` per entry, about a sixth of a DynamoDB GetItem's time
# here). The package does not change while the server runs: listed once.
_MOTO_MODULES = tuple(moto_backends.list_of_moto_modules())
moto_backends.list_of_moto_modules = lambda: _MOTO_MODULES

_ACCOUNT_AKID = re.compile(r"Credential=(\d{12})/")

log = logging.getLogger("local_aws")

ROUTES = {
    ("GET", "calls"): CALLS.report,
    ("POST", "calls/reset"): CALLS.reset,
    ("POST", "elbv2/target-health"): elbv2.set_target_health,
    ("POST", "rds/instance-status"): rds.set_instance_status,
    ("POST", "rds/promotion-hold"): rds.hold_promotion,
    ("POST", "rds/promotion-finish"): rds.finish_promotion,
    ("POST", "rds/event"): rds.record_event,
    ("POST", "rds/global-hold"): rds_global.hold,
    ("POST", "rds/global-finish"): rds_global.finish,
    ("POST", "rds/cluster-status"): rds_global.set_cluster_status,
    ("POST", "rds/global-impaired"): rds_global.impaired,
    ("POST", "ec2/instances"): ec2.run_instances,
    ("POST", "ec2/instances/terminate"): ec2.terminate_instances,
    ("GET", "ec2/network"): ec2.default_network,
    ("POST", "dynamodb/ledger-table"): dynamodb.create_ledger_table,
    ("POST", "dynamodb/transaction-window"): dynamodb.set_transaction_window,
    ("POST", "iam/deny"): iam.deny,
    ("POST", "sns/inbox"): sns.inbox,
    ("POST", "route53/propagation"): route53.set_propagation,
    **{route: (lambda body, handler=handler: handler(*where(body), body))
       for route, handler in arc_state.CONTROL_ROUTES.items()},
}

_request_clock = threading.local()  # .started: when the server thread parsed this request's first line


class FailoverApp:
    """Answers /_failover/ control calls; maps 12-digit access keys to accounts; else moto, with each call
    counted in ``CALLS`` (``/moto-api/`` calls are not counted).

    Accounts: stock moto selects the account by the ``x-moto-account-id`` header (default 123456789012). Here a
    SigV4 access key id of exactly 12 digits is the account id too (unless the header is present), so that a real
    Lambda binary is isolated in its own account through AWS_ACCESS_KEY_ID alone, as a key belongs to one account
    on AWS. https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html"""

    def __init__(self, moto_app):
        self.moto_app = moto_app

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith(CONTROL_PREFIX):
            return self.control(environ, start_response, path[len(CONTROL_PREFIX):])
        if "HTTP_X_MOTO_ACCOUNT_ID" not in environ:
            match = _ACCOUNT_AKID.search(environ.get("HTTP_AUTHORIZATION", ""))
            if match:
                environ["HTTP_X_MOTO_ACCOUNT_ID"] = match.group(1)
        if path.startswith("/moto-api/"):
            return self.moto_app(environ, start_response)
        service, action = identify_call(environ)
        started = getattr(_request_clock, "started", None) or time.perf_counter()
        try:
            return self.moto_app(environ, start_response)  # moto's responses are complete lists of bytes
        finally:
            account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or DEFAULT_ACCOUNT
            CALLS.add(account, service, action, time.perf_counter() - started, app_name(environ))

    def control(self, environ, start_response, route):
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            handler = ROUTES.get((method, route.strip("/")))
            if handler is None:
                raise ControlError(f"unknown control endpoint: {method} {CONTROL_PREFIX}{route}")
            if method == "GET":
                body = {k: v[-1] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
            else:
                length = int(environ.get("CONTENT_LENGTH") or 0)
                raw = environ["wsgi.input"].read(length) if length else b""
                try:
                    body = json.loads(raw or b"{}")
                except ValueError as e:
                    raise ControlError(f"body is not JSON: {e}") from None
                if not isinstance(body, dict):
                    raise ControlError("body must be a JSON object")
            status, result = "200 OK", handler(body)
        except ControlError as e:
            status, result = "400 Bad Request", {"error": str(e)}
        except Exception as e:  # a control call must never take the server down
            log.exception("control endpoint failed")
            status, result = "400 Bad Request", {"error": f"{type(e).__name__}: {e}"}
        payload = json.dumps(result).encode()
        start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))])
        return [payload]


class Handler(MotoRequestHandler):
    """moto's request handler with TCP_NODELAY and an optional access log."""

    disable_nagle_algorithm = True  # socketserver.StreamRequestHandler sets TCP_NODELAY in setup()
    verbose = False

    def parse_request(self):
        _request_clock.started = time.perf_counter()
        return super().parse_request()

    def log_request(self, code="-", size="-"):
        if self.verbose:
            super().log_request(code, size)


def _keep_collections_short() -> None:
    """Python's full garbage collection walks every object the process holds, moto's loaded service models and
    state included: 200 to 320 ms here, while every request waits on the interpreter lock (measured in `make
    bench`, a few warm invocations in two hundred stalled that long). Every second the young generations are
    collected (a few milliseconds) and what is left is moved out of the collector's reach (`gc.freeze`), so a
    collection walks only the young objects; reference counting still frees the frozen ones, and a cycle among
    them (a request in flight at that moment) is kept until the server exits (it lives for one run)."""
    gc.freeze()
    while True:
        time.sleep(1.0)
        gc.collect(1)
        gc.freeze()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--no-stdin-watch", action="store_true", help="do not exit on stdin EOF")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)
    threading.Thread(target=_keep_collections_short, name="gc-freeze", daemon=True).start()

    logging.basicConfig(stream=sys.stderr, level=logging.INFO if args.verbose else logging.WARNING,
                        format="local_aws: %(levelname)s %(message)s")
    Handler.verbose = args.verbose
    moto_app = RpcV2CborToJson(iam.IamDeny(rds_global.GlobalImpaired(DomainDispatcherApplication(create_backend_app))))
    app = FailoverApp(arc_zonal_shift.ArcZonalShift(moto_app))
    server = make_server(args.host, args.port, app, threaded=True, request_handler=Handler)

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if not args.no_stdin_watch:
        def watch_stdin():
            while sys.stdin.buffer.read1(65536):
                pass
            stop.set()
        threading.Thread(target=watch_stdin, name="stdin-watch", daemon=True).start()
    threading.Thread(target=server.serve_forever, name="server", daemon=True).start()

    host, port = server.server_address[:2]
    ready = sys.stdout
    sys.stdout = sys.stderr  # stdout carries the READY line only
    ready.write(f"READY http://{host}:{port}\n")
    ready.flush()

    while not stop.wait(1.0):
        pass
    server.shutdown()
    server.server_close()
    return 0
