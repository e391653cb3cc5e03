//! The lockless printk ring buffer (Linux 5.10+).
//!
//! `prb` points to a `printk_ringbuffer`: a descriptor ring (`descs[]` with
//! state and data position, `infos[]` with the metadata) and a text data
//! ring of `2^size_bits` bytes. Descriptors are visited by ID from `tail_id`
//! to `head_id`; only committed or finalized ones whose stored ID matches
//! are records. Every offset comes from VMCOREINFO.

use crate::error::Context;
use crate::keys::{le_u16, le_u32, le_u64, Keys};
use crate::{Caller, DevInfo, Flags, Gap, KmsgError, Log, LogKind, Record, Warnings};
use addrxlat::KernelMemory;

const RING: &str = "lockless printk ring buffer";
/// `DESC_ID_MASK` on 64-bit: the state lives in the top two bits.
const ID_MASK: u64 = (1 << 62) - 1;
/// Descriptor states (`enum desc_state`).
const DESC_RESERVED: u64 = 0;
const DESC_COMMITTED: u64 = 1;
const DESC_FINALIZED: u64 = 2;
/// `LOG_BUF_LEN_MAX` is 2^31, with at least 2^5 bytes per descriptor.
const MAX_COUNT_BITS: u32 = 26;
const MAX_SIZE_BITS: u32 = 31;
/// Largest structure we copy to the stack (real ones are 24 and 88 bytes).
const MAX_STRUCT: usize = 256;
/// Consecutive unreadable descriptors after which the array is taken to be
/// missing from the dump and the walk stops.
const GIVE_UP_AFTER: u32 = 1024;
/// `EMPTY_LINE_LPOS` (6.8+; was `NO_LPOS`): a valid record with no text.
const EMPTY_LINE_LPOS: u64 = 0x3;
/// Size of the block ID that starts every data block (`unsigned long`).
const ID_SIZE: u64 = 8;

/// Where a record's text lives in the data ring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Block {
    /// A data block: the block (ID then text) starts at `offset` in the data
    /// array and `len` bytes are available there, ID included.
    Data {
        /// Byte offset of the block in the data array.
        offset: u64,
        /// Bytes of the block, its ID included.
        len: u64,
    },
    /// A data-less record that is an empty line (valid, no text).
    EmptyLine,
    /// A data-less record whose text was lost (`FAILED_LPOS`).
    NoData,
    /// Positions that no kernel writes.
    Invalid(&'static str),
}

/// Map a descriptor's `text_blk_lpos` to a place in the data array of
/// `2^size_bits` bytes.
///
/// A block wraps when its first and last bytes lie in different wraps of
/// the ring, tested on the unmasked positions as
/// `DATA_WRAPS(begin) != DATA_WRAPS(next - 1)`. This is right for kernels
/// before and after ≈6.18, which stopped wrapping a block that exactly fills
/// the end of the array (its `next` then has index 0); the older test
/// `DATA_WRAPS(begin) != DATA_WRAPS(next)` and the masked `begin > next`
/// test misread that block. A wrapping block's text restarts at index 0,
/// behind a second copy of the block ID.
pub fn map_block(begin: u64, next: u64, size_bits: u32) -> Block {
    if begin & 1 != 0 && next & 1 != 0 {
        return if begin == EMPTY_LINE_LPOS && next == EMPTY_LINE_LPOS {
            Block::EmptyLine
        } else {
            Block::NoData
        };
    }
    if begin % ID_SIZE != 0 || next % ID_SIZE != 0 {
        return Block::Invalid("block position not aligned");
    }
    let size = 1u64 << size_bits;
    let mask = size - 1;
    // lpos values are free-running and overflow u64 on purpose.
    let span = next.wrapping_sub(begin);
    if span == 0 || span > size {
        return Block::Invalid("block longer than the data ring or empty");
    }
    let last = next.wrapping_sub(1);
    if begin >> size_bits == last >> size_bits {
        Block::Data {
            offset: begin & mask,
            len: span,
        }
    } else {
        Block::Data {
            offset: 0,
            len: (last & mask) + 1,
        }
    }
}

