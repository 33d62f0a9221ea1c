"""The local AWS of the failover project: moto 5.2.5 in server mode, made closer to AWS, one module per service.

Run it with ``python tools/local_aws [--host 127.0.0.1] [--port 0] [--no-stdin-watch] [--verbose]``
(``server.main``). tools/README.md describes the command line, the control endpoints and every deviation from
moto, with the AWS documentation each one follows. Used by tests, the demo and the benchmarks, never in production.
"""
