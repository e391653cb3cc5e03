//! The capture chain to dump targets other than ext4, one real guest per
//! filesystem (a couple of TCG minutes each on the first run; cached
//! under target/lab afterwards): `panicdump arm --fs <type>`, sysrq-c,
//! `panicdump capture` finds the target by UUID and writes the log, a
//! `-d 31` dump and its status, reboot, `panicdump collect`. The host reads
//! the disk itself (`mcopy -s`, `btrfs restore`; for xfs a cpio the guest
//! writes with busybox) and opens the dump with `panicdump info`.

mod common;

use common::{assert_capture_ok, assert_dump_opens, holds_panic_and_marker};
use lab::{Lab, TargetFs};
use std::path::{Path, PathBuf};

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn check(fs: TargetFs) {
    let lab = Lab::from_env().expect("lab configuration");
    let o = lab.target_chain(fs).expect("target chain artifact");
    let console = std::fs::read_to_string(o.console_log()).expect("console.log");
    let marker = &o.meta.marker;
    eprintln!(
        "{fs}: qemu {}s, capture initramfs {:?} B, {:?}, read with {}",
        o.meta.qemu_s, o.meta.capture_initrd_bytes, o.meta.estimate, o.meta.extracted_with
    );
    // The crash kernel found the target by UUID and mounted it as `fs`.
    assert!(
        console.contains(&format!("({fs}) on /run/panicdump-target")),
        "{fs}: capture did not mount the target as {fs}"
    );
    // It unmounted it before rebooting (vfat keeps a dirty bit otherwise).
    assert!(
        console.contains("panicdump capture: unmounted /run/panicdump-target"),
        "{fs}: capture did not unmount the target"
    );
    assert!(
        !console.contains("Volume was not properly unmounted"),
        "{fs}: the second boot found the target dirty"
    );
    assert_eq!(o.meta.collect_rc, 0, "{fs}: panicdump collect failed");

    // The capture directory, as the host read it off the disk.
    let caps = subdirs(&o.dump_dir());
    assert_eq!(caps.len(), 1, "{fs}: one capture: {caps:?}");
    let cap = &caps[0];
    assert_capture_ok(cap, marker, &format!("{fs}: "));
    assert!(
        !cap.join("vmcore.kdump.incomplete").exists(),
        "{fs}: dump left incomplete"
    );
    assert!(
        cap.join(".collected").is_file(),
        "{fs}: capture not marked collected"
    );

    // The record `panicdump collect` wrote in the second boot.
    let recs = subdirs(&o.state_dir().join("crashes"));
    let rec = recs
        .iter()
        .find(|d| holds_panic_and_marker(d, marker))
        .unwrap_or_else(|| panic!("{fs}: no record with the panic and the marker among {recs:?}"));
    let meta = std::fs::read_to_string(rec.join("record.json")).expect("record.json");
    assert!(meta.contains("capture:"), "{fs}: {meta}");
    let dump = rec.join("dump-vmcore.kdump");
    assert!(dump.is_file(), "{} missing", dump.display());

    // The dump opens on the host.
    assert_dump_opens(
        &lab,
        "targets-test",
        &dump,
        &o.meta.release,
        &format!("{fs}: "),
    );
}

#[test]
fn capture_to_vfat_found_by_volume_id() {
    check(TargetFs::Vfat);
}

#[test]
fn capture_to_btrfs_found_by_uuid() {
    check(TargetFs::Btrfs);
}

#[test]
fn capture_to_xfs_found_by_uuid() {
    check(TargetFs::Xfs);
}

/// Measurement, not a check (`cargo test -p lab --test targets --
/// --ignored --nocapture`): each target in a 2 GiB guest at
/// `crashkernel=$PANICDUMP_LAB_TARGET_CK` (default 96M, the ext4 minimum
/// in docs/lab.md); prints whether the capture completed and what it cost.
#[test]
#[ignore = "measurement for docs/lab.md; several QEMU minutes"]
fn crashkernel_per_target() {
    let lab = Lab::from_env().expect("lab configuration");
    let ck = std::env::var("PANICDUMP_LAB_TARGET_CK").unwrap_or_else(|_| "96M".into());
    let only = std::env::var("PANICDUMP_LAB_TARGET_FS").ok();
    let params = lab::Params {
        memory_mib: 2048,
        smp: 1,
        crashkernel: ck.clone(),
    };
    for fs in TargetFs::ALL {
        if only.as_deref().is_some_and(|o| o != fs.name()) {
            continue;
        }
        let o = lab
            .target_chain_with(fs, &params, false)
            .expect("target chain");
        let console = std::fs::read_to_string(o.console_log()).unwrap_or_default();
        let line = |p: &str| {
            console
                .lines()
                .rev()
                .find(|l| l.contains(p))
                .unwrap_or("-")
                .to_string()
        };
        println!(
            "{fs} crashkernel={ck}: complete {}; capture initramfs {:?} B; {:?}\n  {}\n  {}\n  {}",
            console.contains("panicdump capture: capture complete"),
            o.meta.capture_initrd_bytes,
            o.meta.estimate,
            line("removed the loaded module files"),
            line("panicdump capture: memory:"),
            line("saved the dump"),
        );
        if !console.contains("panicdump capture: capture complete") {
            println!("  last kernel lines: {}", line("Kernel panic"));
        }
    }
}
