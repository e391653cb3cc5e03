//! `panicdump capture`: the crash kernel's side of the capture chain.
//!
//! `capture` runs in the crash kernel (as its `/init`, or from a shell): it
//! saves the kernel log of `/proc/vmcore` first, then a filtered compressed
//! dump, then a status file, into `<target>/<id>/`:
//!
//! ```text
//! <target>/<UTC crash time>/dmesg.txt      makedumpfile --dump-dmesg format
//!                           vmcore.kdump   kdump-compressed (while written: vmcore.kdump.incomplete)
//!                           status.json    times, sizes, level, errors (written last)
//! ```
//!
//! `collect` (in [`super::collect`]) picks these directories up at boot.

use crate::kernel;
use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use super::dump::CompressArg;

/// What to do when the capture ends.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Sync and reboot (reboot(2)).
    Reboot,
    /// Sync and power off (reboot(2)).
    Poweroff,
    /// Start `/bin/sh` on the console, then reboot when it exits.
    Shell,
    /// Just exit (tests, manual runs).
    None,
}

/// Arguments of `panicdump capture`.
#[derive(clap::Args, Debug)]
pub struct CaptureArgs {
    /// The crashed kernel's memory.
    #[arg(long, default_value = "/proc/vmcore")]
    pub vmcore: PathBuf,
    /// Directory (already mounted) receiving `<id>/`.
    #[arg(long, value_name = "DIR", conflicts_with = "target_uuid")]
    pub target: Option<PathBuf>,
    /// The target filesystem: `UUID=..` (or a bare UUID; found through
    /// /dev/disk/by-uuid or by probing ext4, xfs, btrfs and vfat
    /// superblocks) or a `/dev/..` path; mounted on `/run/panicdump-target`
    /// and written under `--target-subdir` there.
    #[arg(long, value_name = "UUID|DEV")]
    pub target_uuid: Option<String>,
    /// Directory inside the `--target-uuid` filesystem (`.` when the crash
    /// directory is that filesystem's root).
    #[arg(long, value_name = "REL", default_value = "var/crash")]
    pub target_subdir: PathBuf,
    /// Dump level, makedumpfile's `-d` (see `panicdump dump`).
    #[arg(short = 'd', long = "dump-level", default_value_t = 31,
          value_parser = clap::value_parser!(u8).range(0..=31))]
    pub level: u8,
    /// Page compression.
    #[arg(long = "compress", value_enum, default_value_t = CompressArg::Zstd)]
    pub compress: CompressArg,
    /// Action after a successful capture.
    #[arg(long, value_enum, default_value_t = Action::Reboot)]
    pub on_success: Action,
    /// Action after a failed capture.
    #[arg(long, value_enum, default_value_t = Action::Reboot)]
    pub on_failure: Action,
    /// Take settings from a kernel command line (the crash kernel's `/init`
    /// mode): `panicdump.target=UUID=..|/dev/..|DIR`, `panicdump.level=N`,
    /// `panicdump.compress=..`, `panicdump.on_success=..`,
    /// `panicdump.on_failure=..`, `panicdump.vmcore=PATH`,
    /// `panicdump.dir=REL` (the `--target-subdir`); they override
    /// the flags. As PID 1 it also mounts proc, sys, dev and loads the
    /// modules of `/etc/panicdump/modules.order`.
    #[arg(long, value_name = "FILE", num_args = 0..=1,
          default_missing_value = "/proc/cmdline")]
    pub from_cmdline: Option<PathBuf>,
}

