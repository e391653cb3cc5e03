//! Panic scenarios: one kind of kernel panic under one way of keeping it.
//!
//! A scenario boots the distribution kernel with the lab's initramfs, runs
//! the real `panicdump arm` (pstore, kdump or both), crashes the kernel the
//! chosen way (`sysrq-c`, an NMI from QEMU's monitor, or a trigger of the
//! test module [`crate::kmod`]), lets `panicdump capture` run as the crash
//! kernel's `/init` (kdump modes) or the warm reset keep ramoops (pstore
//! modes), and runs `panicdump collect` in the next boot. The host copies
//! the ext4 disk's capture and state directories into the artifact
//! directory; [`ScenarioOutcome::check`] says whether the record holds the
//! panic message and the call trace.
//!
//! Artifacts are cached like recipes, under
//! `<root>/<release>/scenario-<kind>-<mode>-m<MiB>[-smpN][-ck<size>]/`.

use crate::artifact::load_meta;
use crate::cache::{self, CacheState, Fingerprint};
use crate::cmdline::{self, Disk, QemuSpec, RamoopsLayout};
use crate::error::{IoContext, LabError, Result};
use crate::host::Kernel;
use crate::init::{
    load_modules_fn, prelude, Fill, CHAIN_DUMP_DIR, CHAIN_SERIAL, CHAIN_STATE_DIR, CHAIN_UUID,
    CRASH_KERNEL, MARKER_PREFIX,
};
use crate::initramfs::{self, Contents};
use crate::lab::Lab;
use crate::modules::{Module, ModuleDeps};
use crate::params::Params;
use crate::progress::Progress;
use crate::qemu::{console_tail, PhaseMark, QemuRun};
use crate::qmp::Qmp;
use crate::run::{ext4_extract, ext4_image, random_token, round, Tools, CHAIN_OUT_DIR};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

/// How the guest kernel is made to panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PanicKind {
    /// `echo c > /proc/sysrq-trigger`.
    Sysrq,
    /// QMP `inject-nmi` with `kernel.unknown_nmi_panic=1`.
    Nmi,
    /// NULL pointer write in process context, `kernel.panic_on_oops=1`.
    Oops,
    /// `BUG()`.
    Bug,
    /// `WARN()` with `kernel.panic_on_warn=1`.
    Warn,
    /// A kthread spinning with preemption off, `kernel.softlockup_panic=1`.
    SoftLockup,
    /// A kthread in `TASK_UNINTERRUPTIBLE`, `kernel.hung_task_panic=1`.
    HungTask,
    /// An NMI panic while kthreads flood printk (a known way to lose kdump).
    NmiFlood,
}

impl PanicKind {
    /// Every kind.
    pub const ALL: [PanicKind; 8] = [
        PanicKind::Sysrq,
        PanicKind::Nmi,
        PanicKind::Oops,
        PanicKind::Bug,
        PanicKind::Warn,
        PanicKind::SoftLockup,
        PanicKind::HungTask,
        PanicKind::NmiFlood,
    ];

