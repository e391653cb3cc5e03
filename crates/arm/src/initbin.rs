//! Which binary becomes the capture initramfs's `/init` when none is named.
//!
//! The crash kernel boots an initramfs without a dynamic loader or
//! libraries, so `/init` must be a static executable. The packages ship
//! one ([`PACKAGED_CAPTURE`]); the CLI in `/usr/bin` is usually dynamic.
//! Storing a dynamic binary would only fail at the next crash, so it is
//! refused here, when someone can still fix it.

use crate::error::{io, ArmError, Result};
use crate::root::Root;
use std::path::{Path, PathBuf};

/// The static capture build installed by the Debian package and the PKGBUILD.
pub const PACKAGED_CAPTURE: &str = "/usr/lib/panicdump/panicdump-capture";

/// `PT_INTERP`: the program header naming the dynamic loader.
const PT_INTERP: u32 = 3;
/// `e_type` of a fixed-address executable.
const ET_EXEC: u16 = 2;
/// `e_type` of a position-independent executable (or a shared library).
const ET_DYN: u16 = 3;

/// Whether `elf` (the start of an ELF64 little-endian executable, program
/// headers included) asks for a dynamic loader; `None` when it is not
/// such a file (not ELF64 LE, or an object file or core dump, which no
/// kernel would run) or is cut short. Never panics, whatever the header
/// claims (`fuzz/fuzz_targets/initbin_elf.rs`).
pub fn needs_loader(elf: &[u8]) -> Option<bool> {
    if elf.get(..6)? != b"\x7fELF\x02\x01" {
        return None;
    }
    let u16_at = |o: usize| elf.get(o..o + 2).map(|b| u16::from_le_bytes([b[0], b[1]]));
    if !matches!(u16_at(16)?, ET_EXEC | ET_DYN) {
        return None;
    }
    let phoff = usize::try_from(u64::from_le_bytes(elf.get(32..40)?.try_into().ok()?)).ok()?;
    let phentsize = usize::from(u16_at(54)?);
    let phnum = usize::from(u16_at(56)?);
    if phentsize < 4 {
        return None;
    }
    for i in 0..phnum {
        let at = phoff.checked_add(i.checked_mul(phentsize)?)?;
        let p_type = u32::from_le_bytes(elf.get(at..at.checked_add(4)?)?.try_into().ok()?);
        if p_type == PT_INTERP {
            return Some(true);
        }
    }
    Some(false)
}

/// Whether the file at `path` is a static ELF64 executable.
pub fn is_static(path: &Path) -> Result<bool> {
    let bytes = std::fs::read(path).map_err(io("read", path))?;
    Ok(needs_loader(&bytes) == Some(false))
}

/// The default `/init`: [`PACKAGED_CAPTURE`] under `root` when it exists,
/// else the running executable when it is static, else an error saying
/// what to install or pass.
pub fn default_init_binary(root: &Root) -> Result<PathBuf> {
    let packaged = root.path(PACKAGED_CAPTURE);
    if packaged.is_file() {
        return Ok(packaged);
    }
    let exe = std::env::current_exe().map_err(io("locate", "the running executable"))?;
    if is_static(&exe)? {
        return Ok(exe);
    }
    Err(ArmError::Config(format!(
        "no static binary for the capture initramfs's /init: {} is missing and {} is dynamically linked (it could not run in the crash kernel); install the package's panicdump-capture or pass --init-binary PATH (a static panicdump build)",
        packaged.display(),
        exe.display()
    )))
}

