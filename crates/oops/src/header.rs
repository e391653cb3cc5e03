//! Recognising the first line of a crash report, and what it implies for
//! the title.
//!
//! Titles follow the syzbot dashboard conventions: a fixed prefix naming the
//! bug class, then ` in <function>` where the function comes from the
//! header line, the faulting PC, a lockdep `at:` line or the call trace,
//! whichever the class uses.

use crate::frame::{base_name, is_ident, SkipSet};
use crate::Kind;

/// Where the function named in the title comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    /// The title is complete; no function.
    None,
    /// The function on the header line, else the call trace.
    Header,
    /// The faulting PC (RIP/pc/PC is at), else the call trace.
    Pc,
    /// The call trace only.
    Stack,
    /// The lockdep `at:` line after "is trying to acquire"/"takes:", else the trace.
    LockAt,
}

/// How a header relates to a report that is already open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Role {
    /// Starts a report.
    Start,
    /// A die line (`Oops: 0000 [#1]`); may complete an open fault/BUG report.
    Die { absorbs: bool },
    /// A `WARNING:`/`kernel BUG at` line that may complete a preceding
    /// `refcount_t:` or list-corruption message.
    Completes,
    /// A message printed just before the WARN/BUG it explains.
    Pre,
    /// `Kernel panic - not syncing: <msg>`.
    Panic(String),
}

/// A recognised header line.
#[derive(Debug, Clone)]
pub(crate) struct Header {
    pub kind: Kind,
    /// Title up to (not including) ` in <func>`.
    pub prefix: String,
    pub source: Source,
    pub skip: SkipSet,
    /// Function named on the header line.
    pub func: Option<String>,
    /// Source file named on the header line (`kernel BUG at`).
    pub file: Option<String>,
    pub role: Role,
}

impl Header {
    fn new(kind: Kind, prefix: impl Into<String>, source: Source) -> Header {
        Header {
            kind,
            prefix: prefix.into(),
            source,
            skip: SkipSet::Generic,
            func: None,
            file: None,
            role: Role::Start,
        }
    }
    fn skip(mut self, s: SkipSet) -> Header {
        self.skip = s;
        self
    }
    fn func(mut self, f: Option<String>) -> Header {
        self.func = f;
        self
    }
    fn role(mut self, r: Role) -> Header {
        self.role = r;
        self
    }
}

/// First symbol-looking token of `s` with its `+0x…/0x…` stripped.
pub(crate) fn first_symbol(s: &str) -> Option<String> {
    for tok in s.split_whitespace().take(4) {
        let tok = tok.trim_end_matches([',', ';', ')', '(']);
        if tok.starts_with("[<") || tok.starts_with('[') && tok.ends_with(']') {
            continue;
        }
        let name = tok.split('+').next().unwrap_or("");
        if is_ident(name) && !name.starts_with("0x") {
            return Some(name.to_string());
        }
        return None;
    }
    None
}

