//! Typed errors of the crate: each names the file, entry or URL involved.

use std::path::PathBuf;

/// Errors of the submit client.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file of the queue could not be parsed or written.
    #[error("JSON in {}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// Building the report bundle failed.
    #[error("building the bundle of {record}: {source}")]
    Bundle {
        /// Record id.
        record: String,
        /// The crashdb error.
        #[source]
        source: crashdb::Error,
    },
    /// Submitting is not allowed: no consent configured.
    #[error("sending crash reports needs consent: {0}")]
    NoConsent(String),
    /// A setting is missing or unusable.
    #[error("submit settings: {0}")]
    Settings(String),
    /// The machine id could not be read.
    #[error("machine id {}: {reason}", path.display())]
    MachineId {
        /// The file read (normally `/etc/machine-id`).
        path: PathBuf,
        /// What was wrong.
        reason: String,
    },
    /// Another `panicdump submit` holds the queue lock.
    #[error("the submit queue {} is busy: another panicdump submit is running{}", path.display(), holder.as_ref().map(|h| format!(" ({h})")).unwrap_or_default())]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// What the lock file says about its holder.
        holder: Option<String>,
    },
    /// A record id is not usable as a queue entry name.
    #[error("invalid record id {0:?}")]
    InvalidId(String),
}

/// Result alias of the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Adds the path and operation to an I/O error.
pub(crate) trait IoContext<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: &std::path::Path) -> Result<T> {
        self.map_err(|source| Error::Io {
            op,
            path: path.to_path_buf(),
            source,
        })
    }
}
