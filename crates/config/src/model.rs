//! The configuration model: one struct per section, every field with its
//! default. `Config::default()` is what an empty file means.

use crate::size::Size;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// `/etc/panicdump/config.toml`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Config {
    /// Which capture mechanisms to arm.
    pub mode: Mode,
    /// The crash kernel and the dump it writes.
    pub kdump: Kdump,
    /// pstore (the kernel log tail kept across a reboot).
    pub pstore: Pstore,
    /// The panic knobs set at boot.
    pub sysctl: Sysctl,
    /// How many crash records `collect` keeps.
    pub retention: Retention,
    /// Sending reports to a crash server.
    pub submit: Submit,
    /// Telling people a crash was collected.
    pub notify: Notify,
}

/// Which capture mechanisms `arm` and `setup` prepare.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// pstore only: the log tail, no memory dump, no memory reserved.
    Pstore,
    /// kdump only: a crash kernel writes a filtered memory dump.
    Kdump,
    /// Both: pstore keeps the log even when the crash kernel fails.
    Both,
    /// Both where the machine can (a crash kernel needs a kernel image
    /// with kexec support; pstore needs a backend or a reserved region).
    #[default]
    Auto,
}

impl Mode {
    /// Whether pstore is wanted (`auto` wants it where possible).
    pub fn wants_pstore(self) -> bool {
        !matches!(self, Mode::Kdump)
    }

    /// Whether kdump is wanted (`auto` wants it where possible).
    pub fn wants_kdump(self) -> bool {
        !matches!(self, Mode::Pstore)
    }
}

/// Compression of the dump written by the crash kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DumpCompression {
    /// zstd level 1 (`makedumpfile -z`).
    #[default]
    Zstd,
    /// zlib level 1 (`makedumpfile -c`).
    Zlib,
    /// LZO1X-1 (`makedumpfile -l`).
    Lzo,
    /// snappy (`makedumpfile -p`).
    Snappy,
    /// No compression.
    None,
}

/// What the crash kernel does after a capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AfterCapture {
    /// Sync and reboot.
    #[default]
    Reboot,
    /// Sync and power off.
    Poweroff,
    /// A shell on the console (debugging a failing capture), then reboot.
    Shell,
}

/// Compression of the capture initramfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum InitramfsCompression {
    /// gzip: every kernel can unpack it.
    #[default]
    Gzip,
    /// zstd: smaller, needs `CONFIG_RD_ZSTD`.
    Zstd,
}

/// `[kdump]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Kdump {
    /// makedumpfile dump level 0-31: the page kinds left out of the dump
    /// (1 zero, 2 cache, 4 private cache, 8 user, 16 free). 31 keeps
    /// only kernel memory, which is what crash analysis needs.
    pub dump_level: u8,
    /// Dump compression: zstd, zlib, lzo, snappy or none.
    pub compression: DumpCompression,
    /// Where the crash kernel writes: `UUID=<fs uuid>`, a `/dev/...`
    /// block device, or a directory of the running system (its disk is
    /// found at `arm` time). Unset: the root filesystem.
    pub target: Option<String>,
    /// Directory inside the target filesystem.
    pub subdir: String,
    /// `crashkernel=` value written by `setup` (`256M`, `512M-2G:192M,2G-:256M`).
    /// Unset: computed by `panicdump estimate`.
    pub crashkernel: Option<String>,
    /// After a successful capture: reboot, poweroff or shell.
    pub on_success: AfterCapture,
    /// After a failed capture: reboot, poweroff or shell.
    pub on_failure: AfterCapture,
    /// Further kernel modules for the capture initramfs.
    pub extra_modules: Vec<String>,
    /// Capture initramfs compression: gzip or zstd.
    pub initramfs_compression: InitramfsCompression,
}

impl Default for Kdump {
    fn default() -> Self {
        Self {
            dump_level: 31,
            compression: DumpCompression::Zstd,
            target: None,
            subdir: "var/crash".into(),
            crashkernel: None,
            on_success: AfterCapture::Reboot,
            on_failure: AfterCapture::Reboot,
            extra_modules: Vec::new(),
            initramfs_compression: InitramfsCompression::Gzip,
        }
    }
}

/// The pstore backend to prefer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// An active backend (EFI, ERST, ...) if there is one, else ramoops.
    #[default]
    Auto,
    /// ramoops in a reserved RAM region, even when another backend exists.
    Ramoops,
    /// The firmware's backend only (efi_pstore / ERST); no RAM reserved.
    Firmware,
}

