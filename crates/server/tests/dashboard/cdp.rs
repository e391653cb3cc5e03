//! A small Chrome DevTools Protocol client for the dashboard test: one
//! headless Chromium, driven over its WebSocket endpoint, loads pages,
//! evaluates JavaScript in them (to read the DOM and to use the filters as
//! a person would) and takes screenshots. One browser start for the whole
//! test instead of one per page, and real interaction instead of only
//! loading URLs.
//!
//! The WebSocket side is the minimum RFC 6455 needs for a local client:
//! the upgrade handshake, masked text frames out, (possibly fragmented)
//! frames in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// A headless Chromium with one page (tab) attached.
pub struct Chrome {
    child: Child,
    ws: WebSocket,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Chrome {
    /// Start `bin` headless with a `width`×`height` viewport.
    pub fn launch(bin: &Path, width: u32, height: u32) -> Chrome {
        let profile = tempfile::tempdir().expect("a profile directory");
        let mut child = Command::new(bin)
            .args([
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--hide-scrollbars",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg(format!("--window-size={width},{height}"))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("starting chromium");
        // Chromium prints its endpoint on stderr; keep draining stderr after
        // that so the pipe never fills.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if !sent {
                    if let Some(url) = line.strip_prefix("DevTools listening on ") {
                        let _ = tx.send(url.trim().to_string());
                        sent = true;
                    }
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(u) => u,
            Err(_) => {
                let _ = child.kill();
                panic!("chromium printed no DevTools endpoint within 60 s");
            }
        };
        let ws = WebSocket::connect(&url);
        let mut chrome = Chrome {
            child,
            ws,
            session: String::new(),
            next_id: 1,
            _profile: profile,
        };
        let target = chrome.call("Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().unwrap().to_string();
        let attached = chrome.call(
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        chrome.session = attached["sessionId"].as_str().unwrap().to_string();
        chrome.call("Page.enable", json!({}));
        chrome.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}),
        );
        chrome
    }

    /// Send a command (to the page once attached) and wait for its answer;
    /// events in between are dropped.
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let mut msg = json!({"id": id, "method": method, "params": params});
        if !self.session.is_empty() {
            msg["sessionId"] = json!(self.session);
        }
        self.ws.send(msg.to_string().as_bytes());
        loop {
            let answer: Value = serde_json::from_slice(&self.ws.receive()).expect("CDP JSON");
            if answer["id"] != json!(id) {
                continue;
            }
            if let Some(err) = answer.get("error") {
                panic!("{method}: {err}");
            }
            return answer["result"].clone();
        }
    }

