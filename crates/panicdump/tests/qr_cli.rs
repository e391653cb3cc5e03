//! `panicdump qr` through the real binary: URLs built by the test encoder
//! written from the kernel's drm_panic scheme (both digit schemes) around a
//! real panic log of the lab kernel; saved records go through `list` and
//! `report` like any other.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn pd(state: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_panicdump"))
        .args(args)
        .env("PANICDUMP_STATE_DIR", state)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn panicdump");
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout_of(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// An empty scratch state directory, unique per test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("qr_cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn sysrq_log() -> Vec<u8> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../oops/tests/corpus/lab/sysrq-c-debian-6.1.log");
    std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

fn records(state: &Path) -> Vec<serde_json::Value> {
    let o = pd(state, &["list", "--json"], None);
    let v: serde_json::Value = serde_json::from_str(&stdout_of(&o, "list")).unwrap();
    v.as_array().cloned().unwrap_or_default()
}

#[test]
fn a_scanned_url_is_decoded_analysed_and_saved_once() {
    let state = scratch("saved");
    let log = sysrq_log();
    // Arch Linux's prefix ends in '#': the parameters follow "#?".
    let url = drmpanic::encode_url(
        "https://panic.archlinux.org/panic_report#",
        &log,
        "x86_64",
        "6.1.0-56-amd64",
    );
    let decoded = drmpanic::decode_url(&url).unwrap();

    let text = stdout_of(&pd(state.as_path(), &["qr", &url], None), "qr");
    assert!(text.contains("QR code:   x86_64 6.1.0-56-amd64"), "{text}");
    assert!(
        text.contains("title:     kernel panic: sysrq triggered crash"),
        "{text}"
    );
    assert!(
        text.contains("sysrq_handle_crash"),
        "no call trace:\n{text}"
    );
    assert!(records(state.as_path()).is_empty(), "saved without --save");

    // --log gives back exactly the log the code carried.
    let o = pd(state.as_path(), &["qr", "--log", &url], None);
    assert!(o.status.success());
    assert_eq!(o.stdout, decoded.log);

    // --save keeps a record, once; the URL may come on stdin.
    let o = pd(
        state.as_path(),
        &["qr", "--save", "--json", "-"],
        Some(&url),
    );
    let j: serde_json::Value = serde_json::from_str(&stdout_of(&o, "qr --save")).unwrap();
    assert_eq!(j["title"], "kernel panic: sysrq triggered crash");
    assert_eq!(j["release"], "6.1.0-56-amd64");
    assert_eq!(j["scheme"], "z");
    let id = j["record"].as_str().expect("a record id").to_string();
    let o = pd(state.as_path(), &["qr", "--save", &url], None);
    assert!(String::from_utf8_lossy(&o.stderr).contains("already kept as"));
    let listed = records(state.as_path());
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["id"], id.as_str());

    // The record is like any other: a shareable report bundle.
    let bundle = state.as_path().join("qr.tar.gz");
    let o = pd(
        state.as_path(),
        &["report", &id, "-o", bundle.to_str().unwrap()],
        None,
    );
    stdout_of(&o, "report");
    let members = crashdb::read_tar_gz(&std::fs::read(&bundle).unwrap()).unwrap();
    let member = |name: &str| {
        members
            .iter()
            .find(|(n, _)| n.ends_with(name))
            .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
            .unwrap_or_else(|| panic!("the bundle has no {name}"))
    };
    let manifest: serde_json::Value = serde_json::from_str(&member("manifest.json")).unwrap();
    assert_eq!(manifest["title"], "kernel panic: sysrq triggered crash");
    assert_eq!(manifest["release"], "6.1.0-56-amd64");
    assert!(
        manifest["sources"][0]
            .as_str()
            .unwrap()
            .starts_with("drm-panic:"),
        "{manifest}"
    );
    assert!(member("system.json").contains("x86_64"));
    assert!(member("log-tail.txt").contains("sysrq triggered crash"));
}

#[test]
fn the_legacy_scheme_decodes_too() {
    let state = scratch("legacy");
    // The 6.12 kernels' scheme cannot carry every length: when the data's
    // bit count leaves 4, 7 or 10 bits for the last group, the kernel
    // reserves too few digits for it and the code is unreadable (6.14's
    // `z=` scheme fixed that). Use the newest lines whose code is readable,
    // as a user of such a kernel would have got.
    let log = sysrq_log();
    let mut start = 0;
    let url = loop {
        let url = drmpanic::Encoder {
            scheme: drmpanic::Scheme::Legacy,
            max_qr_version: None,
        }
        .url(
            "https://crashes.example/drm-panic",
            &log[start..],
            "x86_64",
            "6.12.9",
        );
        if drmpanic::decode_url(&url).is_ok() {
            break url;
        }
        start += log[start..].iter().position(|&b| b == b'\n').unwrap() + 1;
    };
    let text = stdout_of(&pd(state.as_path(), &["qr", &url], None), "qr");
    assert!(text.contains("(zl=)"), "{text}");
    assert!(
        text.contains("kernel panic: sysrq triggered crash"),
        "{text}"
    );
}

#[test]
fn a_bad_url_is_refused_and_nothing_is_saved() {
    let state = scratch("bad");
    let good = drmpanic::encode_url("https://x/r", &sysrq_log(), "x86_64", "6.14.0");
    // Cut in the middle of the digits: the zlib stream is incomplete.
    let cut = &good[..good.len() - 40];
    for bad in [
        "https://example.com/no-params",
        "a=x86_64&v=6.14&z=12ab",
        cut,
        "",
    ] {
        let o = pd(state.as_path(), &["qr", "--save", bad], None);
        assert_eq!(o.status.code(), Some(1), "{bad:?} accepted");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(
            err.contains("panicdump: error:") && !err.contains("panicked"),
            "{bad:?}: {err}"
        );
    }
    assert!(records(state.as_path()).is_empty());
}
