//! Minimal QMP client over a unix socket (one command at a time).

use crate::error::{LabError, Result};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// A negotiated QMP session.
pub struct Qmp {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Qmp {
    /// Connect (retrying while QEMU creates the socket) and leave
    /// capabilities negotiation mode.
    pub fn connect(path: &Path, wait: Duration) -> Result<Self> {
        let start = Instant::now();
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if start.elapsed() < wait => {
                    let _ = e;
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => return Err(LabError::Qmp(format!("connect {}: {e}", path.display()))),
            }
        };
        let writer = stream
            .try_clone()
            .map_err(|e| LabError::Qmp(format!("clone socket: {e}")))?;
        let mut q = Self {
            reader: BufReader::new(stream),
            writer,
        };
        q.set_timeout(Duration::from_secs(30))?;
        let greeting = q.read_message()?;
        if greeting.get("QMP").is_none() {
            return Err(LabError::Qmp(format!("unexpected greeting {greeting}")));
        }
        q.execute("qmp_capabilities", json!({}))?;
        Ok(q)
    }

    /// Time limit for each reply.
    pub fn set_timeout(&mut self, t: Duration) -> Result<()> {
        let t = Some(t.max(Duration::from_secs(1)));
        self.reader
            .get_ref()
            .set_read_timeout(t)
            .map_err(|e| LabError::Qmp(format!("set timeout: {e}")))
    }

    fn read_message(&mut self) -> Result<Value> {
        let mut line = String::new();
        let n = self
            .reader
            .read_line(&mut line)
            .map_err(|e| LabError::Qmp(format!("read: {e}")))?;
        if n == 0 {
            return Err(LabError::Qmp("connection closed".into()));
        }
        serde_json::from_str(&line).map_err(|e| LabError::Qmp(format!("bad JSON {line:?}: {e}")))
    }

    /// Run a command; returns its `return` value, skipping events.
    pub fn execute(&mut self, cmd: &str, args: Value) -> Result<Value> {
        let msg = if args.as_object().is_some_and(|o| !o.is_empty()) {
            json!({"execute": cmd, "arguments": args})
        } else {
            json!({"execute": cmd})
        };
        let mut text = msg.to_string();
        text.push('\n');
        self.writer
            .write_all(text.as_bytes())
            .map_err(|e| LabError::Qmp(format!("send {cmd}: {e}")))?;
        loop {
            let reply = self.read_message()?;
            if let Some(r) = reply.get("return") {
                return Ok(r.clone());
            }
            if let Some(e) = reply.get("error") {
                return Err(LabError::Qmp(format!("{cmd}: {e}")));
            }
            // Asynchronous events ({"event": ...}) are not needed here.
        }
    }
}
