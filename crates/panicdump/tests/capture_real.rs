//! `panicdump capture` run as a normal command on the lab's real kdump
//! vmcore: the log it saves is what `panicdump dmesg` reads from the vmcore,
//! the dump it writes opens and gives the same log, the status says ok.

mod common;

use common::*;
use std::path::{Path, PathBuf};

/// Capture the lab vmcore into `target`; returns the capture directory.
fn capture(target: &Path) -> PathBuf {
    let vmcore = lab("kdump");
    let out = run_bounded(
        &[
            "capture",
            "--vmcore",
            vmcore.to_str().unwrap(),
            "--target",
            target.to_str().unwrap(),
            "--on-success",
            "none",
            "--on-failure",
            "none",
        ],
        600,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "capture failed: {err}");
    // Every step is logged, in order: log first, then dump, then status.
    let log_at = err.find("saved the kernel log").expect("log step logged");
    let dump_at = err.find("saved the dump").expect("dump step logged");
    let status_at = err.find("status.json").expect("status step logged");
    assert!(log_at < dump_at && dump_at < status_at, "{err}");
    let dirs: Vec<_> = std::fs::read_dir(target)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(dirs.len(), 1, "one capture directory: {dirs:?}");
    dirs[0].clone()
}

#[test]
fn capture_lab_vmcore_to_target_dir() {
    let root = scratch("capture_lab_vmcore");
    let dir = capture(&root.join("crash"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["dmesg.txt", "status.json", "vmcore.kdump"],
        "no temporaries left"
    );

    let vmcore = lab("kdump");
    let want = run_ok(&["dmesg", vmcore.to_str().unwrap()]);
    let got = std::fs::read(dir.join("dmesg.txt")).unwrap();
    assert_same_lines(&got, &want, "capture dmesg.txt vs panicdump dmesg vmcore");
    assert!(
        String::from_utf8_lossy(&got).contains("Kernel panic - not syncing: sysrq triggered crash")
    );

    let dump = dir.join("vmcore.kdump");
    let info = run_ok(&["info", dump.to_str().unwrap()]);
    assert!(!info.is_empty());
    let from_dump = run_ok(&["dmesg", dump.to_str().unwrap()]);
    assert_same_lines(&from_dump, &want, "panicdump dmesg of the captured dump");

    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("status.json")).unwrap()).unwrap();
    assert_eq!(st["ok"], true, "{st}");
    assert_eq!(st["errors"].as_array().unwrap().len(), 0);
    assert_eq!(st["level"], 31);
    assert_eq!(st["compression"], "zstd");
    // Lab artifacts live under target/lab/<release>/<recipe>/.
    let release = vmcore
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .file_name()
        .unwrap();
    assert_eq!(st["release"].as_str(), release.to_str());
    assert_eq!(
        st["dump_bytes"].as_u64().unwrap(),
        std::fs::metadata(&dump).unwrap().len()
    );
    assert_eq!(st["dmesg_bytes"].as_u64().unwrap(), got.len() as u64);
    assert!(st["crash_time"].as_i64().is_some());
    assert!(st["started"].as_i64().unwrap() <= st["finished"].as_i64().unwrap());
    assert_eq!(
        dir.file_name().unwrap().to_str().unwrap(),
        st["id"].as_str().unwrap()
    );
}

#[test]
fn capture_of_garbage_fails_without_output() {
    let root = scratch("capture_garbage");
    let bad = root.join("vmcore");
    std::fs::write(&bad, vec![0x5au8; 8192]).unwrap();
    let target = root.join("crash");
    let out = run(&[
        "capture",
        "--vmcore",
        bad.to_str().unwrap(),
        "--target",
        target.to_str().unwrap(),
        "--on-success",
        "none",
        "--on-failure",
        "none",
    ]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("capture FAILED"));
    let n = std::fs::read_dir(&target).map(|d| d.count()).unwrap_or(0);
    assert_eq!(n, 0, "nothing to collect from an unreadable vmcore");
}

/// The crash kernel's `/init` mode: settings from a kernel command line.
#[test]
fn capture_settings_from_a_kernel_command_line() {
    let root = scratch("capture_cmdline");
    let target = root.join("crash");
    let vmcore = lab("kdump");
    let cmdline = root.join("cmdline");
    std::fs::write(
        &cmdline,
        format!(
            "root=/dev/vda1 ro irqpoll nr_cpus=1 panicdump.capture=1 panicdump.target={} \
             panicdump.vmcore={} panicdump.compress=lzo panicdump.on_success=none \
             panicdump.on_failure=none\n",
            target.display(),
            vmcore.display()
        ),
    )
    .unwrap();
    let out = run_bounded(
        &["capture", "--from-cmdline", cmdline.to_str().unwrap()],
        600,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::fs::read_dir(&target)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("status.json")).unwrap()).unwrap();
    assert_eq!(st["ok"], true, "{st}");
    assert_eq!(st["compression"], "lzo");
    let want = run_ok(&["dmesg", vmcore.to_str().unwrap()]);
    let from_dump = run_ok(&["dmesg", dir.join("vmcore.kdump").to_str().unwrap()]);
    assert_same_lines(&from_dump, &want, "dmesg of the lzo dump");
}

/// As PID 1 (in a new PID and mount namespace, when this host allows it):
/// the init path runs (mounts through mount(2)) and the capture is whole.
#[test]
fn capture_as_pid_1() {
    let root = scratch("capture_pid1");
    let target = root.join("crash");
    let vmcore = lab("kdump");
    let out = std::process::Command::new("unshare")
        .args(["--pid", "--fork", "--mount", "--propagation", "private"])
        .arg(env!("CARGO_BIN_EXE_panicdump"))
        .args(["capture", "--vmcore"])
        .arg(&vmcore)
        .arg("--target")
        .arg(&target)
        .args(["--on-success", "none", "--on-failure", "none"])
        .stdin(std::process::Stdio::null())
        .output();
    let out = match out {
        Ok(o) if String::from_utf8_lossy(&o.stderr).contains("running as init") => o,
        Ok(o) => {
            eprintln!(
                "skipped: unshare refused here: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return;
        }
        Err(e) => {
            eprintln!("skipped: no unshare: {e}");
            return;
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = std::fs::read_dir(&target)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let st: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("status.json")).unwrap()).unwrap();
    assert_eq!(st["ok"], true, "{st}");
    let want = run_ok(&["dmesg", vmcore.to_str().unwrap()]);
    assert_same_lines(
        &std::fs::read(dir.join("dmesg.txt")).unwrap(),
        &want,
        "dmesg.txt written as PID 1",
    );
}
