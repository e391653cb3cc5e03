//! Durable writes (temporary name, fsync, rename, fsync the directory) and
//! the queue lock (`flock`).

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::error::{Error, IoContext, Result};

/// fsync a directory so creations, renames and removals in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .ctx("syncing directory", dir)
}

/// Write `data` to `path` and fsync it (for files in a directory that is
/// renamed into place afterwards).
pub(crate) fn write_synced(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = File::create(path).ctx("creating", path)?;
    f.write_all(data).ctx("writing", path)?;
    f.sync_all().ctx("syncing", path)
}

/// Replace `path` atomically: `<path>.tmp`, fsync, rename, fsync the parent.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    write_synced(&tmp, data)?;
    fs::rename(&tmp, path).ctx("renaming into place", path)?;
    sync_dir(path.parent().unwrap_or(Path::new(".")))
}

/// An exclusive `flock` on the queue's lock file, released on drop (and by
/// the kernel when the process dies, so a killed run never wedges it).
#[derive(Debug)]
pub struct QueueLock {
    _file: File,
    path: PathBuf,
}

impl QueueLock {
    /// Take the lock at `path`, waiting up to `wait` for another holder.
    pub fn acquire(path: &Path, wait: Duration) -> Result<QueueLock> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .ctx("opening the lock file", path)?;
        let deadline = Instant::now() + wait;
        loop {
            // SAFETY: a valid open descriptor; flock has no memory effects.
            let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
            if rc == 0 {
                break;
            }
            let err = std::io::Error::last_os_error();
            if err.raw_os_error() != Some(libc::EWOULDBLOCK) {
                return Err(Error::Io {
                    op: "locking",
                    path: path.to_path_buf(),
                    source: err,
                });
            }
            if Instant::now() >= deadline {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Error::Busy {
                    path: path.to_path_buf(),
                    holder: (!holder.is_empty()).then(|| holder.to_string()),
                });
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        // Who holds it, for the message another run prints; best effort.
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = writeln!(file, "pid {}", std::process::id());
        Ok(QueueLock {
            _file: file,
            path: path.to_path_buf(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
