//! [`PageFilter`]: walk the `struct page` array over a pfn range in
//! batches and fill the caller's bitmap.

use crate::classify::{Category, PageFields, Verdict};
use crate::layout::Layout;
use crate::memmap::{discover, MapRun};
use crate::{is_zero_page, DumpLevel, Error, Stats};
use addrxlat::KernelMemory;
use dumpfile::PhysRange;

/// `struct page`s read per batch (makedumpfile's `PGMM_CACHED`). Batches
/// are aligned to this many pfns, which also decides when a compound
/// head's second page is visible (see `Layout::classify`).
const BATCH: u64 = 512;

/// A multi-page exclusion still covering frames after the current one.
#[derive(Clone, Copy, Debug)]
struct Pending {
    end: u64,
    category: Category,
}

/// The `struct page`s of pfns `[start, end)`, with which ones were read.
struct Batch {
    start: u64,
    end: u64,
    buf: Vec<u8>,
    /// Bit `i` set = the `struct page` of `start + i` was read.
    ok: [u64; (BATCH / 64) as usize],
}

/// Decides, page frame by page frame, what a dump at a given makedumpfile
/// dump level keeps.
///
/// Build one per dump and level, then call [`PageFilter::filter_range`] on
/// consecutive pfn ranges (cycles); memory use is one batch of `struct
/// page`s whatever the dump size. A multi-page exclusion (buddy block,
/// compound page) that runs past the end of one range carries over to the
/// next call when that call starts where the previous one ended.
pub struct PageFilter<'a> {
    kmem: &'a KernelMemory<'a>,
    level: DumpLevel,
    /// `None` when no `struct page` test applies (or none is possible).
    layout: Option<Layout>,
    runs: Vec<MapRun>,
    max_pfn: u64,
    page_size: u64,
    batch: Batch,
    pending: Option<Pending>,
    cursor: u64,
    notes: Vec<String>,
}

impl std::fmt::Debug for PageFilter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageFilter")
            .field("level", &self.level)
            .field("max_pfn", &self.max_pfn)
            .field("runs", &self.runs)
            .field("notes", &self.notes)
            .finish_non_exhaustive()
    }
}

