//! Errors that prevent a dump from being opened at all.
//!
//! Anything less serious (a damaged note, a truncated tail, an overlapping
//! segment) opens anyway and is reported through `Dump::warnings` and
//! per-page [`crate::ReadError`]s.

use std::path::PathBuf;

/// Why a dump could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The file could not be opened or mapped.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path given to `Dump::open`.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// Reading the file failed after it was opened (an I/O error of a
    /// source read with positioned reads, such as `/proc/vmcore`).
    #[error("cannot read the {what}: {source}")]
    Read {
        /// The structure being read.
        what: String,
        /// The read error.
        source: crate::SourceError,
    },
    /// No known signature at the start of the file.
    #[error("not a recognised crash dump: {0}")]
    UnknownFormat(String),
    /// A structure needed to use the dump lies past the end of the file.
    #[error("file truncated: {what} at file offset {offset:#x} needs {needed} bytes, but the file has {file_len}")]
    Truncated {
        /// The structure being read.
        what: String,
        /// Its (logical) file offset.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// Logical length of the file.
        file_len: u64,
    },
    /// A header field makes the dump unusable.
    #[error("corrupt {what} at file offset {offset:#x}: {reason}")]
    Corrupt {
        /// The structure or field at fault.
        what: String,
        /// Its (logical) file offset.
        offset: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// A valid dump of a kind this crate does not read (yet).
    #[error("unsupported dump: {0}")]
    Unsupported(String),
}

impl DumpError {
    pub(crate) fn corrupt(what: impl Into<String>, offset: u64, reason: impl Into<String>) -> Self {
        DumpError::Corrupt {
            what: what.into(),
            offset,
            reason: reason.into(),
        }
    }

    pub(crate) fn truncated(
        what: impl Into<String>,
        offset: u64,
        needed: u64,
        file_len: u64,
    ) -> Self {
        DumpError::Truncated {
            what: what.into(),
            offset,
            needed,
            file_len,
        }
    }
}
