//! Reader tests over synthetic dumps (see `crate::testutil`).

mod bad_input;
mod elf;
mod kdump;

use crate::{Dump, PageState, ReadError};
use std::collections::BTreeMap;

const VMCI: &str = "OSRELEASE=6.1.0-test\nPAGESIZE=4096\nSYMBOL(swapper_pg_dir)=ffffffff82a0a000\nCRASHTIME=1700000000\n";

/// Every page in `want` reads back equal; `excluded` pfns read as excluded.
fn check_pages(d: &Dump, want: &BTreeMap<u64, Vec<u8>>, excluded: &[u64]) {
    let m = d.memory();
    let mut buf = vec![0u8; m.page_size() as usize];
    for (&pfn, page) in want {
        m.read_pfn(pfn, &mut buf)
            .unwrap_or_else(|e| panic!("pfn {pfn:#x}: {e}"));
        assert!(buf == *page, "pfn {pfn:#x} differs");
        assert_ne!(m.page_state(pfn), PageState::Hole);
        assert_ne!(m.page_state(pfn), PageState::Excluded);
    }
    for &pfn in excluded {
        assert_eq!(
            m.read_pfn(pfn, &mut buf),
            Err(ReadError::Excluded { addr: pfn * 4096 }),
            "pfn {pfn:#x}"
        );
        assert_eq!(m.page_state(pfn), PageState::Excluded);
    }
}

/// Open must not panic; if it opens, every access path must not panic either.
fn exercise(bytes: Vec<u8>) {
    if let Ok(d) = Dump::from_bytes(bytes) {
        let _ = d.format().to_string();
        let _ = d.page_counts();
        let _ = d.cpus();
        let _ = d.vmcoreinfo();
        let m = d.memory();
        let mut buf = vec![0u8; m.page_size() as usize];
        let ranges = m.ranges().to_vec();
        let mut reads = 0;
        for r in ranges {
            let mut a = r.start;
            while a < r.end && reads < 64 {
                let _ = m.read_phys(a, &mut buf);
                let _ = m.page_state(a / m.page_size());
                a = a.saturating_add(m.page_size());
                reads += 1;
            }
        }
        let _ = m.read_phys(u64::MAX - 3, &mut buf[..8]);
    }
}

/// Write small seed dumps for the `dump_open` fuzz target into
/// `$DUMPFILE_SEED_DIR` (does nothing when unset).
#[test]
fn write_fuzz_seeds() {
    use crate::testutil::*;
    use crate::Compression;
    let Some(dir) = std::env::var_os("DUMPFILE_SEED_DIR") else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut seeds: Vec<(String, Vec<u8>)> = Vec::new();
    for (i, c) in [
        Compression::None,
        Compression::Zlib,
        Compression::Lzo,
        Compression::Snappy,
        Compression::Zstd,
    ]
    .into_iter()
    .enumerate()
    {
        let mut b = KdumpBuilder {
            compression: c,
            block_size: 1024,
            header_version: 3 + i as i32,
            max_mapnr: 24,
            ram: vec![(0, 20)],
            vmcoreinfo: Some("OSRELEASE=6.1\nPAGESIZE=1024\n".into()),
            notes: note(b"CORE", 1, &prstatus_x86_64(1, 2, 3)),
            ..Default::default()
        };
        for pfn in 0..20 {
            if pfn % 3 != 2 {
                b.pages.insert(
                    pfn,
                    if pfn % 4 == 0 {
                        vec![0; 1024]
                    } else {
                        test_page(pfn, 1024)
                    },
                );
            }
        }
        let f = b.build();
        seeds.push((format!("flat-kdump-{c}"), flatten_file(&f, 1500)));
        seeds.push((format!("kdump-{c}"), f));
    }
    let elf = ElfBuilder {
        notes: kernel_notes(1, "OSRELEASE=6.1\nPAGESIZE=4096\n"),
        segments: vec![
            ElfSegment {
                paddr: 0x1000,
                vaddr: 0xffff888000001000,
                memsz: 0x3000,
                data: vec![7; 0x1000],
            },
            ElfSegment {
                paddr: 0x1000,
                vaddr: 0xffffffff81000000,
                memsz: 0x1000,
                data: vec![8; 0x1000],
            },
        ],
        ..Default::default()
    }
    .build();
    seeds.push(("flat-elf".into(), flatten_file(&elf, 1000)));
    seeds.push(("elf".into(), elf));
    for (name, data) in seeds {
        std::fs::write(dir.join(name), data).unwrap();
    }
}