impl<'a> PageFilter<'a> {
    /// Prepare filtering at `level` (0 to 31, makedumpfile's `-d`).
    ///
    /// Fails when the level needs `struct page` (any bit but 1) and
    /// VMCOREINFO cannot describe or locate it. Levels 0 and 1 never fail
    /// for that reason: they then just keep every frame (see
    /// [`PageFilter::notes`]).
    pub fn new(kmem: &'a KernelMemory<'a>, level: u32) -> Result<PageFilter<'a>, Error> {
        let level = DumpLevel::new(level)?;
        let phys = kmem.phys();
        let max_pfn = phys.max_pfn();
        let mut notes = Vec::new();
        let needs_pages = level.bits() & !DumpLevel::ZERO != 0;
        let layout = match Layout::from_vmcoreinfo(kmem.info()) {
            Ok(l) => Some(l),
            Err(e) if needs_pages => return Err(e),
            Err(e) => {
                notes.push(format!("struct page tests disabled: {e}"));
                None
            }
        };
        // Walk only when some test can exclude something, as makedumpfile:
        // hwpoison and offline pages are excluded at every level, but only
        // when the kernel exports PG_hwpoison.
        let layout = layout.filter(|l| {
            level.cache()
                || level.cache_private()
                || level.user()
                || l.pg_hwpoison.is_some()
                || (level.free() && l.buddy.is_some())
        });
        if let Some(l) = &layout {
            if level.free() && l.buddy.is_none() {
                notes.push(
                    "free pages are kept: VMCOREINFO has no PAGE_BUDDY_MAPCOUNT_VALUE/PG_buddy \
                     (with page._mapcount and page.private)"
                        .into(),
                );
            }
            if l.pg_head_mask.is_none() {
                notes.push("compound pages are not recognised: no NUMBER(PG_head_mask)".into());
            }
        }
        let (layout, runs) = match layout {
            None => (None, Vec::new()),
            Some(l) => match discover(kmem, l.page_struct, max_pfn) {
                Ok(runs) => (Some(l), runs),
                Err(e) if needs_pages => return Err(e),
                Err(e) => {
                    notes.push(format!("struct page tests disabled: {e}"));
                    (None, Vec::new())
                }
            },
        };
        let page_struct = layout.as_ref().map_or(0, |l| l.page_struct);
        Ok(PageFilter {
            kmem,
            level,
            layout,
            runs,
            max_pfn,
            page_size: phys.page_size(),
            batch: Batch {
                start: 0,
                end: 0,
                buf: vec![0; page_struct * BATCH as usize],
                ok: [0; (BATCH / 64) as usize],
            },
            pending: None,
            cursor: 0,
            notes,
        })
    }

    /// The dump level.
    pub fn level(&self) -> DumpLevel {
        self.level
    }

    /// One past the highest pfn of the dump: the natural end of the walk.
    pub fn max_pfn(&self) -> u64 {
        self.max_pfn
    }

    /// Why some tests are disabled (missing keys); empty when all apply.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }

    /// Classify pfns `[start, end)`: bit `pfn - start` of `bitmap` (LSB
    /// first in each byte, the kdump bitmap order) is set when the frame is
    /// kept and cleared when it is excluded or a hole; bits past the range
    /// are left alone. Counters are added to `stats`.
    ///
    /// Zero pages are not tested here (that needs the page contents): the
    /// writer calls [`PageFilter::exclude_zero`] on each kept page it
    /// reads.
    pub fn filter_range(
        &mut self,
        start: u64,
        end: u64,
        bitmap: &mut [u8],
        stats: &mut Stats,
    ) -> Result<(), Error> {
        if start > end {
            return Err(Error::BadRange { start, end });
        }
        let pfns = end - start;
        if (bitmap.len() as u64).saturating_mul(8) < pfns {
            return Err(Error::BitmapTooSmall {
                len: bitmap.len(),
                pfns,
            });
        }
        if start != self.cursor {
            // Not a continuation: an exclusion from elsewhere does not apply.
            self.pending = None;
        }
        self.cursor = end;
        let ranges = self.kmem.phys().ranges();
        let mut range_idx = ranges.partition_point(|r| r.end / self.page_size <= start);
        let mut run_idx = self.runs.partition_point(|r| r.end <= start);
        for pfn in start..end {
            let keep = self.decide(pfn, ranges, &mut range_idx, &mut run_idx, stats);
            let i = (pfn - start) as usize;
            let mask = 1u8 << (i % 8);
            if keep {
                bitmap[i / 8] |= mask;
            } else {
                bitmap[i / 8] &= !mask;
            }
        }
        Ok(())
    }

    /// Level bit 1 for a kept page whose contents the caller has read:
    /// true (and counted as `zero` instead of `kept`) when the level
    /// excludes zero pages and `page` is all zero.
    pub fn exclude_zero(&self, page: &[u8], stats: &mut Stats) -> bool {
        if self.level.zero() && is_zero_page(page) {
            stats.kept = stats.kept.saturating_sub(1);
            stats.zero += 1;
            true
        } else {
            false
        }
    }

    /// Keep (`true`) or exclude one frame, updating the counters.
    fn decide(
        &mut self,
        pfn: u64,
        ranges: &[PhysRange],
        range_idx: &mut usize,
        run_idx: &mut usize,
        stats: &mut Stats,
    ) -> bool {
        // Holes, as makedumpfile's 1st bitmap: frame numbers of a range
        // run from `start / page_size` to `end / page_size` (exclusive),
        // so a partial first page is RAM and a partial last page a hole.
        let page_size = self.page_size;
        while ranges
            .get(*range_idx)
            .is_some_and(|r| r.end / page_size <= pfn)
        {
            *range_idx += 1;
        }
        if ranges
            .get(*range_idx)
            .is_none_or(|r| r.start / page_size > pfn)
        {
            stats.holes += 1;
            return false;
        }
        if let Some(p) = self.pending {
            if pfn < p.end {
                stats.count(p.category);
                return false;
            }
            self.pending = None;
        }
        let Some(layout) = &self.layout else {
            stats.kept += 1;
            return true;
        };
        while self.runs.get(*run_idx).is_some_and(|r| r.end <= pfn) {
            *run_idx += 1;
        }
        let Some(run) = self.runs.get(*run_idx).filter(|r| r.start <= pfn).copied() else {
            stats.kept += 1;
            stats.no_mem_map += 1;
            return true;
        };
        if !(self.batch.start..self.batch.end).contains(&pfn) {
            load_batch(
                self.kmem,
                self.page_size,
                layout.page_struct,
                &mut self.batch,
                &run,
                pfn,
            );
        }
        let b = &self.batch;
        let ps = layout.page_struct;
        let slot = |p: u64| {
            let i = (p - b.start) as usize;
            (b.ok[i / 64] >> (i % 64) & 1 != 0).then(|| &b.buf[i * ps..(i + 1) * ps])
        };
        let Some(raw) = slot(pfn) else {
            stats.kept += 1;
            stats.unreadable += 1;
            return true;
        };
        let next = (pfn + 1 < b.end).then(|| slot(pfn + 1)).flatten();
        let fields = PageFields::read(layout, raw);
        match layout.classify(self.level, pfn, &fields, next) {
            Verdict::Keep | Verdict::Tail => {
                stats.kept += 1;
                true
            }
            Verdict::KeepInconsistent => {
                stats.kept += 1;
                stats.inconsistent += 1;
                true
            }
            Verdict::Exclude { category, order } => {
                stats.count(category);
                if order > 0 {
                    self.pending = Some(Pending {
                        end: pfn.saturating_add(1u64 << order),
                        category,
                    });
                }
                false
            }
        }
    }
}

/// Read the `struct page`s of the 512-aligned batch around `pfn`, clipped
/// to `run`. One read normally; if it fails (a partly unmapped vmemmap),
/// again one virtual page at a time, so that only the `struct page`s
/// touching an unreadable page are lost.
fn load_batch(
    kmem: &KernelMemory<'_>,
    page_size: u64,
    ps: usize,
    b: &mut Batch,
    run: &MapRun,
    pfn: u64,
) {
    b.start = (pfn & !(BATCH - 1)).max(run.start);
    b.end = (pfn | (BATCH - 1)).saturating_add(1).min(run.end);
    let n = (b.end - b.start) as usize;
    let buf = &mut b.buf[..n * ps];
    b.ok = [0; (BATCH / 64) as usize];
    let va0 = run.page_va(b.start, ps);
    if kmem.read_virt(va0, buf).is_ok() {
        for i in 0..n {
            b.ok[i / 64] |= 1 << (i % 64);
        }
        return;
    }
    // Assume all read, then drop the struct pages overlapping a failure.
    for i in 0..n {
        b.ok[i / 64] |= 1 << (i % 64);
    }
    let mut off = 0usize;
    while off < buf.len() {
        let va = va0.wrapping_add(off as u64);
        let in_page = (page_size - va % page_size) as usize;
        let len = in_page.min(buf.len() - off);
        if kmem.read_virt(va, &mut buf[off..off + len]).is_err() {
            for i in off / ps..=(off + len - 1) / ps {
                b.ok[i / 64] &= !(1 << (i % 64));
            }
        }
        off += len;
    }
}
