//! The guest's `/init`: a busybox shell script generated per recipe.
//!
//! The script talks to the host through the serial console: every line it
//! means for the host starts with [`SAY`] (`panicdump-lab: phase NAME`,
//! `panicdump-lab: error MSG`, recipe-specific facts). The marker token comes
//! from the kernel command line so the archive itself is reproducible.

use crate::cmdline::TOKEN_PARAM;
use crate::params::Recipe;
use std::fmt::Write as _;

/// Prefix of host-directed console lines.
pub const SAY: &str = "panicdump-lab: ";
/// Prefix of the marker line written to `/dev/kmsg`.
pub const MARKER_PREFIX: &str = "panicdump-lab-marker";
/// Serial of the disk whose page cache the guest fills.
pub const DATA_SERIAL: &str = "pddata";
/// Serial of the disk the guest writes results to.
pub const OUT_SERIAL: &str = "pdout";
/// Serial of the ext4 disk the chain recipe captures to.
pub const CHAIN_SERIAL: &str = "pdchain";
/// Filesystem UUID of that disk (made on the host with `mkfs.ext4 -U`).
pub const CHAIN_UUID: &str = "5eed1ab0-c4a1-4d0e-9a11-0000000c4a1e";
/// Directory of the captures on that disk (`panicdump.dir=`).
pub const CHAIN_DUMP_DIR: &str = "crash";
/// State directory of `panicdump collect` on that disk.
pub const CHAIN_STATE_DIR: &str = "state";
/// Crash kernel image inside the first kernel's initramfs (kdump).
pub const CRASH_KERNEL: &str = "lab/vmlinuz";
/// Crash kernel initramfs inside the first kernel's initramfs (kdump).
pub const CRASH_INITRD: &str = "lab/crash-initrd.gz";

/// How much memory the guest dirties before the crash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fill {
    /// Text file in tmpfs, MiB.
    pub text_mib: u32,
    /// Random file in tmpfs, MiB.
    pub random_mib: u32,
    /// Anonymous memory touched by `panicdump lab guest-fill`, MiB.
    pub anon_mib: u32,
}

impl Fill {
    /// For guests that never call `fill_memory`.
    pub const UNUSED: Fill = Fill {
        text_mib: 1,
        random_mib: 1,
        anon_mib: 1,
    };

    /// About a fifth of the guest: enough to be non-trivial without
    /// crowding the first kernel (the crash reservation is excluded).
    pub fn for_memory(memory_mib: u32) -> Self {
        let unit = (memory_mib / 64).max(2);
        Self {
            text_mib: unit,
            random_mib: unit,
            anon_mib: unit * 6,
        }
    }
}

/// A module to load, in order, with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Insmod {
    /// Path relative to `/lib/modules/<release>`.
    pub rel_path: String,
    /// Parameters passed to `insmod`.
    pub params: String,
}

/// Inputs of the script.
#[derive(Debug, Clone)]
pub struct InitPlan {
    /// Recipe the script performs.
    pub recipe: Recipe,
    /// Kernel release (module directory name).
    pub release: String,
    /// Modules in dependency order.
    pub modules: Vec<Insmod>,
    /// Memory to dirty before the crash (kdump, qemu-dump).
    pub fill: Option<Fill>,
    /// Command line of the crash kernel (kdump).
    pub crash_cmdline: String,
}

/// The shared head of every guest `/init` ([`PRELUDE`]) with its
/// placeholders filled; `fill` sizes `fill_memory` (guests that never call
/// it pass [`Fill::UNUSED`]: the sizes only need to parse).
pub(crate) fn prelude(fill: Fill) -> String {
    PRELUDE
        .replace("@TOKEN@", TOKEN_PARAM)
        .replace("@TEXT@", &fill.text_mib.to_string())
        .replace("@RANDOM@", &fill.random_mib.to_string())
        .replace("@ANON@", &fill.anon_mib.to_string())
        .replace("@DATA@", DATA_SERIAL)
        .replace("@MARKER@", MARKER_PREFIX)
}

