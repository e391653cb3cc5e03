//! Fuzz the printk_log record reader (and the pre-3.5 plain ring): the
//! input is physical memory from address 0 with the control variables at
//! fixed addresses; pointers are identity-mapped.
#![no_main]
use addrxlat::x86_64::X86_64;
use addrxlat::KernelMemory;
use dumpfile::{SparseMemory, VmcoreInfo};
use libfuzzer_sys::fuzz_target;

// log_buf @0 (pointer), log_buf_len @8, log_first_idx @12, log_next_idx @16.
const LEGACY: &str = "OSRELEASE=5.4.0\nSYMBOL(log_buf)=ffffffff80000000\n\
SYMBOL(log_buf_len)=ffffffff80000008\nSYMBOL(log_first_idx)=ffffffff8000000c\n\
SYMBOL(log_next_idx)=ffffffff80000010\nSIZE(printk_log)=20\nOFFSET(printk_log.ts_nsec)=0\n\
OFFSET(printk_log.len)=8\nOFFSET(printk_log.text_len)=10\nOFFSET(printk_log.dict_len)=12\n\
OFFSET(printk_log.caller_id)=16\n";
// log_buf @0, log_buf_len @8, log_end @12.
const PLAIN: &str = "OSRELEASE=2.6.32\nSYMBOL(log_buf)=ffffffff80000000\n\
SYMBOL(log_buf_len)=ffffffff80000008\nSYMBOL(log_end)=ffffffff8000000c\n";

fuzz_target!(|data: &[u8]| {
    let Some((&which, rest)) = data.split_first() else {
        return;
    };
    let mut mem = SparseMemory::new(4096);
    mem.write(0, rest);
    let info = VmcoreInfo::parse(if which & 1 == 0 { LEGACY } else { PLAIN }.as_bytes());
    let xlat = X86_64 {
        phys_base: Some(0),
        kernel_image_size: 1 << 30,
        direct_map_base: Some(0),
        direct_map_size: 1 << 46,
        top_table: None,
        five_level: false,
        sme_mask: 0,
    };
    let km = KernelMemory::new(&mem, &info, xlat);
    if let Ok(log) = kmsg::read_log(&km) {
        let mut out = Vec::new();
        let _ = kmsg::write_makedumpfile(&log, &mut out);
    }
});
