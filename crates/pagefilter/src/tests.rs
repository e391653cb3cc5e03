//! Synthetic machines: `struct page` arrays and mem_section tables built in
//! a [`SparseMemory`], with the VMCOREINFO of several kernel generations.

use crate::{DumpLevel, Error, PageFilter, Stats};
use addrxlat::{KernelMemory, Translate, Translation};
use dumpfile::{PhysicalMemory, SparseMemory, VmcoreInfo};

/// Direct map: every kernel address is `DIRECT + physical`.
const DIRECT: u64 = 0xffff_8880_0000_0000;
/// RAM described by the struct page array: pfns `0..NPFN`.
const NPFN: u64 = 1024;
/// The struct page array (64 bytes each) lives above the RAM it describes.
const MEMMAP_PA: u64 = 0x40_0000;
/// mem_section root array, the first root's sections, and a pointer to
/// the root array (the pre-4.15 meaning of `SYMBOL(mem_section)`).
const ROOTS_PA: u64 = 0x41_0000;
const SECTS_PA: u64 = 0x41_1000;
const PTR_PA: u64 = 0x41_2000;
/// Non-EXTREME flat mem_section array.
const FLAT_PA: u64 = 0x41_3000;

const PG_LRU: u32 = 4;
const PG_SWAPCACHE: u32 = 10;
const PG_PRIVATE: u32 = 13;
const PG_SLAB: u32 = 9;
const PG_SWAPBACKED: u32 = 19;
const PG_HWPOISON: u32 = 23;
const PG_BUDDY_OLD: u32 = 21;
const PG_HUGETLB: u32 = 8; // PG_active: outside the order byte
const HEAD: u64 = 1 << 16;

struct DirectMap;

impl Translate for DirectMap {
    fn translate(&self, _: &dyn PhysicalMemory, va: u64) -> Result<Translation, addrxlat::Error> {
        if va < DIRECT {
            return Err(addrxlat::Error::NoTranslation { va });
        }
        Ok(Translation {
            phys: va - DIRECT,
            page_size: 4096,
        })
    }
}

/// Kernel generations whose encodings differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Gen {
    /// 2.6.30: `PG_buddy` flag, no compound or page-type keys.
    V2_6_30,
    /// 4.14: buddy −128, u16 compound fields, hugetlb dtor id.
    V4_14,
    /// 5.10: page_type era (buddy −129), u8 compound fields.
    V5_10,
    /// 6.6: `PG_hugetlb` in the second page's flags.
    V6_6,
    /// 6.9: hugetlb is a page type.
    V6_9,
    /// 6.10: slab is a page type too, `PG_slab` gone.
    V6_10,
    /// 6.12: `PGTY_* << 24` encodings.
    V6_12,
}

const ALL_GENS: [Gen; 7] = [
    Gen::V2_6_30,
    Gen::V4_14,
    Gen::V5_10,
    Gen::V6_6,
    Gen::V6_9,
    Gen::V6_10,
    Gen::V6_12,
];

fn pgty(t: u32) -> i64 {
    i64::from((t << 24) as i32)
}

impl Gen {
    fn buddy(self) -> Option<i64> {
        match self {
            Gen::V2_6_30 => None,
            Gen::V4_14 => Some(-128),
            Gen::V6_12 => Some(pgty(0xf0)),
            _ => Some(-129),
        }
    }
    fn offline(self) -> Option<i64> {
        match self {
            Gen::V2_6_30 | Gen::V4_14 => None,
            Gen::V6_12 => Some(pgty(0xf1)),
            _ => Some(-257),
        }
    }
    fn slab_type(self) -> Option<i64> {
        match self {
            Gen::V6_10 => Some(-4097),
            Gen::V6_12 => Some(pgty(0xf5)),
            _ => None,
        }
    }
    fn hugetlb_type(self) -> Option<i64> {
        match self {
            Gen::V6_9 | Gen::V6_10 => Some(-2049),
            Gen::V6_12 => Some(pgty(0xf4)),
            _ => None,
        }
    }
    fn compound(self) -> bool {
        self != Gen::V2_6_30
    }

