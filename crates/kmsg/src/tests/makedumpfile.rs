//! Byte-for-byte comparison with the real `makedumpfile --dump-dmesg`, run
//! on a synthetic ELF vmcore holding a ring written by [`PrbWriter`].
//! Skipped when makedumpfile is not installed.

use super::prb_writer::*;
use super::{read, DIRECT, TEXT};
use crate::{write_log, RenderOptions};
use dumpfile::PhysicalMemory;
use std::path::Path;
use std::process::Command;

/// A minimal ELF64 core: one VMCOREINFO note, a kernel-text `PT_LOAD` and a
/// direct-map `PT_LOAD`, both covering physical `[0, len)`.
fn elf_vmcore(mem: &dyn PhysicalMemory, len: u64, vmcoreinfo: &str) -> Vec<u8> {
    let mut note = Vec::new();
    let name = b"VMCOREINFO\0";
    let desc = vmcoreinfo.as_bytes();
    note.extend((name.len() as u32).to_le_bytes());
    note.extend((desc.len() as u32).to_le_bytes());
    note.extend(0u32.to_le_bytes());
    note.extend(name);
    note.resize(note.len().next_multiple_of(4), 0);
    note.extend(desc);
    note.resize(note.len().next_multiple_of(4), 0);

    let phnum = 3u64;
    let note_off = 64 + 56 * phnum;
    let data_off = (note_off + note.len() as u64).next_multiple_of(4096);
    let mut f = Vec::new();
    f.extend(b"\x7fELF\x02\x01\x01\0\0\0\0\0\0\0\0\0");
    f.extend(4u16.to_le_bytes()); // ET_CORE
    f.extend(62u16.to_le_bytes()); // EM_X86_64
    f.extend(1u32.to_le_bytes());
    f.extend(0u64.to_le_bytes()); // entry
    f.extend(64u64.to_le_bytes()); // phoff
    f.extend(0u64.to_le_bytes()); // shoff
    f.extend(0u32.to_le_bytes());
    f.extend(64u16.to_le_bytes());
    f.extend(56u16.to_le_bytes());
    f.extend((phnum as u16).to_le_bytes());
    f.extend([0u8; 6]);
    let mut phdr = |ty: u32, off: u64, vaddr: u64, paddr: u64, size: u64| {
        f.extend(ty.to_le_bytes());
        f.extend(7u32.to_le_bytes());
        for v in [off, vaddr, paddr, size, size, 0] {
            f.extend(v.to_le_bytes());
        }
    };
    phdr(4, note_off, 0, 0, note.len() as u64);
    phdr(1, data_off, TEXT, 0, len);
    phdr(1, data_off, DIRECT, 0, len);
    f.extend(&note);
    f.resize(data_off as usize, 0);
    let mut page = vec![0u8; 4096];
    for pa in (0..len).step_by(4096) {
        page.fill(0);
        // Holes read as zeros.
        let _ = mem.read_phys(pa, &mut page);
        f.extend(&page);
    }
    f
}

fn makedumpfile_version() -> Option<(u32, u32, u32)> {
    let out = Command::new("makedumpfile").arg("-v").output().ok()?;
    let s =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    let v = s.split("version ").nth(1)?.split_whitespace().next()?;
    let mut it = v.split('.').map(|x| x.parse::<u32>().ok());
    Some((it.next()??, it.next()??, it.next().flatten().unwrap_or(0)))
}