/// A shell function `load_modules` that insmods `modules` (path under
/// `/lib/modules/<release>/`, parameters) in order and fails the run on
/// the first error.
pub(crate) fn load_modules_fn<'a>(
    release: &str,
    modules: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> String {
    let mut s = String::from("\nload_modules() {\n    phase modules\n");
    for (rel, params) in modules {
        let path = format!("/lib/modules/{release}/{rel}");
        let args = if params.is_empty() {
            path.clone()
        } else {
            format!("{path} {params}")
        };
        let _ = writeln!(s, "    insmod {args} || fail \"insmod {path}\"");
    }
    s.push_str("    :\n}\n");
    s
}

pub(crate) const PRELUDE: &str = r#"#!/bin/sh
export PATH=/bin:/sbin
say() { echo "panicdump-lab: $*"; }
phase() { say "phase $1"; }
# Power off rather than panic: a reboot loop would only end at the host deadline.
fail() { say "error $*"; sync; poweroff -f; sleep 30; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
TOKEN=none
for w in $(cat /proc/cmdline); do
    case "$w" in @TOKEN@=*) TOKEN="${w#*=}" ;; esac
done

# Block device whose virtio serial is $1 (devices may appear a bit late).
find_disk() {
    n=0
    while [ $n -lt 100 ]; do
        for d in /sys/block/vd*; do
            if [ -e "$d/serial" ] && [ "$(cat "$d/serial")" = "$1" ]; then
                echo "/dev/${d##*/}"
                return 0
            fi
        done
        usleep 100000
        n=$((n + 1))
    done
    return 1
}

fill_memory() {
    phase fill
    mkdir -p /fill
    mount -t tmpfs tmpfs /fill || fail "mount /fill"
    yes "panicdump lab text page $TOKEN: the quick brown fox jumps over the lazy dog 0123456789" \
        | head -c $((@TEXT@ * 1048576)) > /fill/text.txt
    dd if=/dev/urandom of=/fill/random.bin bs=65536 count=$((@RANDOM@ * 16)) 2>/dev/null
    panicdump lab guest-fill --mib @ANON@ --ready-file /tmp/fill-ready &
    n=0
    while [ ! -e /tmp/fill-ready ]; do
        usleep 200000
        n=$((n + 1))
        [ $n -lt 1500 ] || fail "guest-fill did not finish"
    done
    DATA=$(find_disk @DATA@) || fail "no data disk"
    # The page cache of a block device is dropped when its last opener
    # closes it: keep fd 3 open until the crash.
    exec 3<"$DATA"
    cat "$DATA" > /dev/null
    free -m
    say "filled"
}

marker() {
    phase marker
    echo "@MARKER@ $TOKEN" > /dev/kmsg
}

crash() {
    phase crash
    sync
    echo c > /proc/sysrq-trigger
    fail "still alive after sysrq-c"
}
"#;

/// Generate `/init` for a plan.
pub fn init_script(plan: &InitPlan) -> String {
    let fill = plan.fill.unwrap_or(Fill {
        text_mib: 1,
        random_mib: 1,
        anon_mib: 1,
    });
    let mut s = prelude(fill);
    s.push_str(&load_modules_fn(
        &plan.release,
        plan.modules
            .iter()
            .map(|m| (m.rel_path.as_str(), m.params.as_str())),
    ));
    s.push('\n');
    s.push_str(&format!(
        "say \"init recipe {} on $(uname -r)\"\n",
        plan.recipe
    ));
    s.push_str(match plan.recipe {
        Recipe::Kdump => KDUMP,
        Recipe::QemuDump => QEMU_DUMP,
        Recipe::Pstore => PSTORE,
        Recipe::ArmKdump => ARM_KDUMP,
        Recipe::Chain => CHAIN,
    });
    s.replace("@CRASH_CMDLINE@", &plan.crash_cmdline)
        .replace("@CRASH_KERNEL@", CRASH_KERNEL)
        .replace("@CRASH_INITRD@", CRASH_INITRD)
        .replace("@OUT@", OUT_SERIAL)
        .replace("@CHAIN@", CHAIN_SERIAL)
        .replace("@UUID@", CHAIN_UUID)
        .replace("@DUMPDIR@", CHAIN_DUMP_DIR)
        .replace("@STATEDIR@", CHAIN_STATE_DIR)
}

