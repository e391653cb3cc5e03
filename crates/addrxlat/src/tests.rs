//! Translation tests against real page tables built in [`SparseMemory`].

use super::*;
use dumpfile::SparseMemory;
use std::sync::atomic::{AtomicUsize, Ordering};
use x86_64::{START_KERNEL_MAP, X86_64};

const KB4: u64 = 4096;
const MB2: u64 = 2 << 20;
const GB1: u64 = 1 << 30;
/// Entry flags a kernel mapping carries: present, writable, accessed, dirty.
const FLAGS: u64 = 0x63;

/// Builds x86_64 page tables the way the kernel lays them out.
struct PageTables {
    mem: SparseMemory,
    top: u64,
    next_free: u64,
    five_level: bool,
    /// C-bit ORed into every entry, as SME does.
    sme: u64,
}

impl PageTables {
    fn new(five_level: bool, sme: u64) -> PageTables {
        let mut mem = SparseMemory::new(KB4);
        let top = 0x10_0000;
        mem.map_zero(top, top + KB4);
        PageTables {
            mem,
            top,
            next_free: top + KB4,
            five_level,
            sme,
        }
    }

    fn alloc_table(&mut self) -> u64 {
        let t = self.next_free;
        self.next_free += KB4;
        self.mem.map_zero(t, t + KB4);
        t
    }

    fn read(&self, addr: u64) -> u64 {
        self.mem.read_phys_u64(addr).unwrap()
    }

    /// Map one page of `size` (4K, 2M or 1G) at `va` to `pa`.
    fn map(&mut self, va: u64, pa: u64, size: u64) {
        let shifts: &[u32] = if self.five_level {
            &[48, 39, 30, 21, 12]
        } else {
            &[39, 30, 21, 12]
        };
        let mut table = self.top;
        for &shift in shifts {
            let slot = table + ((va >> shift) & 0x1ff) * 8;
            if 1u64 << shift == size {
                let pse = if size > KB4 { 0x80 } else { 0 };
                self.mem.write_u64(slot, pa | FLAGS | pse | self.sme);
                return;
            }
            let e = self.read(slot);
            table = if e & 1 != 0 {
                e & 0x000f_ffff_ffff_f000 & !self.sme
            } else {
                let t = self.alloc_table();
                self.mem.write_u64(slot, t | FLAGS | self.sme);
                t
            };
        }
        panic!("bad page size {size:#x}");
    }

    fn translator(&self) -> X86_64 {
        X86_64 {
            phys_base: None,
            kernel_image_size: GB1,
            direct_map_base: None,
            direct_map_size: 1 << 46,
            top_table: Some(self.top),
            five_level: self.five_level,
            sme_mask: self.sme,
        }
    }
}

fn xlat(t: &X86_64, mem: &SparseMemory, va: u64) -> Result<u64, Error> {
    t.translate(mem, va).map(|x| x.phys)
}

#[test]
fn four_level_4k_2m_1g_pages() {
    let mut pt = PageTables::new(false, 0);
    let va4k = 0xffff_c900_0012_3000;
    let va2m = 0xffff_c900_4000_0000;
    let va1g = 0xffff_8880_0000_0000;
    pt.map(va4k, 0x7654_3000, KB4);
    pt.map(va2m, 0x4_0020_0000, MB2);
    pt.map(va1g, 0x8000_0000, GB1);
    let t = pt.translator();
    assert_eq!(xlat(&t, &pt.mem, va4k + 0xabc), Ok(0x7654_3abc));
    assert_eq!(xlat(&t, &pt.mem, va2m + 0x1_2345), Ok(0x4_0021_2345));
    assert_eq!(xlat(&t, &pt.mem, va1g + 0x3fff_fff8), Ok(0xbfff_fff8));
    assert_eq!(t.translate(&pt.mem, va2m).unwrap().page_size, MB2);
    assert_eq!(t.translate(&pt.mem, va1g).unwrap().page_size, GB1);
    assert_eq!(t.translate(&pt.mem, va4k).unwrap().page_size, KB4);
}

