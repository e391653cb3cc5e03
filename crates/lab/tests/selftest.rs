//! Issue 7's acceptance: the lab runs `panicdump test` end to end in a
//! guest. The guest runs the real `panicdump test --yes` (which arms from
//! `/etc/panicdump/config.toml` and crashes the kernel with sysrq-c), the
//! crash kernel captures to the ext4 disk, and the next boot runs
//! `panicdump collect` and `panicdump test --report`, whose verdict the host
//! checks together with what is on the disk. Minutes under TCG (three boots
//! and a dump of a 1 GiB guest).

mod common;

use common::{files_named, SYSRQ_PANIC};
use lab::progress::Progress;
use lab::Lab;

/// The guest's config passes the real binary's strict check (a typo in it
/// would make the lab test prove nothing about the config path).
#[test]
fn guest_config_is_valid() {
    let lab = Lab::from_env().expect("lab configuration");
    let bin = lab
        .static_panicdump(&Progress::new("selftest-config", false))
        .expect("static panicdump");
    let dir = std::env::temp_dir().join(format!("pdlab-selftest-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("config.toml");
    std::fs::write(&file, lab::selftest::guest_config()).unwrap();
    let out = std::process::Command::new(&bin)
        .args(["config", "check", "--file"])
        .arg(&file)
        .output()
        .expect("run panicdump config check");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn panicdump_test_crashes_captures_and_reports_captured() {
    let lab = Lab::from_env().expect("lab configuration");
    let o = lab.selftest().expect("self-test machine");
    let c = &o.console;

    // Boot 1: `panicdump test` armed both mechanisms itself, then crashed.
    assert!(
        c.contains("crashing now (kdump: armed, pstore: ramoops)"),
        "panicdump test did not arm both:\n{c}"
    );
    assert!(c.contains(SYSRQ_PANIC), "no sysrq panic on the console");

    // Boot 3: collect recorded it and the report says captured.
    assert_eq!(o.collect_rc, 0, "collect failed:\n{c}");
    assert_eq!(o.report_rc, 0, "panicdump test --report failed:\n{c}");
    for line in [
        "kdump: captured",
        "pstore: captured",
        "self-test passed: the crash was captured",
    ] {
        assert!(c.contains(line), "report lacks {line:?}:\n{c}");
    }

    // The disk: a successful capture written by the crash kernel, and one
    // record holding this boot's marker, the panic, the pstore entry and
    // the dump; the pending test is gone (the report consumed it).
    let disk = o.dir.join("disk");
    let mut caps = Vec::new();
    files_named(&disk.join("crash"), "status.json", &mut caps);
    assert_eq!(caps.len(), 1, "one capture: {caps:?}");
    let status = std::fs::read_to_string(&caps[0]).unwrap();
    assert!(status.contains("\"ok\": true"), "{status}");
    let mut recs = Vec::new();
    files_named(&disk.join("state"), "record.json", &mut recs);
    assert_eq!(recs.len(), 1, "one record: {recs:?}");
    let rec = recs[0].parent().unwrap();
    let dmesg = std::fs::read_to_string(rec.join("dmesg.txt")).unwrap();
    assert!(dmesg.contains(&o.marker), "record lacks this run's marker");
    assert!(dmesg.contains(SYSRQ_PANIC));
    let meta = std::fs::read_to_string(&recs[0]).unwrap();
    assert!(
        meta.contains("pstore:") && meta.contains("capture:"),
        "{meta}"
    );
    assert!(
        rec.join("dump-vmcore.kdump").is_file(),
        "no dump in {rec:?}"
    );
    assert!(
        !disk.join("state/selftest.json").exists(),
        "the pending test was not consumed"
    );
}
