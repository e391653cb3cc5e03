//! The per-page decision: one `struct page` (and, for compound heads, the
//! next one) in, a verdict out. Pure and allocation-free; the walk in
//! `walk.rs` feeds it and applies multi-page verdicts.
//!
//! The order of the tests, and what each one excludes, follows
//! makedumpfile's `__exclude_unnecessary_pages` (formats.md §5.2), so the
//! same dump level keeps the same pages.

use crate::layout::{rd, BuddyTest, Compound, Layout};
use crate::DumpLevel;

/// Why pages were excluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Category {
    /// Free buddy block (level bit 16).
    Free,
    /// Unaccepted memory on the zone's list (bit 16, v6.16+).
    Unaccepted,
    /// Page cache without private data (bit 2, or bit 4).
    Cache,
    /// Page cache with `PG_private` (bit 4).
    CachePrivate,
    /// Anonymous or hugetlbfs page (bit 8).
    User,
    /// Hardware-poisoned page (always).
    Hwpoison,
    /// Logically offline page, e.g. ballooned (always).
    Offline,
}

/// What to do with a page frame and, possibly, the frames after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Keep this page.
    Keep,
    /// Keep this page, although it looked like an excludable one: its data
    /// was inconsistent (bad buddy order, misaligned block).
    KeepInconsistent,
    /// A compound tail page: excluded only if its head excluded it.
    Tail,
    /// Exclude `1 << order` frames starting here.
    Exclude {
        /// Why.
        category: Category,
        /// Log2 of the number of frames.
        order: u32,
    },
}

/// Largest buddy order accepted when `LENGTH(zone.free_area)` is unknown
/// (`MAX_ORDER` is at most 17 on any architecture so far).
const FALLBACK_NR_ORDERS: u32 = 18;

/// Compound pages larger than this order are treated as corrupt (1 GiB
/// hugetlb pages are order 18 with 4 KiB pages; 16 GiB ones on ppc64 are
/// order 18 with 64 KiB pages). makedumpfile accepts any order below 64.
const MAX_COMPOUND_ORDER: u32 = 30;

/// The fields of one `struct page` the tests need.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct PageFields {
    pub flags: u64,
    pub mapping: u64,
    pub mapcount: u32,
    pub private: u64,
    pub compound_head: u64,
}

impl PageFields {
    /// Decode one `struct page` (`raw` is `SIZE(page)` bytes; missing
    /// optional fields read as 0, which no test treats as meaningful).
    pub(crate) fn read(l: &Layout, raw: &[u8]) -> PageFields {
        let u64_at = |off: Option<usize>| {
            off.and_then(|o| rd::<8>(raw, o))
                .map(u64::from_le_bytes)
                .unwrap_or(0)
        };
        PageFields {
            flags: u64_at(Some(l.off_flags)),
            mapping: u64_at(Some(l.off_mapping)),
            mapcount: l
                .off_mapcount
                .and_then(|o| rd::<4>(raw, o))
                .map(u32::from_le_bytes)
                .unwrap_or(0),
            private: u64_at(l.off_private),
            compound_head: u64_at(l.off_compound_head),
        }
    }
}

fn has(flags: u64, bit: Option<u32>) -> bool {
    bit.is_some_and(|b| flags & (1u64 << b) != 0)
}

impl Layout {
    fn is_slab(&self, p: &PageFields) -> bool {
        self.slab_mapcount == Some(p.mapcount) || has(p.flags, self.pg_slab)
    }

    /// Anonymous (or KSM) page: `PAGE_MAPPING_ANON` in `mapping`. Slab
    /// pages are excluded because `struct slab` reuses that word.
    fn is_anon(&self, p: &PageFields) -> bool {
        p.mapping & 1 != 0 && !self.is_slab(p)
    }

    /// Page-cache page: on an LRU list, or in the swap cache
    /// (`PG_swapcache` aliases `PG_owner_priv_1` and means swap cache only
    /// together with `PG_swapbacked`, when the kernel has that flag).
    fn is_cache(&self, p: &PageFields) -> bool {
        has(p.flags, self.pg_lru)
            || (has(p.flags, self.pg_swapcache)
                && (self.pg_swapbacked.is_none() || has(p.flags, self.pg_swapbacked)))
    }

