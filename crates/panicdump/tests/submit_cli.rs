//! `panicdump submit` through the real binary against the real crash
//! server (`panicdump serve` with a temporary SQLite database, started
//! here as a child process): consent, a server that is down then up,
//! uploads cut off mid-body, a client killed mid-upload, an answer lost
//! after the server stored the report, the daily limit, corrupt queue
//! entries, and 401/413 refusals. Counts are checked on the server
//! (`GET /api/v1/buckets`, `/api/v1/buckets/{id}`).

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

// ---------------------------------------------------------------- records

/// A state directory with `n` crash records, each a distinct crash.
fn state_with_records(name: &str, n: u32) -> (PathBuf, Vec<String>) {
    let state = scratch(name);
    let store = crashdb::Store::new(&state);
    let mut ids = Vec::new();
    for i in 0..n {
        let log = format!(
            "[    1.000000] Linux version 6.1.0-{i}-amd64 (debian-kernel@lists.debian.org)\n\
             [    2.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008\n\
             [    2.000001] #PF: supervisor read access in kernel mode\n\
             [    2.000002] Oops: 0000 [#1] PREEMPT SMP NOPTI\n\
             [    2.000003] CPU: 0 PID: 42 Comm: insmod Tainted: G           O       6.1.0-{i}-amd64 #1\n\
             [    2.000004] RIP: 0010:crash_fn_{i}+0x12/0x40 [demo{i}]\n\
             [    2.000005] Call Trace:\n\
             [    2.000006]  <TASK>\n\
             [    2.000007]  crash_fn_{i}+0x12/0x40 [demo{i}]\n\
             [    2.000008]  caller_{i}+0x20/0x80 [demo{i}]\n\
             [    2.000009]  do_one_initcall+0x44/0x200\n\
             [    2.000010]  </TASK>\n"
        );
        let w = store
            .write(
                &crashdb::NewRecord::new(log.into_bytes(), crashdb::SourceKind::File, "test log")
                    .crash_time(1_795_000_000 + i64::from(i)),
                1_795_000_100,
            )
            .unwrap();
        ids.push(w.id);
    }
    let machine = state.join("machine-id");
    std::fs::write(&machine, format!("{:032x}\n", name.len() as u128 * 7919)).unwrap();
    (state, ids)
}

// ---------------------------------------------------------------- client

struct Client {
    state: PathBuf,
    url: String,
    token: String,
    consent: bool,
}

impl Client {
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = panicdump();
        c.arg("submit")
            .args(args)
            .env("PANICDUMP_STATE_DIR", &self.state)
            .env("PANICDUMP_SUBMIT_URL", &self.url)
            .env("PANICDUMP_SUBMIT_TOKEN", &self.token)
            .env(
                "PANICDUMP_SUBMIT_MACHINE_ID_PATH",
                self.state.join("machine-id"),
            )
            .env("PANICDUMP_SUBMIT_CONNECT_TIMEOUT_SECS", "3")
            .env("PANICDUMP_SUBMIT_TIMEOUT_SECS", "20")
            .env("PANICDUMP_CONFIG", self.state.join("no-config.toml"))
            .stdin(Stdio::null());
        if self.consent {
            c.env("PANICDUMP_SUBMIT_CONSENT", "1");
        } else {
            c.env_remove("PANICDUMP_SUBMIT_CONSENT");
        }
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("spawn panicdump submit")
    }

    /// Run and require this exit status; returns stdout.
    fn expect(&self, args: &[&str], code: i32) -> String {
        let o = self.run(args);
        assert_eq!(
            o.status.code(),
            Some(code),
            "panicdump submit {args:?}: {}\nstdout: {}\nstderr: {}",
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    }

    fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.expect(&["--status", "--json"], 0)).unwrap()
    }
}

// ---------------------------------------------------------------- server

/// `panicdump serve` on a temporary SQLite database.
struct Server {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Server {
    fn db(dir: &Path) -> String {
        format!("sqlite://{}", dir.join("db.sqlite").display())
    }

