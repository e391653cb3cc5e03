//! The flattened stream format (`makedumpfile -F`, QEMU `kdump-*`).
//!
//! A flattened file is a 4096-byte header followed by chunks, each a
//! big-endian `(offset, size)` pair and `size` bytes that belong at `offset`
//! of the real dump file, ending with `(-1, -1)`. Instead of reassembling the
//! file (`makedumpfile -R`), we index the chunks once into a sorted map of
//! logical offset → raw offset and read through it. Later chunks override
//! earlier ones where they overlap, as a sequential rewrite would.

use crate::error::DumpError;
use crate::interval::{resolve, Interval};

/// Signature at offset 0, NUL-padded to 16 bytes.
pub(crate) const FLAT_SIGNATURE: &[u8] = b"makedumpfile";
/// Size of the flattened-file header.
const FLAT_HEADER_SIZE: u64 = 4096;
/// `TYPE_FLAT_HEADER`.
const FLAT_TYPE: i64 = 1;
/// Size of each chunk header.
const CHUNK_HEADER: u64 = 16;

/// True when `raw` starts like a flattened file.
pub(crate) fn is_flattened(raw: &[u8]) -> bool {
    raw.len() >= 16 && raw.starts_with(FLAT_SIGNATURE) && raw[12..16].iter().all(|&b| b == 0)
}

/// One resolved piece of the logical file.
#[derive(Clone, Copy, Debug)]
struct FlatPiece {
    start: u64,
    end: u64,
    raw: u64,
}

/// Index of a flattened file: logical offset → raw offset.
#[derive(Clone, Debug, Default)]
pub struct FlatIndex {
    pieces: Vec<FlatPiece>,
    logical_len: u64,
    chunks: u64,
}

impl FlatIndex {
    /// Index the chunks of a flattened file.
    pub(crate) fn parse(raw: &[u8], warnings: &mut Vec<String>) -> Result<FlatIndex, DumpError> {
        let be = |off: usize| -> Option<i64> {
            raw.get(off..off + 8)
                .and_then(|b| b.try_into().ok())
                .map(i64::from_be_bytes)
        };
        let (Some(ty), Some(version)) = (be(16), be(24)) else {
            return Err(DumpError::truncated(
                "flattened header",
                0,
                32,
                raw.len() as u64,
            ));
        };
        if ty != FLAT_TYPE {
            return Err(DumpError::corrupt(
                "flattened header type",
                16,
                format!("expected {FLAT_TYPE}, found {ty}"),
            ));
        }
        if version != 1 {
            warnings.push(format!(
                "flattened header version {version} (expected 1); reading anyway"
            ));
        }
        let raw_len = raw.len() as u64;
        let mut intervals: Vec<Interval> = Vec::new();
        let mut raw_offsets: Vec<u64> = Vec::new();
        let mut pos = FLAT_HEADER_SIZE;
        let mut terminated = false;
        // Each early stop below explains itself; only a clean end of file
        // without the (-1, -1) marker needs the generic message.
        let warned_before = warnings.len();
        loop {
            if pos == raw_len {
                break;
            }
            let hdr = usize::try_from(pos)
                .ok()
                .and_then(|p| Some((be(p)?, be(p + 8)?)));
            let Some((offset, size)) = hdr else {
                warnings.push(format!(
                    "flattened stream: chunk header at {pos:#x} is cut short by the end of the file"
                ));
                break;
            };
            if offset == -1 && size == -1 {
                terminated = true;
                break;
            }
            if offset < 0 || size < 0 {
                warnings.push(format!(
                    "flattened stream: bad chunk header at {pos:#x} (offset {offset}, size {size}); ignoring the rest"
                ));
                break;
            }
            let data = pos + CHUNK_HEADER;
            let (offset, mut size) = (offset as u64, size as u64);
            let avail = raw_len.saturating_sub(data);
            let cut = size > avail;
            if cut {
                warnings.push(format!(
                    "flattened stream: chunk at {pos:#x} needs {size} bytes, only {avail} left; stream truncated"
                ));
                size = avail;
            }
            let Some(end) = offset.checked_add(size) else {
                warnings.push(format!(
                    "flattened stream: chunk at {pos:#x} has offset {offset:#x} + size {size:#x} overflowing; ignoring the rest"
                ));
                break;
            };
            let id = intervals.len();
            // Later chunks win: give them lower (better) priority values.
            intervals.push(Interval {
                start: offset,
                end,
                priority: u64::MAX - id as u64,
                id,
            });
            raw_offsets.push(data);
            if cut {
                break;
            }
            pos = data + size;
        }
        if !terminated && warnings.len() == warned_before {
            warnings.push(format!(
                "flattened stream: no end marker after {} chunks; the stream was truncated",
                intervals.len()
            ));
        }
        let chunks = intervals.len() as u64;
        let pieces: Vec<FlatPiece> = resolve(&intervals)
            .into_iter()
            .map(|p| {
                let iv = intervals[p.id];
                FlatPiece {
                    start: p.start,
                    end: p.end,
                    raw: raw_offsets[p.id] + (p.start - iv.start),
                }
            })
            .collect();
        let logical_len = pieces.last().map(|p| p.end).unwrap_or(0);
        Ok(FlatIndex {
            pieces,
            logical_len,
            chunks,
        })
    }

