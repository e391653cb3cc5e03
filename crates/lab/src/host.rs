//! Host side inputs: the kernel, its modules, QEMU, busybox, kexec and the
//! shared libraries of dynamically linked programs.

use crate::error::{IoContext, LabError, Result};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The guest kernel.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// The bzImage.
    pub path: PathBuf,
    /// Its release string (`uname -r` in the guest).
    pub release: String,
    /// `/lib/modules/<release>` (or an override).
    pub modules_dir: PathBuf,
}

impl Kernel {
    /// Find the kernel: `path` if given, else the newest `/boot/vmlinuz-*`.
    pub fn find(path: Option<&Path>, modules_dir: Option<&Path>) -> Result<Self> {
        let path = match path {
            Some(p) => {
                if !p.is_file() {
                    return Err(LabError::NoKernel(format!(
                        "{} does not exist",
                        p.display()
                    )));
                }
                p.to_path_buf()
            }
            None => newest_boot_kernel(Path::new("/boot"))?,
        };
        let release = release_of(&path)?;
        let modules_dir = modules_dir
            .map(Path::to_path_buf)
            .unwrap_or_else(|| Path::new("/lib/modules").join(&release));
        if !modules_dir.join("modules.dep").is_file() {
            return Err(LabError::Missing {
                what: format!("modules of kernel {release}"),
                path: modules_dir,
                package: format!("linux-image-{release}"),
            });
        }
        Ok(Self {
            path,
            release,
            modules_dir,
        })
    }
}

/// The newest `vmlinuz-*` in `boot`, by version-aware comparison of releases.
fn newest_boot_kernel(boot: &Path) -> Result<PathBuf> {
    let rd = std::fs::read_dir(boot)
        .map_err(|e| LabError::NoKernel(format!("{}: {e}", boot.display())))?;
    rd.filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("vmlinuz-"))
        })
        .max_by(|a, b| version_key(a).cmp(&version_key(b)))
        .ok_or_else(|| LabError::NoKernel(format!("no vmlinuz-* in {}", boot.display())))
}

/// Numbers in a file name, so `6.10` sorts after `6.9`.
fn version_key(p: &Path) -> Vec<u64> {
    let name = p.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name.split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap_or(0))
        .collect()
}

/// Release of a bzImage: from the `vmlinuz-<release>` name, else from the
/// version string the setup header points to (`kernel_version` at 0x20e).
pub fn release_of(path: &Path) -> Result<String> {
    if let Some(r) = path
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("vmlinuz-"))
    {
        return Ok(r.to_string());
    }
    let data = std::fs::read(path).ctx("read", path)?;
    bzimage_release(&data).ok_or_else(|| {
        LabError::NoKernel(format!(
            "{}: not a bzImage with a version string; name it vmlinuz-<release>",
            path.display()
        ))
    })
}

fn bzimage_release(data: &[u8]) -> Option<String> {
    if data.get(0x202..0x206)? != b"HdrS" {
        return None;
    }
    let ptr = u16::from_le_bytes([*data.get(0x20e)?, *data.get(0x20f)?]) as usize;
    let s = data.get(ptr + 0x200..)?;
    let end = s.iter().position(|&b| b == b' ' || b == 0)?;
    let r = std::str::from_utf8(&s[..end]).ok()?;
    (!r.is_empty()).then(|| r.to_string())
}

