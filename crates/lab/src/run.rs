//! The recipes: prepare inputs, run QEMU, extract results, write meta.json.

use crate::artifact::{self, Durations, Meta, LAB_VERSION};
use crate::cache::{self, Fingerprint};
use crate::cmdline::{self, Disk, QemuSpec, RamoopsLayout};
use crate::cpio;
use crate::elfcore;
use crate::error::{IoContext, LabError, Result};
use crate::host::{self, Kernel};
use crate::init::{
    self, Fill, InitPlan, Insmod, CHAIN_DUMP_DIR, CHAIN_SERIAL, CHAIN_STATE_DIR, CHAIN_UUID,
    DATA_SERIAL, MARKER_PREFIX, OUT_SERIAL,
};
use crate::initramfs::{self, Contents};
use crate::lab::Lab;
use crate::modules::ModuleDeps;
use crate::params::{Params, Recipe};
use crate::progress::Progress;
use crate::qemu::QemuRun;
use crate::qmp::Qmp;
use serde_json::json;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Host programs a recipe needs.
#[derive(Debug, Clone)]
pub(crate) struct Tools {
    pub qemu: PathBuf,
    pub busybox: PathBuf,
    pub kexec: Option<PathBuf>,
    pub panicdump: PathBuf,
    pub panicdump_build_s: f64,
}

impl Tools {
    /// Find (or build) everything, with install hints on failure.
    pub fn find(lab: &Lab, recipe: Recipe, progress: &Progress) -> Result<Self> {
        let cfg = lab.config();
        let qemu =
            host::find_program(cfg.qemu.as_deref(), "qemu-system-x86_64", "qemu-system-x86")?;
        let busybox = busybox(lab)?;
        let kexec = kexec(lab, recipe)?;
        let t = Instant::now();
        let panicdump = lab.static_panicdump(progress)?;
        Ok(Self {
            qemu,
            busybox,
            kexec,
            panicdump,
            panicdump_build_s: round(t.elapsed().as_secs_f64()),
        })
    }
}

/// The static busybox every guest runs.
fn busybox(lab: &Lab) -> Result<PathBuf> {
    let explicit = lab.config().busybox.as_deref();
    host::find_program(
        Some(explicit.unwrap_or(Path::new("/bin/busybox"))),
        "busybox",
        "busybox-static",
    )
}

/// kexec, which only the kdump recipe's guest runs (`kexec -p`).
fn kexec(lab: &Lab, recipe: Recipe) -> Result<Option<PathBuf>> {
    match recipe {
        Recipe::Kdump => {
            host::find_program(lab.config().kexec.as_deref(), "kexec", "kexec-tools").map(Some)
        }
        _ => Ok(None),
    }
}

/// The inputs every guest of `recipe`'s kind shares: [`Fingerprint::base`]
/// (kernel, static panicdump) plus the busybox and kexec binaries it carries.
pub(crate) fn base_fingerprint(
    lab: &Lab,
    kernel: &Kernel,
    recipe: Recipe,
    progress: &Progress,
) -> Result<Fingerprint> {
    let panicdump = lab.static_panicdump(progress)?;
    let fp = Fingerprint::base(kernel, &panicdump)?.with_file(cache::IN_BUSYBOX, &busybox(lab)?)?;
    match kexec(lab, recipe)? {
        Some(k) => fp.with_file(cache::IN_KEXEC, &k),
        None => Ok(fp),
    }
}

/// Modules each recipe loads (those built into the kernel are skipped).
fn wanted_modules(recipe: Recipe) -> &'static [&'static str] {
    match recipe {
        Recipe::Kdump => &["virtio_pci", "virtio_blk"],
        // qemu_fw_cfg hands the guest's VMCOREINFO address to `-device vmcoreinfo`.
        Recipe::QemuDump => &["virtio_pci", "virtio_blk", "qemu_fw_cfg"],
        Recipe::Pstore => &["virtio_pci", "virtio_blk", "reed_solomon", "ramoops"],
        // No disks: the crash kernel only reports /proc/vmcore.
        Recipe::ArmKdump => &[],
        // The capture set `panicdump arm --block-driver virtio_blk --fs ext4`
        // resolves (crc32c is ext4's soft dependency); boot 2 mounts the disk.
        Recipe::Chain => &["virtio_pci", "virtio_blk", "crc32c_generic", "ext4"],
    }
}

