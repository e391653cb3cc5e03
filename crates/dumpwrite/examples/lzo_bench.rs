//! LZO page compression speed: our encoder, lzokay-native and liblzo2's
//! `lzo1x_1_compress` (what makedumpfile -l calls) on the same pages.
//!
//!   cargo run --release -p dumpwrite --example lzo_bench -- FILE [MAX_MIB]
//!
//! Reads FILE (a vmcore, or any memory image) in 4 KiB pages, skips
//! all-zero pages (dumps store those once), and compresses every page with
//! each encoder, printing pages/s, output size and the ratios. Every one of
//! our streams is checked with liblzo2's `lzo1x_decompress_safe` when the
//! library is present. liblzo2 is loaded with dlopen, never linked.

use std::ffi::{c_int, c_ulong, c_void};
use std::time::{Duration, Instant};

use dumpwrite::lzo::LzoCompressor;

const PAGE: usize = 4096;

type LzoFn = unsafe extern "C" fn(*const u8, c_ulong, *mut u8, *mut c_ulong, *mut c_void) -> c_int;

fn liblzo2() -> Option<(LzoFn, LzoFn)> {
    // SAFETY: NUL-terminated names; liblzo2's documented signatures.
    unsafe {
        let h = libc::dlopen(c"liblzo2.so.2".as_ptr(), libc::RTLD_NOW);
        if h.is_null() {
            return None;
        }
        let c = libc::dlsym(h, c"lzo1x_1_compress".as_ptr());
        let d = libc::dlsym(h, c"lzo1x_decompress_safe".as_ptr());
        if c.is_null() || d.is_null() {
            return None;
        }
        Some((
            std::mem::transmute::<*mut c_void, LzoFn>(c),
            std::mem::transmute::<*mut c_void, LzoFn>(d),
        ))
    }
}

fn best_of<F: FnMut() -> usize>(runs: usize, mut f: F) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut bytes = 0;
    for _ in 0..runs {
        let t = Instant::now();
        bytes = f();
        best = best.min(t.elapsed());
    }
    (best, bytes)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: lzo_bench FILE [MAX_MIB]");
    let max_mib: usize = args.next().map_or(256, |s| s.parse().expect("MAX_MIB"));
    // Read until MAX_MIB of non-zero pages are in memory.
    let mut file = std::fs::File::open(&path).expect("open FILE");
    let mut data = Vec::new();
    let mut page = vec![0u8; PAGE];
    while data.len() < max_mib << 20 {
        if std::io::Read::read_exact(&mut file, &mut page).is_err() {
            break;
        }
        if page.iter().any(|&b| b != 0) {
            data.extend_from_slice(&page);
        }
    }
    let pages: Vec<&[u8]> = data.chunks_exact(PAGE).collect();
    let n = pages.len();
    println!("{path}: {n} non-zero 4 KiB pages");
    let mut out = vec![0u8; 2 * PAGE];

    let mut ours = LzoCompressor::new();
    let (t_ours, b_ours) = best_of(3, || {
        pages
            .iter()
            .map(|p| ours.compress(p, &mut out[..PAGE]).unwrap_or(PAGE))
            .sum()
    });

    let mut dict = lzokay_native::Dict::new();
    let (t_lzokay, b_lzokay) = best_of(1, || {
        pages
            .iter()
            .map(|p| {
                let c = lzokay_native::compress_with_dict(p, &mut dict).expect("lzokay");
                c.len().min(PAGE)
            })
            .sum()
    });

    let lib = liblzo2();
    let mut lib_result = None;
    if let Some((compress, decompress)) = lib {
        let mut wrkmem = vec![0u8; 1 << 18];
        lib_result = Some(best_of(3, || {
            pages
                .iter()
                .map(|p| {
                    let mut len = out.len() as c_ulong;
                    // SAFETY: valid buffers; out has the worst-case size.
                    let rc = unsafe {
                        compress(
                            p.as_ptr(),
                            PAGE as c_ulong,
                            out.as_mut_ptr(),
                            &mut len,
                            wrkmem.as_mut_ptr().cast(),
                        )
                    };
                    assert_eq!(rc, 0);
                    (len as usize).min(PAGE)
                })
                .sum()
        }));
        // Every stream of ours decodes with liblzo2 to the same page.
        let mut back = vec![0u8; PAGE];
        let mut big = vec![0u8; 2 * PAGE];
        for (i, p) in pages.iter().enumerate() {
            let k = ours.compress(p, &mut big).expect("fits in 8 KiB");
            let mut len = PAGE as c_ulong;
            // SAFETY: valid buffers; the safe decoder takes no work memory.
            let rc = unsafe {
                decompress(
                    big.as_ptr(),
                    k as c_ulong,
                    back.as_mut_ptr(),
                    &mut len,
                    std::ptr::null_mut(),
                )
            };
            assert!(rc == 0 && len as usize == PAGE && back == **p, "page {i}");
        }
        println!("all {n} pages of ours decode with liblzo2 lzo1x_decompress_safe");
    }

    let rate = |t: Duration| n as f64 / t.as_secs_f64();
    let mib = |b: usize| b as f64 / 1048576.0;
    println!(
        "{:<22} {:>12} {:>10} {:>9}",
        "encoder", "pages/s", "out MiB", "MiB/s"
    );
    let row = |name: &str, t: Duration, b: usize| {
        println!(
            "{name:<22} {:>12.0} {:>10.1} {:>9.0}",
            rate(t),
            mib(b),
            rate(t) * PAGE as f64 / 1048576.0
        );
    };
    row("panicdump lzo", t_ours, b_ours);
    row("lzokay-native", t_lzokay, b_lzokay);
    if let Some((t, b)) = lib_result {
        row("liblzo2 lzo1x_1", t, b);
        println!(
            "ours vs liblzo2: {:.2}x the speed, {:.3}x the size",
            t.as_secs_f64() / t_ours.as_secs_f64(),
            b_ours as f64 / b as f64
        );
    }
    println!(
        "ours vs lzokay-native: {:.1}x the speed, {:.3}x the size",
        t_lzokay.as_secs_f64() / t_ours.as_secs_f64(),
        b_ours as f64 / b_lzokay as f64
    );
}
