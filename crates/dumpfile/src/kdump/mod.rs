//! kdump-compressed ("diskdump") dumps written by makedumpfile and QEMU.
//!
//! Layout, in `block_size` units: the main header, the sub-header with a
//! copy of the ELF notes, two bitmaps (RAM present / page dumped), then one
//! 24-byte descriptor per dumped page in pfn order, then page data. A page's
//! descriptor is found by its rank in the 2nd bitmap (see [`bitmap`]).

pub(crate) mod bitmap;
pub(crate) mod decode;
pub mod header;

use crate::error::DumpError;
use crate::notes::{self, NoteSummary};
use crate::phys::{PageState, PhysRange, PhysicalMemory, ReadError};
use crate::source::ByteSource;
use crate::vmcoreinfo::VmcoreInfo;
use bitmap::{Bitmap, RankIndex};
use header::{KdumpHeader, COMPRESSION_MASK, DISK_DUMP_HEADER_SIZE, SUB_HEADER_SIZE};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Size of `struct page_desc`.
const PAGE_DESC_SIZE: u64 = 24;
/// `DL_EXCLUDE_ZERO`: zero pages share one stored page.
const DL_EXCLUDE_ZERO: i32 = 1;
/// Distinguishes readers in the per-thread page cache.
static NEXT_READER_ID: AtomicU64 = AtomicU64::new(1);

/// One page descriptor.
#[derive(Clone, Copy, Debug)]
struct PageDesc {
    offset: i64,
    size: u32,
    flags: u32,
}

/// Physical memory of a kdump-compressed dump.
#[derive(Debug)]
pub struct KdumpMemory {
    id: u64,
    source: Arc<ByteSource>,
    page_size: u64,
    max_mapnr: u64,
    present: Bitmap,
    dumped: Bitmap,
    rank: RankIndex,
    desc_off: u64,
    /// Descriptors wholly inside the file (fewer than `rank.total()` when
    /// the file is truncated).
    desc_avail: u64,
    /// File offset of the shared zero page, when the dump has one.
    zero_offset: Option<u64>,
    ranges: Vec<PhysRange>,
    endian: crate::endian::Endian,
}

/// Everything read from a kdump-compressed dump.
#[derive(Debug)]
pub(crate) struct KdumpDump {
    /// `(offset, len)` of the note copy in the file.
    pub note_segment: Option<(u64, usize)>,
    pub header: KdumpHeader,
    pub memory: KdumpMemory,
    pub notes: NoteSummary,
}

fn checked(what: &str, offset: u64, v: Option<u64>) -> Result<u64, DumpError> {
    v.ok_or_else(|| DumpError::corrupt(what, offset, "size computation overflows"))
}

