//! Finding the kernel's `struct page` arrays from VMCOREINFO.
//!
//! The result is a short sorted list of [`MapRun`]s: pfn ranges whose
//! `struct page` lives at `base + pfn * SIZE(page)`. SPARSEMEM sections that
//! share a base (always the case with VMEMMAP, where every section encodes
//! the same `vmemmap` base) are merged, so a machine of any size yields a
//! handful of runs and memory stays bounded.
//!
//! Models, in the order tried:
//! - SPARSEMEM (EXTREME or not, VMEMMAP or not): `SYMBOL(mem_section)`
//!   (formats.md §2.6). With EXTREME the symbol is either the root array
//!   (VMCOREINFO of 4.15+ prints the pointer's value) or a pointer to it;
//!   like makedumpfile we validate the array reading first and dereference
//!   once if it fails.
//! - FLATMEM: `SYMBOL(mem_map)` is the address of the `mem_map` pointer.

use crate::Error;
use addrxlat::KernelMemory;

/// Pfns `[start, end)` whose `struct page` is at `base + pfn * SIZE(page)`
/// (wrapping arithmetic, as the kernel's section encoding).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct MapRun {
    pub start: u64,
    pub end: u64,
    pub base: u64,
}

impl MapRun {
    /// Virtual address of the `struct page` of `pfn`.
    pub(crate) fn page_va(&self, pfn: u64, page_struct: usize) -> u64 {
        self.base.wrapping_add(pfn.wrapping_mul(page_struct as u64))
    }
}

/// Section flag bits below this are not part of the mem_map address
/// (`SECTION_MAP_LAST_BIT` is 1<<5 or 1<<6 depending on the kernel; the
/// address is at least 64-byte aligned, so masking 6 bits is always safe).
const SECTION_FLAG_MASK: u64 = (1 << 6) - 1;
const SECTION_MARKED_PRESENT: u64 = 1;

/// Upper bound on sections examined, to bound time and memory on corrupt
/// input (2^22 sections of 128 MiB = 512 TiB).
const MAX_SECTIONS: u64 = 1 << 22;

/// Kernel addresses have the top bit set on every 64-bit Linux port.
fn is_kernel_va(va: u64) -> bool {
    va >> 63 == 1
}

/// SPARSEMEM parameters.
struct Sparse {
    pages_per_section: u64,
    section_size: usize,
    map_off: usize,
    /// Sections per root; 1 without EXTREME.
    per_root: u64,
    extreme: bool,
    page_struct: u64,
}

/// Locate the `struct page` arrays covering pfns below `max_pfn`.
pub(crate) fn discover(
    kmem: &KernelMemory<'_>,
    page_struct: usize,
    max_pfn: u64,
) -> Result<Vec<MapRun>, Error> {
    let info = kmem.info();
    if let Some(sym) = info.symbol("mem_section") {
        let sp = sparse_params(kmem, page_struct)?;
        return sparse_runs(kmem, &sp, sym, max_pfn);
    }
    if let Some(sym) = info.symbol("mem_map") {
        let mem_map = kmem
            .read_u64(sym)
            .map_err(|e| Error::NoMemMap(format!("cannot read the mem_map pointer: {e}")))?;
        if !is_kernel_va(mem_map) {
            return Err(Error::NoMemMap(format!(
                "mem_map pointer {mem_map:#x} is not a kernel address"
            )));
        }
        // FLATMEM's first pfn is contig_page_data.node_start_pfn (usually 0).
        let start = info
            .symbol("contig_page_data")
            .zip(info.offset("pglist_data.node_start_pfn"))
            .and_then(|(s, o)| kmem.read_u64(s.wrapping_add(o)).ok())
            .filter(|&s| s < max_pfn)
            .unwrap_or(0);
        let base = mem_map.wrapping_sub(start.wrapping_mul(page_struct as u64));
        return Ok(vec![MapRun {
            start,
            end: max_pfn,
            base,
        }]);
    }
    Err(Error::NoMemMap(
        "VMCOREINFO has neither SYMBOL(mem_section) nor SYMBOL(mem_map)".into(),
    ))
}

