//! The arm plan: configuration + system state → an [`Action`] list.

use crate::action::Action;
use crate::cmdline;
use crate::error::{ArmError, Result};
use crate::kexec::KexecLoad;
use crate::ramoops::{self, RamoopsParams, Region};
use crate::root::Root;
use crate::state::{self, State};
use initramfs::{CaptureSpec, Compression};
use std::path::PathBuf;

/// Which events are turned into panics (and so into dumps).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PanicOn {
    /// `kernel.panic_on_oops`: an oops leaves the kernel in an unknown state; dump it.
    pub oops: bool,
    /// `kernel.softlockup_panic`.
    pub softlockup: bool,
    /// `kernel.hardlockup_panic` (only where the NMI watchdog exists).
    pub hardlockup: bool,
    /// `kernel.hung_task_panic`: opt-in, a slow NFS server would reboot the machine.
    pub hung_task: bool,
    /// `kernel.panic_on_warn`: opt-in, many WARNs are harmless.
    pub warn: bool,
}

impl Default for PanicOn {
    fn default() -> Self {
        Self {
            oops: true,
            softlockup: true,
            hardlockup: true,
            hung_task: false,
            warn: false,
        }
    }
}

/// Which pstore backend `arm` may use (config `pstore.backend`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PstoreBackend {
    /// An active backend (EFI, ERST, ...) if there is one, else ramoops.
    #[default]
    Auto,
    /// ramoops in the reserved region, even when another backend exists
    /// (pstore keeps one backend: a firmware one registered first wins
    /// until the machine boots with `pstore.backend=ramoops`).
    Ramoops,
    /// The firmware's backend only; ramoops is never loaded.
    Firmware,
}

/// What `panicdump arm` is asked to do.
#[derive(Debug, Clone)]
pub struct ArmConfig {
    /// Load a capture kernel.
    pub kdump: bool,
    /// Set up pstore (ramoops) when no backend is active.
    pub pstore: bool,
    /// Capture kernel; default `/boot/vmlinuz-<release>` under the root.
    pub kernel: Option<PathBuf>,
    /// A ready initramfs to use instead of building panicdump's own.
    pub initrd: Option<PathBuf>,
    /// Where the built capture initramfs goes; default
    /// `/var/lib/panicdump/capture-<release>.img` under the root.
    pub initrd_out: Option<PathBuf>,
    /// Binary stored as `/init`; default [`crate::initbin::default_init_binary`]
    /// (the packaged static capture build, else this executable if static).
    pub init_binary: Option<PathBuf>,
    /// Directory the capture writes to: its filesystem and disk drivers
    /// are read from /proc/mounts and /sys and replace `block_drivers`
    /// and `filesystems`.
    pub target_dir: Option<String>,
    /// Block drivers of the dump target.
    pub block_drivers: Vec<String>,
    /// Filesystems of the dump target.
    pub filesystems: Vec<String>,
    /// Further modules for the capture initramfs.
    pub extra_modules: Vec<String>,
    /// Compression of the built capture initramfs.
    pub compression: Compression,
    /// Full capture command line, replacing the derived one.
    pub cmdline: Option<String>,
    /// Options appended to the derived capture command line.
    pub append: Vec<String>,
    /// ramoops region; default the `memmap=` reservation of the running cmdline.
    pub ramoops_region: Option<Region>,
    /// Panic knobs.
    pub panic_on: PanicOn,
    /// `kernel.panic`: seconds before rebooting after a panic that kdump did not take.
    pub panic_timeout: u32,
    /// Which pstore backend to use.
    pub pstore_backend: PstoreBackend,
    /// `kernel.panic_print` mask; `None`: [`PANIC_PRINT_ALL_CPU_BT`] when
    /// pstore is armed, else left alone.
    pub panic_print: Option<u32>,
    /// `crash_kexec_post_notifiers`; `None` (auto): on when pstore and
    /// kdump are both armed, else left alone.
    pub post_notifiers: Option<bool>,
}

