//! The ELF writer (`makedumpfile -E` style): ELF64 header, `PT_NOTE`, one
//! `PT_LOAD` per run of RAM split where 256 or more consecutive pages are
//! excluded (the excluded tail becomes `p_memsz > p_filesz`; shorter gaps
//! are written with their data), the notes, then the segment data in
//! physical order. Zero pages (level bit 1) are excluded like filtered ones,
//! which needs a content scan in the first pass. No compression.
//!
//! For x86_64 an extra `PT_LOAD` maps the kernel image (as in
//! `/proc/vmcore`); its file range aliases the direct-map segment's bytes,
//! so nothing is stored twice. crash derives `phys_base` from it.
//! Direct-map `p_vaddr`s come from the source's ELF headers; a
//! kdump-compressed source does not record them, so its segments get
//! `p_vaddr = p_paddr` (crash and drgn translate through the page tables
//! and VMCOREINFO, not through `p_vaddr`).

use crate::bitmap::Bitmap;
use crate::direct::DirectPages;
use crate::error::WriteError;
use crate::pipeline::{self, Batch, PageKind, Pages};
use crate::select::is_zero_page;
use crate::sink::{Coalescer, Sink};
use crate::source::{read_page, KernelText, SourceMeta};
use crate::{Options, Plan, Progress, Summary};
use dumpfile::{Dump, PhysicalMemory};

/// Excluded runs at least this long split a segment (makedumpfile's
/// `PFN_EXCLUDED`).
const SPLIT_RUN: u64 = 256;
const EHDR: u64 = 64;
const PHDR: u64 = 56;
/// `DUMP_ELF_INCOMPLETE` in `e_flags`, cleared by the final header rewrite.
const DUMP_ELF_INCOMPLETE: u32 = 0x1;
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
use crate::RELEASE_EVERY;

/// A `PT_LOAD` in page frames: `[start, start + mem)` of which the first
/// `file` frames are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seg {
    start: u64,
    mem: u64,
    file: u64,
    offset: u64,
}

/// Cut the present runs into segments by the keep bitmap.
fn segments(present: &Bitmap, keep: &Bitmap) -> Vec<Seg> {
    let mut segs = Vec::new();
    let n = present.len();
    let mut pfn = 0;
    while pfn < n {
        if !present.get(pfn) {
            pfn += 1;
            continue;
        }
        let run_start = pfn;
        while pfn < n && present.get(pfn) {
            pfn += 1;
        }
        let run_end = pfn;
        let mut seg_start = run_start;
        let mut last_kept: Option<u64> = None;
        let mut gap = 0u64;
        for p in run_start..run_end {
            if keep.get(p) {
                if gap >= SPLIT_RUN {
                    // The excluded run becomes the memory-only tail of the
                    // segment it ends (or a segment of its own at a run start).
                    segs.push(close(seg_start, p, last_kept));
                    seg_start = p;
                }
                last_kept = Some(p);
                gap = 0;
            } else {
                gap += 1;
            }
        }
        segs.push(close(seg_start, run_end, last_kept));
    }
    segs
}

fn close(start: u64, end: u64, last_kept: Option<u64>) -> Seg {
    Seg {
        start,
        mem: end - start,
        file: last_kept.map_or(0, |k| k + 1 - start),
        offset: 0,
    }
}

