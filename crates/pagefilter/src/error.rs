//! The crate's error type.

/// Why a [`crate::PageFilter`] could not be built or used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The dump level is not in `0..=31`.
    #[error("dump level {0} is out of range (0 to 31)")]
    InvalidLevel(u32),
    /// VMCOREINFO lacks a key that the requested level needs.
    #[error("VMCOREINFO has no {key} (needed for {purpose})")]
    MissingKey {
        /// The full key, e.g. `SIZE(page)`.
        key: String,
        /// What it was needed for.
        purpose: &'static str,
    },
    /// A VMCOREINFO value is outside what any kernel produces.
    #[error("VMCOREINFO {key}={value} is implausible: {why}")]
    BadValue {
        /// The full key.
        key: String,
        /// The value found.
        value: i128,
        /// What is wrong with it.
        why: &'static str,
    },
    /// No `struct page` array could be located.
    #[error("cannot locate the kernel's struct page array (mem_map): {0}")]
    NoMemMap(String),
    /// The caller's bitmap cannot hold one bit per page frame of the range.
    #[error("bitmap of {len} bytes is too small for {pfns} page frames")]
    BitmapTooSmall {
        /// Bytes provided.
        len: usize,
        /// Page frames requested.
        pfns: u64,
    },
    /// `start > end` in a page-frame range.
    #[error("invalid page frame range {start:#x}..{end:#x}")]
    BadRange {
        /// First pfn.
        start: u64,
        /// One past the last pfn.
        end: u64,
    },
}
