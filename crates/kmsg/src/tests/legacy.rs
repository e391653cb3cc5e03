//! Legacy `printk_log` buffer and plain text ring tests, with a writer
//! that follows the kernel's `log_store()`.

use super::{read, DIRECT, TEXT};
use crate::{Caller, LogKind};
use dumpfile::SparseMemory;
use std::collections::VecDeque;

const SYM_BUF: u64 = 0x1000;
const SYM_LEN: u64 = 0x1008;
const SYM_FIRST: u64 = 0x1010;
const SYM_NEXT: u64 = 0x1018;
const SYM_END: u64 = 0x1020;
const BUF_PA: u64 = 0x10_0000;

#[derive(Clone, Debug)]
struct Entry {
    idx: u32,
    len: u32,
    text: Vec<u8>,
    dict: Vec<u8>,
    ts: u64,
    level: u8,
    caller: u32,
}

struct LegacyWriter {
    mem: SparseMemory,
    buf_len: u32,
    hsize: u32,
    align: u32,
    with_caller: bool,
    old_names: bool,
    first_idx: u32,
    next_idx: u32,
    live: VecDeque<Entry>,
}

impl LegacyWriter {
    fn new(buf_len: u32, with_caller: bool) -> LegacyWriter {
        let mut mem = SparseMemory::new(4096);
        mem.map_zero(BUF_PA, BUF_PA + buf_len as u64);
        let mut w = LegacyWriter {
            mem,
            buf_len,
            hsize: if with_caller { 20 } else { 16 },
            align: 4,
            with_caller,
            old_names: false,
            first_idx: 0,
            next_idx: 0,
            live: VecDeque::new(),
        };
        w.sync();
        w
    }

    fn sync(&mut self) {
        self.mem.write_u64(SYM_BUF, DIRECT + BUF_PA);
        self.mem.write_u32(SYM_LEN, self.buf_len);
        self.mem.write_u32(SYM_FIRST, self.first_idx);
        self.mem.write_u32(SYM_NEXT, self.next_idx);
    }

    fn len_at(&self, idx: u32) -> u32 {
        let mut b = [0u8; 2];
        dumpfile::PhysicalMemory::read_phys(&self.mem, BUF_PA + idx as u64 + 8, &mut b).unwrap();
        u16::from_le_bytes(b) as u32
    }

    /// `log_store()`: make room, wrap with a zero header, write.
    fn push(&mut self, text: &[u8], dict: &[u8], ts: u64, level: u8, caller: u32) {
        let mut size = self.hsize + text.len() as u32 + dict.len() as u32;
        size += size.wrapping_neg() & (self.align - 1);
        while !self.live.is_empty() {
            let free = if self.next_idx > self.first_idx {
                (self.buf_len - self.next_idx).max(self.first_idx)
            } else {
                self.first_idx - self.next_idx
            };
            if free >= size + self.hsize {
                break;
            }
            // Drop the oldest (log_next: a zero len wraps to 0).
            self.live.pop_front();
            let l = self.len_at(self.first_idx);
            self.first_idx = if l == 0 {
                self.len_at(0)
            } else {
                self.first_idx + l
            };
            if let Some(f) = self.live.front() {
                // first_idx may rest on a wrap marker, meaning offset 0.
                let eff = if self.len_at(self.first_idx) == 0 {
                    0
                } else {
                    self.first_idx
                };
                assert_eq!(f.idx, eff);
            } else {
                self.first_idx = self.next_idx;
            }
        }
        if self.next_idx + size + self.hsize > self.buf_len {
            self.mem.write(
                BUF_PA + self.next_idx as u64,
                &vec![0u8; self.hsize as usize],
            );
            self.next_idx = 0;
            if self.live.is_empty() {
                self.first_idx = 0;
            }
        }
        let a = BUF_PA + self.next_idx as u64;
        let mut h = vec![0u8; self.hsize as usize];
        h[0..8].copy_from_slice(&ts.to_le_bytes());
        h[8..10].copy_from_slice(&(size as u16).to_le_bytes());
        h[10..12].copy_from_slice(&(text.len() as u16).to_le_bytes());
        h[12..14].copy_from_slice(&(dict.len() as u16).to_le_bytes());
        h[14] = 0;
        h[15] = (level << 5) | 2;
        if self.with_caller {
            h[16..20].copy_from_slice(&caller.to_le_bytes());
        }
        self.mem.write(a, &h);
        self.mem.write(a + self.hsize as u64, text);
        self.mem
            .write(a + (self.hsize as usize + text.len()) as u64, dict);
        self.live.push_back(Entry {
            idx: self.next_idx,
            len: size,
            text: text.to_vec(),
            dict: dict.to_vec(),
            ts,
            level,
            caller,
        });
        self.next_idx += size;
        self.sync();
    }