/// Offsets inside the structures, validated against their sizes.
struct Layout {
    desc_size: usize,
    desc_state: usize,
    desc_begin: usize,
    desc_next: usize,
    info_size: usize,
    info_seq: usize,
    info_ts: usize,
    info_text_len: usize,
    /// Facility and flags/level byte: not exported, they follow `text_len`.
    info_facility: Option<usize>,
    info_flags_level: Option<usize>,
    info_caller: Option<usize>,
    /// (subsystem offset, length, device offset, length) inside `printk_info`.
    info_dev: Option<(usize, usize, usize, usize)>,
}

/// Check that a field of `width` bytes at `off` fits a structure of `size`.
fn field(what: &'static str, off: u64, width: u64, size: usize) -> Result<usize, KmsgError> {
    match off.checked_add(width) {
        Some(end) if end <= size as u64 => Ok(off as usize),
        _ => Err(KmsgError::corrupt(
            what,
            format!("field at offset {off} (+{width}) is outside the {size}-byte structure"),
        )),
    }
}

fn struct_size(what: &'static str, size: u64) -> Result<usize, KmsgError> {
    if size == 0 || size > MAX_STRUCT as u64 {
        return Err(KmsgError::corrupt(
            what,
            format!("size {size} is implausible"),
        ));
    }
    Ok(size as usize)
}

impl Layout {
    fn new(k: &Keys<'_>) -> Result<Layout, KmsgError> {
        let counter = k.info.offset("atomic_long_t.counter").unwrap_or(0);
        let desc_size = struct_size("prb_desc", k.size("prb_desc")?)?;
        let state = k.offset("prb_desc.state_var")? + counter;
        let lpos = k.offset("prb_desc.text_blk_lpos")?;
        let begin = lpos + k.offset("prb_data_blk_lpos.begin")?;
        let next = lpos + k.offset("prb_data_blk_lpos.next")?;
        let info_size = struct_size("printk_info", k.size("printk_info")?)?;
        let text_len = k.offset("printk_info.text_len")?;
        let fits = |off: u64, w: u64| off.checked_add(w).is_some_and(|e| e <= info_size as u64);
        let info_dev = match (
            k.info.offset("printk_info.dev_info"),
            k.info.offset("dev_printk_info.subsystem"),
            k.info.offset("dev_printk_info.device"),
        ) {
            (Some(base), Some(sub), Some(dev)) => {
                let sub_len = k.info.length("printk_info_subsystem").unwrap_or(16);
                let dev_len = k.info.length("printk_info_device").unwrap_or(48);
                (fits(base + sub, sub_len) && fits(base + dev, dev_len)).then_some((
                    (base + sub) as usize,
                    sub_len as usize,
                    (base + dev) as usize,
                    dev_len as usize,
                ))
            }
            _ => None,
        };
        Ok(Layout {
            desc_size,
            desc_state: field("prb_desc", state, 8, desc_size)?,
            desc_begin: field("prb_desc", begin, 8, desc_size)?,
            desc_next: field("prb_desc", next, 8, desc_size)?,
            info_size,
            info_seq: field("printk_info", k.offset("printk_info.seq")?, 8, info_size)?,
            info_ts: field(
                "printk_info",
                k.offset("printk_info.ts_nsec")?,
                8,
                info_size,
            )?,
            info_text_len: field("printk_info", text_len, 2, info_size)?,
            info_facility: fits(text_len + 2, 1).then_some(text_len as usize + 2),
            info_flags_level: fits(text_len + 3, 1).then_some(text_len as usize + 3),
            info_caller: k
                .info
                .offset("printk_info.caller_id")
                .filter(|&o| fits(o, 4))
                .map(|o| o as usize),
            info_dev,
        })
    }
}

