//! System information kept with a record and sent in bundles: kernel,
//! os-release and DMI product. Never serial numbers or UUIDs; the host name
//! is kept locally (it feeds redaction) and redacted in bundles.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// DMI files read from `/sys/class/dmi/id` (no `*_serial`, no `product_uuid`).
const DMI_FIELDS: &[&str] = &[
    "sys_vendor",
    "product_name",
    "product_version",
    "product_family",
    "board_vendor",
    "board_name",
    "bios_vendor",
    "bios_version",
    "bios_date",
];

/// os-release keys kept (no `*_URL`, no free text beyond the name).
const OS_KEYS: &[&str] = &[
    "NAME",
    "PRETTY_NAME",
    "ID",
    "ID_LIKE",
    "VERSION",
    "VERSION_ID",
    "VERSION_CODENAME",
    "BUILD_ID",
    "VARIANT_ID",
    "IMAGE_ID",
    "IMAGE_VERSION",
];

/// The machine a record came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SystemInfo {
    /// `uname -r` of the running (collecting) kernel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel_release: Option<String>,
    /// `uname -m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<String>,
    /// Host name (utsname nodename); redacted in bundles.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// Selected os-release fields.
    #[serde(default)]
    pub os_release: BTreeMap<String, String>,
    /// Selected DMI fields (vendor, product, board, BIOS).
    #[serde(default)]
    pub dmi: BTreeMap<String, String>,
}

impl SystemInfo {
    /// Gather from a root directory (`/` on a live system, a fake tree in
    /// tests): `proc/sys/kernel/{osrelease,hostname}`, `etc/os-release`
    /// (else `usr/lib/os-release`), `sys/class/dmi/id/*`. Missing files are
    /// left out; nothing here fails.
    pub fn gather(root: &Path) -> SystemInfo {
        let read = |rel: &str| -> Option<String> {
            let s = std::fs::read_to_string(root.join(rel)).ok()?;
            let s = s.trim();
            (!s.is_empty()).then(|| s.to_string())
        };
        let mut info = SystemInfo {
            kernel_release: read("proc/sys/kernel/osrelease"),
            hostname: read("proc/sys/kernel/hostname"),
            machine: Some(std::env::consts::ARCH.to_string()),
            ..Default::default()
        };
        if let Some(text) = read("etc/os-release").or_else(|| read("usr/lib/os-release")) {
            info.os_release = parse_os_release(&text);
        }
        for f in DMI_FIELDS {
            if let Some(v) = read(&format!("sys/class/dmi/id/{f}")) {
                info.dmi.insert((*f).to_string(), v);
            }
        }
        info
    }
}

/// Parse `KEY=value` / `KEY="value"` lines, keeping the release-identifying keys (no URLs).
pub fn parse_os_release(text: &str) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in text.lines() {
        let Some((k, v)) = line.trim().split_once('=') else {
            continue;
        };
        if !OS_KEYS.contains(&k) {
            continue;
        }
        let v = v.trim();
        let v = v
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(v);
        m.insert(k.to_string(), v.replace("\\\"", "\""));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_from_fake_root() {
        let root = std::env::temp_dir().join(format!("crashdb-sysinfo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("proc/sys/kernel")).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        std::fs::create_dir_all(root.join("sys/class/dmi/id")).unwrap();
        std::fs::write(root.join("proc/sys/kernel/osrelease"), "6.1.0-56-amd64\n").unwrap();
        std::fs::write(root.join("proc/sys/kernel/hostname"), "alice-laptop\n").unwrap();
        std::fs::write(
            root.join("etc/os-release"),
            "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nHOME_URL=\"https://x\"\n",
        )
        .unwrap();
        std::fs::write(root.join("sys/class/dmi/id/product_name"), "Standard PC\n").unwrap();
        std::fs::write(root.join("sys/class/dmi/id/product_serial"), "SECRET\n").unwrap();
        let s = SystemInfo::gather(&root);
        assert_eq!(s.kernel_release.as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(s.hostname.as_deref(), Some("alice-laptop"));
        assert_eq!(
            s.os_release["PRETTY_NAME"],
            "Debian GNU/Linux 12 (bookworm)"
        );
        assert!(!s.os_release.contains_key("HOME_URL"));
        assert_eq!(s.dmi["product_name"], "Standard PC");
        assert!(!s.dmi.values().any(|v| v == "SECRET"));
        let _ = std::fs::remove_dir_all(&root);
    }
}
