//! The variable-length `printk_log` record buffer (Linux 3.5–5.9).
//!
//! `log_buf` holds records back to back: a `struct printk_log` header
//! (`struct log` before 3.11), the text, the dictionary, padding. A header
//! with `len == 0` marks the end of the used space: the walk continues at
//! offset 0. Valid records run from `log_first_idx` to `log_next_idx`.
//!
//! Instead of cycle detection after the fact, the walk measures how far it
//! has moved: the distance from `log_first_idx` to `log_next_idx` around
//! the buffer is known, every record moves forward, and a wrap counts the
//! skipped tail. Overshooting that distance means the buffer is corrupt (a
//! length that skips `log_next_idx`, or a cycle through a wrap marker), and
//! the walk stops there with a warning. It thus ends after at most
//! `log_buf_len / header size` steps whatever the memory holds.

use crate::error::Context;
use crate::keys::{le_u16, le_u32, le_u64, Keys};
use crate::{Caller, Flags, KmsgError, Log, LogKind, Record, Warnings};
use addrxlat::KernelMemory;

const RING: &str = "printk_log record buffer";
/// `LOG_BUF_LEN_MAX`.
const MAX_BUF_LEN: u64 = 1 << 31;
/// Largest header copied to the stack (real ones are 16–24 bytes).
const MAX_HEADER: usize = 64;

/// Header field offsets, validated against the header size.
struct Layout {
    size: usize,
    ts: usize,
    len: usize,
    text_len: usize,
    dict_len: Option<usize>,
    facility: Option<usize>,
    flags_level: Option<usize>,
    caller: Option<usize>,
}

impl Layout {
    fn new(k: &Keys<'_>) -> Result<Layout, KmsgError> {
        let size = k.size_any(&["printk_log", "log"])?;
        if size == 0 || size > MAX_HEADER as u64 {
            return Err(KmsgError::corrupt(
                "printk_log",
                format!("header size {size} is implausible"),
            ));
        }
        let fits = |off: u64, w: u64| off.checked_add(w).is_some_and(|e| e <= size);
        let req = |name: &str, w: u64| -> Result<usize, KmsgError> {
            let off = k.offset_any(&[&format!("printk_log.{name}"), &format!("log.{name}")])?;
            if !fits(off, w) {
                return Err(KmsgError::corrupt(
                    "printk_log",
                    format!("{name} at offset {off} is outside the {size}-byte header"),
                ));
            }
            Ok(off as usize)
        };
        let opt = |name: &str, w: u64| {
            k.info
                .offset(&format!("printk_log.{name}"))
                .or_else(|| k.info.offset(&format!("log.{name}")))
                .filter(|&o| fits(o, w))
                .map(|o| o as usize)
        };
        let dict_len = opt("dict_len", 2);
        // Not exported: facility and the flags:5/level:3 byte follow
        // dict_len.
        let after_dict = |d: usize| Some(d + 2).filter(|&o| fits(o as u64, 1));
        Ok(Layout {
            size: size as usize,
            ts: req("ts_nsec", 8)?,
            len: req("len", 2)?,
            text_len: req("text_len", 2)?,
            dict_len,
            facility: dict_len.and_then(after_dict),
            flags_level: dict_len.and_then(|d| after_dict(d + 1)),
            caller: opt("caller_id", 4),
        })
    }
}

