//! VMCOREINFO: the `KEY=VALUE` text the kernel exports so tools can find its
//! structures without debug info.
//!
//! The value formats differ by key family (see the kernel's
//! `include/linux/vmcore_info.h`): `SYMBOL()` and `KERNELOFFSET` are hex
//! without `0x`; `SIZE()`, `OFFSET()`, `LENGTH()` are unsigned decimal;
//! `NUMBER()` is signed and sometimes hex with `0x`. Parsing is lenient: a
//! malformed line is recorded in [`VmcoreInfo::bad_lines`] and skipped, so a
//! damaged note still yields every good key.

use std::collections::BTreeMap;

/// Parsed VMCOREINFO.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VmcoreInfo {
    raw: String,
    entries: BTreeMap<String, String>,
    bad_lines: Vec<String>,
}

/// Parse an unsigned hex number with or without a `0x` prefix.
fn parse_hex(s: &str) -> Option<u64> {
    let s = s.trim();
    let s = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    u64::from_str_radix(s, 16).ok()
}

/// Parse a signed number, decimal or `0x` hex (like `strtoll(s, NULL, 0)`).
fn parse_number(s: &str) -> Option<i64> {
    let s = s.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let v: i128 = if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        u64::from_str_radix(h, 16).ok()? as i128
    } else {
        body.parse::<u64>().ok()? as i128
    };
    let v = if neg { -v } else { v };
    // Hex values above i64::MAX (e.g. VMALLOC_START) keep their bit pattern.
    if v > i64::MAX as i128 {
        Some(v as u64 as i64)
    } else {
        i64::try_from(v).ok()
    }
}

impl VmcoreInfo {
    /// Parse VMCOREINFO text. Trailing NULs (note padding) are ignored.
    pub fn parse(text: &[u8]) -> VmcoreInfo {
        let end = text.iter().position(|&b| b == 0).unwrap_or(text.len());
        let raw = String::from_utf8_lossy(&text[..end]).into_owned();
        let mut entries = BTreeMap::new();
        let mut bad_lines = Vec::new();
        for line in raw.lines() {
            if line.is_empty() {
                continue;
            }
            match line.split_once('=') {
                Some((k, v)) if !k.is_empty() => {
                    entries.insert(k.to_string(), v.to_string());
                }
                _ => bad_lines.push(line.to_string()),
            }
        }
        VmcoreInfo {
            raw,
            entries,
            bad_lines,
        }
    }

    /// The text as found in the dump (up to the first NUL).
    pub fn raw(&self) -> &str {
        &self.raw
    }

    /// Lines that were not `KEY=VALUE` (a sign of a damaged note).
    pub fn bad_lines(&self) -> &[String] {
        &self.bad_lines
    }

