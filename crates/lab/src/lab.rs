//! [`Lab`]: configuration, the artifact cache, and the entry points.

use crate::artifact::{Artifact, DirLock, META};
use crate::cache::{self, CacheState, Fingerprint};
use crate::error::{IoContext, LabError, Result};
use crate::host::{self, Kernel};
use crate::params::{Params, Recipe};
use crate::progress::Progress;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// Environment variable overriding the artifact root.
pub const ENV_DIR: &str = "PANICDUMP_LAB_DIR";
/// Environment variable naming an existing static panicdump binary.
pub const ENV_STATIC_BIN: &str = "PANICDUMP_STATIC_BIN";
/// Environment variable overriding the guest kernel image.
pub const ENV_KERNEL: &str = "PANICDUMP_LAB_KERNEL";
/// Environment variable overriding the per-QEMU-run deadline, seconds.
pub const ENV_TIMEOUT: &str = "PANICDUMP_LAB_TIMEOUT";

/// The static panicdump binary this process built: every reuse check needs
/// its digest, so cargo runs once per process, not once per artifact.
static STATIC_BUILD: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Default deadline of one QEMU run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Settings of a [`Lab`]; `None` fields take defaults.
#[derive(Debug, Clone, Default)]
pub struct LabConfig {
    /// Guest kernel (default: newest `/boot/vmlinuz-*`).
    pub kernel: Option<PathBuf>,
    /// Modules directory (default: `/lib/modules/<release>`).
    pub modules_dir: Option<PathBuf>,
    /// Artifact root (default: `<workspace>/target/lab`).
    pub root: Option<PathBuf>,
    /// Static panicdump binary (default: build it with cargo).
    pub panicdump_bin: Option<PathBuf>,
    /// QEMU binary (default: `qemu-system-x86_64` in PATH).
    pub qemu: Option<PathBuf>,
    /// Static busybox (default: `/bin/busybox`).
    pub busybox: Option<PathBuf>,
    /// kexec (default: `kexec` in PATH or /sbin).
    pub kexec: Option<PathBuf>,
    /// Deadline of each QEMU run (default 600 s).
    pub timeout: Option<Duration>,
    /// Print progress on stderr.
    pub progress: bool,
}

/// The lab: builds recipes into cached artifact directories.
#[derive(Debug, Clone)]
pub struct Lab {
    pub(crate) cfg: LabConfig,
    pub(crate) root: PathBuf,
    pub(crate) timeout: Duration,
}

/// The workspace this crate was built in (for the default cache and the
/// static build).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

impl Lab {
    /// A lab from explicit settings.
    pub fn new(cfg: LabConfig) -> Self {
        let root = cfg
            .root
            .clone()
            .unwrap_or_else(|| workspace_root().join("target").join("lab"));
        let timeout = cfg.timeout.unwrap_or(DEFAULT_TIMEOUT);
        Self { cfg, root, timeout }
    }

