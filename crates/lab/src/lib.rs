//! QEMU harness for real kernel crashes.
//!
//! The lab boots the distribution kernel under QEMU (TCG) with an initramfs
//! it writes itself (busybox, the needed modules, kexec, a static panicdump
//! and a generated `/init`), crashes it, and keeps what the crash leaves:
//!
//! - [`Recipe::Kdump`]: the crash kernel's `/proc/vmcore` (`vmcore`);
//! - [`Recipe::QemuDump`]: `dump-guest-memory` of one paused guest as ELF
//!   (`qemu.elf`) and kdump-zlib in flattened form (`qemu.kdump-zlib`);
//! - [`Recipe::Pstore`]: ramoops records after a panic and warm reset (`pstore/`);
//! - [`Recipe::ArmKdump`]: the crash kernel loaded by `panicdump arm`
//!   (`kexec_file_load`, derived command line) reaches `/init` with a
//!   `/proc/vmcore` (console only, no vmcore kept);
//! - [`Recipe::Chain`]: the whole capture chain: `panicdump arm` builds its
//!   capture initramfs and loads it, `sysrq-c`, `panicdump capture` as the
//!   crash kernel's `/init` writes to an ext4 disk found by UUID and
//!   reboots, `panicdump collect` records the crash in the second boot; the
//!   disk's capture and state directories are kept (`disk/`);
//! - [`target`]: the same chain to xfs, btrfs and vfat targets found by
//!   UUID, read back on the host without mounting (`mcopy`, `btrfs
//!   restore`, a cpio the xfs guest writes);
//! - [`selftest`]: `panicdump test` end to end (arm from the config file,
//!   sysrq-c, capture, collect and `panicdump test --report` at the next boot).
//!
//! Artifacts are cached under `<root>/<release>/<key>/` with a `meta.json`,
//! the serial `console.log` and a `done` marker written last; one is reused
//! only while the fingerprint of its inputs in `meta.json` (panicdump
//! binary, kernel, command lines, guest `/init`) still matches, see [`cache`]:
//!
//! ```no_run
//! let lab = lab::Lab::from_env()?;
//! let a = lab.artifact(lab::Recipe::Kdump)?;
//! println!("{} (marker {})", a.vmcore().display(), a.marker());
//! # Ok::<(), lab::LabError>(())
//! ```

pub mod artifact;
pub mod cache;
pub mod cmdline;
pub mod cpio;
pub mod elfcore;
pub mod error;
pub mod host;
pub mod init;
pub mod initramfs;
pub mod kmod;
mod lab;
pub mod modules;
pub mod params;
pub mod progress;
pub mod qemu;
pub mod qmp;
mod run;
pub mod scenario;
pub mod selftest;
pub mod target;

pub use artifact::{Artifact, Meta};
pub use error::{LabError, Result};
pub use lab::{
    workspace_root, Lab, LabConfig, DEFAULT_TIMEOUT, ENV_DIR, ENV_KERNEL, ENV_STATIC_BIN,
    ENV_TIMEOUT,
};
pub use params::{Params, Recipe};
pub use scenario::{Mode, PanicKind, Scenario, ScenarioOutcome};
pub use target::{TargetFs, TargetOutcome};
