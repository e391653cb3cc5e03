//! Kernel logs from the drm_panic QR code.
//!
//! Since Linux 6.12 a kernel with `CONFIG_DRM_PANIC_SCREEN_QR_CODE` (and
//! `drm.panic_screen=qr_code`) draws the end of the kernel log on the
//! screen as a QR code when it panics. With a URL prefix configured
//! (`CONFIG_DRM_PANIC_SCREEN_QR_CODE_URL`) the code holds a URL:
//!
//! ```text
//! <prefix>?a=<uname -m>&v=<uname -r>&z=<digits>      Linux 6.14+
//! <prefix>?a=<uname -m>&v=<uname -r>&zl=<digits>     Linux 6.12, 6.13
//! ```
//!
//! The digits are the zlib-compressed log (see [`Scheme`] for how bytes
//! become digits). The log is what `kmsg_dump_get_buffer` returns without
//! syslog prefixes: whole lines such as `[   12.345678] BUG: ...`, the
//! newest ones that fit, oldest lines dropped first. A console user without
//! pstore or kdump can still scan it with a phone; [`decode_url`] turns that
//! URL back into the log.
//!
//! Every malformed input is a typed [`Error`]; decoding never panics, and
//! the decompressed size is capped ([`MAX_LOG_BYTES`]).
//!
//! [`encode_url`] builds the URL a kernel would, for tests and the lab.

mod digits;
mod encode;
mod inflate;
mod url;

pub use digits::{decode_digits, encode_digits};
pub use encode::{encode_url, Encoder};

/// The most log bytes [`decode_url`] will decompress. A version-40 QR code
/// holds under 3 KiB of compressed data, about 8 KiB of log; anything
/// bigger is a decompression bomb, not a kernel log.
pub const MAX_LOG_BYTES: usize = 1 << 20;

/// The most digits accepted. A version-40 QR code holds 7089 digits in
/// total; this leaves room for hand-built URLs without letting a huge
/// request allocate.
pub const MAX_DIGITS: usize = 64 * 1024;

/// How the compressed log was written as decimal digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// URL parameter `z=` (Linux 6.14+): 7-byte little-endian chunks as 17
    /// digits each, a final 1–6-byte chunk as 3, 5, 8, 10, 13 or 15
    /// digits; the same digit encoding as FIDO CTAP 2.2's QR codes.
    Fido,
    /// URL parameter `zl=` (Linux 6.12–6.13): the bit string cut into
    /// 13-bit groups, most significant bit first, each written as 4
    /// digits; a final group of `k` bits as 1 digit if `k == 1`, else
    /// `(k + 1) / 3` digits.
    Legacy,
}

impl Scheme {
    /// The URL parameter that carries data in this scheme.
    pub fn parameter(self) -> &'static str {
        match self {
            Scheme::Fido => "z",
            Scheme::Legacy => "zl",
        }
    }
}

/// A decoded drm_panic URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The kernel log text, as the kernel compressed it.
    pub log: Vec<u8>,
    /// `a=`: the machine (`uname -m`), e.g. `x86_64`.
    pub arch: Option<String>,
    /// `v=`: the kernel release (`uname -r`).
    pub version: Option<String>,
    /// `d=`: a distribution name, if the prefix carried one.
    pub distribution: Option<String>,
    /// The URL up to the kernel's parameters (`None` for a bare query).
    pub prefix: Option<String>,
    /// Which digit scheme the data used.
    pub scheme: Scheme,
    /// Number of digits in the data parameter.
    pub digits: usize,
    /// Size of the zlib stream the digits carried.
    pub compressed_len: usize,
}

impl Decoded {
    /// The log as text; invalid UTF-8 becomes U+FFFD.
    pub fn log_text(&self) -> std::borrow::Cow<'_, str> {
        String::from_utf8_lossy(&self.log)
    }
}

