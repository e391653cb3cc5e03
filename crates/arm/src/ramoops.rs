//! ramoops zone sizes for a reserved memory region (formats.md §6.1/§6.6).
//!
//! ramoops splits its region into: dmesg records (`record_size` each, the
//! rest of the region), one console zone, one pmsg zone and an ftrace zone.
//! The kernel default record size (4 KiB) truncates a typical oops with a
//! long backtrace, and a single record loses the WARN that preceded a
//! panic, so records are sized to hold a full oops and the region keeps at
//! least two of them.
//!
//! One record is all a panic gets: pstore's dumper offers the log in
//! `record_size` parts (newest first, up to `pstore.kmsg_bytes`), and
//! ramoops refuses every part but the first (`record->part != 1` in
//! `ramoops_pstore_write`, on purpose, so one report never spans records).
//! Raising `kmsg_bytes` therefore adds nothing with ramoops (it only makes
//! firmware backends such as efi_pstore write more NVRAM variables), and
//! the record size alone decides how much log precedes the panic's last
//! line. Records are capped at [`MAX_RECORD`], the size of a default
//! kernel log buffer (`CONFIG_LOG_BUF_SHIFT=17`): a record that size holds
//! everything the buffer still holds, so a printk flood on another CPU
//! cannot push the `Kernel panic` header out of the record while it is
//! still in the buffer (with pstore's deflate the record holds even more).

/// A physical memory region reserved for ramoops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    /// Physical start address.
    pub start: u64,
    /// Size in bytes.
    pub size: u64,
}

/// ramoops module parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamoopsParams {
    /// `mem_address`.
    pub mem_address: u64,
    /// `mem_size`.
    pub mem_size: u64,
    /// `record_size` (power of two).
    pub record_size: u64,
    /// `console_size` (power of two).
    pub console_size: u64,
    /// `pmsg_size` (power of two or 0).
    pub pmsg_size: u64,
    /// `ftrace_size` (0: function tracing to pstore is a debugging tool, opt-in).
    pub ftrace_size: u64,
}

/// Smallest useful region: two 4 KiB records and a 4 KiB console.
pub const MIN_REGION: u64 = 16 << 10;

/// Largest dmesg record: a default kernel log buffer (128 KiB).
pub const MAX_RECORD: u64 = 128 << 10;

fn pow2_floor(x: u64) -> u64 {
    if x == 0 {
        0
    } else {
        1 << (63 - x.leading_zeros())
    }
}

impl RamoopsParams {
    /// Sizes for `region`; `None` when it is smaller than [`MIN_REGION`].
    ///
    /// - console: a quarter of the region, 4 KiB..=256 KiB (the console
    ///   zone holds the tail of the log leading to a reboot);
    /// - pmsg: a sixteenth, 0 below 64 KiB regions, at most 64 KiB
    ///   (userspace messages are short);
    /// - records: at most [`MAX_RECORD`] (the whole default log buffer,
    ///   so a flood cannot push the panic out of the record; see the
    ///   module comment), at least 4 KiB, and at least two of them.
    pub fn for_region(region: Region) -> Option<Self> {
        let size = region.size;
        if size < MIN_REGION {
            return None;
        }
        let console_size = pow2_floor(size / 4).clamp(4 << 10, 256 << 10);
        let pmsg_size = if size < 64 << 10 {
            0
        } else {
            pow2_floor(size / 16).min(64 << 10)
        };
        let rest = size - console_size - pmsg_size;
        let record_size = pow2_floor(rest / 2).clamp(4 << 10, MAX_RECORD);
        Some(Self {
            mem_address: region.start,
            mem_size: size,
            record_size,
            console_size,
            pmsg_size,
            ftrace_size: 0,
        })
    }

    /// Number of dmesg records the region holds.
    pub fn records(&self) -> u64 {
        (self.mem_size - self.console_size - self.pmsg_size - self.ftrace_size) / self.record_size
    }

    /// `modprobe ramoops` parameters.
    pub fn module_params(&self) -> Vec<String> {
        vec![
            format!("mem_address={:#x}", self.mem_address),
            format!("mem_size={:#x}", self.mem_size),
            format!("record_size={:#x}", self.record_size),
            format!("console_size={:#x}", self.console_size),
            format!("pmsg_size={:#x}", self.pmsg_size),
            format!("ftrace_size={:#x}", self.ftrace_size),
        ]
    }
}