impl Default for ArmConfig {
    fn default() -> Self {
        Self {
            kdump: true,
            pstore: true,
            kernel: None,
            initrd: None,
            initrd_out: None,
            init_binary: None,
            target_dir: None,
            block_drivers: vec!["virtio_blk".into()],
            filesystems: vec!["ext4".into()],
            extra_modules: Vec::new(),
            compression: Compression::Gzip,
            cmdline: None,
            append: Vec::new(),
            ramoops_region: None,
            panic_on: PanicOn::default(),
            panic_timeout: 10,
            pstore_backend: PstoreBackend::Auto,
            panic_print: None,
            post_notifiers: None,
        }
    }
}

/// The actions and the notes explaining what was left out.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// In execution order.
    pub actions: Vec<Action>,
    /// Warnings and skipped steps.
    pub notes: Vec<String>,
}

/// `kernel.panic_print` bit: backtraces of all CPUs (lockups, deadlocks).
pub const PANIC_PRINT_ALL_CPU_BT: u32 = 0x40;

/// Build the plan for `cfg` on the system under `root`.
pub fn plan(root: &Root, cfg: &ArmConfig) -> Result<Plan> {
    let st = State::read(root);
    let mut p = Plan::default();
    let release = st
        .release
        .clone()
        .ok_or_else(|| ArmError::Config("cannot read /proc/sys/kernel/osrelease".into()))?;

    let armed_ramoops = cfg.pstore && plan_pstore(root, cfg, &st, &mut p);
    let pstore_on = armed_ramoops || st.pstore_backend.is_some();
    if cfg.kdump {
        match st.crash_size {
            Some(0) | None => p.notes.push(
                "no crashkernel= reservation (/sys/kernel/kexec_crash_size is 0 or absent): loading will fail; see `panicdump estimate`".into(),
            ),
            Some(_) => {}
        }
        let kernel = cfg
            .kernel
            .clone()
            .unwrap_or_else(|| root.path(format!("/boot/vmlinuz-{release}")));
        let initrd = match &cfg.initrd {
            Some(i) => i.clone(),
            None => {
                let out = cfg.initrd_out.clone().unwrap_or_else(|| {
                    root.path(format!("/var/lib/panicdump/capture-{release}.img"))
                });
                let init = match &cfg.init_binary {
                    Some(b) => crate::initbin::named_init_binary(b)?,
                    None => crate::initbin::default_init_binary(root)?,
                };
                let (mut block, mut fs) = (cfg.block_drivers.clone(), cfg.filesystems.clone());
                if let Some(dir) = &cfg.target_dir {
                    match crate::target::find(root, dir) {
                        Some(t) if !t.drivers.is_empty() => {
                            p.notes.push(format!(
                                "target {dir}: {} ({}) via {}",
                                t.source,
                                t.fstype,
                                t.drivers.join(", ")
                            ));
                            block = t.drivers;
                            fs = vec![t.fstype];
                        }
                        _ => {
                            return Err(ArmError::Config(format!(
                                "cannot find the disk drivers of {dir} in /proc/mounts and /sys/class/block; pass --block-driver and --fs"
                            )))
                        }
                    }
                }
                p.actions.push(Action::BuildInitramfs {
                    spec: Box::new(CaptureSpec {
                        init,
                        modules_dir: root.path(format!("/lib/modules/{release}")),
                        release: release.clone(),
                        block_drivers: block,
                        filesystems: fs,
                        extra_modules: cfg.extra_modules.clone(),
                        compression: cfg.compression,
                        ..CaptureSpec::default()
                    }),
                    out: out.clone(),
                });
                out
            }
        };
        let cmdline = match &cfg.cmdline {
            Some(c) => c.clone(),
            None => {
                let mut extra = vec!["panicdump.capture=1".to_string()];
                extra.extend(cfg.append.iter().cloned());
                cmdline::derive(&st.cmdline, &extra).cmdline
            }
        };
        if st.crash_loaded == Some(true) {
            p.actions.push(Action::KexecUnload);
        }
        p.actions.push(Action::KexecLoad(KexecLoad {
            kernel,
            initrd: Some(initrd),
            cmdline,
        }));
    }
    let post_notifiers = cfg
        .post_notifiers
        .or((pstore_on && cfg.kdump).then_some(true));
    match post_notifiers {
        Some(true) if st.post_notifiers.as_deref() != Some("Y") => p.actions.push(Action::Write {
            path: state::POST_NOTIFIERS.into(),
            value: "Y".into(),
            why: "run pstore's panic dumper before jumping to the capture kernel",
        }),
        Some(false) if st.post_notifiers.as_deref() == Some("Y") => p.actions.push(Action::Write {
            path: state::POST_NOTIFIERS.into(),
            value: "N".into(),
            why: "jump to the capture kernel without running the panic notifiers first",
        }),
        _ => {}
    }

    let on = cfg.panic_on;
    let mut sysctls: Vec<(&str, String, &'static str)> = vec![
        (
            "kernel.panic_on_oops",
            u8::from(on.oops).to_string(),
            "an oops becomes a panic, so it is captured",
        ),
        (
            "kernel.softlockup_panic",
            u8::from(on.softlockup).to_string(),
            "a soft lockup becomes a panic",
        ),
        (
            "kernel.hardlockup_panic",
            u8::from(on.hardlockup).to_string(),
            "a hard lockup becomes a panic",
        ),
        (
            "kernel.hung_task_panic",
            u8::from(on.hung_task).to_string(),
            "a hung task becomes a panic",
        ),
        (
            "kernel.panic_on_warn",
            u8::from(on.warn).to_string(),
            "a WARN becomes a panic",
        ),
        (
            "kernel.panic",
            cfg.panic_timeout.to_string(),
            "reboot after a panic the capture kernel did not take",
        ),
    ];
    match (cfg.panic_print, pstore_on) {
        (Some(mask), _) => sysctls.push((
            "kernel.panic_print",
            mask.to_string(),
            "the configured panic_print (sysctl.panic_print)",
        )),
        (None, true) => sysctls.push((
            "kernel.panic_print",
            PANIC_PRINT_ALL_CPU_BT.to_string(),
            "all CPUs' backtraces go into the pstore record",
        )),
        (None, false) => {}
    }
    for (name, value, why) in sysctls {
        match st.sysctl(name) {
            None => p
                .notes
                .push(format!("{name}: not available on this kernel; skipped")),
            Some(v) if v == value => {}
            // Opt-in knobs: never switch off what the admin switched on.
            Some(v) if value == "0" && v != "0" => {}
            Some(_) => p.actions.push(Action::Write {
                path: state::sysctl_path(name),
                value,
                why,
            }),
        }
    }
    Ok(p)
}

