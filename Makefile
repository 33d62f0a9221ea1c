# failover: the two commands an ops engineer needs are `make demo` and `make test`.
# Everything they need is installed by the targets themselves: the pinned Python tools into .venv/
# (moto, cargo-lambda with zig, the SAM CLI, cfn-lint), Rust crates through cargo.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
PY := $(VENV)/bin/python
# The venv's bin first: cargo-lambda, zig (via python -m ziglang), sam, cfn-lint.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
# Builds and tests print plain text into CI logs.
export CARGO_TERM_COLOR := never
# Every cargo command run through make compiles the workspace's own crates with clippy's driver (dependencies
# with plain rustc), denying warnings, so that the tests' build is also the lint: a separate `cargo clippy`
# type-checks every dependency a second time, about 4.5 minutes of the gate on 2 cores. CLIPPY_ARGS is how
# `cargo clippy -- -D warnings` hands its arguments to the driver. A plain `cargo test` afterwards recompiles
# the workspace's crates only (the wrapper is part of their fingerprint), not the SDK crates.
CLIPPY_DRIVER := $(shell rustup which clippy-driver 2>/dev/null)
ifneq ($(CLIPPY_DRIVER),)
export RUSTC_WORKSPACE_WRAPPER := $(CLIPPY_DRIVER)
export CLIPPY_ARGS := -D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
endif

.PHONY: help venv test fmt-check layout-check clippy build-all-targets unit-and-integration launcher-test \
	lambda-build lambda-build-release demo bench fuzz clean

help:
	@echo "make demo   run the functions against the local AWS through a failure story"
	@echo "make test   the whole gate: format, lint, unit and integration tests, release build, template checks"
	@echo "make bench  measure speed, size and API calls"

# The venv is rebuilt when the pinned requirements change.
$(VENV)/.installed: tools/requirements.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r tools/requirements.txt
	@touch $@

venv: $(VENV)/.installed

# The targets below, ordered and overlapped by tools/gate.sh: fmt-check, build-all-targets (the lint), venv,
# layout-check, unit-and-integration, launcher-test, lambda-build, e2e, demo-run, deploy-check, dist-check.
test:
	@test -n "$(CLIPPY_DRIVER)" || { echo "make test: clippy is not installed (rustup component add clippy)"; exit 1; }
	tools/gate.sh
	@echo "make test: all checks passed"

fmt-check:
	cargo fmt --all -- --check

# The shape ARCHITECTURE.md promises: file sizes, small handlers, no import loops, no #[path] includes.
layout-check: venv
	$(PY) tools/check_layout.py --self-test
	$(PY) tools/check_layout.py

clippy:
	cargo clippy --workspace --all-targets --locked -- -D warnings

# Every target of the workspace (lib, bins, tests, examples), built as the tests run them, linted by clippy's
# driver (above): what `make clippy` checks, with no second pass over the dependencies.
build-all-targets:
	cargo test --workspace --all-targets --locked --no-run

# Unit tests, and integration tests against the local AWS. A package's integration tests are one test binary
# (tests/<name>/main.rs, checked by layout-check): each binary links the SDK crates, and the one against the local
# AWS starts one launcher for all its tests.
unit-and-integration: venv build-all-targets
	cargo test --workspace --all-targets --locked
	cargo test --workspace --doc --locked

launcher-test: venv
	$(PY) -m unittest tools/test_local_aws.py tools/test_arc_zonal_shift.py tools/test_rpcv2_cbor.py benches/test_runtime_api.py benches/test_wire_proxy.py benches/test_slots.py

# Release bootstraps for Lambda (provided.al2023) through cargo-lambda and zig. The functions are selected by
# their binaries, as `sam build` selects them (tools/sam_build.sh), so that the features of every crate are
# those of the artifact SAM builds.
LAMBDA_BINS := --bin target-failover --bin database-failover
LAMBDA_NAMES := target-failover database-failover
# Where cargo writes the dev profile's binaries (CARGO_TARGET_DIR when a developer sets one).
DEV_BIN_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)/debug

# For the local runs (e2e, demo): the functions' binaries as the tests build them (the dev profile, every
# target of the workspace: the same crates with the same features), so that after `cargo test` this builds
# nothing, linked where cargo lambda's layout puts bootstraps (target/lambda/<name>/bootstrap). The shipped
# build is sam-build's (arm64, release profile), checked by deploy-check and dist-check; `make bench` measures
# the release profile (lambda-build-release). A separate x86_64 release-like build for these runs took a
# quarter of the gate's build time and tested the same code.
lambda-build: venv
	cargo build --workspace --all-targets --locked
	@for name in $(LAMBDA_NAMES); do \
		mkdir -p target/lambda/$$name && ln -sfn $(DEV_BIN_DIR)/$$name target/lambda/$$name/bootstrap; \
		test -x target/lambda/$$name/bootstrap || { echo "lambda-build: $(DEV_BIN_DIR)/$$name is missing"; exit 1; }; \
	done
	@ls -lL target/lambda/*/bootstrap

# The release profile, as shipped: what `make bench` measures (mk/bench.mk), in target/lambda-release/ so that
# it is never mistaken for the local profile's. Not part of `make test`, whose release build is the arm64 one of
# sam-build.
lambda-build-release: venv
	cargo lambda build --release --locked --lambda-dir target/lambda-release $(LAMBDA_BINS)
	@ls -l target/lambda-release/*/bootstrap

# The failover story on the local AWS (mk/demo.mk).
demo: demo-run

# Measurements into BENCHMARKS.md (mk/bench.mk), then the intake fuzzer for a bounded time. The fuzzer is built
# with the same features as the tests (`--workspace --all-targets`), so no SDK crate is compiled twice.
FUZZ_SECONDS ?= 60
bench: bench-run fuzz

fuzz:
	cargo build --workspace --all-targets --locked
	target/debug/examples/fuzz_intake $(FUZZ_SECONDS)

clean:
	cargo clean
	rm -rf .aws-sam

include $(wildcard mk/*.mk)
