//! The setup plan: every file with its new content, the commands to run
//! afterwards, notes, and instructions when no boot loader is known.

use crate::detect::{which, Detected, GrubStyle};
use crate::error::Result;
use crate::files;
use crate::manifest::Manifest;
use crate::params::{self, Additions};
use arm::Root;
use config::Config;

/// GRUB drop-in (Debian, Ubuntu).
pub const GRUB_DROPIN: &str = "/etc/default/grub.d/panicdump.cfg";
/// GRUB defaults.
pub const GRUB_DEFAULTS: &str = "/etc/default/grub";
/// kernel-install / systemd-boot / UKI command line.
pub const KERNEL_CMDLINE: &str = "/etc/kernel/cmdline";
/// sysctl drop-in.
pub const SYSCTL_CONF: &str = "/etc/sysctl.d/90-panicdump.conf";
/// systemd unit directory for local units.
pub const UNIT_DIR: &str = "/etc/systemd/system";
/// kernel-install plugin.
pub const KERNEL_INSTALL_PLUGIN: &str = "/etc/kernel/install.d/90-panicdump.install";
/// pacman hook.
pub const PACMAN_HOOK: &str = "/etc/pacman.d/hooks/90-panicdump.hook";

/// Options beyond the configuration file.
#[derive(Debug, Clone)]
pub struct Options {
    /// The panicdump executable the units and hooks run.
    pub exe: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            exe: "/usr/bin/panicdump".into(),
        }
    }
}

/// New content of one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A regular file with these bytes and permission bits.
    File {
        /// Contents.
        bytes: Vec<u8>,
        /// Permission bits of a new file (`0o644`); an existing file keeps its own.
        mode: u32,
    },
    /// A symbolic link to this target.
    Symlink(String),
}

/// One file setup writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Absolute path on the target system.
    pub path: String,
    /// What it will contain.
    pub content: Content,
    /// Why.
    pub why: &'static str,
}

/// Everything `setup` would do.
#[derive(Debug, Clone)]
pub struct SetupPlan {
    /// What was found.
    pub detected: Detected,
    /// Kernel parameters added.
    pub additions: Additions,
    /// Files, in the order they are written.
    pub changes: Vec<Change>,
    /// Commands run afterwards (only on the real root).
    pub commands: Vec<Vec<String>>,
    /// Notes for the user.
    pub notes: Vec<String>,
    /// Manual steps, when no boot configuration was found.
    pub instructions: Option<String>,
}

fn file(path: &str, text: String, mode: u32, why: &'static str) -> Change {
    Change {
        path: path.into(),
        content: Content::File {
            bytes: text.into_bytes(),
            mode,
        },
        why,
    }
}

