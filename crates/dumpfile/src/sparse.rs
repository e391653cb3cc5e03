//! An in-memory [`PhysicalMemory`] made of individually written pages.
//!
//! Used to build synthetic machines in tests (page tables, ring buffers,
//! `struct page` arrays) and by fuzz targets; it is public so every layer's
//! tests can use the same helper.

use crate::phys::{PageState, PhysRange, PhysicalMemory, ReadError};
use std::collections::BTreeMap;

/// Sparse physical memory: pages that were never written are holes.
#[derive(Clone, Debug)]
pub struct SparseMemory {
    page_size: u64,
    pages: BTreeMap<u64, Box<[u8]>>,
    ranges: Vec<PhysRange>,
}

impl SparseMemory {
    /// An empty memory with the given page size (a power of two).
    pub fn new(page_size: u64) -> SparseMemory {
        assert!(
            page_size.is_power_of_two(),
            "page size must be a power of two"
        );
        SparseMemory {
            page_size,
            pages: BTreeMap::new(),
            ranges: Vec::new(),
        }
    }

    /// Write `data` at physical address `addr`, creating pages as needed.
    pub fn write(&mut self, addr: u64, data: &[u8]) {
        let ps = self.page_size;
        let mut done = 0usize;
        while done < data.len() {
            let a = addr + done as u64;
            let pfn = a / ps;
            let off = (a % ps) as usize;
            let n = (ps as usize - off).min(data.len() - done);
            let page = self
                .pages
                .entry(pfn)
                .or_insert_with(|| vec![0u8; ps as usize].into_boxed_slice());
            page[off..off + n].copy_from_slice(&data[done..done + n]);
            done += n;
        }
        self.rebuild_ranges();
    }

    /// Write a little-endian `u64`.
    pub fn write_u64(&mut self, addr: u64, v: u64) {
        self.write(addr, &v.to_le_bytes());
    }

    /// Write a little-endian `u32`.
    pub fn write_u32(&mut self, addr: u64, v: u32) {
        self.write(addr, &v.to_le_bytes());
    }

    /// Make `[start, end)` present (zero-filled where not yet written).
    pub fn map_zero(&mut self, start: u64, end: u64) {
        let ps = self.page_size;
        let mut pfn = start / ps;
        while pfn * ps < end {
            self.pages
                .entry(pfn)
                .or_insert_with(|| vec![0u8; ps as usize].into_boxed_slice());
            pfn += 1;
        }
        self.rebuild_ranges();
    }

    fn rebuild_ranges(&mut self) {
        let ps = self.page_size;
        let mut ranges: Vec<PhysRange> = Vec::new();
        for &pfn in self.pages.keys() {
            let start = pfn * ps;
            match ranges.last_mut() {
                Some(r) if r.end == start => r.end = start + ps,
                _ => ranges.push(PhysRange {
                    start,
                    end: start + ps,
                }),
            }
        }
        self.ranges = ranges;
    }
}

impl PhysicalMemory for SparseMemory {
    fn page_size(&self) -> u64 {
        self.page_size
    }

    fn ranges(&self) -> &[PhysRange] {
        &self.ranges
    }

    fn read_phys(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let ps = self.page_size;
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr
                .checked_add(done as u64)
                .ok_or(ReadError::NotPresent { addr })?;
            let page = self
                .pages
                .get(&(a / ps))
                .ok_or(ReadError::NotPresent { addr: a })?;
            let off = (a % ps) as usize;
            let n = (ps as usize - off).min(buf.len() - done);
            buf[done..done + n].copy_from_slice(&page[off..off + n]);
            done += n;
        }
        Ok(())
    }

    fn page_state(&self, pfn: u64) -> PageState {
        match self.pages.get(&pfn) {
            None => PageState::Hole,
            Some(p) if p.iter().all(|&b| b == 0) => PageState::Zero,
            Some(_) => PageState::Present,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_and_read_across_pages() {
        let mut m = SparseMemory::new(4096);
        let data: Vec<u8> = (0..6000u32).map(|i| i as u8).collect();
        m.write(4000, &data);
        let mut out = vec![0u8; 6000];
        m.read_phys(4000, &mut out).unwrap();
        assert_eq!(out, data);
        assert_eq!(
            m.ranges(),
            &[PhysRange {
                start: 0,
                end: 3 * 4096
            }]
        );
        assert_eq!(
            m.read_phys(3 * 4096, &mut [0u8; 1]),
            Err(ReadError::NotPresent { addr: 3 * 4096 })
        );
        assert_eq!(m.page_state(5), PageState::Hole);
    }
}
