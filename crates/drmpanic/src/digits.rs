//! Binary data as decimal digits, the two ways drm_panic has written it.
//!
//! A QR code's numeric mode stores 3 decimal digits in 10 bits, so binary
//! data written as digits costs only a few percent more than raw bytes, and
//! the digits are valid in a URL as they are. drm_panic packs the
//! zlib-compressed log this way:
//!
//! - [`Scheme::Fido`] (URL parameter `z=`, Linux 6.14+): the data is cut
//!   into 7-byte chunks; each chunk, read as a little-endian integer, is
//!   written as exactly 17 decimal digits with leading zeros. A final chunk
//!   of 1–6 bytes gets 3, 5, 8, 10, 13 or 15 digits (the fewest that can
//!   hold any value of that many bytes). This is the digit encoding of the
//!   FIDO CTAP 2.2 hybrid QR code.
//! - [`Scheme::Legacy`] (URL parameter `zl=`, Linux 6.12–6.13): the data is
//!   read as one big-endian bit string and cut into 13-bit groups, each
//!   written as 4 digits. The final group of `k` bits (the remainder of the
//!   bit length divided by 13) is written with one digit when `k == 1`
//!   and `(k + 1) / 3` digits otherwise.

use crate::{Error, Scheme};

/// Digits written for a final chunk of `n` bytes in the FIDO encoding
/// (index = byte count). 17 digits hold any 7-byte value (< 2^56).
const FIDO_DIGITS_FOR_BYTES: [usize; 8] = [0, 3, 5, 8, 10, 13, 15, 17];

/// Bytes per full chunk in the FIDO encoding.
const FIDO_CHUNK_BYTES: usize = 7;
/// Digits per full chunk in the FIDO encoding.
const FIDO_CHUNK_DIGITS: usize = 17;

/// Bits per full group in the legacy encoding.
const LEGACY_GROUP_BITS: usize = 13;
/// Digits per full group in the legacy encoding.
const LEGACY_GROUP_DIGITS: usize = 4;

/// Digits the legacy encoder writes for a group of `bits` bits (1..=13).
fn legacy_digits_for_bits(bits: usize) -> usize {
    if bits == 1 {
        1
    } else {
        (bits + 1) / 3
    }
}

/// Turns the decimal digits of a drm_panic URL back into the bytes the
/// kernel encoded. `digits` must be ASCII digits only (checked here too).
pub fn decode_digits(digits: &str, scheme: Scheme) -> Result<Vec<u8>, Error> {
    let digits = digits.as_bytes();
    if digits.is_empty() {
        return Err(Error::EmptyData);
    }
    if let Some(position) = digits.iter().position(|b| !b.is_ascii_digit()) {
        return Err(Error::BadDigit {
            position,
            found: char::from(digits[position]),
        });
    }
    match scheme {
        Scheme::Fido => decode_fido(digits),
        Scheme::Legacy => decode_legacy(digits),
    }
}

/// Writes bytes as decimal digits the way the kernel does for `scheme`.
///
/// For [`Scheme::Legacy`] this mirrors the kernel's digit counts exactly,
/// including its flaw: a final group of 4, 7 or 10 bits can hold a value
/// that needs one digit more than the kernel allots (e.g. 4 bits, value
/// 12, one digit). The kernel then drew a QR code that no reader decodes
/// to the right digits; here the value is written in full, which gives a
/// digit count [`decode_digits`] rejects as [`Error::BadLength`].
pub fn encode_digits(data: &[u8], scheme: Scheme) -> String {
    match scheme {
        Scheme::Fido => encode_fido(data),
        Scheme::Legacy => encode_legacy(data),
    }
}

fn parse_decimal(digits: &[u8]) -> u64 {
    // At most 17 digits: always below 10^17 < 2^64, so no overflow.
    digits
        .iter()
        .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'))
}

