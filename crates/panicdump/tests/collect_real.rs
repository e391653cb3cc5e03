//! `panicdump collect` on a temporary copy of the lab's real ramoops record
//! (left by a panic and a warm reset) and a real capture of the lab's kdump
//! vmcore: one record per crash, idempotent, crash-safe, corrupt records
//! kept raw and flagged.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const PANIC: &str = "Kernel panic - not syncing: sysrq triggered crash";

struct Setup {
    pstore: PathBuf,
    dumps: PathBuf,
    state: PathBuf,
    /// The original bytes of each pstore file.
    files: Vec<(String, Vec<u8>)>,
}

/// A temp pstore dir holding copies of the lab's records, and optionally a
/// capture of the lab vmcore in a dump dir. As in /sys/fs/pstore, the
/// records' mtime is the crash time (here: the vmcore's, plus 5 s).
fn setup(name: &str, with_capture: bool) -> Setup {
    let root = scratch(name);
    let pstore = root.join("pstore");
    let dumps = root.join("crash");
    let state = root.join("state");
    std::fs::create_dir_all(&pstore).unwrap();
    std::fs::create_dir_all(&dumps).unwrap();
    let mut crash_time = None;
    if with_capture {
        let vmcore = lab("kdump");
        let out = run_bounded(
            &[
                "capture",
                "--vmcore",
                vmcore.to_str().unwrap(),
                "--target",
                dumps.to_str().unwrap(),
                "--on-success",
                "none",
                "--on-failure",
                "none",
            ],
            600,
        );
        assert!(
            out.status.success(),
            "capture: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let d = std::fs::read_dir(&dumps).unwrap().flatten().next().unwrap();
        let st: serde_json::Value =
            serde_json::from_slice(&std::fs::read(d.path().join("status.json")).unwrap()).unwrap();
        crash_time = st["crash_time"].as_i64();
    }
    let src = lab_dir("pstore").join("pstore");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&src).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let data = std::fs::read(e.path()).unwrap();
        let dst = pstore.join(&name);
        std::fs::write(&dst, &data).unwrap();
        if let Some(t) = crash_time {
            let f = std::fs::File::options().write(true).open(&dst).unwrap();
            f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t as u64 + 5))
                .unwrap();
        }
        files.push((name, data));
    }
    files.sort();
    assert!(!files.is_empty(), "the lab left pstore records");
    Setup {
        pstore,
        dumps,
        state,
        files,
    }
}

fn collect(s: &Setup, extra: &[&str], env: Option<(&str, &str)>) -> Output {
    let mut c: Command = panicdump();
    c.args(["collect", "--json", "--pstore-dir"])
        .arg(&s.pstore)
        .arg("--dump-dir")
        .arg(&s.dumps)
        .arg("--state-dir")
        .arg(&s.state)
        .args(extra)
        .stdin(Stdio::null());
    if let Some((k, v)) = env {
        c.env(k, v);
    }
    c.output().expect("spawn panicdump collect")
}

fn collect_ok(s: &Setup, extra: &[&str]) -> serde_json::Value {
    let o = collect(s, extra, None);
    assert!(
        o.status.success(),
        "collect failed: {}\n{}",
        String::from_utf8_lossy(&o.stderr),
        String::from_utf8_lossy(&o.stdout)
    );
    serde_json::from_slice(&o.stdout).expect("collect --json")
}