#[test]
fn unmapped_entries_name_their_level() {
    let mut pt = PageTables::new(false, 0);
    let va = 0xffff_c900_0012_3000;
    pt.map(va, 0x7654_3000, KB4);
    let t = pt.translator();
    let at = |va| xlat(&t, &pt.mem, va);
    // Next 4K page: PTE missing.
    assert_eq!(
        at(va + KB4),
        Err(Error::NotMapped {
            va: va + KB4,
            level: Level::Pte
        })
    );
    // Next 2M region: PMD entry missing.
    assert!(matches!(
        at(va + MB2),
        Err(Error::NotMapped {
            level: Level::Pmd,
            ..
        })
    ));
    // Next 1G region: PUD entry missing.
    assert!(matches!(
        at(va + GB1),
        Err(Error::NotMapped {
            level: Level::Pud,
            ..
        })
    ));
    // Another 512G slot: PML4 entry missing.
    assert!(matches!(
        at(0xffff_8000_0000_0000),
        Err(Error::NotMapped {
            level: Level::Pml4,
            ..
        })
    ));
}

#[test]
fn five_level_walk_and_canonical_hole() {
    let mut pt = PageTables::new(true, 0);
    // Only reachable with 5-level paging: bit 56 set, bits 47..55 varied.
    let va = 0xff11_2345_6780_0000;
    pt.map(va, 0x1234_0000_0000 & !(MB2 - 1), MB2);
    let va4k = 0xff7f_ff00_0000_5000;
    pt.map(va4k, 0x9000, KB4);
    let t = pt.translator();
    assert_eq!(
        xlat(&t, &pt.mem, va + 0x42),
        Ok((0x1234_0000_0000 & !(MB2 - 1)) + 0x42)
    );
    assert_eq!(xlat(&t, &pt.mem, va4k + 1), Ok(0x9001));
    assert!(matches!(
        xlat(&t, &pt.mem, 0xff00_0000_0000_0000),
        Err(Error::NotMapped {
            level: Level::Pml5,
            ..
        })
    ));
    // Canonical for 5-level, but not for 4-level.
    let four = X86_64 {
        five_level: false,
        ..t.clone()
    };
    assert_eq!(xlat(&four, &pt.mem, va), Err(Error::NonCanonical { va }));
    assert_eq!(
        xlat(&t, &pt.mem, 0x0100_0000_0000_0000),
        Err(Error::NonCanonical {
            va: 0x0100_0000_0000_0000
        })
    );
}

#[test]
fn non_canonical_4_level() {
    let pt = PageTables::new(false, 0);
    let t = pt.translator();
    for va in [
        0x0000_8000_0000_0000u64,
        0xfff0_0000_0000_0000,
        0x7fff_0000_0000_0000,
    ] {
        assert_eq!(xlat(&t, &pt.mem, va), Err(Error::NonCanonical { va }));
    }
    // Canonical user half and kernel half reach the table.
    assert!(matches!(
        xlat(&t, &pt.mem, 0x7fff_ffff_f000),
        Err(Error::NotMapped { .. })
    ));
}

#[test]
fn sme_mask_is_cleared_from_entries() {
    let sme = 1u64 << 47;
    let mut pt = PageTables::new(false, sme);
    let va = 0xffff_c900_0000_1000;
    pt.map(va, 0x5000, KB4);
    let va2m = 0xffff_c900_0060_0000;
    pt.map(va2m, 0x20_0000, MB2);
    let t = pt.translator();
    assert_eq!(xlat(&t, &pt.mem, va + 8), Ok(0x5008));
    assert_eq!(xlat(&t, &pt.mem, va2m + 8), Ok(0x20_0008));
    // Without the mask the walk follows the C-bit into a hole.
    let blind = X86_64 { sme_mask: 0, ..t };
    assert!(matches!(
        xlat(&blind, &pt.mem, va),
        Err(Error::PageTableRead {
            level: Level::Pud,
            ..
        })
    ));
}