    /// Name on the command line and in cache keys.
    pub fn name(self) -> &'static str {
        match self {
            PanicKind::Sysrq => "sysrq",
            PanicKind::Nmi => "nmi",
            PanicKind::Oops => "oops",
            PanicKind::Bug => "bug",
            PanicKind::Warn => "warn",
            PanicKind::SoftLockup => "softlockup",
            PanicKind::HungTask => "hungtask",
            PanicKind::NmiFlood => "nmi-flood",
        }
    }

    /// Whether the host injects an NMI once the guest is ready.
    pub fn needs_nmi(self) -> bool {
        matches!(self, PanicKind::Nmi | PanicKind::NmiFlood)
    }

    /// Lines the kernel log must hold: the report header and the panic
    /// line it leads to (when the kernel prints one before kdump takes over).
    pub fn expected_log(self) -> &'static [&'static str] {
        match self {
            PanicKind::Sysrq => &["Kernel panic - not syncing: sysrq triggered crash"],
            PanicKind::Nmi => &[
                "Uhhuh. NMI received for unknown reason",
                "Kernel panic - not syncing: NMI: Not continuing",
            ],
            PanicKind::NmiFlood => &[
                "pdlab_crash: flood thread",
                "Uhhuh. NMI received for unknown reason",
                "Kernel panic - not syncing: NMI: Not continuing",
            ],
            // No panic line: with a crash kernel loaded, oops_end() kexecs
            // before panic("Fatal exception") is printed.
            PanicKind::Oops => &["BUG: kernel NULL pointer dereference", "Oops: "],
            PanicKind::Bug => &["kernel BUG at ", "invalid opcode: "],
            PanicKind::Warn => &[
                "WARNING: CPU: ",
                "pdlab_crash: warning requested",
                // 6.1 prints "Kernel panic - not syncing: kernel: panic_on_warn set ...".
                "Kernel panic - not syncing: ",
                "panic_on_warn set",
            ],
            PanicKind::SoftLockup => &[
                "watchdog: BUG: soft lockup - CPU#",
                "[pdlab-spin:",
                "Kernel panic - not syncing: softlockup: hung tasks",
            ],
            PanicKind::HungTask => &[
                "INFO: task pdlab-hung:",
                "blocked for more than",
                "Kernel panic - not syncing: hung_task: blocked tasks",
            ],
        }
    }

    /// A function the call trace in the log must name.
    pub fn expected_frame(self) -> &'static str {
        match self {
            PanicKind::Sysrq => "sysrq_handle_crash",
            PanicKind::Nmi | PanicKind::NmiFlood => "nmi_panic",
            PanicKind::Oops => "pdlab_oops",
            PanicKind::Bug => "pdlab_bug",
            PanicKind::Warn => "pdlab_warn",
            PanicKind::SoftLockup => "pdlab_spin",
            PanicKind::HungTask => "pdlab_hang",
        }
    }

    /// `kind` of the record's report (panicdump's oops classifier).
    pub fn expected_report_kind(self) -> &'static str {
        match self {
            PanicKind::Sysrq | PanicKind::Nmi | PanicKind::NmiFlood => "panic",
            PanicKind::Oops => "null-pointer",
            PanicKind::Bug => "kernel-bug",
            PanicKind::Warn => "warning",
            PanicKind::SoftLockup => "soft-lockup",
            PanicKind::HungTask => "hung-task",
        }
    }

    /// Guest commands that make the kernel panic (after arming).
    fn trigger_script(self) -> &'static str {
        match self {
            PanicKind::Sysrq => "echo c > /proc/sysrq-trigger\n",
            PanicKind::Nmi => "say \"nmi-ready\"\n",
            PanicKind::NmiFlood => {
                "echo flood > $TRIGGER || fail \"flood trigger\"\nsleep 2\nsay \"nmi-ready\"\n"
            }
            PanicKind::Oops => "echo oops > $TRIGGER\n",
            PanicKind::Bug => "echo bug > $TRIGGER\n",
            PanicKind::Warn => "echo warn > $TRIGGER\n",
            PanicKind::SoftLockup => "echo softlockup > $TRIGGER || fail \"trigger\"\n",
            PanicKind::HungTask => "echo hungtask > $TRIGGER || fail \"trigger\"\n",
        }
    }
}

impl fmt::Display for PanicKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for PanicKind {
    type Err = LabError;
    fn from_str(s: &str) -> Result<Self> {
        PanicKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                LabError::Param(format!(
                    "unknown panic kind {s:?} (sysrq, nmi, oops, bug, warn, softlockup, hungtask, nmi-flood)"
                ))
            })
    }
}

/// What keeps the panic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// ramoops only: the panic reboots warm, the record survives in RAM.
    Pstore,
    /// kdump only: `panicdump capture` in the crash kernel.
    Kdump,
    /// Both, with `crash_kexec_post_notifiers=1` so pstore gets the log before kexec.
    Both,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 3] = [Mode::Pstore, Mode::Kdump, Mode::Both];

    /// Name on the command line and in cache keys.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Pstore => "pstore",
            Mode::Kdump => "kdump",
            Mode::Both => "both",
        }
    }

    /// Whether ramoops is armed.
    pub fn pstore(self) -> bool {
        matches!(self, Mode::Pstore | Mode::Both)
    }

    /// Whether a crash kernel is loaded.
    pub fn kdump(self) -> bool {
        matches!(self, Mode::Kdump | Mode::Both)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Mode {
    type Err = LabError;
    fn from_str(s: &str) -> Result<Self> {
        Mode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| LabError::Param(format!("unknown mode {s:?} (pstore, kdump, both)")))
    }
}

/// One scenario and its guest parameters (all part of the cache key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scenario {
    /// How the kernel panics.
    pub kind: PanicKind,
    /// What keeps the panic.
    pub mode: Mode,
    /// Guest RAM, `crashkernel=` (kdump modes) and CPUs.
    pub params: Params,
}

