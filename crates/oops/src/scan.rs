//! The streaming scanner: one line at a time, one open report at a time,
//! bounded state.

use crate::body::{
    is_trace_filler, is_trace_start, lr_symbol, parse_registers, pc_symbol, pstore_header,
};
use crate::frame::{base_name, is_generic, parse_frame, Frame, SkipSet};
use crate::header::{detect, first_symbol, is_list_corruption, Header, Role, Source};
use crate::line::{clean, Line};
use crate::report::{fnv1a, Analysis, Register, Report};
use crate::taint::{parse_cpu_line, Taint};
use crate::{Kind, MAX_FRAMES, MAX_REPORTS};

/// Lines after its header that a report may span; beyond this it is closed
/// (a report whose end marker was lost must not swallow the rest of the log).
const MAX_BODY_LINES: u32 = 800;
/// A die line within this many lines completes an open fault/BUG report.
const DIE_WINDOW: u32 = 80;
/// A WARNING/BUG line within this many lines completes a `refcount_t:` /
/// list-corruption message; conversely such a message within this many
/// lines after a WARNING explains it.
const PRE_WINDOW: u32 = 8;
/// A panic this many lines after a closed report is still its consequence.
const PANIC_WINDOW: u64 = 300;
const MAX_REGISTERS: usize = 64;
const MAX_MODULES: usize = 1024;
const MAX_HEADER: usize = 512;

/// Streaming analyzer: feed lines with [`Analyzer::push_line`], then call
/// [`Analyzer::finish`]. Memory stays bounded whatever the input.
#[derive(Debug, Default)]
pub struct Analyzer {
    open: Option<Builder>,
    out: Analysis,
    /// Line number at which the last report was closed.
    last_closed: u64,
    /// First half of a quoted-printable soft line break (see `push_line`).
    qp_pending: Vec<u8>,
    /// The physical line number where `qp_pending` started.
    qp_line: u64,
}

/// Quoted-printable mail bodies (logs pasted into list mails) break lines
/// longer than 76 characters with a trailing `=`. A line of 60..=76 bytes
/// ending in a single `=` is taken as such a break and joined to the next.
fn qp_soft_break(raw: &[u8]) -> bool {
    let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
    (60..=76).contains(&raw.len()) && raw.ends_with(b"=") && !raw.ends_with(b"==")
}

#[derive(Debug)]
struct Builder {
    h: Header,
    report: Report,
    caller: Option<String>,
    body: u32,
    in_trace: bool,
    frames_done: bool,
    trace_seen: bool,
    await_at: bool,
    lock_func: Option<String>,
    access: Option<String>,
    died: bool,
    regs_done: bool,
    ended: bool,
    /// Caller named at the end of the last ARM-style frame line.
    arm_caller: Option<Frame>,
    /// The previous line ended with "at:"; the lock site is on this one.
    at_wrapped: bool,
    /// Caller register (LR/ra) as a symbol.
    lr: Option<Frame>,
    /// Inside a list of lock or preemption sites (a line ended with
    /// "at:") before the CPU line: symbols there are not a trace.
    site_list: bool,
    /// Inside the stack dump of a starved RCU grace-period kthread: it
    /// shows the RCU machinery sleeping, not the stalled code.
    gp_dump: bool,
}

impl Analyzer {
    /// A fresh analyzer.
    pub fn new() -> Analyzer {
        Analyzer::default()
    }

    /// Feed one raw line (without the trailing newline; a `\r` is tolerated).
    pub fn push_line(&mut self, raw: &[u8]) {
        self.out.lines += 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if !self.qp_pending.is_empty() {
            let mut joined = std::mem::take(&mut self.qp_pending);
            if raw.is_empty() {
                // Not a continuation after all: keep the `=`.
                self.push_pending(&joined);
                return;
            }
            joined.pop(); // the `=`
            let room = crate::line::MAX_LINE.saturating_sub(joined.len());
            joined.extend_from_slice(&raw[..raw.len().min(room)]);
            // A long line may be broken more than once.
            if qp_soft_break(raw) && joined.len() < crate::line::MAX_LINE {
                self.qp_pending = joined;
            } else {
                self.push_pending(&joined);
            }
            return;
        }
        if qp_soft_break(raw) {
            self.qp_pending.extend_from_slice(raw);
            self.qp_line = self.out.lines;
            return;
        }
        self.push_clean(raw);
    }

