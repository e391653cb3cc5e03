//! Which frames never name a bug: the generic machinery every report
//! passes through. Kept apart from frame parsing because it is policy, not
//! syntax, and grows as the corpus does.

use crate::frame::{base_name, is_ident};

/// Frames every report passes through and which never name the bug: printk,
/// stack dumping, WARN/BUG/panic machinery, sanitizer runtimes, locking
/// primitives, string/copy helpers, syscall and interrupt entry. Prefix match
/// on the base name.
#[rustfmt::skip]
const GENERIC_PREFIXES: &[&str] = &[
    // reporting machinery
    "dump_stack", "__dump_stack", "unwind_backtrace", "dump_backtrace", "walk_stackframe",
    "arch_stack_walk", "show_trace_log_lvl", "__show_trace", "show_stack", "show_trace",
    "show_regs", "__show_regs", "printk", "vprintk", "_printk", "__printk", "panic", "nmi_panic",
    "__warn", "warn_slowpath", "__warn_printk", "report_bug", "handle_bug", "fixup_bug",
    "do_error_trap", "do_trap", "do_invalid_op", "invalid_op", "exc_invalid_op", "exc_", "asm_exc_",
    "die", "__die", "oops_", "bug_handler", "do_undefinstr", "call_break_hook", "el1_", "el1h_",
    "__el1_", "el0_", "do_mem_abort", "do_page_fault", "__do_page_fault", "handle_page_fault",
    "page_fault", "do_kern_addr_fault", "do_user_addr_fault", "__bad_area", "bad_area",
    "no_context", "kernelmode_fixup_or_oops", "__die_kernel_fault", "die_kernel_fault",
    "do_translation_fault", "do_bad_area", "__do_kernel_fault", "do_DataAbort", "do_PrefetchAbort",
    "handle_exception", "do_trap_ebreak", "do_trap_insn_illegal", "do_general_protection",
    "general_protection", "nmi_cpu_backtrace", "nmi_trigger_cpumask_backtrace",
    "arch_trigger_cpumask_backtrace", "trigger_single_cpu_backtrace", "trigger_all_cpu_backtrace",
    "print_report", "__report_", "print_address_description", "print_circular_bug",
    "print_usage_bug", "print_lock", "print_irq_inversion_bug", "print_deadlock_bug",
    "print_bad_irq_dependency", "watchdog_", "check_hung_", "hungtask", "show_mem", "dump_header",
    // sanitizers
    "kasan", "__kasan", "__asan", "asan_", "kmsan", "__msan", "__kmsan", "kcsan", "__kcsan",
    "__tsan", "kfence", "__kfence", "ubsan", "__ubsan", "__sanitizer", "check_memory_region",
    "instrument_", "__check_object_size", "check_heap_object", "check_object", "usercopy_",
    "kmemleak", "__kmemleak", "debug_object", "__debug_object",
    // locking
    "lockdep", "lock_acquire", "local_lock", "check_preemption_disabled", "debug_smp_processor_id",
    "__this_cpu_preempt_check", "lock_release", "__lock_acquire", "lock_acquired", "lock_contended",
    "mark_lock", "check_noncircular", "check_prev_add", "check_prevs_add", "validate_chain",
    "check_irq_usage", "check_usage", "check_deadlock", "__lock_", "_raw_spin_", "_raw_read_",
    "_raw_write_", "raw_spin_", "spin_lock", "spin_unlock", "spin_trylock", "do_raw_spin",
    "queued_spin_lock", "native_queued_spin", "__pv_queued_spin", "pv_queued_spin",
    "queued_read_lock", "queued_write_lock", "__raw_spin", "arch_spin_", "read_lock", "write_lock",
    "read_unlock", "write_unlock", "__mutex_", "mutex_lock", "mutex_unlock", "mutex_trylock",
    "rt_mutex", "__rt_mutex", "rwsem_", "__rwsem", "down_read", "down_write", "up_read", "up_write",
    "__down", "osq_lock", "__might_sleep", "__might_resched", "__might_fault", "might_fault",
    "__cant_sleep", "might_sleep", "__might_", "___might_", "rcu_lockdep", "lockdep_rcu_suspicious",
    "debug_lockdep", "__schedule_bug",
    // page allocator freeing checks (Bad page state reports)
    "bad_page", "check_free_page", "free_pages_check", "free_page_is_bad", "__free_pages",
    "free_pcppages_bulk", "free_unref_page", "free_pages_prepare", "__free_one_page", "free_one_page",
    // refcount / list helpers
    "refcount_", "__refcount", "kref_", "__list_add", "__list_del", "list_add", "list_del",
    "__list_", "list_move", "hlist_",
    // string and copy helpers
    "memcpy", "__memcpy", "memset", "__memset", "memmove", "__memmove", "memcmp", "memchr",
    "strlen", "strnlen", "strcpy", "strncpy", "strlcpy", "strscpy", "strcmp", "strncmp", "strchr",
    "strstr", "strcat", "fortify_", "__fortify", "copy_to_user", "copy_from_user", "_copy_to_user",
    "_copy_from_user", "raw_copy_", "__copy_", "copy_user_", "rep_movs", "copyin", "clear_user",
    "__clear_user", "copyout",
    // entry and interrupt plumbing
    "entry_SYSCALL", "entry_INT80", "kthread", "kernel_thread_helper", "ret_from_kernel_thread",
    "sched_show_task", "show_state_filter", "__pfx_", "srso_", "__x86_return_thunk",
    "__x86_indirect_thunk", "do_syscall_", "x64_sys_call", "ret_from_fork", "invoke_syscall",
    "do_el0_svc", "el0t_", "ret_fast_syscall", "handle_syscall", "asm_sysvec_", "sysvec_",
    "__sysvec_", "apic_timer_interrupt", "smp_apic_timer_interrupt", "asm_common_interrupt",
    "common_interrupt", "irq_exit", "__irq_exit", "irqentry_", "hrtimer_interrupt",
    "__hrtimer_run_queues", "hrtimer_run_queues", "tick_", "update_process_times",
    "timer_interrupt", "arch_timer_handler", "handle_percpu_devid_irq", "generic_handle_domain_irq",
    "gic_handle_irq", "call_on_irq_stack", "do_interrupt_handler", "handle_irq_event", "nmi_handle",
    "default_do_nmi", "exc_nmi", "asm_exc_nmi", "do_nmi", "end_repeat_nmi",
    "perf_event_nmi_handler", "__perf_event_overflow", "perf_event_overflow", "perf_", "intel_pmu_",
    "amd_pmu_", "x86_pmu_", "__read_once", "read_once", "__write_once", "irq_work_",
    "flush_smp_call_function", "__flush_smp_call_function",
];

