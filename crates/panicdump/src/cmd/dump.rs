//! `panicdump dump`: filter and compress a crash dump, like makedumpfile.
//!
//! The output is written as `OUT.incomplete` and renamed to `OUT` only once
//! complete and synced; a failed or killed run leaves `OUT.incomplete`
//! (kdump header flagged incomplete) and never a file under `OUT`. `OUT` of
//! `-` streams the makedumpfile flattened format to standard output.

use crate::kernel;
use anyhow::{bail, Context, Result};
use dumpwrite::{
    Compression, DumpLevel, FlatSink, IncompleteFile, KeepAll, Options, OutputFormat, PageFilter,
    Progress, Summary,
};
use std::io::{BufWriter, IsTerminal};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Output container of `panicdump dump`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    /// makedumpfile's kdump-compressed format (crash, drgn, makedumpfile read it).
    Kdump,
    /// An ELF core file, uncompressed (`makedumpfile -E`).
    Elf,
}

/// Page compression of `panicdump dump`.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CompressArg {
    /// zstd level 1 (`makedumpfile -z`).
    Zstd,
    /// zlib level 1 (`makedumpfile -c`).
    Zlib,
    /// LZO1X-1 (`makedumpfile -l`).
    Lzo,
    /// snappy (`makedumpfile -p`).
    Snappy,
    /// No compression.
    None,
}

impl From<CompressArg> for Compression {
    fn from(c: CompressArg) -> Compression {
        match c {
            CompressArg::Zstd => Compression::Zstd,
            CompressArg::Zlib => Compression::Zlib,
            CompressArg::Lzo => Compression::Lzo,
            CompressArg::Snappy => Compression::Snappy,
            CompressArg::None => Compression::None,
        }
    }
}

/// Exit status when the output is complete but some source pages were
/// unreadable: scripts must be able to tell a partial dump from a good one.
pub const EXIT_PAGES_MISSING: u8 = 2;

/// Arguments of `panicdump dump`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Exit status: 0 the dump is complete; 1 error, nothing \
    written under the output name; 2 the dump was written but some source pages \
    could not be read (they are marked missing in it and listed on stderr).")]
pub struct DumpArgs {
    /// The source dump: /proc/vmcore, or any dump panicdump reads (ELF,
    /// kdump-compressed, flattened), to re-filter or re-compress it.
    pub source: PathBuf,
    /// The output file; `-` writes a flattened stream to standard output
    /// (`makedumpfile -R OUT < stream` rebuilds the file).
    pub out: PathBuf,
    /// Dump level, makedumpfile's `-d`: OR of 1 zero pages, 2 cache, 4 cache
    /// with private data, 8 user pages, 16 free pages.
    #[arg(short = 'd', long = "dump-level", default_value_t = 31,
          value_parser = clap::value_parser!(u8).range(0..=31))]
    pub level: u8,
    /// Page compression (kdump-compressed output).
    #[arg(long = "compress", value_enum, default_value_t = CompressArg::Zstd)]
    pub compress: CompressArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Kdump)]
    pub format: FormatArg,
    /// Write the makedumpfile flattened format (implied by OUT `-`).
    #[arg(short = 'F', long)]
    pub flatten: bool,
    /// Threads reading and compressing pages, the one writing the output
    /// included (default: all CPUs).
    #[arg(short = 'j', long = "threads")]
    pub threads: Option<usize>,
    /// Overwrite OUT if it exists.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub no_progress: bool,
}

