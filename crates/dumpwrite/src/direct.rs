//! Zero-copy page access for mapped ELF sources.
//!
//! The second pass reads every selected page once (at `-d 1`, every RAM
//! page, to find the zero ones). Going through `PhysicalMemory::read_pfn`
//! copies each page out of the mapping first; for an ELF source that is
//! mapped (`Dump::open`), the page can instead be looked at where it lies.
//! This resolves physical pages to file offsets from the `PT_LOAD` headers
//! and hands out slices of the mapping, for pages that lie wholly inside the
//! file-backed part of one segment; anything else (holes, partial pages,
//! filtered tails, kdump-compressed or `pread` sources) returns `None` and
//! the caller takes the copying path.
//!
//! It must pick the same bytes as `dumpfile`'s ELF reader: where segments
//! overlap, that reader lets x86_64 kernel-text segments (virtual address at
//! or above `__START_KERNEL_map`) fill only what the RAM segments leave, and
//! the first RAM segment in header order win. So text segments are ignored
//! here, and if two RAM segments overlap, the fast path is off altogether.

use dumpfile::{ByteSource, Dump};

const PT_LOAD: u32 = 1;
const EM_X86_64: u16 = 62;
const START_KERNEL_MAP: u64 = 0xffff_ffff_8000_0000;
/// More program headers than this: not worth it (and not a kernel dump).
const MAX_PHDRS: u64 = 1 << 16;

/// A RAM segment: physical `[start, start + file_len)` is at file `offset`.
#[derive(Clone, Copy, Debug)]
struct Load {
    start: u64,
    /// Physical end of the whole segment (`p_paddr + p_memsz`).
    end: u64,
    /// Physical end of the file-backed part.
    file_end: u64,
    offset: u64,
}

/// Physical page → slice of a mapped ELF source.
#[derive(Debug)]
pub(crate) struct DirectPages<'a> {
    src: &'a ByteSource,
    loads: Vec<Load>,
    page_size: u64,
}

impl<'a> DirectPages<'a> {
    /// Set up for `dump`, or `None` when its pages cannot be looked at in
    /// place (not ELF, not mapped, unusual segment layout).
    pub(crate) fn new(dump: &'a Dump) -> Option<DirectPages<'a>> {
        let src = dump.source();
        if dump.kdump_header().is_some() || !src.is_in_memory() || src.is_flattened() {
            return None;
        }
        let machine = dump.elf_machine()?;
        let ps = dump.memory().page_size();
        let mut eh = [0u8; 64];
        src.read_at(0, &mut eh).ok()?;
        // ELF64 little-endian only, like the writers' header parsing.
        if &eh[..4] != b"\x7fELF" || eh[4] != 2 || eh[5] != 1 {
            return None;
        }
        let u64at =
            |b: &[u8], o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap_or([0; 8]));
        let phoff = u64at(&eh, 32);
        let phentsize = u64::from(u16::from_le_bytes([eh[54], eh[55]]));
        let phnum = u64::from(u16::from_le_bytes([eh[56], eh[57]]));
        // PN_XNUM (the real count is in section header 0): leave it to
        // the copying path rather than parse another layout here.
        if phentsize < 56 || phnum > MAX_PHDRS || phnum == 0xffff {
            return None;
        }
        let mut loads = Vec::new();
        let mut ph = [0u8; 56];
        for i in 0..phnum {
            src.read_at(phoff.checked_add(i.checked_mul(phentsize)?)?, &mut ph)
                .ok()?;
            if u32::from_le_bytes([ph[0], ph[1], ph[2], ph[3]]) != PT_LOAD {
                continue;
            }
            let (offset, vaddr, paddr) = (u64at(&ph, 8), u64at(&ph, 16), u64at(&ph, 24));
            let (filesz, memsz) = (u64at(&ph, 32), u64at(&ph, 40));
            if machine == EM_X86_64 && vaddr >= START_KERNEL_MAP {
                continue;
            }
            let end = paddr.checked_add(memsz)?;
            offset.checked_add(memsz)?;
            loads.push(Load {
                start: paddr,
                end,
                file_end: paddr + filesz.min(memsz),
                offset,
            });
        }
        loads.sort_by_key(|l| l.start);
        // Overlapping RAM segments: header order decides, which a sorted
        // table cannot express; leave those dumps to the copying path.
        if loads.windows(2).any(|w| w[1].start < w[0].end) {
            return None;
        }
        Some(DirectPages {
            src,
            loads,
            page_size: ps,
        })
    }