/// Record directories (finished ones: with record.json).
fn records(state: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(state.join("crashes"))
        .map(|d| {
            d.flatten()
                .map(|e| e.path())
                .filter(|p| p.join("record.json").exists())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn meta(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("record.json")).unwrap()).unwrap()
}

fn pstore_names(s: &Setup) -> Vec<String> {
    std::fs::read_dir(&s.pstore)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Hash directories left in the pstore spool.
fn spool_dirs(s: &Setup) -> usize {
    std::fs::read_dir(s.state.join("spool/pstore"))
        .map(|d| d.flatten().filter(|e| e.path().is_dir()).count())
        .unwrap_or(0)
}

#[test]
fn pstore_and_capture_become_one_record() {
    let s = setup("collect_merge", true);
    let sum = collect_ok(&s, &[]);
    let recs = records(&s.state);
    assert_eq!(recs.len(), 1, "one crash, one record: {sum}");
    let m = meta(&recs[0]);
    let log = std::fs::read_to_string(recs[0].join("dmesg.txt")).unwrap();
    assert!(log.contains(PANIC));
    // The title is oops' title of the log.
    let title = String::from_utf8(run_ok(&[
        "title",
        recs[0].join("dmesg.txt").to_str().unwrap(),
    ]))
    .unwrap();
    assert!(title.contains("sysrq triggered crash"), "{title}");
    assert_eq!(m["title"].as_str().unwrap(), title.trim());
    assert_eq!(sum["records"][0]["title"].as_str().unwrap(), title.trim());
    // Both sources are in it: the capture's log and dump, the pstore file.
    let kinds: Vec<&str> = m["sources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["kind"].as_str().unwrap())
        .collect();
    assert!(
        kinds.contains(&"vmcore-dmesg") && kinds.contains(&"pstore") && kinds.contains(&"dump"),
        "{kinds:?}"
    );
    for (name, data) in &s.files {
        assert_eq!(
            &std::fs::read(recs[0].join("raw").join(name)).unwrap(),
            data
        );
    }
    let dump = recs[0].join(m["dump"]["file"].as_str().unwrap());
    let from_dump = run_ok(&["dmesg", dump.to_str().unwrap()]);
    assert_eq!(from_dump, log.as_bytes());
    // Originals erased only now that the record exists; then the spool
    // copies, whose bytes live on in the record's raw/, are cleaned.
    assert!(pstore_names(&s).is_empty(), "pstore erased");
    assert_eq!(spool_dirs(&s), 0, "spool cleaned once pstore is erased");
    let cap = std::fs::read_dir(&s.dumps)
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    assert!(
        !cap.join("vmcore.kdump").exists(),
        "captured dump moved into the record"
    );
    assert!(cap.join("dmesg.txt").exists());

    // Second run: nothing new.
    let sum2 = collect_ok(&s, &[]);
    assert_eq!(sum2["records"].as_array().unwrap().len(), 0, "{sum2}");
    assert_eq!(records(&s.state), recs);

    // list sees it.
    let out = panicdump()
        .args(["list", "--state-dir"])
        .arg(&s.state)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains(recs[0].file_name().unwrap().to_str().unwrap()));
}

#[test]
fn pstore_only_record_with_keep_pstore() {
    let s = setup("collect_keep", false);
    let sum = collect_ok(&s, &["--keep-pstore"]);
    let recs = records(&s.state);
    assert_eq!(recs.len(), 1, "{sum}");
    let m = meta(&recs[0]);
    assert!(m["title"]
        .as_str()
        .unwrap()
        .contains("sysrq triggered crash"));
    assert!(std::fs::read_to_string(recs[0].join("dmesg.txt"))
        .unwrap()
        .contains(PANIC));
    assert_eq!(sum["records"][0]["flags"].as_array().unwrap().len(), 0);
    assert_eq!(
        pstore_names(&s).len(),
        s.files.len(),
        "--keep-pstore keeps them"
    );
    assert!(
        spool_dirs(&s) > 0,
        "spool kept while the entries are in pstore"
    );
    // Rerun with the entries still there: no new record, then erase them.
    let sum2 = collect_ok(&s, &[]);
    assert_eq!(sum2["records"].as_array().unwrap().len(), 0, "{sum2}");
    assert_eq!(records(&s.state).len(), 1);
    assert!(pstore_names(&s).is_empty());
    assert_eq!(spool_dirs(&s), 0);
}

#[test]
fn bit_flipped_record_is_kept_raw_and_flagged() {
    let s = setup("collect_bitflip", false);
    let (name, orig) = &s.files[0];
    let mut bad = orig.clone();
    bad[0] ^= 0x01; // "Panic#1" header broken
    let n = bad.len();
    for i in [n / 3, n / 2, n - 40] {
        bad[i] ^= 0x80; // invalid UTF-8 in the body
    }
    std::fs::write(s.pstore.join(name), &bad).unwrap();
    let sum = collect_ok(&s, &[]);
    let recs = records(&s.state);
    assert_eq!(recs.len(), 1, "a corrupt record is not dropped: {sum}");
    assert_eq!(
        std::fs::read(recs[0].join("raw").join(name)).unwrap(),
        bad,
        "kept raw, byte for byte"
    );
    let flags = sum["records"][0]["flags"].as_array().unwrap();
    assert!(!flags.is_empty(), "{sum}");
    let m = meta(&recs[0]);
    assert!(
        m["sources"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["description"].as_str().unwrap().contains("flagged")),
        "{m}"
    );
    assert!(pstore_names(&s).is_empty(), "erased once recorded");
}

#[test]
fn killed_after_harvest_then_rerun() {
    let s = setup("collect_kill_harvest", true);
    let o = collect(&s, &[], Some(("PANICDUMP_COLLECT_EXIT_AFTER", "harvest")));
    assert!(!o.status.success());
    assert_eq!(records(&s.state).len(), 0);
    assert_eq!(pstore_names(&s).len(), s.files.len(), "nothing erased yet");
    collect_ok(&s, &[]);
    assert_eq!(records(&s.state).len(), 1);
    assert!(pstore_names(&s).is_empty());
    collect_ok(&s, &[]);
    assert_eq!(records(&s.state).len(), 1);
}

#[test]
fn killed_after_record_or_mark_then_rerun() {
    for stage in ["record", "mark"] {
        let s = setup(&format!("collect_kill_{stage}"), true);
        let o = collect(&s, &[], Some(("PANICDUMP_COLLECT_EXIT_AFTER", stage)));
        assert!(!o.status.success());
        assert_eq!(records(&s.state).len(), 1, "{stage}");
        // The record exists and the pstore entries are still there.
        assert_eq!(pstore_names(&s).len(), s.files.len(), "{stage}");
        let sum = collect_ok(&s, &[]);
        let recs = records(&s.state);
        assert_eq!(recs.len(), 1, "{stage}: no duplicate: {sum}");
        assert!(pstore_names(&s).is_empty(), "{stage}");
        let m = meta(&recs[0]);
        assert!(m["dump"]["file"].is_string(), "{stage}: dump kept");
        let cap = std::fs::read_dir(&s.dumps)
            .unwrap()
            .flatten()
            .next()
            .unwrap()
            .path();
        assert!(
            !cap.join("vmcore.kdump").exists(),
            "{stage}: original dump dropped"
        );
        collect_ok(&s, &[]);
        assert_eq!(records(&s.state).len(), 1, "{stage}");
    }
}

/// Two boots' `dmesg-ramoops-0` in the spool (the first run was killed
/// after its copy; the next crash reused the name): two records, each with
/// its own file.
#[test]
fn same_name_from_two_boots_stays_apart() {
    let s = setup("collect_two_boots", false);
    let (name, a) = &s.files[0];
    let path = s.pstore.join(name);
    let set_time = |t: u64| {
        let f = std::fs::File::options().write(true).open(&path).unwrap();
        f.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(t))
            .unwrap();
    };
    set_time(1_790_000_000);
    let o = collect(&s, &[], Some(("PANICDUMP_COLLECT_EXIT_AFTER", "harvest")));
    assert!(!o.status.success());
    let b = String::from_utf8_lossy(a)
        .replace("sysrq triggered crash", "Fatal exception in interrupt")
        .into_bytes();
    assert_ne!(&b, a);
    std::fs::write(&path, &b).unwrap();
    set_time(1_790_003_600);
    let sum = collect_ok(&s, &[]);
    let recs = records(&s.state);
    assert_eq!(recs.len(), 2, "{sum}");
    let mut raws: Vec<Vec<u8>> = recs
        .iter()
        .map(|r| {
            let files: Vec<_> = std::fs::read_dir(r.join("raw"))
                .unwrap()
                .flatten()
                .collect();
            assert_eq!(files.len(), 1, "{}: one raw file", r.display());
            std::fs::read(files[0].path()).unwrap()
        })
        .collect();
    raws.sort();
    let mut want = vec![a.clone(), b];
    want.sort();
    assert_eq!(raws, want);
    collect_ok(&s, &[]);
    assert_eq!(records(&s.state).len(), 2);
}

/// A capture that saved no log (it failed reading it) and one killed
/// before its status: both recorded, nothing dropped, once.
#[test]
fn failed_and_unfinished_captures_are_recorded() {
    let root = scratch("collect_failed_captures");
    let s = Setup {
        pstore: root.join("pstore"),
        dumps: root.join("crash"),
        state: root.join("state"),
        files: Vec::new(),
    };
    std::fs::create_dir_all(&s.pstore).unwrap();
    let failed = s.dumps.join("20261121-100000");
    std::fs::create_dir_all(&failed).unwrap();
    std::fs::write(
        failed.join("status.json"),
        br#"{"schema":1,"id":"20261121-100000","ok":false,"vmcore":"/proc/vmcore","started":1795255200,"finished":1795255201,"crash_time":null,"release":null,"level":31,"compression":"zstd","dmesg_bytes":null,"dump_bytes":null,"dump_bytes_in":null,"dump_secs":null,"errors":["dmesg: cannot read the kernel log"]}"#,
    )
    .unwrap();
    let unfinished = s.dumps.join("20261121-110000");
    std::fs::create_dir_all(&unfinished).unwrap();
    std::fs::write(
        unfinished.join("dmesg.txt"),
        format!("[    1.000000] {PANIC}\n"),
    )
    .unwrap();
    let sum = collect_ok(&s, &[]);
    let recs = records(&s.state);
    assert_eq!(recs.len(), 2, "{sum}");
    let logs: Vec<String> = recs
        .iter()
        .map(|r| std::fs::read_to_string(r.join("dmesg.txt")).unwrap())
        .collect();
    assert!(logs.iter().any(|l| l.is_empty()));
    assert!(logs.iter().any(|l| l.contains(PANIC)));
    collect_ok(&s, &[]);
    assert_eq!(records(&s.state).len(), 2);
}

/// A second collect waits for the one holding `<state>/collect.lock`
/// instead of recording the same entries concurrently.
#[test]
fn concurrent_collect_waits_for_the_lock() {
    use std::os::fd::AsRawFd;
    let s = setup("collect_lock", false);
    std::fs::create_dir_all(&s.state).unwrap();
    let lock = std::fs::File::create(s.state.join("collect.lock")).unwrap();
    // SAFETY: flock on a descriptor this test owns.
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0);
    let mut child = panicdump()
        .args(["collect", "--json", "--pstore-dir"])
        .arg(&s.pstore)
        .arg("--dump-dir")
        .arg(&s.dumps)
        .arg("--state-dir")
        .arg(&s.state)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(2));
    assert!(
        child.try_wait().unwrap().is_none(),
        "collect ran while another held the lock"
    );
    assert!(
        records(&s.state).is_empty(),
        "nothing recorded while waiting"
    );
    assert_eq!(pstore_names(&s).len(), s.files.len());
    drop(lock);
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("waiting"));
    assert_eq!(records(&s.state).len(), 1);
}

