//! Reuse of cached run directories (recipes, scenarios, targets).
//!
//! A run directory is reused only when it is complete (its `done` marker
//! and outputs exist) **and** the [`Fingerprint`] recorded in its JSON
//! metadata equals the fingerprint of the inputs the lab would use now: the
//! static panicdump binary put into the guest (and its busybox and kexec),
//! the kernel image and release, the kernel command line(s), the guest
//! `/init`, the test module's source (scenarios) and [`LAB_VERSION`]. Otherwise the directory is rebuilt and the progress line
//! says why (`stale: panicdump binary changed`). A directory written before
//! fingerprints existed has none and is stale.

use crate::artifact::{DirLock, DONE, LAB_VERSION};
use crate::error::{IoContext, LabError, Result};
use crate::progress::Progress;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Key of the JSON member holding the fingerprint in every metadata file.
pub const FINGERPRINT_KEY: &str = "fingerprint";

/// Input: [`LAB_VERSION`].
pub const IN_LAB_VERSION: &str = "lab-version";
/// Input: SHA-256 of the static panicdump binary in the guest.
pub const IN_PANICDUMP: &str = "panicdump-binary";
/// Input: SHA-256 of the kernel image booted.
pub const IN_KERNEL_IMAGE: &str = "kernel-image";
/// Input: SHA-256 of the static busybox in the guest.
pub const IN_BUSYBOX: &str = "busybox-binary";
/// Input: SHA-256 of kexec in the guest (kdump recipe).
pub const IN_KEXEC: &str = "kexec-binary";
/// Input: the kernel release.
pub const IN_RELEASE: &str = "kernel-release";
/// Input: the first kernel's command line (marker token left out).
pub const IN_CMDLINE: &str = "kernel-cmdline";
/// Input: the crash kernel's command line, where the host sets it.
pub const IN_CRASH_CMDLINE: &str = "crash-kernel-cmdline";
/// Input: SHA-256 of the guest's `/init`.
pub const IN_INIT: &str = "guest-init";
/// Input: the run's name and guest parameters (its cache key).
pub const IN_RUN: &str = "run";
/// Input: SHA-256 of the test module's source (scenarios).
pub const IN_KMOD: &str = "test-module-source";

/// Stands for the random marker token in fingerprinted command lines: the
/// token differs on every run and decides nothing about the result.
pub const TOKEN_PLACEHOLDER: &str = "TOKEN";

/// The inputs that decide an artifact's content, by name: literal values
/// (command lines, versions) and `sha256:<hex>` digests of files.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fingerprint(BTreeMap<String, String>);

impl Fingerprint {
    /// The inputs every run shares: [`LAB_VERSION`], the kernel (release and
    /// image digest) and the static panicdump binary's digest.
    pub fn base(kernel: &crate::host::Kernel, panicdump: &Path) -> Result<Self> {
        Self::default()
            .with(IN_LAB_VERSION, LAB_VERSION.to_string())
            .with(IN_RELEASE, kernel.release.clone())
            .with_file(IN_KERNEL_IMAGE, &kernel.path)?
            .with_file(IN_PANICDUMP, panicdump)
    }

    /// Add (or replace) a literal input.
    pub fn with(mut self, name: &str, value: impl Into<String>) -> Self {
        self.0.insert(name.to_string(), value.into());
        self
    }

    /// Add the digest of `data` as input `name`.
    pub fn with_bytes(self, name: &str, data: &[u8]) -> Self {
        self.with(name, format!("sha256:{:x}", Sha256::digest(data)))
    }

    /// Add the digest of the file at `path` as input `name`.
    pub fn with_file(self, name: &str, path: &Path) -> Result<Self> {
        let digest = sha256_file(path)?;
        Ok(self.with(name, format!("sha256:{digest}")))
    }

    /// The value of input `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Why an artifact recording `recorded` may not be reused for this
    /// (current) fingerprint, e.g. `stale: panicdump binary changed`;
    /// `None` when they are equal.
    pub fn stale_reason(&self, recorded: Option<&Fingerprint>) -> Option<String> {
        let Some(recorded) = recorded else {
            return Some("stale: no fingerprint (built by an older lab)".into());
        };
        let changed: Vec<String> = self
            .0
            .keys()
            .chain(recorded.0.keys())
            .filter(|k| self.0.get(*k) != recorded.0.get(*k))
            .map(|k| k.replace('-', " "))
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        (!changed.is_empty()).then(|| format!("stale: {} changed", changed.join(", ")))
    }
}

