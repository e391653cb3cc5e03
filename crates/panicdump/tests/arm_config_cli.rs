//! `panicdump arm --dry-run` through the real binary on a fake root: the
//! config file's `sysctl.panic_print`, `sysctl.crash_kexec_post_notifiers`
//! and `pstore.backend` reach the plan, and the flags win over them.

mod common;

use common::run;
use std::path::PathBuf;

struct Tree(PathBuf);

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Tree {
    /// Reserved crash memory, a memmap= ramoops region, no pstore backend.
    fn new(name: &str) -> Tree {
        let d = std::env::temp_dir().join(format!("pdarmcfg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let t = Tree(d);
        t.write("/proc/sys/kernel/osrelease", "6.1.0-test\n");
        t.write(
            "/proc/cmdline",
            "root=/dev/vda ro crashkernel=256M memmap=1M$0x3f000000\n",
        );
        t.write(
            "/proc/iomem",
            "00100000-3effffff : System RAM\n3f000000-3f0fffff : Reserved\n",
        );
        for k in ["panic_on_oops", "panic", "panic_print"] {
            t.write(&format!("/proc/sys/kernel/{k}"), "0\n");
        }
        t.write("/sys/kernel/kexec_crash_size", "268435456\n");
        t.write("/sys/kernel/kexec_crash_loaded", "0\n");
        t.write(
            "/sys/module/kernel/parameters/crash_kexec_post_notifiers",
            "N\n",
        );
        t
    }
    fn write(&self, abs: &str, text: &str) {
        let p = self.0.join(abs.trim_start_matches('/'));
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    fn plan(&self, extra: &[&str]) -> String {
        let root = self.0.to_str().unwrap();
        let mut args = vec![
            "arm",
            "--dry-run",
            "--root",
            root,
            "--initrd",
            "/tmp/ready.img",
        ];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

#[test]
fn defaults_without_a_config_file() {
    let t = Tree::new("defaults");
    let plan = t.plan(&[]);
    assert!(plan.contains("modprobe ramoops"), "{plan}");
    assert!(plan.contains("record_size=0x20000"), "{plan}");
    assert!(plan.contains("crash_kexec_post_notifiers = Y"), "{plan}");
    assert!(plan.contains("kernel/panic_print = 64"), "{plan}");
}

#[test]
fn config_keys_reach_the_plan_and_flags_win() {
    let t = Tree::new("keys");
    t.write(
        "/etc/panicdump/config.toml",
        "[sysctl]\npanic_print = 0x21\ncrash_kexec_post_notifiers = \"off\"\n[pstore]\nbackend = \"firmware\"\n",
    );
    let plan = t.plan(&[]);
    assert!(plan.contains("kernel/panic_print = 33"), "{plan}");
    assert!(!plan.contains("post_notifiers"), "{plan}");
    assert!(!plan.contains("ramoops"), "backend = firmware:\n{plan}");

    let plan = t.plan(&[
        "--panic-print",
        "0x40",
        "--post-notifiers",
        "on",
        "--pstore-backend",
        "auto",
    ]);
    assert!(plan.contains("kernel/panic_print = 64"), "{plan}");
    assert!(plan.contains("crash_kexec_post_notifiers = Y"), "{plan}");
    assert!(plan.contains("modprobe ramoops"), "{plan}");

    let out = run(&["arm", "--dry-run", "--panic-print", "lots"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a bit mask"));
}
