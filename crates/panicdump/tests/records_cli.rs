//! `panicdump list`, `show`, `report`, `prune` through the real binary,
//! against a temporary state directory filled by crashdb's record writer
//! (what `collect` will use) with the lab's real pstore record and a small
//! log seeded with private data.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::*;

fn pd(state: &Path, args: &[&str]) -> Output {
    panicdump()
        .args(args)
        .env("PANICDUMP_STATE_DIR", state)
        .stdin(Stdio::null())
        .output()
        .expect("spawn panicdump")
}

fn ok(state: &Path, args: &[&str]) -> String {
    let o = pd(state, args);
    assert!(
        o.status.success(),
        "panicdump {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

const SECRETS: &[&str] = &[
    "52:54:00:ab:cd:ef",
    "192.168.17.42",
    "2001:db8:85a3::8a2e:370:7334",
    "PF1ZX9QK",
    "zeta-workstation",
    "mallory",
];

fn seeded_log() -> Vec<u8> {
    "Nov 21 16:42:10 zeta-workstation kernel: virtio_net virtio0 eth0: link up, addr:52:54:00:ab:cd:ef\n\
     Nov 21 16:42:10 zeta-workstation kernel: IPv4: martian source 192.168.17.42 from 2001:db8:85a3::8a2e:370:7334\n\
     Nov 21 16:42:10 zeta-workstation kernel: dmi: Serial Number: PF1ZX9QK\n\
     Nov 21 16:42:10 zeta-workstation kernel: audit: exe=\"/home/mallory/bin/x\"\n\
     Nov 21 16:42:11 zeta-workstation kernel: BUG: kernel NULL pointer dereference, address: 0000000000000008\n\
     Nov 21 16:42:11 zeta-workstation kernel: Oops: 0000 [#1] SMP PTI\n\
     Nov 21 16:42:11 zeta-workstation kernel: CPU: 1 PID: 42 Comm: insmod Tainted: G           O      6.1.0 #1\n\
     Nov 21 16:42:11 zeta-workstation kernel: RIP: 0010:demo_init+0x12/0x40 [demo]\n\
     Nov 21 16:42:11 zeta-workstation kernel: Call Trace:\n\
     Nov 21 16:42:11 zeta-workstation kernel:  <TASK>\n\
     Nov 21 16:42:11 zeta-workstation kernel:  demo_init+0x12/0x40 [demo]\n\
     Nov 21 16:42:11 zeta-workstation kernel:  do_one_initcall+0x44/0x200\n\
     Nov 21 16:42:11 zeta-workstation kernel:  do_init_module+0x4c/0x1f0\n\
     Nov 21 16:42:11 zeta-workstation kernel:  </TASK>\n"
        .as_bytes()
        .to_vec()
}

/// A state dir with the lab's real panic (older) and the seeded Oops.
fn populate(name: &str) -> (PathBuf, String, String) {
    let state = scratch(name);
    let store = crashdb::Store::new(&state);
    let pstore = lab_dir("pstore").join("pstore").join("dmesg-ramoops-0");
    let real = std::fs::read(&pstore).expect("lab pstore record");
    let rec = crashdb::NewRecord::new(
        real.clone(),
        crashdb::SourceKind::Pstore,
        "ramoops dmesg-ramoops-0",
    )
    .raw_file(
        "dmesg-ramoops-0",
        real,
        crashdb::SourceKind::Pstore,
        pstore.display().to_string(),
    )
    .crash_time(1_795_278_131);
    let lab_id = store.write(&rec, 1_795_278_200).unwrap().id;
    let sys = crashdb::SystemInfo {
        kernel_release: Some("6.1.0".into()),
        hostname: Some("zeta-workstation".into()),
        ..Default::default()
    };
    let rec = crashdb::NewRecord::new(
        seeded_log(),
        crashdb::SourceKind::File,
        "/home/mallory/oops.txt",
    )
    .crash_time(1_795_300_000)
    .system(sys);
    let seeded_id = store.write(&rec, 1_795_300_100).unwrap().id;
    (state, lab_id, seeded_id)
}

#[test]
fn list_and_show() {
    let empty = scratch("records_cli_empty");
    assert!(ok(&empty, &["list"]).contains("no crash records"));
    assert_eq!(ok(&empty, &["list", "--json"]).trim(), "[]");
    let o = pd(&empty, &["show"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no crash records"));

    let (state, lab_id, seeded_id) = populate("records_cli_list");
    let list = ok(&state, &["list"]);
    let lab_line = list
        .lines()
        .position(|l| l.starts_with(&lab_id))
        .expect("lab record listed");
    let seeded_line = list
        .lines()
        .position(|l| l.starts_with(&seeded_id))
        .expect("seeded listed");
    assert!(lab_line < seeded_line, "oldest first:\n{list}");
    assert!(
        list.contains("kernel panic: sysrq triggered crash"),
        "{list}"
    );
    assert!(list.contains("2026-11-21 16:22:11"), "{list}");

    let j: serde_json::Value = serde_json::from_str(&ok(&state, &["list", "--json"])).unwrap();
    assert_eq!(j.as_array().unwrap().len(), 2);
    assert_eq!(j[0]["id"], lab_id.as_str());
    assert_eq!(j[0]["kind"], "panic");

    // --state-dir wins over the environment.
    let o = ok(&empty, &["list", "--state-dir", state.to_str().unwrap()]);
    assert!(o.contains(&lab_id));

    let show = ok(&state, &["show", &lab_id]);
    assert!(show.contains(&format!("id:         {lab_id}")), "{show}");
    assert!(show.contains("sysrq_handle_crash"), "{show}");
    assert!(show.contains("raw/dmesg-ramoops-0"), "{show}");
    let latest = ok(&state, &["show"]);
    assert!(latest.contains(&seeded_id), "{latest}");
    // Prefix and hash-suffix lookups.
    let suffix = lab_id.rsplit('-').next().unwrap();
    assert!(ok(&state, &["show", suffix]).contains(&lab_id));
    let o = pd(&state, &["show", "2026"]);
    assert!(!o.status.success(), "ambiguous prefix must fail");
    assert!(String::from_utf8_lossy(&o.stderr).contains("several"));

    let j: serde_json::Value =
        serde_json::from_str(&ok(&state, &["show", &lab_id, "--json"])).unwrap();
    assert_eq!(j["record"]["id"], lab_id.as_str());
    assert_eq!(j["record"]["title"], "kernel panic: sysrq triggered crash");
    assert!(
        j["report"]["reports"][0]["frames"]
            .as_array()
            .unwrap()
            .len()
            > 3
    );
}

#[test]
fn report_is_redacted_and_previewable() {
    let (state, _lab_id, seeded_id) = populate("records_cli_report");
    let out = state.join("bundle.tar.gz");
    let text = ok(&state, &["report", &seeded_id, "-o", out.to_str().unwrap()]);
    assert!(text.contains("redacted:"), "{text}");
    let gz = std::fs::read(&out).unwrap();
    let tar = crashdb::bundle::gunzip(&gz).unwrap();
    for s in SECRETS {
        assert!(
            !String::from_utf8_lossy(&tar).contains(s),
            "{s} leaked into the bundle"
        );
    }
    assert!(!state.join("bundle.tar.gz.incomplete").exists());
    // Any tar reads it.
    let listing = Command::new("tar")
        .arg("-tzf")
        .arg(&out)
        .output()
        .expect("tar");
    assert!(listing.status.success());
    let names = String::from_utf8_lossy(&listing.stdout);
    for f in [
        "manifest.json",
        "log-tail.txt",
        "report.json",
        "system.json",
    ] {
        assert!(
            names.contains(&format!("panicdump-{seeded_id}/{f}")),
            "{names}"
        );
    }
    let members = crashdb::read_tar_gz(&gz).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&members[0].1).unwrap();
    assert_eq!(manifest["record"], seeded_id.as_str());
    assert_eq!(
        manifest["title"],
        "BUG: unable to handle kernel NULL pointer dereference in demo_init"
    );
    assert_eq!(manifest["redaction"]["enabled"], true);

    // --preview prints exactly those text files and writes nothing.
    let preview = ok(&state, &["report", &seeded_id, "--preview"]);
    for (name, data) in &members {
        assert!(
            preview.contains(&format!("==> {name} (")),
            "{name} missing in preview"
        );
        assert!(
            preview.contains(std::str::from_utf8(data).unwrap()),
            "{name} differs"
        );
    }

    // --no-redact keeps everything.
    let raw = state.join("raw.tar.gz");
    let o = pd(
        &state,
        &[
            "report",
            &seeded_id,
            "--no-redact",
            "-o",
            raw.to_str().unwrap(),
        ],
    );
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("redaction is off"));
    let tar = crashdb::bundle::gunzip(&std::fs::read(&raw).unwrap()).unwrap();
    for s in SECRETS {
        assert!(
            String::from_utf8_lossy(&tar).contains(s),
            "--no-redact lost {s}"
        );
    }

    // JSON manifest and the size cap.
    let small = state.join("small.tar.gz");
    let j: serde_json::Value = serde_json::from_str(&ok(
        &state,
        &[
            "report",
            "latest",
            "-o",
            small.to_str().unwrap(),
            "--max-size",
            "12K",
            "--json",
        ],
    ))
    .unwrap();
    assert!(j["total_bytes"].as_u64().unwrap() <= 12 * 1024);
    let o = pd(
        &state,
        &["report", "-o", small.to_str().unwrap(), "--max-size", "1"],
    );
    assert!(!o.status.success(), "an impossible cap is an error");
    let o = pd(&state, &["report"]);
    assert!(!o.status.success(), "-o or --preview is required");
}

#[test]
fn prune_keeps_the_newest() {
    let (state, lab_id, seeded_id) = populate("records_cli_prune");
    let dry = ok(&state, &["prune", "--keep", "1", "--dry-run"]);
    assert!(dry.contains(&format!("would delete {lab_id}")), "{dry}");
    assert_eq!(ok(&state, &["list", "--json"]).matches("\"id\"").count(), 2);
    let done = ok(&state, &["prune", "--keep", "0"]);
    assert!(done.contains(&format!("deleted {lab_id}")), "{done}");
    let list = ok(&state, &["list"]);
    assert!(
        list.contains(&seeded_id) && !list.contains(&lab_id),
        "{list}"
    );
}

/// Without limit flags, `prune` applies the config's `[retention]`, as
/// `collect` does; a config it cannot read deletes nothing.
#[test]
fn prune_without_flags_follows_the_configured_retention() {
    let (state, lab_id, seeded_id) = populate("records_cli_prune_config");
    let config = state.join("config.toml");
    let prune = |args: &[&str]| {
        panicdump()
            .args(args)
            .env("PANICDUMP_STATE_DIR", &state)
            .env("PANICDUMP_CONFIG", &config)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    // No age limit: the records' crash times are fixed, the clock is not.
    std::fs::write(&config, "[retention]\nmax_age_days = 0\n").unwrap();
    let o = prune(&["prune"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to delete"));

    std::fs::write(&config, "[retention]\nmax_count = 1\nmax_age_days = 0\n").unwrap();
    let o = prune(&["prune"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("deleted {lab_id}")), "{out}");
    let list = ok(&state, &["list"]);
    assert!(
        list.contains(&seeded_id) && !list.contains(&lab_id),
        "{list}"
    );

    std::fs::write(&config, "[retention\nmax_count = 0\n").unwrap();
    let o = prune(&["prune"]);
    assert!(!o.status.success(), "a broken config must not prune");
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("[retention]"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(ok(&state, &["list"]).contains(&seeded_id));
}
