//! The queue on disk: backoff schedule against a closed port (a real
//! refused connection), the attempt counted before the upload starts,
//! markers that stop a second send, the daily limit, corrupt entries kept,
//! consent, the lock, and the HTTP answers of a small local responder.
//! The acceptance tests against the real server are in
//! `crates/panicdump/tests/submit_cli.rs`.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use submit::{Enqueued, Outcome, Queue, RunOptions, Settings, Status, Upload};

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("submit-q-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A crash record with a distinct log.
fn record(state: &Path, n: u32) -> crashdb::Record {
    let log = format!(
        "[    1.000000] Linux version 6.1.0-{n} (test)\n\
         [    2.000000] BUG: kernel NULL pointer dereference, address: 00000000000000{n:02x}\n\
         [    2.000001] Oops: 0000 [#1] SMP PTI\n\
         [    2.000002] RIP: 0010:demo_fn_{n}+0x12/0x40 [demo]\n\
         [    2.000003] Call Trace:\n\
         [    2.000004]  <TASK>\n\
         [    2.000005]  demo_fn_{n}+0x12/0x40 [demo]\n\
         [    2.000006]  do_one_initcall+0x44/0x200\n\
         [    2.000007]  </TASK>\n"
    );
    let store = crashdb::Store::new(state);
    let w = store
        .write(
            &crashdb::NewRecord::new(log.into_bytes(), crashdb::SourceKind::File, "test log")
                .crash_time(1_800_000_000 + i64::from(n)),
            1_800_000_100,
        )
        .unwrap();
    store.resolve(&w.id).unwrap()
}

fn settings(state: &Path, url: &str) -> Settings {
    let mid = state.join("machine-id");
    std::fs::write(&mid, "0123456789abcdef0123456789abcdef\n").unwrap();
    Settings {
        url: Some(url.to_string()),
        token: Some("pdt_test".into()),
        consent: true,
        machine_id_path: mid,
        connect_timeout_secs: 2,
        timeout_secs: 5,
        backoff_base_secs: 60,
        backoff_max_secs: 600,
        ..Settings::default()
    }
}

/// A URL where nothing listens.
fn closed_url() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    drop(l);
    format!("http://127.0.0.1:{port}")
}

fn accepted(id: &str) -> Upload {
    Upload::Accepted(submit::Accepted {
        status: 201,
        report_id: format!("rep-{id}"),
        bucket_id: "b1".into(),
        duplicate: false,
        title: None,
    })
}

