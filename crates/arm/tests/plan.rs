//! Action plans against a fake root built in a temp dir: what `--dry-run` prints.

use arm::plan::{plan, ArmConfig};
use arm::status::Status;
use arm::{state::State, Action, Root};
use std::path::{Path, PathBuf};

struct Fake(PathBuf);

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn put(root: &Path, path: &str, text: &str) {
    let p = root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

/// A machine with 256M reserved, nothing loaded, a memmap= region, no pstore.
fn fake(tag: &str) -> Fake {
    let dir = std::env::temp_dir().join(format!("arm-plan-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    put(&dir, "/proc/sys/kernel/osrelease", "6.1.0-test\n");
    put(
        &dir,
        "/proc/cmdline",
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-test root=/dev/vda1 ro quiet crashkernel=256M memmap=1M$0x3f000000\n",
    );
    put(
        &dir,
        "/proc/iomem",
        "00100000-3effffff : System RAM\n3f000000-3f0fffff : reserved\n",
    );
    put(&dir, "/sys/kernel/kexec_crash_loaded", "0\n");
    put(&dir, "/sys/kernel/kexec_crash_size", "268435456\n");
    put(
        &dir,
        "/sys/module/kernel/parameters/crash_kexec_post_notifiers",
        "N\n",
    );
    for (k, v) in [
        ("panic", "0"),
        ("panic_on_oops", "0"),
        ("panic_print", "0"),
        ("softlockup_panic", "0"),
        ("hung_task_panic", "0"),
        ("panic_on_warn", "0"),
        ("kexec_load_disabled", "0"),
    ] {
        put(&dir, &format!("/proc/sys/kernel/{k}"), &format!("{v}\n"));
    }
    Fake(dir)
}

fn cfg() -> ArmConfig {
    ArmConfig {
        init_binary: Some("/usr/bin/panicdump".into()),
        ..ArmConfig::default()
    }
}

fn lines(root: &Root, cfg: &ArmConfig) -> (Vec<String>, Vec<String>) {
    let p = plan(root, cfg).unwrap();
    (p.actions.iter().map(|a| a.to_string()).collect(), p.notes)
}

#[test]
fn full_plan_dry_run_text() {
    let f = fake("full");
    let root = Root::new(&f.0);
    let (acts, notes) = lines(&root, &cfg());
    let r = f.0.display();
    let want = vec![
        "modprobe ramoops mem_address=0x3f000000 mem_size=0x100000 record_size=0x20000 console_size=0x40000 pmsg_size=0x10000 ftrace_size=0x0  # keep the panic log in RAM across the reboot".to_string(),
        format!("build capture initramfs {r}/var/lib/panicdump/capture-6.1.0-test.img (init /usr/bin/panicdump, release 6.1.0-test, block [\"virtio_blk\"], fs [\"ext4\"], extra [], gzip)"),
        format!("kexec_file_load(ON_CRASH) kernel={r}/boot/vmlinuz-6.1.0-test initrd={r}/var/lib/panicdump/capture-6.1.0-test.img cmdline=\"root=/dev/vda1 ro irqpoll nr_cpus=1 reset_devices numa=off cgroup_disable=memory transparent_hugepage=never panic=10 panicdump.capture=1\""),
        "write /sys/module/kernel/parameters/crash_kexec_post_notifiers = Y  # run pstore's panic dumper before jumping to the capture kernel".to_string(),
        "write /proc/sys/kernel/panic_on_oops = 1  # an oops becomes a panic, so it is captured".to_string(),
        "write /proc/sys/kernel/softlockup_panic = 1  # a soft lockup becomes a panic".to_string(),
        "write /proc/sys/kernel/panic = 10  # reboot after a panic the capture kernel did not take".to_string(),
        "write /proc/sys/kernel/panic_print = 64  # all CPUs' backtraces go into the pstore record".to_string(),
    ];
    assert_eq!(acts, want);
    assert_eq!(
        notes,
        ["kernel.hardlockup_panic: not available on this kernel; skipped"]
    );
}

#[test]
fn loaded_kernel_is_unloaded_first_and_no_pstore() {
    let f = fake("reload");
    put(&f.0, "/sys/kernel/kexec_crash_loaded", "1\n");
    let root = Root::new(&f.0);
    let c = ArmConfig {
        pstore: false,
        initrd: Some("/tmp/ready.img".into()),
        cmdline: Some("console=ttyS0".into()),
        ..cfg()
    };
    let p = plan(&root, &c).unwrap();
    assert!(matches!(p.actions[0], Action::KexecUnload));
    assert!(matches!(&p.actions[1], Action::KexecLoad(l) if l.cmdline == "console=ttyS0"));
    let text: Vec<String> = p.actions.iter().map(|a| a.to_string()).collect();
    assert!(!text.iter().any(|t| t.contains("ramoops")
        || t.contains("post_notifiers")
        || t.contains("panic_print")));
}

#[test]
fn no_reservation_and_no_region_are_explained() {
    let f = fake("none");
    put(&f.0, "/sys/kernel/kexec_crash_size", "0\n");
    put(&f.0, "/proc/iomem", "00100000-3fffffff : System RAM\n");
    let (_, notes) = lines(&Root::new(&f.0), &cfg());
    assert!(notes
        .iter()
        .any(|n| n.contains("no crashkernel= reservation")));
    assert!(notes.iter().any(|n| n.starts_with("pstore not armed")));
}

#[test]
fn already_set_sysctls_are_not_rewritten_and_sysctl_writes_execute() {
    let f = fake("exec");
    put(&f.0, "/proc/sys/kernel/panic_on_oops", "1\n");
    let root = Root::new(&f.0);
    let c = ArmConfig {
        kdump: false,
        pstore: false,
        ..cfg()
    };
    let p = plan(&root, &c).unwrap();
    let text: Vec<String> = p.actions.iter().map(|a| a.to_string()).collect();
    assert!(!text.iter().any(|t| t.contains("panic_on_oops")));
    // Writes go under the fake root; kexec and modprobe refuse it.
    for a in &p.actions {
        a.execute(&root, None).unwrap();
    }
    assert_eq!(
        root.read_trim("/proc/sys/kernel/panic").as_deref(),
        Some("10")
    );
    let refused = Action::KexecUnload.execute(&root, None).unwrap_err();
    assert!(refused.to_string().contains("--dry-run"));
}

#[test]
fn status_of_fake_roots() {
    let f = fake("status");
    let s = Status::from_state(State::read(&Root::new(&f.0)));
    assert!(!s.armed());
    assert!(s
        .reasons
        .iter()
        .any(|r| r.contains("256 MiB reserved but no crash kernel loaded")));
    put(&f.0, "/sys/kernel/kexec_crash_loaded", "1\n");
    put(&f.0, "/sys/module/pstore/parameters/backend", "ramoops\n");
    put(
        &f.0,
        "/sys/module/ramoops/parameters/record_size",
        "65536\n",
    );
    put(&f.0, "/proc/sys/kernel/panic_on_oops", "1\n");
    let s = Status::from_state(State::read(&Root::new(&f.0)));
    assert!(s.kdump_armed && s.pstore_armed && s.oops_captured);
    assert!(s
        .reasons
        .iter()
        .any(|r| r.contains("crash_kexec_post_notifiers is off")));
    assert_eq!(
        s.state.ramoops,
        [("record_size".to_string(), "65536".to_string())]
    );
    let text = s.to_string();
    assert!(text.starts_with("armed:  yes\n"));
    assert!(!text.contains("drm_panic"), "no drm module, nothing said");

    // A 6.14 kernel built with the QR screen and Arch's URL prefix.
    put(&f.0, "/sys/module/drm/parameters/panic_screen", "kmsg\n");
    put(
        &f.0,
        "/boot/config-6.1.0-test",
        "CONFIG_DRM_PANIC=y\nCONFIG_DRM_PANIC_SCREEN=\"kmsg\"\nCONFIG_DRM_PANIC_SCREEN_QR_CODE=y\n\
         CONFIG_DRM_PANIC_SCREEN_QR_CODE_URL=\"https://panic.archlinux.org/panic_report#\"\n",
    );
    let s = Status::from_state(State::read(&Root::new(&f.0)));
    let screen = s.state.panic_screen.as_ref().expect("drm_panic seen");
    assert_eq!(screen.qr_code, Some(true));
    assert_eq!(
        screen.qr_url.as_deref(),
        Some("https://panic.archlinux.org/panic_report#")
    );
    let reason = s
        .reasons
        .iter()
        .find(|r| r.starts_with("drm_panic"))
        .unwrap();
    assert!(reason.contains("drm.panic_screen=qr_code"), "{reason}");
    assert!(
        reason.contains("links to https://panic.archlinux.org/panic_report#"),
        "{reason}"
    );

    // Built without the QR screen.
    put(
        &f.0,
        "/boot/config-6.1.0-test",
        "CONFIG_DRM_PANIC=y\n# CONFIG_DRM_PANIC_SCREEN_QR_CODE is not set\n",
    );
    let s = Status::from_state(State::read(&Root::new(&f.0)));
    assert_eq!(s.state.panic_screen.as_ref().unwrap().qr_code, Some(false));
    assert!(s.to_string().contains("this kernel has no QR-code screen"));
}

/// The config's `sysctl.panic_print`, `sysctl.crash_kexec_post_notifiers`
/// and `pstore.backend` (as `panicdump arm` passes them) change the plan.
#[test]
fn configured_panic_print_post_notifiers_and_backend() {
    use arm::plan::PstoreBackend;
    let f = fake("configured");
    let root = Root::new(&f.0);
    let text = |c: &ArmConfig| lines(&root, c);

    // panic_print from the config replaces the default 0x40, and is set
    // even without pstore.
    let (acts, _) = text(&ArmConfig {
        pstore: false,
        panic_print: Some(0x23),
        ..cfg()
    });
    assert!(acts
        .iter()
        .any(|a| a.starts_with("write /proc/sys/kernel/panic_print = 35  # the configured")));

    // post notifiers off: nothing writes Y although pstore and kdump are armed.
    let (acts, _) = text(&ArmConfig {
        post_notifiers: Some(false),
        ..cfg()
    });
    assert!(acts.iter().any(|a| a.contains("modprobe ramoops")));
    assert!(!acts
        .iter()
        .any(|a| a.contains("crash_kexec_post_notifiers")));
    // ... and switches off a Y that is set.
    put(
        &f.0,
        "/sys/module/kernel/parameters/crash_kexec_post_notifiers",
        "Y\n",
    );
    let (acts, _) = text(&ArmConfig {
        post_notifiers: Some(false),
        ..cfg()
    });
    assert!(acts.iter().any(
        |a| a.starts_with("write /sys/module/kernel/parameters/crash_kexec_post_notifiers = N")
    ));
    put(
        &f.0,
        "/sys/module/kernel/parameters/crash_kexec_post_notifiers",
        "N\n",
    );
    // on: written even when pstore is not armed (auto would leave it).
    let no_pstore = ArmConfig {
        pstore: false,
        ..cfg()
    };
    assert!(!text(&no_pstore)
        .0
        .iter()
        .any(|a| a.contains("post_notifiers")));
    let (acts, _) = text(&ArmConfig {
        post_notifiers: Some(true),
        ..no_pstore.clone()
    });
    assert!(acts.iter().any(
        |a| a.starts_with("write /sys/module/kernel/parameters/crash_kexec_post_notifiers = Y")
    ));

    // backend = firmware: no ramoops although a region is reserved; no
    // pstore, so no panic_print and no post notifiers either.
    let firmware = ArmConfig {
        pstore_backend: PstoreBackend::Firmware,
        ..cfg()
    };
    let (acts, notes) = text(&firmware);
    assert!(!acts.iter().any(|a| a.contains("ramoops")
        || a.contains("panic_print")
        || a.contains("post_notifiers")));
    assert!(notes
        .iter()
        .any(|n| n.contains("no firmware backend") && n.contains("rules out ramoops")));
    // An explicit --ramoops region still wins over the config.
    let (acts, _) = text(&ArmConfig {
        ramoops_region: Some(arm::ramoops::Region {
            start: 0x3f00_0000,
            size: 1 << 20,
        }),
        ..firmware.clone()
    });
    assert!(acts.iter().any(|a| a.contains("modprobe ramoops")));

    // An active firmware backend: auto and firmware use it; ramoops is
    // explained (pstore keeps one backend). panic_print follows pstore.
    put(
        &f.0,
        "/sys/module/pstore/parameters/backend",
        "efi_pstore\n",
    );
    for (backend, note) in [
        (
            PstoreBackend::Auto,
            "pstore backend efi_pstore already active",
        ),
        (
            PstoreBackend::Firmware,
            "pstore backend efi_pstore already active",
        ),
        (PstoreBackend::Ramoops, "pstore.backend=ramoops"),
    ] {
        let (acts, notes) = text(&ArmConfig {
            pstore_backend: backend,
            ..cfg()
        });
        assert!(
            !acts.iter().any(|a| a.contains("modprobe ramoops")),
            "{backend:?}"
        );
        assert!(
            acts.iter().any(|a| a.contains("panic_print = 64")),
            "{backend:?}"
        );
        assert!(
            notes.iter().any(|n| n.contains(note)),
            "{backend:?}: {notes:?}"
        );
    }
}

/// Without --init-binary: the packaged static capture build when it is
/// installed, else a clear error (the test binary is dynamically linked).
#[test]
fn init_binary_defaults_to_the_packaged_capture_build() {
    let f = fake("initbin");
    let root = Root::new(&f.0);
    let c = ArmConfig {
        init_binary: None,
        ..cfg()
    };
    let err = plan(&root, &c).unwrap_err().to_string();
    assert!(
        err.contains("panicdump-capture is missing")
            && err.contains("dynamically linked")
            && err.contains("--init-binary"),
        "{err}"
    );
    put(&f.0, arm::initbin::PACKAGED_CAPTURE, "\x7fELF");
    let (acts, _) = lines(&root, &c);
    let want = format!(
        "(init {}/usr/lib/panicdump/panicdump-capture,",
        f.0.display()
    );
    assert!(acts.iter().any(|a| a.contains(&want)), "{acts:?}");
    // A ready initramfs needs no /init at all.
    std::fs::remove_file(f.0.join("usr/lib/panicdump/panicdump-capture")).unwrap();
    let ready = ArmConfig {
        initrd: Some("/tmp/ready.img".into()),
        ..c
    };
    assert!(plan(&root, &ready).is_ok());
}

/// Building the capture initramfs creates its missing state directory
/// (private, like the unit's StateDirectory=): a first manual `arm` or
/// `panicdump test` runs before the arm unit ever did.
#[test]
fn build_creates_the_missing_state_directory() {
    use std::os::unix::fs::PermissionsExt;
    let f = fake("statedir");
    let root = Root::new(&f.0);
    let modules = f.0.join("lib/modules/6.1.0-test");
    put(&f.0, "/lib/modules/6.1.0-test/modules.dep", "");
    put(
        &f.0,
        "/usr/lib/panicdump/panicdump-capture",
        "not really a binary",
    );
    let out = f.0.join("var/lib/panicdump/capture-6.1.0-test.img");
    let act = Action::BuildInitramfs {
        spec: Box::new(arm::initramfs::CaptureSpec {
            init: f.0.join("usr/lib/panicdump/panicdump-capture"),
            modules_dir: modules,
            release: "6.1.0-test".into(),
            ..arm::initramfs::CaptureSpec::default()
        }),
        out: out.clone(),
    };
    let said = act.execute(&root, None).unwrap();
    assert!(said.starts_with("built: "), "{said}");
    assert!(out.is_file());
    let mode = std::fs::metadata(out.parent().unwrap())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}
