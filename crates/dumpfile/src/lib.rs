//! Readers for Linux crash dumps.
//!
//! `dumpfile` knows containers, not kernels: the ELF core files that
//! `/proc/vmcore` and QEMU produce, makedumpfile's kdump-compressed format, and
//! the flattened stream format, read in place. Each exposes the dumped
//! machine's RAM through one [`PhysicalMemory`] interface, plus the metadata the
//! layers above need: [`VmcoreInfo`] and the per-CPU register notes.
//!
//! [`Dump::open`] maps the file (zero-copy reads); [`Dump::open_unmapped`]
//! reads it with `pread` instead, for sources whose mapping is costly (the
//! crash kernel's `/proc/vmcore`).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dump = dumpfile::Dump::open(std::path::Path::new("vmcore"))?;
//! println!("{}", dump.format());
//! let mut page = vec![0u8; dump.memory().page_size() as usize];
//! dump.memory().read_pfn(0x1000, &mut page)?;
//! # Ok(()) }
//! ```

pub mod dump;
pub mod elf;
pub mod endian;
pub mod error;
pub mod flat;
mod interval;
pub mod kdump;
pub mod lzo;
pub mod notes;
pub mod phys;
pub mod source;
pub mod sparse;
#[cfg(any(test, feature = "testutil"))]
pub mod testutil;
pub mod vmcoreinfo;

pub use dump::{Container, Dump, Format, Origin, PageCounts, PANICDUMP_NOTE_NAME};
pub use endian::Endian;
pub use error::DumpError;
pub use kdump::header::{Compression, KdumpHeader, Utsname};
pub use notes::{CpuState, Note, NoteIter, QemuCpuState, X86_64Regs};
pub use phys::{PageState, PhysRange, PhysicalMemory, ReadError};
pub use source::{ByteSource, SourceError};
pub use sparse::SparseMemory;
pub use vmcoreinfo::VmcoreInfo;

#[cfg(test)]
mod tests;
