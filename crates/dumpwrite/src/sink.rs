//! Where the output bytes go: a file written with positioned writes, or a
//! makedumpfile flattened stream (for pipes and ssh), and the
//! `OUT.incomplete` → `OUT` rename that makes a finished dump appear
//! atomically.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Random-access output. The writers emit each region once, mostly in
/// increasing offsets, and rewrite the header at the end.
pub trait Sink {
    /// Write `data` at `offset` of the output file.
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()>;
    /// Flush what was written so far and make it durable.
    fn sync(&mut self) -> io::Result<()>;
    /// End the output (flattened: the end marker) and make it durable.
    fn finish(&mut self) -> io::Result<()>;
    /// What the output is, for error messages.
    fn describe(&self) -> String;
    /// False when a rewrite would not replace the first copy for every
    /// reader (a stream: crash indexes the first chunk at an offset). The
    /// writers then write their headers once, at the end.
    fn rewrites_in_place(&self) -> bool {
        true
    }
}

/// Bytes written between two requests to start writeback.
const WRITEBACK_EVERY: u64 = 8 << 20;

/// A regular file written with `pwrite`.
///
/// Every `WRITEBACK_EVERY` (8 MiB) bytes it asks the kernel to start writing the
/// range out (`sync_file_range(SYNC_FILE_RANGE_WRITE)`, which does not
/// wait), so the disk works while pages are still being compressed and the
/// final `fsync` has little left to wait for.
#[derive(Debug)]
pub struct FileSink {
    file: File,
    path: PathBuf,
    /// Range written since the last writeback request.
    dirty: Option<(u64, u64)>,
}

impl FileSink {
    /// Wrap an open, writable file.
    pub fn new(file: File, path: PathBuf) -> FileSink {
        FileSink {
            file,
            path,
            dirty: None,
        }
    }

    fn start_writeback(&mut self, offset: u64, len: u64) {
        let (lo, hi) = match self.dirty {
            Some((lo, hi)) => (lo.min(offset), hi.max(offset + len)),
            None => (offset, offset + len),
        };
        if hi - lo < WRITEBACK_EVERY {
            self.dirty = Some((lo, hi));
            return;
        }
        self.dirty = None;
        let (Ok(off), Ok(n)) = (i64::try_from(lo), i64::try_from(hi - lo)) else {
            return;
        };
        // SAFETY: plain syscall on our own open descriptor. Advisory only:
        // an error here resurfaces from the final fsync, which is checked.
        unsafe {
            libc::sync_file_range(
                std::os::fd::AsRawFd::as_raw_fd(&self.file),
                off,
                n,
                libc::SYNC_FILE_RANGE_WRITE,
            );
        }
    }

    /// The file, e.g. to write a flattened stream into it sequentially.
    pub fn into_file(self) -> File {
        self.file
    }
}

impl Sink for FileSink {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.file.write_all_at(data, offset)?;
        self.start_writeback(offset, data.len() as u64);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
    fn finish(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}

/// Size of the flattened stream's header block (`MAX_SIZE_MDF_HEADER`).
pub const FLAT_HEADER_SIZE: usize = 4096;

/// The makedumpfile flattened format: a 4 KiB header, then
/// `(offset, size)` big-endian records each followed by its bytes, ended by
/// `(-1, -1)`. `makedumpfile -R` rebuilds the file from it.
#[derive(Debug)]
pub struct FlatSink<W: Write> {
    out: W,
    started: bool,
}

impl<W: Write> FlatSink<W> {
    /// Stream to `out` (buffer it: records are written in two parts).
    pub fn new(out: W) -> FlatSink<W> {
        FlatSink {
            out,
            started: false,
        }
    }

    fn start(&mut self) -> io::Result<()> {
        if !self.started {
            let mut hdr = [0u8; FLAT_HEADER_SIZE];
            hdr[..12].copy_from_slice(b"makedumpfile");
            hdr[16..24].copy_from_slice(&1i64.to_be_bytes()); // TYPE_FLAT_HEADER
            hdr[24..32].copy_from_slice(&1i64.to_be_bytes()); // VERSION_FLAT_HEADER
            self.out.write_all(&hdr)?;
            self.started = true;
        }
        Ok(())
    }

