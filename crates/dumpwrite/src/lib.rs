//! Writers for Linux crash dumps: what makedumpfile writes, from any dump
//! `dumpfile` reads.
//!
//! * kdump-compressed (header version 6) with zstd, zlib, LZO, snappy or no
//!   page compression, VMCOREINFO and the ELF notes in the sub-header, and
//!   the shared zero page;
//! * ELF (`makedumpfile -E` style: `PT_NOTE` plus one `PT_LOAD` per kept
//!   run, split at 256 or more excluded pages);
//! * either of them as a flattened stream ([`FlatSink`]) for pipes and ssh.
//!
//! Two passes: the first builds the bitmaps (one bit per page frame, so
//! `max_pfn / 4` bytes for both: 64 KiB per GiB of RAM is 16 MiB for a
//! 256 GiB machine, 256 MiB at 4 TiB), the second reads, compresses and
//! writes the kept pages through an ordered pipeline of worker threads with a
//! fixed pool of reused buffers (see `pipeline`), so memory does not grow
//! with the dump.
//!
//! Pages whose source cannot be read do not stop the run: they are counted
//! in [`Summary::unreadable_pages`]; in kdump-compressed output their
//! descriptor is left empty (offset 0, read back as "missing") and the header
//! keeps `DUMP_DH_COMPRESSED_INCOMPLETE`; in ELF output they are written as
//! zeros.

pub mod bitmap;
pub mod compress;
mod direct;
mod elf;
pub mod error;
pub mod kdump;
pub mod lzo;
mod pipeline;
pub mod select;
pub mod sink;
pub mod source;
pub mod structpage;

pub use bitmap::Bitmap;
pub use compress::{Compression, PageCompressor};
pub use error::WriteError;
pub use select::{DumpLevel, KeepAll, PageFilter};
pub use sink::{FileSink, FlatSink, IncompleteFile, Sink};
pub use source::SourceMeta;
pub use structpage::StructPageFilter;

use dumpfile::{Dump, PageState, PhysicalMemory, Utsname};

/// Source bytes read between two releases of the source mapping: bounds
/// the resident set an mmap'd source adds (see `source::Releaser`).
pub(crate) const RELEASE_EVERY: u64 = 4 << 20;

/// The container written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OutputFormat {
    /// makedumpfile's kdump-compressed format.
    #[default]
    Kdump,
    /// An ELF64 core file (uncompressed).
    Elf,
}

/// What to write.
#[derive(Clone, Debug)]
pub struct Options {
    /// Container.
    pub format: OutputFormat,
    /// Page compression (kdump-compressed only).
    pub compression: Compression,
    /// Dump level (`-d`).
    pub level: DumpLevel,
    /// Worker threads for reading and compressing (at least 1).
    pub threads: usize,
    /// `utsname` for the kdump header; from the source when `None`.
    pub utsname: Option<Utsname>,
    /// Drop source pages from the process's page tables as the run goes
    /// (set only when the source is an mmap'd file, e.g. via `Dump::open`).
    pub release_source_pages: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            format: OutputFormat::Kdump,
            compression: Compression::Zstd,
            level: DumpLevel(31),
            threads: 1,
            utsname: None,
            release_source_pages: false,
        }
    }
}

/// Progress of the second pass, reported once per batch.
#[derive(Clone, Copy, Debug, Default)]
pub struct Progress {
    /// Page frames processed.
    pub done_pfns: u64,
    /// Page frames in all.
    pub total_pfns: u64,
    /// Output bytes so far.
    pub bytes_out: u64,
}

/// What a run did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// One past the highest page frame.
    pub max_pfn: u64,
    /// Page frames backed by RAM in the source.
    pub ram_pages: u64,
    /// Pages already excluded in the source (re-filtering a filtered dump).
    pub source_excluded_pages: u64,
    /// Pages excluded by type (cache, user, free: levels 2/4/8/16).
    pub filtered_pages: u64,
    /// Zero pages (shared zero page in kdump output, excluded in ELF).
    pub zero_pages: u64,
    /// Pages written with their data.
    pub data_pages: u64,
    /// Of those, stored compressed.
    pub compressed_pages: u64,
    /// Pages whose source could not be read.
    pub unreadable_pages: u64,
    /// The first unreadable page frames (at most 16).
    pub unreadable_sample: Vec<u64>,
    /// Page bytes read from the source.
    pub bytes_in: u64,
    /// Size of the output.
    pub bytes_out: u64,
    /// The output is marked incomplete (unreadable pages).
    pub incomplete: bool,
}