    /// Evaluate `expr` in the page (promises awaited) and return its value.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({"expression": expr, "returnByValue": true, "awaitPromise": true}),
        );
        if let Some(ex) = r.get("exceptionDetails") {
            panic!("{expr}: {ex}");
        }
        r["result"]["value"].clone()
    }

    /// Poll `expr` until it is `true` (at most `timeout`).
    pub fn wait_for(&mut self, expr: &str, timeout: Duration) {
        let start = Instant::now();
        while self.eval(expr) != json!(true) {
            assert!(
                start.elapsed() < timeout,
                "still not true after {timeout:?}: {expr}"
            );
            std::thread::sleep(Duration::from_millis(30));
        }
    }

    /// Wait until the dashboard page has drawn its data (`data-state`).
    pub fn wait_ready(&mut self) {
        self.wait_for(
            "document.readyState === 'complete' && document.documentElement.dataset.state === 'ready'",
            Duration::from_secs(30),
        );
    }

    /// Load `url` and wait until the dashboard drew it.
    pub fn open(&mut self, url: &str) {
        self.replacing(|c| {
            c.call("Page.navigate", json!({"url": url}));
        });
    }

    /// Reload the page and wait until the dashboard drew it again.
    pub fn reload(&mut self) {
        self.replacing(|c| {
            c.call("Page.reload", json!({}));
        });
    }

    /// Run `action`, which replaces the document, then wait for the new
    /// one to be drawn (a mark on the old window tells them apart).
    fn replacing(&mut self, action: impl FnOnce(&mut Self)) {
        self.eval("window.__replaced = true");
        action(self);
        self.wait_for("window.__replaced !== true", Duration::from_secs(30));
        self.wait_ready();
    }

    /// The page's DOM as HTML.
    pub fn dom(&mut self) -> String {
        self.eval("document.documentElement.outerHTML")
            .as_str()
            .unwrap()
            .to_string()
    }

    /// A PNG of the viewport.
    pub fn screenshot(&mut self) -> Vec<u8> {
        let r = self.call("Page.captureScreenshot", json!({"format": "png"}));
        base64_decode(r["data"].as_str().expect("screenshot data"))
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A client WebSocket over a plain TCP connection.
struct WebSocket {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl WebSocket {
    fn connect(url: &str) -> WebSocket {
        let rest = url.strip_prefix("ws://").expect("a ws:// endpoint");
        let (host, path) = rest.split_once('/').expect("a path");
        let stream = TcpStream::connect(host).expect("connecting to DevTools");
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .unwrap();
        let mut writer = stream.try_clone().unwrap();
        write!(
            writer,
            "GET /{path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: cGFuaWNkdW1wLWRhc2hib2E=\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        .unwrap();
        let mut reader = BufReader::new(stream);
        let mut status = String::new();
        reader.read_line(&mut status).unwrap();
        assert!(
            status.contains(" 101 "),
            "WebSocket upgrade refused: {status}"
        );
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
        }
        WebSocket { reader, writer }
    }

    /// Send one masked text frame.
    fn send(&mut self, payload: &[u8]) {
        let mask = [0x5a, 0xc3, 0x17, 0x9e];
        let mut frame = vec![0x81];
        match payload.len() {
            n if n < 126 => frame.push(0x80 | n as u8),
            n if n <= 0xffff => {
                frame.push(0x80 | 126);
                frame.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                frame.push(0x80 | 127);
                frame.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        frame.extend_from_slice(&mask);
        frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
        self.writer.write_all(&frame).expect("writing to DevTools");
    }

    /// Receive one whole message (fragments joined; pings answered).
    fn receive(&mut self) -> Vec<u8> {
        let mut message = Vec::new();
        loop {
            let mut head = [0u8; 2];
            self.reader
                .read_exact(&mut head)
                .expect("reading from DevTools");
            let fin = head[0] & 0x80 != 0;
            let opcode = head[0] & 0x0f;
            let len = match head[1] & 0x7f {
                126 => {
                    let mut b = [0u8; 2];
                    self.reader.read_exact(&mut b).unwrap();
                    u64::from(u16::from_be_bytes(b))
                }
                127 => {
                    let mut b = [0u8; 8];
                    self.reader.read_exact(&mut b).unwrap();
                    u64::from_be_bytes(b)
                }
                n => u64::from(n),
            };
            let mut mask = [0u8; 4];
            if head[1] & 0x80 != 0 {
                self.reader.read_exact(&mut mask).unwrap();
            }
            let mut payload = vec![0u8; usize::try_from(len).unwrap()];
            self.reader.read_exact(&mut payload).unwrap();
            if head[1] & 0x80 != 0 {
                for (i, b) in payload.iter_mut().enumerate() {
                    *b ^= mask[i % 4];
                }
            }
            match opcode {
                0x8 => panic!("DevTools closed the connection"),
                0x9 => {
                    // Ping: answer with a pong carrying the same data.
                    let mut pong = vec![0x8a, 0x80 | payload.len() as u8, 0, 0, 0, 0];
                    pong.extend_from_slice(&payload);
                    self.writer.write_all(&pong).unwrap();
                    continue;
                }
                0xa => continue,
                _ => message.extend_from_slice(&payload),
            }
            if fin {
                return message;
            }
        }
    }
}

/// Standard base64 (the screenshot's encoding).
fn base64_decode(s: &str) -> Vec<u8> {
    fn value(c: u8) -> u32 {
        match c {
            b'A'..=b'Z' => u32::from(c - b'A'),
            b'a'..=b'z' => u32::from(c - b'a') + 26,
            b'0'..=b'9' => u32::from(c - b'0') + 52,
            b'+' => 62,
            b'/' => 63,
            _ => panic!("not base64: {c:#x}"),
        }
    }
    let clean: Vec<u8> = s.bytes().filter(|&c| c != b'=' && c != b'\n').collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for chunk in clean.chunks(4) {
        let mut n = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            n |= value(c) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    out
}

#[test]
fn base64_decodes_padded_and_unpadded() {
    assert_eq!(base64_decode("aGVsbG8="), b"hello");
    assert_eq!(base64_decode("aGVsbG8h"), b"hello!");
    assert_eq!(base64_decode("aGk="), b"hi");
}
