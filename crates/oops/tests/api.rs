//! The structured report: fields, signature stability, streaming.

const OOPS_A: &str = "\
<1>[  100.000001] BUG: kernel NULL pointer dereference, address: 0000000000000008
<1>[  100.000002] #PF: supervisor read access in kernel mode
<4>[  100.000003] Oops: 0000 [#1] PREEMPT SMP PTI
<4>[  100.000004] CPU: 3 PID: 4242 Comm: kworker/3:1 Tainted: G        W  OE      6.1.0-18-amd64 #1 Debian 6.1.76-1
<4>[  100.000005] Hardware name: QEMU Standard PC (i440FX + PIIX, 1996), BIOS 1.16.2-debian-1.16.2-1 04/01/2014
<4>[  100.000006] RIP: 0010:foo_read.isra.0+0x1a/0x90 [foo]
<4>[  100.000007] RSP: 0018:ffffb0c0c0a3bd48 EFLAGS: 00010246
<4>[  100.000008] RAX: 0000000000000000 RBX: ffff9a0a81234000 RCX: 0000000000000001
<4>[  100.000009] Call Trace:
<4>[  100.000010]  <TASK>
<4>[  100.000011]  ? __die+0x23/0x70
<4>[  100.000012]  foo_ioctl+0x5c/0x120 [foo]
<4>[  100.000013]  __x64_sys_ioctl+0x94/0xd0
<4>[  100.000014]  do_syscall_64+0x5b/0xc0
<4>[  100.000015]  entry_SYSCALL_64_after_hwframe+0x64/0xce
<4>[  100.000016]  </TASK>
<4>[  100.000017] Modules linked in: foo(OE) bar
<4>[  100.000018] CR2: 0000000000000008
<4>[  100.000019] ---[ end trace 0000000000000000 ]---
<0>[  100.000020] Kernel panic - not syncing: Fatal exception
";

/// The same bug on another build: other offsets, addresses, stamps, CPU.
const OOPS_B: &str = "\
[ 7.5] BUG: kernel NULL pointer dereference, address: 0000000000000010
[ 7.5] Oops: 0000 [#1] SMP NOPTI
[ 7.5] CPU: 0 PID: 1 Comm: a Not tainted 6.6.0 #2
[ 7.5] RIP: 0010:foo_read+0x2b/0xa0 [foo]
[ 7.5] Call Trace:
[ 7.5]  foo_ioctl+0x77/0x140 [foo]
[ 7.5]  __x64_sys_ioctl+0x99/0xd0
[ 7.5]  do_syscall_64+0x3b/0x90
";

#[test]
fn fields() {
    let a = oops::analyze(OOPS_A.as_bytes());
    assert_eq!(a.reports.len(), 1);
    let r = &a.reports[0];
    assert_eq!(r.kind, oops::Kind::NullPointer);
    assert_eq!(
        r.title,
        "BUG: unable to handle kernel NULL pointer dereference in foo_read"
    );
    assert_eq!(r.panic.as_deref(), Some("Fatal exception"));
    assert_eq!(r.cpu, Some(3));
    assert_eq!(r.pid, Some(4242));
    assert_eq!(r.comm.as_deref(), Some("kworker/3:1"));
    assert_eq!(r.release.as_deref(), Some("6.1.0-18-amd64"));
    assert!(r
        .hardware
        .as_deref()
        .unwrap()
        .starts_with("QEMU Standard PC"));
    let taint = r.taint.as_ref().unwrap();
    assert_eq!(taint.letters, "GWOE");
    assert_eq!(
        taint.flags.iter().map(|f| f.bit).collect::<Vec<_>>(),
        [9, 12, 13]
    );
    assert_eq!(r.modules, ["foo", "bar"]);
    let pc = r.pc.as_ref().unwrap();
    assert_eq!(
        (
            pc.function.as_str(),
            pc.offset,
            pc.size,
            pc.module.as_deref()
        ),
        ("foo_read.isra.0", Some(0x1a), Some(0x90), Some("foo"))
    );
    assert_eq!(r.frames.len(), 5);
    assert!(!r.frames[0].reliable);
    assert!(r
        .registers
        .iter()
        .any(|x| x.name == "RAX" && x.value == "0000000000000000"));
    assert!(!r.truncated);
    assert!(!r.corrupted);
    assert_eq!(
        r.signature(),
        "null-pointer|foo_read|foo_ioctl|__x64_sys_ioctl"
    );
}

#[test]
fn signature_is_stable_across_builds() {
    let a = oops::analyze(OOPS_A.as_bytes());
    let b = oops::analyze(OOPS_B.as_bytes());
    assert_eq!(a.reports[0].signature_hash(), b.reports[0].signature_hash());
    assert_eq!(a.reports[0].signature_hash().len(), 16);
    // A different bug buckets elsewhere.
    let c = oops::analyze(OOPS_B.replace("foo_read", "bar_read").as_bytes());
    assert_ne!(a.reports[0].signature_hash(), c.reports[0].signature_hash());
}

#[test]
fn streaming_matches_in_memory() {
    let log = format!("{OOPS_A}{OOPS_B}");
    let a = oops::analyze(log.as_bytes());
    let b = oops::analyze_reader(log.as_bytes()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.reports.len(), 2);
    assert!(a.reports[1].truncated);
}

#[test]
fn pstore_record_and_json() {
    let log = format!("Panic#2 Part1\n{OOPS_A}");
    let a = oops::analyze(log.as_bytes());
    let p = a.pstore.as_ref().unwrap();
    assert_eq!((p.reason.as_str(), p.count, p.part), ("Panic", 2, 1));
    let json = serde_json::to_string(&a).unwrap();
    assert!(json.contains("\"kind\":\"null-pointer\""), "{json}");
    assert!(
        json.contains("\"signature\":\"null-pointer|foo_read|foo_ioctl|__x64_sys_ioctl\""),
        "{json}"
    );
    assert!(json.contains("\"reason\":\"Panic\""), "{json}");
}

#[test]
fn no_crash_gives_no_title() {
    let log = "[    0.000000] Linux version 6.1.0 (gcc) #1 SMP\n[    1.0] Out of memory: Killed process 1 (a)\n";
    assert_eq!(oops::analyze(log.as_bytes()).title(), None);
}

#[test]
fn interleaved_tasks_are_told_apart_by_caller_tags() {
    let log = "\
[   10.000001][ T1234] BUG: kernel NULL pointer dereference, address: 0000000000000000
[   10.000002][ T1234] Oops: 0000 [#1] PREEMPT SMP
[   10.000003][   T99] usb 1-1: new high-speed USB device number 2 using xhci_hcd
[   10.000004][ T1234] RIP: 0010:mine_fault+0x10/0x20
[   10.000005][ T1234] Call Trace:
[   10.000006][   T99]  other_task_frame+0x1/0x2
[   10.000007][ T1234]  mine_caller+0x30/0x40
[   10.000008][   T99]  other_task_caller+0x1/0x2
[   10.000009][ T1234]  mine_syscall+0x50/0x60
";
    let a = oops::analyze(log.as_bytes());
    let r = a.primary().unwrap();
    assert_eq!(
        r.title,
        "BUG: unable to handle kernel NULL pointer dereference in mine_fault"
    );
    let names: Vec<&str> = r.frames.iter().map(|f| f.function.as_str()).collect();
    assert_eq!(names, ["mine_caller", "mine_syscall"]);
}

#[test]
fn warning_then_panic_on_warn_names_the_warning() {
    let log = "\
------------[ cut here ]------------
WARNING: CPU: 0 PID: 1 at drivers/foo/foo.c:42 foo_probe+0x10/0x20 [foo]
Kernel panic - not syncing: panic_on_warn set ...
CPU: 0 PID: 1 Comm: swapper/0 Not tainted 6.6.0 #1
Call Trace:
 <TASK>
 dump_stack_lvl+0x40/0x60
 panic+0x100/0x300
 __warn+0x80/0x120
 foo_probe+0x10/0x20 [foo]
 platform_probe+0x40/0x90
 </TASK>
";
    let a = oops::analyze(log.as_bytes());
    assert_eq!(a.reports.len(), 1);
    let r = &a.reports[0];
    assert_eq!(r.title, "WARNING in foo_probe");
    assert_eq!(r.panic.as_deref(), Some("panic_on_warn set"));
}

/// A log pasted into a quoted-printable mail: lines longer than 76
/// characters are broken with a trailing `=` and must be joined again.
#[test]
fn quoted_printable_soft_breaks_are_joined() {
    let log = "\
[   14.870940] CPU: 0 PID: 0 Comm: swapper/0 Tainted: P           OE     5.=
15.0-48-generic #54-Ubuntu
";
    let mut text = String::from(
        "[   14.870724] WARNING: CPU: 0 PID: 1 at drivers/foo.c:12 foo_probe+0x1/0x2\n",
    );
    text.push_str(log);
    let a = oops::analyze(text.as_bytes());
    let r = a.primary().expect("report");
    assert_eq!(r.release.as_deref(), Some("5.15.0-48-generic"));
    // A separator line of `=` is not a soft break.
    let sep = "=".repeat(70);
    let a = oops::analyze(format!("{sep}\nplain line\n").as_bytes());
    assert!(a.reports.is_empty());
    assert_eq!(a.lines, 2);
}

/// Found by the fuzzer: a possible soft break on the last line must give the
/// same reports whether or not the input ends with a newline.
#[test]
fn soft_break_on_last_line_is_stable() {
    let line = format!(
        "Kernel panic - not syncing: V  103.087243] rcu: INFO: g=-112810,q {}=",
        "x".repeat(3)
    );
    for input in [line.clone(), format!("{line}\n"), format!("{line}\n\n")] {
        let a = oops::analyze(input.as_bytes());
        let b = oops::analyze_reader(input.as_bytes()).unwrap();
        assert_eq!(a.reports, b.reports, "input {input:?}");
        assert_eq!(a.reports.len(), 1);
        assert_eq!(a.reports[0].line, 1);
    }
}