    fn vmcoreinfo(self, mem_section: u64, extreme: bool) -> String {
        let release = match self {
            Gen::V2_6_30 => "2.6.30",
            Gen::V4_14 => "4.14.0",
            Gen::V5_10 => "5.10.0",
            Gen::V6_6 => "6.6.0",
            Gen::V6_9 => "6.9.0",
            Gen::V6_10 => "6.10.0",
            Gen::V6_12 => "6.12.0",
        };
        let mut s = format!(
            "OSRELEASE={release}\nPAGESIZE=4096\nSIZE(page)=64\nOFFSET(page.flags)=0\n\
             OFFSET(page.mapping)=24\nOFFSET(page._mapcount)=48\nOFFSET(page.private)=40\n\
             OFFSET(page.lru)=8\nOFFSET(list_head.next)=0\nOFFSET(list_head.prev)=8\n\
             LENGTH(zone.free_area)=11\nNUMBER(PG_lru)={PG_LRU}\nNUMBER(PG_private)={PG_PRIVATE}\n\
             NUMBER(PG_swapcache)={PG_SWAPCACHE}\n\
             SYMBOL(mem_section)={mem_section:x}\nSIZE(mem_section)=16\n\
             OFFSET(mem_section.section_mem_map)=0\nNUMBER(SECTION_SIZE_BITS)=21\n\
             NUMBER(MAX_PHYSMEM_BITS)=30\nLENGTH(mem_section)={}\n",
            if extreme { 2 } else { 512 }
        );
        let mut add = |k: &str, v: i64| s.push_str(&format!("{k}={v}\n"));
        if self == Gen::V2_6_30 {
            add("NUMBER(PG_buddy)", PG_BUDDY_OLD.into());
            add("NUMBER(PG_slab)", PG_SLAB.into());
            return s;
        }
        add("NUMBER(PG_swapbacked)", PG_SWAPBACKED.into());
        add("NUMBER(PG_hwpoison)", PG_HWPOISON.into());
        add("NUMBER(PG_head_mask)", HEAD as i64);
        add("OFFSET(page.compound_head)", 8);
        for (k, v) in [
            ("NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)", self.buddy()),
            ("NUMBER(PAGE_OFFLINE_MAPCOUNT_VALUE)", self.offline()),
            ("NUMBER(PAGE_SLAB_MAPCOUNT_VALUE)", self.slab_type()),
            ("NUMBER(PAGE_HUGETLB_MAPCOUNT_VALUE)", self.hugetlb_type()),
        ] {
            if let Some(v) = v {
                add(k, v);
            }
        }
        if self.slab_type().is_none() {
            add("NUMBER(PG_slab)", PG_SLAB.into());
        }
        match self {
            Gen::V4_14 => {
                add("OFFSET(page.compound_dtor)", 16);
                add("OFFSET(page.compound_order)", 18);
                add("NUMBER(HUGETLB_PAGE_DTOR)", 2);
            }
            Gen::V5_10 => {
                add("OFFSET(page.compound_dtor)", 16);
                add("OFFSET(page.compound_order)", 17);
                add("NUMBER(HUGETLB_PAGE_DTOR)", 2);
            }
            Gen::V6_6 => add("NUMBER(PG_hugetlb)", PG_HUGETLB.into()),
            _ => {}
        }
        s
    }
}

/// A synthetic machine under construction.
struct Machine {
    mem: SparseMemory,
    gen: Gen,
}

#[derive(Default, Clone, Copy)]
struct Page {
    flags: u64,
    mapping: u64,
    mapcount: u32,
    private: u64,
    compound_head: u64,
}

fn page_va(pfn: u64) -> u64 {
    DIRECT + MEMMAP_PA + pfn * 64
}

