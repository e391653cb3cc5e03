//! Lab proof of `panicdump setup` (acceptance of issue 7), two real boots
//! under QEMU with the real static panicdump:
//!
//! 1. a guest whose root has GRUB-like (`/etc/default/grub`, `grub.d/`) and
//!    kernel-install-like (`/etc/kernel/cmdline`) files runs `panicdump
//!    setup --yes`; its /etc and the undo manifest come back to the host as
//!    a tar on the console;
//! 2. the host computes the kernel command line from those files as the
//!    boot loaders would (`/bin/sh` sourcing GRUB's defaults; the
//!    kernel-install file as is), checks both agree, and boots the guest
//!    again with it, the files in place (as a persistent root would keep
//!    them). That boot runs the installed arm unit's `ExecStart=`, reports
//!    whether it is armed (crash kernel loaded into the reservation setup
//!    asked for, ramoops on setup's `memmap=` region, sysctls), then runs
//!    `panicdump setup --undo --yes`; the host checks every file is back
//!    byte for byte.

use lab::cmdline::{qemu_argv, QemuSpec};
use lab::initramfs::{build, Contents};
use lab::progress::Progress;
use lab::qemu::QemuRun;
use lab::{host, Lab, Params};
use setup::{bootline, Root};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const BASE: &str = "console=ttyS0,115200 panic=1 loglevel=6";

const PRELUDE: &str = r#"#!/bin/sh
export PATH=/bin:/sbin:/usr/bin
say() { echo "panicdump-lab: $*"; }
fail() { say "error $*"; sync; poweroff -f; sleep 30; }
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
"#;

/// Send /etc and /var/lib/panicdump to the host as base64 between markers.
const SEND_TREE: &str = r#"
say "tree-begin @NAME@"
tar -cf - etc var 2>/dev/null | base64
say "tree-end @NAME@"
"#;

fn original_files(release: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        (
            "etc/default/grub".into(),
            format!("GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"\"\nGRUB_CMDLINE_LINUX=\"{BASE}\"\n").into_bytes(),
        ),
        ("etc/default/grub.d/00-lab.cfg".into(), b"# another package's drop-in\n".to_vec()),
        ("etc/kernel/cmdline".into(), format!("{BASE}\n").into_bytes()),
        ("etc/systemd/system/.lab".into(), Vec::new()),
        ("var/lib/.lab".into(), Vec::new()),
        (format!("etc/lab-release-{release}"), Vec::new()),
    ]
}

fn tree_from_console(console: &str, name: &str, dest: &Path) -> BTreeMap<String, Vec<u8>> {
    let begin = format!("panicdump-lab: tree-begin {name}");
    let end = format!("panicdump-lab: tree-end {name}");
    let text: String = console
        .lines()
        .map(|l| l.trim_end_matches('\r'))
        .skip_while(|l| !l.contains(&begin))
        .skip(1)
        .take_while(|l| !l.contains(&end))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!text.is_empty(), "no tree {name} on the console");
    let _ = std::fs::remove_dir_all(dest);
    std::fs::create_dir_all(dest).unwrap();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg("base64 -d | tar -xf - -C \"$0\"")
        .arg(dest)
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    assert!(
        child.wait().unwrap().success(),
        "tree {name} does not decode"
    );
    let mut out = BTreeMap::new();
    walk(dest, dest, &mut out);
    out
}

fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
        let m = std::fs::symlink_metadata(&p).unwrap();
        if m.file_type().is_symlink() {
            let t = std::fs::read_link(&p).unwrap();
            out.insert(rel, format!("-> {}", t.display()).into_bytes());
        } else if m.is_dir() {
            walk(base, &p, out);
        } else {
            out.insert(rel, std::fs::read(&p).unwrap());
        }
    }
}

struct Guest<'a> {
    lab: &'a Lab,
    qemu: PathBuf,
    busybox: PathBuf,
    panicdump: PathBuf,
    kernel: lab::host::Kernel,
    modules: Vec<lab::modules::Module>,
    base_files: Vec<(String, Vec<u8>)>,
    dir: PathBuf,
}

