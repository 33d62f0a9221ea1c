# `make bench-run`: speed, size, memory and AWS API calls of the release bootstraps, through a local
# Lambda Runtime API (benches/runtime_api.py) against the local AWS, with the Python + boto3 baseline measured in
# the same run; writes BENCHMARKS.md. Included by the root Makefile (VENV, PY and the `venv` and `lambda-build-release`
# targets are its own); its `bench:` target runs this one. A few minutes; loopback only; every process it
# starts is stopped. Timings are reported, never asserted: the run fails only when something could not be
# measured (the tests of the measuring tools first, then a scenario that crashed).
.PHONY: bench-run

# The release profile's bootstraps (target/lambda-release/), not the dev-profile binaries that
# `make lambda-build` links into target/lambda/ for e2e and the demo.
bench-run: venv lambda-build-release
	$(PY) -m unittest benches/test_runtime_api.py benches/test_wire_proxy.py benches/test_slots.py
	$(PY) benches/bench.py --out BENCHMARKS.md
