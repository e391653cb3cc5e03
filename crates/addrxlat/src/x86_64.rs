//! x86_64 kernel address translation.
//!
//! Three methods, tried cheapest first:
//! 1. the kernel text mapping: `va - __START_KERNEL_map + phys_base` for the
//!    image window (needs `NUMBER(phys_base)` or a caller hint);
//! 2. the direct map, when the caller knows its base (an ELF vmcore's
//!    System-RAM `PT_LOAD` gives it as `p_vaddr - p_paddr`; the base is
//!    randomized and not in VMCOREINFO);
//! 3. a walk of the kernel page tables from `init_top_pgt` (4 or 5 levels,
//!    1 GiB and 2 MiB pages, AMD SME C-bit cleared from every entry).
//!
//! The top table's physical address is computed through the text mapping
//! (as drgn and makedumpfile do) so the walk never needs itself; a CR3 value
//! can replace it for dumps without VMCOREINFO.

use crate::error::{Error, Level};
use crate::{Hints, Translate, Translation};
use dumpfile::{PhysicalMemory, VmcoreInfo};

/// `__START_KERNEL_map`: virtual base of the kernel image mapping.
pub const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// Default `KERNEL_IMAGE_SIZE` when VMCOREINFO lacks it (1 GiB, the KASLR
/// value; makedumpfile uses the same default).
pub const DEFAULT_KERNEL_IMAGE_SIZE: u64 = 1 << 30;
/// Physical-address bits of a page-table entry (bits 12..51).
const PTE_ADDR_MASK: u64 = 0x000f_ffff_ffff_f000;
const PRESENT: u64 = 1 << 0;
/// Page-size bit: a 1 GiB page at PUD level, a 2 MiB page at PMD level.
const PSE: u64 = 1 << 7;

/// Translation parameters of an x86_64 kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct X86_64 {
    /// `phys_base`: physical shift of the kernel image; `None` disables the
    /// text mapping.
    pub phys_base: Option<u64>,
    /// Size of the kernel image window above `__START_KERNEL_map`.
    pub kernel_image_size: u64,
    /// Base of the direct map (`page_offset_base`), when known.
    pub direct_map_base: Option<u64>,
    /// Size of the direct map window (`1 << MAX_PHYSMEM_BITS`).
    pub direct_map_size: u64,
    /// Physical address of the top-level page table, when known.
    pub top_table: Option<u64>,
    /// True with 5-level paging (LA57).
    pub five_level: bool,
    /// AMD SME/SEV C-bit mask, cleared from every page-table entry.
    pub sme_mask: u64,
}

impl X86_64 {
    /// Build the translator from VMCOREINFO plus caller hints.
    ///
    /// Hints win over VMCOREINFO. Nothing here is fatal: a missing key only
    /// disables the method that needs it, and the error surfaces when an
    /// address needs that method.
    pub fn new(info: &VmcoreInfo, hints: &Hints) -> X86_64 {
        let phys_base = hints
            .phys_base
            .or_else(|| info.number("phys_base").map(|v| v as u64));
        let five_level = hints
            .five_level
            .unwrap_or_else(|| info.number("pgtable_l5_enabled").unwrap_or(0) != 0);
        let sme_mask = info.number("sme_mask").map(|v| v as u64).unwrap_or(0);
        let kernel_image_size = info
            .number("KERNEL_IMAGE_SIZE")
            .map(|v| v as u64)
            .filter(|&v| v > 0 && v <= (1 << 31))
            .unwrap_or(DEFAULT_KERNEL_IMAGE_SIZE);
        let physmem_bits = info
            .number("MAX_PHYSMEM_BITS")
            .filter(|&b| (32..=52).contains(&b))
            .unwrap_or(if five_level { 52 } else { 46 });
        // The CR3 hint is a register value: drop the PCID / flag bits and
        // the C-bit.
        let top_table = match hints.cr3 {
            Some(cr3) => Some(cr3 & PTE_ADDR_MASK & !sme_mask),
            None => info
                .symbol("init_top_pgt")
                .or_else(|| info.symbol("init_level4_pgt"))
                .and_then(|sym| text_to_phys(sym, phys_base?, kernel_image_size)),
        };
        X86_64 {
            phys_base,
            kernel_image_size,
            direct_map_base: hints.direct_map_base,
            direct_map_size: 1u64 << physmem_bits,
            top_table,
            five_level,
            sme_mask,
        }
    }

