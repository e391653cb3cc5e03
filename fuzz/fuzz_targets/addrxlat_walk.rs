//! Fuzz x86_64 translation: the first 32 bytes choose VMCOREINFO-like
//! parameters and addresses, the rest is physical memory from address 0
//! holding page tables. Must never panic or hang.
#![no_main]
use addrxlat::{Hints, KernelMemory, Translate};
use dumpfile::{SparseMemory, VmcoreInfo};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 32 {
        return;
    }
    let (p, memory) = data.split_at(32);
    let u64_at = |i: usize| u64::from_le_bytes(p[i..i + 8].try_into().unwrap());
    let flags = p[0];
    // Top table somewhere in the fuzzed bytes (page aligned), reached
    // through init_top_pgt and phys_base as the kernel exports them.
    let top = u64::from(p[1] & 0x0f) * 4096;
    let phys_base = (u64::from(p[2]) << 12) as i64 - 0x8_0000;
    let sym = 0xffff_ffff_8000_0000u64.wrapping_add(top.wrapping_sub(phys_base as u64));
    let sme = if flags & 2 != 0 { 1u64 << (40 + (p[3] % 12)) } else { 0 };
    let info = format!(
        "OSRELEASE=6.1.0\nSYMBOL(init_top_pgt)={sym:x}\nNUMBER(phys_base)={phys_base}\n\
NUMBER(pgtable_l5_enabled)={}\nNUMBER(sme_mask)={sme}\nNUMBER(KERNEL_IMAGE_SIZE)={}\n",
        flags & 1,
        u64::from(p[4]) << 24,
    );
    let info = VmcoreInfo::parse(info.as_bytes());
    let hints = Hints {
        direct_map_base: (flags & 4 != 0).then_some(0xffff_8880_0000_0000),
        cr3: (flags & 8 != 0).then(|| u64_at(8)),
        ..Hints::default()
    };
    let mut mem = SparseMemory::new(4096);
    mem.write(0, memory);
    let Ok(arch) = addrxlat::Arch::detect(&info, &hints) else {
        return;
    };
    for va in [u64_at(16), u64_at(24), u64_at(16) ^ 0xffff_0000_0000_0000] {
        let _ = arch.translate(&mem, va);
    }
    let km = KernelMemory::new(&mem, &info, arch);
    let mut buf = [0u8; 300];
    let _ = km.read_virt(u64_at(24), &mut buf);
    let _ = km.read_u64(u64_at(16));
});
