//! Our LZO1X encoder checked by liblzo2 itself, the library makedumpfile and
//! crash decode `-l` pages with: every page must come back exact through
//! `lzo1x_decompress_safe`, and our output must stay close to liblzo2's own
//! `lzo1x_1_compress` in size.
//!
//! liblzo2 is loaded at run time (dlopen), only by this test and the LZO
//! benchmark; nothing of it is linked into panicdump.

use std::ffi::{c_int, c_ulong, c_void, CStr};

use dumpwrite::lzo::LzoCompressor;

type LzoFn = unsafe extern "C" fn(*const u8, c_ulong, *mut u8, *mut c_ulong, *mut c_void) -> c_int;

struct Liblzo2 {
    decompress_safe: LzoFn,
    compress_1: LzoFn,
}

fn liblzo2() -> Option<Liblzo2> {
    let name = c"liblzo2.so.2";
    // SAFETY: dlopen/dlsym with NUL-terminated names; the symbols have the
    // documented liblzo2 signatures (lzo_uint is unsigned long on Linux).
    unsafe {
        let handle = libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
        if handle.is_null() {
            return None;
        }
        let sym = |s: &CStr| {
            let p = libc::dlsym(handle, s.as_ptr());
            (!p.is_null()).then(|| std::mem::transmute::<*mut c_void, LzoFn>(p))
        };
        Some(Liblzo2 {
            decompress_safe: sym(c"lzo1x_decompress_safe")?,
            compress_1: sym(c"lzo1x_1_compress")?,
        })
    }
}

fn need_liblzo2() -> Option<Liblzo2> {
    let lib = liblzo2();
    if lib.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "liblzo2.so.2 is missing (package liblzo2-2, installed with makedumpfile by scripts/install-deps.sh)"
        );
        eprintln!("skipping: liblzo2.so.2 not found");
    }
    lib
}

impl Liblzo2 {
    fn decompress(&self, src: &[u8], cap: usize) -> Result<Vec<u8>, c_int> {
        let mut out = vec![0u8; cap];
        let mut len = cap as c_ulong;
        // SAFETY: buffers are valid for the lengths passed; the safe
        // decoder needs no work memory.
        let rc = unsafe {
            (self.decompress_safe)(
                src.as_ptr(),
                src.len() as c_ulong,
                out.as_mut_ptr(),
                &mut len,
                std::ptr::null_mut(),
            )
        };
        if rc != 0 {
            return Err(rc);
        }
        out.truncate(len as usize);
        Ok(out)
    }

