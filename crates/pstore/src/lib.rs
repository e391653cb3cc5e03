//! Parse, reassemble and safely harvest Linux pstore records.
//!
//! - [`name`]: `/sys/fs/pstore` file names and efi-pstore variable names.
//! - [`dmesg`]: the `Panic#1 Part1` header, ECC notices, body lines.
//! - [`decompress`]: `.enc.z` records (raw deflate, then zlib), capped.
//! - [`record`] / [`reassemble`]: records to [`Crash`]es in reading order.
//! - [`ramoops`]: a whole ramoops memory image (`memmap=` region copy).
//! - [`harvest`]: copy-verify-unlink from a pstore directory, crash-safe.

pub mod decompress;
pub mod dmesg;
mod error;
pub mod harvest;
pub mod name;
pub mod ramoops;
pub mod reassemble;
pub mod record;

pub use error::{DecompressError, HarvestError, LayoutError, NameError};
pub use name::{Backend, EfiId, EfiVarName, RecordName, RecordType};
pub use reassemble::{reassemble, reassemble_with_cap, Attachment, Collection, Crash, CrashFlags};
pub use record::{Decoded, Record, RecordTime};

/// The records of a directory and the entries that could not be read.
#[derive(Debug, Clone, Default)]
pub struct DirContents {
    /// Records read, in name order.
    pub records: Vec<Record>,
    /// Entries that could not be read: (file name, error text).
    pub unreadable: Vec<(String, String)>,
}

/// Read every regular file of a pstore directory (or a copy of one) as
/// records, with their mtimes as record times.
pub fn read_dir(dir: &std::path::Path) -> std::io::Result<DirContents> {
    let mut recs = Vec::new();
    let mut failed = Vec::new();
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let meta = match e.metadata() {
            Ok(m) if m.is_file() => m,
            Ok(_) => continue,
            Err(err) => {
                failed.push((name, err.to_string()));
                continue;
            }
        };
        match std::fs::read(e.path()) {
            Ok(raw) => recs.push(Record::new(&name, raw, mtime(&meta))),
            Err(err) => failed.push((name, err.to_string())),
        }
    }
    Ok(DirContents {
        records: recs,
        unreadable: failed,
    })
}

pub(crate) fn mtime(meta: &std::fs::Metadata) -> Option<RecordTime> {
    let t = meta.modified().ok()?;
    let d = t.duration_since(std::time::UNIX_EPOCH).ok()?;
    Some(RecordTime {
        secs: i64::try_from(d.as_secs()).ok()?,
        nanos: d.subsec_nanos(),
    })
}
