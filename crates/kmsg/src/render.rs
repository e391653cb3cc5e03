//! Text output of a [`Log`], byte-exact with `makedumpfile --dump-dmesg`.
//!
//! makedumpfile's format per record (its `dump_record` / `dump_log_entry`):
//! - prefix `"[%5lld.%06ld] "`: seconds, then microseconds of `ts_nsec`;
//! - makedumpfile 1.7.5+ only, when VMCOREINFO exports the caller-id
//!   offset: `"[%8s] "` of `T<pid>` / `C<cpu>`;
//! - each text byte: `\n` becomes a newline plus spaces as wide as the
//!   prefix; bytes for which C `isprint` or `isspace` holds (0x20–0x7e, `\t
//!   \n \v \f \r`) are copied; any other byte is printed as `\x%02x` of a
//!   *signed* char, so bytes ≥ 0x80 come out as `\xffffffNN`;
//! - a final `\n`.
//!
//! Records without a data block (empty-line records) print nothing. The
//! pre-3.5 plain ring is written as the raw buffer.

use crate::{Log, LogKind, Record};
use std::io::{self, Write};

/// What to print besides the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RenderOptions {
    /// Syslog prefix `<N>` (`facility << 3 | level`, as `dmesg -r`) before
    /// the timestamp.
    pub level: bool,
    /// The `[%5lu.%06lu] ` timestamp.
    pub timestamps: bool,
    /// The caller column `[%8s] ` (`T<pid>` / `C<cpu>`), when known.
    pub caller: bool,
    /// Escape non-printable bytes and indent embedded newlines as
    /// makedumpfile does; `false` writes the text bytes untouched.
    pub escape: bool,
    /// Print records without a data block (empty lines) as an empty line;
    /// makedumpfile omits them.
    pub empty_lines: bool,
}

impl RenderOptions {
    /// Exactly `makedumpfile --dump-dmesg` up to version 1.7.4 (no caller
    /// column).
    pub const MAKEDUMPFILE: RenderOptions = RenderOptions {
        level: false,
        timestamps: true,
        caller: false,
        escape: true,
        empty_lines: false,
    };

    /// Exactly the makedumpfile version given as `(major, minor, patch)`
    /// would print `log`: from 1.7.5 on it adds the caller column whenever
    /// VMCOREINFO exports the caller-id offset.
    pub fn makedumpfile(version: (u32, u32, u32), log: &Log) -> RenderOptions {
        RenderOptions {
            caller: version >= (1, 7, 5) && log.caller_id_exported,
            ..RenderOptions::MAKEDUMPFILE
        }
    }
}

impl Default for RenderOptions {
    fn default() -> RenderOptions {
        RenderOptions::MAKEDUMPFILE
    }
}

/// Write `log` exactly as `makedumpfile --dump-dmesg` 1.7.2–1.7.4 does;
/// use [`write_log`] with [`RenderOptions::makedumpfile`] for newer ones.
pub fn write_makedumpfile<W: Write>(log: &Log, out: &mut W) -> io::Result<()> {
    write_log(log, &RenderOptions::MAKEDUMPFILE, out)
}

/// Write `log` with the given options.
pub fn write_log<W: Write>(log: &Log, opts: &RenderOptions, out: &mut W) -> io::Result<()> {
    if log.kind == LogKind::Plain {
        if let Some(text) = &log.plain_text {
            return out.write_all(text);
        }
    }
    // One line buffer reused for every record.
    let mut line = Vec::with_capacity(1024);
    for rec in &log.records {
        if rec.dataless && !opts.empty_lines {
            continue;
        }
        line.clear();
        render_record(rec, opts, &mut line);
        out.write_all(&line)?;
    }
    Ok(())
}

/// Append one record's output (prefix, text, final newline) to `line`.
pub fn render_record(rec: &Record, opts: &RenderOptions, line: &mut Vec<u8>) {
    // Writing into a Vec cannot fail.
    if opts.level {
        let _ = write!(
            line,
            "<{}>",
            (u32::from(rec.facility) << 3) | u32::from(rec.level)
        );
    }
    if opts.timestamps {
        let _ = write!(
            line,
            "[{:5}.{:06}] ",
            rec.ts_nsec / 1_000_000_000,
            rec.ts_nsec % 1_000_000_000 / 1000
        );
    }
    if opts.caller {
        if let Some(c) = rec.caller {
            // "%c%u" then right-aligned in 8 columns; built on the stack.
            let mut id = [0u8; 16];
            let mut cur = io::Cursor::new(&mut id[..]);
            let _ = write!(cur, "{c}");
            let n = cur.position() as usize;
            let _ = write!(
                line,
                "[{:>8}] ",
                std::str::from_utf8(&id[..n]).unwrap_or("")
            );
        }
    }
    let indent = line.len();
    if !opts.escape {
        line.extend_from_slice(&rec.text);
        line.push(b'\n');
        return;
    }
    for &b in &rec.text {
        match b {
            b'\n' => {
                line.push(b'\n');
                line.resize(line.len() + indent, b' ');
            }
            // isprint() || isspace() in the C locale.
            0x20..=0x7e | b'\t' | 0x0b | 0x0c | b'\r' => line.push(b),
            // `char` is signed on x86: high bytes sign-extend in "%02x".
            0x80..=0xff => {
                let _ = write!(line, "\\xffffff{b:02x}");
            }
            _ => {
                let _ = write!(line, "\\x{b:02x}");
            }
        }
    }
    line.push(b'\n');
}