    /// True when no key was found.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The raw value of a full key such as `"SYMBOL(prb)"`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(key).map(String::as_str)
    }

    /// Every key and its raw value, sorted by key.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    fn keyed(&self, family: &str, name: &str) -> Option<&str> {
        // Avoid allocating for lookups on the hot path of callers that ask
        // many keys: build the key on the stack when short.
        let mut buf = String::with_capacity(family.len() + name.len() + 2);
        buf.push_str(family);
        buf.push('(');
        buf.push_str(name);
        buf.push(')');
        self.get(&buf)
    }

    /// `OSRELEASE`, the kernel release (`uname -r`).
    pub fn osrelease(&self) -> Option<&str> {
        self.get("OSRELEASE")
    }

    /// `BUILD-ID`, 40 hex digits on kernels since 5.9.
    pub fn build_id(&self) -> Option<&str> {
        self.get("BUILD-ID")
    }

    /// `PAGESIZE` in bytes, only if it is a power of two.
    pub fn page_size(&self) -> Option<u64> {
        let v: u64 = self.get("PAGESIZE")?.trim().parse().ok()?;
        v.is_power_of_two().then_some(v)
    }

    /// `SYMBOL(name)`: a KASLR-adjusted kernel virtual address.
    pub fn symbol(&self, name: &str) -> Option<u64> {
        parse_hex(self.keyed("SYMBOL", name)?)
    }

    /// `SIZE(name)`: `sizeof` a structure or type.
    pub fn size(&self, name: &str) -> Option<u64> {
        self.keyed("SIZE", name)?.trim().parse().ok()
    }

    /// `OFFSET(struct.field)`: `offsetof` a field.
    pub fn offset(&self, name: &str) -> Option<u64> {
        self.keyed("OFFSET", name)?.trim().parse().ok()
    }

    /// `LENGTH(name)`: the number of elements of an array.
    pub fn length(&self, name: &str) -> Option<u64> {
        self.keyed("LENGTH", name)?.trim().parse().ok()
    }

    /// `NUMBER(name)`: a signed constant (decimal or `0x` hex).
    pub fn number(&self, name: &str) -> Option<i64> {
        parse_number(self.keyed("NUMBER", name)?)
    }

    /// `CONFIG_name=y`.
    pub fn config(&self, name: &str) -> bool {
        let mut key = String::with_capacity(7 + name.len());
        key.push_str("CONFIG_");
        key.push_str(name);
        self.get(&key) == Some("y")
    }

    /// `KERNELOFFSET`: the KASLR slide of the kernel image.
    pub fn kernel_offset(&self) -> Option<u64> {
        parse_hex(self.get("KERNELOFFSET")?)
    }

    /// `CRASHTIME`: seconds since the epoch when the kernel crashed.
    pub fn crash_time(&self) -> Option<i64> {
        self.get("CRASHTIME")?.trim().parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &[u8] =
        b"OSRELEASE=6.1.0-28-amd64\nBUILD-ID=0123456789abcdef0123456789abcdef01234567\n\
PAGESIZE=4096\nSYMBOL(init_uts_ns)=ffffffff9a617540\nSYMBOL(prb)=ffffffff9a2a5c18\n\
SIZE(printk_ringbuffer)=88\nOFFSET(printk_ringbuffer.fail)=80\nLENGTH(printk_info_subsystem)=16\n\
NUMBER(PAGE_BUDDY_MAPCOUNT_VALUE)=-129\nNUMBER(VMALLOC_START)=0xffffb6f340000000\n\
NUMBER(phys_base)=-1860173824\nKERNELOFFSET=18000000\nCRASHTIME=1700000000\nCONFIG_KALLSYMS=y\n\
garbage line\n\0\0\0";

    #[test]
    fn parses_every_family() {
        let v = VmcoreInfo::parse(SAMPLE);
        assert_eq!(v.osrelease(), Some("6.1.0-28-amd64"));
        assert_eq!(v.page_size(), Some(4096));
        assert_eq!(v.symbol("prb"), Some(0xffffffff9a2a5c18));
        assert_eq!(v.size("printk_ringbuffer"), Some(88));
        assert_eq!(v.offset("printk_ringbuffer.fail"), Some(80));
        assert_eq!(v.length("printk_info_subsystem"), Some(16));
        assert_eq!(v.number("PAGE_BUDDY_MAPCOUNT_VALUE"), Some(-129));
        assert_eq!(
            v.number("VMALLOC_START").map(|x| x as u64),
            Some(0xffffb6f340000000)
        );
        assert_eq!(v.number("phys_base"), Some(-1860173824));
        assert_eq!(v.kernel_offset(), Some(0x18000000));
        assert_eq!(v.crash_time(), Some(1700000000));
        assert!(v.config("KALLSYMS"));
        assert!(!v.config("KASAN"));
        assert_eq!(v.bad_lines(), &["garbage line".to_string()]);
        assert_eq!(v.symbol("missing"), None);
    }

    #[test]
    fn rejects_bad_page_size_and_bad_numbers() {
        let v = VmcoreInfo::parse(b"PAGESIZE=4095\nSYMBOL(x)=zz\nNUMBER(y)=--1\n");
        assert_eq!(v.page_size(), None);
        assert_eq!(v.symbol("x"), None);
        assert_eq!(v.number("y"), None);
    }

    #[test]
    fn empty_input() {
        assert!(VmcoreInfo::parse(b"").is_empty());
        assert!(VmcoreInfo::parse(b"\0abc").is_empty());
    }
}