/// Extra frames skipped when looking for the culprit of a hang: the waiting
/// primitives a blocked task sleeps in.
#[rustfmt::skip]
const WAIT_PREFIXES: &[&str] = &[
    "schedule", "__schedule", "io_schedule", "preempt_schedule", "wait_for_completion",
    "__wait_for_common", "wait_for_common", "do_wait_for_common", "__wait_on_bit",
    "out_of_line_wait_on_bit", "bit_wait", "wait_on_page_bit", "folio_wait_bit", "__folio_lock",
    "__lock_page", "folio_lock", "__wait_event", "wait_event", "prepare_to_wait", "finish_wait",
    "__flush_work", "flush_work", "__synchronize_srcu", "synchronize_srcu", "synchronize_rcu",
    "__wait_rcu_gp", "wait_rcu_gp", "rwbase_", "percpu_down", "percpu_rwsem", "__percpu_down",
    "__cond_resched", "_cond_resched", "msleep", "schedule_timeout", "usleep_range",
    "io_wait_event", "wait_woken", "__switch_to", "context_switch", "finish_task_switch",
    // the tty layer's semaphore and its lock wrapper
    "ldsem_down", "__ldsem_down", "down_read_failed", "down_write_failed", "tty_ldisc_lock",
    "__tty_ldisc_lock",
];

/// Extra frames skipped in RCU stalls and lockups: the timer and RCU code
/// that detected the stall.
#[rustfmt::skip]
const STALL_PREFIXES: &[&str] = &[
    "rcu_", "__rcu", "print_cpu_stall", "print_other_cpu_stall", "check_cpu_stall", "sched_tick",
    "scheduler_tick", "account_", "native_safe_halt", "default_idle", "arch_cpu_idle", "cpu_idle",
    "do_idle", "cpu_startup_entry", "smp_call_function", "csd_lock_wait", "rcu_gp_",
    "default_idle_call",
];

/// Extra frames skipped in memory-leak backtraces: the allocators.
#[rustfmt::skip]
const ALLOC_PREFIXES: &[&str] = &[
    "kmalloc", "__kmalloc", "kmem_cache_alloc", "kmem_cache_zalloc", "kzalloc", "kcalloc",
    "kvmalloc", "__kvmalloc", "kvzalloc", "krealloc", "kmemdup", "kstrdup", "kstrndup", "kasprintf",
    "kvasprintf", "vmalloc", "__vmalloc", "vzalloc", "alloc_pages", "__alloc_pages", "slab_",
    "__slab", "alloc_", "__alloc", "create_object", "kmalloc_trace", "__do_kmalloc",
    "___slab_alloc", "new_slab", "allocate_slab", "mempool_alloc", "__kmem_cache_alloc",
    "idr_alloc", "idr_get", "radix_tree_node_alloc", "xas_alloc", "xa_", "__xa_", "kobject_",
    "kvasprintf", "kmalloc_node", "__kmalloc_node", "kmalloc_array",
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
    /// "sleeping function called from invalid context": the generic list
    /// except the page-fault handlers, which are the culprit there (they
    /// may sleep, and were entered with preemption or interrupts off).
    MightSleep,
}

/// Fault handlers that call `might_sleep()` themselves.
const SLEEPING_FAULT_HANDLERS: [&str; 5] = [
    "do_page_fault",
    "__do_page_fault",
    "exc_page_fault",
    "do_user_addr_fault",
    "do_mem_abort",
];

/// Should `function` be passed over when naming the crash?
pub fn is_generic(function: &str, set: SkipSet) -> bool {
    let f = base_name(function);
    let hit = |list: &[&str]| list.iter().any(|p| f.starts_with(p));
    if f.starts_with("0x") || !is_ident(f) {
        return true;
    }
    if set == SkipSet::MightSleep && SLEEPING_FAULT_HANDLERS.contains(&f) {
        return false;
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
            SkipSet::Generic | SkipSet::MightSleep => false,
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
