//! Helpers shared by the lab's capture-chain tests (`chain`, `selftest`,
//! `targets`): finding what the guest wrote on its disk and checking it the
//! same way in every test.

// Each test binary compiles this module on its own and uses only some of
// the helpers; the rest would warn as unused there.
#![allow(dead_code)]

use lab::progress::Progress;
use lab::Lab;
use std::path::{Path, PathBuf};

/// The panic line every sysrq-c crash leaves in the kernel log.
pub const SYSRQ_PANIC: &str = "Kernel panic - not syncing: sysrq triggered crash";

/// Appends to `out` every file called `name` under `dir`, at any depth
/// (an unreadable or missing directory adds nothing).
pub fn files_named(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            files_named(&p, name, out);
        } else if e.file_name() == name {
            out.push(p);
        }
    }
}

/// Whether the record directory `dir` holds a `dmesg.txt` with the sysrq
/// panic and this run's `marker` (older records on the disk lack one).
pub fn holds_panic_and_marker(dir: &Path, marker: &str) -> bool {
    let t = std::fs::read_to_string(dir.join("dmesg.txt")).unwrap_or_default();
    t.contains(SYSRQ_PANIC) && t.contains(marker)
}

/// The capture directory `cap` written by the crash kernel: a successful
/// `-d 31` dump per `status.json`, and a `dmesg.txt` with the sysrq panic
/// and `marker`. Failure messages start with `ctx`.
pub fn assert_capture_ok(cap: &Path, marker: &str, ctx: &str) {
    let status = std::fs::read_to_string(cap.join("status.json")).expect("status.json");
    assert!(status.contains("\"ok\": true"), "{ctx}{status}");
    assert!(status.contains("\"level\": 31"), "{ctx}{status}");
    let dmesg = std::fs::read_to_string(cap.join("dmesg.txt")).expect("dmesg.txt");
    assert!(dmesg.contains(SYSRQ_PANIC));
    assert!(
        dmesg.contains(marker),
        "{ctx}capture dmesg lacks the marker"
    );
}

/// The kdump file `dump` opens on the host with `panicdump info` (the
/// guest's static binary, built under progress name `who`) and shows the
/// guest's kernel `release`, dump level 31 and the sysrq panic. Failure
/// messages start with `ctx`.
pub fn assert_dump_opens(lab: &Lab, who: &str, dump: &Path, release: &str, ctx: &str) {
    let bin = lab
        .static_panicdump(&Progress::new(who, false))
        .expect("static panicdump");
    let out = std::process::Command::new(&bin)
        .arg("info")
        .arg(dump)
        .output()
        .expect("run panicdump info");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{ctx}panicdump info {}: {}{}",
        dump.display(),
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(release), "{text}");
    assert!(text.contains("Dump level:    31"), "{text}");
    assert!(
        text.contains(&format!("Panic:         {SYSRQ_PANIC}")),
        "{text}"
    );
}
