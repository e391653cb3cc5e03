//! Every panic kind under every mode, through the real `panicdump arm`,
//! `panicdump capture` (crash kernel) and `panicdump collect` (next boot):
//! the record must hold the panic message and the call trace, with a
//! report of the right kind (see `ScenarioOutcome::check`).
//!
//! Each scenario is one QEMU run of 15-45 s under TCG (cached afterwards
//! under target/lab/<release>/scenario-*). The tests take one lock so the
//! guests run one at a time: two cores cannot run several TCG guests
//! faster than one after the other.

use lab::scenario::{CRASHKERNEL_MIN_MIB, ESTIMATE_SLACK_MIB};
use lab::{Lab, Mode, PanicKind, Scenario, ScenarioOutcome};
use std::sync::Mutex;

static ONE_GUEST_AT_A_TIME: Mutex<()> = Mutex::new(());

fn run(s: &Scenario) -> ScenarioOutcome {
    let _guard = ONE_GUEST_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let lab = Lab::from_env().expect("lab configuration");
    let outcome = lab
        .scenario(s, false)
        .unwrap_or_else(|e| panic!("scenario {s}: {e}"));
    if let Err(e) = outcome.check() {
        panic!("{e}");
    }
    outcome
}

macro_rules! scenario_tests {
    ($($name:ident: $kind:ident, $mode:ident;)*) => {$(
        #[test]
        fn $name() {
            run(&Scenario::new(PanicKind::$kind, Mode::$mode));
        }
    )*};
}

scenario_tests! {
    sysrq_pstore: Sysrq, Pstore;
    sysrq_kdump: Sysrq, Kdump;
    sysrq_both: Sysrq, Both;
    nmi_pstore: Nmi, Pstore;
    nmi_kdump: Nmi, Kdump;
    nmi_both: Nmi, Both;
    oops_pstore: Oops, Pstore;
    oops_kdump: Oops, Kdump;
    oops_both: Oops, Both;
    bug_pstore: Bug, Pstore;
    bug_kdump: Bug, Kdump;
    bug_both: Bug, Both;
    warn_pstore: Warn, Pstore;
    warn_kdump: Warn, Kdump;
    warn_both: Warn, Both;
    softlockup_pstore: SoftLockup, Pstore;
    softlockup_kdump: SoftLockup, Kdump;
    softlockup_both: SoftLockup, Both;
    hungtask_pstore: HungTask, Pstore;
    hungtask_kdump: HungTask, Kdump;
    hungtask_both: HungTask, Both;
}

// ramoops keeps only the first part of a panic dump (it refuses part 2 and
// later), so one record, up to 128 KiB since arm sizes records to the log
// buffer. The other CPU's flood keeps printing between the panic header and
// the moment the panicking CPU stops it; in kdump runs up to 146 KB of flood
// followed the header, more than a record, so the header can fall out (seen
// in CI: the trace through nmi_panic is there, "Kernel panic - not syncing"
// is not). A real limit of pstore alone under a printk storm; kdump with
// log_buf_len=1M keeps it (nmi_flood_kdump, nmi_flood_both).
#[test]
#[ignore = "flaky loss by design: the flood can push the panic header out of the single ramoops record (docs/lab.md)"]
fn nmi_flood_pstore() {
    run(&Scenario::new(PanicKind::NmiFlood, Mode::Pstore));
}

// An NMI panic during a printk flood: the other CPU keeps flooding between
// the panic message and the crash kernel (about 146 KB under TCG), which
// overwrote Debian's 128 KiB log buffer and lost the panic under kdump.
// Kdump scenarios boot with `log_buf_len=1M` (KDUMP_LOG_BUF_LEN, what setup
// should add next to crashkernel=); both pass with it (3 of 3 runs each,
// docs/lab.md).
#[test]
fn nmi_flood_kdump() {
    run(&Scenario::new(PanicKind::NmiFlood, Mode::Kdump));
}

#[test]
fn nmi_flood_both() {
    run(&Scenario::new(PanicKind::NmiFlood, Mode::Both));
}

/// The capture initramfs `panicdump arm` builds is at most 8 MiB.
#[test]
fn capture_initramfs_at_most_8_mib() {
    let o = run(&Scenario::new(PanicKind::Sysrq, Mode::Kdump));
    let bytes = o
        .meta
        .capture_initrd_bytes
        .expect("the guest reported the capture initramfs size");
    assert!(bytes > 0);
    assert!(
        bytes <= 8 << 20,
        "capture initramfs is {bytes} bytes, more than 8 MiB"
    );
}

/// The full capture (dmesg + `-d 31` dump) of a 2 GiB guest succeeds with
/// the documented minimum `crashkernel=` (docs/lab.md, found by `panicdump
/// lab crashkernel-min`), and `panicdump arm estimate` in that guest
/// recommends at least that and at most 16M more.
#[test]
fn capture_succeeds_at_documented_crashkernel_minimum() {
    let mut s = Scenario::new(PanicKind::Sysrq, Mode::Kdump);
    s.params.memory_mib = 2048;
    s.params.crashkernel = format!("{CRASHKERNEL_MIN_MIB}M");
    let o = run(&s);
    let est = o.meta.estimate.as_deref().expect("estimate reported");
    let mib = lab::params::parse_size_mib(est.trim_start_matches("crashkernel="))
        .unwrap_or_else(|e| panic!("estimate {est:?}: {e}"));
    assert!(
        (CRASHKERNEL_MIN_MIB..=CRASHKERNEL_MIN_MIB + ESTIMATE_SLACK_MIB).contains(&mib),
        "estimate {est} is outside [{CRASHKERNEL_MIN_MIB}M, {}M]",
        CRASHKERNEL_MIN_MIB + ESTIMATE_SLACK_MIB
    );
}