    /// Process a line held back as a possible soft break, numbered as the
    /// physical line it started on (whatever came after it).
    fn push_pending(&mut self, text: &[u8]) {
        let now = self.out.lines;
        self.out.lines = self.qp_line;
        self.push_clean(text);
        self.out.lines = now;
    }

    fn push_clean(&mut self, raw: &[u8]) {
        let line = clean(raw);
        if line.foreign || line.text.is_empty() {
            return;
        }
        self.line(line);
    }

    fn line(&mut self, l: Line) {
        let t = l.text.as_str();
        if self.out.lines <= 3 && self.out.pstore.is_none() {
            if let Some(p) = pstore_header(t) {
                self.out.pstore = Some(p);
                return;
            }
        }
        if t.starts_with("---[ end ") {
            // The closing marker of a panic whose opening line was lost.
            if self.open.is_none() && self.out.reports.is_empty() {
                if let Some(msg) = t.strip_prefix("---[ end Kernel panic - not syncing") {
                    if let Some(h) = detect(&format!("Kernel panic - not syncing{msg}")) {
                        self.header(h, &l);
                        if let Some(b) = self.open.as_mut() {
                            b.report.truncated = true;
                            b.ended = true;
                        }
                    }
                }
                return;
            }
            if let Some(b) = self.open.as_mut() {
                b.ended = true;
                b.in_trace = false;
                if b.trace_seen {
                    b.frames_done = true;
                }
                if !t.starts_with("---[ end Kernel panic") {
                    // Keep it open briefly: the panic it causes follows.
                    b.frames_done = true;
                }
            }
            return;
        }
        if let Some(h) = detect(t) {
            self.header(h, &l);
            return;
        }
        let same_caller = match (&self.open, &l.caller) {
            (Some(b), Some(c)) => b.caller.as_ref().is_none_or(|bc| bc == c),
            _ => true,
        };
        if !same_caller {
            return;
        }
        if let Some(b) = self.open.as_mut() {
            if l.damaged {
                b.report.corrupted = true;
            }
            b.body += 1;
            if b.body > MAX_BODY_LINES {
                self.close(false);
                return;
            }
            b.feed(t);
        }
    }

