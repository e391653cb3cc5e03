//! The capture kernel's command line, derived from the running one.
//!
//! Distributions keep the running kernel's options (console, root, IOMMU and
//! ACPI workarounds the machine needs to boot at all) and apply two lists:
//! options to drop because they waste the small reservation or break a
//! one-CPU capture boot, and options to add. Each rule below says why.

/// How a dropped option is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Match {
    /// The option's key equals this (`-`/`_` are equivalent).
    Key(&'static str),
    /// The option's key starts with this (`plymouth.`, `panicdump.`).
    Prefix(&'static str),
}

/// Options removed from the running command line, with the reason.
const DROP: &[(Match, &str)] = &[
    (
        Match::Key("crashkernel"),
        "the capture kernel must not reserve memory again",
    ),
    (
        Match::Key("BOOT_IMAGE"),
        "set by the boot loader for the first kernel only",
    ),
    (
        Match::Key("initrd"),
        "the capture initramfs is passed by kexec",
    ),
    (
        Match::Key("init"),
        "panicdump's /init must run, not the system's init",
    ),
    (
        Match::Key("rdinit"),
        "panicdump's /init must run, not the system's init",
    ),
    (
        Match::Key("resume"),
        "resuming a hibernation image from the capture kernel would overwrite the dump",
    ),
    (Match::Key("resume_offset"), "goes with resume="),
    (
        Match::Key("nomodule"),
        "the capture loads its storage and filesystem modules",
    ),
    (
        Match::Key("quiet"),
        "the capture's console output is the first thing read when it fails",
    ),
    (Match::Key("splash"), "no boot splash in the capture"),
    (Match::Key("rhgb"), "no graphical boot in the capture"),
    (Match::Prefix("plymouth."), "no boot splash in the capture"),
    (
        Match::Key("loglevel"),
        "replaced: the capture logs at its own level",
    ),
    (
        Match::Key("log_buf_len"),
        "large log buffers are allocated from the small reservation",
    ),
    (
        Match::Key("hugepages"),
        "huge page pools are allocated from the small reservation",
    ),
    (Match::Key("hugepagesz"), "goes with hugepages="),
    (Match::Key("default_hugepagesz"), "goes with hugepages="),
    (
        Match::Key("hugetlb_cma"),
        "CMA areas are carved from the small reservation",
    ),
    (
        Match::Key("cma"),
        "CMA areas are carved from the small reservation",
    ),
    (
        Match::Key("transparent_hugepage"),
        "replaced by transparent_hugepage=never",
    ),
    (
        Match::Key("swiotlb"),
        "a large bounce buffer does not fit the reservation",
    ),
    (
        Match::Key("slub_debug"),
        "debug metadata multiplies slab memory",
    ),
    (Match::Key("page_owner"), "per-page tracking memory"),
    (Match::Key("kmemleak"), "leak tracking memory"),
    (
        Match::Key("mem"),
        "the capture kernel's memory is the reservation, passed by kexec",
    ),
    (
        Match::Key("memmap"),
        "the capture kernel's memory map is passed by kexec; extra ranges could overlap the dump",
    ),
    (Match::Key("numa"), "replaced by numa=off"),
    (Match::Key("numa_balancing"), "no NUMA in the capture"),
    (Match::Key("nr_cpus"), "replaced by nr_cpus=1"),
    (Match::Key("maxcpus"), "replaced by nr_cpus=1"),
    (Match::Key("possible_cpus"), "replaced by nr_cpus=1"),
    (
        Match::Key("isolcpus"),
        "CPU lists name CPUs the one-CPU capture does not have",
    ),
    (
        Match::Key("nohz_full"),
        "CPU lists name CPUs the one-CPU capture does not have",
    ),
    (
        Match::Key("rcu_nocbs"),
        "CPU lists name CPUs the one-CPU capture does not have",
    ),
    (
        Match::Key("irqaffinity"),
        "CPU lists name CPUs the one-CPU capture does not have",
    ),
    (Match::Key("irqpoll"), "added once below"),
    (Match::Key("reset_devices"), "added once below"),
    (Match::Key("panic"), "replaced: a failed capture reboots"),
    (
        Match::Key("cgroup_disable"),
        "replaced by cgroup_disable=memory",
    ),
    (
        Match::Prefix("panicdump."),
        "the first kernel's panicdump options; the capture gets its own",
    ),
];

/// Options appended to every capture command line, with the reason.
pub const ADD: &[(&str, &str)] = &[
    (
        "irqpoll",
        "interrupts the crashed kernel left masked or routed elsewhere are polled",
    ),
    (
        "nr_cpus=1",
        "one CPU: the other CPUs were stopped mid-flight and per-CPU memory is saved",
    ),
    (
        "reset_devices",
        "drivers reset devices that may still be doing DMA for the crashed kernel",
    ),
    (
        "numa=off",
        "one node: no per-node structures in the small reservation",
    ),
    (
        "cgroup_disable=memory",
        "the memory controller's per-page accounting costs reservation memory",
    ),
    (
        "transparent_hugepage=never",
        "no huge page compaction work in the capture",
    ),
    (
        "panic=10",
        "a capture that panics reboots the machine after 10 s instead of hanging",
    ),
];

/// One option removed from the running command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The option as it was.
    pub option: String,
    /// Why it was removed.
    pub reason: &'static str,
}

