//! What the running system says about crash readiness (all under a [`Root`]).

use crate::root::Root;
use serde::Serialize;

/// `/sys/kernel/kexec_crash_loaded`: 1 when a crash kernel is loaded.
pub const CRASH_LOADED: &str = "/sys/kernel/kexec_crash_loaded";
/// `/sys/kernel/kexec_crash_size`: bytes reserved by `crashkernel=`.
pub const CRASH_SIZE: &str = "/sys/kernel/kexec_crash_size";
/// pstore backend in use (`ramoops`, `efi_pstore`, `erst`...).
pub const PSTORE_BACKEND: &str = "/sys/module/pstore/parameters/backend";
/// ramoops parameters directory.
pub const RAMOOPS_PARAMS: &str = "/sys/module/ramoops/parameters";
/// Runtime switch of the `crash_kexec_post_notifiers` kernel parameter.
pub const POST_NOTIFIERS: &str = "/sys/module/kernel/parameters/crash_kexec_post_notifiers";

/// drm_panic's choice of panic screen (`user`, `kmsg`, `qr_code`); the
/// parameter exists when the kernel has drm_panic (6.10+).
pub const PANIC_SCREEN: &str = "/sys/module/drm/parameters/panic_screen";

/// The sysctls `status` reports (name under /proc/sys with dots).
pub const SYSCTLS: &[&str] = &[
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.panic_print",
    "kernel.softlockup_panic",
    "kernel.hardlockup_panic",
    "kernel.hung_task_panic",
    "kernel.panic_on_warn",
    "kernel.kexec_load_disabled",
];

/// `/proc/sys` path of a dotted sysctl name.
pub fn sysctl_path(name: &str) -> String {
    format!("/proc/sys/{}", name.replace('.', "/"))
}

/// Crash-related state of a system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// Crash kernel loaded (None: file absent, kernel without kexec).
    pub crash_loaded: Option<bool>,
    /// Bytes reserved for the crash kernel.
    pub crash_size: Option<u64>,
    /// pstore backend (None or empty: no pstore).
    pub pstore_backend: Option<String>,
    /// ramoops parameters (name, value) when the module is loaded.
    pub ramoops: Vec<(String, String)>,
    /// `crash_kexec_post_notifiers` (Y/N).
    pub post_notifiers: Option<String>,
    /// Sysctl values (name, value or None when absent).
    pub sysctls: Vec<(String, Option<String>)>,
    /// The running command line.
    pub cmdline: String,
    /// The running kernel release.
    pub release: Option<String>,
    /// What the kernel can draw on screen when it panics (drm_panic).
    pub panic_screen: Option<PanicScreen>,
}

/// drm_panic as this kernel was built and is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PanicScreen {
    /// `drm.panic_screen` now (`user`, `kmsg`, `qr_code`).
    pub mode: String,
    /// Built with the QR-code screen (`CONFIG_DRM_PANIC_SCREEN_QR_CODE`);
    /// `None` when the kernel's config file is not readable.
    pub qr_code: Option<bool>,
    /// The QR code's URL prefix (`CONFIG_DRM_PANIC_SCREEN_QR_CODE_URL`),
    /// fixed when the kernel was built; empty: the code holds raw data.
    pub qr_url: Option<String>,
}

impl PanicScreen {
    /// Read the mode from sysfs and the QR options from the kernel's
    /// config (`/boot/config-<release>`, as Debian, Fedora and Arch's
    /// kernel packages install it).
    fn read(root: &Root, release: Option<&str>) -> Option<PanicScreen> {
        let mode = root.read_trim(PANIC_SCREEN)?;
        let config = release.and_then(|r| root.read_trim(format!("/boot/config-{r}")));
        let option = |name: &str| {
            config.as_deref().and_then(|c| {
                c.lines()
                    .find_map(|l| l.strip_prefix(name)?.strip_prefix('='))
                    .map(|v| v.trim().trim_matches('"').to_string())
            })
        };
        Some(PanicScreen {
            mode,
            qr_code: config
                .as_ref()
                .map(|_| option("CONFIG_DRM_PANIC_SCREEN_QR_CODE").as_deref() == Some("y")),
            qr_url: option("CONFIG_DRM_PANIC_SCREEN_QR_CODE_URL"),
        })
    }
}

impl State {
    /// Read everything under `root`; missing files are `None`, never errors.
    pub fn read(root: &Root) -> Self {
        let mut ramoops = Vec::new();
        if let Ok(rd) = std::fs::read_dir(root.path(RAMOOPS_PARAMS)) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                if let Some(v) = root.read_trim(format!("{RAMOOPS_PARAMS}/{name}")) {
                    ramoops.push((name, v));
                }
            }
        }
        ramoops.sort();
        let release = root.read_trim("/proc/sys/kernel/osrelease");
        Self {
            crash_loaded: root.read_trim(CRASH_LOADED).map(|v| v == "1"),
            crash_size: root.read_trim(CRASH_SIZE).and_then(|v| v.parse().ok()),
            pstore_backend: root
                .read_trim(PSTORE_BACKEND)
                .filter(|v| !v.is_empty() && v != "(null)"),
            ramoops,
            post_notifiers: root.read_trim(POST_NOTIFIERS),
            sysctls: SYSCTLS
                .iter()
                .map(|n| (n.to_string(), root.read_trim(sysctl_path(n))))
                .collect(),
            cmdline: root.read_trim("/proc/cmdline").unwrap_or_default(),
            panic_screen: PanicScreen::read(root, release.as_deref()),
            release,
        }
    }

    /// A sysctl's value.
    pub fn sysctl(&self, name: &str) -> Option<&str> {
        self.sysctls
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, v)| v.as_deref())
    }
}
