//! The text of every file setup writes or edits.

use crate::params::Additions;
use config::Config;

/// The marker line every generated file starts with.
pub const HEADER: &str = "Written by `panicdump setup`; `panicdump setup --undo` removes it.";
/// First line of the block appended to `/etc/default/grub`.
pub const GRUB_BEGIN: &str =
    "# BEGIN panicdump setup (`panicdump setup --undo` removes this block)";
/// Last line of that block.
pub const GRUB_END: &str = "# END panicdump setup";

/// A parameter quoted for a `GRUB_CMDLINE_LINUX*="..."` assignment: the
/// shell that sources the file turns `\\\$` into `\$`, and GRUB's own
/// parser turns that into the `$` the kernel must see.
pub fn grub_quote(param: &str) -> String {
    param.replace('$', "\\\\\\$")
}

/// The assignment line appending `add` to `GRUB_CMDLINE_LINUX_DEFAULT`.
pub fn grub_assignment(add: &Additions) -> String {
    let quoted: Vec<String> = add.params().iter().map(|p| grub_quote(p)).collect();
    format!(
        "GRUB_CMDLINE_LINUX_DEFAULT=\"${{GRUB_CMDLINE_LINUX_DEFAULT}} {}\"\n",
        quoted.join(" ")
    )
}

/// `/etc/default/grub.d/panicdump.cfg`.
pub fn grub_dropin(add: &Additions) -> String {
    format!(
        "# {HEADER}\n# Kernel parameters for panicdump: crash kernel memory and a ramoops region.\n{}",
        grub_assignment(add)
    )
}

/// `/etc/default/grub` with the panicdump block appended to `original`.
pub fn grub_main(original: &str, add: &Additions) -> String {
    let mut s = original.to_string();
    if !s.is_empty() && !s.ends_with('\n') {
        s.push('\n');
    }
    s.push_str(&format!(
        "{GRUB_BEGIN}\n{}{GRUB_END}\n",
        grub_assignment(add)
    ));
    s
}

/// `/etc/kernel/cmdline` from its `original` text: a `crashkernel=` that
/// setup replaces is dropped, the new parameters are appended, every
/// other byte of the line is kept.
pub fn kernel_cmdline(original: &str, add: &Additions) -> String {
    let line = original.lines().next().unwrap_or("");
    let rest = original.split_once('\n').map(|x| x.1).unwrap_or("");
    let ours = add.crashkernel.as_ref().map(|c| format!("crashkernel={c}"));
    let replaced =
        |w: &str| w.starts_with("crashkernel=") && ours.as_deref().is_some_and(|o| o != w);
    let mut out = if line.split_whitespace().any(replaced) {
        line.split_whitespace()
            .filter(|w| !replaced(w))
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        line.trim_end().to_string()
    };
    let words: Vec<&str> = out.split_whitespace().collect();
    let missing: Vec<String> = add
        .params()
        .into_iter()
        .filter(|p| !words.contains(&p.as_str()))
        .collect();
    for p in missing {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&p);
    }
    out.push('\n');
    out.push_str(rest);
    out
}

/// `/etc/kernel/cmdline` content for a system without one: the running
/// command line without what the boot loader adds itself.
pub fn cmdline_from_proc(proc_cmdline: &str) -> String {
    let words: Vec<&str> = proc_cmdline
        .split_whitespace()
        .filter(|w| !w.starts_with("BOOT_IMAGE=") && !w.starts_with("initrd="))
        .collect();
    let mut s = words.join(" ");
    s.push('\n');
    s
}

/// `/etc/sysctl.d/90-panicdump.conf`.
pub fn sysctl_conf(cfg: &Config) -> String {
    let s = &cfg.sysctl;
    let b = |v: bool| u8::from(v);
    let mut out = format!(
        "# {HEADER}\n# From /etc/panicdump/config.toml [sysctl]; a leading '-' ignores knobs this kernel lacks.\n"
    );
    out.push_str(&format!("kernel.panic_on_oops = {}\n", b(s.panic_on_oops)));
    out.push_str(&format!(
        "-kernel.softlockup_panic = {}\n",
        b(s.softlockup_panic)
    ));
    out.push_str(&format!(
        "-kernel.hardlockup_panic = {}\n",
        b(s.hardlockup_panic)
    ));
    // Opt-in knobs are only ever switched on, never off behind the admin's back.
    if s.hung_task_panic {
        out.push_str("-kernel.hung_task_panic = 1\n");
    }
    if s.panic_on_warn {
        out.push_str("kernel.panic_on_warn = 1\n");
    }
    out.push_str(&format!("kernel.panic = {}\n", s.panic_timeout));
    let print = s.panic_print.or_else(|| {
        cfg.mode
            .wants_pstore()
            .then_some(arm::plan::PANIC_PRINT_ALL_CPU_BT)
    });
    if let Some(p) = print {
        out.push_str(&format!("kernel.panic_print = {p}\n"));
    }
    out
}

