//! The kdump-compressed writer (makedumpfile's default format, header
//! version 6, 64-bit little-endian layout).
//!
//! Layout, in blocks of one page: header; sub-header followed by a copy of
//! the source's ELF note segment; 1st bitmap (RAM present) and 2nd bitmap
//! (page dumped); one 24-byte descriptor per dumped page in pfn order; the
//! page data, starting with the shared zero page when zero pages are
//! excluded. The header is written first with `DUMP_DH_COMPRESSED_INCOMPLETE`
//! and rewritten without it once everything else is on disk, so a partial
//! file is always recognisable as such; descriptors not yet written read as
//! zeros (offset 0 = "missing", the makedumpfile convention).

use crate::bitmap::Bitmap;
use crate::error::WriteError;
use crate::pipeline::{self, Batch, PageKind, Pages};
use crate::sink::{Coalescer, Sink};
use crate::source::{Releaser, SourceMeta};
use crate::{Options, Plan, Progress, Summary};
use dumpfile::Utsname;

/// `DUMP_DH_COMPRESSED_INCOMPLETE`.
pub const DUMP_DH_COMPRESSED_INCOMPLETE: u32 = 0x8;
/// Header version written (the current one, with 64-bit pfn fields).
pub const HEADER_VERSION: i32 = 6;
const SUB_HEADER_SIZE: u64 = 104;
const DESC_SIZE: u64 = 24;
use crate::RELEASE_EVERY;
/// Batches with at least this much page data are written without copying
/// them into the coalescing buffer first.
const DIRECT_WRITE_MIN: usize = 256 << 10;

/// Where everything goes in the file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub block: u64,
    pub sub_hdr_blocks: u64,
    pub bitmap_bytes: u64,
    pub bitmap1: u64,
    pub bitmap2: u64,
    pub descs: u64,
    pub data: u64,
}

impl Layout {
    pub(crate) fn new(block: u64, notes_len: u64, max_pfn: u64, dumpable: u64) -> Layout {
        let sub_hdr_blocks = (SUB_HEADER_SIZE + notes_len).div_ceil(block);
        // Each bitmap is a whole number of blocks.
        let bitmap_bytes = max_pfn.div_ceil(8 * block).max(1) * block;
        let bitmap1 = block * (1 + sub_hdr_blocks);
        let bitmap2 = bitmap1 + bitmap_bytes;
        let descs = bitmap2 + bitmap_bytes;
        Layout {
            block,
            sub_hdr_blocks,
            bitmap_bytes,
            bitmap1,
            bitmap2,
            descs,
            data: descs + DESC_SIZE * dumpable,
        }
    }
}

/// `n_type` of our creator note: not a type any reader acts on (1 would be
/// `NT_PRSTATUS`, which crash counts as a CPU whatever the note's name).
const PANICDUMP_NOTE_TYPE: u32 = 0x5044_0001;

/// Append the `PANICDUMP` note (creator and version) to the notes copied
/// into the sub-header, unless the source already carries one (a dump we
/// wrote, re-filtered). Appended, so the VMCOREINFO offset does not move.
pub(crate) fn add_creator_note(meta: &mut SourceMeta) {
    let ours = dumpfile::NoteIter::new(&meta.notes, dumpfile::Endian::Little)
        .any(|n| n.name == dumpfile::PANICDUMP_NOTE_NAME);
    if !ours {
        let desc = concat!("panicdump ", env!("CARGO_PKG_VERSION"), "\0");
        meta.notes.extend_from_slice(&crate::source::make_note(
            dumpfile::PANICDUMP_NOTE_NAME,
            PANICDUMP_NOTE_TYPE,
            desc.as_bytes(),
        ));
    }
}

fn put_str(buf: &mut [u8], off: usize, s: &str) {
    let b = s.as_bytes();
    let n = b.len().min(64);
    buf[off..off + n].copy_from_slice(&b[..n]);
}