/// Why a URL could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// Neither `z=` nor `zl=` is present.
    #[error("no drm_panic data: the URL has no z= (Linux 6.14+) or zl= (6.12-6.13) parameter")]
    MissingData,
    /// A parameter appears twice (or both `z=` and `zl=`).
    #[error("parameter {name}= appears more than once")]
    DuplicateParameter {
        /// The repeated parameter.
        name: String,
    },
    /// The data parameter is empty (the kernel writes none when the log
    /// did not fit any QR code).
    #[error("the data parameter is empty")]
    EmptyData,
    /// The data parameter has more digits than any QR code holds.
    #[error("{digits} digits of data, more than the {max} accepted")]
    TooManyDigits {
        /// Digits found.
        digits: usize,
        /// [`MAX_DIGITS`].
        max: usize,
    },
    /// A character in the data is not a decimal digit.
    #[error("data character {position} is {found:?}, not a decimal digit")]
    BadDigit {
        /// Index of the character within the data parameter.
        position: usize,
        /// The character found.
        found: char,
    },
    /// No byte length encodes to this many digits (digits lost or added).
    #[error("{digits} digits cannot come from whole bytes in the {} scheme (digits missing or extra?)", .scheme.parameter())]
    BadLength {
        /// Digits found.
        digits: usize,
        /// Scheme the digits were read with.
        scheme: Scheme,
    },
    /// A group of digits has a value too large for the bits it stands for.
    #[error("digits {position}..{} have a value that does not fit in {bits} bits", .position + .digits)]
    ChunkOverflow {
        /// Index of the group's first digit.
        position: usize,
        /// Digits in the group.
        digits: usize,
        /// Bits the group encodes.
        bits: usize,
    },
    /// The zlib stream is invalid (bad header, bad deflate data, or a
    /// checksum mismatch).
    #[error("corrupt zlib data at compressed byte {offset}: {message}")]
    Corrupt {
        /// Compressed bytes consumed when the error was found.
        offset: usize,
        /// The decompressor's description.
        message: String,
    },
    /// The zlib stream ends before its end marker and checksum.
    #[error(
        "the compressed log ({compressed} bytes) is truncated after {recovered} bytes of text"
    )]
    Truncated {
        /// Compressed bytes available.
        compressed: usize,
        /// Log bytes decompressed before the data ran out.
        recovered: usize,
    },
    /// Bytes follow the end of the zlib stream.
    #[error("{extra} bytes follow the end of the compressed log")]
    TrailingData {
        /// Number of extra bytes.
        extra: usize,
    },
    /// The log decompresses to more than the limit.
    #[error("the compressed log expands to more than {limit} bytes")]
    TooLarge {
        /// The limit that was hit.
        limit: usize,
    },
}

/// Decodes a drm_panic URL (or just its query string) into the kernel log.
///
/// Accepts the full URL as scanned (`https://…/report?a=…&v=…&z=…`, also
/// with the parameters after `#?`), or the query string alone
/// (`a=…&v=…&z=…`, with or without a leading `?`). Decompression stops at
/// [`MAX_LOG_BYTES`].
pub fn decode_url(url: &str) -> Result<Decoded, Error> {
    decode_url_with_limit(url, MAX_LOG_BYTES)
}

/// [`decode_url`] with a caller-chosen cap on the decompressed log size.
pub fn decode_url_with_limit(url: &str, limit: usize) -> Result<Decoded, Error> {
    let params = url::parse(url)?;
    let (scheme, digits) = params.data.ok_or(Error::MissingData)?;
    if digits.len() > MAX_DIGITS {
        return Err(Error::TooManyDigits {
            digits: digits.len(),
            max: MAX_DIGITS,
        });
    }
    let compressed = decode_digits(digits, scheme)?;
    let log = inflate::inflate_bounded(&compressed, limit)?;
    Ok(Decoded {
        log,
        arch: params.arch,
        version: params.version,
        distribution: params.distribution,
        prefix: params.prefix.map(str::to_owned),
        scheme,
        digits: digits.len(),
        compressed_len: compressed.len(),
    })
}