    fn header(&mut self, h: Header, l: &Line) {
        let line_no = self.out.lines;
        match &h.role {
            Role::Panic(msg) => {
                let recent = line_no.saturating_sub(self.last_closed) <= PANIC_WINDOW
                    && self.last_closed > 0;
                if let Some(b) = self.open.as_mut() {
                    if b.report.panic.is_none() {
                        b.report.panic = Some(msg.clone());
                    }
                    // Keep collecting: a WARNING's trace follows its panic
                    // line with panic_on_warn.
                    return;
                }
                if recent {
                    if let Some(r) = self.out.reports.last_mut() {
                        if r.panic.is_none() {
                            r.panic = Some(msg.clone());
                        }
                        return;
                    }
                }
            }
            Role::Die { absorbs } => {
                if let Some(b) = self.open.as_mut() {
                    let fits = matches!(
                        b.h.kind,
                        Kind::NullPointer
                            | Kind::PageFault
                            | Kind::KernelBug
                            | Kind::ListCorruption
                            | Kind::Bug
                    );
                    if *absorbs && fits && !b.died && b.body <= DIE_WINDOW {
                        b.died = true;
                        return;
                    }
                }
            }
            Role::Completes => {
                if let Some(b) = self.open.as_mut() {
                    if b.h.role == Role::Pre && b.body <= PRE_WINDOW {
                        if b.h.func.is_none() {
                            b.h.func = h.func.clone();
                        }
                        b.h.role = Role::Start;
                        return;
                    }
                }
            }
            Role::Pre => {
                if let Some(b) = self.open.as_mut() {
                    if matches!(b.h.kind, Kind::Warning | Kind::KernelBug) && b.body <= PRE_WINDOW {
                        b.h.kind = h.kind;
                        b.h.prefix = h.prefix;
                        b.h.source = Source::Stack;
                        b.report.kind = b.h.kind;
                        return;
                    }
                }
            }
            Role::Start => {
                // Two CPUs faulting at once print two headers back to back;
                // the details that follow belong to one report.
                // KASAN/KMSAN print one header per inlined frame; the first
                // names the report.
                if let Some(b) = self.open.as_mut() {
                    if b.h.kind == h.kind
                        && matches!(
                            h.kind,
                            Kind::PageFault
                                | Kind::NullPointer
                                | Kind::GeneralProtection
                                | Kind::Kasan
                                | Kind::Kmsan
                                | Kind::Kfence
                                | Kind::Ubsan
                                | Kind::Warning
                        )
                        && b.body <= 3
                        && b.report.pc.is_none()
                        && b.report.frames.is_empty()
                    {
                        // The chain goes outward: a later line may name the
                        // first meaningful function.
                        let generic = |f: &Option<String>| {
                            f.as_deref().is_none_or(|f| is_generic(f, b.h.skip))
                        };
                        if generic(&b.h.func) && !generic(&h.func) {
                            b.h.func = h.func;
                        }
                        return;
                    }
                }
                // Old kernels report a hard lockup as a WARNING in
                // kernel/watchdog.c followed by the detector's message.
                if let Some(b) = self.open.as_mut() {
                    if h.kind == Kind::HardLockup
                        && b.h.kind == Kind::Warning
                        && b.body <= PRE_WINDOW
                    {
                        b.h = h;
                        b.report.kind = Kind::HardLockup;
                        return;
                    }
                }
                if h.kind == Kind::MemoryLeak {
                    if let Some(b) = self.open.as_ref() {
                        if b.h.kind == Kind::MemoryLeak
                            && b.report.frames.is_empty()
                            && b.body <= PRE_WINDOW
                        {
                            return;
                        }
                    }
                }
            }
        }
        self.close(false);
        if self.out.reports.len() >= MAX_REPORTS {
            self.out.dropped_reports += 1;
            return;
        }
        let mut header: String = l.text.chars().take(MAX_HEADER).collect();
        header.shrink_to_fit();
        let panic = match &h.role {
            Role::Panic(m) => Some(m.clone()),
            _ => None,
        };
        self.open = Some(Builder {
            report: Report {
                kind: h.kind,
                title: String::new(),
                line: line_no,
                header,
                pc: None,
                frames: Vec::new(),
                registers: Vec::new(),
                modules: Vec::new(),
                taint: None,
                release: None,
                hardware: None,
                cpu: None,
                pid: None,
                comm: None,
                panic,
                truncated: false,
                corrupted: l.damaged,
                signature: String::new(),
                signature_hash: String::new(),
            },
            h,
            caller: l.caller.clone(),
            body: 0,
            in_trace: false,
            frames_done: false,
            trace_seen: false,
            await_at: false,
            lock_func: None,
            access: None,
            died: false,
            regs_done: false,
            ended: false,
            arm_caller: None,
            at_wrapped: false,
            site_list: false,
            gp_dump: false,
            lr: None,
        });
    }

    fn close(&mut self, at_eof: bool) {
        if let Some(b) = self.open.take() {
            self.last_closed = self.out.lines;
            self.out.reports.push(b.finish(at_eof));
        }
    }

    /// Close the open report and return everything found.
    pub fn finish(mut self) -> Analysis {
        if !self.qp_pending.is_empty() {
            let pending = std::mem::take(&mut self.qp_pending);
            self.push_pending(&pending);
        }
        self.close(true);
        self.out
    }
}