    /// The bytes of page frame `pfn`, when they lie in place in the file.
    #[inline]
    pub(crate) fn page(&self, pfn: u64) -> Option<&'a [u8]> {
        let start = pfn.checked_mul(self.page_size)?;
        let end = start.checked_add(self.page_size)?;
        let i = self.loads.partition_point(|l| l.end <= start);
        let l = self.loads.get(i)?;
        if l.start > start || end > l.file_end {
            return None;
        }
        self.src
            .slice(l.offset + (start - l.start), self.page_size as usize)
    }

    /// Where in the file the data of frame `pfn` begins, or for a frame
    /// with no data in the file, where the data of the next frames begins
    /// (the end of the last segment's data past them all). Monotonic in
    /// `pfn` when the segments lie in the file in address order, as the
    /// kernel and QEMU write them.
    pub(crate) fn file_offset(&self, pfn: u64) -> u64 {
        let addr = pfn.saturating_mul(self.page_size);
        let i = self.loads.partition_point(|l| l.file_end <= addr);
        match self.loads.get(i) {
            Some(l) => l.offset + addr.saturating_sub(l.start),
            None => self
                .loads
                .last()
                .map_or(0, |l| l.offset + (l.file_end - l.start)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dumpfile::testutil::{kernel_notes, test_page, ElfBuilder, ElfSegment};

    const PS: usize = 4096;

    fn seg(paddr: u64, vaddr: u64, pages: u64, filled: u64, salt: u8) -> ElfSegment {
        let mut data = Vec::new();
        for i in 0..filled {
            let mut p = test_page(paddr / PS as u64 + i, PS);
            p[0] ^= salt;
            data.extend_from_slice(&p);
        }
        ElfSegment {
            paddr,
            vaddr,
            memsz: pages * PS as u64,
            data,
        }
    }

    /// Every page the fast path hands out equals what `dumpfile` reads,
    /// on a layout with a kernel-text alias holding different bytes, a
    /// segment not page-aligned, and a filtered tail.
    fn check(builder: ElfBuilder, expect_direct: bool) {
        let dump = Dump::from_bytes(builder.build()).unwrap();
        let direct = DirectPages::new(&dump);
        assert_eq!(direct.is_some(), expect_direct);
        let Some(direct) = direct else { return };
        let mem = dump.memory();
        let mut buf = vec![0u8; PS];
        let raw = dump.source().raw().as_ptr() as u64;
        let (mut hits, mut misses) = (0, 0);
        let mut last_offset = 0;
        for pfn in 0..mem.max_pfn() + 2 {
            // `file_offset` never goes back, and points at the page where
            // it lies in place (the releaser relies on both).
            let offset = direct.file_offset(pfn);
            assert!(
                offset >= last_offset,
                "pfn {pfn:#x}: {offset} < {last_offset}"
            );
            last_offset = offset;
            match direct.page(pfn) {
                Some(p) => {
                    mem.read_pfn(pfn, &mut buf).unwrap();
                    assert!(p == &buf[..], "pfn {pfn:#x}");
                    assert_eq!(p.as_ptr() as u64 - raw, offset, "pfn {pfn:#x}");
                    hits += 1;
                }
                None => misses += 1,
            }
        }
        assert_eq!(
            last_offset,
            dump.source().raw().len() as u64,
            "past the end"
        );
        assert!(
            hits > 0x20 && misses > 0,
            "{hits} in place, {misses} copied"
        );
    }

    fn layout() -> ElfBuilder {
        ElfBuilder {
            notes: kernel_notes(1, "OSRELEASE=6.1.0-test\nPAGESIZE=4096\n"),
            segments: vec![
                // Kernel text aliasing RAM at pfns 0x10..0x18, other bytes.
                seg(0x10 * PS as u64, START_KERNEL_MAP, 8, 8, 0x55),
                seg(0x10 * PS as u64, 0xffff_8880_0001_0000, 0x30, 0x30, 0),
                // Starts mid-page; its last 4 pages have no file data.
                seg(
                    0x100 * PS as u64 + 512,
                    0xffff_8880_0010_0200,
                    0x20,
                    0x1c,
                    0,
                ),
            ],
            ..Default::default()
        }
    }

    #[test]
    fn in_place_pages_equal_the_reader() {
        check(layout(), true);
        let mut aligned = layout();
        aligned.page_align = true;
        check(aligned, true);
    }

    #[test]
    fn unusual_layouts_take_the_copying_path() {
        let mut xnum = layout();
        xnum.pn_xnum = true;
        check(xnum, false);
        // Two RAM segments overlapping: header order decides, not here.
        let mut overlap = layout();
        overlap
            .segments
            .push(seg(0x20 * PS as u64, 0xffff_8880_0002_0000, 4, 4, 0x77));
        check(overlap, false);
    }
}