/// Identity of a file's content as the file system tracks it: a file
/// rewritten in place or replaced gets another size, change time or inode.
type Stamp = (PathBuf, u64, u64, u64, i64, i64, i64, i64);

/// Digests computed by this process: every reuse check hashes the kernel
/// and the static binary, which takes a noticeable time in a debug build.
static DIGESTS: Mutex<BTreeMap<Stamp, String>> = Mutex::new(BTreeMap::new());

/// Hex SHA-256 of a file, read in blocks (memoized per [`Stamp`]).
fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).ctx("open", path)?;
    let m = f.metadata().ctx("stat", path)?;
    let stamp: Stamp = (
        path.to_path_buf(),
        m.dev(),
        m.ino(),
        m.len(),
        m.mtime(),
        m.mtime_nsec(),
        m.ctime(),
        m.ctime_nsec(),
    );
    let known = DIGESTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(&stamp)
        .cloned();
    if let Some(d) = known {
        return Ok(d);
    }
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).ctx("read", path)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    let digest = format!("{:x}", h.finalize());
    DIGESTS
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(stamp, digest.clone());
    Ok(digest)
}

/// The fingerprint recorded in `dir/meta_file`; `None` when the file is
/// missing, unreadable or has none.
pub fn recorded(dir: &Path, meta_file: &str) -> Option<Fingerprint> {
    let text = std::fs::read_to_string(dir.join(meta_file)).ok()?;
    let mut v: serde_json::Value = serde_json::from_str(&text).ok()?;
    serde_json::from_value(v.get_mut(FINGERPRINT_KEY)?.take()).ok()
}

/// Whether a run directory may be reused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheState {
    /// Complete and built from the current inputs.
    Fresh,
    /// Complete but built from other inputs (the reason says which).
    Stale(String),
    /// Absent or incomplete (the reason says which).
    Missing(String),
}

/// The state of `dir` for `current`: `load` applies the completeness rules
/// of the run's kind; `meta_file` holds the recorded fingerprint.
pub fn state<T>(
    dir: &Path,
    meta_file: &str,
    current: &Fingerprint,
    load: impl Fn(&Path) -> Result<T>,
) -> (CacheState, Option<T>) {
    if !dir.exists() {
        return (CacheState::Missing("new".into()), None);
    }
    let loaded = match load(dir) {
        Ok(t) => t,
        Err(e) => return (CacheState::Missing(format!("incomplete: {e}")), None),
    };
    match current.stale_reason(recorded(dir, meta_file).as_ref()) {
        None => (CacheState::Fresh, Some(loaded)),
        Some(why) => (CacheState::Stale(why), None),
    }
}

