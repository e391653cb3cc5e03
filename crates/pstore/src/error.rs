//! Typed errors of the crate.

use std::path::PathBuf;

/// Why a record name could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The name is empty or holds characters pstore never writes.
    #[error("not a pstore record name: {0:?}")]
    NotARecord(String),
    /// The name does not follow `dump-type<T>-<part>-...`.
    #[error("not an efi-pstore variable name: {0:?}")]
    NotEfiVariable(String),
}

/// Why compressed record data could not be inflated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecompressError {
    /// Neither raw deflate nor zlib recognise the data (another algorithm:
    /// lzo, lz4, 842, zstd from the 4.19-6.5 crypto API, or damage).
    #[error("data is neither raw deflate nor zlib")]
    Unrecognised,
    /// Inflating would exceed the caller's output cap.
    #[error("inflated data exceeds the {cap}-byte cap")]
    TooLarge {
        /// The cap that was hit.
        cap: usize,
    },
}

/// Why a ramoops memory image could not be laid out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LayoutError {
    /// console + ftrace + pmsg sizes exceed `mem_size`.
    #[error("zone sizes ({zones} bytes) exceed mem_size ({mem_size} bytes)")]
    ZonesExceedRegion {
        /// Sum of console, ftrace and pmsg sizes.
        zones: u64,
        /// The region size.
        mem_size: u64,
    },
    /// A zone is too small to hold its 12-byte header (plus ECC parity).
    #[error("{zone} zone of {size} bytes is too small for its header")]
    ZoneTooSmall {
        /// Zone kind.
        zone: &'static str,
        /// Zone size in bytes.
        size: u64,
    },
    /// More zones than the parser is willing to describe.
    #[error("layout has {0} zones (limit 65536)")]
    TooManyZones(u64),
}

/// A harvest-level failure that stops the whole run (per-entry failures are
/// reported in the `HarvestReport` instead).
#[derive(Debug, thiserror::Error)]
pub enum HarvestError {
    /// The pstore directory could not be listed.
    #[error("cannot list {path}: {source}")]
    ListSource {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The destination directory could not be created or opened.
    #[error("cannot prepare destination {path}: {source}")]
    Destination {
        /// The directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
