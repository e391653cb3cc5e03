//! Builders of synthetic dumps for tests and fuzz seeds.
//!
//! Compiled for this crate's tests and, with the `testutil` feature, for
//! other crates' tests. Each builder writes the format from its description
//! (formats.md), so a reader bug and a builder bug are unlikely to agree.

use crate::endian::Endian;
use crate::kdump::header::Compression;
use crate::notes::{EM_X86_64, NT_PRSTATUS};
use std::collections::BTreeMap;

/// Encode one ELF note (little-endian).
pub fn note(name: &[u8], ntype: u32, desc: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend((name.len() as u32 + 1).to_le_bytes());
    v.extend((desc.len() as u32).to_le_bytes());
    v.extend(ntype.to_le_bytes());
    v.extend(name);
    v.push(0);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v.extend(desc);
    while v.len() % 4 != 0 {
        v.push(0);
    }
    v
}

/// An x86_64 `elf_prstatus` (336 bytes) with `pr_pid`, `rip` and `rsp` set
/// and every other register `0x1000 + index`.
pub fn prstatus_x86_64(pid: i32, rip: u64, rsp: u64) -> Vec<u8> {
    let mut d = vec![0u8; 336];
    d[32..36].copy_from_slice(&pid.to_le_bytes());
    for i in 0..27 {
        let v = match i {
            16 => rip,
            19 => rsp,
            _ => 0x1000 + i as u64,
        };
        d[112 + i * 8..120 + i * 8].copy_from_slice(&v.to_le_bytes());
    }
    d
}

/// A `QEMUCPUState` (with `kernel_gs_base`) whose CR3 is `cr3`.
pub fn qemu_note_desc(cr3: u64) -> Vec<u8> {
    let mut d = vec![0u8; 440];
    d[0..4].copy_from_slice(&1u32.to_le_bytes());
    d[4..8].copy_from_slice(&440u32.to_le_bytes());
    d[416..424].copy_from_slice(&cr3.to_le_bytes());
    d
}

/// A CORE/NT_PRSTATUS note for CPU `i`, plus a VMCOREINFO note.
pub fn kernel_notes(cpus: usize, vmcoreinfo: &str) -> Vec<u8> {
    let mut v = Vec::new();
    for i in 0..cpus {
        v.extend(note(
            b"CORE",
            NT_PRSTATUS,
            &prstatus_x86_64(
                100 + i as i32,
                0xffffffff81000000 + i as u64,
                0xffffc90000000000 + i as u64,
            ),
        ));
    }
    v.extend(note(b"VMCOREINFO", 0, vmcoreinfo.as_bytes()));
    v
}

/// Write a flattened stream of `(offset, data)` chunks; `terminate` adds the
/// `(-1, -1)` end marker.
pub fn flatten(chunks: &[(u64, Vec<u8>)], terminate: bool) -> Vec<u8> {
    let mut v = vec![0u8; 4096];
    v[..12].copy_from_slice(b"makedumpfile");
    v[16..24].copy_from_slice(&1i64.to_be_bytes());
    v[24..32].copy_from_slice(&1i64.to_be_bytes());
    for (off, data) in chunks {
        v.extend((*off as i64).to_be_bytes());
        v.extend((data.len() as i64).to_be_bytes());
        v.extend(data);
    }
    if terminate {
        v.extend((-1i64).to_be_bytes());
        v.extend((-1i64).to_be_bytes());
    }
    v
}

/// Flatten a whole file in `chunk`-byte pieces, written back to front so
/// readers cannot rely on order, with the first piece written twice (the
/// second copy wins).
pub fn flatten_file(file: &[u8], chunk: usize) -> Vec<u8> {
    let mut chunks: Vec<(u64, Vec<u8>)> = file
        .chunks(chunk)
        .enumerate()
        .map(|(i, c)| ((i * chunk) as u64, c.to_vec()))
        .rev()
        .collect();
    if let Some(first) = file.get(..chunk.min(file.len())) {
        chunks.insert(0, (0, vec![0xee; first.len()]));
        chunks.push((0, first.to_vec()));
    }
    flatten(&chunks, true)
}

