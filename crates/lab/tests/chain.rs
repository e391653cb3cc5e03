//! The whole capture chain in one guest (minutes under TCG on the first
//! run; cached afterwards under target/lab): `panicdump arm` with its own
//! capture initramfs, sysrq-c, `panicdump capture` as the crash kernel's
//! `/init` writing to an ext4 disk found by UUID, reboot, `panicdump
//! collect` in the second boot. The host reads the disk with debugfs.

use lab::progress::Progress;
use lab::{Lab, Recipe};
use std::path::{Path, PathBuf};

fn files_named(dir: &Path, name: &str, out: &mut Vec<PathBuf>) {
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

#[test]
fn chain_captures_to_ext4_and_collect_records_it() {
    let lab = Lab::from_env().expect("lab configuration");
    let a = lab.artifact(Recipe::Chain).expect("chain artifact");
    let disk = a.dir.join("disk");
    let console = std::fs::read_to_string(a.console_log()).expect("console.log");
    assert!(console.contains("panicdump-lab: armed 1"), "armed");
    assert!(
        console.contains("panicdump-lab: collected 0"),
        "collect ran"
    );

    // The capture directory written by the crash kernel (collect drops
    // its vmcore.kdump once the record holds a durable copy).
    let mut caps = Vec::new();
    files_named(&disk.join("crash"), "status.json", &mut caps);
    assert_eq!(caps.len(), 1, "one capture: {caps:?}");
    let cap = caps[0].parent().unwrap();
    let status = std::fs::read_to_string(cap.join("status.json")).expect("status.json");
    assert!(status.contains("\"ok\": true"), "{status}");
    assert!(status.contains("\"level\": 31"), "{status}");
    let dmesg = std::fs::read_to_string(cap.join("dmesg.txt")).expect("dmesg.txt");
    assert!(dmesg.contains("Kernel panic - not syncing: sysrq triggered crash"));
    assert!(dmesg.contains(a.marker()), "capture dmesg lacks the marker");
    assert!(cap.join(".collected").is_file(), "capture marked collected");

    // The record made by `panicdump collect` in the second boot.
    let mut recs = Vec::new();
    files_named(&disk.join("state"), "record.json", &mut recs);
    let rec = recs
        .iter()
        .map(|r| r.parent().unwrap())
        .find(|d| {
            let t = std::fs::read_to_string(d.join("dmesg.txt")).unwrap_or_default();
            t.contains("Kernel panic - not syncing: sysrq triggered crash")
                && t.contains(a.marker())
        })
        .unwrap_or_else(|| panic!("no record with the panic and the marker among {recs:?}"));
    let meta = std::fs::read_to_string(rec.join("record.json")).expect("record.json");
    assert!(meta.contains("capture:"), "{meta}");
    assert!(
        console.contains("\"title\": \"kernel panic: sysrq triggered crash\""),
        "collect summary on the console"
    );
    let dump = rec.join("dump-vmcore.kdump");
    assert!(dump.is_file(), "{} missing", dump.display());

    // The kdump file opens: `panicdump info` (the guest's static binary).
    let bin = lab
        .static_panicdump(&Progress::new("chain-test", false))
        .expect("static panicdump");
    let out = std::process::Command::new(&bin)
        .arg("info")
        .arg(&dump)
        .output()
        .expect("run panicdump info");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "panicdump info {}: {}{}",
        dump.display(),
        text,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains(&a.meta.release), "{text}");
    assert!(text.contains("Dump level:    31"), "{text}");
    assert!(
        text.contains("Panic:         Kernel panic - not syncing: sysrq triggered crash"),
        "{text}"
    );
}