impl Machine {
    fn new(gen: Gen) -> Machine {
        let mut mem = SparseMemory::new(4096);
        // RAM, its struct pages (mapcount -1 = ordinary unmapped page) and
        // the section tables.
        mem.map_zero(0, NPFN * 4096);
        // One write for the whole array (SparseMemory rebuilds its range
        // list on every write).
        let mut array = vec![0u8; (NPFN * 64) as usize];
        for p in array.chunks_exact_mut(64) {
            p[48..52].copy_from_slice(&u32::MAX.to_le_bytes());
        }
        mem.write(MEMMAP_PA, &array);
        let mut m = Machine { mem, gen };
        let coded = (DIRECT + MEMMAP_PA) | 0b11;
        m.mem.write_u64(ROOTS_PA, DIRECT + SECTS_PA);
        m.mem.write_u64(ROOTS_PA + 8, 0);
        m.mem.write_u64(PTR_PA, DIRECT + ROOTS_PA);
        for sec in 0..2u64 {
            m.mem.write_u64(SECTS_PA + sec * 16, coded);
            m.mem.write_u64(FLAT_PA + sec * 16, coded);
        }
        m.mem.map_zero(FLAT_PA, FLAT_PA + 512 * 16);
        m
    }

    fn set(&mut self, pfn: u64, p: Page) {
        let a = MEMMAP_PA + pfn * 64;
        self.mem.write_u64(a, p.flags);
        self.mem.write_u64(a + 8, p.compound_head);
        self.mem.write_u64(a + 24, p.mapping);
        self.mem.write_u64(a + 40, p.private);
        self.mem.write_u32(a + 48, p.mapcount);
    }

    fn buddy(&mut self, pfn: u64, order: u64) {
        let p = match self.gen.buddy() {
            Some(v) => Page {
                mapcount: v as u32,
                private: order,
                ..Page::default()
            },
            None => Page {
                flags: 1 << PG_BUDDY_OLD,
                private: order,
                mapcount: u32::MAX,
                ..Page::default()
            },
        };
        self.set(pfn, p);
    }

    /// A compound page of `1 << order` frames; `huge` marks it hugetlb the
    /// way this generation does.
    fn compound(&mut self, pfn: u64, order: u64, head: Page, huge: bool) {
        let gen = self.gen;
        let mut head = head;
        head.flags |= HEAD;
        if huge {
            if let Some(v) = gen.hugetlb_type() {
                head.mapcount = v as u32;
            }
        }
        self.set(pfn, head);
        for t in 1..(1u64 << order) {
            self.set(
                pfn + t,
                Page {
                    compound_head: page_va(pfn) | 1,
                    mapcount: u32::MAX,
                    ..Page::default()
                },
            );
        }
        let second = MEMMAP_PA + (pfn + 1) * 64;
        match gen {
            Gen::V4_14 => {
                self.mem.write(second + 16, &[if huge { 2 } else { 3 }, 0]);
                self.mem.write(second + 18, &(order as u16).to_le_bytes());
            }
            Gen::V5_10 => self
                .mem
                .write(second + 16, &[if huge { 2 } else { 3 }, order as u8]),
            _ => {
                let huge_flag = if huge && gen == Gen::V6_6 {
                    1 << PG_HUGETLB
                } else {
                    0
                };
                self.mem.write_u64(second, order | huge_flag);
            }
        }
    }

