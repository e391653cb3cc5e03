//! The content test of dump level bit 1.

/// True when every byte of `page` is zero.
///
/// ORs 64-byte blocks as eight words (vectorised by the compiler) and
/// stops at the first non-zero block, since most non-zero pages differ
/// early; an empty slice counts as zero.
pub fn is_zero_page(page: &[u8]) -> bool {
    let mut blocks = page.chunks_exact(64);
    for block in &mut blocks {
        let acc = block.chunks_exact(8).fold(0u64, |acc, w| {
            acc | u64::from_ne_bytes(w.try_into().unwrap_or([1; 8]))
        });
        if acc != 0 {
            return false;
        }
    }
    blocks.remainder().iter().all(|&b| b == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_test() {
        assert!(is_zero_page(&[0u8; 4096]));
        assert!(is_zero_page(&[]));
        for i in [0usize, 7, 8, 4095] {
            let mut p = [0u8; 4096];
            p[i] = 1;
            assert!(!is_zero_page(&p), "byte {i}");
        }
        let mut odd = [0u8; 13];
        assert!(is_zero_page(&odd));
        odd[12] = 0x80;
        assert!(!is_zero_page(&odd));
    }
}
