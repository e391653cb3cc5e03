//! Real bundles: a kernel log from the oops corpus, a crashdb record, and
//! `Bundle::build`, as `panicdump report` makes them; and variants of one
//! bundle under new record ids, re-packed with crashdb's own tar writer.

#![allow(dead_code)]

use std::io::Write;
use std::path::Path;

pub fn corpus(rel: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../oops/tests/corpus")
        .join(rel);
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// The logs the tests use: (corpus file, expected server title).
pub const SYSRQ: &str = "lab/sysrq-c-debian-6.1.log";
pub const GPF: &str = "general-protection/coreos-gce-old-rip-format.log";

/// A bundle of `log` built through a crashdb record in `dir`.
pub fn build(dir: &Path, log: &[u8], crash_time: i64) -> Vec<u8> {
    let store = crashdb::Store::new(dir);
    let rec = crashdb::NewRecord::new(
        log.to_vec(),
        crashdb::SourceKind::Pstore,
        "/sys/fs/pstore/dmesg-ramoops-0",
    )
    .crash_time(crash_time);
    let w = store.write(&rec, crash_time + 60).expect("record");
    let record = store.resolve(&w.id).expect("resolve");
    let b = crashdb::Bundle::build(&record, &crashdb::BundleOptions::default()).expect("bundle");
    let out = dir.join(format!("{}.tar.gz", w.id));
    b.write(&out).expect("write bundle");
    std::fs::read(&out).unwrap()
}

/// Members of a bundle: (name without the top directory, data).
pub fn members(gz: &[u8]) -> Vec<(String, Vec<u8>)> {
    crashdb::read_tar_gz(gz)
        .expect("read bundle")
        .into_iter()
        .map(|(n, d)| (n.split_once('/').map(|x| x.1.to_string()).unwrap_or(n), d))
        .collect()
}

/// Pack members under `top/` with crashdb's tar writer, gzip.
pub fn pack(top: &str, members: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    {
        let mut tar = crashdb::tar::TarWriter::new(&mut gz);
        for (n, d) in members {
            let name = if top.is_empty() {
                n.clone()
            } else {
                format!("{top}/{n}")
            };
            tar.file(&name, 1_700_000_000, d).unwrap();
        }
        tar.finish().unwrap();
    }
    gz.finish().unwrap()
}

/// The same bundle under another record id (manifest and top directory).
pub fn with_record(gz: &[u8], record: &str) -> Vec<u8> {
    let mut m = members(gz);
    for (n, d) in m.iter_mut() {
        if n == "manifest.json" {
            let mut v: serde_json::Value = serde_json::from_slice(d).unwrap();
            v["record"] = serde_json::json!(record);
            *d = serde_json::to_vec_pretty(&v).unwrap();
        }
    }
    pack(&format!("panicdump-{record}"), &m)
}

/// Edit the manifest JSON of a bundle (keeps the record id and top dir).
pub fn edit_manifest(gz: &[u8], f: impl Fn(&mut serde_json::Value)) -> Vec<u8> {
    let mut m = members(gz);
    let mut record = String::new();
    for (n, d) in m.iter_mut() {
        if n == "manifest.json" {
            let mut v: serde_json::Value = serde_json::from_slice(d).unwrap();
            record = v["record"].as_str().unwrap_or("").to_string();
            f(&mut v);
            *d = serde_json::to_vec(&v).unwrap();
        }
    }
    pack(&format!("panicdump-{record}"), &m)
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// A machine hash as clients send it.
pub fn machine(n: u32) -> String {
    use sha2::Digest;
    let d = sha2::Sha256::digest(format!("panicdump-machine:test-machine-{n}\n"));
    d.iter().map(|b| format!("{b:02x}")).collect()
}