    fn compress(&self, src: &[u8], wrkmem: &mut [u8]) -> Vec<u8> {
        let mut out = vec![0u8; src.len() + src.len() / 16 + 64 + 3];
        let mut len = out.len() as c_ulong;
        // SAFETY: the output has liblzo2's documented worst-case size and
        // the work memory is larger than LZO1X_1_MEM_COMPRESS.
        let rc = unsafe {
            (self.compress_1)(
                src.as_ptr(),
                src.len() as c_ulong,
                out.as_mut_ptr(),
                &mut len,
                wrkmem.as_mut_ptr().cast(),
            )
        };
        assert_eq!(rc, 0, "lzo1x_1_compress");
        out.truncate(len as usize);
        out
    }
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

const TEXT: &[u8] = b"[   12.345678] Call Trace:\n <TASK>\n dump_stack_lvl+0x5d/0x80\n";

/// Memory-like pages: zero runs, repeated records, text, pointer arrays,
/// noise and back-copies, in random mixtures.
fn page(rng: &mut Rng, size: usize) -> Vec<u8> {
    let mut p = vec![0u8; size];
    let mut at = 0;
    while at < size {
        let run = (1 + rng.below(900)).min(size - at);
        let kind = rng.below(8);
        let seed = rng.next();
        for i in 0..run {
            let k = at + i;
            p[k] = match kind {
                0 => 0,
                1 => TEXT[i % TEXT.len()],
                2 => rng.next() as u8,
                3 => {
                    ((0xffff_8880_0000_0000u64 | (seed & 0xffff_f000) | (i as u64 & !7))
                        >> (8 * (i % 8))) as u8
                }
                4 => (i % (2 + (seed % 13) as usize)) as u8,
                5 if k >= 1 => p[k - 1 - ((seed as usize + i) % k.min(3000))],
                6 => 0xff,
                _ => (rng.next() % 3) as u8,
            };
        }
        at += run;
    }
    p
}

#[test]
fn liblzo2_decodes_every_page() {
    let Some(lib) = need_liblzo2() else { return };
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut ours = LzoCompressor::new();
    let mut wrkmem = vec![0u8; 1 << 18];
    let (mut our_total, mut their_total) = (0usize, 0usize);
    for i in 0..3000 {
        let size = [4096, 4096, 4096, 16384, 65536, 1 + rng.below(4096)][i % 6];
        let p = page(&mut rng, size);
        let mut out = vec![0u8; size + size / 16 + 64];
        let n = ours.compress(&p, &mut out).expect("fits with headroom");
        let back = lib
            .decompress(&out[..n], size)
            .unwrap_or_else(|rc| panic!("page {i} ({size} bytes): lzo1x_decompress_safe = {rc}"));
        assert!(back == p, "page {i}: liblzo2 decoded different bytes");
        our_total += n;
        their_total += lib.compress(&p, &mut wrkmem).len();
    }
    let ratio = our_total as f64 / their_total as f64;
    eprintln!("ours {our_total} bytes, lzo1x_1 {their_total} bytes: {ratio:.3}x");
    // Within 15% of lzo1x_1's size on memory-like data.
    assert!(ratio < 1.15, "{ratio}");
}

#[test]
fn liblzo2_output_round_trips_through_our_decoder_too() {
    // The other direction keeps the two decoders honest about the format
    // this encoder targets: liblzo2's streams decode with dumpfile::lzo.
    let Some(lib) = need_liblzo2() else { return };
    let mut rng = Rng(77);
    let mut wrkmem = vec![0u8; 1 << 18];
    for _ in 0..500 {
        let p = page(&mut rng, 4096);
        let c = lib.compress(&p, &mut wrkmem);
        let mut back = vec![0u8; 4096];
        assert_eq!(dumpfile::lzo::decompress(&c, &mut back), Ok(4096));
        assert!(back == p);
    }
}

/// The encoder's boundary cases, decoded by liblzo2 itself: matches at the
/// M2/M3/M4 distance limits (2048, 16384, 49151, and past the farthest one
/// LZO1X can say) with lengths around each length-field boundary, literal
/// runs around each run-length form (1-3 in the previous match's bits,
/// 4-18, the extension from 19, a second extension byte from 274, the
/// first run's 238), and repeats ending at or just short of the input end.
#[test]
fn liblzo2_decodes_the_boundary_cases() {
    let Some(lib) = need_liblzo2() else { return };
    let mut rng = Rng(0x5eed_f00d);
    let mut ours = LzoCompressor::new();
    let mut inputs: Vec<Vec<u8>> = Vec::new();
    for distance in [
        9usize, 2047, 2048, 2049, 16383, 16384, 16385, 49151, 49152, 60000,
    ] {
        for len in [4usize, 8, 9, 10, 33, 34, 35, 300] {
            if distance < len + 2 {
                continue;
            }
            let marker: Vec<u8> = (0..len).map(|_| 1 | rng.next() as u8).collect();
            for size in [distance + len, distance + len + 1, 65536] {
                let mut p = vec![0u8; size];
                p[..len].copy_from_slice(&marker);
                p[distance..distance + len].copy_from_slice(&marker);
                if let Some(b) = p.get_mut(distance + len) {
                    *b = 0xff;
                }
                inputs.push(p);
            }
        }
    }
    for run in [1usize, 3, 4, 18, 19, 237, 238, 239, 273, 274, 275, 600] {
        let noise: Vec<u8> = (0..run).map(|_| 1 | rng.next() as u8).collect();
        let mut first = noise.clone();
        first.extend(std::iter::repeat_n(0u8, 100));
        let mut after = vec![0u8; 100];
        after.extend_from_slice(&noise);
        let mut both = after.clone();
        both.extend(std::iter::repeat_n(0u8, 100));
        inputs.extend([noise, first, after, both]);
    }
    let block: Vec<u8> = (0..64).map(|_| rng.next() as u8).collect();
    for len in [4usize, 7, 8, 9, 16, 17, 64] {
        for tail in 0..8 {
            let mut p = block.clone();
            p.extend_from_slice(&block[..len]);
            p.extend((0..tail).map(|_| rng.next() as u8));
            inputs.push(p);
        }
    }
    for (i, p) in inputs.iter().enumerate() {
        let mut out = vec![0u8; p.len() + p.len() / 16 + 64];
        let n = ours.compress(p, &mut out).expect("fits with headroom");
        let back = lib.decompress(&out[..n], p.len()).unwrap_or_else(|rc| {
            panic!(
                "input {i} ({} bytes): lzo1x_decompress_safe = {rc}",
                p.len()
            )
        });
        assert!(back == *p, "input {i}: liblzo2 decoded different bytes");
    }
}
