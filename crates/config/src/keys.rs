//! Every key of the file with its default and meaning: the single source
//! of `dist/config.toml` and the key list of `docs/configuration.md` (tests
//! check both against this table and this table against the model).

/// One documented key.
#[derive(Debug, Clone, Copy)]
pub struct KeyDoc {
    /// Section (`""` for top-level keys).
    pub section: &'static str,
    /// Key name.
    pub key: &'static str,
    /// The default as TOML text; `None` when unset by default.
    pub default: Option<&'static str>,
    /// An example value for keys unset by default (TOML text).
    pub example: &'static str,
    /// What it means.
    pub doc: &'static str,
}

const fn k(
    section: &'static str,
    key: &'static str,
    default: Option<&'static str>,
    example: &'static str,
    doc: &'static str,
) -> KeyDoc {
    KeyDoc {
        section,
        key,
        default,
        example,
        doc,
    }
}

/// Sections in file order, with a one-line description.
pub const SECTIONS: &[(&str, &str)] = &[
    ("", "Which capture mechanisms to arm."),
    ("kdump", "The crash kernel and the dump it writes."),
    (
        "pstore",
        "pstore: the kernel log tail kept across a reboot.",
    ),
    (
        "sysctl",
        "The panic knobs, set at boot (sysctl.d drop-in) and by `panicdump arm`.",
    ),
    (
        "retention",
        "Which crash records `collect` keeps: after a collect without errors the oldest records beyond these limits are deleted, never the ones it just wrote nor unreadable ones (0: no limit). `panicdump prune` takes the same limits as flags.",
    ),
    (
        "submit",
        "Sending reports to a crash server. Nothing leaves the machine without consent = true.",
    ),
    ("notify", "How a collected crash is announced."),
];

/// Every key.
pub const KEYS: &[KeyDoc] = &[
    k("", "mode", Some("\"auto\""), "\"both\"",
      "pstore, kdump, both, or auto (both where the machine can: kdump needs a kernel with kexec support, pstore a backend or a reserved region)."),
    k("kdump", "dump_level", Some("31"), "1",
      "makedumpfile dump level 0-31: page kinds left out (1 zero, 2 cache, 4 private cache, 8 user, 16 free). 31 keeps only kernel memory."),
    k("kdump", "compression", Some("\"zstd\""), "\"lzo\"",
      "Dump compression: zstd, zlib, lzo, snappy or none."),
    k("kdump", "target", None, "\"UUID=0a1b2c3d-0000-4000-8000-000000000000\"",
      "Where the crash kernel writes: UUID=<filesystem uuid>, a /dev/... block device, or a directory of the running system. Unset: the root filesystem."),
    k("kdump", "subdir", Some("\"var/crash\""), "\"crash\"",
      "Directory inside the target filesystem."),
    k("kdump", "crashkernel", None, "\"256M\"",
      "crashkernel= value written by `panicdump setup`. Unset: computed like `panicdump estimate`."),
    k("kdump", "on_success", Some("\"reboot\""), "\"poweroff\"",
      "After a successful capture: reboot, poweroff or shell."),
    k("kdump", "on_failure", Some("\"reboot\""), "\"shell\"",
      "After a failed capture: reboot, poweroff or shell (a console shell to debug the capture)."),
    k("kdump", "extra_modules", Some("[]"), "[\"nvme\"]",
      "Further kernel modules for the capture initramfs."),
    k("kdump", "initramfs_compression", Some("\"gzip\""), "\"zstd\"",
      "Capture initramfs compression: gzip (every kernel) or zstd (needs CONFIG_RD_ZSTD)."),
    k("pstore", "backend", Some("\"auto\""), "\"ramoops\"",
      "auto (an active firmware backend such as EFI or ERST if there is one, else ramoops), ramoops (always reserve RAM), or firmware (never reserve RAM)."),
    k("pstore", "ramoops_size", Some("\"1M\""), "\"2M\"",
      "Size of the RAM region reserved for ramoops (memmap=SIZE$ADDR on the kernel command line)."),
    k("pstore", "ramoops_address", None, "\"0x3f000000\"",
      "Physical address of the ramoops region. Unset: setup picks the middle of the largest RAM range below 4 GiB (boot loaders put the initramfs at its top)."),
    k("sysctl", "panic_on_oops", Some("true"), "false",
      "kernel.panic_on_oops: an oops becomes a panic, so it is captured."),
    k("sysctl", "panic_on_warn", Some("false"), "true",
      "kernel.panic_on_warn: every WARN becomes a panic (many WARNs are harmless)."),
    k("sysctl", "softlockup_panic", Some("true"), "false",
      "kernel.softlockup_panic."),
    k("sysctl", "hardlockup_panic", Some("true"), "false",
      "kernel.hardlockup_panic (where the NMI watchdog exists)."),
    k("sysctl", "hung_task_panic", Some("false"), "true",
      "kernel.hung_task_panic (a slow NFS server would then reboot the machine)."),
    k("sysctl", "panic_timeout", Some("10"), "30",
      "kernel.panic: seconds before rebooting after a panic the crash kernel did not take."),
    k("sysctl", "panic_print", None, "0x40",
      "kernel.panic_print bit mask. Unset: 0x40 (all CPUs' backtraces) when pstore is armed, else left alone."),
    k("sysctl", "crash_kexec_post_notifiers", Some("\"auto\""), "\"on\"",
      "Run pstore's panic dumper before jumping to the crash kernel: auto (on when both pstore and kdump are armed), on, off."),
    k("retention", "max_count", Some("50"), "20",
      "Keep at most this many crash records."),
    k("retention", "max_age_days", Some("90"), "30",
      "Delete crash records older than this many days."),
    k("retention", "max_size", Some("\"2G\""), "\"500M\"",
      "Keep the newest records whose sizes add up to at most this."),
    k("submit", "url", None, "\"https://crashes.example.org\"",
      "Base URL of the crash server. Unset: nothing is sent."),
    k("submit", "token", None, "\"pdt_...\"",
      "Client token (`panicdump server token add`). Prefer token_file: this file is often world-readable."),
    k("submit", "token_file", None, "\"/etc/panicdump/token\"",
      "File holding the client token (first line); set token or token_file, not both."),
    k("submit", "consent", Some("false"), "true",
      "The administrator agreed to send crash reports off this machine."),
    k("submit", "auto", Some("false"), "true",
      "Send newly collected crashes after `collect` (else only `panicdump submit` sends)."),
    k("submit", "max_reports_per_day", Some("32"), "10",
      "At most this many reports in any 24 hours."),
    k("submit", "max_bytes_per_day", Some("\"24M\""), "\"8M\"",
      "At most this many bundle bytes in any 24 hours."),
    k("submit", "redact_pointers", Some("false"), "true",
      "Also redact kernel pointers in bundles (addresses, serials, host and user names are always redacted)."),
    k("notify", "journal", Some("true"), "false",
      "A journal entry (priority err) per collected crash."),
    k("notify", "desktop", Some("true"), "false",
      "A desktop notification to logged-in graphical sessions."),
];

