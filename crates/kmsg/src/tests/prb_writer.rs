//! A lockless ring buffer writer that mimics the kernel's
//! (`prb_reserve`/`data_alloc`/`desc_push_tail`), with layout offsets that
//! can differ from the real ones so the reader provably uses VMCOREINFO.

use super::{DIRECT, TEXT};
use dumpfile::SparseMemory;
use std::collections::VecDeque;

pub const ID_MASK: u64 = (1 << 62) - 1;
pub const FINALIZED: u64 = 2;
pub const COMMITTED: u64 = 1;
pub const RESERVED: u64 = 0;
pub const REUSABLE: u64 = 3;

/// Structure layout (offsets written to VMCOREINFO and used by the writer).
#[derive(Clone, Copy)]
pub struct TestLayout {
    pub desc_size: u64,
    pub desc_state: u64,
    pub desc_lpos: u64,
    pub info_size: u64,
    pub info_seq: u64,
    pub info_ts: u64,
    pub info_text_len: u64,
    pub info_caller: u64,
    pub info_dev: u64,
}

impl TestLayout {
    /// x86_64 Linux 5.10–6.x.
    pub const LINUX: TestLayout = TestLayout {
        desc_size: 24,
        desc_state: 0,
        desc_lpos: 8,
        info_size: 88,
        info_seq: 0,
        info_ts: 8,
        info_text_len: 16,
        info_caller: 20,
        info_dev: 24,
    };
    /// Same fields, shuffled and padded.
    pub const ODD: TestLayout = TestLayout {
        desc_size: 40,
        desc_state: 16,
        desc_lpos: 24,
        info_size: 120,
        info_seq: 24,
        info_ts: 8,
        info_text_len: 32,
        info_caller: 40,
        info_dev: 48,
    };
}

/// A record as the writer stored it.
#[derive(Clone, Debug)]
pub struct Written {
    pub id: u64,
    pub seq: u64,
    pub begin: u64,
    pub next: u64,
    pub text: Vec<u8>,
    pub ts: u64,
    pub level: u8,
    pub caller: u32,
}

pub struct PrbWriter {
    pub mem: SparseMemory,
    pub layout: TestLayout,
    pub count_bits: u32,
    pub size_bits: u32,
    /// Use the ≈6.18 rule: wrap only when `DATA_WRAPS(next - 1)` differs.
    pub new_wrap_rule: bool,
    pub prb_sym_pa: u64,
    pub prb_pa: u64,
    pub descs_pa: u64,
    pub infos_pa: u64,
    pub data_pa: u64,
    pub head_id: u64,
    pub tail_id: u64,
    pub head_lpos: u64,
    pub tail_lpos: u64,
    pub next_seq: u64,
    /// Live records, oldest first.
    pub live: VecDeque<Written>,
}

fn align8(x: u64) -> u64 {
    (x + 7) & !7
}

impl PrbWriter {
    pub fn new(count_bits: u32, size_bits: u32, layout: TestLayout) -> PrbWriter {
        let count = 1u64 << count_bits;
        let size = 1u64 << size_bits;
        let mut w = PrbWriter {
            mem: SparseMemory::new(4096),
            layout,
            count_bits,
            size_bits,
            new_wrap_rule: false,
            prb_sym_pa: 0x10_0000,
            prb_pa: 0x10_1000,
            descs_pa: 0x20_0000,
            infos_pa: 0x40_0000,
            data_pa: 0x80_0000,
            // Bootstrap: the last descriptor, reusable, is head and tail.
            head_id: (0u64.wrapping_sub(count + 1)) & ID_MASK,
            tail_id: (0u64.wrapping_sub(count + 1)) & ID_MASK,
            head_lpos: 0u64.wrapping_sub(size),
            tail_lpos: 0u64.wrapping_sub(size),
            next_seq: 0,
            live: VecDeque::new(),
        };
        w.mem
            .map_zero(w.descs_pa, w.descs_pa + count * layout.desc_size);
        w.mem
            .map_zero(w.infos_pa, w.infos_pa + count * layout.info_size);
        w.mem.map_zero(w.data_pa, w.data_pa + size);
        let boot = w.head_id;
        w.write_desc(boot, REUSABLE, 1, 1);
        w.sync_header();
        w
    }

    fn slot(&self, id: u64) -> u64 {
        id & ((1 << self.count_bits) - 1)
    }

    pub fn desc_addr(&self, id: u64) -> u64 {
        self.descs_pa + self.slot(id) * self.layout.desc_size
    }