    /// The inner writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Sink for FlatSink<W> {
    fn write_at(&mut self, offset: u64, data: &[u8]) -> io::Result<()> {
        self.start()?;
        if data.is_empty() {
            return Ok(());
        }
        let off = i64::try_from(offset).map_err(|_| io::Error::other("offset too large"))?;
        let mut rec = [0u8; 16];
        rec[..8].copy_from_slice(&off.to_be_bytes());
        rec[8..].copy_from_slice(&(data.len() as i64).to_be_bytes());
        self.out.write_all(&rec)?;
        self.out.write_all(data)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.out.flush()
    }
    fn finish(&mut self) -> io::Result<()> {
        self.start()?;
        let mut end = [0u8; 16];
        end[..8].copy_from_slice(&(-1i64).to_be_bytes());
        end[8..].copy_from_slice(&(-1i64).to_be_bytes());
        self.out.write_all(&end)?;
        self.out.flush()
    }
    fn describe(&self) -> String {
        "flattened stream".into()
    }
    fn rewrites_in_place(&self) -> bool {
        false
    }
}

/// An output file that only appears under its final name once complete:
/// it is written as `NAME.incomplete`, then synced and renamed.
///
/// If the run fails or is killed, `NAME.incomplete` stays behind (its
/// header carries `DUMP_DH_COMPRESSED_INCOMPLETE` until the final header
/// rewrite), and nothing exists under `NAME` that was not there before.
#[derive(Debug)]
pub struct IncompleteFile {
    final_path: PathBuf,
    tmp_path: PathBuf,
}

impl IncompleteFile {
    /// Create (truncate) `NAME.incomplete` next to `final_path`.
    pub fn create(final_path: &Path) -> io::Result<(IncompleteFile, FileSink)> {
        let mut name = final_path
            .file_name()
            .ok_or_else(|| io::Error::other("output path has no file name"))?
            .to_os_string();
        name.push(".incomplete");
        let tmp_path = final_path.with_file_name(name);
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp_path)?;
        Ok((
            IncompleteFile {
                final_path: final_path.to_path_buf(),
                tmp_path: tmp_path.clone(),
            },
            FileSink::new(file, tmp_path),
        ))
    }

    /// The temporary path.
    pub fn tmp_path(&self) -> &Path {
        &self.tmp_path
    }

    /// Rename to the final name and sync the directory (the file itself was
    /// synced by [`Sink::finish`]).
    pub fn commit(self) -> io::Result<()> {
        std::fs::rename(&self.tmp_path, &self.final_path)?;
        let dir = match self.final_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        // Directory fsync makes the rename durable; some filesystems refuse
        // it, which is not worth failing a finished dump for.
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

/// Collects writes in a buffer and hands them to a [`Sink`] in large
/// sequential pieces. Reused for the whole run: no per-page allocation.
#[derive(Debug)]
pub(crate) struct Coalescer {
    buf: Vec<u8>,
    start: u64,
    cap: usize,
}

impl Coalescer {
    pub(crate) fn new(cap: usize, start: u64) -> Coalescer {
        Coalescer {
            buf: Vec::with_capacity(cap),
            start,
            cap,
        }
    }

    /// Offset of the next byte appended.
    pub(crate) fn pos(&self) -> u64 {
        self.start + self.buf.len() as u64
    }

    /// True when another `n` bytes would overflow the buffer.
    pub(crate) fn would_overflow(&self, n: usize) -> bool {
        self.buf.len() + n > self.cap
    }

    pub(crate) fn push(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// Write what is buffered, then `data` straight after it, unbuffered.
    pub(crate) fn write_through(&mut self, sink: &mut dyn Sink, data: &[u8]) -> io::Result<()> {
        self.flush(sink)?;
        sink.write_at(self.start, data)?;
        self.start += data.len() as u64;
        Ok(())
    }

    pub(crate) fn flush(&mut self, sink: &mut dyn Sink) -> io::Result<()> {
        if !self.buf.is_empty() {
            sink.write_at(self.start, &self.buf)?;
            self.start += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }
}
