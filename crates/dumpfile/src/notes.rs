//! ELF notes: iteration, VMCOREINFO, per-CPU registers.
//!
//! Notes come from the merged `PT_NOTE` of an ELF vmcore or from the copy of
//! the note segment in a kdump-compressed sub-header. Each is a 12-byte
//! header `{namesz, descsz, type}`, the NUL-terminated name and the
//! descriptor, both padded to 4 bytes; an all-zero header ends the list.

use crate::endian::Endian;
use crate::vmcoreinfo::VmcoreInfo;

/// `NT_PRSTATUS`: registers of a CPU at crash time.
pub const NT_PRSTATUS: u32 = 1;
/// `EM_X86_64`.
pub const EM_X86_64: u16 = 62;
/// `EM_AARCH64`.
pub const EM_AARCH64: u16 = 183;

/// One note, borrowed from the dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note<'a> {
    /// Name without its trailing NUL bytes (`b"CORE"`, `b"VMCOREINFO"`...).
    pub name: &'a [u8],
    /// `n_type`.
    pub ntype: u32,
    /// The descriptor bytes.
    pub desc: &'a [u8],
    /// Offset of the note header within the note data.
    pub offset: usize,
}

/// Iterator over the notes of a note segment. Stops at the end marker, at
/// the end of the data, or at the first malformed header (see
/// [`NoteIter::problem`]).
#[derive(Clone, Debug)]
pub struct NoteIter<'a> {
    data: &'a [u8],
    pos: usize,
    endian: Endian,
    problem: Option<String>,
    done: bool,
}

impl<'a> NoteIter<'a> {
    /// Iterate the notes in `data` (integers in `endian` order).
    pub fn new(data: &'a [u8], endian: Endian) -> NoteIter<'a> {
        NoteIter {
            data,
            pos: 0,
            endian,
            problem: None,
            done: false,
        }
    }

    /// Why iteration stopped early, if it did.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }

    fn fail(&mut self, why: String) -> Option<Note<'a>> {
        self.problem = Some(why);
        self.done = true;
        None
    }
}

fn pad4(n: usize) -> Option<usize> {
    n.checked_add(3).map(|v| v & !3)
}

impl<'a> Iterator for NoteIter<'a> {
    type Item = Note<'a>;

    fn next(&mut self) -> Option<Note<'a>> {
        if self.done {
            return None;
        }
        let at = self.pos;
        let e = self.endian;
        let hdr = (
            e.u32(self.data, at),
            e.u32(self.data, at + 4),
            e.u32(self.data, at + 8),
        );
        let (Some(namesz), Some(descsz), Some(ntype)) = hdr else {
            self.done = true;
            // Fewer than 12 bytes left: padding at the end of the segment is
            // normal when it is all zero.
            let rest = self.data.get(at..).unwrap_or(&[]);
            if rest.iter().any(|&b| b != 0) {
                return self.fail(format!("note at offset {at:#x}: header cut short"));
            }
            return None;
        };
        if namesz == 0 && descsz == 0 && ntype == 0 {
            self.done = true;
            return None;
        }
        if namesz == 0 {
            // The kernel ends its merged list at the first empty name too.
            self.done = true;
            return None;
        }
        let name_start = at + 12;
        let layout = (|| {
            let name_end = name_start.checked_add(namesz as usize)?;
            let desc_start = name_start.checked_add(pad4(namesz as usize)?)?;
            let desc_end = desc_start.checked_add(descsz as usize)?;
            let next = desc_start.checked_add(pad4(descsz as usize)?)?;
            Some((name_end, desc_start, desc_end, next))
        })();
        let Some((name_end, desc_start, desc_end, next)) = layout else {
            return self.fail(format!("note at offset {at:#x}: sizes overflow"));
        };
        if desc_end > self.data.len() {
            return self.fail(format!(
                "note at offset {at:#x}: namesz {namesz} + descsz {descsz} run past the note data ({} bytes)",
                self.data.len()
            ));
        }
        let mut name = &self.data[name_start..name_end];
        while let [rest @ .., 0] = name {
            name = rest;
        }
        self.pos = next.min(self.data.len());
        Some(Note {
            name,
            ntype,
            desc: &self.data[desc_start..desc_end],
            offset: at,
        })
    }
}

