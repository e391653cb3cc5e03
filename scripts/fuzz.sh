#!/usr/bin/env bash
# Run every cargo-fuzz target for a bounded time. A crash fails the script and
# leaves the reproducer under fuzz/artifacts/.
#   scripts/fuzz.sh [SECONDS_PER_TARGET]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-30}"
if [ "$secs" = 0 ]; then echo "fuzz: skipped (0 s)" >&2; exit 0; fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
  echo "fuzz: FAILED: cargo-fuzz on a nightly toolchain is required (scripts/install-deps.sh installs it)" >&2
  exit 1
fi
targets=$(cargo +nightly fuzz list)
cargo +nightly fuzz build >/dev/null 2>&1 || cargo +nightly fuzz build
for t in $targets; do
  mkdir -p "corpus/$t"
  echo "fuzz: $t for ${secs}s" >&2
  log="artifacts/$t.log"; mkdir -p artifacts
  if ! cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 >"$log" 2>&1; then
    tail -40 "$log" >&2
    echo "fuzz: $t FAILED (reproducer under fuzz/artifacts/$t, log $log)" >&2
    exit 1
  fi
  grep -E '^#[0-9]+\s+DONE' "$log" | tail -1 >&2 || true
done
echo "fuzz: all targets ran ${secs}s without a crash" >&2
