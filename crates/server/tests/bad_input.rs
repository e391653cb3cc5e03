//! Bad input of every kind gets a 4xx with a JSON error, stores nothing,
//! and the server keeps serving: malformed gzip, tar and manifest, wrong
//! types, oversized uploads and gzip bombs, bad or missing tokens, path
//! tricks in member names, slow clients, uploads cut off half-way.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::bundles::{self, machine};
use common::http;

/// (what, request headers, status, error code).
type HeaderCase<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str);

fn tar_with(entries: &[(&str, tar::EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
    // The `tar` crate's raw header API, so names and types can be anything.
    let mut out = Vec::new();
    {
        let mut b = tar::Builder::new(&mut out);
        for (name, kind, data, link) in entries {
            let mut h = tar::Header::new_gnu();
            {
                let raw = h.as_old_mut();
                raw.name[..name.len()].copy_from_slice(name.as_bytes());
            }
            h.set_entry_type(*kind);
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            if let Some(l) = link {
                h.set_link_name(l).unwrap();
            }
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.finish().unwrap();
    }
    out
}

#[test]
fn bad_bundles_store_nothing() {
    for backend in common::backends() {
        let env = common::start(backend, |c| {
            c.max_upload = 256 << 10;
            c.max_unpacked = 1 << 20;
        });
        let work = tempfile::tempdir().unwrap();
        let good = bundles::build(work.path(), &bundles::corpus(bundles::SYSRQ), 1_700_000_000);
        let members = bundles::members(&good);
        let manifest: serde_json::Value = serde_json::from_slice(
            &members
                .iter()
                .find(|(n, _)| n == "manifest.json")
                .unwrap()
                .1,
        )
        .unwrap();
        let record = manifest["record"].as_str().unwrap().to_string();
        let top = format!("panicdump-{record}");
        let without = |skip: &str| -> Vec<(String, Vec<u8>)> {
            members.iter().filter(|(n, _)| n != skip).cloned().collect()
        };
        let manifest_json = serde_json::to_vec(&manifest).unwrap();
        let log = members
            .iter()
            .find(|(n, _)| n == "log-tail.txt")
            .unwrap()
            .1
            .clone();
        let mut rng_bytes = vec![0u8; 300 << 10];
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for b in rng_bytes.iter_mut() {
            // xorshift: incompressible, so the gzip stays over the cap.
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = (x >> 24) as u8;
        }
        let bomb = bundles::gzip(&vec![0u8; 8 << 20]);
        let m = |edit: &dyn Fn(&mut serde_json::Value)| bundles::edit_manifest(&good, edit);

        let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
            ("empty body", Vec::new(), 400, "bad_gzip"),
            (
                "not gzip",
                b"hello, this is not gzip".to_vec(),
                400,
                "bad_gzip",
            ),
            (
                "truncated gzip",
                good[..good.len() / 2].to_vec(),
                400,
                "bad_gzip",
            ),
            (
                "gzip of text",
                bundles::gzip(b"just some text, not a tar archive at all"),
                400,
                "bad_tar",
            ),
            (
                "no manifest",
                bundles::pack(&top, &without("manifest.json")),
                400,
                "incomplete_bundle",
            ),
            (
                "no log",
                bundles::pack(&top, &without("log-tail.txt")),
                400,
                "incomplete_bundle",
            ),
            (
                "manifest not JSON",
                bundles::pack(
                    &top,
                    &[
                        ("manifest.json".into(), b"{not json".to_vec()),
                        ("log-tail.txt".into(), log.clone()),
                    ],
                ),
                400,
                "bad_manifest",
            ),
            (
                "version is a string",
                m(&|v| v["version"] = serde_json::json!("1")),
                400,
                "bad_manifest",
            ),
            (
                "record is a number",
                m(&|v| v["record"] = serde_json::json!(12)),
                400,
                "bad_manifest",
            ),
            (
                "title is an object",
                m(&|v| v["title"] = serde_json::json!({"a": 1})),
                400,
                "bad_manifest",
            ),
            (
                "wrong format",
                m(&|v| v["format"] = serde_json::json!("zip")),
                400,
                "bad_manifest",
            ),
            (
                "future version",
                m(&|v| v["version"] = serde_json::json!(9)),
                400,
                "bad_manifest",
            ),
            (
                "record with a slash",
                m(&|v| v["record"] = serde_json::json!("../etc")),
                400,
                "bad_manifest",
            ),
            (
                "top dir is not the record",
                bundles::pack("panicdump-other", &members),
                400,
                "bad_member_name",
            ),
            (
                "dot-dot member",
                bundles::gzip(&tar_with(&[
                    (
                        &format!("{top}/manifest.json"),
                        tar::EntryType::Regular,
                        &manifest_json,
                        None,
                    ),
                    (
                        &format!("{top}/../../etc/cron.d/x"),
                        tar::EntryType::Regular,
                        b"x",
                        None,
                    ),
                ])),
                400,
                "bad_member_name",
            ),
            (
                "absolute member",
                bundles::gzip(&tar_with(&[(
                    "/etc/passwd",
                    tar::EntryType::Regular,
                    b"root",
                    None,
                )])),
                400,
                "bad_member_name",
            ),
            (
                "symlink member",
                bundles::gzip(&tar_with(&[
                    (
                        &format!("{top}/manifest.json"),
                        tar::EntryType::Regular,
                        &manifest_json,
                        None,
                    ),
                    (
                        &format!("{top}/log-tail.txt"),
                        tar::EntryType::Symlink,
                        b"",
                        Some("/etc/shadow"),
                    ),
                ])),
                400,
                "bad_tar",
            ),
            (
                "two top directories",
                bundles::gzip(&tar_with(&[
                    (
                        &format!("{top}/manifest.json"),
                        tar::EntryType::Regular,
                        &manifest_json,
                        None,
                    ),
                    (
                        "elsewhere/log-tail.txt",
                        tar::EntryType::Regular,
                        &log,
                        None,
                    ),
                ])),
                400,
                "bad_member_name",
            ),
            ("gzip bomb", bomb, 413, "too_large"),
            (
                "over the upload cap",
                bundles::gzip(&rng_bytes),
                413,
                "too_large",
            ),
        ];
        for (what, body, status, code) in cases {
            let r = env.post_bundle(&machine(1), &body);
            assert_eq!(r.status, status, "{backend}: {what}: {}", r.text());
            assert_eq!(
                r.json()["error"]["code"],
                code,
                "{backend}: {what}: {}",
                r.text()
            );
            env.assert_empty(what);
        }

        // Headers: token, content type, machine id.
        let addr = env.addr();
        let good_auth = format!("Bearer {}", env.token);
        let m1 = machine(1);
        let header_cases: Vec<HeaderCase> = vec![
            (
                "no token",
                vec![
                    ("Content-Type", "application/gzip"),
                    ("X-Panicdump-Machine", &m1),
                ],
                401,
                "unauthorized",
            ),
            (
                "bad token",
                vec![
                    ("Authorization", "Bearer pdt_nope"),
                    ("Content-Type", "application/gzip"),
                    ("X-Panicdump-Machine", &m1),
                ],
                401,
                "unauthorized",
            ),
            (
                "basic auth",
                vec![
                    ("Authorization", "Basic dXNlcjpwYXNz"),
                    ("Content-Type", "application/gzip"),
                    ("X-Panicdump-Machine", &m1),
                ],
                401,
                "unauthorized",
            ),
            (
                "wrong type",
                vec![
                    ("Authorization", &good_auth),
                    ("Content-Type", "application/json"),
                    ("X-Panicdump-Machine", &m1),
                ],
                415,
                "unsupported_media_type",
            ),
            (
                "no machine",
                vec![
                    ("Authorization", &good_auth),
                    ("Content-Type", "application/gzip"),
                ],
                400,
                "bad_machine",
            ),
            (
                "short machine",
                vec![
                    ("Authorization", &good_auth),
                    ("Content-Type", "application/gzip"),
                    ("X-Panicdump-Machine", "abc"),
                ],
                400,
                "bad_machine",
            ),
        ];
        for (what, headers, status, code) in header_cases {
            let r = http::request(addr, "POST", "/api/v1/reports", &headers, &good).unwrap();
            assert_eq!(r.status, status, "{backend}: {what}: {}", r.text());
            assert_eq!(r.json()["error"]["code"], code, "{backend}: {what}");
            env.assert_empty(what);
        }
        // A declared length over the cap is refused before the body is read.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&http::head(
            "POST",
            "/api/v1/reports",
            &[
                ("Authorization", &good_auth),
                ("Content-Type", "application/gzip"),
                ("X-Panicdump-Machine", &m1),
            ],
            Some(1 << 30),
        ))
        .unwrap();
        let r = http::read_answer(&mut s).unwrap();
        assert_eq!(r.status, 413);
        env.assert_empty("declared 1 GiB");

        // A revoked token stops working at once.
        common::block_on(async {
            let st = server::Store::open(&env.db).await.unwrap();
            server::admin::revoke_token(&st, "test-client")
                .await
                .unwrap();
            st.close().await;
        });
        let r = env.post_bundle(&machine(1), &good);
        assert_eq!(r.status, 401);
        env.assert_empty("revoked token");

        // Still serving.
        assert_eq!(env.get("/healthz").text(), "ok");
    }
}