/// One `PT_LOAD` for [`ElfBuilder`].
#[derive(Clone, Debug)]
pub struct ElfSegment {
    /// `p_paddr`.
    pub paddr: u64,
    /// `p_vaddr`.
    pub vaddr: u64,
    /// File data (`p_filesz = data.len()`).
    pub data: Vec<u8>,
    /// `p_memsz` (≥ data length for an excluded tail).
    pub memsz: u64,
}

/// Builds ELF64 little-endian core files.
#[derive(Clone, Debug)]
pub struct ElfBuilder {
    /// `e_machine`.
    pub machine: u16,
    /// Note segment contents (empty: no `PT_NOTE`).
    pub notes: Vec<u8>,
    /// `PT_LOAD`s in header order.
    pub segments: Vec<ElfSegment>,
    /// Bytes of padding between the ELF header and the program headers.
    pub phdr_gap: u64,
    /// Page-align the notes and each segment's data, like `/proc/vmcore`.
    pub page_align: bool,
    /// Write `e_phnum = PN_XNUM` and the count in section header 0.
    pub pn_xnum: bool,
    /// `e_flags`.
    pub flags: u32,
}

impl Default for ElfBuilder {
    fn default() -> Self {
        ElfBuilder {
            machine: EM_X86_64,
            notes: Vec::new(),
            segments: Vec::new(),
            phdr_gap: 0,
            page_align: false,
            pn_xnum: false,
            flags: 0,
        }
    }
}

impl ElfBuilder {
    /// Write the file.
    pub fn build(&self) -> Vec<u8> {
        let has_note = !self.notes.is_empty();
        let phnum = self.segments.len() + usize::from(has_note);
        let phoff = 64 + self.phdr_gap;
        let shoff = phoff + 56 * phnum as u64;
        let mut data_off = shoff + if self.pn_xnum { 64 } else { 0 };
        let round = |x: u64| {
            if self.page_align {
                x.div_ceil(4096) * 4096
            } else {
                x
            }
        };
        let mut body: Vec<(u64, &[u8])> = Vec::new();
        let mut ph = Vec::new();
        let mut phdr = |ptype: u32, off: u64, vaddr: u64, paddr: u64, filesz: u64, memsz: u64| {
            ph.extend(ptype.to_le_bytes());
            ph.extend(7u32.to_le_bytes());
            for x in [off, vaddr, paddr, filesz, memsz, 0] {
                ph.extend(x.to_le_bytes());
            }
        };
        if has_note {
            data_off = round(data_off);
            phdr(
                4,
                data_off,
                0,
                0,
                self.notes.len() as u64,
                self.notes.len() as u64,
            );
            body.push((data_off, &self.notes));
            data_off += self.notes.len() as u64;
        }
        for s in &self.segments {
            data_off = round(data_off);
            let off = if s.data.is_empty() { 0 } else { data_off };
            phdr(1, off, s.vaddr, s.paddr, s.data.len() as u64, s.memsz);
            body.push((data_off, &s.data));
            data_off += s.data.len() as u64;
        }
        let mut v = vec![0u8; 64];
        v[..4].copy_from_slice(b"\x7fELF");
        v[4] = 2;
        v[5] = 1;
        v[6] = 1;
        v[16..18].copy_from_slice(&4u16.to_le_bytes());
        v[18..20].copy_from_slice(&self.machine.to_le_bytes());
        v[20..24].copy_from_slice(&1u32.to_le_bytes());
        v[32..40].copy_from_slice(&phoff.to_le_bytes());
        v[48..52].copy_from_slice(&self.flags.to_le_bytes());
        v[52..54].copy_from_slice(&64u16.to_le_bytes());
        v[54..56].copy_from_slice(&56u16.to_le_bytes());
        if self.pn_xnum {
            v[40..48].copy_from_slice(&shoff.to_le_bytes());
            v[56..58].copy_from_slice(&0xffffu16.to_le_bytes());
            v[58..60].copy_from_slice(&64u16.to_le_bytes());
            v[60..62].copy_from_slice(&1u16.to_le_bytes());
        } else {
            v[56..58].copy_from_slice(&(phnum as u16).to_le_bytes());
        }
        v.resize(phoff as usize, 0);
        v.extend(ph);
        if self.pn_xnum {
            let mut sh = vec![0u8; 64];
            sh[44..48].copy_from_slice(&(phnum as u32).to_le_bytes());
            v.extend(sh);
        }
        for (off, d) in body {
            v.resize(off as usize, 0);
            v.extend_from_slice(d);
        }
        v
    }
}

