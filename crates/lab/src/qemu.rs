//! One QEMU process: serial console captured to a file and scanned line by
//! line, guest phases tracked, a deadline enforced.

use crate::error::{IoContext, LabError, Result};
use crate::init::SAY;
use crate::progress::Progress;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// A phase the guest (or the host, for kernel messages) reported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseMark {
    /// Phase name (`modules`, `kexec-load`, `fill`, `crash`, ...).
    pub name: String,
    /// Seconds since QEMU started.
    pub at_s: f64,
}

/// A running QEMU; killed when dropped.
pub struct QemuRun {
    child: Child,
    rx: Receiver<String>,
    start: Instant,
    deadline: Duration,
    console: PathBuf,
    stderr: PathBuf,
    recipe: String,
    phase: String,
    phases: Vec<PhaseMark>,
    boots: u32,
    max_boots: u32,
    progress: Progress,
}

/// Console lines needed to show a failure.
const TAIL_LINES: usize = 40;

impl QemuRun {
    /// Start QEMU with stdout (the serial console) piped into `console`.
    pub fn spawn(
        argv: &[String],
        console: &Path,
        stderr: &Path,
        deadline: Duration,
        recipe: &str,
        max_boots: u32,
        progress: Progress,
    ) -> Result<Self> {
        let (prog, args) = argv
            .split_first()
            .ok_or_else(|| LabError::Param("empty QEMU command".into()))?;
        let err_file = std::fs::File::create(stderr).ctx("create", stderr)?;
        let mut log = std::fs::File::create(console).ctx("create", console)?;
        let mut child = Command::new(prog)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err_file)
            .spawn()
            .ctx("spawn", PathBuf::from(prog))?;
        let mut out = child
            .stdout
            .take()
            .ok_or_else(|| LabError::Param("QEMU stdout not captured".into()))?;
        let (tx, rx) = mpsc::channel();
        // The reader thread ends at EOF (QEMU exited); dropping `tx` tells the
        // main thread so.
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            let mut line = Vec::new();
            while let Ok(n) = out.read(&mut buf) {
                if n == 0 {
                    break;
                }
                let _ = log.write_all(&buf[..n]);
                for &b in &buf[..n] {
                    if b == b'\n' {
                        let s = String::from_utf8_lossy(&line)
                            .trim_end_matches('\r')
                            .to_string();
                        line.clear();
                        if tx.send(s).is_err() {
                            return;
                        }
                    } else {
                        line.push(b);
                    }
                }
            }
            let _ = log.flush();
            if !line.is_empty() {
                let _ = tx.send(String::from_utf8_lossy(&line).into_owned());
            }
        });
        progress.note("qemu started");
        Ok(Self {
            child,
            rx,
            start: Instant::now(),
            deadline,
            console: console.to_path_buf(),
            stderr: stderr.to_path_buf(),
            recipe: recipe.to_string(),
            phase: "boot".into(),
            phases: vec![PhaseMark {
                name: "boot".into(),
                at_s: 0.0,
            }],
            boots: 0,
            max_boots,
            progress,
        })
    }

    /// Phases seen so far.
    pub fn phases(&self) -> &[PhaseMark] {
        &self.phases
    }

    /// Time since QEMU started.
    pub fn elapsed(&self) -> Duration {
        self.start.elapsed()
    }

    /// Time left before the deadline.
    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_sub(self.start.elapsed())
    }

    /// The current phase.
    pub fn phase(&self) -> &str {
        &self.phase
    }

    /// Record a host-side phase (e.g. QMP dump).
    pub fn mark(&mut self, name: &str) {
        self.set_phase(name);
    }

    fn set_phase(&mut self, name: &str) {
        self.phase = name.to_string();
        let at_s = self.start.elapsed().as_secs_f64();
        self.phases.push(PhaseMark {
            name: name.to_string(),
            at_s: (at_s * 10.0).round() / 10.0,
        });
        self.progress.note(&format!("phase {name}"));
    }

    /// Process one console line; returns the host-directed text, if any.
    fn handle_line(&mut self, line: &str) -> Result<Option<String>> {
        if line.contains("Linux version ") {
            self.boots += 1;
            if self.boots > self.max_boots {
                return Err(self.fail("the guest booted more often than expected (reboot loop?)"));
            }
            if self.boots > 1 {
                self.set_phase(&format!("boot{}", self.boots));
            }
        }
        if line.contains("Kernel panic - not syncing") {
            self.set_phase("panic");
        }
        let Some(i) = line.find(SAY) else {
            return Ok(None);
        };
        let said = line[i + SAY.len()..].trim().to_string();
        if let Some(p) = said.strip_prefix("phase ") {
            self.set_phase(p.trim());
        } else if let Some(e) = said.strip_prefix("error ") {
            return Err(self.fail(&format!("guest reported error: {e}")));
        }
        Ok(Some(said))
    }

    /// Wait for a host-directed line starting with `key`; returns the rest.
    pub fn wait_for(&mut self, key: &str) -> Result<String> {
        loop {
            match self.next_line()? {
                Some(line) => {
                    if let Some(said) = self.handle_line(&line)? {
                        if let Some(rest) = said.strip_prefix(key) {
                            return Ok(rest.trim().to_string());
                        }
                    }
                }
                None => {
                    let st = self.wait_child()?;
                    return Err(self.fail(&format!(
                        "QEMU exited ({st}) before the guest said `{key}`{}",
                        self.stderr_excerpt()
                    )));
                }
            }
        }
    }

    /// Let the guest finish: consume the console until QEMU exits.
    pub fn wait_exit(&mut self) -> Result<ExitStatus> {
        while let Some(line) = self.next_line()? {
            self.handle_line(&line)?;
        }
        let st = self.wait_child()?;
        self.progress.note(&format!("qemu exited ({st})"));
        Ok(st)
    }

    /// Next console line, `None` at EOF; a deadline error when time is up.
    fn next_line(&mut self) -> Result<Option<String>> {
        loop {
            let left = self.remaining();
            if left.is_zero() {
                return Err(self.timeout());
            }
            match self.rx.recv_timeout(left.min(Duration::from_millis(500))) {
                Ok(l) => return Ok(Some(l)),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Ok(None),
            }
        }
    }

    fn wait_child(&mut self) -> Result<ExitStatus> {
        loop {
            if let Some(st) = self.child.try_wait().ctx("wait for", "qemu")? {
                return Ok(st);
            }
            if self.remaining().is_zero() {
                return Err(self.timeout());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// A [`LabError::Timeout`] for the current phase; kills QEMU.
    pub fn timeout(&mut self) -> LabError {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.progress.note(&format!(
            "deadline of {:?} reached in phase {}; QEMU killed",
            self.deadline, self.phase
        ));
        LabError::Timeout {
            phase: self.phase.clone(),
            elapsed: self.start.elapsed(),
            deadline: self.deadline,
            console: self.console.clone(),
            tail: console_tail(&self.console, TAIL_LINES),
        }
    }

    /// A [`LabError::Guest`] with the console tail; kills QEMU.
    pub fn fail(&mut self, msg: &str) -> LabError {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // Give the reader thread a moment to flush the last lines.
        std::thread::sleep(Duration::from_millis(100));
        LabError::Guest {
            recipe: self.recipe.clone(),
            msg: msg.to_string(),
            phase: self.phase.clone(),
            console: self.console.clone(),
            tail: console_tail(&self.console, TAIL_LINES),
        }
    }

    fn stderr_excerpt(&self) -> String {
        let s = std::fs::read_to_string(&self.stderr).unwrap_or_default();
        let s = s.trim();
        if s.is_empty() {
            String::new()
        } else {
            format!(
                "; QEMU stderr: {}",
                s.lines().take(10).collect::<Vec<_>>().join(" | ")
            )
        }
    }
}

impl Drop for QemuRun {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The last `n` lines of a console log (lossy UTF-8).
pub fn console_tail(path: &Path, n: usize) -> String {
    let data = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&data);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| format!("  | {}", l.trim_end_matches('\r')))
        .collect::<Vec<_>>()
        .join("\n")
}
