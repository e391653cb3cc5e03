//! Real lab runs: each test boots the distribution kernel under QEMU (minutes
//! under TCG on the first run; cached afterwards under target/lab).
//!
//! They need qemu-system-x86, linux-image-amd64, busybox-static and
//! kexec-tools (scripts/install-deps.sh installs them).

use lab::elfcore::{self, vmcoreinfo_value, ET_CORE};
use lab::{Lab, Recipe};

fn lab() -> Lab {
    Lab::from_env().expect("lab configuration")
}

#[test]
fn kdump_vmcore_is_an_elf_core_with_vmcoreinfo() {
    let lab = lab();
    let a = lab.artifact(Recipe::Kdump).expect("kdump artifact");
    let s = elfcore::summarize(&a.vmcore()).expect("vmcore headers");
    assert_eq!(s.e_type, ET_CORE);
    assert!(s.loads >= 2, "{} PT_LOADs", s.loads);
    assert_eq!(
        s.end,
        std::fs::metadata(a.vmcore()).unwrap().len(),
        "file size matches the headers"
    );
    // The reservation is excluded, the rest of RAM is there.
    let ram = u64::from(a.meta.memory_mib) << 20;
    assert!(
        s.load_bytes > ram / 2 && s.load_bytes < ram,
        "{}",
        s.load_bytes
    );
    let info = s.vmcoreinfo().expect("VMCOREINFO note");
    assert_eq!(
        vmcoreinfo_value(&info, "OSRELEASE"),
        Some(a.meta.release.as_str())
    );
    assert!(
        s.notes.iter().any(|n| n.name == "CORE"),
        "NT_PRSTATUS notes"
    );
    assert!(a.marker().starts_with("panicdump-lab-marker "));
    let console = std::fs::read_to_string(a.console_log()).unwrap();
    assert!(console.contains(a.marker()), "marker on the console");
    assert!(console.contains("sysrq triggered crash"));
}

#[test]
fn qemu_dump_files_have_their_magic() {
    let lab = lab();
    let a = lab.artifact(Recipe::QemuDump).expect("qemu-dump artifact");
    let s = elfcore::summarize(&a.qemu_elf()).expect("qemu.elf headers");
    assert_eq!(s.e_type, ET_CORE);
    assert!(s.loads >= 1);
    let info = s
        .vmcoreinfo()
        .expect("VMCOREINFO note (from -device vmcoreinfo)");
    assert_eq!(
        vmcoreinfo_value(&info, "OSRELEASE"),
        Some(a.meta.release.as_str())
    );
    let flat = std::fs::read(a.qemu_kdump_flat()).unwrap();
    assert!(flat.len() > 4096);
    assert_eq!(&flat[..13], b"makedumpfile\0");
    // type (TYPE_FLAT_HEADER) and version, big-endian, both 1.
    assert_eq!(
        &flat[16..32],
        &[0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    );
}

#[test]
fn pstore_has_the_panic_record_with_the_marker() {
    let lab = lab();
    let a = lab.artifact(Recipe::Pstore).expect("pstore artifact");
    let mut found = false;
    for e in std::fs::read_dir(a.pstore_dir()).unwrap() {
        let e = e.unwrap();
        let name = e.file_name().to_string_lossy().into_owned();
        if !name.starts_with("dmesg-ramoops-") {
            continue;
        }
        let text = String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
        assert!(
            text.starts_with("Panic#1 Part1"),
            "{name}: {:?}",
            &text[..text.len().min(40)]
        );
        assert!(text.contains(a.marker()), "{name} lacks the marker");
        found = true;
    }
    assert!(found, "no dmesg-ramoops-* in {}", a.pstore_dir().display());
}

/// `panicdump arm` (kexec_file_load, derived capture command line) loads
/// the crash kernel in the guest, and after sysrq-c the crash kernel
/// reaches /init with a /proc/vmcore.
#[test]
fn arm_kdump_reaches_crash_kernel_with_vmcore() {
    let lab = lab();
    let a = lab.artifact(Recipe::ArmKdump).expect("arm-kdump artifact");
    let console = std::fs::read_to_string(a.dir.join("console.log")).expect("console.log");
    assert!(
        console.contains("panicdump-lab: armed 1"),
        "panic_on_oops set"
    );
    let cmdline = console
        .lines()
        .find_map(|l| l.split("panicdump-lab: crash-cmdline ").nth(1))
        .expect("crash kernel command line reported");
    assert!(
        cmdline.contains("irqpoll nr_cpus=1 reset_devices"),
        "{cmdline}"
    );
    assert!(cmdline.contains("panicdump.capture=1"), "{cmdline}");
    assert!(!cmdline.contains("crashkernel="), "{cmdline}");
    assert!(console.contains("panicdump-lab: vmcore-size "));
}