/// The ring's control values, read once.
struct Ring {
    count_bits: u32,
    descs: u64,
    infos: u64,
    head_id: u64,
    tail_id: u64,
    size_bits: u32,
    data: u64,
}

fn addr(base: u64, off: u64, what: &'static str) -> Result<u64, KmsgError> {
    base.checked_add(off)
        .ok_or_else(|| KmsgError::corrupt(what, format!("address {base:#x} + {off:#x} overflows")))
}

impl Ring {
    fn read(mem: &KernelMemory<'_>, k: &Keys<'_>) -> Result<Ring, KmsgError> {
        let counter = k.info.offset("atomic_long_t.counter").unwrap_or(0);
        let prb = mem.read_u64(k.symbol("prb")?).ctx("the prb pointer")?;
        let dr = addr(
            prb,
            k.offset("printk_ringbuffer.desc_ring")?,
            "printk_ringbuffer",
        )?;
        let tr = addr(
            prb,
            k.offset("printk_ringbuffer.text_data_ring")?,
            "printk_ringbuffer",
        )?;
        let at = |base: u64, key: &str, extra: u64| -> Result<u64, KmsgError> {
            addr(base, k.offset(key)? + extra, "printk_ringbuffer")
        };
        let what = "the printk ring buffer descriptor ring";
        let count_bits = mem
            .read_u32(at(dr, "prb_desc_ring.count_bits", 0)?)
            .ctx(what)?;
        let descs = mem.read_u64(at(dr, "prb_desc_ring.descs", 0)?).ctx(what)?;
        let infos = mem.read_u64(at(dr, "prb_desc_ring.infos", 0)?).ctx(what)?;
        let head_id = mem
            .read_u64(at(dr, "prb_desc_ring.head_id", counter)?)
            .ctx(what)?;
        let tail_id = mem
            .read_u64(at(dr, "prb_desc_ring.tail_id", counter)?)
            .ctx(what)?;
        let what = "the printk ring buffer data ring";
        let size_bits = mem
            .read_u32(at(tr, "prb_data_ring.size_bits", 0)?)
            .ctx(what)?;
        let data = mem.read_u64(at(tr, "prb_data_ring.data", 0)?).ctx(what)?;
        if count_bits > MAX_COUNT_BITS {
            return Err(KmsgError::corrupt(
                "descriptor ring",
                format!("count_bits {count_bits} (at most {MAX_COUNT_BITS})"),
            ));
        }
        // A ring smaller than one descriptor's worth of IDs is impossible
        // too, but only the upper bound matters for safety.
        if !(ID_SIZE.trailing_zeros()..=MAX_SIZE_BITS).contains(&size_bits) {
            return Err(KmsgError::corrupt(
                "data ring",
                format!("size_bits {size_bits} (expected 3..={MAX_SIZE_BITS})"),
            ));
        }
        Ok(Ring {
            count_bits,
            descs,
            infos,
            head_id: head_id & ID_MASK,
            tail_id: tail_id & ID_MASK,
            size_bits,
            data,
        })
    }
}

