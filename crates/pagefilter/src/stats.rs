//! Per-category page counters, printed by the CLI.

use crate::classify::Category;

/// What a filtering pass did with each page frame of the ranges it saw.
///
/// Every frame lands in exactly one of `holes`, `kept` or an exclusion
/// counter (`free` … `zero`); `no_mem_map`, `unreadable` and
/// `inconsistent` are subsets of `kept` that explain why a frame was kept
/// without being tested.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Stats {
    /// Frames that are not RAM in the dump (not in any of its ranges).
    pub holes: u64,
    /// Frames kept (to be written).
    pub kept: u64,
    /// Free buddy pages excluded (level bit 16).
    pub free: u64,
    /// Unaccepted memory excluded (level bit 16, v6.16+ guests).
    pub unaccepted: u64,
    /// Page-cache pages without private data excluded (bit 2 or 4).
    pub cache: u64,
    /// Page-cache pages with private data excluded (bit 4).
    pub cache_private: u64,
    /// Anonymous and hugetlbfs pages excluded (bit 8).
    pub user: u64,
    /// Hardware-poisoned pages excluded (any level).
    pub hwpoison: u64,
    /// Logically offline pages excluded (any level).
    pub offline: u64,
    /// All-zero pages excluded (bit 1), counted by
    /// [`crate::PageFilter::exclude_zero`].
    pub zero: u64,
    /// Kept frames with no `struct page` (section without mem_map).
    pub no_mem_map: u64,
    /// Kept frames whose `struct page` could not be read.
    pub unreadable: u64,
    /// Kept frames whose `struct page` looked excludable but was
    /// inconsistent (bad buddy order, misaligned block).
    pub inconsistent: u64,
}

impl Stats {
    /// Frames excluded for any reason.
    pub fn excluded(&self) -> u64 {
        self.free
            + self.unaccepted
            + self.cache
            + self.cache_private
            + self.user
            + self.hwpoison
            + self.offline
            + self.zero
    }

    /// Frames seen: holes, kept and excluded.
    pub fn total(&self) -> u64 {
        self.holes + self.kept + self.excluded()
    }

    /// Add another pass's counters (e.g. one per cycle).
    pub fn merge(&mut self, o: &Stats) {
        self.holes += o.holes;
        self.kept += o.kept;
        self.free += o.free;
        self.unaccepted += o.unaccepted;
        self.cache += o.cache;
        self.cache_private += o.cache_private;
        self.user += o.user;
        self.hwpoison += o.hwpoison;
        self.offline += o.offline;
        self.zero += o.zero;
        self.no_mem_map += o.no_mem_map;
        self.unreadable += o.unreadable;
        self.inconsistent += o.inconsistent;
    }

    pub(crate) fn count(&mut self, c: Category) {
        let slot = match c {
            Category::Free => &mut self.free,
            Category::Unaccepted => &mut self.unaccepted,
            Category::Cache => &mut self.cache,
            Category::CachePrivate => &mut self.cache_private,
            Category::User => &mut self.user,
            Category::Hwpoison => &mut self.hwpoison,
            Category::Offline => &mut self.offline,
        };
        *slot += 1;
    }
}
