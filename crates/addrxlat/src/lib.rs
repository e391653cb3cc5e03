//! Kernel virtual → physical address translation for crash dumps.
//!
//! This crate knows nothing of file formats: it sees the dumped machine's
//! RAM through [`dumpfile::PhysicalMemory`] and the kernel's layout through
//! [`dumpfile::VmcoreInfo`] plus a few [`Hints`] that only the dump reader
//! can supply (the direct-map base from an ELF `PT_LOAD`, a CR3 value from
//! a QEMU note).
//!
//! [`KernelMemory`] bundles the three into a handle like drgn's `Program`:
//! read kernel virtual memory, integers and VMCOREINFO symbols.
//!
//! Architectures are modules behind [`Arch`]; only x86_64 exists today.
//! Another (arm64) is one more module and one more [`Arch`] variant chosen in
//! [`Arch::detect`].

mod error;
mod kmem;
pub mod x86_64;

#[cfg(test)]
mod tests;

pub use error::{Error, Level};
pub use kmem::KernelMemory;

use dumpfile::{PhysicalMemory, VmcoreInfo};

/// The result of translating one virtual address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// The physical address of the byte at the virtual address.
    pub phys: u64,
    /// Size of the naturally aligned virtual region around the address that
    /// is mapped contiguously (the page size of the mapping). Callers may
    /// reuse the translation for any address in that region.
    pub page_size: u64,
}

/// A virtual → physical translator for one kernel.
pub trait Translate: Send + Sync {
    /// Translate the kernel virtual address `va`. Page tables, if needed,
    /// are read from `mem`.
    fn translate(&self, mem: &dyn PhysicalMemory, va: u64) -> Result<Translation, Error>;
}

/// What the dump reader knows that VMCOREINFO does not say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Hints {
    /// Base of the kernel direct map (x86_64 `page_offset_base`), e.g.
    /// `p_vaddr - p_paddr` of a System-RAM `PT_LOAD` of `/proc/vmcore`.
    pub direct_map_base: Option<u64>,
    /// The kernel image's physical shift, overriding `NUMBER(phys_base)`
    /// (derivable from the kernel-text `PT_LOAD`: `p_paddr - (p_vaddr -
    /// __START_KERNEL_map)`).
    pub phys_base: Option<u64>,
    /// A CR3 register value (QEMU dumps without VMCOREINFO): the walk starts
    /// from this table instead of `SYMBOL(init_top_pgt)`.
    pub cr3: Option<u64>,
    /// Force 4- (`false`) or 5-level (`true`) paging.
    pub five_level: Option<bool>,
    /// ELF `e_machine` of the dump, used when VMCOREINFO cannot tell the
    /// architecture (62 = x86_64, 183 = aarch64).
    pub elf_machine: Option<u16>,
}

/// ELF `e_machine` value of x86_64.
pub const EM_X86_64: u16 = 62;
/// ELF `e_machine` value of aarch64.
pub const EM_AARCH64: u16 = 183;

/// The translator of a supported architecture.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Arch {
    /// x86_64 (4- or 5-level paging).
    X86_64(x86_64::X86_64),
}

impl Arch {
    /// Pick the architecture from VMCOREINFO keys (arch-specific keys are
    /// exported by each arch's `arch_crash_save_vmcoreinfo`), falling back
    /// to the ELF machine hint, then build its translator.
    pub fn detect(info: &VmcoreInfo, hints: &Hints) -> Result<Arch, Error> {
        let arm64_keys = ["kimage_voffset", "VA_BITS", "TCR_EL1_T1SZ"]
            .iter()
            .any(|k| info.number(k).is_some());
        let x86_keys = info.symbol("init_top_pgt").is_some()
            || info.symbol("init_level4_pgt").is_some()
            || info.number("phys_base").is_some()
            || info.number("pgtable_l5_enabled").is_some();
        match (x86_keys, arm64_keys, hints.elf_machine) {
            (true, _, _) | (false, false, Some(EM_X86_64)) => {
                Ok(Arch::X86_64(x86_64::X86_64::new(info, hints)))
            }
            (false, true, _) | (false, false, Some(EM_AARCH64)) => {
                Err(Error::UnsupportedArch("aarch64".into()))
            }
            (false, false, Some(m)) => Err(Error::UnsupportedArch(format!("ELF machine {m}"))),
            // No evidence at all: a CR3 hint only makes sense on x86_64.
            (false, false, None) if hints.cr3.is_some() => {
                Ok(Arch::X86_64(x86_64::X86_64::new(info, hints)))
            }
            (false, false, None) => Err(Error::UnsupportedArch(
                "unknown (no arch-specific VMCOREINFO keys and no ELF machine hint)".into(),
            )),
        }
    }
}

impl Translate for Arch {
    fn translate(&self, mem: &dyn PhysicalMemory, va: u64) -> Result<Translation, Error> {
        match self {
            Arch::X86_64(x) => x.translate(mem, va),
        }
    }
}
