//! drm_panic URLs end to end: published samples, a hand-built URL, real
//! kernel logs round-tripped through the kernel-like encoder, and damaged
//! URLs that must fail with a clear error.

use std::path::{Path, PathBuf};

use drmpanic::{decode_url, decode_url_with_limit, encode_url, Encoder, Error, Scheme};

/// The samples in the README of the reference decoder the drm_panic author
/// publishes (github.com/kdj0c/panic_report): the same 28-byte zlib stream
/// (window bits 12, as the kernel writes it) in both digit schemes.
const SAMPLE_TEXT: &[u8] = b"Test compressed zlib";
const SAMPLE_Z: &str = "22850245147461960127479103797202645679929458617911856021402989363788";
const SAMPLE_ZL: &str = "232110691174483706575043650521221445645717046796552248644098439502487";

#[test]
fn reference_samples_decode() {
    let forms = [
        format!("https://kdj0c.github.io/panic_report#?a=x86_64&v=6.10.0&z={SAMPLE_Z}"),
        format!("https://kdj0c.github.io/panic_report?a=x86_64&v=6.10.0&z={SAMPLE_Z}"),
        format!("https://kdj0c.github.io/panic_report?a=x86_64&v=6.10.0&zl={SAMPLE_ZL}"),
        format!("a=x86_64&v=6.10.0&zl={SAMPLE_ZL}"),
        format!("?a=x86_64&v=6.10.0&z={SAMPLE_Z}"),
    ];
    for url in &forms {
        let d = decode_url(url).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(d.log, SAMPLE_TEXT, "{url}");
        assert_eq!(d.arch.as_deref(), Some("x86_64"));
        assert_eq!(d.version.as_deref(), Some("6.10.0"));
        assert_eq!(d.compressed_len, 28);
    }
    assert_eq!(decode_url(&forms[0]).unwrap().scheme, Scheme::Fido);
    assert_eq!(decode_url(&forms[2]).unwrap().scheme, Scheme::Legacy);
    assert_eq!(
        decode_url(&forms[0]).unwrap().prefix.as_deref(),
        Some("https://kdj0c.github.io/panic_report#")
    );
}

#[test]
fn hand_built_url() {
    // zlib by hand: header 78 01, one stored block (final, type 0) of
    // length 3 (03 00, complement fc ff) holding "ok\n", then Adler-32 of
    // "ok\n" big-endian: a = 1+0x6f+0x6b+0x0a = 0xe5, b = 0x70+0xdb+0xe5 =
    // 0x230 -> 02 30 00 e5. 14 bytes = two 7-byte chunks:
    //   78 01 01 03 00 fc ff (little-endian) = 72053196041814392
    //   6f 6b 0a 02 30 00 e5 (little-endian) = 64457975859407727
    let url = "https://crash.example/qr?a=riscv64&v=6.15.0-rc1%2B&z=\
               7205319604181439264457975859407727";
    let d = decode_url(url).unwrap();
    assert_eq!(d.log, b"ok\n");
    assert_eq!(d.arch.as_deref(), Some("riscv64"));
    assert_eq!(d.version.as_deref(), Some("6.15.0-rc1+"));
    assert_eq!(d.digits, 34);
    assert_eq!(d.compressed_len, 14);
}

fn corpus_logs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../oops/tests/corpus");
    let mut out = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("oops corpus") {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "log") {
                out.push(path);
            }
        }
    }
    out.sort();
    assert!(
        out.len() > 50,
        "expected the oops corpus, found {}",
        out.len()
    );
    out
}

/// Bits a QR code needs for this URL as the kernel segments it: the head
/// as a byte segment, the digits as a numeric segment (version 27-40
/// length fields), and the terminator.
fn qr_bits(url: &str, digits: usize) -> usize {
    let head = url.len() - digits;
    let numeric = 10 * (digits / 3) + [0, 4, 7][digits % 3];
    (4 + 16 + 8 * head) + (4 + 14 + numeric) + 4
}