/// Classify a cleaned line. `None`: not a report header.
pub(crate) fn detect(t: &str) -> Option<Header> {
    if t.len() < 4 {
        return None;
    }
    if let Some(msg) = t.strip_prefix("Kernel panic - not syncing") {
        let msg = msg.trim_start_matches(':').trim();
        return Some(panic_header(msg));
    }
    if let Some(h) = die(t) {
        return Some(h);
    }
    // Subsystem prefixes in front of well-known headers.
    let t = t
        .strip_prefix("watchdog: ")
        .or_else(|| t.strip_prefix("NMI watchdog: "))
        .or_else(|| t.strip_prefix("rcu: "))
        .unwrap_or(t);
    // Old lockdep banners: "[ INFO: possible circular locking dependency detected ]".
    let t = match t.strip_prefix("[ ").and_then(|x| x.strip_suffix(" ]")) {
        Some(inner) if inner.starts_with("INFO: ") => inner,
        _ => t,
    };
    if let Some(rest) = t.strip_prefix("BUG: ") {
        return bug(rest);
    }
    if let Some(rest) = t.strip_prefix("WARNING: ") {
        return warning(rest);
    }
    if let Some(rest) = t.strip_prefix("INFO: ") {
        return info(rest);
    }
    if let Some(rest) = t.strip_prefix("kernel BUG at ") {
        let file = rest
            .trim_end_matches('!')
            .split(':')
            .next()
            .unwrap_or("")
            .to_string();
        let mut h = if file.ends_with("list_debug.c") {
            Header::new(Kind::ListCorruption, "BUG: corrupted list", Source::Stack)
        } else {
            Header::new(Kind::KernelBug, "kernel BUG", Source::Pc)
        };
        h.file = Some(file);
        return Some(h.role(Role::Completes));
    }
    if let Some(rest) = t.strip_prefix("UBSAN: ") {
        let typ = rest.split(" in ").next().unwrap_or(rest).trim();
        let typ = if typ.eq_ignore_ascii_case("undefined behaviour") {
            "undefined-behaviour".to_string()
        } else {
            typ.replace(' ', "-")
        };
        return Some(Header::new(
            Kind::Ubsan,
            format!("UBSAN: {typ}"),
            Source::Stack,
        ));
    }
    if t.starts_with("Unable to handle kernel NULL pointer dereference") {
        return Some(null_deref());
    }
    if t.starts_with("Unable to handle kernel ") {
        return Some(page_fault());
    }
    if t.starts_with("Watchdog detected hard LOCKUP")
        || (t.starts_with("Watchdog CPU:") && t.contains("Hard LOCKUP"))
    {
        return Some(
            Header::new(Kind::HardLockup, "BUG: hard lockup", Source::Pc).skip(SkipSet::Stall),
        );
    }
    if t.starts_with("refcount_t: ") {
        return Some(
            Header::new(Kind::Refcount, "WARNING: refcount bug", Source::Stack).role(Role::Pre),
        );
    }
    if is_list_corruption(t) {
        return Some(
            Header::new(Kind::ListCorruption, "BUG: corrupted list", Source::Stack).role(Role::Pre),
        );
    }
    if t.starts_with("unreferenced object 0x") {
        return Some(
            Header::new(Kind::MemoryLeak, "memory leak", Source::Stack).skip(SkipSet::Alloc),
        );
    }
    if (t.starts_with("mce: [Hardware Error]: ") || t.starts_with("[Hardware Error]: "))
        && t.contains("Machine Check Exception")
        || t.starts_with("SError Interrupt on CPU")
    {
        return Some(Header::new(
            Kind::MachineCheck,
            "machine check exception",
            Source::None,
        ));
    }
    // Follows the general protection fault line of KASAN kernels; alone
    // when a report was trimmed to it.
    if t.starts_with("KASAN: null-ptr-deref in range")
        || t.starts_with("KASAN: maybe wild-memory-access in range")
    {
        return Some(Header::new(
            Kind::GeneralProtection,
            "general protection fault",
            Source::Pc,
        ));
    }
    if t.starts_with("kernel stack overflow (") {
        return Some(Header::new(Kind::Oops, "kernel stack overflow", Source::Pc));
    }
    None
}

/// `list_add corruption.`, `list_del corruption,`, `list_add double add:` …
pub(crate) fn is_list_corruption(t: &str) -> bool {
    (t.starts_with("list_") || t.starts_with("hlist_") || t.starts_with("__list_"))
        && (t.contains(" corruption") || t.contains(" double add"))
}

fn null_deref() -> Header {
    Header::new(
        Kind::NullPointer,
        "BUG: unable to handle kernel NULL pointer dereference",
        Source::Pc,
    )
}

fn page_fault() -> Header {
    Header::new(
        Kind::PageFault,
        "BUG: unable to handle page fault",
        Source::Pc,
    )
}