/// Parse a kdump-compressed dump.
pub(crate) fn open(
    src: Arc<ByteSource>,
    warnings: &mut Vec<String>,
) -> Result<KdumpDump, DumpError> {
    let mut scratch = Vec::new();
    let head = src.get_clipped(0, DISK_DUMP_HEADER_SIZE, &mut scratch);
    let mut h = KdumpHeader::parse(head, warnings)?;
    let bs = u64::from(h.block_size);
    let mut sub_scratch = Vec::new();
    let sub = src.get_clipped(bs, SUB_HEADER_SIZE, &mut sub_scratch);
    h.read_sub(sub, warnings);
    if h.incomplete {
        warnings.push(
            "kdump header: DUMP_DH_COMPRESSED_INCOMPLETE: the dump was cut short when written; missing pages read as truncated"
                .into(),
        );
    }
    if h.nr_cpus <= 0 {
        warnings.push(format!("kdump header: nr_cpus is {}", h.nr_cpus));
    }
    let file_len = src.len();

    // Bitmaps.
    let bitmap_off = checked(
        "kdump header sub_hdr_size",
        432,
        bs.checked_mul(1 + u64::from(h.sub_hdr_size)),
    )?;
    let bitmap_len = checked(
        "kdump header bitmap_blocks",
        436,
        bs.checked_mul(u64::from(h.bitmap_blocks)),
    )?;
    if bitmap_len == 0 {
        return Err(DumpError::corrupt(
            "kdump header bitmap_blocks",
            436,
            "no bitmap (bitmap_blocks is 0)",
        ));
    }
    if bitmap_off
        .checked_add(bitmap_len)
        .is_none_or(|e| e > file_len)
    {
        return Err(DumpError::truncated(
            "kdump bitmaps",
            bitmap_off,
            bitmap_len,
            file_len,
        ));
    }
    let half_bits = (bitmap_len / 2).saturating_mul(8);
    let mut max_mapnr = h.max_mapnr;
    if max_mapnr > half_bits {
        warnings.push(format!(
            "kdump header: max_mapnr {max_mapnr:#x} exceeds the {half_bits:#x} pfns the bitmaps hold; clipped"
        ));
        max_mapnr = half_bits;
    }
    if max_mapnr == 0 {
        warnings.push("kdump header: max_mapnr is 0; using the bitmap size".into());
        max_mapnr = half_bits;
    }
    let bm_err = || DumpError::corrupt("kdump bitmaps", bitmap_off, "cannot read bitmap");
    let present = Bitmap::new(&src, bitmap_off, max_mapnr).ok_or_else(bm_err)?;
    let dumped = Bitmap::new(&src, bitmap_off + bitmap_len / 2, max_mapnr).ok_or_else(bm_err)?;
    let rank = RankIndex::build(&dumped, &src);

    // Descriptors.
    let desc_off = checked(
        "kdump page descriptor table",
        436,
        bitmap_off.checked_add(bitmap_len),
    )?;
    let total = rank.total();
    let desc_avail = (file_len.saturating_sub(desc_off) / PAGE_DESC_SIZE).min(total);
    if desc_avail < total {
        warnings.push(format!(
            "kdump: file truncated: only {desc_avail} of {total} page descriptors at {desc_off:#x} are present"
        ));
    }
    let data_start = desc_off.saturating_add(total.saturating_mul(PAGE_DESC_SIZE));
    let zero_offset =
        (h.dump_level.is_some_and(|l| l & DL_EXCLUDE_ZERO != 0) && total > 0).then_some(data_start);

    let ranges: Vec<PhysRange> = present
        .runs(&src)
        .into_iter()
        .map(|(s, e)| PhysRange {
            start: s.saturating_mul(bs),
            end: e.saturating_mul(bs),
        })
        .collect();

    // Notes: the note copy (v4+), else the VMCOREINFO text (v3).
    let machine = h.elf_machine();
    let mut summary = NoteSummary::default();
    let mut note_segment = None;
    if let (Some(off), Some(size)) = (h.offset_note, h.size_note) {
        if size > 0 {
            let avail = file_len.saturating_sub(off);
            if size > avail {
                warnings.push(format!(
                    "kdump note copy at {off:#x}: {size} bytes but the file ends after {avail}"
                ));
            }
            let len = usize::try_from(size.min(avail)).unwrap_or(0);
            let mut buf = Vec::new();
            let data = src.get(off, len, &mut buf).unwrap_or(&[]);
            if !data.is_empty() {
                note_segment = Some((off, data.len()));
            }
            summary = notes::summarize(data, h.endian, true, machine, warnings);
        }
    }
    if summary.vmcoreinfo.is_none() {
        if let (Some(off), Some(size)) = (h.offset_vmcoreinfo, h.size_vmcoreinfo) {
            if size > 0 {
                let len = usize::try_from(size.min(file_len.saturating_sub(off))).unwrap_or(0);
                let mut buf = Vec::new();
                if let Ok(text) = src.get(off, len, &mut buf) {
                    let info = VmcoreInfo::parse(text);
                    if info.is_empty() {
                        warnings.push(format!(
                            "kdump VMCOREINFO at {off:#x} holds no KEY=VALUE line"
                        ));
                    } else {
                        summary.vmcoreinfo = Some(info);
                    }
                }
            }
        }
    }
    if let Some(ps) = summary.vmcoreinfo.as_ref().and_then(|v| v.page_size()) {
        if ps != bs {
            warnings.push(format!(
                "VMCOREINFO PAGESIZE {ps} differs from block_size {bs}; using block_size"
            ));
        }
    }

    let endian = h.endian;
    Ok(KdumpDump {
        note_segment,
        header: h,
        memory: KdumpMemory {
            id: NEXT_READER_ID.fetch_add(1, Ordering::Relaxed),
            source: src,
            page_size: bs,
            max_mapnr,
            present,
            dumped,
            rank,
            desc_off,
            desc_avail,
            zero_offset,
            ranges,
            endian,
        },
        notes: summary,
    })
}

impl KdumpMemory {
    fn desc(&self, rank: u64) -> Option<PageDesc> {
        if rank >= self.desc_avail {
            return None;
        }
        let off = self.desc_off + rank * PAGE_DESC_SIZE;
        let mut b = [0u8; PAGE_DESC_SIZE as usize];
        self.source.read_at(off, &mut b).ok()?;
        let e = self.endian;
        Some(PageDesc {
            offset: e.u64(&b, 0)? as i64,
            size: e.u32(&b, 8)?,
            flags: e.u32(&b, 12)?,
        })
    }

    /// The descriptor of a dumped pfn, or why there is none.
    fn lookup(&self, pfn: u64, addr: u64) -> Result<PageDesc, ReadError> {
        if !self.dumped.test(&self.source, pfn) {
            return Err(if self.present.test(&self.source, pfn) {
                ReadError::Excluded { addr }
            } else {
                ReadError::NotPresent { addr }
            });
        }
        let rank = self.rank.rank(&self.dumped, &self.source, pfn);
        let d = self.desc(rank).ok_or(ReadError::Truncated { addr })?;
        if d.offset == 0 {
            // makedumpfile leaves unwritten descriptors zero when it runs out
            // of space (DUMP_DH_COMPRESSED_INCOMPLETE).
            return Err(ReadError::Truncated { addr });
        }
        if d.offset < 0 {
            return Err(ReadError::Corrupt {
                addr,
                reason: format!("negative page data offset {}", d.offset),
            });
        }
        if u64::from(d.size) > self.page_size {
            return Err(ReadError::Corrupt {
                addr,
                reason: format!(
                    "stored size {} exceeds block size {}",
                    d.size, self.page_size
                ),
            });
        }
        Ok(d)
    }