/// `status.json` of a capture.
#[derive(Serialize, Deserialize, Debug, Default, Clone)]
pub struct Status {
    /// Format version.
    pub schema: u32,
    /// The capture id (directory name).
    pub id: String,
    /// True when the log and the dump were both saved.
    pub ok: bool,
    /// The source.
    pub vmcore: String,
    /// Capture start and end (Unix seconds).
    pub started: i64,
    /// End of the capture.
    pub finished: i64,
    /// Crash time from VMCOREINFO, when present.
    pub crash_time: Option<i64>,
    /// Kernel release of the crashed kernel.
    pub release: Option<String>,
    /// Dump level.
    pub level: u8,
    /// Compression.
    pub compression: String,
    /// Size of dmesg.txt, when saved.
    pub dmesg_bytes: Option<u64>,
    /// Size of vmcore.kdump, when saved.
    pub dump_bytes: Option<u64>,
    /// Page bytes read from the source.
    pub dump_bytes_in: Option<u64>,
    /// Seconds spent on the dump.
    pub dump_secs: Option<f64>,
    /// Everything that went wrong.
    pub errors: Vec<String>,
}

pub(crate) fn now() -> i64 {
    crashdb::time::unix(std::time::SystemTime::now())
}

fn step(msg: &str) {
    eprintln!("panicdump capture: {msg}");
}

/// This process's peak resident set and page tables, and the machine's
/// free memory, from procfs: what the capture cost, for sizing
/// `crashkernel=` (docs/lab.md). Missing fields read as "?".
fn memory_use() -> String {
    let field = |text: &str, name: &str| -> String {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
            .unwrap_or_else(|| "?".into())
    };
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let meminfo = fs::read_to_string("/proc/meminfo").unwrap_or_default();
    format!(
        "memory: peak RSS {}, page tables {}; MemTotal {}, MemFree {}",
        field(&status, "VmHWM:"),
        field(&status, "VmPTE:"),
        field(&meminfo, "MemTotal:"),
        field(&meminfo, "MemFree:"),
    )
}

/// fsync a directory (some filesystems refuse; that is not fatal).
pub(crate) fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Write `data` to `path` through a temporary name, fsynced, renamed, with
/// the directory fsynced.
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<()>,
) -> Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    let tmp = PathBuf::from(tmp);
    let result = (|| {
        let f = File::create(&tmp)?;
        let mut w = BufWriter::with_capacity(1 << 16, f);
        write(&mut w)?;
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        fs::rename(&tmp, path)?;
        Ok::<_, anyhow::Error>(())
    })();
    if let Err(e) = result {
        let _ = fs::remove_file(&tmp);
        return Err(e.context(format!("writing {}", path.display())));
    }
    if let Some(p) = path.parent() {
        sync_dir(p);
    }
    Ok(())
}

