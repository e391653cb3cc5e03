//! Initramfs building blocks shared by the lab and `panicdump arm`.
//!
//! - [`cpio`]: the newc archive format the kernel unpacks;
//! - [`modules`]: dependency closure of kernel modules from `modules.dep`;
//! - [`capture`]: panicdump's own capture initramfs (the static panicdump
//!   binary as `/init` plus only the modules needed to reach the dump
//!   target), with a content hash so it is rebuilt only when inputs change.

pub mod capture;
pub mod cpio;
pub mod error;
pub mod hash;
pub mod modules;

pub use capture::{Built, CaptureSpec, Compression, SizeReport};
pub use error::{Error, Result};
