//! The Linux kernel log (the `dmesg` ring) read from a crash dump.
//!
//! Three generations of the printk buffer are understood, chosen from the
//! VMCOREINFO keys the kernel exported:
//! - the lockless ring buffer (Linux 5.10+, `SYMBOL(prb)`), see [`lockless`];
//! - the variable-length `printk_log` records (3.5–5.9,
//!   `SYMBOL(log_first_idx)`), see [`legacy`];
//! - the plain text ring of older kernels (`SYMBOL(log_end)`), see
//!   [`plain`].
//!
//! Everything is located through VMCOREINFO offsets; no structure layout is
//! hard-coded except the bytes the kernel does not export (facility and the
//! flags/level byte, which follow `text_len`/`dict_len`).
//!
//! Damaged records never stop the reader: they are skipped or truncated,
//! and described in [`Log::warnings`]. Every loop is bounded by sizes read
//! from the dump, so corrupt data cannot make it hang.
//!
//! [`render`] prints a [`Log`] byte-for-byte like `makedumpfile
//! --dump-dmesg`, or with the usual `dmesg` options.

mod error;
mod keys;
pub mod legacy;
pub mod lockless;
pub mod plain;
pub mod render;

#[cfg(test)]
mod tests;

pub use error::KmsgError;
pub use render::{write_log, write_makedumpfile, RenderOptions};

use addrxlat::KernelMemory;
use serde::{Serialize, Serializer};

/// Which buffer layout the log came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LogKind {
    /// Lockless ring buffer, Linux 5.10+.
    Lockless,
    /// Variable-length `printk_log` records, Linux 3.5–5.9.
    Legacy,
    /// Plain text ring, before Linux 3.5.
    Plain,
}

/// Who logged a record (`printk_info.caller_id`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Caller {
    /// A task, by PID.
    Task(u32),
    /// A CPU, when logged outside task context (interrupts, NMI).
    Cpu(u32),
}

impl Caller {
    /// Decode a raw `caller_id`: bit 31 set means a CPU number.
    pub fn from_raw(id: u32) -> Caller {
        if id & 0x8000_0000 != 0 {
            Caller::Cpu(id & 0x7fff_ffff)
        } else {
            Caller::Task(id)
        }
    }
}

impl std::fmt::Display for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Caller::Task(p) => write!(f, "T{p}"),
            Caller::Cpu(c) => write!(f, "C{c}"),
        }
    }
}

/// The device a record was logged for (`dev_printk()`), from the 5.10+
/// `dev_printk_info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DevInfo {
    /// Bus or class name, e.g. `pci`.
    pub subsystem: String,
    /// Device name with a type prefix, e.g. `+pci:0000:00:1f.2`.
    pub device: String,
}

/// The record flags the kernel keeps (`enum printk_info_flags`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Flags {
    /// `LOG_NEWLINE`: the text ended with a newline (which was stripped).
    pub newline: bool,
    /// `LOG_CONT`: a fragment of a continuation line (`pr_cont`).
    pub continuation: bool,
    /// The raw 5-bit flags value.
    pub raw: u8,
}

impl Flags {
    const LOG_NEWLINE: u8 = 2;
    const LOG_CONT: u8 = 8;

    /// Decode the 5-bit flags field.
    pub fn from_raw(raw: u8) -> Flags {
        Flags {
            newline: raw & Self::LOG_NEWLINE != 0,
            continuation: raw & Self::LOG_CONT != 0,
            raw,
        }
    }
}

