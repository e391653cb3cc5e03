//! A stable content hash for change detection.
//!
//! FNV-1a over 128 bits: not cryptographic (nothing here defends against an
//! attacker who controls the inputs: they could simply change the inputs),
//! but stable across Rust releases and platforms, unlike `DefaultHasher`,
//! and wide enough that accidental collisions do not happen.

const OFFSET: u128 = 0x6c62272e07bb014262b821756295c58d;
const PRIME: u128 = 0x0000000001000000000000000000013B;

/// Incremental FNV-1a 128 hasher.
#[derive(Debug, Clone)]
pub struct Fnv128(u128);

impl Default for Fnv128 {
    fn default() -> Self {
        Self(OFFSET)
    }
}

impl Fnv128 {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed raw bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u128::from(*b);
            self.0 = self.0.wrapping_mul(PRIME);
        }
    }

    /// Feed a length-prefixed field, so `("ab","c")` and `("a","bc")` differ.
    pub fn field(&mut self, bytes: &[u8]) {
        self.update(&(bytes.len() as u64).to_le_bytes());
        self.update(bytes);
    }

    /// The digest as 32 lowercase hex digits.
    pub fn hex(&self) -> String {
        format!("{:032x}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vector_and_framing() {
        // FNV-1a 128 of the empty string is the offset basis.
        assert_eq!(Fnv128::new().hex(), "6c62272e07bb014262b821756295c58d");
        let mut a = Fnv128::new();
        a.update(b"a");
        assert_eq!(a.hex(), "d228cb696f1a8caf78912b704e4a8964");
        let (mut x, mut y) = (Fnv128::new(), Fnv128::new());
        x.field(b"ab");
        x.field(b"c");
        y.field(b"a");
        y.field(b"bc");
        assert_ne!(x.hex(), y.hex());
    }
}
