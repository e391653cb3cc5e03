//! ELF core files: `/proc/vmcore`, QEMU `dump-guest-memory`, `makedumpfile -E`.
//!
//! Physical memory is described by `PT_LOAD`s keyed by `p_paddr` (the file
//! offset is unrelated to the address in `/proc/vmcore`). On x86_64 the kernel
//! adds a `PT_LOAD` for the kernel text (`p_vaddr` in the
//! `__START_KERNEL_map` area) that aliases bytes of a System-RAM segment; it
//! only fills physical ranges no other segment covers. A `p_filesz <
//! p_memsz` tail (`makedumpfile -E`) is RAM whose pages were filtered out.
//! Headers are parsed for both classes and byte orders.

use crate::endian::Endian;
use crate::error::DumpError;
use crate::interval::{resolve, Interval};
use crate::notes::{self, NoteSummary, EM_X86_64};
use crate::phys::{PageState, PhysRange, PhysicalMemory, ReadError};
use crate::source::{ByteSource, SourceError};
use std::sync::Arc;

/// `\x7fELF`.
pub(crate) const ELF_MAGIC: &[u8] = b"\x7fELF";
const PT_LOAD: u32 = 1;
const PT_NOTE: u32 = 4;
const ET_CORE: u16 = 4;
/// `e_phnum` value meaning "the count is in section header 0".
const PN_XNUM: u16 = 0xffff;
/// Start of the x86_64 kernel-text mapping (`__START_KERNEL_map`).
pub(crate) const X86_64_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// makedumpfile's `DUMP_ELF_INCOMPLETE` in `e_flags`.
const DUMP_ELF_INCOMPLETE: u32 = 0x1;

/// ELF class and byte order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ident {
    pub wide: bool,
    pub endian: Endian,
}

/// The parts of the ELF header we use.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ehdr {
    pub ident: Ident,
    pub etype: u16,
    pub machine: u16,
    pub phoff: u64,
    pub shoff: u64,
    pub flags: u32,
    pub phentsize: u16,
    pub phnum: u16,
}

/// One program header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phdr {
    /// `p_type`.
    pub ptype: u32,
    /// `p_offset`: where the segment's bytes are in the (logical) file.
    pub offset: u64,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// `p_paddr`: the physical address the memory map is keyed by.
    pub paddr: u64,
    /// `p_filesz`: bytes present in the file.
    pub filesz: u64,
    /// `p_memsz`: bytes of memory described (a larger value means a filtered tail).
    pub memsz: u64,
}

const EHDR64_SIZE: usize = 64;
const EHDR32_SIZE: usize = 52;

fn parse_ehdr(b: &[u8]) -> Result<Ehdr, DumpError> {
    let wide = match b.get(4) {
        Some(2) => true,
        Some(1) => false,
        Some(c) => {
            return Err(DumpError::corrupt(
                "ELF e_ident[EI_CLASS]",
                4,
                format!("unknown class {c}"),
            ))
        }
        None => return Err(DumpError::truncated("ELF header", 0, 5, b.len() as u64)),
    };
    let endian = match b.get(5) {
        Some(1) => Endian::Little,
        Some(2) => Endian::Big,
        Some(d) => {
            return Err(DumpError::corrupt(
                "ELF e_ident[EI_DATA]",
                5,
                format!("unknown data encoding {d}"),
            ))
        }
        None => return Err(DumpError::truncated("ELF header", 0, 6, b.len() as u64)),
    };
    let size = if wide { EHDR64_SIZE } else { EHDR32_SIZE };
    if b.len() < size {
        return Err(DumpError::truncated(
            "ELF header",
            0,
            size as u64,
            b.len() as u64,
        ));
    }
    let e = endian;
    let short = || DumpError::truncated("ELF header", 0, size as u64, b.len() as u64);
    let h = if wide {
        Ehdr {
            ident: Ident { wide, endian },
            etype: e.u16(b, 16).ok_or_else(short)?,
            machine: e.u16(b, 18).ok_or_else(short)?,
            phoff: e.u64(b, 32).ok_or_else(short)?,
            shoff: e.u64(b, 40).ok_or_else(short)?,
            flags: e.u32(b, 48).ok_or_else(short)?,
            phentsize: e.u16(b, 54).ok_or_else(short)?,
            phnum: e.u16(b, 56).ok_or_else(short)?,
        }
    } else {
        Ehdr {
            ident: Ident { wide, endian },
            etype: e.u16(b, 16).ok_or_else(short)?,
            machine: e.u16(b, 18).ok_or_else(short)?,
            phoff: e.u32(b, 28).ok_or_else(short)?.into(),
            shoff: e.u32(b, 32).ok_or_else(short)?.into(),
            flags: e.u32(b, 36).ok_or_else(short)?,
            phentsize: e.u16(b, 42).ok_or_else(short)?,
            phnum: e.u16(b, 44).ok_or_else(short)?,
        }
    };
    Ok(h)
}

