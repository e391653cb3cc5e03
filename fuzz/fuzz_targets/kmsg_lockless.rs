//! Fuzz the lockless printk ring reader: the input is the dumped machine's
//! physical memory from address 0, VMCOREINFO is the real x86_64 layout and
//! `SYMBOL(prb)` points at address 0. Every pointer read from the input is
//! direct-mapped (identity), so the fuzzer can aim anywhere in its bytes.
#![no_main]
use addrxlat::x86_64::X86_64;
use addrxlat::KernelMemory;
use dumpfile::{SparseMemory, VmcoreInfo};
use libfuzzer_sys::fuzz_target;

const INFO: &str = "OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(prb)=ffffffff80000000\n\
SIZE(printk_ringbuffer)=88\nOFFSET(printk_ringbuffer.desc_ring)=0\n\
OFFSET(printk_ringbuffer.text_data_ring)=48\nOFFSET(printk_ringbuffer.fail)=80\n\
SIZE(prb_desc_ring)=48\nOFFSET(prb_desc_ring.count_bits)=0\nOFFSET(prb_desc_ring.descs)=8\n\
OFFSET(prb_desc_ring.infos)=16\nOFFSET(prb_desc_ring.head_id)=24\nOFFSET(prb_desc_ring.tail_id)=32\n\
SIZE(prb_desc)=24\nOFFSET(prb_desc.state_var)=0\nOFFSET(prb_desc.text_blk_lpos)=8\n\
SIZE(prb_data_blk_lpos)=16\nOFFSET(prb_data_blk_lpos.begin)=0\nOFFSET(prb_data_blk_lpos.next)=8\n\
SIZE(printk_info)=88\nOFFSET(printk_info.seq)=0\nOFFSET(printk_info.ts_nsec)=8\n\
OFFSET(printk_info.text_len)=16\nOFFSET(printk_info.caller_id)=20\nOFFSET(printk_info.dev_info)=24\n\
SIZE(dev_printk_info)=64\nOFFSET(dev_printk_info.subsystem)=0\nOFFSET(dev_printk_info.device)=16\n\
LENGTH(printk_info_subsystem)=16\nLENGTH(printk_info_device)=48\n\
SIZE(prb_data_ring)=32\nOFFSET(prb_data_ring.size_bits)=0\nOFFSET(prb_data_ring.data)=8\n\
OFFSET(prb_data_ring.head_lpos)=16\nOFFSET(prb_data_ring.tail_lpos)=24\n\
SIZE(atomic_long_t)=8\nOFFSET(atomic_long_t.counter)=0\n";

fuzz_target!(|data: &[u8]| {
    let mut mem = SparseMemory::new(4096);
    // SYMBOL(prb) is at physical 0 and holds the pointer to the ring.
    mem.write(0, data);
    let info = VmcoreInfo::parse(INFO.as_bytes());
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
