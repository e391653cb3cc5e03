//! Read every page of a dump and report timings: a smoke and speed check.
//!
//! `cargo run --release -p dumpfile --example readall -- DUMP...`

use dumpfile::{Dump, ReadError};
use std::time::Instant;

fn main() {
    for path in std::env::args().skip(1) {
        let t = Instant::now();
        let dump = match Dump::open(path.as_ref()) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{path}: {e}");
                continue;
            }
        };
        let opened = t.elapsed();
        let t = Instant::now();
        let counts = dump.page_counts();
        let counted = t.elapsed();
        let m = dump.memory();
        let ps = m.page_size();
        let mut buf = vec![0u8; ps as usize];
        let (mut ok, mut excluded, mut other) = (0u64, 0u64, 0u64);
        let t = Instant::now();
        for r in m.ranges() {
            let mut pfn = r.start / ps;
            while pfn * ps < r.end {
                match m.read_pfn(pfn, &mut buf) {
                    Ok(()) => ok += 1,
                    Err(ReadError::Excluded { .. }) => excluded += 1,
                    Err(_) => other += 1,
                }
                pfn += 1;
            }
        }
        let read = t.elapsed();
        println!(
            "{path}: {} | open {opened:?}, page_counts {counted:?}, read {ok} pages in {read:?} ({:.0} MiB/s); {excluded} excluded, {other} errors; {counts:?}; {} warnings",
            dump.format(),
            (ok * ps) as f64 / (1 << 20) as f64 / read.as_secs_f64(),
            dump.warnings().len()
        );
    }
}
