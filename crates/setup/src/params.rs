//! The kernel command-line parameters setup adds: `crashkernel=` and a
//! larger `log_buf_len=` for kdump, and a `memmap=SIZE$ADDR` reservation for
//! ramoops.

use arm::ramoops::{parse_size, Region};
use arm::{estimate, state::State, Root};
use config::{Backend, Config};

/// Capture initramfs size assumed before one was built (the design caps it
/// at 8 MiB compressed; the unpacked size is a generous multiple).
pub const ASSUMED_INITRD_COMPRESSED: u64 = 8 << 20;
/// See [`ASSUMED_INITRD_COMPRESSED`].
pub const ASSUMED_INITRD_UNPACKED: u64 = 24 << 20;
/// `crashkernel=` when the kernel image cannot be read to estimate.
pub const FALLBACK_CRASHKERNEL: &str = "256M";

/// `log_buf_len=` with kdump. The crash kernel reads the log from the old
/// kernel's buffer, and a printk storm on another CPU can overwrite the
/// panic in a default 128 KiB buffer before the crash kernel runs (the lab's
/// `nmi-flood` scenario saw 146 KB of flood after the panic line). 1 MiB
/// costs about 4.5 MiB of RAM (text plus record descriptors).
pub const LOG_BUF_LEN: &str = "1M";

/// What to add to the command line, and why things were left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Additions {
    /// `crashkernel=` value to set (`144M`); `None`: leave as is.
    pub crashkernel: Option<String>,
    /// ramoops region to reserve; `None`: none needed or one exists.
    pub memmap: Option<Region>,
    /// `log_buf_len=` value to add; `None`: not kdump, or one is set.
    pub log_buf_len: Option<String>,
    /// Explanations for the user.
    pub notes: Vec<String>,
}

impl Additions {
    /// The parameters as they appear on the kernel command line.
    pub fn params(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(c) = &self.crashkernel {
            v.push(format!("crashkernel={c}"));
        }
        if let Some(r) = self.memmap {
            v.push(memmap_param(r));
        }
        if let Some(l) = &self.log_buf_len {
            v.push(format!("log_buf_len={l}"));
        }
        v
    }
}

/// `memmap=1M$0x3fe00000`.
pub fn memmap_param(r: Region) -> String {
    format!("memmap={}${:#x}", config::Size(r.size), r.start)
}

/// The `crashkernel=` value among `params`, if any.
pub fn existing_crashkernel(params: &[String]) -> Option<&str> {
    params
        .iter()
        .rev()
        .find_map(|p| p.strip_prefix("crashkernel="))
}

/// A `memmap=SIZE$ADDR` (or `!`) reservation among `params` large enough for ramoops.
pub fn existing_reservation(params: &[String]) -> Option<Region> {
    params.iter().find_map(|p| {
        let v = p.strip_prefix("memmap=")?;
        let (size, start) = v.split_once('$').or_else(|| v.split_once('!'))?;
        let r = Region {
            start: parse_size(start)?,
            size: parse_size(size)?,
        };
        (r.size >= arm::ramoops::MIN_REGION).then_some(r)
    })
}

/// Where to put a ramoops region of `size`: the middle of the largest
/// "System RAM" range below 4 GiB in `/proc/iomem`, 1 MiB aligned. Low
/// memory is what every boot reaches; its top is not safe, because boot
/// loaders (GRUB, the EFI stub) and QEMU load the initramfs at the highest
/// free address below 4 GiB, and they do not know about `memmap=`, so a
/// region there is overwritten by the initramfs on every boot and the
/// records are lost exactly when they are needed. The bottom holds the
/// kernel image; the middle is clear of both (KASLR avoids `memmap=`).
pub fn choose_ramoops_address(iomem: &str, size: u64) -> Option<u64> {
    const ALIGN: u64 = 1 << 20;
    const LIMIT: u64 = 1 << 32;
    let mut best: Option<(u64, u64)> = None;
    for line in iomem.lines().filter(|l| !l.starts_with(' ')) {
        let Some((range, name)) = line.split_once(" : ") else {
            continue;
        };
        if name.trim() != "System RAM" {
            continue;
        }
        let Some((a, b)) = range.trim().split_once('-') else {
            continue;
        };
        let (Ok(a), Ok(b)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) else {
            continue;
        };
        let end = b.saturating_add(1).min(LIMIT);
        if end <= a || end - a < size + 2 * ALIGN {
            continue;
        }
        if best.is_none_or(|(x, y)| y - x < end - a) {
            best = Some((a, end));
        }
    }
    let (start, end) = best?;
    let addr = (start + (end - start - size) / 2) / ALIGN * ALIGN;
    (addr >= start && addr + size <= end).then_some(addr)
}

