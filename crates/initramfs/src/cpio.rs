//! cpio "newc" (SVR4, no CRC) archives, the format the kernel unpacks as initramfs.
//!
//! [`Archive`] collects entries in memory, keyed by path, so parent directories
//! can be added implicitly and always precede their children (the kernel
//! creates entries in archive order and fails on a missing parent). Timestamps
//! are zero so the same inputs give byte-identical archives.

use crate::error::{Error, Result};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::collections::BTreeMap;
use std::io::Write;

const MAGIC: &[u8; 6] = b"070701";
const HEADER_LEN: usize = 110;
const TRAILER: &str = "TRAILER!!!";

/// File-type bits of `st_mode`.
const S_IFDIR: u32 = 0o040000;
const S_IFREG: u32 = 0o100000;
const S_IFLNK: u32 = 0o120000;
const S_IFCHR: u32 = 0o020000;

/// What an archive entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A directory.
    Dir,
    /// A regular file with its contents.
    File(Vec<u8>),
    /// A symbolic link to the given target.
    Symlink(String),
    /// A character device node with major and minor numbers.
    CharDev(u32, u32),
}

/// One archive member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Permission bits (the file type comes from `kind`).
    pub perm: u32,
    /// What the member is.
    pub kind: Kind,
}

impl Entry {
    /// Full `st_mode` (type bits and permissions).
    pub fn mode(&self) -> u32 {
        let ty = match self.kind {
            Kind::Dir => S_IFDIR,
            Kind::File(_) => S_IFREG,
            Kind::Symlink(_) => S_IFLNK,
            Kind::CharDev(..) => S_IFCHR,
        };
        ty | (self.perm & 0o7777)
    }

    fn data(&self) -> &[u8] {
        match &self.kind {
            Kind::File(d) => d,
            Kind::Symlink(t) => t.as_bytes(),
            Kind::Dir | Kind::CharDev(..) => &[],
        }
    }
}

/// An in-memory cpio archive; paths are relative (`bin/sh`, no leading `/`).
#[derive(Debug, Default, Clone)]
pub struct Archive {
    entries: BTreeMap<String, Entry>,
}

impl Archive {
    /// An empty archive.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add a directory (and its parents).
    pub fn dir(&mut self, path: &str, perm: u32) -> Result<()> {
        self.insert(
            path,
            Entry {
                perm,
                kind: Kind::Dir,
            },
        )
    }

    /// Add a regular file (parents are created 0755).
    pub fn file(&mut self, path: &str, perm: u32, data: Vec<u8>) -> Result<()> {
        self.insert(
            path,
            Entry {
                perm,
                kind: Kind::File(data),
            },
        )
    }

    /// Add a symbolic link.
    pub fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        self.insert(
            path,
            Entry {
                perm: 0o777,
                kind: Kind::Symlink(target.to_string()),
            },
        )
    }

    /// Add a character device node.
    pub fn char_dev(&mut self, path: &str, perm: u32, major: u32, minor: u32) -> Result<()> {
        self.insert(
            path,
            Entry {
                perm,
                kind: Kind::CharDev(major, minor),
            },
        )
    }

    /// Whether `path` is already in the archive.
    pub fn contains(&self, path: &str) -> bool {
        self.entries.contains_key(normalize(path))
    }

    /// The members, parents before children.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn insert(&mut self, path: &str, entry: Entry) -> Result<()> {
        let path = normalize(path);
        if path.is_empty() || path.split('/').any(|c| c.is_empty() || c == "..") {
            return Err(Error::Cpio(format!("bad member path {path:?}")));
        }
        // Implicit parents: the kernel does not create missing directories.
        let mut end = 0;
        while let Some(i) = path[end..].find('/') {
            let parent = &path[..end + i];
            match self.entries.get(parent) {
                Some(Entry {
                    kind: Kind::Dir, ..
                }) => {}
                Some(_) => return Err(Error::Cpio(format!("{parent} is not a directory"))),
                None => {
                    self.entries.insert(
                        parent.to_string(),
                        Entry {
                            perm: 0o755,
                            kind: Kind::Dir,
                        },
                    );
                }
            }
            end += i + 1;
        }
        // An explicit directory may refine an implicit one; anything else replaces.
        self.entries.insert(path.to_string(), entry);
        Ok(())
    }

    /// Write the archive in newc format, trailer included.
    pub fn write_newc<W: Write>(&self, out: W) -> std::io::Result<W> {
        let mut w = Counting { inner: out, pos: 0 };
        for (ino, (name, e)) in self.entries.iter().enumerate() {
            let (rmaj, rmin) = match e.kind {
                Kind::CharDev(a, b) => (a, b),
                _ => (0, 0),
            };
            let nlink = if e.kind == Kind::Dir { 2 } else { 1 };
            write_member(
                &mut w,
                ino as u32 + 1,
                e.mode(),
                nlink,
                (rmaj, rmin),
                name,
                e.data(),
            )?;
        }
        write_member(&mut w, 0, 0, 1, (0, 0), TRAILER, &[])?;
        Ok(w.inner)
    }

    /// The newc archive, gzip-compressed (what `initrd=` expects here).
    pub fn to_gzip(&self) -> std::io::Result<Vec<u8>> {
        let enc = GzEncoder::new(Vec::new(), Compression::default());
        self.write_newc(enc)?.finish()
    }
}

