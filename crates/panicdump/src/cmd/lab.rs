//! `panicdump lab`: crash real kernels under QEMU and keep what they leave.

use anyhow::Context;
use clap::{Args, Subcommand};
use lab::{Artifact, Lab, LabConfig, Mode, PanicKind, Params, Recipe, Scenario};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// Arguments of `panicdump lab`.
#[derive(Args, Debug)]
pub struct LabArgs {
    #[command(subcommand)]
    cmd: LabCmd,
}

#[derive(Subcommand, Debug)]
enum LabCmd {
    /// kdump: crash the guest with sysrq-c; the crash kernel saves /proc/vmcore.
    Kdump(RunArgs),
    /// QEMU dump-guest-memory of a paused guest, as ELF and kdump-zlib (flattened).
    QemuDump(RunArgs),
    /// pstore: panic with ramoops loaded, warm reset, collect /sys/fs/pstore.
    Pstore(RunArgs),
    /// arm-kdump: `panicdump arm` loads the crash kernel; it must reach /init with /proc/vmcore.
    ArmKdump(RunArgs),
    /// chain: `panicdump arm`, sysrq-c, `panicdump capture` as the crash
    /// kernel's /init onto an ext4 disk (by UUID), reboot, `panicdump collect`.
    Chain(RunArgs),
    /// A panic scenario: `panicdump arm` (pstore, kdump or both), a panic of
    /// one kind, capture or warm reset, `panicdump collect`; checks the record.
    Scenario(ScenarioArgs),
    /// Smallest crashkernel= (8M steps from 96M) with which the full kdump
    /// capture (dmesg + -d 31 dump) of a guest succeeds, next to `estimate`'s value.
    CrashkernelMin(CrashkernelMinArgs),
    /// List cached artifacts.
    List(CommonArgs),
    /// Remove all cached artifacts.
    Clean(CommonArgs),
    /// Write the initramfs of a recipe (for debugging).
    Initramfs(InitramfsArgs),
    /// (guest side) Allocate and touch memory, then sleep forever.
    #[command(hide = true)]
    GuestFill(GuestFillArgs),
}

#[derive(Args, Debug)]
struct CommonArgs {
    /// Artifact root [default: $PANICDUMP_LAB_DIR or <workspace>/target/lab].
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Guest kernel image [default: newest /boot/vmlinuz-*].
    #[arg(long, value_name = "PATH")]
    kernel: Option<PathBuf>,
    /// Modules directory [default: /lib/modules/<release>].
    #[arg(long, value_name = "DIR")]
    modules_dir: Option<PathBuf>,
    /// Static panicdump binary for the guest [default: $PANICDUMP_STATIC_BIN or a cargo build].
    #[arg(long, value_name = "PATH")]
    panicdump_bin: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args, Debug)]
struct GuestArgs {
    /// Guest RAM in MiB.
    #[arg(long, default_value_t = 1024, value_name = "MiB")]
    memory: u32,
    /// Guest CPUs.
    #[arg(long, default_value_t = 1)]
    smp: u32,
    /// crashkernel= reservation (kdump).
    #[arg(long, default_value = "256M", value_name = "SIZE")]
    crashkernel: String,
}

#[derive(Args, Debug)]
struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    guest: GuestArgs,
    /// Rebuild even if a complete artifact exists.
    #[arg(long)]
    force: bool,
    /// Deadline of each QEMU run, seconds [default: $PANICDUMP_LAB_TIMEOUT or 600].
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
    /// Print the artifact as JSON (meta.json plus paths).
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
struct ScenarioArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Panic kind: sysrq, nmi, oops, bug, warn, softlockup, hungtask, nmi-flood, or `all`.
    kind: String,
    /// Mode: pstore, kdump, both, or `all`.
    mode: String,
    /// Guest RAM in MiB.
    #[arg(long, default_value_t = 1024, value_name = "MiB")]
    memory: u32,
    /// crashkernel= reservation (kdump modes) [default: the scenario's, 160M].
    #[arg(long, value_name = "SIZE")]
    crashkernel: Option<String>,
    /// Rerun even if a complete artifact exists.
    #[arg(long)]
    force: bool,
    /// Deadline of each QEMU run, seconds [default: $PANICDUMP_LAB_TIMEOUT or 600].
    #[arg(long, value_name = "SECS")]
    timeout: Option<u64>,
}

#[derive(Args, Debug)]
struct CrashkernelMinArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// Guest RAM in MiB.
    #[arg(long, default_value_t = 2048, value_name = "MiB")]
    memory: u32,
    /// Deadline of each QEMU run, seconds.
    #[arg(long, default_value_t = 400, value_name = "SECS")]
    timeout: u64,
    /// First size tried, MiB (the target).
    #[arg(long, default_value_t = 96, value_name = "MiB")]
    start: u64,
    /// Largest size tried, MiB.
    #[arg(long, default_value_t = 256, value_name = "MiB")]
    max: u64,
    /// Rerun sizes whose result is cached.
    #[arg(long)]
    force: bool,
}

