//! The ordered parallel pipeline of the second pass.
//!
//! The page-frame space is cut into fixed batches of `batch_pfns` frames.
//! Worker threads take a free batch buffer from a fixed pool, claim the next
//! batch number, read and compress its selected pages into the buffer and
//! send it to the writer (the calling thread), which emits batches strictly
//! in order and returns each buffer to the pool. The writer is a worker too:
//! while the batch it must emit next is not ready, it fills one itself, so
//! `-j N` runs N threads, not N + 1. Memory is bounded by the pool:
//! `pool_size × batch_pfns × page_size` bytes of output buffers, plus one
//! page buffer and one compressor per thread. Nothing is allocated per page.
//! A batch number is only claimed by a thread that already holds a buffer,
//! and the writer fills the batches it claims at once, so the batch the
//! writer waits for is always being worked on by a helper.
//!
//! With one thread there is no pipeline: the calling thread fills and emits
//! each batch in turn from one buffer.

use crate::bitmap::Bitmap;
use crate::compress::{Compression, PageCompressor};
use crate::direct::DirectPages;
use crate::error::WriteError;
use crate::select::is_zero_page;
use crate::source::read_page;
use dumpfile::{PhysicalMemory, ReadError};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

/// How one selected page came out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PageKind {
    /// Bytes `[start, start + len)` of the batch data; `compressed` tells
    /// whether they are compressed or the raw page.
    Data {
        start: u32,
        len: u32,
        compressed: bool,
    },
    /// All zeros (only when zero detection is on).
    Zero,
    /// The source could not be read.
    Unreadable(ReadError),
}

/// One selected page of a batch.
#[derive(Clone, Debug)]
pub(crate) struct PageOut {
    pub pfn: u64,
    pub kind: PageKind,
}

/// A batch buffer; reused across batches.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    pub seq: u64,
    pub pages: Vec<PageOut>,
    pub data: Vec<u8>,
}

/// Where the pages come from: the source's memory, and when the source is
/// a mapped ELF file, a zero-copy view of it.
pub(crate) struct Pages<'a> {
    pub mem: &'a dyn PhysicalMemory,
    pub direct: Option<DirectPages<'a>>,
}

impl Pages<'_> {
    fn page_size(&self) -> u64 {
        self.mem.page_size()
    }
}

/// Pipeline settings.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    pub threads: usize,
    pub batch_pfns: u64,
    pub pool: usize,
    pub compression: Compression,
    pub detect_zero: bool,
}

impl Config {
    /// Batches of 256 frames (1 MiB of 4 KiB pages) and two buffers per
    /// worker, capped so output buffers stay under 32 MiB.
    pub(crate) fn new(threads: usize, compression: Compression, detect_zero: bool) -> Config {
        let threads = threads.clamp(1, 256);
        Config {
            threads,
            batch_pfns: 256,
            pool: (2 * threads + 2).min(32),
            compression,
            detect_zero,
        }
    }
}

struct Pool {
    free: Mutex<Vec<Batch>>,
    ready: Condvar,
    stop: AtomicBool,
}

impl Pool {
    fn take(&self) -> Option<Batch> {
        let mut free = self.free.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if self.stop.load(Ordering::Relaxed) {
                return None;
            }
            if let Some(b) = free.pop() {
                return Some(b);
            }
            free = self.ready.wait(free).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// A free buffer if there is one, without waiting.
    fn try_take(&self) -> Option<Batch> {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).pop()
    }

    fn put(&self, b: Batch) {
        self.free.lock().unwrap_or_else(|e| e.into_inner()).push(b);
        self.ready.notify_one();
    }

    fn halt(&self) {
        self.stop.store(true, Ordering::Relaxed);
        let _guard = self.free.lock().unwrap_or_else(|e| e.into_inner());
        self.ready.notify_all();
    }
}