/// Read the lockless ring buffer.
pub fn read(mem: &KernelMemory<'_>) -> Result<Log, KmsgError> {
    let k = Keys {
        info: mem.info(),
        ring: RING,
    };
    let layout = Layout::new(&k)?;
    let ring = Ring::read(mem, &k)?;
    let mut log = Log::new(LogKind::Lockless);
    log.caller_id_exported = layout.info_caller.is_some();
    let mut warn = Warnings::default();

    let count = 1u64 << ring.count_bits;
    // tail..=head inclusive; a span beyond the ring size means the IDs are
    // damaged, so only the newest `count` descriptors are visited.
    let mut span = ring.head_id.wrapping_sub(ring.tail_id) & ID_MASK;
    if span >= count {
        warn.push(|| {
            format!(
                "tail_id {:#x} and head_id {:#x} are {span} apart but the ring has {count} descriptors; reading the newest {count}",
                ring.tail_id, ring.head_id
            )
        });
        span = count - 1;
    }
    let first = ring.head_id.wrapping_sub(span) & ID_MASK;

    let mut scan = Scan {
        mem,
        layout: &layout,
        ring: &ring,
        desc: [0u8; MAX_STRUCT],
        info: [0u8; MAX_STRUCT],
    };
    let mut prev_seq: Option<u64> = None;
    let mut unreadable = 0u32;
    let mut data_lost = 0u64;
    for step in 0..=span {
        let id = first.wrapping_add(step) & ID_MASK;
        let rec = match scan.record(id, &mut warn) {
            Ok(Some(r)) => r,
            Ok(None) => continue,
            Err(Skip::Unreadable(e)) => {
                warn.push(|| format!("descriptor id {id:#x}: {e}"));
                unreadable += 1;
                if unreadable >= GIVE_UP_AFTER {
                    warn.push_final(format!(
                        "{unreadable} descriptors in a row are unreadable; stopping"
                    ));
                    break;
                }
                continue;
            }
            Err(Skip::DataLost) => {
                data_lost += 1;
                continue;
            }
        };
        unreadable = 0;
        if let Some(p) = prev_seq {
            if rec.seq <= p {
                warn.push(|| {
                    format!(
                        "descriptor id {id:#x}: sequence {} does not follow {p}",
                        rec.seq
                    )
                });
            } else if rec.seq - p > 1 {
                let missing = rec.seq - p - 1;
                log.gaps.push(Gap {
                    after_seq: p,
                    count: missing,
                });
                log.lost = log.lost.saturating_add(missing);
            }
        }
        prev_seq = Some(rec.seq);
        log.records.push(rec);
    }
    if data_lost > 0 {
        warn.push(|| format!("{data_lost} records had no text data (FAILED_LPOS)"));
        // Those still own a sequence number; when they sit between two read
        // records the gap already counts them.
        if log.records.is_empty() {
            log.lost = log.lost.saturating_add(data_lost);
        }
    }
    log.warnings = warn.finish();
    Ok(log)
}

/// Why a descriptor yielded no record.
enum Skip {
    /// Its memory could not be read.
    Unreadable(addrxlat::Error),
    /// A valid record whose text is gone.
    DataLost,
}

/// Per-walk state with the reusable structure buffers.
struct Scan<'m, 'a> {
    mem: &'m KernelMemory<'a>,
    layout: &'m Layout,
    ring: &'m Ring,
    desc: [u8; MAX_STRUCT],
    info: [u8; MAX_STRUCT],
}

