//! Per-thread page decompression with a one-page cache.
//!
//! `PhysicalMemory` is `&self` and `Send + Sync`, and callers read a few
//! bytes at a time, often from the same page. Each thread keeps one page
//! buffer, the decompressor states (created once) and the identity of the
//! page the buffer holds, so repeated small reads decode a page once and no
//! read allocates after the first.

use super::header::{
    DUMP_DH_COMPRESSED_LZO, DUMP_DH_COMPRESSED_SNAPPY, DUMP_DH_COMPRESSED_ZLIB,
    DUMP_DH_COMPRESSED_ZSTD,
};
use std::cell::RefCell;

/// The per-thread state.
pub(crate) struct Scratch {
    /// `(reader id, pfn)` of the page in `page`.
    pub key: Option<(u64, u64)>,
    /// Decoded page.
    pub page: Vec<u8>,
    /// Compressed bytes copied out of a flattened file.
    pub input: Vec<u8>,
    inflate: Option<flate2::Decompress>,
    zstd: Option<zstd::bulk::Decompressor<'static>>,
    snappy: snap::raw::Decoder,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch {
        key: None,
        page: Vec::new(),
        input: Vec::new(),
        inflate: None,
        zstd: None,
        snappy: snap::raw::Decoder::new(),
    });
}

/// Run `f` with this thread's scratch.
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|s| f(&mut s.borrow_mut()))
}

/// Decode `input` compressed with method `flags` into `out`, which must be
/// filled exactly. Returns a reason on failure.
pub(crate) fn decode(
    flags: u32,
    input: &[u8],
    out: &mut [u8],
    inflate: &mut Option<flate2::Decompress>,
    zstd_ctx: &mut Option<zstd::bulk::Decompressor<'static>>,
    snappy: &mut snap::raw::Decoder,
) -> Result<(), String> {
    let want = out.len();
    let got = match flags {
        DUMP_DH_COMPRESSED_ZLIB => {
            let z = inflate.get_or_insert_with(|| flate2::Decompress::new(true));
            z.reset(true);
            let status = z
                .decompress(input, out, flate2::FlushDecompress::Finish)
                .map_err(|e| format!("zlib: {e}"))?;
            if status != flate2::Status::StreamEnd {
                return Err(format!(
                    "zlib: stream does not end within one page ({} bytes out)",
                    z.total_out()
                ));
            }
            z.total_out() as usize
        }
        DUMP_DH_COMPRESSED_LZO => crate::lzo::decompress(input, out).map_err(|e| e.to_string())?,
        DUMP_DH_COMPRESSED_SNAPPY => {
            let n = snap::raw::decompress_len(input).map_err(|e| format!("snappy: {e}"))?;
            if n != want {
                return Err(format!(
                    "snappy: page decodes to {n} bytes, expected {want}"
                ));
            }
            snappy
                .decompress(input, out)
                .map_err(|e| format!("snappy: {e}"))?
        }
        DUMP_DH_COMPRESSED_ZSTD => {
            if zstd_ctx.is_none() {
                *zstd_ctx =
                    Some(zstd::bulk::Decompressor::new().map_err(|e| format!("zstd: {e}"))?);
            }
            let z = zstd_ctx.as_mut().ok_or("zstd: no context")?;
            z.decompress_to_buffer(input, out)
                .map_err(|e| format!("zstd: {e}"))?
        }
        other => return Err(format!("unknown compression flags {other:#x}")),
    };
    if got != want {
        return Err(format!("page decodes to {got} bytes, expected {want}"));
    }
    Ok(())
}

impl Scratch {
    /// Split borrow of the decoder states, for `decode`.
    #[allow(clippy::type_complexity)]
    pub fn parts(
        &mut self,
    ) -> (
        &mut Vec<u8>,
        &mut Vec<u8>,
        &mut Option<flate2::Decompress>,
        &mut Option<zstd::bulk::Decompressor<'static>>,
        &mut snap::raw::Decoder,
    ) {
        (
            &mut self.page,
            &mut self.input,
            &mut self.inflate,
            &mut self.zstd,
            &mut self.snappy,
        )
    }
}