    /// The standard population used by the level tests.
    fn populate(&mut self) {
        let file = 0xffff_8880_1234_5000u64;
        self.buddy(8, 3);
        self.set(
            16,
            Page {
                flags: 1 << PG_LRU,
                mapping: file,
                mapcount: u32::MAX,
                ..Page::default()
            },
        );
        self.set(
            17,
            Page {
                flags: 1 << PG_LRU | 1 << PG_PRIVATE,
                mapping: file,
                mapcount: u32::MAX,
                ..Page::default()
            },
        );
        self.set(
            18,
            Page {
                flags: 1 << PG_LRU | 1 << PG_SWAPBACKED,
                mapping: file | 1,
                mapcount: 0,
                ..Page::default()
            },
        );
        // Slab: struct slab reuses the mapping word; bit 0 must not read
        // as PAGE_MAPPING_ANON.
        let slab = match self.gen.slab_type() {
            Some(v) => Page {
                mapping: file | 1,
                mapcount: v as u32,
                ..Page::default()
            },
            None => Page {
                flags: 1 << PG_SLAB,
                mapping: file | 1,
                mapcount: u32::MAX,
                ..Page::default()
            },
        };
        self.set(19, slab);
        self.set(
            20,
            Page {
                flags: 1 << PG_HWPOISON,
                mapcount: u32::MAX,
                ..Page::default()
            },
        );
        if let Some(v) = self.gen.offline() {
            self.set(
                21,
                Page {
                    mapcount: v as u32,
                    ..Page::default()
                },
            );
        }
        self.set(
            22,
            Page {
                flags: 1 << PG_SWAPCACHE | 1 << PG_SWAPBACKED,
                mapping: file,
                mapcount: u32::MAX,
                ..Page::default()
            },
        );
        // PG_swapcache without PG_swapbacked is PG_owner_priv_1: not cache.
        self.set(
            23,
            Page {
                flags: 1 << PG_SWAPCACHE,
                mapping: file,
                mapcount: u32::MAX,
                ..Page::default()
            },
        );
        // Anonymous THP and a hugetlb page.
        self.compound(
            32,
            3,
            Page {
                flags: 1 << PG_LRU,
                mapping: file | 1,
                mapcount: 0,
                ..Page::default()
            },
            false,
        );
        self.compound(
            64,
            6,
            Page {
                mapping: file,
                mapcount: u32::MAX,
                ..Page::default()
            },
            true,
        );
        // Inconsistent buddies: order too large, misaligned.
        self.buddy(256, 11);
        self.buddy(258, 2);
        // A big free block that straddles filter_range calls.
        self.buddy(512, 9);
    }

    fn info(&self, pointer_form: bool, extreme: bool) -> VmcoreInfo {
        let sym = match (extreme, pointer_form) {
            (false, _) => DIRECT + FLAT_PA,
            (true, false) => DIRECT + ROOTS_PA,
            (true, true) => DIRECT + PTR_PA,
        };
        VmcoreInfo::parse(self.gen.vmcoreinfo(sym, extreme).as_bytes())
    }
}

/// Run the filter over `[0, max_pfn)` in calls of `chunk` pfns.
fn run(m: &Machine, info: &VmcoreInfo, level: u32, chunk: u64) -> (Vec<bool>, Stats) {
    let kmem = KernelMemory::new(&m.mem, info, DirectMap);
    let mut f = PageFilter::new(&kmem, level).expect("filter");
    let max = f.max_pfn();
    let mut keep = Vec::new();
    let mut stats = Stats::default();
    let mut bitmap = vec![0u8; chunk.div_ceil(8) as usize];
    let mut start = 0;
    while start < max {
        let end = (start + chunk).min(max);
        f.filter_range(start, end, &mut bitmap, &mut stats)
            .expect("range");
        keep.extend((0..end - start).map(|i| bitmap[(i / 8) as usize] >> (i % 8) & 1 != 0));
        start = end;
    }
    assert_eq!(stats.total(), max);
    (keep, stats)
}

