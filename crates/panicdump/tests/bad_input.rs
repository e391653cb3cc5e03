//! Acceptance: truncated and corrupted dumps give a clear error or partial
//! output with a warning; never a panic, never a hang.

mod common;

use common::*;
use std::io::Write;
use std::path::Path;

fn write_prefix(src: &Path, dst: &Path, len: u64) {
    let mut f = std::fs::File::open(src).unwrap();
    let mut out = std::fs::File::create(dst).unwrap();
    std::io::copy(&mut std::io::Read::take(&mut f, len), &mut out).unwrap();
}

#[test]
fn truncated_dumps_never_panic() {
    let dir = scratch("truncated_dumps_never_panic");
    for (flags, name) in [
        (&["-c"][..], "trunc.zlib"),
        (&["-E"][..], "trunc.elf"),
        (&["-c", "-F"][..], "trunc.flat"),
    ] {
        let src = makedumpfile_output(flags, name);
        let size = std::fs::metadata(&src).unwrap().len();
        // Cut inside every header structure, then at spread points through
        // the page data.
        let mut cuts: Vec<u64> = vec![0, 1, 7, 8, 63, 64, 100, 464, 4095, 4096, 4200, 8192, 12288];
        cuts.extend((1..24).map(|i| size * i / 24));
        cuts.push(size - 1);
        let cut_file = dir.join(name);
        let mut partial_ok = 0;
        for &cut in &cuts {
            write_prefix(&src, &cut_file, cut);
            let p = cut_file.to_str().unwrap();
            for cmd in ["dmesg", "info"] {
                let out = run_bounded(&[cmd, p], 60);
                assert_clean_exit(&out, &format!("{cmd} {name} cut at {cut}/{size}"));
                if cmd == "dmesg" && out.status.success() && cut < size {
                    partial_ok += 1;
                }
            }
        }
        eprintln!(
            "{name}: {partial_ok} of {} cuts still gave a log",
            cuts.len()
        );
    }
}

#[test]
fn flipped_header_bytes_never_panic() {
    let dir = scratch("flipped_header_bytes_never_panic");
    for (flags, name) in [(&["-c"][..], "flip.zlib"), (&["-E"][..], "flip.elf")] {
        let src = makedumpfile_output(flags, name);
        // One copy, patched in place one byte at a time (and restored), so
        // a large dump is not rewritten for every position.
        let target = dir.join(name);
        std::fs::copy(&src, &target).unwrap();
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&target)
            .unwrap();
        use std::os::unix::fs::FileExt;
        for pos in (0..8192u64).step_by(97) {
            let mut b = [0u8; 1];
            f.read_exact_at(&mut b, pos).unwrap();
            f.write_all_at(&[b[0] ^ 0xff], pos).unwrap();
            let p = target.to_str().unwrap();
            for cmd in ["dmesg", "info"] {
                let out = run_bounded(&[cmd, p], 60);
                assert_clean_exit(&out, &format!("{cmd} {name} byte {pos} flipped"));
            }
            f.write_all_at(&b, pos).unwrap();
        }
    }
}

#[test]
fn missing_vmcoreinfo_is_named_in_the_error() {
    let src = makedumpfile_output(&["-E"], "novmci.elf");
    let mut bytes = std::fs::read(&src).unwrap();
    // Rename every VMCOREINFO note in the header area so it is not found.
    let head = bytes.len().min(1 << 20);
    let mut renamed = 0;
    for i in 0..head.saturating_sub(10) {
        if &bytes[i..i + 10] == b"VMCOREINFO" {
            bytes[i] = b'X';
            renamed += 1;
        }
    }
    assert!(renamed > 0, "no VMCOREINFO note found to damage");
    let dir = scratch("missing_vmcoreinfo_is_named_in_the_error");
    let target = dir.join("novmci.elf");
    std::fs::File::create(&target)
        .unwrap()
        .write_all(&bytes)
        .unwrap();
    let out = run_bounded(&["dmesg", target.to_str().unwrap()], 60);
    assert_clean_exit(&out, "dmesg without VMCOREINFO");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("VMCOREINFO"));
    // info still describes what it can.
    let out = run_bounded(&["info", target.to_str().unwrap()], 60);
    assert_clean_exit(&out, "info without VMCOREINFO");
    assert!(
        out.status.success(),
        "info should describe a dump without VMCOREINFO"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ELF"));
}

#[test]
fn garbage_files_are_refused() {
    let dir = scratch("garbage_files_are_refused");
    for (name, bytes) in [
        ("empty", Vec::new()),
        ("text", b"hello world\n".repeat(1000)),
        ("elf-magic-only", b"\x7fELF".to_vec()),
        ("kdump-sig-only", b"KDUMP   ".to_vec()),
        ("flat-sig-only", b"makedumpfile\0\0\0\0".to_vec()),
    ] {
        let p = dir.join(name);
        std::fs::write(&p, &bytes).unwrap();
        for cmd in ["dmesg", "info"] {
            let out = run_bounded(&[cmd, p.to_str().unwrap()], 30);
            assert_clean_exit(&out, &format!("{cmd} {name}"));
            assert_eq!(out.status.code(), Some(1), "{cmd} {name} should fail");
        }
    }
    let out = run_bounded(&["dmesg", "/nonexistent/vmcore"], 30);
    assert_clean_exit(&out, "missing file");
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/vmcore"));
}

/// `panicdump info vmcore | head -1` must end quietly (SIGPIPE, like any
/// Unix filter), never with a Rust panic about a broken pipe.
#[test]
fn closed_stdout_is_not_a_panic() {
    use std::io::Read;
    use std::process::Stdio;
    let vmcore = lab("kdump");
    for cmd in ["info", "dmesg"] {
        let mut child = panicdump()
            .args([cmd, vmcore.to_str().unwrap()])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read one byte, then close the pipe while output is still coming.
        let mut stdout = child.stdout.take().unwrap();
        let mut one = [0u8; 1];
        stdout.read_exact(&mut one).unwrap();
        drop(stdout);
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(!err.contains("panicked"), "{cmd}: {err}");
        assert_ne!(status.code(), Some(101), "{cmd}: exit 101");
    }
}