    /// A lab configured from the environment ([`ENV_DIR`], [`ENV_STATIC_BIN`],
    /// [`ENV_KERNEL`], [`ENV_TIMEOUT`]), with progress on stderr.
    pub fn from_env() -> Result<Self> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let timeout = match std::env::var(ENV_TIMEOUT) {
            Ok(s) if !s.is_empty() => Some(Duration::from_secs(s.parse().map_err(|_| {
                LabError::Param(format!("{ENV_TIMEOUT}={s:?} is not a number of seconds"))
            })?)),
            _ => None,
        };
        Ok(Self::new(LabConfig {
            kernel: var(ENV_KERNEL),
            root: var(ENV_DIR),
            panicdump_bin: var(ENV_STATIC_BIN),
            timeout,
            progress: true,
            ..LabConfig::default()
        }))
    }

    /// Settings in force.
    pub fn config(&self) -> &LabConfig {
        &self.cfg
    }

    /// Artifact root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The guest kernel.
    pub fn kernel(&self) -> Result<Kernel> {
        Kernel::find(self.cfg.kernel.as_deref(), self.cfg.modules_dir.as_deref())
    }

    /// Directory of an artifact (whether or not it exists).
    pub fn artifact_dir(&self, recipe: Recipe, params: &Params) -> Result<PathBuf> {
        Ok(self
            .root
            .join(self.kernel()?.release)
            .join(params.key(recipe)))
    }

    /// The artifact of `recipe` with default parameters: reused when
    /// complete, built otherwise.
    pub fn artifact(&self, recipe: Recipe) -> Result<Artifact> {
        self.artifact_with(recipe, &Params::default(), false)
    }

    /// The artifact of `recipe` with `params`; `force` rebuilds it.
    ///
    /// Reused only when complete and built from the current inputs (see
    /// [`crate::cache`]); concurrent callers (test processes) serialize on a
    /// lock file next to the directory, so each artifact is built once.
    pub fn artifact_with(&self, recipe: Recipe, params: &Params, force: bool) -> Result<Artifact> {
        params.validate(recipe)?;
        let kernel = self.kernel()?;
        let dir = self.root.join(&kernel.release).join(params.key(recipe));
        let progress = Progress::new(recipe.name(), self.cfg.progress);
        let fp = crate::run::fingerprint(self, &kernel, recipe, params, &progress)?;
        cache::reuse_or_build(&dir, META, &fp, force, &progress, Artifact::load, |dir| {
            crate::run::build(self, &kernel, recipe, params, dir, &progress)
        })
    }

    /// The inputs the artifact of `recipe` with `params` would be built
    /// from now (builds the static panicdump binary if needed).
    pub fn recipe_fingerprint(&self, recipe: Recipe, params: &Params) -> Result<Fingerprint> {
        params.validate(recipe)?;
        let kernel = self.kernel()?;
        let progress = Progress::new(recipe.name(), self.cfg.progress);
        crate::run::fingerprint(self, &kernel, recipe, params, &progress)
    }

    /// Whether the artifact of `recipe` with `params` would be reused now.
    pub fn recipe_cache_state(&self, recipe: Recipe, params: &Params) -> Result<CacheState> {
        let fp = self.recipe_fingerprint(recipe, params)?;
        let dir = self.artifact_dir(recipe, params)?;
        Ok(cache::state(&dir, META, &fp, Artifact::load).0)
    }

    /// Complete artifacts under the root (all kernels).
    pub fn list(&self) -> Result<Vec<Artifact>> {
        let mut out = Vec::new();
        let Ok(releases) = std::fs::read_dir(&self.root) else {
            return Ok(out);
        };
        for rel in releases
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
        {
            let Ok(dirs) = std::fs::read_dir(rel.path()) else {
                continue;
            };
            for d in dirs.filter_map(|e| e.ok()).filter(|e| e.path().is_dir()) {
                if let Ok(a) = Artifact::load(&d.path()) {
                    out.push(a);
                }
            }
        }
        out.sort_by(|a, b| a.dir.cmp(&b.dir));
        Ok(out)
    }

    /// Remove every artifact (the whole root).
    pub fn clean(&self) -> Result<()> {
        if self.root.exists() {
            std::fs::remove_dir_all(&self.root).ctx("remove", &self.root)?;
        }
        Ok(())
    }

    /// The initramfs of `recipe` (gzip cpio), as the recipe would boot it.
    pub fn initramfs(&self, recipe: Recipe, params: &Params) -> Result<Vec<u8>> {
        let kernel = self.kernel()?;
        let progress = Progress::new(recipe.name(), self.cfg.progress);
        let tools = crate::run::Tools::find(self, recipe, &progress)?;
        crate::run::initramfs(&kernel, recipe, params, &tools)
    }

    /// Path of a static panicdump binary: the configured one, or a build of
    /// this workspace (`--profile capture`, `+crt-static`) in `target/static`.
    pub fn static_panicdump(&self, progress: &Progress) -> Result<PathBuf> {
        if let Some(p) = &self.cfg.panicdump_bin {
            return if p.is_file() {
                Ok(p.clone())
            } else {
                Err(LabError::Param(format!(
                    "static panicdump binary {} does not exist",
                    p.display()
                )))
            };
        }
        // Held through the build: the process's threads wait for one build.
        let mut built = STATIC_BUILD.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(bin) = built.as_ref().filter(|b| b.is_file()) {
            return Ok(bin.clone());
        }
        let ws = workspace_root();
        let target_dir = ws.join("target").join("static");
        let triple = "x86_64-unknown-linux-gnu";
        let _lock = DirLock::acquire(&target_dir.join("lab-build.lock"))?;
        progress.note("building static panicdump (cargo --profile capture)");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let out = Command::new(&cargo)
            .current_dir(&ws)
            .args([
                "build",
                "--profile",
                "capture",
                "--target",
                triple,
                "-p",
                "panicdump",
                // The crash kernel needs none of the optional parts (server,
                // submit client, desktop notifications): keep the binary lean.
                "--no-default-features",
            ])
            .arg("--target-dir")
            .arg(&target_dir)
            .env("RUSTFLAGS", "-C target-feature=+crt-static")
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .ctx("run", PathBuf::from(&cargo))?;
        let bin = target_dir.join(triple).join("capture").join("panicdump");
        if !out.status.success() && bin.is_file() && host::is_static(&bin)? {
            // The tree is shared and may be mid-edit: an earlier build still
            // serves the guest (it only needs `lab guest-fill`).
            progress.note(&format!(
                "warning: static build failed ({}); reusing {}",
                out.status,
                bin.display()
            ));
            *built = Some(bin.clone());
            return Ok(bin);
        }
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            let tail: Vec<&str> = err.lines().rev().take(20).collect();
            return Err(LabError::Tool {
                program: "cargo build (static panicdump)".into(),
                msg: format!(
                    "{}; set {ENV_STATIC_BIN} to use an existing binary\n{}",
                    out.status,
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ),
            });
        }
        if !host::is_static(&bin)? {
            return Err(LabError::Tool {
                program: "cargo build (static panicdump)".into(),
                msg: format!("{} is dynamically linked", bin.display()),
            });
        }
        *built = Some(bin.clone());
        Ok(bin)
    }
}
