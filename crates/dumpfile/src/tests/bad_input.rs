use super::*;
use crate::testutil::*;
use crate::{Compression, DumpError};

fn small_kdump(c: Compression) -> Vec<u8> {
    let mut b = KdumpBuilder {
        compression: c,
        max_mapnr: 40,
        ram: vec![(0, 40)],
        vmcoreinfo: Some(VMCI.into()),
        notes: note(b"CORE", 1, &prstatus_x86_64(1, 2, 3)),
        ..Default::default()
    };
    for pfn in 0..40 {
        if pfn % 4 != 1 {
            let p = if pfn % 3 == 0 {
                vec![0; 4096]
            } else {
                test_page(pfn, 4096)
            };
            b.pages.insert(pfn, p);
        }
    }
    b.build()
}

#[test]
fn unknown_and_empty_inputs() {
    assert!(matches!(
        Dump::from_bytes(vec![]),
        Err(DumpError::Truncated { .. })
    ));
    assert!(matches!(
        Dump::from_bytes(b"hello world".to_vec()),
        Err(DumpError::UnknownFormat(_))
    ));
    assert!(matches!(
        Dump::from_bytes(b"\x7fELF".to_vec()),
        Err(DumpError::Truncated { .. })
    ));
    let e = Dump::from_bytes(b"KDUMP   ".to_vec()).unwrap_err();
    assert!(e.to_string().contains("disk_dump_header"), "{e}");
}

#[test]
fn kdump_every_cut_point_is_safe() {
    for c in [
        Compression::Zlib,
        Compression::Lzo,
        Compression::Snappy,
        Compression::Zstd,
        Compression::None,
    ] {
        let file = small_kdump(c);
        for cut in (0..file.len()).step_by(97) {
            exercise(file[..cut].to_vec());
        }
    }
    let file = small_kdump(Compression::Zlib);
    // Cut inside the bitmaps: a named error.
    let e = Dump::from_bytes(file[..4096 * 2 + 100].to_vec()).unwrap_err();
    assert!(e.to_string().contains("bitmaps"), "{e}");
    // Cut in the page data: opens, the lost pages read as truncated.
    let d = Dump::from_bytes(file[..file.len() - 2000].to_vec()).unwrap();
    let mut buf = [0u8; 4096];
    let r = d.memory().read_pfn(38, &mut buf);
    assert!(
        matches!(
            r,
            Err(ReadError::Truncated { .. }) | Err(ReadError::Corrupt { .. })
        ),
        "{r:?}"
    );
}

#[test]
fn kdump_corrupt_fields_are_named_or_survived() {
    let file = small_kdump(Compression::Zlib);
    // block_size not a power of two.
    let mut f = file.clone();
    f[428..432].copy_from_slice(&3000u32.to_le_bytes());
    let e = Dump::from_bytes(f).unwrap_err();
    assert!(e.to_string().contains("block_size"), "{e}");
    // Bitmap larger than the file.
    let mut f = file.clone();
    f[436..440].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
    assert!(matches!(
        Dump::from_bytes(f),
        Err(DumpError::Truncated { .. })
    ));
    // sub_hdr_size absurd.
    let mut f = file.clone();
    f[432..436].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(Dump::from_bytes(f).is_err());
    // max_mapnr_64 absurd: clipped with a warning.
    let mut f = file.clone();
    f[4096 + 96..4096 + 104].copy_from_slice(&u64::MAX.to_le_bytes());
    let d = Dump::from_bytes(f).unwrap();
    assert!(
        d.warnings().iter().any(|w| w.contains("max_mapnr")),
        "{:?}",
        d.warnings()
    );
    // Note copy pointing far away: warning, no panic.
    let mut f = file.clone();
    f[4096 + 48..4096 + 56].copy_from_slice(&(u64::MAX - 10).to_le_bytes());
    f[4096 + 56..4096 + 64].copy_from_slice(&u64::MAX.to_le_bytes());
    exercise(f);
    // Every single byte of the headers, bitmaps and descriptors flipped.
    for i in (0..file.len().min(4096 * 4 + 24 * 40)).step_by(3) {
        let mut f = file.clone();
        f[i] ^= 0xa5;
        exercise(f);
    }
}

