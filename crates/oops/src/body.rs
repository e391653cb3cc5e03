//! Recognisers for the lines inside a report: trace markers, register
//! dumps, the faulting PC and its caller, the pstore record header.

use crate::report::{PstoreHeader, Register};
use crate::Frame;

/// `Panic#1 Part1`: the header pstore puts at the top of a dmesg record.
pub(crate) fn pstore_header(t: &str) -> Option<PstoreHeader> {
    let (reason, rest) = t.split_once('#')?;
    let (count, part) = rest.split_once(" Part")?;
    if reason.is_empty() || !reason.bytes().all(|c| c.is_ascii_alphabetic()) {
        return None;
    }
    Some(PstoreHeader {
        reason: reason.to_string(),
        count: count.parse().ok()?,
        part: part.trim().parse().ok()?,
    })
}

/// `Call Trace:`, `Call trace:`, `Backtrace:`, `backtrace:`, `backtrace (crc …):`.
pub(crate) fn is_trace_start(t: &str) -> bool {
    t.starts_with("Call Trace")
        || t.starts_with("Call trace")
        || t.starts_with("Backtrace:")
        || t.starts_with("backtrace")
        || t.starts_with("stack backtrace:")
}

/// Lines that may sit inside a call trace without ending it.
pub(crate) fn is_trace_filler(t: &str) -> bool {
    matches!(
        t,
        "<IRQ>"
            | "</IRQ>"
            | "<TASK>"
            | "</TASK>"
            | "<NMI>"
            | "</NMI>"
            | "<EOI>"
            | "<EOE>"
            | "<SOFTIRQ>"
            | "</SOFTIRQ>"
    ) || t == "[..]"
        || t == "..."
        || t.starts_with("--- interrupt:")
        || t.starts_with("Exception stack")
        || t.starts_with("Code:")
        || t.starts_with("RIP:")
        || t.starts_with("EIP:")
        || t.starts_with("irq event stamp:")
        || t.starts_with("hardirqs ")
        || t.starts_with("softirqs ")
        || t.starts_with("---- ")
        || t.starts_with("=>")
        || parse_registers(t).is_some()
}

/// Parse a register line: `RAX: 0 RBX: ffff…`, `x29: ffff x28: 0000`,
/// `r10: c5cf5dc0  r9 : 00000000`. `None` unless the line is made only of
/// such pairs.
pub(crate) fn parse_registers(t: &str) -> Option<Vec<Register>> {
    let mut out = Vec::new();
    let mut rest = t;
    while !rest.is_empty() {
        let colon = rest.find(':')?;
        let name = rest[..colon].trim();
        if name.is_empty()
            || name.len() > 8
            || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            return None;
        }
        let after = rest[colon + 1..].trim_start();
        let vend = after.find(' ').unwrap_or(after.len());
        let value = &after[..vend];
        // Values are hex, sometimes with a segment (`0018:ffff…`) or a
        // selector in parentheses (`FS: 00007f…(0000)`).
        let hexish = value.bytes().any(|c| c.is_ascii_hexdigit())
            && value
                .bytes()
                .all(|c| c.is_ascii_hexdigit() || matches!(c, b':' | b'(' | b')'));
        if !hexish {
            return None;
        }
        out.push(Register {
            name: name.to_string(),
            value: value.to_string(),
        });
        rest = after[vend..].trim_start();
    }
    (out.len() >= 2).then_some(out)
}

/// The faulting PC, from the many ways architectures print it.
pub(crate) fn pc_symbol(t: &str) -> Option<Option<Frame>> {
    let rest = t
        .strip_prefix("RIP: ")
        .or_else(|| t.strip_prefix("EIP: "))
        .or_else(|| t.strip_prefix("IP: "))
        .or_else(|| t.strip_prefix("pc : "))
        .or_else(|| t.strip_prefix("PC is at "))
        .or_else(|| t.strip_prefix("epc : "))
        .or_else(|| t.strip_prefix("epc   : "))
        .or_else(|| t.strip_prefix("NIP ["))
        .or_else(|| t.strip_prefix("NIP: "))
        .or_else(|| t.strip_prefix("TPC: "))?;
    Some(symbol_in(rest))
}

/// The caller register (ARM `LR is at`/`lr :`, riscv `ra :`, powerpc
/// `LR [..]`, sparc `RPC:`): names the function when the PC is useless
/// (a call through a NULL pointer) or generic (memcpy).
pub(crate) fn lr_symbol(t: &str) -> Option<Option<Frame>> {
    let rest = t
        .strip_prefix("LR is at ")
        .or_else(|| t.strip_prefix("lr : "))
        .or_else(|| t.strip_prefix("ra : "))
        .or_else(|| t.strip_prefix("LR ["))
        .or_else(|| t.strip_prefix("RPC: "))?;
    Some(symbol_in(rest))
}

/// First symbol in "0010:foo+0x1/0x2 [mod]", "0010:[<ffff…>]  [<ffff…>]
/// foo+0x1/0x2", "[<ffff…>] foo+0x1/0x2", "c000000000123456] foo+0x1/0x2",
/// "<foo+0x1/0x2>".
pub(crate) fn symbol_in(rest: &str) -> Option<Frame> {
    let rest = rest
        .split_once(':')
        .filter(|(seg, _)| seg.len() == 4 && seg.bytes().all(|c| c.is_ascii_hexdigit()))
        .map_or(rest, |(_, r)| r);
    let words: Vec<&str> = rest.split_whitespace().take(6).collect();
    for (i, w) in words.iter().enumerate() {
        if w.contains('+') {
            let w = w.trim_start_matches('<').trim_end_matches('>');
            let after = words.get(i + 1).copied().unwrap_or("");
            return crate::frame::parse_symbol(w, after);
        }
    }
    None
}
