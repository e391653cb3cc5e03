#!/usr/bin/env bash
# Run every panicdump test: formatting, lints, fuzzing (bounded), unit tests,
# and the lab tests that crash real kernels under QEMU and compare panicdump
# with makedumpfile and crash on the results.
#
#   FUZZ_SECONDS=30   time per fuzz target (0 skips fuzzing)
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh

step() { printf '\n=== %s\n' "$*" >&2; }

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "fuzz (${FUZZ_SECONDS:-30}s per target)"
bash scripts/fuzz.sh "${FUZZ_SECONDS:-30}"

step "cargo test (unit, integration, lab)"
cargo test --workspace --no-fail-fast 2>&1 | tee target/test.log