fn normalize(path: &str) -> &str {
    path.trim_start_matches("./")
        .trim_start_matches('/')
        .trim_end_matches('/')
}

/// A writer that knows its position, for 4-byte alignment.
struct Counting<W> {
    inner: W,
    pos: usize,
}

impl<W: Write> Counting<W> {
    fn put(&mut self, b: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(b)?;
        self.pos += b.len();
        Ok(())
    }

    fn pad4(&mut self) -> std::io::Result<()> {
        let n = (4 - self.pos % 4) % 4;
        self.put(&[0u8; 3][..n])
    }
}

fn write_member<W: Write>(
    w: &mut Counting<W>,
    ino: u32,
    mode: u32,
    nlink: u32,
    rdev: (u32, u32),
    name: &str,
    data: &[u8],
) -> std::io::Result<()> {
    let too_big = || std::io::Error::other(format!("{name}: larger than 4 GiB"));
    let size = u32::try_from(data.len()).map_err(|_| too_big())?;
    let namesize = u32::try_from(name.len() + 1).map_err(|_| too_big())?;
    let fields = [
        ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev.0, rdev.1, namesize, 0,
    ];
    let mut header = String::with_capacity(HEADER_LEN);
    header.push_str("070701");
    for f in fields {
        header.push_str(&format!("{f:08x}"));
    }
    w.put(header.as_bytes())?;
    w.put(name.as_bytes())?;
    w.put(&[0])?;
    w.pad4()?;
    w.put(data)?;
    w.pad4()
}

/// A member read back by [`parse_newc`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    /// Member name as stored.
    pub name: String,
    /// Full `st_mode`.
    pub mode: u32,
    /// Device major/minor (`rdevmajor`, `rdevminor`).
    pub rdev: (u32, u32),
    /// File data (symlink target for links).
    pub data: Vec<u8>,
}