impl Scenario {
    /// Default parameters: 1 GiB; `crashkernel=160M` in kdump modes (the
    /// capture of a 1 GiB guest needs less than a 2 GiB one); two CPUs for
    /// the printk flood, so flooding threads hold printk state on the CPU
    /// the NMI does not panic on.
    pub fn new(kind: PanicKind, mode: Mode) -> Self {
        Self {
            kind,
            mode,
            params: Params {
                memory_mib: 1024,
                smp: if kind == PanicKind::NmiFlood { 2 } else { 1 },
                crashkernel: "160M".into(),
            },
        }
    }

    /// Cache directory name.
    pub fn key(&self) -> String {
        let mut k = format!(
            "scenario-{}-{}-m{}",
            self.kind, self.mode, self.params.memory_mib
        );
        if self.params.smp != 1 {
            k.push_str(&format!("-smp{}", self.params.smp));
        }
        if self.mode.kdump() {
            k.push_str(&format!("-ck{}", self.params.crashkernel));
        }
        k
    }

    fn validate(&self) -> Result<()> {
        let recipe = if self.mode.kdump() {
            crate::params::Recipe::Chain
        } else {
            crate::params::Recipe::Pstore
        };
        self.params.validate(recipe)
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.mode)
    }
}

/// `scenario.json` of a finished scenario run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioMeta {
    /// The scenario.
    pub scenario: Scenario,
    /// Guest kernel release.
    pub release: String,
    /// Kernel command line of the first boot.
    pub cmdline: String,
    /// The marker line written to `/dev/kmsg` before the panic.
    pub marker: String,
    /// Exit status of `panicdump collect` in the last boot.
    pub collect_rc: i32,
    /// `panicdump arm estimate` in the guest (kdump modes), e.g. `crashkernel=96M`.
    pub estimate: Option<String>,
    /// Size of the capture initramfs `panicdump arm` built (kdump modes).
    pub capture_initrd_bytes: Option<u64>,
    /// Phases seen on the console, seconds since QEMU started.
    pub phases: Vec<PhaseMark>,
    /// QEMU run, seconds.
    pub qemu_s: f64,
    /// Whole build, seconds.
    pub total_s: f64,
    /// The inputs the run was built from ([`crate::cache`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<Fingerprint>,
}

/// A finished scenario: its directory and what it left.
#[derive(Debug, Clone)]
pub struct ScenarioOutcome {
    /// Artifact directory.
    pub dir: PathBuf,
    /// Its `scenario.json`.
    pub meta: ScenarioMeta,
}

/// One crash record `panicdump collect` wrote.
#[derive(Debug, Clone)]
pub struct RecordFiles {
    /// Record directory.
    pub dir: PathBuf,
    /// `record.json`.
    pub record: Value,
    /// `report.json` (absent when no report was found).
    pub report: Option<Value>,
    /// `dmesg.txt`.
    pub dmesg: String,
}

const META_FILE: &str = "scenario.json";

impl ScenarioOutcome {
    /// Load a complete scenario artifact.
    pub fn load(dir: &Path) -> Result<Self> {
        let meta = load_meta(dir, META_FILE)?;
        Ok(Self {
            dir: dir.to_path_buf(),
            meta,
        })
    }

    /// Serial console of all boots.
    pub fn console_log(&self) -> PathBuf {
        self.dir.join("console.log")
    }

    /// Capture directories the crash kernel wrote (kdump modes).
    pub fn captures(&self) -> Vec<PathBuf> {
        subdirs(&self.dir.join(CHAIN_OUT_DIR).join(CHAIN_DUMP_DIR))
    }

    /// Crash records of `panicdump collect`.
    pub fn records(&self) -> Vec<RecordFiles> {
        let base = self
            .dir
            .join(CHAIN_OUT_DIR)
            .join(CHAIN_STATE_DIR)
            .join("crashes");
        subdirs(&base)
            .into_iter()
            .filter_map(|dir| {
                let record = read_json(&dir.join("record.json"))?;
                let report = read_json(&dir.join("report.json"));
                let dmesg = std::fs::read_to_string(dir.join("dmesg.txt")).unwrap_or_default();
                Some(RecordFiles {
                    dir,
                    record,
                    report,
                    dmesg,
                })
            })
            .collect()
    }

