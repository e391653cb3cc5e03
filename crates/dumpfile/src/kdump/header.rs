//! `disk_dump_header` and `kdump_sub_header` (makedumpfile diskdump_mod.h).
//!
//! Only the 64-bit layout is decoded; its byte order is detected from the
//! plausibility of `header_version` and `block_size`, so big-endian dumps
//! read too. Sub-header fields appear with later `header_version`s and are
//! `None` when the version predates them or the sub-header is cut short.

use crate::endian::Endian;
use crate::error::DumpError;
use serde::Serialize;

/// Size of `disk_dump_header` on 64-bit machines.
pub(crate) const DISK_DUMP_HEADER_SIZE: usize = 464;
/// Size of `kdump_sub_header` on 64-bit machines (version 6).
pub(crate) const SUB_HEADER_SIZE: usize = 104;

/// `DUMP_DH_COMPRESSED_ZLIB`.
pub const DUMP_DH_COMPRESSED_ZLIB: u32 = 0x1;
/// `DUMP_DH_COMPRESSED_LZO`.
pub const DUMP_DH_COMPRESSED_LZO: u32 = 0x2;
/// `DUMP_DH_COMPRESSED_SNAPPY`.
pub const DUMP_DH_COMPRESSED_SNAPPY: u32 = 0x4;
/// `DUMP_DH_COMPRESSED_INCOMPLETE`: the dump stopped early (disk full).
pub const DUMP_DH_COMPRESSED_INCOMPLETE: u32 = 0x8;
/// `DUMP_DH_EXCLUDED_VMEMMAP`: unused vmemmap pages were excluded (`-e`).
pub const DUMP_DH_EXCLUDED_VMEMMAP: u32 = 0x10;
/// `DUMP_DH_COMPRESSED_ZSTD`.
pub const DUMP_DH_COMPRESSED_ZSTD: u32 = 0x20;
/// Every page-compression bit.
pub(crate) const COMPRESSION_MASK: u32 = DUMP_DH_COMPRESSED_ZLIB
    | DUMP_DH_COMPRESSED_LZO
    | DUMP_DH_COMPRESSED_SNAPPY
    | DUMP_DH_COMPRESSED_ZSTD;

/// Page compression of a kdump-compressed dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Pages stored raw.
    None,
    /// zlib (`-c`).
    Zlib,
    /// LZO1X (`-l`).
    Lzo,
    /// snappy (`-p`).
    Snappy,
    /// zstd (`-z`).
    Zstd,
}

impl Compression {
    /// The method named by header `status` bits.
    pub fn from_status(status: u32) -> Compression {
        if status & DUMP_DH_COMPRESSED_ZLIB != 0 {
            Compression::Zlib
        } else if status & DUMP_DH_COMPRESSED_LZO != 0 {
            Compression::Lzo
        } else if status & DUMP_DH_COMPRESSED_SNAPPY != 0 {
            Compression::Snappy
        } else if status & DUMP_DH_COMPRESSED_ZSTD != 0 {
            Compression::Zstd
        } else {
            Compression::None
        }
    }

    /// Short lowercase name.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "uncompressed",
            Compression::Zlib => "zlib",
            Compression::Lzo => "lzo",
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// `struct new_utsname` of the dumped kernel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Utsname {
    /// `uname -s`.
    pub sysname: String,
    /// `uname -n`.
    pub nodename: String,
    /// `uname -r`.
    pub release: String,
    /// `uname -v`.
    pub version: String,
    /// `uname -m`.
    pub machine: String,
    /// NIS domain name.
    pub domainname: String,
}