#[test]
fn slow_clients_time_out_and_others_are_served() {
    for backend in common::backends() {
        let env = common::start(backend, |c| {
            c.header_timeout = Duration::from_millis(800);
            c.body_timeout = Duration::from_millis(800);
        });
        let addr = env.addr();
        let work = tempfile::tempdir().unwrap();
        let good = bundles::build(work.path(), &bundles::corpus(bundles::SYSRQ), 1_700_000_000);
        let auth = format!("Bearer {}", env.token);
        let m1 = machine(1);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/gzip"),
            ("X-Panicdump-Machine", &m1),
        ];

        // Headers that never end.
        let mut slow_head = TcpStream::connect(addr).unwrap();
        slow_head
            .write_all(b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\n")
            .unwrap();
        // A body that never comes.
        let mut slow_body = TcpStream::connect(addr).unwrap();
        slow_body
            .write_all(&http::head(
                "POST",
                "/api/v1/reports",
                &headers,
                Some(good.len()),
            ))
            .unwrap();
        slow_body.write_all(&good[..10]).unwrap();

        // Meanwhile others are served.
        let t0 = Instant::now();
        assert_eq!(env.get("/healthz").text(), "ok");
        assert!(t0.elapsed() < Duration::from_millis(500));

        // The server hangs up on both (the body one with a 408).
        slow_head
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut buf = Vec::new();
        let t0 = Instant::now();
        let _ = slow_head.read_to_end(&mut buf);
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "slow headers were not cut off"
        );
        let r = http::read_answer(&mut slow_body).unwrap();
        assert_eq!(r.status, 408, "{}", r.text());
        env.assert_empty("slow clients");

        // Still serving, and the full upload works.
        assert_eq!(env.post_bundle(&m1, &good).status, 201);
    }
}