    /// `PG_private`; unknown counts as set, so level 2 keeps such pages.
    fn is_private(&self, p: &PageFields) -> bool {
        self.pg_private.is_none_or(|b| p.flags & (1u64 << b) != 0)
    }

    fn is_buddy(&self, p: &PageFields) -> bool {
        match self.buddy {
            Some(BuddyTest::Flag(b)) => p.flags & (1u64 << b) != 0,
            Some(BuddyTest::Mapcount(v)) => !self.is_slab(p) && p.mapcount == v,
            None => false,
        }
    }

    fn is_offline(&self, p: &PageFields) -> bool {
        self.offline_mapcount == Some(p.mapcount) && !self.is_slab(p)
    }

    /// Order and hugetlb marker of a compound head, from its second page.
    /// Returns order 0 for anything that is not a valid, aligned head.
    fn compound(&self, pfn: u64, p: &PageFields, next: Option<&[u8]>) -> (u32, bool) {
        let (Some(mask), Some(next)) = (self.pg_head_mask, next) else {
            return (0, false);
        };
        if p.flags & mask == 0 {
            return (0, false);
        }
        let next_flags = rd::<8>(next, self.off_flags)
            .map(u64::from_le_bytes)
            .unwrap_or(0);
        let (order, huge) = match self.compound {
            Compound::HugetlbMapcount(v) => (next_flags & 0xff, p.mapcount == v),
            Compound::HugetlbFlag(b) => (next_flags & 0xff, next_flags & (1u64 << b) != 0),
            Compound::Fields { order, dtor } => {
                let order = order.and_then(|(o, w)| w.read(next, o)).unwrap_or(0);
                let dtor = dtor.and_then(|(o, w)| w.read(next, o)).unwrap_or(0);
                let huge = dtor != 0 && self.hugetlb_dtors.contains(&Some(dtor));
                (order, huge)
            }
        };
        // A misaligned or absurd order makes the head cover only itself
        // (its hugetlb marker still counts, as in makedumpfile).
        let aligned = order < u64::from(MAX_COMPOUND_ORDER) && pfn & ((1u64 << order) - 1) == 0;
        (if aligned { order as u32 } else { 0 }, huge)
    }

    /// Decide about the page at `pfn`. `next` is the following `struct
    /// page` when it is in the same 512-page batch (makedumpfile reads a
    /// head's order only then; real heads are never the last of a batch).
    pub(crate) fn classify(
        &self,
        level: DumpLevel,
        pfn: u64,
        p: &PageFields,
        next: Option<&[u8]>,
    ) -> Verdict {
        let (order, huge) = self.compound(pfn, p, next);
        if p.compound_head & 1 != 0 && self.off_compound_head.is_some() {
            return Verdict::Tail;
        }
        let exclude = |category| Verdict::Exclude { category, order };
        if level.free() && self.is_buddy(p) {
            let limit = self.nr_orders.unwrap_or(FALLBACK_NR_ORDERS);
            return match u32::try_from(p.private) {
                Ok(o) if o < limit && pfn & ((1u64 << o) - 1) == 0 => Verdict::Exclude {
                    category: Category::Free,
                    order: o,
                },
                _ => Verdict::KeepInconsistent,
            };
        }
        if level.free() && self.unaccepted_mapcount == Some(p.mapcount) {
            // Only MAX_PAGE_ORDER blocks are put on the unaccepted list.
            return match self.nr_orders {
                Some(n) if pfn & ((1u64 << (n - 1)) - 1) == 0 => Verdict::Exclude {
                    category: Category::Unaccepted,
                    order: n - 1,
                },
                _ => Verdict::KeepInconsistent,
            };
        }
        let cache = self.is_cache(p);
        let anon = self.is_anon(p);
        let private = self.is_private(p);
        if level.cache() && cache && !private && !anon {
            return exclude(Category::Cache);
        }
        if level.cache_private() && cache && !anon {
            return exclude(if private {
                Category::CachePrivate
            } else {
                Category::Cache
            });
        }
        if level.user() && (anon || huge) {
            return exclude(Category::User);
        }
        if has(p.flags, self.pg_hwpoison) {
            return exclude(Category::Hwpoison);
        }
        if self.is_offline(p) {
            return exclude(Category::Offline);
        }
        Verdict::Keep
    }
}
