//! `panicdump dump` on the lab's real kdump vmcore (Debian 6.1, 1 GiB
//! guest), checked with our reader page by page and with the reference
//! tools: crash (log, sys, bt), makedumpfile (--dump-dmesg, -R).
//!
//! Each output is made once per test process (`-d 31`, ~20 MB) and shared.

mod common;

use common::*;
use dumpfile::{Dump, PageState};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

const COMPRESSIONS: [&str; 5] = ["zstd", "zlib", "lzo", "snappy", "none"];

fn out_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| scratch(&format!("dump-outputs-{}", std::process::id())))
        .clone()
}

/// `panicdump dump -d 31 <extra> VMCORE OUT`, made once per `name`.
fn output(name: &str, extra: &[&str]) -> PathBuf {
    static CELLS: OnceLock<Mutex<HashMap<String, Arc<OnceLock<PathBuf>>>>> = OnceLock::new();
    let cell = CELLS
        .get_or_init(Default::default)
        .lock()
        .unwrap()
        .entry(name.to_string())
        .or_default()
        .clone();
    cell.get_or_init(|| {
        let out = out_dir().join(name);
        let vmcore = lab("kdump");
        let mut args = vec!["dump", "-d", "31", "--no-progress"];
        args.extend_from_slice(extra);
        let (v, o) = (vmcore.to_str().unwrap(), out.to_str().unwrap());
        args.extend_from_slice(&[v, o]);
        run_ok(&args);
        assert!(out.exists(), "{name}: no output");
        assert!(!incomplete(&out).exists(), "{name}: .incomplete left");
        out
    })
    .clone()
}

fn kdump_output(compression: &str) -> PathBuf {
    output(
        &format!("kdump-{compression}"),
        &["--compress", compression],
    )
}

fn incomplete(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(".incomplete");
    PathBuf::from(s)
}

/// Every page our output stores equals the source page; zero pages are
/// zero; returns (present, zero) counts.
fn assert_round_trip(ours: &Path) -> (u64, u64) {
    let src = Dump::open(&lab("kdump")).unwrap();
    let dst = Dump::open(ours).unwrap();
    let (sm, dm) = (src.memory(), dst.memory());
    assert_eq!(dm.page_size(), sm.page_size());
    let ps = sm.page_size() as usize;
    let (mut a, mut b) = (vec![0u8; ps], vec![0u8; ps]);
    let (mut present, mut zero) = (0, 0);
    for pfn in 0..sm.max_pfn() {
        match dm.page_state(pfn) {
            PageState::Present | PageState::Zero => {
                dm.read_pfn(pfn, &mut b)
                    .unwrap_or_else(|e| panic!("{}: pfn {pfn:#x}: {e}", ours.display()));
                if sm.read_pfn(pfn, &mut a).is_err() {
                    // A frame the source covers partly: the rest is zeros.
                    continue;
                }
                assert!(a == b, "{}: pfn {pfn:#x} differs", ours.display());
                if dm.page_state(pfn) == PageState::Zero {
                    assert!(b.iter().all(|&x| x == 0));
                    zero += 1;
                } else {
                    present += 1;
                }
            }
            PageState::Excluded | PageState::Hole => {}
        }
    }
    assert!(present > 10_000, "{}: only {present} pages", ours.display());
    (present, zero)
}

#[test]
fn every_compression_round_trips_page_by_page() {
    let mut counts = Vec::new();
    for c in COMPRESSIONS {
        let out = kdump_output(c);
        let d = Dump::open(&out).unwrap();
        let h = d.kdump_header().expect("kdump header");
        assert_eq!(h.header_version, 6);
        assert!(!h.incomplete, "{c}: flagged incomplete");
        assert_eq!(h.dump_level, Some(31));
        assert_eq!(
            h.compression.to_string(),
            c.replace("none", "uncompressed"),
            "{c}"
        );
        assert_eq!(h.utsname.release, "6.1.0-56-amd64");
        assert!(d.vmcoreinfo().is_some(), "{c}: VMCOREINFO");
        assert_eq!(d.cpus().len(), 1, "{c}: CPU notes");
        counts.push(assert_round_trip(&out));
    }
    // Same pages kept whatever the compression.
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "{counts:?}");
}