fn panic_header(msg: &str) -> Header {
    let lower = msg.to_ascii_lowercase();
    let kind = if lower.contains("out of memory") || lower.contains("deadlocked on memory") {
        Kind::OutOfMemory
    } else if lower.contains("machine check") || lower.contains("serror") || lower.contains("mce") {
        Kind::MachineCheck
    } else {
        Kind::Panic
    };
    let norm = panic_message(msg);
    if lower.contains("hard lockup") {
        // hardlockup_panic: the panic message is the detector's own report.
        return Header::new(Kind::HardLockup, "BUG: hard lockup", Source::Pc)
            .skip(SkipSet::Stall)
            .role(Role::Panic(norm));
    }
    Header::new(kind, format!("kernel panic: {norm}"), Source::None).role(Role::Panic(norm))
}

/// Drop the variable tails of panic messages so titles bucket.
pub(crate) fn panic_message(msg: &str) -> String {
    let msg = msg.trim();
    if let Some(rest) = msg.strip_prefix("stack-protector: Kernel stack is corrupted in:") {
        return match first_symbol(rest) {
            Some(f) => format!("stack is corrupted in {}", base_name(&f)),
            None => "stack is corrupted".to_string(),
        };
    }
    // The closing marker repeats the message followed by " ]---".
    let mut m = msg.trim_end_matches(['-', ']', ' ']);
    for cut in [" exitcode=", " - not syncing", "  "] {
        if let Some(i) = m.find(cut) {
            m = &m[..i];
        }
    }
    let m: String = m.chars().take(120).collect();
    m.trim_end_matches([' ', '.']).to_string()
}

/// A die line: `<name>: <code> [#N] …` (x86 `__die_header`, arm `Internal
/// error: …`, riscv/powerpc variants).
fn die(t: &str) -> Option<Header> {
    let hash = t.find(" [#")?;
    let after = &t[hash + 3..];
    let digits = after.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 || after.as_bytes().get(digits) != Some(&b']') || t.len() > 300 {
        return None;
    }
    let mut s = &t[..hash];
    s = s.strip_prefix("Internal error: ").unwrap_or(s);
    // sparc/mips: "comm(pid): Oops [#1]".
    if let Some(i) = s.find("): ") {
        if i < 40 {
            s = &s[i + 3..];
        }
    }
    if let Some(r) = s.strip_prefix("Oops: ") {
        if !r.starts_with(|c: char| c.is_ascii_hexdigit()) || r.starts_with("general") {
            s = r;
        }
    }
    let name_end = s.find([':', ',']).unwrap_or(s.len());
    let name = s[..name_end].trim();
    if name.is_empty() || name.len() > 60 || name.contains("  ") {
        return None;
    }
    let (kind, prefix, absorbs) = match name {
        "general protection fault" => (Kind::GeneralProtection, "general protection fault", false),
        "divide error" => (Kind::DivideError, "divide error", false),
        "invalid opcode" => (Kind::InvalidOpcode, "invalid opcode", true),
        "Oops - undefined instruction" => (Kind::InvalidOpcode, "invalid opcode", true),
        "stack segment" => (Kind::Oops, "stack segment fault", false),
        "double fault" => (Kind::Oops, "PANIC: double fault", false),
        "int3" => (Kind::Oops, "int3", false),
        n if n.contains("BUG") => (Kind::KernelBug, "kernel BUG", true),
        "Kernel access of bad area" => (Kind::PageFault, "BUG: unable to handle page fault", true),
        n if n.starts_with("Oops")
            || n.starts_with("Exception in kernel mode")
            || n.starts_with("Unrecoverable")
            || n.starts_with("Unhandled")
            || n.starts_with("synchronous external abort")
            || n.starts_with("SP/PC alignment") =>
        {
            (Kind::Oops, "Oops", true)
        }
        // Anything else with a "[#N]" is not a die line we know.
        _ => return None,
    };
    Some(Header::new(kind, prefix, Source::Pc).role(Role::Die { absorbs }))
}

