//! The bundle parser never panics and never accepts a damaged archive
//! silently: thousands of deterministic mutations of a real bundle (bit
//! flips, truncations, splices) at the gzip and at the tar level.

mod common;

use common::bundles;

fn xorshift(x: &mut u64) -> u64 {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    *x
}

#[test]
fn mutated_bundles_never_panic() {
    let work = tempfile::tempdir().unwrap();
    let good = bundles::build(work.path(), &bundles::corpus(bundles::GPF), 1_700_000_000);
    let parsed = server::ingest::parse(&good, 64 << 20).expect("the real bundle parses");
    assert!(
        parsed.title.contains("general protection"),
        "{}",
        parsed.title
    );
    let tar = crashdb::bundle::gunzip(&good).unwrap();
    let mut seed = 0x1234_5678_9abc_def0u64;
    let (mut accepted, mut refused) = (0, 0);
    for i in 0..3000 {
        // Alternate between damaging the compressed and the raw archive.
        let mut data = if i % 2 == 0 {
            good.clone()
        } else {
            tar.clone()
        };
        match xorshift(&mut seed) % 3 {
            0 => {
                for _ in 0..1 + xorshift(&mut seed) % 8 {
                    let at = (xorshift(&mut seed) as usize) % data.len();
                    data[at] ^= 1 << (xorshift(&mut seed) % 8);
                }
            }
            1 => {
                let at = (xorshift(&mut seed) as usize) % data.len();
                data.truncate(at);
            }
            _ => {
                let a = (xorshift(&mut seed) as usize) % data.len();
                let b = (xorshift(&mut seed) as usize) % data.len();
                let chunk = data[a.min(b)..a.max(b)].to_vec();
                let at = (xorshift(&mut seed) as usize) % data.len();
                data.splice(at..at, chunk);
            }
        }
        let gz = if i % 2 == 0 {
            data
        } else {
            bundles::gzip(&data)
        };
        match server::ingest::parse(&gz, 1 << 20) {
            Ok(p) => {
                // Whatever is accepted is a coherent report.
                assert!(!p.manifest.record.is_empty());
                assert!(!p.signature_hash.is_empty());
                accepted += 1;
            }
            Err(e) => {
                assert!(!e.code().is_empty());
                refused += 1;
            }
        }
    }
    assert!(refused > 1000, "accepted {accepted}, refused {refused}");
}