fn parse_phdr(b: &[u8], id: Ident) -> Option<Phdr> {
    let e = id.endian;
    Some(if id.wide {
        Phdr {
            ptype: e.u32(b, 0)?,
            offset: e.u64(b, 8)?,
            vaddr: e.u64(b, 16)?,
            paddr: e.u64(b, 24)?,
            filesz: e.u64(b, 32)?,
            memsz: e.u64(b, 40)?,
        }
    } else {
        Phdr {
            ptype: e.u32(b, 0)?,
            offset: e.u32(b, 4)?.into(),
            vaddr: e.u32(b, 8)?.into(),
            paddr: e.u32(b, 12)?.into(),
            filesz: e.u32(b, 16)?.into(),
            memsz: e.u32(b, 20)?.into(),
        }
    })
}

/// One resolved piece of the physical map.
#[derive(Clone, Copy, Debug)]
struct Seg {
    /// First physical address.
    start: u64,
    /// One past the last physical address.
    end: u64,
    /// Physical addresses from here to `end` were filtered out (no file data).
    file_end: u64,
    /// File offset of `start`'s byte.
    offset: u64,
}

/// Physical memory of an ELF core file.
#[derive(Debug)]
pub struct ElfMemory {
    source: Arc<ByteSource>,
    page_size: u64,
    segs: Vec<Seg>,
    ranges: Vec<PhysRange>,
}

impl ElfMemory {
    fn find(&self, addr: u64) -> Option<&Seg> {
        let i = self.segs.partition_point(|s| s.end <= addr);
        self.segs.get(i).filter(|s| s.start <= addr)
    }

    /// Pages `(present, excluded)` described by the segments.
    pub(crate) fn count_pages(&self) -> (u64, u64) {
        let ps = self.page_size;
        let (mut present, mut excluded) = (0u64, 0u64);
        // Segments need not be page aligned: a page straddling two pieces is
        // counted once, for the first piece that touches it.
        let mut next_pfn = 0u64;
        for s in &self.segs {
            let mut count = |from: u64, to: u64, acc: &mut u64| {
                if from >= to {
                    return;
                }
                let first = (from / ps).max(next_pfn);
                let last = to.div_ceil(ps);
                if last > first {
                    *acc += last - first;
                    next_pfn = last;
                }
            };
            count(s.start, s.file_end, &mut present);
            count(s.file_end, s.end, &mut excluded);
        }
        (present, excluded)
    }
}

impl PhysicalMemory for ElfMemory {
    fn page_size(&self) -> u64 {
        self.page_size
    }

    fn ranges(&self) -> &[PhysRange] {
        &self.ranges
    }

