use super::*;
use crate::dmesg::Reason;

const LAYOUT: RamoopsLayout = RamoopsLayout {
    mem_size: 0x4000,
    record_size: 0x1000,
    console_size: 0x1000,
    ftrace_size: 0x800,
    pmsg_size: 0x800,
    ecc: 0,
    ftrace_cpus: 0,
};

/// Write a zone header and ring data: `old` is the valid text in write
/// order; the ring is rotated so that it starts at `start`.
fn put(image: &mut [u8], z: &ZoneSpec, sig: u32, old: &[u8], wrap_at: usize) {
    let off = z.offset as usize;
    let cap = z.capacity as usize;
    assert!(old.len() <= cap);
    let (start, size) = if old.len() == cap {
        (wrap_at, cap)
    } else {
        (old.len(), old.len())
    };
    image[off..off + 4].copy_from_slice(&sig.to_le_bytes());
    image[off + 4..off + 8].copy_from_slice(&(start as u32).to_le_bytes());
    image[off + 8..off + 12].copy_from_slice(&(size as u32).to_le_bytes());
    let data = &mut image[off + 12..off + 12 + cap];
    // old = data[start..size] + data[..start]
    let tail = size - start;
    data[start..size].copy_from_slice(&old[..tail]);
    data[..start].copy_from_slice(&old[tail..]);
}

fn sample() -> (Vec<u8>, Vec<ZoneSpec>, Vec<u8>) {
    let zones = LAYOUT.zones().unwrap();
    let mut img = vec![0u8; LAYOUT.mem_size as usize];
    let dmesg = b"====1700000000.123456-D\nPanic#1 Part1\n<0>[    5.000000] Kernel panic - not syncing: test\n";
    put(&mut img, &zones[0], PERSISTENT_RAM_SIG, dmesg, 0);
    put(&mut img, &zones[1], PERSISTENT_RAM_SIG, b"", 0);
    // A full, wrapped console ring.
    let console: Vec<u8> = (0..zones[2].capacity)
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    put(&mut img, &zones[2], PERSISTENT_RAM_SIG, &console, 1000);
    put(
        &mut img,
        &zones[3],
        PERSISTENT_RAM_SIG ^ 0x0006_0100,
        b"\x01\x02\x03",
        0,
    );
    put(
        &mut img,
        &zones[4],
        PERSISTENT_RAM_SIG,
        b"user says hi\n",
        0,
    );
    (img, zones, console)
}

#[test]
fn layout_matches_ramoops_probe() {
    let z = LAYOUT.zones().unwrap();
    let kinds: Vec<_> = z.iter().map(|z| (z.kind, z.offset, z.size)).collect();
    assert_eq!(
        kinds,
        vec![
            (ZoneKind::Dmesg(0), 0, 0x1000),
            (ZoneKind::Dmesg(1), 0x1000, 0x1000),
            (ZoneKind::Console, 0x2000, 0x1000),
            (ZoneKind::Ftrace(0), 0x3000, 0x800),
            (ZoneKind::Pmsg, 0x3800, 0x800),
        ]
    );
    assert_eq!(z[0].capacity, 0x1000 - 12);
    // Sizes are rounded down to powers of two; per-CPU ftrace zones.
    let l = RamoopsLayout {
        record_size: 0x1800,
        ftrace_cpus: 2,
        ..LAYOUT
    };
    let z = l.zones().unwrap();
    assert_eq!(
        z.iter()
            .filter(|z| matches!(z.kind, ZoneKind::Ftrace(_)))
            .count(),
        2
    );
    assert_eq!(z[0].size, 0x1000);
    // ECC (16 bytes per 128-byte block) shrinks the capacity.
    let l = RamoopsLayout { ecc: 1, ..LAYOUT };
    let c = l.zones().unwrap()[0].capacity;
    let buf = 0x1000 - 12;
    let blocks = (buf - 16u64).div_ceil(144);
    assert_eq!(c, buf - (blocks + 1) * 16);
    assert!(matches!(
        RamoopsLayout {
            console_size: 0x8000,
            ..LAYOUT
        }
        .zones(),
        Err(LayoutError::ZonesExceedRegion { .. })
    ));
    assert!(matches!(
        RamoopsLayout {
            mem_size: 1 << 40,
            record_size: 2,
            ..LAYOUT
        }
        .zones(),
        Err(LayoutError::TooManyZones(_))
    ));
    assert!(matches!(
        RamoopsLayout {
            pmsg_size: 8,
            ..LAYOUT
        }
        .zones(),
        Err(LayoutError::ZoneTooSmall { .. })
    ));
}