/// The derived command line and what was removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    /// The capture kernel's command line.
    pub cmdline: String,
    /// Options removed, in order.
    pub dropped: Vec<Dropped>,
}

/// Split a command line like the kernel does: on spaces, except inside
/// double quotes (`acpi_osi="Windows 2015"` is one option). Everything
/// after a bare `--` goes to init; it is returned as the second value.
pub fn split(cmdline: &str) -> (Vec<String>, Vec<String>) {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut started = false;
    for c in cmdline.chars() {
        match c {
            '"' => {
                quoted = !quoted;
                cur.push(c);
                started = true;
            }
            c if c.is_whitespace() && !quoted => {
                if started {
                    words.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            c => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        words.push(cur);
    }
    match words.iter().position(|w| w == "--") {
        Some(i) => {
            let init = words.split_off(i + 1);
            words.pop();
            (words, init)
        }
        None => (words, Vec::new()),
    }
}

/// The key of an option (`a-b.c=1` → `a_b.c`), `-` normalised to `_` as the kernel does.
fn key(option: &str) -> String {
    option.split('=').next().unwrap_or(option).replace('-', "_")
}

fn drop_reason(option: &str) -> Option<&'static str> {
    let k = key(option);
    DROP.iter().find_map(|(m, reason)| {
        let hit = match m {
            Match::Key(x) => k == x.replace('-', "_"),
            Match::Prefix(p) => k.starts_with(&p.replace('-', "_")),
        };
        hit.then_some(*reason)
    })
}

/// Derive the capture command line from the running one. `capture` are
/// the `panicdump.*` options for the capture `/init` (e.g.
/// `panicdump.capture=1`); they are appended last. Options after `--`
/// (arguments of the first system's init) are dropped.
pub fn derive(running: &str, capture: &[String]) -> Derived {
    let (words, init_args) = split(running);
    let mut kept: Vec<String> = Vec::new();
    let mut dropped = Vec::new();
    for w in words {
        match drop_reason(&w) {
            Some(reason) => dropped.push(Dropped { option: w, reason }),
            None => {
                if !kept.contains(&w) {
                    kept.push(w);
                }
            }
        }
    }
    for a in init_args {
        dropped.push(Dropped {
            option: a,
            reason: "argument of the first system's init (after --)",
        });
    }
    kept.extend(ADD.iter().map(|(o, _)| o.to_string()));
    kept.extend(capture.iter().cloned());
    Derived {
        cmdline: kept.join(" "),
        dropped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADDED: &str =
        "irqpoll nr_cpus=1 reset_devices numa=off cgroup_disable=memory transparent_hugepage=never panic=10";

    /// Real-world command lines (Debian, Fedora, Ubuntu, RHEL, Arch, cloud images, the lab).
    #[test]
    fn real_world_table() {
        let table: &[(&str, &str)] = &[
            (
                "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=0b4c6c1e-5f4e-4b1a-9a4c-2f1d2e3c4b5a ro quiet crashkernel=384M-:256M",
                "root=UUID=0b4c6c1e-5f4e-4b1a-9a4c-2f1d2e3c4b5a ro",
            ),
            (
                "BOOT_IMAGE=(hd0,gpt2)/vmlinuz-6.5.6-300.fc39.x86_64 root=UUID=3f1e rootflags=subvol=root ro rhgb quiet crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M",
                "root=UUID=3f1e rootflags=subvol=root ro",
            ),
            (
                "BOOT_IMAGE=/vmlinuz-5.15.0-91-generic root=/dev/mapper/vg-root ro quiet splash vt.handoff=7 crashkernel=512M-:192M",
                "root=/dev/mapper/vg-root ro vt.handoff=7",
            ),
            (
                "BOOT_IMAGE=(hd0,msdos1)/vmlinuz-4.18.0-513.el8.x86_64 root=/dev/mapper/rhel-root ro crashkernel=auto resume=/dev/mapper/rhel-swap rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap rhgb quiet",
                "root=/dev/mapper/rhel-root ro rd.lvm.lv=rhel/root rd.lvm.lv=rhel/swap",
            ),
            (
                "console=tty1 console=ttyS0,115200n8 earlyprintk=ttyS0,115200 rootdelay=300 net.ifnames=0 nvme_core.io_timeout=4294967295 root=PARTUUID=abc-01",
                "console=tty1 console=ttyS0,115200n8 earlyprintk=ttyS0,115200 rootdelay=300 net.ifnames=0 nvme_core.io_timeout=4294967295 root=PARTUUID=abc-01",
            ),
            (
                "root=/dev/sda2 rw hugepagesz=1G hugepages=16 default_hugepagesz=1G isolcpus=2-15 nohz_full=2-15 rcu_nocbs=2-15 intel_iommu=on iommu=pt numa_balancing=disable transparent_hugepage=madvise",
                "root=/dev/sda2 rw intel_iommu=on iommu=pt",
            ),
            (
                "console=ttyS0,115200 panic=1 loglevel=6 crashkernel=256M memmap=1M$0x3f000000 panicdump_lab.token=abc panicdump.pstore=1",
                "console=ttyS0,115200 panicdump_lab.token=abc",
            ),
            (
                "root=/dev/nvme0n1p2 rw acpi_osi=\"Windows 2015\" log_buf_len=16M slub_debug=FZP swiotlb=65536 mem=32G nr-cpus=8 maxcpus=8 -- single emergency",
                "root=/dev/nvme0n1p2 rw acpi_osi=\"Windows 2015\"",
            ),
            (
                "init=/lib/systemd/systemd rdinit=/init nomodule irqpoll reset_devices quiet quiet numa=on cgroup_disable=hugetlb plymouth.enable=0 cma=64M",
                "",
            ),
        ];
        for (running, kept) in table {
            let d = derive(running, &[]);
            let want = if kept.is_empty() {
                ADDED.to_string()
            } else {
                format!("{kept} {ADDED}")
            };
            assert_eq!(d.cmdline, want, "from {running}");
            assert!(!d.cmdline.contains("crashkernel"));
        }
    }

    #[test]
    fn capture_options_appended_and_dropped_reasons() {
        let d = derive(
            "root=/dev/vda ro quiet crashkernel=256M -- s",
            &[
                "panicdump.capture=1".into(),
                "panicdump.target=UUID=x".into(),
            ],
        );
        assert!(d
            .cmdline
            .ends_with("panic=10 panicdump.capture=1 panicdump.target=UUID=x"));
        let opts: Vec<_> = d.dropped.iter().map(|x| x.option.as_str()).collect();
        assert_eq!(opts, ["quiet", "crashkernel=256M", "s"]);
        assert!(d.dropped[1].reason.contains("reserve"));
    }

    #[test]
    fn split_quotes_and_init_args() {
        let (w, i) = split("  a=\"x y\"  b -- c d");
        assert_eq!(w, ["a=\"x y\"", "b"]);
        assert_eq!(i, ["c", "d"]);
        assert_eq!(split("").0.len(), 0);
    }
}
