//! A bounded load run on loopback: N clients for T seconds, each sending
//! distinct bundles, re-sending some right away (a retry after a lost
//! answer) and cutting some uploads off half-way before retrying them (a
//! killed client); then the stored count must equal the distinct records
//! sent.

#![allow(dead_code)]

use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::bundles::{self, machine};
use super::http;

/// What a run did.
#[derive(Debug, Default, Clone)]
pub struct LoadResult {
    pub clients: usize,
    pub seconds: f64,
    /// Distinct records accepted (201).
    pub stored: u64,
    /// Immediate re-sends answered `duplicate: true`.
    pub duplicates: u64,
    /// Uploads cut off half-way (then retried).
    pub interrupted: u64,
    /// Answers that were neither 201 nor a duplicate 200.
    pub errors: u64,
    /// Per-request latencies of first sends, milliseconds, sorted.
    pub latencies_ms: Vec<f64>,
}

impl LoadResult {
    pub fn rate(&self) -> f64 {
        self.stored as f64 / self.seconds
    }
    pub fn percentile(&self, p: f64) -> f64 {
        if self.latencies_ms.is_empty() {
            return 0.0;
        }
        let i = ((self.latencies_ms.len() - 1) as f64 * p).round() as usize;
        self.latencies_ms[i]
    }
}

/// Real bundles of a few corpus logs, built once.
pub fn templates(dir: &std::path::Path) -> Vec<Vec<u8>> {
    [
        bundles::SYSRQ,
        bundles::GPF,
        "lab/init-exit-debian-6.1.log",
        "lab/nmi-unknown-nmi-panic-debian-6.1.log",
    ]
    .iter()
    .enumerate()
    .map(|(i, f)| {
        bundles::build(
            &dir.join(i.to_string()),
            &bundles::corpus(f),
            1_700_000_000 + i as i64,
        )
    })
    .collect()
}

pub fn run(
    addr: std::net::SocketAddr,
    token: &str,
    templates: Vec<Vec<u8>>,
    clients: usize,
    secs: f64,
) -> LoadResult {
    let templates = Arc::new(templates);
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(secs);
    let threads: Vec<_> = (0..clients)
        .map(|c| {
            let templates = templates.clone();
            let auth = format!("Bearer {token}");
            std::thread::spawn(move || {
                let m = machine(1000 + c as u32);
                let headers = [
                    ("Authorization", auth.as_str()),
                    ("Content-Type", "application/gzip"),
                    ("X-Panicdump-Machine", m.as_str()),
                ];
                let mut r = LoadResult::default();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let record = format!("load-{c}-{n}");
                    let body = bundles::with_record(
                        &templates[(n as usize + c) % templates.len()],
                        &record,
                    );
                    if n % 10 == 9 {
                        // A client killed mid-upload.
                        if let Ok(mut s) = TcpStream::connect(addr) {
                            let _ = s.write_all(&http::head(
                                "POST",
                                "/api/v1/reports",
                                &headers,
                                Some(body.len()),
                            ));
                            let _ = s.write_all(&body[..body.len() / 2]);
                        }
                        r.interrupted += 1;
                    }
                    let t0 = Instant::now();
                    match http::request(addr, "POST", "/api/v1/reports", &headers, &body) {
                        Ok(a) if a.status == 201 => r.stored += 1,
                        Ok(a) => {
                            eprintln!("load: {record}: {} {}", a.status, a.text());
                            r.errors += 1;
                        }
                        Err(e) => {
                            eprintln!("load: {record}: {e}");
                            r.errors += 1;
                        }
                    }
                    r.latencies_ms.push(t0.elapsed().as_secs_f64() * 1000.0);
                    if n % 4 == 3 {
                        // The answer was "lost": send it again.
                        match http::request(addr, "POST", "/api/v1/reports", &headers, &body) {
                            Ok(a) if a.status == 200 && a.json()["duplicate"] == true => {
                                r.duplicates += 1
                            }
                            Ok(a) => {
                                eprintln!("load: retry {record}: {} {}", a.status, a.text());
                                r.errors += 1;
                            }
                            Err(e) => {
                                eprintln!("load: retry {record}: {e}");
                                r.errors += 1;
                            }
                        }
                    }
                    n += 1;
                }
                r
            })
        })
        .collect();
    let mut total = LoadResult {
        clients,
        ..LoadResult::default()
    };
    for t in threads {
        let r = t.join().expect("client thread");
        total.stored += r.stored;
        total.duplicates += r.duplicates;
        total.interrupted += r.interrupted;
        total.errors += r.errors;
        total.latencies_ms.extend(r.latencies_ms);
    }
    total.seconds = start.elapsed().as_secs_f64();
    total.latencies_ms.sort_by(|a, b| a.total_cmp(b));
    total
}

/// Sum of bucket counts through the API.
pub fn api_total(addr: std::net::SocketAddr) -> i64 {
    let mut sum = 0;
    let mut offset = 0;
    loop {
        let a = http::request(
            addr,
            "GET",
            &format!("/api/v1/buckets?limit=500&offset={offset}"),
            &[],
            b"",
        )
        .unwrap();
        let v = a.json();
        let page = v["buckets"].as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        sum += page
            .iter()
            .map(|b| b["count"].as_i64().unwrap())
            .sum::<i64>();
        offset += page.len();
    }
    sum
}
