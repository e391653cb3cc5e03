//! Kernel command lines and QEMU argument vectors.

use crate::params::{Params, Recipe};
use std::path::{Path, PathBuf};

/// Where ramoops lives in guest RAM and how it is split (formats.md §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RamoopsLayout {
    /// Physical start of the reserved region.
    pub mem_address: u64,
    /// Size of the region.
    pub mem_size: u64,
    /// Size of each dmesg record zone.
    pub record_size: u64,
    /// Console zone size.
    pub console_size: u64,
    /// pmsg zone size.
    pub pmsg_size: u64,
}

impl RamoopsLayout {
    /// 1 MiB in the middle of low RAM (RAM above 3 GiB is split around the
    /// PCI hole, so larger guests count up to the 2 GiB mark). Not near the
    /// top: QEMU, like boot loaders, loads the initramfs at the top of low
    /// RAM on every boot without knowing about `memmap=`, and an initramfs
    /// reaching down into the region erases the records at the reboot that
    /// should collect them.
    pub fn for_memory(memory_mib: u32) -> Self {
        let top_mib = u64::from(memory_mib.min(2048));
        Self {
            mem_address: (top_mib / 2) << 20,
            mem_size: 1 << 20,
            record_size: 0x10000,
            console_size: 0x10000,
            pmsg_size: 0x10000,
        }
    }

    /// The `memmap=` argument reserving the region (`$` is literal here:
    /// QEMU is spawned without a shell).
    pub fn memmap_arg(&self) -> String {
        format!("memmap={}M${:#x}", self.mem_size >> 20, self.mem_address)
    }

    /// `insmod ramoops` parameters.
    pub fn module_params(&self) -> String {
        format!(
            "mem_address={:#x} mem_size={:#x} record_size={:#x} console_size={:#x} pmsg_size={:#x} ecc=0",
            self.mem_address, self.mem_size, self.record_size, self.console_size, self.pmsg_size
        )
    }
}

/// Prefix of the kernel parameter carrying the marker token to init. A dot
/// makes the kernel treat it as a module parameter: not passed to init's
/// environment, and ignored without complaint.
pub const TOKEN_PARAM: &str = "panicdump_lab.token";

/// Command line of the (first) guest kernel.
pub fn guest_cmdline(recipe: Recipe, params: &Params, token: &str) -> String {
    // panic=1: reboot one second after a panic. For kdump and qemu-dump,
    // -no-reboot turns that into a QEMU exit, so a failed crash kernel is a
    // prompt error rather than a timeout; for pstore it is the warm reset.
    let mut args = vec![
        "console=ttyS0,115200".to_string(),
        "panic=1".into(),
        "loglevel=6".into(),
    ];
    match recipe {
        Recipe::Kdump | Recipe::ArmKdump | Recipe::Chain => {
            args.push(format!("crashkernel={}", params.crashkernel))
        }
        Recipe::QemuDump => {}
        Recipe::Pstore => args.push(RamoopsLayout::for_memory(params.memory_mib).memmap_arg()),
    }
    args.push(format!("{TOKEN_PARAM}={token}"));
    args.join(" ")
}

/// Command line of the kdump crash kernel (loaded by `kexec -p`).
pub fn crash_cmdline() -> String {
    // The usual kdump set: one CPU, reset devices left mid-DMA, poll IRQs
    // that the dead kernel left masked.
    "console=ttyS0,115200 panic=1 loglevel=6 irqpoll nr_cpus=1 reset_devices".into()
}

/// A raw disk given to the guest as virtio-blk; the guest finds it by serial.
#[derive(Debug, Clone)]
pub struct Disk {
    /// Host image file.
    pub path: PathBuf,
    /// Serial number seen in `/sys/block/vdX/serial`.
    pub serial: String,
}

/// Everything QEMU needs for one run.
#[derive(Debug, Clone)]
pub struct QemuSpec<'a> {
    /// `qemu-system-x86_64`.
    pub qemu: &'a Path,
    /// bzImage.
    pub kernel: &'a Path,
    /// Initramfs.
    pub initrd: &'a Path,
    /// Kernel command line.
    pub cmdline: String,
    /// Guest parameters.
    pub params: &'a Params,
    /// Disks, in PCI order.
    pub disks: Vec<Disk>,
    /// QMP socket, if the host drives QEMU.
    pub qmp: Option<&'a Path>,
    /// Exit QEMU instead of resetting the guest.
    pub no_reboot: bool,
    /// Add `-device vmcoreinfo` (QEMU dumps then carry VMCOREINFO).
    pub vmcoreinfo: bool,
}

