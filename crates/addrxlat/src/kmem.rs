//! [`KernelMemory`]: read kernel virtual memory of a dumped machine.

use crate::{Arch, Error, Hints, Translate, Translation};
use dumpfile::{PhysicalMemory, VmcoreInfo};
use std::cell::Cell;

/// Number of cached translations. Readers usually stream through one or two
/// areas at a time (a descriptor array and a text ring), so a handful of
/// entries avoids nearly every page walk.
const CACHE_WAYS: usize = 4;

/// One cached virtual region `[va, va + size)` mapped to `[pa, pa + size)`;
/// `size == 0` marks an empty slot.
#[derive(Clone, Copy, Debug, Default)]
struct CacheEntry {
    va: u64,
    pa: u64,
    size: u64,
}

/// A dumped kernel's memory: physical memory, a translator and VMCOREINFO.
///
/// Not `Sync` (the translation cache uses interior mutability); create one
/// per thread, they are cheap.
pub struct KernelMemory<'a> {
    phys: &'a dyn PhysicalMemory,
    info: &'a VmcoreInfo,
    xlat: Box<dyn Translate + 'a>,
    cache: Cell<[CacheEntry; CACHE_WAYS]>,
    victim: Cell<usize>,
}

impl<'a> KernelMemory<'a> {
    /// Combine physical memory, VMCOREINFO and an explicit translator.
    pub fn new(
        phys: &'a dyn PhysicalMemory,
        info: &'a VmcoreInfo,
        xlat: impl Translate + 'a,
    ) -> KernelMemory<'a> {
        KernelMemory {
            phys,
            info,
            xlat: Box::new(xlat),
            cache: Cell::new([CacheEntry::default(); CACHE_WAYS]),
            victim: Cell::new(0),
        }
    }

    /// Detect the architecture from VMCOREINFO (and hints) and build the
    /// matching translator.
    pub fn from_vmcoreinfo(
        phys: &'a dyn PhysicalMemory,
        info: &'a VmcoreInfo,
        hints: &Hints,
    ) -> Result<KernelMemory<'a>, Error> {
        Ok(KernelMemory::new(phys, info, Arch::detect(info, hints)?))
    }

    /// The physical memory underneath.
    pub fn phys(&self) -> &'a dyn PhysicalMemory {
        self.phys
    }

    /// The kernel's VMCOREINFO.
    pub fn info(&self) -> &'a VmcoreInfo {
        self.info
    }

    /// Translate `va` to a physical address (cached).
    pub fn translate(&self, va: u64) -> Result<u64, Error> {
        Ok(self.region(va)?.pa)
    }

    /// The cached-or-fresh mapping region containing `va`, returned as an
    /// entry whose `va` field is `va` itself and whose `size` is the number
    /// of bytes mapped contiguously from there.
    fn region(&self, va: u64) -> Result<CacheEntry, Error> {
        let cache = self.cache.get();
        for e in cache.iter() {
            if e.size != 0 && va >= e.va && va - e.va < e.size {
                let off = va - e.va;
                return Ok(CacheEntry {
                    va,
                    pa: e.pa.wrapping_add(off),
                    size: e.size - off,
                });
            }
        }
        let Translation { phys, page_size } = self.xlat.translate(self.phys, va)?;
        // A translator reporting a non power of two would break the
        // alignment math; treat it as the smallest page.
        let size = if page_size.is_power_of_two() {
            page_size
        } else {
            1
        };
        let off = va & (size - 1);
        let entry = CacheEntry {
            va: va - off,
            pa: phys.wrapping_sub(off),
            size,
        };
        let mut cache = cache;
        let slot = self.victim.get();
        cache[slot] = entry;
        self.cache.set(cache);
        self.victim.set((slot + 1) % CACHE_WAYS);
        Ok(CacheEntry {
            va,
            pa: phys,
            size: size - off,
        })
    }

    /// Fill `buf` with the kernel virtual memory at `va`; the read may cross
    /// pages mapped to unrelated physical frames.
    pub fn read_virt(&self, va: u64, buf: &mut [u8]) -> Result<(), Error> {
        if buf.is_empty() {
            return Ok(());
        }
        if va.checked_add(buf.len() as u64 - 1).is_none() {
            return Err(Error::Overflow { va, len: buf.len() });
        }
        let mut done = 0usize;
        while done < buf.len() {
            let cur = va + done as u64;
            let r = self.region(cur)?;
            let n = (buf.len() - done).min(usize::try_from(r.size).unwrap_or(usize::MAX));
            self.phys
                .read_phys(r.pa, &mut buf[done..done + n])
                .map_err(|source| Error::Read {
                    va: cur + source.addr().saturating_sub(r.pa),
                    source,
                })?;
            done += n;
        }
        Ok(())
    }

    /// Read `N` bytes at `va`.
    pub fn read_array<const N: usize>(&self, va: u64) -> Result<[u8; N], Error> {
        let mut b = [0u8; N];
        self.read_virt(va, &mut b)?;
        Ok(b)
    }

    /// Read a byte.
    pub fn read_u8(&self, va: u64) -> Result<u8, Error> {
        Ok(self.read_array::<1>(va)?[0])
    }

    /// Read a little-endian `u16`.
    pub fn read_u16(&self, va: u64) -> Result<u16, Error> {
        Ok(u16::from_le_bytes(self.read_array(va)?))
    }

    /// Read a little-endian `u32`.
    pub fn read_u32(&self, va: u64) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.read_array(va)?))
    }

    /// Read a little-endian `u64`.
    pub fn read_u64(&self, va: u64) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.read_array(va)?))
    }

    /// `SYMBOL(name)` from VMCOREINFO; the error names the missing key.
    pub fn symbol(&self, name: &str) -> Result<u64, Error> {
        self.info.symbol(name).ok_or_else(|| Error::MissingKey {
            key: format!("SYMBOL({name})"),
            purpose: "a symbol lookup",
        })
    }
}

impl std::fmt::Debug for KernelMemory<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KernelMemory")
            .field("page_size", &self.phys.page_size())
            .finish_non_exhaustive()
    }
}
