//! The kernel's own symbol table, read from a crash dump without a vmlinux.
//!
//! Since Linux 6.0 VMCOREINFO exports the location of the compressed kallsyms
//! tables (`SYMBOL(kallsyms_names)`, `kallsyms_token_table`, ...). Decoding
//! them gives every symbol's name and address, which is enough to turn a
//! register value into `function+0x12/0x40` and to find variables such as
//! `panic_cpu` by name. The tables are read through a caller-supplied
//! kernel-virtual reader, so this crate knows nothing of dump formats or page
//! tables.
//!
//! Formats handled (see the kernel's `kernel/kallsyms.c` and
//! `scripts/kallsyms.c` for the writer):
//! - names: a length (one byte, or two when bit 7 is set, "big symbols"
//!   since 6.1) then that many token indices; tokens expand through
//!   `kallsyms_token_index`/`kallsyms_token_table`; the first character is
//!   the `nm` type letter;
//! - addresses: `kallsyms_addresses` (absolute), or `kallsyms_offsets` (s32)
//!   relative to `kallsyms_relative_base`, with the absolute-percpu variant
//!   used by x86_64 SMP kernels before 6.15, or place-relative (7.0+). The
//!   variant is chosen by which one maps the `_stext` entry to
//!   `SYMBOL(_stext)`.

use dumpfile::VmcoreInfo;

/// Hard cap on the symbol count we accept: real kernels have ~200k.
const MAX_SYMS: u64 = 4_000_000;
/// Hard cap on a decoded name's length (KSYM_NAME_LEN is 512 since 6.1).
const MAX_NAME: usize = 1024;
/// Bytes read per chunk when streaming `kallsyms_names`.
const CHUNK: usize = 64 * 1024;

/// Why the symbol table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// VMCOREINFO lacks a key kallsyms needs (kernels before 6.0 do not
    /// export them).
    #[error("VMCOREINFO has no {0} (kallsyms keys exist since Linux 6.0)")]
    MissingKey(&'static str),
    /// Reading kernel memory failed.
    #[error("reading {what} at {addr:#x}: {reason}")]
    Read {
        /// Which table was being read.
        what: &'static str,
        /// The virtual address.
        addr: u64,
        /// The reader's error message.
        reason: String,
    },
    /// The tables are inconsistent (damaged memory or an unknown layout).
    #[error("kallsyms tables are inconsistent: {0}")]
    Corrupt(String),
}

/// One kernel symbol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// Its address (KASLR applied: as in the running kernel).
    pub addr: u64,
    /// `nm`-style type letter (`T` global text, `t` local text, `D`, `b`...).
    pub kind: char,
    /// Its name.
    pub name: String,
}

impl Symbol {
    /// True for text (code) symbols.
    pub fn is_text(&self) -> bool {
        matches!(self.kind, 't' | 'T' | 'w' | 'W')
    }
}

/// A symbolized address: `name+offset/size`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Location<'a> {
    /// The symbol containing the address.
    pub symbol: &'a Symbol,
    /// Offset of the address inside it.
    pub offset: u64,
    /// Distance to the next symbol (the kernel's notion of the size).
    pub size: u64,
}

impl std::fmt::Display for Location<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}+{:#x}/{:#x}",
            self.symbol.name, self.offset, self.size
        )
    }
}

/// The decoded table, sorted by address.
#[derive(Clone, Debug, Default)]
pub struct Kallsyms {
    syms: Vec<Symbol>,
}

/// Read `len` bytes of kernel virtual memory at `addr`.
pub type ReadVirt<'a> = dyn Fn(u64, &mut [u8]) -> Result<(), String> + 'a;

fn key(info: &VmcoreInfo, name: &'static str) -> Result<u64, Error> {
    info.symbol(name).ok_or(Error::MissingKey(name))
}

fn read(
    read_virt: &ReadVirt<'_>,
    what: &'static str,
    addr: u64,
    buf: &mut [u8],
) -> Result<(), Error> {
    read_virt(addr, buf).map_err(|reason| Error::Read { what, addr, reason })
}

/// How entries of `kallsyms_names` encode their length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LenRule {
    /// One byte (before 6.1).
    Short,
    /// One byte, or two when bit 7 is set (6.1+).
    Big,
}

/// The 256 token strings.
struct Tokens {
    table: Vec<Vec<u8>>,
}