/// The `crashkernel=` value `panicdump estimate` would give, with a note
/// on what it was based on.
pub fn estimate_crashkernel(root: &Root) -> (String, String) {
    let Some(release) = root.read_trim("/proc/sys/kernel/osrelease") else {
        return (
            FALLBACK_CRASHKERNEL.into(),
            format!("cannot read the running release; crashkernel={FALLBACK_CRASHKERNEL}"),
        );
    };
    let kernel = root.path(format!("/boot/vmlinuz-{release}"));
    let Some(init_size) = std::fs::read(&kernel)
        .ok()
        .and_then(|img| estimate::bzimage_init_size(&img))
    else {
        return (
            FALLBACK_CRASHKERNEL.into(),
            format!(
                "{} unreadable or not a bzImage; crashkernel={FALLBACK_CRASHKERNEL}",
                kernel.display()
            ),
        );
    };
    let initrd = root.path(format!("/var/lib/panicdump/capture-{release}.img"));
    let (compressed, unpacked, basis) = match std::fs::read(&initrd) {
        Ok(rd) => (
            rd.len() as u64,
            estimate::gunzip_size(&rd).unwrap_or(rd.len() as u64),
            format!("the capture initramfs {}", initrd.display()),
        ),
        Err(_) => (
            ASSUMED_INITRD_COMPRESSED,
            ASSUMED_INITRD_UNPACKED,
            "an assumed 8 MiB capture initramfs (none built yet)".to_string(),
        ),
    };
    let ram = std::fs::read_to_string(root.path("/proc/meminfo"))
        .ok()
        .and_then(|m| estimate::mem_total(&m))
        .unwrap_or(0);
    let e = estimate::estimate(init_size, compressed, unpacked, ram);
    let value = e.crashkernel.trim_start_matches("crashkernel=").to_string();
    (
        value.clone(),
        format!(
            "crashkernel={value} estimated from {} and {basis}",
            kernel.display()
        ),
    )
}

/// The parameters to add given the configuration, the system under `root`
/// and the parameters the boot configuration already has (`existing`).
pub fn compute(root: &Root, cfg: &Config, existing: &[String]) -> Additions {
    let mut a = Additions::default();
    if cfg.mode.wants_kdump() {
        match (&cfg.kdump.crashkernel, existing_crashkernel(existing)) {
            (Some(want), _) => a.crashkernel = Some(want.clone()),
            (None, Some(have)) => a.notes.push(format!(
                "keeping the existing crashkernel={have} (set kdump.crashkernel to replace it)"
            )),
            (None, None) => {
                let (value, note) = estimate_crashkernel(root);
                a.notes.push(note);
                a.crashkernel = Some(value);
            }
        }
        match existing.iter().find_map(|p| p.strip_prefix("log_buf_len=")) {
            Some(have) => {
                let small =
                    parse_size(have).is_some_and(|n| n < parse_size(LOG_BUF_LEN).unwrap_or(0));
                a.notes.push(if small {
                    format!(
                        "keeping the existing log_buf_len={have}; {LOG_BUF_LEN} keeps a panic through a printk storm"
                    )
                } else {
                    format!("keeping the existing log_buf_len={have}")
                });
            }
            None => a.log_buf_len = Some(LOG_BUF_LEN.to_string()),
        }
    }
    if cfg.mode.wants_pstore() {
        let backend = State::read(root).pstore_backend.filter(|b| b != "ramoops");
        let want_ramoops = match cfg.pstore.backend {
            Backend::Firmware => false,
            Backend::Ramoops => true,
            Backend::Auto => backend.is_none(),
        };
        if let (Backend::Auto, Some(b)) = (cfg.pstore.backend, &backend) {
            a.notes.push(format!(
                "pstore backend {b} is active; no RAM reserved for ramoops"
            ));
        }
        if want_ramoops {
            let size = cfg.pstore.ramoops_size.0;
            match (cfg.pstore.ramoops_address, existing_reservation(existing)) {
                (Some(addr), _) => {
                    a.memmap = Some(Region {
                        start: addr.0,
                        size,
                    })
                }
                (None, Some(r)) => a.notes.push(format!(
                    "keeping the existing ramoops reservation {}",
                    memmap_param(r)
                )),
                (None, None) => {
                    let iomem =
                        std::fs::read_to_string(root.path("/proc/iomem")).unwrap_or_default();
                    match choose_ramoops_address(&iomem, size) {
                        Some(start) => a.memmap = Some(Region { start, size }),
                        None => a.notes.push(
                            "no RAM range for ramoops found in /proc/iomem (run as root, or set pstore.ramoops_address)".into(),
                        ),
                    }
                }
            }
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_in_the_middle_of_low_ram() {
        let iomem = "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n\
                     00100000-3ffdffff : System RAM\n  01000000-01ffffff : Kernel code\n\
                     100000000-17fffffff : System RAM\n";
        assert_eq!(choose_ramoops_address(iomem, 1 << 20), Some(0x1ff0_0000));
        assert_eq!(choose_ramoops_address("", 1 << 20), None);
        // Above 4 GiB only: the range is clipped to nothing.
        assert_eq!(
            choose_ramoops_address("100000000-17fffffff : System RAM\n", 1 << 20),
            None
        );
    }

    #[test]
    fn existing_params() {
        let p: Vec<String> = ["ro", "crashkernel=1G-:256M", "memmap=1M$0x3f000000"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(existing_crashkernel(&p), Some("1G-:256M"));
        assert_eq!(
            existing_reservation(&p),
            Some(Region {
                start: 0x3f00_0000,
                size: 1 << 20
            })
        );
        assert_eq!(
            memmap_param(Region {
                start: 0x3fe0_0000,
                size: 1 << 20
            }),
            "memmap=1M$0x3fe00000"
        );
    }
}