fn plan(
    kernel: &Kernel,
    recipe: Recipe,
    params: &Params,
) -> Result<(InitPlan, Vec<crate::modules::Module>)> {
    let deps = ModuleDeps::load(&kernel.modules_dir)?;
    let wanted: Vec<&str> = wanted_modules(recipe)
        .iter()
        .copied()
        .filter(|m| deps.has(m))
        .collect();
    if recipe == Recipe::Pstore && !deps.has("ramoops") {
        // Built-in ramoops would need its parameters on the kernel command line.
        return Err(LabError::Modules {
            path: kernel.modules_dir.join("modules.dep"),
            msg: "ramoops is not a module of this kernel; the pstore recipe needs it as one".into(),
        });
    }
    let modules = deps.closure(&wanted)?;
    let ramoops = RamoopsLayout::for_memory(params.memory_mib);
    let insmods = modules
        .iter()
        .map(|m| Insmod {
            rel_path: m.rel_path.clone(),
            params: if m.name == "ramoops" {
                ramoops.module_params()
            } else {
                String::new()
            },
        })
        .collect();
    let plan = InitPlan {
        recipe,
        release: kernel.release.clone(),
        modules: insmods,
        fill: matches!(recipe, Recipe::Kdump | Recipe::QemuDump)
            .then(|| Fill::for_memory(params.memory_mib)),
        crash_cmdline: cmdline::crash_cmdline(),
    };
    Ok((plan, modules))
}

/// The initramfs of a recipe.
pub(crate) fn initramfs(
    kernel: &Kernel,
    recipe: Recipe,
    params: &Params,
    tools: &Tools,
) -> Result<Vec<u8>> {
    let (plan, modules) = plan(kernel, recipe, params)?;
    let mut extra_files = Vec::new();
    if recipe == Recipe::Chain {
        // `panicdump arm` resolves the capture modules in the guest.
        for f in ["modules.dep", "modules.builtin"] {
            let src = kernel.modules_dir.join(f);
            if src.is_file() {
                let data = std::fs::read(&src).ctx("read", &src)?;
                extra_files.push((format!("lib/modules/{}/{f}", kernel.release), data));
            }
        }
    }
    let contents = Contents {
        kernel,
        busybox: &tools.busybox,
        kexec: tools.kexec.as_deref(),
        panicdump: &tools.panicdump,
        modules: &modules,
        init: init::init_script(&plan),
        extra_files,
    };
    initramfs::build(&contents, recipe.uses_crash_kernel())
}

pub(crate) fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

pub(crate) fn random_token() -> Result<String> {
    let mut b = [0u8; 8];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .ctx("read", "/dev/urandom")?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// A sparse raw image of `bytes`.
fn sparse_image(path: &Path, bytes: u64) -> Result<()> {
    let f = std::fs::File::create(path).ctx("create", path)?;
    f.set_len(bytes).ctx("resize", path)
}

/// Data disk whose page cache the guest fills: text and random MiBs alternating.
fn data_image(path: &Path, mib: u32, token: &str) -> Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).ctx("create", path)?);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..mib {
        if i % 2 == 0 {
            let mut text = String::with_capacity(chunk.len() + 128);
            let mut n = 0u64;
            while text.len() < chunk.len() {
                text.push_str(&format!(
                    "panicdump lab data disk {token} MiB {i} line {n}\n"
                ));
                n += 1;
            }
            let n = chunk.len();
            chunk.copy_from_slice(&text.as_bytes()[..n]);
        } else {
            for b in chunk.chunks_mut(8) {
                // xorshift64: cheap incompressible bytes.
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                b.copy_from_slice(&x.to_le_bytes()[..b.len()]);
            }
        }
        f.write_all(&chunk).ctx("write", path)?;
    }
    f.flush().ctx("write", path)
}

