//! What the writers need from the source dump besides pages: the ELF note
//! segment, where VMCOREINFO sits in it, CPU count, `phys_base`, crash time,
//! the kernel-text mapping; and page reads that cope with partial pages.

use crate::error::WriteError;
use dumpfile::{ByteSource, Dump, Endian, NoteIter, PhysicalMemory, ReadError};
use std::sync::atomic::{AtomicU64, Ordering};

const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
/// x86_64 `__START_KERNEL_map`: PT_LOADs above it map the kernel image.
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// Upper bound on the note data we copy (the kernel's is a few KiB per CPU).
const MAX_NOTES: u64 = 64 << 20;

/// A source `PT_LOAD` mapping the kernel image (virtual → physical).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KernelText {
    /// Virtual address.
    pub vaddr: u64,
    /// Physical address.
    pub paddr: u64,
    /// Length in bytes.
    pub len: u64,
}

/// Metadata of the source dump, gathered once.
#[derive(Clone, Debug, Default)]
pub struct SourceMeta {
    /// The ELF note segment (CPU notes, VMCOREINFO...), as the kernel made it.
    pub notes: Vec<u8>,
    /// Offset and size of the VMCOREINFO descriptor inside `notes`.
    pub vmcoreinfo: Option<(u64, u64)>,
    /// Number of `NT_PRSTATUS` notes (at least 1).
    pub nr_cpus: u32,
    /// `phys_base` (x86_64: physical load offset of the kernel).
    pub phys_base: u64,
    /// Crash time, seconds since the epoch (VMCOREINFO `CRASHTIME`).
    pub crash_time: Option<i64>,
    /// The kernel-image mapping of an ELF source, if any.
    pub kernel_text: Option<KernelText>,
    /// `p_vaddr - p_paddr` of the direct map, if known.
    pub direct_map_offset: Option<u64>,
}

impl SourceMeta {
    /// Gather the metadata of `dump`.
    pub fn from_dump(dump: &Dump) -> Result<SourceMeta, WriteError> {
        let src = dump.source();
        let mut meta = SourceMeta {
            direct_map_offset: dump.direct_map_offset(),
            ..Default::default()
        };
        if let Some(h) = dump.kdump_header() {
            if h.endian != Endian::Little {
                return Err(WriteError::Unsupported(
                    "big-endian dumps cannot be rewritten yet".into(),
                ));
            }
            if let (Some(off), Some(size)) = (h.offset_note, h.size_note) {
                if size > 0 && size <= MAX_NOTES {
                    let mut notes = vec![0u8; size as usize];
                    if src.read_at(off, &mut notes).is_ok() {
                        meta.notes = notes;
                    }
                }
            }
            meta.phys_base = h.phys_base.unwrap_or(0);
            if h.timestamp_sec > 0 {
                meta.crash_time = Some(h.timestamp_sec);
            }
        } else {
            read_elf_headers(dump, &mut meta)?;
        }
        // A source without a VMCOREINFO note (old kdump header versions):
        // add one so the output is self-describing.
        if let Some(info) = dump.vmcoreinfo() {
            let has = NoteIter::new(&meta.notes, Endian::Little).any(|n| n.name == b"VMCOREINFO");
            if !has {
                meta.notes
                    .extend_from_slice(&make_note(b"VMCOREINFO", 0, info.raw().as_bytes()));
            }
            if let Some(pb) = info.number("phys_base") {
                meta.phys_base = pb as u64;
            }
            if let Some(t) = info.crash_time() {
                meta.crash_time = Some(t);
            }
        }
        let base = meta.notes.as_ptr() as usize;
        for n in NoteIter::new(&meta.notes, Endian::Little) {
            if n.name == b"VMCOREINFO" && meta.vmcoreinfo.is_none() {
                let off = n.desc.as_ptr() as usize - base;
                meta.vmcoreinfo = Some((off as u64, n.desc.len() as u64));
            }
        }
        meta.nr_cpus = (dump.cpus().len() as u32).max(1);
        Ok(meta)
    }
}

/// One ELF note (name NUL-terminated, 4-byte padding).
pub(crate) fn make_note(name: &[u8], ntype: u32, desc: &[u8]) -> Vec<u8> {
    let namesz = name.len() + 1;
    let mut v = Vec::with_capacity(12 + namesz.next_multiple_of(4) + desc.len() + 3);
    v.extend_from_slice(&(namesz as u32).to_le_bytes());
    v.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    v.extend_from_slice(&ntype.to_le_bytes());
    v.extend_from_slice(name);
    v.resize(12 + namesz.next_multiple_of(4), 0);
    v.extend_from_slice(desc);
    v.resize(v.len().next_multiple_of(4), 0);
    v
}