fn decode_fido(digits: &[u8]) -> Result<Vec<u8>, Error> {
    let tail_digits = digits.len() % FIDO_CHUNK_DIGITS;
    let tail_bytes = FIDO_DIGITS_FOR_BYTES[..FIDO_CHUNK_BYTES]
        .iter()
        .position(|&n| n == tail_digits)
        .ok_or(Error::BadLength {
            digits: digits.len(),
            scheme: Scheme::Fido,
        })?;
    let full_chunks = digits.len() / FIDO_CHUNK_DIGITS;
    let mut out = Vec::with_capacity(full_chunks * FIDO_CHUNK_BYTES + tail_bytes);
    let mut position = 0;
    while position < digits.len() {
        let remaining = digits.len() - position;
        let (ndigits, nbytes) = if remaining >= FIDO_CHUNK_DIGITS {
            (FIDO_CHUNK_DIGITS, FIDO_CHUNK_BYTES)
        } else {
            (remaining, tail_bytes)
        };
        let value = parse_decimal(&digits[position..position + ndigits]);
        if value >> (8 * nbytes) != 0 {
            return Err(Error::ChunkOverflow {
                position,
                digits: ndigits,
                bits: 8 * nbytes,
            });
        }
        out.extend_from_slice(&value.to_le_bytes()[..nbytes]);
        position += ndigits;
    }
    Ok(out)
}

fn encode_fido(data: &[u8]) -> String {
    let mut out = String::with_capacity(
        data.len() / FIDO_CHUNK_BYTES * FIDO_CHUNK_DIGITS + FIDO_CHUNK_DIGITS,
    );
    for chunk in data.chunks(FIDO_CHUNK_BYTES) {
        let mut le = [0u8; 8];
        le[..chunk.len()].copy_from_slice(chunk);
        let value = u64::from_le_bytes(le);
        let width = FIDO_DIGITS_FOR_BYTES[chunk.len()];
        out.push_str(&format!("{value:0width$}"));
    }
    out
}

fn decode_legacy(digits: &[u8]) -> Result<Vec<u8>, Error> {
    let bad_length = Error::BadLength {
        digits: digits.len(),
        scheme: Scheme::Legacy,
    };
    // The last group has 1-4 digits; all groups before it are full.
    let groups = digits.len().div_ceil(LEGACY_GROUP_DIGITS);
    let last_digits = digits.len() - (groups - 1) * LEGACY_GROUP_DIGITS;
    let full_bits = (groups - 1) * LEGACY_GROUP_BITS;
    // The largest group that `last_digits` digits can stand for has
    // 4, 7, 10 or 13 bits; the data length is a whole number of bytes, so
    // round the total down to bytes and check that the kernel would have
    // written exactly this many digits for the bits that remain. Digit
    // counts grow by at least 2 per byte, so the byte length is unique.
    let max_last_bits = [0, 4, 7, 10, 13][last_digits];
    let nbytes = (full_bits + max_last_bits) / 8;
    let last_bits = (nbytes * 8)
        .checked_sub(full_bits)
        .filter(|&k| k >= 1 && legacy_digits_for_bits(k) == last_digits)
        .ok_or(bad_length)?;

    let mut out = Vec::with_capacity(nbytes);
    // Big-endian bit accumulator: at most 7 pending bits plus 13 new ones.
    let mut acc: u32 = 0;
    let mut pending = 0usize;
    for group in 0..groups {
        let position = group * LEGACY_GROUP_DIGITS;
        let (ndigits, bits) = if group + 1 < groups {
            (LEGACY_GROUP_DIGITS, LEGACY_GROUP_BITS)
        } else {
            (last_digits, last_bits)
        };
        let value = parse_decimal(&digits[position..position + ndigits]);
        if value >> bits != 0 {
            return Err(Error::ChunkOverflow {
                position,
                digits: ndigits,
                bits,
            });
        }
        // `value` < 2^13 here, so the cast is exact.
        acc = (acc << bits) | value as u32;
        pending += bits;
        while pending >= 8 {
            pending -= 8;
            out.push((acc >> pending) as u8);
            acc &= (1 << pending) - 1;
        }
    }
    debug_assert_eq!(pending, 0);
    Ok(out)
}