/// Collect announces each new record once on journald's native socket (a
/// real datagram socket bound by the test stands in for journald), and
/// says nothing on a rerun that records nothing new.
#[test]
fn new_records_are_announced_in_the_journal() {
    use std::os::unix::net::UnixDatagram;
    let s = setup("collect_journal", false);
    let root = s.state.parent().unwrap().to_path_buf();
    let sock_path = root.join("journal.socket");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_nonblocking(true).unwrap();
    let run_dir = root.join("run"); // no logind state: no desktop users
    std::fs::create_dir_all(&run_dir).unwrap();
    let run = |s: &Setup| {
        let o = panicdump()
            .args(["collect", "--json", "--pstore-dir"])
            .arg(&s.pstore)
            .arg("--dump-dir")
            .arg(&s.dumps)
            .arg("--state-dir")
            .arg(&s.state)
            .env("PANICDUMP_JOURNAL_SOCKET", &sock_path)
            .env("PANICDUMP_RUN_DIR", &run_dir)
            .env("PANICDUMP_CONFIG", root.join("no-config.toml"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice::<serde_json::Value>(&o.stdout).unwrap()
    };
    let drain = || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 1 << 16];
        while let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
        got
    };
    let sum = run(&s);
    let id = sum["records"][0]["id"].as_str().unwrap().to_string();
    let entries = drain();
    assert_eq!(entries.len(), 1, "one entry per new record: {entries:?}");
    let e = &entries[0];
    assert!(
        e.contains("MESSAGE_ID=ba3cdb4bedca46ed84b3c1157985e155\n"),
        "{e}"
    );
    assert!(e.contains(&format!("PANICDUMP_RECORD={id}\n")), "{e}");
    assert!(e.contains("sysrq triggered crash"), "{e}");
    assert_eq!(sum["notified"].as_u64(), Some(1), "{sum}");
    // Nothing new, nothing announced.
    run(&s);
    assert!(drain().is_empty());
}