/// The inputs an artifact of `recipe` is built from (see [`crate::cache`]).
pub(crate) fn fingerprint(
    lab: &Lab,
    kernel: &Kernel,
    recipe: Recipe,
    params: &Params,
    progress: &Progress,
) -> Result<Fingerprint> {
    let (plan, _) = plan(kernel, recipe, params)?;
    let fp = base_fingerprint(lab, kernel, recipe, progress)?
        .with(cache::IN_RUN, params.key(recipe))
        .with(
            cache::IN_CMDLINE,
            cmdline::guest_cmdline(recipe, params, cache::TOKEN_PLACEHOLDER),
        )
        .with_bytes(cache::IN_INIT, init::init_script(&plan).as_bytes());
    Ok(if recipe == Recipe::Kdump {
        fp.with(cache::IN_CRASH_CMDLINE, cmdline::crash_cmdline())
    } else {
        fp
    })
}

/// Build one artifact into `dir` (empty, locked by the caller); the caller
/// writes the returned `meta.json`.
pub(crate) fn build(
    lab: &Lab,
    kernel: &Kernel,
    recipe: Recipe,
    params: &Params,
    dir: &Path,
    progress: &Progress,
) -> Result<Meta> {
    let start = Instant::now();
    let created_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let tools = Tools::find(lab, recipe, progress)?;
    let token = random_token()?;

    let t = Instant::now();
    progress.note("writing initramfs");
    let initrd = initramfs(kernel, recipe, params, &tools)?;
    let initrd_path = dir.join("initramfs.cpio.gz");
    std::fs::write(&initrd_path, &initrd).ctx("write", &initrd_path)?;
    let initramfs_s = round(t.elapsed().as_secs_f64());
    progress.note(&format!(
        "initramfs {} KiB in {initramfs_s}s",
        initrd.len() >> 10
    ));

    let cmdline = cmdline::guest_cmdline(recipe, params, &token);
    let mut spec = QemuSpec {
        qemu: &tools.qemu,
        kernel: &kernel.path,
        initrd: &initrd_path,
        cmdline: cmdline.clone(),
        params,
        disks: Vec::new(),
        qmp: None,
        // pstore and chain reboot the guest in the same QEMU.
        no_reboot: !matches!(recipe, Recipe::Pstore | Recipe::Chain),
        vmcoreinfo: recipe == Recipe::QemuDump,
    };
    let data = dir.join("data.img");
    let out = dir.join("out.img");
    if matches!(recipe, Recipe::Kdump | Recipe::QemuDump) {
        data_image(&data, 32, &token)?;
        spec.disks.push(Disk {
            path: data.clone(),
            serial: DATA_SERIAL.into(),
        });
    }
    let out_bytes = match recipe {
        // /proc/vmcore is smaller than guest RAM (the reservation is excluded).
        Recipe::Kdump => (u64::from(params.memory_mib) + 64) << 20,
        Recipe::QemuDump | Recipe::ArmKdump | Recipe::Chain => 0,
        Recipe::Pstore => 16 << 20,
    };
    let chain_disk = dir.join("chain.img");
    if recipe == Recipe::Chain {
        ext4_image(&chain_disk, CHAIN_DISK_MIB)?;
        spec.disks.push(Disk {
            path: chain_disk.clone(),
            serial: CHAIN_SERIAL.into(),
        });
    }
    if out_bytes > 0 {
        sparse_image(&out, out_bytes)?;
        spec.disks.push(Disk {
            path: out.clone(),
            serial: OUT_SERIAL.into(),
        });
    }
    let qmp_path = qmp_socket_path(dir, &token);
    if recipe == Recipe::QemuDump {
        spec.qmp = Some(&qmp_path);
    }
    let argv = cmdline::qemu_argv(&spec);
    let console = dir.join(artifact::CONSOLE);
    let stderr = dir.join("qemu.stderr");
    let max_boots = match recipe {
        Recipe::QemuDump => 1,
        // First kernel, crash kernel, second boot.
        Recipe::Chain => 3,
        _ => 2,
    };

    let t = Instant::now();
    let mut run = QemuRun::spawn(
        &argv,
        &console,
        &stderr,
        lab.timeout,
        recipe.name(),
        max_boots,
        progress.clone(),
    )?;
    let (files, extract_s) = match recipe {
        Recipe::Kdump => run_kdump(&mut run, dir, &out, progress)?,
        Recipe::QemuDump => run_qemu_dump(&mut run, dir, &qmp_path)?,
        Recipe::Pstore => run_pstore(&mut run, dir, &out, progress)?,
        Recipe::ArmKdump => run_arm_kdump(&mut run, progress)?,
        Recipe::Chain => run_chain(&mut run, dir, &chain_disk, progress)?,
    };
    let qemu_s = round(t.elapsed().as_secs_f64() - extract_s);
    let phases = run.phases().to_vec();
    drop(run);
    let _ = std::fs::remove_file(&data);
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&chain_disk);
    let _ = std::fs::remove_file(&qmp_path);

    let meta = Meta {
        recipe,
        lab_version: LAB_VERSION,
        kernel: kernel.path.clone(),
        release: kernel.release.clone(),
        modules_dir: kernel.modules_dir.clone(),
        params: params.clone(),
        memory_mib: params.memory_mib,
        cmdline,
        crash_cmdline: (recipe == Recipe::Kdump).then(cmdline::crash_cmdline),
        qemu_argv: argv,
        marker: format!("{MARKER_PREFIX} {token}"),
        token,
        created_unix,
        phases,
        durations: Durations {
            panicdump_build_s: tools.panicdump_build_s,
            initramfs_s,
            qemu_s,
            extract_s: round(extract_s),
            total_s: round(start.elapsed().as_secs_f64()),
        },
        initramfs_bytes: initrd.len() as u64,
        files,
        fingerprint: None,
    };
    progress.note(&format!("total {:.1}s", start.elapsed().as_secs_f64()));
    Ok(meta)
}

