//! The real binary: `panicdump server token add`, `panicdump serve`, an
//! upload, `export`, `prune`, `revoke`, and a clean stop on SIGTERM.

#![cfg(feature = "server")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};

/// A temporary directory removed at the end (no dev-dependency needed).
struct TempDir(std::path::PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("panicdump-serve-cli-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
    fn path(&self) -> &std::path::Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_panicdump"))
}

fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    s.write_all(body).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let status = std::str::from_utf8(&raw[9..12]).unwrap().parse().unwrap();
    (status, raw[end + 4..].to_vec())
}

fn admin(db: &str, blobs: &str, args: &[&str]) -> String {
    let out = bin()
        .args(["server", "--db", db, "--blobs", blobs])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn serve_and_administer_with_the_real_binary() {
    let dir = TempDir::new();
    let db = format!("sqlite://{}", dir.path().join("server/db.sqlite").display());
    let blobs = dir.path().join("server/blobs").display().to_string();

    let token = admin(&db, &blobs, &["token", "add", "fleet-1"])
        .trim()
        .to_string();
    assert!(token.starts_with("pdt_"), "{token}");
    assert!(admin(&db, &blobs, &["token", "list"]).contains("fleet-1"));
    // Adding the same name twice fails with a clear error.
    let dup = bin()
        .args(["server", "--db", &db, "token", "add", "fleet-1"])
        .output()
        .unwrap();
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already exists"));

    let mut child = bin()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            &db,
            "--blobs",
            &blobs,
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr: SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|s| s.split('/').next())
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));

    // A real bundle of a real crash log.
    let log = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../oops/tests/corpus/lab/sysrq-c-debian-6.1.log"
    ))
    .unwrap();
    let store = crashdb::Store::new(dir.path().join("client"));
    let w = store
        .write(
            &crashdb::NewRecord::new(log, crashdb::SourceKind::Pstore, "test"),
            1_700_000_000,
        )
        .unwrap();
    let rec = store.resolve(&w.id).unwrap();
    let bundle_path = dir.path().join("b.tar.gz");
    crashdb::Bundle::build(&rec, &crashdb::BundleOptions::default())
        .unwrap()
        .write(&bundle_path)
        .unwrap();
    let bundle = std::fs::read(&bundle_path).unwrap();
    let auth = format!("Bearer {token}");
    let machine = "ab".repeat(32);
    let headers = [
        ("Authorization", auth.as_str()),
        ("Content-Type", "application/gzip"),
        ("X-Panicdump-Machine", machine.as_str()),
    ];
    let (status, body) = http(addr, "POST", "/api/v1/reports", &headers, &bundle);
    assert_eq!(status, 201, "{}", String::from_utf8_lossy(&body));
    let (status, body) = http(addr, "GET", "/api/v1/buckets", &[], b"");
    assert_eq!(status, 200);
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        v["buckets"][0]["title"],
        "kernel panic: sysrq triggered crash"
    );

    // SIGTERM: a clean stop.
    // SAFETY: kill(2) on our own child's pid.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGTERM);
    }
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");

    let export = admin(&db, &blobs, &["export", "--format", "json"]);
    let lines: Vec<serde_json::Value> = export
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["type"], "bucket");
    assert_eq!(lines[1]["type"], "report");
    assert_eq!(lines[1]["bundle_stored"], true);

    std::thread::sleep(std::time::Duration::from_millis(1100));
    let pruned = bin()
        .args([
            "server",
            "--db",
            &db,
            "--blobs",
            &blobs,
            "prune",
            "--keep-days",
            "0",
        ])
        .output()
        .unwrap();
    assert!(pruned.status.success());
    assert!(
        String::from_utf8_lossy(&pruned.stderr).contains("1 report"),
        "{}",
        String::from_utf8_lossy(&pruned.stderr)
    );
    let export = admin(&db, &blobs, &["export"]);
    assert!(export.contains("\"bundle_stored\":false"));
    assert_eq!(std::fs::read_dir(&blobs).unwrap().count(), 0);

    admin(&db, &blobs, &["token", "revoke", "fleet-1"]);
    assert!(admin(&db, &blobs, &["token", "list", "--json"]).contains("\"revoked_at\": 1"));
}
