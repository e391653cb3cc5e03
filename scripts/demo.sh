#!/usr/bin/env bash
# Crash a real Linux kernel under QEMU and show what panicdump extracts from
# the kdump vmcore it leaves behind.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cargo build --release --quiet -p panicdump
pd=target/release/panicdump

echo "== crashing Debian's kernel under QEMU (kdump recipe; cached after the first run)" >&2
vmcore="$($pd lab kdump --json | sed -n 's/^  "dir": "\(.*\)",$/\1/p')/vmcore"
echo
echo "== panicdump info $vmcore"
$pd info "$vmcore"
echo
echo "== panicdump dmesg $vmcore (last 25 lines)"
$pd dmesg "$vmcore" | tail -25
echo
echo "== panicdump analyze (the crash found in that log)"
$pd dmesg "$vmcore" | $pd analyze -
