//! Arbitrary text through the drm_panic URL decoder: no panic, no output
//! past the cap; digit strings that decode re-encode to the same digits;
//! and any log round-trips through the test encoder.
#![no_main]
use drmpanic::{decode_digits, decode_url_with_limit, encode_digits, Encoder, Scheme};
use libfuzzer_sys::fuzz_target;

const LIMIT: usize = 256 * 1024;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        // Any text as a URL.
        0 => {
            let text = String::from_utf8_lossy(rest);
            if let Ok(d) = decode_url_with_limit(&text, LIMIT) {
                assert!(d.log.len() <= LIMIT);
            }
        }
        // Digits: decoding is exact, so re-encoding gives them back.
        1 => {
            let digits: String = rest.iter().map(|b| char::from(b'0' + b % 10)).collect();
            for scheme in [Scheme::Fido, Scheme::Legacy] {
                if let Ok(bytes) = decode_digits(&digits, scheme) {
                    assert_eq!(encode_digits(&bytes, scheme), digits);
                    let url = format!("a=x&{}={digits}", scheme.parameter());
                    let _ = decode_url_with_limit(&url, LIMIT);
                }
            }
        }
        // A log through the encoder and back.
        _ => {
            let url = Encoder {
                scheme: Scheme::Fido,
                max_qr_version: None,
            }
            .url("https://x/r#", rest, "x86_64", "6.14.0");
            let d = decode_url_with_limit(&url, LIMIT).expect("own URL decodes");
            assert_eq!(d.log, rest);
        }
    }
});
