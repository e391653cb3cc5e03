//! Errors of `setup` and `setup --undo`.

use std::path::PathBuf;

/// What went wrong, naming the file.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A file operation failed.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done (read, write, back up, restore...).
        op: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The undo manifest is unreadable.
    #[error("{path}: corrupt setup manifest: {message}")]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A command (grub-mkconfig, systemctl...) failed.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Exit status or spawn error.
        message: String,
    },
    /// The system cannot be set up as configured.
    #[error("{0}")]
    Unsupported(String),
}

/// Result alias.
pub type Result<T, E = SetupError> = std::result::Result<T, E>;

/// An `Io` error builder for `map_err`.
pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SetupError {
    let path = path.into();
    move |source| SetupError::Io { op, path, source }
}
