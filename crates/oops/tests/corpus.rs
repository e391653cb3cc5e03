//! Title accuracy on the corpus of real crash logs (`tests/corpus/<kind>/`).
//!
//! Each `<name>.log` has a sidecar `<name>.expect` of `key: value` lines:
//! `title` (the expected syzbot-style title, or `none` for a log without a
//! crash), `kind`, `arch`, `origin` (where the log was found). The test
//! prints per-directory accuracy and fails below [`THRESHOLD`]; logs
//! without a crash must never get a title.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// Minimum share of logs whose title is exactly right. Raise it as the
/// analyzer improves; never lower it to make a change pass.
const THRESHOLD: f64 = 0.98;

struct Case {
    log: PathBuf,
    group: String,
    title: Option<String>,
    kind: Option<String>,
}

fn load() -> Vec<Case> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut out = Vec::new();
    let mut dirs: Vec<_> = fs::read_dir(&root)
        .expect("corpus dir")
        .flatten()
        .map(|e| e.path())
        .collect();
    dirs.sort();
    for dir in dirs.into_iter().filter(|d| d.is_dir()) {
        let group = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut logs: Vec<_> = fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "log"))
            .collect();
        logs.sort();
        for log in logs {
            let side = log.with_extension("expect");
            let text = fs::read_to_string(&side)
                .unwrap_or_else(|_| panic!("missing sidecar {}", side.display()));
            let mut title = None;
            let mut kind = None;
            let mut origin = false;
            for line in text.lines() {
                if let Some((k, v)) = line.split_once(':') {
                    let v = v.trim().to_string();
                    match k.trim() {
                        "title" => title = Some(v),
                        "kind" => kind = Some(v),
                        "origin" => origin = !v.is_empty(),
                        _ => {}
                    }
                }
            }
            assert!(origin, "{}: no origin", side.display());
            let title = title.unwrap_or_else(|| panic!("{}: no title", side.display()));
            let title = (title != "none").then_some(title);
            out.push(Case {
                log,
                group: group.clone(),
                title,
                kind,
            });
        }
    }
    out
}

#[test]
fn corpus_title_accuracy() {
    let cases = load();
    assert!(!cases.is_empty());
    let mut per: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    let mut ok_all = 0;
    let mut false_pos = Vec::new();
    let mut misses = Vec::new();
    let mut kind_errors = Vec::new();
    for c in &cases {
        let a = oops::analyze(&fs::read(&c.log).unwrap());
        let got = a.title().map(str::to_string);
        let e = per.entry(c.group.clone()).or_default();
        e.1 += 1;
        if got == c.title {
            e.0 += 1;
            ok_all += 1;
        } else if c.title.is_none() {
            false_pos.push(format!("{}: got {:?}", c.log.display(), got));
        } else {
            misses.push(format!(
                "{}:\n    want {:?}\n    got  {:?}",
                c.log.display(),
                c.title,
                got
            ));
        }
        if let (Some(k), Some(r)) = (&c.kind, a.primary()) {
            if r.kind.as_str() != k {
                kind_errors.push(format!("{}: kind want {k} got {}", c.log.display(), r.kind));
            }
        }
    }
    println!("{:<24} {:>5} {:>5} {:>7}", "group", "ok", "total", "acc");
    for (g, (ok, n)) in &per {
        println!(
            "{:<24} {:>5} {:>5} {:>6.1}%",
            g,
            ok,
            n,
            100.0 * *ok as f64 / *n as f64
        );
    }
    let acc = ok_all as f64 / cases.len() as f64;
    println!("overall: {ok_all}/{} = {:.1}%", cases.len(), 100.0 * acc);
    for m in &misses {
        println!("MISS {m}");
    }
    for k in &kind_errors {
        println!("KIND {k}");
    }
    assert!(
        false_pos.is_empty(),
        "titles on logs without a crash:\n{}",
        false_pos.join("\n")
    );
    assert!(
        acc >= THRESHOLD,
        "title accuracy {:.1}% below {:.1}%",
        100.0 * acc,
        100.0 * THRESHOLD
    );
}
