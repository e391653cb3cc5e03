//! A flat bitmap over page frame numbers, laid out like the kdump bitmaps
//! (bit `pfn` = byte `pfn / 8`, bit `pfn % 8`, LSB first), so writing it is a
//! plain little-endian dump of its words.

/// One bit per page frame `[0, len)`. Memory: `len / 8` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bitmap {
    words: Vec<u64>,
    len: u64,
}

impl Bitmap {
    /// An all-clear bitmap of `len` bits.
    pub fn new(len: u64) -> Bitmap {
        let words = usize::try_from(len.div_ceil(64)).unwrap_or(usize::MAX);
        Bitmap {
            words: vec![0; words],
            len,
        }
    }

    /// Number of bits.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True when the bitmap has no bit.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bit `i` (false beyond the end).
    #[inline]
    pub fn get(&self, i: u64) -> bool {
        i < self.len && self.words[(i / 64) as usize] & (1 << (i % 64)) != 0
    }

    /// Set bit `i` (ignored beyond the end).
    #[inline]
    pub fn set(&mut self, i: u64) {
        if i < self.len {
            self.words[(i / 64) as usize] |= 1 << (i % 64);
        }
    }

    /// Clear bit `i` (ignored beyond the end).
    #[inline]
    pub fn clear(&mut self, i: u64) {
        if i < self.len {
            self.words[(i / 64) as usize] &= !(1 << (i % 64));
        }
    }

    /// Set bits `[start, end)` (clipped to the bitmap).
    pub fn set_range(&mut self, start: u64, end: u64) {
        let end = end.min(self.len);
        let mut i = start;
        while i < end {
            if i % 64 == 0 && end - i >= 64 {
                self.words[(i / 64) as usize] = u64::MAX;
                i += 64;
            } else {
                self.set(i);
                i += 1;
            }
        }
    }

    /// Number of set bits.
    pub fn count_ones(&self) -> u64 {
        self.words.iter().map(|w| u64::from(w.count_ones())).sum()
    }

    /// Number of set bits in `[start, end)`.
    pub fn count_range(&self, start: u64, end: u64) -> u64 {
        self.ones(start, end).count() as u64
    }

    /// The set bits in `[start, end)`, ascending.
    pub fn ones(&self, start: u64, end: u64) -> Ones<'_> {
        let end = end.min(self.len);
        Ones {
            bm: self,
            next: start.min(end),
            end,
        }
    }

    /// The bitmap as file bytes: `out` receives `[byte_start, byte_start +
    /// out.len())` of the byte image, zero past the end of the bitmap.
    pub fn copy_bytes(&self, byte_start: u64, out: &mut [u8]) {
        for (i, b) in out.iter_mut().enumerate() {
            let byte = byte_start + i as u64;
            let w = (byte / 8) as usize;
            *b = self
                .words
                .get(w)
                .map_or(0, |w| (w >> ((byte % 8) * 8)) as u8);
        }
    }

    /// Mutable access to the words, for filters that work a word at a time.
    /// Bits past `len` must stay clear.
    pub fn words_mut(&mut self) -> &mut [u64] {
        &mut self.words
    }
}

/// Iterator over set bits, see [`Bitmap::ones`].
#[derive(Debug)]
pub struct Ones<'a> {
    bm: &'a Bitmap,
    next: u64,
    end: u64,
}

impl Iterator for Ones<'_> {
    type Item = u64;

    fn next(&mut self) -> Option<u64> {
        while self.next < self.end {
            let i = self.next;
            let word = self.bm.words[(i / 64) as usize] >> (i % 64);
            if word == 0 {
                // Skip the rest of this word at once: sparse bitmaps (-d 31)
                // are mostly empty words.
                self.next = (i / 64 + 1) * 64;
                continue;
            }
            let bit = i + u64::from(word.trailing_zeros());
            if bit >= self.end {
                self.next = self.end;
                return None;
            }
            self.next = bit + 1;
            return Some(bit);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ones_and_bytes() {
        let mut b = Bitmap::new(200);
        b.set_range(3, 130);
        b.clear(64);
        assert_eq!(b.count_ones(), 126);
        let v: Vec<u64> = b.ones(60, 70).collect();
        assert_eq!(v, vec![60, 61, 62, 63, 65, 66, 67, 68, 69]);
        let mut bytes = [0u8; 2];
        b.copy_bytes(0, &mut bytes);
        assert_eq!(bytes, [0xf8, 0xff]);
        assert_eq!(b.ones(150, 1000).count(), 0);
        assert!(!b.get(1000));
    }
}