/// Run `panicdump dump`.
pub fn run(args: DumpArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let to_stdout = args.out.as_os_str() == "-";
    if to_stdout && std::io::stdout().is_terminal() {
        bail!("refusing to write a dump to a terminal: redirect standard output (OUT `-`)");
    }
    if !to_stdout && !args.force && args.out.exists() {
        bail!("{} exists (use --force to overwrite)", args.out.display());
    }
    if args.format == FormatArg::Elf
        && !matches!(args.compress, CompressArg::Zstd | CompressArg::None)
    {
        bail!("--compress applies to kdump-compressed output only (ELF is uncompressed)");
    }
    let dump = kernel::open_dump(&args.source)?;
    let level = DumpLevel::new(args.level)?;
    let compression = if args.format == FormatArg::Elf {
        Compression::None
    } else {
        args.compress.into()
    };
    let threads = args
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);

    // The kernel view: utsname for the header, struct page for levels > 1.
    let kmem = kernel::kernel_memory(&dump);
    let uts = kernel::header_utsname(&dump, kmem.as_ref().ok());
    let mut struct_filter = kernel::struct_page_filter(&kmem, args.level)?;
    for n in struct_filter.iter().flat_map(|f| f.notes()) {
        eprintln!("panicdump: note: {n}");
    }
    let mut keep_all = KeepAll;
    let filter: &mut dyn PageFilter = match struct_filter.as_mut() {
        Some(f) => f,
        None => &mut keep_all,
    };

    let opts = Options {
        format: match args.format {
            FormatArg::Kdump => OutputFormat::Kdump,
            FormatArg::Elf => OutputFormat::Elf,
        },
        compression,
        level,
        threads,
        utsname: Some(uts),
        release_source_pages: true,
    };

    let bar = progress_bar(args.no_progress);
    let mut on_progress = |p: Progress| {
        if let Some(b) = &bar {
            b.set_length(p.total_pfns);
            b.set_position(p.done_pfns);
            b.set_message(human(p.bytes_out));
        }
    };

    let summary = if to_stdout {
        let stdout = std::io::stdout().lock();
        let mut sink = FlatSink::new(BufWriter::with_capacity(1 << 20, stdout));
        dumpwrite::write_dump(&dump, filter, &opts, &mut sink, &mut on_progress)
            .context("writing the flattened stream to standard output")?
    } else {
        write_file(&args, &dump, filter, &opts, &mut on_progress)?
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    print_summary(&args, &opts, &summary, started.elapsed());
    if let Some(f) = &struct_filter {
        let st = f.stats();
        eprintln!(
            "  excluded by type: {} free, {} cache, {} cache with private data, {} user, {} other (poisoned, offline, unaccepted)",
            st.free,
            st.cache,
            st.cache_private,
            st.user,
            st.hwpoison + st.offline + st.unaccepted
        );
    }
    if summary.unreadable_pages > 0 {
        eprintln!(
            "panicdump: warning: {} page(s) could not be read from the source \
             (first pfns: {}); they are marked missing in the output",
            summary.unreadable_pages,
            summary
                .unreadable_sample
                .iter()
                .map(|p| format!("{p:#x}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(ExitCode::from(EXIT_PAGES_MISSING));
    }
    Ok(ExitCode::SUCCESS)
}

fn write_file(
    args: &DumpArgs,
    dump: &dumpfile::Dump,
    filter: &mut dyn PageFilter,
    opts: &Options,
    on_progress: &mut dyn FnMut(Progress),
) -> Result<Summary> {
    let (tmp, file_sink) = IncompleteFile::create(&args.out)
        .with_context(|| format!("cannot create {}.incomplete", args.out.display()))?;
    let tmp_path = tmp.tmp_path().to_path_buf();
    let fail = |e: dumpwrite::WriteError| {
        let hint = if e.is_disk_full() { " (disk full)" } else { "" };
        anyhow::Error::new(e).context(format!(
            "dump not written{hint}; the partial output is left in {} (flagged incomplete)",
            tmp_path.display()
        ))
    };
    let summary = if args.flatten {
        let file = BufWriter::with_capacity(1 << 20, file_sink.into_file());
        let mut sink = FlatSink::new(file);
        let s = dumpwrite::write_dump(dump, filter, opts, &mut sink, on_progress).map_err(fail)?;
        let file = sink
            .into_inner()
            .into_inner()
            .map_err(|e| e.into_error())
            .with_context(|| format!("writing {}", tmp_path.display()))?;
        file.sync_all()
            .with_context(|| format!("syncing {}", tmp_path.display()))?;
        s
    } else {
        let mut sink = file_sink;
        dumpwrite::write_dump(dump, filter, opts, &mut sink, on_progress).map_err(fail)?
    };
    tmp.commit()
        .with_context(|| format!("renaming {} to {}", tmp_path.display(), args.out.display()))?;
    Ok(summary)
}

fn progress_bar(disabled: bool) -> Option<indicatif::ProgressBar> {
    if disabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let b = indicatif::ProgressBar::new(0);
    b.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {percent:>3}% of page frames, {msg} written, eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    Some(b)
}

fn human(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

fn print_summary(args: &DumpArgs, opts: &Options, s: &Summary, took: Duration) {
    let out: &Path = &args.out;
    let what = match opts.format {
        OutputFormat::Kdump => format!("kdump-compressed, {}", opts.compression),
        OutputFormat::Elf => "ELF".to_string(),
    };
    let flat = if args.flatten || out.as_os_str() == "-" {
        ", flattened"
    } else {
        ""
    };
    let secs = took.as_secs_f64().max(1e-6);
    eprintln!(
        "panicdump dump: {} -> {} ({what}{flat}, -d {}, {} thread{})",
        args.source.display(),
        if out.as_os_str() == "-" {
            "stdout".into()
        } else {
            out.display().to_string()
        },
        opts.level.0,
        opts.threads,
        if opts.threads == 1 { "" } else { "s" }
    );
    eprintln!(
        "  pages: {} RAM; excluded {} by type, {} zero{}, {} already excluded in the source; \
         written {} ({} compressed){}",
        s.ram_pages,
        s.filtered_pages,
        s.zero_pages,
        if opts.format == OutputFormat::Kdump {
            " (shared zero page)"
        } else {
            ""
        },
        s.source_excluded_pages,
        s.data_pages,
        s.compressed_pages,
        if s.unreadable_pages > 0 {
            format!(", {} unreadable", s.unreadable_pages)
        } else {
            String::new()
        }
    );
    eprintln!(
        "  {} of pages read, {} written (ratio {:.1}), {:.2} s, {}/s",
        human(s.bytes_in),
        human(s.bytes_out),
        s.bytes_in as f64 / s.bytes_out.max(1) as f64,
        secs,
        human((s.bytes_in as f64 / secs) as u64)
    );
}
