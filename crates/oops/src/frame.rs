//! Stack frames: parsing the many ways architectures print them.

use serde::Serialize;

/// One call-trace frame.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Frame {
    /// Function name as printed (`foo.isra.0`); empty never.
    pub function: String,
    /// Offset into the function (`0x1a`), when printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Size of the function (`0x30`), when printed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Module the function lives in (`[mod]`), when not built in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub module: Option<String>,
    /// False for frames printed with `?` (stack scan guesses).
    pub reliable: bool,
    /// An inlined frame from a symbolized report (`foo file.c:12 [inline]`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inline: bool,
}

impl Frame {
    /// The function name without compiler suffixes (`.isra.0`, `.cold`,
    /// `.constprop.0`, `.part.0`, `.llvm.123`): the same function across builds.
    pub fn base_name(&self) -> &str {
        base_name(&self.function)
    }
}

/// Strip compiler-generated suffixes from a symbol name.
pub fn base_name(f: &str) -> &str {
    match f.find('.') {
        Some(0) | None => f,
        Some(i) => &f[..i],
    }
}

/// Parse a symbol token `foo+0x1a/0x30` (also `foo+0x1a`, `foo`) followed by
/// an optional ` [module]`. `rest` is what follows the token on the line.
pub fn parse_symbol(tok: &str, rest: &str) -> Option<Frame> {
    let (name, off, size) = match tok.split_once('+') {
        Some((n, o)) => {
            let (o, s) = match o.split_once('/') {
                Some((o, s)) => (o, Some(s)),
                None => (o, None),
            };
            let off = parse_hex(o)?;
            let size = match s {
                Some(s) => Some(parse_hex(s)?),
                None => None,
            };
            (n, Some(off), size)
        }
        None => (tok, None, None),
    };
    if !is_ident(name) {
        return None;
    }
    let module = rest
        .trim_start()
        .strip_prefix('[')
        .and_then(|m| m.split_once(']'))
        .map(|(m, _)| m.trim())
        .filter(|m| !m.is_empty() && !m.contains(' ') && *m != "inline")
        .map(str::to_string);
    Some(Frame {
        function: name.to_string(),
        offset: off,
        size,
        module,
        reliable: true,
        inline: false,
    })
}

fn parse_hex(s: &str) -> Option<u64> {
    let h = s.strip_prefix("0x")?;
    if h.is_empty() || h.len() > 16 {
        return None;
    }
    u64::from_str_radix(h, 16).ok()
}

/// A plausible C symbol: starts with a letter or `_`, then word chars, `.`, `$`.
pub fn is_ident(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.len() <= 200
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'$'))
}

/// Is this an address token such as `[<ffffffff81234567>]`, `[c000000000123456]`,
/// `ffffffff81234567`?
fn is_addr_token(t: &str) -> bool {
    let t = t
        .trim_start_matches(['[', '(', '<'])
        .trim_end_matches([']', ')', '>', ':']);
    let t = t.strip_prefix("0x").unwrap_or(t);
    t.len() >= 6 && t.len() <= 16 && t.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Parse one call-trace line (already cleaned and trimmed). Returns `None`
/// for anything that is not a frame.
pub fn parse_frame(line: &str) -> Option<Frame> {
    let mut s = line.trim();
    let mut reliable = true;
    // s390 wraps the caller frame in parentheses: `([<…>] foo+0x1/0x2)`.
    if let Some(inner) = s.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        s = inner;
    }
    // Leading `?`, address tokens and (old x86) context markers, in any
    // order: `<IRQ>  [<…>] ? foo`, `[] ? foo` (addresses hidden).
    loop {
        if let Some(r) = s.strip_prefix("? ") {
            reliable = false;
            s = r.trim_start();
            continue;
        }
        if let Some(r) = [
            "<NMI>", "<IRQ>", "<EOI>", "<EOE>", "<#MC>", "<#DF>", "<TASK>", "[]",
        ]
        .iter()
        .find_map(|m| s.strip_prefix(m))
        .filter(|r| r.starts_with(' '))
        {
            s = r.trim_start();
            continue;
        }
        let tok = s.split_whitespace().next()?;
        if is_addr_token(tok) && (tok.starts_with('[') || s.len() > tok.len()) {
            // ARM: `[<c0643c94>] (foo) from [<c0644024>] (bar+0x1c/0x30)`.
            let r = s[tok.len()..].trim_start();
            if let Some(p) = r.strip_prefix('(') {
                let mut f = paren_symbol(p)?;
                f.reliable = reliable;
                return Some(f);
            }
            s = r;
            continue;
        }
        break;
    }
    let mut words = s.splitn(2, ' ');
    let tok = words.next()?;
    let rest = words.next().unwrap_or("");
    // A line cut right after the `+` (truncated log): keep the function.
    if let Some(name) = tok
        .strip_suffix('+')
        .filter(|n| rest.is_empty() && is_ident(n))
    {
        let mut f = parse_symbol(name, "")?;
        f.reliable = reliable;
        return Some(f);
    }
    if tok.contains('+') {
        let mut f = parse_symbol(tok, rest)?;
        // powerpc marks guesses with a trailing "(unreliable)".
        if rest.contains("(unreliable)") {
            reliable = false;
        }
        f.reliable = reliable;
        return Some(f);
    }
    // ARM since v5.x: `unwind_backtrace from show_stack+0x10/0x14`: the
    // first name is this frame's function.
    if rest.starts_with("from ") && rest.contains("+0x") && is_ident(tok) {
        let mut f = parse_symbol(tok, "")?;
        f.reliable = reliable;
        return Some(f);
    }
    // decode_stacktrace.sh output: `dump_stack_lvl (lib/dump_stack.c:107)`.
    if rest.starts_with('(') && rest.contains(':') && is_ident(tok) && !tok.ends_with(':') {
        let mut f = parse_symbol(tok, "")?;
        f.reliable = reliable;
        return Some(f);
    }
    // Symbolized inline frame: `inode_lock include/linux/fs.h:758 [inline]`.
    if rest.ends_with("[inline]") && is_ident(tok) {
        let mut f = parse_symbol(tok, "")?;
        f.inline = true;
        f.reliable = reliable;
        return Some(f);
    }
    None
}