fn sparse_params(kmem: &KernelMemory<'_>, page_struct: usize) -> Result<Sparse, Error> {
    let info = kmem.info();
    let page_size = kmem.phys().page_size();
    let page_shift = page_size.trailing_zeros();
    // Defaults are x86_64's, for kernels older than the keys (5.9, 5.13).
    let five_level = info.number("pgtable_l5_enabled") == Some(1);
    let section_bits = info.number("SECTION_SIZE_BITS").unwrap_or(27);
    let physmem_bits = info
        .number("MAX_PHYSMEM_BITS")
        .unwrap_or(if five_level { 52 } else { 46 });
    let bad = |key: &str, value: i64, why| Error::BadValue {
        key: key.into(),
        value: value.into(),
        why,
    };
    if !(i64::from(page_shift)..=i64::from(page_shift) + 40).contains(&section_bits) {
        return Err(bad(
            "NUMBER(SECTION_SIZE_BITS)",
            section_bits,
            "not between PAGE_SHIFT and PAGE_SHIFT + 40",
        ));
    }
    if !(section_bits..=64).contains(&physmem_bits) {
        return Err(bad(
            "NUMBER(MAX_PHYSMEM_BITS)",
            physmem_bits,
            "not between SECTION_SIZE_BITS and 64",
        ));
    }
    let section_size = info.size("mem_section").ok_or_else(|| Error::MissingKey {
        key: "SIZE(mem_section)".into(),
        purpose: "walking SPARSEMEM sections",
    })?;
    if !(8..=page_size).contains(&section_size) {
        return Err(bad(
            "SIZE(mem_section)",
            section_size as i64,
            "not between 8 and a page",
        ));
    }
    let map_off = info.offset("mem_section.section_mem_map").unwrap_or(0);
    if map_off.checked_add(8).is_none_or(|e| e > section_size) {
        return Err(bad(
            "OFFSET(mem_section.section_mem_map)",
            map_off as i64,
            "outside struct mem_section",
        ));
    }
    let nr_sections = 1u64 << (physmem_bits - section_bits) as u32;
    let per_root_extreme = page_size / section_size;
    // makedumpfile's rule: EXTREME when LENGTH(mem_section) is the number
    // of roots, or unknown.
    let extreme = match info.length("mem_section") {
        None => true,
        Some(len) => len == nr_sections.div_ceil(per_root_extreme),
    };
    Ok(Sparse {
        pages_per_section: 1u64 << (section_bits as u32 - page_shift),
        section_size: section_size as usize,
        map_off: map_off as usize,
        per_root: if extreme { per_root_extreme } else { 1 },
        extreme,
        page_struct: page_struct as u64,
    })
}

/// Try the array reading of `SYMBOL(mem_section)`, then (EXTREME only) the
/// pointer reading.
fn sparse_runs(
    kmem: &KernelMemory<'_>,
    sp: &Sparse,
    sym: u64,
    max_pfn: u64,
) -> Result<Vec<MapRun>, Error> {
    let nr = max_pfn.div_ceil(sp.pages_per_section).min(MAX_SECTIONS);
    let first = walk_sections(kmem, sp, sym, nr);
    if first.as_ref().is_ok_and(|r| !r.is_empty()) || !sp.extreme {
        return first;
    }
    let deref = kmem
        .read_u64(sym)
        .map_err(|e| Error::NoMemMap(format!("cannot read SYMBOL(mem_section): {e}")))?;
    match walk_sections(kmem, sp, deref, nr) {
        Ok(r) if !r.is_empty() => Ok(r),
        Ok(_) => Err(Error::NoMemMap("no present SPARSEMEM section".into())),
        Err(e) => Err(first.err().unwrap_or(e)),
    }
}

/// Decode sections `0..nr` from the table at `table`; an `Err` means the
/// table does not validate (a present section with a non-kernel mem_map).
fn walk_sections(
    kmem: &KernelMemory<'_>,
    sp: &Sparse,
    table: u64,
    nr: u64,
) -> Result<Vec<MapRun>, Error> {
    let mut runs: Vec<MapRun> = Vec::new();
    let mut sec_buf = vec![0u8; sp.section_size];
    let mut nr_done = 0u64;
    while nr_done < nr {
        let root_idx = nr_done / sp.per_root;
        let in_root = nr
            .saturating_sub(nr_done)
            .min(sp.per_root - nr_done % sp.per_root);
        let root = if sp.extreme {
            // A root that cannot be read or is not a kernel address holds
            // no present section (as makedumpfile's nr_to_section).
            match kmem.read_u64(table.wrapping_add(root_idx.wrapping_mul(8))) {
                Ok(r) if is_kernel_va(r) => Some(r),
                _ => None,
            }
        } else {
            Some(table)
        };
        if let Some(root) = root {
            for k in 0..in_root {
                let sec_nr = nr_done + k;
                let idx = if sp.extreme {
                    sec_nr % sp.per_root
                } else {
                    sec_nr
                };
                let addr = root.wrapping_add(idx.wrapping_mul(sp.section_size as u64));
                if kmem.read_virt(addr, &mut sec_buf).is_err() {
                    continue;
                }
                let word = crate::layout::rd::<8>(&sec_buf, sp.map_off)
                    .map(u64::from_le_bytes)
                    .unwrap_or(0);
                if word & SECTION_MARKED_PRESENT == 0 {
                    continue;
                }
                let base = word & !SECTION_FLAG_MASK;
                let start = sec_nr * sp.pages_per_section;
                // The section's first struct page must be a kernel address,
                // or the table is not what we think (makedumpfile's check).
                let first = base.wrapping_add(start.wrapping_mul(sp.page_struct));
                if !is_kernel_va(first) {
                    return Err(Error::NoMemMap(format!(
                        "section {sec_nr} decodes to a non-kernel mem_map {first:#x}"
                    )));
                }
                let end = start + sp.pages_per_section;
                match runs.last_mut() {
                    Some(r) if r.end == start && r.base == base => r.end = end,
                    _ => runs.push(MapRun { start, end, base }),
                }
            }
        }
        nr_done += in_root;
    }
    Ok(runs)
}