/// An `/init` named with `--init-binary` (or `init_binary` in the
/// config): refused when it exists and is not a static executable, at plan
/// time, before anything is changed. A missing file is left to the build,
/// whose error names it.
pub fn named_init_binary(path: &Path) -> Result<PathBuf> {
    if path.exists() && !is_static(path)? {
        return Err(ArmError::Config(format!(
            "--init-binary {}: not a static executable, so it could not run as /init in the crash kernel (its initramfs has no dynamic loader or libraries); pass a static panicdump build, e.g. the package's {PACKAGED_CAPTURE}",
            path.display()
        )));
    }
    Ok(path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An ELF64 header with `types` as its program header types.
    fn elf(types: &[u32]) -> Vec<u8> {
        let mut v = vec![0u8; 64];
        v[..6].copy_from_slice(b"\x7fELF\x02\x01");
        v[16..18].copy_from_slice(&ET_EXEC.to_le_bytes());
        v[32..40].copy_from_slice(&64u64.to_le_bytes());
        v[54..56].copy_from_slice(&56u16.to_le_bytes());
        v[56..58].copy_from_slice(&(types.len() as u16).to_le_bytes());
        for t in types {
            let mut ph = vec![0u8; 56];
            ph[..4].copy_from_slice(&t.to_le_bytes());
            v.extend(ph);
        }
        v
    }

    #[test]
    fn loader_detection() {
        assert_eq!(needs_loader(&elf(&[6, 3, 1])), Some(true));
        assert_eq!(needs_loader(&elf(&[1, 1, 2])), Some(false));
        assert_eq!(needs_loader(b"#!/bin/sh\n"), None);
        // Program headers past the end: not an answer, not a panic.
        let mut cut = elf(&[1, 3]);
        cut.truncate(64 + 56 + 2);
        assert_eq!(needs_loader(&cut), None);
        let mut huge = elf(&[1]);
        huge[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        assert_eq!(needs_loader(&huge), None);
    }

    #[test]
    fn only_executables_answer() {
        // A static-pie binary is ET_DYN without PT_INTERP.
        let mut pie = elf(&[1]);
        pie[16..18].copy_from_slice(&ET_DYN.to_le_bytes());
        assert_eq!(needs_loader(&pie), Some(false));
        // An object file (ET_REL) or core dump (ET_CORE) has no PT_INTERP
        // either, but no kernel runs it as /init: not "static".
        for e_type in [0u16, 1, 4] {
            let mut other = elf(&[1]);
            other[16..18].copy_from_slice(&e_type.to_le_bytes());
            assert_eq!(needs_loader(&other), None, "e_type {e_type}");
        }
        let mut short = elf(&[]);
        short.truncate(17);
        assert_eq!(needs_loader(&short), None);
    }

    #[test]
    fn a_named_init_binary_must_be_static() {
        let dir = std::env::temp_dir().join(format!("arm-initbin-named-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (stat, dynamic, script) = (dir.join("static"), dir.join("dynamic"), dir.join("sh"));
        std::fs::write(&stat, elf(&[1, 1])).unwrap();
        std::fs::write(&dynamic, elf(&[6, 3, 1])).unwrap();
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let missing = dir.join("missing");
        let answers = [&stat, &dynamic, &script, &missing].map(|p| named_init_binary(p));
        let _ = std::fs::remove_dir_all(&dir);
        let [stat_ok, dynamic_err, script_err, missing_ok] = answers;
        assert_eq!(stat_ok.unwrap(), stat);
        let e = dynamic_err.unwrap_err().to_string();
        assert!(e.contains("not a static executable"), "{e}");
        assert!(script_err.is_err());
        assert_eq!(missing_ok.unwrap(), missing);
    }

    #[test]
    fn object_file_is_not_static() {
        let dir = std::env::temp_dir().join(format!("arm-initbin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let obj = dir.join("init.o");
        let mut rel = elf(&[]);
        rel[16..18].copy_from_slice(&1u16.to_le_bytes());
        std::fs::write(&obj, rel).unwrap();
        let answer = is_static(&obj);
        let _ = std::fs::remove_dir_all(&dir);
        assert!(!answer.unwrap());
    }

    #[test]
    fn test_binary_is_dynamic() {
        // The test executable itself is a dynamically linked ELF.
        let exe = std::env::current_exe().unwrap();
        assert!(!is_static(&exe).unwrap());
    }
}
