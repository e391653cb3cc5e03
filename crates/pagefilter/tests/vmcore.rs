//! The acceptance test: on the lab's real 6.1 vmcore, the pages we keep at a
//! dump level are exactly the pages makedumpfile keeps, page for page.
//!
//! For each level, `makedumpfile -d LEVEL` writes a kdump-compressed file
//! (uncompressed data: fastest) that we read back with `dumpfile`; its 2nd
//! bitmap says what makedumpfile kept. makedumpfile keeps zero pages in the
//! bitmap and points them at one shared zero page, which the reader reports
//! as `PageState::Zero`: with bit 1 those count as excluded on both sides.
//!
//! Skipped, with a notice, when the vmcore or makedumpfile is missing.

use dumpfile::{Dump, PageState};
use pagefilter::{PageFilter, Stats};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const VMCORE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../target/lab/6.1.0-56-amd64/kdump-m1024-ck256M/vmcore"
);

/// Levels compared; 1 and 31 are required, the rest isolate each bit.
const LEVELS: [u32; 7] = [1, 2, 4, 8, 16, 31, 0];

/// Pfns per `filter_range` call: small enough that buddy blocks and
/// compound pages straddle calls, exercising the carry-over.
const CYCLE: u64 = 3 << 12;

/// A scratch directory removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("pagefilter-vmcore-{}", std::process::id()));
        std::fs::create_dir_all(&p).expect("create temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Our decision for every pfn: (kept, excluded as zero).
fn ours(dump: &Dump, level: u32) -> (Vec<bool>, Vec<bool>, Stats, f64) {
    let info = dump.vmcoreinfo().expect("vmcore has VMCOREINFO");
    let hints = addrxlat::Hints {
        direct_map_base: dump.direct_map_offset(),
        elf_machine: dump.elf_machine(),
        ..Default::default()
    };
    let kmem = addrxlat::KernelMemory::from_vmcoreinfo(dump.memory(), info, &hints)
        .expect("address translation");
    let t0 = Instant::now();
    let mut filter = PageFilter::new(&kmem, level).expect("page filter");
    let max = filter.max_pfn();
    let mut stats = Stats::default();
    let mut bitmap = vec![0u8; (CYCLE / 8) as usize];
    let mut keep = Vec::with_capacity(max as usize);
    let mut start = 0;
    while start < max {
        let end = (start + CYCLE).min(max);
        filter
            .filter_range(start, end, &mut bitmap, &mut stats)
            .expect("filter_range");
        keep.extend((0..end - start).map(|i| bitmap[(i / 8) as usize] >> (i % 8) & 1 != 0));
        start = end;
    }
    let secs = t0.elapsed().as_secs_f64();
    let mut zero = vec![false; keep.len()];
    if level & 1 != 0 {
        let mem = dump.memory();
        let mut page = vec![0u8; mem.page_size() as usize];
        for pfn in 0..keep.len() {
            if keep[pfn] && mem.read_pfn(pfn as u64, &mut page).is_ok() {
                zero[pfn] = filter.exclude_zero(&page, &mut stats);
            }
        }
    }
    (keep, zero, stats, secs)
}

/// Run makedumpfile; the output file and its report (page counters).
fn run_makedumpfile(vmcore: &Path, dir: &Path, level: u32) -> Option<(PathBuf, String)> {
    let out = dir.join(format!("dump-{level}"));
    let res = Command::new("makedumpfile")
        .arg("--message-level")
        .arg("31")
        .arg("-d")
        .arg(level.to_string())
        .arg(vmcore)
        .arg(&out)
        .output();
    match res {
        Ok(o) if o.status.success() => {
            let report = String::from_utf8_lossy(&o.stdout).into_owned()
                + &String::from_utf8_lossy(&o.stderr);
            Some((out, report))
        }
        Ok(o) => panic!(
            "makedumpfile -d {level} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            eprintln!("NOTICE: makedumpfile not runnable ({e}); skipping");
            None
        }
    }
}

#[test]
fn kept_pages_equal_makedumpfile() {
    let vmcore = Path::new(VMCORE);
    if !vmcore.exists() {
        eprintln!("NOTICE: {VMCORE} is missing; skipping the makedumpfile comparison");
        return;
    }
    let dump = Dump::open(vmcore).expect("open vmcore");
    let tmp = TempDir::new();
    let mut failures = Vec::new();
    for level in LEVELS {
        let Some((out, report)) = run_makedumpfile(vmcore, &tmp.0, level) else {
            return;
        };
        let theirs = Dump::open(&out).expect("open makedumpfile output");
        let (keep, zero, stats, secs) = ours(&dump, level);
        let tm = theirs.memory();
        let mut diffs = 0u64;
        let mut shown = 0;
        let (mut their_kept, mut their_zero) = (0u64, 0u64);
        let n = keep.len().max(tm.max_pfn() as usize);
        for pfn in 0..n {
            let st = tm.page_state(pfn as u64);
            let t_keep = matches!(st, PageState::Present | PageState::Zero);
            let t_zero = st == PageState::Zero && level & 1 != 0;
            their_kept += u64::from(t_keep && !t_zero);
            their_zero += u64::from(t_zero);
            let o_keep = keep.get(pfn).copied().unwrap_or(false);
            let o_zero = zero.get(pfn).copied().unwrap_or(false);
            if (o_keep && !o_zero) != (t_keep && !t_zero) || o_zero != t_zero {
                diffs += 1;
                if shown < 20 {
                    shown += 1;
                    eprintln!(
                        "  level {level} pfn {pfn:#x}: makedumpfile {st:?}, ours keep={o_keep} zero={o_zero}"
                    );
                }
            }
        }
        eprintln!(
            "level {level:2}: classified in {:.3} s; ours {}; makedumpfile kept {their_kept}, zero {their_zero}; {diffs} differences",
            secs,
            serde_json_like(&stats),
        );
        // makedumpfile's own counters, category by category.
        assert!(
            counter(&report, "Free pages").is_some(),
            "no page counters in makedumpfile's report:\n{report}"
        );
        for (label, ours) in [
            ("Pages filled with zero", stats.zero),
            ("Non-private cache pages", stats.cache),
            ("Private cache pages", stats.cache_private),
            ("User process data pages", stats.user),
            ("Free pages", stats.free),
            ("Hwpoison pages", stats.hwpoison),
            ("Offline pages", stats.offline),
        ] {
            if let Some(theirs) = counter(&report, label) {
                if theirs != ours {
                    eprintln!("  level {level}: {label}: makedumpfile {theirs}, ours {ours}");
                    diffs += 1;
                }
            }
        }
        if diffs != 0 {
            failures.push((level, diffs));
        }
    }
    assert!(failures.is_empty(), "levels differing: {failures:?}");
}

fn serde_json_like(s: &Stats) -> String {
    format!(
        "kept {} (no_mem_map {}, inconsistent {}), holes {}, free {}, cache {}, cache_private {}, user {}, zero {}, hwpoison {}, offline {}",
        s.kept,
        s.no_mem_map,
        s.inconsistent,
        s.holes,
        s.free,
        s.cache,
        s.cache_private,
        s.user,
        s.zero,
        s.hwpoison,
        s.offline
    )
}

/// A `label : 0x...` counter from makedumpfile's report.
fn counter(report: &str, label: &str) -> Option<u64> {
    report.split(['\r', '\n']).find_map(|line| {
        let rest = line.trim().strip_prefix(label)?.trim_start();
        let hex = rest.strip_prefix(':')?.trim().strip_prefix("0x")?;
        u64::from_str_radix(hex, 16).ok()
    })
}
