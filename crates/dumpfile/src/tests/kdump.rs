use super::*;
use crate::testutil::*;
use crate::{Compression, Endian, Origin};

/// A machine: pfns 0..0x300 are RAM except a hole at 0xa0..0x100; some
/// pages are zero, some excluded.
fn builder(c: Compression, version: i32) -> (KdumpBuilder, BTreeMap<u64, Vec<u8>>, Vec<u64>) {
    let mut b = KdumpBuilder {
        compression: c,
        header_version: version,
        max_mapnr: 0x300,
        ram: vec![(0, 0xa0), (0x100, 0x300)],
        notes: kernel_notes(2, "").split_off(0),
        vmcoreinfo: Some(VMCI.to_string()),
        ..Default::default()
    };
    // kernel_notes appends an empty VMCOREINFO note: keep only the CPUs.
    b.notes = {
        let mut v = Vec::new();
        for i in 0..2 {
            v.extend(note(
                b"CORE",
                1,
                &prstatus_x86_64(7 + i, 0xffffffff81234567, 0xffffc90000001000),
            ));
        }
        v
    };
    let mut excluded = Vec::new();
    for (s, e) in b.ram.clone() {
        for pfn in s..e {
            if pfn % 5 == 3 {
                excluded.push(pfn);
            } else if pfn % 7 == 0 {
                b.pages.insert(pfn, vec![0u8; 4096]);
            } else if pfn % 11 == 0 {
                // Incompressible: stored raw even with compression on.
                let mut x = pfn as u32 | 1;
                let p: Vec<u8> = (0..4096)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        x as u8
                    })
                    .collect();
                b.pages.insert(pfn, p);
            } else {
                b.pages.insert(pfn, test_page(pfn, 4096));
            }
        }
    }
    let want = b.pages.clone();
    (b, want, excluded)
}

#[test]
fn every_compression_and_version_round_trips() {
    for c in [
        Compression::None,
        Compression::Zlib,
        Compression::Lzo,
        Compression::Snappy,
        Compression::Zstd,
    ] {
        for version in [1, 2, 3, 4, 5, 6, 7] {
            let (b, want, excluded) = builder(c, version);
            let d = Dump::from_bytes(b.build()).unwrap();
            assert!(
                d.warnings().is_empty(),
                "{c} v{version}: {:?}",
                d.warnings()
            );
            check_pages(&d, &want, &excluded);
            let h = d.kdump_header().unwrap();
            assert_eq!(h.compression, c);
            assert_eq!(h.header_version, version);
            assert_eq!(h.max_mapnr, 0x300);
            assert_eq!(h.dump_level, Some(1));
            assert_eq!(h.phys_base, Some(0x1000000));
            assert_eq!(h.utsname.release, "6.1.0-test");
            assert_eq!(h.max_mapnr_64, (version >= 6).then_some(0x300));
            assert_eq!(d.format().origin, Origin::Makedumpfile);
            assert_eq!(
                d.format().to_string(),
                format!("kdump-compressed ({c}), makedumpfile")
            );
            // VMCOREINFO from v3 on; CPU notes from v4 on.
            assert_eq!(d.vmcoreinfo().is_some(), version >= 3, "{c} v{version}");
            assert_eq!(d.cpus().len(), if version >= 4 { 2 } else { 0 });
            let mut notes = 0;
            d.for_each_note(|_| notes += 1);
            assert_eq!(notes, if version >= 4 { 3 } else { 0 });
            if version >= 4 {
                assert_eq!(d.cpus()[1].pid, 8);
                assert_eq!(d.cpus()[0].pc(), Some(0xffffffff81234567));
            }
            let zero = want.values().filter(|p| p.iter().all(|&x| x == 0)).count() as u64;
            let counts = d.page_counts();
            assert_eq!(counts.zero, zero);
            assert_eq!(counts.present, want.len() as u64 - zero);
            assert_eq!(counts.excluded, excluded.len() as u64);
            assert_eq!(counts.holes, 0x60);
            assert_eq!(counts.max_pfn, 0x300);
            assert_eq!(d.memory().page_state(0), PageState::Zero);
            assert_eq!(d.memory().page_state(0xa0), PageState::Hole);
            assert_eq!(d.memory().ranges().len(), 2);
            assert_eq!(d.memory().ranges()[1].end, 0x300 * 4096);
        }
    }
}

#[test]
fn small_reads_across_pages() {
    let (b, want, _) = builder(Compression::Zlib, 6);
    let d = Dump::from_bytes(b.build()).unwrap();
    let m = d.memory();
    let mut buf = [0u8; 100];
    let addr = 0x105 * 4096 - 50;
    m.read_phys(addr, &mut buf).unwrap();
    assert_eq!(&buf[..50], &want[&0x104][4096 - 50..]);
    assert_eq!(&buf[50..], &want[&0x105][..50]);
    // Same page again, from the per-thread cache.
    m.read_phys(addr, &mut buf).unwrap();
    assert_eq!(&buf[50..], &want[&0x105][..50]);
    let v = m.read_phys_u64(0x104 * 4096 + 8).unwrap();
    assert_eq!(
        v,
        u64::from_le_bytes(want[&0x104][8..16].try_into().unwrap())
    );
}