fn read_elf_headers(dump: &Dump, meta: &mut SourceMeta) -> Result<(), WriteError> {
    let src = dump.source();
    let mut eh = [0u8; 64];
    src.read_at(0, &mut eh)
        .map_err(|e| WriteError::Unsupported(format!("ELF header: {e}")))?;
    if eh[4] != 2 || eh[5] != 1 {
        return Err(WriteError::Unsupported(
            "only little-endian ELF64 sources can be rewritten".into(),
        ));
    }
    let phoff = u64::from_le_bytes(eh[32..40].try_into().unwrap_or_default());
    let phentsize = u16::from_le_bytes([eh[54], eh[55]]) as u64;
    let phnum = u16::from_le_bytes([eh[56], eh[57]]) as u64;
    if phentsize < 56 {
        return Err(WriteError::Unsupported(format!(
            "ELF phentsize {phentsize} too small"
        )));
    }
    let mut ph = [0u8; 56];
    for i in 0..phnum {
        if src.read_at(phoff + i * phentsize, &mut ph).is_err() {
            break;
        }
        let u64at = |o: usize| u64::from_le_bytes(ph[o..o + 8].try_into().unwrap_or_default());
        let ptype = u32::from_le_bytes([ph[0], ph[1], ph[2], ph[3]]);
        let (offset, vaddr, paddr, filesz) = (u64at(8), u64at(16), u64at(24), u64at(32));
        match ptype {
            PT_NOTE if filesz > 0 && meta.notes.len() as u64 + filesz <= MAX_NOTES => {
                let start = meta.notes.len();
                meta.notes.resize(start + filesz as usize, 0);
                if src.read_at(offset, &mut meta.notes[start..]).is_err() {
                    meta.notes.truncate(start);
                }
            }
            PT_LOAD if vaddr >= START_KERNEL_MAP && meta.kernel_text.is_none() => {
                meta.kernel_text = Some(KernelText {
                    vaddr,
                    paddr,
                    len: filesz,
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Read page frame `pfn` into `buf`. Parts of the page outside the
/// source's ranges (a segment ending mid-page) read as zeros, as in
/// makedumpfile.
pub(crate) fn read_page(
    mem: &dyn PhysicalMemory,
    pfn: u64,
    buf: &mut [u8],
) -> Result<(), ReadError> {
    match mem.read_pfn(pfn, buf) {
        Err(ReadError::NotPresent { .. }) => {}
        other => return other,
    }
    let ps = buf.len() as u64;
    let start = pfn * ps;
    let end = start + ps;
    buf.fill(0);
    let mut any = false;
    for r in mem.ranges() {
        let (a, b) = (r.start.max(start), r.end.min(end));
        if a < b {
            let (i, j) = ((a - start) as usize, (b - start) as usize);
            mem.read_phys(a, &mut buf[i..j])?;
            any = true;
        }
    }
    if any {
        Ok(())
    } else {
        Err(ReadError::NotPresent { addr: start })
    }
}

/// Releases the pages of a mapped source from this process's page tables
/// as a run goes, so reading a large dump does not grow the resident set.
/// Off (every call a no-op) unless the source is a read-only file mapping.
#[derive(Debug)]
pub(crate) struct Releaser<'a> {
    raw: &'a [u8],
    on: bool,
    /// File offset up to which [`Releaser::upto`] has released.
    done: AtomicU64,
}

impl<'a> Releaser<'a> {
    /// For `src`, when `on`; a source that is not a file mapping (a copy
    /// in memory, whose pages MADV_DONTNEED would discard) is never
    /// released.
    pub(crate) fn new(src: &'a ByteSource, on: bool) -> Releaser<'a> {
        Releaser {
            raw: src.raw(),
            on: on && src.is_file_mapping(),
            done: AtomicU64::new(0),
        }
    }

    /// All of the mapping: after reads that may be anywhere (the struct
    /// page walk, the end of the run).
    pub(crate) fn all(&self) {
        if self.on {
            release_mapping(self.raw);
        }
    }

    /// The file bytes from the previous call's `end` up to `end`: what a
    /// sequential pass has left behind. Pages ahead of it, which other
    /// threads may be reading, keep their mappings, and the page tables
    /// are walked only over the window, not over the whole dump each time.
    pub(crate) fn upto(&self, end: u64) {
        if !self.on {
            return;
        }
        let end = end.min(self.raw.len() as u64);
        let start = self.done.swap(end, Ordering::Relaxed);
        if start < end {
            release_mapping(&self.raw[start as usize..end as usize]);
        }
    }
}

/// Drop the pages of a file mapping from this process's page tables so a
/// long sequential read does not grow the resident set (they stay in the
/// page cache, and fault back in if read again). Only for read-only file
/// mappings: on anonymous memory MADV_DONTNEED would discard data. A range
/// not starting on a page boundary starts at the page holding its first
/// byte (the mapping itself is page-aligned).
fn release_mapping(bytes: &[u8]) {
    // SAFETY: sysconf has no preconditions.
    let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
        n if n > 0 && (n as usize).is_power_of_two() => n as usize,
        _ => return,
    };
    if bytes.is_empty() {
        return;
    }
    let first = bytes.as_ptr() as usize;
    let start = first & !(page - 1);
    let len = bytes.len() + (first - start);
    // SAFETY: the range is a live read-only file mapping owned by the
    // caller's ByteSource; MADV_DONTNEED on it only drops PTEs, and later
    // reads fault the identical file contents back in.
    unsafe {
        libc::madvise(start as *mut libc::c_void, len, libc::MADV_DONTNEED);
    }
}
