//! The two page bitmaps and the rank index over the second one.
//!
//! Bit `pfn` is byte `pfn / 8`, bit `pfn % 8`. A page's descriptor is the
//! `rank`-th one, where rank counts set bits of the 2nd bitmap below it. To
//! avoid a linear popcount per lookup we keep the cumulative count at every
//! 4096-bit block: memory is 1/64 of the bitmap, and a lookup popcounts at
//! most 512 bytes.

use crate::source::ByteSource;

/// Bits per rank-index block.
const BLOCK_BITS: u64 = 4096;
const BLOCK_BYTES: usize = (BLOCK_BITS / 8) as usize;

/// Where a bitmap's bytes live.
#[derive(Debug)]
enum Storage {
    /// In the source at this offset (zero-copy).
    InSource(u64),
    /// Copied out (a flattened file whose bitmap spans several chunks).
    Owned(Vec<u8>),
}

/// One bitmap of `bits` bits.
#[derive(Debug)]
pub(crate) struct Bitmap {
    storage: Storage,
    len: usize,
    bits: u64,
}

fn popcount(b: &[u8]) -> u64 {
    let mut chunks = b.chunks_exact(8);
    let mut n: u64 = 0;
    for c in chunks.by_ref() {
        // chunks_exact yields 8-byte slices.
        let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
        n += u64::from(w.count_ones());
    }
    n + chunks
        .remainder()
        .iter()
        .map(|x| u64::from(x.count_ones()))
        .sum::<u64>()
}

impl Bitmap {
    /// A bitmap of `bits` bits stored at `offset` (the caller checked that
    /// `bits.div_ceil(8)` bytes are inside the source).
    pub fn new(src: &ByteSource, offset: u64, bits: u64) -> Option<Bitmap> {
        let len = usize::try_from(bits.div_ceil(8)).ok()?;
        let storage = if src.slice(offset, len).is_some() {
            Storage::InSource(offset)
        } else {
            // Flattened file: copy, but never more than the file stores.
            if len as u64 > src.stored_len() {
                return None;
            }
            let mut v = vec![0u8; len];
            src.read_at(offset, &mut v).ok()?;
            Storage::Owned(v)
        };
        Some(Bitmap { storage, len, bits })
    }

    /// The bitmap bytes.
    pub fn bytes<'a>(&'a self, src: &'a ByteSource) -> &'a [u8] {
        match &self.storage {
            Storage::InSource(off) => src.slice(*off, self.len).unwrap_or(&[]),
            Storage::Owned(v) => v,
        }
    }

    /// Number of bits.
    pub fn bits(&self) -> u64 {
        self.bits
    }

    /// Bit `pfn` (false beyond the end).
    pub fn test(&self, src: &ByteSource, pfn: u64) -> bool {
        if pfn >= self.bits {
            return false;
        }
        let b = self.bytes(src);
        b.get((pfn / 8) as usize)
            .is_some_and(|x| x & (1 << (pfn % 8)) != 0)
    }

    /// Set bits below `self.bits`, with the bytes of the final partial byte
    /// masked.
    pub fn count_ones(&self, src: &ByteSource) -> u64 {
        let b = self.bytes(src);
        let full = (self.bits / 8) as usize;
        let mut n = popcount(b.get(..full).unwrap_or(b));
        let rem = self.bits % 8;
        if rem != 0 {
            if let Some(&last) = b.get(full) {
                n += u64::from((last & ((1u8 << rem) - 1)).count_ones());
            }
        }
        n
    }

    /// Count of pfns set in `self` and clear in `other` (both of `self.bits`).
    pub fn count_and_not(&self, src: &ByteSource, other: &Bitmap) -> u64 {
        let a = self.bytes(src);
        let b = other.bytes(src);
        let mut n = 0u64;
        let full = (self.bits / 8) as usize;
        let a_full = a.get(..full).unwrap_or(a);
        let mut b_iter = b.iter();
        for &x in a_full {
            let y = b_iter.next().copied().unwrap_or(0);
            n += u64::from((x & !y).count_ones());
        }
        let rem = self.bits % 8;
        if rem != 0 {
            if let Some(&x) = a.get(full) {
                let y = b.get(full).copied().unwrap_or(0);
                n += u64::from((x & !y & ((1u8 << rem) - 1)).count_ones());
            }
        }
        n
    }

