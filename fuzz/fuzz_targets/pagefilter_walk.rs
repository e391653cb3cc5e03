//! Fuzz the page filter: the first 16 bytes choose a kernel generation,
//! the mem_section form, the level and a pfn range; the rest is physical
//! memory from address 0 holding mem_section tables and struct pages
//! (reached through the direct map). Must never panic or hang.
#![no_main]
use addrxlat::{Hints, KernelMemory};
use dumpfile::{SparseMemory, VmcoreInfo};
use libfuzzer_sys::fuzz_target;
use pagefilter::{PageFilter, Stats};

const DIRECT: u64 = 0xffff_8880_0000_0000;

/// Generation-specific keys: 6.12 (PGTY), 6.9 (hugetlb type), 6.6
/// (PG_hugetlb), 5.10 (page_type, dtor), 4.14 (u16 fields), 2.6.30
/// (PG_buddy).
fn generation(sel: u8) -> &'static str {
    match sel % 6 {
        0 => {
            "OSRELEASE=6.12.0\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-268435456\n\
NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-251658240\nNUMBER(PAGE_SLAB_MAPCOUNT_VALUE)=-184549376\n\
NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)=-201326592\nNUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)=-150994944\n"
        }
        1 => {
            "OSRELEASE=6.9.0\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\nNUMBER(PG_slab)=7\n\
NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-257\nNUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)=-2049\n"
        }
        2 => {
            "OSRELEASE=6.6.0\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\nNUMBER(PG_slab)=7\n\
NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-257\nNUMBER(PG_hugetlb)=8\n"
        }
        3 => {
            "OSRELEASE=5.10.0\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\nNUMBER(PG_slab)=9\n\
NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)=-257\nOFFSET(page.compound_dtor)=16\n\
OFFSET(page.compound_order)=17\nNUMBER(HUGETLB_PAGE_DTOR)=2\n"
        }
        4 => {
            "OSRELEASE=4.14.0\nNUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-128\nNUMBER(PG_slab)=7\n\
OFFSET(page.compound_dtor)=16\nOFFSET(page.compound_order)=18\nNUMBER(HUGETLB_PAGE_DTOR)=2\n"
        }
        _ => "OSRELEASE=2.6.30\nNUMBER(PG_buddy)=19\nNUMBER(PG_slab)=7\n",
    }
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 16 {
        return;
    }
    let (p, memory) = data.split_at(16);
    let u16_at = |i: usize| u64::from(u16::from_le_bytes([p[i], p[i + 1]]));
    let extreme = p[1] & 1 != 0;
    let mem_section = DIRECT + u16_at(2) * 8;
    let level = u32::from(p[4] % 32);
    let start = u16_at(5);
    let len = u16_at(7) % 8192;
    let section_bits = 12 + u32::from(p[9] % 16);
    let nr_orders = 1 + p[10] % 16;
    let info = format!(
        "{}PAGESIZE=4096\nSIZE(page)=64\nOFFSET(page.flags)=0\nOFFSET(page.compound_head)=8\n\
OFFSET(page.mapping)=24\nOFFSET(page.private)=40\nOFFSET(page._mapcount)=48\n\
OFFSET(page.lru)=8\nOFFSET(list_head.next)=0\nOFFSET(list_head.prev)=8\n\
LENGTH(zone.free_area)={nr_orders}\nNUMBER(PG_lru)=4\nNUMBER(PG_private)=13\n\
NUMBER(PG_swapcache)=10\nNUMBER(PG_swapbacked)=19\nNUMBER(PG_hwpoison)=23\n\
NUMBER(PG_head_mask)=65536\nSYMBOL(mem_section)={mem_section:x}\nSIZE(mem_section)=16\n\
OFFSET(mem_section.section_mem_map)=0\nNUMBER(SECTION_SIZE_BITS)={section_bits}\n\
NUMBER(MAX_PHYSMEM_BITS)=30\nLENGTH(mem_section)={}\n",
        generation(p[0]),
        if extreme {
            1u64 << (30 - section_bits).saturating_sub(8)
        } else {
            1 << (30 - section_bits)
        },
    );
    let info = VmcoreInfo::parse(info.as_bytes());
    let mut mem = SparseMemory::new(4096);
    mem.write(0, memory);
    // A far page, so that the pfn space has holes and several sections.
    if p[11] != 0 {
        let far = u64::from(p[11]) << 20;
        mem.map_zero(far, far + 4096);
    }
    let hints = Hints {
        direct_map_base: Some(DIRECT),
        elf_machine: Some(addrxlat::EM_X86_64),
        ..Hints::default()
    };
    let Ok(kmem) = KernelMemory::from_vmcoreinfo(&mem, &info, &hints) else {
        return;
    };
    let Ok(mut filter) = PageFilter::new(&kmem, level) else {
        return;
    };
    let mut stats = Stats::default();
    let mut bitmap = vec![0u8; len.div_ceil(8) as usize];
    // Two consecutive ranges (carry-over), then a restart.
    for s in [start, start + len, 0] {
        filter
            .filter_range(s, s + len, &mut bitmap, &mut stats)
            .expect("valid range and bitmap");
    }
    assert_eq!(stats.total(), 3 * len);
    let _ = filter.exclude_zero(memory, &mut stats);
});