#[derive(Args, Debug)]
struct InitramfsArgs {
    #[command(flatten)]
    common: CommonArgs,
    #[command(flatten)]
    guest: GuestArgs,
    /// Recipe whose initramfs to write.
    #[arg(long, default_value = "kdump")]
    recipe: String,
    /// Output file.
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,
}

#[derive(Args, Debug)]
struct GuestFillArgs {
    /// Anonymous memory to allocate and touch, MiB.
    #[arg(long, value_name = "N")]
    mib: usize,
    /// File created once the memory is filled.
    #[arg(long, value_name = "PATH")]
    ready_file: Option<PathBuf>,
}

/// Run `panicdump lab`.
pub fn run(args: LabArgs) -> anyhow::Result<ExitCode> {
    match args.cmd {
        LabCmd::Kdump(a) => run_recipe(Recipe::Kdump, a),
        LabCmd::QemuDump(a) => run_recipe(Recipe::QemuDump, a),
        LabCmd::Pstore(a) => run_recipe(Recipe::Pstore, a),
        LabCmd::ArmKdump(a) => run_recipe(Recipe::ArmKdump, a),
        LabCmd::Chain(a) => run_recipe(Recipe::Chain, a),
        LabCmd::Scenario(a) => run_scenarios(a),
        LabCmd::CrashkernelMin(a) => crashkernel_min(a),
        LabCmd::List(c) => list(c),
        LabCmd::Clean(c) => {
            let lab = make_lab(&c, None)?;
            lab.clean()?;
            eprintln!("removed {}", lab.root().display());
            Ok(ExitCode::SUCCESS)
        }
        LabCmd::Initramfs(a) => {
            let lab = make_lab(&a.common, None)?;
            let recipe: Recipe = a.recipe.parse()?;
            let data = lab.initramfs(recipe, &params(&a.guest))?;
            std::fs::write(&a.output, &data)
                .with_context(|| format!("write {}", a.output.display()))?;
            println!(
                "{} ({} bytes, recipe {recipe})",
                a.output.display(),
                data.len()
            );
            Ok(ExitCode::SUCCESS)
        }
        LabCmd::GuestFill(a) => guest_fill(a),
    }
}

fn params(g: &GuestArgs) -> Params {
    Params {
        memory_mib: g.memory,
        smp: g.smp,
        crashkernel: g.crashkernel.clone(),
    }
}

/// Environment first, then explicit flags on top.
fn make_lab(c: &CommonArgs, timeout: Option<u64>) -> anyhow::Result<Lab> {
    let env = Lab::from_env()?;
    let base = env.config().clone();
    Ok(Lab::new(LabConfig {
        kernel: c.kernel.clone().or(base.kernel),
        modules_dir: c.modules_dir.clone().or(base.modules_dir),
        root: c.dir.clone().or(base.root),
        panicdump_bin: c.panicdump_bin.clone().or(base.panicdump_bin),
        timeout: timeout.map(Duration::from_secs).or(base.timeout),
        progress: !c.quiet,
        ..base
    }))
}