/// The pstore part of the plan; whether it arms ramoops.
fn plan_pstore(root: &Root, cfg: &ArmConfig, st: &State, p: &mut Plan) -> bool {
    let active = st.pstore_backend.as_deref();
    // An explicit region (`--ramoops`) asks for ramoops whatever the config says.
    let backend = match cfg.ramoops_region {
        Some(_) if cfg.pstore_backend == PstoreBackend::Firmware => PstoreBackend::Ramoops,
        _ => cfg.pstore_backend,
    };
    match (active, backend) {
        (Some("ramoops"), _) | (Some(_), PstoreBackend::Auto | PstoreBackend::Firmware) => {
            p.notes.push(format!(
                "pstore backend {} already active",
                active.unwrap_or_default()
            ));
            return false;
        }
        (Some(b), PstoreBackend::Ramoops) => {
            p.notes.push(format!(
                "pstore backend {b} is active and pstore keeps one backend: ramoops cannot register until the machine boots with pstore.backend=ramoops; {b} keeps the records meanwhile"
            ));
            return false;
        }
        (None, PstoreBackend::Firmware) => {
            p.notes.push(
                "pstore not armed: no firmware backend (EFI, ERST) is active and pstore.backend = \"firmware\" rules out ramoops".into(),
            );
            return false;
        }
        (None, PstoreBackend::Auto | PstoreBackend::Ramoops) => {}
    }
    let iomem = std::fs::read_to_string(root.path("/proc/iomem")).unwrap_or_default();
    let region = cfg
        .ramoops_region
        .or_else(|| ramoops::region_from_memmap(&st.cmdline, &iomem));
    match region.and_then(RamoopsParams::for_region) {
        Some(r) => {
            p.actions.push(Action::LoadModule {
                name: "ramoops".into(),
                params: r.module_params(),
                why: "keep the panic log in RAM across the reboot",
            });
            true
        }
        None => {
            p.notes.push(
                "pstore not armed: no backend and no reserved region (add memmap=1M$ADDR to the kernel command line or pass --ramoops ADDR:SIZE)".into(),
            );
            false
        }
    }
}
