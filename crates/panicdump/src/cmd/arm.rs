//! `panicdump arm`, `status`, `estimate`: prepare the machine for crashes
//! and report how ready it is.

use anyhow::{bail, Context};
use arm::plan::{self, ArmConfig};
use arm::ramoops::{parse_size, Region};
use arm::status::Status;
use arm::{state::State, Root};
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `panicdump arm`.
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ArmArgs {
    /// `status` or `estimate` instead of arming.
    #[command(subcommand)]
    pub sub: Option<ArmSub>,
    /// Print the actions instead of performing them.
    #[arg(long)]
    pub dry_run: bool,
    /// System root (/proc, /sys, /boot, /lib/modules are read under it); also PANICDUMP_ROOT.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Capture kernel (default: /boot/vmlinuz-<running release>).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Use this initramfs as is instead of building panicdump's own.
    #[arg(long, value_name = "PATH", conflicts_with = "initrd_out")]
    pub initrd: Option<PathBuf>,
    /// Where to write the capture initramfs (default: /var/lib/panicdump/capture-<release>.img).
    #[arg(long, value_name = "PATH")]
    pub initrd_out: Option<PathBuf>,
    /// Binary stored as the capture initramfs's /init (default:
    /// /usr/lib/panicdump/panicdump-capture under --root if installed, else
    /// this panicdump if it is static; a dynamic one is refused).
    #[arg(long, value_name = "PATH")]
    pub init_binary: Option<PathBuf>,
    /// Directory the capture writes to: its disk drivers and filesystem go
    /// into the capture initramfs (instead of --block-driver/--fs).
    #[arg(long, value_name = "DIR", conflicts_with_all = ["block_drivers", "filesystems"])]
    pub target: Option<String>,
    /// Block driver of the dump target (repeatable; default virtio_blk).
    #[arg(long = "block-driver", value_name = "MODULE")]
    pub block_drivers: Vec<String>,
    /// Filesystem of the dump target (repeatable; default ext4).
    #[arg(long = "fs", value_name = "TYPE")]
    pub filesystems: Vec<String>,
    /// Further module for the capture initramfs (repeatable).
    #[arg(long = "module", value_name = "MODULE")]
    pub modules: Vec<String>,
    /// Compress the capture initramfs with zstd (kernel CONFIG_RD_ZSTD) instead of gzip.
    #[arg(long)]
    pub zstd: bool,
    /// Full capture kernel command line (default: derived from /proc/cmdline).
    #[arg(long, value_name = "CMDLINE")]
    pub cmdline: Option<String>,
    /// Option appended to the derived capture command line (repeatable).
    #[arg(long, value_name = "OPTION")]
    pub append: Vec<String>,
    /// ramoops region ADDR:SIZE (default: the memmap= reservation of the running kernel).
    #[arg(long, value_name = "ADDR:SIZE")]
    pub ramoops: Option<String>,
    /// Do not load a capture kernel.
    #[arg(long)]
    pub no_kdump: bool,
    /// Do not set up pstore.
    #[arg(long)]
    pub no_pstore: bool,
    /// Also panic on hung tasks (kernel.hung_task_panic).
    #[arg(long)]
    pub panic_on_hung_task: bool,
    /// Also panic on WARN (kernel.panic_on_warn).
    #[arg(long)]
    pub panic_on_warn: bool,
    /// Seconds before rebooting after a panic kdump did not take (kernel.panic)
    /// [default: sysctl.panic_timeout of the config file, 10].
    #[arg(long)]
    pub panic_timeout: Option<u32>,
    /// kernel.panic_print mask, e.g. 0x40 [default: sysctl.panic_print of the
    /// config file; unset: 0x40 when pstore is armed].
    #[arg(long, value_name = "MASK", value_parser = parse_mask)]
    pub panic_print: Option<u32>,
    /// Run pstore's dumper before the capture kernel (crash_kexec_post_notifiers)
    /// [default: sysctl.crash_kexec_post_notifiers of the config file, auto].
    #[arg(long, value_enum, value_name = "WHEN")]
    pub post_notifiers: Option<SwitchArg>,
    /// Which pstore backend to use [default: pstore.backend of the config file, auto].
    #[arg(long, value_enum, value_name = "BACKEND")]
    pub pstore_backend: Option<BackendArg>,
    /// Configuration file [env: PANICDUMP_CONFIG] [default: /etc/panicdump/config.toml under --root];
    /// flags given here win over it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Unload the crash kernel and exit.
    #[arg(long, conflicts_with = "dry_run")]
    pub unload: bool,
}

