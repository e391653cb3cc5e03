//! The plain text log ring of kernels before 3.5.
//!
//! `log_buf` is console text with inline `<N>` level prefixes; `log_end`
//! counts every byte ever written, so once it exceeds `log_buf_len` the
//! oldest byte sits at `log_end & (log_buf_len - 1)`.

use crate::error::Context;
use crate::keys::Keys;
use crate::{Flags, KmsgError, Log, LogKind, Record};
use addrxlat::KernelMemory;

const RING: &str = "plain text log buffer";
/// Largest buffer accepted (`LOG_BUF_LEN_MAX` of later kernels).
const MAX_BUF_LEN: u64 = 1 << 31;

/// Read the plain text ring.
///
/// [`Log::plain_text`] gets the bytes in order (what makedumpfile prints);
/// [`Log::records`] gets one record per line, with a leading `<N>` taken as
/// the level (no timestamps: they are part of the text, if any).
pub fn read(mem: &KernelMemory<'_>) -> Result<Log, KmsgError> {
    let k = Keys {
        info: mem.info(),
        ring: RING,
    };
    let buf = mem
        .read_u64(k.symbol("log_buf")?)
        .ctx("the log_buf pointer")?;
    let buf_len = u64::from(mem.read_u32(k.symbol("log_buf_len")?).ctx("log_buf_len")?);
    // `unsigned long` until 2.6.24, `unsigned` since: the low 32 bits of a
    // little-endian value are the same either way.
    let end = u64::from(mem.read_u32(k.symbol("log_end")?).ctx("log_end")?);
    if buf_len == 0 || buf_len > MAX_BUF_LEN || !buf_len.is_power_of_two() {
        return Err(KmsgError::corrupt(
            "log buffer",
            format!("log_buf_len {buf_len}"),
        ));
    }
    let mut text = Vec::new();
    if end < buf_len {
        read_grow(mem, buf, end, &mut text)?;
    } else {
        let start = end & (buf_len - 1);
        read_grow(mem, buf.wrapping_add(start), buf_len - start, &mut text)?;
        read_grow(mem, buf, start, &mut text)?;
    }
    let mut log = Log::new(LogKind::Plain);
    log.records = split_lines(&text);
    log.plain_text = Some(text);
    Ok(log)
}

/// Append `len` bytes at `va` to `out`, a chunk at a time, so a bogus
/// length read from the dump cannot allocate more than what is readable.
fn read_grow(
    mem: &KernelMemory<'_>,
    va: u64,
    len: u64,
    out: &mut Vec<u8>,
) -> Result<(), KmsgError> {
    const CHUNK: u64 = 64 * 1024;
    let mut done = 0u64;
    while done < len {
        let n = (len - done).min(CHUNK) as usize;
        let at = out.len();
        out.resize(at + n, 0);
        mem.read_virt(va.wrapping_add(done), &mut out[at..])
            .ctx("log_buf")?;
        done += n as u64;
    }
    Ok(())
}

/// One record per line; a leading `<N>` (single digit) is the level.
fn split_lines(text: &[u8]) -> Vec<Record> {
    let mut out = Vec::new();
    let body = text.strip_suffix(b"\n").unwrap_or(text);
    if body.is_empty() {
        return out;
    }
    for (i, line) in body.split(|&b| b == b'\n').enumerate() {
        let (level, line) = match line {
            [b'<', d @ b'0'..=b'7', b'>', rest @ ..] => (d - b'0', rest),
            _ => (4, line), // default_message_loglevel
        };
        out.push(Record {
            seq: i as u64,
            ts_nsec: 0,
            level,
            facility: 0,
            flags: Flags::from_raw(2),
            caller: None,
            text: line.to_vec(),
            dev_info: None,
            dict: None,
            dataless: false,
        });
    }
    out
}