#[test]
fn corrupt_page_data_is_a_read_error() {
    let file = small_kdump(Compression::Zstd);
    let d = Dump::from_bytes(file.clone()).unwrap();
    // Find a compressed page's descriptor and damage its data.
    let h = d.kdump_header().unwrap();
    let desc_off = 4096 * (1 + h.sub_hdr_size as usize + h.bitmap_blocks as usize);
    let mut f = file.clone();
    let mut damaged = None;
    for rank in 0..30 {
        let at = desc_off + rank * 24;
        let flags = u32::from_le_bytes(f[at + 12..at + 16].try_into().unwrap());
        if flags != 0 {
            let off = u64::from_le_bytes(f[at..at + 8].try_into().unwrap()) as usize;
            f[off..off + 8].fill(0xff);
            damaged = Some(rank);
            break;
        }
    }
    assert!(damaged.is_some());
    let d = Dump::from_bytes(f).unwrap();
    let mut buf = [0u8; 4096];
    let errors = (0..40)
        .filter(|&pfn| {
            matches!(
                d.memory().read_pfn(pfn, &mut buf),
                Err(ReadError::Corrupt { .. })
            )
        })
        .count();
    assert_eq!(errors, 1);
    // Size larger than a page, and a raw page with a wrong size.
    let mut f = file.clone();
    f[desc_off + 8..desc_off + 12].copy_from_slice(&5000u32.to_le_bytes());
    let d = Dump::from_bytes(f).unwrap();
    assert!(matches!(
        d.memory().read_pfn(0, &mut buf),
        Err(ReadError::Corrupt { .. })
    ));
}

#[test]
fn elf_corrupt_headers() {
    let b = ElfBuilder {
        notes: kernel_notes(1, VMCI),
        segments: vec![ElfSegment {
            paddr: 0,
            vaddr: 0,
            memsz: 4096,
            data: vec![1; 4096],
        }],
        ..Default::default()
    };
    let file = b.build();
    // Huge e_phnum: clipped to what the file holds.
    let mut f = file.clone();
    f[56..58].copy_from_slice(&0xfff0u16.to_le_bytes());
    let d = Dump::from_bytes(f).unwrap();
    assert!(!d.warnings().is_empty());
    // e_phoff past the end.
    let mut f = file.clone();
    f[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
    let e = Dump::from_bytes(f).unwrap_err();
    assert!(e.to_string().contains("program header"), "{e}");
    // Bad class.
    let mut f = file.clone();
    f[4] = 9;
    assert!(matches!(
        Dump::from_bytes(f),
        Err(DumpError::Corrupt { .. })
    ));
    // Segment overflowing the address space and data past the end.
    let mut f = file.clone();
    let ph1 = 64 + 56; // second phdr: the PT_LOAD
    f[ph1 + 24..ph1 + 32].copy_from_slice(&(u64::MAX - 10).to_le_bytes());
    exercise(f);
    let mut f = file.clone();
    f[ph1 + 8..ph1 + 16].copy_from_slice(&(u64::MAX - 10).to_le_bytes());
    exercise(f);
    for i in (0..file.len().min(600)).step_by(1) {
        let mut f = file.clone();
        f[i] ^= 0x5a;
        exercise(f);
    }
}

#[test]
fn flattened_corrupt_chunks() {
    let flat = flatten_file(&small_kdump(Compression::Snappy), 4000);
    for i in (4096..flat.len().min(4096 + 200)).step_by(1) {
        let mut f = flat.clone();
        f[i] ^= 0x80;
        exercise(f);
    }
    for cut in (0..flat.len()).step_by(211) {
        exercise(flat[..cut].to_vec());
    }
    // Bad header type.
    let mut f = flat.clone();
    f[23] = 9;
    assert!(matches!(
        Dump::from_bytes(f),
        Err(DumpError::Corrupt { .. })
    ));
}