#[test]
fn large_page_pat_bit_is_not_address() {
    let mut pt = PageTables::new(false, 0);
    let va = 0xffff_c900_0060_0000;
    pt.map(va, 0x20_0000, MB2);
    // Set the PAT bit (12) of the PMD entry by hand.
    let pud_e = {
        let pml4 = pt.read(pt.top + ((va >> 39) & 0x1ff) * 8) & 0x000f_ffff_ffff_f000;
        pt.read(pml4 + ((va >> 30) & 0x1ff) * 8) & 0x000f_ffff_ffff_f000
    };
    let slot = pud_e + ((va >> 21) & 0x1ff) * 8;
    let e = pt.read(slot);
    pt.mem.write_u64(slot, e | 0x1000);
    assert_eq!(xlat(&pt.translator(), &pt.mem, va + 0x10), Ok(0x20_0010));
}

fn vmcoreinfo(extra: &str) -> VmcoreInfo {
    VmcoreInfo::parse(format!("OSRELEASE=6.1.0\nPAGESIZE=4096\n{extra}").as_bytes())
}

#[test]
fn top_table_found_through_text_mapping() {
    // Image loaded at physical 0x100_0000 + phys_base; init_top_pgt is a
    // symbol in the image; build the table at its physical address.
    let phys_base: u64 = 0x3a00_0000;
    let sym = 0xffff_ffff_8300_0000u64; // init_top_pgt
    let top_pa = sym - START_KERNEL_MAP + phys_base;
    let mut pt = PageTables::new(false, 0);
    pt.top = top_pa;
    pt.mem.map_zero(top_pa, top_pa + KB4);
    let va = 0xffff_a000_0000_3000;
    pt.map(va, 0x6000, KB4);
    for key in ["init_top_pgt", "init_level4_pgt"] {
        let info = vmcoreinfo(&format!(
            "SYMBOL({key})={sym:x}\nNUMBER(phys_base)={phys_base}\n"
        ));
        let arch = Arch::detect(&info, &Hints::default()).unwrap();
        let Arch::X86_64(ref x) = arch;
        assert_eq!(x.top_table, Some(top_pa));
        assert_eq!(arch.translate(&pt.mem, va + 3).unwrap().phys, 0x6003);
        // Text mapping needs no walk.
        assert_eq!(
            arch.translate(&pt.mem, 0xffff_ffff_8100_0010).unwrap().phys,
            0x100_0010 + phys_base
        );
    }
}

#[test]
fn negative_phys_base_and_image_window() {
    let info = vmcoreinfo(
        "SYMBOL(init_top_pgt)=ffffffff9a00a000\nNUMBER(phys_base)=-1860173824\nNUMBER(KERNEL_IMAGE_SIZE)=1073741824\n",
    );
    let x = X86_64::new(&info, &Hints::default());
    let pb = -1860173824i64 as u64;
    assert_eq!(
        x.text_phys(0xffff_ffff_9a00_a000),
        Some(0x1a00_a000u64.wrapping_add(pb))
    );
    assert_eq!(x.text_phys(0xffff_ffff_c000_0000), None);
    assert_eq!(x.text_phys(0xffff_ffff_7fff_ffff), None);
}

#[test]
fn direct_map_hint_and_cr3_hint() {
    let mut pt = PageTables::new(false, 0);
    let va = 0xffff_c900_0000_1000;
    pt.map(va, 0x5000, KB4);
    let hints = Hints {
        direct_map_base: Some(0xffff_8880_0000_0000),
        // PCID bits in the low 12 bits must be ignored.
        cr3: Some(pt.top | 0x5),
        ..Hints::default()
    };
    let arch = Arch::detect(&VmcoreInfo::default(), &hints).unwrap();
    assert_eq!(arch.translate(&pt.mem, va).unwrap().phys, 0x5000);
    assert_eq!(
        arch.translate(&pt.mem, 0xffff_8880_1234_5678).unwrap().phys,
        0x1234_5678
    );
    // No VMCOREINFO, no hints: the architecture is unknown.
    assert!(matches!(
        Arch::detect(&VmcoreInfo::default(), &Hints::default()),
        Err(Error::UnsupportedArch(_))
    ));
    let arm = vmcoreinfo("NUMBER(VA_BITS)=48\nNUMBER(kimage_voffset)=0xffff800000000000\n");
    assert!(matches!(
        Arch::detect(&arm, &Hints::default()),
        Err(Error::UnsupportedArch(_))
    ));
}