impl Builder {
    fn feed(&mut self, t: &str) {
        if t.starts_with("Kernel Offset:") || t.starts_with("Rebooting in") {
            return;
        }
        if self.h.kind == Kind::RcuStall {
            if t.contains("RCU grace-period kthread stack dump") {
                self.gp_dump = true;
                return;
            }
            if self.gp_dump {
                if t.starts_with("NMI backtrace")
                    || t.starts_with("Sending NMI")
                    || t.starts_with("CPU: ")
                    || t.starts_with("Task dump for CPU")
                    || t.starts_with("rcu: Stack dump")
                {
                    self.gp_dump = false;
                    self.in_trace = false;
                } else {
                    return;
                }
            }
        }
        // Mail-wrapped WARNING line: the function landed on the next line.
        if self.body == 1 && self.h.func.is_none() && self.h.role == Role::Completes {
            if let Some(f) = parse_frame(t) {
                self.h.func = Some(f.function);
                return;
            }
        }
        // The faulting PC and the first register dump, wherever they appear.
        if let Some(pc) = pc_symbol(t) {
            if self.report.pc.is_none() {
                self.report.pc = pc;
            }
            if !self.regs_done {
                let (name, value) = t.split_once(':').unwrap_or((t, ""));
                self.push_reg(name.trim(), value.trim());
            }
            return;
        }
        if let Some(lr) = lr_symbol(t) {
            if self.lr.is_none() {
                self.lr = lr;
            }
            return;
        }
        if let Some(regs) = parse_registers(t) {
            if !self.regs_done {
                for r in regs {
                    self.push_reg(&r.name, &r.value);
                }
            }
            return;
        }
        if self.in_trace {
            if let Some(f) = parse_frame(t) {
                if self.report.frames.len() < MAX_FRAMES {
                    self.report.frames.push(f);
                }
                self.arm_caller = crate::frame::arm_caller(t);
                return;
            }
            if is_trace_filler(t) {
                return;
            }
            self.in_trace = false;
            // "stack backtrace:" is followed by the CPU line and only then
            // "Call Trace:": a marker with no frames yet does not end anything.
            if !self.report.frames.is_empty() {
                self.frames_done = true;
            }
            self.flush_arm_caller();
        }
        if is_trace_start(t) {
            if !self.frames_done {
                self.in_trace = true;
                self.trace_seen = true;
                if !self.report.registers.is_empty() {
                    self.regs_done = true;
                }
            }
            return;
        }
        if t.ends_with("at:") {
            self.site_list = true;
        } else if t.starts_with("CPU: ") || t.starts_with("Hardware name:") {
            self.site_list = false;
        }
        self.metadata(t);
        // A trace whose "Call Trace:" line was lost.
        if !self.frames_done
            && !self.trace_seen
            && !self.site_list
            && self.report.frames.is_empty()
            && self.h.kind != Kind::Lockdep
        {
            if let Some(f) = parse_frame(t) {
                if f.offset.is_some() || t.contains(") from [<") {
                    self.in_trace = true;
                    self.trace_seen = true;
                    self.report.frames.push(f);
                    self.arm_caller = crate::frame::arm_caller(t);
                }
            }
        }
    }

    /// The caller named by the last ARM frame line ends the trace.
    fn flush_arm_caller(&mut self) {
        if let Some(f) = self.arm_caller.take() {
            if self.report.frames.len() < MAX_FRAMES {
                self.report.frames.push(f);
            }
        }
    }

    fn push_reg(&mut self, name: &str, value: &str) {
        if self.report.registers.len() < MAX_REGISTERS
            && !self.report.registers.iter().any(|r| r.name == name)
        {
            self.report.registers.push(Register {
                name: name.to_string(),
                value: value.chars().take(128).collect(),
            });
        }
    }