    /// Runs of set bits as `[start, end)` pfn ranges.
    pub fn runs(&self, src: &ByteSource) -> Vec<(u64, u64)> {
        let b = self.bytes(src);
        let mut out: Vec<(u64, u64)> = Vec::new();
        let mut run: Option<u64> = None;
        let mut pfn = 0u64;
        while pfn < self.bits {
            let byte = b.get((pfn / 8) as usize).copied().unwrap_or(0);
            // Skip whole bytes quickly when they continue the current state.
            if pfn % 8 == 0 && self.bits - pfn >= 8 && (byte == 0 || byte == 0xff) {
                match (run, byte) {
                    (None, 0xff) => run = Some(pfn),
                    (Some(s), 0) => {
                        out.push((s, pfn));
                        run = None;
                    }
                    _ => {}
                }
                pfn += 8;
                continue;
            }
            let set = byte & (1 << (pfn % 8)) != 0;
            match (run, set) {
                (None, true) => run = Some(pfn),
                (Some(s), false) => {
                    out.push((s, pfn));
                    run = None;
                }
                _ => {}
            }
            pfn += 1;
        }
        if let Some(s) = run {
            out.push((s, self.bits));
        }
        out
    }
}

/// Cumulative set-bit counts of a bitmap at every block boundary.
#[derive(Debug)]
pub(crate) struct RankIndex {
    /// `prefix[i]` = set bits in blocks `0..i`.
    prefix: Vec<u64>,
    total: u64,
}

impl RankIndex {
    /// Build the index over the first `bm.bits()` bits.
    pub fn build(bm: &Bitmap, src: &ByteSource) -> RankIndex {
        let b = bm.bytes(src);
        let blocks = bm.bits().div_ceil(BLOCK_BITS) as usize;
        let mut prefix = Vec::with_capacity(blocks + 1);
        let mut total = 0u64;
        for i in 0..blocks {
            prefix.push(total);
            let start = i * BLOCK_BYTES;
            let end = ((i + 1) * BLOCK_BYTES).min(b.len());
            if i + 1 == blocks {
                // The last block goes through `count_ones`, which masks the
                // bits past `bits` exactly as everywhere else.
                total = bm.count_ones(src);
            } else {
                total += popcount(b.get(start..end).unwrap_or(&[]));
            }
        }
        prefix.push(total);
        RankIndex { prefix, total }
    }

    /// Set bits in the whole bitmap (the number of descriptors).
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Set bits strictly below `pfn` (`pfn < bm.bits()`).
    pub fn rank(&self, bm: &Bitmap, src: &ByteSource, pfn: u64) -> u64 {
        let b = bm.bytes(src);
        let block = (pfn / BLOCK_BITS) as usize;
        let base = self.prefix.get(block).copied().unwrap_or(self.total);
        let start = block * BLOCK_BYTES;
        let byte = (pfn / 8) as usize;
        let mut n = base + popcount(b.get(start..byte).unwrap_or(&[]));
        let bit = pfn % 8;
        if bit != 0 {
            if let Some(&x) = b.get(byte) {
                n += u64::from((x & ((1u8 << bit) - 1)).count_ones());
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rank_matches_naive_count() {
        let mut bytes = vec![0u8; 3000];
        let mut x: u32 = 12345;
        for b in bytes.iter_mut() {
            x = x.wrapping_mul(1103515245).wrapping_add(12345);
            *b = (x >> 16) as u8;
        }
        bytes[100..700].fill(0xff);
        bytes[1000..2000].fill(0);
        let bits = 3000 * 8 - 3;
        let src = ByteSource::from_bytes(bytes.clone());
        let bm = Bitmap::new(&src, 0, bits).unwrap();
        let idx = RankIndex::build(&bm, &src);
        let mut naive = 0u64;
        for pfn in 0..bits {
            assert_eq!(idx.rank(&bm, &src, pfn), naive, "pfn {pfn}");
            if bytes[(pfn / 8) as usize] & (1 << (pfn % 8)) != 0 {
                naive += 1;
                assert!(bm.test(&src, pfn));
            }
        }
        assert_eq!(idx.total(), naive);
        assert_eq!(bm.count_ones(&src), naive);
        let runs = bm.runs(&src);
        assert_eq!(runs.iter().map(|(s, e)| e - s).sum::<u64>(), naive);
    }
}
