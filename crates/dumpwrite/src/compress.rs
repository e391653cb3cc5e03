//! Per-page compression with reusable state: one [`PageCompressor`] per
//! worker thread, so compressing a page allocates nothing.

use crate::error::WriteError;
use std::fmt;
use std::str::FromStr;

/// Page compression of a kdump-compressed dump.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compression {
    /// No compression (pages stored raw).
    None,
    /// zlib (`makedumpfile -c`), level 1 like makedumpfile.
    Zlib,
    /// LZO1X-1 (`makedumpfile -l`).
    Lzo,
    /// snappy (`makedumpfile -p`).
    Snappy,
    /// zstd level 1 (`makedumpfile -z`); the default.
    #[default]
    Zstd,
}

impl Compression {
    /// All methods, for tests and help text.
    pub const ALL: [Compression; 5] = [
        Compression::None,
        Compression::Zlib,
        Compression::Lzo,
        Compression::Snappy,
        Compression::Zstd,
    ];

    /// The `DUMP_DH_COMPRESSED_*` flag of the header status and of each
    /// compressed page's descriptor.
    pub fn flag(self) -> u32 {
        match self {
            Compression::None => 0,
            Compression::Zlib => 0x1,
            Compression::Lzo => 0x2,
            Compression::Snappy => 0x4,
            Compression::Zstd => 0x20,
        }
    }

    /// Lower-case name (`zstd`, `zlib`...).
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Zlib => "zlib",
            Compression::Lzo => "lzo",
            Compression::Snappy => "snappy",
            Compression::Zstd => "zstd",
        }
    }
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Compression, String> {
        Compression::ALL
            .into_iter()
            .find(|c| c.name() == s)
            .ok_or_else(|| format!("unknown compression {s:?} (zstd, zlib, lzo, snappy, none)"))
    }
}

enum State {
    None,
    Zlib(Box<flate2::Compress>),
    Lzo(crate::lzo::LzoCompressor),
    Snappy(Box<snap::raw::Encoder>),
    Zstd(Box<zstd::bulk::Compressor<'static>>),
}

/// A compressor for pages of one size, owning its work memory and output
/// buffer. Build one inside each worker thread.
pub struct PageCompressor {
    state: State,
    method: Compression,
    page_size: usize,
    scratch: Vec<u8>,
}

impl PageCompressor {
    /// Set up `method` for pages of `page_size` bytes.
    pub fn new(method: Compression, page_size: usize) -> Result<PageCompressor, WriteError> {
        let state = match method {
            Compression::None => State::None,
            Compression::Zlib => State::Zlib(Box::new(flate2::Compress::new(
                flate2::Compression::fast(),
                true,
            ))),
            Compression::Lzo => State::Lzo(crate::lzo::LzoCompressor::new()),
            Compression::Snappy => State::Snappy(Box::new(snap::raw::Encoder::new())),
            Compression::Zstd => {
                State::Zstd(Box::new(zstd::bulk::Compressor::new(1).map_err(|e| {
                    WriteError::Compress {
                        method: "zstd",
                        reason: e.to_string(),
                    }
                })?))
            }
        };
        let scratch_len = page_size.max(snap::raw::max_compress_len(page_size));
        Ok(PageCompressor {
            state,
            method,
            page_size,
            scratch: vec![0; scratch_len],
        })
    }

    /// The method.
    pub fn method(&self) -> Compression {
        self.method
    }

    /// Compress one page. `Some(bytes)` when the result is smaller than a
    /// page; `None` means "store it raw" (incompressible, or no method).
    pub fn compress(&mut self, page: &[u8]) -> Option<&[u8]> {
        let limit = self.page_size;
        let n = match &mut self.state {
            State::None => return None,
            State::Zlib(z) => {
                z.reset();
                let out = &mut self.scratch[..limit];
                match z.compress(page, out, flate2::FlushCompress::Finish) {
                    Ok(flate2::Status::StreamEnd) => z.total_out() as usize,
                    _ => return None,
                }
            }
            // Our own LZO1X encoder (see `lzo`), straight into the scratch
            // page: "does not fit" means store raw.
            State::Lzo(lzo) => lzo.compress(page, &mut self.scratch[..limit])?,
            State::Snappy(enc) => enc.compress(page, &mut self.scratch).ok()?,
            // A destination of one page: "does not fit" is the normal
            // outcome for incompressible pages, and means store raw.
            State::Zstd(c) => c
                .compress_to_buffer(page, &mut self.scratch[..limit])
                .ok()?,
        };
        (n < limit).then(|| &self.scratch[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressible_and_incompressible_pages() {
        let text: Vec<u8> = (0..4096u32).map(|i| (i % 7) as u8).collect();
        let mut noise = vec![0u8; 4096];
        let mut x = 0x12345678u32;
        for b in &mut noise {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            *b = x as u8;
        }
        for m in Compression::ALL {
            let mut c = PageCompressor::new(m, 4096).unwrap();
            let got = c.compress(&text).map(|s| s.to_vec());
            assert_eq!(got.is_some(), m != Compression::None, "{m}");
            assert!(c.compress(&noise).is_none(), "{m} noise");
            // Reuse after an incompressible page still works.
            assert_eq!(c.compress(&text).map(|s| s.to_vec()), got, "{m}");
        }
    }
}
