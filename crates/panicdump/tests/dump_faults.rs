//! `panicdump dump` under faults: a source with corrupt pages, a full disk,
//! a killed run. Never a corrupt file under the final name.

mod common;

use common::*;
use dumpfile::{Dump, ReadError};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn incomplete(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(".incomplete");
    PathBuf::from(s)
}

/// Copy makedumpfile's zlib output and overwrite the data of a few
/// compressed pages with garbage. Returns the copy and the damaged pfns.
fn corrupt_source(dir: &Path) -> (PathBuf, Vec<u64>) {
    let mdf = makedumpfile_output(&["-c"], "mdf-c-d31");
    let mut bytes = std::fs::read(&mdf).unwrap();
    let d = Dump::open(&mdf).unwrap();
    let h = d.kdump_header().unwrap();
    let bs = h.block_size as usize;
    let bitmap2 = bs * (1 + h.sub_hdr_size as usize) + bs * h.bitmap_blocks as usize / 2;
    let descs = bs * (1 + h.sub_hdr_size as usize + h.bitmap_blocks as usize);
    // pfn of each descriptor rank, from the 2nd bitmap.
    let mut ranks = Vec::new();
    for pfn in 0..h.max_mapnr as usize {
        if bytes[bitmap2 + pfn / 8] & (1 << (pfn % 8)) != 0 {
            ranks.push(pfn as u64);
        }
    }
    let mut damaged = Vec::new();
    for rank in (2000..ranks.len()).step_by(997) {
        let at = descs + rank * 24;
        let off = u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap()) as usize;
        let size = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().unwrap()) as usize;
        let flags = u32::from_le_bytes(bytes[at + 12..at + 16].try_into().unwrap());
        if flags & 1 == 0 || size < 16 {
            continue;
        }
        bytes[off..off + size].fill(0xa5);
        damaged.push(ranks[rank]);
        if damaged.len() == 3 {
            break;
        }
    }
    assert!(!damaged.is_empty());
    let path = dir.join("corrupt.kdump");
    std::fs::write(&path, &bytes).unwrap();
    (path, damaged)
}

#[test]
fn unreadable_source_pages_are_reported_and_marked_missing() {
    let dir = scratch("dump-corrupt-source");
    let (src, damaged) = corrupt_source(&dir);
    let out = dir.join("out.kdump");
    let r = run(&[
        "dump",
        "-d",
        "1",
        "--no-progress",
        src.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_clean_exit(&r, "corrupt source");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert_eq!(
        r.status.code(),
        Some(2),
        "partial dump exit status: {stderr}"
    );
    assert!(
        stderr.contains(&format!("{} page(s) could not be read", damaged.len())),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("{:#x}", damaged[0])), "{stderr}");
    let (s, o) = (Dump::open(&src).unwrap(), Dump::open(&out).unwrap());
    assert!(
        o.kdump_header().unwrap().incomplete,
        "missing pages not flagged"
    );
    let ps = s.memory().page_size() as usize;
    let (mut a, mut b) = (vec![0u8; ps], vec![0u8; ps]);
    for pfn in 0..s.memory().max_pfn() {
        let src_read = s.memory().read_pfn(pfn, &mut a);
        let out_read = o.memory().read_pfn(pfn, &mut b);
        if damaged.contains(&pfn) {
            assert!(
                matches!(out_read, Err(ReadError::Truncated { .. })),
                "{pfn:#x}: {out_read:?}"
            );
        } else if src_read.is_ok() {
            out_read.unwrap_or_else(|e| panic!("pfn {pfn:#x}: {e}"));
            assert!(a == b, "pfn {pfn:#x} differs");
        }
    }
}

/// A tmpfs mounted for the test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(dir: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(dir).unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        ok.then(|| Tmpfs(dir.to_path_buf()))
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn full_disk_gives_a_clear_error_and_no_final_file() {
    let dir = scratch("dump-disk-full").join("mnt");
    let Some(_mnt) = Tmpfs::mount(&dir, "8M") else {
        eprintln!("skipped: cannot mount a tmpfs (not root?)");
        return;
    };
    let vmcore = lab("kdump");
    let out = dir.join("vmcore.kdump");
    let r = run(&[
        "dump",
        "-d",
        "31",
        "--no-progress",
        vmcore.to_str().unwrap(),
        out.to_str().unwrap(),
    ]);
    assert_clean_exit(&r, "disk full");
    let stderr = String::from_utf8_lossy(&r.stderr);
    assert!(!r.status.success());
    assert!(stderr.contains("No space left on device"), "{stderr}");
    assert!(stderr.contains("disk full"), "{stderr}");
    assert!(!out.exists(), "a file exists under the final name");
    // What is left is recognisably incomplete.
    let partial = incomplete(&out);
    if let Ok(d) = Dump::open(&partial) {
        assert!(d.kdump_header().unwrap().incomplete);
    }
}

#[test]
fn killed_run_leaves_no_final_file() {
    let dir = scratch("dump-killed");
    let vmcore = lab("kdump");
    let out = dir.join("vmcore.kdump");
    let mut child = panicdump()
        .args([
            "dump",
            "-d",
            "0",
            "--compress",
            "none",
            "-j",
            "1",
            "--no-progress",
        ])
        .arg(&vmcore)
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let partial = incomplete(&out);
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::metadata(&partial).map_or(0, |m| m.len()) < 32 << 20 {
        assert!(Instant::now() < deadline, "no progress");
        if child.try_wait().unwrap().is_some() {
            panic!("finished before it could be killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.exists(), "a file exists under the final name");
    let d = Dump::open(&partial).expect("the partial file opens");
    assert!(
        d.kdump_header().unwrap().incomplete,
        "partial file not flagged"
    );
    let _ = std::fs::remove_file(&partial);
}