#[test]
fn corpus_round_trips_like_the_kernel() {
    let prefix = "https://panic.example.org/report#";
    let mut whole = 0;
    let mut cut = 0;
    for path in corpus_logs() {
        let log = std::fs::read(&path).unwrap();
        let url = encode_url(prefix, &log, "x86_64", "6.14.0-1-amd64");
        let d = decode_url(&url).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert_eq!(d.arch.as_deref(), Some("x86_64"));
        assert_eq!(d.version.as_deref(), Some("6.14.0-1-amd64"));
        // What the kernel shows is the newest whole lines of the log.
        assert!(log.ends_with(&d.log), "{}", path.display());
        let start = log.len() - d.log.len();
        assert!(start == 0 || log[start - 1] == b'\n', "{}", path.display());
        // ... and the URL fits a version-40 QR code (2956 data bytes).
        assert!(qr_bits(&url, d.digits) <= 2956 * 8, "{}", path.display());
        if start == 0 {
            whole += 1;
        } else {
            cut += 1;
            assert!(!d.log.is_empty(), "{}", path.display());
        }
    }
    // Typical oopses fit whole (long logs: long_log_keeps_the_newest_lines).
    assert!(whole > cut, "whole {whole}, cut {cut}");
}

#[test]
fn corpus_round_trips_unbounded_in_both_schemes() {
    for path in corpus_logs() {
        let log = std::fs::read(&path).unwrap();
        for scheme in [Scheme::Fido, Scheme::Legacy] {
            let encoder = Encoder {
                scheme,
                max_qr_version: None,
            };
            let url = encoder.url("https://x/r", &log, "aarch64", "6.12.9");
            match decode_url(&url) {
                Ok(d) => {
                    assert_eq!(d.log, log, "{} {scheme:?}", path.display());
                    assert_eq!(d.scheme, scheme);
                }
                // The legacy scheme cannot represent some final groups
                // (a kernel flaw, see encode_digits); nothing else fails.
                Err(Error::BadLength { .. }) if scheme == Scheme::Legacy => {}
                Err(e) => panic!("{} {scheme:?}: {e}", path.display()),
            }
        }
    }
}

#[test]
fn long_log_keeps_the_newest_lines() {
    let mut log = Vec::new();
    for path in corpus_logs() {
        log.extend(std::fs::read(path).unwrap());
    }
    assert!(log.len() > 50_000);
    let url = encode_url("https://x/r", &log, "x86_64", "6.14.0");
    let d = decode_url(&url).unwrap();
    assert!(log.ends_with(&d.log));
    // The kernel reads at most 3x the compressed budget of log text.
    assert!(d.log.len() <= 3 * 2956);
    assert!(d.log.len() > 1000, "only {} bytes survived", d.log.len());
    assert!(d.compressed_len <= (2956 - (url.len() - d.digits) - 5) * 39 / 40);
}

fn sample_url() -> (String, Vec<u8>) {
    let path = corpus_logs()
        .into_iter()
        .find(|p| p.to_string_lossy().contains("null-pointer"))
        .unwrap();
    let log = std::fs::read(path).unwrap();
    let url = encode_url("https://x/r", &log, "x86_64", "6.14.0");
    let d = decode_url(&url).unwrap();
    (url, d.log)
}

#[test]
fn every_truncation_fails() {
    let (url, _) = sample_url();
    let data_start = url.find("&z=").unwrap() + 3;
    for end in data_start..url.len() {
        match decode_url(&url[..end]) {
            Err(
                Error::EmptyData
                | Error::BadLength { .. }
                | Error::Truncated { .. }
                | Error::Corrupt { .. }
                | Error::ChunkOverflow { .. },
            ) => {}
            other => panic!("cut at {end}: {other:?}"),
        }
    }
}

#[test]
fn every_changed_digit_fails() {
    let (url, _) = sample_url();
    let data_start = url.find("&z=").unwrap() + 3;
    let bytes = url.as_bytes();
    for i in data_start..url.len() {
        let mut damaged = bytes.to_vec();
        damaged[i] = b'0' + (bytes[i] - b'0' + 1) % 10;
        let damaged = String::from_utf8(damaged).unwrap();
        match decode_url(&damaged) {
            Err(Error::Corrupt { .. } | Error::ChunkOverflow { .. } | Error::Truncated { .. }) => {}
            other => panic!("digit {i}: {other:?}"),
        }
    }
}

