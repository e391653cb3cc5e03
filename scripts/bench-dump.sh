#!/usr/bin/env bash
# Benchmark: `panicdump dump` against makedumpfile on the same lab vmcore, in
# one run: wall time, peak RSS (/usr/bin/time -f %M) and output size for
# -d 31 and -d 1, one and two threads, zlib (makedumpfile -c) and LZO
# (makedumpfile -l), printed as ratios; plus the raw sequential read time of
# the source (after dropping the page cache when allowed). Comparisons run
# with a warm page cache; each figure is the best wall time of RUNS runs.
#   scripts/bench-dump.sh [VMCORE]    (default: the lab's 1 GiB kdump vmcore)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v /usr/bin/time >/dev/null || { echo "needs /usr/bin/time (package: time)"; exit 1; }
cargo build --release --quiet -p panicdump
pd="${CARGO_TARGET_DIR:-$PWD/target}/release/panicdump"
vmcore="${1:-$($pd lab kdump --json | sed -n 's/^  "dir": "\(.*\)",$/\1/p')/vmcore}"
runs="${RUNS:-3}"
tmp="$(mktemp -d "${TMPDIR:-/var/tmp}/bench-dump.XXXXXX")"; trap 'rm -rf "$tmp"' EXIT

# Raw sequential read of the source, cold if we may drop caches.
cold=warm
if sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then cold=cold; fi
t0=$(date +%s.%N); cat "$vmcore" >/dev/null; t1=$(date +%s.%N)
raw=$(echo "$t1 - $t0" | bc -l)
cat "$vmcore" >/dev/null   # warm: measure the tools, not the disk

# measure NAME CMD... -> "wall rss size" (best wall, max rss) of RUNS runs
measure() {
  local out="$1"; shift
  local best="" rss=0
  for _ in $(seq "$runs"); do
    rm -f "$out" "$out.incomplete"
    if ! /usr/bin/time -f '%e %M' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err"; then
      echo "failed: $* ($(grep -v '^Command exited' "$tmp/err" | tail -1))" >&2
      echo "nan nan nan"; return
    fi
    read -r w m <"$tmp/time"
    if [ -z "$best" ] || [ "$(echo "$w < $best" | bc -l)" = 1 ]; then best=$w; fi
    [ "$m" -gt "$rss" ] && rss=$m
  done
  echo "$best $rss $(stat -c %s "$out")"
}

printf 'vmcore: %s (%s)\n' "$vmcore" "$(du -h "$vmcore" | cut -f1)"
printf 'raw sequential read (%s cache): %.2f s (%.0f MiB/s)\n\n' "$cold" "$raw" \
  "$(echo "$(stat -c %s "$vmcore") / 1048576 / $raw" | bc -l)"
printf '%-22s %9s %9s %8s %8s %9s %9s %7s %7s %7s\n' config mdf_s pd_s mdf_MiB pd_MiB mdf_out pd_out 'time×' 'rss×' 'size×'
for level in 31 1; do
  for j in 1 2; do
    for c in zlib lzo; do
      flag=-c; [ "$c" = lzo ] && flag=-l
      mthreads=(); [ "$j" -gt 1 ] && mthreads=(--num-threads "$j")
      read -r mw mr ms < <(measure "$tmp/mdf" makedumpfile "$flag" -d "$level" "${mthreads[@]}" "$vmcore" "$tmp/mdf")
      read -r pw pr ps < <(measure "$tmp/pd" "$pd" dump --no-progress -f -d "$level" -j "$j" --compress "$c" "$vmcore" "$tmp/pd")
      if [ "$mw" = nan ]; then
        printf '%-22s %9s %9.2f %8s %8.1f %9s %8.1fM   (makedumpfile failed)\n' "-d $level -j $j $c" n/a "$pw" n/a \
          "$(echo "$pr/1024" | bc -l)" n/a "$(echo "$ps/1048576" | bc -l)"
        continue
      fi
      printf '%-22s %9.2f %9.2f %8.1f %8.1f %8.1fM %8.1fM %6.2fx %6.2fx %6.2fx\n' \
        "-d $level -j $j $c" "$mw" "$pw" "$(echo "$mr/1024" | bc -l)" "$(echo "$pr/1024" | bc -l)" \
        "$(echo "$ms/1048576" | bc -l)" "$(echo "$ps/1048576" | bc -l)" \
        "$(echo "$mw / $pw" | bc -l)" "$(echo "$pr / $mr" | bc -l)" "$(echo "$ps / $ms" | bc -l)"
    done
  done
done
# zstd (our default) alone: makedumpfile 1.7.2 here has no zstd.
read -r zw zr zs < <(measure "$tmp/pd" "$pd" dump --no-progress -f -d 31 -j 2 --compress zstd "$vmcore" "$tmp/pd")
printf '\npanicdump -d 31 -j 2 zstd: %.2f s, %.1f MiB RSS, %.1f MiB\n' "$zw" "$(echo "$zr/1024" | bc -l)" "$(echo "$zs/1048576" | bc -l)"
echo
echo 'time× = makedumpfile wall / panicdump wall (above 1: panicdump faster);'
echo 'rss× and size× = panicdump / makedumpfile (below 1: panicdump smaller).'