    fn metadata(&mut self, t: &str) {
        if let Some(c) = parse_cpu_line(t) {
            if self.report.cpu.is_none() {
                self.report.cpu = c.cpu;
                self.report.pid = c.pid;
                self.report.comm = c.comm;
                self.report.taint = c.taint;
                self.report.release = c.release;
            }
            return;
        }
        if let Some(hw) = t.strip_prefix("Hardware name: ") {
            if self.report.hardware.is_none() {
                self.report.hardware = Some(hw.chars().take(256).collect());
            }
            return;
        }
        if let Some(m) = t.strip_prefix("Modules linked in:") {
            if self.report.modules.is_empty() {
                let m = m.split("[last unloaded").next().unwrap_or(m);
                self.report.modules = m
                    .split_whitespace()
                    .map(|w| w.split('(').next().unwrap_or(w))
                    .filter(|w| !w.is_empty())
                    .take(MAX_MODULES)
                    .map(|w| w.chars().take(64).collect())
                    .collect();
            }
            return;
        }
        if let Some(tf) = t.strip_prefix("Tainted: [") {
            // v6.12+ second taint line: "Tainted: [W]=WARN, [O]=OOT_MODULE".
            if self
                .report
                .taint
                .as_ref()
                .is_none_or(|x| x.letters.is_empty())
            {
                let letters: String = format!("[{tf}")
                    .split('[')
                    .filter_map(|p| p.chars().next())
                    .collect();
                self.report.taint = Some(Taint::decode(&letters));
            }
            return;
        }
        if self.h.kind == Kind::Lockdep {
            if t.contains("is trying to acquire")
                || t.ends_with("takes:")
                || t.contains("just changed the state of lock")
                || t.contains("which became ")
                || t.contains("is leaving the kernel with locks still held")
            {
                self.await_at = true;
            } else if self.await_at {
                // The lock site: "…, at: foo+0x1/0x2" (also symbolized
                // inline chains, several "at:" lines, and "at:" wrapped to
                // the next line). The first non-generic function wins.
                let site = if let Some(i) = t.find("at: ") {
                    Some(&t[i + 4..])
                } else if self.at_wrapped {
                    Some(t)
                } else {
                    None
                };
                self.at_wrapped = t.ends_with("at:");
                if let Some(rest) = site {
                    let rest = rest.trim_start();
                    let rest = if rest.starts_with("[<") {
                        rest.split_once("] ").map_or(rest, |x| x.1)
                    } else {
                        rest
                    };
                    if let Some(f) = first_symbol(rest) {
                        let generic = is_generic(&f, SkipSet::Generic);
                        if self.lock_func.is_none() || !generic {
                            self.lock_func = Some(f);
                        }
                        if !generic {
                            self.await_at = false;
                        }
                    }
                } else if !self.at_wrapped && !t.contains(" held by ") {
                    // "1 lock held by lvm/1318:" precedes the lock list of
                    // "is leaving the kernel with locks still held".
                    self.await_at = false;
                }
            }
        }
        if self.h.kind == Kind::Kasan && self.access.is_none() {
            for a in ["Read", "Write"] {
                if t.starts_with(&format!("{a} of size")) || t.starts_with(&format!("{a} at addr"))
                {
                    self.access = Some(a.to_string());
                }
            }
        }
        if self.h.kind == Kind::Warning && self.body <= PRE_WINDOW {
            if t.starts_with("refcount_t: ") {
                self.h.kind = Kind::Refcount;
                self.h.prefix = "WARNING: refcount bug".into();
                self.h.source = Source::Stack;
            } else if is_list_corruption(t) {
                self.h.kind = Kind::ListCorruption;
                self.h.prefix = "BUG: corrupted list".into();
                self.h.source = Source::Stack;
            }
            self.report.kind = self.h.kind;
        }
    }

