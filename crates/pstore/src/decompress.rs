//! Inflating records the kernel left compressed (`.enc.z`).
//!
//! Kernels up to 4.18 wrote zlib streams (with header); 4.19-6.5 used the
//! crypto API whose deflate is raw; v6.6+ writes raw deflate. Raw is tried
//! first because it is what current kernels write, then zlib. Other crypto
//! algorithms (lzo, lz4, 842, zstd) are not decoded: callers keep the raw
//! bytes and flag the record.

use crate::error::DecompressError;
use flate2::{Decompress, FlushDecompress, Status};

/// Default output cap: far above any real `kmsg_bytes`, small enough to keep
/// a damaged or hostile stream from exhausting memory.
pub const DEFAULT_INFLATE_CAP: usize = 16 << 20;

/// Result of a successful inflate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inflated {
    /// The decompressed bytes.
    pub data: Vec<u8>,
    /// Whether the stream was zlib-wrapped (pre-4.19 kernels) rather than raw.
    pub zlib: bool,
    /// False when the input ended before the end of the deflate stream (a
    /// truncated record); `data` then holds what could be decoded.
    pub complete: bool,
}

/// Inflate `input`, trying raw deflate and then zlib, producing at most `cap`
/// bytes.
pub fn inflate(input: &[u8], cap: usize) -> Result<Inflated, DecompressError> {
    let raw = inflate_with(input, false, cap);
    if let Ok(ref r) = raw {
        if r.complete {
            return raw;
        }
    }
    let zlib = inflate_with(input, true, cap);
    match (raw, zlib) {
        (_, Ok(z)) if z.complete => Ok(z),
        (Err(DecompressError::TooLarge { cap }), _)
        | (_, Err(DecompressError::TooLarge { cap })) => Err(DecompressError::TooLarge { cap }),
        // Both truncated: keep the longer salvage, but only if it decoded
        // something meaningful (random bytes often "inflate" a few bytes).
        (Ok(r), Ok(z)) => Ok(if z.data.len() > r.data.len() { z } else { r }),
        (Ok(r), Err(_)) | (Err(_), Ok(r)) => Ok(r),
        (Err(e), Err(_)) => Err(e),
    }
    .and_then(|r| {
        if r.complete || r.data.len() >= 16 {
            Ok(r)
        } else {
            Err(DecompressError::Unrecognised)
        }
    })
}

fn inflate_with(input: &[u8], zlib: bool, cap: usize) -> Result<Inflated, DecompressError> {
    let mut d = Decompress::new(zlib);
    let mut out: Vec<u8> = Vec::with_capacity(input.len().saturating_mul(4).min(cap).min(1 << 20));
    loop {
        let consumed = d.total_in() as usize;
        let before_out = d.total_out();
        if out.len() == out.capacity() {
            if out.len() >= cap {
                return Err(DecompressError::TooLarge { cap });
            }
            let grow = out.len().max(4096).min(cap - out.len());
            out.reserve_exact(grow);
        }
        let in_rest = input.get(consumed..).unwrap_or(&[]);
        let status = d
            .decompress_vec(in_rest, &mut out, FlushDecompress::None)
            .map_err(|_| DecompressError::Unrecognised)?;
        match status {
            Status::StreamEnd => {
                return Ok(Inflated {
                    data: out,
                    zlib,
                    complete: true,
                })
            }
            Status::Ok | Status::BufError => {
                let progressed = d.total_in() as usize != consumed || d.total_out() != before_out;
                if !progressed && out.len() < out.capacity() {
                    // No more input and room left: the stream is truncated.
                    return Ok(Inflated {
                        data: out,
                        zlib,
                        complete: false,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::{DeflateEncoder, ZlibEncoder};
    use flate2::Compression;
    use std::io::Write;

    fn text() -> Vec<u8> {
        (0..200)
            .flat_map(|i| format!("<6>[    {i}.000000] line number {i}\n").into_bytes())
            .collect()
    }

    fn raw(d: &[u8]) -> Vec<u8> {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    fn zlib(d: &[u8]) -> Vec<u8> {
        let mut e = ZlibEncoder::new(Vec::new(), Compression::default());
        e.write_all(d).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn raw_and_zlib() {
        let t = text();
        let r = inflate(&raw(&t), DEFAULT_INFLATE_CAP).unwrap();
        assert_eq!(
            (r.data.as_slice(), r.zlib, r.complete),
            (t.as_slice(), false, true)
        );
        let z = inflate(&zlib(&t), DEFAULT_INFLATE_CAP).unwrap();
        assert_eq!(
            (z.data.as_slice(), z.zlib, z.complete),
            (t.as_slice(), true, true)
        );
    }

    #[test]
    fn cap_and_truncation() {
        let t = text();
        assert_eq!(
            inflate(&raw(&t), 100),
            Err(DecompressError::TooLarge { cap: 100 })
        );
        let c = raw(&t);
        let r = inflate(&c[..c.len() / 2], DEFAULT_INFLATE_CAP).unwrap();
        assert!(!r.complete);
        assert!(t.starts_with(&r.data));
        assert!(inflate(b"", DEFAULT_INFLATE_CAP).is_err());
        assert!(inflate(b"\xff\xff\xff\xff not deflate", DEFAULT_INFLATE_CAP).is_err());
    }

    #[test]
    fn flipped_bits_never_panic() {
        let c = zlib(&text());
        for i in 0..c.len() {
            let mut m = c.clone();
            m[i] ^= 1 << (i % 8);
            if let Ok(r) = inflate(&m, 1 << 16) {
                assert!(r.data.len() <= 1 << 16);
            }
        }
    }
}