/// Read-only companions of `panicdump arm` (also top-level commands).
#[derive(clap::Subcommand, Debug)]
pub enum ArmSub {
    /// Whether this machine is armed for crashes, and why not.
    Status(StatusArgs),
    /// Recommend a crashkernel= size, with its breakdown.
    Estimate(EstimateArgs),
}

/// `--post-notifiers`: like the config's `crash_kexec_post_notifiers`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum SwitchArg {
    /// On when pstore and kdump are both armed.
    Auto,
    /// Always on.
    On,
    /// Always off.
    Off,
}

/// `--pstore-backend`: like the config's `pstore.backend`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
pub enum BackendArg {
    /// An active firmware backend if there is one, else ramoops.
    Auto,
    /// ramoops in the reserved region.
    Ramoops,
    /// The firmware's backend only.
    Firmware,
}

fn parse_mask(s: &str) -> Result<u32, String> {
    let n = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u32::from_str_radix(h, 16),
        None => s.parse(),
    };
    n.map_err(|e| format!("{s:?} is not a bit mask (decimal or 0x hex): {e}"))
}

/// The config's `crash_kexec_post_notifiers`, overridden by the flag.
fn post_notifiers(flag: Option<SwitchArg>, file: config::Switch) -> Option<bool> {
    match flag {
        Some(SwitchArg::Auto) => None,
        Some(SwitchArg::On) => Some(true),
        Some(SwitchArg::Off) => Some(false),
        None => match file {
            config::Switch::Auto => None,
            config::Switch::On => Some(true),
            config::Switch::Off => Some(false),
        },
    }
}

/// The config's `pstore.backend`, overridden by the flag.
fn pstore_backend(flag: Option<BackendArg>, file: config::Backend) -> plan::PstoreBackend {
    match flag {
        Some(BackendArg::Auto) => plan::PstoreBackend::Auto,
        Some(BackendArg::Ramoops) => plan::PstoreBackend::Ramoops,
        Some(BackendArg::Firmware) => plan::PstoreBackend::Firmware,
        None => match file {
            config::Backend::Auto => plan::PstoreBackend::Auto,
            config::Backend::Ramoops => plan::PstoreBackend::Ramoops,
            config::Backend::Firmware => plan::PstoreBackend::Firmware,
        },
    }
}

fn parse_region(s: &str) -> anyhow::Result<Region> {
    let (a, b) = s
        .split_once(':')
        .context("--ramoops takes ADDR:SIZE, e.g. 0x3f000000:1M")?;
    Ok(Region {
        start: parse_size(a).with_context(|| format!("bad address {a:?}"))?,
        size: parse_size(b).with_context(|| format!("bad size {b:?}"))?,
    })
}