/// One kernel log record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Sequence number. For the legacy buffer (which does not export its
    /// sequence numbers) this is the ordinal from the oldest record read.
    pub seq: u64,
    /// `local_clock()` timestamp in nanoseconds since boot.
    pub ts_nsec: u64,
    /// Log level 0 (emerg) – 7 (debug).
    pub level: u8,
    /// Syslog facility (0 kernel, 1 user via /dev/kmsg).
    pub facility: u8,
    /// Newline / continuation flags.
    pub flags: Flags,
    /// The logging task or CPU, when the kernel recorded it.
    pub caller: Option<Caller>,
    /// The text as stored (raw bytes, may be any encoding; no trailing
    /// newline). Serialized as a lossy UTF-8 string.
    #[serde(serialize_with = "lossy")]
    pub text: Vec<u8>,
    /// Device information (5.10+), when non-empty.
    pub dev_info: Option<DevInfo>,
    /// The dictionary (3.5–5.9): NUL-separated `KEY=value` pairs.
    #[serde(serialize_with = "lossy_opt")]
    pub dict: Option<Vec<u8>>,
    /// True for a record without a data block (an empty line, 6.8+
    /// `EMPTY_LINE_LPOS`). makedumpfile prints nothing for these.
    pub dataless: bool,
}

fn lossy<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&String::from_utf8_lossy(b))
}

fn lossy_opt<S: Serializer>(b: &Option<Vec<u8>>, s: S) -> Result<S::Ok, S::Error> {
    match b {
        Some(b) => lossy(b, s),
        None => s.serialize_none(),
    }
}

/// A run of records missing from the middle of the log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Gap {
    /// The last sequence number before the gap.
    pub after_seq: u64,
    /// How many sequence numbers are missing.
    pub count: u64,
}

/// The kernel log of a dump.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Log {
    /// The buffer layout found.
    pub kind: LogKind,
    /// Records, oldest first.
    pub records: Vec<Record>,
    /// Problems met while reading (damaged or skipped records).
    pub warnings: Vec<String>,
    /// Records known to be lost: sequence gaps plus records whose data was
    /// gone. Records overwritten before the oldest one are not counted.
    pub lost: u64,
    /// Where the sequence numbers jump (lockless ring only).
    pub gaps: Vec<Gap>,
    /// True when VMCOREINFO exports the caller-id offset. makedumpfile
    /// 1.7.5 and later print the caller column exactly then.
    pub caller_id_exported: bool,
    /// For [`LogKind::Plain`]: the buffer text in order, as the kernel kept
    /// it (makedumpfile prints exactly these bytes).
    #[serde(skip)]
    pub plain_text: Option<Vec<u8>>,
}

impl Log {
    fn new(kind: LogKind) -> Log {
        Log {
            kind,
            records: Vec::new(),
            warnings: Vec::new(),
            lost: 0,
            gaps: Vec::new(),
            caller_id_exported: false,
            plain_text: None,
        }
    }
}

/// Most warnings kept; a corrupt buffer could otherwise produce one per
/// descriptor.
const MAX_WARNINGS: usize = 200;

/// Collects warnings up to [`MAX_WARNINGS`], then only counts them.
#[derive(Debug, Default)]
pub(crate) struct Warnings {
    list: Vec<String>,
    suppressed: u64,
}

impl Warnings {
    pub(crate) fn push(&mut self, msg: impl FnOnce() -> String) {
        if self.list.len() < MAX_WARNINGS {
            self.list.push(msg());
        } else {
            self.suppressed += 1;
        }
    }

    /// A warning that ends a walk: kept even past the cap.
    pub(crate) fn push_final(&mut self, msg: String) {
        self.list.push(msg);
    }

    pub(crate) fn finish(mut self) -> Vec<String> {
        if self.suppressed > 0 {
            self.list
                .push(format!("{} more warnings suppressed", self.suppressed));
        }
        self.list
    }
}

/// Read the kernel log, picking the ring kind from VMCOREINFO keys.
pub fn read_log(mem: &KernelMemory<'_>) -> Result<Log, KmsgError> {
    let info = mem.info();
    if info.symbol("prb").is_some() {
        return lockless::read(mem);
    }
    if info.symbol("log_buf").is_none() {
        return Err(KmsgError::NoLogKeys);
    }
    // Like makedumpfile: `log_end` only exists for the plain text ring.
    if info.symbol("log_end").is_some() {
        plain::read(mem)
    } else {
        legacy::read(mem)
    }
}