/// What makedumpfile keeps of `Machine::populate` at `level`.
fn expected(gen: Gen, level: u32) -> Vec<bool> {
    let l = DumpLevel::new(level).unwrap();
    let mut ex = vec![false; NPFN as usize];
    let mut excl = |r: std::ops::Range<usize>| r.for_each(|p| ex[p] = true);
    if l.free() {
        excl(8..16);
        excl(512..1024);
    }
    if l.cache() || l.cache_private() {
        excl(16..17);
        excl(22..23);
        if gen == Gen::V2_6_30 {
            // No PG_swapbacked: PG_swapcache alone means swap cache.
            excl(23..24);
        }
    }
    if l.cache_private() {
        excl(17..18);
    }
    if l.user() {
        excl(18..19);
        if gen.compound() {
            excl(32..40);
            excl(64..128);
        } else {
            excl(32..33);
        }
    }
    if gen != Gen::V2_6_30 {
        excl(20..21);
    }
    if gen.offline().is_some() && gen != Gen::V2_6_30 {
        excl(21..22);
    }
    ex.into_iter().map(|e| !e).collect()
}

#[test]
fn every_generation_matches_makedumpfile_rules() {
    for gen in ALL_GENS {
        let mut m = Machine::new(gen);
        m.populate();
        let info = m.info(false, true);
        for level in [0, 1, 2, 4, 8, 16, 31] {
            let (keep, stats) = run(&m, &info, level, 100);
            let want = expected(gen, level);
            for pfn in 0..NPFN as usize {
                assert_eq!(keep[pfn], want[pfn], "{gen:?} level {level} pfn {pfn}");
            }
            if level & 16 != 0 {
                assert_eq!(stats.free, 8 + 512, "{gen:?}");
                assert_eq!(stats.inconsistent, 2, "{gen:?}: order 11 and misaligned");
            }
        }
    }
}

#[test]
fn chunking_does_not_change_the_result() {
    let mut m = Machine::new(Gen::V6_12);
    m.populate();
    let info = m.info(false, true);
    let (one, s1) = run(&m, &info, 31, 1 << 20);
    for chunk in [1, 7, 64, 513] {
        let (k, s) = run(&m, &info, 31, chunk);
        assert_eq!(k, one, "chunk {chunk}");
        assert_eq!(s, s1, "chunk {chunk}");
    }
}

#[test]
fn restarting_drops_the_carried_exclusion() {
    let mut m = Machine::new(Gen::V5_10);
    m.populate();
    let info = m.info(false, true);
    let kmem = KernelMemory::new(&m.mem, &info, DirectMap);
    let mut f = PageFilter::new(&kmem, 16).unwrap();
    let mut s = Stats::default();
    let mut b = [0u8; 8];
    f.filter_range(512, 520, &mut b, &mut s).unwrap();
    assert_eq!(b[0], 0);
    // Not a continuation of 512..520: pfn 600 is examined on its own
    // (an ordinary page) instead of inheriting the block.
    f.filter_range(600, 608, &mut b, &mut s).unwrap();
    assert_eq!(b[0], 0xff);
    // A second pass from the start (the writer's count-then-write) gives
    // the same answer as the first.
    let mut b2 = [0u8; 128];
    f.filter_range(0, 1024, &mut b2, &mut s).unwrap();
    let mut b3 = [0u8; 128];
    f.filter_range(0, 1024, &mut b3, &mut s).unwrap();
    assert_eq!(b2, b3);
}

#[test]
fn mem_section_pointer_array_and_flat_forms() {
    let mut m = Machine::new(Gen::V6_9);
    m.populate();
    let want = expected(Gen::V6_9, 31);
    for (pointer, extreme) in [(false, true), (true, true), (false, false)] {
        let info = m.info(pointer, extreme);
        let (keep, _) = run(&m, &info, 31, 4096);
        assert_eq!(
            &keep[..NPFN as usize],
            &want[..],
            "pointer {pointer} extreme {extreme}"
        );
    }
}

