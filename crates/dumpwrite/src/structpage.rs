//! Dump levels 2/4/8/16 through the `pagefilter` crate (makedumpfile's
//! `struct page` tests), adapted to [`PageFilter`].

use crate::bitmap::Bitmap;
use crate::error::WriteError;
use crate::select::PageFilter;

/// Excludes pages by type from the kernel's `struct page` array.
pub struct StructPageFilter<'a> {
    inner: pagefilter::PageFilter<'a>,
    stats: pagefilter::Stats,
    scratch: Vec<u8>,
}

impl std::fmt::Debug for StructPageFilter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StructPageFilter")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

impl<'a> StructPageFilter<'a> {
    /// Set up filtering at `level` for the kernel in `kmem`.
    pub fn new(kmem: &'a addrxlat::KernelMemory<'a>, level: u8) -> Result<Self, WriteError> {
        let inner = pagefilter::PageFilter::new(kmem, u32::from(level))
            .map_err(|e| WriteError::Filter(e.to_string()))?;
        Ok(StructPageFilter {
            inner,
            stats: pagefilter::Stats::default(),
            scratch: Vec::new(),
        })
    }

    /// Counters by category (free, cache, user...).
    pub fn stats(&self) -> &pagefilter::Stats {
        &self.stats
    }

    /// Why some tests were disabled (missing VMCOREINFO keys).
    pub fn notes(&self) -> &[String] {
        self.inner.notes()
    }
}

impl PageFilter for StructPageFilter<'_> {
    fn level_bits(&self) -> u8 {
        0x1e
    }

    fn filter(&mut self, start: u64, end: u64, keep: &mut Bitmap) -> Result<u64, WriteError> {
        let n = (end - start) as usize;
        self.scratch.clear();
        self.scratch.resize(n.div_ceil(8), 0);
        self.inner
            .filter_range(start, end, &mut self.scratch, &mut self.stats)
            .map_err(|e| WriteError::Filter(e.to_string()))?;
        let mut dropped = 0;
        for pfn in start..end {
            let i = (pfn - start) as usize;
            if self.scratch[i / 8] & (1 << (i % 8)) == 0 && keep.get(pfn) {
                keep.clear(pfn);
                dropped += 1;
            }
        }
        Ok(dropped)
    }
}