/// x86_64 general registers from `NT_PRSTATUS` (`user_regs_struct` order).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[allow(missing_docs)] // the register names are their own documentation
pub struct X86_64Regs {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub rbp: u64,
    pub rbx: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rax: u64,
    pub rcx: u64,
    pub rdx: u64,
    pub rsi: u64,
    pub rdi: u64,
    pub orig_rax: u64,
    pub rip: u64,
    pub cs: u64,
    pub eflags: u64,
    pub rsp: u64,
    pub ss: u64,
    pub fs_base: u64,
    pub gs_base: u64,
    pub ds: u64,
    pub es: u64,
    pub fs: u64,
    pub gs: u64,
}

/// Register names of x86_64 `user_regs_struct`, in order.
pub const X86_64_REG_NAMES: [&str; 27] = [
    "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10", "r9", "r8", "rax", "rcx", "rdx", "rsi",
    "rdi", "orig_rax", "rip", "cs", "eflags", "rsp", "ss", "fs_base", "gs_base", "ds", "es", "fs",
    "gs",
];

impl X86_64Regs {
    fn from_raw(r: &[u64]) -> Option<X86_64Regs> {
        let r: &[u64; 27] = r.get(..27)?.try_into().ok()?;
        Some(X86_64Regs {
            r15: r[0],
            r14: r[1],
            r13: r[2],
            r12: r[3],
            rbp: r[4],
            rbx: r[5],
            r11: r[6],
            r10: r[7],
            r9: r[8],
            r8: r[9],
            rax: r[10],
            rcx: r[11],
            rdx: r[12],
            rsi: r[13],
            rdi: r[14],
            orig_rax: r[15],
            rip: r[16],
            cs: r[17],
            eflags: r[18],
            rsp: r[19],
            ss: r[20],
            fs_base: r[21],
            gs_base: r[22],
            ds: r[23],
            es: r[24],
            fs: r[25],
            gs: r[26],
        })
    }
}

/// Control state from a QEMU `"QEMU"` note (`QEMUCPUState`, x86 only).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct QemuCpuState {
    /// `QEMUCPUState.version`.
    pub version: u32,
    /// CR0.
    pub cr0: u64,
    /// CR2 (last page-fault address).
    pub cr2: u64,
    /// CR3: physical address of the page-table root (useful without VMCOREINFO).
    pub cr3: u64,
    /// CR4.
    pub cr4: u64,
    /// GDT base (virtual).
    pub gdt_base: u64,
    /// IDT base (virtual; locates the kernel under KASLR).
    pub idt_base: u64,
    /// `MSR_KERNEL_GS_BASE`, when the note is new enough to carry it.
    pub kernel_gs_base: Option<u64>,
}

// Offsets in QEMUCPUState: 8-byte header, 18 u64 (16 GPRs, rip, rflags),
// 10 segment records of 24 bytes (cs ds es fs gs ss ldt tr gdt idt), cr[5].
const QEMU_SEGS: usize = 8 + 18 * 8;
const QEMU_SEG_SIZE: usize = 24;
const QEMU_CR: usize = QEMU_SEGS + 10 * QEMU_SEG_SIZE;
const QEMU_KGS: usize = QEMU_CR + 5 * 8;

impl QemuCpuState {
    /// Parse a `QEMUCPUState` descriptor; `None` when too short.
    pub fn parse(desc: &[u8], e: Endian) -> Option<QemuCpuState> {
        let size = e.u32(desc, 4)? as usize;
        let seg_base = |i: usize| e.u64(desc, QEMU_SEGS + i * QEMU_SEG_SIZE + 16);
        Some(QemuCpuState {
            version: e.u32(desc, 0)?,
            cr0: e.u64(desc, QEMU_CR)?,
            cr2: e.u64(desc, QEMU_CR + 16)?,
            cr3: e.u64(desc, QEMU_CR + 24)?,
            cr4: e.u64(desc, QEMU_CR + 32)?,
            gdt_base: seg_base(8)?,
            idt_base: seg_base(9)?,
            kernel_gs_base: if size >= QEMU_KGS + 8 {
                e.u64(desc, QEMU_KGS)
            } else {
                None
            },
        })
    }
}