#[test]
fn flatmem_mem_map() {
    let mut m = Machine::new(Gen::V5_10);
    m.populate();
    m.mem.write_u64(PTR_PA + 8, DIRECT + MEMMAP_PA);
    let text = Gen::V5_10
        .vmcoreinfo(0, true)
        .lines()
        .filter(|l| !l.contains("mem_section"))
        .map(|l| format!("{l}\n"))
        .collect::<String>()
        + &format!("SYMBOL(mem_map)={:x}\n", DIRECT + PTR_PA + 8);
    let info = VmcoreInfo::parse(text.as_bytes());
    let (keep, _) = run(&m, &info, 31, 256);
    assert_eq!(&keep[..NPFN as usize], &expected(Gen::V5_10, 31)[..]);
}

#[test]
fn frames_beyond_mem_map_and_unreadable_struct_pages_are_kept() {
    let mut m = Machine::new(Gen::V6_12);
    m.populate();
    // Section 1's struct pages point into a hole.
    m.mem.write_u64(SECTS_PA + 16, (DIRECT + 0x100_0000) | 0b11);
    let info = m.info(false, true);
    let (keep, stats) = run(&m, &info, 31, 300);
    assert!(keep[512..1024].iter().all(|&k| k));
    assert_eq!(stats.unreadable, 512);
    // The metadata pages above RAM have no section: kept, not tested.
    assert!(stats.no_mem_map > 0);
    assert!(!keep[8]);
}

#[test]
fn unaccepted_blocks_are_free() {
    let mut m = Machine::new(Gen::V6_12);
    let v = pgty(0xf7);
    m.set(
        4,
        Page {
            mapcount: v as u32,
            ..Page::default()
        },
    );
    m.set(
        10,
        Page {
            mapcount: v as u32,
            ..Page::default()
        },
    ); // misaligned
    let text = Gen::V6_12.vmcoreinfo(DIRECT + ROOTS_PA, true).replace(
        "LENGTH(zone.free_area)=11",
        &format!("LENGTH(zone.free_area)=3\nNUMBER(PAGE_UNACCEPTED_MAPCOUNT_VALUE)={v}"),
    );
    let info = VmcoreInfo::parse(text.as_bytes());
    let (keep, stats) = run(&m, &info, 16, 64);
    assert_eq!(
        &keep[..12],
        &[true, true, true, true, false, false, false, false, true, true, true, true]
    );
    assert_eq!(stats.unaccepted, 4);
    assert_eq!(stats.inconsistent, 1);
    let (keep, _) = run(&m, &info, 15, 64);
    assert!(keep[4]);
}

#[test]
fn differs_misaligned_buddy_is_kept() {
    // makedumpfile would exclude 258..262 (only the order is checked).
    let mut m = Machine::new(Gen::V5_10);
    m.buddy(258, 2);
    let (keep, stats) = run(&m, &m.info(false, true), 16, 1024);
    assert!(keep[258..262].iter().all(|&k| k));
    assert_eq!(stats.inconsistent, 1);
}

#[test]
fn differs_absurd_compound_order_covers_the_head_only() {
    // Order 31 at pfn 0 is aligned; makedumpfile would exclude 2^31 frames.
    let mut m = Machine::new(Gen::V6_9);
    m.compound(
        0,
        1,
        Page {
            mapping: 1,
            mapcount: 0,
            ..Page::default()
        },
        false,
    );
    m.mem.write_u64(MEMMAP_PA + 64, 31);
    let (keep, stats) = run(&m, &m.info(false, true), 8, 1024);
    assert!(!keep[0]);
    assert!(keep[2..NPFN as usize].iter().all(|&k| k));
    assert_eq!(stats.user, 1);
}

#[test]
fn differs_no_pg_slab_means_no_slab_flag() {
    // 6.12 exports no PG_slab; makedumpfile then tests bit 63 of flags
    // (node id bits) and would take this buddy page for slab and keep it.
    let mut m = Machine::new(Gen::V6_12);
    m.buddy(8, 3);
    let a = MEMMAP_PA + 8 * 64;
    m.mem.write_u64(a, 1 << 63);
    let (keep, _) = run(&m, &m.info(false, true), 16, 1024);
    assert!(keep[8..16].iter().all(|&k| !k));
}

