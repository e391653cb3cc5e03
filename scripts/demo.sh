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
echo "== panicdump dmesg $vmcore: the lab's marker and the panic (full log: $("$pd" dmesg "$vmcore" | wc -l) lines)"
$pd dmesg "$vmcore" | grep -A4 'panicdump-lab-marker'
echo
echo "== panicdump dump: filter (-d 31) and compress the vmcore, then read it back"
out="$(mktemp -d)/vmcore.kdump"
$pd dump "$vmcore" "$out"
$pd info "$out" > "$out.info"
head -4 "$out.info"
echo
echo "== panicdump analyze (the crash found in that log)"
$pd dmesg "$vmcore" | $pd analyze -
