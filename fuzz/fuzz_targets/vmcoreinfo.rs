//! Fuzz the VMCOREINFO text parser and every typed accessor.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let info = dumpfile::VmcoreInfo::parse(data);
    for (k, _) in info.iter() {
        if let Some(inner) = k.strip_prefix("SYMBOL(").and_then(|s| s.strip_suffix(')')) {
            let _ = info.symbol(inner);
        }
        if let Some(inner) = k.strip_prefix("NUMBER(").and_then(|s| s.strip_suffix(')')) {
            let _ = info.number(inner);
        }
    }
    let _ = (info.page_size(), info.kernel_offset(), info.crash_time(), info.osrelease());
});