/// The documented key `section.key` (`section` empty for top level).
pub fn find(section: &str, key: &str) -> Option<&'static KeyDoc> {
    KEYS.iter().find(|d| d.section == section && d.key == key)
}

fn wrap(text: &str, prefix: &str, width: usize) -> String {
    let mut out = String::new();
    let mut line = String::from(prefix);
    for word in text.split_whitespace() {
        if line.len() > prefix.len() && line.len() + 1 + word.len() > width {
            out.push_str(line.trim_end());
            out.push('\n');
            line = String::from(prefix);
        }
        if line.len() > prefix.len() {
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// The commented example file (`dist/config.toml`): every key commented
/// out at its default, so the file changes nothing until edited.
pub fn example_file() -> String {
    let mut out = String::from(
        "# /etc/panicdump/config.toml\n\
         #\n\
         # Every key is shown commented out at its default: an empty file means\n\
         # the same. `panicdump config check` validates this file and\n\
         # `panicdump config show` prints the effective configuration.\n\
         # Generated from crates/config/src/keys.rs (a test keeps them equal).\n",
    );
    for (section, about) in SECTIONS {
        out.push('\n');
        out.push_str(&wrap(about, "# ", 76));
        if !section.is_empty() {
            out.push_str(&format!("[{section}]\n"));
        }
        for d in KEYS.iter().filter(|d| d.section == *section) {
            out.push_str(&wrap(d.doc, "# ", 76));
            match d.default {
                Some(v) => out.push_str(&format!("#{} = {v}\n", d.key)),
                None => out.push_str(&format!(
                    "# (unset by default) example:\n#{} = {}\n",
                    d.key, d.example
                )),
            }
        }
    }
    out
}

/// The Markdown key reference for `docs/configuration.md`.
pub fn markdown_reference() -> String {
    let mut out = String::new();
    for (section, about) in SECTIONS {
        let title = if section.is_empty() {
            "Top level".to_string()
        } else {
            format!("`[{section}]`")
        };
        out.push_str(&format!(
            "### {title}\n\n{about}\n\n| key | default | meaning |\n| --- | --- | --- |\n"
        ));
        for d in KEYS.iter().filter(|d| d.section == *section) {
            let default = match d.default {
                Some(v) => format!("`{v}`"),
                None => format!("unset (e.g. `{}`)", d.example),
            };
            let doc = d.doc.replace('|', "\\|");
            out.push_str(&format!("| `{}` | {default} | {doc} |\n", d.key));
        }
        out.push('\n');
    }
    out
}
