//! The kernel command line a boot loader would build from a root's
//! configuration files, the way the boot loader does it: for GRUB, the
//! defaults files are sourced by `/bin/sh` (as grub-mkconfig does) and
//! GRUB's own unquoting is applied; for kernel-install, `/etc/kernel/cmdline`
//! is used as is. Tests and the lab use it to check what setup achieved.

use crate::error::{io, Result, SetupError};
use arm::Root;

/// GRUB's unquoting of an unquoted word: a backslash escapes the next character.
fn grub_unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `GRUB_CMDLINE_LINUX GRUB_CMDLINE_LINUX_DEFAULT` after sourcing
/// `/etc/default/grub` and `/etc/default/grub.d/*.cfg` under `root` with
/// `/bin/sh`, as the normal boot entry's `linux` line gets them.
pub fn grub_cmdline(root: &Root) -> Result<String> {
    let script = r#"set -e
. "$1/etc/default/grub"
for f in "$1"/etc/default/grub.d/*.cfg; do
    [ -e "$f" ] && . "$f"
done
printf '%s %s' "$GRUB_CMDLINE_LINUX" "$GRUB_CMDLINE_LINUX_DEFAULT""#;
    let out = std::process::Command::new("/bin/sh")
        .args(["-c", script, "sh"])
        .arg(root.dir())
        .output()
        .map_err(io("run /bin/sh for", root.path("/etc/default/grub")))?;
    if !out.status.success() {
        return Err(SetupError::Command {
            command: "sh -c '. /etc/default/grub'".into(),
            message: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .split_whitespace()
        .map(grub_unescape)
        .collect::<Vec<_>>()
        .join(" "))
}

/// `/etc/kernel/cmdline` under `root`, whitespace-normalized.
pub fn kernel_install_cmdline(root: &Root) -> Option<String> {
    let t = std::fs::read_to_string(root.path("/etc/kernel/cmdline")).ok()?;
    Some(t.split_whitespace().collect::<Vec<_>>().join(" "))
}
