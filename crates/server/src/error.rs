//! Errors of the server library.

use std::path::PathBuf;

/// Everything that can fail in the server outside a single request.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The database refused or failed.
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    /// A schema migration failed.
    #[error("schema migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A blob could not be read or written on disk.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The object store failed.
    #[error("object storage: {0}")]
    ObjectStore(#[from] object_store::Error),
    /// A configuration value is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// A token with this name already exists.
    #[error("a token named {0:?} already exists (revoke it first)")]
    TokenExists(String),
    /// No active token has this name.
    #[error("no active token named {0:?}")]
    NoSuchToken(String),
    /// Writing JSON (export) failed.
    #[error("export: {0}")]
    Export(#[from] std::io::Error),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
