//! The structured crash report and its bucketing signature.

use serde::Serialize;

use crate::{Frame, Kind, Taint};

/// One register as printed (`RAX: 0000000000000000`, `pc : foo+0x1/0x2`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Register {
    /// Register name (`RAX`, `pc`, `x29`).
    pub name: String,
    /// Value as printed.
    pub value: String,
}

/// One crash report found in a log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// What sort of crash.
    pub kind: Kind,
    /// syzbot-style title (`KASAN: use-after-free Read in foo`).
    pub title: String,
    /// 1-based line number of the report's first line in the log.
    pub line: u64,
    /// The report's first line, wrappers removed.
    pub header: String,
    /// The faulting location from RIP/pc/PC lines, when printed as a symbol.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pc: Option<Frame>,
    /// The first call trace, innermost first (at most [`crate::MAX_FRAMES`]).
    pub frames: Vec<Frame>,
    /// The first register dump.
    pub registers: Vec<Register>,
    /// `Modules linked in:` names.
    pub modules: Vec<String>,
    /// Taint flags from the CPU line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub taint: Option<Taint>,
    /// Kernel release from the CPU line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// `Hardware name:` line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hardware: Option<String>,
    /// CPU the report was printed on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu: Option<u32>,
    /// PID of the current task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Command name of the current task.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub comm: Option<String>,
    /// The panic message, if this report ended in `Kernel panic - not syncing`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub panic: Option<String>,
    /// The log ends inside the report (its call trace may be cut short).
    pub truncated: bool,
    /// Parts the title needs are missing or the report's lines are damaged
    /// (binary bytes, over-long lines).
    pub corrupted: bool,
    pub(crate) signature: String,
    pub(crate) signature_hash: String,
}

impl Report {
    /// Bucketing signature: the kind plus the top reliable, non-generic
    /// function names (no offsets, addresses or compiler suffixes), so the
    /// same bug on another build lands in the same bucket.
    /// Example: `warning|ext4_fill_super|mount_bdev|legacy_get_tree`.
    pub fn signature(&self) -> &str {
        &self.signature
    }

    /// 16 hex digits of the FNV-1a 64-bit hash of [`Report::signature`]
    /// (stable across platforms and releases).
    pub fn signature_hash(&self) -> &str {
        &self.signature_hash
    }
}

/// FNV-1a 64: tiny, deterministic, good enough for bucketing keys.
pub(crate) fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The pstore record header found at the top of a `dmesg-*` file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PstoreHeader {
    /// `Panic`, `Oops`, `Emergency`, `Shutdown`, …
    pub reason: String,
    /// Per-boot dump counter.
    pub count: u32,
    /// Part number (1 = newest chunk).
    pub part: u32,
}

/// Everything found in one log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Analysis {
    /// Reports in log order (at most [`crate::MAX_REPORTS`]).
    pub reports: Vec<Report>,
    /// Reports found beyond the cap and not kept.
    pub dropped_reports: u64,
    /// Lines read.
    pub lines: u64,
    /// pstore record header, if the log starts with one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pstore: Option<PstoreHeader>,
}

impl Analysis {
    /// The report that names the crash: the first one (a WARNING that led to
    /// a panic with `panic_on_warn`, an Oops before `Fatal exception`).
    pub fn primary(&self) -> Option<&Report> {
        self.reports.first()
    }

    /// Title of [`Analysis::primary`]; `None` when the log holds no crash.
    pub fn title(&self) -> Option<&str> {
        self.primary().map(|r| r.title.as_str())
    }
}