    /// Length of the reassembled file.
    pub fn logical_len(&self) -> u64 {
        self.logical_len
    }

    /// Number of chunks indexed.
    pub fn chunk_count(&self) -> u64 {
        self.chunks
    }

    fn find(&self, offset: u64) -> usize {
        self.pieces.partition_point(|p| p.end <= offset)
    }

    /// Raw offset of `[offset, offset + len)` when it lies in one piece.
    pub(crate) fn contiguous(&self, offset: u64, len: u64) -> Option<u64> {
        let p = self.pieces.get(self.find(offset))?;
        let end = offset.checked_add(len)?;
        (p.start <= offset && end <= p.end).then(|| p.raw + (offset - p.start))
    }

    /// Copy logical bytes into `buf`, zero-filling unwritten gaps. The caller
    /// has checked that the range is within `logical_len`.
    pub(crate) fn copy(&self, raw: &[u8], offset: u64, buf: &mut [u8]) -> bool {
        let mut done = 0usize;
        let mut idx = self.find(offset);
        while done < buf.len() {
            let at = offset + done as u64;
            let rest = buf.len() - done;
            match self.pieces.get(idx) {
                Some(p) if p.start <= at => {
                    let n = (p.end - at).min(rest as u64) as usize;
                    let Ok(r) = usize::try_from(p.raw + (at - p.start)) else {
                        return false;
                    };
                    let Some(src) = r.checked_add(n).and_then(|e| raw.get(r..e)) else {
                        return false;
                    };
                    buf[done..done + n].copy_from_slice(src);
                    done += n;
                    idx += 1;
                }
                Some(p) => {
                    let n = (p.start - at).min(rest as u64) as usize;
                    buf[done..done + n].fill(0);
                    done += n;
                }
                None => {
                    buf[done..].fill(0);
                    done = buf.len();
                }
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::ByteSource;
    use crate::testutil::flatten;

    #[test]
    fn reassembles_out_of_order_and_overriding_chunks() {
        let chunks: Vec<(u64, Vec<u8>)> = vec![
            (10, vec![1; 10]),
            (0, vec![2; 5]),
            (12, vec![3; 3]), // overrides part of the first chunk
            (30, vec![4; 2]), // leaves a gap 20..30
        ];
        let flat = flatten(&chunks, true);
        let mut w = Vec::new();
        let idx = FlatIndex::parse(&flat, &mut w).unwrap();
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(idx.logical_len(), 32);
        let src = ByteSource::from_bytes(flat).with_flat_index(idx);
        let mut all = vec![0xffu8; 32];
        src.read_at(0, &mut all).unwrap();
        let mut want = vec![0u8; 32];
        want[0..5].fill(2);
        want[10..20].fill(1);
        want[12..15].fill(3);
        want[30..32].fill(4);
        assert_eq!(all, want);
        assert_eq!(src.slice(12, 3), Some(&[3u8, 3, 3][..]));
        assert_eq!(src.slice(11, 3), None);
        let mut scratch = Vec::new();
        assert_eq!(src.get(11, 3, &mut scratch).unwrap(), &[1, 3, 3]);
        assert!(src.read_at(31, &mut [0u8; 2]).is_err());
    }

    #[test]
    fn missing_terminator_keeps_chunks_and_warns() {
        let flat = flatten(&[(0, vec![7; 100])], false);
        let mut w = Vec::new();
        let idx = FlatIndex::parse(&flat, &mut w).unwrap();
        assert_eq!(idx.logical_len(), 100);
        assert_eq!(w.len(), 1, "{w:?}");
        // Cut inside the chunk data: keep the part that is there.
        let mut w = Vec::new();
        let idx = FlatIndex::parse(&flat[..4096 + 16 + 40], &mut w).unwrap();
        assert_eq!(idx.logical_len(), 40);
        assert!(!w.is_empty());
    }

    #[test]
    fn every_cut_point_is_handled() {
        let flat = flatten(&[(0, vec![1; 50]), (4096, vec![2; 50])], true);
        for cut in 0..flat.len() {
            let mut w = Vec::new();
            let _ = FlatIndex::parse(&flat[..cut], &mut w);
        }
    }
}
