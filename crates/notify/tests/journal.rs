//! The journal entry as a datagram server receives it, and (when journald
//! runs here) as `journalctl` finds it.

use notify::journal::{decode, Entry, MESSAGE_ID};
use std::os::unix::net::UnixDatagram;
use std::process::Command;

fn entry(title: &str) -> Entry {
    Entry::new()
        .field("MESSAGE", format!("kernel crash collected: {title}"))
        .unwrap()
        .field("MESSAGE_ID", MESSAGE_ID)
        .unwrap()
        .field("PRIORITY", "3")
        .unwrap()
        .field("PANICDUMP_TITLE", title)
        .unwrap()
        .field("PANICDUMP_REPORT_PATH", "/var/lib/panicdump/crashes/r1")
        .unwrap()
}

#[test]
fn a_bound_datagram_socket_receives_every_field() {
    let dir = std::env::temp_dir().join(format!("notify-journal-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("socket");
    let _ = std::fs::remove_file(&path);
    let server = UnixDatagram::bind(&path).unwrap();
    let title = "BUG: kernel NULL pointer dereference in foo\nsecond line";
    entry(title).send_to(&path).unwrap();
    let mut buf = vec![0u8; 65536];
    let n = server.recv(&mut buf).unwrap();
    let fields = decode(&buf[..n]).expect("well-formed native protocol datagram");
    let get = |k: &str| {
        fields
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| String::from_utf8(v.clone()).unwrap())
    };
    assert_eq!(get("MESSAGE_ID").as_deref(), Some(MESSAGE_ID));
    assert_eq!(get("PRIORITY").as_deref(), Some("3"));
    assert_eq!(get("PANICDUMP_TITLE").as_deref(), Some(title));
    assert_eq!(
        get("PANICDUMP_REPORT_PATH").as_deref(),
        Some("/var/lib/panicdump/crashes/r1")
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_real_journald_stores_the_entry() {
    let socket = std::path::Path::new(notify::journal::SOCKET);
    if !socket.exists() {
        eprintln!("note: no systemd-journald on this machine ({socket:?} absent); real-journal check skipped");
        return;
    }
    let marker = format!(
        "journal-test-{}-{}",
        std::process::id(),
        std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos()
    );
    entry(&marker).send_to(socket).unwrap();
    // journald writes asynchronously; poll briefly.
    for _ in 0..50 {
        let out = Command::new("journalctl")
            .args([
                "-o",
                "cat",
                &format!("MESSAGE_ID={MESSAGE_ID}"),
                &format!("PANICDUMP_TITLE={marker}"),
            ])
            .output()
            .expect("journalctl");
        if String::from_utf8_lossy(&out.stdout).contains(&marker) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("journald did not store the entry with PANICDUMP_TITLE={marker}");
}