/// kdump: the same script runs in both kernels; /proc/vmcore tells them apart.
const KDUMP: &str = r#"
if [ -e /proc/vmcore ]; then
    phase crash-kernel
    load_modules
    OUT=$(find_disk @OUT@) || fail "no output disk"
    SIZE=$(stat -c %s /proc/vmcore)
    say "vmcore-size $SIZE"
    phase copy-vmcore
    dd if=/proc/vmcore of="$OUT" bs=1M || fail "dd /proc/vmcore"
    sync
    say "vmcore-copied"
    poweroff -f
    sleep 30
fi
load_modules
phase kexec-load
if ! kexec -p /@CRASH_KERNEL@ --initrd=/@CRASH_INITRD@ --append="@CRASH_CMDLINE@"; then
    say "kexec_load failed; trying kexec_file_load"
    kexec -s -p /@CRASH_KERNEL@ --initrd=/@CRASH_INITRD@ --append="@CRASH_CMDLINE@" \
        || fail "kexec -p"
fi
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "crash kernel not loaded"
# The first kernel no longer needs the images: give their memory back.
rm -f /@CRASH_KERNEL@ /@CRASH_INITRD@
fill_memory
marker
crash
"#;

/// arm-kdump: `panicdump arm` loads the crash kernel with kexec_file_load
/// and the command line it derives from /proc/cmdline; the crash kernel
/// only reports that /proc/vmcore exists (the kdump recipe covers copying).
const ARM_KDUMP: &str = r#"
if [ -e /proc/vmcore ]; then
    phase crash-kernel
    say "crash-cmdline $(cat /proc/cmdline)"
    say "vmcore-size $(stat -c %s /proc/vmcore)"
    poweroff -f
    sleep 30
fi
load_modules
phase arm
panicdump arm --kernel /@CRASH_KERNEL@ --initrd /@CRASH_INITRD@ --no-pstore || fail "panicdump arm"
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "crash kernel not loaded"
say "armed $(cat /proc/sys/kernel/panic_on_oops)"
marker
crash
"#;

/// chain: boot 1 arms with `panicdump arm` (its own capture initramfs,
/// `panicdump capture` as the crash kernel's /init, target found by UUID)
/// and panics; the capture reboots; boot 2 (the `armed` file is on the
/// disk) runs `panicdump collect` on the disk and powers off.
const CHAIN: &str = r#"
load_modules
DISK=$(find_disk @CHAIN@) || fail "no chain disk"
mkdir -p /mnt/disk
mount -t ext4 "$DISK" /mnt/disk || fail "mount $DISK"
if [ -e /mnt/disk/lab-armed ]; then
    phase collect
    mkdir -p /sys/fs/pstore
    mount -t pstore pstore /sys/fs/pstore 2>/dev/null
    ls -lR /mnt/disk/@DUMPDIR@
    say "collect-begin"
    panicdump collect --dump-dir /mnt/disk/@DUMPDIR@ --pstore-dir /sys/fs/pstore \
        --state-dir /mnt/disk/@STATEDIR@ --json > /tmp/collect.json
    RC=$?
    cat /tmp/collect.json
    cp /tmp/collect.json /mnt/disk/collect.json
    say "collect-end"
    umount /mnt/disk || sync
    sync
    say "collected $RC"
    poweroff -f
    sleep 30
