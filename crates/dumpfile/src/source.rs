//! The byte-source layer: where the dump file's bytes come from.
//!
//! A [`ByteSource`] is the *logical* dump file, read by `(offset, len)`. It is
//! backed by an mmap of the file or by an in-memory buffer (tests, fuzzing),
//! and may be a flattened stream (`makedumpfile -F`, QEMU `kdump-*`) viewed
//! through an index of its chunks, so the ELF and kdump readers never know
//! whether the file was flattened. Reads that fall in one contiguous piece of
//! the backing are zero-copy ([`ByteSource::slice`], [`ByteSource::get`]).

use crate::flat::FlatIndex;
use std::fs::File;
use std::path::Path;
use std::sync::Arc;

/// A read went past what the source holds.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("read of {len} bytes at file offset {offset:#x} goes past the end of the data ({available:#x} bytes)")]
pub struct SourceError {
    /// Logical file offset of the read.
    pub offset: u64,
    /// Length of the read.
    pub len: u64,
    /// Logical length of the source.
    pub available: u64,
}

/// The raw bytes behind a source.
enum Backing {
    Mmap(memmap2::Mmap),
    Shared(Arc<[u8]>),
}

impl Backing {
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Shared(b) => b,
        }
    }
}

/// The logical bytes of a dump file. Cheap to share by reference; `Send + Sync`.
pub struct ByteSource {
    backing: Backing,
    flat: Option<FlatIndex>,
}

impl std::fmt::Debug for ByteSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ByteSource")
            .field("raw_len", &self.raw().len())
            .field("flattened", &self.flat.is_some())
            .field("len", &self.len())
            .finish()
    }
}

impl ByteSource {
    /// Map a file read-only.
    ///
    /// The mapping assumes the file is not truncated while it is open (as for
    /// every mmap-based reader); dumps are written once and then only read.
    pub fn open(path: &Path) -> std::io::Result<ByteSource> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        let backing = if len == 0 {
            // mmap of an empty file fails on some systems; an empty buffer is
            // equivalent and lets the caller report "file too short".
            Backing::Shared(Arc::from(Vec::new()))
        } else {
            // SAFETY: the map is read-only and private to this process. A
            // concurrent truncation by another process would fault, which is
            // the accepted contract of every mmap-based dump reader.
            Backing::Mmap(unsafe { memmap2::Mmap::map(&file)? })
        };
        Ok(ByteSource {
            backing,
            flat: None,
        })
    }

    /// A source over an in-memory buffer.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>) -> ByteSource {
        ByteSource {
            backing: Backing::Shared(bytes.into()),
            flat: None,
        }
    }

    /// View this source through a flattened-format chunk index. The index
    /// maps logical offsets to offsets in the raw bytes of `self`.
    pub(crate) fn with_flat_index(self, index: FlatIndex) -> ByteSource {
        ByteSource {
            backing: self.backing,
            flat: Some(index),
        }
    }

    /// The raw bytes of the file, before any flattened-format reassembly.
    pub fn raw(&self) -> &[u8] {
        self.backing.bytes()
    }

    /// True when the file is a flattened stream read through its chunk index.
    pub fn is_flattened(&self) -> bool {
        self.flat.is_some()
    }

    /// The flattened-format index, when the source is flattened.
    pub fn flat_index(&self) -> Option<&FlatIndex> {
        self.flat.as_ref()
    }

    /// Logical length of the dump file.
    pub fn len(&self) -> u64 {
        match &self.flat {
            Some(f) => f.logical_len(),
            None => self.raw().len() as u64,
        }
    }

    /// True when the source holds no byte.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Zero-copy view of `[offset, offset + len)` when those bytes are stored
    /// contiguously (always, for a plain file within its length; for a
    /// flattened file, when they lie in one chunk).
    pub fn slice(&self, offset: u64, len: usize) -> Option<&[u8]> {
        let raw = self.raw();
        let raw_off = match &self.flat {
            None => offset,
            Some(f) => f.contiguous(offset, len as u64)?,
        };
        let start = usize::try_from(raw_off).ok()?;
        raw.get(start..start.checked_add(len)?)
    }

    /// Copy `[offset, offset + buf.len())` into `buf`.
    ///
    /// Parts of a flattened file's logical range that no chunk wrote read as
    /// zeros, as they would in the file `makedumpfile -R` reassembles.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        let len = buf.len() as u64;
        let err = || SourceError {
            offset,
            len,
            available: self.len(),
        };
        let end = offset.checked_add(buf.len() as u64).ok_or_else(err)?;
        if end > self.len() {
            return Err(err());
        }
        match &self.flat {
            None => {
                let start = usize::try_from(offset).map_err(|_| err())?;
                let src = self.raw().get(start..start + buf.len()).ok_or_else(err)?;
                buf.copy_from_slice(src);
                Ok(())
            }
            Some(f) => {
                if f.copy(self.raw(), offset, buf) {
                    Ok(())
                } else {
                    Err(err())
                }
            }
        }
    }

    /// Bytes actually stored in the file. A flattened file's logical length
    /// can be far larger (a chunk may claim any offset), so allocations and
    /// counts derived from file fields are bounded by this instead.
    pub fn stored_len(&self) -> u64 {
        self.raw().len() as u64
    }

    /// The bytes at `[offset, offset + len)`: borrowed when contiguous,
    /// otherwise copied into `scratch` (resized to `len`). A copy is refused
    /// when larger than the stored data, so a forged length cannot force a
    /// huge allocation.
    pub fn get<'a>(
        &'a self,
        offset: u64,
        len: usize,
        scratch: &'a mut Vec<u8>,
    ) -> Result<&'a [u8], SourceError> {
        if let Some(s) = self.slice(offset, len) {
            return Ok(s);
        }
        if len as u64 > self.stored_len() {
            return Err(SourceError {
                offset,
                len: len as u64,
                available: self.stored_len(),
            });
        }
        scratch.clear();
        scratch.resize(len, 0);
        self.read_at(offset, scratch)?;
        Ok(scratch)
    }

    /// The bytes from `offset` to at most `max` bytes further, clipped at the
    /// end of the source. Used for headers that may be cut short.
    pub fn get_clipped<'a>(
        &'a self,
        offset: u64,
        max: usize,
        scratch: &'a mut Vec<u8>,
    ) -> &'a [u8] {
        let avail = self.len().saturating_sub(offset);
        let len = max.min(usize::try_from(avail).unwrap_or(usize::MAX));
        self.get(offset, len, scratch).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_reads_and_bounds() {
        let s = ByteSource::from_bytes((0u8..100).collect::<Vec<u8>>());
        assert_eq!(s.len(), 100);
        assert_eq!(s.slice(10, 3), Some(&[10u8, 11, 12][..]));
        assert_eq!(s.slice(99, 2), None);
        assert_eq!(s.slice(u64::MAX, 2), None);
        let mut b = [0u8; 4];
        s.read_at(96, &mut b).unwrap();
        assert_eq!(b, [96, 97, 98, 99]);
        assert!(s.read_at(97, &mut b).is_err());
        assert!(s.read_at(u64::MAX - 1, &mut b).is_err());
        let mut scratch = Vec::new();
        assert_eq!(s.get_clipped(98, 10, &mut scratch), &[98, 99]);
        assert_eq!(s.get_clipped(200, 10, &mut scratch), &[] as &[u8]);
    }
}
