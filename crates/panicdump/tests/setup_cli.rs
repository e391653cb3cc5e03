//! `panicdump config`, `setup`, `setup --undo` and config-driven `arm
//! --dry-run` through the real binary, on file trees in temporary
//! directories (never the host's /etc).

mod common;

use common::{panicdump, run};
use std::path::{Path, PathBuf};
use std::process::Stdio;

struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Tree {
    fn new(name: &str) -> Tree {
        let d = std::env::temp_dir().join(format!("pdsetupcli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let t = Tree(d);
        t.write("/proc/sys/kernel/osrelease", "6.1.0-test\n");
        t.write("/proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/vda ro\n");
        t.write("/proc/iomem", "00100000-3ffdffff : System RAM\n");
        for k in [
            "panic_on_oops",
            "softlockup_panic",
            "hardlockup_panic",
            "hung_task_panic",
            "panic_on_warn",
            "panic",
            "panic_print",
        ] {
            t.write(&format!("/proc/sys/kernel/{k}"), "0\n");
        }
        t.write("/sys/kernel/kexec_crash_size", "0\n");
        t.write("/sys/kernel/kexec_crash_loaded", "0\n");
        t.write(
            "/etc/default/grub",
            "GRUB_CMDLINE_LINUX=\"console=ttyS0\"\n",
        );
        std::fs::create_dir_all(t.p("/etc/default/grub.d")).unwrap();
        t.write("/etc/kernel/cmdline", "root=/dev/vda rw\n");
        std::fs::create_dir_all(t.p("/etc/systemd/system")).unwrap();
        t
    }
    fn p(&self, abs: &str) -> PathBuf {
        self.0.join(abs.trim_start_matches('/'))
    }
    fn write(&self, abs: &str, text: &str) {
        let p = self.p(abs);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn root(&self) -> &str {
        self.0.to_str().unwrap()
    }
}

fn listing(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.is_dir() {
            out.push((p.display().to_string(), Vec::new()));
            out.extend(listing(&p));
        } else {
            out.push((
                p.display().to_string(),
                std::fs::read(&p).unwrap_or_default(),
            ));
        }
    }
    out.sort();
    out
}

#[test]
fn config_check_and_show() {
    let t = Tree::new("cfg");
    t.write(
        "/etc/panicdump/config.toml",
        "mode = \"kdump\"\n[sysctl]\npanic_timout = 3\n",
    );
    let out = run(&["config", "check", "--root", t.root()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 3")
            && err.contains("sysctl.panic_timout")
            && err.contains("sysctl.panic_timeout"),
        "{err}"
    );
    t.write(
        "/etc/panicdump/config.toml",
        "mode = \"kdump\"\n[sysctl]\npanic_timeout = 3\n",
    );
    let out = run(&["config", "check", "--root", t.root()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(&["config", "show", "--root", t.root()]);
    let show = String::from_utf8_lossy(&out.stdout);
    assert!(
        show.contains("mode = \"kdump\"")
            && show.contains("panic_timeout = 3")
            && show.contains("max_count = 50"),
        "{show}"
    );
    // A type error names the line.
    t.write(
        "/etc/panicdump/config.toml",
        "[kdump]\ndump_level = \"max\"\n",
    );
    let out = run(&["config", "check", "--root", t.root()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("line 2"));
}

#[test]
fn arm_reads_the_config_file() {
    let t = Tree::new("arm");
    t.write(
        "/etc/panicdump/config.toml",
        "mode = \"pstore\"\n[sysctl]\npanic_timeout = 7\nhung_task_panic = true\n",
    );
    let out = run(&["arm", "--dry-run", "--root", t.root()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        !plan.contains("kexec"),
        "mode = pstore loads no crash kernel:\n{plan}"
    );
    assert!(
        plan.contains("kernel/panic") && plan.contains("7"),
        "{plan}"
    );
    assert!(plan.contains("hung_task_panic"), "{plan}");
    // A flag wins over the file.
    let out = run(&[
        "arm",
        "--dry-run",
        "--root",
        t.root(),
        "--panic-timeout",
        "42",
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("42"));
}

#[test]
fn setup_dry_run_apply_twice_and_undo() {
    let t = Tree::new("setup");
    let before = listing(&t.0);
    let out = run(&["setup", "--root", t.root(), "--dry-run"]);
    assert!(out.status.success());
    let diff = String::from_utf8_lossy(&out.stdout);
    assert!(
        diff.contains("+++ b/etc/default/grub.d/panicdump.cfg")
            && diff.contains("+root=/dev/vda rw crashkernel="),
        "{diff}"
    );
    assert_eq!(listing(&t.0), before, "--dry-run changed files");
    // Without --yes and without a terminal: refuses.
    let out = run(&["setup", "--root", t.root()]);
    assert!(!out.status.success());
    assert_eq!(listing(&t.0), before);
    let out = run(&["setup", "--root", t.root(), "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let cmdline = std::fs::read_to_string(t.p("/etc/kernel/cmdline")).unwrap();
    assert!(
        cmdline.starts_with("root=/dev/vda rw crashkernel=")
            && cmdline.contains("memmap=1M$0x1ff00000"),
        "{cmdline}"
    );
    let after = listing(&t.0);
    let out = run(&["setup", "--root", t.root(), "--yes"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged /etc/kernel/cmdline"));
    assert_eq!(listing(&t.0), after);
    let out = panicdump()
        .args(["setup", "--root", t.root(), "--undo", "--yes"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(listing(&t.0), before, "undo is not byte-exact");
    let out = run(&["setup", "--root", t.root(), "--undo", "--yes"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to undo"));
}

/// `panicdump test --report` after a (simulated) reboot: the verdict comes
/// from the crash records collected since the test crash.
#[test]
fn selftest_report_verdicts() {
    let t = Tree::new("selftest");
    let state = t.p("/state");
    let state_s = state.to_str().unwrap();
    let report = |expect: i32| -> String {
        let out = run(&["test", "--report", "--state-dir", state_s]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert_eq!(out.status.code(), Some(expect), "{text}");
        text
    };
    assert!(report(2).contains("no self-test pending"));
    let store = crashdb::Store::new(&state);
    let old = crashdb::NewRecord::new(b"old crash\n".to_vec(), crashdb::SourceKind::Pstore, "t");
    let old_id = store.write(&old, 1_700_000_000).unwrap().id;
    let pending = |boot: &str| {
        std::fs::write(
            state.join("selftest.json"),
            format!(
                r#"{{"started_at": 1800000000, "boot_id": "{boot}", "kdump": true, "pstore": null, "known": ["{old_id}"]}}"#
            ),
        )
        .unwrap();
    };
    // Same boot: the crash never happened.
    let this_boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap();
    pending(this_boot.trim());
    assert!(report(1).contains("has not rebooted"));
    // Rebooted, but nothing new was collected.
    pending("another-boot");
    assert!(report(1).contains("self-test FAILED"));
    // A record from the crash kernel's capture: passed, and the pending file is gone.
    let log = b"Kernel panic - not syncing: sysrq triggered crash\n".to_vec();
    let rec = crashdb::NewRecord::new(log, crashdb::SourceKind::VmcoreDmesg, "capture");
    store.write(&rec, 1_800_000_100).unwrap();
    let text = report(0);
    assert!(
        text.contains("kdump: captured") && text.contains("self-test passed"),
        "{text}"
    );
    assert!(!state.join("selftest.json").exists());
}