/// Build the 464-byte `disk_dump_header` (in a block-sized buffer).
pub(crate) fn header_block(
    layout: &Layout,
    uts: &Utsname,
    status: u32,
    max_pfn: u64,
    meta: &SourceMeta,
) -> Vec<u8> {
    let mut h = vec![0u8; layout.block as usize];
    h[..8].copy_from_slice(b"KDUMP   ");
    h[8..12].copy_from_slice(&HEADER_VERSION.to_le_bytes());
    for (i, f) in [
        &uts.sysname,
        &uts.nodename,
        &uts.release,
        &uts.version,
        &uts.machine,
        &uts.domainname,
    ]
    .into_iter()
    .enumerate()
    {
        put_str(&mut h, 12 + i * 65, f);
    }
    h[408..416].copy_from_slice(&meta.crash_time.unwrap_or(0).to_le_bytes());
    h[424..428].copy_from_slice(&status.to_le_bytes());
    h[428..432].copy_from_slice(&(layout.block as i32).to_le_bytes());
    h[432..436].copy_from_slice(&(layout.sub_hdr_blocks as i32).to_le_bytes());
    h[436..440].copy_from_slice(&((2 * layout.bitmap_bytes / layout.block) as u32).to_le_bytes());
    // 32-bit copy of max_mapnr, saturated; v6 readers use max_mapnr_64.
    h[440..444].copy_from_slice(&(max_pfn.min(u32::MAX as u64) as u32).to_le_bytes());
    h[460..464].copy_from_slice(&(meta.nr_cpus as i32).to_le_bytes());
    h
}

/// Build `kdump_sub_header` followed by the note segment.
pub(crate) fn sub_header(layout: &Layout, meta: &SourceMeta, level: u8, max_pfn: u64) -> Vec<u8> {
    let mut s = vec![0u8; SUB_HEADER_SIZE as usize];
    let put =
        |s: &mut Vec<u8>, off: usize, v: u64| s[off..off + 8].copy_from_slice(&v.to_le_bytes());
    put(&mut s, 0, meta.phys_base);
    s[8..12].copy_from_slice(&(level as i32).to_le_bytes());
    let note_off = layout.block + SUB_HEADER_SIZE;
    if let Some((off, size)) = meta.vmcoreinfo {
        put(&mut s, 32, note_off + off);
        put(&mut s, 40, size);
    }
    if !meta.notes.is_empty() {
        put(&mut s, 48, note_off);
        put(&mut s, 56, meta.notes.len() as u64);
    }
    put(&mut s, 96, max_pfn);
    s.extend_from_slice(&meta.notes);
    s
}