/// Run `panicdump arm`.
pub fn run(a: ArmArgs) -> anyhow::Result<ExitCode> {
    match a.sub {
        Some(ArmSub::Status(s)) => return run_status(s),
        Some(ArmSub::Estimate(e)) => return run_estimate(e),
        None => {}
    }
    if a.unload {
        arm::kexec::unload_on_crash()?;
        println!("crash kernel unloaded");
        return Ok(ExitCode::SUCCESS);
    }
    let root = Root::from_arg_or_env(a.root.as_deref());
    let file = super::config::load(&root, a.config.as_deref())?;
    let mut append = a.append;
    if a.cmdline.is_none() {
        append.splice(0..0, capture_options(&file.kdump));
    }
    // A directory target: its disk drivers go into the capture initramfs
    // (unless the flags name them) and its device into the capture options.
    let mut target = a.target;
    if let Some(dir) = file
        .kdump
        .target
        .as_ref()
        .filter(|t| !t.starts_with("UUID=") && !t.starts_with("/dev/") && a.cmdline.is_none())
    {
        let t = arm::target::find(&root, dir)
            .with_context(|| format!("kdump.target = {dir:?}: not found in /proc/mounts"))?;
        append.insert(0, format!("panicdump.target={}", t.source));
        if target.is_none() && a.block_drivers.is_empty() && a.filesystems.is_empty() {
            target = Some(dir.clone());
        }
    }
    let mut modules = a.modules;
    modules.extend(file.kdump.extra_modules.iter().cloned());
    let defaults = ArmConfig::default();
    let cfg = ArmConfig {
        kdump: !a.no_kdump && file.mode.wants_kdump(),
        pstore: !a.no_pstore && file.mode.wants_pstore(),
        kernel: a.kernel,
        initrd: a.initrd,
        initrd_out: a.initrd_out,
        init_binary: a.init_binary,
        target_dir: target,
        block_drivers: if a.block_drivers.is_empty() {
            defaults.block_drivers
        } else {
            a.block_drivers
        },
        filesystems: if a.filesystems.is_empty() {
            defaults.filesystems
        } else {
            a.filesystems
        },
        extra_modules: modules,
        compression: if a.zstd
            || file.kdump.initramfs_compression == config::InitramfsCompression::Zstd
        {
            arm::initramfs::Compression::Zstd
        } else {
            arm::initramfs::Compression::Gzip
        },
        cmdline: a.cmdline,
        append,
        ramoops_region: a.ramoops.as_deref().map(parse_region).transpose()?,
        panic_on: plan::PanicOn {
            oops: file.sysctl.panic_on_oops,
            softlockup: file.sysctl.softlockup_panic,
            hardlockup: file.sysctl.hardlockup_panic,
            hung_task: a.panic_on_hung_task || file.sysctl.hung_task_panic,
            warn: a.panic_on_warn || file.sysctl.panic_on_warn,
        },
        panic_timeout: a.panic_timeout.unwrap_or(file.sysctl.panic_timeout),
        pstore_backend: pstore_backend(a.pstore_backend, file.pstore.backend),
        panic_print: a.panic_print.or(file.sysctl.panic_print),
        post_notifiers: post_notifiers(a.post_notifiers, file.sysctl.crash_kexec_post_notifiers),
    };
    let p = plan::plan(&root, &cfg)?;
    for n in &p.notes {
        eprintln!("note: {n}");
    }
    if a.dry_run {
        for act in &p.actions {
            println!("{act}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    let crash_size = State::read(&root).crash_size;
    for act in &p.actions {
        let out = act
            .execute(&root, crash_size)
            .with_context(|| format!("{act}"))?;
        println!("{act}: {out}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `panicdump.*` capture options for the `[kdump]` keys that differ from
/// the capture's own defaults (so an absent config file changes nothing).
fn capture_options(k: &config::Kdump) -> Vec<String> {
    let d = config::Kdump::default();
    let mut out = Vec::new();
    if k.dump_level != d.dump_level {
        out.push(format!("panicdump.level={}", k.dump_level));
    }
    if k.compression != d.compression {
        out.push(format!("panicdump.compress={}", enum_name(&k.compression)));
    }
    // A directory target is resolved to its device by `run`.
    if let Some(t) = k
        .target
        .as_ref()
        .filter(|t| t.starts_with("UUID=") || t.starts_with("/dev/"))
    {
        out.push(format!("panicdump.target={t}"));
    }
    if k.subdir != d.subdir {
        out.push(format!("panicdump.dir={}", k.subdir));
    }
    if k.on_success != d.on_success {
        out.push(format!("panicdump.on_success={}", enum_name(&k.on_success)));
    }
    if k.on_failure != d.on_failure {
        out.push(format!("panicdump.on_failure={}", enum_name(&k.on_failure)));
    }
    out
}

/// The config file's spelling of an enum value (`"lzo"`).
fn enum_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// Arguments of `panicdump status`.
#[derive(clap::Args, Debug)]
pub struct StatusArgs {
    /// System root; also PANICDUMP_ROOT.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Run `panicdump status`: exit 0 when armed, 1 when not.
pub fn run_status(a: StatusArgs) -> anyhow::Result<ExitCode> {
    let root = Root::from_arg_or_env(a.root.as_deref());
    let s = Status::from_state(State::read(&root));
    if a.json {
        println!("{}", serde_json::to_string_pretty(&s)?);
    } else {
        print!("{s}");
    }
    Ok(if s.armed() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Arguments of `panicdump estimate`.
#[derive(clap::Args, Debug)]
pub struct EstimateArgs {
    /// System root; also PANICDUMP_ROOT.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Capture kernel (default: /boot/vmlinuz-<running release>).
    #[arg(long, value_name = "PATH")]
    pub kernel: Option<PathBuf>,
    /// Capture initramfs (gzip or plain cpio) (default: /var/lib/panicdump/capture-<release>.img).
    #[arg(long, value_name = "PATH")]
    pub initrd: Option<PathBuf>,
    /// RAM of the machine to dump in bytes (default: MemTotal).
    #[arg(long)]
    pub ram: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    pub json: bool,
}

/// Run `panicdump estimate`.
pub fn run_estimate(a: EstimateArgs) -> anyhow::Result<ExitCode> {
    let root = Root::from_arg_or_env(a.root.as_deref());
    let release = root.read_trim("/proc/sys/kernel/osrelease");
    let by_release = |fmt: &dyn Fn(&str) -> String| -> anyhow::Result<PathBuf> {
        match &release {
            Some(r) => Ok(root.path(fmt(r))),
            None => bail!("cannot read the running release; pass --kernel and --initrd"),
        }
    };
    let kernel = match a.kernel {
        Some(k) => k,
        None => by_release(&|r| format!("/boot/vmlinuz-{r}"))?,
    };
    let initrd = match a.initrd {
        Some(i) => i,
        None => by_release(&|r| format!("/var/lib/panicdump/capture-{r}.img"))?,
    };
    let image = std::fs::read(&kernel).with_context(|| format!("read {}", kernel.display()))?;
    let init_size = arm::estimate::bzimage_init_size(&image).with_context(|| {
        format!(
            "{} is not a bzImage (boot protocol >= 2.10)",
            kernel.display()
        )
    })?;
    let rd = std::fs::read(&initrd).with_context(|| format!("read {}", initrd.display()))?;
    let unpacked = arm::estimate::gunzip_size(&rd).unwrap_or(rd.len() as u64);
    let ram = match a.ram {
        Some(r) => parse_size(&r).with_context(|| format!("bad --ram {r:?}"))?,
        None => std::fs::read_to_string(root.path("/proc/meminfo"))
            .ok()
            .and_then(|m| arm::estimate::mem_total(&m))
            .unwrap_or(0),
    };
    let e = arm::estimate::estimate(init_size, rd.len() as u64, unpacked, ram);
    if a.json {
        println!("{}", serde_json::to_string_pretty(&e)?);
    } else {
        let mib = |b: u64| format!("{:.1} MiB", b as f64 / 1048576.0);
        println!("{}", e.crashkernel);
        println!("  kernel (bzImage init_size)   {}", mib(e.kernel_bytes));
        println!("  kernel runtime               {}", mib(e.runtime_bytes));
        println!(
            "  initramfs compressed         {}",
            mib(e.initramfs_compressed_bytes)
        );
        println!(
            "  initramfs unpacked x2        {}",
            mib(2 * e.initramfs_unpacked_bytes)
        );
        println!(
            "  dump buffers + page map      {}",
            mib(e.dump_buffer_bytes)
        );
        println!(
            "  (rounded up to 16 MiB; calibrated on one lab point, to be verified in the lab)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
