//! A fast LZO1X compressor for single pages, written from the stream format.
//!
//! makedumpfile `-l` pages are LZO1X streams that liblzo2's
//! `lzo1x_decompress_safe` (makedumpfile, crash) and our own bounded
//! decoder (`dumpfile::lzo`) must read. The format, as those decoders
//! define it:
//!
//! - the first byte `17 + n` (n = 1..=238) starts with `n` literals;
//! - `0000LLLL` right after a match without trailing literals (or at the
//!   start) is a run of `LLLL + 3` literals (`LLLL = 0`: 18 plus the
//!   length extension);
//! - `01LDDDSS HHHHHHHH` / `1LLDDDSS HHHHHHHH` (M2): a 3–8 byte match at
//!   distance 1–2048;
//! - `001LLLLL` + LE16 `DDDDDDDD DDDDDDSS` (M3): length `L + 2` (L = 0:
//!   33 plus the extension), distance 1–16384;
//! - `0001HLLL` + LE16 (M4): length `L + 2` (L = 0: 9 plus the extension),
//!   distance `16384 + H·16384 + D` (1 ≤ that minus 16384); `H = D = 0` is
//!   the end marker, written as `0x11 0x00 0x00`;
//! - the length extension is zero bytes each worth 255, then a non-zero
//!   byte added to the base;
//! - `SS` (1–3) are literals that follow a match; a longer run is a
//!   separate `0000LLLL` instruction, and two literal instructions may not
//!   follow each other;
//! - opcodes 0–15 right after literals are 2- and 3-byte matches (M1):
//!   this encoder never writes them, so every match is at least 4 bytes.
//!
//! The matcher is a single greedy pass: a hash of the next 4 bytes looks up
//! the last position with the same hash, a verified hit is extended
//! forwards (8 bytes at a time) and backwards into pending literals. Runs
//! without matches are skipped faster the longer they get, so
//! incompressible pages cost little. The table holds 16-bit positions
//! (8 KiB, cleared per page, so the output depends only on the page;
//! 32-bit ones for inputs over 64 KiB), and
//! the writer builds the stream in a buffer with room for the worst case,
//! so neither the scan nor the instructions check for space byte by byte.

/// log2 of the hash table size: 4096 entries of 2 bytes stay in L1.
const HASH_BITS: u32 = 12;
/// Bytes hashed and verified for a match candidate.
const MIN_MATCH: usize = 4;
/// Farthest distance LZO1X can express (M4).
const MAX_DISTANCE: usize = 16384 + 32767;
/// Farthest M2 and M3 distances.
const M2_MAX_DISTANCE: usize = 2048;
const M3_MAX_DISTANCE: usize = 16384;
/// Longest M2 match.
const M2_MAX_LEN: usize = 8;
/// Largest extra step over unmatched input, so that a repeated block is
/// not stepped over in long inputs.
const MAX_SKIP: usize = 128;
/// Longest input whose step stays within [`MAX_SKIP`] without a cap:
/// the step grows by one per 32 unmatched bytes.
const UNCAPPED_MAX_LEN: usize = MAX_SKIP << 5;
/// Literals the first-byte form can carry.
const FIRST_RUN_MAX: usize = 255 - 17;
/// Bytes the writer may store past the end of the stream: short literal
/// runs are copied 16 bytes at a time and short instructions are stored
/// as one 4-byte word, so the output needs this much room to spare.
const SLACK: usize = 16;

/// The end-of-stream instruction: an M4 with distance 16384.
const END_MARKER: [u8; 3] = [0x11, 0x00, 0x00];

/// The longest stream this encoder writes for `len` input bytes (the bound
/// liblzo2 documents for LZO1X, which ours stays well within: a match never
/// costs more bytes than it covers, and a literal run costs one byte plus
/// one per 255).
fn worst_case(len: usize) -> usize {
    len + len / 16 + 64
}

/// Reusable state of the compressor: one per thread, no allocation per
/// page.
pub struct LzoCompressor {
    /// Position of the last 4-byte sequence seen with each hash, for
    /// inputs up to 64 KiB (every page size Linux has): 8 KiB, cleared per
    /// page in a few dozen nanoseconds.
    near: Box<[u16; 1 << HASH_BITS]>,
    /// The same for longer inputs; allocated the first time one comes.
    far: Option<Box<[u32; 1 << HASH_BITS]>>,
    /// Output for callers whose slice has no room for the worst case plus
    /// [`SLACK`] (a one-page budget): the stream is built here and copied
    /// out if it fits. Grows only when a larger input size comes along.
    scratch: Vec<u8>,
}