    fn read_phys(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr
                .checked_add(done as u64)
                .ok_or(ReadError::NotPresent { addr })?;
            let seg = self.find(a).ok_or(ReadError::NotPresent { addr: a })?;
            if a >= seg.file_end {
                return Err(ReadError::Excluded { addr: a });
            }
            let n = ((seg.file_end - a).min((buf.len() - done) as u64)) as usize;
            // Cannot overflow: the piece's file range was checked at open.
            let off = seg.offset + (a - seg.start);
            self.source
                .read_at(off, &mut buf[done..done + n])
                .map_err(|e| match e {
                    SourceError::OutOfRange { .. } => ReadError::Truncated { addr: a },
                    SourceError::Io { message, .. } => ReadError::Io { addr: a, message },
                })?;
            done += n;
        }
        Ok(())
    }

    fn page_state(&self, pfn: u64) -> PageState {
        let Some(start) = pfn.checked_mul(self.page_size) else {
            return PageState::Hole;
        };
        let end = start.saturating_add(self.page_size);
        let i = self.segs.partition_point(|s| s.end <= start);
        match self.segs.get(i) {
            Some(s) if s.start < end => {
                let a = start.max(s.start);
                if a < s.file_end {
                    PageState::Present
                } else {
                    PageState::Excluded
                }
            }
            _ => PageState::Hole,
        }
    }
}

/// Who wrote an ELF dump, as far as can be told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ElfOrigin {
    Kernel,
    Qemu,
    Makedumpfile,
    Unknown,
}

/// Everything read from an ELF dump.
#[derive(Debug)]
pub(crate) struct ElfDump {
    pub memory: ElfMemory,
    pub notes: NoteSummary,
    pub ident: Ident,
    pub machine: u16,
    pub loads: Vec<Phdr>,
    pub origin: ElfOrigin,
    /// `(offset, len)` of each readable `PT_NOTE`.
    pub note_segments: Vec<(u64, usize)>,
}

impl ElfDump {
    /// `p_vaddr - p_paddr` of the first direct-map `PT_LOAD`
    /// (makedumpfile's `get_page_offset`).
    pub fn direct_map_offset(&self) -> Option<u64> {
        self.loads
            .iter()
            .find(|p| {
                p.vaddr != 0
                    && p.vaddr != p.paddr
                    && p.vaddr >= p.paddr
                    && !(self.machine == EM_X86_64 && p.vaddr >= X86_64_KERNEL_MAP)
            })
            .map(|p| p.vaddr - p.paddr)
    }
}

/// Read the program headers, honouring `PN_XNUM`.
fn read_phdrs(
    src: &ByteSource,
    h: &Ehdr,
    warnings: &mut Vec<String>,
) -> Result<Vec<Phdr>, DumpError> {
    let min_entsize = if h.ident.wide { 56 } else { 32 };
    if (h.phentsize as usize) < min_entsize {
        return Err(DumpError::corrupt(
            "ELF e_phentsize",
            if h.ident.wide { 54 } else { 42 },
            format!(
                "{} is smaller than a program header ({min_entsize})",
                h.phentsize
            ),
        ));
    }
    let mut phnum = u64::from(h.phnum);
    if h.phnum == PN_XNUM {
        // The real count is sh_info of section header 0.
        let info_off = if h.ident.wide { 44 } else { 28 };
        let mut b = [0u8; 4];
        let at = h.shoff.checked_add(info_off);
        match at.map(|at| src.read_at(at, &mut b)) {
            Some(Ok(())) => phnum = u64::from(h.ident.endian.u32(&b, 0).unwrap_or(0)),
            _ => {
                return Err(DumpError::truncated(
                    "ELF section header 0 (PN_XNUM program header count)",
                    h.shoff,
                    info_off + 4,
                    src.len(),
                ))
            }
        }
    }
    let entsize = u64::from(h.phentsize);
    // Never trust the count for an allocation: only headers inside the file.
    let room = src.len().saturating_sub(h.phoff).min(src.stored_len()) / entsize;
    if phnum > room {
        warnings.push(format!(
            "ELF: {phnum} program headers at {:#x} but the file holds only {room}; using those",
            h.phoff
        ));
        phnum = room;
    }
    if phnum == 0 {
        return Err(DumpError::corrupt(
            "ELF program headers",
            h.phoff,
            "no program header in the file",
        ));
    }
    let mut out = Vec::with_capacity(phnum as usize);
    let mut scratch = Vec::new();
    let mut b = [0u8; 64];
    for i in 0..phnum {
        let at = h.phoff + i * entsize;
        let len = min_entsize;
        let bytes = match src.get(at, len, &mut scratch) {
            Ok(s) => s,
            Err(_) => break,
        };
        b[..len].copy_from_slice(bytes);
        if let Some(p) = parse_phdr(&b[..len], h.ident) {
            out.push(p);
        }
    }
    Ok(out)
}