#[test]
fn two_dumps_in_one_thread_do_not_share_cache() {
    let (b1, want1, _) = builder(Compression::Zlib, 6);
    let (mut b2, _, _) = builder(Compression::Zlib, 6);
    b2.pages.insert(0x101, vec![0x5a; 4096]);
    let d1 = Dump::from_bytes(b1.build()).unwrap();
    let d2 = Dump::from_bytes(b2.build()).unwrap();
    let mut buf = [0u8; 4096];
    d1.memory().read_pfn(0x101, &mut buf).unwrap();
    assert_eq!(buf.to_vec(), want1[&0x101]);
    d2.memory().read_pfn(0x101, &mut buf).unwrap();
    assert_eq!(buf, [0x5a; 4096]);
}

#[test]
fn diskdump_signature_and_big_endian() {
    let (mut b, want, excluded) = builder(Compression::Snappy, 6);
    b.signature = *b"DISKDUMP";
    b.endian = Endian::Big;
    let d = Dump::from_bytes(b.build()).unwrap();
    let h = d.kdump_header().unwrap();
    assert_eq!(h.endian, Endian::Big);
    assert_eq!(h.signature, "DISKDUMP");
    // DISKDUMP has no sub-header: no dump_level, so no shared zero page is
    // known, and max_mapnr comes from the 32-bit field.
    assert_eq!(h.dump_level, None);
    assert_eq!(h.max_mapnr, 0x300);
    assert!(d.format().to_string().starts_with("diskdump (snappy)"));
    check_pages(&d, &want, &excluded);
}

#[test]
fn incomplete_dump_reads_missing_as_truncated() {
    let (mut b, want, _) = builder(Compression::Zstd, 6);
    b.incomplete_from = Some(want.len() / 2);
    let d = Dump::from_bytes(b.build()).unwrap();
    assert!(d.kdump_header().unwrap().incomplete);
    assert!(d.warnings().iter().any(|w| w.contains("INCOMPLETE")));
    let m = d.memory();
    let mut buf = vec![0u8; 4096];
    let pfns: Vec<u64> = want.keys().copied().collect();
    let (first, last) = (pfns[0], pfns[pfns.len() - 1]);
    m.read_pfn(first, &mut buf).unwrap();
    assert_eq!(buf, want[&first]);
    assert_eq!(
        m.read_pfn(last, &mut buf),
        Err(ReadError::Truncated { addr: last * 4096 })
    );
}

#[test]
fn flattened_kdump_reads_like_plain() {
    let (b, want, excluded) = builder(Compression::Zlib, 6);
    let file = b.build();
    let flat = flatten_file(&file, 3000);
    let d = Dump::from_bytes(flat.clone()).unwrap();
    assert!(d.warnings().is_empty(), "{:?}", d.warnings());
    assert_eq!(
        d.format().to_string(),
        "flattened kdump-compressed (zlib), makedumpfile"
    );
    check_pages(&d, &want, &excluded);
    assert_eq!(
        d.page_counts(),
        Dump::from_bytes(file.clone()).unwrap().page_counts()
    );
    // Truncated stream (no end marker): opens with a warning, the tail is missing.
    // (`flatten_file` writes back to front, so cut a front-to-back stream.)
    let chunks: Vec<(u64, Vec<u8>)> = file
        .chunks(3000)
        .enumerate()
        .map(|(i, c)| (i as u64 * 3000, c.to_vec()))
        .collect();
    let flat = flatten(&chunks, true);
    let cut = flat.len() - 20_000;
    let d = Dump::from_bytes(flat[..cut].to_vec()).unwrap();
    assert!(
        d.warnings().iter().any(|w| w.contains("truncated")),
        "{:?}",
        d.warnings()
    );
    let mut buf = [0u8; 4096];
    let last = *want.keys().last().unwrap();
    assert!(matches!(
        d.memory().read_pfn(last, &mut buf),
        Err(ReadError::Truncated { .. })
    ));
    let first = *want.keys().next().unwrap();
    d.memory().read_pfn(first, &mut buf).unwrap();
}

#[test]
fn header_json_serializes() {
    let (b, _, _) = builder(Compression::Lzo, 6);
    let d = Dump::from_bytes(b.build()).unwrap();
    let j = serde_json::to_string(d.kdump_header().unwrap()).unwrap();
    assert!(j.contains("\"compression\":\"lzo\""), "{j}");
    let j = serde_json::to_string(&d.cpus()[0]).unwrap();
    assert!(j.contains("\"rip\":18446744071581156711"), "{j}");
    let j = serde_json::to_string(&d.page_counts()).unwrap();
    assert!(j.contains("\"excluded\""));
    let j = serde_json::to_string(&d.format()).unwrap();
    assert!(j.contains("\"container\":\"kdump_compressed\""), "{j}");
}

#[test]
fn dump_is_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Dump>();
    let (b, want, _) = builder(Compression::Lzo, 6);
    let d = std::sync::Arc::new(Dump::from_bytes(b.build()).unwrap());
    let want = std::sync::Arc::new(want);
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let (d, want) = (d.clone(), want.clone());
            std::thread::spawn(move || {
                let mut buf = vec![0u8; 4096];
                for (&pfn, page) in want.iter().skip(t).step_by(3) {
                    d.memory().read_pfn(pfn, &mut buf).unwrap();
                    assert!(buf == *page, "pfn {pfn:#x}");
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
}