    fn vmcoreinfo(&self) -> String {
        let s = if self.old_names { "log" } else { "printk_log" };
        let mut v = format!(
            "OSRELEASE=4.19.0\nSYMBOL(log_buf)={:x}\nSYMBOL(log_buf_len)={:x}\n\
SYMBOL(log_first_idx)={:x}\nSYMBOL(clear_idx)=ffffffff81001000\nSYMBOL(log_next_idx)={:x}\n\
SIZE({s})={}\nOFFSET({s}.ts_nsec)=0\nOFFSET({s}.len)=8\nOFFSET({s}.text_len)=10\n\
OFFSET({s}.dict_len)=12\n",
            TEXT + SYM_BUF,
            TEXT + SYM_LEN,
            TEXT + SYM_FIRST,
            TEXT + SYM_NEXT,
            self.hsize
        );
        if self.with_caller {
            v.push_str(&format!("OFFSET({s}.caller_id)=16\n"));
        }
        v
    }
}

fn check(w: &LegacyWriter) -> crate::Log {
    let log = read(&w.mem, &w.vmcoreinfo()).unwrap();
    assert_eq!(log.kind, LogKind::Legacy);
    assert!(log.warnings.is_empty(), "{:?}", log.warnings);
    assert_eq!(log.records.len(), w.live.len());
    for (r, e) in log.records.iter().zip(&w.live) {
        assert_eq!(r.text, e.text);
        assert_eq!(r.ts_nsec, e.ts);
        assert_eq!(r.level, e.level);
        assert_eq!(
            r.dict.as_deref(),
            (!e.dict.is_empty()).then_some(&e.dict[..])
        );
        if w.with_caller {
            assert_eq!(r.caller, Some(Caller::from_raw(e.caller)));
        } else {
            assert_eq!(r.caller, None);
        }
    }
    assert_eq!(log.caller_id_exported, w.with_caller);
    log
}

#[test]
fn wraps_with_zero_length_marker() {
    for with_caller in [false, true] {
        for old_names in [false, true] {
            let mut w = LegacyWriter::new(1024, with_caller);
            w.old_names = old_names;
            let mut wrapped = false;
            for i in 0..200u32 {
                let text = format!("line {i} {}", "z".repeat((i * 13 % 50) as usize));
                let dict = if i % 3 == 0 {
                    format!("SUBSYSTEM=pci\0DEVICE=+pci:{i}").into_bytes()
                } else {
                    Vec::new()
                };
                w.push(
                    text.as_bytes(),
                    &dict,
                    i as u64 * 1000,
                    (i % 8) as u8,
                    i | ((i & 1) << 31),
                );
                wrapped |= w.next_idx < w.first_idx;
                check(&w);
            }
            assert!(wrapped);
        }
    }
}

#[test]
fn empty_buffer() {
    let w = LegacyWriter::new(1024, false);
    assert!(check(&w).records.is_empty());
}

#[test]
fn truncated_record_is_clamped() {
    let mut w = LegacyWriter::new(1024, false);
    w.push(b"first", b"", 1, 6, 0);
    w.push(b"second record", b"", 2, 6, 0);
    w.push(b"third", b"", 3, 6, 0);
    // Claim more text than the record holds.
    let idx = w.live[1].idx as u64;
    w.mem.write(BUF_PA + idx + 10, &500u16.to_le_bytes());
    let log = read(&w.mem, &w.vmcoreinfo()).unwrap();
    assert_eq!(log.records.len(), 3);
    let len = w.live[1].len as usize - 16;
    assert_eq!(log.records[1].text.len(), len);
    assert!(log.records[1].text.starts_with(b"second record"));
    assert_eq!(log.records[2].text, b"third");
    assert!(log.warnings[0].contains("truncated"));
}

