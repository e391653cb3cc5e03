//! Errors of the dump writers.

use std::io;

/// Why writing a dump failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Writing (or syncing) the output failed.
    #[error("{context}: {source}")]
    Io {
        /// What was being written.
        context: String,
        /// The I/O error (ENOSPC for a full disk).
        #[source]
        source: io::Error,
    },
    /// The source dump cannot be written in the requested form.
    #[error("unsupported source: {0}")]
    Unsupported(String),
    /// The dump level asks for something this build cannot do.
    #[error("dump level {level}: {reason}")]
    Level {
        /// The requested `-d` value.
        level: u8,
        /// Why it cannot be honoured.
        reason: String,
    },
    /// The page filter failed (e.g. `struct page` could not be read).
    #[error("page filter: {0}")]
    Filter(String),
    /// A compressor reported an internal error.
    #[error("{method} compression failed: {reason}")]
    Compress {
        /// Compression method.
        method: &'static str,
        /// The compressor's message.
        reason: String,
    },
    /// A worker thread died (a bug); the output is incomplete.
    #[error("internal error: {0}")]
    Internal(String),
}

impl WriteError {
    /// Wrap an I/O error with what was being done.
    pub fn io(context: impl Into<String>, source: io::Error) -> WriteError {
        WriteError::Io {
            context: context.into(),
            source,
        }
    }

    /// True when the error is "no space left on device" (or a quota limit).
    pub fn is_disk_full(&self) -> bool {
        match self {
            WriteError::Io { source, .. } => matches!(
                source.raw_os_error(),
                Some(libc::ENOSPC) | Some(libc::EDQUOT) | Some(libc::EFBIG)
            ),
            _ => false,
        }
    }
}
