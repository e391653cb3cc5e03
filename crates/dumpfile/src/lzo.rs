//! A bounded, allocation-free LZO1X decompressor.
//!
//! makedumpfile `-l` stores pages compressed with `lzo1x_1`. The available
//! crates either carry an incompatible licence (rust-lzo: GPL-2.0,
//! minilzo-rs: GPL-3.0) or panic and allocate without bound on corrupt input
//! (lzokay-native: unchecked back-reference arithmetic), so this is a small
//! decoder written from the LZO1X stream description (Linux
//! `Documentation/staging/lzo.rst`). It writes into a caller-provided slice
//! and rejects every out-of-range length or distance instead of trusting it.

/// Why a stream did not decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum LzoError {
    /// The input ended inside an instruction.
    #[error("LZO input truncated")]
    InputOverrun,
    /// The output would exceed the buffer.
    #[error("LZO output larger than the page")]
    OutputOverrun,
    /// A match refers to before the start of the output.
    #[error("LZO back-reference before start of output")]
    LookBehind,
}

struct In<'a> {
    b: &'a [u8],
    pos: usize,
}

impl In<'_> {
    fn byte(&mut self) -> Result<u8, LzoError> {
        let v = *self.b.get(self.pos).ok_or(LzoError::InputOverrun)?;
        self.pos += 1;
        Ok(v)
    }

    fn le16(&mut self) -> Result<usize, LzoError> {
        let lo = self.byte()? as usize;
        let hi = self.byte()? as usize;
        Ok(lo | hi << 8)
    }

    /// A length with the "zero bytes then a non-zero byte" extension:
    /// `base + 255 * zeros + last`.
    fn ext_len(&mut self, base: usize) -> Result<usize, LzoError> {
        let mut zeros = 0usize;
        loop {
            let v = self.byte()?;
            if v != 0 {
                return zeros
                    .checked_mul(255)
                    .and_then(|z| z.checked_add(base))
                    .and_then(|z| z.checked_add(v as usize))
                    .ok_or(LzoError::OutputOverrun);
            }
            zeros += 1;
        }
    }
}

struct Out<'a> {
    b: &'a mut [u8],
    pos: usize,
}

impl Out<'_> {
    fn literals(&mut self, input: &mut In<'_>, n: usize) -> Result<(), LzoError> {
        let src_end = input.pos.checked_add(n).ok_or(LzoError::InputOverrun)?;
        let src = input
            .b
            .get(input.pos..src_end)
            .ok_or(LzoError::InputOverrun)?;
        let dst_end = self.pos.checked_add(n).ok_or(LzoError::OutputOverrun)?;
        let dst = self
            .b
            .get_mut(self.pos..dst_end)
            .ok_or(LzoError::OutputOverrun)?;
        dst.copy_from_slice(src);
        input.pos = src_end;
        self.pos = dst_end;
        Ok(())
    }

    fn copy_match(&mut self, dist: usize, len: usize) -> Result<(), LzoError> {
        if dist == 0 || dist > self.pos {
            return Err(LzoError::LookBehind);
        }
        let end = self.pos.checked_add(len).ok_or(LzoError::OutputOverrun)?;
        if end > self.b.len() {
            return Err(LzoError::OutputOverrun);
        }
        // Byte by byte: overlapping matches (dist < len) repeat a pattern.
        let from = self.pos - dist;
        for i in 0..len {
            self.b[self.pos + i] = self.b[from + i];
        }
        self.pos = end;
        Ok(())
    }
}

