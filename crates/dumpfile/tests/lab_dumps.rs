//! Real-data checks against the lab's dumps (`target/lab/`).
//!
//! The lab (crates/lab) boots Debian's kernel in QEMU and keeps a kdump
//! `/proc/vmcore` copy and QEMU `dump-guest-memory` outputs. From the vmcore
//! this test makes makedumpfile `-c`, `-l`, `-E` and `-F` outputs at `-d 31`
//! and checks that every page our reader returns from them equals the
//! vmcore's page. Skips with a notice when the artifacts or makedumpfile are
//! absent; `PANICDUMP_LAB_DIR` overrides the lab directory.

use dumpfile::{Dump, Origin, PageState, PhysicalMemory, ReadError};
use std::path::{Path, PathBuf};
use std::process::Command;

fn lab_dir() -> PathBuf {
    match std::env::var_os("PANICDUMP_LAB_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/lab"),
    }
}

/// Files under the lab directory whose name satisfies `pred` (two levels).
fn find(pred: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![(lab_dir(), 0)];
    while let Some((d, depth)) = dirs.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() && depth < 3 {
                dirs.push((p, depth + 1));
            } else if p.file_name().and_then(|n| n.to_str()).is_some_and(&pred) {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// In debug builds decompression is slow: compare a sample of pages.
fn stride() -> u64 {
    if cfg!(debug_assertions) {
        13
    } else {
        1
    }
}

/// Every page `got` can read (sampled by `stride`) equals `want`'s; returns
/// how many pages were compared.
fn compare(name: &str, want: &dyn PhysicalMemory, got: &dyn PhysicalMemory) -> u64 {
    let ps = got.page_size();
    assert_eq!(ps, want.page_size(), "{name}: page size");
    let mut a = vec![0u8; ps as usize];
    let mut b = vec![0u8; ps as usize];
    let mut compared = 0;
    for r in got.ranges() {
        let mut pfn = r.start / ps;
        while pfn * ps < r.end {
            match got.read_pfn(pfn, &mut b) {
                Ok(()) => {
                    want.read_pfn(pfn, &mut a).unwrap_or_else(|e| {
                        panic!("{name}: pfn {pfn:#x} readable in output but not in vmcore: {e}")
                    });
                    assert!(a == b, "{name}: pfn {pfn:#x} differs from the vmcore");
                    compared += 1;
                }
                Err(ReadError::Excluded { .. }) => {}
                Err(e) => {
                    // Partial pages at segment edges (e.g. 0x9fc00) are fine
                    // in ELF; anything else is a reader bug.
                    if !matches!(e, ReadError::NotPresent { .. }) {
                        panic!("{name}: pfn {pfn:#x}: {e}");
                    }
                }
            }
            pfn += stride();
        }
    }
    compared
}

fn makedumpfile(args: &[&str], input: &Path, out: &Path, flattened: bool) -> bool {
    let mut cmd = Command::new("makedumpfile");
    cmd.args(args).arg(input);
    let res = if flattened {
        let Ok(f) = std::fs::File::create(out) else {
            return false;
        };
        cmd.stdout(f).output()
    } else {
        cmd.arg(out).output()
    };
    match res {
        Ok(o) if o.status.success() => true,
        Ok(o) => {
            eprintln!(
                "makedumpfile {args:?} failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            false
        }
        Err(e) => {
            eprintln!("NOTICE: makedumpfile not runnable ({e}); skipping derived dumps");
            false
        }
    }
}

#[test]
fn kdump_vmcore_and_makedumpfile_outputs() {
    let Some(vmcore) = find(|n| n == "vmcore" || n.starts_with("vmcore."))
        .into_iter()
        .next()
    else {
        eprintln!(
            "NOTICE: no lab vmcore under {}; skipping",
            lab_dir().display()
        );
        return;
    };
    let elf = Dump::open(&vmcore).expect("open lab vmcore");
    eprintln!(
        "{}: {}; warnings {:?}",
        vmcore.display(),
        elf.format(),
        elf.warnings()
    );
    assert_eq!(elf.format().origin, Origin::Kernel);
    let info = elf.vmcoreinfo().expect("VMCOREINFO note");
    assert!(info.osrelease().is_some());
    assert!(!elf.cpus().is_empty());
    assert!(elf.cpus()[0].pc().is_some());
    let pom = elf.direct_map_offset().expect("direct map PT_LOAD");
    assert!(pom >= 0xff00_0000_0000_0000, "{pom:#x}");
    let counts = elf.page_counts();
    eprintln!("vmcore pages: {counts:?}");
    assert!(counts.present > 1000);

    let tmp = std::env::temp_dir().join(format!("dumpfile-lab-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).expect("temp dir");
    let variants: &[(&str, &[&str], bool)] = &[
        ("zlib", &["-c", "-d", "31"], false),
        ("lzo", &["-l", "-d", "31"], false),
        ("raw", &["-d", "31"], false),
        ("elf", &["-E", "-d", "31"], false),
        ("flat-zlib", &["-F", "-c", "-d", "31"], true),
        ("flat-elf", &["-F", "-E", "-d", "31"], true),
    ];
    for (name, args, flat) in variants {
        let out = tmp.join(name);
        if !makedumpfile(args, &vmcore, &out, *flat) {
            continue;
        }
        let d = Dump::open(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        eprintln!("{name}: {} warnings {:?}", d.format(), d.warnings());
        assert_eq!(d.format().flattened, *flat, "{name}");
        assert_eq!(
            d.vmcoreinfo().map(|v| v.raw()),
            Some(info.raw()),
            "{name}: VMCOREINFO"
        );
        assert_eq!(d.cpus().len(), elf.cpus().len(), "{name}: CPUs");
        assert_eq!(
            d.cpus()[0].raw_regs,
            elf.cpus()[0].raw_regs,
            "{name}: registers"
        );
        let c = d.page_counts();
        eprintln!("{name}: {c:?}");
        assert!(c.excluded > 0, "{name}: -d 31 excludes pages");
        let n = compare(name, elf.memory(), d.memory());
        eprintln!("{name}: {n} pages equal to the vmcore's");
        assert!(n > 100, "{name}");
        if let Some(h) = d.kdump_header() {
            assert_eq!(h.header_version, 6);
            assert_eq!(h.dump_level, Some(31));
            assert_eq!(h.utsname.release, info.osrelease().unwrap_or_default());
            // Zero pages read as zeros.
            let m = d.memory();
            let zero_pfn = (0..m.max_pfn()).find(|&p| m.page_state(p) == PageState::Zero);
            if let Some(p) = zero_pfn {
                let mut b = vec![1u8; 4096];
                m.read_pfn(p, &mut b).unwrap();
                assert!(b.iter().all(|&x| x == 0));
            }
        }
        let _ = std::fs::remove_file(&out);
    }
    let _ = std::fs::remove_dir_all(&tmp);
}

#[test]
fn qemu_dumps_agree() {
    let elfs = find(|n| n.ends_with(".elf"));
    let Some(elf_path) = elfs.first() else {
        eprintln!("NOTICE: no lab QEMU *.elf dump; skipping");
        return;
    };
    let elf = Dump::open(elf_path).expect("open QEMU ELF");
    eprintln!(
        "{}: {}; warnings {:?}",
        elf_path.display(),
        elf.format(),
        elf.warnings()
    );
    assert_eq!(elf.format().origin, Origin::Qemu);
    assert!(!elf.cpus().is_empty());
    let q = elf.cpus()[0].qemu.expect("QEMU CPU note");
    assert_ne!(q.cr3, 0);
    let dir = elf_path.parent().unwrap_or(Path::new("."));
    for k in find(|n| n.contains(".kdump-")) {
        if k.parent() != Some(dir) {
            continue;
        }
        let d = Dump::open(&k).unwrap_or_else(|e| panic!("{}: {e}", k.display()));
        eprintln!(
            "{}: {}; warnings {:?}",
            k.display(),
            d.format(),
            d.warnings()
        );
        assert_eq!(d.format().origin, Origin::Qemu);
        assert_eq!(d.cpus().len(), elf.cpus().len());
        eprintln!("{:?}", d.page_counts());
        let n = compare(&k.display().to_string(), elf.memory(), d.memory());
        eprintln!("{}: {n} pages equal to the ELF dump's", k.display());
        assert!(n > 1000);
    }
}