impl Guest<'_> {
    fn boot(
        &self,
        name: &str,
        init: String,
        extra: Vec<(String, Vec<u8>)>,
        cmdline: &str,
    ) -> String {
        let mut files: Vec<(String, Vec<u8>)> = self
            .base_files
            .iter()
            .filter(|(p, _)| !extra.iter().any(|(q, _)| q == p))
            .cloned()
            .collect();
        files.extend(extra);
        let c = Contents {
            kernel: &self.kernel,
            busybox: &self.busybox,
            kexec: None,
            panicdump: &self.panicdump,
            modules: &self.modules,
            init,
            extra_files: files,
        };
        let initrd = self.dir.join(format!("{name}.cpio"));
        std::fs::write(&initrd, build(&c, false).unwrap()).unwrap();
        let params = Params::default();
        let spec = QemuSpec {
            qemu: &self.qemu,
            kernel: &self.kernel.path,
            initrd: &initrd,
            cmdline: cmdline.to_string(),
            params: &params,
            disks: Vec::new(),
            qmp: None,
            no_reboot: true,
            vmcoreinfo: false,
        };
        let console = self.dir.join(format!("{name}.console.log"));
        let mut run = QemuRun::spawn(
            &qemu_argv(&spec),
            &console,
            &self.dir.join(format!("{name}.stderr")),
            self.lab.config().timeout.unwrap_or(lab::DEFAULT_TIMEOUT),
            name,
            1,
            Progress::new(name, false),
        )
        .unwrap();
        let _ = run.wait_exit();
        let text = std::fs::read_to_string(&console).unwrap();
        assert!(
            !text.contains("panicdump-lab: error"),
            "{name} failed:\n{text}"
        );
        text
    }
}

fn said<'a>(console: &'a str, key: &str) -> &'a str {
    let k = format!("panicdump-lab: {key} ");
    console
        .lines()
        .find_map(|l| l.trim_end_matches('\r').split_once(&k).map(|x| x.1))
        .unwrap_or_else(|| panic!("guest did not say {key}:\n{console}"))
}