/// Parse an ELF core file.
pub(crate) fn open(src: Arc<ByteSource>, warnings: &mut Vec<String>) -> Result<ElfDump, DumpError> {
    let mut scratch = Vec::new();
    let head = src.get_clipped(0, EHDR64_SIZE, &mut scratch);
    let h = parse_ehdr(head)?;
    if h.etype != ET_CORE {
        warnings.push(format!("ELF e_type is {} (expected ET_CORE = 4)", h.etype));
    }
    if h.flags & DUMP_ELF_INCOMPLETE != 0 {
        warnings.push(
            "ELF e_flags has DUMP_ELF_INCOMPLETE: makedumpfile could not write every page".into(),
        );
    }
    let phdrs = read_phdrs(&src, &h, warnings)?;

    // Notes: every PT_NOTE (one after /proc/vmcore merging, possibly several
    // in other writers).
    let mut summary = NoteSummary::default();
    let mut note_offsets = Vec::new();
    let mut note_segments = Vec::new();
    for (i, p) in phdrs.iter().enumerate().filter(|(_, p)| p.ptype == PT_NOTE) {
        note_offsets.push(p.offset);
        let avail = src.len().saturating_sub(p.offset);
        if p.filesz > avail {
            warnings.push(format!(
                "PT_NOTE #{i} at {:#x}: {} bytes but the file ends after {avail}; reading what is there",
                p.offset, p.filesz
            ));
        }
        let len = usize::try_from(p.filesz.min(avail)).unwrap_or(0);
        let mut buf = Vec::new();
        let data = src.get(p.offset, len, &mut buf).unwrap_or(&[]);
        if !data.is_empty() {
            note_segments.push((p.offset, data.len()));
        }
        let s = notes::summarize(
            data,
            h.ident.endian,
            h.ident.wide,
            Some(h.machine),
            warnings,
        );
        summary.count += s.count;
        summary.qemu_notes += s.qemu_notes;
        for mut cpu in s.cpus {
            cpu.index = summary.cpus.len();
            summary.cpus.push(cpu);
        }
        if summary.vmcoreinfo.is_none() {
            summary.vmcoreinfo = s.vmcoreinfo;
        } else if s.vmcoreinfo.is_some() {
            warnings.push("more than one VMCOREINFO note; using the first".into());
        }
    }

    let loads: Vec<Phdr> = phdrs
        .iter()
        .copied()
        .filter(|p| p.ptype == PT_LOAD)
        .collect();
    if loads.is_empty() && summary.count == 0 {
        return Err(DumpError::corrupt(
            "ELF program headers",
            h.phoff,
            "neither PT_LOAD nor readable PT_NOTE: nothing to read",
        ));
    }
    let page_size = summary
        .vmcoreinfo
        .as_ref()
        .and_then(|v| v.page_size())
        .unwrap_or(4096);
    let memory = build_memory(src.clone(), &loads, h.machine, page_size, warnings);

    let origin = if summary.qemu_notes > 0 {
        ElfOrigin::Qemu
    } else if loads.iter().any(|p| p.filesz < p.memsz) || h.flags & DUMP_ELF_INCOMPLETE != 0 {
        ElfOrigin::Makedumpfile
    } else if summary.vmcoreinfo.is_some()
        && note_offsets.len() == 1
        && note_offsets.iter().all(|o| o % 4096 == 0)
    {
        // The crash kernel page-aligns the merged note segment (fs/proc/vmcore.c).
        ElfOrigin::Kernel
    } else if summary.vmcoreinfo.is_some() {
        ElfOrigin::Makedumpfile
    } else {
        ElfOrigin::Unknown
    };

    Ok(ElfDump {
        memory,
        notes: summary,
        ident: h.ident,
        machine: h.machine,
        loads,
        origin,
        note_segments,
    })
}

