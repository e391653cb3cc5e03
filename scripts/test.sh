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

# Build the lab's real artifacts first (cached under target/lab), so every
# test that reads a real vmcore or pstore record finds it instead of skipping.
step "lab artifacts (real kernel crashes under QEMU)"
cargo build --quiet -p panicdump
for recipe in kdump qemu-dump pstore; do
  target/debug/panicdump lab "$recipe" >/dev/null
done

step "cargo test (unit, integration, lab)"
cargo test --workspace --no-fail-fast 2>&1 | tee target/test.log

# The .deb with man pages and completions generated from the CLI, checked
# with dpkg-deb (contents, conffile, unpacked binaries run). Built from the
# dev profile the tests already compiled: a release build of the server
# stack costs 15+ minutes on 2 cores and proves nothing more about the
# packaging (PACKAGE_PROFILE=release bash scripts/package.sh for a release).
step "package (cargo deb)"
PACKAGE_PROFILE="${PACKAGE_PROFILE:-dev}" bash scripts/package.sh >/dev/null
