//! Artifact directories: layout, `meta.json`, completeness, locking.

use crate::cache::Fingerprint;
use crate::error::{IoContext, LabError, Result};
use crate::params::{Params, Recipe};
use crate::qemu::PhaseMark;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Version of the recipes' behaviour, recorded in `meta.json` and part of
/// every artifact's fingerprint: bump it when a change the fingerprint
/// cannot see (a host-side extraction step) alters what artifacts hold.
pub const LAB_VERSION: u32 = 1;
/// Marker file written last: its presence means the artifact is complete.
pub const DONE: &str = "done";
/// Metadata file.
pub const META: &str = "meta.json";
/// Serial console of every QEMU run of the recipe.
pub const CONSOLE: &str = "console.log";
/// kdump: the crash kernel's `/proc/vmcore`.
pub const VMCORE: &str = "vmcore";
/// qemu-dump: `dump-guest-memory` in ELF.
pub const QEMU_ELF: &str = "qemu.elf";
/// qemu-dump: `dump-guest-memory` in kdump-zlib (flattened).
pub const QEMU_KDUMP: &str = "qemu.kdump-zlib";
/// pstore: directory of the files found in `/sys/fs/pstore`.
pub const PSTORE_DIR: &str = "pstore";

/// Wall-clock durations of a build, seconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Durations {
    /// Building the static panicdump binary (0 when given).
    pub panicdump_build_s: f64,
    /// Writing the initramfs.
    pub initramfs_s: f64,
    /// QEMU start to exit.
    pub qemu_s: f64,
    /// Extracting results from the guest's disk.
    pub extract_s: f64,
    /// Whole build.
    pub total_s: f64,
}

/// Contents of `meta.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Meta {
    /// Recipe that produced the artifact.
    pub recipe: Recipe,
    /// [`LAB_VERSION`] at build time.
    pub lab_version: u32,
    /// Kernel image booted.
    pub kernel: PathBuf,
    /// Its release.
    pub release: String,
    /// Modules directory used.
    pub modules_dir: PathBuf,
    /// Guest parameters.
    pub params: Params,
    /// Guest RAM in MiB (same as `params.memory_mib`, for readers).
    pub memory_mib: u32,
    /// Kernel command line of the (first) kernel.
    pub cmdline: String,
    /// Command line of the kdump crash kernel.
    pub crash_cmdline: Option<String>,
    /// QEMU argument vector.
    pub qemu_argv: Vec<String>,
    /// Random token of the marker.
    pub token: String,
    /// The marker line written to `/dev/kmsg` (`panicdump-lab-marker TOKEN`).
    pub marker: String,
    /// Unix time the build started.
    pub created_unix: u64,
    /// Phases reported by the guest, seconds since QEMU started.
    pub phases: Vec<PhaseMark>,
    /// Durations of the build steps.
    pub durations: Durations,
    /// Size of the initramfs.
    pub initramfs_bytes: u64,
    /// Output files, relative to the artifact directory.
    pub files: Vec<String>,
    /// The inputs the artifact was built from ([`crate::cache`]); absent
    /// in artifacts of older labs, which are therefore rebuilt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
}

/// A complete artifact on disk.
#[derive(Debug, Clone)]
pub struct Artifact {
    /// Recipe.
    pub recipe: Recipe,
    /// Artifact directory.
    pub dir: PathBuf,
    /// Its `meta.json`.
    pub meta: Meta,
}

/// The JSON `file` of a finished run directory (recipe, scenario or
/// target): an error when the run never wrote its `done` marker or the
/// file does not parse.
pub(crate) fn load_meta<T: serde::de::DeserializeOwned>(dir: &Path, file: &str) -> Result<T> {
    let bad = |msg: String| LabError::Artifact {
        dir: dir.to_path_buf(),
        msg,
    };
    if !dir.join(DONE).is_file() {
        return Err(bad("incomplete (no `done` marker)".into()));
    }
    let p = dir.join(file);
    let text = std::fs::read_to_string(&p).ctx("read", &p)?;
    serde_json::from_str(&text).map_err(|e| bad(format!("{file}: {e}")))
}

impl Artifact {
    /// Load a complete artifact; errors if `done` or a listed file is missing.
    pub fn load(dir: &Path) -> Result<Self> {
        let meta: Meta = load_meta(dir, META)?;
        for f in &meta.files {
            if !dir.join(f).exists() {
                return Err(LabError::Artifact {
                    dir: dir.to_path_buf(),
                    msg: format!("{f} is missing"),
                });
            }
        }
        Ok(Self {
            recipe: meta.recipe,
            dir: dir.to_path_buf(),
            meta,
        })
    }

    /// kdump vmcore (ELF, as read from `/proc/vmcore`).
    pub fn vmcore(&self) -> PathBuf {
        self.dir.join(VMCORE)
    }

    /// QEMU ELF dump.
    pub fn qemu_elf(&self) -> PathBuf {
        self.dir.join(QEMU_ELF)
    }

    /// QEMU kdump-zlib dump, flattened format.
    pub fn qemu_kdump_flat(&self) -> PathBuf {
        self.dir.join(QEMU_KDUMP)
    }

    /// Directory of pstore files.
    pub fn pstore_dir(&self) -> PathBuf {
        self.dir.join(PSTORE_DIR)
    }

    /// Serial console log.
    pub fn console_log(&self) -> PathBuf {
        self.dir.join(CONSOLE)
    }

    /// The marker line written to the kernel log before the crash.
    pub fn marker(&self) -> &str {
        &self.meta.marker
    }

    /// The main output files.
    pub fn outputs(&self) -> Vec<PathBuf> {
        self.meta.files.iter().map(|f| self.dir.join(f)).collect()
    }
}

/// An exclusive lock on a file, released on drop (flock).
pub struct DirLock {
    _file: File,
}

impl DirLock {
    /// Block until the lock on `path` (created if needed) is ours.
    pub fn acquire(path: &Path) -> Result<Self> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).ctx("create", parent)?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .ctx("open lock", path)?;
        rustix::fs::flock(&file, rustix::fs::FlockOperation::LockExclusive)
            .map_err(|e| std::io::Error::from_raw_os_error(e.raw_os_error()))
            .ctx("lock", path)?;
        Ok(Self { _file: file })
    }
}
