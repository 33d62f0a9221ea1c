"""A minimal Python runtime loop for the benchmark's boto3 baseline: ``python bootstrap.py handler.handler``.

It does what the Lambda Python runtime does around a handler, and no more: import the handler's module (its
boto3 clients are created at import, as users write them), then loop on the Runtime API: ``next``, call the
handler, post the response or the error. AWS's ``awslambdaric`` does more at start-up (its own imports, a
C++ runtime client, log formatting), so the baseline's cold start measured here is a lower bound: the ratio
against the Rust functions is, if anything, too kind to Python.
"""

import http.client
import importlib
import json
import os
import socket
import sys
import traceback

API = "/2018-06-01/runtime"


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self.deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")


def main():
    module_name, function_name = sys.argv[1].rsplit(".", 1)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    handler = getattr(importlib.import_module(module_name), function_name)
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    conn.connect()
    conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        try:
            conn.request("GET", f"{API}/invocation/next")
            response = conn.getresponse()
            event = json.loads(response.read())
        except (OSError, ValueError, http.client.HTTPException):
            return  # the Runtime API is gone
        if response.status != 200:
            return  # the Runtime API refuses: exit, as Lambda's runtime client does
        context = Context(response.headers)
        try:
            body, path, headers = json.dumps(handler(event, context)), "response", {}
        except Exception as e:  # reported to the Runtime API as Lambda's Python runtime does
            body = json.dumps({"errorType": type(e).__name__, "errorMessage": str(e),
                               "stackTrace": traceback.format_tb(e.__traceback__)})
            path, headers = "error", {"Lambda-Runtime-Function-Error-Type": type(e).__name__}
        conn.request("POST", f"{API}/invocation/{context.aws_request_id}/{path}", body=body, headers=headers)
        conn.getresponse().read()


if __name__ == "__main__":
    main()