#[test]
fn same_output_as_makedumpfile() {
    let Some(version) = makedumpfile_version() else {
        eprintln!("makedumpfile not installed; skipped");
        return;
    };
    let mut w = PrbWriter::new(6, 12, TestLayout::LINUX);
    let samples: [&[u8]; 8] = [
        b"Linux version 6.1.0 (gcc) #1 SMP PREEMPT_DYNAMIC",
        b"multi\nline\n\ttabbed",
        b"bytes \x01\x02\x1b[0m \x7f end",
        b"utf8 caf\xc3\xa9 \xe2\x9c\x93",
        b"trailing newline kept\n",
        b"cr\r and ff\x0c vt\x0b",
        b"",
        b"Kernel panic - not syncing: sysrq triggered crash",
    ];
    for i in 0..150u64 {
        let text = samples[(i % 8) as usize];
        let caller = if i % 3 == 0 {
            0x8000_0000 | (i as u32 % 4)
        } else {
            1000 + i as u32
        };
        w.push(text, i * 3_141_592_653 + 7, (i % 8) as u8, caller);
        if i % 41 == 0 {
            w.push_empty_line(i * 3_141_592_653 + 9);
        }
    }
    // makedumpfile translates through the page tables: map the image
    // window and the direct map onto [0, 16M) with 2 MiB pages.
    let (pml4, pud_t, pud_d, pmd) = (0x1_0000u64, 0x1_1000u64, 0x1_2000u64, 0x1_3000u64);
    w.mem
        .write_u64(pml4 + ((TEXT >> 39) & 511) * 8, pud_t | 0x63);
    w.mem
        .write_u64(pml4 + ((DIRECT >> 39) & 511) * 8, pud_d | 0x63);
    w.mem
        .write_u64(pud_t + ((TEXT >> 30) & 511) * 8, pmd | 0x63);
    w.mem
        .write_u64(pud_d + ((DIRECT >> 30) & 511) * 8, pmd | 0x63);
    for i in 0..8u64 {
        w.mem.write_u64(pmd + i * 8, (i << 21) | 0xe3);
    }
    // makedumpfile checks utsname.release against OSRELEASE.
    w.mem.write(0x3000, b"Linux");
    w.mem.write(0x3000 + 2 * 65, b"6.1.0");
    let info = w.vmcoreinfo()
        + "NUMBER(phys_base)=0\nSYMBOL(init_top_pgt)=ffffffff80010000\nKERNELOFFSET=0\n\
SYMBOL(init_uts_ns)=ffffffff80003000\nOFFSET(uts_namespace.name)=0\n\
SYMBOL(mem_map)=ffffffff80004000\nSIZE(page)=64\nOFFSET(page.flags)=0\n\
OFFSET(page._refcount)=52\nOFFSET(page.mapping)=24\n";
    // A FLATMEM mem_map pointer, only so makedumpfile's setup succeeds.
    w.mem.write_u64(0x4000, DIRECT + 0x50_0000);
    let core = elf_vmcore(&w.mem, 0x90_0000, &info);
    let dir = std::env::temp_dir().join(format!("kmsg-mdf-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vmcore = dir.join("vmcore");
    let out = dir.join("dmesg.txt");
    std::fs::write(&vmcore, &core).unwrap();
    let _ = std::fs::remove_file(&out);
    let status = Command::new("makedumpfile")
        .arg("--dump-dmesg")
        .arg(&vmcore)
        .arg(&out)
        .output()
        .unwrap();
    if !Path::new(&out).exists() {
        panic!(
            "makedumpfile failed: {}\n{}",
            String::from_utf8_lossy(&status.stdout),
            String::from_utf8_lossy(&status.stderr)
        );
    }
    let theirs = std::fs::read(&out).unwrap();
    let log = read(&w.mem, &info).unwrap();
    let mut ours = Vec::new();
    write_log(&log, &RenderOptions::makedumpfile(version, &log), &mut ours).unwrap();
    // Keep the synthetic vmcore for manual runs of the example reader.
    if let Some(keep) = std::env::var_os("KMSG_KEEP_VMCORE") {
        let _ = std::fs::copy(&vmcore, keep);
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        String::from_utf8_lossy(&ours),
        String::from_utf8_lossy(&theirs)
    );
    assert_eq!(ours, theirs);
    let text = String::from_utf8_lossy(&theirs);
    assert!(
        text.lines().count() > 50 && text.contains("caf\\xffffffc3"),
        "{text}"
    );
}
