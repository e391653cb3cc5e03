//! Error type of the lab.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong while building or running a lab recipe.
#[derive(Debug, thiserror::Error)]
pub enum LabError {
    /// A host tool or file the lab needs is not installed.
    #[error("{what} not found at {}: install the Debian package `{package}`", path.display())]
    Missing {
        /// What is missing (e.g. "qemu-system-x86_64").
        what: String,
        /// Where it was looked for.
        path: PathBuf,
        /// Debian package that provides it.
        package: String,
    },
    /// No kernel image could be found.
    #[error("no kernel found ({0}); install `linux-image-amd64` or pass --kernel")]
    NoKernel(String),
    /// An I/O operation on a path failed.
    #[error("{op} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "write", "create", ...).
        op: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `modules.dep` does not list a module the recipe needs, or is malformed.
    #[error("modules.dep {}: {msg}", path.display())]
    Modules {
        /// The modules.dep file.
        path: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// A helper program (cargo, ldd, ...) failed.
    #[error("{program} failed: {msg}")]
    Tool {
        /// The program that failed.
        program: String,
        /// Its exit status and the tail of its output.
        msg: String,
    },
    /// A cpio archive could not be written or parsed.
    #[error("cpio: {0}")]
    Cpio(String),
    /// A QEMU run exceeded its deadline.
    #[error(
        "QEMU timed out after {:.1}s in phase `{phase}` (deadline {}s); console {console}, last lines:\n{tail}",
        elapsed.as_secs_f64(),
        deadline.as_secs(),
        console = console.display()
    )]
    Timeout {
        /// Last phase the guest reported.
        phase: String,
        /// Time spent before QEMU was killed.
        elapsed: Duration,
        /// The deadline that was exceeded.
        deadline: Duration,
        /// Path of the serial console log.
        console: PathBuf,
        /// Last 40 lines of the console log.
        tail: String,
    },
    /// The guest or QEMU did not do what the recipe expects.
    #[error("{recipe}: {msg} (phase `{phase}`); console {}, last lines:\n{tail}", console.display())]
    Guest {
        /// Recipe name.
        recipe: String,
        /// What went wrong.
        msg: String,
        /// Last phase the guest reported.
        phase: String,
        /// Path of the serial console log.
        console: PathBuf,
        /// Last 40 lines of the console log.
        tail: String,
    },
    /// A QMP command failed.
    #[error("QMP: {0}")]
    Qmp(String),
    /// An artifact is present but incomplete or unreadable.
    #[error("artifact {}: {msg}", dir.display())]
    Artifact {
        /// The artifact directory.
        dir: PathBuf,
        /// What is wrong.
        msg: String,
    },
    /// A parameter is invalid.
    #[error("invalid parameter: {0}")]
    Param(String),
}

/// Result alias of the lab.
pub type Result<T, E = LabError> = std::result::Result<T, E>;

/// Extension to attach an operation and a path to an `io::Error`.
pub(crate) trait IoContext<T> {
    /// Wrap the error as [`LabError::Io`].
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx(self, op: &'static str, path: impl Into<PathBuf>) -> Result<T> {
        self.map_err(|source| LabError::Io {
            op,
            path: path.into(),
            source,
        })
    }
}

/// Archive and module errors of the shared initramfs code keep the lab's
/// own variants, so callers matching on [`LabError`] see no difference.
impl From<initramfs::Error> for LabError {
    fn from(e: initramfs::Error) -> Self {
        match e {
            initramfs::Error::Cpio(m) => LabError::Cpio(m),
            initramfs::Error::Modules { path, msg } => LabError::Modules { path, msg },
            initramfs::Error::Io { op, path, source } => LabError::Io { op, path, source },
            initramfs::Error::Spec(m) => LabError::Param(m),
        }
    }
}
