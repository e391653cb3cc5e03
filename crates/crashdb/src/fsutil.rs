//! Durable file writes: temporary name, fsync, rename, fsync the directory,
//! so a crash or power loss leaves either the old state or the new one.

use std::fs::{self, File};
use std::io::Write;
use std::path::Path;

use crate::error::{IoContext, Result};

/// Write `data` to `path` inside an existing directory that is not yet
/// visible (a record being built), with an fsync of the file.
pub(crate) fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = File::create(path).ctx("creating", path)?;
    f.write_all(data).ctx("writing", path)?;
    f.sync_all().ctx("syncing", path)?;
    Ok(())
}

/// fsync a directory so renames and creations in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx("syncing directory", dir)
}

/// Write `path` atomically: `<path>.incomplete`, fsync, rename, fsync the
/// parent directory.
pub fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let tmp = incomplete_name(path);
    write_synced(&tmp, data)?;
    commit(&tmp, path)
}

/// The temporary name used while `path` is being written.
pub fn incomplete_name(path: &Path) -> std::path::PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".incomplete");
    s.into()
}

/// Rename a finished, fsynced temporary file into place and fsync the
/// directory.
pub fn commit(tmp: &Path, path: &Path) -> Result<()> {
    fs::rename(tmp, path).ctx("renaming into place", path)?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    sync_dir(parent)
}
