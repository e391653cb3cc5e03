//! Fuzz the kallsyms decoder: arbitrary bytes stand for the kernel memory
//! holding the tables, at fixed plausible addresses.
#![no_main]
use libfuzzer_sys::fuzz_target;

const BASE: u64 = 0xffff_ffff_8100_0000;

fuzz_target!(|data: &[u8]| {
    // The tables all live in one window of fuzzed bytes; the VMCOREINFO
    // points them at offsets chosen by the first bytes of the input.
    if data.len() < 16 {
        return;
    }
    let off = |i: usize| (u16::from_le_bytes([data[i], data[i + 1]]) as u64) % (data.len() as u64);
    let info = format!(
        "OSRELEASE=6.1.0\nSYMBOL(kallsyms_names)={:x}\nSYMBOL(kallsyms_num_syms)={:x}\n\
SYMBOL(kallsyms_token_table)={:x}\nSYMBOL(kallsyms_token_index)={:x}\n\
SYMBOL(kallsyms_offsets)={:x}\nSYMBOL(kallsyms_relative_base)={:x}\nSYMBOL(_stext)={:x}\n",
        BASE + off(0),
        BASE + off(2),
        BASE + off(4),
        BASE + off(6),
        BASE + off(8),
        BASE + off(10),
        BASE + off(12),
    );
    let info = dumpfile::VmcoreInfo::parse(info.as_bytes());
    let read = |addr: u64, buf: &mut [u8]| -> Result<(), String> {
        let start = addr.checked_sub(BASE).ok_or("below")? as usize;
        let src = data.get(start..start.checked_add(buf.len()).ok_or("overflow")?).ok_or("unmapped")?;
        buf.copy_from_slice(src);
        Ok(())
    };
    if let Ok(k) = kallsyms::Kallsyms::read(&info, &read) {
        let _ = k.locate(BASE + 0x100);
        let _ = k.lookup("panic");
    }
});