fn bug(rest: &str) -> Option<Header> {
    let kasan = rest
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("KASAN: "))
        .map(|_| &rest[7..]);
    let h = if let Some(r) = kasan {
        // Old kernels: "KASan: use after free in foo+0x1/0x2 at addr …".
        let (typ, func) = split_in(r);
        let typ = typ.replace(' ', "-");
        let typ = if typ.contains("invalid-free") || typ.contains("double-free") {
            "invalid-free".to_string()
        } else {
            typ
        };
        Header::new(Kind::Kasan, format!("KASAN: {typ}"), Source::Header).func(func)
    } else if let Some(r) = rest.strip_prefix("KMSAN: ") {
        let (typ, func) = split_in(r);
        Header::new(Kind::Kmsan, format!("KMSAN: {typ}"), Source::Header).func(func)
    } else if let Some(r) = rest.strip_prefix("KFENCE: ") {
        let (typ, func) = split_in(r);
        Header::new(Kind::Kfence, format!("KFENCE: {typ}"), Source::Header).func(func)
    } else if let Some(r) = rest.strip_prefix("KCSAN: ") {
        // "data-race in foo+0x1/0x2 [mod] / bar.constprop.0": both
        // functions; offsets, modules and compiler suffixes dropped.
        let words: Vec<&str> = r
            .split_whitespace()
            .filter(|w| !(w.starts_with('[') && w.ends_with(']')))
            .map(|w| {
                let sym = w.split('+').next().unwrap_or(w);
                if is_ident(sym) {
                    base_name(sym)
                } else {
                    w
                }
            })
            .collect();
        Header::new(
            Kind::Kcsan,
            format!("KCSAN: {}", words.join(" ")),
            Source::None,
        )
    } else if rest.starts_with("kernel NULL pointer dereference")
        || rest.starts_with("unable to handle kernel NULL pointer dereference")
        || rest.starts_with("Kernel NULL pointer dereference")
    {
        null_deref()
    } else if rest.starts_with("unable to handle")
        || rest.starts_with("Unable to handle kernel")
        || rest.starts_with("unable to handle kernel")
    {
        page_fault()
    } else if rest.starts_with("soft lockup") {
        Header::new(Kind::SoftLockup, "BUG: soft lockup", Source::Pc).skip(SkipSet::Stall)
    } else if rest.starts_with("memory leak") {
        Header::new(Kind::MemoryLeak, "memory leak", Source::Stack).skip(SkipSet::Alloc)
    } else if rest.starts_with("workqueue lockup") {
        Header::new(Kind::Bug, "BUG: workqueue lockup", Source::None)
    } else if rest.starts_with("scheduling while atomic") {
        Header::new(Kind::Bug, "BUG: scheduling while atomic", Source::Stack).skip(SkipSet::Wait)
    } else if rest.starts_with("Bad page map") || rest.starts_with("Bad rss-counter state") {
        Header::new(
            Kind::Bug,
            format!("BUG: {}", generic_message(rest)),
            Source::None,
        )
    } else if let Some(r) = rest.strip_prefix("using ") {
        let f = r.split_whitespace().next().unwrap_or("");
        Header::new(
            Kind::Bug,
            format!("BUG: using {f} in preemptible code"),
            Source::Stack,
        )
    } else if rest.starts_with("sleeping function called from invalid context") {
        Header::new(
            Kind::Bug,
            "BUG: sleeping function called from invalid context",
            Source::Stack,
        )
        .skip(SkipSet::MightSleep)
    } else if rest.starts_with("spinlock ") || rest.starts_with("rwlock ") {
        let what = rest.split(" on CPU").next().unwrap_or(rest);
        let what = what.split(':').next().unwrap_or(what).trim();
        Header::new(Kind::Bug, format!("BUG: {what}"), Source::Stack)
    } else {
        Header::new(
            Kind::Bug,
            format!("BUG: {}", generic_message(rest)),
            Source::Stack,
        )
    };
    Some(h)
}

/// `TYPE in FUNC+0x1/0x2 …` → (`TYPE`, `FUNC`).
fn split_in(r: &str) -> (String, Option<String>) {
    match r.find(" in ") {
        Some(i) => (r[..i].trim().to_string(), first_symbol(&r[i + 4..])),
        None => (r.split_whitespace().next().unwrap_or("").to_string(), None),
    }
}