/// `[pstore]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Pstore {
    /// Which backend to use: auto, ramoops or firmware.
    pub backend: Backend,
    /// Size of the RAM region reserved for ramoops (`memmap=SIZE$ADDR`).
    pub ramoops_size: Size,
    /// Physical address of the ramoops region. Unset: `setup` picks the
    /// middle of the largest RAM range below 4 GiB from /proc/iomem (not
    /// its top, where boot loaders load the initramfs).
    pub ramoops_address: Option<Size>,
}

impl Default for Pstore {
    fn default() -> Self {
        Self {
            backend: Backend::Auto,
            ramoops_size: Size(1 << 20),
            ramoops_address: None,
        }
    }
}

/// on / off / auto.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Switch {
    /// Decided from the rest of the configuration.
    #[default]
    Auto,
    /// Always on.
    On,
    /// Always off.
    Off,
}

/// `[sysctl]`: the panic knobs (`sysctl.d` drop-in and `arm`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Sysctl {
    /// `kernel.panic_on_oops`: an oops becomes a panic, so it is captured.
    pub panic_on_oops: bool,
    /// `kernel.panic_on_warn`: every WARN becomes a panic (many are harmless).
    pub panic_on_warn: bool,
    /// `kernel.softlockup_panic`.
    pub softlockup_panic: bool,
    /// `kernel.hardlockup_panic` (where the NMI watchdog exists).
    pub hardlockup_panic: bool,
    /// `kernel.hung_task_panic` (a slow NFS server would reboot the machine).
    pub hung_task_panic: bool,
    /// `kernel.panic`: seconds before rebooting after a panic kdump did not take.
    pub panic_timeout: u32,
    /// `kernel.panic_print` bit mask. Unset: 0x40 (all CPUs' backtraces)
    /// when pstore is armed, else left alone.
    pub panic_print: Option<u32>,
    /// `crash_kexec_post_notifiers`: run pstore's panic dumper before
    /// jumping to the crash kernel. auto: on when both pstore and kdump are armed.
    pub crash_kexec_post_notifiers: Switch,
}

impl Default for Sysctl {
    fn default() -> Self {
        Self {
            panic_on_oops: true,
            panic_on_warn: false,
            softlockup_panic: true,
            hardlockup_panic: true,
            hung_task_panic: false,
            panic_timeout: 10,
            panic_print: None,
            crash_kexec_post_notifiers: Switch::Auto,
        }
    }
}

/// `[retention]`: which crash records `collect` keeps (0: no limit).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Retention {
    /// Keep at most this many records.
    pub max_count: u32,
    /// Delete records older than this many days.
    pub max_age_days: u32,
    /// Keep the newest records whose sizes add up to at most this.
    pub max_size: Size,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            max_count: 50,
            max_age_days: 90,
            max_size: Size(2 << 30),
        }
    }
}

/// `[submit]`: reports to a crash server. Nothing leaves the machine
/// without `consent = true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Submit {
    /// Base URL of the crash server (`https://crashes.example.org`).
    /// Unset: nothing is sent.
    pub url: Option<String>,
    /// Client token (`panicdump server token add`). Prefer `token_file`:
    /// this file is world-readable on most systems.
    pub token: Option<String>,
    /// File holding the client token (first line).
    pub token_file: Option<PathBuf>,
    /// The administrator agreed to send crash reports off this machine.
    pub consent: bool,
    /// Send newly collected crashes after `collect` (else only `panicdump submit`).
    pub auto: bool,
    /// At most this many reports in any 24 hours.
    pub max_reports_per_day: u32,
    /// At most this many bundle bytes in any 24 hours.
    pub max_bytes_per_day: Size,
    /// Also redact kernel pointers in the bundles (addresses, serials,
    /// host and user names are always redacted).
    pub redact_pointers: bool,
}

impl Default for Submit {
    fn default() -> Self {
        Self {
            url: None,
            token: None,
            token_file: None,
            consent: false,
            auto: false,
            max_reports_per_day: 32,
            max_bytes_per_day: Size(24 << 20),
            redact_pointers: false,
        }
    }
}

/// `[notify]`: how a collected crash is announced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Notify {
    /// A structured journal entry (priority err) per collected crash.
    pub journal: bool,
    /// A desktop notification to logged-in graphical sessions.
    pub desktop: bool,
}

impl Default for Notify {
    fn default() -> Self {
        Self {
            journal: true,
            desktop: true,
        }
    }
}