/// A file's text as it was before setup touched it: the manifest's backup
/// when setup already changed it, else the file itself.
pub fn original_text(root: &Root, manifest: &Manifest, path: &str) -> Result<Option<String>> {
    let bytes = match manifest.original_bytes(root, path)? {
        Some(orig) => orig,
        None => std::fs::read(root.path(path)).ok(),
    };
    Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// Build the plan for `cfg` on the system under `root`.
pub fn plan(root: &Root, cfg: &Config, opts: &Options) -> Result<SetupPlan> {
    let det = Detected::scan(root);
    let manifest = Manifest::load(root)?.unwrap_or_default();
    let mut notes = Vec::new();
    let proc_cmdline = root.read_trim("/proc/cmdline").unwrap_or_default();

    // Parameters the boot configuration already has, from the original files.
    let mut existing = Vec::new();
    let grub_original = original_text(root, &manifest, GRUB_DEFAULTS)?;
    if det.grub.is_some() {
        existing.extend(files::grub_params(grub_original.as_deref().unwrap_or("")));
        if let Ok(rd) = std::fs::read_dir(root.path("/etc/default/grub.d")) {
            let mut names: Vec<_> = rd.flatten().map(|e| e.file_name()).collect();
            names.sort();
            for n in names {
                let n = n.to_string_lossy();
                if n.ends_with(".cfg") && n != "panicdump.cfg" {
                    let t = std::fs::read_to_string(root.path(format!("/etc/default/grub.d/{n}")))
                        .unwrap_or_default();
                    existing.extend(files::grub_params(&t));
                }
            }
        }
    }
    let kcmd_original = original_text(root, &manifest, KERNEL_CMDLINE)?;
    if det.kernel_install {
        let base = kcmd_original
            .clone()
            .unwrap_or_else(|| files::cmdline_from_proc(&proc_cmdline));
        existing.extend(base.split_whitespace().map(String::from));
    }
    if !det.has_boot_config() {
        existing.extend(proc_cmdline.split_whitespace().map(String::from));
    }
    let additions = params::compute(root, cfg, &existing);
    notes.extend(additions.notes.iter().cloned());

    let mut changes = Vec::new();
    let mut commands = Vec::new();
    let have_params = !additions.params().is_empty();
    match det.grub {
        Some(_) if !have_params => {}
        Some(GrubStyle::DropIn) => changes.push(file(
            GRUB_DROPIN,
            files::grub_dropin(&additions),
            0o644,
            "GRUB: kernel parameters for the crash kernel and ramoops",
        )),
        Some(GrubStyle::MainFile) => changes.push(file(
            GRUB_DEFAULTS,
            files::grub_main(grub_original.as_deref().unwrap_or(""), &additions),
            0o644,
            "GRUB: kernel parameters for the crash kernel and ramoops",
        )),
        None => {}
    }
    if det.grub.is_some() && have_params {
        match &det.grub_mkconfig {
            Some(cmd) => commands.push(cmd.clone()),
            None => notes.push(
                "no update-grub / grub-mkconfig found: regenerate grub.cfg (grub-mkconfig -o /boot/grub/grub.cfg) before rebooting".into(),
            ),
        }
    }
    if det.kernel_install && have_params {
        let base = kcmd_original
            .clone()
            .unwrap_or_else(|| files::cmdline_from_proc(&proc_cmdline));
        changes.push(file(
            KERNEL_CMDLINE,
            files::kernel_cmdline(&base, &additions),
            0o644,
            "kernel-install / systemd-boot: kernel parameters",
        ));
        if let (Some(ki), Some(release)) = (
            which(root, "kernel-install"),
            root.read_trim("/proc/sys/kernel/osrelease"),
        ) {
            let modules_image = format!("/usr/lib/modules/{release}/vmlinuz");
            let image = if root.path(&modules_image).is_file() {
                modules_image
            } else {
                format!("/boot/vmlinuz-{release}")
            };
            commands.push(vec![ki, "add".into(), release, image]);
        } else {
            notes.push("kernel-install not found: regenerate the boot entry so it picks up /etc/kernel/cmdline".into());
        }
    }
    let instructions = (!det.has_boot_config() && have_params).then(|| {
        format!(
            "No GRUB (/etc/default/grub) or kernel-install (/etc/kernel/cmdline) configuration found.\n\
             Add these parameters to your boot loader's kernel command line, then reboot:\n\n    {}\n\n\
             (rEFInd: refind_linux.conf or refind.conf 'options'; syslinux/extlinux: the APPEND line;\n\
             SteamOS: its GRUB configuration under /etc/default/grub.)",
            additions.params().join(" ")
        )
    });

    changes.push(file(
        SYSCTL_CONF,
        files::sysctl_conf(cfg),
        0o644,
        "panic knobs applied early at every boot",
    ));
    if det.systemd {
        for (name, text) in files::UNIT_FILES {
            let text = files::unit(text, &opts.exe);
            for target in files::wanted_by(&text) {
                changes.push(Change {
                    path: format!("{UNIT_DIR}/{target}.wants/{name}"),
                    content: Content::Symlink(format!("{UNIT_DIR}/{name}")),
                    why: "enable the unit (what `systemctl enable` does)",
                });
            }
            changes.insert(
                changes.len() - files::wanted_by(&text).len(),
                file(&format!("{UNIT_DIR}/{name}"), text, 0o644, "systemd unit"),
            );
        }
        if let Some(systemctl) = which(root, "systemctl") {
            commands.push(vec![systemctl, "daemon-reload".into()]);
        }
    } else {
        notes.push(
            "no systemd: run `panicdump collect` and then `panicdump arm` at every boot".into(),
        );
    }
    if det.kernel_install_tool || det.kernel_install {
        changes.push(file(
            KERNEL_INSTALL_PLUGIN,
            files::kernel_install_plugin(&opts.exe),
            0o755,
            "re-arm when kernels are installed, drop capture images of removed ones",
        ));
    }
    if det.pacman {
        changes.push(file(
            PACMAN_HOOK,
            files::pacman_hook(&opts.exe),
            0o644,
            "re-arm after pacman kernel upgrades",
        ));
    }
    Ok(SetupPlan {
        detected: det,
        additions,
        changes,
        commands,
        notes,
        instructions,
    })
}
