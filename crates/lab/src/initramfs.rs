//! The guest initramfs: busybox, modules, kexec and its libraries, the static
//! panicdump binary and the generated `/init`.

use crate::cpio::Archive;
use crate::error::{IoContext, LabError, Result};
use crate::host::{self, Kernel};
use crate::init::{CRASH_INITRD, CRASH_KERNEL};
use crate::modules::Module;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Everything that goes into the initramfs.
#[derive(Debug, Clone)]
pub struct Contents<'a> {
    /// Guest kernel (its release names the module directory).
    pub kernel: &'a Kernel,
    /// Static busybox.
    pub busybox: &'a Path,
    /// kexec, with its shared libraries (kdump only).
    pub kexec: Option<&'a Path>,
    /// Static panicdump binary.
    pub panicdump: &'a Path,
    /// Modules to include.
    pub modules: &'a [Module],
    /// The `/init` script.
    pub init: String,
    /// Further files: (path inside the archive, contents), e.g. the
    /// `modules.dep` that `panicdump arm` resolves the capture modules with.
    pub extra_files: Vec<(String, Vec<u8>)>,
}

/// Build the archive (uncompressed, in memory).
pub fn base_archive(c: &Contents<'_>) -> Result<Archive> {
    let mut a = Archive::new();
    for d in [
        "proc", "sys", "dev", "run", "mnt", "root", "etc", "sbin", "usr/bin",
    ] {
        a.dir(d, 0o755)?;
    }
    a.dir("tmp", 0o1777)?;
    // The kernel opens /dev/console for init before anything is mounted.
    a.char_dev("dev/console", 0o600, 5, 1)?;
    a.char_dev("dev/null", 0o666, 1, 3)?;
    a.file("init", 0o755, c.init.clone().into_bytes())?;

    if !host::is_static(c.busybox)? {
        return Err(LabError::Missing {
            what: "static busybox".into(),
            path: c.busybox.to_path_buf(),
            package: "busybox-static".into(),
        });
    }
    a.file("bin/busybox", 0o755, read(c.busybox)?)?;
    for applet in busybox_applets(c.busybox)? {
        let path = format!("bin/{applet}");
        if !a.contains(&path) {
            a.symlink(&path, "busybox")?;
        }
    }

    a.file("bin/panicdump", 0o755, read(c.panicdump)?)?;

    if let Some(kexec) = c.kexec {
        a.file("sbin/kexec", 0o755, read(kexec)?)?;
        for lib in host::shared_libs(kexec)? {
            // Stored as regular files at the path the loader asks for
            // (the host's may be symlinks into /usr).
            a.file(&lib.to_string_lossy(), 0o755, read(&lib)?)?;
        }
    }

    let moddir = format!("lib/modules/{}", c.kernel.release);
    for m in c.modules {
        if m.rel_path.ends_with(".xz")
            || m.rel_path.ends_with(".zst")
            || m.rel_path.ends_with(".gz")
        {
            return Err(LabError::Modules {
                path: c.kernel.modules_dir.join(&m.rel_path),
                msg: "compressed modules are not supported by busybox insmod here".into(),
            });
        }
        let src = c.kernel.modules_dir.join(&m.rel_path);
        a.file(&format!("{moddir}/{}", m.rel_path), 0o644, read(&src)?)?;
    }
    for (path, data) in &c.extra_files {
        a.file(path, 0o644, data.clone())?;
    }
    Ok(a)
}

/// The gzip-compressed initramfs. With `nest_crash_kernel`, a second
/// archive is appended holding the kernel image and a copy of the first
/// archive, for `kexec -p` (the kernel unpacks concatenated archives in
/// order; the crash kernel only gets the first one).
pub fn build(c: &Contents<'_>, nest_crash_kernel: bool) -> Result<Vec<u8>> {
    let base = base_archive(c)?
        .to_gzip()
        .map_err(|e| LabError::Cpio(e.to_string()))?;
    if !nest_crash_kernel {
        return Ok(base);
    }
    let mut extra = Archive::new();
    extra.file(CRASH_KERNEL, 0o644, read(&c.kernel.path)?)?;
    extra.file(CRASH_INITRD, 0o644, base.clone())?;
    let extra = extra.to_gzip().map_err(|e| LabError::Cpio(e.to_string()))?;
    let mut out = base;
    // The unpacker skips zero padding between members; keep 4-byte alignment.
    out.resize(out.len().div_ceil(4) * 4, 0);
    out.extend_from_slice(&extra);
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).ctx("read", path)
}

/// Applet names from `busybox --list`.
fn busybox_applets(busybox: &Path) -> Result<Vec<String>> {
    let out = Command::new(busybox)
        .arg("--list")
        .output()
        .ctx("run", PathBuf::from(busybox))?;
    if !out.status.success() {
        return Err(LabError::Tool {
            program: busybox.display().to_string(),
            msg: format!("--list exited with {}", out.status),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.contains('/') && *l != "busybox")
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio::parse_newc;

    /// Build a real archive from the host's busybox, kexec and modules (any
    /// static file stands in for panicdump), then read it back.
    #[test]
    fn real_inputs_round_trip() {
        let busybox = Path::new("/bin/busybox");
        let Ok(kernel) = Kernel::find(None, None) else {
            eprintln!("no kernel installed; skipping");
            return;
        };
        if !busybox.is_file() || !host::is_static(busybox).unwrap_or(false) {
            eprintln!("no static busybox; skipping");
            return;
        }
        let kexec = host::find_program(None, "kexec", "kexec-tools").ok();
        let deps = crate::modules::ModuleDeps::load(&kernel.modules_dir).unwrap();
        let wanted: Vec<&str> = ["virtio_pci", "virtio_blk"]
            .into_iter()
            .filter(|m| deps.has(m))
            .collect();
        let modules = deps.closure(&wanted).unwrap();
        let c = Contents {
            kernel: &kernel,
            busybox,
            kexec: kexec.as_deref(),
            panicdump: busybox,
            modules: &modules,
            init: "#!/bin/sh\n".into(),
            extra_files: Vec::new(),
        };
        let raw = base_archive(&c).unwrap().write_newc(Vec::new()).unwrap();
        let entries = parse_newc(&raw).unwrap();
        let find = |n: &str| entries.iter().find(|e| e.name == n);
        assert_eq!(find("init").unwrap().mode, 0o100755);
        assert_eq!(find("dev/console").unwrap().rdev, (5, 1));
        assert_eq!(find("bin/sh").unwrap().data, b"busybox");
        assert!(find("bin/insmod").is_some());
        assert!(find("bin/panicdump").is_some());
        for m in &modules {
            let p = format!("lib/modules/{}/{}", kernel.release, m.rel_path);
            assert!(find(&p).is_some(), "{p}");
        }
        if kexec.is_some() {
            assert!(find("sbin/kexec").is_some());
            assert!(entries.iter().any(|e| e.name.contains("libc.so")));
            assert!(entries.iter().any(|e| e.name.contains("ld-linux")));
        }
        // Parents precede children, as the kernel's unpacker requires.
        for (i, e) in entries.iter().enumerate() {
            if let Some((parent, _)) = e.name.rsplit_once('/') {
                let j = entries.iter().position(|x| x.name == parent).unwrap();
                assert!(j < i, "{parent} after {}", e.name);
            }
        }
    }
}
