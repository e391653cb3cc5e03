//! Building drm_panic URLs the way the kernel does, for tests and the lab.
//!
//! Written from the kernel's description of the scheme (drm_panic.c and
//! drm_panic_qr.rs), not from its code:
//!
//! 1. the URL head is the configured prefix followed by
//!    `?a=<machine>&v=<release>&z=` (`zl=` for the legacy scheme);
//! 2. the data budget is what a QR code of the chosen version holds after
//!    the head, its two segment headers (5 bytes) and the digit overhead
//!    (39/40);
//! 3. the newest whole lines of the log, up to 3 times that budget, are
//!    taken (the kernel's `kmsg_dump_get_buffer` into a buffer of that size);
//! 4. they are zlib-compressed at level 6; while the result exceeds the
//!    budget the oldest line is dropped and the rest compressed again;
//! 5. the compressed bytes are written as decimal digits.
//!
//! The kernel's zlib uses a 4 KiB window and memLevel 4, so its compressed
//! bytes (and the exact cut in step 4) can differ slightly from these; the
//! decoder does not care, any valid zlib stream decodes.

use std::io::Write;

use crate::digits::encode_digits;
use crate::Scheme;

/// The kernel's assumed zlib ratio when sizing the log it reads.
const KMSG_PER_COMPRESSED: usize = 3;
/// The kernel's compression level.
const ZLIB_LEVEL: u32 = 6;

/// Data bytes of QR code versions 1–40 at error-correction level L
/// (ISO/IEC 18004 table 7).
const QR_DATA_BYTES: [usize; 40] = [
    19, 34, 55, 80, 108, 136, 156, 194, 232, 274, 324, 370, 428, 461, 523, 589, 647, 721, 795, 861,
    932, 1006, 1094, 1174, 1276, 1370, 1468, 1531, 1631, 1735, 1843, 1955, 2071, 2191, 2306, 2434,
    2566, 2702, 2812, 2956,
];

/// How to build a URL: which digit scheme, and whether to cut the log to
/// what fits a QR code as the kernel does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoder {
    /// Digit scheme and URL parameter (`z=` or `zl=`).
    pub scheme: Scheme,
    /// The kernel's `drm.panic_qr_version` (1–40): the largest QR code
    /// drawn. `None` keeps the whole log, which no real QR code could.
    pub max_qr_version: Option<u8>,
}

impl Default for Encoder {
    /// What a Linux 6.14+ kernel with the default `panic_qr_version=40`
    /// produces.
    fn default() -> Self {
        Encoder {
            scheme: Scheme::Fido,
            max_qr_version: Some(40),
        }
    }
}

impl Encoder {
    /// Builds the URL for `log` (see [`encode_url`]).
    pub fn url(&self, prefix: &str, log: &[u8], arch: &str, version: &str) -> String {
        let mut url = format!("{prefix}?a={arch}&v={version}&{}=", self.scheme.parameter());
        let Some(qr_version) = self.max_qr_version else {
            url.push_str(&encode_digits(&zlib(log), self.scheme));
            return url;
        };
        let budget = qr_data_budget(qr_version, url.len());
        if budget == 0 {
            // The kernel draws no QR code at all; an empty data parameter
            // is the closest a URL can say it.
            return url;
        }
        let mut kmsg = newest_lines(log, KMSG_PER_COMPRESSED * budget);
        loop {
            let packed = zlib(kmsg);
            if packed.len() <= budget {
                url.push_str(&encode_digits(&packed, self.scheme));
                return url;
            }
            match kmsg.iter().position(|&b| b == b'\n') {
                Some(nl) if nl + 1 < kmsg.len() => kmsg = &kmsg[nl + 1..],
                // One line that does not fit: the kernel gives up.
                _ => return url,
            }
        }
    }
}

/// Builds the URL the kernel would; for tests and the lab.
///
/// `prefix` is `CONFIG_DRM_PANIC_SCREEN_QR_CODE_URL`, `arch` and `version`
/// are `uname -m` and `uname -r`. Like a Linux 6.14+ kernel with a
/// version-40 QR code, only the newest whole lines of `log` whose
/// compressed form fits are kept: logs up to a few kilobytes (a typical
/// oops) come back whole from [`decode_url`](crate::decode_url), longer ones
/// lose their oldest lines. Use [`Encoder`] for the legacy scheme or no
/// size limit.
pub fn encode_url(prefix: &str, log: &[u8], arch: &str, version: &str) -> String {
    Encoder::default().url(prefix, log, arch, version)
}

/// Compressed bytes the kernel lets into a QR code of `version` after a
/// URL head of `url_len` bytes (its `drm_panic_qr_max_data_size`).
fn qr_data_budget(version: u8, url_len: usize) -> usize {
    let Some(&capacity) = QR_DATA_BYTES.get(usize::from(version).wrapping_sub(1)) else {
        return 0;
    };
    // Binary segment header + 16-bit length, numeric segment header +
    // 12-bit length: 5 bytes. Digits cost 40 bits per 39 bits of data.
    match capacity.checked_sub(url_len + 5) {
        Some(left) if left > 0 => left * 39 / 40,
        _ => 0,
    }
}

/// The longest tail of `log` that starts at a line and is at most `limit`
/// bytes long.
fn newest_lines(log: &[u8], limit: usize) -> &[u8] {
    if log.len() <= limit {
        return log;
    }
    let cut = log.len() - limit;
    // The first line start at or after `cut`.
    if cut > 0 && log[cut - 1] == b'\n' {
        return &log[cut..];
    }
    match log[cut..].iter().position(|&b| b == b'\n') {
        Some(nl) => &log[cut + nl + 1..],
        None => &[],
    }
}

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(ZLIB_LEVEL));
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v40_matches_the_kernel_buffer_size() {
        // The kernel's MAX_QR_DATA; from the block table, 19 blocks of 118
        // bytes and 6 of 119.
        assert_eq!(QR_DATA_BYTES[39], 2956);
        assert_eq!(19 * 118 + 6 * 119, 2956);
    }

    #[test]
    fn budget() {
        assert_eq!(qr_data_budget(40, 95), (2956 - 100) * 39 / 40);
        assert_eq!(qr_data_budget(1, 10), (19 - 15) * 39 / 40);
        assert_eq!(qr_data_budget(1, 14), 0);
        assert_eq!(qr_data_budget(0, 10), 0);
        assert_eq!(qr_data_budget(41, 10), 0);
    }

    #[test]
    fn newest_lines_cut_at_line_starts() {
        let log = b"one\ntwo\nthree\n";
        assert_eq!(newest_lines(log, 100), log);
        assert_eq!(newest_lines(log, 10), b"two\nthree\n");
        assert_eq!(newest_lines(log, 9), b"three\n");
        assert_eq!(newest_lines(log, 6), b"three\n");
        assert_eq!(newest_lines(log, 5), b"");
        assert_eq!(newest_lines(log, 14), log);
        assert_eq!(newest_lines(log, 13), b"two\nthree\n");
    }
}