/// Decompress an LZO1X stream into `out`; returns the decoded length.
pub fn decompress(input: &[u8], out: &mut [u8]) -> Result<usize, LzoError> {
    let mut i = In { b: input, pos: 0 };
    let mut o = Out { b: out, pos: 0 };
    // `state`: literals copied by the previous instruction (0..=3), or 4 after
    // a literal run of 4 or more. It changes how 0..15 opcodes read.
    let mut state: usize;
    let first = *input.first().ok_or(LzoError::InputOverrun)?;
    if first >= 22 {
        i.pos = 1;
        o.literals(&mut i, first as usize - 17)?;
        state = 4;
    } else if first >= 18 {
        i.pos = 1;
        let n = first as usize - 17;
        o.literals(&mut i, n)?;
        state = n;
    } else {
        state = 0;
    }
    loop {
        let op = i.byte()? as usize;
        let (dist, len, next);
        if op >= 64 {
            // M2: 1LLDDDSS (len 5..8) or 01LDDDSS (len 3..4), then HHHHHHHH.
            let h = i.byte()? as usize;
            dist = (h << 3) + ((op >> 2) & 7) + 1;
            len = if op >= 128 {
                5 + ((op >> 5) & 3)
            } else {
                3 + ((op >> 5) & 1)
            };
            next = op & 3;
        } else if op >= 32 {
            // M3: 001LLLLL, then LE16 DDDDDDDD DDDDDDSS.
            let l = op & 31;
            len = if l == 0 { i.ext_len(31)? } else { l } + 2;
            let d = i.le16()?;
            dist = (d >> 2) + 1;
            next = d & 3;
        } else if op >= 16 {
            // M4: 0001HLLL, then LE16; distance 16384 + ... ; 16384 = end.
            let l = op & 7;
            len = if l == 0 { i.ext_len(7)? } else { l } + 2;
            let d = i.le16()?;
            let far = ((op & 8) << 11) + (d >> 2);
            if far == 0 {
                return Ok(o.pos);
            }
            dist = far + 16384;
            next = d & 3;
        } else if state == 0 {
            // Long literal run: 0000LLLL.
            let n = if op == 0 { i.ext_len(15)? } else { op } + 3;
            o.literals(&mut i, n)?;
            state = 4;
            continue;
        } else {
            // 0000DDSS, then HHHHHHHH: a 2-byte match within 1 KiB after a
            // short literal run, a 3-byte match at 2..3 KiB after a long one.
            let h = i.byte()? as usize;
            if state == 4 {
                dist = (h << 2) + (op >> 2) + 2049;
                len = 3;
            } else {
                dist = (h << 2) + (op >> 2) + 1;
                len = 2;
            }
            next = op & 3;
        }
        o.copy_match(dist, len)?;
        o.literals(&mut i, next)?;
        state = next;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_only_stream() {
        // 17 + 5 literals, then the end marker (M4 with distance 16384).
        let s = [22u8, b'h', b'e', b'l', b'l', b'o', 0x11, 0, 0];
        let mut out = [0u8; 16];
        assert_eq!(decompress(&s, &mut out), Ok(5));
        assert_eq!(&out[..5], b"hello");
    }

    #[test]
    fn matches_reference_compressor() {
        // Text with repeats, zero runs and noise, in page-sized chunks.
        let mut page = vec![0u8; 4096];
        let mut x: u32 = 7;
        for (n, b) in page.iter_mut().enumerate() {
            x = x.wrapping_mul(1664525).wrapping_add(1013904223);
            *b = match n / 512 {
                0 => 0,
                1 => (n % 7) as u8,
                2 => (x >> 24) as u8,
                3 => b"kernel: panic "[n % 14],
                _ => ((x >> 28) as u8) & 3,
            };
        }
        let c = lzokay_native::compress(&page).unwrap();
        let mut out = vec![0u8; 4096];
        assert_eq!(decompress(&c, &mut out), Ok(4096));
        assert_eq!(out, page);
        // The output bound holds.
        let mut small = vec![0u8; 4095];
        assert_eq!(decompress(&c, &mut small), Err(LzoError::OutputOverrun));
        // Every prefix and every single-byte corruption fails cleanly.
        for cut in 0..c.len() {
            let _ = decompress(&c[..cut], &mut out);
        }
        for k in 0..c.len() {
            let mut bad = c.clone();
            bad[k] ^= 0x5a;
            let _ = decompress(&bad, &mut out);
        }
    }
}
