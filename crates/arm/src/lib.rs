//! Arming a machine for kernel crashes.
//!
//! - [`kexec`]: `kexec_file_load(2)` of the capture kernel, errno mapped to
//!   [`KexecError`] with the likely cause;
//! - [`cmdline`]: the capture kernel's command line derived from the running one;
//! - [`root`]: every system path resolved under a root (a fake tree in tests);
//! - [`state`]: crashkernel, pstore and sysctl state read from /sys and /proc;
//! - [`ramoops`]: ramoops zone sizes for a reserved region;
//! - [`initbin`]: the static binary that becomes the capture initramfs's `/init`;
//! - [`plan`]: the [`Action`] list `panicdump arm` executes or prints (`--dry-run`);
//! - [`estimate`]: a `crashkernel=` recommendation with its breakdown;
//! - [`status`]: armed or not, and why.

pub mod action;
pub mod cmdline;
pub mod error;
pub mod estimate;
pub mod initbin;
pub mod kexec;
pub mod plan;
pub mod ramoops;
pub mod root;
pub mod state;
pub mod status;
pub mod target;

pub use action::Action;
pub use error::{ArmError, Result};
/// The capture initramfs builder, re-exported for the CLI.
pub use initramfs;
pub use kexec::KexecError;
pub use root::Root;