#[test]
fn backoff_schedule_doubles_up_to_the_cap_against_a_closed_port() {
    let state = scratch("backoff");
    let s = settings(&state, &closed_url());
    let q = Queue::new(&state);
    let lock = q.lock(Duration::ZERO).unwrap();
    let rec = record(&state, 1);
    let t0 = 1_900_000_000;
    assert!(matches!(
        q.enqueue(&lock, &rec, &s, t0).unwrap(),
        Enqueued::Queued { .. }
    ));
    let mut t = t0;
    let mut delays = Vec::new();
    for attempt in 1..=7u32 {
        let out = q.run(&lock, &s, &RunOptions::default(), t).unwrap();
        assert_eq!(out.len(), 1);
        let next = match &out[0].outcome {
            Outcome::Retry {
                attempts,
                next_attempt_at,
                error,
            } => {
                assert_eq!(*attempts, attempt);
                assert!(error.contains("unreachable"), "{error}");
                *next_attempt_at
            }
            o => panic!("attempt {attempt}: {o:?}"),
        };
        let nominal = (60u64 << (attempt - 1)).min(600) as i64;
        let d = next - t;
        assert!(
            d >= nominal / 2 && d <= nominal,
            "attempt {attempt}: delay {d} outside [{}, {nominal}]",
            nominal / 2
        );
        delays.push(d);
        // Before the delay is over nothing is sent.
        let out = q.run(&lock, &s, &RunOptions::default(), next - 1).unwrap();
        assert!(
            matches!(out[0].outcome, Outcome::NotDue { next_attempt_at } if next_attempt_at == next)
        );
        // The state on disk says the same.
        let e = &q.entries().unwrap()[0];
        let st = e.state.as_ref().unwrap();
        assert_eq!((st.attempts, st.next_attempt_at), (attempt, next));
        assert_eq!(st.status, Status::Pending);
        t = next;
    }
    // Capped: the last delays stay within [300, 600].
    assert!(
        delays[4..].iter().all(|&d| (300..=600).contains(&d)),
        "{delays:?}"
    );
    // A clock set back by a year does not park the entry for a year.
    let out = q
        .run(&lock, &s, &RunOptions::default(), t - 365 * 86_400)
        .unwrap();
    assert!(
        matches!(out[0].outcome, Outcome::Retry { attempts: 8, .. }),
        "{out:?}"
    );
    t = match out[0].outcome {
        Outcome::Retry {
            next_attempt_at, ..
        } => next_attempt_at,
        _ => unreachable!(),
    };
    // Asking by name sends now whatever the backoff.
    let out = q
        .run(
            &lock,
            &s,
            &RunOptions {
                now_ids: vec![rec.meta.id.clone()],
                ignore_backoff: false,
            },
            t - 100,
        )
        .unwrap();
    assert!(matches!(out[0].outcome, Outcome::Retry { attempts: 9, .. }));
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn the_attempt_is_on_disk_before_the_upload_and_a_marker_stops_resending() {
    let state = scratch("marker");
    let s = settings(&state, "http://127.0.0.1:9");
    let q = Queue::new(&state);
    let lock = q.lock(Duration::ZERO).unwrap();
    let rec = record(&state, 2);
    let id = rec.meta.id.clone();
    q.enqueue(&lock, &rec, &s, 100).unwrap();
    let mut calls = 0;
    let out = q
        .run_with(&lock, &s, &RunOptions::default(), 100, &mut |_, req| {
            calls += 1;
            // What a killed client leaves behind: the attempt is counted
            // and a retry is scheduled before a byte goes out.
            let st = &q.entries().unwrap()[0];
            let st = st.state.as_ref().unwrap();
            assert_eq!(st.attempts, 1);
            assert!(st.next_attempt_at > 100);
            assert!(st.last_error.as_deref().unwrap().contains("did not finish"));
            assert_eq!(req.record, id);
            assert_eq!(req.machine.len(), 64);
            // The body is the bundle: a gzip'd tar with the manifest first.
            let members = crashdb::read_tar_gz(req.body).unwrap();
            assert!(members[0].0.ends_with("/manifest.json"));
            accepted(req.record)
        })
        .unwrap();
    assert_eq!(calls, 1);
    assert!(matches!(out[0].outcome, Outcome::Sent { .. }));
    assert!(q.entries().unwrap().is_empty());
    assert_eq!(
        q.sent(&id).unwrap().unwrap().answer.report_id,
        format!("rep-{id}")
    );
    // Queueing it again does nothing: it was sent.
    assert!(matches!(
        q.enqueue(&lock, &rec, &s, 200).unwrap(),
        Enqueued::AlreadySent { .. }
    ));
    assert!(q.entries().unwrap().is_empty());

    // A run killed after the marker but before removing the entry: the
    // next run removes it without sending.
    let rec3 = record(&state, 3);
    q.enqueue(&lock, &rec3, &s, 300).unwrap();
    let marker = q.sent(&id).unwrap().unwrap();
    let mut m3 = marker.clone();
    m3.record = rec3.meta.id.clone();
    std::fs::write(
        q.dir().join("sent").join(format!("{}.json", rec3.meta.id)),
        serde_json::to_vec(&m3).unwrap(),
    )
    .unwrap();
    let out = q
        .run_with(&lock, &s, &RunOptions::default(), 300, &mut |_, _| {
            panic!("must not send a record that has a marker")
        })
        .unwrap();
    assert!(matches!(out[0].outcome, Outcome::AlreadySent));
    assert!(q.entries().unwrap().is_empty());
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn over_the_daily_limit_stays_queued_until_the_window_moves() {
    let state = scratch("limit");
    let mut s = settings(&state, "http://127.0.0.1:9");
    s.max_reports_per_day = 3;
    let q = Queue::new(&state);
    let lock = q.lock(Duration::ZERO).unwrap();
    for n in 0..4 {
        q.enqueue(&lock, &record(&state, 10 + n), &s, 1000 + i64::from(n))
            .unwrap();
    }
    let mut sent = 0;
    let out = q
        .run_with(&lock, &s, &RunOptions::default(), 2000, &mut |_, r| {
            sent += 1;
            accepted(r.record)
        })
        .unwrap();
    assert_eq!(sent, 3);
    let limited: Vec<_> = out
        .iter()
        .filter_map(|o| match &o.outcome {
            Outcome::RateLimited {
                next_attempt_at,
                reason,
            } => Some((*next_attempt_at, reason.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(limited.len(), 1);
    assert_eq!(limited[0].0, 2000 + 86_400);
    assert!(limited[0].1.contains("3 reports"), "{}", limited[0].1);
    let u = q.usage(&s, 2000).unwrap();
    assert_eq!(u.reports, 3);
    // Still there, not dropped; a forced run still respects the limit.
    assert_eq!(q.entries().unwrap().len(), 1);
    let out = q
        .run_with(
            &lock,
            &s,
            &RunOptions {
                now_ids: vec![],
                ignore_backoff: true,
            },
            3000,
            &mut |_, _| panic!("over the limit"),
        )
        .unwrap();
    assert!(matches!(out[0].outcome, Outcome::RateLimited { .. }));
    // A day later it goes.
    let out = q
        .run_with(
            &lock,
            &s,
            &RunOptions::default(),
            2000 + 86_400,
            &mut |_, r| accepted(r.record),
        )
        .unwrap();
    assert!(matches!(out[0].outcome, Outcome::Sent { .. }));
    assert!(q.entries().unwrap().is_empty());
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn corrupt_entries_are_reported_and_kept() {
    let state = scratch("corrupt");
    let s = settings(&state, "http://127.0.0.1:9");
    let q = Queue::new(&state);
    let lock = q.lock(Duration::ZERO).unwrap();
    let a = record(&state, 20);
    let b = record(&state, 21);
    let c = record(&state, 22);
    for r in [&a, &b, &c] {
        q.enqueue(&lock, r, &s, 10).unwrap();
    }
    let qd = q.dir().join("queue");
    std::fs::write(qd.join(&a.meta.id).join("state.json"), b"{ not json").unwrap();
    // A bundle changed after queueing no longer matches its checksum.
    let bp = qd.join(&b.meta.id).join("bundle.tar.gz");
    let mut bytes = std::fs::read(&bp).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&bp, &bytes).unwrap();
    let mut sent = Vec::new();
    let out = q
        .run_with(&lock, &s, &RunOptions::default(), 20, &mut |_, r| {
            sent.push(r.record.to_string());
            accepted(r.record)
        })
        .unwrap();
    assert_eq!(sent, vec![c.meta.id.clone()]);
    let corrupt: Vec<_> = out
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Corrupt { .. }))
        .map(|o| o.id.clone())
        .collect();
    assert_eq!(corrupt.len(), 2, "{out:?}");
    assert!(corrupt.contains(&a.meta.id) && corrupt.contains(&b.meta.id));
    // Both kept, with their files untouched.
    assert_eq!(
        std::fs::read(qd.join(&a.meta.id).join("state.json")).unwrap(),
        b"{ not json"
    );
    assert_eq!(std::fs::read(&bp).unwrap(), bytes);
    let entries = q.entries().unwrap();
    assert_eq!(entries.len(), 2);
    let bad = entries.iter().find(|e| e.id == a.meta.id).unwrap();
    assert!(bad.state.as_ref().unwrap_err().contains("state.json"));
    // Queueing the corrupt record again is refused, not overwritten.
    let e = q.enqueue(&lock, &a, &s, 30).unwrap_err().to_string();
    assert!(e.contains("corrupt"), "{e}");
    std::fs::remove_dir_all(&state).unwrap();
}

#[test]
fn nothing_is_queued_without_consent_and_the_lock_is_exclusive() {
    let state = scratch("consent");
    let mut s = settings(&state, "http://127.0.0.1:9");
    s.consent = false;
    let q = Queue::new(&state);
    let lock = q.lock(Duration::ZERO).unwrap();
    let rec = record(&state, 30);
    let e = q.enqueue(&lock, &rec, &s, 1).unwrap_err().to_string();
    assert!(e.contains("consent = true"), "{e}");
    assert!(q.entries().unwrap().is_empty());
    assert!(q.run(&lock, &s, &RunOptions::default(), 1).is_err());
    // A second holder is refused while the first holds the lock, then
    // gets it once it is released.
    let e = q.lock(Duration::from_millis(100)).unwrap_err().to_string();
    assert!(e.contains("busy") && e.contains("pid"), "{e}");
    drop(lock);
    q.lock(Duration::ZERO).unwrap();
    std::fs::remove_dir_all(&state).unwrap();
}

/// Answer each connection with the next canned response, after reading
/// the whole request; returns the requests seen.
fn responder(answers: Vec<String>) -> (String, std::thread::JoinHandle<Vec<Vec<u8>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let h = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for a in answers {
            let (mut c, _) = l.accept().unwrap();
            seen.push(read_request(&mut c));
            c.write_all(a.as_bytes()).unwrap();
        }
        seen
    });
    (url, h)
}

fn read_request(c: &mut TcpStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    loop {
        let n = c.read(&mut tmp).unwrap();
        if n == 0 {
            return buf;
        }
        buf.extend_from_slice(&tmp[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map(|v| v.trim().parse().unwrap())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                return buf;
            }
        }
    }
}

fn answer(status: &str, extra: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{extra}\r\n{body}",
        body.len()
    )
}

#[test]
fn http_answers_are_sorted_and_the_request_carries_the_contract_headers() {
    let state = scratch("http");
    let (url, h) = responder(vec![
        answer(
            "503 Service Unavailable",
            "",
            "{\"error\":{\"code\":\"unavailable\",\"message\":\"db down\"}}",
        ),
        answer(
            "429 Too Many Requests",
            "Retry-After: 3600\r\n",
            "{\"error\":{\"code\":\"rate_limited\",\"message\":\"slow down\"}}",
        ),
        answer(
            "401 Unauthorized",
            "",
            "{\"error\":{\"code\":\"unauthorized\",\"message\":\"unknown token\"}}",
        ),
        answer(
            "201 Created",
            "",
            "{\"report_id\":\"r9\",\"bucket_id\":\"b9\",\"duplicate\":false,\"title\":\"t\"}",
        ),
    ]);
    let s = settings(&state, &url);
    let q = Queue::new(&state);
    let lock = q.lock(Duration::ZERO).unwrap();
    let rec = record(&state, 40);
    let id = rec.meta.id.clone();
    q.enqueue(&lock, &rec, &s, 0).unwrap();
    let now_opts = RunOptions {
        now_ids: vec![id.clone()],
        ignore_backoff: false,
    };
    let out = q.run(&lock, &s, &now_opts, 0).unwrap();
    assert!(
        matches!(&out[0].outcome, Outcome::Retry { error, .. } if error.contains("db down")),
        "{out:?}"
    );
    let out = q.run(&lock, &s, &now_opts, 10).unwrap();
    match &out[0].outcome {
        Outcome::Retry {
            next_attempt_at, ..
        } => assert!(*next_attempt_at >= 10 + 3600, "Retry-After ignored"),
        o => panic!("{o:?}"),
    }
    let out = q.run(&lock, &s, &now_opts, 20).unwrap();
    assert!(
        matches!(&out[0].outcome, Outcome::Failed { status: Some(401), error } if error.contains("unknown token")),
        "{out:?}"
    );
    // Failed entries are parked until asked for by name.
    let out = q.run(&lock, &s, &RunOptions::default(), 30).unwrap();
    assert!(matches!(&out[0].outcome, Outcome::Parked { .. }));
    let st = q.entries().unwrap()[0].state.clone().unwrap();
    assert_eq!(st.status, Status::Failed);
    assert_eq!(st.last_status, Some(401));
    // `submit <id>` re-arms it.
    assert!(matches!(
        q.enqueue(&lock, &rec, &s, 40).unwrap(),
        Enqueued::AlreadyQueued { .. }
    ));
    let out = q.run(&lock, &s, &RunOptions::default(), 40).unwrap();
    match &out[0].outcome {
        Outcome::Sent { marker } => {
            assert_eq!(marker.answer.report_id, "r9");
            assert_eq!(marker.attempts, 4);
        }
        o => panic!("{o:?}"),
    }
    let reqs = h.join().unwrap();
    assert_eq!(reqs.len(), 4);
    let head = String::from_utf8_lossy(&reqs[3]);
    let head_l = head.to_ascii_lowercase();
    assert!(
        head.starts_with("POST /api/v1/reports HTTP/1.1\r\n"),
        "{head}"
    );
    assert!(head_l.contains("authorization: bearer pdt_test\r\n"));
    assert!(head_l.contains("content-type: application/gzip\r\n"));
    assert!(head_l.contains(&format!("idempotency-key: {}\r\n", id.to_ascii_lowercase())));
    assert!(head_l.contains(
        "x-panicdump-machine: b94e918ef6a09163d635f94b3fcfb0c6e548b6fd5d122580c1f2252a7d3bb67a\r\n"
    ));
    std::fs::remove_dir_all(&state).unwrap();
}
