//! Uploaded report bundles through the server's strict reader
//! (`crashdb::upload::parse`): never a panic, never more than the unpack
//! cap. Raw input exercises the gzip layer; the other modes wrap the input
//! in valid gzip, or in a valid tar with a bundle's layout, so the fuzzer
//! reaches the tar, member-name, manifest and log checks quickly.
#![no_main]
use std::io::Write;

use crashdb::tar::TarWriter;
use libfuzzer_sys::fuzz_target;

const CAP: u64 = 1 << 20;

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).expect("in memory");
    e.finish().expect("in memory")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let gz = match mode % 3 {
        0 => rest.to_vec(),
        1 => gzip(rest),
        // manifest.json and log-tail.txt from the input, split at the
        // first NUL, in a well-formed archive whose top directory may or
        // may not match the manifest's record.
        _ => {
            let split = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            let (manifest, log) = rest.split_at(split);
            let mut tar = TarWriter::new(Vec::new());
            let top = "panicdump-r1";
            tar.file(&format!("{top}/manifest.json"), 0, manifest)
                .expect("in memory");
            tar.file(&format!("{top}/log-tail.txt"), 0, log.get(1..).unwrap_or(&[]))
                .expect("in memory");
            gzip(&tar.finish().expect("in memory"))
        }
    };
    if let Ok(parsed) = crashdb::upload::parse(&gz, CAP) {
        // Lossy UTF-8 turns one bad byte into a 3-byte replacement.
        assert!(parsed.log.len() as u64 <= 3 * CAP);
    }
});
