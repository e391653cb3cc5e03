use super::*;
use crate::notes::NT_PRSTATUS;
use crate::testutil::*;
use crate::{Container, Origin};

fn page(pfn: u64) -> Vec<u8> {
    test_page(pfn, 4096)
}

/// A /proc/vmcore-like file: merged notes, page-aligned data, offsets ≠
/// paddr, two System-RAM segments and a kernel-text alias.
fn proc_vmcore() -> (Vec<u8>, BTreeMap<u64, Vec<u8>>) {
    let mut want = BTreeMap::new();
    let mut ram0 = Vec::new();
    for pfn in 1..0x20 {
        ram0.extend(page(pfn));
        want.insert(pfn, page(pfn));
    }
    let mut ram1 = Vec::new();
    for pfn in 0x100..0x140 {
        ram1.extend(page(pfn));
        want.insert(pfn, page(pfn));
    }
    // Kernel text: physical 0x100000.. (pfn 0x100..), with *different* bytes
    // so that using it for the physical map would be detected.
    let text = vec![0xcc; 0x10 * 4096];
    let b = ElfBuilder {
        notes: kernel_notes(2, VMCI),
        page_align: true,
        segments: vec![
            ElfSegment {
                paddr: 0x100000,
                vaddr: 0xffffffff81000000,
                memsz: text.len() as u64,
                data: text,
            },
            ElfSegment {
                paddr: 0x1000,
                vaddr: 0xffff888000001000,
                memsz: ram0.len() as u64,
                data: ram0,
            },
            ElfSegment {
                paddr: 0x100000,
                vaddr: 0xffff888000100000,
                memsz: ram1.len() as u64,
                data: ram1,
            },
        ],
        ..Default::default()
    };
    (b.build(), want)
}

#[test]
fn proc_vmcore_round_trip() {
    let (file, want) = proc_vmcore();
    let d = Dump::from_bytes(file).unwrap();
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    assert_eq!(d.format().origin, Origin::Kernel);
    assert_eq!(d.format().to_string(), "ELF vmcore, kernel /proc/vmcore");
    assert!(matches!(
        d.format().container,
        Container::Elf { elf64: true, .. }
    ));
    check_pages(&d, &want, &[]);
    assert_eq!(d.direct_map_offset(), Some(0xffff888000000000));
    assert_eq!(d.elf_machine(), Some(62));
    assert_eq!(d.cpus().len(), 2);
    assert_eq!(d.cpus()[1].pid, 101);
    assert_eq!(d.cpus()[1].reg("rip"), Some(0xffffffff81000001));
    assert_eq!(d.vmcoreinfo().unwrap().osrelease(), Some("6.1.0-test"));
    let mut names = Vec::new();
    d.for_each_note(|n| names.push(String::from_utf8_lossy(n.name).into_owned()));
    assert_eq!(names, ["CORE", "CORE", "VMCOREINFO"]);
    let m = d.memory();
    assert_eq!(m.ranges().len(), 2);
    assert_eq!(m.page_state(0), PageState::Hole);
    assert_eq!(
        m.read_pfn(0, &mut [0u8; 4096]),
        Err(ReadError::NotPresent { addr: 0 })
    );
    // A read across the segment end stops at the hole.
    let mut b = [0u8; 16];
    assert_eq!(
        m.read_phys(0x20000 - 8, &mut b),
        Err(ReadError::NotPresent { addr: 0x20000 })
    );
    let c = d.page_counts();
    assert_eq!((c.present, c.excluded, c.zero), (0x1f + 0x40, 0, 0));
    assert_eq!(c.max_pfn, 0x140);
    assert_eq!(c.holes, 0x140 - 0x5f);
    let json = serde_json::to_string(&d.format()).unwrap();
    assert!(json.contains("\"origin\":\"kernel\""), "{json}");
}

