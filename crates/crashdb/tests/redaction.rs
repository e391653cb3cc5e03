//! Acceptance: a corpus of small logs, each seeded with one kind of private
//! data, goes through record -> bundle -> .tar.gz; decompressing the archive
//! and scanning every byte (tar headers included) finds none of the secrets
//! unless redaction is turned off or (pointers) not asked for.

use std::path::PathBuf;

use crashdb::{Bundle, BundleOptions, NewRecord, RedactOptions, SourceKind, Store, SystemInfo};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("crashdb-it-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A panic report with `extra` lines logged before it.
fn log_with(extra: &str) -> String {
    format!(
        "<5>[    0.000000] Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) (gcc-12) #1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2\n\
         <6>[    0.000000] DMI: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2 04/01/2014\n\
         {extra}\
         <6>[    2.784195] sysrq: Trigger a crash\n\
         <0>[    2.785117] Kernel panic - not syncing: sysrq triggered crash\n\
         <4>[    2.785453] CPU: 0 PID: 1 Comm: init Not tainted 6.1.0-56-amd64 #1  Debian 6.1.192-2\n\
         <4>[    2.785652] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2 04/01/2014\n\
         <4>[    2.785816] Call Trace:\n\
         <4>[    2.786232]  <TASK>\n\
         <4>[    2.786620]  dump_stack_lvl+0x44/0x5c\n\
         <4>[    2.787193]  panic+0x118/0x2f4\n\
         <4>[    2.787718]  sysrq_handle_crash+0x16/0x20\n\
         <4>[    2.788106]  __handle_sysrq.cold+0x44/0x11c\n\
         <4>[    2.788444]  write_sysrq_trigger+0x24/0x40\n\
         <4>[    2.790266] RSP: 0018:ffffc90000013e58 EFLAGS: 00000202\n\
         <4>[    2.790386] RAX: ffff8880047b2e00 RBX: ffffffffffffffda RCX: 000000000047b7a0\n\
         <4>[    2.793233]  </TASK>\n\
         <0>[    2.793656] Kernel Offset: 0x1da00000 from 0xffffffff81000000\n"
    )
}

/// (name, extra log lines, secrets that must not leave, hostname in utsname)
fn corpus() -> Vec<(
    &'static str,
    String,
    Vec<&'static str>,
    Option<&'static str>,
)> {
    vec![
        (
            "mac",
            "<6>[    1.1] virtio_net virtio0 eth0: link up, addr:52:54:00:ab:cd:ef\n\
             <6>[    1.2] e1000e 0000:00:19.0 eth0: (PCI Express:2.5GT/s:Width x1) 3c:97:0e:12:34:56\n\
             <6>[    1.3] mlx4_en: eth1: Link Up, HWaddr 3C-97-0E-AA-BB-CC\n"
                .into(),
            vec!["52:54:00:ab:cd:ef", "3c:97:0e:12:34:56", "3C-97-0E-AA-BB-CC"],
            None,
        ),
        (
            "ip",
            "<6>[    1.1] IPv4: martian source 192.168.17.42 from 10.11.12.13, on dev eth0\n\
             <6>[    1.2] nfs: server 172.16.5.9 not responding\n\
             <6>[    1.3] IPv6: eth0: IPv6 duplicate address 2001:db8:85a3::8a2e:370:7334 used by 3c:97:0e:00:00:01 detected!\n\
             <6>[    1.4] inet6 addr:fe80::3e97:eff:fe12:3456/64\n"
                .into(),
            vec![
                "192.168.17.42",
                "10.11.12.13",
                "172.16.5.9",
                "2001:db8:85a3::8a2e:370:7334",
                "fe80::3e97:eff:fe12:3456",
            ],
            None,
        ),
        (
            "serial",
            "<6>[    1.1] usb 1-1: SerialNumber: 7A3F00C2B1D4\n\
             <6>[    1.2] dmidecode: \tSerial Number: PF1ZX9QK\n\
             <6>[    1.3] udev: ID_SERIAL_SHORT=WD-WCC4E1234567\n\
             <6>[    1.4] EXT4-fs (sda1): mounted /dev/disk/by-id/ata-WDC_WD40EFRX_WD-WCC4E7654321-part1\n"
                .into(),
            vec!["7A3F00C2B1D4", "PF1ZX9QK", "WD-WCC4E1234567", "WD-WCC4E7654321"],
            None,
        ),
        (
            "host",
            "Nov 21 16:42:11 zeta-workstation kernel: [    1.1] usb 1-1: new device\n\
             <6>[    1.2] systemd[1]: Hostname set to <zeta-workstation>.\n\
             <6>[    1.3] NFS: mounting from orion-nas.corp.example\n"
                .into(),
            vec!["zeta-workstation", "orion-nas"],
            Some("orion-nas.corp.example"),
        ),
        (
            "user",
            "<3>[    1.1] audit: comm=\"sh\" exe=\"/home/mallory/bin/tool\" res=0\n\
             <6>[    1.2] pam_unix(sudo:session): session opened for user trudy(uid=0)\n\
             <6>[    1.3] trudy: module verification failed\n\
             <5>[    1.4] Linux version 6.9.0 (bob@build-box) (gcc) #1 SMP\n"
                .into(),
            vec!["mallory", "trudy", "bob@build-box"],
            None,
        ),
    ]
}

fn write_record(store: &Store, log: &str, host: Option<&str>) -> crashdb::Record {
    let mut sys = SystemInfo {
        kernel_release: Some("6.1.0-56-amd64".into()),
        ..Default::default()
    };
    sys.hostname = host.map(str::to_string);
    let rec = NewRecord::new(
        log.as_bytes().to_vec(),
        SourceKind::Pstore,
        "ramoops dmesg-ramoops-0",
    )
    .raw_file(
        "dmesg-ramoops-0",
        log.as_bytes().to_vec(),
        SourceKind::Pstore,
        "/sys/fs/pstore/dmesg-ramoops-0",
    )
    .crash_time(1_795_278_131)
    .system(sys);
    let w = store.write(&rec, 1_795_278_200).unwrap();
    store.resolve(&w.id).unwrap()
}

/// Archive members: (name, contents).
type Members = Vec<(String, Vec<u8>)>;

/// Build and write a bundle, return (whole tar bytes, members).
fn bundle_bytes(
    rec: &crashdb::Record,
    opts: &BundleOptions,
    out: &std::path::Path,
) -> (Vec<u8>, Members, Bundle) {
    let b = Bundle::build(rec, opts).unwrap();
    b.write(out).unwrap();
    let gz = std::fs::read(out).unwrap();
    let tar = crashdb::bundle::gunzip(&gz).unwrap();
    let members = crashdb::read_tar_gz(&gz).unwrap();
    (tar, members, b)
}

fn contains(hay: &[u8], needle: &str) -> bool {
    let h = String::from_utf8_lossy(hay).to_ascii_lowercase();
    h.contains(&needle.to_ascii_lowercase())
}

#[test]
fn secrets_never_leave_and_no_redact_keeps_them() {
    for (name, extra, secrets, host) in corpus() {
        let dir = scratch(&format!("corpus-{name}"));
        let store = Store::new(&dir);
        let rec = write_record(&store, &log_with(&extra), host);
        // The record itself keeps everything (it never leaves the machine).
        let kept = rec.dmesg().unwrap();
        for s in &secrets {
            assert!(contains(&kept, s), "{name}: record lost {s}");
        }

        let (tar, members, b) =
            bundle_bytes(&rec, &BundleOptions::default(), &dir.join("b.tar.gz"));
        for s in &secrets {
            assert!(
                !contains(&tar, s),
                "{name}: secret {s:?} found in the bundle"
            );
        }
        // The crash itself is still there and readable.
        let tail = &members
            .iter()
            .find(|m| m.0.ends_with("log-tail.txt"))
            .unwrap()
            .1;
        assert!(contains(
            tail,
            "Kernel panic - not syncing: sysrq triggered crash"
        ));
        // The manifest counts what was replaced.
        let manifest: serde_json::Value = serde_json::from_slice(
            &members
                .iter()
                .find(|m| m.0.ends_with("manifest.json"))
                .unwrap()
                .1,
        )
        .unwrap();
        let total: u64 = manifest["redaction"]["rules"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["replaced"].as_u64().unwrap())
            .sum();
        assert!(total >= secrets.len() as u64, "{name}: counts {manifest}");
        // Preview shows exactly the text members.
        let preview = b.preview();
        for (n, data) in &members {
            let pos = preview
                .windows(data.len().max(1))
                .position(|w| w == data.as_slice());
            assert!(pos.is_some(), "{name}: preview lacks {n}");
        }
        for s in &secrets {
            assert!(!contains(&preview, s), "{name}: preview shows {s}");
        }

        let opts = BundleOptions {
            redact: RedactOptions {
                enabled: false,
                pointers: false,
            },
            ..Default::default()
        };
        let (tar, _, _) = bundle_bytes(&rec, &opts, &dir.join("raw.tar.gz"));
        for s in &secrets {
            if *s == "orion-nas" && host.is_some() {
                // Only in system.json's hostname and the log line.
            }
            assert!(contains(&tar, s), "{name}: --no-redact lost {s}");
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[test]
fn pointers_only_when_asked() {
    let dir = scratch("pointers");
    let store = Store::new(&dir);
    let rec = write_record(&store, &log_with(""), None);
    let (tar, _, _) = bundle_bytes(&rec, &BundleOptions::default(), &dir.join("a.tar.gz"));
    assert!(contains(&tar, "ffff8880047b2e00"));
    assert!(contains(&tar, "0x1da00000"));
    let opts = BundleOptions {
        redact: RedactOptions {
            enabled: true,
            pointers: true,
        },
        ..Default::default()
    };
    let (tar, members, _) = bundle_bytes(&rec, &opts, &dir.join("b.tar.gz"));
    for p in [
        "ffff8880047b2e00",
        "ffffc90000013e58",
        "0x1da00000",
        "ffffffff81000000",
    ] {
        assert!(!contains(&tar, p), "pointer {p} left in the bundle");
    }
    // Error values are not addresses and stay.
    assert!(contains(&tar, "ffffffffffffffda"));
    let report = &members
        .iter()
        .find(|m| m.0.ends_with("report.json"))
        .unwrap()
        .1;
    let v: serde_json::Value =
        serde_json::from_slice(report).expect("report.json stays valid JSON");
    assert!(v["reports"].is_array());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn real_lab_log_bundles_cleanly() {
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/lab/6.1.0-56-amd64/pstore-m1024/pstore/dmesg-ramoops-0");
    let Ok(log) = std::fs::read(&p) else {
        eprintln!("skipping: {} not built (panicdump lab pstore)", p.display());
        return;
    };
    let dir = scratch("lab");
    let store = Store::new(&dir);
    let w = store
        .write(
            &NewRecord::new(log.clone(), SourceKind::Pstore, "lab ramoops"),
            1_795_278_200,
        )
        .unwrap();
    let rec = store.resolve(&w.id).unwrap();
    assert_eq!(rec.meta.kind.as_deref(), Some("panic"));
    let b = Bundle::build(&rec, &BundleOptions::default()).unwrap();
    // A stock QEMU boot log has nothing private: redaction must not mangle
    // it (no false positives on PCI addresses, versions, e820 ranges).
    let tail = match &b.members[1].1 {
        crashdb::bundle::Content::Text(t) => t.clone(),
        _ => panic!(),
    };
    let changed: Vec<String> = String::from_utf8_lossy(&tail)
        .lines()
        .filter(|l| {
            l.contains("<mac-")
                || l.contains("<ip-")
                || l.contains("<serial-")
                || l.contains("<user-")
                || l.contains("<host-")
        })
        .map(str::to_string)
        .collect();
    assert!(changed.is_empty(), "false positives: {changed:#?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn size_cap_drops_dump_then_shrinks_log() {
    let dir = scratch("cap");
    let store = Store::new(&dir);
    let dump = dir.join("vmcore");
    std::fs::write(&dump, vec![0xabu8; 300_000]).unwrap();
    let mut extra = String::new();
    for i in 0..3000 {
        extra.push_str(&format!(
            "<6>[    1.{i:06}] filler line number {i} with some padding text\n"
        ));
    }
    let log = log_with(&extra);
    let rec = NewRecord::new(log.into_bytes(), SourceKind::VmcoreDmesg, "vmcore dmesg").dump(
        &dump,
        crashdb::DumpMode::Copy,
        "/var/crash/vmcore",
    );
    let w = store.write(&rec, 1_795_278_200).unwrap();
    assert!(dump.exists(), "copy mode keeps the original");
    let rec = store.resolve("latest").unwrap();
    assert_eq!(rec.meta.dump.as_ref().unwrap().bytes, 300_000);

    // Roomy cap: everything, dump included.
    let opts = BundleOptions {
        include_dump: true,
        max_bytes: 10 << 20,
        ..Default::default()
    };
    let (_, members, b) = bundle_bytes(&rec, &opts, &dir.join("full.tar.gz"));
    assert!(members.iter().any(|m| m.1.len() == 300_000));
    assert!(b.manifest.dump.starts_with("included"));
    assert!(b.manifest.total_bytes <= opts.max_bytes);

    // 200 KB: the dump goes, the whole tail (about 170 KB) still fits.
    let opts = BundleOptions {
        include_dump: true,
        max_bytes: 200_000,
        ..Default::default()
    };
    let (tar, members, b) = bundle_bytes(&rec, &opts, &dir.join("nodump.tar.gz"));
    assert!(tar.len() as u64 <= 200_000, "{}", tar.len());
    assert!(!members.iter().any(|m| m.1.len() == 300_000));
    assert!(
        b.manifest.dump.starts_with("dropped"),
        "{}",
        b.manifest.dump
    );

    // 60 KB: the log tail shrinks, keeping the crash report.
    let opts = BundleOptions {
        include_dump: true,
        max_bytes: 60_000,
        ..Default::default()
    };
    let (tar, members, b) = bundle_bytes(&rec, &opts, &dir.join("small.tar.gz"));
    assert_eq!(tar.len() as u64, b.manifest.total_bytes);
    assert!(tar.len() as u64 <= 60_000, "{}", tar.len());
    assert!(b.manifest.log_tail.shrunk_to_fit);
    let tail = &members
        .iter()
        .find(|m| m.0.ends_with("log-tail.txt"))
        .unwrap()
        .1;
    assert!(contains(tail, "Kernel panic - not syncing"));
    assert!(
        !contains(tail, "filler line number 10 "),
        "oldest lines go first"
    );

    // Far too small: an error, not a broken bundle.
    let opts = BundleOptions {
        max_bytes: 1000,
        ..Default::default()
    };
    assert!(Bundle::build(&rec, &opts).is_err());
    let _ = w;
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn records_are_atomic_idempotent_and_resolvable() {
    let dir = scratch("store");
    let store = Store::new(&dir);
    assert!(store.list().unwrap().is_empty());
    assert!(matches!(
        store.resolve("latest"),
        Err(crashdb::Error::Empty(_))
    ));
    let a =
        NewRecord::new(log_with("").into_bytes(), SourceKind::Pstore, "a").crash_time(1_000_000);
    let w1 = store.write(&a, 2_000_000).unwrap();
    assert!(w1.created);
    let w2 = store.write(&a, 2_000_100).unwrap();
    assert!(!w2.created, "same content, same record");
    assert_eq!(w1.id, w2.id);
    let b = NewRecord::new(b"no crash here\n".to_vec(), SourceKind::Kmsg, "b");
    let w3 = store.write(&b, 2_000_200).unwrap();
    let list = store.list().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[1].id, w3.id, "oldest first");
    assert_eq!(store.resolve("latest").unwrap().meta.id, w3.id);
    assert_eq!(store.resolve(&w1.id[..10]).unwrap().meta.id, w1.id);
    assert!(store.resolve("nope").is_err());
    // No temporary directories left behind.
    let names: Vec<String> = std::fs::read_dir(store.dir())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.starts_with('.')), "{names:?}");
    let rec = store.resolve(&w1.id).unwrap();
    assert_eq!(
        rec.meta.title.as_deref(),
        Some("kernel panic: sysrq triggered crash")
    );
    assert!(store.resolve(&w3.id).unwrap().meta.title.is_none());
    // A damaged record is listed, not hidden, and does not break `latest`.
    std::fs::create_dir(store.dir().join("20000101-000000-deadbeef0000")).unwrap();
    let list = store.list().unwrap();
    assert!(list.iter().any(|e| e.meta.is_err()));
    // Retention: keep 1 deletes the older good record and the damaged one.
    let pruned = crashdb::retention::prune(
        &store,
        &crashdb::Policy {
            max_count: Some(1),
            ..Default::default()
        },
        2_000_300,
        false,
    )
    .unwrap();
    assert_eq!(pruned.len(), 2);
    assert_eq!(store.list().unwrap().len(), 1);
    assert_eq!(store.resolve("latest").unwrap().meta.id, w3.id);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn moved_dump_and_raw_names() {
    let dir = scratch("move");
    let store = Store::new(dir.join("state"));
    let dump = dir.join("vmcore");
    std::fs::write(&dump, b"ELF-ish bytes").unwrap();
    let rec = NewRecord::new(log_with("").into_bytes(), SourceKind::VmcoreDmesg, "vmcore")
        .raw_file(
            "../../etc/passwd",
            b"x".to_vec(),
            SourceKind::File,
            "odd name",
        )
        .raw_file(
            "../../etc/passwd",
            b"y".to_vec(),
            SourceKind::File,
            "same name",
        )
        .dump(&dump, crashdb::DumpMode::Move, "/var/crash/vmcore");
    let w = store.write(&rec, 1_795_278_200).unwrap();
    assert!(!dump.exists(), "moved into the record");
    let r = store.resolve(&w.id).unwrap();
    let d = r.meta.dump.as_ref().unwrap();
    assert_eq!(d.sha256, crashdb::sha256::hex(b"ELF-ish bytes"));
    assert_eq!(
        std::fs::read(r.dump_path().unwrap()).unwrap(),
        b"ELF-ish bytes"
    );
    // Raw names stay inside raw/ and do not collide.
    let names: Vec<&str> = r.meta.raw.iter().map(|f| f.file.as_str()).collect();
    assert_eq!(names.len(), 2);
    assert!(
        names
            .iter()
            .all(|n| n.starts_with("raw/") && !n[4..].contains('/')),
        "{names:?}"
    );
    assert_ne!(names[0], names[1]);
    let _ = std::fs::remove_dir_all(&dir);
}
