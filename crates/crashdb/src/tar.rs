//! A minimal ustar writer: regular files only, fixed owner and mode, so a
//! bundle is reproducible and opens with any `tar`. Sizes past 8 GiB (big
//! dumps) use the GNU base-256 size field, which GNU tar and bsdtar read.

use std::io::{self, Read, Write};

/// Writes a tar stream of regular files.
pub struct TarWriter<W: Write> {
    out: W,
}

/// Bytes a member of `size` bytes takes in the archive (header + padded data).
pub fn member_len(size: u64) -> u64 {
    512 + size.div_ceil(512) * 512
}

/// Bytes of the end-of-archive marker.
pub const TRAILER_LEN: u64 = 1024;

impl<W: Write> TarWriter<W> {
    /// Start an archive.
    pub fn new(out: W) -> Self {
        TarWriter { out }
    }

    /// Append a file held in memory.
    pub fn file(&mut self, name: &str, mtime: i64, data: &[u8]) -> io::Result<()> {
        self.header(name, mtime, data.len() as u64)?;
        self.out.write_all(data)?;
        self.pad(data.len() as u64)
    }

    /// Append a file streamed from a reader that yields exactly `size` bytes.
    pub fn stream(
        &mut self,
        name: &str,
        mtime: i64,
        size: u64,
        r: &mut dyn Read,
    ) -> io::Result<()> {
        self.header(name, mtime, size)?;
        let copied = io::copy(&mut r.take(size), &mut self.out)?;
        if copied != size {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{name}: expected {size} bytes, got {copied} (file changed?)"),
            ));
        }
        self.pad(size)
    }

    /// Write the end-of-archive marker and return the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.write_all(&[0u8; TRAILER_LEN as usize])?;
        Ok(self.out)
    }

    fn pad(&mut self, size: u64) -> io::Result<()> {
        let rem = (size % 512) as usize;
        if rem != 0 {
            self.out.write_all(&[0u8; 512][..512 - rem])?;
        }
        Ok(())
    }

    fn header(&mut self, name: &str, mtime: i64, size: u64) -> io::Result<()> {
        let mut h = [0u8; 512];
        let (prefix, base) = split_name(name)?;
        h[..base.len()].copy_from_slice(base.as_bytes());
        octal(&mut h[100..108], 0o644);
        octal(&mut h[108..116], 0);
        octal(&mut h[116..124], 0);
        if size < 0o77777777777 {
            octal(&mut h[124..136], size);
        } else {
            // GNU base-256: high bit of the first byte set, big-endian value.
            h[124] = 0x80;
            h[128..136].copy_from_slice(&size.to_be_bytes());
        }
        octal(&mut h[136..148], mtime.max(0) as u64);
        h[148..156].fill(b' ');
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[345..345 + prefix.len()].copy_from_slice(prefix.as_bytes());
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        let s = format!("{sum:06o}\0 ");
        h[148..156].copy_from_slice(s.as_bytes());
        self.out.write_all(&h)
    }
}

/// Octal, zero-padded, NUL-terminated, filling the field.
fn octal(field: &mut [u8], v: u64) {
    let digits = field.len() - 1;
    let s = format!("{v:0digits$o}");
    field[..digits].copy_from_slice(&s.as_bytes()[s.len() - digits..]);
    field[digits] = 0;
}

/// ustar names: up to 100 bytes, or a prefix of up to 155 plus a name.
fn split_name(name: &str) -> io::Result<(&str, &str)> {
    if name.len() <= 100 {
        return Ok(("", name));
    }
    for (i, _) in name.match_indices('/') {
        if i <= 155 && name.len() - i - 1 <= 100 {
            return Ok((&name[..i], &name[i + 1..]));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::InvalidInput,
        format!("tar member name too long: {name}"),
    ))
}

/// Read back the members of an uncompressed tar written by [`TarWriter`]
/// (for tests and `--preview` checks): (name, data).
pub fn read_members(mut tar: &[u8]) -> io::Result<Vec<(String, Vec<u8>)>> {
    let bad = |m: &str| io::Error::new(io::ErrorKind::InvalidData, m.to_string());
    let mut out = Vec::new();
    while tar.len() >= 512 {
        let h = &tar[..512];
        if h.iter().all(|&b| b == 0) {
            break;
        }
        let cstr = |b: &[u8]| {
            let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
            String::from_utf8_lossy(&b[..end]).into_owned()
        };
        let mut name = cstr(&h[..100]);
        let prefix = cstr(&h[345..500]);
        if !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        let size = if h[124] & 0x80 != 0 {
            u64::from_be_bytes(h[128..136].try_into().map_err(|_| bad("size"))?)
        } else {
            let s = cstr(&h[124..136]);
            u64::from_str_radix(s.trim(), 8).map_err(|_| bad("size field"))?
        };
        let size = usize::try_from(size).map_err(|_| bad("size"))?;
        let padded = size.div_ceil(512) * 512;
        if tar.len() < 512 + padded {
            return Err(bad("truncated member"));
        }
        out.push((name, tar[512..512 + size].to_vec()));
        tar = &tar[512 + padded..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_sizes() {
        let mut w = TarWriter::new(Vec::new());
        w.file("d/a.txt", 1000, b"hello").unwrap();
        let long = format!("{}/{}", "p".repeat(120), "n".repeat(90));
        w.file(&long, 1000, &[7u8; 513]).unwrap();
        let tar = w.finish().unwrap();
        assert_eq!(
            tar.len() as u64,
            member_len(5) + member_len(513) + TRAILER_LEN
        );
        let m = read_members(&tar).unwrap();
        assert_eq!(m[0], ("d/a.txt".to_string(), b"hello".to_vec()));
        assert_eq!(m[1].0, long);
        assert_eq!(m[1].1.len(), 513);
        assert!(split_name(&"x".repeat(300)).is_err());
    }
}
