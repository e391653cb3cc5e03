//! `panicdump collect` applies the config's `[retention]` limits to real
//! record trees: the oldest records go first, never the one this run just
//! wrote (even when its crash is the oldest), never a directory that is
//! not a complete record, and nothing when the config cannot be read.

mod common;

use common::*;
use crashdb::{NewRecord, SourceKind, Store};
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

const DAY: i64 = 86_400;

struct Case {
    pstore: PathBuf,
    state: PathBuf,
    config: PathBuf,
}

/// A pstore dir with a copy of the lab's real ramoops record, whose mtime
/// (the crash time collect records) is `crash_time`; a state dir holding
/// `old` records written by the crashdb store (crash times in seconds),
/// a damaged record directory and a record left half-built.
fn case(name: &str, crash_time: i64, old: &[i64]) -> (Case, Vec<String>) {
    let root = scratch(name);
    let c = Case {
        pstore: root.join("pstore"),
        state: root.join("state"),
        config: root.join("config.toml"),
    };
    std::fs::create_dir_all(&c.pstore).unwrap();
    let src = lab_dir("pstore").join("pstore");
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let dst = c.pstore.join(e.file_name());
        std::fs::copy(e.path(), &dst).unwrap();
        let f = std::fs::File::options().write(true).open(&dst).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(crash_time as u64))
            .unwrap();
    }
    let store = Store::new(&c.state);
    let mut ids = Vec::new();
    for (i, &t) in old.iter().enumerate() {
        let dmesg = format!(
            "<0>[  {i}.000000] Kernel panic - not syncing: older crash {i}\n<4>[  {i}.000001] CPU: 0 PID: 1 Comm: init\n"
        );
        let rec = NewRecord::new(
            dmesg.into_bytes(),
            SourceKind::File,
            format!("file:older-{i}"),
        )
        .crash_time(t);
        ids.push(store.write(&rec, t + 60).unwrap().id);
    }
    // Not records: a directory without record.json (damaged, or someone
    // else's) and a record still being built.
    let crashes = c.state.join("crashes");
    std::fs::create_dir_all(crashes.join("19700101T000000Z-damaged")).unwrap();
    std::fs::write(crashes.join("19700101T000000Z-damaged/dmesg.txt"), "kept\n").unwrap();
    std::fs::create_dir_all(crashes.join(".tmp-19700101T000001Z-building")).unwrap();
    (c, ids)
}

fn collect(c: &Case) -> Output {
    panicdump()
        .args(["collect", "--json", "--pstore-dir"])
        .arg(&c.pstore)
        .arg("--dump-dir")
        .arg(c.state.join("no-dumps"))
        .arg("--state-dir")
        .arg(&c.state)
        .env("PANICDUMP_CONFIG", &c.config)
        .stdin(Stdio::null())
        .output()
        .expect("spawn panicdump collect")
}

fn names(state: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(state.join("crashes"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn ok_json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "collect failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    serde_json::from_slice(&o.stdout).expect("collect --json")
}

fn pruned(v: &serde_json::Value) -> Vec<(String, String)> {
    v["pruned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap().to_string(),
                p["reason"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn count_limit_deletes_the_oldest_and_keeps_the_new_record() {
    let t = now();
    let (c, old) = case(
        "retention_count",
        t - 60,
        &[t - 4 * DAY, t - 3 * DAY, t - 2 * DAY],
    );
    std::fs::write(&c.config, "[retention]\nmax_count = 2\n").unwrap();
    let v = ok_json(&collect(&c));
    let new_id = v["records"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(v["records"].as_array().unwrap().len(), 1);
    // New + 3 old = 4, limit 2: the two oldest go, oldest first.
    assert_eq!(
        pruned(&v),
        [
            (old[0].clone(), "count".to_string()),
            (old[1].clone(), "count".to_string())
        ]
    );
    let left = names(&c.state);
    assert!(left.contains(&new_id) && left.contains(&old[2]), "{left:?}");
    assert!(
        !left.contains(&old[0]) && !left.contains(&old[1]),
        "{left:?}"
    );
    assert!(left.iter().any(|n| n.ends_with("-damaged")), "{left:?}");
    assert!(left.iter().any(|n| n.starts_with(".tmp-")), "{left:?}");
    // No `.del-` leftovers: deletions finished.
    assert!(!left.iter().any(|n| n.starts_with(".del-")), "{left:?}");
    // A second run has nothing new and nothing more to delete.
    let v = ok_json(&collect(&c));
    assert!(pruned(&v).is_empty());
}

#[test]
fn the_record_just_written_stays_even_when_its_crash_is_oldest() {
    let t = now();
    // The crash collected now happened 200 days ago (a machine that was
    // off); the limits would delete it first, but it was just written.
    let (c, old) = case(
        "retention_age",
        t - 200 * DAY,
        &[t - 120 * DAY, t - 100 * DAY, t - DAY],
    );
    std::fs::write(
        &c.config,
        "[retention]\nmax_count = 2\nmax_age_days = 90\nmax_size = 0\n",
    )
    .unwrap();
    let v = ok_json(&collect(&c));
    let new_id = v["records"][0]["id"].as_str().unwrap().to_string();
    let p = pruned(&v);
    // The new one counts, so with 2 allowed only old[2] (1 day) stays;
    // old[0], old[1] go (by count, which is checked before age).
    assert_eq!(p.len(), 2, "{p:?}");
    assert!(
        p.iter().all(|(id, _)| id != &new_id && id != &old[2]),
        "{p:?}"
    );
    let left = names(&c.state);
    assert!(left.contains(&new_id) && left.contains(&old[2]), "{left:?}");
}

#[test]
fn size_limit_and_unlimited() {
    let t = now();
    let (c, old) = case("retention_size", t - 60, &[t - 3 * DAY, t - 2 * DAY]);
    // 0 everywhere: no limit, nothing deleted.
    std::fs::write(
        &c.config,
        "[retention]\nmax_count = 0\nmax_age_days = 0\nmax_size = 0\n",
    )
    .unwrap();
    let v = ok_json(&collect(&c));
    assert!(pruned(&v).is_empty());
    assert_eq!(names(&c.state).len(), 2 + 1 + 2);
    // One byte allowed: every older record goes (by size), the newest stays.
    std::fs::write(&c.config, "[retention]\nmax_size = 1\n").unwrap();
    let v = ok_json(&collect(&c));
    let p = pruned(&v);
    assert_eq!(
        p,
        [
            (old[0].clone(), "bytes".to_string()),
            (old[1].clone(), "bytes".to_string())
        ]
    );
}

#[test]
fn unreadable_config_deletes_nothing() {
    let t = now();
    let (c, old) = case("retention_badcfg", t - 60, &[t - 400 * DAY]);
    std::fs::write(&c.config, "[retention\nmax_count = 1\n").unwrap();
    let o = collect(&c);
    // The record is written (it is safe), but the run reports the skip.
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"].as_array().unwrap().len(), 1);
    assert!(pruned(&v).is_empty());
    let errors = v["errors"].to_string();
    assert!(
        errors.contains("retention skipped, nothing deleted"),
        "{errors}"
    );
    assert!(names(&c.state).contains(&old[0]));
}
