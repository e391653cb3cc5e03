//! Every system-changing step of `panicdump arm` is an [`Action`]: the same
//! list is either executed or printed (`--dry-run`), so the dry run shows
//! exactly what would be done.

use crate::error::{io, ArmError, Result};
use crate::kexec::{self, KexecLoad};
use crate::root::Root;
use initramfs::capture::{self, Cached, CaptureSpec};
use std::fmt;
use std::path::PathBuf;

/// One system change.
#[derive(Debug, Clone)]
pub enum Action {
    /// Build the capture initramfs into `out` (skipped when up to date).
    BuildInitramfs {
        /// The inputs.
        spec: Box<CaptureSpec>,
        /// Output image.
        out: PathBuf,
    },
    /// Write `value` to a /proc or /sys file (a sysctl or module parameter).
    Write {
        /// Absolute system path (resolved under the root).
        path: String,
        /// Value written.
        value: String,
        /// Why.
        why: &'static str,
    },
    /// `modprobe NAME PARAMS...`.
    LoadModule {
        /// Module name.
        name: String,
        /// Parameters.
        params: Vec<String>,
        /// Why.
        why: &'static str,
    },
    /// Unload the current crash kernel, so a new one can be loaded.
    KexecUnload,
    /// `kexec_file_load(KEXEC_FILE_ON_CRASH)`.
    KexecLoad(KexecLoad),
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::BuildInitramfs { spec, out } => write!(
                f,
                "build capture initramfs {} (init {}, release {}, block {:?}, fs {:?}, extra {:?}, {})",
                out.display(),
                spec.init.display(),
                spec.release,
                spec.block_drivers,
                spec.filesystems,
                spec.extra_modules,
                format!("{:?}", spec.compression).to_lowercase()
            ),
            Action::Write { path, value, why } => write!(f, "write {path} = {value}  # {why}"),
            Action::LoadModule { name, params, why } => {
                write!(f, "modprobe {name}")?;
                for p in params {
                    write!(f, " {p}")?;
                }
                write!(f, "  # {why}")
            }
            Action::KexecUnload => write!(f, "kexec_file_load(UNLOAD|ON_CRASH)"),
            Action::KexecLoad(l) => write!(
                f,
                "kexec_file_load(ON_CRASH) kernel={} initrd={} cmdline=\"{}\"",
                l.kernel.display(),
                l.initrd
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "none".into()),
                l.cmdline
            ),
        }
    }
}

/// What executing an action did, for the report.
pub type Outcome = String;

impl Action {
    /// Perform the action on the system under `root`. kexec and modprobe
    /// act on the running kernel, so they refuse a fake root.
    pub fn execute(&self, root: &Root, crash_size: Option<u64>) -> Result<Outcome> {
        match self {
            Action::BuildInitramfs { spec, out } => {
                // The state directory exists once the arm unit ran
                // (StateDirectory=); a first manual `arm` or `panicdump
                // test` must not depend on that. Private like the unit's.
                if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
                    if !dir.is_dir() {
                        use std::os::unix::fs::DirBuilderExt;
                        std::fs::DirBuilder::new()
                            .recursive(true)
                            .mode(0o700)
                            .create(dir)
                            .map_err(io("create", dir))?;
                    }
                }
                match capture::build_cached(spec, out)? {
                    Cached::UpToDate { bytes, .. } => Ok(format!("up to date ({bytes} bytes)")),
                    Cached::Rebuilt(r, _) => Ok(format!(
                        "built: {} bytes ({} unpacked, {} modules)",
                        r.compressed_bytes,
                        r.unpacked_bytes,
                        r.modules.len()
                    )),
                }
            }
            Action::Write { path, value, .. } => {
                let p = root.path(path);
                std::fs::write(&p, format!("{value}\n")).map_err(io("write", p))?;
                Ok("ok".into())
            }
            Action::LoadModule { name, params, .. } => {
                host_only(root, "modprobe")?;
                let out = std::process::Command::new("modprobe")
                    .arg(name)
                    .args(params)
                    .output()
                    .map_err(io("run", "modprobe"))?;
                if out.status.success() {
                    Ok("ok".into())
                } else {
                    Err(ArmError::Tool {
                        program: format!("modprobe {name}"),
                        msg: format!(
                            "{}: {}",
                            out.status,
                            String::from_utf8_lossy(&out.stderr).trim()
                        ),
                    })
                }
            }
            Action::KexecUnload => {
                host_only(root, "kexec")?;
                kexec::unload_on_crash()?;
                Ok("ok".into())
            }
            Action::KexecLoad(l) => {
                host_only(root, "kexec")?;
                kexec::load_on_crash(l, crash_size)?;
                Ok("ok".into())
            }
        }
    }
}

fn host_only(root: &Root, what: &str) -> Result<()> {
    if root.is_host() {
        Ok(())
    } else {
        Err(ArmError::Config(format!(
            "{what} acts on the running kernel: not possible with --root {} (use --dry-run)",
            root.dir().display()
        )))
    }
}
