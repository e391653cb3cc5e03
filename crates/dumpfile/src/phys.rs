//! The physical-memory view shared by every dump format.
//!
//! Every reader (ELF, kdump-compressed, flattened) exposes the dumped
//! machine's RAM through [`PhysicalMemory`]: read bytes at a physical address,
//! and tell which ranges exist. Layers above (address translation, the kernel
//! log, page filtering) only ever see this trait, never a file format.

use std::fmt;

/// A half-open range of physical addresses `[start, end)` present in a dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct PhysRange {
    /// First physical address of the range.
    pub start: u64,
    /// One past the last physical address of the range.
    pub end: u64,
}

impl PhysRange {
    /// Length of the range in bytes.
    pub fn len(&self) -> u64 {
        self.end.saturating_sub(self.start)
    }

    /// True when the range holds no byte.
    pub fn is_empty(&self) -> bool {
        self.end <= self.start
    }

    /// True when `addr` lies inside the range.
    pub fn contains(&self, addr: u64) -> bool {
        addr >= self.start && addr < self.end
    }
}

/// Why a physical read failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReadError {
    /// The address is not backed by RAM in the dumped machine (a hole).
    #[error("physical address {addr:#x} is not in the dump (memory hole)")]
    NotPresent {
        /// The first address that could not be read.
        addr: u64,
    },
    /// The page existed but was filtered out when the dump was made
    /// (makedumpfile dump level, or an ELF segment with `p_filesz < p_memsz`).
    #[error("physical address {addr:#x} was excluded from the dump (filtered)")]
    Excluded {
        /// The first address that could not be read.
        addr: u64,
    },
    /// The dump file ends before the data of this page (truncated file, or an
    /// incomplete capture).
    #[error(
        "physical address {addr:#x}: dump data is missing (file truncated or capture incomplete)"
    )]
    Truncated {
        /// The first address that could not be read.
        addr: u64,
    },
    /// Reading the dump file failed (an I/O error of a read-backed source,
    /// e.g. `/proc/vmcore` refusing a page).
    #[error("physical address {addr:#x}: reading the dump failed: {message}")]
    Io {
        /// The first address that could not be read.
        addr: u64,
        /// The operating system's error.
        message: String,
    },
    /// The page data is present but could not be decoded.
    #[error("physical address {addr:#x}: page data is corrupt: {reason}")]
    Corrupt {
        /// The first address that could not be read.
        addr: u64,
        /// What was wrong with it.
        reason: String,
    },
}

impl ReadError {
    /// The physical address the error is about.
    pub fn addr(&self) -> u64 {
        match self {
            ReadError::NotPresent { addr }
            | ReadError::Excluded { addr }
            | ReadError::Truncated { addr }
            | ReadError::Io { addr, .. }
            | ReadError::Corrupt { addr, .. } => *addr,
        }
    }
}

/// How a page frame is stored in a dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PageState {
    /// No RAM at this frame.
    Hole,
    /// RAM existed but the page was filtered out.
    Excluded,
    /// The page is stored, and known to be all zero (shared zero page).
    Zero,
    /// The page is stored with its data.
    Present,
}

/// Read access to the physical memory of a dumped machine.
///
/// Implementations must be cheap to call for small reads (the kernel log and
/// page tables are read a few bytes at a time) and must never panic on a
/// corrupt dump: every failure is a [`ReadError`].
pub trait PhysicalMemory: Send + Sync {
    /// Page size of the dumped machine, in bytes (a power of two).
    fn page_size(&self) -> u64;

    /// The physical ranges the dump describes as RAM, sorted, non-overlapping.
    /// Ranges may contain excluded pages (see [`PhysicalMemory::page_state`]).
    fn ranges(&self) -> &[PhysRange];

    /// Fill `buf` with the bytes at physical address `addr`.
    ///
    /// The read may cross page boundaries. On error nothing useful is in
    /// `buf`; the error names the first address that failed.
    fn read_phys(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError>;

    /// How the page frame `pfn` is stored.
    fn page_state(&self, pfn: u64) -> PageState;

    /// Read a whole page frame into `buf` (which must be `page_size()` long).
    fn read_pfn(&self, pfn: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        self.read_phys(pfn.saturating_mul(self.page_size()), buf)
    }

    /// One past the highest page frame number the dump describes.
    fn max_pfn(&self) -> u64 {
        self.ranges()
            .last()
            .map(|r| r.end.div_ceil(self.page_size()))
            .unwrap_or(0)
    }

    /// Read a little-endian `u64` at a physical address.
    fn read_phys_u64(&self, addr: u64) -> Result<u64, ReadError> {
        let mut b = [0u8; 8];
        self.read_phys(addr, &mut b)?;
        Ok(u64::from_le_bytes(b))
    }
}

impl fmt::Display for PhysRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}-{:#x}", self.start, self.end)
    }
}

/// Find the index of the range containing `addr` in a sorted range list.
pub fn find_range(ranges: &[PhysRange], addr: u64) -> Option<usize> {
    let idx = ranges.partition_point(|r| r.end <= addr);
    (idx < ranges.len() && ranges[idx].contains(addr)).then_some(idx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_range_picks_containing_range() {
        let r = [
            PhysRange {
                start: 0x1000,
                end: 0x2000,
            },
            PhysRange {
                start: 0x4000,
                end: 0x8000,
            },
        ];
        assert_eq!(find_range(&r, 0x0fff), None);
        assert_eq!(find_range(&r, 0x1000), Some(0));
        assert_eq!(find_range(&r, 0x1fff), Some(0));
        assert_eq!(find_range(&r, 0x2000), None);
        assert_eq!(find_range(&r, 0x7fff), Some(1));
        assert_eq!(find_range(&r, 0x8000), None);
    }
}