/// Run `panicdump capture`.
pub fn run_capture(mut args: CaptureArgs) -> Result<ExitCode> {
    let pid1 = std::process::id() == 1;
    if pid1 {
        step("running as init");
        mount_basics();
        load_modules(Path::new("/etc/panicdump/modules.order"));
    }
    if let Some(file) = args.from_cmdline.clone() {
        match fs::read_to_string(&file) {
            Ok(line) => {
                if let Err(e) = apply_cmdline(&mut args, &line) {
                    step(&format!("{}: {e:#}", file.display()));
                }
            }
            Err(e) => step(&format!("cannot read {}: {e}", file.display())),
        }
    }
    let result = capture(&args);
    let (ok, action) = match &result {
        Ok(st) if st.ok => (true, args.on_success),
        Ok(st) => {
            for e in &st.errors {
                step(&format!("error: {e}"));
            }
            (false, args.on_failure)
        }
        Err(e) => {
            step(&format!("error: {e:#}"));
            (false, args.on_failure)
        }
    };
    step(if ok {
        "capture complete"
    } else {
        "capture FAILED"
    });
    act(action);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn capture(args: &CaptureArgs) -> Result<Status> {
    let started = now();
    let target = match (&args.target, &args.target_uuid) {
        (Some(t), _) => t.clone(),
        (None, Some(uuid)) => mount_target(uuid)?.join(&args.target_subdir),
        (None, None) => PathBuf::from("/var/crash"),
    };
    step(&format!("opening {}", args.vmcore.display()));
    // Read, never mapped: the kernel's mmap of /proc/vmcore builds the page
    // tables of the whole dumped memory at once (2 MiB per GiB), which the
    // crash kernel's small reservation cannot spare.
    let dump = dumpfile::Dump::open_unmapped(&args.vmcore)
        .with_context(|| format!("cannot read dump {}", args.vmcore.display()))?;
    let crash_time = dump.vmcoreinfo().and_then(|v| v.crash_time());
    let release = dump
        .vmcoreinfo()
        .and_then(|v| v.osrelease())
        .map(String::from);
    let id = crashdb::time::compact(crash_time.unwrap_or(started));
    fs::create_dir_all(&target).with_context(|| format!("creating {}", target.display()))?;
    let dir = target.join(&id);
    if !dir.exists() {
        fs::create_dir(&dir).with_context(|| format!("creating {}", dir.display()))?;
        sync_dir(&target);
    }
    step(&format!("writing to {}", dir.display()));
    let mut st = Status {
        schema: 1,
        id: id.clone(),
        vmcore: args.vmcore.display().to_string(),
        started,
        crash_time,
        release,
        level: args.level,
        compression: format!("{:?}", args.compress).to_lowercase(),
        ..Status::default()
    };

    // 1. The log first: small, and the most useful piece.
    let dmesg_path = dir.join("dmesg.txt");
    let log = kernel::kernel_memory(&dump)
        .and_then(|k| kmsg::read_log(&k).context("cannot read the kernel log"));
    match log {
        Ok(log) => {
            let r = write_atomic(&dmesg_path, |w| {
                kmsg::write_log(&log, &kmsg::RenderOptions::MAKEDUMPFILE, w)?;
                Ok(())
            });
            match r {
                Ok(()) => {
                    st.dmesg_bytes = fs::metadata(&dmesg_path).ok().map(|m| m.len());
                    step(&format!(
                        "saved the kernel log ({} records) to {}",
                        log.records.len(),
                        dmesg_path.display()
                    ));
                }
                Err(e) => st.errors.push(format!("dmesg: {e:#}")),
            }
        }
        Err(e) => st.errors.push(format!("dmesg: {e:#}")),
    }

    // 2. The dump.
    let t0 = Instant::now();
    match write_dump(&dump, args, &dir.join("vmcore.kdump")) {
        Ok(s) => {
            st.dump_bytes = Some(s.bytes_out);
            st.dump_bytes_in = Some(s.bytes_in);
            if s.unreadable_pages > 0 {
                st.errors
                    .push(format!("dump: {} unreadable page(s)", s.unreadable_pages));
            }
            step(&format!(
                "saved the dump ({} bytes from {} bytes of pages)",
                s.bytes_out, s.bytes_in
            ));
        }
        Err(e) => st.errors.push(format!("dump: {e:#}")),
    }
    st.dump_secs = Some(t0.elapsed().as_secs_f64());
    step(&memory_use());

    // 3. The status, last.
    st.finished = now();
    st.ok = st.errors.is_empty();
    write_atomic(&dir.join("status.json"), |w| {
        serde_json::to_writer_pretty(&mut *w, &st)?;
        w.write_all(b"\n")?;
        Ok(())
    })?;
    sync_dir(&dir);
    sync_dir(&target);
    sys::sync();
    step(&format!("wrote {}", dir.join("status.json").display()));
    Ok(st)
}

fn write_dump(dump: &dumpfile::Dump, args: &CaptureArgs, out: &Path) -> Result<dumpwrite::Summary> {
    let level = dumpwrite::DumpLevel::new(args.level)?;
    let kmem = kernel::kernel_memory(dump);
    let uts = kernel::header_utsname(dump, kmem.as_ref().ok());
    let mut struct_filter = kernel::struct_page_filter(&kmem, args.level)?;
    for n in struct_filter.iter().flat_map(|f| f.notes()) {
        step(&format!("note: {n}"));
    }
    let mut keep_all = dumpwrite::KeepAll;
    let filter: &mut dyn dumpwrite::PageFilter = match struct_filter.as_mut() {
        Some(f) => f,
        None => &mut keep_all,
    };
    let opts = dumpwrite::Options {
        format: dumpwrite::OutputFormat::Kdump,
        compression: args.compress.into(),
        level,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
        utsname: Some(uts),
        // Nothing is mapped: the source is read with pread.
        release_source_pages: false,
    };
    let (tmp, mut sink) = dumpwrite::IncompleteFile::create(out)
        .with_context(|| format!("cannot create {}.incomplete", out.display()))?;
    let mut last = 0u64;
    let mut on_progress = |p: dumpwrite::Progress| {
        let pct = p.done_pfns * 100 / p.total_pfns.max(1);
        if pct >= last + 10 {
            last = pct;
            step(&format!("dump {pct}%"));
        }
    };
    let summary = dumpwrite::write_dump(dump, filter, &opts, &mut sink, &mut on_progress)
        .context("dump not written; the partial output is left flagged incomplete")?;
    tmp.commit()
        .with_context(|| format!("renaming {}.incomplete", out.display()))?;
    Ok(summary)
}

/// As PID 1 nothing is mounted: mount proc, sys and dev (best effort).
fn mount_basics() {
    for (fstype, dir, present) in [
        ("proc", "/proc", "/proc/self"),
        ("sysfs", "/sys", "/sys/class"),
        ("devtmpfs", "/dev", "/dev/zero"),
    ] {
        if Path::new(present).exists() {
            continue;
        }
        let _ = fs::create_dir_all(dir);
        mount(fstype, fstype, dir);
    }
}

fn mount(fstype: &str, dev: &str, dir: &str) -> bool {
    match sys::mount(dev, dir, fstype) {
        Ok(()) => {
            step(&format!("mounted {dev} ({fstype}) on {dir}"));
            true
        }
        Err(e) => {
            step(&format!("mount -t {fstype} {dev} {dir}: {e}"));
            false
        }
    }
}

/// Load the modules listed (absolute paths, in order) in `order`.
///
/// A loaded module's file is then deleted when it lives in a RAM-backed
/// root (the crash kernel's unpacked initramfs): the kernel holds its own
/// copy, and the file's pages (ext4.ko alone is 2 MB) are memory the
/// small `crashkernel=` reservation needs for the dump.
fn load_modules(order: &Path) {
    let Ok(list) = fs::read_to_string(order) else {
        return;
    };
    let mut freed = 0u64;
    for m in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let path = Path::new(m);
        match sys::load_module(path) {
            Ok(()) => step(&format!("loaded {m}")),
            Err(e) if e.raw_os_error() == Some(sys::EEXIST) => {}
            Err(e) => {
                step(&format!("loading {m}: {e}"));
                continue;
            }
        }
        if sys::on_ram_filesystem(path) {
            let len = fs::metadata(path).map_or(0, |md| md.len());
            if fs::remove_file(path).is_ok() {
                freed += len;
            }
        }
    }
    if freed > 0 {
        step(&format!(
            "removed the loaded module files from the initramfs ({freed} bytes freed)"
        ));
    }
}

