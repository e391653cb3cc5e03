use super::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

/// A temporary directory removed on drop (no extra dependency).
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "pstore-harvest-{}-{}-{tag}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = set_mode(&self.0, 0o755);
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn set_mode(p: &Path, mode: u32) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode))
}

const FILES: [(&str, &[u8]); 3] = [
    ("console-ramoops-0", b"console of the crashed boot\n"),
    (
        "dmesg-efi-170000000000001001.enc.z",
        b"\x04\x22\x4d\x18 not deflate",
    ),
    (
        "dmesg-ramoops-0",
        b"Panic#1 Part1\n<0>[ 1.000000] Kernel panic - not syncing: x\n",
    ),
];

fn populate(src: &Path) {
    for (n, d) in FILES {
        fs::write(src.join(n), d).unwrap();
        let f = File::options().write(true).open(src.join(n)).unwrap();
        f.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000))
            .unwrap();
    }
}

/// Every regular file under dst (recursively), as (name, content).
fn copies(dst: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for d in fs::read_dir(dst).unwrap().flatten() {
        for f in fs::read_dir(d.path()).unwrap().flatten() {
            out.push((
                f.file_name().to_string_lossy().into_owned(),
                fs::read(f.path()).unwrap(),
            ));
        }
    }
    out.sort();
    out
}

fn expected() -> Vec<(String, Vec<u8>)> {
    FILES
        .iter()
        .map(|(n, d)| (n.to_string(), d.to_vec()))
        .collect()
}

fn remaining(src: &Path) -> usize {
    fs::read_dir(src).unwrap().count()
}

#[test]
fn copies_verifies_then_unlinks() {
    let (src, dst) = (TempDir::new("src"), TempDir::new("dst"));
    populate(&src.0);
    let r = harvest(&src.0, &dst.0, &HarvestOptions::default()).unwrap();
    assert_eq!(r.copied().len(), 3);
    assert_eq!(r.unlinked().len(), 3);
    assert!(r.failed().is_empty() && !r.interrupted);
    assert_eq!(remaining(&src.0), 0);
    assert_eq!(copies(&dst.0), expected());
    let efi = r
        .entries
        .iter()
        .find(|e| e.name.ends_with(".enc.z"))
        .unwrap();
    assert!(efi.flags.compressed_undecodable);
    // Record times survive in the copies' mtimes.
    let recs = read_archive(&dst.0).unwrap();
    assert_eq!(recs.len(), 3);
    assert!(recs.iter().all(|r| r.time.unwrap().secs == 1_700_000_000));
    let c = crate::reassemble(&recs);
    assert!(c
        .crashes
        .iter()
        .any(|k| k.dmesg_lossy().contains("Kernel panic")));
}

#[test]
fn rerun_without_unlink_does_not_duplicate() {
    let (src, dst) = (TempDir::new("src"), TempDir::new("dst"));
    populate(&src.0);
    let opts = HarvestOptions { unlink: false };
    let r1 = harvest(&src.0, &dst.0, &opts).unwrap();
    assert_eq!((r1.copied().len(), r1.unlinked().len()), (3, 0));
    let r2 = harvest(&src.0, &dst.0, &opts).unwrap();
    assert_eq!((r2.copied().len(), r2.skipped().len()), (0, 3));
    assert_eq!(copies(&dst.0), expected());
    assert_eq!(remaining(&src.0), 3);
}

#[test]
fn kill_between_copy_and_unlink_then_rerun() {
    let (src, dst) = (TempDir::new("src"), TempDir::new("dst"));
    populate(&src.0);
    let mut hook = |s: Stage, n: &str| {
        if s == Stage::Unlink && n == "dmesg-efi-170000000000001001.enc.z" {
            HookAction::Kill
        } else {
            HookAction::Continue
        }
    };
    let r = harvest_with_hook(&src.0, &dst.0, &HarvestOptions::default(), &mut hook).unwrap();
    assert!(r.interrupted);
    assert_eq!(r.unlinked(), ["console-ramoops-0"]);
    assert_eq!(remaining(&src.0), 2);
    let r = harvest(&src.0, &dst.0, &HarvestOptions::default()).unwrap();
    assert_eq!(r.skipped(), ["dmesg-efi-170000000000001001.enc.z"]);
    assert_eq!(r.copied(), ["dmesg-ramoops-0"]);
    assert_eq!(r.unlinked().len(), 2);
    assert_eq!(remaining(&src.0), 0);
    assert_eq!(copies(&dst.0), expected(), "nothing lost, nothing twice");
}

#[test]
fn kill_before_rename_leaves_no_partial_copy() {
    let (src, dst) = (TempDir::new("src"), TempDir::new("dst"));
    populate(&src.0);
    let mut hook = |s: Stage, n: &str| {
        if s == Stage::TempWritten && n == "dmesg-ramoops-0" {
            HookAction::Kill
        } else {
            HookAction::Continue
        }
    };
    let r = harvest_with_hook(&src.0, &dst.0, &HarvestOptions::default(), &mut hook).unwrap();
    assert!(r.interrupted);
    assert!(fs::read_dir(src.0.join("dmesg-ramoops-0")).is_err());
    assert!(src.0.join("dmesg-ramoops-0").exists());
    let r = harvest(&src.0, &dst.0, &HarvestOptions::default()).unwrap();
    assert_eq!(r.copied(), ["dmesg-ramoops-0"]);
    assert_eq!(remaining(&src.0), 0);
    // The temporary is gone; only the three real copies remain.
    assert_eq!(copies(&dst.0), expected());
}

