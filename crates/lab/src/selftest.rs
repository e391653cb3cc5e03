//! `panicdump test` end to end in a guest (issue 7's acceptance).
//!
//! One QEMU machine with a persistent ext4 disk, three boots:
//!
//! 1. the lab kernel boots with `crashkernel=` and a `memmap=` region; the
//!    guest has only `/etc/panicdump/config.toml` (mode both, the disk as
//!    `kdump.target`) and runs the real `panicdump test --yes`, which runs
//!    `panicdump arm` from that config (its capture initramfs, its default
//!    static `/init`, ramoops found on the `memmap=` region), records the
//!    pending test on the disk and crashes the kernel with sysrq-c;
//! 2. the crash kernel runs `panicdump capture` from that initramfs and
//!    writes the dump to the disk found by UUID, then reboots;
//! 3. the next boot re-arms pstore (as the arm unit would), runs
//!    `panicdump collect` and `panicdump test --report`, and says its exit
//!    status; the host keeps the console and the disk's directories.

use crate::cmdline::{self, Disk, QemuSpec, RamoopsLayout};
use crate::error::{IoContext, Result};
use crate::init::{
    load_modules_fn, prelude, Fill, CHAIN_DUMP_DIR, CHAIN_SERIAL, CHAIN_STATE_DIR, CHAIN_UUID,
    MARKER_PREFIX,
};
use crate::initramfs::{self, Contents};
use crate::lab::Lab;
use crate::modules::ModuleDeps;
use crate::params::{Params, Recipe};
use crate::progress::Progress;
use crate::qemu::QemuRun;
use crate::run::{ext4_extract, ext4_image, random_token, Tools, CHAIN_OUT_DIR};
use std::path::PathBuf;

/// What a self-test run left.
#[derive(Debug, Clone)]
pub struct SelftestOutcome {
    /// Directory holding `console.log` and the disk's `disk/crash`, `disk/state`.
    pub dir: PathBuf,
    /// The serial console of all three boots.
    pub console: String,
    /// Exit status of `panicdump collect` in the third boot.
    pub collect_rc: i32,
    /// Exit status of `panicdump test --report` in the third boot.
    pub report_rc: i32,
    /// The marker line the first boot wrote to the kernel log.
    pub marker: String,
}

/// The guest's `/etc/panicdump/config.toml`: what an administrator would
/// write to capture to a second disk, plus a short panic timeout.
pub fn guest_config() -> String {
    format!(
        "mode = \"both\"\n\n[kdump]\ntarget = \"UUID={CHAIN_UUID}\"\nsubdir = \"{CHAIN_DUMP_DIR}\"\n\n[sysctl]\npanic_timeout = 1\n"
    )
}

/// The guest's `/init`.
pub fn init_script(insmods: &[String], release: &str) -> String {
    let mut s = prelude(Fill::UNUSED);
    s.push_str(&load_modules_fn(
        release,
        insmods.iter().map(|m| (m.as_str(), "")),
    ));
    s.push_str("load_modules\n");
    s.push_str(&format!(
        r#"
STATE=/mnt/disk/{CHAIN_STATE_DIR}
DISK=$(find_disk {CHAIN_SERIAL}) || fail "no disk"
mkdir -p /mnt/disk
mount -t ext4 "$DISK" /mnt/disk || fail "mount $DISK"
if [ -e /mnt/disk/selftest-started ]; then
    phase collect
    # What panicdump-arm.service does at boot: ramoops on the same region
    # shows the previous boot's records.
    panicdump arm --no-kdump || fail "panicdump arm (boot 3)"
    mkdir -p /sys/fs/pstore
    mount -t pstore pstore /sys/fs/pstore 2>/dev/null
    ls -l /sys/fs/pstore
    panicdump collect --dump-dir /mnt/disk/{CHAIN_DUMP_DIR} --pstore-dir /sys/fs/pstore \
        --state-dir "$STATE" --json > /tmp/collect.json
    RC=$?
    cat /tmp/collect.json
    say "collected $RC"
    phase report
    panicdump test --report --state-dir "$STATE" > /tmp/report.txt 2>&1
    RC=$?
    cat /tmp/report.txt
    umount /mnt/disk || sync
    sync
    say "report-rc $RC"
    poweroff -f
    sleep 30
fi
echo "$TOKEN" > /mnt/disk/selftest-started
mkdir -p /mnt/disk/{CHAIN_DUMP_DIR} "$STATE"
sync
marker
phase test
say "testing"
# The disk stays mounted through the crash, as a root filesystem would:
# the pending test is on it, and the crash kernel replays its journal.
panicdump test --yes --state-dir "$STATE"
fail "panicdump test returned $?"
"#
    ));
    s
}

