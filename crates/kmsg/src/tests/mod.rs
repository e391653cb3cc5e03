//! Tests on synthetic buffers written the way the kernel writes them.

mod legacy;
mod lockless;
mod makedumpfile;
mod prb_writer;
mod render;

use addrxlat::x86_64::X86_64;
use addrxlat::KernelMemory;
use dumpfile::{SparseMemory, VmcoreInfo};

/// Kernel image window: symbols live at `TEXT + pa` (phys_base 0).
pub const TEXT: u64 = 0xffff_ffff_8000_0000;
/// Direct map base: dynamic buffers live at `DIRECT + pa`.
pub const DIRECT: u64 = 0xffff_8880_0000_0000;

/// A translator for the synthetic machine: text and direct map only.
pub fn translator() -> X86_64 {
    X86_64 {
        phys_base: Some(0),
        kernel_image_size: 1 << 30,
        direct_map_base: Some(DIRECT),
        direct_map_size: 1 << 46,
        top_table: None,
        five_level: false,
        sme_mask: 0,
    }
}

/// Read the log of a synthetic machine.
pub fn read(mem: &SparseMemory, info: &str) -> Result<crate::Log, crate::KmsgError> {
    let info = VmcoreInfo::parse(info.as_bytes());
    let km = KernelMemory::new(mem, &info, translator());
    crate::read_log(&km)
}