fn build_memory(
    src: Arc<ByteSource>,
    loads: &[Phdr],
    machine: u16,
    page_size: u64,
    warnings: &mut Vec<String>,
) -> ElfMemory {
    let file_len = src.len();
    let mut intervals = Vec::with_capacity(loads.len());
    for (i, p) in loads.iter().enumerate() {
        let Some(end) = p.paddr.checked_add(p.memsz) else {
            warnings.push(format!(
                "PT_LOAD #{i}: p_paddr {:#x} + p_memsz {:#x} overflows; segment ignored",
                p.paddr, p.memsz
            ));
            continue;
        };
        if p.filesz > p.memsz {
            warnings.push(format!(
                "PT_LOAD #{i}: p_filesz {:#x} > p_memsz {:#x}; using p_memsz",
                p.filesz, p.memsz
            ));
        }
        if p.filesz > 0
            && p.offset
                .checked_add(p.filesz.min(p.memsz))
                .is_none_or(|e| e > file_len)
        {
            warnings.push(format!(
                "PT_LOAD #{i} (paddr {:#x}): data at file offset {:#x}+{:#x} runs past the end of the file ({file_len:#x}); missing pages read as truncated",
                p.paddr, p.offset, p.filesz
            ));
        }
        if p.offset.checked_add(p.memsz).is_none() {
            warnings.push(format!(
                "PT_LOAD #{i}: p_offset {:#x} + p_memsz overflows; segment ignored",
                p.offset
            ));
            continue;
        }
        let text = machine == EM_X86_64 && p.vaddr >= X86_64_KERNEL_MAP;
        // Kernel text only fills what no System-RAM segment covers; among the
        // others the first in header order wins.
        let priority = if text { (1 << 32) + i as u64 } else { i as u64 };
        intervals.push(Interval {
            start: p.paddr,
            end,
            priority,
            id: i,
        });
    }
    let pieces = resolve(&intervals);

    // Report overlaps other than the expected kernel-text alias.
    let mut kept = vec![0u64; loads.len()];
    for pc in &pieces {
        kept[pc.id] += pc.end - pc.start;
    }
    for iv in &intervals {
        let p = &loads[iv.id];
        let text = machine == EM_X86_64 && p.vaddr >= X86_64_KERNEL_MAP;
        if !text && kept[iv.id] < iv.end - iv.start {
            warnings.push(format!(
                "PT_LOAD #{} (paddr {:#x}-{:#x}) overlaps earlier segments; the earlier data is used",
                iv.id, iv.start, iv.end
            ));
        }
    }

    let segs: Vec<Seg> = pieces
        .iter()
        .map(|pc| {
            let p = &loads[pc.id];
            let file_part_end = p.paddr + p.filesz.min(p.memsz);
            Seg {
                start: pc.start,
                end: pc.end,
                file_end: file_part_end.clamp(pc.start, pc.end),
                offset: p.offset + (pc.start - p.paddr),
            }
        })
        .collect();
    let mut ranges: Vec<PhysRange> = Vec::new();
    for s in &segs {
        match ranges.last_mut() {
            Some(r) if r.end == s.start => r.end = s.end,
            _ => ranges.push(PhysRange {
                start: s.start,
                end: s.end,
            }),
        }
    }
    ElfMemory {
        source: src,
        page_size,
        segs,
        ranges,
    }
}
