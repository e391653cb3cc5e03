//! Typed errors of the log readers.

/// Why the kernel log could not be read at all.
///
/// Damage to individual records is not an error: it becomes a warning in
/// [`crate::Log::warnings`] and the remaining records are still returned.
#[derive(Debug, thiserror::Error)]
pub enum KmsgError {
    /// VMCOREINFO describes no kernel log of any known kind.
    #[error("VMCOREINFO describes no kernel log: it has neither SYMBOL(prb) (Linux 5.10+) nor SYMBOL(log_buf) (older kernels)")]
    NoLogKeys,
    /// VMCOREINFO lacks a key the detected ring kind needs.
    #[error("VMCOREINFO has no {key}, needed to read the {ring}")]
    MissingKey {
        /// The full key, e.g. `OFFSET(printk_info.seq)`.
        key: String,
        /// The ring kind being read.
        ring: &'static str,
    },
    /// Kernel memory holding the log's control structures is unreadable.
    #[error("reading {what}: {source}")]
    Memory {
        /// What was being read.
        what: &'static str,
        /// The translation or physical read error.
        #[source]
        source: addrxlat::Error,
    },
    /// The log's control structures hold impossible values.
    #[error("the {what} is implausible: {detail}")]
    Corrupt {
        /// Which structure.
        what: &'static str,
        /// What is wrong with it.
        detail: String,
    },
}

impl KmsgError {
    pub(crate) fn corrupt(what: &'static str, detail: impl Into<String>) -> KmsgError {
        KmsgError::Corrupt {
            what,
            detail: detail.into(),
        }
    }
}

/// Attach "what was being read" to a memory error.
pub(crate) trait Context<T> {
    fn ctx(self, what: &'static str) -> Result<T, KmsgError>;
}

impl<T> Context<T> for Result<T, addrxlat::Error> {
    fn ctx(self, what: &'static str) -> Result<T, KmsgError> {
        self.map_err(|source| KmsgError::Memory { what, source })
    }
}
