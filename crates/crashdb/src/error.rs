//! Typed errors of the crate: every error names the file or record involved.

use std::path::PathBuf;

/// Errors of crashdb.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A filesystem operation failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done (`writing`, `renaming`, ...).
        op: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A JSON file could not be parsed or written.
    #[error("JSON in {}: {source}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// A record was written by a newer panicdump.
    #[error("{}: record schema {found} is newer than this panicdump understands ({supported})", path.display())]
    Schema {
        /// The record.json file.
        path: PathBuf,
        /// Schema found.
        found: u32,
        /// Newest schema supported.
        supported: u32,
    },
    /// No record matches the id or prefix.
    #[error("no crash record matches {0:?}")]
    NotFound(String),
    /// A prefix matches several records.
    #[error("{query:?} matches several crash records: {}", matches.join(", "))]
    Ambiguous {
        /// The prefix asked for.
        query: String,
        /// The records it matches.
        matches: Vec<String>,
    },
    /// The store holds no records at all.
    #[error("no crash records in {}", .0.display())]
    Empty(PathBuf),
    /// The size cap cannot hold even the bundle without its log tail.
    #[error(
        "size cap of {cap} bytes is too small: the bundle needs {needed} bytes without any log"
    )]
    CapTooSmall {
        /// The cap asked for.
        cap: u64,
        /// Bytes needed with an empty log tail.
        needed: u64,
    },
    /// The caller passed something unusable (bad file name, id).
    #[error("invalid input: {0}")]
    Invalid(String),
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