impl Scan<'_, '_> {
    /// Read the record of descriptor `id`; `Ok(None)` for descriptors that
    /// are not records (reusable, reserved, damaged: the latter warned).
    fn record(&mut self, id: u64, warn: &mut Warnings) -> Result<Option<Record>, Skip> {
        let l = self.layout;
        let index = id & ((1u64 << self.ring.count_bits) - 1);
        let desc_addr = index
            .checked_mul(l.desc_size as u64)
            .and_then(|o| self.ring.descs.checked_add(o))
            .ok_or(Skip::Unreadable(addrxlat::Error::Overflow {
                va: self.ring.descs,
                len: l.desc_size,
            }))?;
        let desc = &mut self.desc[..l.desc_size];
        self.mem
            .read_virt(desc_addr, desc)
            .map_err(Skip::Unreadable)?;
        let sv = le_u64(desc, l.desc_state).unwrap_or(0);
        let state = sv >> 62;
        if sv & ID_MASK != id {
            warn.push(|| {
                format!(
                    "descriptor id {id:#x}: slot holds id {:#x} (overwritten or damaged); skipped",
                    sv & ID_MASK
                )
            });
            return Ok(None);
        }
        match state {
            DESC_COMMITTED | DESC_FINALIZED => {}
            DESC_RESERVED => {
                warn.push(|| {
                    format!(
                        "descriptor id {id:#x} was being written (reserved) at crash time; skipped"
                    )
                });
                return Ok(None);
            }
            // desc_reusable: recycled, its data is gone. Normal.
            _ => return Ok(None),
        }
        let begin = le_u64(desc, l.desc_begin).unwrap_or(0);
        let next = le_u64(desc, l.desc_next).unwrap_or(0);

        let info_addr = index
            .checked_mul(l.info_size as u64)
            .and_then(|o| self.ring.infos.checked_add(o))
            .ok_or(Skip::Unreadable(addrxlat::Error::Overflow {
                va: self.ring.infos,
                len: l.info_size,
            }))?;
        let info = &mut self.info[..l.info_size];
        self.mem
            .read_virt(info_addr, info)
            .map_err(Skip::Unreadable)?;
        let info: &[u8] = info;
        let seq = le_u64(info, l.info_seq).unwrap_or(0);
        let byte = |o: Option<usize>| o.and_then(|o| info.get(o).copied()).unwrap_or(0);
        let flags_level = byte(l.info_flags_level);
        let mut rec = Record {
            seq,
            ts_nsec: le_u64(info, l.info_ts).unwrap_or(0),
            level: flags_level >> 5,
            facility: byte(l.info_facility),
            flags: Flags::from_raw(flags_level & 0x1f),
            caller: l
                .info_caller
                .and_then(|o| le_u32(info, o))
                .map(Caller::from_raw),
            text: Vec::new(),
            dev_info: l.info_dev.and_then(|(so, sl, d_o, dl)| {
                let subsystem = c_string(info.get(so..so + sl)?);
                let device = c_string(info.get(d_o..d_o + dl)?);
                (!subsystem.is_empty() || !device.is_empty())
                    .then_some(DevInfo { subsystem, device })
            }),
            dict: None,
            dataless: false,
        };
        let text_len = u64::from(le_u16(info, l.info_text_len).unwrap_or(0));

        let (offset, len) = match map_block(begin, next, self.ring.size_bits) {
            Block::Data { offset, len } => (offset, len),
            Block::EmptyLine => {
                rec.dataless = true;
                return Ok(Some(rec));
            }
            Block::NoData => return Err(Skip::DataLost),
            Block::Invalid(why) => {
                warn.push(|| {
                    format!("record seq {seq}: text position {begin:#x}..{next:#x} invalid ({why}); skipped")
                });
                return Ok(None);
            }
        };
        let Some(avail) = len.checked_sub(ID_SIZE) else {
            warn.push(|| {
                format!(
                    "record seq {seq}: data block of {len} bytes has no room for its ID; skipped"
                )
            });
            return Ok(None);
        };
        let block = self.ring.data.wrapping_add(offset);
        match self.mem.read_u64(block) {
            Ok(bid) if bid & ID_MASK == id => {}
            Ok(bid) => warn.push(|| {
                format!("record seq {seq}: data block carries id {bid:#x}, expected {id:#x} (text may be overwritten)")
            }),
            Err(e) => {
                warn.push(|| format!("record seq {seq}: data block unreadable: {e}"));
                return Err(Skip::DataLost);
            }
        }
        let n = if text_len > avail {
            warn.push(|| {
                format!("record seq {seq}: text_len {text_len} exceeds its data block ({avail} bytes); truncated")
            });
            avail
        } else {
            text_len
        };
        // n ≤ 2^31 (the ring size bound), so this fits usize on 64-bit hosts.
        rec.text = vec![0u8; n as usize];
        if let Err(e) = self
            .mem
            .read_virt(block.wrapping_add(ID_SIZE), &mut rec.text)
        {
            warn.push(|| format!("record seq {seq}: text unreadable: {e}"));
            return Err(Skip::DataLost);
        }
        Ok(Some(rec))
    }
}

/// A NUL-terminated string from a fixed-size char array, lossily decoded.
fn c_string(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}
