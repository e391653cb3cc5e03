//! Readers for Linux crash dumps.
//!
//! `dumpfile` knows containers, not kernels: the ELF core files that
//! `/proc/vmcore` and QEMU produce, makedumpfile's kdump-compressed format, and
//! the flattened stream format, read in place. Each exposes the dumped
//! machine's RAM through one [`PhysicalMemory`] interface, plus the metadata the
//! layers above need: [`VmcoreInfo`] and the per-CPU register notes.

pub mod phys;
pub mod sparse;
pub mod vmcoreinfo;

pub use phys::{PageState, PhysRange, PhysicalMemory, ReadError};
pub use sparse::SparseMemory;
pub use vmcoreinfo::VmcoreInfo;