/// One CPU's state at crash time, from an `NT_PRSTATUS` note.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CpuState {
    /// Position among the `NT_PRSTATUS` notes (not necessarily the CPU id).
    pub index: usize,
    /// `pr_pid`: the task that was running on this CPU (0 = idle).
    pub pid: i32,
    /// `pr_reg` as raw words, in the architecture's `user_regs_struct` order.
    pub raw_regs: Vec<u64>,
    /// Named registers, when the architecture is x86_64.
    pub x86_64: Option<X86_64Regs>,
    /// State from the matching QEMU note (QEMU dumps only).
    pub qemu: Option<QemuCpuState>,
}

// 64-bit `struct elf_prstatus`: pr_pid at 32, pr_reg at 112, and pr_reg is
// followed by the int `pr_fpvalid` padded to 8.
const PRSTATUS64_PID: usize = 32;
const PRSTATUS64_REG: usize = 112;
const PRSTATUS64_TAIL: usize = 8;
// 32-bit (i386, arm): pr_pid at 24, pr_reg at 72, 4-byte words.
const PRSTATUS32_PID: usize = 24;
const PRSTATUS32_REG: usize = 72;
const PRSTATUS32_TAIL: usize = 4;

impl CpuState {
    /// Parse an `NT_PRSTATUS` descriptor. `wide` selects the 64-bit layout;
    /// `machine` is the ELF machine (for named registers).
    pub fn parse(desc: &[u8], e: Endian, wide: bool, machine: Option<u16>) -> Option<CpuState> {
        let (pid_off, reg_off, tail, word) = if wide {
            (PRSTATUS64_PID, PRSTATUS64_REG, PRSTATUS64_TAIL, 8)
        } else {
            (PRSTATUS32_PID, PRSTATUS32_REG, PRSTATUS32_TAIL, 4)
        };
        let pid = e.u32(desc, pid_off)? as i32;
        let regs_len = desc.len().checked_sub(reg_off + tail)?;
        let raw_regs: Vec<u64> = (0..regs_len / word)
            .filter_map(|i| e.word(desc, reg_off + i * word, wide))
            .collect();
        let x86_64 = if machine == Some(EM_X86_64) && wide {
            X86_64Regs::from_raw(&raw_regs)
        } else {
            None
        };
        Some(CpuState {
            index: 0,
            pid,
            raw_regs,
            x86_64,
            qemu: None,
        })
    }

    /// A register by name (x86_64 names such as `"rip"`, `"rsp"`, `"cs"`).
    pub fn reg(&self, name: &str) -> Option<u64> {
        self.x86_64?;
        let i = X86_64_REG_NAMES.iter().position(|&n| n == name)?;
        self.raw_regs.get(i).copied()
    }

    /// Instruction pointer, when known.
    pub fn pc(&self) -> Option<u64> {
        self.reg("rip")
    }

    /// Stack pointer, when known.
    pub fn sp(&self) -> Option<u64> {
        self.reg("rsp")
    }
}

/// What the notes of a dump say.
#[derive(Clone, Debug, Default)]
pub(crate) struct NoteSummary {
    pub vmcoreinfo: Option<VmcoreInfo>,
    pub cpus: Vec<CpuState>,
    pub qemu_notes: usize,
    pub count: usize,
}