    pub fn info_addr(&self, id: u64) -> u64 {
        self.infos_pa + self.slot(id) * self.layout.info_size
    }

    pub fn write_desc(&mut self, id: u64, state: u64, begin: u64, next: u64) {
        let a = self.desc_addr(id);
        let l = self.layout;
        self.mem
            .write_u64(a + l.desc_state, (state << 62) | (id & ID_MASK));
        self.mem.write_u64(a + l.desc_lpos, begin);
        self.mem.write_u64(a + l.desc_lpos + 8, next);
    }

    pub fn set_state(&mut self, id: u64, state: u64) {
        let a = self.desc_addr(id) + self.layout.desc_state;
        self.mem.write_u64(a, (state << 62) | (id & ID_MASK));
    }

    /// Rewrite prb, the ring headers and the `prb` pointer.
    pub fn sync_header(&mut self) {
        let p = self.prb_pa;
        self.mem.write_u64(self.prb_sym_pa, DIRECT + p);
        // desc_ring @0
        self.mem.write_u32(p, self.count_bits);
        self.mem.write_u64(p + 8, DIRECT + self.descs_pa);
        self.mem.write_u64(p + 16, DIRECT + self.infos_pa);
        self.mem.write_u64(p + 24, self.head_id);
        self.mem.write_u64(p + 32, self.tail_id);
        // text_data_ring @48
        self.mem.write_u32(p + 48, self.size_bits);
        self.mem.write_u64(p + 56, DIRECT + self.data_pa);
        self.mem.write_u64(p + 64, self.head_lpos);
        self.mem.write_u64(p + 72, self.tail_lpos);
    }

    /// Drop the oldest record (its data and descriptor become reusable).
    fn drop_oldest(&mut self) {
        let old = self.live.pop_front().expect("ring too small for record");
        self.set_state(old.id, REUSABLE);
        self.tail_id = self.live.front().map_or((old.id + 1) & ID_MASK, |r| r.id);
        self.tail_lpos = self.live.front().map_or(old.next, |r| r.begin);
    }

    /// Reserve data for `text` the way `data_alloc` does, dropping old
    /// records as needed. Returns (begin, next).
    fn data_alloc(&mut self, text_len: u64) -> (u64, u64) {
        let size = 1u64 << self.size_bits;
        let blk = align8(text_len + 8);
        let begin = self.head_lpos;
        let mut next = begin.wrapping_add(blk);
        let wraps = |x: u64| x >> self.size_bits;
        let wrapped = if self.new_wrap_rule {
            wraps(begin) != wraps(next.wrapping_sub(1))
        } else {
            wraps(begin) != wraps(next)
        };
        if wrapped {
            next = (next & !(size - 1)).wrapping_add(blk);
        }
        while next.wrapping_sub(self.tail_lpos) > size {
            self.drop_oldest();
        }
        (begin, next)
    }

    /// Append a finalized record.
    pub fn push(&mut self, text: &[u8], ts: u64, level: u8, caller: u32) -> Written {
        self.push_state(text, ts, level, caller, FINALIZED)
    }

    pub fn push_state(
        &mut self,
        text: &[u8],
        ts: u64,
        level: u8,
        caller: u32,
        state: u64,
    ) -> Written {
        let id = (self.head_id + 1) & ID_MASK;
        // The descriptor slot must be free: drop the record using it.
        while self
            .live
            .front()
            .is_some_and(|r| self.slot(r.id) == self.slot(id))
        {
            self.drop_oldest();
        }
        let (begin, next) = self.data_alloc(text.len() as u64);
        let mask = (1u64 << self.size_bits) - 1;
        let id_at = |w: &mut PrbWriter, off: u64| w.mem.write_u64(w.data_pa + off, id);
        id_at(self, begin & mask);
        let text_off = if begin >> self.size_bits == next.wrapping_sub(1) >> self.size_bits {
            (begin & mask) + 8
        } else {
            id_at(self, 0);
            8
        };
        self.mem.write(self.data_pa + text_off, text);
        self.write_desc(id, state, begin, next);
        self.write_info(id, self.next_seq, ts, text.len() as u16, level, caller);
        let w = Written {
            id,
            seq: self.next_seq,
            begin,
            next,
            text: text.to_vec(),
            ts,
            level,
            caller,
        };
        self.live.push_back(w.clone());
        if self.live.len() == 1 {
            self.tail_id = id;
            self.tail_lpos = begin;
        }
        self.next_seq += 1;
        self.head_id = id;
        self.head_lpos = next;
        self.sync_header();
        w
    }

