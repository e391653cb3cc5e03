//! `setup` and `setup --undo` on file trees built in temporary directories
//! (never the host's /etc): GRUB drop-in, GRUB main file, kernel-install,
//! both, neither, an existing crashkernel=, twice, undo byte for byte with
//! permissions, undo after a setup that failed halfway, dry run.

use config::Config;
use setup::{bootline, manifest, Options, Root, Runner, SetupError};
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

struct Tree {
    dir: PathBuf,
}

impl Drop for Tree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const RELEASE: &str = "6.1.0-test";
const IOMEM: &str = "00000000-00000fff : Reserved\n00001000-0009fbff : System RAM\n\
                     00100000-3ffdffff : System RAM\n  01000000-01ffffff : Kernel code\n";

impl Tree {
    fn new(name: &str) -> Tree {
        let dir = std::env::temp_dir().join(format!(
            "pdsetup-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        let t = Tree { dir };
        t.write("/proc/sys/kernel/osrelease", &format!("{RELEASE}\n"));
        t.write(
            "/proc/cmdline",
            "BOOT_IMAGE=/boot/vmlinuz-6.1.0-test root=/dev/vda1 ro quiet\n",
        );
        t.write("/proc/iomem", IOMEM);
        t.write("/proc/meminfo", "MemTotal:        1000000 kB\n");
        // A bzImage setup header: boot protocol 2.15, init_size 63.6 MiB.
        let mut img = vec![0u8; 0x300];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x206..0x208].copy_from_slice(&0x20fu16.to_le_bytes());
        img[0x260..0x264].copy_from_slice(&0x3f98000u32.to_le_bytes());
        t.write_bytes(&format!("/boot/vmlinuz-{RELEASE}"), &img);
        std::fs::create_dir_all(t.root().path("/etc/systemd/system")).unwrap();
        t
    }
    fn root(&self) -> Root {
        Root::new(&self.dir)
    }
    fn write(&self, path: &str, text: &str) {
        self.write_bytes(path, text.as_bytes());
    }
    fn write_bytes(&self, path: &str, bytes: &[u8]) {
        let p = self.root().path(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
    fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.root().path(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }
    fn exists(&self, path: &str) -> bool {
        self.root().path(path).symlink_metadata().is_ok()
    }
    fn chmod(&self, path: &str, mode: u32) {
        std::fs::set_permissions(
            self.root().path(path),
            std::fs::Permissions::from_mode(mode),
        )
        .unwrap();
    }
    fn exe(&self, path: &str) {
        self.write(path, "#!/bin/sh\nexit 0\n");
        self.chmod(path, 0o755);
    }
    fn debian_grub(&self) {
        self.write(
            "/etc/default/grub",
            "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"console=ttyS0\"\n",
        );
        self.write(
            "/etc/default/grub.d/init-select.cfg",
            "# other package's drop-in\n",
        );
        self.exe("/usr/sbin/update-grub");
    }
    fn kernel_install(&self) {
        self.write("/etc/kernel/cmdline", "root=UUID=1234 rw  quiet splash\n");
        self.chmod("/etc/kernel/cmdline", 0o600);
        self.exe("/usr/bin/kernel-install");
    }

    /// Every path under the root (except /proc and /boot, which setup only
    /// reads) with its type, bytes, mode and owner.
    fn snapshot(&self) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, String>) {
            for e in std::fs::read_dir(dir).unwrap().flatten() {
                let p = e.path();
                let rel = p.strip_prefix(base).unwrap().to_string_lossy().into_owned();
                if rel == "proc" || rel == "boot" {
                    continue;
                }
                let m = std::fs::symlink_metadata(&p).unwrap();
                let desc = if m.file_type().is_symlink() {
                    format!("link {}", std::fs::read_link(&p).unwrap().display())
                } else if m.is_dir() {
                    walk(base, &p, out);
                    format!("dir {:o}", m.mode() & 0o7777)
                } else {
                    format!(
                        "file {:o} {}:{} {:?}",
                        m.mode() & 0o7777,
                        m.uid(),
                        m.gid(),
                        std::fs::read(&p).unwrap()
                    )
                };
                out.insert(rel, desc);
            }
        }
        walk(&self.dir, &self.dir, &mut out);
        out
    }
}

fn run(t: &Tree, cfg: &Config) -> setup::Report {
    let plan = setup::plan(&t.root(), cfg, &Options::default()).unwrap();
    setup::apply(&t.root(), plan, None).unwrap()
}

fn undo_restores(t: &Tree, before: &BTreeMap<String, String>) {
    let u = setup::undo(&t.root(), None).unwrap();
    assert!(u.undone.is_some());
    let after = t.snapshot();
    assert_eq!(&after, before, "undo did not restore the tree");
    // Idempotent: nothing left to undo.
    assert!(setup::undo(&t.root(), None).unwrap().undone.is_none());
    assert_eq!(&t.snapshot(), before);
}

#[test]
fn grub_dropin_debian() {
    let t = Tree::new("grubd");
    t.debian_grub();
    let before = t.snapshot();
    let r = run(&t, &Config::default());
    let dropin = t.read("/etc/default/grub.d/panicdump.cfg");
    assert!(dropin.contains("crashkernel="), "{dropin}");
    // /etc/default/grub itself is untouched.
    assert_eq!(
        t.read("/etc/default/grub"),
        "GRUB_DEFAULT=0\nGRUB_TIMEOUT=5\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet\"\nGRUB_CMDLINE_LINUX=\"console=ttyS0\"\n"
    );
    // What GRUB would boot with, computed by /bin/sh sourcing the files.
    let line = bootline::grub_cmdline(&t.root()).unwrap();
    let ck = r.plan.additions.crashkernel.clone().unwrap();
    assert_eq!(
        line,
        format!("console=ttyS0 quiet crashkernel={ck} memmap=1M$0x1ff00000 log_buf_len=1M")
    );
    // The estimate: 63.6 MiB kernel + runtime + an assumed 8 MiB image.
    let mib: u64 = ck.trim_end_matches('M').parse().unwrap();
    assert!((128..=176).contains(&mib), "{ck}");
    assert_eq!(
        r.not_run.first().map(String::as_str),
        Some("/usr/sbin/update-grub")
    );
    assert!(t
        .read("/etc/sysctl.d/90-panicdump.conf")
        .contains("kernel.panic_on_oops = 1"));
    assert_eq!(
        std::fs::read_link(
            t.root()
                .path("/etc/systemd/system/sysinit.target.wants/panicdump-arm.service")
        )
        .unwrap(),
        Path::new("/etc/systemd/system/panicdump-arm.service")
    );
    // The submit timer is enabled; its service is started by the timer only.
    assert_eq!(
        std::fs::read_link(
            t.root()
                .path("/etc/systemd/system/timers.target.wants/panicdump-submit.timer")
        )
        .unwrap(),
        Path::new("/etc/systemd/system/panicdump-submit.timer")
    );
    assert!(t
        .read("/etc/systemd/system/panicdump-submit.service")
        .contains(" submit --pending\n"));
    assert!(!t.exists("/etc/systemd/system/timers.target.wants/panicdump-submit.service"));
    assert!(!t.exists("/etc/pacman.d/hooks/90-panicdump.hook"));
    assert!(!t.exists("/etc/kernel/cmdline"));
    undo_restores(&t, &before);
}

#[test]
fn grub_main_file_arch_with_pacman() {
    let t = Tree::new("grubmain");
    t.write(
        "/etc/default/grub",
        "GRUB_CMDLINE_LINUX_DEFAULT=\"loglevel=3 quiet\"\nGRUB_CMDLINE_LINUX=\"\"",
    );
    t.chmod("/etc/default/grub", 0o640);
    t.exe("/usr/bin/grub-mkconfig");
    t.exe("/usr/bin/pacman");
    let before = t.snapshot();
    let r = run(&t, &Config::default());
    let grub = t.read("/etc/default/grub");
    assert!(grub.starts_with("GRUB_CMDLINE_LINUX_DEFAULT=\"loglevel=3 quiet\"\nGRUB_CMDLINE_LINUX=\"\"\n# BEGIN panicdump"), "{grub}");
    let line = bootline::grub_cmdline(&t.root()).unwrap();
    assert!(line.starts_with("loglevel=3 quiet crashkernel="), "{line}");
    assert!(
        line.ends_with("memmap=1M$0x1ff00000 log_buf_len=1M"),
        "{line}"
    );
    // The file keeps its mode.
    let mode = std::fs::metadata(t.root().path("/etc/default/grub"))
        .unwrap()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o640);
    assert_eq!(
        r.not_run.first().map(String::as_str),
        Some("/usr/bin/grub-mkconfig -o /boot/grub/grub.cfg")
    );
    assert!(t
        .read("/etc/pacman.d/hooks/90-panicdump.hook")
        .contains("Target = usr/lib/modules/*/vmlinuz"));
    undo_restores(&t, &before);
}

