//! zlib decompression with a hard cap on the output.
//!
//! The kernel compresses the log with `zlib_deflateInit2(level 6, window
//! bits 12, memLevel 4)`: a zlib stream with its 2-byte header and Adler-32
//! trailer. A URL carries at most a few kilobytes of it, but deflate can
//! expand about 1000:1, so the output is capped before it is allocated.

use flate2::{Decompress, FlushDecompress, Status};

use crate::Error;

/// Output is produced in steps of this many bytes, so the cap is checked
/// before the buffer grows past it.
const STEP: usize = 16 * 1024;

/// Decompresses one complete zlib stream of at most `limit` output bytes.
pub(crate) fn inflate_bounded(data: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
    let mut inflater = Decompress::new(true);
    let mut out = Vec::new();
    let mut step = vec![0u8; STEP];
    loop {
        let in_before = inflater.total_in() as usize;
        let out_before = inflater.total_out() as usize;
        let status = inflater
            .decompress(&data[in_before..], &mut step, FlushDecompress::None)
            .map_err(|e| Error::Corrupt {
                offset: inflater.total_in() as usize,
                message: e.to_string(),
            })?;
        let consumed = inflater.total_in() as usize - in_before;
        let produced = inflater.total_out() as usize - out_before;
        if out.len() + produced > limit {
            return Err(Error::TooLarge { limit });
        }
        out.extend_from_slice(&step[..produced]);
        match status {
            Status::StreamEnd => {
                let used = inflater.total_in() as usize;
                if used != data.len() {
                    return Err(Error::TrailingData {
                        extra: data.len() - used,
                    });
                }
                return Ok(out);
            }
            Status::Ok | Status::BufError => {
                if consumed == 0 && produced == 0 {
                    // No input left and no output pending: the stream
                    // stopped before its end (and its checksum).
                    return Err(Error::Truncated {
                        compressed: data.len(),
                        recovered: out.len(),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn round_trip() {
        let text = b"[    1.000000] hello\n".repeat(100);
        assert_eq!(inflate_bounded(&zlib(&text), 1 << 20).unwrap(), text);
    }

    #[test]
    fn bomb_is_capped() {
        let zeros = vec![0u8; 4 << 20];
        let packed = zlib(&zeros);
        assert!(packed.len() < 8 * 1024);
        assert!(matches!(
            inflate_bounded(&packed, 1 << 20),
            Err(Error::TooLarge { limit }) if limit == 1 << 20
        ));
        // Exactly at the limit is fine.
        let exact = zlib(&zeros[..1 << 20]);
        assert_eq!(inflate_bounded(&exact, 1 << 20).unwrap().len(), 1 << 20);
    }

    #[test]
    fn every_truncation_is_an_error() {
        let text = b"<4>[   12.345678] BUG: kernel NULL pointer dereference\n".repeat(20);
        let packed = zlib(&text);
        for cut in 0..packed.len() {
            let err = inflate_bounded(&packed[..cut], 1 << 20).unwrap_err();
            assert!(
                matches!(err, Error::Truncated { .. } | Error::Corrupt { .. }),
                "cut {cut}: {err}"
            );
        }
    }

    #[test]
    fn trailing_bytes_are_reported() {
        let mut packed = zlib(b"abc");
        packed.extend_from_slice(b"xyz");
        assert!(matches!(
            inflate_bounded(&packed, 100),
            Err(Error::TrailingData { extra: 3 })
        ));
    }
}