/// The one reuse rule of the lab: reuse `dir` when [`state`] says it is
/// fresh (and `force` is off); otherwise, under the directory's lock,
/// rebuild it from scratch with `build`, record `current` in the metadata
/// `build` returns (written to `meta_file`), write `done` last and load it.
///
/// Concurrent callers (test processes) serialize on `<dir>.lock`, so each
/// directory is built once.
pub(crate) fn reuse_or_build<T, M: Serialize>(
    dir: &Path,
    meta_file: &str,
    current: &Fingerprint,
    force: bool,
    progress: &Progress,
    load: impl Fn(&Path) -> Result<T>,
    build: impl FnOnce(&Path) -> Result<M>,
) -> Result<T> {
    let check = || match state(dir, meta_file, current, &load) {
        (CacheState::Fresh, Some(t)) => Ok(t),
        (CacheState::Stale(why) | CacheState::Missing(why), _) => Err(why),
        (CacheState::Fresh, None) => Err("not loaded".into()),
    };
    let mut why = "forced".to_string();
    if !force {
        match check() {
            Ok(t) => {
                progress.note(&format!("reusing {}", dir.display()));
                return Ok(t);
            }
            Err(w) => why = w,
        }
    }
    let lock_path = dir.with_extension("lock");
    progress.note(&format!("waiting for lock {}", lock_path.display()));
    let _lock = DirLock::acquire(&lock_path)?;
    if !force {
        // Another process may have built it while we waited.
        match check() {
            Ok(t) => {
                progress.note(&format!(
                    "reusing {} (built by another process)",
                    dir.display()
                ));
                return Ok(t);
            }
            Err(w) => why = w,
        }
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).ctx("remove", dir)?;
    }
    std::fs::create_dir_all(dir).ctx("create", dir)?;
    progress.note(&format!("building {} ({why})", dir.display()));
    let meta = build(dir)?;
    let bad = |msg: String| LabError::Artifact {
        dir: dir.to_path_buf(),
        msg: format!("{meta_file}: {msg}"),
    };
    let mut value = serde_json::to_value(&meta).map_err(|e| bad(e.to_string()))?;
    let fp = serde_json::to_value(current).map_err(|e| bad(e.to_string()))?;
    value
        .as_object_mut()
        .ok_or_else(|| bad("not a JSON object".into()))?
        .insert(FINGERPRINT_KEY.into(), fp);
    let text = serde_json::to_string_pretty(&value).map_err(|e| bad(e.to_string()))?;
    let meta_path = dir.join(meta_file);
    std::fs::write(&meta_path, text + "\n").ctx("write", &meta_path)?;
    std::fs::write(dir.join(DONE), b"").ctx("write", dir.join(DONE))?;
    progress.note("done");
    load(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(bin: &str) -> Fingerprint {
        Fingerprint::default()
            .with(IN_LAB_VERSION, "1")
            .with(IN_CMDLINE, "console=ttyS0 panicdump_lab.token=TOKEN")
            .with_bytes(IN_PANICDUMP, bin.as_bytes())
    }

    #[test]
    fn equal_fingerprints_are_fresh() {
        assert_eq!(fp("a").stale_reason(Some(&fp("a"))), None);
    }

    #[test]
    fn a_changed_input_is_named() {
        assert_eq!(
            fp("b").stale_reason(Some(&fp("a"))).as_deref(),
            Some("stale: panicdump binary changed")
        );
        let other = fp("b").with(IN_CMDLINE, "console=ttyS0 quiet");
        assert_eq!(
            other.stale_reason(Some(&fp("a"))).as_deref(),
            Some("stale: kernel cmdline, panicdump binary changed")
        );
    }

    #[test]
    fn an_input_only_on_one_side_counts() {
        let more = fp("a").with(IN_KMOD, "sha256:00");
        assert!(more.stale_reason(Some(&fp("a"))).is_some());
        assert!(fp("a").stale_reason(Some(&more)).is_some());
    }

    #[test]
    fn no_recorded_fingerprint_is_stale() {
        assert!(fp("a")
            .stale_reason(None)
            .is_some_and(|r| r.contains("no fingerprint")));
    }

    /// The shared rule: built when new, reused while the fingerprint
    /// matches, rebuilt when it changes, when forced, or when incomplete;
    /// the recorded fingerprint is always the one the build ran with.
    #[test]
    fn reuse_or_build_rebuilds_exactly_when_needed() {
        let root = std::env::temp_dir().join(format!("pd-lab-reuse-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let dir = root.join("run");
        let progress = Progress::new("test", false);
        let builds = std::cell::Cell::new(0);
        let load = |d: &Path| crate::artifact::load_meta::<serde_json::Value>(d, "m.json");
        let build = |d: &Path| -> Result<serde_json::Value> {
            builds.set(builds.get() + 1);
            Ok(serde_json::json!({"build": builds.get(), "dir": d}))
        };
        let run = |f: &Fingerprint, force: bool| {
            reuse_or_build(&dir, "m.json", f, force, &progress, load, build).unwrap()
        };
        let v = run(&fp("a"), false);
        assert_eq!((builds.get(), v["build"].as_u64()), (1, Some(1)));
        assert_eq!(recorded(&dir, "m.json"), Some(fp("a")));
        assert_eq!(run(&fp("a"), false)["build"], 1, "reused");
        assert_eq!(run(&fp("b"), false)["build"], 2, "stale binary");
        assert_eq!(recorded(&dir, "m.json"), Some(fp("b")));
        assert_eq!(run(&fp("b"), true)["build"], 3, "forced");
        std::fs::remove_file(dir.join(DONE)).unwrap();
        assert_eq!(run(&fp("b"), false)["build"], 4, "incomplete");
        assert_eq!(run(&fp("b"), false)["build"], 4, "reused");
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn fingerprint_round_trips_through_a_meta_file() {
        let dir = std::env::temp_dir().join(format!("pd-lab-fp-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut v = serde_json::json!({"release": "x"});
        v[FINGERPRINT_KEY] = serde_json::to_value(fp("a")).unwrap();
        std::fs::write(dir.join("m.json"), v.to_string()).unwrap();
        assert_eq!(recorded(&dir, "m.json"), Some(fp("a")));
        std::fs::write(dir.join("old.json"), r#"{"release": "x"}"#).unwrap();
        assert_eq!(recorded(&dir, "old.json"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