#[test]
fn kernel_install_only() {
    let t = Tree::new("ki");
    t.kernel_install();
    let before = t.snapshot();
    let r = run(&t, &Config::default());
    let ck = r.plan.additions.crashkernel.clone().unwrap();
    assert_eq!(
        t.read("/etc/kernel/cmdline"),
        format!("root=UUID=1234 rw  quiet splash crashkernel={ck} memmap=1M$0x1ff00000 log_buf_len=1M\n")
    );
    let mode = std::fs::metadata(t.root().path("/etc/kernel/cmdline"))
        .unwrap()
        .mode()
        & 0o7777;
    assert_eq!(mode, 0o600);
    let plugin = t.root().path("/etc/kernel/install.d/90-panicdump.install");
    assert_eq!(std::fs::metadata(&plugin).unwrap().mode() & 0o777, 0o755);
    // The plugin is a valid shell script.
    let st = std::process::Command::new("/bin/sh")
        .arg("-n")
        .arg(&plugin)
        .status()
        .unwrap();
    assert!(st.success());
    assert!(r
        .not_run
        .iter()
        .any(|c| c == &format!("/usr/bin/kernel-install add {RELEASE} /boot/vmlinuz-{RELEASE}")));
    assert!(!t.exists("/etc/default/grub.d/panicdump.cfg"));
    undo_restores(&t, &before);
}

