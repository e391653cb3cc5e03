//! SHA-256 digests as lowercase hex, for manifests and record content ids.
//!
//! A thin wrapper over the `sha2` crate so the rest of the crate has one
//! small interface (incremental `update`, `hex`).

use sha2::Digest;

/// An incremental SHA-256 hasher.
#[derive(Clone, Default)]
pub struct Sha256 {
    inner: sha2::Sha256,
}

impl Sha256 {
    /// A fresh hasher.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed more bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.update(data);
    }

    /// Finish and return the digest as 64 lowercase hex digits.
    pub fn hex(self) -> String {
        let digest = self.inner.finalize();
        let mut out = String::with_capacity(64);
        for b in digest {
            out.push(char::from_digit((b >> 4) as u32, 16).unwrap_or('0'));
            out.push(char::from_digit((b & 15) as u32, 16).unwrap_or('0'));
        }
        out
    }
}

/// SHA-256 of a byte slice, as hex.
pub fn hex(data: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(data);
    h.hex()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        assert_eq!(
            hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // Incremental feeding in odd pieces gives the same digest.
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
        let mut h = Sha256::new();
        for c in data.chunks(37) {
            h.update(c);
        }
        assert_eq!(h.hex(), hex(&data));
    }
}
