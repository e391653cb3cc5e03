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