#[test]
fn differs_unknown_pg_private_counts_as_private() {
    let mut m = Machine::new(Gen::V5_10);
    m.set(
        16,
        Page {
            flags: 1 << PG_LRU,
            mapping: 0x1000,
            mapcount: u32::MAX,
            ..Page::default()
        },
    );
    let text = Gen::V5_10
        .vmcoreinfo(DIRECT + ROOTS_PA, true)
        .replace(&format!("NUMBER(PG_private)={PG_PRIVATE}\n"), "");
    let info = VmcoreInfo::parse(text.as_bytes());
    assert!(run(&m, &info, 2, 1024).0[16]);
    assert!(!run(&m, &info, 4, 1024).0[16]);
}

#[test]
fn page_types_compare_whole_words() {
    // 6.12 buddy type with low bits set is not recognised: kept.
    let mut m = Machine::new(Gen::V6_12);
    m.set(
        8,
        Page {
            mapcount: (pgty(0xf0) as u32) | 5,
            private: 3,
            ..Page::default()
        },
    );
    assert!(run(&m, &m.info(false, true), 31, 1024).0[8]);
}

#[test]
fn missing_keys() {
    let m = Machine::new(Gen::V6_12);
    let text = Gen::V6_12
        .vmcoreinfo(DIRECT + ROOTS_PA, true)
        .replace("SIZE(page)=64\n", "");
    let info = VmcoreInfo::parse(text.as_bytes());
    let kmem = KernelMemory::new(&m.mem, &info, DirectMap);
    assert!(matches!(
        PageFilter::new(&kmem, 31),
        Err(Error::MissingKey { .. })
    ));
    // Levels 0 and 1 degrade to "keep everything".
    let f = PageFilter::new(&kmem, 1).unwrap();
    assert!(!f.notes().is_empty());
    let empty = VmcoreInfo::parse(b"");
    let kmem = KernelMemory::new(&m.mem, &empty, DirectMap);
    assert!(PageFilter::new(&kmem, 0).is_ok());
    assert!(PageFilter::new(&kmem, 16).is_err());
}

#[test]
fn bad_arguments() {
    let m = Machine::new(Gen::V6_12);
    let info = m.info(false, true);
    let kmem = KernelMemory::new(&m.mem, &info, DirectMap);
    assert_eq!(
        PageFilter::new(&kmem, 32).unwrap_err(),
        Error::InvalidLevel(32)
    );
    let mut f = PageFilter::new(&kmem, 31).unwrap();
    let mut s = Stats::default();
    assert!(matches!(
        f.filter_range(0, 17, &mut [0u8; 2], &mut s),
        Err(Error::BitmapTooSmall { .. })
    ));
    assert!(matches!(
        f.filter_range(5, 4, &mut [0u8; 2], &mut s),
        Err(Error::BadRange { .. })
    ));
    // Bits past the range are left alone.
    let mut b = [0xffu8; 2];
    f.filter_range(8, 12, &mut b, &mut s).unwrap();
    assert_eq!(b[1], 0xff);
}

#[test]
fn zero_pages_need_bit_one() {
    let m = Machine::new(Gen::V6_12);
    let info = m.info(false, true);
    let kmem = KernelMemory::new(&m.mem, &info, DirectMap);
    let mut s = Stats {
        kept: 2,
        ..Stats::default()
    };
    let page = [0u8; 4096];
    assert!(PageFilter::new(&kmem, 1)
        .unwrap()
        .exclude_zero(&page, &mut s));
    assert_eq!((s.kept, s.zero), (1, 1));
    assert!(!PageFilter::new(&kmem, 30)
        .unwrap()
        .exclude_zero(&page, &mut s));
    let mut nz = [0u8; 4096];
    nz[100] = 1;
    assert!(!PageFilter::new(&kmem, 31)
        .unwrap()
        .exclude_zero(&nz, &mut s));
}
