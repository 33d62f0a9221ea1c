#!/usr/bin/env bash
# `make test`: the whole gate, in an order that keeps both cores of a small CI machine busy. The checks are the
# Makefile's targets (see `make help`); only their order and overlap are decided here:
#
# 1. The Python tools (`make venv`: pip, mostly waiting on downloads and unpacking) are installed while cargo
#    builds every target of the workspace: the tests' build is also the lint (the Makefile compiles the
#    workspace's own crates with clippy's driver, denying warnings).
# 2. Once cargo-lambda and zig are installed, the shipped arm64 release build (fat LTO: the longest single job
#    of the gate) starts in the background at the lowest priority, so that it only takes the CPU the tests leave:
#    the integration tests wait on the local AWS (one Python process) and leave most of a core idle.
# 3. The tests and the checks run in the foreground, as before. `make dist-check` comes last: its build takes
#    over what the background build has done (cargo waits for the background build's lock on target/sam, then
#    finds its work done), and reports a failure of that build itself.
#
# The background build is stopped when the gate stops, whichever way.
set -euo pipefail
cd "$(dirname "$0")/.."

log_dir=target/gate
mkdir -p "$log_dir"
step() { printf 'gate: %s (%s s)\n' "$1" "$SECONDS"; }

background=""
stop_background() {
  if [ -n "$background" ] && kill -0 "$background" 2>/dev/null; then
    kill -- "-$background" 2>/dev/null || true
  fi
}
trap stop_background EXIT

step "format and layout"
make --no-print-directory fmt-check

step "Python tools (log: $log_dir/venv.log), beside the workspace build"
make --no-print-directory venv >"$log_dir/venv.log" 2>&1 &
venv=$!
if ! make --no-print-directory build-all-targets; then
  wait "$venv" || true
  exit 1
fi
if ! wait "$venv"; then
  cat "$log_dir/venv.log" >&2
  echo "gate: make venv failed (above)" >&2
  exit 1
fi
make --no-print-directory layout-check

step "arm64 release build in the background, at the lowest priority (log: $log_dir/arm64.log)"
setsid nice -n 19 make --no-print-directory sam-compile >"$log_dir/arm64.log" 2>&1 &
background=$!

step "tests"
make --no-print-directory unit-and-integration launcher-test lambda-build e2e demo-run deploy-check

step "the SAM build for arm64 (waits for the background build)"
make --no-print-directory dist-check
step "done"
