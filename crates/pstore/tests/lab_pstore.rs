//! Real-data check on the lab's ramoops records: Debian's 6.1 kernel
//! panicked by sysrq, warm reset, pstore mounted (`target/lab/<release>/
//! pstore-*/pstore/`). Skips with a notice when the lab has not run;
//! `PANICDUMP_LAB_DIR` overrides the lab directory.

use pstore::dmesg::Reason;
use pstore::harvest::{harvest, read_archive, HarvestOptions};
use pstore::Backend;
use std::path::{Path, PathBuf};

fn lab_dir() -> PathBuf {
    match std::env::var_os("PANICDUMP_LAB_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/lab"),
    }
}

/// `<lab>/<release>/pstore-*/` directories that hold a pstore/ copy.
fn runs() -> Vec<PathBuf> {
    let mut out = Vec::new();
    for rel in std::fs::read_dir(lab_dir()).into_iter().flatten().flatten() {
        for run in std::fs::read_dir(rel.path())
            .into_iter()
            .flatten()
            .flatten()
        {
            let p = run.path();
            let is_pstore = p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("pstore"));
            if is_pstore && p.join("pstore").is_dir() && p.join("meta.json").is_file() {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The marker line from meta.json, without a JSON dependency.
fn marker(meta: &str) -> Option<String> {
    let at = meta.find("\"marker\"")?;
    let rest = &meta[at + 8..];
    let open = rest.find('"')? + 1;
    let len = rest[open..].find('"')?;
    Some(rest[open..open + len].to_string())
}

#[test]
fn lab_ramoops_panic_is_found() {
    let runs = runs();
    if runs.is_empty() {
        eprintln!(
            "NOTICE: no lab pstore runs under {}; skipping (run `panicdump lab pstore`)",
            lab_dir().display()
        );
        return;
    }
    for run in runs {
        let meta = std::fs::read_to_string(run.join("meta.json")).unwrap();
        let marker = marker(&meta).expect("meta.json has a marker");
        let dir = pstore::read_dir(&run.join("pstore")).unwrap();
        assert!(dir.unreadable.is_empty(), "{:?}", dir.unreadable);
        let records = dir.records;
        assert!(!records.is_empty(), "{}: no records", run.display());
        let coll = pstore::reassemble(&records);
        let panic = coll
            .crashes
            .iter()
            .find(|c| c.reason == Reason::Panic)
            .unwrap_or_else(|| panic!("{}: no Panic crash in {:?}", run.display(), coll.crashes));
        let text = panic.dmesg_lossy();
        assert_eq!(panic.backend, Some(Backend::Ramoops));
        assert_eq!(panic.count, Some(1));
        assert_eq!(panic.parts, vec![1]);
        assert!(panic.missing_parts.is_empty());
        assert!(!panic.flags.corrupt && !panic.flags.compressed_undecodable);
        assert!(!text.starts_with("Panic#"), "header line removed");
        assert!(
            text.contains("Kernel panic - not syncing: sysrq triggered crash"),
            "{}",
            run.display()
        );
        assert!(text.contains(&marker), "marker {marker:?} missing");
        // The marker was logged before the panic.
        assert!(text.find(&marker) < text.find("Kernel panic - not syncing"));
        // Every line parses as a syslog line with a timestamp.
        let timed = text
            .lines()
            .filter(|l| pstore::dmesg::parse_line(l.as_bytes()).time.is_some())
            .count();
        assert!(
            timed * 10 >= text.lines().count() * 9,
            "{timed} of {}",
            text.lines().count()
        );
        eprintln!(
            "{}: {} records, panic text {} bytes",
            run.display(),
            records.len(),
            text.len()
        );

        // Harvest a copy of the directory (never the lab's own files) and
        // check the archive reassembles to the same crash.
        let tmp = std::env::temp_dir().join(format!("pstore-lab-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&tmp);
        let (src, dst) = (tmp.join("src"), tmp.join("dst"));
        std::fs::create_dir_all(&src).unwrap();
        for r in &records {
            std::fs::write(src.join(&r.file_name), &r.raw).unwrap();
        }
        let rep = harvest(&src, &dst, &HarvestOptions::default()).unwrap();
        assert_eq!(rep.copied().len(), records.len());
        assert_eq!(rep.unlinked().len(), records.len());
        let again = pstore::reassemble(&read_archive(&dst).unwrap());
        assert!(again.crashes.iter().any(|c| c.dmesg == panic.dmesg));
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