/// Clear zero pages from `keep` (parallel content scan). Returns the count.
fn scan_zero(
    mem: &dyn PhysicalMemory,
    keep: &mut Bitmap,
    threads: usize,
    release: &(dyn Fn() + Sync),
) -> u64 {
    let ps = mem.page_size() as usize;
    let words = keep.words_mut();
    let per = words.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|s| {
        let handles: Vec<_> = words
            .chunks_mut(per)
            .enumerate()
            .map(|(i, chunk)| {
                s.spawn(move || {
                    let mut page = vec![0u8; ps];
                    let mut zeros = 0;
                    let mut scanned = 0u64;
                    let base = (i * per * 64) as u64;
                    for (wi, w) in chunk.iter_mut().enumerate() {
                        let mut bits = *w;
                        while bits != 0 {
                            let b = bits.trailing_zeros() as u64;
                            bits &= bits - 1;
                            let pfn = base + wi as u64 * 64 + b;
                            if read_page(mem, pfn, &mut page).is_ok() && is_zero_page(&page) {
                                *w &= !(1 << b);
                                zeros += 1;
                            }
                            scanned += 1;
                            if scanned % (RELEASE_EVERY / ps as u64) == 0 {
                                release();
                            }
                        }
                    }
                    zeros
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or(0)).sum()
    })
}

fn phdr(ptype: u32, offset: u64, vaddr: u64, paddr: u64, filesz: u64, memsz: u64) -> [u8; 56] {
    let mut p = [0u8; 56];
    p[0..4].copy_from_slice(&ptype.to_le_bytes());
    let flags: u32 = if ptype == 1 { 7 } else { 0 }; // RWX like the kernel
    p[4..8].copy_from_slice(&flags.to_le_bytes());
    for (i, v) in [offset, vaddr, paddr, filesz, memsz, 0]
        .into_iter()
        .enumerate()
    {
        p[8 + i * 8..16 + i * 8].copy_from_slice(&v.to_le_bytes());
    }
    p
}

fn ehdr(machine: u16, phnum: u16, flags: u32) -> [u8; 64] {
    let mut e = [0u8; 64];
    e[..4].copy_from_slice(b"\x7fELF");
    e[4] = 2; // ELFCLASS64
    e[5] = 1; // little-endian
    e[6] = 1; // EV_CURRENT
    e[16..18].copy_from_slice(&4u16.to_le_bytes()); // ET_CORE
    e[18..20].copy_from_slice(&machine.to_le_bytes());
    e[20..24].copy_from_slice(&1u32.to_le_bytes());
    e[32..40].copy_from_slice(&EHDR.to_le_bytes()); // e_phoff
    e[48..52].copy_from_slice(&flags.to_le_bytes());
    e[52..54].copy_from_slice(&(EHDR as u16).to_le_bytes());
    e[54..56].copy_from_slice(&(PHDR as u16).to_le_bytes());
    e[56..58].copy_from_slice(&phnum.to_le_bytes());
    e
}

/// The kernel-image mapping to advertise (x86_64 only).
fn kernel_text(dump: &Dump, meta: &SourceMeta) -> Option<KernelText> {
    if dump.elf_machine() != Some(62) {
        return None;
    }
    if let Some(t) = meta.kernel_text {
        return Some(t);
    }
    let stext = dump.vmcoreinfo()?.symbol("_stext")? & !0xfff;
    (stext >= START_KERNEL_MAP).then(|| KernelText {
        vaddr: stext,
        paddr: (stext - START_KERNEL_MAP).wrapping_add(meta.phys_base),
        len: 2 << 20,
    })
}

pub(crate) fn write(
    dump: &Dump,
    plan: &mut Plan,
    meta: &SourceMeta,
    opts: &Options,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(Progress),
    release: &(dyn Fn() + Sync),
) -> Result<Summary, WriteError> {
    let mem = dump.memory();
    let ps = mem.page_size();
    let mut sum = Summary {
        max_pfn: plan.keep.len(),
        ram_pages: plan.present.count_ones(),
        filtered_pages: plan.filtered,
        ..Default::default()
    };
    if opts.level.excludes_zero() {
        sum.zero_pages = scan_zero(mem, &mut plan.keep, opts.threads, release);
        release();
    }
    let mut segs = segments(&plan.present, &plan.keep);
    let text = kernel_text(dump, meta);
    let nphdr = 1 + segs.len() as u64 + u64::from(text.is_some());
    let phnum = u16::try_from(nphdr)
        .ok()
        .filter(|&n| n < 0xffff)
        .ok_or_else(|| {
            WriteError::Unsupported(format!(
                "{nphdr} ELF segments (more than 65534 needs PN_XNUM, not supported)"
            ))
        })?;
    let notes_off = EHDR + PHDR * nphdr;
    let mut off = (notes_off + meta.notes.len() as u64).next_multiple_of(ps);
    let data_start = off;
    let mut emit_bm = Bitmap::new(plan.keep.len());
    for s in &mut segs {
        s.offset = if s.file > 0 { off } else { 0 };
        off += s.file * ps;
        emit_bm.set_range(s.start, s.start + s.file);
    }
    let dmo = meta.direct_map_offset.unwrap_or(0);
    let mut phdrs = Vec::with_capacity(nphdr as usize * PHDR as usize);
    phdrs.extend_from_slice(&phdr(
        4,
        notes_off,
        0,
        0,
        meta.notes.len() as u64,
        meta.notes.len() as u64,
    ));
    if let Some(t) = text {
        // Alias the stored bytes of the segment holding the image start.
        let pfn = t.paddr / ps;
        let seg = segs
            .iter()
            .find(|s| s.file > 0 && pfn >= s.start && pfn < s.start + s.file);
        let (o, len) = match seg {
            Some(s) => {
                let in_seg = t.paddr - s.start * ps;
                (s.offset + in_seg, t.len.min(s.file * ps - in_seg))
            }
            None => (0, 0),
        };
        phdrs.extend_from_slice(&phdr(1, o, t.vaddr, t.paddr, len, len));
    }
    for s in &segs {
        let pa = s.start * ps;
        phdrs.extend_from_slice(&phdr(
            1,
            s.offset,
            pa.wrapping_add(dmo),
            pa,
            s.file * ps,
            s.mem * ps,
        ));
    }
    let what = sink.describe();
    let io = |ctx: &str| {
        let what = what.clone();
        let ctx = ctx.to_string();
        move |e| WriteError::io(format!("writing {ctx} of {what}"), e)
    };
    let machine = dump.elf_machine().unwrap_or(62);
    if sink.rewrites_in_place() {
        sink.write_at(0, &ehdr(machine, phnum, DUMP_ELF_INCOMPLETE))
            .map_err(io("the ELF header"))?;
    }
    sink.write_at(EHDR, &phdrs)
        .map_err(io("the program headers"))?;
    sink.write_at(notes_off, &meta.notes)
        .map_err(io("the notes"))?;

    let mut data = Coalescer::new(1 << 20, data_start);
    let zero = vec![0u8; ps as usize];
    let cfg = pipeline::Config::new(opts.threads, crate::Compression::None, false);
    let max_pfn = emit_bm.len();
    let mut since_release = 0u64;
    let mut emit = |b: &Batch| -> Result<(), WriteError> {
        for p in &b.pages {
            let bytes = match &p.kind {
                PageKind::Data { start, len, .. } => {
                    &b.data[*start as usize..(*start + *len) as usize]
                }
                PageKind::Unreadable(_) => {
                    sum.note_unreadable(p.pfn);
                    &zero[..]
                }
                PageKind::Zero => &zero[..],
            };
            if data.would_overflow(bytes.len()) {
                data.flush(sink).map_err(io("segment data"))?;
            }
            data.push(bytes);
            sum.data_pages += 1;
        }
        sum.bytes_in += b.pages.len() as u64 * ps;
        // Every RELEASE_EVERY bytes of physical address space passed, drop
        // the source pages from our page tables. Counted by span, not by
        // pages read: each fault maps the pages around the one read too
        // (fault-around), so sparse reads (-d 31) map more than they read.
        since_release += cfg.batch_pfns * ps;
        if since_release >= RELEASE_EVERY {
            since_release = 0;
            release();
        }
        progress(Progress {
            done_pfns: ((b.seq + 1) * cfg.batch_pfns).min(max_pfn),
            total_pfns: max_pfn,
            bytes_out: data.pos(),
        });
        Ok(())
    };
    pipeline::run(
        &Pages {
            mem,
            direct: DirectPages::new(dump),
        },
        &emit_bm,
        cfg,
        &mut emit,
    )?;
    data.flush(sink).map_err(io("segment data"))?;
    sum.bytes_out = data.pos().max(data_start);
    sum.incomplete = sum.unreadable_pages > 0;
    sink.sync().map_err(io("(sync)"))?;
    sink.write_at(0, &ehdr(machine, phnum, 0))
        .map_err(io("the final ELF header"))?;
    sink.finish().map_err(io("(sync)"))?;
    Ok(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_at_long_excluded_runs() {
        let mut present = Bitmap::new(2000);
        present.set_range(0, 1000);
        present.set_range(1500, 2000);
        let mut keep = present.clone();
        for p in 100..200 {
            keep.clear(p); // short gap: stays inside
        }
        for p in 300..700 {
            keep.clear(p); // long gap: split
        }
        for p in 1900..2000 {
            keep.clear(p); // excluded tail
        }
        let s = segments(&present, &keep);
        let got: Vec<(u64, u64, u64)> = s.iter().map(|s| (s.start, s.mem, s.file)).collect();
        assert_eq!(got, vec![(0, 700, 300), (700, 300, 300), (1500, 500, 400)]);
    }
}
