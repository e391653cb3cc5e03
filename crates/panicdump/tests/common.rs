//! Helpers shared by the integration tests: run the real binary, get lab
//! artifacts (building them under QEMU when missing), run reference tools.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

/// The panicdump binary under test.
pub fn panicdump() -> Command {
    Command::new(env!("CARGO_BIN_EXE_panicdump"))
}

/// Run panicdump with arguments; returns the output whatever the status.
pub fn run(args: &[&str]) -> Output {
    panicdump()
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("spawn panicdump")
}

/// Run panicdump and require success; returns stdout.
pub fn run_ok(args: &[&str]) -> Vec<u8> {
    let out = run(args);
    assert!(
        out.status.success(),
        "panicdump {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The artifact directory of a lab recipe ("kdump", "qemu-dump", "pstore"),
/// built by `panicdump lab` under QEMU if it is not cached yet.
pub fn lab_dir(recipe: &str) -> PathBuf {
    static KDUMP: OnceLock<PathBuf> = OnceLock::new();
    static QEMU: OnceLock<PathBuf> = OnceLock::new();
    static PSTORE: OnceLock<PathBuf> = OnceLock::new();
    let cell = match recipe {
        "kdump" => &KDUMP,
        "qemu-dump" => &QEMU,
        "pstore" => &PSTORE,
        other => panic!("unknown recipe {other}"),
    };
    cell.get_or_init(|| {
        let out = panicdump()
            .args(["lab", recipe, "--json"])
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .expect("spawn panicdump lab");
        assert!(out.status.success(), "panicdump lab {recipe} failed");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("lab --json");
        PathBuf::from(v["dir"].as_str().expect("artifact dir"))
    })
    .clone()
}

/// The main file of a lab recipe: the kdump vmcore, or QEMU's ELF dump.
pub fn lab(recipe: &str) -> PathBuf {
    let dir = lab_dir(recipe);
    match recipe {
        "kdump" => dir.join("vmcore"),
        "qemu-dump" => dir.join("qemu.elf"),
        _ => dir,
    }
}

/// A scratch directory under the target dir, unique per test name.
pub fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `makedumpfile --dump-dmesg SRC` output, or panic with its stderr.
pub fn makedumpfile_dmesg(src: &Path, dir: &Path) -> Vec<u8> {
    let out_path = dir.join(format!(
        "{}.mdf-dmesg",
        src.file_name().unwrap().to_string_lossy()
    ));
    let _ = std::fs::remove_file(&out_path);
    let out = Command::new("makedumpfile")
        .arg("--dump-dmesg")
        .arg(src)
        .arg(&out_path)
        .output()
        .expect("makedumpfile is installed (scripts/install-deps.sh)");
    assert!(
        out.status.success(),
        "makedumpfile --dump-dmesg {} failed: {}",
        src.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::read(&out_path).unwrap()
}

/// Assert two logs are equal line for line, showing the first difference.
pub fn assert_same_lines(ours: &[u8], theirs: &[u8], what: &str) {
    if ours == theirs {
        return;
    }
    let a: Vec<&[u8]> = ours.split(|&b| b == b'\n').collect();
    let b: Vec<&[u8]> = theirs.split(|&b| b == b'\n').collect();
    for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
        if x != y {
            panic!(
                "{what}: line {} differs\n  panicdump: {}\n  reference: {}",
                i + 1,
                String::from_utf8_lossy(x),
                String::from_utf8_lossy(y)
            );
        }
    }
    panic!(
        "{what}: panicdump has {} lines, reference {} (common prefix equal)",
        a.len(),
        b.len()
    );
}

/// The debug vmlinux of a kernel release, for crash.
pub fn debug_vmlinux(release: &str) -> PathBuf {
    let cache = std::env::var("PANICDUMP_CACHE").unwrap_or_else(|_| "/var/cache/panicdump".into());
    let p = Path::new(&cache).join(format!("vmlinux-{release}"));
    assert!(
        p.exists(),
        "{} missing: scripts/install-deps.sh fetches it",
        p.display()
    );
    p
}

/// A makedumpfile output (`-d 31` plus `flags`) of the lab's kdump vmcore,
/// made once per test process. Flattened (`-F`) output is captured from
/// stdout.
pub fn makedumpfile_output(flags: &[&str], name: &str) -> PathBuf {
    // Tests of one process run on parallel threads and may ask for the same
    // output at once; makedumpfile refuses an existing output file, so two
    // threads sharing one temporary name made one of them fail. Serialise.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let vmcore = lab("kdump");
    // Keyed by the vmcore's size and time too: a lab rebuild makes a new
    // vmcore, and an output of the old one would compare against the
    // wrong source.
    let meta = std::fs::metadata(&vmcore).expect("lab vmcore");
    let stamp = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("makedumpfile-outputs")
        .join(format!("{}-{stamp}", meta.len()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = dir.join(name);
    if out.exists() {
        return out;
    }
    let tmp = dir.join(format!("{name}.tmp{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    let mut cmd = Command::new("makedumpfile");
    cmd.args(flags).args(["-d", "31"]).arg(&vmcore);
    let status = if flags.contains(&"-F") {
        cmd.stdout(std::fs::File::create(&tmp).unwrap()).status()
    } else {
        cmd.arg(&tmp).stdout(Stdio::null()).status()
    }
    .expect("makedumpfile is installed (scripts/install-deps.sh)");
    assert!(status.success(), "makedumpfile {flags:?} -d 31 failed");
    std::fs::rename(&tmp, &out).unwrap();
    out
}

/// Run panicdump with a deadline; a hang is a test failure. Returns the
/// output.
pub fn run_bounded(args: &[&str], secs: u64) -> Output {
    use std::time::{Duration, Instant};
    let mut child = panicdump()
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn panicdump");
    let deadline = Instant::now() + Duration::from_secs(secs);
    // Drain pipes in threads so a chatty child cannot block.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut so, &mut v).ok();
        v
    });
    let t_err = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut se, &mut v).ok();
        v
    });
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Output {
                status,
                stdout: t_out.join().unwrap(),
                stderr: t_err.join().unwrap(),
            };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("panicdump {args:?} did not finish within {secs}s (hang)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Assert a run ended cleanly: success, or exit 1 with a readable error;
/// never a Rust panic (exit 101) or a signal.
pub fn assert_clean_exit(out: &Output, what: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("panicked"),
        "{what}: panicdump panicked:\n{stderr}"
    );
    match out.status.code() {
        Some(0) => {}
        Some(1) => assert!(
            stderr.contains("panicdump: error:"),
            "{what}: exit 1 without an error message:\n{stderr}"
        ),
        // `dump`: written, but some source pages were unreadable.
        Some(2) => assert!(
            stderr.contains("could not be read"),
            "{what}: exit 2 without naming the unreadable pages:\n{stderr}"
        ),
        other => panic!("{what}: unexpected exit {other:?}\n{stderr}"),
    }
}
