//! Durable file operations: write a temporary, fsync, rename, fsync the directory.

use crate::error::{io, Result};
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // A leading dot keeps half-written files out of every `*.conf`, `*.cfg`,
    // `*.hook` or `*.install` glob that reads these directories.
    path.with_file_name(format!(".{name}.panicdump-tmp"))
}

/// fsync a directory so a rename in it is durable.
pub fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io("sync directory", dir))
}

fn parent(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("/"))
}

/// Replace `path` with `bytes` and permission bits `mode`, atomically.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    let tmp = tmp_path(path);
    let _ = fs::remove_file(&tmp);
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io("create", &tmp))?;
    f.write_all(bytes).map_err(io("write", &tmp))?;
    // The umask may have cleared bits at creation.
    f.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io("chmod", &tmp))?;
    f.sync_all().map_err(io("fsync", &tmp))?;
    drop(f);
    fs::rename(&tmp, path).map_err(io("rename into place", path))?;
    sync_dir(parent(path))
}

/// Replace `path` with a symbolic link to `target`, atomically.
pub fn symlink_atomic(target: &str, path: &Path) -> Result<()> {
    let tmp = tmp_path(path);
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(target, &tmp).map_err(io("symlink", &tmp))?;
    fs::rename(&tmp, path).map_err(io("rename into place", path))?;
    sync_dir(parent(path))
}

/// Remove a file or symlink; absent is fine.
pub fn remove(path: &Path) -> Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(parent(path)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("remove", path)(e)),
    }
}

/// Set owner and group; failures other than "not permitted" (an unprivileged
/// test run) are errors.
pub fn chown(path: &Path, uid: u32, gid: u32) -> Result<()> {
    match std::os::unix::fs::lchown(path, Some(uid), Some(gid)) {
        Ok(()) => Ok(()),
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(()),
        Err(e) => Err(io("chown", path)(e)),
    }
}