    /// The text-mapping translation of `va`, if `va` is in the image window.
    pub fn text_phys(&self, va: u64) -> Option<u64> {
        text_to_phys(va, self.phys_base?, self.kernel_image_size)
    }

    /// The direct-map translation of `va`, if the base is known and `va` is
    /// inside the window.
    pub fn direct_phys(&self, va: u64) -> Option<u64> {
        let off = va.checked_sub(self.direct_map_base?)?;
        (off < self.direct_map_size).then_some(off)
    }

    /// True when `va` is canonical for the paging mode.
    pub fn is_canonical(&self, va: u64) -> bool {
        let bits = if self.five_level { 57 } else { 48 };
        // Sign-extend from the top implemented bit and compare.
        let shift = 64 - bits;
        (((va << shift) as i64) >> shift) as u64 == va
    }

    /// Walk the page tables for `va`.
    pub fn walk(&self, mem: &dyn PhysicalMemory, va: u64) -> Result<Translation, Error> {
        if !self.is_canonical(va) {
            return Err(Error::NonCanonical { va });
        }
        let mut table = self.top_table.ok_or(Error::NoTranslation { va })?;
        let levels: &[(Level, u32)] = if self.five_level {
            &[
                (Level::Pml5, 48),
                (Level::Pml4, 39),
                (Level::Pud, 30),
                (Level::Pmd, 21),
                (Level::Pte, 12),
            ]
        } else {
            &[
                (Level::Pml4, 39),
                (Level::Pud, 30),
                (Level::Pmd, 21),
                (Level::Pte, 12),
            ]
        };
        for &(level, shift) in levels {
            let index = (va >> shift) & 0x1ff;
            let entry_addr = table.wrapping_add(index * 8);
            let entry = mem
                .read_phys_u64(entry_addr)
                .map_err(|source| Error::PageTableRead { va, level, source })?
                & !self.sme_mask;
            if entry & PRESENT == 0 {
                return Err(Error::NotMapped { va, level });
            }
            let large = entry & PSE != 0 && matches!(level, Level::Pud | Level::Pmd);
            if large || level == Level::Pte {
                let size = 1u64 << shift;
                // For large pages bit 12 is PAT, so align the frame address
                // to the page size rather than trusting bits 12..shift.
                let frame = entry & PTE_ADDR_MASK & !(size - 1);
                return Ok(Translation {
                    phys: frame | (va & (size - 1)),
                    page_size: size,
                });
            }
            table = entry & PTE_ADDR_MASK;
        }
        // The PTE level always returns above.
        Err(Error::NotMapped {
            va,
            level: Level::Pte,
        })
    }
}

/// `__pa_symbol`: the physical address of an image address, or `None`
/// outside the image window.
fn text_to_phys(va: u64, phys_base: u64, image_size: u64) -> Option<u64> {
    let off = va.checked_sub(START_KERNEL_MAP)?;
    (off < image_size).then(|| off.wrapping_add(phys_base))
}

impl Translate for X86_64 {
    fn translate(&self, mem: &dyn PhysicalMemory, va: u64) -> Result<Translation, Error> {
        // The linear windows are exact and need no memory access; report
        // them at 4 KiB granularity so cached ranges never leave the window.
        if let Some(phys) = self.text_phys(va).or_else(|| self.direct_phys(va)) {
            return Ok(Translation {
                phys,
                page_size: 4096,
            });
        }
        self.walk(mem, va)
    }
}