/// Run the pipeline over the set bits of `select`, calling `emit` for every
/// batch in pfn order (on the calling thread).
pub(crate) fn run(
    pages: &Pages<'_>,
    select: &Bitmap,
    cfg: Config,
    emit: &mut dyn FnMut(&Batch) -> Result<(), WriteError>,
) -> Result<(), WriteError> {
    let ps = pages.page_size() as usize;
    let total = select.len().div_ceil(cfg.batch_pfns);
    let cap = cfg.batch_pfns as usize * ps;
    if cfg.threads == 1 {
        // One thread means one: read, compress and write in turn on the
        // calling thread, without hand-offs (and `-j 2` is then the real
        // measure of what a second thread buys).
        let mut comp = PageCompressor::new(cfg.compression, ps)?;
        let mut page = vec![0u8; ps];
        let mut b = Batch {
            seq: 0,
            pages: Vec::with_capacity(cfg.batch_pfns as usize),
            data: Vec::with_capacity(cap),
        };
        for seq in 0..total {
            fill(pages, select, &cfg, seq, &mut b, &mut page, &mut comp);
            emit(&b)?;
        }
        return Ok(());
    }
    let pool = Pool {
        free: Mutex::new(
            (0..cfg.pool)
                .map(|_| Batch {
                    seq: 0,
                    pages: Vec::with_capacity(cfg.batch_pfns as usize),
                    data: Vec::with_capacity(cap),
                })
                .collect(),
        ),
        ready: Condvar::new(),
        stop: AtomicBool::new(false),
    };
    let next = AtomicU64::new(0);
    let (tx, rx) = mpsc::channel::<Result<Batch, WriteError>>();

    std::thread::scope(|s| {
        // `-j N` is N threads in all: N - 1 helpers, and the calling thread,
        // which writes and fills batches in between. A separate writer
        // thread would be one thread more than there are cores, and every
        // batch would cost it a wake-up.
        for _ in 1..cfg.threads {
            let tx = tx.clone();
            let (pool, next) = (&pool, &next);
            s.spawn(move || {
                let mut comp = match PageCompressor::new(cfg.compression, ps) {
                    Ok(c) => c,
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        return;
                    }
                };
                let mut page = vec![0u8; ps];
                while let Some(mut b) = pool.take() {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    if seq >= total {
                        pool.put(b);
                        return;
                    }
                    fill(pages, select, &cfg, seq, &mut b, &mut page, &mut comp);
                    if tx.send(Ok(b)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);

        let result = (|| {
            let mut comp = PageCompressor::new(cfg.compression, ps)?;
            let mut page = vec![0u8; ps];
            let mut pending: BTreeMap<u64, Batch> = BTreeMap::new();
            let mut expected = 0u64;
            while expected < total {
                if let Some(b) = pending.remove(&expected) {
                    let r = emit(&b);
                    pool.put(b);
                    r?;
                    expected += 1;
                    continue;
                }
                // Collect what the helpers finished, without waiting.
                match rx.try_recv() {
                    Ok(b) => {
                        let b = b?;
                        pending.insert(b.seq, b);
                        continue;
                    }
                    Err(mpsc::TryRecvError::Empty) => {}
                    Err(mpsc::TryRecvError::Disconnected) => {
                        // Every helper is gone. Batches left to claim are
                        // ours; one claimed but never sent means a helper
                        // died with it.
                        if next.load(Ordering::Relaxed) >= total {
                            return Err(WriteError::Internal("compression workers stopped".into()));
                        }
                    }
                }
                // The batch we wait for is not done: do one ourselves,
                // when a buffer is free and batches are left to claim.
                if let Some(mut b) = pool.try_take() {
                    let seq = next.fetch_add(1, Ordering::Relaxed);
                    if seq < total {
                        fill(pages, select, &cfg, seq, &mut b, &mut page, &mut comp);
                        pending.insert(seq, b);
                        continue;
                    }
                    pool.put(b);
                }
                // Every batch is claimed (or every buffer is out): the one
                // we wait for is with a helper, which will send it.
                let b = rx
                    .recv()
                    .map_err(|_| WriteError::Internal("compression workers stopped".into()))??;
                pending.insert(b.seq, b);
            }
            Ok(())
        })();
        // Wake and stop the workers whatever happened; on error they may be
        // waiting for buffers the writer will never return.
        pool.halt();
        drop(rx);
        result
    })
}

fn fill(
    pages: &Pages<'_>,
    select: &Bitmap,
    cfg: &Config,
    seq: u64,
    b: &mut Batch,
    page: &mut [u8],
    comp: &mut PageCompressor,
) {
    b.seq = seq;
    b.pages.clear();
    b.data.clear();
    let start = seq * cfg.batch_pfns;
    for pfn in select.ones(start, start + cfg.batch_pfns) {
        // In place when the source allows it, else copied into `page`.
        let read = match pages.direct.as_ref().and_then(|d| d.page(pfn)) {
            Some(p) => Ok(p),
            None => read_page(pages.mem, pfn, page).map(|()| &*page),
        };
        let kind = match read {
            Err(e) => PageKind::Unreadable(e),
            Ok(page) if cfg.detect_zero && is_zero_page(page) => PageKind::Zero,
            Ok(page) => {
                let at = b.data.len() as u32;
                match comp.compress(page) {
                    Some(c) => {
                        b.data.extend_from_slice(c);
                        PageKind::Data {
                            start: at,
                            len: c.len() as u32,
                            compressed: true,
                        }
                    }
                    None => {
                        b.data.extend_from_slice(page);
                        PageKind::Data {
                            start: at,
                            len: page.len() as u32,
                            compressed: false,
                        }
                    }
                }
            }
        };
        b.pages.push(PageOut { pfn, kind });
    }
}