#[test]
fn kernel_install_without_cmdline_file_uses_proc_cmdline() {
    let t = Tree::new("kiproc");
    t.exe("/usr/bin/kernel-install");
    std::fs::create_dir_all(t.root().path("/boot/loader/entries")).unwrap();
    let before = t.snapshot();
    let r = run(&t, &Config::default());
    let ck = r.plan.additions.crashkernel.clone().unwrap();
    assert_eq!(
        t.read("/etc/kernel/cmdline"),
        format!("root=/dev/vda1 ro quiet crashkernel={ck} memmap=1M$0x1ff00000 log_buf_len=1M\n")
    );
    undo_restores(&t, &before);
}

#[test]
fn both_grub_and_kernel_install() {
    let t = Tree::new("both");
    t.debian_grub();
    t.kernel_install();
    let before = t.snapshot();
    let r = run(&t, &Config::default());
    let ck = r.plan.additions.crashkernel.clone().unwrap();
    let want_tail = format!("crashkernel={ck} memmap=1M$0x1ff00000 log_buf_len=1M");
    assert!(bootline::grub_cmdline(&t.root())
        .unwrap()
        .ends_with(&want_tail));
    assert!(bootline::kernel_install_cmdline(&t.root())
        .unwrap()
        .ends_with(&want_tail));
    undo_restores(&t, &before);
}