#[test]
fn read_only_destination_loses_nothing() {
    let (src, dst) = (TempDir::new("src"), TempDir::new("dst"));
    populate(&src.0);
    // Injected EACCES/EROFS at the write: works even as root.
    let mut hook = |s: Stage, _: &str| {
        if s == Stage::TempWritten {
            HookAction::Fail(io::ErrorKind::PermissionDenied)
        } else {
            HookAction::Continue
        }
    };
    let r = harvest_with_hook(&src.0, &dst.0, &HarvestOptions::default(), &mut hook).unwrap();
    assert_eq!(r.failed().len(), 3);
    assert!(r.unlinked().is_empty());
    assert_eq!(remaining(&src.0), 3);
    assert!(copies(&dst.0).is_empty(), "no partial copies");
    // A real read-only directory, when permissions apply (not root).
    set_mode(&dst.0, 0o555).unwrap();
    if fs::write(dst.0.join("probe"), b"x").is_err() {
        let r = harvest(&src.0, &dst.0, &HarvestOptions::default()).unwrap();
        assert_eq!(r.failed().len(), 3);
        assert_eq!(remaining(&src.0), 3);
    }
    set_mode(&dst.0, 0o755).unwrap();
    // A destination that cannot be a directory at all.
    let file = dst.0.join("plain-file");
    fs::write(&file, b"x").unwrap();
    let e = harvest(&src.0, &file.join("sub"), &HarvestOptions::default()).unwrap_err();
    assert!(matches!(e, HarvestError::Destination { .. }));
    assert_eq!(remaining(&src.0), 3);
}

#[test]
fn unreadable_source_entries_stay() {
    let (src, dst) = (TempDir::new("src"), TempDir::new("dst"));
    populate(&src.0);
    fs::create_dir(src.0.join("dmesg-ramoops-7")).unwrap();
    let mut hook = |s: Stage, n: &str| {
        if s == Stage::Read && n == "console-ramoops-0" {
            HookAction::Fail(io::ErrorKind::Other)
        } else {
            HookAction::Continue
        }
    };
    let r = harvest_with_hook(&src.0, &dst.0, &HarvestOptions::default(), &mut hook).unwrap();
    assert_eq!(r.failed(), ["console-ramoops-0", "dmesg-ramoops-7"]);
    assert_eq!(r.unlinked().len(), 2);
    assert!(src.0.join("console-ramoops-0").exists());
    let r = harvest(&src.0, &dst.0, &HarvestOptions::default()).unwrap();
    assert_eq!(r.copied(), ["console-ramoops-0"]);
    assert_eq!(copies(&dst.0), expected());
    assert!(src.0.join("dmesg-ramoops-7").is_dir());
    assert!(harvest(&src.0.join("missing"), &dst.0, &HarvestOptions::default()).is_err());
}

#[test]
fn failed_unlink_is_reported_and_retried() {
    let (src, dst) = (TempDir::new("src"), TempDir::new("dst"));
    populate(&src.0);
    let mut hook = |s: Stage, _: &str| {
        if s == Stage::Unlink {
            HookAction::Fail(io::ErrorKind::PermissionDenied)
        } else {
            HookAction::Continue
        }
    };
    let r = harvest_with_hook(&src.0, &dst.0, &HarvestOptions::default(), &mut hook).unwrap();
    assert_eq!(r.copied().len(), 3);
    assert!(r
        .entries
        .iter()
        .all(|e| e.unlink_error.is_some() && !e.unlinked));
    let r = harvest(&src.0, &dst.0, &HarvestOptions::default()).unwrap();
    assert_eq!((r.skipped().len(), r.unlinked().len()), (3, 3));
    assert_eq!(copies(&dst.0), expected());
}

#[test]
fn same_name_new_content_is_kept_apart() {
    let (src, dst) = (TempDir::new("src"), TempDir::new("dst"));
    fs::write(src.0.join("dmesg-ramoops-0"), b"Oops#1 Part1\nfirst boot\n").unwrap();
    harvest(&src.0, &dst.0, &HarvestOptions::default()).unwrap();
    fs::write(
        src.0.join("dmesg-ramoops-0"),
        b"Panic#1 Part1\nsecond boot\n",
    )
    .unwrap();
    let r = harvest(&src.0, &dst.0, &HarvestOptions::default()).unwrap();
    assert_eq!(r.copied(), ["dmesg-ramoops-0"]);
    assert_eq!(copies(&dst.0).len(), 2);
    assert_eq!(read_archive(&dst.0).unwrap().len(), 2);
}

#[test]
fn hash_is_stable() {
    assert_eq!(content_hash(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(content_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
}
