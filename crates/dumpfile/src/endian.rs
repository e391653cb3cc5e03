//! Byte-order aware field access on untrusted byte slices.
//!
//! Every accessor returns `None` when the field does not fit in the slice, so
//! header parsers can never index out of bounds on a short or corrupt file.

/// Byte order of the dumped machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Endian {
    /// Least significant byte first (x86, most arm64 and riscv).
    Little,
    /// Most significant byte first (s390x, some ppc64).
    Big,
}

impl Endian {
    /// Read a `u16` at `off`.
    pub fn u16(self, b: &[u8], off: usize) -> Option<u16> {
        let a: [u8; 2] = b.get(off..off.checked_add(2)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u16::from_le_bytes(a),
            Endian::Big => u16::from_be_bytes(a),
        })
    }

    /// Read a `u32` at `off`.
    pub fn u32(self, b: &[u8], off: usize) -> Option<u32> {
        let a: [u8; 4] = b.get(off..off.checked_add(4)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u32::from_le_bytes(a),
            Endian::Big => u32::from_be_bytes(a),
        })
    }

    /// Read a `u64` at `off`.
    pub fn u64(self, b: &[u8], off: usize) -> Option<u64> {
        let a: [u8; 8] = b.get(off..off.checked_add(8)?)?.try_into().ok()?;
        Some(match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        })
    }

    /// Read a `u32` or a `u64` (widened) depending on `wide`.
    pub fn word(self, b: &[u8], off: usize, wide: bool) -> Option<u64> {
        if wide {
            self.u64(b, off)
        } else {
            self.u32(b, off).map(u64::from)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_orders_and_rejects_short() {
        let b = [1u8, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(Endian::Little.u16(&b, 0), Some(0x0201));
        assert_eq!(Endian::Big.u32(&b, 0), Some(0x01020304));
        assert_eq!(Endian::Little.u64(&b, 0), Some(0x0807060504030201));
        assert_eq!(Endian::Little.u64(&b, 1), None);
        assert_eq!(Endian::Little.u32(&b, usize::MAX), None);
        assert_eq!(Endian::Big.word(&b, 4, false), Some(0x05060708));
    }
}