    /// Append an empty-line record (6.8+, no data block).
    pub fn push_empty_line(&mut self, ts: u64) -> Written {
        let id = (self.head_id + 1) & ID_MASK;
        while self
            .live
            .front()
            .is_some_and(|r| self.slot(r.id) == self.slot(id))
        {
            self.drop_oldest();
        }
        self.write_desc(id, FINALIZED, 3, 3);
        self.write_info(id, self.next_seq, ts, 0, 6, 1);
        let w = Written {
            id,
            seq: self.next_seq,
            begin: 3,
            next: 3,
            text: Vec::new(),
            ts,
            level: 6,
            caller: 1,
        };
        self.live.push_back(w.clone());
        self.next_seq += 1;
        self.head_id = id;
        self.sync_header();
        w
    }

    pub fn write_info(
        &mut self,
        id: u64,
        seq: u64,
        ts: u64,
        text_len: u16,
        level: u8,
        caller: u32,
    ) {
        let a = self.info_addr(id);
        let l = self.layout;
        self.mem.write(a, &vec![0u8; l.info_size as usize]);
        self.mem.write_u64(a + l.info_seq, seq);
        self.mem.write_u64(a + l.info_ts, ts);
        self.mem.write(a + l.info_text_len, &text_len.to_le_bytes());
        // facility 0, flags LOG_NEWLINE, level in the top 3 bits.
        self.mem
            .write(a + l.info_text_len + 2, &[0, (level << 5) | 2]);
        self.mem.write_u32(a + l.info_caller, caller);
    }

    pub fn set_dev_info(&mut self, id: u64, subsystem: &str, device: &str) {
        let a = self.info_addr(id) + self.layout.info_dev;
        self.mem.write(a, subsystem.as_bytes());
        self.mem.write(a + 16, device.as_bytes());
    }

    pub fn set_text_len(&mut self, id: u64, len: u16) {
        let a = self.info_addr(id) + self.layout.info_text_len;
        self.mem.write(a, &len.to_le_bytes());
    }

    /// VMCOREINFO for this ring.
    pub fn vmcoreinfo(&self) -> String {
        let l = self.layout;
        format!(
            "OSRELEASE=6.1.0\nPAGESIZE=4096\nSYMBOL(prb)={:x}\n\
SIZE(printk_ringbuffer)=88\nOFFSET(printk_ringbuffer.desc_ring)=0\n\
OFFSET(printk_ringbuffer.text_data_ring)=48\nOFFSET(printk_ringbuffer.fail)=80\n\
SIZE(prb_desc_ring)=48\nOFFSET(prb_desc_ring.count_bits)=0\nOFFSET(prb_desc_ring.descs)=8\n\
OFFSET(prb_desc_ring.infos)=16\nOFFSET(prb_desc_ring.head_id)=24\nOFFSET(prb_desc_ring.tail_id)=32\n\
SIZE(prb_desc)={}\nOFFSET(prb_desc.state_var)={}\nOFFSET(prb_desc.text_blk_lpos)={}\n\
SIZE(prb_data_blk_lpos)=16\nOFFSET(prb_data_blk_lpos.begin)=0\nOFFSET(prb_data_blk_lpos.next)=8\n\
SIZE(printk_info)={}\nOFFSET(printk_info.seq)={}\nOFFSET(printk_info.ts_nsec)={}\n\
OFFSET(printk_info.text_len)={}\nOFFSET(printk_info.caller_id)={}\nOFFSET(printk_info.dev_info)={}\n\
SIZE(dev_printk_info)=64\nOFFSET(dev_printk_info.subsystem)=0\nOFFSET(dev_printk_info.device)=16\n\
LENGTH(printk_info_subsystem)=16\nLENGTH(printk_info_device)=48\n\
SIZE(prb_data_ring)=32\nOFFSET(prb_data_ring.size_bits)=0\nOFFSET(prb_data_ring.data)=8\n\
OFFSET(prb_data_ring.head_lpos)=16\nOFFSET(prb_data_ring.tail_lpos)=24\n\
SIZE(atomic_long_t)=8\nOFFSET(atomic_long_t.counter)=0\n",
            TEXT + self.prb_sym_pa,
            l.desc_size,
            l.desc_state,
            l.desc_lpos,
            l.info_size,
            l.info_seq,
            l.info_ts,
            l.info_text_len,
            l.info_caller,
            l.info_dev,
        )
    }
}
