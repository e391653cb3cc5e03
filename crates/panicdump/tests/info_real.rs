//! Acceptance: `panicdump info` on real dumps of Debian's kernel.

mod common;

use common::*;

fn info_json(path: &std::path::Path) -> serde_json::Value {
    serde_json::from_slice(&run_ok(&["info", "--json", path.to_str().unwrap()]))
        .expect("info --json prints JSON")
}

#[test]
fn kdump_vmcore_info() {
    let vmcore = lab("kdump");
    let v = info_json(&vmcore);
    let release = v["kernel"]["release"].as_str().unwrap();
    // The lab booted /boot/vmlinuz-<release>; the dump must say the same.
    assert!(
        std::path::Path::new(&format!("/boot/vmlinuz-{release}")).exists(),
        "release {release} is not an installed kernel"
    );
    assert!(v["kernel"]["version"].as_str().unwrap().starts_with('#'));
    assert_eq!(v["kernel"]["machine"], "x86_64");
    assert_eq!(
        v["panic_message"],
        "Kernel panic - not syncing: sysrq triggered crash"
    );
    assert_eq!(v["format_detail"]["origin"], "kernel");
    assert_eq!(v["page_size"], 4096);
    // The crash time is the guest's clock at the panic: after the kernel
    // was built, and not in the future.
    let t = v["crash_time"]["epoch"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(t > 1_600_000_000 && t <= now + 60, "crash time {t}");
    // The panicking CPU saved its registers in __crash_kexec (kdump's
    // crash_setup_regs), and the RIP symbol is found without a vmlinux.
    let cpu = &v["panicking_cpu"];
    let sym = cpu["rip_symbol"].as_str().expect("RIP symbolized");
    assert!(sym.starts_with("__crash_kexec+0x"), "RIP at {sym}");
    let human = String::from_utf8(run_ok(&["info", vmcore.to_str().unwrap()])).unwrap();
    assert!(human.contains("Panic:         Kernel panic - not syncing: sysrq triggered crash"));
}

/// kallsyms decoded from the dump agrees with the symbol table of the debug
/// vmlinux (`nm`), shifted by the KASLR offset the dump reports. (Debian's
/// /boot/System.map is a stub pointing at the -dbg package.)
#[test]
fn kallsyms_matches_vmlinux_symbols() {
    let vmcore = lab("kdump");
    let v = info_json(&vmcore);
    let release = v["kernel"]["release"].as_str().unwrap();
    let offset = v["kernel"]["kaslr_offset"].as_u64().unwrap();
    let nm = std::process::Command::new("nm")
        .arg(debug_vmlinux(release))
        .output()
        .expect("nm (binutils) is installed");
    assert!(nm.status.success());
    let map = String::from_utf8_lossy(&nm.stdout);
    let rip = v["panicking_cpu"]["registers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == "rip")
        .unwrap()[1]
        .as_u64()
        .unwrap();
    // The symbol the vmlinux places RIP in must be the one panicdump named.
    let unshifted = rip - offset;
    let mut best: Option<(u64, &str)> = None;
    for line in map.lines() {
        let mut f = line.split_whitespace();
        let (Some(a), Some(kind), Some(name)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        if !matches!(kind, "t" | "T") {
            continue;
        }
        let a = u64::from_str_radix(a, 16).unwrap();
        if a <= unshifted && best.is_none_or(|(b, _)| a > b) {
            best = Some((a, name));
        }
    }
    let (a, name) = best.unwrap();
    let sym = v["panicking_cpu"]["rip_symbol"].as_str().unwrap();
    assert_eq!(
        sym.split('+').next().unwrap(),
        name,
        "the vmlinux symbol table puts RIP in {name}"
    );
    assert!(sym.starts_with(&format!("{name}+{:#x}/", unshifted - a)));
}

#[test]
fn makedumpfile_output_info() {
    let dump = makedumpfile_output(&["-c"], "info.zlib");
    let v = info_json(&dump);
    assert_eq!(v["dump_level"], 31);
    assert_eq!(v["format_detail"]["container"], "kdump_compressed");
    assert_eq!(v["format_detail"]["compression"], "zlib");
    assert!(v["pages"]["excluded"].as_u64().unwrap() > 0);
    assert_eq!(
        v["panic_message"],
        "Kernel panic - not syncing: sysrq triggered crash"
    );
}
