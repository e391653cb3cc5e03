//! LZO page compression speed: our encoder, lzokay-native and liblzo2's
//! `lzo1x_1_compress` (what makedumpfile -l calls) on the same pages.
//!
//!   cargo run --release -p dumpwrite --example lzo_bench -- FILE [MAX_MIB] [ROUNDS]
//!
//! Reads FILE (a vmcore, or any memory image) in 4 KiB pages, skips
//! all-zero pages (dumps store those once), and compresses every page with
//! each encoder, printing pages/s, output size and the ratios. Our encoder
//! and liblzo2 take turns, ROUNDS times (default 7), so that drift on a
//! shared machine hits both alike; the speed ratio printed is the median
//! of the per-round ratios. lzokay-native (much slower) runs once, and not
//! at all with `LZO_BENCH_SKIP_LZOKAY=1`. Every one of our streams is
//! checked with liblzo2's `lzo1x_decompress_safe` when the library is
//! present. liblzo2 is loaded with dlopen, never linked.

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

/// Time of one pass and the bytes it produced.
fn timed<F: FnMut() -> usize>(f: &mut F) -> (Duration, usize) {
    let t = Instant::now();
    let bytes = f();
    (t.elapsed(), bytes)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: lzo_bench FILE [MAX_MIB] [ROUNDS]");
    let max_mib: usize = args.next().map_or(256, |s| s.parse().expect("MAX_MIB"));
    let rounds: usize = args.next().map_or(7, |s| s.parse().expect("ROUNDS"));
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
    println!("{path}: {n} non-zero 4 KiB pages, {rounds} rounds");

    // Ours as the dump writer calls it: a one-page budget, None = raw.
    let mut ours = LzoCompressor::new();
    let mut our_out = vec![0u8; PAGE];
    let mut run_ours = || {
        pages
            .iter()
            .map(|p| ours.compress(p, &mut our_out).unwrap_or(PAGE))
            .sum::<usize>()
    };

    let lib = liblzo2();
    let mut lib_out = vec![0u8; 2 * PAGE];
    let mut wrkmem = vec![0u8; 1 << 18];
    let mut run_lib = || {
        let Some((compress, _)) = lib else { return 0 };
        pages
            .iter()
            .map(|p| {
                let mut len = lib_out.len() as c_ulong;
                // SAFETY: valid buffers; the output has the worst-case size
                // and the work memory exceeds LZO1X_1_MEM_COMPRESS.
                let rc = unsafe {
                    compress(
                        p.as_ptr(),
                        PAGE as c_ulong,
                        lib_out.as_mut_ptr(),
                        &mut len,
                        wrkmem.as_mut_ptr().cast(),
                    )
                };
                assert_eq!(rc, 0);
                (len as usize).min(PAGE)
            })
            .sum()
    };

    let (mut t_ours, mut b_ours) = (Duration::MAX, 0);
    let (mut t_lib, mut b_lib) = (Duration::MAX, 0);
    let mut ratios = Vec::new();
    for _ in 0..rounds {
        let (t, b) = timed(&mut run_ours);
        (t_ours, b_ours) = (t_ours.min(t), b);
        if lib.is_some() {
            let (tl, bl) = timed(&mut run_lib);
            (t_lib, b_lib) = (t_lib.min(tl), bl);
            ratios.push(tl.as_secs_f64() / t.as_secs_f64());
        }
    }

    let skip_lzokay = std::env::var_os("LZO_BENCH_SKIP_LZOKAY").is_some();
    let lzokay = (!skip_lzokay).then(|| {
        let mut dict = lzokay_native::Dict::new();
        timed(&mut || {
            pages
                .iter()
                .map(|p| {
                    let c = lzokay_native::compress_with_dict(p, &mut dict).expect("lzokay");
                    c.len().min(PAGE)
                })
                .sum()
        })
    });

    if let Some((_, decompress)) = lib {
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
        "encoder (best round)", "pages/s", "out MiB", "MiB/s"
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
    if let Some((t, b)) = lzokay {
        row("lzokay-native", t, b);
    }
    if lib.is_some() {
        row("liblzo2 lzo1x_1", t_lib, b_lib);
        let (lo, hi) = ratios
            .iter()
            .fold((f64::MAX, 0f64), |(lo, hi), &r| (lo.min(r), hi.max(r)));
        println!(
            "ours vs liblzo2: {:.2}x the speed (median of {} rounds; {lo:.2}-{hi:.2}), {:.3}x the size",
            median(ratios.clone()),
            ratios.len(),
            b_ours as f64 / b_lib as f64
        );
    }
    if let Some((t, b)) = lzokay {
        println!(
            "ours vs lzokay-native: {:.1}x the speed, {:.3}x the size",
            t.as_secs_f64() / t_ours.as_secs_f64(),
            b_ours as f64 / b as f64
        );
    }
}
