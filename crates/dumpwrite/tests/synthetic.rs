//! Round trips on small synthetic dumps (no lab needed): every format and
//! compression, through `dumpfile`'s reader, including the flattened stream.

use dumpfile::testutil::{kernel_notes, test_page, ElfBuilder, ElfSegment};
use dumpfile::{Dump, Origin, PageState};
use dumpwrite::{Compression, DumpLevel, FlatSink, KeepAll, Options, OutputFormat, Sink};
use std::io;

const PS: usize = 4096;

/// In-memory random-access sink.
#[derive(Default)]
struct VecSink(Vec<u8>);

impl Sink for VecSink {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        let end = offset as usize + data.len();
        if self.0.len() < end {
            self.0.resize(end, 0);
        }
        self.0[offset as usize..end].copy_from_slice(data);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn finish(&mut self) -> io::Result<()> {
        Ok(())
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}

/// 3 segments; pfns 0x10.. hold test data with a zero page every 5th,
/// and a long zero run to split ELF segments.
fn source() -> Vec<u8> {
    let seg = |start: u64, n: u64| {
        let mut data = Vec::new();
        for pfn in start..start + n {
            if pfn % 5 == 0 || (0x200..0x400).contains(&pfn) {
                data.extend_from_slice(&[0u8; PS]);
            } else {
                data.extend_from_slice(&test_page(pfn, PS));
            }
        }
        ElfSegment {
            paddr: start * PS as u64,
            vaddr: 0xffff_8880_0000_0000 + start * PS as u64,
            memsz: data.len() as u64,
            data,
        }
    };
    ElfBuilder {
        notes: kernel_notes(
            2,
            "OSRELEASE=6.1.0-test\nPAGESIZE=4096\nCRASHTIME=1700000000\n",
        ),
        segments: vec![seg(0x10, 0x30), seg(0x100, 0x400), seg(0x800, 0x11)],
        ..Default::default()
    }
    .build()
}

fn check(src: &Dump, out: &Dump, level: u8) {
    let (sm, om) = (src.memory(), out.memory());
    let (mut a, mut b) = (vec![0u8; PS], vec![0u8; PS]);
    let mut kept = 0;
    for pfn in 0..sm.max_pfn() {
        if sm.page_state(pfn) == PageState::Hole {
            assert_eq!(om.page_state(pfn), PageState::Hole, "pfn {pfn:#x}");
            continue;
        }
        sm.read_pfn(pfn, &mut a).unwrap();
        match om.read_pfn(pfn, &mut b) {
            Ok(()) => {
                assert!(a == b, "pfn {pfn:#x}");
                kept += 1;
            }
            Err(e) => {
                assert!(
                    level & 1 == 1 && a.iter().all(|&x| x == 0),
                    "pfn {pfn:#x}: {e}"
                );
            }
        }
    }
    assert!(kept > 0);
    assert_eq!(out.vmcoreinfo().unwrap().osrelease(), Some("6.1.0-test"));
    assert_eq!(out.cpus().len(), 2);
}

fn write(src: &Dump, format: OutputFormat, c: Compression, level: u8, threads: usize) -> Vec<u8> {
    let opts = Options {
        format,
        compression: c,
        level: DumpLevel::new(level).unwrap(),
        threads,
        ..Default::default()
    };
    let mut sink = VecSink::default();
    dumpwrite::write_dump(src, &mut KeepAll, &opts, &mut sink, &mut |_| {}).unwrap();
    sink.0
}

#[test]
fn every_format_compression_and_level_round_trips() {
    let src = Dump::from_bytes(source()).unwrap();
    for level in [0u8, 1] {
        for c in Compression::ALL {
            for threads in [1, 3] {
                let bytes = write(&src, OutputFormat::Kdump, c, level, threads);
                let out = Dump::from_bytes(bytes).unwrap();
                let h = out.kdump_header().unwrap();
                assert_eq!(h.header_version, 6);
                assert!(!h.incomplete);
                assert_eq!(h.timestamp_sec, 1_700_000_000);
                assert_eq!(h.nr_cpus, 2);
                check(&src, &out, level);
                if level == 1 {
                    assert!(out.page_counts().zero > 0, "{c}: no shared zero page");
                }
            }
        }
        let elf =
            Dump::from_bytes(write(&src, OutputFormat::Elf, Compression::None, level, 2)).unwrap();
        check(&src, &elf, level);
    }
}

#[test]
fn flattened_stream_reads_back() {
    let src = Dump::from_bytes(source()).unwrap();
    let opts = Options {
        level: DumpLevel(1),
        threads: 2,
        ..Default::default()
    };
    let mut sink = FlatSink::new(Vec::new());
    dumpwrite::write_dump(&src, &mut KeepAll, &opts, &mut sink, &mut |_| {}).unwrap();
    let stream = sink.into_inner();
    assert!(stream.starts_with(b"makedumpfile\0"));
    assert_eq!(&stream[stream.len() - 16..], &[0xff; 16]);
    let out = Dump::from_bytes(stream).unwrap();
    assert!(out.format().flattened);
    check(&src, &out, 1);
}

#[test]
fn struct_page_levels_need_a_filter() {
    let src = Dump::from_bytes(source()).unwrap();
    let opts = Options {
        level: DumpLevel(31),
        ..Default::default()
    };
    let e = dumpwrite::write_dump(
        &src,
        &mut KeepAll,
        &opts,
        &mut VecSink::default(),
        &mut |_| {},
    )
    .unwrap_err();
    assert!(e.to_string().contains("not available"), "{e}");
}

/// Our kdump output names its creator in a note that readers tell apart
/// from makedumpfile's, without counting it as a CPU; rewriting our own
/// output keeps one such note.
#[test]
fn kdump_output_is_labelled_panicdump() {
    let src = Dump::from_bytes(source()).unwrap();
    let once = Dump::from_bytes(write(&src, OutputFormat::Kdump, Compression::Zstd, 1, 1)).unwrap();
    assert_eq!(once.format().origin, Origin::Panicdump);
    assert!(
        once.format().to_string().ends_with(", panicdump"),
        "{}",
        once.format()
    );
    assert_eq!(once.kdump_header().unwrap().nr_cpus, 2);
    assert_eq!(once.cpus().len(), 2);
    let twice =
        Dump::from_bytes(write(&once, OutputFormat::Kdump, Compression::Lzo, 1, 2)).unwrap();
    assert_eq!(twice.format().origin, Origin::Panicdump);
    let mut ours = 0;
    twice.for_each_note(|n| ours += usize::from(n.name == dumpfile::PANICDUMP_NOTE_NAME));
    assert_eq!(ours, 1);
    check(&src, &twice, 1);
}

/// The pipeline may finish batches in any order on any thread, but the
/// file it writes is the same byte for byte whatever the thread count
/// (9 batches here, so helpers and the writer both fill some).
#[test]
fn output_is_the_same_for_any_thread_count() {
    let src = Dump::from_bytes(source()).unwrap();
    for c in [Compression::Zstd, Compression::Lzo, Compression::None] {
        let one = write(&src, OutputFormat::Kdump, c, 1, 1);
        for threads in [2, 3, 8] {
            let many = write(&src, OutputFormat::Kdump, c, 1, threads);
            assert!(one == many, "{c}: -j {threads} differs from -j 1");
        }
    }
    let one = write(&src, OutputFormat::Elf, Compression::None, 0, 1);
    assert!(one == write(&src, OutputFormat::Elf, Compression::None, 0, 4));
}