#[test]
fn cycles_and_bad_lengths_stop_with_warning() {
    let mut w = LegacyWriter::new(1024, false);
    for i in 0..60u32 {
        w.push(
            format!("entry {i} {}", "q".repeat(i as usize % 30)).as_bytes(),
            b"",
            i as u64,
            6,
            0,
        );
    }
    assert!(w.next_idx < w.first_idx, "buffer must be wrapped");
    // log_next_idx pointing into the middle of a record: the walk would
    // circle through the wrap marker forever in a naive reader.
    let good = w.live.len();
    w.next_idx = w.live[good - 1].idx + 4;
    w.sync();
    let log = read(&w.mem, &w.vmcoreinfo()).unwrap();
    assert_eq!(log.records.len(), good - 1);
    assert!(log.warnings[0].contains("stopping"), "{:?}", log.warnings);

    // A length of zero... at the start: a marker with no records after.
    let mut w2 = LegacyWriter::new(1024, false);
    for i in 0..5u32 {
        w2.push(b"abcdefgh", b"", i as u64, 6, 0);
    }
    // Zero the second record's len: a bogus wrap marker in an unwrapped
    // buffer (first < next).
    let idx = w2.live[1].idx as u64;
    w2.mem.write(BUF_PA + idx + 8, &0u16.to_le_bytes());
    let log = read(&w2.mem, &w2.vmcoreinfo()).unwrap();
    assert_eq!(log.records.len(), 1);
    assert!(
        log.warnings[0].contains("wrap marker"),
        "{:?}",
        log.warnings
    );

    // A length shorter than the header.
    let mut w3 = LegacyWriter::new(1024, false);
    for i in 0..5u32 {
        w3.push(b"abcdefgh", b"", i as u64, 6, 0);
    }
    let idx = w3.live[2].idx as u64;
    w3.mem.write(BUF_PA + idx + 8, &3u16.to_le_bytes());
    let log = read(&w3.mem, &w3.vmcoreinfo()).unwrap();
    assert_eq!(log.records.len(), 2);
}

#[test]
fn bad_indices_are_errors() {
    let mut w = LegacyWriter::new(1024, false);
    w.push(b"x", b"", 1, 6, 0);
    w.next_idx = 5000;
    w.sync();
    assert!(read(&w.mem, &w.vmcoreinfo()).is_err());
    let w = LegacyWriter::new(1024, false);
    let info = w.vmcoreinfo().replace("OFFSET(printk_log.len)=8\n", "");
    let e = read(&w.mem, &info).unwrap_err();
    assert!(e.to_string().contains("OFFSET(printk_log.len)"), "{e}");
}

#[test]
fn plain_ring_before_3_5() {
    let mut mem = SparseMemory::new(4096);
    let len = 64u32;
    let info = format!(
        "OSRELEASE=2.6.32\nSYMBOL(log_buf)={:x}\nSYMBOL(log_buf_len)={:x}\nSYMBOL(log_end)={:x}\n",
        TEXT + SYM_BUF,
        TEXT + SYM_LEN,
        TEXT + SYM_END
    );
    mem.write_u64(SYM_BUF, DIRECT + BUF_PA);
    mem.write_u32(SYM_LEN, len);
    // Not wrapped.
    mem.write(BUF_PA, b"<6>hello\n<3>world\n");
    mem.write_u32(SYM_END, 18);
    let log = read(&mem, &info).unwrap();
    assert_eq!(log.kind, LogKind::Plain);
    assert_eq!(
        log.plain_text.as_deref(),
        Some(&b"<6>hello\n<3>world\n"[..])
    );
    assert_eq!(log.records.len(), 2);
    assert_eq!(
        (log.records[1].level, &log.records[1].text[..]),
        (3, &b"world"[..])
    );
    // Wrapped: 64-byte ring, 100 bytes written; oldest byte at 100 & 63.
    let all: Vec<u8> = (0..100u8).map(|i| b'a' + i % 26).collect();
    let mut ring = vec![0u8; 64];
    for (i, &b) in all.iter().enumerate() {
        ring[i % 64] = b;
    }
    mem.write(BUF_PA, &ring);
    mem.write_u32(SYM_END, 100);
    let log = read(&mem, &info).unwrap();
    assert_eq!(log.plain_text.as_deref(), Some(&all[36..]));
}
