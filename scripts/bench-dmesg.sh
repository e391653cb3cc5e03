#!/usr/bin/env bash
# Benchmark: `panicdump dmesg` against `makedumpfile --dump-dmesg` on the same
# lab vmcore, in the same run. Prints mean wall times and the ratio.
#   scripts/bench-dmesg.sh [VMCORE]    (default: the lab's kdump vmcore)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p panicdump
pd="$PWD/target/release/panicdump"
vmcore="${1:-"$($pd lab kdump --json | sed -n 's/^  "dir": "\(.*\)",$/\1/p')/vmcore"}"
runs="${RUNS:-10}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

# Warm the page cache so both tools read from memory, not disk.
cat "$vmcore" >/dev/null

time_cmd() { # mean seconds of $runs runs of "$@"
  local start end
  start=$(date +%s.%N)
  for _ in $(seq "$runs"); do "$@" >/dev/null 2>&1; done
  end=$(date +%s.%N)
  echo "scale=4; ($end - $start) / $runs" | bc
}

mdf=$(time_cmd makedumpfile --dump-dmesg "$vmcore" "$tmp/mdf.txt")
pdt=$(time_cmd sh -c "\"$pd\" dmesg \"$vmcore\" > \"$tmp/pd.txt\"")
makedumpfile --dump-dmesg "$vmcore" "$tmp/mdf.txt" >/dev/null 2>&1
"$pd" dmesg "$vmcore" >"$tmp/pd.txt"
same=$(cmp -s "$tmp/mdf.txt" "$tmp/pd.txt" && echo yes || echo NO)

printf 'vmcore:                     %s (%s)\n' "$vmcore" "$(du -h "$vmcore" | cut -f1)"
printf 'makedumpfile --dump-dmesg:  %ss (mean of %s)\n' "$mdf" "$runs"
printf 'panicdump dmesg:            %ss (mean of %s)\n' "$pdt" "$runs"
printf 'speedup (makedumpfile/panicdump): %sx\n' "$(echo "scale=2; $mdf / $pdt" | bc)"
printf 'identical output:           %s\n' "$same"
