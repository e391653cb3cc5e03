//! Malformed and huge input: no panic, bounded memory.

use std::io::Read;

/// Peak resident set size of this process in KiB (Linux), if known.
fn vm_hwm_kib() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let l = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    l.split_whitespace().nth(1)?.parse().ok()
}

/// Deterministic xorshift bytes.
fn noise(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

#[test]
fn binary_garbage() {
    for seed in 1..20u64 {
        let data = noise(64 * 1024, seed);
        let a = oops::analyze(&data);
        assert_eq!(
            a.reports.len(),
            oops::analyze_reader(&data[..]).unwrap().reports.len()
        );
    }
}

#[test]
fn invalid_utf8_inside_a_report() {
    let mut log = b"BUG: kernel NULL pointer dereference, address: 0000000000000000\n".to_vec();
    log.extend_from_slice(b"RIP: 0010:\xff\xfefoo+0x1/0x2\n");
    log.extend_from_slice(b"Call Trace:\n bar\xc3+0x1/0x2\n baz+0x1/0x2\n\x00\x01\x02\n");
    let a = oops::analyze(&log);
    assert_eq!(a.reports.len(), 1);
    assert!(a.reports[0].corrupted);
}

#[test]
fn one_megabyte_lines() {
    let mut log = Vec::new();
    log.extend_from_slice(b"WARNING: CPU: 0 PID: 1 at a.c:1 foo+0x1/0x2\n");
    log.extend(std::iter::repeat_n(b'x', 1 << 20));
    log.push(b'\n');
    log.extend_from_slice(b"Call Trace:\n");
    log.extend(std::iter::repeat_n(b'[', 1 << 20));
    log.push(b'\n');
    let a = oops::analyze(&log);
    assert_eq!(a.title(), Some("WARNING in foo"));
    let b = oops::analyze_reader(&log[..]).unwrap();
    assert_eq!(a.reports, b.reports);
}

/// A reader producing `total` bytes of log without holding them: boot noise,
/// and every so often a full oops with a long call trace.
struct Generated {
    total: u64,
    sent: u64,
    line: u64,
    pending: Vec<u8>,
    pos: usize,
}

impl Read for Generated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.pos >= self.pending.len() {
            if self.sent >= self.total {
                return Ok(0);
            }
            self.line += 1;
            let n = self.line;
            let text = match n % 5000 {
                10 => "BUG: kernel NULL pointer dereference, address: 0000000000000008".to_string(),
                11 => "Oops: 0000 [#1] SMP PTI".to_string(),
                12 => "RIP: 0010:gen_fault+0x12/0x40 [genmod]".to_string(),
                13 => "Call Trace:".to_string(),
                14..=200 => format!(" frame_{n}+0x1/0x2"),
                _ => format!(
                    "[{:5}.{:06}] usb 1-{}: new device found, idVendor=1234",
                    n / 1000,
                    n % 1000,
                    n % 7
                ),
            };
            self.pending = format!("{text}\n").into_bytes();
            self.pos = 0;
            self.sent += self.pending.len() as u64;
        }
        let k = buf.len().min(self.pending.len() - self.pos);
        buf[..k].copy_from_slice(&self.pending[self.pos..self.pos + k]);
        self.pos += k;
        Ok(k)
    }
}

#[test]
fn large_streamed_log_bounded_memory() {
    // 200 MB by default; OOPS_BIG_MB overrides (CI on slow machines).
    let mb: u64 = std::env::var("OOPS_BIG_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let before = vm_hwm_kib();
    let a = oops::analyze_reader(Generated {
        total: mb << 20,
        sent: 0,
        line: 0,
        pending: Vec::new(),
        pos: 0,
    })
    .unwrap();
    assert_eq!(a.reports.len(), oops::MAX_REPORTS.min(a.reports.len()));
    assert!(a.reports.len() <= oops::MAX_REPORTS);
    assert!(a.reports.iter().all(|r| r.frames.len() <= oops::MAX_FRAMES));
    assert_eq!(
        a.title(),
        Some("BUG: unable to handle kernel NULL pointer dereference in gen_fault")
    );
    if let (Some(b), Some(after)) = (before, vm_hwm_kib()) {
        // The log is 200 MB; the analyzer may keep a few MB at most.
        assert!(
            after.saturating_sub(b) < 64 * 1024,
            "peak RSS grew by {} KiB",
            after - b
        );
    }
}