/// Walk the notes and collect VMCOREINFO and CPU states, reporting anything
/// skipped into `warnings`.
pub(crate) fn summarize(
    data: &[u8],
    e: Endian,
    wide: bool,
    machine: Option<u16>,
    warnings: &mut Vec<String>,
) -> NoteSummary {
    let mut s = NoteSummary::default();
    let mut qemu_states = Vec::new();
    let mut it = NoteIter::new(data, e);
    for note in it.by_ref() {
        s.count += 1;
        match (note.name, note.ntype) {
            (b"CORE", NT_PRSTATUS) => match CpuState::parse(note.desc, e, wide, machine) {
                Some(mut cpu) => {
                    cpu.index = s.cpus.len();
                    s.cpus.push(cpu);
                }
                None => warnings.push(format!(
                    "NT_PRSTATUS note at note offset {:#x}: descriptor too short ({} bytes); skipped",
                    note.offset,
                    note.desc.len()
                )),
            },
            (b"VMCOREINFO", _) => {
                let info = VmcoreInfo::parse(note.desc);
                if info.is_empty() {
                    warnings.push(format!(
                        "VMCOREINFO note at note offset {:#x} holds no KEY=VALUE line; skipped",
                        note.offset
                    ));
                } else if s.vmcoreinfo.is_some() {
                    warnings.push(format!(
                        "second VMCOREINFO note at note offset {:#x} ignored",
                        note.offset
                    ));
                } else {
                    if !info.bad_lines().is_empty() {
                        warnings.push(format!(
                            "VMCOREINFO: {} malformed line(s) skipped",
                            info.bad_lines().len()
                        ));
                    }
                    s.vmcoreinfo = Some(info);
                }
            }
            (b"QEMU", _) => {
                s.qemu_notes += 1;
                qemu_states.push(QemuCpuState::parse(note.desc, e));
            }
            _ => {}
        }
    }
    if let Some(p) = it.problem() {
        warnings.push(format!("notes: {p}; later notes ignored"));
    }
    // QEMU writes one QEMU note per vCPU in the same order as NT_PRSTATUS.
    for (cpu, q) in s.cpus.iter_mut().zip(&qemu_states) {
        cpu.qemu = *q;
    }
    if qemu_states.len() > s.cpus.len() {
        warnings.push(format!(
            "{} QEMU CPU notes but {} NT_PRSTATUS notes; extra QEMU notes ignored",
            qemu_states.len(),
            s.cpus.len()
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{note, prstatus_x86_64, qemu_note_desc};

    #[test]
    fn iterates_and_summarizes() {
        let mut data = Vec::new();
        data.extend(note(
            b"CORE",
            NT_PRSTATUS,
            &prstatus_x86_64(42, 0xffffffff81000000, 0xffffc900000f0000),
        ));
        data.extend(note(b"QEMU", 0, &qemu_note_desc(0x1234000)));
        data.extend(note(b"VMCOREINFO", 0, b"OSRELEASE=6.1.0\nPAGESIZE=4096\n"));
        data.extend(note(b"CORE", NT_PRSTATUS, &[0u8; 20])); // too short
        data.extend([0u8; 12]);
        let mut w = Vec::new();
        let s = summarize(&data, Endian::Little, true, Some(EM_X86_64), &mut w);
        assert_eq!(s.count, 4);
        assert_eq!(s.cpus.len(), 1);
        assert_eq!(s.cpus[0].pid, 42);
        assert_eq!(s.cpus[0].pc(), Some(0xffffffff81000000));
        assert_eq!(s.cpus[0].sp(), Some(0xffffc900000f0000));
        assert_eq!(s.cpus[0].x86_64.unwrap().rip, 0xffffffff81000000);
        assert_eq!(s.cpus[0].raw_regs.len(), 27);
        assert_eq!(s.cpus[0].qemu.unwrap().cr3, 0x1234000);
        assert_eq!(s.vmcoreinfo.unwrap().osrelease(), Some("6.1.0"));
        assert_eq!(w.len(), 1, "{w:?}");
    }

    #[test]
    fn garbage_notes_stop_with_problem() {
        let mut data = note(b"CORE", NT_PRSTATUS, &prstatus_x86_64(1, 2, 3));
        data.extend([5, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 1, 0, 0, 0]);
        let mut it = NoteIter::new(&data, Endian::Little);
        assert_eq!(it.by_ref().count(), 1);
        assert!(it.problem().is_some());
        for cut in 0..data.len() {
            let mut w = Vec::new();
            let _ = summarize(&data[..cut], Endian::Little, true, Some(EM_X86_64), &mut w);
        }
    }
}
