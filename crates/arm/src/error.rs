//! Error type of the arm crate.

use std::path::PathBuf;

/// Everything that can go wrong while planning or arming.
#[derive(Debug, thiserror::Error)]
pub enum ArmError {
    /// The kernel refused the capture kernel.
    #[error(transparent)]
    Kexec(#[from] crate::kexec::KexecError),
    /// Building the capture initramfs failed.
    #[error(transparent)]
    Initramfs(#[from] initramfs::Error),
    /// An I/O operation on a path failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done.
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A helper program (modprobe) failed.
    #[error("{program} failed: {msg}")]
    Tool {
        /// The program.
        program: String,
        /// Its status and output.
        msg: String,
    },
    /// The configuration cannot work on this system.
    #[error("{0}")]
    Config(String),
}

/// Result alias of this crate.
pub type Result<T, E = ArmError> = std::result::Result<T, E>;

/// Attach an operation and a path to an I/O error.
pub(crate) fn io(
    op: &'static str,
    path: impl Into<PathBuf>,
) -> impl FnOnce(std::io::Error) -> ArmError {
    let path = path.into();
    move |source| ArmError::Io { op, path, source }
}