/// Parse one uncompressed newc archive up to its trailer.
pub fn parse_newc(buf: &[u8]) -> Result<Vec<Parsed>> {
    let mut pos = 0usize;
    let mut out = Vec::new();
    loop {
        let header = buf
            .get(pos..pos + HEADER_LEN)
            .ok_or_else(|| Error::Cpio(format!("truncated header at {pos}")))?;
        if &header[..6] != MAGIC {
            return Err(Error::Cpio(format!("bad magic at {pos}")));
        }
        let field = |i: usize| -> Result<u32> {
            let s = std::str::from_utf8(&header[6 + 8 * i..14 + 8 * i])
                .map_err(|_| Error::Cpio(format!("non-ASCII header at {pos}")))?;
            u32::from_str_radix(s, 16).map_err(|_| Error::Cpio(format!("bad hex {s:?} at {pos}")))
        };
        let (mode, size, rmaj, rmin, namesize) = (
            field(1)?,
            field(6)? as usize,
            field(9)?,
            field(10)?,
            field(11)? as usize,
        );
        let name_start = pos + HEADER_LEN;
        let name_bytes = buf
            .get(name_start..name_start + namesize)
            .filter(|n| n.last() == Some(&0))
            .ok_or_else(|| Error::Cpio(format!("bad name at {pos}")))?;
        let name = String::from_utf8_lossy(&name_bytes[..namesize - 1]).into_owned();
        let data_start = align4(name_start + namesize);
        let data = buf
            .get(data_start..data_start + size)
            .ok_or_else(|| Error::Cpio(format!("{name}: truncated data")))?;
        pos = align4(data_start + size);
        if name == TRAILER {
            return Ok(out);
        }
        out.push(Parsed {
            name,
            mode,
            rdev: (rmaj, rmin),
            data: data.to_vec(),
        });
    }
}

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn sample() -> Archive {
        let mut a = Archive::new();
        a.file("bin/busybox", 0o755, b"\x7fELF...".to_vec())
            .unwrap();
        a.symlink("bin/sh", "busybox").unwrap();
        a.dir("proc", 0o555).unwrap();
        a.char_dev("dev/console", 0o600, 5, 1).unwrap();
        a.file("/init", 0o755, b"#!/bin/sh\necho hi\n".to_vec())
            .unwrap();
        a.file("lib/modules/x/kernel/a.ko", 0o644, vec![1, 2, 3])
            .unwrap();
        a
    }

    #[test]
    fn round_trip() {
        let buf = sample().write_newc(Vec::new()).unwrap();
        assert_eq!(buf.len() % 4, 0);
        let parsed = parse_newc(&buf).unwrap();
        let names: Vec<_> = parsed.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "bin",
                "bin/busybox",
                "bin/sh",
                "dev",
                "dev/console",
                "init",
                "lib",
                "lib/modules",
                "lib/modules/x",
                "lib/modules/x/kernel",
                "lib/modules/x/kernel/a.ko",
                "proc"
            ]
        );
        let sh = parsed.iter().find(|p| p.name == "bin/sh").unwrap();
        assert_eq!(sh.mode, 0o120777);
        assert_eq!(sh.data, b"busybox");
        let con = parsed.iter().find(|p| p.name == "dev/console").unwrap();
        assert_eq!((con.mode, con.rdev), (0o020600, (5, 1)));
        let proc_ = parsed.iter().find(|p| p.name == "proc").unwrap();
        assert_eq!(proc_.mode, 0o040555);
        let ko = parsed.iter().find(|p| p.name.ends_with("a.ko")).unwrap();
        assert_eq!(ko.data, [1, 2, 3]);
    }

    #[test]
    fn gzip_round_trip_and_determinism() {
        let gz = sample().to_gzip().unwrap();
        assert_eq!(gz, sample().to_gzip().unwrap());
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw, sample().write_newc(Vec::new()).unwrap());
    }

    #[test]
    fn rejects_bad_paths() {
        let mut a = Archive::new();
        assert!(a.file("a/../b", 0o644, vec![]).is_err());
        assert!(a.file("", 0o644, vec![]).is_err());
        a.file("f", 0o644, vec![]).unwrap();
        assert!(a.file("f/g", 0o644, vec![]).is_err());
    }

    #[test]
    fn parse_rejects_garbage() {
        assert!(parse_newc(b"garbage").is_err());
        let mut buf = sample().write_newc(Vec::new()).unwrap();
        buf.truncate(buf.len() - 130);
        assert!(parse_newc(&buf).is_err());
    }

    /// Debian's GNU cpio must list what we write.
    #[test]
    fn gnu_cpio_lists_archive() {
        let Ok(mut child) = std::process::Command::new("cpio")
            .args(["-t", "--quiet"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
        else {
            eprintln!("cpio not installed; skipping");
            return;
        };
        let buf = sample().write_newc(Vec::new()).unwrap();
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(&buf).unwrap();
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        let listing = String::from_utf8(out.stdout).unwrap();
        assert!(listing.lines().any(|l| l == "bin/sh"));
        assert!(listing.lines().any(|l| l == "lib/modules/x/kernel/a.ko"));
        assert_eq!(listing.lines().count(), 12);
    }
}