/// The capture path's read-backed source gives the same dump as the
/// in-memory one, and refuses a flattened stream with a clear error.
#[test]
fn proc_vmcore_read_unmapped_from_a_file() {
    let (file, want) = proc_vmcore();
    let dir = std::env::temp_dir().join(format!("dumpfile-unmapped-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("vmcore");
    std::fs::write(&path, &file).unwrap();
    let d = Dump::open_unmapped(&path).unwrap();
    assert!(!d.source().is_in_memory());
    assert!(d.source().raw().is_empty());
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    assert_eq!(d.format().origin, Origin::Kernel);
    check_pages(&d, &want, &[]);
    assert_eq!(d.cpus().len(), 2);
    assert_eq!(d.vmcoreinfo().unwrap().osrelease(), Some("6.1.0-test"));
    let mut names = Vec::new();
    d.for_each_note(|n| names.push(String::from_utf8_lossy(n.name).into_owned()));
    assert_eq!(names, ["CORE", "CORE", "VMCOREINFO"]);

    // A page the file can no longer give (as /proc/vmcore answering EIO) is
    // an I/O read error for that page, not a crash of the reader.
    std::fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(file.len() as u64 / 2)
        .unwrap();
    let last = *want.keys().last().unwrap();
    assert!(matches!(
        d.memory().read_pfn(last, &mut [0u8; 4096]),
        Err(ReadError::Io { addr, .. }) if addr == last * 4096
    ));

    let flat = dir.join("vmcore.flat");
    std::fs::write(&flat, flatten_file(&file, 4096)).unwrap();
    let err = Dump::open_unmapped(&flat).unwrap_err().to_string();
    assert!(err.contains("flattened"), "{err}");
    assert!(Dump::open(&flat).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn qemu_elf_with_gap_and_pn_xnum() {
    let mut notes = Vec::new();
    for i in 0..3 {
        notes.extend(note(
            b"CORE",
            NT_PRSTATUS,
            &prstatus_x86_64(i, 0x1000 + i as u64, 0),
        ));
        notes.extend(note(b"QEMU", 0, &qemu_note_desc(0x5000 + i as u64)));
    }
    let mut want = BTreeMap::new();
    let mut ram = Vec::new();
    for pfn in 0..8 {
        ram.extend(page(pfn));
        want.insert(pfn, page(pfn));
    }
    let b = ElfBuilder {
        notes,
        phdr_gap: 200,
        pn_xnum: true,
        segments: vec![ElfSegment {
            paddr: 0,
            vaddr: 0,
            memsz: ram.len() as u64,
            data: ram,
        }],
        ..Default::default()
    };
    let d = Dump::from_bytes(b.build()).unwrap();
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    assert_eq!(d.format().origin, Origin::Qemu);
    assert!(d.vmcoreinfo().is_none());
    assert_eq!(d.cpus().len(), 3);
    assert_eq!(d.cpus()[2].qemu.unwrap().cr3, 0x5002);
    assert_eq!(d.direct_map_offset(), None);
    check_pages(&d, &want, &[]);
}

#[test]
fn makedumpfile_elf_excluded_tails() {
    let mut want = BTreeMap::new();
    let mut first = Vec::new();
    for pfn in 0..4 {
        first.extend(page(pfn));
        want.insert(pfn, page(pfn));
    }
    let b = ElfBuilder {
        notes: kernel_notes(1, VMCI),
        segments: vec![
            // 4 pages of data, then 300 excluded pages.
            ElfSegment {
                paddr: 0,
                vaddr: 0xffff888000000000,
                memsz: 304 * 4096,
                data: first,
            },
            // An all-excluded segment (p_filesz = 0, p_offset = 0).
            ElfSegment {
                paddr: 0x200000,
                vaddr: 0xffff888000200000,
                memsz: 0x1000 * 16,
                data: Vec::new(),
            },
        ],
        ..Default::default()
    };
    let d = Dump::from_bytes(b.build()).unwrap();
    assert_eq!(d.format().origin, Origin::Makedumpfile);
    check_pages(&d, &want, &[4, 100, 303, 0x200, 0x20f]);
    let c = d.page_counts();
    assert_eq!((c.present, c.excluded), (4, 300 + 16));
    // Reading across the data/tail boundary reports the first excluded byte.
    let mut b = [0u8; 8];
    assert_eq!(
        d.memory().read_phys(4 * 4096 - 4, &mut b),
        Err(ReadError::Excluded { addr: 4 * 4096 })
    );
}

#[test]
fn flattened_elf_reads_like_plain() {
    let (file, want) = proc_vmcore();
    let flat = flatten_file(&file, 5000);
    let d = Dump::from_bytes(flat).unwrap();
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    assert!(d.format().flattened);
    assert_eq!(
        d.format().to_string(),
        "flattened ELF vmcore, kernel /proc/vmcore"
    );
    check_pages(&d, &want, &[]);
    assert_eq!(d.cpus().len(), 2);
}

#[test]
fn overlapping_segments_warn_and_first_wins() {
    let b = ElfBuilder {
        notes: kernel_notes(1, VMCI),
        segments: vec![
            ElfSegment {
                paddr: 0,
                vaddr: 0,
                memsz: 8192,
                data: vec![1; 8192],
            },
            ElfSegment {
                paddr: 4096,
                vaddr: 0,
                memsz: 8192,
                data: vec![2; 8192],
            },
        ],
        ..Default::default()
    };
    let d = Dump::from_bytes(b.build()).unwrap();
    assert_eq!(d.warnings().len(), 1, "{:?}", d.warnings());
    let mut buf = [0u8; 4096];
    d.memory().read_pfn(1, &mut buf).unwrap();
    assert_eq!(buf[0], 1);
    d.memory().read_pfn(2, &mut buf).unwrap();
    assert_eq!(buf[0], 2);
    assert_eq!(d.memory().ranges().len(), 1);
}

#[test]
fn truncated_segment_reads_as_truncated() {
    let (file, _) = proc_vmcore();
    let cut = file.len() - 4096 * 3 - 100;
    let d = Dump::from_bytes(file[..cut].to_vec()).unwrap();
    assert!(!d.warnings().is_empty());
    let mut buf = [0u8; 4096];
    assert!(matches!(
        d.memory().read_pfn(0x13f, &mut buf),
        Err(ReadError::Truncated { .. })
    ));
    d.memory().read_pfn(0x100, &mut buf).unwrap();
}

#[test]
fn every_cut_point_is_safe() {
    let b = ElfBuilder {
        notes: kernel_notes(1, VMCI),
        segments: vec![ElfSegment {
            paddr: 0,
            vaddr: 0xffff888000000000,
            memsz: 8192,
            data: vec![3; 4096],
        }],
        ..Default::default()
    };
    let file = b.build();
    for cut in 0..file.len() {
        exercise(file[..cut].to_vec());
    }
    let flat = flatten_file(&file, 700);
    for cut in (0..flat.len()).step_by(7) {
        exercise(flat[..cut].to_vec());
    }
}
