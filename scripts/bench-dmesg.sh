#!/usr/bin/env bash
# Benchmark: `panicdump dmesg` against `makedumpfile --dump-dmesg` on the same
# lab vmcore, in the same run (hyperfine, warm page cache). Prints both mean
# times and the ratio, and checks the outputs are identical.
#   scripts/bench-dmesg.sh [VMCORE]    (default: the lab's kdump vmcore)
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet -p panicdump
pd="$PWD/target/release/panicdump"
vmcore="${1:-$($pd lab kdump --json | sed -n 's/^  "dir": "\(.*\)",$/\1/p')/vmcore}"
runs="${RUNS:-20}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT

cat "$vmcore" >/dev/null   # warm the page cache: measure the tools, not the disk

# makedumpfile refuses to overwrite its output file: remove it before each run.
hyperfine -N --style basic --warmup 3 --runs "$runs" --export-json "$tmp/h.json" \
  -n makedumpfile --prepare "rm -f $tmp/mdf.txt" "makedumpfile --dump-dmesg $vmcore $tmp/mdf.txt" \
  -n panicdump --prepare true "$pd dmesg $vmcore -o $tmp/pd.txt" >/dev/null

rm -f "$tmp/mdf.txt"
makedumpfile --dump-dmesg "$vmcore" "$tmp/mdf.txt" >/dev/null 2>&1
"$pd" dmesg "$vmcore" >"$tmp/pd.txt"
same=$(cmp -s "$tmp/mdf.txt" "$tmp/pd.txt" && echo yes || echo NO)

mean() { sed -n "/\"command\": \"$1\"/,/\"mean\"/p" "$tmp/h.json" | sed -n 's/.*"mean": \([0-9.e-]*\).*/\1/p'; }
m=$(mean makedumpfile); p=$(mean panicdump)
printf 'vmcore:                     %s (%s)\n' "$vmcore" "$(du -h "$vmcore" | cut -f1)"
printf 'makedumpfile --dump-dmesg:  %.2f ms (mean of %s)\n' "$(echo "$m * 1000" | bc -l)" "$runs"
printf 'panicdump dmesg:            %.2f ms (mean of %s)\n' "$(echo "$p * 1000" | bc -l)" "$runs"
printf 'ratio makedumpfile/panicdump: %.2fx (above 1: panicdump is faster)\n' "$(echo "$m / $p" | bc -l)"
printf 'identical output:           %s\n' "$same"