/// Unix socket paths are limited to 108 bytes: fall back to the temp dir.
fn qmp_socket_path(dir: &Path, token: &str) -> PathBuf {
    let p = dir.join("qmp.sock");
    if p.as_os_str().len() < 100 {
        p
    } else {
        std::env::temp_dir().join(format!("panicdump-lab-{token}.sock"))
    }
}

fn run_kdump(
    run: &mut QemuRun,
    dir: &Path,
    out: &Path,
    progress: &Progress,
) -> Result<(Vec<String>, f64)> {
    let size_s = run.wait_for("vmcore-size")?;
    let size: u64 = size_s
        .parse()
        .map_err(|_| run.fail(&format!("bad vmcore size {size_s:?}")))?;
    progress.note(&format!("/proc/vmcore is {} MiB", size >> 20));
    run.wait_for("vmcore-copied")?;
    run.wait_exit()?;
    let t = Instant::now();
    let disk_len = std::fs::metadata(out).ctx("stat", out)?.len();
    if size == 0 || size > disk_len {
        return Err(run.fail(&format!(
            "vmcore size {size} does not fit the {disk_len}-byte disk"
        )));
    }
    // The disk holds the vmcore at offset 0: trim it and rename, no copy.
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(out)
        .ctx("open", out)?;
    f.set_len(size).ctx("truncate", out)?;
    drop(f);
    let s =
        elfcore::summarize(out).map_err(|e| run.fail(&format!("output is not a vmcore: {e}")))?;
    if s.e_type != elfcore::ET_CORE || s.loads == 0 || s.end > size {
        return Err(run.fail(&format!(
            "vmcore headers look wrong (e_type {}, {} PT_LOAD, end {} > size {size})",
            s.e_type, s.loads, s.end
        )));
    }
    let vmcore = dir.join(artifact::VMCORE);
    std::fs::rename(out, &vmcore).ctx("rename", out)?;
    Ok((vec![artifact::VMCORE.into()], t.elapsed().as_secs_f64()))
}