fi
echo "$TOKEN" > /mnt/disk/lab-armed
umount /mnt/disk || fail "umount $DISK"
phase arm
panicdump arm --kernel /@CRASH_KERNEL@ --initrd-out /tmp/capture.img \
    --block-driver virtio_blk --fs ext4 --no-pstore \
    --append panicdump.target=UUID=@UUID@ --append panicdump.dir=@DUMPDIR@ \
    --append panicdump.on_success=reboot --append panicdump.on_failure=reboot \
    || fail "panicdump arm"
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "crash kernel not loaded"
say "armed $(cat /proc/sys/kernel/panic_on_oops)"
marker
crash
"#;

/// qemu-dump: prepare, then wait for the host to pause and dump the guest.
const QEMU_DUMP: &str = r#"
load_modules
fill_memory
marker
say "ready"
while true; do sleep 3600; done
"#;

/// pstore: the second boot (records present) collects, the first panics.
const PSTORE: &str = r#"
load_modules
mount -t pstore pstore /sys/fs/pstore || fail "mount pstore"
if [ -n "$(ls /sys/fs/pstore)" ]; then
    phase pstore-collect
    ls -l /sys/fs/pstore
    OUT=$(find_disk @OUT@) || fail "no output disk"
    (cd /sys/fs/pstore && ls | cpio -o -H newc > "$OUT") || fail "cpio pstore"
    sync
    say "pstore-saved $(ls /sys/fs/pstore | wc -l)"
    poweroff -f
    sleep 30
fi
marker
crash
"#;

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(recipe: Recipe) -> InitPlan {
        InitPlan {
            recipe,
            release: "6.1.0-56-amd64".into(),
            modules: vec![
                Insmod {
                    rel_path: "kernel/drivers/virtio/virtio.ko".into(),
                    params: String::new(),
                },
                Insmod {
                    rel_path: "kernel/fs/pstore/ramoops.ko".into(),
                    params: "mem_address=0x3f000000".into(),
                },
            ],
            fill: Some(Fill::for_memory(1024)),
            crash_cmdline: "console=ttyS0 nr_cpus=1".into(),
        }
    }

    #[test]
    fn no_placeholders_left() {
        for r in Recipe::ALL {
            let s = init_script(&plan(r));
            assert!(!s.contains('@'), "{r}: {s}");
            assert!(s.starts_with("#!/bin/sh\n"));
            assert!(
                s.contains("insmod /lib/modules/6.1.0-56-amd64/kernel/drivers/virtio/virtio.ko")
            );
            assert!(s.contains("panicdump_lab.token=*"));
        }
    }

    #[test]
    fn recipe_specifics() {
        let k = init_script(&plan(Recipe::Kdump));
        assert!(k.contains("--append=\"console=ttyS0 nr_cpus=1\""));
        assert!(k.contains("-e /proc/vmcore"));
        assert!(k.contains("--initrd=/lab/crash-initrd.gz"));
        assert!(k.contains("guest-fill --mib 96"));
        let q = init_script(&plan(Recipe::QemuDump));
        assert!(q.contains("say \"ready\""));
        let p = init_script(&plan(Recipe::Pstore));
        assert!(p.contains("mount -t pstore"));
        assert!(p.contains("ramoops.ko mem_address=0x3f000000"));
        let c = init_script(&plan(Recipe::Chain));
        assert!(c.contains(&format!("panicdump.target=UUID={CHAIN_UUID}")));
        assert!(c.contains("find_disk pdchain"));
        assert!(c.contains("panicdump collect --dump-dir /mnt/disk/crash"));
    }

    /// The script must at least parse (`sh -n`) with the host's shell.
    #[test]
    fn shell_syntax() {
        for r in Recipe::ALL {
            let path =
                std::env::temp_dir().join(format!("panicdump-lab-init-{}-{r}", std::process::id()));
            std::fs::write(&path, init_script(&plan(r))).unwrap();
            let st = std::process::Command::new("sh")
                .arg("-n")
                .arg(&path)
                .status();
            let _ = std::fs::remove_file(&path);
            if let Ok(st) = st {
                assert!(st.success(), "{r}: sh -n failed");
            }
        }
    }
}