#[test]
fn interrupted_upload_then_retry_counts_once() {
    for backend in common::backends() {
        let env = common::start(backend, |_| {});
        let addr = env.addr();
        let work = tempfile::tempdir().unwrap();
        let good = bundles::build(work.path(), &bundles::corpus(bundles::GPF), 1_700_000_000);
        let auth = format!("Bearer {}", env.token);
        let m1 = machine(7);
        let headers = [
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/gzip"),
            ("X-Panicdump-Machine", &m1),
        ];

        // The client dies half-way through the body.
        {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(&http::head(
                "POST",
                "/api/v1/reports",
                &headers,
                Some(good.len()),
            ))
            .unwrap();
            s.write_all(&good[..good.len() / 2]).unwrap();
            s.flush().unwrap();
            std::thread::sleep(Duration::from_millis(100));
        } // dropped: connection closed
        std::thread::sleep(Duration::from_millis(300));
        env.assert_empty("upload cut off half-way");

        // The retry stores it once; another retry is a duplicate.
        let r = env.post_bundle(&m1, &good);
        assert_eq!(r.status, 201, "{}", r.text());
        let id = r.json()["report_id"].clone();
        let r = env.post_bundle(&m1, &good);
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["duplicate"], true);
        assert_eq!(r.json()["report_id"], id);
        assert_eq!(env.report_count(), 1);
        assert_eq!(env.blob_files().len(), 1, "{:?}", env.blob_files());

        // The server went away between two tries: a new server on the same
        // database answers the retry as a duplicate.
        let mut env = env;
        env.server.take().unwrap().stop().unwrap();
        let mut config = env.config.clone();
        config.listen = "127.0.0.1:0".parse().unwrap();
        env.server = Some(server::run(config).unwrap());
        let r = env.post_bundle(&m1, &good);
        assert_eq!(r.status, 200);
        assert_eq!(r.json()["duplicate"], true);
        assert_eq!(env.report_count(), 1);
    }
}

/// A token that floods the server (leaked, or a client gone wrong) gets 429
/// with Retry-After once it used its minute's budget; nothing of the
/// refused upload is stored, and other tokens are still served.
#[test]
fn a_flooding_token_is_refused_with_retry_after() {
    for backend in common::backends() {
        let env = common::start(backend, |c| c.token_per_minute = 3);
        let work = tempfile::tempdir().unwrap();
        let log = bundles::corpus(bundles::GPF);
        let bundle = |i: i64| {
            let dir = work.path().join(i.to_string());
            bundles::build(&dir, &log, 1_700_000_000 + i)
        };
        for i in 0..3 {
            let r = env.post_bundle(&machine(1), &bundle(i));
            assert_eq!(r.status, 201, "{backend}: upload {i}: {}", r.text());
        }
        let r = env.post_bundle(&machine(1), &bundle(3));
        assert_eq!(r.status, 429, "{backend}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "rate_limited");
        let wait: u64 = r
            .header("retry-after")
            .expect("a 429 says when to come back")
            .parse()
            .unwrap();
        assert!((1..=60).contains(&wait), "{backend}: Retry-After {wait}");
        assert_eq!(
            env.report_count(),
            3,
            "{backend}: the refused upload was stored"
        );
        assert_eq!(env.blob_files().len(), 3, "{:?}", env.blob_files());

        // Another client's token has its own budget.
        let other = common::block_on(async {
            let store = server::Store::open(&env.db).await.unwrap();
            let t = server::admin::add_token(&store, "other-client")
                .await
                .unwrap();
            store.close().await;
            t
        });
        let auth = format!("Bearer {other}");
        let m2 = machine(2);
        let r = http::request(
            env.addr(),
            "POST",
            "/api/v1/reports",
            &[
                ("Authorization", auth.as_str()),
                ("Content-Type", "application/gzip"),
                ("X-Panicdump-Machine", m2.as_str()),
            ],
            &bundle(4),
        )
        .unwrap();
        assert_eq!(r.status, 201, "{backend}: {}", r.text());
        assert_eq!(env.report_count(), 4);
    }
}