/// `sym+0x1/0x2 [mod]) from …` → the symbol inside ARM's parentheses.
fn paren_symbol(p: &str) -> Option<Frame> {
    let inner = &p[..p.find(')')?];
    let mut words = inner.splitn(2, ' ');
    let tok = words.next()?;
    parse_symbol(tok, words.next().unwrap_or(""))
}

/// The caller named at the end of an ARM frame line,
/// `[<c0>] (foo) from [<c1>] (bar+0x1c/0x30 [mod])` → `bar`: the last line
/// of a cut trace names one more function than its frames.
pub fn arm_caller(line: &str) -> Option<Frame> {
    let i = line.rfind(" from ")?;
    let rest = line[i + 6..].trim_start();
    let rest = rest
        .split_once("] (")
        .map_or(rest.strip_prefix('(').unwrap_or(rest), |(_, r)| r);
    paren_symbol(rest)
}

/// Frames every report passes through and which never name the bug: printk,
/// stack dumping, WARN/BUG/panic machinery, sanitizer runtimes, locking
/// primitives, string/copy helpers, syscall and interrupt entry. Prefix match
/// on the base name.
const GENERIC_PREFIXES: &[&str] = &[
    // reporting machinery
    "dump_stack",
    "__dump_stack",
    "unwind_backtrace",
    "dump_backtrace",
    "walk_stackframe",
    "arch_stack_walk",
    "show_trace_log_lvl",
    "__show_trace",
    "show_stack",
    "show_trace",
    "show_regs",
    "__show_regs",
    "printk",
    "vprintk",
    "_printk",
    "__printk",
    "panic",
    "nmi_panic",
    "__warn",
    "warn_slowpath",
    "__warn_printk",
    "report_bug",
    "handle_bug",
    "fixup_bug",
    "do_error_trap",
    "do_trap",
    "do_invalid_op",
    "invalid_op",
    "exc_invalid_op",
    "exc_",
    "asm_exc_",
    "die",
    "__die",
    "oops_",
    "bug_handler",
    "do_undefinstr",
    "call_break_hook",
    "el1_",
    "el1h_",
    "__el1_",
    "el0_",
    "do_mem_abort",
    "do_page_fault",
    "__do_page_fault",
    "handle_page_fault",
    "page_fault",
    "do_kern_addr_fault",
    "do_user_addr_fault",
    "__bad_area",
    "bad_area",
    "no_context",
    "kernelmode_fixup_or_oops",
    "__die_kernel_fault",
    "die_kernel_fault",
    "do_translation_fault",
    "do_bad_area",
    "__do_kernel_fault",
    "do_DataAbort",
    "do_PrefetchAbort",
    "handle_exception",
    "do_trap_ebreak",
    "do_trap_insn_illegal",
    "do_general_protection",
    "general_protection",
    "nmi_cpu_backtrace",
    "nmi_trigger_cpumask_backtrace",
    "arch_trigger_cpumask_backtrace",
    "trigger_single_cpu_backtrace",
    "trigger_all_cpu_backtrace",
    "print_report",
    "__report_",
    "print_address_description",
    "print_circular_bug",
    "print_usage_bug",
    "print_lock",
    "print_irq_inversion_bug",
    "print_deadlock_bug",
    "print_bad_irq_dependency",
    "watchdog_",
    "check_hung_",
    "hungtask",
    "show_mem",
    "dump_header",
    // sanitizers
    "kasan",
    "__kasan",
    "__asan",
    "asan_",
    "kmsan",
    "__msan",
    "__kmsan",
    "kcsan",
    "__kcsan",
    "__tsan",
    "kfence",
    "__kfence",
    "ubsan",
    "__ubsan",
    "__sanitizer",
    "check_memory_region",
    "instrument_",
    "__check_object_size",
    "check_heap_object",
    "check_object",
    "usercopy_",
    "kmemleak",
    "__kmemleak",
    "debug_object",
    "__debug_object",
    // locking
    "lockdep",
    "lock_acquire",
    "local_lock",
    "check_preemption_disabled",
    "debug_smp_processor_id",
    "__this_cpu_preempt_check",
    // page allocator freeing checks (Bad page state reports)
    "bad_page",
    "check_free_page",
    "free_pages_check",
    "free_page_is_bad",
    "__free_pages",
    "free_pcppages_bulk",
    "free_unref_page",
    "free_pages_prepare",
    "__free_one_page",
    "free_one_page",
    "lock_release",
    "__lock_acquire",
    "lock_acquired",
    "lock_contended",
    "mark_lock",
    "check_noncircular",
    "check_prev_add",
    "check_prevs_add",
    "validate_chain",
    "check_irq_usage",
    "check_usage",
    "check_deadlock",
    "__lock_",
    "_raw_spin_",
    "_raw_read_",
    "_raw_write_",
    "raw_spin_",
    "spin_lock",
    "spin_unlock",
    "spin_trylock",
    "do_raw_spin",
    "queued_spin_lock",
    "native_queued_spin",
    "__pv_queued_spin",
    "pv_queued_spin",
    "queued_read_lock",
    "queued_write_lock",
    "__raw_spin",
    "arch_spin_",
    "read_lock",
    "write_lock",
    "read_unlock",
    "write_unlock",
    "__mutex_",
    "mutex_lock",
    "mutex_unlock",
    "mutex_trylock",
    "rt_mutex",
    "__rt_mutex",
    "rwsem_",
    "__rwsem",
    "down_read",
    "down_write",
    "up_read",
    "up_write",
    "__down",
    "osq_lock",
    "__might_sleep",
    "__might_resched",
    "__might_fault",
    "might_fault",
    "__cant_sleep",
    "might_sleep",
    "__might_",
    "___might_",
    "rcu_lockdep",
    "lockdep_rcu_suspicious",
    "debug_lockdep",
    "__schedule_bug",
    // refcount / list helpers
    "refcount_",
    "__refcount",
    "kref_",
    "__list_add",
    "__list_del",
    "list_add",
    "list_del",
    "__list_",
    "list_move",
    "hlist_",
    // string and copy helpers
    "memcpy",
    "__memcpy",
    "memset",
    "__memset",
    "memmove",
    "__memmove",
    "memcmp",
    "memchr",
    "strlen",
    "strnlen",
    "strcpy",
    "strncpy",
    "strlcpy",
    "strscpy",
    "strcmp",
    "strncmp",
    "strchr",
    "strstr",
    "strcat",
    "fortify_",
    "__fortify",
    "copy_to_user",
    "copy_from_user",
    "_copy_to_user",
    "_copy_from_user",
    "raw_copy_",
    "__copy_",
    "copy_user_",
    "rep_movs",
    "copyin",
    "clear_user",
    "__clear_user",
    "copyout",
    // entry and interrupt plumbing
    "entry_SYSCALL",
    "entry_INT80",
    "kthread",
    "kernel_thread_helper",
    "ret_from_kernel_thread",
    "sched_show_task",
    "show_state_filter",
    "__pfx_",
    "srso_",
    "__x86_return_thunk",
    "__x86_indirect_thunk",
    "do_syscall_",
    "x64_sys_call",
    "ret_from_fork",
    "invoke_syscall",
    "do_el0_svc",
    "el0t_",
    "ret_fast_syscall",
    "handle_syscall",
    "asm_sysvec_",
    "sysvec_",
    "__sysvec_",
    "apic_timer_interrupt",
    "smp_apic_timer_interrupt",
    "asm_common_interrupt",
    "common_interrupt",
    "irq_exit",
    "__irq_exit",
    "irqentry_",
    "hrtimer_interrupt",
    "__hrtimer_run_queues",
    "hrtimer_run_queues",
    "tick_",
    "update_process_times",
    "timer_interrupt",
    "arch_timer_handler",
    "handle_percpu_devid_irq",
    "generic_handle_domain_irq",
    "gic_handle_irq",
    "call_on_irq_stack",
    "do_interrupt_handler",
    "handle_irq_event",
    "nmi_handle",
    "default_do_nmi",
    "exc_nmi",
    "asm_exc_nmi",
    "do_nmi",
    "end_repeat_nmi",
    "perf_event_nmi_handler",
    "__perf_event_overflow",
    "perf_event_overflow",
    "perf_",
    "intel_pmu_",
    "amd_pmu_",
    "x86_pmu_",
    "__read_once",
    "read_once",
    "__write_once",
    "irq_work_",
    "flush_smp_call_function",
    "__flush_smp_call_function",
];

