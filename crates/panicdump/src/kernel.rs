//! Glue: open a dump and reach the dumped kernel through the library layers
//! (dumpfile → addrxlat → kmsg, kallsyms).

use anyhow::{Context, Result};
use dumpfile::{Dump, Utsname};
use std::path::Path;

/// Open a dump file, with the path in every error.
pub fn open_dump(path: &Path) -> Result<Dump> {
    Dump::open(path).with_context(|| format!("cannot read dump {}", path.display()))
}

/// What the dump reader knows about the kernel's layout.
pub fn hints(dump: &Dump) -> addrxlat::Hints {
    addrxlat::Hints {
        direct_map_base: dump.direct_map_offset(),
        elf_machine: dump.elf_machine(),
        ..Default::default()
    }
}

/// Build the kernel-memory handle, or say why it is impossible.
pub fn kernel_memory(dump: &Dump) -> Result<addrxlat::KernelMemory<'_>> {
    let info = dump.vmcoreinfo().context(
        "the dump has no VMCOREINFO note, so the kernel's structures cannot be located \
         (QEMU dumps need `-device vmcoreinfo`; kernels older than 2.6.24 do not export it)",
    )?;
    addrxlat::KernelMemory::from_vmcoreinfo(dump.memory(), info, &hints(dump))
        .context("cannot set up kernel address translation from VMCOREINFO")
}

/// The kernel's symbol table, when the kernel exports it (6.0+).
pub fn kallsyms(kmem: &addrxlat::KernelMemory<'_>) -> Result<kallsyms::Kallsyms, kallsyms::Error> {
    kallsyms::Kallsyms::read(kmem.info(), &|va, buf| {
        kmem.read_virt(va, buf).map_err(|e| e.to_string())
    })
}

/// Read `init_uts_ns.name` through VMCOREINFO.
pub fn utsname(kmem: &addrxlat::KernelMemory<'_>) -> Option<Utsname> {
    let base = kmem.symbol("init_uts_ns").ok()? + kmem.info().offset("uts_namespace.name")?;
    let mut raw = [0u8; 65 * 6];
    kmem.read_virt(base, &mut raw).ok()?;
    let field = |i: usize| {
        let f = &raw[i * 65..(i + 1) * 65];
        let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
        String::from_utf8_lossy(&f[..end]).into_owned()
    };
    Some(Utsname {
        sysname: field(0),
        nodename: field(1),
        release: field(2),
        version: field(3),
        machine: field(4),
        domainname: field(5),
    })
}

/// The utsname for a dump header: the source's (kdump header or
/// VMCOREINFO), replaced by the kernel's own `init_uts_ns` when readable.
pub fn header_utsname(dump: &Dump, kmem: Option<&addrxlat::KernelMemory<'_>>) -> Utsname {
    let mut uts = dumpwrite::source_utsname(dump);
    if let Some(u) = kmem.and_then(utsname) {
        uts.sysname = u.sysname;
        uts.nodename = u.nodename;
        uts.release = u.release;
        uts.version = u.version;
        uts.machine = u.machine;
        if uts.domainname.is_empty() {
            uts.domainname = "(none)".into();
        }
    }
    uts
}

/// The `struct page` filter a dump level needs, or `None` for levels whose
/// decisions need no kernel structures (0 and 1: zero pages are found from
/// page contents).
pub fn struct_page_filter<'a>(
    kmem: &'a Result<addrxlat::KernelMemory<'a>>,
    level: u8,
) -> Result<Option<dumpwrite::StructPageFilter<'a>>> {
    if !dumpwrite::DumpLevel::new(level)?.needs_page_filter() {
        return Ok(None);
    }
    let k = kmem.as_ref().map_err(|e| {
        anyhow::anyhow!("dump level {level} needs the kernel's struct pages: {e:#}")
    })?;
    Ok(Some(dumpwrite::StructPageFilter::new(k, level)?))
}