/// Builds kdump-compressed (diskdump) files.
#[derive(Clone, Debug)]
pub struct KdumpBuilder {
    /// `"KDUMP   "` or `"DISKDUMP"`.
    pub signature: [u8; 8],
    /// `header_version`.
    pub header_version: i32,
    /// Byte order of every header field.
    pub endian: Endian,
    /// `block_size`.
    pub block_size: u32,
    /// Page compression (per page, falling back to raw when not smaller).
    pub compression: Compression,
    /// Number of page frames.
    pub max_mapnr: u64,
    /// Page frame ranges `[start, end)` that are RAM (1st bitmap).
    pub ram: Vec<(u64, u64)>,
    /// Dumped pages (2nd bitmap) and their contents; RAM pfns missing here
    /// are excluded.
    pub pages: BTreeMap<u64, Vec<u8>>,
    /// Note segment copy (v4+).
    pub notes: Vec<u8>,
    /// VMCOREINFO text (a note for v4+, raw text for v3).
    pub vmcoreinfo: Option<String>,
    /// `dump_level`: bit 0 shares one zero page.
    pub dump_level: i32,
    /// Mark the dump incomplete and leave descriptors from this rank on zero.
    pub incomplete_from: Option<usize>,
    /// `utsname.release`.
    pub release: String,
    /// `phys_base`.
    pub phys_base: u64,
}

impl Default for KdumpBuilder {
    fn default() -> Self {
        KdumpBuilder {
            signature: *b"KDUMP   ",
            header_version: 6,
            endian: Endian::Little,
            block_size: 4096,
            compression: Compression::Zlib,
            max_mapnr: 0,
            ram: Vec::new(),
            pages: BTreeMap::new(),
            notes: Vec::new(),
            vmcoreinfo: None,
            dump_level: 1,
            incomplete_from: None,
            release: "6.1.0-test".into(),
            phys_base: 0x1000000,
        }
    }
}

/// Compress one page with `c`; `None` when the result is not smaller.
pub fn compress_page(c: Compression, page: &[u8]) -> Option<(Vec<u8>, u32)> {
    use std::io::Write;
    let (out, flag) = match c {
        Compression::None => return None,
        Compression::Zlib => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(page).ok()?;
            (e.finish().ok()?, 0x1)
        }
        Compression::Lzo => (lzokay_native::compress(page).ok()?, 0x2),
        Compression::Snappy => (snap::raw::Encoder::new().compress_vec(page).ok()?, 0x4),
        Compression::Zstd => (zstd::bulk::compress(page, 1).ok()?, 0x20),
    };
    (out.len() < page.len()).then_some((out, flag))
}

impl KdumpBuilder {
    fn put32(&self, v: &mut [u8], off: usize, x: u32) {
        let b = match self.endian {
            Endian::Little => x.to_le_bytes(),
            Endian::Big => x.to_be_bytes(),
        };
        v[off..off + 4].copy_from_slice(&b);
    }

    fn put64(&self, v: &mut [u8], off: usize, x: u64) {
        let b = match self.endian {
            Endian::Little => x.to_le_bytes(),
            Endian::Big => x.to_be_bytes(),
        };
        v[off..off + 8].copy_from_slice(&b);
    }

