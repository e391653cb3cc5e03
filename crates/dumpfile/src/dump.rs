//! The single entry point: open any supported dump and get its memory and
//! metadata.

use crate::elf::{self, ElfDump, ElfOrigin};
use crate::endian::Endian;
use crate::error::DumpError;
use crate::flat::{self, FlatIndex};
use crate::kdump::header::{Compression, KdumpHeader};
use crate::kdump::{self, KdumpDump};
use crate::notes::{CpuState, Note, NoteIter, NoteSummary};
use crate::phys::{PageState, PhysRange, PhysicalMemory, ReadError};
use crate::source::{ByteSource, SourceError};
use crate::vmcoreinfo::VmcoreInfo;
use serde::Serialize;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// Who wrote the dump, when it can be told from the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    /// The crash kernel's `/proc/vmcore`, copied as is.
    Kernel,
    /// QEMU `dump-guest-memory`.
    Qemu,
    /// makedumpfile.
    Makedumpfile,
    /// panicdump's own writer (`panicdump dump`): a kdump-compressed file
    /// whose notes include a `PANICDUMP` note (see [`PANICDUMP_NOTE_NAME`]).
    Panicdump,
    /// Not recognisable.
    Unknown,
}

/// Name of the ELF note `panicdump dump` appends to the notes of the
/// kdump-compressed files it writes, naming itself as their creator (the
/// format has no creator field). Readers skip notes they do not know.
pub const PANICDUMP_NOTE_NAME: &[u8] = b"PANICDUMP";

/// The container of a dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "container", rename_all = "snake_case")]
pub enum Container {
    /// An ELF core file.
    Elf {
        /// 64-bit ELF (`ELFCLASS64`).
        elf64: bool,
        /// Byte order.
        endian: Endian,
    },
    /// makedumpfile's kdump-compressed format (or the old diskdump).
    KdumpCompressed {
        /// Page compression named by the header.
        compression: Compression,
        /// `"DISKDUMP"` signature rather than `"KDUMP   "`.
        diskdump: bool,
    },
}

/// The detected format of a dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub struct Format {
    /// The container.
    #[serde(flatten)]
    pub container: Container,
    /// Read through a flattened stream (`makedumpfile -F`, QEMU `kdump-*`).
    pub flattened: bool,
    /// Who wrote it.
    pub origin: Origin,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.flattened {
            f.write_str("flattened ")?;
        }
        match self.container {
            Container::Elf { elf64, endian } => {
                f.write_str("ELF vmcore")?;
                if !elf64 {
                    f.write_str(" (ELF32)")?;
                }
                if endian == Endian::Big {
                    f.write_str(" (big-endian)")?;
                }
            }
            Container::KdumpCompressed {
                compression,
                diskdump,
            } => {
                f.write_str(if diskdump {
                    "diskdump"
                } else {
                    "kdump-compressed"
                })?;
                write!(f, " ({compression})")?;
            }
        }
        match self.origin {
            Origin::Kernel => f.write_str(", kernel /proc/vmcore"),
            Origin::Qemu => f.write_str(", QEMU dump-guest-memory"),
            Origin::Makedumpfile => f.write_str(", makedumpfile"),
            Origin::Panicdump => f.write_str(", panicdump"),
            Origin::Unknown => Ok(()),
        }
    }
}

/// How the page frames below `max_pfn` are stored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct PageCounts {
    /// One past the highest page frame described.
    pub max_pfn: u64,
    /// Pages stored with data.
    pub present: u64,
    /// Pages stored as the shared zero page (kdump-compressed only).
    pub zero: u64,
    /// RAM pages filtered out of the dump.
    pub excluded: u64,
    /// Page frames with no RAM.
    pub holes: u64,
}

/// The physical memory of whichever reader opened the dump.
#[derive(Debug)]
enum Memory {
    Elf(elf::ElfMemory),
    Kdump(kdump::KdumpMemory),
}

impl PhysicalMemory for Memory {
    fn page_size(&self) -> u64 {
        match self {
            Memory::Elf(m) => m.page_size(),
            Memory::Kdump(m) => m.page_size(),
        }
    }
    fn ranges(&self) -> &[PhysRange] {
        match self {
            Memory::Elf(m) => m.ranges(),
            Memory::Kdump(m) => m.ranges(),
        }
    }
    fn read_phys(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        match self {
            Memory::Elf(m) => m.read_phys(addr, buf),
            Memory::Kdump(m) => m.read_phys(addr, buf),
        }
    }
    fn page_state(&self, pfn: u64) -> PageState {
        match self {
            Memory::Elf(m) => m.page_state(pfn),
            Memory::Kdump(m) => m.page_state(pfn),
        }
    }
    fn max_pfn(&self) -> u64 {
        match self {
            Memory::Elf(m) => m.max_pfn(),
            Memory::Kdump(m) => m.max_pfn(),
        }
    }
}