fn encode_legacy(data: &[u8]) -> String {
    let total_bits = data.len() * 8;
    let mut out = String::with_capacity(total_bits / LEGACY_GROUP_BITS * 4 + 4);
    let mut offset = 0;
    while offset < total_bits {
        let bits = LEGACY_GROUP_BITS.min(total_bits - offset);
        let mut value: u32 = 0;
        for bit in offset..offset + bits {
            let byte = data[bit / 8];
            value = (value << 1) | u32::from((byte >> (7 - bit % 8)) & 1);
        }
        let width = legacy_digits_for_bits(bits);
        out.push_str(&format!("{value:0width$}"));
        offset += bits;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fido_lengths_match_the_table() {
        for n in 0..40 {
            let data: Vec<u8> = (0..n).map(|i| 0xff - i as u8).collect();
            let digits = encode_fido(&data);
            assert_eq!(
                digits.len(),
                n / 7 * 17 + FIDO_DIGITS_FOR_BYTES[n % 7],
                "n={n}"
            );
            if n > 0 {
                assert_eq!(decode_fido(digits.as_bytes()).unwrap(), data);
            }
        }
    }

    #[test]
    fn fido_tail_widths_are_the_fewest_that_fit() {
        // 3 digits hold 255, 5 hold 65535, ... and one digit fewer would not.
        for (bytes, &width) in FIDO_DIGITS_FOR_BYTES.iter().enumerate().skip(1) {
            let max = if bytes == 8 {
                u64::MAX
            } else {
                (1u64 << (8 * bytes)) - 1
            };
            assert_eq!(max.to_string().len(), width, "bytes={bytes}");
        }
    }

    #[test]
    fn fido_single_byte_by_hand() {
        // One byte 0x2a = 42 is written as three digits.
        assert_eq!(encode_fido(&[0x2a]), "042");
        assert_eq!(decode_fido(b"042").unwrap(), vec![0x2a]);
        // Bytes 01 02 are the little-endian integer 0x0201 = 513.
        assert_eq!(encode_fido(&[0x01, 0x02]), "00513");
        assert_eq!(decode_fido(b"00513").unwrap(), vec![0x01, 0x02]);
    }

    #[test]
    fn legacy_digit_counts() {
        // k: 1..=13 -> 1,1,1,1,2,2,2,3,3,3,4,4,4
        let expect = [1, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4];
        for (k, &d) in (1..=13).zip(expect.iter()) {
            assert_eq!(legacy_digits_for_bits(k), d, "k={k}");
        }
    }

    #[test]
    fn legacy_by_hand() {
        // 0xff 0x00: bits 11111111 00000|000 -> 8160 then 3 bits 0 -> "8160" "0"
        assert_eq!(encode_legacy(&[0xff, 0x00]), "81600");
        assert_eq!(decode_legacy(b"81600").unwrap(), vec![0xff, 0x00]);
        // One byte is one group of 8 bits, 3 digits.
        assert_eq!(encode_legacy(&[200]), "200");
        assert_eq!(decode_legacy(b"200").unwrap(), vec![200]);
    }

    #[test]
    fn legacy_round_trips_when_the_tail_fits() {
        for n in 1..60usize {
            for fill in [0u8, 0x11, 0x5a, 0xff] {
                let data: Vec<u8> = (0..n).map(|i| fill ^ (i as u8).wrapping_mul(37)).collect();
                let digits = encode_legacy(&data);
                match decode_legacy(digits.as_bytes()) {
                    Ok(back) => assert_eq!(back, data, "n={n}"),
                    Err(Error::BadLength { .. }) => {
                        // Only the kernel's overflowing tails (4, 7, 10 bits).
                        assert!(matches!((n * 8) % 13, 4 | 7 | 10), "n={n}");
                    }
                    Err(e) => panic!("n={n}: {e}"),
                }
            }
        }
    }

    #[test]
    fn every_digit_count_is_checked() {
        for len in 1..200 {
            let digits = vec![b'0'; len];
            for scheme in [Scheme::Fido, Scheme::Legacy] {
                let got = decode_digits(std::str::from_utf8(&digits).unwrap(), scheme);
                match got {
                    Ok(bytes) => assert_eq!(encode_digits(&bytes, scheme).len(), len),
                    Err(Error::BadLength { digits, .. }) => assert_eq!(digits, len),
                    Err(e) => panic!("{len} {scheme:?}: {e}"),
                }
            }
        }
    }
}
