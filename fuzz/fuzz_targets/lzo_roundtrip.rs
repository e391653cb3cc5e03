//! Arbitrary bytes through our LZO1X encoder and back through our bounded
//! decoder: the stream must decode to the input exactly, and a too-small
//! output slice must give `None`, never a panic or a partial stream.
#![no_main]
use dumpwrite::lzo::LzoCompressor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut c = LzoCompressor::new();
    let mut out = vec![0u8; data.len() + data.len() / 16 + 64];
    let n = c.compress(data, &mut out).expect("worst-case output fits");
    let mut back = vec![0u8; data.len()];
    assert_eq!(
        dumpfile::lzo::decompress(&out[..n], &mut back),
        Ok(data.len())
    );
    assert!(back == data);
    // A budget one byte short must be refused (and the table reuse must not
    // change the result of the next call).
    if n > 0 {
        let mut small = vec![0u8; n - 1];
        assert_eq!(c.compress(data, &mut small), None);
    }
    let mut again = vec![0u8; n];
    assert_eq!(c.compress(data, &mut again), Some(n));
    assert!(again[..] == out[..n]);
});
