//! makedumpfile-compatible page filtering: which page frames a dump at a
//! given dump level keeps, decided from VMCOREINFO alone (no vmlinux).
//!
//! Dump levels `0..=31` have makedumpfile's meaning (`-d`): bit 1 zero
//! pages, 2 page cache without private data, 4 all page cache, 8 user
//! (anonymous and hugetlbfs) pages, 16 free pages. Hardware-poisoned and
//! logically offline pages are excluded at every level.
//!
//! [`PageFilter`] walks the kernel's `struct page` array (SPARSEMEM with or
//! without EXTREME and VMEMMAP, or FLATMEM) in batches of 512 and applies
//! makedumpfile's per-page tests in makedumpfile's order, with the
//! encodings of every kernel generation: `PG_buddy` (2.6.17–2.6.37) or
//! `PAGE_BUDDY_MAPCOUNT_VALUE` (−2, −128, −129, `PGTY_buddy << 24`);
//! `PG_slab` or `PAGE_SLAB_MAPCOUNT_VALUE` (6.10+); hugetlb by compound
//! destructor (id or `free_huge_page` address), `PG_hugetlb` (6.6–6.8) or
//! `PAGE_HUGETLB_MAPCOUNT_VALUE` (6.9+); compound order from the second
//! page; offline, hwpoison and unaccepted pages. Page-type values are
//! compared as whole 32-bit words, as makedumpfile does.
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dump = dumpfile::Dump::open(std::path::Path::new("vmcore"))?;
//! # let kmem = addrxlat::KernelMemory::from_vmcoreinfo(
//! #     dump.memory(), dump.vmcoreinfo().unwrap(), &Default::default())?;
//! let mut filter = pagefilter::PageFilter::new(&kmem, 31)?;
//! let mut stats = pagefilter::Stats::default();
//! let cycle = 1 << 20; // pfns per cycle: 128 KiB of bitmap
//! let mut bitmap = vec![0u8; cycle as usize / 8];
//! let mut start = 0;
//! while start < filter.max_pfn() {
//!     let end = (start + cycle).min(filter.max_pfn());
//!     filter.filter_range(start, end, &mut bitmap, &mut stats)?;
//!     // ... for each kept pfn: read the page, then
//!     // `if filter.exclude_zero(&page, &mut stats) { /* skip it */ }`
//!     start = end;
//! }
//! # Ok(()) }
//! ```
//!
//! # Robustness
//!
//! Anything unknown or inconsistent keeps the page: a missing VMCOREINFO
//! key disables the test that needs it; an unreadable `struct page` is
//! kept; a buddy order not below `LENGTH(zone.free_area)` or a block not
//! aligned to its order is kept; a compound order that is misaligned or
//! above 2^30 pages makes the head cover only itself. Every multi-page
//! exclusion is bounded by its order, every loop by the pfn range.
//!
//! # Compared with makedumpfile
//!
//! On the lab's Debian 6.1 vmcore (1 GiB guest) the kept set equals
//! makedumpfile 1.7.2's page for page at levels 0, 1, 2, 4, 8, 16 and 31,
//! and so do its per-category counters (level 31: 129802 free, 18080
//! cache, 24658 user, 7313 zero, 16619 kept); see `tests/vmcore.rs`. The
//! whole mem_map walk takes 2–9 ms in release mode.
//!
//! Holes follow makedumpfile's (cyclic) 1st bitmap: the frames of a dump
//! range are `start / page_size .. end / page_size`, so a partial last page
//! is a hole and a partial first page is RAM. [`Stats::holes`] counts each
//! frame once; makedumpfile's "Memory Hole" figure subtracts overlapping
//! `PT_LOAD`s twice (52274 instead of 65634 on that vmcore, whose
//! kernel-text segment overlaps RAM by 13360 frames).
//!
//! Intended differences in what is kept, each covered by a unit test
//! (`src/tests.rs`, named `differs_*`), none seen on real dumps so far:
//! - a buddy head whose pfn is not aligned to its order is kept
//!   (makedumpfile excludes `1 << order` frames from it);
//! - without `LENGTH(zone.free_area)` buddy orders of 18 and more are kept
//!   (makedumpfile accepts any);
//! - compound orders of 30 and more are ignored (makedumpfile: below 64);
//! - when `PG_slab` is not exported (6.10+) no flag bit stands for it
//!   (makedumpfile shifts by −1, testing bit 63, the top of the node id);
//! - unknown `PG_private` counts as private, so level 2 keeps such cache
//!   pages;
//! - an unreadable `struct page` keeps its frame (makedumpfile aborts);
//! - free pages are not found by walking the zones' free lists when the
//!   kernel exports no buddy marker (makedumpfile does); they are kept.
//!
//! Not done: DISCONTIGMEM (`node_data`/`pgdat_list`), Xen domain dumps,
//! makedumpfile's eppic/extension filters.

mod classify;
mod error;
mod layout;
mod memmap;
mod stats;
mod walk;
mod zero;

#[cfg(test)]
mod tests;

pub use error::Error;
pub use stats::Stats;
pub use walk::PageFilter;
pub use zero::is_zero_page;

/// A makedumpfile dump level (`-d`), `0..=31`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub struct DumpLevel(u8);

impl DumpLevel {
    /// Bit 1: exclude all-zero pages.
    pub const ZERO: u8 = 1;
    /// Bit 2: exclude page cache without private data.
    pub const CACHE: u8 = 2;
    /// Bit 4: exclude all page cache.
    pub const CACHE_PRIVATE: u8 = 4;
    /// Bit 8: exclude user (anonymous, hugetlbfs) pages.
    pub const USER: u8 = 8;
    /// Bit 16: exclude free pages.
    pub const FREE: u8 = 16;

    /// Validate a level.
    pub fn new(level: u32) -> Result<DumpLevel, Error> {
        u8::try_from(level)
            .ok()
            .filter(|&l| l <= 31)
            .map(DumpLevel)
            .ok_or(Error::InvalidLevel(level))
    }

    /// The level as a number.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// Bit 1 is set.
    pub fn zero(self) -> bool {
        self.0 & Self::ZERO != 0
    }

    /// Bit 2 is set.
    pub fn cache(self) -> bool {
        self.0 & Self::CACHE != 0
    }

    /// Bit 4 is set.
    pub fn cache_private(self) -> bool {
        self.0 & Self::CACHE_PRIVATE != 0
    }

    /// Bit 8 is set.
    pub fn user(self) -> bool {
        self.0 & Self::USER != 0
    }

    /// Bit 16 is set.
    pub fn free(self) -> bool {
        self.0 & Self::FREE != 0
    }
}

impl std::fmt::Display for DumpLevel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}