#[test]
fn setup_then_boot_with_its_cmdline_is_armed_and_undo_restores() {
    let lab = Lab::from_env().expect("lab configuration");
    let kernel = lab.kernel().expect("lab kernel");
    let progress = Progress::new("setup-lab", false);
    let deps = lab::modules::ModuleDeps::load(&kernel.modules_dir).unwrap();
    let wanted: Vec<&str> = [
        "virtio_pci",
        "virtio_blk",
        "crc32c_generic",
        "ext4",
        "reed_solomon",
        "ramoops",
    ]
    .into_iter()
    .filter(|m| deps.has(m))
    .collect();
    let rel = kernel.release.clone();
    let mut base_files = original_files(&rel);
    base_files.push((
        format!("boot/vmlinuz-{rel}"),
        std::fs::read(&kernel.path).unwrap(),
    ));
    for f in [
        "modules.dep",
        "modules.builtin",
        "modules.alias",
        "modules.symbols",
    ] {
        if let Ok(d) = std::fs::read(kernel.modules_dir.join(f)) {
            base_files.push((format!("lib/modules/{rel}/{f}"), d));
        }
    }
    let dir = lab.root().join("setup-lab");
    std::fs::create_dir_all(&dir).unwrap();
    let g = Guest {
        lab: &lab,
        qemu: host::find_program(None, "qemu-system-x86_64", "qemu-system-x86").unwrap(),
        busybox: host::find_program(Some(Path::new("/bin/busybox")), "busybox", "busybox-static")
            .unwrap(),
        panicdump: lab.static_panicdump(&progress).expect("static panicdump"),
        modules: deps.closure(&wanted).unwrap(),
        kernel: kernel.clone(),
        base_files,
        dir: dir.clone(),
    };
    let originals = original_files(&rel);

    // Boot 1: setup.
    let init1 = format!(
        "{PRELUDE}cd /\npanicdump setup --yes > /tmp/setup.out 2>&1 || {{ cat /tmp/setup.out; fail setup; }}\ncat /tmp/setup.out\n{}\nsync\npoweroff -f\n",
        SEND_TREE.replace("@NAME@", "after-setup")
    );
    let c1 = g.boot("setup", init1, Vec::new(), BASE);
    let t1 = dir.join("after-setup");
    let files1 = tree_from_console(&c1, "after-setup", &t1);
    let root = Root::new(&t1);
    let grub = bootline::grub_cmdline(&root).unwrap();
    let ki = bootline::kernel_install_cmdline(&root).unwrap();
    let added: Vec<&str> = ki
        .strip_prefix(BASE)
        .expect("kernel-install line keeps the original")
        .split_whitespace()
        .collect();
    assert_eq!(
        grub, ki,
        "GRUB and kernel-install would boot different command lines"
    );
    assert!(
        added.iter().any(|p| p.starts_with("crashkernel=")),
        "{added:?}"
    );
    assert!(
        added
            .iter()
            .any(|p| p.starts_with("memmap=") && p.contains('$')),
        "{added:?}"
    );
    for f in [
        "etc/sysctl.d/90-panicdump.conf",
        "etc/systemd/system/panicdump-arm.service",
        "etc/systemd/system/panicdump-collect.service",
        "etc/systemd/system/sysinit.target.wants/panicdump-arm.service",
        "etc/kernel/install.d/90-panicdump.install",
        "var/lib/panicdump/setup/manifest.json",
    ] {
        assert!(
            files1.contains_key(f),
            "setup did not write {f}: {:?}",
            files1.keys()
        );
    }

    // Boot 2: the boot loader's command line, setup's files in place.
    let mut extra = Vec::new();
    let mut links = String::new();
    for (path, bytes) in &files1 {
        match bytes.strip_prefix(b"-> ") {
            Some(target) => links.push_str(&format!(
                "mkdir -p \"$(dirname /{path})\"; ln -s {} /{path}\n",
                String::from_utf8_lossy(target)
            )),
            None => extra.push((path.clone(), bytes.clone())),
        }
    }
    let init2 = format!(
        "{PRELUDE}cd /\n{links}\
         say \"cmdline $(cat /proc/cmdline)\"\n\
         START=$(sed -n 's/^ExecStart=//p' /etc/systemd/system/panicdump-arm.service)\n\
         # systemd expands $VAR in ExecStart= (from the unit's optional\n\
         # EnvironmentFile=, absent here) into words; eval does the same.\n\
         say \"execstart $START\"\n\
         eval \"$START\" > /tmp/arm.out 2>&1; say \"arm-rc $?\"; cat /tmp/arm.out\n\
         say \"crash-loaded $(cat /sys/kernel/kexec_crash_loaded)\"\n\
         say \"crash-size $(cat /sys/kernel/kexec_crash_size)\"\n\
         say \"pstore $(cat /sys/module/pstore/parameters/backend 2>/dev/null || echo none)\"\n\
         say \"panic_on_oops $(cat /proc/sys/kernel/panic_on_oops)\"\n\
         say \"region $(grep -i reserved /proc/iomem | tr '\\n' ' ')\"\n\
         panicdump setup --undo --yes > /tmp/undo.out 2>&1 || {{ cat /tmp/undo.out; fail undo; }}\n\
         cat /tmp/undo.out\n{}\nsync\npoweroff -f\n",
        SEND_TREE.replace("@NAME@", "after-undo")
    );
    let cmdline2 = ki.clone();
    let c2 = g.boot("armed", init2, extra, &cmdline2);
    assert_eq!(said(&c2, "cmdline"), cmdline2);
    assert_eq!(said(&c2, "arm-rc"), "0", "{c2}");
    assert_eq!(said(&c2, "crash-loaded"), "1", "{c2}");
    let ck = added
        .iter()
        .find_map(|p| p.strip_prefix("crashkernel="))
        .unwrap();
    let want: u64 = ck.trim_end_matches('M').parse::<u64>().unwrap() << 20;
    let size: u64 = said(&c2, "crash-size").parse().unwrap();
    assert!(
        size >= want && size < want + (16 << 20),
        "crash size {size} for {ck}"
    );
    assert_eq!(said(&c2, "pstore"), "ramoops", "{c2}");
    assert_eq!(said(&c2, "panic_on_oops"), "1");

    // Undo: every original file back byte for byte, setup's files gone.
    let files3 = tree_from_console(&c2, "after-undo", &dir.join("after-undo"));
    for (path, bytes) in &originals {
        assert_eq!(files3.get(path), Some(bytes), "{path} not restored");
    }
    let leftovers: Vec<&String> = files3
        .keys()
        .filter(|k| !originals.iter().any(|(p, _)| p == *k))
        // What `panicdump arm` built is arm's, not setup's.
        .filter(|k| !k.starts_with("var/lib/panicdump/capture-"))
        .collect();
    assert!(leftovers.is_empty(), "undo left {leftovers:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