/// Parse a size with an optional K/M/G suffix (`1M`, `0x100000`, `4096`).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.chars().last()? {
        'K' | 'k' => (&s[..s.len() - 1], 1u64 << 10),
        'M' | 'm' => (&s[..s.len() - 1], 1 << 20),
        'G' | 'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    let n = match num.strip_prefix("0x").or_else(|| num.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None => num.parse().ok()?,
    };
    n.checked_mul(mult)
}

/// The ramoops region: a `memmap=SIZE$ADDR` (reserved) or `memmap=SIZE!ADDR`
/// (legacy persistent memory) option of the running command line whose
/// range `/proc/iomem` lists as reserved (or persistent memory).
pub fn region_from_memmap(cmdline: &str, iomem: &str) -> Option<Region> {
    for opt in crate::cmdline::split(cmdline).0 {
        let Some(v) = opt.strip_prefix("memmap=") else {
            continue;
        };
        let Some((size, start)) = v.split_once('$').or_else(|| v.split_once('!')) else {
            continue;
        };
        let (Some(size), Some(start)) = (parse_size(size), parse_size(start)) else {
            continue;
        };
        let r = Region { start, size };
        if iomem_reserved(iomem, r) {
            return Some(r);
        }
    }
    None
}

/// Whether a top-level `/proc/iomem` entry covering `r` is reserved memory.
pub fn iomem_reserved(iomem: &str, r: Region) -> bool {
    iomem.lines().filter(|l| !l.starts_with(' ')).any(|l| {
        let Some((range, name)) = l.split_once(" : ") else {
            return false;
        };
        let Some((a, b)) = range.trim().split_once('-') else {
            return false;
        };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            return false;
        };
        let name = name.trim();
        // Kernels since 4.16 print e820 reserved ranges (memmap=SIZE$ADDR
        // included) as "Reserved", older ones as "reserved".
        (name.eq_ignore_ascii_case("reserved") || name.starts_with("Persistent Memory"))
            && a <= r.start
            && r.start + r.size - 1 <= b
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizing_table() {
        // (region size, record, console, pmsg, records)
        let table: &[(u64, u64, u64, u64, u64)] = &[
            (1 << 20, 128 << 10, 256 << 10, 64 << 10, 5),
            (2 << 20, 128 << 10, 256 << 10, 64 << 10, 13),
            (256 << 10, 64 << 10, 64 << 10, 16 << 10, 2),
            (64 << 10, 16 << 10, 16 << 10, 4 << 10, 2),
            (16 << 10, 4 << 10, 4 << 10, 0, 3),
        ];
        for &(size, rec, con, pmsg, n) in table {
            let p = RamoopsParams::for_region(Region {
                start: 0x3f00_0000,
                size,
            })
            .unwrap();
            assert_eq!(
                (p.record_size, p.console_size, p.pmsg_size, p.records()),
                (rec, con, pmsg, n),
                "size {size}"
            );
            assert!(p.records() >= 2);
            assert_eq!(p.ftrace_size, 0);
        }
        assert!(RamoopsParams::for_region(Region {
            start: 0,
            size: 8 << 10
        })
        .is_none());
    }

    #[test]
    fn params_text() {
        let p = RamoopsParams::for_region(Region {
            start: 0x3f00_0000,
            size: 1 << 20,
        })
        .unwrap();
        assert_eq!(
            p.module_params().join(" "),
            "mem_address=0x3f000000 mem_size=0x100000 record_size=0x20000 console_size=0x40000 pmsg_size=0x10000 ftrace_size=0x0"
        );
    }

    #[test]
    fn memmap_and_iomem() {
        let iomem = "\
00000000-00000fff : Reserved
00001000-0009fbff : System RAM
00100000-3effffff : System RAM
3f000000-3f0fffff : reserved
3f100000-3ffdffff : System RAM
  3f200000-3f2fffff : Kernel code
";
        let r = region_from_memmap("console=ttyS0 memmap=1M$0x3f000000", iomem).unwrap();
        assert_eq!(
            r,
            Region {
                start: 0x3f00_0000,
                size: 1 << 20
            }
        );
        // A memmap= range that is System RAM (not reserved) is refused.
        assert!(region_from_memmap("memmap=1M$0x3f100000", iomem).is_none());
        assert!(region_from_memmap("quiet", iomem).is_none());
        // 6.1 spells it with a capital R (found by the setup lab test).
        let capital = iomem.replace(": reserved", ": Reserved");
        assert!(region_from_memmap("memmap=1M$0x3f000000", &capital).is_some());
        assert_eq!(parse_size("0x100000"), Some(1 << 20));
        assert_eq!(parse_size("64K"), Some(65536));
    }
}