#[test]
fn neither_prints_instructions_and_still_installs_the_rest() {
    let t = Tree::new("neither");
    let before = t.snapshot();
    let r = run(&t, &Config::default());
    let text = r.plan.instructions.clone().expect("instructions");
    assert!(
        text.contains("crashkernel=") && text.contains("memmap=1M$0x1ff00000"),
        "{text}"
    );
    assert!(t.exists("/etc/sysctl.d/90-panicdump.conf"));
    assert!(t.exists("/etc/systemd/system/panicdump-collect.service"));
    undo_restores(&t, &before);
}

#[test]
fn existing_crashkernel_is_kept_unless_configured() {
    let t = Tree::new("existing");
    t.write(
        "/etc/default/grub",
        "GRUB_CMDLINE_LINUX=\"crashkernel=512M log_buf_len=512K memmap=2M\\\\\\$0x30000000\"\n",
    );
    std::fs::create_dir_all(t.root().path("/etc/default/grub.d")).unwrap();
    t.write(
        "/etc/kernel/cmdline",
        "root=/dev/sda2 crashkernel=384M log_buf_len=512K\n",
    );
    let before = t.snapshot();
    let r = run(&t, &Config::default());
    assert!(
        r.plan.additions.params().is_empty(),
        "{:?}",
        r.plan.additions
    );
    // A smaller log buffer is the administrator's choice, but said.
    assert!(
        r.plan
            .additions
            .notes
            .iter()
            .any(|n| n.contains("keeping the existing log_buf_len=512K; 1M")),
        "{:?}",
        r.plan.additions.notes
    );
    assert!(r
        .plan
        .notes
        .iter()
        .any(|n| n.contains("keeping the existing crashkernel=")));
    assert!(r
        .plan
        .notes
        .iter()
        .any(|n| n.contains("keeping the existing ramoops reservation memmap=2M$0x30000000")));
    assert!(!t.exists("/etc/default/grub.d/panicdump.cfg"));
    assert_eq!(
        t.read("/etc/kernel/cmdline"),
        "root=/dev/sda2 crashkernel=384M log_buf_len=512K\n"
    );
    undo_restores(&t, &before);

    // kdump.crashkernel replaces it; pstore off adds no memmap.
    let mut cfg = Config::default();
    cfg.kdump.crashkernel = Some("1G-:256M".into());
    cfg.mode = config::Mode::Kdump;
    run(&t, &cfg);
    assert_eq!(
        t.read("/etc/kernel/cmdline"),
        "root=/dev/sda2 log_buf_len=512K crashkernel=1G-:256M\n"
    );
    // The kernel uses the last crashkernel= it sees: ours.
    let line = bootline::grub_cmdline(&t.root()).unwrap();
    assert_eq!(
        line,
        "crashkernel=512M log_buf_len=512K memmap=2M$0x30000000 crashkernel=1G-:256M"
    );
    undo_restores(&t, &before);
}

#[test]
fn twice_is_idempotent_and_keeps_the_true_original() {
    let t = Tree::new("twice");
    t.debian_grub();
    t.kernel_install();
    let before = t.snapshot();
    run(&t, &Config::default());
    let after_first = t.snapshot();
    let m1 = manifest::Manifest::load(&t.root()).unwrap().unwrap();
    let r = run(&t, &Config::default());
    assert!(r.applied.written.is_empty(), "{:?}", r.applied.written);
    assert!(
        r.not_run.is_empty(),
        "nothing changed, nothing to regenerate"
    );
    assert_eq!(t.snapshot(), after_first);
    // A changed configuration rewrites from the original, not on top of setup's output.
    let mut cfg = Config::default();
    cfg.kdump.crashkernel = Some("300M".into());
    cfg.sysctl.panic_timeout = 30;
    run(&t, &cfg);
    assert_eq!(
        t.read("/etc/kernel/cmdline"),
        "root=UUID=1234 rw  quiet splash crashkernel=300M memmap=1M$0x1ff00000 log_buf_len=1M\n"
    );
    assert!(t
        .read("/etc/sysctl.d/90-panicdump.conf")
        .contains("kernel.panic = 30"));
    let m2 = manifest::Manifest::load(&t.root()).unwrap().unwrap();
    assert_eq!(m1, m2, "originals recorded once");
    undo_restores(&t, &before);
}

