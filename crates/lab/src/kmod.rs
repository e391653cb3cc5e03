//! The lab's test kernel module (`kmod/pdlab_crash.c`): crash triggers the
//! distribution kernel lacks (Debian builds no LKDTM), built on the host
//! with kbuild against `linux-headers-<release>` and cached per release.

use crate::artifact::DirLock;
use crate::error::{IoContext, LabError, Result};
use crate::host::Kernel;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Module name (also the name under `/sys/module`).
pub const NAME: &str = "pdlab_crash";
/// The module source, compiled into the lab so the cache can tell when it changed.
pub const SOURCE: &str = include_str!("../kmod/pdlab_crash.c");
const KBUILD: &str = include_str!("../kmod/Makefile");

/// Path of the built module for `kernel`, building it when the cached one
/// is missing or was built from another source.
///
/// The cache is `<root>/<release>/kmod/`: the `.ko` and the source it came from.
pub fn build(root: &Path, kernel: &Kernel) -> Result<PathBuf> {
    let dir = root.join(&kernel.release).join("kmod");
    let ko = dir.join(format!("{NAME}.ko"));
    let src = dir.join(format!("{NAME}.c"));
    let _lock = DirLock::acquire(&dir.with_extension("lock"))?;
    if ko.is_file() && std::fs::read_to_string(&src).ok().as_deref() == Some(SOURCE) {
        return Ok(ko);
    }
    let kbuild_dir = kernel.modules_dir.join("build");
    if !kbuild_dir.join("Makefile").is_file() {
        return Err(LabError::Missing {
            what: format!("kernel headers of {}", kernel.release),
            path: kbuild_dir,
            package: format!("linux-headers-{}", kernel.release),
        });
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).ctx("remove", &dir)?;
    }
    std::fs::create_dir_all(&dir).ctx("create", &dir)?;
    std::fs::write(dir.join("Makefile"), KBUILD).ctx("write", dir.join("Makefile"))?;
    // The source next to the .ko marks the cache valid; removed on failure.
    let tmp_src = dir.join(format!("{NAME}.c"));
    std::fs::write(&tmp_src, SOURCE).ctx("write", &tmp_src)?;
    let out = Command::new("make")
        .arg("-C")
        .arg(&kbuild_dir)
        .arg(format!("M={}", dir.display()))
        .arg("modules")
        .output()
        .map_err(|e| LabError::Missing {
            what: format!("make ({e})"),
            path: PathBuf::from("make"),
            package: "make".into(),
        })?;
    if !out.status.success() || !ko.is_file() {
        let _ = std::fs::remove_file(&src);
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err.lines().rev().take(20).collect();
        return Err(LabError::Tool {
            program: format!("make -C {} M={}", kbuild_dir.display(), dir.display()),
            msg: format!(
                "{} (needs gcc and make: build-essential)\n{}",
                out.status,
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            ),
        });
    }
    Ok(ko)
}
