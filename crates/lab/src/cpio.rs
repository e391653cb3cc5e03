//! cpio "newc" archives: the shared implementation lives in the
//! [`initramfs`] crate (also used by `panicdump arm`); re-exported here so
//! `lab::cpio` keeps its paths.

pub use initramfs::cpio::*;
