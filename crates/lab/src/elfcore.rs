//! Just enough ELF core reading to check what the lab produced: program
//! headers, notes, VMCOREINFO, and the file size implied by the headers.

use crate::error::{IoContext, LabError, Result};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// `PT_LOAD`.
pub const PT_LOAD: u32 = 1;
/// `PT_NOTE`.
pub const PT_NOTE: u32 = 4;
/// `ET_CORE`.
pub const ET_CORE: u16 = 4;

/// One ELF note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Owner name without the NUL (`CORE`, `VMCOREINFO`).
    pub name: String,
    /// `n_type`.
    pub ntype: u32,
    /// Descriptor bytes.
    pub desc: Vec<u8>,
}

/// What the headers of an ELF64 core file say.
#[derive(Debug, Clone)]
pub struct CoreSummary {
    /// `e_type`.
    pub e_type: u16,
    /// Number of `PT_LOAD` headers.
    pub loads: usize,
    /// Sum of `p_filesz` over `PT_LOAD`s.
    pub load_bytes: u64,
    /// All notes of all `PT_NOTE` segments.
    pub notes: Vec<Note>,
    /// Largest `p_offset + p_filesz`: the size the file must have.
    pub end: u64,
}

impl CoreSummary {
    /// VMCOREINFO text, if a note carries it.
    pub fn vmcoreinfo(&self) -> Option<String> {
        self.notes.iter().find(|n| n.name == "VMCOREINFO").map(|n| {
            String::from_utf8_lossy(&n.desc)
                .trim_end_matches('\0')
                .to_string()
        })
    }
}

fn le(b: &[u8], off: usize, n: usize) -> u64 {
    b[off..off + n]
        .iter()
        .rev()
        .fold(0, |a, &x| (a << 8) | u64::from(x))
}

/// Read the headers and notes of an ELF64 little-endian file.
pub fn summarize(path: &Path) -> Result<CoreSummary> {
    let bad = |msg: String| LabError::Artifact {
        dir: path.to_path_buf(),
        msg,
    };
    let mut f = std::fs::File::open(path).ctx("open", path)?;
    let mut eh = [0u8; 64];
    f.read_exact(&mut eh).ctx("read ELF header of", path)?;
    if &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
        return Err(bad("not an ELF64 little-endian file".into()));
    }
    let e_type = le(&eh, 16, 2) as u16;
    let phoff = le(&eh, 32, 8);
    let phentsize = le(&eh, 54, 2) as usize;
    let phnum = le(&eh, 56, 2) as usize;
    if phentsize < 56 || phnum == 0 || phnum > 65535 {
        return Err(bad(format!("bad program headers ({phnum} x {phentsize})")));
    }
    let mut ph = vec![0u8; phentsize * phnum];
    f.seek(SeekFrom::Start(phoff)).ctx("seek", path)?;
    f.read_exact(&mut ph).ctx("read program headers of", path)?;
    let mut s = CoreSummary {
        e_type,
        loads: 0,
        load_bytes: 0,
        notes: Vec::new(),
        end: 0,
    };
    let mut note_segs = Vec::new();
    for i in 0..phnum {
        let h = &ph[i * phentsize..];
        let (ptype, off, filesz) = (le(h, 0, 4) as u32, le(h, 8, 8), le(h, 32, 8));
        s.end = s.end.max(off.saturating_add(filesz));
        match ptype {
            PT_LOAD => {
                s.loads += 1;
                s.load_bytes += filesz;
            }
            PT_NOTE => note_segs.push((off, filesz)),
            _ => {}
        }
    }
    for (off, size) in note_segs {
        if size > 64 << 20 {
            return Err(bad(format!("PT_NOTE of {size} bytes")));
        }
        let mut buf = vec![0u8; size as usize];
        f.seek(SeekFrom::Start(off)).ctx("seek", path)?;
        f.read_exact(&mut buf).ctx("read notes of", path)?;
        s.notes.extend(parse_notes(&buf));
    }
    Ok(s)
}

/// Parse a note segment; stops at the first malformed or empty note.
pub fn parse_notes(buf: &[u8]) -> Vec<Note> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    let align = |n: usize| (n + 3) & !3;
    while pos + 12 <= buf.len() {
        let namesz = le(buf, pos, 4) as usize;
        let descsz = le(buf, pos + 4, 4) as usize;
        let ntype = le(buf, pos + 8, 4) as u32;
        if namesz == 0 && descsz == 0 {
            break;
        }
        let name_start = pos + 12;
        let desc_start = name_start + align(namesz);
        let Some(desc) = buf.get(desc_start..desc_start.saturating_add(descsz)) else {
            break;
        };
        let name = &buf[name_start..name_start + namesz];
        out.push(Note {
            name: String::from_utf8_lossy(name)
                .trim_end_matches('\0')
                .to_string(),
            ntype,
            desc: desc.to_vec(),
        });
        pos = desc_start + align(descsz);
    }
    out
}

/// Value of `KEY=` in VMCOREINFO text.
pub fn vmcoreinfo_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_and_vmcoreinfo() {
        let mut buf = Vec::new();
        let info = b"OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\n";
        buf.extend_from_slice(&11u32.to_le_bytes());
        buf.extend_from_slice(&(info.len() as u32).to_le_bytes());
        buf.extend_from_slice(&0u32.to_le_bytes());
        buf.extend_from_slice(b"VMCOREINFO\0\0");
        buf.extend_from_slice(info);
        buf.resize(buf.len().div_ceil(4) * 4, 0);
        buf.extend_from_slice(&[0u8; 12]);
        let notes = parse_notes(&buf);
        assert_eq!(notes.len(), 1);
        assert_eq!(notes[0].name, "VMCOREINFO");
        let s = CoreSummary {
            e_type: ET_CORE,
            loads: 0,
            load_bytes: 0,
            notes,
            end: 0,
        };
        let text = s.vmcoreinfo().unwrap();
        assert_eq!(vmcoreinfo_value(&text, "OSRELEASE"), Some("6.1.0-56-amd64"));
        assert_eq!(vmcoreinfo_value(&text, "OSREL"), None);
        assert!(parse_notes(&[1, 2, 3]).is_empty());
    }
}
