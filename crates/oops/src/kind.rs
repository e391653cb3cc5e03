//! Crash kinds.

use serde::Serialize;

/// What sort of crash report this is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// `Kernel panic - not syncing:` with no earlier report.
    Panic,
    /// A die (`Oops: …`, `Internal error: Oops`) with no more specific header.
    Oops,
    /// `BUG: kernel NULL pointer dereference` and arch variants.
    NullPointer,
    /// `BUG: unable to handle page fault` / `kernel paging request` and arch variants.
    PageFault,
    /// `general protection fault`.
    GeneralProtection,
    /// `divide error`.
    DivideError,
    /// `invalid opcode` not caused by `BUG()`.
    InvalidOpcode,
    /// `kernel BUG at file:line!`.
    KernelBug,
    /// Other `BUG: …` reports (sleeping in atomic, bad page state, …).
    Bug,
    /// `WARNING: CPU: … at …`.
    Warning,
    /// KASAN report.
    Kasan,
    /// KMSAN report.
    Kmsan,
    /// KFENCE report.
    Kfence,
    /// KCSAN report.
    Kcsan,
    /// UBSAN report.
    Ubsan,
    /// lockdep reports: possible deadlock, inconsistent lock state, suspicious RCU usage, …
    Lockdep,
    /// `INFO: task … blocked for more than … seconds`.
    HungTask,
    /// RCU CPU stall.
    RcuStall,
    /// Soft lockup.
    SoftLockup,
    /// Hard lockup (NMI watchdog).
    HardLockup,
    /// `refcount_t:` saturation/underflow warnings.
    Refcount,
    /// `list_add`/`list_del` corruption.
    ListCorruption,
    /// kmemleak report.
    MemoryLeak,
    /// Out-of-memory panic.
    OutOfMemory,
    /// Fatal machine check / SError.
    MachineCheck,
}

impl Kind {
    /// Stable lower-case name, used in signatures and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Panic => "panic",
            Kind::Oops => "oops",
            Kind::NullPointer => "null-pointer",
            Kind::PageFault => "page-fault",
            Kind::GeneralProtection => "general-protection",
            Kind::DivideError => "divide-error",
            Kind::InvalidOpcode => "invalid-opcode",
            Kind::KernelBug => "kernel-bug",
            Kind::Bug => "bug",
            Kind::Warning => "warning",
            Kind::Kasan => "kasan",
            Kind::Kmsan => "kmsan",
            Kind::Kfence => "kfence",
            Kind::Kcsan => "kcsan",
            Kind::Ubsan => "ubsan",
            Kind::Lockdep => "lockdep",
            Kind::HungTask => "hung-task",
            Kind::RcuStall => "rcu-stall",
            Kind::SoftLockup => "soft-lockup",
            Kind::HardLockup => "hard-lockup",
            Kind::Refcount => "refcount",
            Kind::ListCorruption => "list-corruption",
            Kind::MemoryLeak => "memory-leak",
            Kind::OutOfMemory => "out-of-memory",
            Kind::MachineCheck => "machine-check",
        }
    }

    /// Every kind, in declaration order.
    pub const ALL: [Kind; 25] = [
        Kind::Panic,
        Kind::Oops,
        Kind::NullPointer,
        Kind::PageFault,
        Kind::GeneralProtection,
        Kind::DivideError,
        Kind::InvalidOpcode,
        Kind::KernelBug,
        Kind::Bug,
        Kind::Warning,
        Kind::Kasan,
        Kind::Kmsan,
        Kind::Kfence,
        Kind::Kcsan,
        Kind::Ubsan,
        Kind::Lockdep,
        Kind::HungTask,
        Kind::RcuStall,
        Kind::SoftLockup,
        Kind::HardLockup,
        Kind::Refcount,
        Kind::ListCorruption,
        Kind::MemoryLeak,
        Kind::OutOfMemory,
        Kind::MachineCheck,
    ];

    /// Parse [`Kind::as_str`] back.
    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