    fn start(dir: &Path, port: u16, extra: &[&str]) -> Server {
        std::fs::create_dir_all(dir).unwrap();
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
        let log = std::fs::File::create(dir.join("serve.log")).unwrap();
        let child = panicdump()
            .arg("serve")
            .arg("--listen")
            .arg(addr.to_string())
            .arg("--db")
            .arg(Self::db(dir))
            .arg("--blobs")
            .arg(dir.join("blobs"))
            .args(extra)
            .env("PANICDUMP_CONFIG", dir.join("no-config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn panicdump serve");
        let mut s = Server {
            child,
            addr,
            dir: dir.to_path_buf(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok((200, body)) = http_get(addr, "/healthz") {
                if body.trim() == "ok" {
                    return s;
                }
            }
            if let Ok(Some(st)) = s.child.try_wait() {
                panic!(
                    "panicdump serve exited with {st}: {}",
                    std::fs::read_to_string(dir.join("serve.log")).unwrap_or_default()
                );
            }
            assert!(Instant::now() < deadline, "panicdump serve did not come up");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A new client token (`panicdump server token add`).
    fn token(&self, name: &str) -> String {
        let o = panicdump()
            .args(["server", "token", "add", name, "--db"])
            .arg(Self::db(&self.dir))
            .env("PANICDUMP_CONFIG", self.dir.join("no-config.toml"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "token add: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let out = String::from_utf8(o.stdout).unwrap();
        out.split_whitespace()
            .find(|w| w.starts_with("pdt_"))
            .unwrap_or_else(|| out.trim())
            .to_string()
    }

    fn json(&self, path: &str) -> serde_json::Value {
        let (status, body) = http_get(self.addr, path).unwrap();
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    /// (bucket count, reports listed in it) of every bucket.
    fn buckets(&self) -> Vec<(u64, usize)> {
        let v = self.json("/api/v1/buckets?limit=200");
        v["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let id = b["id"].as_str().unwrap();
                let d = self.json(&format!("/api/v1/buckets/{id}"));
                (
                    b["count"].as_u64().unwrap(),
                    d["reports"].as_array().unwrap().len(),
                )
            })
            .collect()
    }

    fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A plain HTTP/1.1 GET (status, body); enough for the JSON API.
fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..end]).to_string();
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other("bad status line"))?;
    let mut body = raw[end + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        let mut out = Vec::new();
        let mut rest = &body[..];
        loop {
            let nl = rest.windows(2).position(|w| w == b"\r\n").unwrap();
            let size = usize::from_str_radix(
                String::from_utf8_lossy(&rest[..nl])
                    .split(';')
                    .next()
                    .unwrap()
                    .trim(),
                16,
            )
            .unwrap();
            if size == 0 {
                break;
            }
            out.extend_from_slice(&rest[nl + 2..nl + 2 + size]);
            rest = &rest[nl + 2 + size + 2..];
        }
        body = out;
    }
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

// ---------------------------------------------------------------- proxy

/// What the proxy does with the next upload.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    /// Forward the headers and half the body, then drop both connections.
    HalfBody,
    /// Forward headers and half the body, then hold both connections open
    /// until the client goes away (so the test can kill it mid-upload).
    Stall,
    /// Forward the whole request, read the server's whole answer, then
    /// close the client's connection without relaying it.
    DropAnswer,
}

/// Events the proxy reports.
#[derive(Debug)]
enum Event {
    Stalled,
    ClientGone,
    AnswerDropped(String),
    HalfSent,
}

/// Read an HTTP request or response head and body (by Content-Length).
fn read_message(c: &mut TcpStream) -> std::io::Result<(Vec<u8>, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 65536];
    let end = loop {
        if let Some(e) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break e + 4;
        }
        let n = c.read(&mut tmp)?;
        if n == 0 {
            return Err(std::io::Error::other("closed before the head ended"));
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
    let len: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map(|v| v.trim().parse().unwrap())
        .unwrap_or(0);
    while buf.len() < end + len {
        let n = c.read(&mut tmp)?;
        if n == 0 {
            return Err(std::io::Error::other("closed before the body ended"));
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = buf.split_off(end);
    Ok((buf, body))
}

fn start_proxy(upstream: SocketAddr, mode: Arc<Mutex<Mode>>) -> (String, mpsc::Receiver<Event>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut client) = conn else { continue };
            let mode = *mode.lock().unwrap();
            let tx = tx.clone();
            std::thread::spawn(move || {
                let Ok((head, body)) = read_message(&mut client) else {
                    return;
                };
                let mut up = TcpStream::connect(upstream).unwrap();
                up.write_all(&head).unwrap();
                match mode {
                    Mode::HalfBody => {
                        up.write_all(&body[..body.len() / 2]).unwrap();
                        up.flush().unwrap();
                        let _ = up.shutdown(Shutdown::Both);
                        let _ = client.shutdown(Shutdown::Both);
                        let _ = tx.send(Event::HalfSent);
                    }
                    Mode::Stall => {
                        up.write_all(&body[..body.len() / 2]).unwrap();
                        up.flush().unwrap();
                        let _ = tx.send(Event::Stalled);
                        // Wait until the client dies (read returns 0 or an
                        // error once its socket is closed by the kernel).
                        let mut b = [0u8; 1];
                        let _ = client.read(&mut b);
                        let _ = up.shutdown(Shutdown::Both);
                        let _ = tx.send(Event::ClientGone);
                    }
                    Mode::DropAnswer => {
                        up.write_all(&body).unwrap();
                        up.flush().unwrap();
                        let answer = read_message(&mut up)
                            .map(|(h, b)| {
                                format!(
                                    "{}{}",
                                    String::from_utf8_lossy(&h),
                                    String::from_utf8_lossy(&b)
                                )
                            })
                            .unwrap_or_else(|e| format!("no answer: {e}"));
                        let _ = client.shutdown(Shutdown::Both);
                        let _ = tx.send(Event::AnswerDropped(answer));
                    }
                }
            });
        }
    });
    (url, rx)
}

fn entry_states(c: &Client) -> Vec<serde_json::Value> {
    c.status()["entries"].as_array().unwrap().clone()
}

// ---------------------------------------------------------------- tests

#[test]
fn without_consent_nothing_is_queued_and_the_message_says_how() {
    let (state, _ids) = state_with_records("submit-consent", 1);
    let c = Client {
        state: state.clone(),
        url: "http://127.0.0.1:9".into(),
        token: "pdt_x".into(),
        consent: false,
    };
    let o = c.run(&["latest"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("consent = true"), "{err}");
    assert!(err.contains("PANICDUMP_SUBMIT_CONSENT=1"), "{err}");
    assert!(!state.join("submit").join("queue").exists());
    // --status works without consent and says so.
    let s = c.status();
    assert_eq!(s["consent"], false);
    assert_eq!(s["entries"].as_array().unwrap().len(), 0);
    let human = c.expect(&["--status"], 0);
    assert!(human.contains("consent:  no"), "{human}");
}

#[test]
fn queued_while_the_server_is_down_then_sent_once_when_it_is_up() {
    let (state, ids) = state_with_records("submit-down", 1);
    let id = &ids[0];
    let port = free_port();
    let srv_dir = state.join("server");
    // A token needs the database: make it with the server up, then stop it.
    let srv = Server::start(&srv_dir, port, &[]);
    let token = srv.token("down-test");
    srv.stop();

    let c = Client {
        state: state.clone(),
        url: format!("http://127.0.0.1:{port}"),
        token,
        consent: true,
    };
    let out = c.expect(&[id], 75);
    assert!(
        out.contains("queued") && out.contains("unreachable"),
        "{out}"
    );
    let e = &entry_states(&c)[0];
    assert_eq!(e["id"], id.as_str());
    assert_eq!(e["state"]["attempts"], 1);
    assert_eq!(e["state"]["status"], "pending");

    let srv = Server::start(&srv_dir, port, &[]);
    // The backoff has not elapsed: a timer run leaves it queued.
    let out = c.expect(&["--pending"], 75);
    assert!(out.contains("next attempt in"), "{out}");
    assert_eq!(srv.buckets(), vec![]);
    // Now it goes, once.
    let out = c.expect(&["--pending", "--now"], 0);
    assert!(out.contains(&format!("sent {id}: report")), "{out}");
    assert_eq!(srv.buckets(), vec![(1, 1)]);
    assert!(entry_states(&c).is_empty());
    // Asking again sends nothing: the record is marked sent.
    let out = c.expect(&[id], 0);
    assert!(out.contains("already sent"), "{out}");
    let out = c.expect(&["--all"], 0);
    assert!(out.contains("already sent"), "{out}");
    assert_eq!(srv.buckets(), vec![(1, 1)]);
    let s = c.status();
    assert_eq!(s["sent"], 1);
    assert_eq!(s["usage"]["reports"], 1);
}

#[test]
fn interrupted_and_killed_uploads_are_retried_and_counted_once() {
    let (state, ids) = state_with_records("submit-interrupt", 1);
    let id = ids[0].clone();
    let srv = Server::start(&state.join("server"), free_port(), &[]);
    let token = srv.token("interrupt-test");
    let mode = Arc::new(Mutex::new(Mode::HalfBody));
    let (proxy_url, events) = start_proxy(srv.addr, mode.clone());
    let via_proxy = Client {
        state: state.clone(),
        url: proxy_url,
        token: token.clone(),
        consent: true,
    };

    // 1. The connection drops after half the body: nothing is stored.
    let out = via_proxy.expect(&[&id], 75);
    assert!(out.contains("attempt 1 failed"), "{out}");
    assert!(matches!(
        events.recv_timeout(Duration::from_secs(10)).unwrap(),
        Event::HalfSent
    ));
    assert_eq!(srv.buckets(), vec![]);

    // 2. The client is killed mid-upload: the attempt was recorded before
    // the upload began, so the entry is pending with a retry scheduled.
    *mode.lock().unwrap() = Mode::Stall;
    let mut child = via_proxy
        .cmd(&[&id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(matches!(
        events.recv_timeout(Duration::from_secs(20)).unwrap(),
        Event::Stalled
    ));
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(matches!(
        events.recv_timeout(Duration::from_secs(10)).unwrap(),
        Event::ClientGone
    ));
    let e = &entry_states(&via_proxy)[0]["state"];
    assert_eq!(e["attempts"], 2, "{e}");
    assert!(
        e["last_error"]
            .as_str()
            .unwrap()
            .contains("attempt 2 did not finish"),
        "{e}"
    );
    assert_eq!(srv.buckets(), vec![]);

    // 3. The server stores the report but its answer is lost on the way:
    // the client cannot know, keeps the entry and retries later.
    *mode.lock().unwrap() = Mode::DropAnswer;
    let out = via_proxy.expect(&[&id], 75);
    assert!(out.contains("attempt 3 failed"), "{out}");
    match events.recv_timeout(Duration::from_secs(10)).unwrap() {
        Event::AnswerDropped(a) => assert!(a.starts_with("HTTP/1.1 201"), "{a}"),
        e => panic!("{e:?}"),
    }
    assert_eq!(srv.buckets(), vec![(1, 1)]);

    // 4. The retry reaches the server, which already has this record from
    // this machine: "duplicate", counted once.
    let direct = Client {
        state: state.clone(),
        url: srv.url(),
        token,
        consent: true,
    };
    let out = direct.expect(&["--pending", "--now"], 0);
    assert!(
        out.contains(&format!("sent {id}")) && out.contains("counted once"),
        "{out}"
    );
    assert_eq!(srv.buckets(), vec![(1, 1)]);
    let marker: serde_json::Value = serde_json::from_slice(
        &std::fs::read(state.join("submit/sent").join(format!("{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(marker["attempts"], 4);
    assert_eq!(marker["answer"]["duplicate"], true);
    assert_eq!(marker["answer"]["status"], 200);
    assert!(entry_states(&direct).is_empty());
}

#[test]
fn the_daily_limit_keeps_the_33rd_report_queued() {
    let (state, ids) = state_with_records("submit-limit", 33);
    let srv = Server::start(&state.join("server"), free_port(), &[]);
    let c = Client {
        state: state.clone(),
        url: srv.url(),
        token: srv.token("limit-test"),
        consent: true,
    };
    let out = c.expect(&["--all"], 75);
    assert_eq!(out.matches(": report ").count(), 32, "{out}");
    assert!(out.contains("daily limit of 32 reports reached"), "{out}");
    let buckets = srv.buckets();
    assert_eq!(buckets.iter().map(|b| b.0).sum::<u64>(), 32, "{buckets:?}");
    let s = c.status();
    assert_eq!(s["usage"]["reports"], 32);
    let entries = s["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    // The newest record is the one left (oldest first).
    assert_eq!(entries[0]["id"], ids[32].as_str());
    let st = &entries[0]["state"];
    assert_eq!(st["attempts"], 0);
    assert!(st["last_error"].as_str().unwrap().contains("daily limit"));
    // Asking for it by name does not break the limit.
    let out = c.expect(&[&ids[32]], 75);
    assert!(out.contains("daily limit"), "{out}");
    assert_eq!(
        srv.buckets().iter().map(|b| b.0).sum::<u64>(),
        32,
        "the 33rd was sent"
    );
}

#[test]
fn refusals_are_permanent_failures_with_the_servers_message() {
    let (state, ids) = state_with_records("submit-refused", 2);
    // A server that accepts at most 1 KiB per upload: every bundle is more.
    let srv = Server::start(
        &state.join("server"),
        free_port(),
        &["--max-upload", "1024"],
    );
    let good = srv.token("refusal-test");
    let c = Client {
        state: state.clone(),
        url: srv.url(),
        token: "pdt_not_a_token".into(),
        consent: true,
    };
    let out = c.expect(&[&ids[0]], 1);
    assert!(out.contains("FAILED") && out.contains("HTTP 401"), "{out}");
    let e = &entry_states(&c)[0]["state"];
    assert_eq!(e["status"], "failed");
    assert_eq!(e["last_status"], 401);
    let msg401 = e["last_error"].as_str().unwrap().to_string();
    // Parked: a timer run does not retry it.
    let out = c.expect(&["--pending", "--now"], 1);
    assert!(out.contains("failed") && out.contains(&msg401), "{out}");
    let human = c.expect(&["--status"], 0);
    assert!(
        human.contains("FAILED") && human.contains(&msg401),
        "{human}"
    );

    // With a good token the size cap refuses it: 413, kept with the message.
    let c = Client { token: good, ..c };
    let out = c.expect(&[&ids[0]], 1);
    assert!(out.contains("HTTP 413"), "{out}");
    let e = &entry_states(&c)[0]["state"];
    assert_eq!(e["last_status"], 413);
    assert_eq!(e["attempts"], 2);
    assert_eq!(srv.buckets(), vec![]);
    assert!(state
        .join("submit/queue")
        .join(&ids[0])
        .join("bundle.tar.gz")
        .exists());
}

#[test]
fn corrupt_queue_state_is_reported_and_kept() {
    let (state, ids) = state_with_records("submit-corrupt", 2);
    let srv = Server::start(&state.join("server"), free_port(), &[]);
    let c = Client {
        state: state.clone(),
        url: srv.url(),
        token: srv.token("corrupt-test"),
        consent: true,
    };
    c.expect(&["--all", "--queue-only"], 0);
    let sp = state.join("submit/queue").join(&ids[0]).join("state.json");
    std::fs::write(&sp, b"\x00garbage").unwrap();
    let human = c.expect(&["--status"], 0);
    assert!(
        human.contains(&format!("{}  CORRUPT (kept)", ids[0])),
        "{human}"
    );
    let out = c.expect(&["--pending"], 1);
    assert!(
        out.contains(&format!("CORRUPT queue entry {}", ids[0])),
        "{out}"
    );
    assert!(out.contains(&format!("sent {}", ids[1])), "{out}");
    assert_eq!(std::fs::read(&sp).unwrap(), b"\x00garbage");
    assert_eq!(srv.buckets(), vec![(1, 1)]);
}

#[test]
fn the_config_file_section_is_read_and_environment_and_flags_win() {
    let (state, _ids) = state_with_records("submit-config", 1);
    let token = state.join("token");
    std::fs::write(&token, "pdt_from_file\n").unwrap();
    let cfg = state.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[submit]\nurl = \"http://127.0.0.1:9/\"\ntoken_file = \"{}\"\nconsent = true\nauto = true\nmax_reports_per_day = 5\n",
            token.display()
        ),
    )
    .unwrap();
    let status = |env_url: Option<&str>, flag_url: Option<&str>| -> serde_json::Value {
        let mut c = panicdump();
        c.args(["submit", "--status", "--json"])
            .env("PANICDUMP_STATE_DIR", &state)
            .env("PANICDUMP_CONFIG", &cfg)
            .env_remove("PANICDUMP_SUBMIT_URL")
            .env_remove("PANICDUMP_SUBMIT_CONSENT")
            .stdin(Stdio::null());
        if let Some(u) = env_url {
            c.env("PANICDUMP_SUBMIT_URL", u);
        }
        if let Some(u) = flag_url {
            c.args(["--url", u]);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let s = status(None, None);
    assert_eq!(s["url"], "http://127.0.0.1:9/");
    assert_eq!(s["consent"], true);
    assert_eq!(s["auto"], true);
    assert_eq!(s["usage"]["max_reports"], 5);
    assert_eq!(status(Some("http://env:1"), None)["url"], "http://env:1");
    assert_eq!(
        status(Some("http://env:1"), Some("http://flag:2"))["url"],
        "http://flag:2"
    );
    // A config error names the file and the key.
    std::fs::write(&cfg, "[submit]\nurl = \"ftp://x\"\n").unwrap();
    let o = panicdump()
        .args(["submit", "--status"])
        .env("PANICDUMP_STATE_DIR", &state)
        .env("PANICDUMP_CONFIG", &cfg)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(
        err.contains("config.toml") && err.contains("submit.url"),
        "{err}"
    );
}

#[test]
fn collect_with_auto_submit_sends_new_records_once() {
    let root = scratch("submit-auto-collect");
    let (pstore, state, dumps) = (root.join("pstore"), root.join("state"), root.join("dumps"));
    for d in [&pstore, &state, &dumps] {
        std::fs::create_dir_all(d).unwrap();
    }
    std::fs::write(
        pstore.join("dmesg-ramoops-0"),
        "Panic#1 Part1\n\
         <0>[    2.000000] BUG: kernel NULL pointer dereference, address: 0000000000000008\n\
         <4>[    2.000001] Oops: 0000 [#1] SMP PTI\n\
         <4>[    2.000002] RIP: 0010:auto_submit_fn+0x12/0x40 [demo]\n\
         <0>[    2.000003] Kernel panic - not syncing: Fatal exception\n",
    )
    .unwrap();
    std::fs::write(
        root.join("machine-id"),
        "5f1c0a7e9d2b4c6e8a0b1c2d3e4f5a6b\n",
    )
    .unwrap();
    let srv = Server::start(&root.join("server"), free_port(), &[]);
    let token = srv.token("auto-test");
    let collect = || {
        let o = panicdump()
            .arg("collect")
            .arg("--pstore-dir")
            .arg(&pstore)
            .arg("--dump-dir")
            .arg(&dumps)
            .arg("--state-dir")
            .arg(&state)
            .arg("--keep-pstore")
            .env("PANICDUMP_CONFIG", root.join("no-config.toml"))
            .env("PANICDUMP_SUBMIT_CONSENT", "1")
            .env("PANICDUMP_SUBMIT_AUTO", "1")
            .env("PANICDUMP_SUBMIT_URL", srv.url())
            .env("PANICDUMP_SUBMIT_TOKEN", &token)
            .env("PANICDUMP_SUBMIT_MACHINE_ID_PATH", root.join("machine-id"))
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "collect: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        String::from_utf8(o.stdout).unwrap()
    };
    let out = collect();
    assert!(out.contains("submit: 1 sent, 0 queued"), "{out}");
    assert_eq!(srv.buckets(), vec![(1, 1)]);
    // The same pstore entry again: no new record, nothing sent twice.
    let out = collect();
    assert!(!out.contains("1 sent"), "{out}");
    assert_eq!(srv.buckets(), vec![(1, 1)]);
    assert_eq!(
        std::fs::read_dir(state.join("submit/sent"))
            .unwrap()
            .count(),
        1
    );
}