    /// Write the file.
    pub fn build(&self) -> Vec<u8> {
        let bs = self.block_size as usize;
        let v6 = self.header_version >= 6;
        // Notes and VMCOREINFO after the 104-byte sub-header.
        let mut notes = self.notes.clone();
        let mut vmci_at = None;
        if let Some(text) = &self.vmcoreinfo {
            if self.header_version >= 4 {
                // desc offset inside the note: 12-byte header + "VMCOREINFO\0" padded to 12.
                vmci_at = Some((notes.len() + 24, text.len()));
                notes.extend(note(b"VMCOREINFO", 0, text.as_bytes()));
            } else {
                vmci_at = Some((notes.len(), text.len()));
                notes.extend(text.as_bytes());
            }
        }
        let sub_len = 104 + notes.len();
        let sub_hdr_size = sub_len.div_ceil(bs).max(1);
        let bitmap_half_blocks = (self.max_mapnr.div_ceil(8) as usize).div_ceil(bs).max(1);
        let bitmap_blocks = 2 * bitmap_half_blocks;
        let mut file = vec![0u8; bs * (1 + sub_hdr_size + bitmap_blocks)];

        // Main header.
        file[..8].copy_from_slice(&self.signature);
        self.put32(&mut file, 8, self.header_version as u32);
        let uts = [
            "Linux",
            "testhost",
            &self.release,
            "#1 SMP",
            "x86_64",
            "(none)",
        ];
        for (i, s) in uts.iter().enumerate() {
            file[12 + i * 65..12 + i * 65 + s.len()].copy_from_slice(s.as_bytes());
        }
        self.put64(&mut file, 408, 1_700_000_000);
        let mut status = match self.compression {
            Compression::None => 0,
            Compression::Zlib => 1,
            Compression::Lzo => 2,
            Compression::Snappy => 4,
            Compression::Zstd => 0x20,
        };
        if self.incomplete_from.is_some() {
            status |= 0x8;
        }
        self.put32(&mut file, 424, status);
        self.put32(&mut file, 428, self.block_size);
        self.put32(&mut file, 432, sub_hdr_size as u32);
        self.put32(&mut file, 436, bitmap_blocks as u32);
        self.put32(&mut file, 440, self.max_mapnr.min(u32::MAX as u64) as u32);
        self.put32(&mut file, 460, 2);

        // Sub-header.
        let s = bs;
        self.put64(&mut file, s, self.phys_base);
        self.put32(&mut file, s + 8, self.dump_level as u32);
        if let Some((at, len)) = vmci_at {
            self.put64(&mut file, s + 32, (s + 104 + at) as u64);
            self.put64(&mut file, s + 40, len as u64);
        }
        if self.header_version >= 4 {
            self.put64(&mut file, s + 48, (s + 104) as u64);
            self.put64(&mut file, s + 56, notes.len() as u64);
        }
        if v6 {
            self.put64(&mut file, s + 96, self.max_mapnr);
        }
        file[s + 104..s + 104 + notes.len()].copy_from_slice(&notes);

        // Bitmaps.
        let bm1 = bs * (1 + sub_hdr_size);
        let bm2 = bm1 + bitmap_half_blocks * bs;
        for &(a, b) in &self.ram {
            for pfn in a..b {
                file[bm1 + (pfn / 8) as usize] |= 1 << (pfn % 8);
            }
        }
        for &pfn in self.pages.keys() {
            file[bm2 + (pfn / 8) as usize] |= 1 << (pfn % 8);
        }

        // Descriptors and data.
        let desc_off = file.len();
        let ndesc = self.pages.len();
        let mut data = Vec::new();
        let data_start = desc_off + ndesc * 24;
        let share_zero = self.dump_level & 1 != 0;
        if share_zero {
            data.extend(vec![0u8; bs]);
        }
        let mut descs = vec![0u8; ndesc * 24];
        for (rank, page) in self.pages.values().enumerate() {
            let (offset, size, flags) = if share_zero && page.iter().all(|&b| b == 0) {
                (data_start as u64, bs as u32, 0u32)
            } else {
                let at = (data_start + data.len()) as u64;
                match compress_page(self.compression, page) {
                    Some((c, flag)) => {
                        data.extend(&c);
                        (at, c.len() as u32, flag)
                    }
                    None => {
                        data.extend(page);
                        (at, page.len() as u32, 0)
                    }
                }
            };
            if self.incomplete_from.is_some_and(|n| rank >= n) {
                continue;
            }
            self.put64(&mut descs, rank * 24, offset);
            self.put32(&mut descs, rank * 24 + 8, size);
            self.put32(&mut descs, rank * 24 + 12, flags);
        }
        file.extend(descs);
        file.extend(data);
        file
    }
}

/// Deterministic page contents for tests: distinct per pfn, compressible.
pub fn test_page(pfn: u64, size: usize) -> Vec<u8> {
    let mut x = (pfn as u32).wrapping_mul(2654435761).wrapping_add(1);
    (0..size)
        .map(|i| {
            if i % 64 < 40 {
                (pfn as u8).wrapping_add((i / 64) as u8)
            } else {
                x = x.wrapping_mul(1103515245).wrapping_add(12345);
                (x >> 24) as u8
            }
        })
        .collect()
}