/// The headers of a kdump-compressed dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KdumpHeader {
    /// `"KDUMP   "` or `"DISKDUMP"`.
    pub signature: String,
    /// `header_version` (makedumpfile writes 6).
    pub header_version: i32,
    /// Byte order of the header (the dumped machine's).
    pub endian: crate::endian::Endian,
    /// Kernel identity.
    pub utsname: Utsname,
    /// Dump time, seconds since the epoch.
    pub timestamp_sec: i64,
    /// Dump time, microseconds part.
    pub timestamp_usec: i64,
    /// `DUMP_DH_*` flags.
    pub status: u32,
    /// Page compression named by `status`.
    pub compression: Compression,
    /// `DUMP_DH_COMPRESSED_INCOMPLETE` is set.
    pub incomplete: bool,
    /// `DUMP_DH_EXCLUDED_VMEMMAP` is set.
    pub excluded_vmemmap: bool,
    /// Block (= page) size in bytes.
    pub block_size: u32,
    /// Sub-header plus note copy, in blocks.
    pub sub_hdr_size: u32,
    /// Both bitmaps together, in blocks.
    pub bitmap_blocks: u32,
    /// The 32-bit `max_mapnr` field of the main header.
    pub max_mapnr_32: u32,
    /// Effective number of page frames (from `max_mapnr_64` when present).
    pub max_mapnr: u64,
    /// `nr_cpus`.
    pub nr_cpus: i32,
    /// Sub-header `phys_base`.
    pub phys_base: Option<u64>,
    /// Sub-header `dump_level` (version ≥ 1).
    pub dump_level: Option<i32>,
    /// Sub-header `split` (version ≥ 2).
    pub split: Option<i32>,
    /// First pfn in this file of a split dump (version ≥ 2; 64-bit field from 6).
    pub start_pfn: Option<u64>,
    /// End pfn of a split dump.
    pub end_pfn: Option<u64>,
    /// File offset of the VMCOREINFO text (version ≥ 3).
    pub offset_vmcoreinfo: Option<u64>,
    /// Size of the VMCOREINFO text.
    pub size_vmcoreinfo: Option<u64>,
    /// File offset of the ELF note copy (version ≥ 4).
    pub offset_note: Option<u64>,
    /// Size of the note copy.
    pub size_note: Option<u64>,
    /// File offset of erase info (version ≥ 5).
    pub offset_eraseinfo: Option<u64>,
    /// Size of erase info.
    pub size_eraseinfo: Option<u64>,
    /// `max_mapnr_64` (version ≥ 6).
    pub max_mapnr_64: Option<u64>,
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

fn plausible(e: Endian, b: &[u8]) -> bool {
    let version = e.u32(b, 8).unwrap_or(0) as i32;
    let bs = e.u32(b, 428).unwrap_or(0);
    (0..1 << 16).contains(&version) && bs.is_power_of_two() && (512..=1 << 20).contains(&bs)
}

/// Machines whose 32-bit header layout differs from the one decoded here.
fn is_32bit_machine(m: &str) -> bool {
    matches!(
        m,
        "i386" | "i486" | "i586" | "i686" | "arm" | "ppc" | "mips" | "sh"
    ) || m.starts_with("armv")
}

impl KdumpHeader {
    /// Parse the main header (`b` holds at least its first 464 bytes).
    pub(crate) fn parse(b: &[u8], warnings: &mut Vec<String>) -> Result<KdumpHeader, DumpError> {
        let len = b.len() as u64;
        if b.len() < DISK_DUMP_HEADER_SIZE {
            return Err(DumpError::truncated(
                "kdump disk_dump_header",
                0,
                DISK_DUMP_HEADER_SIZE as u64,
                len,
            ));
        }
        let e = if plausible(Endian::Little, b) {
            Endian::Little
        } else if plausible(Endian::Big, b) {
            Endian::Big
        } else {
            let bs = Endian::Little.u32(b, 428).unwrap_or(0);
            return Err(DumpError::corrupt(
                "kdump header block_size / header_version",
                428,
                format!("block_size {bs} is not a power of two between 512 and 1 MiB in either byte order"),
            ));
        };
        let signature = String::from_utf8_lossy(&b[..8]).into_owned();
        let uts = |i: usize| cstr(&b[12 + i * 65..12 + (i + 1) * 65]);
        let utsname = Utsname {
            sysname: uts(0),
            nodename: uts(1),
            release: uts(2),
            version: uts(3),
            machine: uts(4),
            domainname: uts(5),
        };
        if is_32bit_machine(&utsname.machine) {
            return Err(DumpError::Unsupported(format!(
                "kdump-compressed dump of a 32-bit machine ({}): only the 64-bit header layout is read",
                utsname.machine
            )));
        }
        // Fields below are inside the 464 bytes checked above.
        let u32_at = |off: usize| e.u32(b, off).unwrap_or(0);
        let status = u32_at(424);
        let header_version = u32_at(8) as i32;
        let h = KdumpHeader {
            signature,
            header_version,
            endian: e,
            utsname,
            timestamp_sec: e.u64(b, 408).unwrap_or(0) as i64,
            timestamp_usec: e.u64(b, 416).unwrap_or(0) as i64,
            status,
            compression: Compression::from_status(status),
            incomplete: status & DUMP_DH_COMPRESSED_INCOMPLETE != 0,
            excluded_vmemmap: status & DUMP_DH_EXCLUDED_VMEMMAP != 0,
            block_size: u32_at(428),
            sub_hdr_size: u32_at(432),
            bitmap_blocks: u32_at(436),
            max_mapnr_32: u32_at(440),
            max_mapnr: u64::from(u32_at(440)),
            nr_cpus: u32_at(460) as i32,
            phys_base: None,
            dump_level: None,
            split: None,
            start_pfn: None,
            end_pfn: None,
            offset_vmcoreinfo: None,
            size_vmcoreinfo: None,
            offset_note: None,
            size_note: None,
            offset_eraseinfo: None,
            size_eraseinfo: None,
            max_mapnr_64: None,
        };
        if (status & COMPRESSION_MASK).count_ones() > 1 {
            warnings.push(format!(
                "kdump header status {status:#x} names several compression methods"
            ));
        }
        Ok(h)
    }