/// The argument vector, program first.
pub fn qemu_argv(spec: &QemuSpec<'_>) -> Vec<String> {
    let p = |x: &Path| x.display().to_string();
    let mut a: Vec<String> = vec![p(spec.qemu)];
    let mut push = |xs: &[&str]| a.extend(xs.iter().map(|s| s.to_string()));
    // KVM exists but hangs on these machines: TCG only (lab-notes).
    push(&["-accel", "tcg", "-machine", "pc", "-cpu", "max"]);
    push(&[
        "-m",
        &spec.params.memory_mib.to_string(),
        "-smp",
        &spec.params.smp.to_string(),
    ]);
    // -nodefaults drops the default NIC and VGA; the serial console is the only output.
    push(&[
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-serial",
        "stdio",
    ]);
    push(&[
        "-kernel",
        &p(spec.kernel),
        "-initrd",
        &p(spec.initrd),
        "-append",
        &spec.cmdline,
    ]);
    for (i, d) in spec.disks.iter().enumerate() {
        let id = format!("disk{i}");
        push(&[
            "-drive",
            &format!(
                "file={},format=raw,if=none,id={id},cache=writeback",
                p(&d.path)
            ),
            "-device",
            &format!("virtio-blk-pci,drive={id},serial={}", d.serial),
        ]);
    }
    if let Some(q) = spec.qmp {
        push(&["-qmp", &format!("unix:{},server=on,wait=off", p(q))]);
    }
    if spec.vmcoreinfo {
        push(&["-device", "vmcoreinfo"]);
    }
    if spec.no_reboot {
        push(&["-no-reboot"]);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ramoops_for_1g() {
        let l = RamoopsLayout::for_memory(1024);
        assert_eq!(l.memmap_arg(), "memmap=1M$0x20000000");
        assert!(l
            .module_params()
            .starts_with("mem_address=0x20000000 mem_size=0x100000"));
        assert_eq!(RamoopsLayout::for_memory(8192).mem_address, 0x4000_0000);
    }

    #[test]
    fn cmdlines() {
        let p = Params::default();
        let k = guest_cmdline(Recipe::Kdump, &p, "abc");
        assert!(k.contains("crashkernel=256M"));
        assert!(k.contains("console=ttyS0"));
        assert!(k.ends_with("panicdump_lab.token=abc"));
        let ps = guest_cmdline(Recipe::Pstore, &p, "abc");
        assert!(ps.contains("memmap=1M$0x20000000"));
        assert!(!ps.contains("crashkernel"));
        assert!(crash_cmdline().contains("nr_cpus=1"));
        assert!(!crash_cmdline().contains("crashkernel"));
    }

    #[test]
    fn argv() {
        let params = Params::default();
        let spec = QemuSpec {
            qemu: Path::new("/usr/bin/qemu-system-x86_64"),
            kernel: Path::new("/boot/vmlinuz"),
            initrd: Path::new("/tmp/i.gz"),
            cmdline: "console=ttyS0".into(),
            params: &params,
            disks: vec![Disk {
                path: "/tmp/out.img".into(),
                serial: "pdout".into(),
            }],
            qmp: Some(Path::new("/tmp/q.sock")),
            no_reboot: true,
            vmcoreinfo: true,
        };
        let a = qemu_argv(&spec);
        let s = a.join(" ");
        assert_eq!(a[0], "/usr/bin/qemu-system-x86_64");
        assert!(s.contains("-accel tcg"));
        assert!(!s.contains("kvm"));
        assert!(s.contains("-m 1024 -smp 1"));
        assert!(s.contains("virtio-blk-pci,drive=disk0,serial=pdout"));
        assert!(s.contains("-qmp unix:/tmp/q.sock,server=on,wait=off"));
        assert!(s.contains("-device vmcoreinfo"));
        assert!(s.ends_with("-no-reboot"));
        let i = a.iter().position(|x| x == "-append").unwrap();
        assert_eq!(a[i + 1], "console=ttyS0");
    }
}