/// An open crash dump.
#[derive(Debug)]
pub struct Dump {
    source: Arc<ByteSource>,
    format: Format,
    memory: Memory,
    notes: NoteSummary,
    kdump_header: Option<KdumpHeader>,
    elf_machine: Option<u16>,
    direct_map_offset: Option<u64>,
    note_segments: Vec<(u64, usize)>,
    note_endian: Endian,
    warnings: Vec<String>,
}

impl Dump {
    /// Open and map a dump file, detecting its format from its magic.
    pub fn open(path: &Path) -> Result<Dump, DumpError> {
        let src = ByteSource::open(path).map_err(|source| DumpError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Dump::from_source(src)
    }

    /// Open a dump file to be read with positioned reads, never mapped
    /// (see [`ByteSource::open_unmapped`]): for `/proc/vmcore`, whose mmap
    /// costs page tables for the whole dumped memory. Slower than
    /// [`Dump::open`] for ordinary files; flattened streams are refused.
    pub fn open_unmapped(path: &Path) -> Result<Dump, DumpError> {
        let src = ByteSource::open_unmapped(path).map_err(|source| DumpError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Dump::from_source(src)
    }

    /// Open a dump held in memory (tests, fuzzing).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Dump, DumpError> {
        Dump::from_source(ByteSource::from_bytes(bytes))
    }

    /// Open a dump from a byte source.
    pub fn from_source(src: ByteSource) -> Result<Dump, DumpError> {
        let mut warnings = Vec::new();
        let src = if flat::is_flattened(src.raw()) {
            let idx = FlatIndex::parse(src.raw(), &mut warnings)?;
            src.with_flat_index(idx)
        } else {
            src
        };
        if !src.is_in_memory() {
            let mut head = [0u8; 16];
            let n = src.len().min(16) as usize;
            if src.read_at(0, &mut head[..n]).is_ok() && flat::is_flattened(&head[..n]) {
                return Err(DumpError::UnknownFormat(
                    "a flattened (makedumpfile -F) stream must be mapped to be read; \
                     open it as an ordinary file"
                        .into(),
                ));
            }
        }
        let flattened = src.is_flattened();
        let src = Arc::new(src);
        let mut magic = [0u8; 8];
        let n = src.len().min(8) as usize;
        src.read_at(0, &mut magic[..n]).map_err(|e| match e {
            SourceError::Io { .. } => DumpError::Read {
                what: "file signature".into(),
                source: e,
            },
            SourceError::OutOfRange { .. } => {
                DumpError::truncated("file signature", 0, 8, src.len())
            }
        })?;
        if magic.starts_with(elf::ELF_MAGIC) {
            let d = elf::open(src.clone(), &mut warnings)?;
            Ok(Dump::from_elf(src, d, flattened, warnings))
        } else if &magic == b"KDUMP   " || &magic == b"DISKDUMP" {
            let d = kdump::open(src.clone(), &mut warnings)?;
            Ok(Dump::from_kdump(src, d, flattened, warnings))
        } else if n < 8 {
            Err(DumpError::truncated("file signature", 0, 8, src.len()))
        } else {
            Err(DumpError::UnknownFormat(format!(
                "{}signature {:02x?} is neither ELF, KDUMP, DISKDUMP nor makedumpfile",
                if flattened {
                    "flattened stream content: "
                } else {
                    ""
                },
                magic
            )))
        }
    }

    fn from_elf(
        source: Arc<ByteSource>,
        d: ElfDump,
        flattened: bool,
        warnings: Vec<String>,
    ) -> Dump {
        let origin = match d.origin {
            ElfOrigin::Kernel => Origin::Kernel,
            ElfOrigin::Qemu => Origin::Qemu,
            ElfOrigin::Makedumpfile => Origin::Makedumpfile,
            ElfOrigin::Unknown if flattened => Origin::Makedumpfile,
            ElfOrigin::Unknown => Origin::Unknown,
        };
        let direct_map_offset = d.direct_map_offset();
        Dump {
            note_segments: d.note_segments,
            note_endian: d.ident.endian,
            source,
            format: Format {
                container: Container::Elf {
                    elf64: d.ident.wide,
                    endian: d.ident.endian,
                },
                flattened,
                origin,
            },
            memory: Memory::Elf(d.memory),
            notes: d.notes,
            kdump_header: None,
            elf_machine: Some(d.machine),
            direct_map_offset,
            warnings,
        }
    }

    fn from_kdump(
        source: Arc<ByteSource>,
        d: KdumpDump,
        flattened: bool,
        warnings: Vec<String>,
    ) -> Dump {
        let h = &d.header;
        // QEMU leaves the utsname empty except `machine` and adds QEMU notes.
        let origin = if d.notes.qemu_notes > 0
            || (h.utsname.sysname.is_empty() && h.utsname.release.is_empty())
        {
            Origin::Qemu
        } else if h.is_kdump() {
            Origin::Makedumpfile
        } else {
            Origin::Unknown
        };
        let mut dump = Dump {
            note_segments: d.note_segment.into_iter().collect(),
            note_endian: h.endian,
            source,
            format: Format {
                container: Container::KdumpCompressed {
                    compression: h.compression,
                    diskdump: !h.is_kdump(),
                },
                flattened,
                origin,
            },
            elf_machine: h.elf_machine(),
            memory: Memory::Kdump(d.memory),
            notes: d.notes,
            kdump_header: Some(d.header),
            direct_map_offset: None,
            warnings,
        };
        // Same container as makedumpfile's; our writer leaves a note.
        if origin == Origin::Makedumpfile {
            let mut ours = false;
            dump.for_each_note(|n| ours |= n.name == PANICDUMP_NOTE_NAME);
            if ours {
                dump.format.origin = Origin::Panicdump;
            }
        }
        dump
    }

    /// The detected format.
    pub fn format(&self) -> Format {
        self.format
    }

    /// The dumped machine's physical memory.
    pub fn memory(&self) -> &dyn PhysicalMemory {
        &self.memory
    }

    /// VMCOREINFO, from its note (or the kdump sub-header copy).
    pub fn vmcoreinfo(&self) -> Option<&VmcoreInfo> {
        self.notes.vmcoreinfo.as_ref()
    }

    /// CPU states from the `NT_PRSTATUS` notes, in note order.
    pub fn cpus(&self) -> &[CpuState] {
        &self.notes.cpus
    }

    /// Call `f` with every ELF note of the dump, in file order: those of
    /// each `PT_NOTE`, or of the kdump sub-header's note copy. Malformed
    /// notes end a segment (as reported in [`Dump::warnings`]).
    pub fn for_each_note(&self, mut f: impl FnMut(&Note<'_>)) {
        let mut scratch = Vec::new();
        for &(off, len) in &self.note_segments {
            if let Ok(data) = self.source.get(off, len, &mut scratch) {
                for n in NoteIter::new(data, self.note_endian) {
                    f(&n);
                }
            }
        }
    }

    /// Number of notes read.
    pub fn note_count(&self) -> usize {
        self.notes.count
    }

    /// The headers of a kdump-compressed dump.
    pub fn kdump_header(&self) -> Option<&KdumpHeader> {
        self.kdump_header.as_ref()
    }

    /// ELF `e_machine` (derived from `utsname.machine` for kdump-compressed).
    pub fn elf_machine(&self) -> Option<u16> {
        self.elf_machine
    }

    /// `p_vaddr - p_paddr` of the first direct-map `PT_LOAD` (ELF only),
    /// i.e. `PAGE_OFFSET` as makedumpfile's `get_page_offset` finds it.
    pub fn direct_map_offset(&self) -> Option<u64> {
        self.direct_map_offset
    }

    /// How the page frames are stored. For kdump-compressed dumps this is
    /// bitmap popcounts plus one scan of the descriptor table.
    pub fn page_counts(&self) -> PageCounts {
        match &self.memory {
            Memory::Elf(m) => {
                let max_pfn = m.max_pfn();
                let (present, excluded) = m.count_pages();
                PageCounts {
                    max_pfn,
                    present,
                    zero: 0,
                    excluded,
                    holes: max_pfn.saturating_sub(present + excluded),
                }
            }
            Memory::Kdump(m) => {
                let (present, zero, excluded, holes) = m.count_pages();
                PageCounts {
                    max_pfn: m.max_mapnr(),
                    present,
                    zero,
                    excluded,
                    holes,
                }
            }
        }
    }

    /// Everything skipped or suspicious while opening, human readable.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The underlying byte source (the logical file).
    pub fn source(&self) -> &ByteSource {
        &self.source
    }
}