    fn finish(mut self, at_eof: bool) -> Report {
        if self.in_trace {
            self.flush_arm_caller();
        }
        let r = &mut self.report;
        // BUG() in lib/list_debug.c whose "kernel BUG at" line was lost.
        if let Some(pc) = &r.pc {
            let f = pc.base_name();
            if f.starts_with("__list_")
                && f.contains("valid")
                && matches!(
                    self.h.kind,
                    Kind::InvalidOpcode | Kind::KernelBug | Kind::Oops
                )
            {
                self.h.kind = Kind::ListCorruption;
                self.h.prefix = "BUG: corrupted list".into();
                self.h.source = Source::Stack;
            }
        }
        r.kind = self.h.kind;
        // Candidates in order of preference for the function in the title.
        let mut cands: Vec<(String, bool)> = Vec::new();
        match self.h.source {
            Source::Header => {
                if let Some(f) = &self.h.func {
                    cands.push((f.clone(), true));
                }
            }
            Source::Pc => {
                if let Some(f) = &r.pc {
                    cands.push((f.function.clone(), true));
                }
                if let Some(f) = &self.lr {
                    cands.push((f.function.clone(), true));
                }
            }
            Source::LockAt => {
                if let Some(f) = &self.lock_func {
                    cands.push((f.clone(), true));
                }
            }
            Source::Stack | Source::None => {}
        }
        // Inlined frames (`foo file.c:12 [inline]`) are skipped, as syzbot
        // does: which helpers get inlined changes from build to build, so
        // naming one would split a bucket. Kept only if nothing else is left.
        let n_own = cands.len();
        let any_outlined = r.frames.iter().any(|f| !f.inline);
        cands.extend(
            r.frames
                .iter()
                .filter(|f| !f.inline || !any_outlined)
                .map(|f| (f.function.clone(), f.reliable)),
        );
        let skip = self.h.skip;
        // `?` frames are stack-scan guesses; use them only when the trace
        // has nothing else (old kernels print every frame with `?`).
        let any_reliable = cands.iter().any(|(_, rel)| *rel);
        let pick = cands
            .iter()
            .position(|(f, rel)| *rel && !is_generic(f, skip))
            .or_else(|| {
                if any_reliable {
                    None
                } else {
                    cands.iter().position(|(f, _)| !is_generic(f, skip))
                }
            });
        // Nothing but generic frames: the header's own function (the faulting
        // PC, the WARNING site) still says more than no function at all.
        // Not for refcount/list reports, whose PC is always the checker.
        let pick = pick.or_else(|| {
            let own = matches!(self.h.source, Source::Header | Source::Pc | Source::LockAt)
                && !matches!(self.h.kind, Kind::ListCorruption | Kind::Refcount);
            (own && n_own > 0).then_some(0).filter(|_| {
                crate::frame::is_ident(base_name(&cands[0].0)) && !cands[0].0.starts_with("0x")
            })
        });
        let mut prefix = self.h.prefix.clone();
        if let Some(a) = &self.access {
            if !prefix.ends_with("invalid-free") {
                prefix = format!("{prefix} {a}");
            }
        }
        let needs_func = self.h.source != Source::None;
        r.title = match (needs_func, pick) {
            (false, _) => prefix,
            (true, Some(i)) => format!("{prefix} in {}", base_name(&cands[i].0)),
            (true, None) => {
                r.corrupted = true;
                match (&self.h.file, r.kind) {
                    (Some(f), Kind::KernelBug) if !f.is_empty() => format!("kernel BUG at {f}"),
                    _ => prefix,
                }
            }
        };
        // A machine check or OOM report is named by its panic message.
        if matches!(r.kind, Kind::MachineCheck | Kind::OutOfMemory) {
            if let Some(p) = &r.panic {
                r.title = format!("kernel panic: {p}");
            }
        }
        r.truncated =
            at_eof && !self.ended && (self.in_trace || (needs_func && r.frames.is_empty()));
        // Signature: kind + up to 3 distinct reliable non-generic functions,
        // starting at the one in the title.
        let mut sig_frames: Vec<&str> = Vec::new();
        let start = pick.unwrap_or(cands.len());
        for (f, rel) in cands.iter().skip(start) {
            let b = base_name(f);
            if sig_frames.len() >= 3 {
                break;
            }
            if (*rel || sig_frames.is_empty()) && !is_generic(b, skip) && !sig_frames.contains(&b) {
                sig_frames.push(b);
            }
        }
        r.signature = if sig_frames.is_empty() {
            let t: String = r
                .title
                .chars()
                .map(|c| if c.is_ascii_digit() { '0' } else { c })
                .collect();
            format!("{}|{}", r.kind.as_str(), t)
        } else {
            format!("{}|{}", r.kind.as_str(), sig_frames.join("|"))
        };
        r.signature_hash = format!("{:016x}", fnv1a(&r.signature));
        self.report
    }
}
