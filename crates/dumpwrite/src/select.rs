//! Which pages go into the output: the dump level and the page-filter hook.
//!
//! Dump level bit 1 (zero pages) is decided here from page contents. Bits
//! 2/4/8/16 need the kernel's `struct page` array; they come from a
//! [`PageFilter`] the caller supplies (the `pagefilter` crate). Without one,
//! those bits are refused rather than silently ignored.

use crate::bitmap::Bitmap;
use crate::error::WriteError;

/// makedumpfile's `-d` value: an OR of the `EXCLUDE_*` bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DumpLevel(pub u8);

impl DumpLevel {
    /// Exclude pages filled with zeros (bit 1).
    pub const EXCLUDE_ZERO: u8 = 1;
    /// Exclude non-private page cache (bit 2).
    pub const EXCLUDE_CACHE: u8 = 2;
    /// Exclude all page cache (bit 4).
    pub const EXCLUDE_CACHE_PRIVATE: u8 = 4;
    /// Exclude user process pages (bit 8).
    pub const EXCLUDE_USER: u8 = 8;
    /// Exclude free pages (bit 16).
    pub const EXCLUDE_FREE: u8 = 16;

    /// Parse and range-check a level (0..=31).
    pub fn new(level: u8) -> Result<DumpLevel, WriteError> {
        if level > 31 {
            return Err(WriteError::Level {
                level,
                reason: "must be 0..31".into(),
            });
        }
        Ok(DumpLevel(level))
    }

    /// True when zero pages are excluded (bit 1).
    pub fn excludes_zero(self) -> bool {
        self.0 & Self::EXCLUDE_ZERO != 0
    }

    /// True when bits needing `struct page` (2/4/8/16) are set.
    pub fn needs_page_filter(self) -> bool {
        self.0 & !Self::EXCLUDE_ZERO != 0
    }
}

/// Excludes pages by what the kernel knew about them (page cache, user,
/// free...). Called once per chunk of page frames in the first pass.
pub trait PageFilter {
    /// The dump-level bits this filter implements (a subset of 2|4|8|16).
    fn level_bits(&self) -> u8;

    /// Clear in `keep` the bits of pfns in `[start, end)` that must be
    /// excluded. On entry `keep` holds the pages present in the source.
    /// Returns how many pages were cleared.
    fn filter(&mut self, start: u64, end: u64, keep: &mut Bitmap) -> Result<u64, WriteError>;
}

/// Keeps every present page (dump level 0 or 1).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepAll;

impl PageFilter for KeepAll {
    fn level_bits(&self) -> u8 {
        0
    }
    fn filter(&mut self, _start: u64, _end: u64, _keep: &mut Bitmap) -> Result<u64, WriteError> {
        Ok(0)
    }
}

/// Check that `filter` implements every struct-page bit of `level`.
pub fn check_filter(level: DumpLevel, filter: &dyn PageFilter) -> Result<(), WriteError> {
    let wanted = level.0 & !DumpLevel::EXCLUDE_ZERO;
    let missing = wanted & !filter.level_bits();
    if missing != 0 {
        return Err(WriteError::Level {
            level: level.0,
            reason: format!(
                "excluding pages by type (bits {missing:#x} of 2|4|8|16: cache, user, free) \
                 is not available yet; use -d 0 or -d 1"
            ),
        });
    }
    Ok(())
}

/// True when every byte of `page` is zero. Works on 64-byte blocks so the
/// compiler vectorises it.
#[inline]
pub fn is_zero_page(page: &[u8]) -> bool {
    let mut chunks = page.chunks_exact(64);
    for c in &mut chunks {
        let mut acc = 0u64;
        for w in c.chunks_exact(8) {
            acc |= u64::from_ne_bytes([w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]]);
        }
        if acc != 0 {
            return false;
        }
    }
    chunks.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_detection() {
        let mut p = vec![0u8; 4096];
        assert!(is_zero_page(&p));
        p[4095] = 1;
        assert!(!is_zero_page(&p));
        assert!(is_zero_page(&[0u8; 7]));
    }

    #[test]
    fn struct_page_bits_refused_without_filter() {
        assert!(check_filter(DumpLevel(1), &KeepAll).is_ok());
        let e = check_filter(DumpLevel(31), &KeepAll).unwrap_err();
        assert!(e.to_string().contains("not available yet"), "{e}");
        assert!(DumpLevel::new(32).is_err());
    }
}
