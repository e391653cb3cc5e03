//! The whole capture chain in one guest (minutes under TCG on the first
//! run; cached afterwards under target/lab): `panicdump arm` with its own
//! capture initramfs, sysrq-c, `panicdump capture` as the crash kernel's
//! `/init` writing to an ext4 disk found by UUID, reboot, `panicdump
//! collect` in the second boot. The host reads the disk with debugfs.

mod common;

use common::{assert_capture_ok, assert_dump_opens, files_named, holds_panic_and_marker};
use lab::{Lab, Recipe};

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
    assert_capture_ok(cap, a.marker(), "");
    assert!(cap.join(".collected").is_file(), "capture marked collected");

    // The record made by `panicdump collect` in the second boot.
    let mut recs = Vec::new();
    files_named(&disk.join("state"), "record.json", &mut recs);
    let rec = recs
        .iter()
        .map(|r| r.parent().unwrap())
        .find(|d| holds_panic_and_marker(d, a.marker()))
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
    assert_dump_opens(&lab, "chain-test", &dump, &a.meta.release, "");
}