    /// Whether the scenario did what it should: collect succeeded; a record
    /// holds the marker, the panic message and the call trace, with a
    /// report of the right kind; the sources match the mode (a pstore
    /// record, a kdump capture with a `-d 31` dump, or both).
    pub fn check(&self) -> std::result::Result<(), String> {
        let kind = self.meta.scenario.kind;
        let mode = self.meta.scenario.mode;
        let fail = |msg: String| {
            Err(format!(
                "{}: {msg}\n  artifact {}\n  console tail:\n{}",
                self.meta.scenario,
                self.dir.display(),
                console_tail(&self.console_log(), 40)
            ))
        };
        if self.meta.collect_rc != 0 {
            return fail(format!("panicdump collect exited {}", self.meta.collect_rc));
        }
        let records = self.records();
        if records.is_empty() {
            return fail("panicdump collect wrote no record".into());
        }
        let mut problems = Vec::new();
        let mut good = Vec::new();
        for r in &records {
            let missing: Vec<&str> = kind
                .expected_log()
                .iter()
                .copied()
                .chain([kind.expected_frame()])
                // The flood pushes the marker out of a 64 KiB pstore
                // record; its own lines stand in for it.
                .chain((kind != PanicKind::NmiFlood).then_some(self.meta.marker.as_str()))
                .filter(|s| !r.dmesg.contains(s))
                .collect();
            let report_kind = r
                .report
                .as_ref()
                .and_then(|j| j["reports"][0]["kind"].as_str())
                .unwrap_or("none");
            let record_kind = r.record["kind"].as_str().unwrap_or("none");
            if !missing.is_empty() {
                problems.push(format!("{}: dmesg lacks {missing:?}", r.dir.display()));
            } else if report_kind != kind.expected_report_kind()
                || record_kind != kind.expected_report_kind()
            {
                problems.push(format!(
                    "{}: report kind {report_kind}, record kind {record_kind}, expected {}",
                    r.dir.display(),
                    kind.expected_report_kind()
                ));
            } else {
                good.push(r);
            }
        }
        if good.is_empty() {
            return fail(format!(
                "no record holds the panic and its trace: {}",
                problems.join("; ")
            ));
        }
        let source_kinds: Vec<String> = good
            .iter()
            .flat_map(|r| r.record["sources"].as_array().cloned().unwrap_or_default())
            .filter_map(|s| s["kind"].as_str().map(str::to_string))
            .collect();
        let has = |k: &str| source_kinds.iter().any(|s| s == k);
        if mode.pstore() && !has("pstore") {
            return fail(format!("no pstore source among {source_kinds:?}"));
        }
        if mode.kdump() {
            if !has("vmcore-dmesg") || !has("dump") {
                return fail(format!("no kdump capture among {source_kinds:?}"));
            }
            let caps = self.captures();
            let ok = caps.iter().any(|c| {
                read_json(&c.join("status.json")).is_some_and(|s| {
                    s["ok"].as_bool() == Some(true) && s["dump"]["level"].as_u64() == Some(31)
                        || s["ok"].as_bool() == Some(true) && s["level"].as_u64() == Some(31)
                })
            });
            if !ok {
                return fail(format!("no complete -d 31 capture among {caps:?}"));
            }
        }
        if !mode.kdump() && !self.captures().is_empty() {
            return fail("a capture exists though no crash kernel was loaded".into());
        }
        Ok(())
    }
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn read_json(path: &Path) -> Option<Value> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Modules the guest's `/init` loads for the ext4 disk.
const DISK_MODULES: &[&str] = &["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"];
/// Modules only copied in, for `panicdump arm` to modprobe.
const ARM_MODULES: &[&str] = &["ramoops"];
/// Size of the sparse ext4 disk (captures and records).
const DISK_MIB: u64 = 1024;

impl Lab {
    /// Run `scenario`, or reuse its complete artifact built from the same
    /// inputs (see [`crate::cache`]) unless `force`.
    pub fn scenario(&self, scenario: &Scenario, force: bool) -> Result<ScenarioOutcome> {
        scenario.validate()?;
        let kernel = self.kernel()?;
        let dir = self.root().join(&kernel.release).join(scenario.key());
        let progress = Progress::new(&scenario.key(), self.config().progress);
        let fp = fingerprint(self, &kernel, scenario, &progress)?;
        cache::reuse_or_build(
            &dir,
            META_FILE,
            &fp,
            force,
            &progress,
            ScenarioOutcome::load,
            |dir| run_scenario(self, &kernel, scenario, dir, &progress),
        )
    }

    /// The inputs the artifact of `scenario` would be built from now
    /// (builds the static panicdump binary if needed).
    pub fn scenario_fingerprint(&self, scenario: &Scenario) -> Result<Fingerprint> {
        scenario.validate()?;
        let kernel = self.kernel()?;
        let progress = Progress::new(&scenario.key(), self.config().progress);
        fingerprint(self, &kernel, scenario, &progress)
    }