impl Default for LzoCompressor {
    fn default() -> Self {
        LzoCompressor::new()
    }
}

impl LzoCompressor {
    /// A compressor with an empty table.
    pub fn new() -> LzoCompressor {
        LzoCompressor {
            near: Box::new([0; 1 << HASH_BITS]),
            far: None,
            scratch: Vec::new(),
        }
    }

    /// Compresses `input` into `out` as one LZO1X stream; returns its
    /// length, or `None` when the stream would not fit in `out` (the caller
    /// stores the data raw). Bytes of `out` past the returned length may
    /// be overwritten.
    pub fn compress(&mut self, input: &[u8], out: &mut [u8]) -> Option<usize> {
        let room = worst_case(input.len()).checked_add(SLACK)?;
        if out.len() >= room {
            let limit = out.len();
            return self.encode(input, out, limit);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        if scratch.len() < room {
            scratch.resize(room, 0);
        }
        let n = self.encode(input, &mut scratch, out.len());
        let fits = n.and_then(|n| {
            out.get_mut(..n)?.copy_from_slice(&scratch[..n]);
            Some(n)
        });
        self.scratch = scratch;
        fits
    }

    /// Picks the table whose entries can hold every position of `input`.
    fn encode(&mut self, input: &[u8], buf: &mut [u8], limit: usize) -> Option<usize> {
        if input.len() <= 1 << 16 {
            if input.len() <= UNCAPPED_MAX_LEN {
                encode::<_, false>(&mut self.near, input, buf, limit)
            } else {
                encode::<_, true>(&mut self.near, input, buf, limit)
            }
        } else {
            let table = self
                .far
                .get_or_insert_with(|| Box::new([0; 1 << HASH_BITS]));
            encode::<_, true>(table, input, buf, limit)
        }
    }
}

/// A table entry: an input position, narrow when the input is short.
trait Position: Copy + Default {
    fn new(at: usize) -> Self;
    fn get(self) -> usize;
}

impl Position for u16 {
    #[inline(always)]
    fn new(at: usize) -> u16 {
        debug_assert!(at <= u16::MAX as usize);
        at as u16
    }
    #[inline(always)]
    fn get(self) -> usize {
        self as usize
    }
}

impl Position for u32 {
    #[inline(always)]
    fn new(at: usize) -> u32 {
        debug_assert!(at <= u32::MAX as usize);
        at as u32
    }
    #[inline(always)]
    fn get(self) -> usize {
        self as usize
    }
}

/// One greedy pass over `input` into `buf`, which has room for the worst
/// case plus [`SLACK`]; `None` as soon as the stream is longer than `limit`.
/// Every position of `input` must fit in `P`.
fn encode<P: Position, const CAPPED: bool>(
    table: &mut [P; 1 << HASH_BITS],
    input: &[u8],
    buf: &mut [u8],
    limit: usize,
) -> Option<usize> {
    let len = input.len();
    debug_assert!(buf.len() >= worst_case(len) + SLACK);
    // A cleared table reads as "position 0 everywhere", which is what
    // indexing position 0 would give for its own hash and a candidate
    // the byte check rejects for every other: scanning starts at 1 and
    // every candidate lies strictly before the position probed.
    table.fill(P::default());
    let mut w = Writer {
        buf,
        pos: 0,
        ss_at: 0,
    };
    let mut anchor = 0; // first pending literal
    let mut ip = 1;
    while ip + MIN_MATCH <= len {
        let seq = read32(input, ip);
        let slot = hash(seq);
        let candidate = table[slot].get();
        table[slot] = P::new(ip);
        if read32(input, candidate) != seq || ip - candidate > MAX_DISTANCE {
            // No match: step further the longer the literal run grows,
            // one more byte per 32 unmatched, so noise costs little.
            let extra = (ip - anchor) >> 5;
            // The cap cannot bind in short inputs, and leaving its `min`
            // out of their loop (it sits on the critical path) is worth
            // several percent.
            ip += 1 + if CAPPED { extra.min(MAX_SKIP) } else { extra };
            continue;
        }
        let distance = ip - candidate;
        // Extend backwards into the pending literals, then forwards.
        let mut start = ip;
        while start > anchor && start > distance && input[start - 1] == input[start - 1 - distance]
        {
            start -= 1;
        }
        let end = ip + MIN_MATCH + common_prefix(input, candidate + MIN_MATCH, ip + MIN_MATCH);
        w.literals(input, anchor, start);
        w.copy(distance, end - start);
        if w.pos > limit {
            return None;
        }
        anchor = end;
        ip = end;
        // Index a position inside the match so the next page area that
        // repeats it is found (cheap, and helps repeated structures).
        if end - 2 > start && end + 2 <= len {
            let p = end - 2;
            table[hash(read32(input, p))] = P::new(p);
        }
    }
    w.literals(input, anchor, len);
    w.put(&END_MARKER);
    (w.pos <= limit).then_some(w.pos)
}

// One bounds check and one load each (indexing byte by byte would not be).
#[inline(always)]
fn read32(b: &[u8], at: usize) -> u32 {
    let bytes: [u8; 4] = b[at..at + 4].try_into().expect("4 bytes");
    u32::from_le_bytes(bytes)
}

/// Multiplicative hash of 4 bytes to `HASH_BITS` bits.
#[inline(always)]
fn hash(seq: u32) -> usize {
    (seq.wrapping_mul(0x9E37_79B1) >> (32 - HASH_BITS)) as usize
}

/// Length of the common run of `b[a..]` and `b[c..]` with `a < c`, stopping
/// at the end of `b`.
#[inline(always)]
fn common_prefix(b: &[u8], a: usize, c: usize) -> usize {
    let (early, late) = (&b[a..], &b[c..]);
    // Paired 8-byte chunks: the iterators know both lengths, so the loop
    // has no bounds checks of its own.
    let mut n = 0;
    for (x, y) in early.chunks_exact(8).zip(late.chunks_exact(8)) {
        let diff = u64::from_le_bytes(x.try_into().expect("8 bytes"))
            ^ u64::from_le_bytes(y.try_into().expect("8 bytes"));
        if diff != 0 {
            return n + (diff.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    n + early[n..]
        .iter()
        .zip(&late[n..])
        .take_while(|(x, y)| x == y)
        .count()
}

/// The output side: instructions into a slice with room for the worst case
/// plus [`SLACK`], so no instruction needs its own "does it fit" branch.
struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    /// Index of the byte holding the last match's `SS` bits; 0 before the
    /// first match (an `SS` byte is never the first of a stream).
    ss_at: usize,
}

impl Writer<'_> {
    #[inline(always)]
    fn byte(&mut self, b: u8) {
        self.buf[self.pos] = b;
        self.pos += 1;
    }

    fn put(&mut self, b: &[u8]) {
        self.buf[self.pos..self.pos + b.len()].copy_from_slice(b);
        self.pos += b.len();
    }

    /// Stores the low `n` bytes of `v` (one 4-byte store into the slack).
    #[inline(always)]
    fn word(&mut self, v: u32, n: usize) {
        self.buf[self.pos..self.pos + 4].copy_from_slice(&v.to_le_bytes());
        self.pos += n;
    }

    /// The length extension for `x ≥ 1`: zero bytes worth 255 each, then
    /// the non-zero rest.
    fn extension(&mut self, x: usize) {
        let zeros = (x - 1) / 255;
        self.buf[self.pos..self.pos + zeros].fill(0);
        self.pos += zeros;
        self.byte((x - 255 * zeros) as u8);
    }

    /// Emits the literals `input[start..end]`: in the first byte, in the
    /// last match's `SS` bits, or as a `0000LLLL` run.
    #[inline(always)]
    fn literals(&mut self, input: &[u8], start: usize, end: usize) {
        let n = end - start;
        if n == 0 {
            return;
        }
        if self.ss_at != 0 && n <= 3 {
            self.buf[self.ss_at] |= n as u8;
        } else if self.pos == 0 && n <= FIRST_RUN_MAX {
            self.byte(17 + n as u8);
        } else if n - 3 <= 15 {
            // n ≥ 4 (or a first run longer than 238): the run opcode.
            self.byte((n - 3) as u8);
        } else {
            self.byte(0);
            self.extension(n - 3 - 15);
        }
        if n <= SLACK && start + SLACK <= input.len() {
            // Short runs (most of them): one fixed 16-byte copy; the bytes
            // past `n` land in the slack and are overwritten next.
            self.buf[self.pos..self.pos + SLACK].copy_from_slice(&input[start..start + SLACK]);
        } else {
            self.buf[self.pos..self.pos + n].copy_from_slice(&input[start..end]);
        }
        self.pos += n;
    }

    /// Emits a match of `len ≥ 4` bytes at `distance`.
    #[inline(always)]
    fn copy(&mut self, distance: usize, len: usize) {
        debug_assert!(len >= MIN_MATCH && (1..=MAX_DISTANCE).contains(&distance));
        let d = distance - 1;
        if len <= M2_MAX_LEN && distance <= M2_MAX_DISTANCE {
            // M2: LLL = len - 1 (3..=7 in the top bits), DDD, SS; then d >> 3.
            let v = ((len - 1) << 5) | ((d & 7) << 2) | ((d >> 3) << 8);
            self.ss_at = self.pos;
            self.word(v as u32, 2);
            return;
        }
        let (op, lbits, field) = if distance <= M3_MAX_DISTANCE {
            (0x20, 31, d)
        } else {
            let far = distance - 16384;
            debug_assert!(far >= 1);
            (0x10 | (((far >> 14) & 1) << 3), 7, far & 0x3fff)
        };
        let l = len - 2;
        if l <= lbits {
            // Opcode and the LE16 distance field in one store.
            let v = op | l | (field << 10);
            self.ss_at = self.pos + 1;
            self.word(v as u32, 3);
        } else {
            self.byte(op as u8);
            self.extension(l - lbits);
            self.ss_at = self.pos;
            self.word((field << 2) as u32, 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(c: &mut LzoCompressor, page: &[u8]) -> Option<usize> {
        let mut out = vec![0u8; page.len() + page.len() / 16 + 64];
        let n = c.compress(page, &mut out)?;
        let mut back = vec![0u8; page.len()];
        assert_eq!(
            dumpfile::lzo::decompress(&out[..n], &mut back),
            Ok(page.len()),
            "our decoder"
        );
        assert!(back == page, "our decoder: content differs");
        let theirs = lzokay_native::decompress_all(&out[..n], Some(page.len()))
            .expect("lzokay-native decodes our stream");
        assert!(theirs == page, "lzokay-native: content differs");
        Some(n)
    }

    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }
        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    const TEXT: &[u8] = b"kernel: BUG: unable to handle page fault\n";

    /// Pages with the shapes memory has: zeros, small repeated records,
    /// text, pointers, noise, and mixtures.
    fn structured_page(rng: &mut Rng, size: usize) -> Vec<u8> {
        let mut p = vec![0u8; size];
        let mut at = 0;
        while at < size {
            let run = (1 + rng.below(700)).min(size - at);
            let kind = rng.below(7);
            for i in 0..run {
                p[at + i] = match kind {
                    0 => 0,
                    1 => TEXT[i % TEXT.len()],
                    2 => rng.next() as u8,
                    3 => ((0xffff_8880_0000_0000u64 + (i as u64 & !7) * 8) >> (8 * (i % 8))) as u8,
                    4 => (i % 3) as u8,
                    5 if at + i >= 64 => p[at + i - 1 - rng.below(64).min(at + i - 1)],
                    _ => (rng.next() % 4) as u8,
                };
            }
            at += run;
        }
        p
    }

    #[test]
    fn hand_checked_streams() {
        let mut c = LzoCompressor::new();
        let mut out = [0u8; 64];
        // Three literals only: first byte 17+3, literals, end marker.
        let n = c.compress(b"abc", &mut out).unwrap();
        assert_eq!(&out[..n], &[20, b'a', b'b', b'c', 0x11, 0, 0]);
        // "abcd" then an overlapping 12-byte match at distance 4 (M3, as
        // M2 stops at 8): 21 'abcd', 0x20|10, LE16 (3<<2), end.
        let n = c.compress(b"abcdabcdabcdabcd", &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[21, b'a', b'b', b'c', b'd', 0x2a, 0x0c, 0x00, 0x11, 0, 0]
        );
        // A short match (M2) followed by two literals in its SS bits:
        // "abcdefgh" + "abcde" (dist 8, len 5) + "XY".
        let n = c.compress(b"abcdefghabcdeXY", &mut out).unwrap();
        assert_eq!(
            &out[..n],
            &[
                25,
                b'a',
                b'b',
                b'c',
                b'd',
                b'e',
                b'f',
                b'g',
                b'h',
                // M2: (5-1)<<5 | (7&7)<<2 | SS=2, then 7>>3
                0x80 | 0x1c | 2,
                0,
                b'X',
                b'Y',
                0x11,
                0,
                0
            ]
        );
    }

    #[test]
    fn empty_and_tiny_inputs() {
        let mut c = LzoCompressor::new();
        for len in 0..12 {
            let page: Vec<u8> = (0..len as u8).collect();
            let mut out = [0u8; 64];
            let n = c.compress(&page, &mut out).unwrap();
            let mut back = [0u8; 16];
            assert_eq!(dumpfile::lzo::decompress(&out[..n], &mut back), Ok(len));
            assert_eq!(&back[..len], &page[..]);
        }
    }

    #[test]
    fn long_runs_use_the_extensions() {
        let mut c = LzoCompressor::new();
        // A zero page: one literal then one long overlapping match.
        let zeros = vec![0u8; 4096];
        let n = round_trip(&mut c, &zeros).unwrap();
        assert!(n < 40, "{n}");
        // 300 literals first (first-run form cannot hold them), then a
        // long match.
        let mut rng = Rng(99);
        let mut p: Vec<u8> = (0..300).map(|_| rng.next() as u8).collect();
        let copy = p.clone();
        p.extend_from_slice(&copy);
        p.extend(std::iter::repeat_n(7u8, 1000));
        round_trip(&mut c, &p).unwrap();
    }

    #[test]
    fn far_matches_use_m4() {
        // 64 KiB pages (arm64, ppc64): a block repeated 40000 bytes later.
        let mut rng = Rng(5);
        let mut p: Vec<u8> = (0..65536).map(|_| rng.next() as u8).collect();
        let block: Vec<u8> = p[100..1100].to_vec();
        p[40100..41100].copy_from_slice(&block);
        let mut c = LzoCompressor::new();
        let mut out = vec![0u8; 70000];
        let n = c.compress(&p, &mut out).unwrap();
        // Only a match 40000 bytes back (M4) can save the repeated block.
        assert!(n < p.len() - 500, "{n}");
        let mut back = vec![0u8; p.len()];
        assert_eq!(dumpfile::lzo::decompress(&out[..n], &mut back), Ok(p.len()));
        assert!(back == p);
    }

    #[test]
    fn noise_does_not_fit_a_page() {
        let mut rng = Rng(1);
        let noise: Vec<u8> = (0..4096).map(|_| rng.next() as u8).collect();
        let mut c = LzoCompressor::new();
        let mut out = vec![0u8; 4096];
        assert_eq!(c.compress(&noise, &mut out), None);
        // ... but it is still valid with room to spare.
        round_trip(&mut c, &noise).unwrap();
    }

    #[test]
    fn random_and_structured_pages_round_trip() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut c = LzoCompressor::new();
        for i in 0..1500 {
            let size = match i % 5 {
                0 => 1 + rng.below(300),
                1 => 16384,
                _ => 4096,
            };
            let page = structured_page(&mut rng, size);
            round_trip(&mut c, &page).unwrap();
        }
    }

    #[test]
    fn output_is_independent_of_earlier_pages() {
        let mut rng = Rng(3);
        let a = structured_page(&mut rng, 4096);
        let b = structured_page(&mut rng, 4096);
        let mut fresh = LzoCompressor::new();
        let mut used = LzoCompressor::new();
        let mut o1 = vec![0u8; 8192];
        let mut o2 = vec![0u8; 8192];
        used.compress(&a, &mut o1).unwrap();
        let n1 = fresh.compress(&b, &mut o1).unwrap();
        let n2 = used.compress(&b, &mut o2).unwrap();
        assert_eq!(o1[..n1], o2[..n2]);
    }

    #[test]
    fn never_writes_past_the_slice() {
        let mut rng = Rng(11);
        let mut c = LzoCompressor::new();
        for _ in 0..200 {
            let page = structured_page(&mut rng, 4096);
            let mut big = vec![0u8; 8192];
            let Some(full) = c.compress(&page, &mut big) else {
                continue;
            };
            // Every smaller budget either fails or gives the same stream.
            for cap in [full - 1, full / 2, 3, 0] {
                let mut small = vec![0u8; cap];
                assert_eq!(c.compress(&page, &mut small), None, "cap {cap}");
            }
            let mut exact = vec![0u8; full];
            assert_eq!(c.compress(&page, &mut exact), Some(full));
            assert_eq!(exact, big[..full]);
        }
    }

    /// `marker`, zeros, `second` at `distance`, 0xff, zeros to `size`:
    /// the zero run ends exactly where `second` starts, so it is probed
    /// there whatever the skip heuristic would have done.
    fn marker_page(marker: &[u8], second: &[u8], distance: usize, size: usize) -> Vec<u8> {
        let mut p = vec![0u8; size];
        p[..marker.len()].copy_from_slice(marker);
        p[distance..distance + second.len()].copy_from_slice(second);
        if let Some(b) = p.get_mut(distance + second.len()) {
            *b = 0xff;
        }
        p
    }

    #[test]
    fn distance_and_length_boundaries() {
        let mut rng = Rng(42);
        let mut c = LzoCompressor::new();
        // M2 ends at distance 2048 and length 8, M3 at 16384, M4 at 49151
        // (the farthest LZO1X can say); M3 lengths take the extension
        // from 34 on, M4 lengths from 10 on.
        for distance in [
            8, 9, 2047, 2048, 2049, 16383, 16384, 16385, 49150, 49151, 49152, 60000,
        ] {
            for len in [4, 5, 8, 9, 10, 33, 34, 35, 300] {
                let marker: Vec<u8> = (0..len).map(|_| 1 | rng.next() as u8).collect();
                let other: Vec<u8> = (0..len).map(|_| 1 | rng.next() as u8).collect();
                if distance < len + 2 {
                    continue;
                }
                for size in [distance + len, distance + len + 1, 65536] {
                    if size < distance + len {
                        continue;
                    }
                    let with = marker_page(&marker, &marker, distance, size);
                    let without = marker_page(&marker, &other, distance, size);
                    let n_with = round_trip(&mut c, &with).unwrap();
                    let n_without = round_trip(&mut c, &without).unwrap();
                    if distance <= MAX_DISTANCE {
                        assert!(n_with < n_without, "d {distance} len {len} size {size}");
                    } else {
                        assert_eq!(n_with, n_without, "d {distance} len {len} size {size}");
                    }
                }
            }
        }
    }

    #[test]
    fn literal_run_boundaries() {
        let mut rng = Rng(8);
        let mut c = LzoCompressor::new();
        // First runs (the first-byte form holds 1-238, the run opcode the
        // rest) and runs after a match (1-3 in SS bits, 4-18 in the
        // opcode, then the extension from 19, a second extension byte
        // from 274), each followed by a match, by the page end, or both.
        for run in [
            1, 2, 3, 4, 5, 17, 18, 19, 20, 237, 238, 239, 240, 272, 273, 274, 275, 600,
        ] {
            let noise: Vec<u8> = (0..run).map(|_| 1 | rng.next() as u8).collect();
            let mut first = noise.clone();
            first.extend(std::iter::repeat_n(0u8, 100));
            round_trip(&mut c, &first).unwrap();
            round_trip(&mut c, &noise).unwrap();
            let mut after = vec![0u8; 100];
            after.extend_from_slice(&noise);
            round_trip(&mut c, &after).unwrap();
            after.extend(std::iter::repeat_n(0u8, 100));
            let n = round_trip(&mut c, &after).unwrap();
            // Zeros, the run, zeros: two matches and one literal run (the
            // second zero run may be matched a few bytes in: one skip step
            // late, or against the first zeros' start, which backward
            // extension cannot move before; those bytes go out as
            // literals).
            assert!(n <= run + run / 255 + run / 32 + 16, "run {run}: {n}");
        }
    }

    #[test]
    fn matches_reaching_the_end_of_the_input() {
        let mut rng = Rng(21);
        let mut c = LzoCompressor::new();
        let block: Vec<u8> = (0..64).map(|_| rng.next() as u8).collect();
        // The repeat ends exactly at the last byte, or 1-7 bytes short of
        // it (the 8-byte extension's tail), for repeats of 4 to 64 bytes.
        for len in [4, 5, 7, 8, 9, 15, 16, 17, 63, 64] {
            for tail in 0..8 {
                let mut p = block.clone();
                p.extend_from_slice(&block[..len]);
                p.extend((0..tail).map(|_| rng.next() as u8));
                round_trip(&mut c, &p).unwrap();
            }
        }
    }
}