/// A `BUG:` message with its variable parts (addresses, numbers, names in
/// brackets) cut: `Dentry ffff88 still in use (1) [unmount of ext4]` →
/// `Dentry still in use`.
fn generic_message(rest: &str) -> String {
    let end = rest.find([':', ',', '(', '[', '!']).unwrap_or(rest.len());
    let mut s = &rest[..end];
    for cut in [" at ", " on CPU", " in process", " for ", " - "] {
        if let Some(i) = s.find(cut) {
            s = &s[..i];
        }
    }
    // Mail-wrapped: "… invalid context at" with the file on the next line.
    s = s.trim_end();
    s = s.strip_suffix(" at").unwrap_or(s);
    let words: Vec<&str> = s
        .split_whitespace()
        .filter(|w| {
            let h = w.trim_start_matches("0x");
            !(h.len() >= 6 && h.bytes().all(|c| c.is_ascii_hexdigit())
                || w.bytes().all(|c| c.is_ascii_digit()))
        })
        .take(12)
        .collect();
    words.join(" ")
}

fn warning(rest: &str) -> Option<Header> {
    // Classic: "CPU: 0 PID: 1 at file.c:12 func+0x1/0x2 [mod]";
    // ancient: "at file.c:12 func()"; 2025: "file.c:12 at func+0x1/0x2, CPU#0: comm/1".
    let classic = rest.starts_with("CPU: ") || rest.starts_with("at ") || rest.starts_with("[");
    let modern = !classic
        && rest
            .split_whitespace()
            .next()
            .is_some_and(|w| w.contains(".c:") || w.contains(".h:"))
        && rest.contains(" at ");
    if classic || modern {
        let (file, func) = if modern {
            let i = rest.find(" at ")?;
            (rest[..i].trim().to_string(), first_symbol(&rest[i + 4..]))
        } else {
            let at = if rest.starts_with("at ") {
                0
            } else {
                rest.find(" at ")? + 1
            };
            let mut words = rest[at + 3..].split_whitespace();
            let file = words.next().unwrap_or("").to_string();
            (
                file,
                first_symbol(words.collect::<Vec<_>>().join(" ").as_str()),
            )
        };
        let fbase = func.as_deref().map(base_name).unwrap_or("");
        // Old kernels name the caller on the WARNING line even for these,
        // so the header function (when not the checker itself) comes first.
        let h = if file.contains("lib/refcount.c") || fbase.starts_with("refcount_") {
            Header::new(Kind::Refcount, "WARNING: refcount bug", Source::Header)
        } else if file.contains("lib/list_debug.c") || fbase.starts_with("__list_") {
            Header::new(Kind::ListCorruption, "BUG: corrupted list", Source::Header)
        } else {
            Header::new(Kind::Warning, "WARNING", Source::Header)
        };
        let mut h = h.func(func).role(Role::Completes);
        h.file = Some(file);
        return Some(h);
    }
    lockdep(rest, "WARNING")
}

fn lockdep(rest: &str, tag: &str) -> Option<Header> {
    let r = rest.trim_end_matches(['!', '.', ' ']);
    let h = if r.starts_with("possible circular locking dependency detected")
        || r.starts_with("possible recursive locking detected")
        || r.starts_with("possible irq lock inversion dependency detected")
        || (r.contains("-safe -> ") && r.contains("lock order detected"))
    {
        Header::new(Kind::Lockdep, "possible deadlock", Source::LockAt)
    } else if r.starts_with("inconsistent lock state") {
        Header::new(Kind::Lockdep, "inconsistent lock state", Source::LockAt)
    } else if r.starts_with("suspicious RCU usage") {
        Header::new(
            Kind::Lockdep,
            format!("{tag}: suspicious RCU usage"),
            Source::Stack,
        )
    } else if r.starts_with("bad unlock balance detected") {
        Header::new(
            Kind::Lockdep,
            format!("{tag}: bad unlock balance"),
            Source::Stack,
        )
    } else if r.starts_with("held lock freed") {
        Header::new(
            Kind::Lockdep,
            format!("{tag}: held lock freed"),
            Source::Stack,
        )
    } else if r.starts_with("lock held when returning to user space") {
        Header::new(
            Kind::Lockdep,
            format!("{tag}: lock held when returning to user space"),
            Source::LockAt,
        )
    } else if r.starts_with("nested lock was not taken") {
        Header::new(
            Kind::Lockdep,
            format!("{tag}: nested lock was not taken"),
            Source::Stack,
        )
    } else if r.contains("still has locks held") {
        Header::new(
            Kind::Lockdep,
            format!("{tag}: still has locks held"),
            Source::Stack,
        )
    } else if r.starts_with("trying to register non-static key") {
        Header::new(
            Kind::Lockdep,
            "INFO: trying to register non-static key",
            Source::Stack,
        )
    } else {
        return None;
    };
    Some(h)
}

