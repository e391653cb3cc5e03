//! `panicdump dmesg`: the kernel log stored in a dump.
//!
//! Default output is byte-for-byte what `makedumpfile --dump-dmesg` writes,
//! so scripts built around makedumpfile keep working.

use crate::kernel;
use anyhow::{Context, Result};
use kmsg::RenderOptions;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `panicdump dmesg`.
#[derive(clap::Args, Debug)]
pub struct DmesgArgs {
    /// The dump: /proc/vmcore, an ELF core (kdump or QEMU), kdump-compressed
    /// or flattened (`makedumpfile -F`, QEMU `kdump-*`).
    pub file: PathBuf,
    /// Print one JSON object per record (JSON Lines): seq, ts_nsec, level,
    /// facility, caller, text, dev_info.
    #[arg(long)]
    pub json: bool,
    /// Only records at this level or more severe: a number 0-7 or a name
    /// (emerg, alert, crit, err, warn, notice, info, debug).
    #[arg(long, short = 'l', value_parser = parse_level)]
    pub level: Option<u8>,
    /// Show the caller column `[T<pid>]`/`[C<cpu>]` (makedumpfile ≥ 1.7.5 style).
    #[arg(long)]
    pub caller: bool,
    /// Prefix each record with its syslog `<N>` (facility and level), like `dmesg -r`.
    #[arg(long)]
    pub show_level: bool,
    /// Print the text only: no timestamps, bytes unescaped.
    #[arg(long, conflicts_with_all = ["json", "caller", "show_level"])]
    pub raw: bool,
    /// Only the last N records.
    #[arg(long, short = 'n', value_name = "N")]
    pub tail: Option<usize>,
    /// Write the log to FILE (atomically: a temporary file renamed when
    /// complete) instead of standard output.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// Parse a level given as a number or a syslog name.
fn parse_level(s: &str) -> Result<u8, String> {
    const NAMES: [&str; 8] = [
        "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
    ];
    if let Ok(n) = s.parse::<u8>() {
        if n <= 7 {
            return Ok(n);
        }
    }
    let s = s.to_ascii_lowercase();
    let s = match s.as_str() {
        "error" => "err",
        "warning" => "warn",
        other => other,
    };
    NAMES
        .iter()
        .position(|&n| n == s)
        .map(|i| i as u8)
        .ok_or_else(|| format!("unknown level {s:?}: use 0-7 or {}", NAMES.join(", ")))
}

/// Run `panicdump dmesg`.
pub fn run(args: DmesgArgs) -> Result<ExitCode> {
    let dump = kernel::open_dump(&args.file)?;
    let kmem = kernel::kernel_memory(&dump)?;
    let mut log = kmsg::read_log(&kmem)
        .with_context(|| format!("cannot read the kernel log from {}", args.file.display()))?;
    for w in dump.warnings().iter().chain(&log.warnings) {
        eprintln!("panicdump: warning: {w}");
    }
    if log.lost > 0 {
        eprintln!("panicdump: warning: {} log records were lost", log.lost);
    }
    if let Some(max) = args.level {
        log.records.retain(|r| r.level <= max);
    }
    if let Some(n) = args.tail {
        let skip = log.records.len().saturating_sub(n);
        log.records.drain(..skip);
    }

    match &args.output {
        None => {
            let stdout = std::io::stdout();
            let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
            match write_records(&log, &args, &mut out) {
                Ok(()) => Ok(ExitCode::SUCCESS),
                // `panicdump dmesg | head` is normal use, not an error.
                Err(e)
                    if e.downcast_ref::<std::io::Error>()
                        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe) =>
                {
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => Err(e.context("writing the log")),
            }
        }
        Some(path) => {
            let mut tmp = path.clone().into_os_string();
            tmp.push(".incomplete");
            let tmp = PathBuf::from(tmp);
            let result = (|| {
                let file = std::fs::File::create(&tmp)?;
                let mut out = BufWriter::with_capacity(1 << 16, file);
                write_records(&log, &args, &mut out)?;
                let file = out.into_inner().map_err(|e| e.into_error())?;
                file.sync_all()?;
                std::fs::rename(&tmp, path)?;
                Ok::<_, anyhow::Error>(())
            })();
            if let Err(e) = result {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.context(format!("writing {}", path.display())));
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Write the records in the format the arguments ask for.
fn write_records(log: &kmsg::Log, args: &DmesgArgs, out: &mut impl Write) -> Result<()> {
    if args.json {
        for r in &log.records {
            serde_json::to_writer(&mut *out, r)?;
            out.write_all(b"\n")?;
        }
    } else {
        let opts = RenderOptions {
            level: args.show_level,
            timestamps: !args.raw,
            caller: args.caller,
            escape: !args.raw,
            ..RenderOptions::MAKEDUMPFILE
        };
        kmsg::write_log(log, &opts, out)?;
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_level;

    #[test]
    fn levels_by_number_and_name() {
        assert_eq!(parse_level("3"), Ok(3));
        assert_eq!(parse_level("err"), Ok(3));
        assert_eq!(parse_level("WARNING"), Ok(4));
        assert_eq!(parse_level("debug"), Ok(7));
        assert!(parse_level("8").is_err());
        assert!(parse_level("loud").is_err());
    }
}