/// arm-kdump: the host checks the guest armed itself and that the crash
/// kernel booted with a /proc/vmcore and the derived command line.
fn run_arm_kdump(run: &mut QemuRun, progress: &Progress) -> Result<(Vec<String>, f64)> {
    let armed = run.wait_for("armed")?;
    progress.note(&format!("armed by panicdump (panic_on_oops={armed})"));
    let cmdline = run.wait_for("crash-cmdline")?;
    if !cmdline.contains("nr_cpus=1") || cmdline.contains("crashkernel=") {
        return Err(run.fail(&format!("crash kernel command line not derived: {cmdline}")));
    }
    let size_s = run.wait_for("vmcore-size")?;
    let size: u64 = size_s
        .parse()
        .map_err(|_| run.fail(&format!("bad vmcore size {size_s:?}")))?;
    if size == 0 {
        return Err(run.fail("empty /proc/vmcore"));
    }
    progress.note(&format!("/proc/vmcore is {} MiB", size >> 20));
    run.wait_exit()?;
    Ok((Vec::new(), 0.0))
}

/// Size of the chain recipe's ext4 disk (sparse): the capture and the
/// record's copy of it.
const CHAIN_DISK_MIB: u64 = 1024;

/// Directory of the artifact holding what the chain left on its disk.
pub(crate) const CHAIN_OUT_DIR: &str = "disk";

/// A sparse ext4 image with the chain recipe's UUID, made by `mkfs.ext4`.
pub(crate) fn ext4_image(path: &Path, mib: u64) -> Result<()> {
    sparse_image(path, mib << 20)?;
    let mkfs = host::find_program(None, "mkfs.ext4", "e2fsprogs")?;
    let out = std::process::Command::new(&mkfs)
        .args(["-F", "-q", "-L", "pdchain", "-U", CHAIN_UUID])
        .arg(path)
        .output()
        .ctx("run", &mkfs)?;
    if !out.status.success() {
        return Err(LabError::Tool {
            program: mkfs.display().to_string(),
            msg: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        });
    }
    Ok(())
}

/// Copy directories out of an ext4 image with `debugfs rdump` (no mount,
/// no privileges needed).
pub(crate) fn ext4_extract(image: &Path, dirs: &[&str], dest: &Path) -> Result<()> {
    std::fs::create_dir_all(dest).ctx("create", dest)?;
    let debugfs = host::find_program(None, "debugfs", "e2fsprogs")?;
    for d in dirs {
        let out = std::process::Command::new(&debugfs)
            .arg("-R")
            .arg(format!("rdump /{d} {}", dest.display()))
            .arg(image)
            .output()
            .ctx("run", &debugfs)?;
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() || !dest.join(d).is_dir() {
            return Err(LabError::Tool {
                program: format!("{} rdump /{d}", debugfs.display()),
                msg: format!("{}: {}", out.status, err.trim()),
            });
        }
    }
    Ok(())
}

/// chain: wait for arm, the capture in the crash kernel, the collect of the
/// second boot; then copy the capture and state directories off the disk.
fn run_chain(
    run: &mut QemuRun,
    dir: &Path,
    disk: &Path,
    progress: &Progress,
) -> Result<(Vec<String>, f64)> {
    let armed = run.wait_for("armed")?;
    progress.note(&format!("armed by panicdump (panic_on_oops={armed})"));
    let rc = run.wait_for("collected")?;
    progress.note(&format!("panicdump collect exited {rc}"));
    run.wait_exit()?;
    let t = Instant::now();
    let dest = dir.join(CHAIN_OUT_DIR);
    ext4_extract(disk, &[CHAIN_DUMP_DIR, CHAIN_STATE_DIR], &dest)
        .map_err(|e| run.fail(&format!("reading the disk: {e}")))?;
    if rc != "0" {
        return Err(run.fail(&format!("panicdump collect exited {rc}")));
    }
    Ok((
        vec![
            format!("{CHAIN_OUT_DIR}/{CHAIN_DUMP_DIR}"),
            format!("{CHAIN_OUT_DIR}/{CHAIN_STATE_DIR}"),
        ],
        t.elapsed().as_secs_f64(),
    ))
}

