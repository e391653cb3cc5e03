//! Acceptance: `panicdump dmesg` on real dumps of Debian's kernel equals the
//! reference tools line for line.
//!
//! - the kdump vmcore (ELF, as /proc/vmcore) vs `makedumpfile --dump-dmesg`;
//! - makedumpfile's own outputs of that vmcore (`-c`, `-l`, `-E`, flattened
//!   `-F`, all `-d 31`) give the same log;
//! - QEMU's ELF and kdump-zlib (flattened) dumps of one paused guest, which
//!   makedumpfile cannot read, give identical logs, equal to `crash`'s `log`.

mod common;

use common::*;
use std::process::Command;

#[test]
fn kdump_vmcore_matches_makedumpfile() {
    let vmcore = lab("kdump");
    let dir = scratch("kdump_vmcore_matches_makedumpfile");
    let ours = run_ok(&["dmesg", vmcore.to_str().unwrap()]);
    let theirs = makedumpfile_dmesg(&vmcore, &dir);
    assert!(theirs.len() > 10_000, "reference log is suspiciously short");
    assert_same_lines(&ours, &theirs, "vmcore");
    // The lab wrote a marker to /dev/kmsg before the panic, and the panic
    // itself must be in the log.
    let text = String::from_utf8_lossy(&ours);
    assert!(text.contains("panicdump-lab-marker"), "marker missing");
    assert!(text.contains("Kernel panic - not syncing: sysrq triggered crash"));
}

#[test]
fn makedumpfile_outputs_give_the_same_log() {
    let vmcore = lab("kdump");
    let dir = scratch("makedumpfile_outputs_give_the_same_log");
    let reference = makedumpfile_dmesg(&vmcore, &dir);
    for (name, flags) in [
        ("zlib", &["-c"][..]),
        ("lzo", &["-l"][..]),
        ("elf", &["-E"][..]),
        ("flat-zlib", &["-c", "-F"][..]),
        ("flat-elf", &["-E", "-F"][..]),
    ] {
        let out = dir.join(format!("vmcore.{name}"));
        let mut cmd = Command::new("makedumpfile");
        cmd.args(flags).args(["-d", "31"]).arg(&vmcore);
        let status = if flags.contains(&"-F") {
            // Flattened output goes to stdout.
            cmd.stdout(std::fs::File::create(&out).unwrap()).status()
        } else {
            cmd.arg(&out).status()
        }
        .expect("run makedumpfile");
        assert!(status.success(), "makedumpfile {flags:?} failed");
        let ours = run_ok(&["dmesg", out.to_str().unwrap()]);
        assert_same_lines(&ours, &reference, &format!("makedumpfile {flags:?} -d 31"));
    }
}

/// `crash`'s `log` output for a dump, without crash's own chatter.
fn crash_log(vmlinux: &std::path::Path, dump: &std::path::Path) -> Vec<u8> {
    let out = Command::new("crash")
        .arg("-s")
        .arg(vmlinux)
        .arg(dump)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"log\nquit\n")?;
            child.wait_with_output()
        })
        .expect("crash is installed (scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "crash failed on {}: {}",
        dump.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    strip_crash_preamble(&out.stdout)
}

/// crash prints session warnings (e.g. "WARNING: active task ... not found
/// in PID hash" on this kernel) and a blank line before the log itself.
fn strip_crash_preamble(out: &[u8]) -> Vec<u8> {
    let mut rest = out;
    while !rest.is_empty() && !rest.starts_with(b"[") {
        match rest.iter().position(|&b| b == b'\n') {
            Some(i) => rest = &rest[i + 1..],
            None => rest = &[],
        }
    }
    rest.to_vec()
}

#[test]
fn qemu_dumps_agree_with_each_other_and_with_crash() {
    let elf = lab("qemu-dump");
    let flat = elf.with_file_name("qemu.kdump-zlib");
    let from_elf = run_ok(&["dmesg", elf.to_str().unwrap()]);
    let from_flat = run_ok(&["dmesg", flat.to_str().unwrap()]);
    assert!(from_elf.len() > 10_000, "log is suspiciously short");
    assert_same_lines(&from_flat, &from_elf, "QEMU kdump-zlib vs ELF");
    assert!(String::from_utf8_lossy(&from_elf).contains("panicdump-lab-marker"));

    let info: serde_json::Value =
        serde_json::from_slice(&run_ok(&["info", "--json", elf.to_str().unwrap()])).unwrap();
    let release = info["kernel"]["release"].as_str().unwrap().to_string();
    let vmlinux = debug_vmlinux(&release);
    for dump in [&elf, &flat] {
        let theirs = crash_log(&vmlinux, dump);
        let ours = run_ok(&["dmesg", dump.to_str().unwrap()]);
        assert_same_lines(&ours, &theirs, &format!("crash log on {}", dump.display()));
    }
}
