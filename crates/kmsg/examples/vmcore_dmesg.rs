//! Print the kernel log of an ELF vmcore (`/proc/vmcore` copy, `makedumpfile
//! -E`, QEMU `dump-guest-memory` with vmcoreinfo) like `makedumpfile
//! --dump-dmesg`.
//!
//! ```text
//! cargo run -p kmsg --example vmcore_dmesg -- VMCORE [--mdf-version 1.7.5] [--json] [--walk]
//! ```
//!
//! A deliberately small ELF reader of its own (the real readers live in
//! `dumpfile`): `PT_LOAD` segments for memory, the `VMCOREINFO` note for the
//! layout, and the direct-map base from a System-RAM `PT_LOAD`.

use addrxlat::{Hints, KernelMemory};
use dumpfile::{PageState, PhysRange, PhysicalMemory, ReadError, VmcoreInfo};
use kmsg::{write_log, RenderOptions};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;

struct Segment {
    paddr: u64,
    offset: u64,
    filesz: u64,
}

struct ElfCore {
    file: File,
    segs: Vec<Segment>,
    ranges: Vec<PhysRange>,
}

impl PhysicalMemory for ElfCore {
    fn page_size(&self) -> u64 {
        4096
    }

    fn ranges(&self) -> &[PhysRange] {
        &self.ranges
    }

    fn read_phys(&self, addr: u64, buf: &mut [u8]) -> Result<(), ReadError> {
        let mut done = 0usize;
        while done < buf.len() {
            let a = addr + done as u64;
            let seg = self
                .segs
                .iter()
                .find(|s| a >= s.paddr && a - s.paddr < s.filesz)
                .ok_or(ReadError::NotPresent { addr: a })?;
            let n = ((seg.filesz - (a - seg.paddr)) as usize).min(buf.len() - done);
            self.file
                .read_exact_at(&mut buf[done..done + n], seg.offset + (a - seg.paddr))
                .map_err(|_| ReadError::Truncated { addr: a })?;
            done += n;
        }
        Ok(())
    }

    fn page_state(&self, pfn: u64) -> PageState {
        let a = pfn * 4096;
        if self
            .segs
            .iter()
            .any(|s| a >= s.paddr && a - s.paddr < s.filesz)
        {
            PageState::Present
        } else {
            PageState::Hole
        }
    }
}

fn u16_at(b: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(b[o..o + 2].try_into().unwrap())
}
fn u32_at(b: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(b[o..o + 4].try_into().unwrap())
}
fn u64_at(b: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(b[o..o + 8].try_into().unwrap())
}

fn open(path: &str) -> Result<(ElfCore, VmcoreInfo, Hints), String> {
    let file = File::open(path).map_err(|e| e.to_string())?;
    let mut eh = [0u8; 64];
    file.read_exact_at(&mut eh, 0).map_err(|e| e.to_string())?;
    if &eh[..4] != b"\x7fELF" || eh[4] != 2 {
        return Err("not an ELF64 file".into());
    }
    let (phoff, phentsize, phnum) = (
        u64_at(&eh, 32),
        u16_at(&eh, 54) as u64,
        u16_at(&eh, 56) as u64,
    );
    let mut segs = Vec::new();
    let mut info = None;
    let mut hints = Hints {
        elf_machine: Some(u16_at(&eh, 18)),
        ..Hints::default()
    };
    for i in 0..phnum {
        let mut ph = [0u8; 56];
        file.read_exact_at(&mut ph, phoff + i * phentsize)
            .map_err(|e| e.to_string())?;
        let (ty, offset, vaddr, paddr, filesz) = (
            u32_at(&ph, 0),
            u64_at(&ph, 8),
            u64_at(&ph, 16),
            u64_at(&ph, 24),
            u64_at(&ph, 32),
        );
        match ty {
            1 => {
                if vaddr != 0 && vaddr < 0xffff_ffff_8000_0000 && vaddr >= 0xff00_0000_0000_0000 {
                    hints
                        .direct_map_base
                        .get_or_insert(vaddr.wrapping_sub(paddr));
                }
                segs.push(Segment {
                    paddr,
                    offset,
                    filesz,
                });
            }
            4 => {
                let mut notes = vec![0u8; filesz.min(1 << 24) as usize];
                file.read_exact_at(&mut notes, offset)
                    .map_err(|e| e.to_string())?;
                let mut o = 0usize;
                while o + 12 <= notes.len() {
                    let (nsz, dsz) = (u32_at(&notes, o) as usize, u32_at(&notes, o + 4) as usize);
                    let name_end = o + 12 + nsz;
                    let desc = name_end.next_multiple_of(4);
                    let end = (desc + dsz).next_multiple_of(4);
                    if nsz == 0 || end > notes.len() {
                        break;
                    }
                    if notes[o + 12..name_end].starts_with(b"VMCOREINFO") {
                        info = Some(VmcoreInfo::parse(&notes[desc..desc + dsz]));
                    }
                    o = end;
                }
            }
            _ => {}
        }
    }
    segs.sort_by_key(|s| s.paddr);
    let mut ranges: Vec<PhysRange> = Vec::new();
    for s in &segs {
        let r = PhysRange {
            start: s.paddr,
            end: s.paddr + s.filesz,
        };
        match ranges.last_mut() {
            Some(l) if l.end >= r.start => l.end = l.end.max(r.end),
            _ => ranges.push(r),
        }
    }
    let info = info.ok_or("no VMCOREINFO note")?;
    Ok((ElfCore { file, segs, ranges }, info, hints))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(path) = args.first() else {
        eprintln!("usage: vmcore_dmesg VMCORE [--mdf-version X.Y.Z] [--json] [--walk]");
        std::process::exit(2);
    };
    let version = args
        .iter()
        .position(|a| a == "--mdf-version")
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            let p: Vec<u32> = v.split('.').filter_map(|x| x.parse().ok()).collect();
            (
                p.first().copied().unwrap_or(1),
                p.get(1).copied().unwrap_or(7),
                p.get(2).copied().unwrap_or(2),
            )
        })
        .unwrap_or((1, 7, 2));
    let (core, info, hints) = open(path).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    });
    let mut hints = hints;
    if args.iter().any(|a| a == "--walk") {
        // Exercise the page-table walk instead of the direct-map shortcut.
        hints.direct_map_base = None;
    }
    let km = KernelMemory::from_vmcoreinfo(&core, &info, &hints).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    });
    let log = kmsg::read_log(&km).unwrap_or_else(|e| {
        eprintln!("{path}: {e}");
        std::process::exit(1);
    });
    for w in &log.warnings {
        eprintln!("warning: {w}");
    }
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    if args.iter().any(|a| a == "--json") {
        for r in &log.records {
            let _ = serde_json::to_writer(&mut out, r);
            let _ = writeln!(out);
        }
    } else {
        let _ = write_log(&log, &RenderOptions::makedumpfile(version, &log), &mut out);
    }
}