#[test]
fn no_page_table_means_no_translation() {
    let info = vmcoreinfo("NUMBER(phys_base)=0\n");
    let x = X86_64::new(&info, &Hints::default());
    let mem = SparseMemory::new(KB4);
    assert_eq!(
        xlat(&x, &mem, 0xffff_c900_0000_0000),
        Err(Error::NoTranslation {
            va: 0xffff_c900_0000_0000
        })
    );
}

/// Counts how often the wrapped translator is asked.
struct Counting<'a>(&'a X86_64, &'a AtomicUsize);

impl Translate for Counting<'_> {
    fn translate(&self, mem: &dyn PhysicalMemory, va: u64) -> Result<Translation, Error> {
        self.1.fetch_add(1, Ordering::Relaxed);
        self.0.translate(mem, va)
    }
}

#[test]
fn kernel_memory_reads_across_scattered_pages_with_cache() {
    let mut pt = PageTables::new(false, 0);
    let va = 0xffff_c900_0000_0000u64;
    // Three virtually contiguous pages backed by scattered frames.
    let frames = [0x9000u64, 0x3000, 0x50_0000];
    for (i, &f) in frames.iter().enumerate() {
        pt.map(va + i as u64 * KB4, f, KB4);
        let fill: Vec<u8> = (0..KB4).map(|j| (i as u64 * 7 + j) as u8).collect();
        pt.mem.write(f, &fill);
    }
    let t = pt.translator();
    let info = vmcoreinfo("SYMBOL(prb)=ffffffff82000000\n");
    let calls = AtomicUsize::new(0);
    let km = KernelMemory::new(&pt.mem, &info, Counting(&t, &calls));
    let mut buf = vec![0u8; 2 * KB4 as usize + 90];
    km.read_virt(va + 4000, &mut buf).unwrap();
    for (k, &b) in buf.iter().enumerate() {
        let off = 4000 + k as u64;
        let i = off / KB4;
        assert_eq!(b, (i * 7 + off % KB4) as u8, "byte {k}");
    }
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    // Sequential small reads in the same pages hit the cache.
    for k in 0..100u64 {
        km.read_u64(va + k * 8).unwrap();
    }
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(km.read_u8(va + KB4).unwrap(), 7);
    assert_eq!(km.read_u16(va).unwrap(), 0x0100);
    assert_eq!(km.read_u32(va).unwrap(), 0x0302_0100);
    assert_eq!(km.symbol("prb"), Ok(0xffff_ffff_8200_0000));
    let e = km.symbol("log_buf").unwrap_err();
    assert!(e.to_string().contains("SYMBOL(log_buf)"), "{e}");
    // Reading into the unmapped 4th page names the failing address.
    assert_eq!(
        km.read_virt(va + 3 * KB4 - 4, &mut [0u8; 8]),
        Err(Error::NotMapped {
            va: va + 3 * KB4,
            level: Level::Pte
        })
    );
    assert!(matches!(
        km.read_virt(u64::MAX - 2, &mut [0u8; 8]),
        Err(Error::Overflow { .. })
    ));
}

#[test]
fn physical_read_error_is_wrapped() {
    let mut pt = PageTables::new(false, 0);
    let va = 0xffff_c900_0000_0000u64;
    // Mapped to a frame that is a hole in the dump.
    pt.map(va, 0x7777_0000, KB4);
    let t = pt.translator();
    let info = VmcoreInfo::default();
    let km = KernelMemory::new(&pt.mem, &info, t);
    match km.read_virt(va + 16, &mut [0u8; 4]) {
        Err(Error::Read { va: v, source }) => {
            assert_eq!(v, va + 16);
            assert_eq!(source.addr(), 0x7777_0010);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn kernel_memory_from_vmcoreinfo_uses_text_mapping() {
    let mut mem = SparseMemory::new(KB4);
    mem.write_u64(0x200_0008 + 0x1000_0000, 0xdead_beef);
    let info = vmcoreinfo("NUMBER(phys_base)=268435456\nSYMBOL(init_top_pgt)=ffffffff82a00000\n");
    let km = KernelMemory::from_vmcoreinfo(&mem, &info, &Hints::default()).unwrap();
    assert_eq!(km.read_u64(0xffff_ffff_8200_0008), Ok(0xdead_beef));
}
