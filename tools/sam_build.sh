#!/usr/bin/env bash
# `sam build` of template.yaml, then a check that each function got a `bootstrap` for the architecture the
# template declares (arm64). With --compile-only: only the cargo build it starts with (tools/gate.sh runs that
# in the background, ahead of the rest).
#
# arm64 needs the Rust standard library for aarch64-unknown-linux-gnu (cargo lambda links with zig, so no
# cross C toolchain is needed). When it is missing and `rustup target add` cannot fetch it (no network), this
# script fails before building anything, says how to fix it, and removes .aws-sam/build: `sam deploy` ships
# whatever is there, and an artifact of another architecture than the template's would not start in Lambda.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
venv=${VENV:-.venv}
export PATH="$root/$venv/bin:$PATH" SAM_CLI_TELEMETRY=0
export AWS_REGION=${AWS_REGION:-us-east-1} AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}

for tool in sam cargo-lambda cargo rustup; do
  if ! command -v "$tool" >/dev/null; then
    echo "sam-build: $tool not found on PATH (run make venv; install rustup)" >&2
    exit 1
  fi
done

target=aarch64-unknown-linux-gnu
if ! rustup target list --installed | grep -qx "$target"; then
  echo "sam-build: the $target standard library is not installed; trying rustup target add" >&2
  if ! rustup target add "$target" >&2; then
    rm -rf "$root/.aws-sam/build"
    echo "sam-build: FAILED: the $target standard library could not be installed, so nothing was built" \
      "(the template declares arm64, and .aws-sam/build was removed so that no older artifact is deployed)." >&2
    echo "sam-build: fix: run 'rustup target add $target' with network access to static.rust-lang.org" \
      "(or an offline rustup mirror), then run make sam-build again." >&2
    exit 1
  fi
fi

# A target directory of its own for arm64: cargo lambda always copies its output to
# <target>/lambda/<bin>/bootstrap, and the arm64 binaries must not replace the x86_64 ones that
# `make lambda-build` leaves in target/lambda for the local runs (demo, e2e). SAM finds the binaries through
# `cargo metadata`, which honours CARGO_TARGET_DIR.
export CARGO_TARGET_DIR=${FAILOVER_SAM_TARGET_DIR:-$root/target/sam}

# Both bootstraps first, in one cargo invocation. SAM builds each function with a cargo invocation of its own
# (`cargo lambda build --release --bin <name>`, the two in parallel): the second waits for the first's lock on
# the target directory, so the two link-time optimisations (fat LTO, one codegen unit: minutes each) ran one after
# the other. Here they run side by side on two cores, and SAM's builds find everything fresh and only copy the
# binaries. The flags are SAM's (binaries selected with --bin, so the features are the same): should they ever
# differ, SAM's builds compile every crate again, and this script fails after SAM's build, saying so.
cargo lambda build --release --locked --target "$target" --bin target-failover --bin database-failover
if [ "${1:-}" = "--compile-only" ]; then
  exit 0
fi
fingerprints="$CARGO_TARGET_DIR/$target/release/.fingerprint"
units=$(find "$fingerprints" -mindepth 1 -maxdepth 1 | wc -l)

# --no-cached overrides samconfig.toml's `cached = true` here: SAM's cache key is a checksum of every file
# under CodeUri, which is the workspace root, so it hashes target/ and .venv/ (about 6 GB, 56,000 files) on
# every build, never hits (each cargo build changes target/), and fails with FileNotFoundError when another
# cargo process writes target/ during the hashing (seen on this machine). Cargo's incremental compilation in
# CARGO_TARGET_DIR is the cache that works. `parallel = true` still applies.
sam build --no-cached --template-file template.yaml --config-file "$root/samconfig.toml" \
  --build-dir "$root/.aws-sam/build"

again=$(( $(find "$fingerprints" -mindepth 1 -maxdepth 1 | wc -l) - units ))
if [ "$again" -gt 0 ]; then
  echo "sam-build: sam build compiled $again units again, with other flags or features than the build before it" \
    "(see the comment above that build): make that build's flags SAM's again" >&2
  exit 1
fi

# ELF e_machine (2 bytes, little-endian, at offset 18): 0xb7 = aarch64.
want=b7 label=aarch64
status=0
for fn in TargetFailoverFunction DatabaseFailoverFunction; do
  bin=".aws-sam/build/$fn/bootstrap"
  if [ ! -f "$bin" ]; then
    echo "sam-build: $bin is missing" >&2
    status=1
    continue
  fi
  machine=$(od -An -tx1 -j18 -N1 "$bin" | tr -d ' \n')
  if [ "$machine" != "$want" ]; then
    echo "sam-build: $bin is not an $label executable (ELF machine 0x$machine)" >&2
    status=1
    continue
  fi
  echo "sam-build: $bin  $label  $(stat -c %s "$bin") bytes"
done
if [ "$status" -ne 0 ]; then
  rm -rf "$root/.aws-sam/build"
  echo "sam-build: FAILED; .aws-sam/build was removed so that these artifacts cannot be deployed" >&2
fi
exit $status
