#!/usr/bin/env bash
# Install everything panicdump's tests and lab need on Debian 12.
# Idempotent and quiet: re-running it only checks.
set -euo pipefail

log() { printf '[install-deps] %s\n' "$*" >&2; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

APT_PACKAGES=(
  qemu-system-x86     # the lab's guests (software emulation)
  linux-image-amd64   # the kernel the lab crashes
  busybox-static      # userland of the lab's initramfs
  kexec-tools         # loads the crash kernel in lab guests
  makedumpfile        # reference implementation, compared line for line
  crash               # independent validator of dumps
  cpio                # checks our cpio writer
  hyperfine           # benchmarks
  bc                  # arithmetic in bench scripts
  binutils            # nm: symbol table of the debug vmlinux, checks kallsyms
  time                # /usr/bin/time: peak RSS in bench-dump.sh
  e2fsprogs           # mkfs.ext4: the lab's dump-target disks
  xfsprogs            # mkfs.xfs: the lab's xfs dump target (tests/targets.rs)
  btrfs-progs         # mkfs.btrfs, btrfs restore: the btrfs dump target, read back unmounted
  dosfstools          # mkfs.vfat: the vfat dump target
  mtools              # mcopy -s: reads the vfat target back without mounting
  make                # kbuild of the lab's test kernel module (crates/lab/kmod)
  gcc                 # the same (Debian's kernel headers are built with gcc-12)
  chromium            # headless browser: the server dashboard's page tests
  fonts-dejavu-core   # a font for chromium's dashboard screenshots
  dbus-daemon         # a real session bus for the desktop notification test
  dbus-bin            # dbus-monitor: captures the Notify call in that test
  systemd             # busctl: how collect calls Notify as the logged-in user
  groff-base          # renders the generated man pages without warnings
  postgresql          # the crash server's tests start a private PostgreSQL cluster
)

missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "apt-get install ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The debug vmlinux of the installed kernel, for `crash` (only the vmlinux is
# kept: the .deb is 860 MB).
CACHE="${PANICDUMP_CACHE:-/var/cache/panicdump}"
release="$(ls /boot/vmlinuz-* | sed 's|/boot/vmlinuz-||' | sort -V | tail -1)"

# Headers of exactly the lab kernel's release (not linux-headers-amd64, which
# may move ahead of an installed image): the lab builds its crash-trigger
# module (crates/lab/kmod) against them.
if ! dpkg-query -W -f='${Status}' "linux-headers-$release" 2>/dev/null | grep -q "install ok installed"; then
  log "apt-get install linux-headers-$release"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "linux-headers-$release" >/dev/null
fi
if [ ! -s "$CACHE/vmlinux-$release" ]; then
  log "fetching debug vmlinux for $release"
  $SUDO mkdir -p "$CACHE"
  tmp="$(mktemp -d)"
  (cd "$tmp" && apt-get download -qq "linux-image-$release-dbg" >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/linux-image-"$release"-dbg_*.deb \
    | (cd "$tmp" && tar x "./usr/lib/debug/boot/vmlinux-$release")
  $SUDO mv "$tmp/usr/lib/debug/boot/vmlinux-$release" "$CACHE/vmlinux-$release.part"
  $SUDO mv "$CACHE/vmlinux-$release.part" "$CACHE/vmlinux-$release"
  rm -rf "$tmp"
fi

# drgn (PyPI wheel), an independent reader of our dumps.
if ! python3 -c 'import drgn' >/dev/null 2>&1; then
  log "pip install drgn"
  python3 -m pip install --quiet drgn 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages drgn
fi

# moto_server (PyPI moto[server]): a real S3-compatible server on loopback
# for the crash server's object-storage test.
if ! command -v moto_server >/dev/null 2>&1; then
  log "pip install moto[server]"
  python3 -m pip install --quiet 'moto[server]' 2>/dev/null \
    || python3 -m pip install --quiet --break-system-packages 'moto[server]'
fi

# Rust components and tools.
rustup component add rustfmt clippy >/dev/null 2>&1 || true
if rustup toolchain list | grep -q nightly; then
  if ! cargo fuzz --version >/dev/null 2>&1; then
    log "cargo install cargo-fuzz"
    cargo install --quiet --locked cargo-fuzz
  fi
fi
# cargo-deb: scripts/package.sh builds the Debian package with it.
if ! cargo deb --version >/dev/null 2>&1; then
  log "cargo install cargo-deb"
  cargo install --quiet --locked cargo-deb
fi
log "ok"