impl Tokens {
    fn read(info: &VmcoreInfo, read_virt: &ReadVirt<'_>) -> Result<Tokens, Error> {
        let index_addr = key(info, "kallsyms_token_index")?;
        let table_addr = key(info, "kallsyms_token_table")?;
        let mut raw_index = [0u8; 512];
        read(
            read_virt,
            "kallsyms_token_index",
            index_addr,
            &mut raw_index,
        )?;
        let index: Vec<u16> = raw_index
            .chunks_exact(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        let max = *index.iter().max().unwrap_or(&0) as usize;
        // The last token starts at `max`; tokens are short, 256 bytes of
        // slack is far more than any real token.
        let mut raw_table = vec![0u8; max + 256];
        read(
            read_virt,
            "kallsyms_token_table",
            table_addr,
            &mut raw_table,
        )?;
        let mut table = Vec::with_capacity(256);
        for &start in &index {
            let start = start as usize;
            let rest = raw_table.get(start..).unwrap_or(&[]);
            let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
            table.push(rest[..end].to_vec());
        }
        Ok(Tokens { table })
    }
}

/// Streams `kallsyms_names` in chunks.
struct NameStream<'r, 'a> {
    read_virt: &'r ReadVirt<'a>,
    next_addr: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl NameStream<'_, '_> {
    fn byte(&mut self) -> Result<u8, Error> {
        if self.pos == self.buf.len() {
            self.buf.resize(CHUNK, 0);
            // Near the end of mapped memory a full chunk may fail: fall back
            // to smaller reads before giving up.
            let mut size = CHUNK;
            loop {
                match (self.read_virt)(self.next_addr, &mut self.buf[..size]) {
                    Ok(()) => break,
                    Err(reason) if size <= 64 => {
                        return Err(Error::Read {
                            what: "kallsyms_names",
                            addr: self.next_addr,
                            reason,
                        })
                    }
                    Err(_) => size /= 2,
                }
            }
            self.buf.truncate(size);
            self.next_addr += size as u64;
            self.pos = 0;
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        Ok(b)
    }
}

fn decode_names(
    info: &VmcoreInfo,
    read_virt: &ReadVirt<'_>,
    tokens: &Tokens,
    count: usize,
    rule: LenRule,
) -> Result<Vec<(char, String)>, Error> {
    let mut stream = NameStream {
        read_virt,
        next_addr: key(info, "kallsyms_names")?,
        buf: Vec::new(),
        pos: 0,
    };
    let mut out = Vec::with_capacity(count);
    let mut name = Vec::with_capacity(128);
    for i in 0..count {
        let mut len = stream.byte()? as usize;
        if rule == LenRule::Big && len & 0x80 != 0 {
            len = (len & 0x7f) | ((stream.byte()? as usize) << 7);
        }
        if len == 0 {
            return Err(Error::Corrupt(format!("symbol {i} has an empty name")));
        }
        name.clear();
        for _ in 0..len {
            let t = stream.byte()?;
            name.extend_from_slice(&tokens.table[t as usize]);
            if name.len() > MAX_NAME {
                return Err(Error::Corrupt(format!(
                    "symbol {i}: name longer than {MAX_NAME} bytes"
                )));
            }
        }
        let (&kind, rest) = name
            .split_first()
            .ok_or_else(|| Error::Corrupt(format!("symbol {i} decodes to nothing")))?;
        out.push((kind as char, String::from_utf8_lossy(rest).into_owned()));
    }
    Ok(out)
}

/// Share of names that look like real symbol names (type letter + identifier).
fn plausibility(names: &[(char, String)]) -> f64 {
    if names.is_empty() {
        return 0.0;
    }
    let good = names
        .iter()
        .filter(|(k, n)| {
            k.is_ascii_alphabetic()
                && !n.is_empty()
                && n.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.$".contains(&b))
        })
        .count();
    good as f64 / names.len() as f64
}

impl Kallsyms {
    /// Decode the kernel's symbol table.
    pub fn read(info: &VmcoreInfo, read_virt: &ReadVirt<'_>) -> Result<Kallsyms, Error> {
        let num_addr = key(info, "kallsyms_num_syms")?;
        let mut raw = [0u8; 4];
        read(read_virt, "kallsyms_num_syms", num_addr, &mut raw)?;
        let count = u32::from_le_bytes(raw) as u64;
        if count == 0 || count > MAX_SYMS {
            return Err(Error::Corrupt(format!("kallsyms_num_syms = {count}")));
        }
        let count = count as usize;
        let tokens = Tokens::read(info, read_virt)?;

        // Which length rule? Try the one the release suggests first, and keep
        // the other if it decodes clearly better (backports exist).
        let new_kernel = info
            .osrelease()
            .and_then(|r| {
                let mut it = r.split(|c: char| !c.is_ascii_digit());
                Some((
                    it.next()?.parse::<u32>().ok()?,
                    it.next()?.parse::<u32>().ok()?,
                ))
            })
            .is_some_and(|v| v >= (6, 1));
        let (first, second) = if new_kernel {
            (LenRule::Big, LenRule::Short)
        } else {
            (LenRule::Short, LenRule::Big)
        };
        let names = match decode_names(info, read_virt, &tokens, count, first) {
            Ok(n) if plausibility(&n) > 0.99 => n,
            first_result => {
                let alt = decode_names(info, read_virt, &tokens, count, second);
                match (first_result, alt) {
                    (Ok(a), Ok(b)) => {
                        if plausibility(&b) > plausibility(&a) {
                            b
                        } else {
                            a
                        }
                    }
                    (Ok(a), Err(_)) => a,
                    (Err(_), Ok(b)) => b,
                    (Err(e), Err(_)) => return Err(e),
                }
            }
        };

        let addrs = read_addresses(info, read_virt, &names)?;
        let mut syms: Vec<Symbol> = names
            .into_iter()
            .zip(addrs)
            .map(|((kind, name), addr)| Symbol { addr, kind, name })
            .collect();
        syms.sort_by(|a, b| a.addr.cmp(&b.addr).then_with(|| a.name.cmp(&b.name)));
        Ok(Kallsyms { syms })
    }

    /// Build a table from symbols (tests, or symbols from another source).
    pub fn from_symbols(mut syms: Vec<Symbol>) -> Kallsyms {
        syms.sort_by(|a, b| a.addr.cmp(&b.addr).then_with(|| a.name.cmp(&b.name)));
        Kallsyms { syms }
    }

    /// Number of symbols.
    pub fn len(&self) -> usize {
        self.syms.len()
    }

    /// True when the table is empty.
    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// All symbols, sorted by address.
    pub fn symbols(&self) -> &[Symbol] {
        &self.syms
    }

    /// The address of a symbol by name (first match).
    pub fn lookup(&self, name: &str) -> Option<u64> {
        self.syms.iter().find(|s| s.name == name).map(|s| s.addr)
    }

    /// The text symbol containing `addr`, as the kernel's `%pS` prints it.
    pub fn locate(&self, addr: u64) -> Option<Location<'_>> {
        // Last symbol at or below addr.
        let idx = self
            .syms
            .partition_point(|s| s.addr <= addr)
            .checked_sub(1)?;
        let sym = &self.syms[idx];
        if !sym.is_text() {
            return None;
        }
        let next = self.syms[idx + 1..].iter().find(|s| s.addr > sym.addr)?;
        let size = next.addr - sym.addr;
        // A text symbol is never larger than this; beyond, the address is in
        // a hole (module space, data).
        if size > 0x10_0000 {
            return None;
        }
        Some(Location {
            symbol: sym,
            offset: addr - sym.addr,
            size,
        })
    }
}

/// Read and decode the address table, picking the encoding that maps the
/// `_stext` entry to `SYMBOL(_stext)`.
fn read_addresses(
    info: &VmcoreInfo,
    read_virt: &ReadVirt<'_>,
    names: &[(char, String)],
) -> Result<Vec<u64>, Error> {
    let count = names.len();
    let stext = info.symbol("_stext");
    let stext_idx = names.iter().position(|(_, n)| n == "_stext");

    if let Some(abs_addr) = info.symbol("kallsyms_addresses") {
        let mut raw = vec![0u8; count * 8];
        read(read_virt, "kallsyms_addresses", abs_addr, &mut raw)?;
        return Ok(raw
            .chunks_exact(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])))
            .collect());
    }
    let offs_addr = key(info, "kallsyms_offsets")?;
    let mut raw = vec![0u8; count * 4];
    read(read_virt, "kallsyms_offsets", offs_addr, &mut raw)?;
    let offs: Vec<i32> = raw
        .chunks_exact(4)
        .map(|c| i32::from_le_bytes(c.try_into().unwrap_or([0; 4])))
        .collect();
    let base = match info.symbol("kallsyms_relative_base") {
        Some(a) => {
            let mut b = [0u8; 8];
            read(read_virt, "kallsyms_relative_base", a, &mut b)?;
            Some(u64::from_le_bytes(b))
        }
        None => None,
    };

    type Decode = fn(Option<u64>, u64, usize, i32) -> Option<u64>;
    let encodings: [(&str, Decode); 3] = [
        ("base-relative", |base, _, _, off| {
            Some(base?.wrapping_add(off as u32 as u64))
        }),
        ("absolute-percpu", |base, _, _, off| {
            if off >= 0 {
                Some(off as u64)
            } else {
                Some(base?.wrapping_sub(1).wrapping_sub(off as i64 as u64))
            }
        }),
        ("place-relative", |_, table, i, off| {
            Some(
                table
                    .wrapping_add(4 * i as u64)
                    .wrapping_add(off as i64 as u64),
            )
        }),
    ];
    let (Some(stext), Some(si)) = (stext, stext_idx) else {
        return Err(Error::Corrupt(
            "cannot validate kallsyms_offsets: no _stext symbol or SYMBOL(_stext)".into(),
        ));
    };
    for (_, decode) in encodings {
        if decode(base, offs_addr, si, offs[si]) == Some(stext) {
            return Ok(offs
                .iter()
                .enumerate()
                .map(|(i, &o)| decode(base, offs_addr, i, o).unwrap_or(0))
                .collect());
        }
    }
    Err(Error::Corrupt(format!(
        "no known kallsyms_offsets encoding maps _stext to {stext:#x}"
    )))
}

#[cfg(test)]
mod tests;