/// The packaged units (`dist/systemd`), by name.
pub const UNIT_FILES: &[(&str, &str)] = &[
    (
        "panicdump-collect.service",
        include_str!("../../../dist/systemd/panicdump-collect.service"),
    ),
    (
        "panicdump-arm.service",
        include_str!("../../../dist/systemd/panicdump-arm.service"),
    ),
    // Started by its timer only (no [Install] section, nothing to enable).
    (
        "panicdump-submit.service",
        include_str!("../../../dist/systemd/panicdump-submit.service"),
    ),
    (
        "panicdump-submit.timer",
        include_str!("../../../dist/systemd/panicdump-submit.timer"),
    ),
];

/// A packaged unit with `/usr/bin/panicdump` replaced by `exe`.
pub fn unit(text: &str, exe: &str) -> String {
    text.replace("/usr/bin/panicdump", exe)
}

/// The targets of a unit's `[Install] WantedBy=` (what `systemctl enable` links into).
pub fn wanted_by(unit: &str) -> Vec<String> {
    let mut in_install = false;
    let mut out = Vec::new();
    for line in unit.lines().map(str::trim) {
        if line.starts_with('[') {
            in_install = line == "[Install]";
        } else if in_install {
            if let Some(v) = line.strip_prefix("WantedBy=") {
                out.extend(v.split_whitespace().map(String::from));
            }
        }
    }
    out
}

/// `/etc/kernel/install.d/90-panicdump.install`.
pub fn kernel_install_plugin(exe: &str) -> String {
    format!(
        "#!/bin/sh\n# {HEADER}\n\
         # kernel-install plugin: keep panicdump's capture initramfs in step with\n\
         # installed kernels. Kernels other than the running one are armed by\n\
         # panicdump-arm.service when they boot.\n\
         COMMAND=\"$1\"\nKERNEL_VERSION=\"$2\"\n\
         case \"$COMMAND\" in\n\
         add)\n    if [ \"$KERNEL_VERSION\" = \"$(uname -r)\" ]; then\n        \
         {exe} arm >/dev/null || echo \"panicdump: re-arming failed; see 'panicdump status'\" >&2\n    fi\n    ;;\n\
         remove)\n    rm -f \"/var/lib/panicdump/capture-$KERNEL_VERSION.img\"\n    ;;\nesac\nexit 0\n"
    )
}

/// `/etc/pacman.d/hooks/90-panicdump.hook`.
pub fn pacman_hook(exe: &str) -> String {
    format!(
        "# {HEADER}\n[Trigger]\nType = Path\nOperation = Install\nOperation = Upgrade\nOperation = Remove\n\
         Target = usr/lib/modules/*/vmlinuz\n\n[Action]\nDescription = Re-arming panicdump for the installed kernel...\n\
         When = PostTransaction\nExec = /bin/sh -c '{exe} arm >/dev/null || echo \"panicdump: re-arming failed; see panicdump status\" >&2'\n"
    )
}

/// Parameters assigned to `GRUB_CMDLINE_LINUX*` in a GRUB defaults file
/// (static reading, enough to find `crashkernel=` and `memmap=`).
pub fn grub_params(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') || !t.starts_with("GRUB_CMDLINE_LINUX") {
            continue;
        }
        let Some((_, value)) = t.split_once('=') else {
            continue;
        };
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        out.extend(
            value
                .split_whitespace()
                .map(|w| w.replace('\\', "").trim_matches('"').to_string())
                .filter(|w| !w.starts_with("${") && !w.starts_with("$GRUB")),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use arm::ramoops::Region;

    fn add() -> Additions {
        Additions {
            crashkernel: Some("144M".into()),
            memmap: Some(Region {
                start: 0x3fe0_0000,
                size: 1 << 20,
            }),
            log_buf_len: None,
            notes: vec![],
        }
    }

    #[test]
    fn kernel_cmdline_keeps_everything_else() {
        assert_eq!(
            kernel_cmdline("root=UUID=x  rw quiet\n", &add()),
            "root=UUID=x  rw quiet crashkernel=144M memmap=1M$0x3fe00000\n"
        );
        assert_eq!(
            kernel_cmdline("root=/dev/sda crashkernel=64M rw", &add()),
            "root=/dev/sda rw crashkernel=144M memmap=1M$0x3fe00000\n"
        );
        // Idempotent.
        let once = kernel_cmdline("ro\n", &add());
        assert_eq!(kernel_cmdline(&once, &add()), once);
    }

    #[test]
    fn grub_quoting_and_params() {
        let d = grub_dropin(&add());
        assert!(d.contains(r#"memmap=1M\\\$0x3fe00000"#), "{d}");
        let p = grub_params("GRUB_CMDLINE_LINUX=\"quiet crashkernel=1G-:256M\"\n# GRUB_CMDLINE_LINUX=\"crashkernel=9M\"\n");
        assert_eq!(p, vec!["quiet", "crashkernel=1G-:256M"]);
        assert_eq!(
            cmdline_from_proc("BOOT_IMAGE=/vmlinuz root=/dev/vda ro\n"),
            "root=/dev/vda ro\n"
        );
    }
}