/// Apply the `panicdump.*` options of a kernel command line.
fn apply_cmdline(args: &mut CaptureArgs, line: &str) -> Result<()> {
    use clap::ValueEnum;
    for w in line.split_whitespace() {
        let Some(opt) = w.strip_prefix("panicdump.") else {
            continue;
        };
        let (k, v) = opt.split_once('=').unwrap_or((opt, ""));
        let bad = |e: String| anyhow::anyhow!("panicdump.{k}={v}: {e}");
        match k {
            "target" => {
                if v.starts_with("UUID=") || v.starts_with("/dev/") {
                    args.target_uuid = Some(v.to_string());
                    args.target = None;
                } else {
                    args.target = Some(PathBuf::from(v));
                    args.target_uuid = None;
                }
            }
            "vmcore" => args.vmcore = PathBuf::from(v),
            "dir" => args.target_subdir = PathBuf::from(v.trim_start_matches('/')),
            "level" => {
                args.level = v
                    .parse::<u8>()
                    .ok()
                    .filter(|l| *l <= 31)
                    .ok_or_else(|| bad("not a level 0-31".into()))?
            }
            "compress" => args.compress = CompressArg::from_str(v, true).map_err(bad)?,
            "on_success" | "on-success" => {
                args.on_success = Action::from_str(v, true).map_err(bad)?
            }
            "on_failure" | "on-failure" => {
                args.on_failure = Action::from_str(v, true).map_err(bad)?
            }
            _ => {}
        }
    }
    Ok(())
}