/// Extra frames skipped when looking for the culprit of a hang: the waiting
/// primitives a blocked task sleeps in.
const WAIT_PREFIXES: &[&str] = &[
    "schedule",
    "__schedule",
    "io_schedule",
    "preempt_schedule",
    "wait_for_completion",
    "__wait_for_common",
    "wait_for_common",
    "do_wait_for_common",
    "__wait_on_bit",
    "out_of_line_wait_on_bit",
    "bit_wait",
    "wait_on_page_bit",
    "folio_wait_bit",
    "__folio_lock",
    "__lock_page",
    "folio_lock",
    "__wait_event",
    "wait_event",
    "prepare_to_wait",
    "finish_wait",
    "__flush_work",
    "flush_work",
    "__synchronize_srcu",
    "synchronize_srcu",
    "synchronize_rcu",
    "__wait_rcu_gp",
    "wait_rcu_gp",
    "rwbase_",
    "percpu_down",
    "percpu_rwsem",
    "__percpu_down",
    "__cond_resched",
    "_cond_resched",
    "msleep",
    "schedule_timeout",
    "usleep_range",
    "io_wait_event",
    "wait_woken",
    "__switch_to",
    "context_switch",
    "finish_task_switch",
];

/// Extra frames skipped in RCU stalls and lockups: the timer and RCU code
/// that detected the stall.
const STALL_PREFIXES: &[&str] = &[
    "rcu_",
    "__rcu",
    "print_cpu_stall",
    "print_other_cpu_stall",
    "check_cpu_stall",
    "sched_tick",
    "scheduler_tick",
    "account_",
    "native_safe_halt",
    "default_idle",
    "arch_cpu_idle",
    "cpu_idle",
    "do_idle",
    "cpu_startup_entry",
    "smp_call_function",
    "csd_lock_wait",
    "rcu_gp_",
    "default_idle_call",
];

