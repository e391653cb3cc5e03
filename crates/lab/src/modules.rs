//! Kernel module closure from `modules.dep`: the shared implementation
//! lives in the [`initramfs`] crate; re-exported here so `lab::modules`
//! keeps its paths.

pub use initramfs::modules::*;