/// Where the `--target-uuid` filesystem is mounted.
const TARGET_MOUNT: &str = "/run/panicdump-target";

/// Find the block device named by `spec` (`UUID=..`, a bare UUID, or a
/// `/dev/..` path) and mount it on `/run/panicdump-target`. Devices can
/// appear late after their driver loads: retry for ten seconds.
fn mount_target(spec: &str) -> Result<PathBuf> {
    let mut found = None;
    for attempt in 0..20 {
        found = find_device(spec);
        if found.is_some() {
            break;
        }
        if attempt == 0 {
            step(&format!("waiting for {spec}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let Some((dev, fstype)) = found else {
        bail!("no filesystem {spec} found");
    };
    let mnt = PathBuf::from(TARGET_MOUNT);
    fs::create_dir_all(&mnt).with_context(|| format!("creating {}", mnt.display()))?;
    let devs = dev.display().to_string();
    let mnts = mnt.display().to_string();
    if !mount(fstype, &devs, &mnts) {
        bail!("cannot mount {devs} on {mnts}");
    }
    Ok(mnt)
}

/// Unmount the target before the reboot: journaling filesystems would
/// recover, but vfat keeps its dirty bit set when not unmounted ("Volume
/// was not properly unmounted" and a fsck prompt at the next mount).
/// Not mounted (a `--target` directory) is fine.
fn unmount_target() {
    if sys::unmount(TARGET_MOUNT).is_ok() {
        step(&format!("unmounted {TARGET_MOUNT}"));
    }
}

fn find_device(spec: &str) -> Option<(PathBuf, &'static str)> {
    if spec.starts_with("/dev/") {
        let dev = PathBuf::from(spec);
        let (t, _) = probe_superblock(&dev)?;
        return Some((dev, t));
    }
    let want = spec
        .strip_prefix("UUID=")
        .unwrap_or(spec)
        .to_ascii_lowercase();
    let by_uuid = Path::new("/dev/disk/by-uuid").join(&want);
    if let Some((t, _)) = probe_superblock(&by_uuid) {
        return Some((by_uuid, t));
    }
    probe_devices(&want).map(|(d, t)| (d, t.unwrap_or("ext4")))
}

/// Probe `/sys/class/block/*` devices for a superblock with this UUID.
fn probe_devices(want: &str) -> Option<(PathBuf, Option<&'static str>)> {
    let rd = fs::read_dir("/sys/class/block").ok()?;
    for e in rd.flatten() {
        let dev = Path::new("/dev").join(e.file_name());
        if let Some((t, u)) = probe_superblock(&dev) {
            if u == want {
                return Some((dev, Some(t)));
            }
        }
    }
    None
}

fn hex_uuid(b: &[u8]) -> String {
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    if h.len() != 32 {
        return h;
    }
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// Filesystem type and UUID of a device, from its superblock.
fn probe_superblock(dev: &Path) -> Option<(&'static str, String)> {
    use std::io::Read;
    let mut f = File::open(dev).ok()?;
    let mut b = Vec::with_capacity(0x10100);
    (&mut f).take(0x10100).read_to_end(&mut b).ok()?;
    parse_superblock(&b)
}

fn parse_superblock(b: &[u8]) -> Option<(&'static str, String)> {
    let get = |o: usize, n: usize| b.get(o..o + n);
    if get(1024 + 0x38, 2) == Some(&[0x53, 0xef]) {
        return Some(("ext4", hex_uuid(get(1024 + 0x68, 16)?)));
    }
    if get(0, 4) == Some(b"XFSB") {
        return Some(("xfs", hex_uuid(get(32, 16)?)));
    }
    if get(0x10040, 8) == Some(b"_BHRfS_M") {
        return Some(("btrfs", hex_uuid(get(0x10020, 16)?)));
    }
    if get(510, 2) == Some(&[0x55, 0xaa]) {
        let id = if get(0x52, 5) == Some(b"FAT32") {
            get(0x43, 4)?
        } else if get(0x36, 3) == Some(b"FAT") {
            get(0x27, 4)?
        } else {
            return None;
        };
        return Some((
            "vfat",
            format!("{:02x}{:02x}-{:02x}{:02x}", id[3], id[2], id[1], id[0]),
        ));
    }
    None
}

fn act(action: Action) {
    match action {
        Action::None => {}
        Action::Reboot => {
            step("syncing, rebooting");
            unmount_target();
            sys::sync();
            sys::reboot(false);
        }
        Action::Poweroff => {
            step("syncing, powering off");
            unmount_target();
            sys::sync();
            sys::reboot(true);
        }
        Action::Shell => {
            step("starting /bin/sh (exit to reboot)");
            if let Err(e) = std::process::Command::new("/bin/sh").status() {
                step(&format!("/bin/sh: {e}"));
            }
            unmount_target();
            sys::sync();
            sys::reboot(false);
        }
    }
}

/// The few system calls `/init` needs, through the C library std links.
mod sys {
    use std::ffi::CString;
    use std::io;
    use std::os::raw::{c_char, c_int, c_long, c_ulong, c_void};
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::io::AsRawFd;
    use std::path::Path;

    /// `EEXIST`: the module is already loaded (or built in).
    pub const EEXIST: i32 = 17;
    const MODULE_INIT_COMPRESSED_FILE: c_int = 4;
    #[cfg(target_arch = "x86_64")]
    const SYS_FINIT_MODULE: c_long = 313;
    #[cfg(not(target_arch = "x86_64"))]
    const SYS_FINIT_MODULE: c_long = 273; // aarch64, riscv64 (generic table)
    const RB_AUTOBOOT: c_int = 0x0123_4567;
    const RB_POWER_OFF: c_int = 0x4321_fedc;

    extern "C" {
        #[link_name = "mount"]
        fn c_mount(
            src: *const c_char,
            target: *const c_char,
            fstype: *const c_char,
            flags: c_ulong,
            data: *const c_void,
        ) -> c_int;
        fn syscall(num: c_long, ...) -> c_long;
        #[link_name = "reboot"]
        fn c_reboot(cmd: c_int) -> c_int;
        #[link_name = "sync"]
        fn c_sync();
    }

    fn cstr(s: &[u8]) -> io::Result<CString> {
        CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
    }

    /// mount(2) with no flags and no data.
    pub fn mount(src: &str, target: &str, fstype: &str) -> io::Result<()> {
        let (s, t, f) = (
            cstr(src.as_bytes())?,
            cstr(target.as_bytes())?,
            cstr(fstype.as_bytes())?,
        );
        // SAFETY: valid NUL-terminated strings that outlive the call.
        let r = unsafe { c_mount(s.as_ptr(), t.as_ptr(), f.as_ptr(), 0, std::ptr::null()) };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// umount(2), no flags.
    pub fn unmount(target: &str) -> io::Result<()> {
        let t = cstr(target.as_bytes())?;
        // SAFETY: a valid NUL-terminated path that outlives the call.
        if unsafe { libc::umount(t.as_ptr()) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// finit_module(2) of a module file (compressed ones left to the kernel).
    pub fn load_module(path: &Path) -> io::Result<()> {
        let f = std::fs::File::open(path)?;
        let name = path.as_os_str().as_bytes();
        let flags = if [".xz", ".zst", ".gz"]
            .iter()
            .any(|e| name.ends_with(e.as_bytes()))
        {
            MODULE_INIT_COMPRESSED_FILE
        } else {
            0
        };
        let empty = cstr(b"")?;
        // SAFETY: finit_module(fd, params, flags) with an open fd and a
        // NUL-terminated empty parameter string.
        let r = unsafe {
            syscall(
                SYS_FINIT_MODULE,
                f.as_raw_fd() as c_long,
                empty.as_ptr(),
                flags as c_long,
            )
        };
        if r == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// True when `path` is on tmpfs or ramfs (statfs(2)), i.e. its bytes
    /// are held in RAM, as in an unpacked initramfs.
    #[allow(clippy::unnecessary_cast)] // f_type and the magics vary by arch
    pub fn on_ram_filesystem(path: &Path) -> bool {
        let Ok(p) = cstr(path.as_os_str().as_bytes()) else {
            return false;
        };
        // SAFETY: an all-zero statfs is a valid value to be overwritten.
        let mut st: libc::statfs = unsafe { std::mem::zeroed() };
        // SAFETY: valid NUL-terminated path and a live out-pointer.
        if unsafe { libc::statfs(p.as_ptr(), &mut st) } != 0 {
            return false;
        }
        let magic = st.f_type as i64;
        // RAMFS_MAGIC (linux/magic.h); not exported by the libc crate.
        const RAMFS_MAGIC: i64 = 0x8584_58f6;
        magic == libc::TMPFS_MAGIC as i64 || magic == RAMFS_MAGIC
    }

    /// sync(2).
    pub fn sync() {
        // SAFETY: no arguments, cannot fail.
        unsafe { c_sync() }
    }

    /// reboot(2): restart, or power off. Returns only on failure.
    pub fn reboot(power_off: bool) {
        let cmd = if power_off { RB_POWER_OFF } else { RB_AUTOBOOT };
        // SAFETY: plain integer argument.
        if unsafe { c_reboot(cmd) } != 0 {
            eprintln!("panicdump capture: reboot: {}", io::Error::last_os_error());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ram_filesystems_are_told_apart() {
        // Every tmpfs mount the kernel lists is one; /proc never is.
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
        let tmpfs: Vec<&str> = mounts
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split_whitespace().collect();
                (f.get(2) == Some(&"tmpfs")).then(|| f[1])
            })
            // Escaped names and mounts this user cannot reach are skipped.
            .filter(|dir| !dir.contains('\\') && Path::new(dir).metadata().is_ok())
            .collect();
        for dir in &tmpfs {
            assert!(sys::on_ram_filesystem(Path::new(dir)), "{dir}");
        }
        assert!(!sys::on_ram_filesystem(Path::new("/proc/self")));
        assert!(!sys::on_ram_filesystem(Path::new("/nonexistent/x.ko")));
    }

    #[test]
    fn ext4_and_vfat_superblocks() {
        let mut b = vec![0u8; 4096];
        b[1024 + 0x38] = 0x53;
        b[1024 + 0x39] = 0xef;
        for (i, x) in b[1024 + 0x68..1024 + 0x78].iter_mut().enumerate() {
            *x = i as u8;
        }
        assert_eq!(
            parse_superblock(&b),
            Some(("ext4", "00010203-0405-0607-0809-0a0b0c0d0e0f".into()))
        );
        let mut v = vec![0u8; 1024];
        v[510] = 0x55;
        v[511] = 0xaa;
        v[0x52..0x57].copy_from_slice(b"FAT32");
        v[0x43..0x47].copy_from_slice(&[0x78, 0x56, 0x34, 0x12]);
        assert_eq!(parse_superblock(&v), Some(("vfat", "1234-5678".into())));
        assert_eq!(parse_superblock(&[0u8; 100]), None);
    }

    /// A real ext4 image made by mkfs.ext4 (skipped where it is missing).
    #[test]
    fn probes_a_real_ext4_image() {
        let img = std::env::temp_dir().join(format!("panicdump-probe-{}.img", std::process::id()));
        let uuid = "3f1e0c2a-9b7d-4c11-8e21-5a6b7c8d9e0f";
        let made = File::create(&img)
            .and_then(|f| f.set_len(8 << 20))
            .ok()
            .and_then(|_| {
                std::process::Command::new("mkfs.ext4")
                    .args(["-q", "-F", "-U", uuid])
                    .arg(&img)
                    .status()
                    .ok()
            });
        if !made.is_some_and(|s| s.success()) {
            let _ = fs::remove_file(&img);
            eprintln!("skipped: no mkfs.ext4");
            return;
        }
        let got = probe_superblock(&img);
        let _ = fs::remove_file(&img);
        assert_eq!(got, Some(("ext4", uuid.to_string())));
    }

    /// Real xfs, btrfs and vfat (FAT32 and FAT16) images made by their
    /// mkfs: the UUID (volume id for FAT) the capture matches. Skipped where
    /// a tool is missing, except in CI (scripts/install-deps.sh installs them).
    #[test]
    fn probes_real_xfs_btrfs_vfat_images() {
        let cases: [(&str, &[&str], u64, &str, &str); 4] = [
            (
                "mkfs.xfs",
                &[
                    "-f",
                    "-q",
                    "-m",
                    "uuid=0b5e55ed-0000-4000-8000-00000000f5f5",
                ],
                320,
                "xfs",
                "0b5e55ed-0000-4000-8000-00000000f5f5",
            ),
            (
                "mkfs.btrfs",
                &["-f", "-q", "-U", "0b5e55ed-0000-4000-8000-0000000b7f55"],
                128,
                "btrfs",
                "0b5e55ed-0000-4000-8000-0000000b7f55",
            ),
            (
                "mkfs.vfat",
                &["-F", "32", "-i", "5EEDC4A1"],
                64,
                "vfat",
                "5eed-c4a1",
            ),
            (
                "mkfs.vfat",
                &["-F", "16", "-i", "0000BEEF"],
                16,
                "vfat",
                "0000-beef",
            ),
        ];
        for (i, (mkfs, args, mib, fstype, uuid)) in cases.into_iter().enumerate() {
            let img = std::env::temp_dir()
                .join(format!("panicdump-probe-{}-{i}.img", std::process::id()));
            let made = File::create(&img)
                .and_then(|f| f.set_len(mib << 20))
                .and_then(|_| {
                    std::process::Command::new(mkfs)
                        .args(args)
                        .arg(&img)
                        .output()
                });
            let ok = matches!(&made, Ok(o) if o.status.success());
            if !ok {
                let _ = fs::remove_file(&img);
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "{mkfs} {args:?} failed in CI: {made:?}"
                );
                eprintln!("skipped {mkfs}: {made:?}");
                continue;
            }
            let got = probe_superblock(&img);
            let _ = fs::remove_file(&img);
            assert_eq!(got, Some((fstype, uuid.to_string())), "{mkfs} {args:?}");
        }
    }

    #[test]
    fn cmdline_options_override_flags() {
        use clap::Parser;
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: CaptureArgs,
        }
        let mut a = T::parse_from(["t", "--target", "/x"]).a;
        apply_cmdline(
            &mut a,
            "root=/dev/vda1 ro panicdump.capture=1 panicdump.target=UUID=ab-cd \
             panicdump.level=1 panicdump.compress=lzo panicdump.on_failure=shell",
        )
        .unwrap();
        assert_eq!(a.target, None);
        assert_eq!(a.target_uuid.as_deref(), Some("UUID=ab-cd"));
        assert_eq!(a.level, 1);
        assert_eq!(a.compress, CompressArg::Lzo);
        assert_eq!(a.on_failure, Action::Shell);
        assert_eq!(a.on_success, Action::Reboot);
        assert_eq!(a.target_subdir, Path::new("var/crash"));
        apply_cmdline(&mut a, "panicdump.dir=/crash").unwrap();
        assert_eq!(a.target_subdir, Path::new("crash"));
        apply_cmdline(&mut a, "panicdump.target=/var/crash").unwrap();
        assert_eq!(a.target.as_deref(), Some(Path::new("/var/crash")));
        assert!(apply_cmdline(&mut a, "panicdump.level=99").is_err());
        assert!(apply_cmdline(&mut a, "panicdump.on_success=explode").is_err());
    }
}
