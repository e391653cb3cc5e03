#!/usr/bin/env bash
# Build panicdump's Debian package and check it.
#
# 1. the full CLI (release) and the lean static capture binary (the crash
#    kernel's /init; same build as the lab's, so CI reuses its cache);
# 2. man pages and bash/zsh/fish completions generated from the CLI into
#    target/dist/;
# 3. `cargo deb` (metadata in crates/panicdump/Cargo.toml) into target/dist/;
# 4. checks: `dpkg-deb -c` lists every expected file, `dpkg-deb -x` unpacks
#    into a temp root whose panicdump runs, `groff` renders the main page
#    without warnings, `bash -n` accepts the bash completion, and
#    `systemd-analyze verify` accepts the shipped units.
#
# Needs cargo-deb (scripts/install-deps.sh installs it). Prints the .deb path.
#
#   PACKAGE_PROFILE=release   cargo profile of /usr/bin/panicdump (`dev` for a
#                             quick check of the packaging itself)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
DIST="$ROOT/target/dist"
TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
log() { printf '[package] %s\n' "$*" >&2; }
fail() { printf '[package] FAIL: %s\n' "$*" >&2; exit 1; }

command -v cargo-deb >/dev/null || fail "cargo-deb missing: run scripts/install-deps.sh"

PROFILE="${PACKAGE_PROFILE:-release}"
case "$PROFILE" in dev) PROFILE_DIR=debug ;; *) PROFILE_DIR="$PROFILE" ;; esac
log "cargo build --profile $PROFILE -p panicdump"
cargo build --quiet --profile "$PROFILE" -p panicdump
BIN="$TARGET/$PROFILE_DIR/panicdump"

log "static capture binary (--profile capture, +crt-static, no default features)"
env -u CARGO_TARGET_DIR -u CARGO_ENCODED_RUSTFLAGS RUSTFLAGS="-C target-feature=+crt-static" \
  cargo build --quiet --profile capture --target x86_64-unknown-linux-gnu \
  -p panicdump --no-default-features --target-dir "$ROOT/target/static"
STATIC="$ROOT/target/static/x86_64-unknown-linux-gnu/capture/panicdump"
# Static (also static-pie): no program interpreter to load.
[ -x "$STATIC" ] || fail "$STATIC was not built"
if readelf -l "$STATIC" | grep -q "program interpreter"; then fail "$STATIC is not static"; fi

rm -rf "$DIST/man" "$DIST/completions" "$DIST/panicdump-capture" "$DIST"/panicdump_*.deb
mkdir -p "$DIST"
cp "$STATIC" "$DIST/panicdump-capture"

log "man pages and completions from the CLI"
"$BIN" generate man "$DIST/man"
"$BIN" generate completions --dir "$DIST/completions"
# Check the page before compressing it: groff warnings are errors here.
if command -v groff >/dev/null; then
  warnings="$(groff -man -Tutf8 -ww -z "$DIST/man/panicdump.1" 2>&1 || true)"
  [ -z "$warnings" ] || fail "groff warns on panicdump.1: $warnings"
fi
bash -n "$DIST/completions/panicdump.bash" || fail "bash completion does not parse"
gzip -9nf "$DIST"/man/*.1

if [ ! -f dist/config.toml ]; then
  fail "dist/config.toml missing (the config file shipped as /etc/panicdump/config.toml)"
fi

log "cargo deb -p panicdump"
deb="$(cargo deb --no-build --profile "$PROFILE" -p panicdump --output "$DIST" | tail -1)"
[ -f "$deb" ] || fail "cargo deb produced no package"

log "checking $deb"
listing="$(dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|')"
expect=(
  /usr/bin/panicdump
  /usr/lib/panicdump/panicdump-capture
  /usr/lib/panicdump/arm.env
  /etc/panicdump/config.toml
  /lib/systemd/system/panicdump-arm.service
  /lib/systemd/system/panicdump-collect.service
  /lib/systemd/system/panicdump-submit.service
  /lib/systemd/system/panicdump-submit.timer
  /usr/share/man/man1/panicdump.1.gz
  /usr/share/man/man1/panicdump-collect.1.gz
  /usr/share/bash-completion/completions/panicdump
  /usr/share/zsh/vendor-completions/_panicdump
  /usr/share/fish/vendor_completions.d/panicdump.fish
  /usr/share/doc/panicdump/user-guide.md
  /usr/share/doc/panicdump/admin-tradeoffs.md
)
for f in "${expect[@]}"; do
  grep -qxF "$f" <<<"$listing" || fail "$f missing from the package"
done
# One man page per visible subcommand, none empty.
pages="$(grep -c '^/usr/share/man/man1/panicdump-.*\.1\.gz$' <<<"$listing")"
[ "$pages" -ge 15 ] || fail "only $pages subcommand man pages"
dpkg-deb -f "$deb" Depends | grep -q libc6 || fail "Depends lacks libc6"
dpkg-deb -I "$deb" conffiles | grep -qxF /etc/panicdump/config.toml || fail "config.toml is not a conffile"

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
dpkg-deb -x "$deb" "$tmp"
"$tmp/usr/bin/panicdump" --version >/dev/null || fail "unpacked panicdump does not run"
"$tmp/usr/lib/panicdump/panicdump-capture" --version >/dev/null || fail "unpacked capture binary does not run"
cmp -s "$tmp/lib/systemd/system/panicdump-arm.service" dist/systemd/panicdump-arm.service || fail "unit differs"
# Every unit verifies (syntax, dependencies, ExecStart binaries, and their
# Documentation= man pages, found in the unpacked package); the timer is
# checked with the service it starts next to it.
units=()
for u in arm.service collect.service submit.service submit.timer; do
  sed -e "s|/usr/bin/panicdump|$tmp/usr/bin/panicdump|" -e "s|/usr/lib/panicdump/|$tmp/usr/lib/panicdump/|" \
    "$tmp/lib/systemd/system/panicdump-$u" > "$tmp/panicdump-$u"
  units+=("$tmp/panicdump-$u")
done
MANPATH="$tmp/usr/share/man" systemd-analyze verify "${units[@]}" \
  || fail "systemd-analyze verify rejects the units"
# The arm unit's EnvironmentFile points arm at the static capture binary.
grep -q "^PANICDUMP_ARM_ARGS=--init-binary /usr/lib/panicdump/panicdump-capture$" "$tmp/usr/lib/panicdump/arm.env" \
  || fail "arm.env does not name the capture binary"
log "ok: $deb ($(du -h "$deb" | cut -f1), ${#expect[@]} key files, $pages subcommand pages)"
echo "$deb"
