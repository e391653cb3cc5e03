//! The byte-source layer: where the dump file's bytes come from.
//!
//! A [`ByteSource`] is the *logical* dump file, read by `(offset, len)`. It is
//! backed by an mmap of the file, by an in-memory buffer (tests, fuzzing), or
//! by positioned reads of an open file ([`ByteSource::open_unmapped`]), and
//! may be a flattened stream (`makedumpfile -F`, QEMU `kdump-*`) viewed
//! through an index of its chunks, so the ELF and kdump readers never know
//! whether the file was flattened. Reads that fall in one contiguous piece of
//! an in-memory backing are zero-copy ([`ByteSource::slice`],
//! [`ByteSource::get`]); a read-backed source copies every read.

use crate::flat::FlatIndex;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::Arc;

/// A read of the source failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// The read went past what the source holds.
    #[error("read of {len} bytes at file offset {offset:#x} goes past the end of the data ({available:#x} bytes)")]
    OutOfRange {
        /// Logical file offset of the read.
        offset: u64,
        /// Length of the read.
        len: u64,
        /// Logical (or, for a refused copy, stored) length of the source.
        available: u64,
    },
    /// The operating system failed the read of a read-backed source (e.g.
    /// `EIO` from `/proc/vmcore` on a page the old kernel cannot give back).
    #[error("read of {len} bytes at file offset {offset:#x} failed: {message}")]
    Io {
        /// Logical file offset of the read.
        offset: u64,
        /// Length of the read.
        len: u64,
        /// The operating system's error, as text (keeps the error `Clone`).
        message: String,
    },
}

/// The raw bytes behind a source.
enum Backing {
    Mmap(memmap2::Mmap),
    Shared(Arc<[u8]>),
    /// Positioned reads (`pread`) of an open file of `len` bytes: nothing is
    /// mapped, so nothing but the caller's buffers is resident.
    Read {
        file: File,
        len: u64,
    },
}

impl Backing {
    /// The bytes, when they are addressable in memory; empty for
    /// [`Backing::Read`].
    fn bytes(&self) -> &[u8] {
        match self {
            Backing::Mmap(m) => m,
            Backing::Shared(b) => b,
            Backing::Read { .. } => &[],
        }
    }

    /// Number of bytes stored in the backing.
    fn len(&self) -> u64 {
        match self {
            Backing::Read { len, .. } => *len,
            other => other.bytes().len() as u64,
        }
    }

    /// Copy `buf.len()` raw bytes from `offset` (already bounds-checked by
    /// the caller against [`Backing::len`]).
    fn copy(&self, offset: u64, buf: &mut [u8]) -> Result<(), SourceError> {
        let Backing::Read { file, .. } = self else {
            let src = usize::try_from(offset)
                .ok()
                .and_then(|s| self.bytes().get(s..s.checked_add(buf.len())?));
            return match src {
                Some(src) => {
                    buf.copy_from_slice(src);
                    Ok(())
                }
                None => Err(SourceError::OutOfRange {
                    offset,
                    len: buf.len() as u64,
                    available: self.len(),
                }),
            };
        };
        // `read_exact_at` retries short reads and EINTR; a file that shrank
        // since it was opened ends in UnexpectedEof, reported as I/O.
        file.read_exact_at(buf, offset)
            .map_err(|e| SourceError::Io {
                offset,
                len: buf.len() as u64,
                message: e.to_string(),
            })
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
            .field("stored_len", &self.stored_len())
            .field("in_memory", &self.is_in_memory())
            .field("flattened", &self.flat.is_some())
            .field("len", &self.len())
            .finish()
    }
}

impl ByteSource {
    /// Map a file read-only. Fastest for ordinary files: reads are
    /// zero-copy and the page cache does the buffering.
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

    /// Open a file to be read with positioned reads (`pread`), never mapped.
    ///
    /// For files whose mapping costs memory up front. `/proc/vmcore` is one:
    /// the kernel's `mmap` of it fills the page tables of the whole range at
    /// once (`remap_oldmem_pfn_range`), 2 MiB of page tables per GiB of
    /// dumped memory, which a crash kernel with a small `crashkernel=`
    /// reservation cannot afford. Every read copies into the caller's buffer
    /// ([`ByteSource::slice`] always returns `None`), and
    /// [`ByteSource::raw`] is empty, so a flattened stream cannot be read
    /// this way (`Dump::from_source` says so).
    pub fn open_unmapped(path: &Path) -> std::io::Result<ByteSource> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(ByteSource {
            backing: Backing::Read { file, len },
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

    /// The raw bytes of the file, before any flattened-format reassembly,
    /// when they are in memory (mapped or a buffer). Empty for a source from
    /// [`ByteSource::open_unmapped`], whose bytes are only copied on demand.
    pub fn raw(&self) -> &[u8] {
        self.backing.bytes()
    }

    /// True when the bytes are addressable in memory (mmap or buffer), so
    /// [`ByteSource::raw`] holds the whole file and contiguous reads are
    /// zero-copy.
    pub fn is_in_memory(&self) -> bool {
        !matches!(self.backing, Backing::Read { .. })
    }

    /// True when the bytes are a mapping of the file (not a copy in memory,
    /// not read on demand): dropping its pages from the page tables
    /// (`MADV_DONTNEED`) then loses nothing, they fault back in from the file.
    pub fn is_file_mapping(&self) -> bool {
        matches!(self.backing, Backing::Mmap(_))
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
            None => self.backing.len(),
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
        let err = || SourceError::OutOfRange {
            offset,
            len,
            available: self.len(),
        };
        let end = offset.checked_add(buf.len() as u64).ok_or_else(err)?;
        if end > self.len() {
            return Err(err());
        }
        match &self.flat {
            None => self.backing.copy(offset, buf),
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
        self.backing.len()
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
            return Err(SourceError::OutOfRange {
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

    #[test]
    fn unmapped_reads_match_and_report_io_errors() {
        let dir = std::env::temp_dir().join(format!("dumpfile-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("data");
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let s = ByteSource::open_unmapped(&path).unwrap();
        assert!(!s.is_in_memory());
        assert_eq!((s.len(), s.stored_len()), (10_000, 10_000));
        assert_eq!(s.slice(0, 4), None);
        assert!(s.raw().is_empty());
        let mut b = [0u8; 300];
        s.read_at(4000, &mut b).unwrap();
        assert_eq!(&b[..], &data[4000..4300]);
        let mut scratch = Vec::new();
        assert_eq!(s.get(9990, 10, &mut scratch).unwrap(), &data[9990..]);
        assert_eq!(s.get_clipped(9995, 64, &mut scratch), &data[9995..]);
        assert!(matches!(
            s.read_at(9_900, &mut b),
            Err(SourceError::OutOfRange {
                available: 10_000,
                ..
            })
        ));
        // The file shrinking under the reader is an I/O error, not a panic.
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(100)
            .unwrap();
        let err = s.read_at(4000, &mut b).unwrap_err();
        assert!(matches!(err, SourceError::Io { offset: 4000, .. }), "{err}");
        assert!(ByteSource::open_unmapped(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