#[test]
fn elf_and_flattened_round_trip() {
    let elf = output("elf", &["--format", "elf"]);
    let d = Dump::open(&elf).unwrap();
    assert!(d.format().to_string().starts_with("ELF"), "{}", d.format());
    assert_round_trip(&elf);

    let flat = output("flat-zstd", &["-F"]);
    let d = Dump::open(&flat).unwrap();
    assert!(d.format().flattened);
    assert_round_trip(&flat);
}

/// Same set of kept pages as makedumpfile at -d 31.
#[test]
fn keeps_what_makedumpfile_keeps() {
    let mdf = makedumpfile_output(&["-c"], "mdf-c-d31");
    let ours = kdump_output("zlib");
    let (a, b) = (Dump::open(&mdf).unwrap(), Dump::open(&ours).unwrap());
    let (pa, pb) = (a.page_counts(), b.page_counts());
    assert_eq!(
        (pa.present + pa.zero, pa.excluded),
        (pb.present + pb.zero, pb.excluded),
        "makedumpfile {pa:?} vs ours {pb:?}"
    );
}

fn crash_batch(dump: &Path) -> String {
    let vmlinux = debug_vmlinux("6.1.0-56-amd64");
    let mut child = Command::new("crash")
        .arg("-s")
        .arg(&vmlinux)
        .arg(dump)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("crash is installed (scripts/install-deps.sh)");
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"log\nsys\nbt\nquit\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    // The file name differs (and filtered dumps say [PARTIAL DUMP]);
    // everything else must be identical.
    text.lines()
        .filter(|l| !l.contains("DUMPFILE:"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn crash_log_sys_bt_match_the_original() {
    let original = crash_batch(&lab("kdump"));
    assert!(
        original.contains("PANIC:"),
        "crash on the original:\n{original}"
    );
    let mut outs: Vec<PathBuf> = ["zstd", "zlib", "lzo", "snappy"]
        .iter()
        .map(|c| kdump_output(c))
        .collect();
    outs.push(output("elf", &["--format", "elf"]));
    // Two crash sessions at a time: they are single-threaded.
    for pair in outs.chunks(2) {
        let results: Vec<(PathBuf, String)> = std::thread::scope(|s| {
            let hs: Vec<_> = pair
                .iter()
                .map(|o| s.spawn(move || (o.clone(), crash_batch(o))))
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        for (out, ours) in results {
            assert_same_lines(
                ours.as_bytes(),
                original.as_bytes(),
                &format!("crash log/sys/bt on {}", out.display()),
            );
        }
    }
}

#[test]
fn makedumpfile_and_panicdump_read_the_kernel_log() {
    let vmcore = lab("kdump");
    let dir = scratch("dump-dmesg");
    let reference = makedumpfile_dmesg(&vmcore, &dir);
    // This makedumpfile build reads zlib and LZO pages.
    for c in ["zlib", "lzo"] {
        let ours = makedumpfile_dmesg(&kdump_output(c), &dir);
        assert_same_lines(
            &ours,
            &reference,
            &format!("makedumpfile --dump-dmesg ({c})"),
        );
    }
    for c in COMPRESSIONS {
        let out = kdump_output(c);
        let ours = run_ok(&["dmesg", out.to_str().unwrap()]);
        assert_same_lines(&ours, &reference, &format!("panicdump dmesg ({c})"));
    }
}

#[test]
fn flattened_stream_to_stdout_rebuilds_with_makedumpfile_r() {
    let vmcore = lab("kdump");
    let dir = scratch("dump-flat-stdout");
    let stream = dir.join("stream");
    let status = panicdump()
        .args(["dump", "-d", "31", "--compress", "lzo", "--no-progress"])
        .arg(&vmcore)
        .arg("-")
        .stdout(std::fs::File::create(&stream).unwrap())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let rebuilt = dir.join("rebuilt");
    let st = Command::new("makedumpfile")
        .arg("-R")
        .arg(&rebuilt)
        .stdin(std::fs::File::open(&stream).unwrap())
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "makedumpfile -R failed");
    // Byte-identical to the file written directly.
    let direct = std::fs::read(kdump_output("lzo")).unwrap();
    let rebuilt_bytes = std::fs::read(&rebuilt).unwrap();
    assert!(
        direct == rebuilt_bytes,
        "makedumpfile -R output differs from the direct file"
    );
    let d = Dump::open(&stream).unwrap();
    assert!(d.format().flattened);
    let ours = makedumpfile_dmesg(&rebuilt, &dir);
    assert_same_lines(
        &ours,
        &makedumpfile_dmesg(&vmcore, &dir),
        "dmesg of -R output",
    );
}

#[test]
fn bad_arguments_fail_clearly() {
    let vmcore = lab("kdump");
    let dir = scratch("dump-args");
    let out = dir.join("x");
    let r = run(&[
        "dump",
        "-d",
        "32",
        vmcore.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert!(!r.status.success());
    std::fs::write(&out, b"keep").unwrap();
    let r = run(&[
        "dump",
        "-d",
        "1",
        vmcore.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_clean_exit(&r, "existing output");
    assert!(
        !r.status.success(),
        "overwrote an existing file without --force"
    );
    assert_eq!(std::fs::read(&out).unwrap(), b"keep");
}

/// drgn (through libkdumpfile) reads the kernel log and walks the task
/// list of every output exactly as of the original. Skipped when drgn is
/// not installed (`pip install drgn`).
#[test]
fn drgn_reads_log_and_tasks_like_the_original() {
    let have = Command::new("python3")
        .args(["-c", "import drgn"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !have {
        eprintln!("skipped: drgn is not installed (pip install drgn)");
        return;
    }
    const SCRIPT: &str = r#"
import sys, drgn
from drgn.helpers.linux.printk import get_printk_records
from drgn.helpers.linux.pid import for_each_task
prog = drgn.Program()
prog.set_core_dump(sys.argv[1])
prog.load_debug_info([sys.argv[2]])
for r in get_printk_records(prog):
    print(r.timestamp, r.text.decode(errors="replace"))
for t in for_each_task(prog):
    print("task", t.pid.value_(), t.comm.string_().decode(errors="replace"))
"#;
    let vmlinux = debug_vmlinux("6.1.0-56-amd64");
    let run_drgn = |dump: &Path| {
        let out = Command::new("python3")
            .args(["-c", SCRIPT])
            .arg(dump)
            .arg(&vmlinux)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "drgn on {}: {}",
            dump.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        out.stdout
    };
    let original = run_drgn(&lab("kdump"));
    assert!(String::from_utf8_lossy(&original).contains("task 1 "));
    let mut outs: Vec<PathBuf> = ["zstd", "zlib", "lzo", "snappy"]
        .iter()
        .map(|c| kdump_output(c))
        .collect();
    outs.push(output("elf", &["--format", "elf"]));
    for out in outs {
        assert_same_lines(
            &run_drgn(&out),
            &original,
            &format!("drgn log and tasks on {}", out.display()),
        );
    }
}

/// A kdump-compressed source (our own output) re-filtered and
/// re-compressed: same pages, new compression.
#[test]
fn recompresses_a_kdump_source() {
    let src = kdump_output("zstd");
    let dir = scratch("dump-recompress");
    let out = dir.join("lzo.kdump");
    run_ok(&[
        "dump",
        "-d",
        "31",
        "--compress",
        "lzo",
        "--no-progress",
        src.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    let (a, b) = (Dump::open(&src).unwrap(), Dump::open(&out).unwrap());
    assert_eq!(b.kdump_header().unwrap().compression.to_string(), "lzo");
    let (ca, cb) = (a.page_counts(), b.page_counts());
    assert_eq!((ca.present, ca.zero), (cb.present, cb.zero));
    let ps = a.memory().page_size() as usize;
    let (mut x, mut y) = (vec![0u8; ps], vec![0u8; ps]);
    for pfn in 0..a.memory().max_pfn() {
        if a.memory().read_pfn(pfn, &mut x).is_ok() {
            b.memory().read_pfn(pfn, &mut y).unwrap();
            assert!(x == y, "pfn {pfn:#x} differs");
        }
    }
}