impl Summary {
    fn note_unreadable(&mut self, pfn: u64) {
        self.unreadable_pages += 1;
        if self.unreadable_sample.len() < 16 {
            self.unreadable_sample.push(pfn);
        }
    }
}

/// The first pass: which frames exist and which are written.
#[derive(Debug)]
pub(crate) struct Plan {
    pub present: Bitmap,
    pub keep: Bitmap,
    pub filtered: u64,
    pub source_excluded: u64,
}

/// Build the bitmaps: `present` from the source's ranges, `keep` = present
/// minus pages the source lacks minus the filter. Like makedumpfile, a
/// range's last frame counts only when the range covers it to its end (a
/// partial first frame counts, its missing head reading as zeros).
pub(crate) fn plan(
    mem: &dyn PhysicalMemory,
    filter: &mut dyn PageFilter,
    release: &dyn Fn(),
) -> Result<Plan, WriteError> {
    let ps = mem.page_size();
    let max_pfn = mem.ranges().iter().map(|r| r.end / ps).max().unwrap_or(0);
    let mut present = Bitmap::new(max_pfn);
    for r in mem.ranges() {
        present.set_range(r.start / ps, r.end / ps);
    }
    let mut keep = present.clone();
    let mut source_excluded = 0;
    for pfn in present.ones(0, max_pfn) {
        if mem.page_state(pfn) == PageState::Excluded {
            keep.clear(pfn);
            source_excluded += 1;
        }
    }
    let mut filtered = 0;
    // 64 Ki frames per call: the filter reads 4 MiB of struct pages
    // through the source mapping, released after each chunk.
    const CHUNK: u64 = 1 << 16;
    let mut start = 0;
    while start < max_pfn {
        let end = (start + CHUNK).min(max_pfn);
        filtered += filter.filter(start, end, &mut keep)?;
        if filter.level_bits() != 0 {
            release();
        }
        start = end;
    }
    Ok(Plan {
        present,
        keep,
        filtered,
        source_excluded,
    })
}

/// The utsname of the dumped kernel as far as the dump itself tells.
pub fn source_utsname(dump: &Dump) -> Utsname {
    if let Some(h) = dump.kdump_header() {
        if !h.utsname.release.is_empty() {
            return h.utsname.clone();
        }
    }
    let machine = match dump.elf_machine() {
        Some(62) => "x86_64",
        Some(183) => "aarch64",
        Some(3) => "i686",
        Some(22) => "s390x",
        Some(21) => "ppc64le",
        Some(243) => "riscv64",
        _ => "",
    };
    Utsname {
        sysname: "Linux".into(),
        nodename: String::new(),
        release: dump
            .vmcoreinfo()
            .and_then(|v| v.osrelease())
            .unwrap_or("")
            .to_string(),
        version: String::new(),
        machine: machine.into(),
        domainname: String::new(),
    }
}

/// Write `dump` to `sink`: pass 1 builds the page bitmaps with `filter`,
/// pass 2 writes. `progress` is called after each batch of the second pass.
pub fn write_dump(
    dump: &Dump,
    filter: &mut dyn PageFilter,
    opts: &Options,
    sink: &mut dyn Sink,
    progress: &mut dyn FnMut(Progress),
) -> Result<Summary, WriteError> {
    select::check_filter(opts.level, &*filter)?;
    let mem = dump.memory();
    let ps = mem.page_size();
    if !(512..=(1 << 20)).contains(&ps) {
        return Err(WriteError::Unsupported(format!("page size {ps}")));
    }
    let mut meta = SourceMeta::from_dump(dump)?;
    if opts.format == OutputFormat::Kdump {
        kdump::add_creator_note(&mut meta);
    }
    let uts = opts.utsname.clone().unwrap_or_else(|| source_utsname(dump));
    let releaser = source::Releaser::new(dump.source(), opts.release_source_pages);
    let release = || releaser.all();
    let mut plan = plan(mem, filter, &release)?;
    let mut sum = match opts.format {
        OutputFormat::Kdump => {
            let pages = pipeline::Pages {
                mem,
                direct: direct::DirectPages::new(dump),
            };
            kdump::write(&pages, &plan, &meta, &uts, opts, sink, progress, &releaser)?
        }
        OutputFormat::Elf => elf::write(dump, &mut plan, &meta, opts, sink, progress, &release)?,
    };
    sum.source_excluded_pages = plan.source_excluded;
    release();
    Ok(sum)
}