impl Lab {
    /// Run the self-test machine (never cached: each call boots it anew).
    pub fn selftest(&self) -> Result<SelftestOutcome> {
        let kernel = self.kernel()?;
        let params = Params {
            memory_mib: 1024,
            smp: 1,
            crashkernel: "160M".into(),
        };
        params.validate(Recipe::Chain)?;
        let dir = self.root().join(&kernel.release).join("selftest");
        let progress = Progress::new("selftest", self.config().progress);
        let _lock = crate::artifact::DirLock::acquire(&dir.with_extension("lock"))?;
        if dir.exists() {
            std::fs::remove_dir_all(&dir).ctx("remove", &dir)?;
        }
        std::fs::create_dir_all(&dir).ctx("create", &dir)?;
        let tools = Tools::find(self, Recipe::Chain, &progress)?;
        let token = random_token()?;

        let deps = ModuleDeps::load(&kernel.modules_dir)?;
        let (insmods, modules) = crate::scenario::ext4_guest_modules(&deps, &["ramoops"])?;
        let mut extra_files = vec![
            (
                "etc/panicdump/config.toml".to_string(),
                guest_config().into_bytes(),
            ),
            (
                format!("boot/vmlinuz-{}", kernel.release),
                std::fs::read(&kernel.path).ctx("read", &kernel.path)?,
            ),
        ];
        for f in [
            "modules.dep",
            "modules.builtin",
            "modules.alias",
            "modules.softdep",
        ] {
            let src = kernel.modules_dir.join(f);
            if src.is_file() {
                let data = std::fs::read(&src).ctx("read", &src)?;
                extra_files.push((format!("lib/modules/{}/{f}", kernel.release), data));
            }
        }
        let contents = Contents {
            kernel: &kernel,
            busybox: &tools.busybox,
            kexec: None,
            panicdump: &tools.panicdump,
            modules: &modules,
            init: init_script(&insmods, &kernel.release),
            extra_files,
        };
        let initrd = initramfs::base_archive(&contents)?
            .write_newc(Vec::new())
            .map_err(|e| crate::error::LabError::Cpio(e.to_string()))?;
        let initrd_path = dir.join("initramfs.cpio");
        std::fs::write(&initrd_path, &initrd).ctx("write", &initrd_path)?;

        let guest_cmdline = [
            "console=ttyS0,115200".to_string(),
            "panic=1".into(),
            "loglevel=6".into(),
            "no_timer_check".into(),
            format!("crashkernel={}", params.crashkernel),
            RamoopsLayout::for_memory(params.memory_mib).memmap_arg(),
            format!("{}={token}", cmdline::TOKEN_PARAM),
        ]
        .join(" ");
        let disk = dir.join("disk.img");
        ext4_image(&disk, 1024)?;
        let spec = QemuSpec {
            qemu: &tools.qemu,
            kernel: &kernel.path,
            initrd: &initrd_path,
            cmdline: guest_cmdline,
            params: &params,
            disks: vec![Disk {
                path: disk.clone(),
                serial: CHAIN_SERIAL.into(),
            }],
            qmp: None,
            no_reboot: false,
            vmcoreinfo: false,
        };
        let console_path = dir.join("console.log");
        let mut run = QemuRun::spawn(
            &cmdline::qemu_argv(&spec),
            &console_path,
            &dir.join("qemu.stderr"),
            self.timeout,
            "selftest",
            3,
            progress.clone(),
        )?;
        run.wait_for("testing")?;
        let collect_rc = run.wait_for("collected")?;
        let report_rc = run.wait_for("report-rc")?;
        run.wait_exit()?;
        ext4_extract(
            &disk,
            &[CHAIN_DUMP_DIR, CHAIN_STATE_DIR],
            &dir.join(CHAIN_OUT_DIR),
        )
        .map_err(|e| run.fail(&format!("reading the disk: {e}")))?;
        drop(run);
        let _ = std::fs::remove_file(&disk);
        let _ = std::fs::remove_file(&initrd_path);
        Ok(SelftestOutcome {
            console: std::fs::read_to_string(&console_path).ctx("read", &console_path)?,
            dir,
            collect_rc: collect_rc.parse().unwrap_or(-1),
            report_rc: report_rc.parse().unwrap_or(-1),
            marker: format!("{MARKER_PREFIX} {token}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_parses_and_config_is_valid() {
        let s = init_script(&["kernel/fs/ext4/ext4.ko".into()], "6.1.0-56-amd64");
        assert!(!s.contains('@'));
        assert!(s.contains("panicdump test --yes --state-dir"));
        assert!(s.contains("panicdump test --report --state-dir"));
        let path =
            std::env::temp_dir().join(format!("panicdump-lab-selftest-{}", std::process::id()));
        std::fs::write(&path, &s).unwrap();
        let st = std::process::Command::new("sh")
            .arg("-n")
            .arg(&path)
            .status();
        let _ = std::fs::remove_file(&path);
        if let Ok(st) = st {
            assert!(st.success(), "sh -n failed");
        }
        let text = guest_config();
        assert!(text.contains(CHAIN_UUID) && text.contains("mode = \"both\""));
    }
}
