//! Typed errors for translation and kernel-memory reads.

use dumpfile::ReadError;
use std::fmt;

/// A page-table level, named as on x86_64 (other architectures map their
/// own levels onto these: level 0 is always the last one, the page table).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// 5th level (PML5 / P4D directory of the top table with LA57).
    Pml5,
    /// 4th level (PML4, the PGD of a 4-level kernel).
    Pml4,
    /// Page directory pointer table (PUD); may map 1 GiB pages.
    Pud,
    /// Page directory (PMD); may map 2 MiB pages.
    Pmd,
    /// Page table (PTE); maps 4 KiB pages.
    Pte,
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Level::Pml5 => "PML5",
            Level::Pml4 => "PML4",
            Level::Pud => "PUD",
            Level::Pmd => "PMD",
            Level::Pte => "PTE",
        })
    }
}

/// Why a kernel virtual address could not be translated or read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// VMCOREINFO lacks a key that this operation needs.
    #[error("VMCOREINFO has no {key} (needed for {purpose})")]
    MissingKey {
        /// The full key, e.g. `SYMBOL(init_top_pgt)`.
        key: String,
        /// What it was needed for.
        purpose: &'static str,
    },
    /// The address is outside the canonical halves of the address space.
    #[error("virtual address {va:#x} is not canonical")]
    NonCanonical {
        /// The address.
        va: u64,
    },
    /// A page-table entry on the way was not present.
    #[error("virtual address {va:#x} is not mapped ({level} entry not present)")]
    NotMapped {
        /// The address.
        va: u64,
        /// The level whose entry was empty.
        level: Level,
    },
    /// A page table could not be read from the dump.
    #[error("virtual address {va:#x}: cannot read the {level} table: {source}")]
    PageTableRead {
        /// The address being translated.
        va: u64,
        /// The level of the table that failed.
        level: Level,
        /// The physical read error.
        source: ReadError,
    },
    /// No method can translate this address: it is neither in the kernel
    /// image nor the (known) direct map, and no page table is available.
    #[error("no translation for {va:#x}: outside the kernel image and direct map, and no page table is known")]
    NoTranslation {
        /// The address.
        va: u64,
    },
    /// The translated physical memory could not be read.
    #[error("reading virtual address {va:#x}: {source}")]
    Read {
        /// The virtual address of the first byte that failed.
        va: u64,
        /// The physical read error.
        source: ReadError,
    },
    /// A read would run past the top of the address space.
    #[error("read of {len} bytes at {va:#x} wraps around the address space")]
    Overflow {
        /// Start of the read.
        va: u64,
        /// Its length.
        len: usize,
    },
    /// The dumped machine's architecture is not supported (yet).
    #[error("unsupported architecture: {0}")]
    UnsupportedArch(String),
}
