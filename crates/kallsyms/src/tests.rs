//! Synthetic kallsyms tables encoded the way `scripts/kallsyms.c` lays them
//! out, decoded back.

use super::*;
use std::collections::BTreeMap;

const NAMES: u64 = 0xffff_ffff_8200_0000;
const NUM: u64 = 0xffff_ffff_8210_0000;
const TOK_TABLE: u64 = 0xffff_ffff_8211_0000;
const TOK_INDEX: u64 = 0xffff_ffff_8212_0000;
const OFFSETS: u64 = 0xffff_ffff_8213_0000;
const REL_BASE: u64 = 0xffff_ffff_8214_0000;
const BASE: u64 = 0xffff_ffff_8100_0000;

/// Virtual memory made of byte runs.
#[derive(Default)]
struct Mem(BTreeMap<u64, Vec<u8>>);

impl Mem {
    fn put(&mut self, addr: u64, bytes: Vec<u8>) {
        self.0.insert(addr, bytes);
    }
    fn read(&self, addr: u64, buf: &mut [u8]) -> Result<(), String> {
        let (start, bytes) = self.0.range(..=addr).next_back().ok_or("unmapped")?;
        let off = (addr - start) as usize;
        let src = bytes.get(off..off + buf.len()).ok_or("unmapped")?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// Tokens: 0..=127 are single ASCII chars; 200 = "sysrq", 201 = "_handle".
fn token_table() -> Vec<Vec<u8>> {
    (0..256u32)
        .map(|i| match i {
            200 => b"sysrq".to_vec(),
            201 => b"_handle".to_vec(),
            i if i < 128 => vec![i as u8],
            _ => b"?".to_vec(),
        })
        .collect()
}

fn encode(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut rest = name.as_bytes();
    while !rest.is_empty() {
        if rest.starts_with(b"sysrq") {
            out.push(200);
            rest = &rest[5..];
        } else if rest.starts_with(b"_handle") {
            out.push(201);
            rest = &rest[7..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// Build a machine with the given (type+name, address) symbols.
fn machine(syms: &[(&str, u64)], big: bool, absolute_percpu: bool) -> (Mem, VmcoreInfo) {
    let mut mem = Mem::default();
    let mut names = Vec::new();
    for (n, _) in syms {
        let enc = encode(n);
        if big && enc.len() >= 0x80 {
            names.push((enc.len() & 0x7f) as u8 | 0x80);
            names.push((enc.len() >> 7) as u8);
        } else {
            names.push(enc.len() as u8);
        }
        names.extend(enc);
    }
    names.resize(names.len() + 4096, 0);
    mem.put(NAMES, names);
    mem.put(NUM, (syms.len() as u32).to_le_bytes().to_vec());
    let tokens = token_table();
    let mut table = Vec::new();
    let mut index = Vec::new();
    for t in &tokens {
        index.extend((table.len() as u16).to_le_bytes());
        table.extend(t);
        table.push(0);
    }
    table.resize(table.len() + 256, 0);
    mem.put(TOK_TABLE, table);
    mem.put(TOK_INDEX, index);
    let mut offs = Vec::new();
    for (_, a) in syms {
        let off: i32 = if absolute_percpu {
            // Kernel addresses are stored as -(a - base) - 1.
            -((a - BASE) as i64) as i32 - 1
        } else {
            (a - BASE) as i32
        };
        offs.extend(off.to_le_bytes());
    }
    mem.put(OFFSETS, offs);
    mem.put(REL_BASE, BASE.to_le_bytes().to_vec());
    let stext = syms
        .iter()
        .find(|(n, _)| &n[1..] == "_stext")
        .map(|s| s.1)
        .unwrap();
    let info = format!(
        "OSRELEASE=6.1.0-56-amd64\nSYMBOL(kallsyms_names)={NAMES:x}\nSYMBOL(kallsyms_num_syms)={NUM:x}\n\
SYMBOL(kallsyms_token_table)={TOK_TABLE:x}\nSYMBOL(kallsyms_token_index)={TOK_INDEX:x}\n\
SYMBOL(kallsyms_offsets)={OFFSETS:x}\nSYMBOL(kallsyms_relative_base)={REL_BASE:x}\nSYMBOL(_stext)={stext:x}\n"
    );
    (mem, VmcoreInfo::parse(info.as_bytes()))
}

const SYMS: &[(&str, u64)] = &[
    ("T_stext", BASE + 0x1000),
    ("tsysrq_handle_crash", BASE + 0x2000),
    ("Tpanic", BASE + 0x2040),
    ("Dpanic_cpu", BASE + 0x90000),
    ("Tlast", BASE + 0x3000),
];

#[test]
fn decodes_base_relative_table() {
    let (mem, info) = machine(SYMS, true, false);
    let k = Kallsyms::read(&info, &|a, b| mem.read(a, b)).unwrap();
    assert_eq!(k.len(), 5);
    assert_eq!(k.lookup("sysrq_handle_crash"), Some(BASE + 0x2000));
    assert_eq!(k.lookup("panic_cpu"), Some(BASE + 0x90000));
    let loc = k.locate(BASE + 0x2016).unwrap();
    assert_eq!(loc.to_string(), "sysrq_handle_crash+0x16/0x40");
    // Data symbols are not code locations.
    assert!(k.locate(BASE + 0x90010).is_none());
    // Below the first symbol.
    assert!(k.locate(BASE).is_none());
}

#[test]
fn decodes_absolute_percpu_table() {
    let (mem, info) = machine(SYMS, true, true);
    let k = Kallsyms::read(&info, &|a, b| mem.read(a, b)).unwrap();
    assert_eq!(k.lookup("panic"), Some(BASE + 0x2040));
}

#[test]
fn long_names_use_two_length_bytes() {
    let long = format!("t{}", "x".repeat(300));
    let syms = [
        ("T_stext", BASE + 0x1000),
        (long.as_str(), BASE + 0x1100),
        ("Tz", BASE + 0x1200),
    ];
    let (mem, info) = machine(&syms, true, false);
    let k = Kallsyms::read(&info, &|a, b| mem.read(a, b)).unwrap();
    assert_eq!(k.lookup(&"x".repeat(300)), Some(BASE + 0x1100));
    assert_eq!(k.lookup("z"), Some(BASE + 0x1200));
}

#[test]
fn missing_keys_and_damage_are_errors() {
    let (mem, _) = machine(SYMS, true, false);
    let info = VmcoreInfo::parse(b"OSRELEASE=6.1.0\n");
    assert!(matches!(
        Kallsyms::read(&info, &|a, b| mem.read(a, b)),
        Err(Error::MissingKey("kallsyms_num_syms"))
    ));
    // An absurd count is refused before anything is allocated for it.
    let (mut mem, info) = machine(SYMS, true, false);
    mem.put(NUM, u32::MAX.to_le_bytes().to_vec());
    assert!(matches!(
        Kallsyms::read(&info, &|a, b| mem.read(a, b)),
        Err(Error::Corrupt(_))
    ));
    // A count larger than the names table runs into unmapped memory.
    let (mut mem, info) = machine(SYMS, true, false);
    mem.put(NUM, 100_000u32.to_le_bytes().to_vec());
    assert!(Kallsyms::read(&info, &|a, b| mem.read(a, b)).is_err());
}
