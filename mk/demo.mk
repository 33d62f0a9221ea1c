# `make demo-run` and `make e2e`: the bootstraps under cargo lambda's Runtime API emulator, against the local
# AWS. Both run the binaries the tests build (the dev profile), which lambda-build links into target/lambda/
# (no build at all after `cargo test`).
.PHONY: demo-run e2e

# The failover story, step by step; exits non-zero when a step does not turn out as expected.
demo-run: venv lambda-build
	$(PY) tools/demo.py

# End-to-end tests: each function through the Invoke API, asserting AWS state and notifications; and the
# rpc-v2-cbor translation they rely on for CloudWatch.
e2e: venv lambda-build
	$(PY) -m unittest tools/test_rpcv2_cbor.py tools/test_end_to_end.py