#[test]
fn malformed_urls() {
    type Expect = fn(&Error) -> bool;
    let cases: Vec<(String, Expect)> = vec![
        ("https://x/r?a=x86_64&v=6.14".into(), |e| {
            matches!(e, Error::MissingData)
        }),
        ("https://x/r".into(), |e| matches!(e, Error::MissingData)),
        ("".into(), |e| matches!(e, Error::MissingData)),
        ("https://x/r?a=x86_64&v=6.14&z=".into(), |e| {
            matches!(e, Error::EmptyData)
        }),
        (format!("a=x&z={}", &SAMPLE_Z[..19]), |e| {
            matches!(
                e,
                Error::BadLength {
                    digits: 19,
                    scheme: Scheme::Fido
                }
            )
        }),
        (
            format!("a=x&z={}x{}", &SAMPLE_Z[..5], &SAMPLE_Z[5..]),
            |e| {
                matches!(
                    e,
                    Error::BadDigit {
                        position: 5,
                        found: 'x'
                    }
                )
            },
        ),
        (
            format!("a=x&z={} {}", &SAMPLE_Z[..3], &SAMPLE_Z[3..]),
            |e| {
                matches!(
                    e,
                    Error::BadDigit {
                        position: 3,
                        found: ' '
                    }
                )
            },
        ),
        (format!("a=x&z={SAMPLE_Z}#frag"), |e| {
            matches!(
                e,
                Error::BadDigit {
                    position: 68,
                    found: '#'
                }
            )
        }),
        (
            format!("z={SAMPLE_Z}&z={SAMPLE_Z}"),
            |e| matches!(e, Error::DuplicateParameter { name } if name == "z"),
        ),
        (
            format!("z={SAMPLE_Z}&zl={SAMPLE_ZL}"),
            |e| matches!(e, Error::DuplicateParameter { name } if name == "zl"),
        ),
        ("z=99999999999999999".into(), |e| {
            matches!(
                e,
                Error::ChunkOverflow {
                    position: 0,
                    digits: 17,
                    bits: 56
                }
            )
        }),
        (format!("z={}", "1".repeat(70_000)), |e| {
            matches!(e, Error::TooManyDigits { digits: 70_000, .. })
        }),
        // The legacy sample read as the new scheme has the wrong length.
        (format!("z={SAMPLE_ZL}"), |e| {
            matches!(e, Error::BadLength { .. })
        }),
        // A valid digit string that is not zlib.
        ("z=00000000000000000".into(), |e| {
            matches!(e, Error::Corrupt { .. })
        }),
    ];
    // Whitespace around the URL (a pasted line) is not an error.
    let padded = format!("  a=x&z={SAMPLE_Z} \n");
    assert_eq!(decode_url(&padded).unwrap().log, SAMPLE_TEXT);
    for (url, ok) in cases {
        match decode_url(&url) {
            Ok(_) => panic!("{url:.60}: decoded"),
            Err(e) => {
                assert!(ok(&e), "{url:.60}: unexpected {e:?}");
                assert!(!e.to_string().is_empty());
            }
        }
    }
}

#[test]
fn zip_bomb_is_refused() {
    let zeros = vec![0u8; 8 << 20];
    let url = Encoder {
        scheme: Scheme::Fido,
        max_qr_version: None,
    }
    .url("https://x/r", &zeros, "x86_64", "6.14.0");
    // 8 MiB of zeros packs into a URL shorter than a V40 QR code's digits.
    assert!(url.len() < 30_000, "{}", url.len());
    assert!(matches!(
        decode_url(&url),
        Err(Error::TooLarge { limit }) if limit == drmpanic::MAX_LOG_BYTES
    ));
    assert!(matches!(
        decode_url_with_limit(&url, 1000),
        Err(Error::TooLarge { limit: 1000 })
    ));
}