/// Extra frames skipped in memory-leak backtraces: the allocators.
const ALLOC_PREFIXES: &[&str] = &[
    "kmalloc",
    "__kmalloc",
    "kmem_cache_alloc",
    "kmem_cache_zalloc",
    "kzalloc",
    "kcalloc",
    "kvmalloc",
    "__kvmalloc",
    "kvzalloc",
    "krealloc",
    "kmemdup",
    "kstrdup",
    "kstrndup",
    "kasprintf",
    "kvasprintf",
    "vmalloc",
    "__vmalloc",
    "vzalloc",
    "alloc_pages",
    "__alloc_pages",
    "slab_",
    "__slab",
    "alloc_",
    "__alloc",
    "create_object",
    "kmalloc_trace",
    "__do_kmalloc",
    "___slab_alloc",
    "new_slab",
    "allocate_slab",
    "mempool_alloc",
    "__kmem_cache_alloc",
    "idr_alloc",
    "idr_get",
    "radix_tree_node_alloc",
    "xas_alloc",
    "xa_",
    "__xa_",
    "kobject_",
    "kvasprintf",
    "kmalloc_node",
    "__kmalloc_node",
    "kmalloc_array",
];

/// Which extra skip list applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkipSet {
    /// Only the generic list.
    Generic,
    /// Hung tasks: also the wait primitives.
    Wait,
    /// Stalls and lockups: also the tick and RCU machinery.
    Stall,
    /// Memory leaks: also the allocators.
    Alloc,
}