/// Find an executable: an explicit path, or `name` in `PATH` and the sbin dirs.
pub fn find_program(explicit: Option<&Path>, name: &str, package: &str) -> Result<PathBuf> {
    if let Some(p) = explicit {
        return if p.is_file() {
            Ok(p.to_path_buf())
        } else {
            Err(missing(name, p, package))
        };
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/bin", "/bin"].map(PathBuf::from))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .ok_or_else(|| missing(name, Path::new(name), package))
}

fn missing(what: &str, path: &Path, package: &str) -> LabError {
    LabError::Missing {
        what: what.to_string(),
        path: path.to_path_buf(),
        package: package.to_string(),
    }
}

/// Check that a program is statically linked (busybox must run without libs).
pub fn is_static(path: &Path) -> Result<bool> {
    let data = std::fs::read(path).ctx("read", path)?;
    // The same check `panicdump arm` makes of the capture /init (fuzzed
    // there): an ELF64 executable without a loader. Anything else (a
    // script, a 32-bit binary) is not taken for static.
    Ok(arm::initbin::needs_loader(&data) == Some(false))
}

/// Shared libraries (and the dynamic loader) a program needs, from `ldd`.
///
/// Returns absolute paths as the loader will look them up; the initramfs
/// stores each file at that path (symlinks resolved to their content).
pub fn shared_libs(program: &Path) -> Result<Vec<PathBuf>> {
    let out = Command::new("ldd")
        .arg(program)
        .output()
        .map_err(|e| LabError::Missing {
            what: format!("ldd ({e})"),
            path: PathBuf::from("ldd"),
            package: "libc-bin".into(),
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        // "not a dynamic executable": nothing to copy.
        return Ok(Vec::new());
    }
    Ok(parse_ldd(&text))
}

/// Parse `ldd` output lines: `libc.so.6 => /lib/.../libc.so.6 (0x...)` and
/// `/lib64/ld-linux-x86-64.so.2 (0x...)`; the vDSO has no file.
pub fn parse_ldd(text: &str) -> Vec<PathBuf> {
    let mut libs = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        let path = match line.split_once("=>") {
            Some((_, rhs)) => rhs.split_whitespace().next(),
            None => line.split_whitespace().next(),
        };
        if let Some(p) = path.filter(|p| p.starts_with('/')) {
            let p = PathBuf::from(p);
            if !libs.contains(&p) {
                libs.push(p);
            }
        }
    }
    libs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ldd_output() {
        let text = "\tlinux-vdso.so.1 (0x00007ff0c4ae2000)
\tlibxenctrl.so.4.17 => /lib/x86_64-linux-gnu/libxenctrl.so.4.17 (0x00007ff0c499c000)
\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007ff0c47ba000)
\t/lib64/ld-linux-x86-64.so.2 (0x00007ff0c4ae4000)
\tlibmissing.so => not found
";
        assert_eq!(
            parse_ldd(text),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libxenctrl.so.4.17"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
    }

    #[test]
    fn versions_sort_numerically() {
        let a = version_key(Path::new("/boot/vmlinuz-6.9.0-1-amd64"));
        let b = version_key(Path::new("/boot/vmlinuz-6.10.0-1-amd64"));
        assert!(b > a);
    }

    #[test]
    fn bzimage_header() {
        let mut img = vec![0u8; 0x400];
        img[0x202..0x206].copy_from_slice(b"HdrS");
        img[0x20e..0x210].copy_from_slice(&0x100u16.to_le_bytes());
        let v = b"6.1.0-56-amd64 (debian-kernel@lists.debian.org)";
        img[0x300..0x300 + v.len()].copy_from_slice(v);
        assert_eq!(bzimage_release(&img).as_deref(), Some("6.1.0-56-amd64"));
        assert_eq!(bzimage_release(&[0u8; 16]), None);
    }

    #[test]
    fn static_detection() {
        if Path::new("/bin/busybox").is_file() {
            // Debian's busybox-static replaces the dynamic one at this path.
            let _ = is_static(Path::new("/bin/busybox")).unwrap();
        }
        if Path::new("/bin/ls").is_file() {
            assert!(!is_static(Path::new("/bin/ls")).unwrap());
        }
        // A script needs an interpreter: not static (the lab once took
        // anything that was not ELF for a static binary).
        let script = std::env::temp_dir().join(format!("lab-static-{}", std::process::id()));
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let answer = is_static(&script);
        let _ = std::fs::remove_file(&script);
        assert!(!answer.unwrap());
    }
}