/// Write the whole kdump-compressed file.
#[allow(clippy::too_many_arguments)] // internal; the pieces are distinct
pub(crate) fn write(
    pages: &Pages<'_>,
    plan: &Plan,
    meta: &SourceMeta,
    uts: &Utsname,
    opts: &Options,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(Progress),
    release: &Releaser,
) -> Result<Summary, WriteError> {
    let ps = pages.mem.page_size();
    let max_pfn = plan.keep.len();
    let dumpable = plan.keep.count_ones();
    let layout = Layout::new(ps, meta.notes.len() as u64, max_pfn, dumpable);
    let what = sink.describe();
    let io = |ctx: &str| {
        let what = what.clone();
        let ctx = ctx.to_string();
        move |e| WriteError::io(format!("writing {ctx} of {what}"), e)
    };
    let method = opts.compression;
    let final_status = method.flag();

    if sink.rewrites_in_place() {
        sink.write_at(
            0,
            &header_block(
                &layout,
                uts,
                final_status | DUMP_DH_COMPRESSED_INCOMPLETE,
                max_pfn,
                meta,
            ),
        )
        .map_err(io("the header"))?;
    }
    sink.write_at(ps, &sub_header(&layout, meta, opts.level.0, max_pfn))
        .map_err(io("the sub-header"))?;
    write_bitmap(sink, &plan.present, layout.bitmap1, layout.bitmap_bytes)
        .map_err(io("bitmap 1"))?;
    write_bitmap(sink, &plan.keep, layout.bitmap2, layout.bitmap_bytes).map_err(io("bitmap 2"))?;

    let mut sum = Summary {
        max_pfn,
        ram_pages: plan.present.count_ones(),
        filtered_pages: plan.filtered,
        ..Default::default()
    };
    let mut data = Coalescer::new(1 << 20, layout.data);
    let mut descs = Coalescer::new(64 << 10, layout.descs);
    let zero_desc = opts
        .level
        .excludes_zero()
        .then(|| desc(layout.data, ps as u32, 0));
    if zero_desc.is_some() {
        data.push(&vec![0u8; ps as usize]);
    }
    let cfg = pipeline::Config::new(opts.threads, method, opts.level.excludes_zero());
    let mut since_release = 0u64;
    let mut emit = |b: &Batch| -> Result<(), WriteError> {
        // A batch's page data is already contiguous and in order: a large
        // one goes to the sink as it is (one copy less on the writer
        // thread, which `-j 2` waits on); small ones are gathered.
        let direct_base = if b.data.len() >= DIRECT_WRITE_MIN {
            let base = data.pos();
            data.write_through(sink, &b.data).map_err(io("page data"))?;
            Some(base)
        } else {
            None
        };
        for p in &b.pages {
            let d = match &p.kind {
                PageKind::Zero => {
                    sum.zero_pages += 1;
                    zero_desc.unwrap_or_default()
                }
                PageKind::Unreadable(_) => {
                    sum.note_unreadable(p.pfn);
                    [0u8; 24]
                }
                PageKind::Data {
                    start,
                    len,
                    compressed,
                } => {
                    let flags = if *compressed { method.flag() } else { 0 };
                    let d = match direct_base {
                        // Already written, before any descriptor of it.
                        Some(base) => desc(base + u64::from(*start), *len, flags),
                        None => {
                            let bytes = &b.data[*start as usize..(*start + *len) as usize];
                            if data.would_overflow(bytes.len()) {
                                data.flush(sink).map_err(io("page data"))?;
                            }
                            let d = desc(data.pos(), *len, flags);
                            data.push(bytes);
                            d
                        }
                    };
                    sum.data_pages += 1;
                    if *compressed {
                        sum.compressed_pages += 1;
                    }
                    d
                }
            };
            if descs.would_overflow(d.len()) {
                // Data first: a descriptor on disk never points at data that
                // is not (so a disk-full stop leaves a consistent prefix).
                data.flush(sink).map_err(io("page data"))?;
                descs.flush(sink).map_err(io("page descriptors"))?;
            }
            descs.push(&d);
        }
        sum.bytes_in += b.pages.len() as u64 * ps;
        // Every RELEASE_EVERY bytes of physical address space passed, drop
        // the source pages from our page tables. Counted by span, not by
        // pages read: each fault maps the pages around the one read too
        // (fault-around), so sparse reads (-d 31) map more than they read.
        since_release += cfg.batch_pfns * ps;
        let done = ((b.seq + 1) * cfg.batch_pfns).min(max_pfn);
        if since_release >= RELEASE_EVERY {
            since_release = 0;
            match &pages.direct {
                // Only what lies behind this batch in the file: batches
                // after it may be being read by other threads right now.
                Some(d) => release.upto(d.file_offset(done)),
                None => release.all(),
            }
        }
        progress(Progress {
            done_pfns: done,
            total_pfns: max_pfn,
            bytes_out: data.pos(),
        });
        Ok(())
    };
    pipeline::run(pages, &plan.keep, cfg, &mut emit)?;
    data.flush(sink).map_err(io("page data"))?;
    descs.flush(sink).map_err(io("page descriptors"))?;
    sum.bytes_out = data.pos().max(descs.pos());

    // Unreadable pages leave "missing" descriptors: keep the flag that
    // tells readers to expect them.
    let status = if sum.unreadable_pages > 0 {
        final_status | DUMP_DH_COMPRESSED_INCOMPLETE
    } else {
        final_status
    };
    sum.incomplete = sum.unreadable_pages > 0;
    // Make the body durable before the header says it is complete.
    sink.sync().map_err(io("(sync)"))?;
    sink.write_at(0, &header_block(&layout, uts, status, max_pfn, meta))
        .map_err(io("the final header"))?;
    sink.finish().map_err(io("(sync)"))?;
    Ok(sum)
}

fn desc(offset: u64, size: u32, flags: u32) -> [u8; 24] {
    let mut d = [0u8; 24];
    d[..8].copy_from_slice(&offset.to_le_bytes());
    d[8..12].copy_from_slice(&size.to_le_bytes());
    d[12..16].copy_from_slice(&flags.to_le_bytes());
    d
}

fn write_bitmap(sink: &mut dyn Sink, bm: &Bitmap, at: u64, len: u64) -> std::io::Result<()> {
    let mut buf = vec![0u8; (64 << 10).min(len as usize)];
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(buf.len() as u64) as usize;
        bm.copy_bytes(done, &mut buf[..n]);
        sink.write_at(at + done, &buf[..n])?;
        done += n as u64;
    }
    Ok(())
}