#[test]
fn undo_after_partial_failure() {
    let t = Tree::new("partial");
    t.debian_grub();
    t.kernel_install();
    t.exe("/usr/bin/pacman");
    // /etc/pacman.d is a file: the hook directory cannot be created, after
    // everything else was written.
    t.write("/etc/pacman.d", "not a directory\n");
    let before = t.snapshot();
    let plan = setup::plan(&t.root(), &Config::default(), &Options::default()).unwrap();
    let e = setup::apply(&t.root(), plan, None).unwrap_err();
    assert!(matches!(e, SetupError::Io { .. }), "{e}");
    assert!(e.to_string().contains("pacman.d"), "{e}");
    assert!(t.exists("/etc/default/grub.d/panicdump.cfg"));
    assert_ne!(t.snapshot(), before);
    undo_restores(&t, &before);
}

#[test]
fn dry_run_diff_changes_nothing() {
    let t = Tree::new("dry");
    t.debian_grub();
    t.kernel_install();
    let before = t.snapshot();
    let plan = setup::plan(&t.root(), &Config::default(), &Options::default()).unwrap();
    let d = setup::dry_run_diff(&t.root(), &plan).unwrap();
    assert!(
        d.contains("--- /dev/null\n+++ b/etc/default/grub.d/panicdump.cfg"),
        "{d}"
    );
    assert!(
        d.contains("--- a/etc/kernel/cmdline\n+++ b/etc/kernel/cmdline"),
        "{d}"
    );
    assert!(
        d.contains(
            "-root=UUID=1234 rw  quiet splash\n+root=UUID=1234 rw  quiet splash crashkernel="
        ),
        "{d}"
    );
    assert!(
        d.contains("+++ b/etc/systemd/system/sysinit.target.wants/panicdump-arm.service\n"),
        "{d}"
    );
    assert_eq!(t.snapshot(), before);
    // And the undo dry run after a real setup shows the way back.
    setup::apply(&t.root(), plan, None).unwrap();
    let u = setup::undo_diff(&t.root()).unwrap();
    assert!(u.contains("+++ /dev/null"), "{u}");
    assert!(u.contains("+root=UUID=1234 rw  quiet splash\n"), "{u}");
    undo_restores(&t, &before);
}

struct Recorder(Vec<String>);
impl Runner for Recorder {
    fn run(&mut self, argv: &[String]) -> setup::Result<()> {
        self.0.push(argv.join(" "));
        Ok(())
    }
}

#[test]
fn commands_go_through_the_runner() {
    let t = Tree::new("runner");
    t.debian_grub();
    t.exe("/usr/bin/systemctl");
    let plan = setup::plan(&t.root(), &Config::default(), &Options::default()).unwrap();
    let mut rec = Recorder(Vec::new());
    let r = setup::apply(&t.root(), plan, Some(&mut rec)).unwrap();
    assert_eq!(
        rec.0,
        vec!["/usr/sbin/update-grub", "/usr/bin/systemctl daemon-reload"]
    );
    assert_eq!(r.ran, rec.0);
    let mut rec = Recorder(Vec::new());
    setup::undo(&t.root(), Some(&mut rec)).unwrap();
    assert_eq!(
        rec.0,
        vec!["/usr/sbin/update-grub", "/usr/bin/systemctl daemon-reload"]
    );
}
