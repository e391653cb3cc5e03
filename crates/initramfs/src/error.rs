//! Error type of the initramfs crate.

use std::path::PathBuf;

/// Everything that can go wrong while writing an archive or resolving modules.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A cpio archive could not be written or parsed.
    #[error("cpio: {0}")]
    Cpio(String),
    /// `modules.dep` is unreadable, malformed, or lacks a wanted module.
    #[error("modules.dep {}: {msg}", path.display())]
    Modules {
        /// The modules.dep file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// An I/O operation on a path failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "write", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The capture initramfs inputs are inconsistent.
    #[error("capture initramfs: {0}")]
    Spec(String),
}

/// Result alias of this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Attach an operation and a path to an I/O error.
pub(crate) fn io(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