fn run_recipe(recipe: Recipe, a: RunArgs) -> anyhow::Result<ExitCode> {
    let lab = make_lab(&a.common, a.timeout)?;
    let art = lab
        .artifact_with(recipe, &params(&a.guest), a.force)
        .with_context(|| format!("lab {recipe}"))?;
    if a.json {
        let v = serde_json::json!({
            "dir": art.dir,
            "outputs": art.outputs(),
            "console": art.console_log(),
            "meta": art.meta,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print_artifact(&art);
    }
    Ok(ExitCode::SUCCESS)
}

fn run_scenarios(a: ScenarioArgs) -> anyhow::Result<ExitCode> {
    let lab = make_lab(&a.common, a.timeout)?;
    let kinds: Vec<PanicKind> = if a.kind == "all" {
        PanicKind::ALL.to_vec()
    } else {
        vec![a.kind.parse()?]
    };
    let modes: Vec<Mode> = if a.mode == "all" {
        Mode::ALL.to_vec()
    } else {
        vec![a.mode.parse()?]
    };
    let mut failed = 0;
    for &kind in &kinds {
        for &mode in &modes {
            let mut s = Scenario::new(kind, mode);
            s.params.memory_mib = a.memory;
            if let Some(ck) = &a.crashkernel {
                s.params.crashkernel = ck.clone();
            }
            let verdict = lab
                .scenario(&s, a.force)
                .map_err(|e| e.to_string())
                .and_then(|o| o.check().map(|()| o));
            match verdict {
                Ok(o) => println!(
                    "ok   {s:<22} {:>5.1}s qemu  estimate {}  capture initramfs {}  {}",
                    o.meta.qemu_s,
                    o.meta.estimate.as_deref().unwrap_or("-"),
                    o.meta
                        .capture_initrd_bytes
                        .map_or("-".into(), |b| format!("{b} bytes")),
                    o.dir.display()
                ),
                Err(e) => {
                    failed += 1;
                    println!("FAIL {s}: {e}");
                }
            }
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// Start at `--start` (96M, the target): while the capture fails, go up in
/// 8M steps; once one size works, bisect the 8M steps below it down to 64M
/// (kexec finds no hole for the kernel below that). Assumes a capture that
/// works with N MiB also works with more.
fn crashkernel_min(a: CrashkernelMinArgs) -> anyhow::Result<ExitCode> {
    let lab = make_lab(&a.common, Some(a.timeout))?;
    let mut estimate = None;
    let mut try_size = |mib: u64| -> bool {
        let mut s = Scenario::new(PanicKind::Sysrq, Mode::Kdump);
        s.params.memory_mib = a.memory;
        s.params.crashkernel = format!("{mib}M");
        let verdict = lab
            .scenario(&s, a.force)
            .map_err(|e| e.to_string())
            .and_then(|o| {
                if o.meta.estimate.is_some() {
                    estimate = o.meta.estimate.clone();
                }
                o.check().map(|()| o)
            });
        match &verdict {
            Ok(o) => eprintln!("crashkernel={mib}M: capture ok ({:.0}s)", o.meta.qemu_s),
            Err(e) => eprintln!(
                "crashkernel={mib}M: failed: {}",
                e.lines().next().unwrap_or("")
            ),
        }
        verdict.is_ok()
    };
    let step = lab::scenario::CRASHKERNEL_STEP_MIB;
    let floor = lab::scenario::CRASHKERNEL_FLOOR_MIB;
    let mut works = a.start;
    while !try_size(works) {
        works += step;
        if works > a.max {
            anyhow::bail!(
                "the capture fails with every crashkernel= up to {}M in a {} MiB guest",
                a.max,
                a.memory
            );
        }
    }
    // Sizes below the first working one, ascending; bisect them.
    let below: Vec<u64> = (0..)
        .map(|i| floor + i * step)
        .take_while(|&m| m < works)
        .collect();
    // Only sizes under the start are unknown: those from start up failed.
    let below: Vec<u64> = below.into_iter().filter(|&m| m < a.start).collect();
    let (mut lo, mut hi) = (0usize, below.len());
    // Invariant: below[hi..] and `works` work, below[..lo] fail.
    while lo < hi {
        let mid = (lo + hi) / 2;
        if try_size(below[mid]) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let min = below.get(hi).copied().unwrap_or(works);
    let release = lab.kernel()?.release;
    println!(
        "smallest working crashkernel={min}M ({} MiB guest, {release}); panicdump arm estimate: {}",
        a.memory,
        estimate.as_deref().unwrap_or("unknown")
    );
    Ok(ExitCode::SUCCESS)
}

fn print_artifact(a: &Artifact) {
    println!("{} {}", a.recipe, a.dir.display());
    for f in a.outputs() {
        let size = std::fs::metadata(&f).map(|m| m.len()).unwrap_or(0);
        println!("  {} ({size} bytes)", f.display());
    }
    println!("  {}", a.console_log().display());
    println!("  marker: {}", a.marker());
    println!(
        "  kernel {} | {} MiB | built in {:.1}s",
        a.meta.release, a.meta.memory_mib, a.meta.durations.total_s
    );
    if !a.meta.phases.is_empty() {
        let phases: Vec<String> = a
            .meta
            .phases
            .iter()
            .map(|p| format!("{} {:.1}s", p.name, p.at_s))
            .collect();
        println!("  phases: {}", phases.join(", "));
    }
}

fn list(c: CommonArgs) -> anyhow::Result<ExitCode> {
    let lab = make_lab(&c, None)?;
    let arts = lab.list()?;
    if arts.is_empty() {
        eprintln!("no artifacts under {}", lab.root().display());
    }
    for a in &arts {
        print_artifact(a);
    }
    Ok(ExitCode::SUCCESS)
}

/// Guest side: dirty anonymous memory with random, text and zero pages so
/// dumps have realistic content, then hold it until the crash.
fn guest_fill(a: GuestFillArgs) -> anyhow::Result<ExitCode> {
    const PAGE: usize = 4096;
    let mut mem = vec![0u8; a.mib << 20];
    let mut x: u64 = 0x2545_f491_4f6c_dd1d ^ (std::process::id() as u64);
    let text = b"panicdump guest-fill: anonymous text page, readable in a dump. ";
    for (i, page) in mem.chunks_mut(PAGE).enumerate() {
        match i % 3 {
            0 => {
                for w in page.chunks_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    w.copy_from_slice(&x.to_le_bytes()[..w.len()]);
                }
            }
            1 => {
                for (j, b) in page.iter_mut().enumerate() {
                    *b = text[j % text.len()];
                }
            }
            // Written zeros: the page is allocated, unlike untouched calloc memory.
            _ => std::hint::black_box(&mut *page).fill(0),
        }
    }
    std::hint::black_box(&mem);
    if let Some(p) = &a.ready_file {
        std::fs::write(p, b"").with_context(|| format!("write {}", p.display()))?;
    }
    println!("guest-fill: {} MiB filled", a.mib);
    loop {
        std::thread::sleep(Duration::from_secs(3600));
        std::hint::black_box(&mem);
    }
}
