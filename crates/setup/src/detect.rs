//! What boot configuration and package tooling a root tree has.

use arm::Root;

/// How GRUB's defaults are extended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrubStyle {
    /// `/etc/default/grub.d/*.cfg` is sourced (Debian, Ubuntu): own drop-in.
    DropIn,
    /// Only `/etc/default/grub` is sourced (Arch, Fedora, SteamOS): a
    /// marked block appended to it.
    MainFile,
}

/// The boot and package tooling found under a root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// GRUB with `/etc/default/grub`.
    pub grub: Option<GrubStyle>,
    /// The command regenerating grub.cfg, when one is installed.
    pub grub_mkconfig: Option<Vec<String>>,
    /// systemd-boot / kernel-install with `/etc/kernel/cmdline` (or a
    /// loader that reads it: UKI, BLS entries).
    pub kernel_install: bool,
    /// Whether `/etc/kernel/cmdline` exists already.
    pub kernel_cmdline_exists: bool,
    /// `kernel-install` itself (so a plugin is run on kernel installs).
    pub kernel_install_tool: bool,
    /// pacman (Arch, SteamOS): a hook rebuilds on kernel upgrades.
    pub pacman: bool,
    /// systemd: units can be installed.
    pub systemd: bool,
}

const BIN_DIRS: &[&str] = &["/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/// The absolute path of `name` in the root's usual binary directories.
pub fn which(root: &Root, name: &str) -> Option<String> {
    BIN_DIRS
        .iter()
        .map(|d| format!("{d}/{name}"))
        .find(|p| root.path(p).is_file())
}

fn exists(root: &Root, p: &str) -> bool {
    root.path(p).exists()
}

impl Detected {
    /// Look at `root`.
    pub fn scan(root: &Root) -> Self {
        let grub = root.path("/etc/default/grub").is_file().then(|| {
            if root.path("/etc/default/grub.d").is_dir() {
                GrubStyle::DropIn
            } else {
                GrubStyle::MainFile
            }
        });
        let grub_mkconfig = if let Some(u) = which(root, "update-grub") {
            Some(vec![u])
        } else if let Some(m) = which(root, "grub-mkconfig") {
            Some(vec![m, "-o".into(), "/boot/grub/grub.cfg".into()])
        } else {
            which(root, "grub2-mkconfig").map(|m| {
                let cfg = if exists(root, "/boot/grub2") {
                    "/boot/grub2/grub.cfg"
                } else {
                    "/boot/grub/grub.cfg"
                };
                vec![m, "-o".into(), cfg.into()]
            })
        };
        let kernel_cmdline_exists = root.path("/etc/kernel/cmdline").is_file();
        let kernel_install_tool =
            which(root, "kernel-install").is_some() || exists(root, "/usr/lib/kernel/install.d");
        let loader = ["/boot/loader", "/efi/loader", "/boot/efi/loader"]
            .iter()
            .any(|p| exists(root, p));
        Self {
            grub,
            grub_mkconfig,
            kernel_install: kernel_cmdline_exists || (kernel_install_tool && loader),
            kernel_cmdline_exists,
            kernel_install_tool,
            pacman: which(root, "pacman").is_some() || exists(root, "/etc/pacman.conf"),
            systemd: exists(root, "/etc/systemd/system")
                || exists(root, "/usr/lib/systemd")
                || exists(root, "/lib/systemd"),
        }
    }

    /// Whether any boot loader configuration can be written.
    pub fn has_boot_config(&self) -> bool {
        self.grub.is_some() || self.kernel_install
    }
}