/// Read the legacy record buffer.
pub fn read(mem: &KernelMemory<'_>) -> Result<Log, KmsgError> {
    let k = Keys {
        info: mem.info(),
        ring: RING,
    };
    let layout = Layout::new(&k)?;
    let buf = mem
        .read_u64(k.symbol("log_buf")?)
        .ctx("the log_buf pointer")?;
    let buf_len = u64::from(mem.read_u32(k.symbol("log_buf_len")?).ctx("log_buf_len")?);
    let first = u64::from(
        mem.read_u32(k.symbol("log_first_idx")?)
            .ctx("log_first_idx")?,
    );
    let next = u64::from(
        mem.read_u32(k.symbol("log_next_idx")?)
            .ctx("log_next_idx")?,
    );
    if buf_len == 0 || buf_len > MAX_BUF_LEN {
        return Err(KmsgError::corrupt(
            "log buffer",
            format!("log_buf_len {buf_len}"),
        ));
    }
    if first >= buf_len || next >= buf_len {
        return Err(KmsgError::corrupt(
            "log buffer",
            format!("log_first_idx {first} / log_next_idx {next} beyond log_buf_len {buf_len}"),
        ));
    }
    if buf.checked_add(buf_len).is_none() {
        return Err(KmsgError::corrupt(
            "log buffer",
            format!("log_buf {buf:#x} wraps"),
        ));
    }

    let mut log = Log::new(LogKind::Legacy);
    log.caller_id_exported = layout.caller.is_some();
    let mut warn = Warnings::default();
    // Bytes between first and next going forward around the buffer.
    let distance = (next + buf_len - first) % buf_len;
    let mut moved = 0u64;
    let mut idx = first;
    let mut hdr = [0u8; MAX_HEADER];
    let hsize = layout.size as u64;
    while moved < distance {
        // The kernel always leaves room for a zero header at the end; no
        // room means the index is damaged.
        if idx + hsize > buf_len {
            warn.push_final(format!(
                "record at {idx:#x}: no room for a header before the end of the buffer; stopping"
            ));
            break;
        }
        let h = &mut hdr[..layout.size];
        if let Err(e) = mem.read_virt(buf + idx, h) {
            warn.push_final(format!(
                "record at {idx:#x}: header unreadable: {e}; stopping"
            ));
            break;
        }
        let h: &[u8] = h;
        let len = u64::from(le_u16(h, layout.len).unwrap_or(0));
        if len == 0 {
            // Wrap marker: the rest of the buffer is unused.
            if moved + (buf_len - idx) > distance {
                warn.push_final(format!("wrap marker at {idx:#x} skips past log_next_idx {next:#x} (corrupt buffer or cycle); stopping"));
                break;
            }
            moved += buf_len - idx;
            idx = 0;
            continue;
        }
        if len < hsize || idx + len > buf_len || moved + len > distance {
            warn.push_final(format!("record at {idx:#x}: length {len} is impossible (corrupt buffer or cycle); stopping"));
            break;
        }
        let text_len = u64::from(le_u16(h, layout.text_len).unwrap_or(0));
        let dict_len = layout
            .dict_len
            .and_then(|o| le_u16(h, o))
            .map_or(0, u64::from);
        let room = len - hsize;
        let text_n = text_len.min(room);
        let dict_n = dict_len.min(room - text_n);
        if text_n < text_len || dict_n < dict_len {
            warn.push(|| {
                format!("record at {idx:#x}: text {text_len} + dict {dict_len} bytes exceed its length {len}; truncated")
            });
        }
        let byte = |o: Option<usize>| o.and_then(|o| h.get(o).copied()).unwrap_or(0);
        let flags_level = byte(layout.flags_level);
        let mut rec = Record {
            seq: log.records.len() as u64,
            ts_nsec: le_u64(h, layout.ts).unwrap_or(0),
            level: flags_level >> 5,
            facility: byte(layout.facility),
            flags: Flags::from_raw(flags_level & 0x1f),
            caller: layout
                .caller
                .and_then(|o| le_u32(h, o))
                .map(Caller::from_raw),
            text: vec![0u8; text_n as usize],
            dev_info: None,
            dict: None,
            dataless: false,
        };
        let body = buf + idx + hsize;
        match mem.read_virt(body, &mut rec.text) {
            Ok(()) => {
                if dict_n > 0 {
                    let mut dict = vec![0u8; dict_n as usize];
                    match mem.read_virt(body + text_n, &mut dict) {
                        Ok(()) => rec.dict = Some(dict),
                        Err(e) => {
                            warn.push(|| format!("record at {idx:#x}: dictionary unreadable: {e}"))
                        }
                    }
                }
                log.records.push(rec);
            }
            Err(e) => {
                warn.push(|| format!("record at {idx:#x}: text unreadable: {e}"));
                log.lost += 1;
            }
        }
        moved += len;
        idx += len;
        if idx == buf_len {
            idx = 0;
        }
    }
    log.warnings = warn.finish();
    Ok(log)
}
