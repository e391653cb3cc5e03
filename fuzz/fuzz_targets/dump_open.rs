//! Fuzz dump detection and every reader: ELF, kdump-compressed, flattened.
//! Opens arbitrary bytes, reads the metadata, counts pages and reads a
//! bounded number of pages from every range.
#![no_main]
use dumpfile::Dump;
use libfuzzer_sys::fuzz_target;

/// Pages read per input, so one input cannot run for long.
const MAX_PAGES: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Ok(dump) = Dump::from_bytes(data.to_vec()) else {
        return;
    };
    let _ = dump.format().to_string();
    let _ = dump.warnings().len();
    let _ = (dump.elf_machine(), dump.direct_map_offset(), dump.note_count());
    if let Some(info) = dump.vmcoreinfo() {
        let _ = (info.page_size(), info.osrelease(), info.kernel_offset());
    }
    for cpu in dump.cpus() {
        let _ = (cpu.pc(), cpu.sp(), cpu.reg("cs"));
    }
    if let Some(h) = dump.kdump_header() {
        let _ = (h.max_mapnr, h.compression, h.elf_machine());
    }
    let counts = dump.page_counts();
    let _ = counts.present + counts.zero;

    let mem = dump.memory();
    let ps = mem.page_size();
    let Ok(ps_usize) = usize::try_from(ps) else {
        return;
    };
    let mut page = vec![0u8; ps_usize];
    let mut read = 0usize;
    'ranges: for r in mem.ranges() {
        let mut pfn = r.start / ps;
        while pfn.saturating_mul(ps) < r.end {
            if read >= MAX_PAGES {
                break 'ranges;
            }
            let _ = mem.page_state(pfn);
            let _ = mem.read_pfn(pfn, &mut page);
            // A small unaligned read across the page end.
            let _ = mem.read_phys((pfn * ps).saturating_add(ps - 4), &mut page[..8.min(ps_usize)]);
            read += 1;
            pfn += 1;
        }
    }
    let _ = mem.read_phys(u64::MAX - 2, &mut page[..4.min(ps_usize)]);
});