#[test]
fn decodes_every_zone_kind() {
    let (img, _, console) = sample();
    let r = parse_region(&img, &LAYOUT).unwrap();
    let z = &r.zones;
    assert_eq!(z[0].state, ZoneState::Valid);
    assert_eq!(
        z[0].time,
        Some(ZoneTime {
            secs: 1_700_000_000,
            usecs: 123_456,
            compressed: Some(false)
        })
    );
    assert!(z[0].data.starts_with(b"Panic#1 Part1\n"));
    assert_eq!(z[1].state, ZoneState::Empty);
    assert_eq!(z[2].data, console, "ring order restored");
    assert_eq!(z[3].version_code, Some(0x0006_0100));
    assert_eq!(z[4].data, b"user says hi\n");
    let recs = r.records();
    let names: Vec<_> = recs.iter().map(|r| r.file_name.as_str()).collect();
    assert_eq!(
        names,
        [
            "dmesg-ramoops-0",
            "console-ramoops-0",
            "ftrace-ramoops-0",
            "pmsg-ramoops-0"
        ]
    );
    let c = crate::reassemble(&recs);
    assert_eq!(c.crashes.len(), 1);
    assert_eq!(c.crashes[0].reason, Reason::Panic);
    assert_eq!(c.crashes[0].time.unwrap().secs, 1_700_000_000);
    assert!(c.crashes[0]
        .dmesg_lossy()
        .contains("Kernel panic - not syncing: test"));
    assert_eq!(c.crashes[0].attached.len(), 3);
}

#[test]
fn blank_truncated_and_headerless() {
    let zones = LAYOUT.zones().unwrap();
    let r = parse_region(&vec![0u8; 0x4000], &LAYOUT).unwrap();
    assert!(r
        .zones
        .iter()
        .all(|z| z.state == ZoneState::Blank && z.raw.is_none()));
    let (img, _, _) = sample();
    let r = parse_region(&img[..0x2100], &LAYOUT).unwrap();
    assert_eq!(r.zones[2].state, ZoneState::Truncated);
    assert_eq!(r.zones[2].raw.as_deref(), Some(&img[0x2000..0x2100]));
    assert_eq!(r.zones[4].raw.as_deref(), Some(&[][..]));
    let mut img2 = img.clone();
    put(
        &mut img2,
        &zones[1],
        PERSISTENT_RAM_SIG,
        b"no time line here\n",
        0,
    );
    let r = parse_region(&img2, &LAYOUT).unwrap();
    assert_eq!(r.zones[1].state, ZoneState::NoDmesgHeader);
    assert_eq!(r.zones[1].data, b"no time line here\n");
    assert!(r.zones[1].is_corrupt() && r.zones[1].raw.is_some());
}

#[test]
fn time_headers() {
    assert_eq!(
        parse_time_header(b"====12.5\nx"),
        Some((
            ZoneTime {
                secs: 12,
                usecs: 5,
                compressed: None
            },
            9
        ))
    );
    assert_eq!(
        parse_time_header(b"====-3.000001-C\n")
            .unwrap()
            .0
            .compressed,
        Some(true)
    );
    for bad in [
        &b"===1.2-D\n"[..],
        b"====1.2-X\n",
        b"====1-D\n",
        b"====a.b-D\n",
        b"====1.2-D",
    ] {
        assert!(parse_time_header(bad).is_none());
    }
}

#[test]
fn flipped_header_bits_never_lose_bytes() {
    let (img, zones, _) = sample();
    let clean = parse_region(&img, &LAYOUT).unwrap();
    for z in &zones {
        let off = z.offset as usize;
        // The 12-byte zone header plus the start of a dmesg time line.
        for byte in 0..32 {
            for bit in 0..8 {
                let mut m = img.clone();
                m[off + byte] ^= 1 << bit;
                let r = parse_region(&m, &LAYOUT).unwrap();
                let got = r.zones.iter().find(|x| x.spec == *z).unwrap();
                let want = clean.zones.iter().find(|x| x.spec == *z).unwrap();
                match got.state {
                    ZoneState::Valid | ZoneState::Empty => {}
                    ZoneState::Blank => panic!("a flipped bit cannot make a zone blank"),
                    _ => {
                        assert!(got.is_corrupt());
                        assert_eq!(
                            got.raw.as_deref(),
                            Some(&m[off..off + z.size as usize]),
                            "zone {z:?} byte {byte} bit {bit}"
                        );
                    }
                }
                if byte < 4 && !matches!(z.kind, ZoneKind::Ftrace(_)) {
                    assert!(matches!(got.state, ZoneState::BadSignature { .. }));
                }
                // Untouched zones decode as before.
                for (a, b) in r.zones.iter().zip(&clean.zones) {
                    if a.spec != *z {
                        assert_eq!(a, b);
                    }
                }
                let _ = want;
                let _ = crate::reassemble(&r.records());
            }
        }
    }
}

#[test]
fn arbitrary_images_never_panic() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..200 {
        let mut img = vec![0u8; 0x4000];
        for b in img.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
        // Plant a valid signature with random start/size in every zone.
        for z in LAYOUT.zones().unwrap() {
            img[z.offset as usize..z.offset as usize + 4]
                .copy_from_slice(&PERSISTENT_RAM_SIG.to_le_bytes());
        }
        let r = parse_region(&img, &LAYOUT).unwrap();
        for z in &r.zones {
            assert!(z.state == ZoneState::Valid || z.state == ZoneState::Empty || z.raw.is_some());
        }
    }
}