    /// Whether the artifact of `scenario` would be reused now.
    pub fn scenario_cache_state(&self, scenario: &Scenario) -> Result<CacheState> {
        let fp = self.scenario_fingerprint(scenario)?;
        let kernel = self.kernel()?;
        let dir = self.root().join(&kernel.release).join(scenario.key());
        Ok(cache::state(&dir, META_FILE, &fp, ScenarioOutcome::load).0)
    }
}

/// The inputs a scenario's artifact is built from (see [`crate::cache`]).
fn fingerprint(
    lab: &Lab,
    kernel: &Kernel,
    scenario: &Scenario,
    progress: &Progress,
) -> Result<Fingerprint> {
    let (insmods, _) = guest_modules(kernel, scenario)?;
    Ok(
        crate::run::base_fingerprint(lab, kernel, crate::params::Recipe::Chain, progress)?
            .with(cache::IN_RUN, scenario.key())
            .with(
                cache::IN_CMDLINE,
                guest_cmdline(scenario, cache::TOKEN_PLACEHOLDER),
            )
            .with_bytes(
                cache::IN_INIT,
                init_script(scenario, &kernel.release, &insmods).as_bytes(),
            )
            .with_bytes(cache::IN_KMOD, crate::kmod::SOURCE.as_bytes()),
    )
}

/// Modules of a scenario guest: those its `/init` loads (paths under the
/// modules directory, in order) and all it carries (plus what `panicdump
/// arm` modprobes).
fn guest_modules(kernel: &Kernel, scenario: &Scenario) -> Result<(Vec<String>, Vec<Module>)> {
    let deps = ModuleDeps::load(&kernel.modules_dir)?;
    if scenario.mode.pstore() && !deps.has("ramoops") {
        return Err(LabError::Modules {
            path: kernel.modules_dir.join("modules.dep"),
            msg: "ramoops is not a module of this kernel; pstore scenarios need it".into(),
        });
    }
    let extra = if scenario.mode.pstore() {
        ARM_MODULES
    } else {
        &[]
    };
    ext4_guest_modules(&deps, extra)
}

/// Modules of a guest whose state disk is ext4 on virtio: those its
/// `/init` loads (the disk's, as paths under the modules directory, in
/// load order) and all it carries, which adds the closure of `extra` (what
/// `panicdump arm` modprobes in the guest). Shared by the scenarios and
/// the self-test.
pub(crate) fn ext4_guest_modules(
    deps: &ModuleDeps,
    extra: &[&str],
) -> Result<(Vec<String>, Vec<Module>)> {
    let wanted: Vec<&str> = DISK_MODULES
        .iter()
        .copied()
        .filter(|m| deps.has(m))
        .collect();
    let insmod = deps.closure(&wanted)?;
    let mut modules = insmod.clone();
    for m in deps.closure(extra)? {
        if !modules.iter().any(|x| x.rel_path == m.rel_path) {
            modules.push(m);
        }
    }
    let insmods = insmod.iter().map(|m| m.rel_path.clone()).collect();
    Ok((insmods, modules))
}

/// Kernel command line of a scenario's first boot.
fn guest_cmdline(scenario: &Scenario, token: &str) -> String {
    let p = &scenario.params;
    let mut args = vec![
        "console=ttyS0,115200".to_string(),
        "panic=1".into(),
        "loglevel=6".into(),
        // The IO-APIC timer check fails on a loaded host under TCG ("IO-APIC +
        // timer doesn't work!" panics at boot); it proves nothing here.
        "no_timer_check".into(),
    ];
    if scenario.mode.kdump() {
        args.push(format!("crashkernel={}", p.crashkernel));
        args.push(format!("log_buf_len={KDUMP_LOG_BUF_LEN}"));
    }
    if scenario.mode.pstore() {
        args.push(RamoopsLayout::for_memory(p.memory_mib).memmap_arg());
    }
    args.push(format!("{}={token}", cmdline::TOKEN_PARAM));
    args.join(" ")
}

/// The guest's `/init` of a scenario.
pub fn init_script(scenario: &Scenario, release: &str, insmods: &[String]) -> String {
    let mode = scenario.mode;
    let kind = scenario.kind;
    let mut s = prelude(Fill::UNUSED);
    s.push_str(&load_modules_fn(
        release,
        insmods.iter().map(|m| (m.as_str(), "")),
    ));
    s.push_str(&format!(
        "say \"init scenario {scenario} on $(uname -r)\"\nTRIGGER=/sys/module/{}/parameters/trigger\n",
        crate::kmod::NAME
    ));
    // Arm: the real `panicdump arm`. The kernel and module files are in this
    // initramfs; the capture initramfs goes to /tmp.
    let mut arm = String::from("panicdump arm --panic-timeout 1");
    if mode.kdump() {
        arm.push_str(&format!(
            " --kernel /{CRASH_KERNEL} --initrd-out /tmp/capture.img \
             --block-driver virtio_blk --fs ext4 \
             --append panicdump.target=UUID={CHAIN_UUID} --append panicdump.dir={CHAIN_DUMP_DIR} \
             --append panicdump.on_success=reboot --append panicdump.on_failure=reboot"
        ));
    } else {
        arm.push_str(" --no-kdump");
    }
    // The region is passed explicitly: `panicdump arm` finds a memmap=
    // region only where /proc/iomem calls it "reserved", and this kernel
    // says "Reserved" (the iomem line is printed below for the record).
    let ramoops = RamoopsLayout::for_memory(scenario.params.memory_mib);
    let ramoops_arg = format!(
        " --ramoops {:#x}:{:#x}",
        ramoops.mem_address, ramoops.mem_size
    );
    if mode.pstore() {
        arm.push_str(&ramoops_arg);
    } else {
        arm.push_str(" --no-pstore");
    }
    match kind {
        PanicKind::Warn => arm.push_str(" --panic-on-warn"),
        PanicKind::HungTask => arm.push_str(" --panic-on-hung-task"),
        _ => {}
    }
    // The next boot arms pstore again (same region, so ramoops finds the
    // records) before collecting, as a machine armed at boot would.
    let rearm = if mode.pstore() {
        format!("panicdump arm --no-kdump --panic-timeout 1{ramoops_arg} || fail \"panicdump arm (boot 2)\"\n    ")
    } else {
        String::new()
    };
    let mut checks = String::new();
    if mode.kdump() {
        checks.push_str(
            "[ \"$(cat /sys/kernel/kexec_crash_loaded)\" = 1 ] || fail \"crash kernel not loaded\"\n",
        );
        checks.push_str("say \"capture-initrd-bytes $(stat -c %s /tmp/capture.img)\"\n");
        checks.push_str(&format!(
            "EST=$(panicdump arm estimate --kernel /{CRASH_KERNEL} --initrd /tmp/capture.img) || fail \"panicdump arm estimate\"\n\
             echo \"$EST\"\n\
             say \"estimate $(echo \"$EST\" | grep -o 'crashkernel=[0-9]*[KMG]' | head -1)\"\n"
        ));
    }
    if mode.pstore() {
        checks.push_str("[ -d /sys/module/ramoops ] || fail \"ramoops not loaded\"\n");
    }
    // Detectors tuned so a test waits seconds, not minutes.
    let sysctls = match kind {
        PanicKind::Nmi | PanicKind::NmiFlood => {
            "echo 1 > /proc/sys/kernel/unknown_nmi_panic || fail \"unknown_nmi_panic\"\n"
        }
        PanicKind::SoftLockup => {
            "echo 2 > /proc/sys/kernel/watchdog_thresh || fail \"watchdog_thresh\"\n"
        }
        PanicKind::HungTask => {
            "echo 2 > /proc/sys/kernel/hung_task_timeout_secs || fail \"hung_task_timeout_secs\"\n"
        }
        _ => "",
    };
    s.push_str(&format!(
        r#"
load_modules
DISK=$(find_disk {CHAIN_SERIAL}) || fail "no scenario disk"
mkdir -p /mnt/disk
mount -t ext4 "$DISK" /mnt/disk || fail "mount $DISK"
if [ -e /mnt/disk/lab-armed ]; then
    phase collect
    {rearm}mkdir -p /sys/fs/pstore
    mount -t pstore pstore /sys/fs/pstore 2>/dev/null
    ls -l /sys/fs/pstore
    panicdump collect --dump-dir /mnt/disk/{CHAIN_DUMP_DIR} --pstore-dir /sys/fs/pstore \
        --state-dir /mnt/disk/{CHAIN_STATE_DIR} --json > /tmp/collect.json
    RC=$?
    cat /tmp/collect.json
    umount /mnt/disk || sync
    sync
    say "collected $RC"
    poweroff -f
    sleep 30
fi
echo "$TOKEN" > /mnt/disk/lab-armed
mkdir -p /mnt/disk/{CHAIN_DUMP_DIR}
umount /mnt/disk || fail "umount $DISK"
phase arm
grep -i -e ramoops -e '^{iomem_start:08x}' /proc/iomem
{arm} || fail "panicdump arm"
{checks}insmod /lib/modules/{release}/extra/{kmod}.ko || fail "insmod {kmod}"
{sysctls}say "armed $(cat /proc/sys/kernel/panic_on_oops) $(cat /sys/module/kernel/parameters/crash_kexec_post_notifiers)"
marker
phase trigger
sync
{trigger}sleep 120
fail "still alive after the {kind} trigger"
"#,
        kmod = crate::kmod::NAME,
        iomem_start = ramoops.mem_address,
        trigger = kind.trigger_script(),
    ));
    s
}

fn run_scenario(
    lab: &Lab,
    kernel: &Kernel,
    scenario: &Scenario,
    dir: &Path,
    progress: &Progress,
) -> Result<ScenarioMeta> {
    let start = Instant::now();
    let tools = Tools::find(lab, crate::params::Recipe::Chain, progress)?;
    let ko = crate::kmod::build(lab.root(), kernel)?;
    let token = random_token()?;

    let (insmods, modules) = guest_modules(kernel, scenario)?;
    let mut extra_files = Vec::new();
    for f in [
        "modules.dep",
        "modules.builtin",
        "modules.alias",
        "modules.softdep",
    ] {
        let src = kernel.modules_dir.join(f);
        if src.is_file() {
            let data = std::fs::read(&src).ctx("read", &src)?;
            extra_files.push((format!("lib/modules/{}/{f}", kernel.release), data));
        }
    }
    extra_files.push((
        format!(
            "lib/modules/{}/extra/{}.ko",
            kernel.release,
            crate::kmod::NAME
        ),
        std::fs::read(&ko).ctx("read", &ko)?,
    ));
    if scenario.mode.kdump() {
        extra_files.push((
            CRASH_KERNEL.to_string(),
            std::fs::read(&kernel.path).ctx("read", &kernel.path)?,
        ));
    }
    let contents = Contents {
        kernel,
        busybox: &tools.busybox,
        kexec: None,
        panicdump: &tools.panicdump,
        modules: &modules,
        init: init_script(scenario, &kernel.release, &insmods),
        extra_files,
    };
    // Uncompressed: gzip of the kernel image in a debug build (tests) takes
    // longer than the kernel takes to unpack the plain archive.
    let initrd = initramfs::base_archive(&contents)?
        .write_newc(Vec::new())
        .map_err(|e| LabError::Cpio(e.to_string()))?;
    let initrd_path = dir.join("initramfs.cpio");
    std::fs::write(&initrd_path, &initrd).ctx("write", &initrd_path)?;

    let p = &scenario.params;
    let guest_cmdline = guest_cmdline(scenario, &token);

    let disk = dir.join("disk.img");
    ext4_image(&disk, DISK_MIB)?;
    let qmp_path = dir.join("qmp.sock");
    let qmp_path = if qmp_path.as_os_str().len() < 100 {
        qmp_path
    } else {
        std::env::temp_dir().join(format!("panicdump-lab-{token}.sock"))
    };
    let spec = QemuSpec {
        qemu: &tools.qemu,
        kernel: &kernel.path,
        initrd: &initrd_path,
        cmdline: guest_cmdline.clone(),
        params: p,
        disks: vec![Disk {
            path: disk.clone(),
            serial: CHAIN_SERIAL.into(),
        }],
        qmp: scenario.kind.needs_nmi().then_some(qmp_path.as_path()),
        // The panic (pstore) or the capture (kdump) reboots the guest.
        no_reboot: false,
        vmcoreinfo: false,
    };
    let argv = cmdline::qemu_argv(&spec);
    let t = Instant::now();
    // First kernel, crash kernel (kdump modes), collecting boot.
    let boots = if scenario.mode.kdump() { 3 } else { 2 };
    let mut run = QemuRun::spawn(
        &argv,
        &dir.join("console.log"),
        &dir.join("qemu.stderr"),
        lab.timeout,
        &scenario.key(),
        boots,
        progress.clone(),
    )?;
    let mut estimate = None;
    let mut capture_initrd_bytes = None;
    if scenario.mode.kdump() {
        let b = run.wait_for("capture-initrd-bytes")?;
        capture_initrd_bytes = b.parse().ok();
        estimate = Some(run.wait_for("estimate")?).filter(|e| !e.is_empty());
    }
    let armed = run.wait_for("armed")?;
    progress.note(&format!(
        "armed (panic_on_oops, post_notifiers: {armed}); estimate {estimate:?}"
    ));
    if scenario.kind.needs_nmi() {
        run.wait_for("nmi-ready")?;
        let mut qmp = match Qmp::connect(&qmp_path, Duration::from_secs(10)) {
            Ok(q) => q,
            Err(e) => return Err(run.fail(&e.to_string())),
        };
        run.mark("inject-nmi");
        if let Err(e) = qmp.execute("inject-nmi", json!({})) {
            return Err(run.fail(&format!("inject-nmi: {e}")));
        }
    }
    let rc = run.wait_for("collected")?;
    run.wait_exit()?;
    let qemu_s = t.elapsed().as_secs_f64();
    ext4_extract(
        &disk,
        &[CHAIN_DUMP_DIR, CHAIN_STATE_DIR],
        &dir.join(CHAIN_OUT_DIR),
    )
    .map_err(|e| run.fail(&format!("reading the disk: {e}")))?;
    let phases = run.phases().to_vec();
    drop(run);
    let _ = std::fs::remove_file(&disk);
    let _ = std::fs::remove_file(&qmp_path);
    // The initramfs is rebuilt in seconds; keep the cache small.
    let _ = std::fs::remove_file(&initrd_path);
    Ok(ScenarioMeta {
        scenario: scenario.clone(),
        release: kernel.release.clone(),
        cmdline: guest_cmdline,
        marker: format!("{MARKER_PREFIX} {token}"),
        collect_rc: rc.parse().unwrap_or(-1),
        estimate,
        capture_initrd_bytes,
        phases,
        qemu_s: round(qemu_s),
        total_s: round(start.elapsed().as_secs_f64()),
        fingerprint: None,
    })
}

/// Smallest `crashkernel=` (MiB) with which the full capture of a 2 GiB
/// guest succeeded on the lab kernel, as measured by `panicdump lab
/// crashkernel-min` and recorded in docs/lab.md (with date and release).
pub const CRASHKERNEL_MIN_MIB: u64 = 96;
/// How far above [`CRASHKERNEL_MIN_MIB`] `panicdump arm estimate` may land.
pub const ESTIMATE_SLACK_MIB: u64 = 16;

/// `log_buf_len=` of the first kernel in kdump modes, as setup should add
/// next to `crashkernel=`. Debian's 128 KiB buffer is overwritten by a
/// printk flood on another CPU between the panic message and the crash
/// kernel (about 146 KB measured under TCG, docs/lab.md), losing the panic;
/// 1 MiB keeps it with room to spare, for about 4.5 MiB of the first
/// kernel's memory (text plus one 112-byte descriptor per 32 bytes).
pub const KDUMP_LOG_BUF_LEN: &str = "1M";

/// Step of the `crashkernel=` search, MiB.
pub const CRASHKERNEL_STEP_MIB: u64 = 8;
/// Below this kexec finds no hole for Debian's kernel (it needs 63.6 MiB).
pub const CRASHKERNEL_FLOOR_MIB: u64 = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for k in PanicKind::ALL {
            assert_eq!(k.name().parse::<PanicKind>().unwrap(), k);
        }
        for m in Mode::ALL {
            assert_eq!(m.name().parse::<Mode>().unwrap(), m);
        }
        assert!("nope".parse::<PanicKind>().is_err());
        assert!("nope".parse::<Mode>().is_err());
    }

    #[test]
    fn keys() {
        let s = Scenario::new(PanicKind::Oops, Mode::Pstore);
        assert_eq!(s.key(), "scenario-oops-pstore-m1024");
        let s = Scenario::new(PanicKind::NmiFlood, Mode::Both);
        assert_eq!(s.key(), "scenario-nmi-flood-both-m1024-smp2-ck160M");
    }

    /// Every script parses with the host's shell and has no placeholder left.
    #[test]
    fn scripts_parse() {
        for k in PanicKind::ALL {
            for m in Mode::ALL {
                let s = init_script(
                    &Scenario::new(k, m),
                    "6.1.0-56-amd64",
                    &["kernel/fs/ext4/ext4.ko".into()],
                );
                assert!(!s.contains('@'), "{k}/{m}");
                // The first boot's arm (the collecting boot's is indented).
                let arm = s.lines().find(|l| l.starts_with("panicdump arm ")).unwrap();
                assert_eq!(arm.contains("--no-kdump"), !m.kdump(), "{k}/{m}");
                assert_eq!(arm.contains("--no-pstore"), !m.pstore(), "{k}/{m}");
                assert_eq!(arm.contains("--panic-on-warn"), k == PanicKind::Warn);
                let path = std::env::temp_dir().join(format!(
                    "panicdump-lab-scenario-{}-{k}-{m}",
                    std::process::id()
                ));
                std::fs::write(&path, &s).unwrap();
                let st = std::process::Command::new("sh")
                    .arg("-n")
                    .arg(&path)
                    .status();
                let _ = std::fs::remove_file(&path);
                if let Ok(st) = st {
                    assert!(st.success(), "{k}/{m}: sh -n failed");
                }
            }
        }
    }
}