    /// True for the `"KDUMP   "` signature (which has a sub-header).
    pub fn is_kdump(&self) -> bool {
        self.signature == "KDUMP   "
    }

    /// Apply the sub-header (`s` may be cut short) and settle `max_mapnr`.
    pub(crate) fn read_sub(&mut self, s: &[u8], warnings: &mut Vec<String>) {
        if self.is_kdump() && self.sub_hdr_size > 0 {
            self.parse_sub(s, warnings);
        }
        let h = self;
        if let Some(m) = h.max_mapnr_64.filter(|&m| m != 0) {
            if m < u64::from(h.max_mapnr_32) {
                warnings.push(format!(
                    "max_mapnr_64 {m:#x} is smaller than the 32-bit max_mapnr {:#x}; using max_mapnr_64",
                    h.max_mapnr_32
                ));
            }
            h.max_mapnr = m;
        }
    }

    fn parse_sub(&mut self, s: &[u8], warnings: &mut Vec<String>) {
        let e = self.endian;
        let v = self.header_version;
        let need = match v {
            i32::MIN..=0 => 8,
            1 => 12,
            2 => 32,
            3 => 48,
            4 => 64,
            5 => 80,
            _ => SUB_HEADER_SIZE,
        };
        if s.len() < need {
            warnings.push(format!(
                "kdump sub-header cut short ({} of {need} bytes for header version {v}); missing fields ignored",
                s.len()
            ));
        }
        self.phys_base = e.u64(s, 0);
        if v >= 1 {
            self.dump_level = e.u32(s, 8).map(|x| x as i32);
        }
        if v >= 2 {
            self.split = e.u32(s, 12).map(|x| x as i32);
            self.start_pfn = e.u64(s, 16);
            self.end_pfn = e.u64(s, 24);
        }
        if v >= 3 {
            self.offset_vmcoreinfo = e.u64(s, 32);
            self.size_vmcoreinfo = e.u64(s, 40);
        }
        if v >= 4 {
            self.offset_note = e.u64(s, 48);
            self.size_note = e.u64(s, 56);
        }
        if v >= 5 {
            self.offset_eraseinfo = e.u64(s, 64);
            self.size_eraseinfo = e.u64(s, 72);
        }
        if v >= 6 {
            // The 64-bit pfn fields supersede the obsolete `unsigned long` ones.
            if let Some(sp) = e.u64(s, 80) {
                self.start_pfn = Some(sp);
            }
            if let Some(ep) = e.u64(s, 88) {
                self.end_pfn = Some(ep);
            }
            self.max_mapnr_64 = e.u64(s, 96);
        }
    }

    /// ELF machine number implied by `utsname.machine`, for register decoding.
    pub fn elf_machine(&self) -> Option<u16> {
        match self.utsname.machine.as_str() {
            "x86_64" => Some(crate::notes::EM_X86_64),
            "aarch64" | "arm64" => Some(crate::notes::EM_AARCH64),
            "ppc64" | "ppc64le" => Some(21),
            "s390x" => Some(22),
            "riscv64" => Some(243),
            _ => None,
        }
    }
}