fn run_qemu_dump(run: &mut QemuRun, dir: &Path, qmp_path: &Path) -> Result<(Vec<String>, f64)> {
    run.wait_for("ready")?;
    let t = Instant::now();
    let mut qmp = match Qmp::connect(qmp_path, Duration::from_secs(10)) {
        Ok(q) => q,
        Err(e) => return Err(run.fail(&e.to_string())),
    };
    let mut step =
        |run: &mut QemuRun, phase: &str, cmd: &str, args: serde_json::Value| -> Result<()> {
            run.mark(phase);
            qmp.set_timeout(run.remaining())?;
            match qmp.execute(cmd, args) {
                Ok(_) => Ok(()),
                // A reply that never came within the deadline is a timeout.
                Err(_) if run.remaining() < Duration::from_secs(1) => Err(run.timeout()),
                Err(e) => Err(run.fail(&format!("{phase}: {e}"))),
            }
        };
    step(run, "qmp-stop", "stop", json!({}))?;
    for (file, format) in [
        (artifact::QEMU_ELF, "elf"),
        (artifact::QEMU_KDUMP, "kdump-zlib"),
    ] {
        let path = dir.join(file);
        step(
            run,
            &format!("dump-{format}"),
            "dump-guest-memory",
            json!({"paging": false, "protocol": format!("file:{}", path.display()), "format": format}),
        )?;
    }
    // Best effort: QEMU may close the socket before replying to quit.
    run.mark("qmp-quit");
    let _ = qmp.execute("quit", json!({}));
    run.wait_exit()?;
    for (file, magic) in [
        (artifact::QEMU_ELF, &b"\x7fELF"[..]),
        (artifact::QEMU_KDUMP, b"makedumpfile\0"),
    ] {
        // QEMU creates dumps 0400; readers and validators may run as others.
        let _ = std::fs::set_permissions(dir.join(file), std::fs::Permissions::from_mode(0o644));
        let mut head = [0u8; 13];
        let ok = std::fs::File::open(dir.join(file))
            .and_then(|mut f| f.read_exact(&mut head))
            .is_ok();
        if !ok || !head.starts_with(magic) {
            return Err(run.fail(&format!("{file} is missing or lacks its magic")));
        }
    }
    Ok((
        vec![artifact::QEMU_ELF.into(), artifact::QEMU_KDUMP.into()],
        t.elapsed().as_secs_f64(),
    ))
}

fn run_pstore(
    run: &mut QemuRun,
    dir: &Path,
    out: &Path,
    progress: &Progress,
) -> Result<(Vec<String>, f64)> {
    let n = run.wait_for("pstore-saved")?;
    progress.note(&format!("{n} pstore file(s) saved"));
    run.wait_exit()?;
    let t = Instant::now();
    let disk = std::fs::read(out).ctx("read", out)?;
    let entries = cpio::parse_newc(&disk).map_err(|e| run.fail(&format!("pstore archive: {e}")))?;
    let pdir = dir.join(artifact::PSTORE_DIR);
    std::fs::create_dir_all(&pdir).ctx("create", &pdir)?;
    let mut files = Vec::new();
    for e in entries {
        let name = e.name.trim_start_matches("./");
        // Flat names only: pstore has no subdirectories.
        if name.is_empty() || name.contains('/') || name == "." || name == ".." {
            continue;
        }
        let path = pdir.join(name);
        std::fs::write(&path, &e.data).ctx("write", &path)?;
        files.push(format!("{}/{name}", artifact::PSTORE_DIR));
    }
    if !files.iter().any(|f| f.contains("/dmesg-")) {
        return Err(run.fail(&format!("no dmesg record among {files:?}")));
    }
    files.sort();
    Ok((files, t.elapsed().as_secs_f64()))
}