    /// Copy `[off, off + out.len())` of page `pfn` (at physical `addr`).
    fn read_in_page(
        &self,
        pfn: u64,
        off: usize,
        out: &mut [u8],
        addr: u64,
    ) -> Result<(), ReadError> {
        // Fast path: the compressed page this thread decoded last (callers
        // read a few bytes at a time), before any bitmap or descriptor work.
        let hit = decode::with_scratch(|s| {
            if s.key != Some((self.id, pfn)) {
                return false;
            }
            match s.page.get(off..off + out.len()) {
                Some(p) => {
                    out.copy_from_slice(p);
                    true
                }
                None => false,
            }
        });
        if hit {
            return Ok(());
        }
        let d = self.lookup(pfn, addr)?;
        let data = d.offset as u64;
        let method = d.flags & COMPRESSION_MASK;
        let ps = self.page_size as usize;
        if method == 0 {
            if d.size as usize != ps {
                return Err(ReadError::Corrupt {
                    addr,
                    reason: format!(
                        "uncompressed page stored with size {} (block size {ps})",
                        d.size
                    ),
                });
            }
            return self
                .source
                .read_at(data + off as u64, out)
                .map_err(|_| ReadError::Truncated { addr });
        }
        if method.count_ones() != 1 {
            return Err(ReadError::Corrupt {
                addr,
                reason: format!("page flags {:#x} name several compression methods", d.flags),
            });
        }
        decode::with_scratch(|s| {
            let key = Some((self.id, pfn));
            if s.key != key {
                s.key = None;
                let (page, input, inflate, zstd, snappy) = s.parts();
                page.resize(ps, 0);
                let src = self
                    .source
                    .get(data, d.size as usize, input)
                    .map_err(|_| ReadError::Truncated { addr })?;
                decode::decode(method, src, page, inflate, zstd, snappy)
                    .map_err(|reason| ReadError::Corrupt { addr, reason })?;
                s.key = key;
            }
            let page = s.page.get(off..off + out.len()).ok_or(ReadError::Corrupt {
                addr,
                reason: "read outside page".into(),
            })?;
            out.copy_from_slice(page);
            Ok(())
        })
    }

    /// `(present, zero, excluded, holes)` pages below `max_pfn`.
    pub(crate) fn count_pages(&self) -> (u64, u64, u64, u64) {
        let src = &self.source;
        let dumped = self.rank.total();
        let ram = self.present.count_ones(src);
        let excluded = self.present.count_and_not(src, &self.dumped);
        let zero = self.count_zero_descs();
        let holes = self.max_mapnr.saturating_sub(ram);
        (dumped - zero, zero, excluded, holes)
    }

    /// Descriptors pointing at the shared zero page: a sequential scan of the
    /// descriptor table (24 bytes per dumped page), in 1 MiB batches.
    fn count_zero_descs(&self) -> u64 {
        let Some(zero) = self.zero_offset else {
            return 0;
        };
        const BATCH: u64 = 1 << 15;
        let mut scratch = Vec::new();
        let mut n = 0u64;
        let mut first = 0u64;
        while first < self.desc_avail {
            let count = BATCH.min(self.desc_avail - first);
            let off = self.desc_off + first * PAGE_DESC_SIZE;
            let Ok(b) = self
                .source
                .get(off, (count * PAGE_DESC_SIZE) as usize, &mut scratch)
            else {
                break;
            };
            n += b
                .chunks_exact(PAGE_DESC_SIZE as usize)
                .filter(|d| self.endian.u64(d, 0) == Some(zero))
                .count() as u64;
            first += count;
        }
        n
    }

    /// The number of page frames the bitmaps describe.
    pub fn max_mapnr(&self) -> u64 {
        self.max_mapnr
    }
}

impl PhysicalMemory for KdumpMemory {
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
            let pfn = a / ps;
            if pfn >= self.max_mapnr {
                return Err(ReadError::NotPresent { addr: a });
            }
            let off = (a % ps) as usize;
            let n = (ps as usize - off).min(buf.len() - done);
            self.read_in_page(pfn, off, &mut buf[done..done + n], a)?;
            done += n;
        }
        Ok(())
    }

    fn page_state(&self, pfn: u64) -> PageState {
        let src = &self.source;
        if !self.dumped.test(src, pfn) {
            return if self.present.test(src, pfn) {
                PageState::Excluded
            } else {
                PageState::Hole
            };
        }
        if let Some(zero) = self.zero_offset {
            let rank = self.rank.rank(&self.dumped, src, pfn);
            if self.desc(rank).is_some_and(|d| d.offset as u64 == zero) {
                return PageState::Zero;
            }
        }
        PageState::Present
    }

    fn max_pfn(&self) -> u64 {
        self.max_mapnr
    }
}