/// Should `function` be passed over when naming the crash?
pub fn is_generic(function: &str, set: SkipSet) -> bool {
    let f = base_name(function);
    let hit = |list: &[&str]| list.iter().any(|p| f.starts_with(p));
    if f.starts_with("0x") || !is_ident(f) {
        return true;
    }
    // Allocators, matched anywhere in the name as syzbot does: rkmalloc,
    // kmem_cache_alloc_trace and friends never name a bug.
    const ALLOC_WORDS: [&str; 8] = [
        "kmalloc",
        "kzalloc",
        "kcalloc",
        "kmem_cache",
        "krealloc",
        "kvmalloc",
        "alloc_page",
        "get_free_page",
    ];
    // vsprintf internals, matched exactly (their names are common words).
    const EXACT: [&str; 8] = [
        "string",
        "pointer",
        "number",
        "vsnprintf",
        "vscnprintf",
        "snprintf",
        "scnprintf",
        "sprintf",
    ];
    hit(GENERIC_PREFIXES)
        || EXACT.contains(&f)
        || ALLOC_WORDS.iter().any(|w| f.contains(w))
        || match set {
            SkipSet::Generic => false,
            SkipSet::Wait => hit(WAIT_PREFIXES),
            SkipSet::Stall => hit(STALL_PREFIXES) || hit(WAIT_PREFIXES),
            // Allocation wrappers are named every which way (rkmalloc,
            // generic_alloc, memdup_user): match the words anywhere.
            SkipSet::Alloc => {
                hit(ALLOC_PREFIXES)
                    || ["alloc", "memdup", "strdup", "strndup"]
                        .iter()
                        .any(|w| f.contains(w))
            }
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_forms() {
        let f = parse_frame("? tcp_v4_send_reset+0x1d7/0xa90 [mptcp]").unwrap();
        assert_eq!(f.function, "tcp_v4_send_reset");
        assert_eq!(f.offset, Some(0x1d7));
        assert_eq!(f.size, Some(0xa90));
        assert_eq!(f.module.as_deref(), Some("mptcp"));
        assert!(!f.reliable);
        let f = parse_frame("[<ffffffff81234567>] ? foo.isra.0+0x1/0x2").unwrap();
        assert_eq!(f.base_name(), "foo");
        assert!(!f.reliable);
        let f = parse_frame("[<c0643c94>] (seq_vprintf) from [<c0644024>] (seq_printf+0x3c/0x5c)")
            .unwrap();
        assert_eq!(f.function, "seq_vprintf");
        let f = parse_frame("[c0000000fe0fbb40] [c000000000123456] foo+0x1c/0x30 (unreliable)")
            .unwrap();
        assert!(!f.reliable);
        let f =
            parse_frame("warn_slowpath_fmt from smp_call_function_many_cond+0x3c4/0x3c8").unwrap();
        assert_eq!(f.function, "warn_slowpath_fmt");
        let f = parse_frame("dump_stack_lvl (lib/dump_stack.c:107 (discriminator 1))").unwrap();
        assert_eq!(f.function, "dump_stack_lvl");
        assert!(parse_frame("Booting from ROM").is_none());
        let f = parse_frame("<NMI>  [<ffffffff816319e6>] dump_stack+0x19/0x1b").unwrap();
        assert_eq!(f.function, "dump_stack");
        let f = parse_frame("<#MC>  [] ? panic+0xd6/0x1d0").unwrap();
        assert!(!f.reliable);
        let f = parse_frame("inode_lock include/linux/fs.h:758 [inline]").unwrap();
        assert!(f.inline);
        let f = parse_frame("([<0000000000123456>] bar+0x1c/0x30)").unwrap();
        assert_eq!(f.function, "bar");
        let f = parse_frame("do_truncate+0x12/0x30 fs/open.c:66").unwrap();
        assert_eq!(f.function, "do_truncate");
        assert_eq!(f.module, None);
        assert!(parse_frame("Modules linked in: a b c").is_none());
        assert!(parse_frame("RAX: 0000000000000000 RBX: ffff").is_none());
        assert!(parse_frame("</TASK>").is_none());
        assert!(parse_frame("").is_none());
    }

    #[test]
    fn generic() {
        assert!(is_generic("dump_stack_lvl", SkipSet::Generic));
        assert!(is_generic("_raw_spin_lock_irqsave", SkipSet::Generic));
        assert!(!is_generic("ext4_fill_super", SkipSet::Generic));
        assert!(is_generic("schedule", SkipSet::Wait));
        assert!(!is_generic("schedule", SkipSet::Generic));
    }
}