fn info(rest: &str) -> Option<Header> {
    if rest.starts_with("task ") && rest.contains(" blocked for more than ") {
        return Some(
            Header::new(Kind::HungTask, "INFO: task hung", Source::Stack).skip(SkipSet::Wait),
        );
    }
    if rest.starts_with("rcu") && rest.contains(" stall") {
        return Some(
            Header::new(Kind::RcuStall, "INFO: rcu detected stall", Source::Pc)
                .skip(SkipSet::Stall),
        );
    }
    lockdep(rest, "INFO")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn title_prefix(t: &str) -> Option<(Kind, String)> {
        detect(t).map(|h| (h.kind, h.prefix))
    }

    #[test]
    fn headers() {
        assert_eq!(
            title_prefix("BUG: KASAN: slab-use-after-free in foo+0x1/0x2 [m]"),
            Some((Kind::Kasan, "KASAN: slab-use-after-free".into()))
        );
        assert_eq!(
            detect("BUG: KASAN: use-after-free in foo+0x1/0x2")
                .unwrap()
                .func
                .as_deref(),
            Some("foo")
        );
        assert_eq!(
            title_prefix("Oops: 0002 [#1] PREEMPT SMP PTI").unwrap().0,
            Kind::Oops
        );
        assert_eq!(
            title_prefix("Oops: general protection fault, probably for non-canonical address 0xdffffc0000000001: 0000 [#1] PREEMPT SMP KASAN").unwrap().0,
            Kind::GeneralProtection
        );
        assert_eq!(
            title_prefix("Internal error: Oops - BUG: 00000000f2000800 [#1] PREEMPT SMP")
                .unwrap()
                .0,
            Kind::KernelBug
        );
        assert_eq!(
            title_prefix("watchdog: BUG: soft lockup - CPU#0 stuck for 22s! [a:1]")
                .unwrap()
                .0,
            Kind::SoftLockup
        );
        assert_eq!(
            title_prefix("rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:")
                .unwrap()
                .0,
            Kind::RcuStall
        );
        assert_eq!(
            detect("WARNING: CPU: 1 PID: 2 at net/core/dev.c:12 dev_foo+0x1/0x2 [m]")
                .unwrap()
                .func
                .as_deref(),
            Some("dev_foo")
        );
        assert_eq!(
            detect("WARNING: kernel/x.c:12 at foo+0x1/0x2, CPU#0: a/1")
                .unwrap()
                .func
                .as_deref(),
            Some("foo")
        );
        assert_eq!(
            detect("WARNING: at kernel/x.c:12 foo()")
                .unwrap()
                .func
                .as_deref(),
            Some("foo")
        );
        assert!(detect("WARNING: Unprivileged eBPF is enabled").is_none());
        assert!(detect("INFO: lockdep is turned off.").is_none());
        assert!(
            detect("traps: a[1] general protection fault ip:1 sp:2 error:0 in libc.so.6").is_none()
        );
        assert_eq!(
            title_prefix("BUG: Dentry ffff8800aabbccdd still in use (1) [unmount of ext4 sda1]")
                .unwrap()
                .1,
            "BUG: Dentry still in use"
        );
    }

    #[test]
    fn panic_messages() {
        assert_eq!(
            panic_message("Attempted to kill init! exitcode=0x0000000b"),
            "Attempted to kill init!"
        );
        assert_eq!(
            panic_message("stack-protector: Kernel stack is corrupted in: foo.isra.0+0x1/0x2"),
            "stack is corrupted in foo"
        );
    }
}
