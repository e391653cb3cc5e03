//! Find Linux kernel crash reports in a log and describe them.
//!
//! Input is any kernel log text: dmesg, a pstore `dmesg-*` record, the log
//! extracted from a vmcore, a serial console capture, `journalctl -k` or
//! syslog output; with or without timestamps, `<N>` levels and `[T123]`
//! caller tags. Each report found gets a [`Kind`], a title in the syzbot
//! dashboard conventions (`KASAN: use-after-free Read in foo`, `WARNING in
//! foo`, `kernel panic: <message>`), its call trace, registers, modules,
//! taint, release and hardware, and a bucketing [`Report::signature`].
//!
//! ```
//! let log = b"[ 1.0] BUG: kernel NULL pointer dereference, address: 0000000000000008\n\
//!             [ 1.0] Oops: 0000 [#1] SMP PTI\n\
//!             [ 1.0] RIP: 0010:ext4_foo+0x12/0x40\n";
//! let a = oops::analyze(log);
//! assert_eq!(a.title(), Some("BUG: unable to handle kernel NULL pointer dereference in ext4_foo"));
//! ```
//!
//! Title conventions chosen where syzbot has none or is inconsistent (all
//! documented in the crate's README.md): every non-NULL kernel page
//! fault is `BUG: unable to handle page fault in foo` whatever the
//! architecture or kernel version; hard lockups are `BUG: hard lockup in
//! foo`; a panic with no earlier report (`sysrq triggered crash`, OOM panic,
//! fatal machine check) is `kernel panic: <message>` with variable tails
//! (exit codes) removed; a panic that follows a report names nothing and is
//! recorded in that report's [`Report::panic`].
//!
//! Malformed input never panics: lines longer than [`line::MAX_LINE`] are
//! cut, invalid UTF-8 is replaced, and per-report state is capped
//! ([`MAX_FRAMES`], [`MAX_REPORTS`]), so [`analyze_reader`] runs in bounded
//! memory on logs of any size.

mod body;
mod frame;
mod header;
mod kind;
pub mod line;
mod report;
mod scan;
mod skip;
mod taint;

use std::io::{BufRead, BufReader, Read};

pub use frame::{base_name, Frame};
pub use kind::Kind;
pub use report::{Analysis, PstoreHeader, Register, Report};
pub use scan::Analyzer;
pub use taint::{Taint, TaintFlag};

/// Frames kept per report.
pub const MAX_FRAMES: usize = 64;
/// Reports kept per log; later ones are only counted.
pub const MAX_REPORTS: usize = 64;

/// Errors of [`analyze_reader`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading the input failed after `lines` lines.
    #[error("reading the log failed after {lines} lines: {source}")]
    Read {
        /// Lines read before the failure.
        lines: u64,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Analyze a whole log held in memory.
pub fn analyze(text: &[u8]) -> Analysis {
    let mut a = Analyzer::new();
    for line in text.split(|&b| b == b'\n') {
        a.push_line(line);
    }
    let mut out = a.finish();
    // `split` yields one empty piece after a final newline; don't count it.
    if text.ends_with(b"\n") {
        out.lines = out.lines.saturating_sub(1);
    }
    out
}

/// Analyze a log from a reader, line by line, holding at most
/// [`line::MAX_LINE`] bytes of any line.
pub fn analyze_reader<R: Read>(r: R) -> Result<Analysis, Error> {
    let mut r = BufReader::with_capacity(64 * 1024, r);
    let mut a = Analyzer::new();
    let mut buf: Vec<u8> = Vec::with_capacity(line::MAX_LINE + 1);
    loop {
        let chunk = match r.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => {
                let lines = a.finish().lines;
                return Err(Error::Read { lines, source });
            }
        };
        if chunk.is_empty() {
            break;
        }
        let (used, eol) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let content = &chunk[..if eol { used - 1 } else { used }];
        // Keep one byte past the limit so the line is known to be over-long.
        let room = (line::MAX_LINE + 1).saturating_sub(buf.len());
        buf.extend_from_slice(&content[..content.len().min(room)]);
        r.consume(used);
        if eol {
            a.push_line(&buf);
            buf.clear();
        }
    }
    if !buf.is_empty() {
        a.push_line(&buf);
    }
    Ok(a.finish())
}
