//! The system root every path is resolved under.
//!
//! Tests (and `--root DIR` / `PANICDUMP_ROOT`) point it at a fake tree, so
//! nothing reads or writes the host's real /proc and /sys.

use std::path::{Path, PathBuf};

/// Environment variable naming the root (same as `--root`).
pub const ENV_ROOT: &str = "PANICDUMP_ROOT";

/// A root directory (`/` on a real system).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root(PathBuf);

impl Default for Root {
    fn default() -> Self {
        Self(PathBuf::from("/"))
    }
}

impl Root {
    /// A root at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self(dir.into())
    }

    /// `--root` if given, else `PANICDUMP_ROOT`, else `/`.
    pub fn from_arg_or_env(arg: Option<&Path>) -> Self {
        match arg {
            Some(p) => Self::new(p),
            None => std::env::var_os(ENV_ROOT)
                .filter(|v| !v.is_empty())
                .map(Self::new)
                .unwrap_or_default(),
        }
    }

    /// Whether this is the real `/`.
    pub fn is_host(&self) -> bool {
        self.0 == Path::new("/")
    }

    /// The root directory.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// An absolute system path (`/proc/cmdline`) under the root.
    pub fn path(&self, abs: impl AsRef<Path>) -> PathBuf {
        let p = abs.as_ref();
        self.0.join(p.strip_prefix("/").unwrap_or(p))
    }

    /// Read a small text file, trimmed; `None` when it does not exist or is unreadable.
    pub fn read_trim(&self, abs: impl AsRef<Path>) -> Option<String> {
        std::fs::read_to_string(self.path(abs))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_under_root() {
        let r = Root::new("/tmp/fake");
        assert_eq!(r.path("/proc/cmdline"), Path::new("/tmp/fake/proc/cmdline"));
        assert_eq!(r.path("sys/x"), Path::new("/tmp/fake/sys/x"));
        assert!(Root::default().is_host());
        assert_eq!(Root::default().path("/proc"), Path::new("/proc"));
    }
}
