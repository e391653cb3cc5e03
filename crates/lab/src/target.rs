//! The capture chain to dump targets other than ext4 (xfs, btrfs, vfat).
//!
//! Same chain as [`crate::Recipe::Chain`]: `panicdump arm --fs <type>`
//! builds its capture initramfs, `sysrq-c`, `panicdump capture` as the
//! crash kernel's `/init` finds the target by its filesystem UUID (a volume
//! id such as `5EED-C4A1` for vfat), writes the log, a `-d 31` dump and its
//! status, reboots, and `panicdump collect` records the crash in the second
//! boot. The host then reads the disk without mounting it: `mcopy -s`
//! (vfat), `btrfs restore` (btrfs). XFS has no userspace extractor in the
//! distribution's xfsprogs, so the second boot archives the two directories
//! with busybox `cpio` onto a second raw disk, which the host parses.
//!
//! Artifacts are cached under `<root>/<release>/target-<fs>-m<MiB>-ck<size>/`.

use crate::artifact::load_meta;
use crate::cache::{self, Fingerprint};
use crate::cmdline::{self, Disk, QemuSpec};
use crate::error::{IoContext, LabError, Result};
use crate::host::{self, Kernel};
use crate::init::{
    load_modules_fn, prelude, Fill, CHAIN_DUMP_DIR, CHAIN_SERIAL, CHAIN_STATE_DIR, CRASH_KERNEL,
    MARKER_PREFIX, OUT_SERIAL,
};
use crate::initramfs::{self, Contents};
use crate::lab::Lab;
use crate::modules::{Module, ModuleDeps};
use crate::params::{Params, Recipe};
use crate::progress::Progress;
use crate::qemu::{PhaseMark, QemuRun};
use crate::run::{random_token, round, Tools, CHAIN_OUT_DIR};
use crate::scenario::KDUMP_LOG_BUF_LEN;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::str::FromStr;
use std::time::Instant;

/// Filesystem of the dump target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetFs {
    /// XFS (`mkfs.xfs -m uuid=`).
    Xfs,
    /// Btrfs, one device (`mkfs.btrfs -U`).
    Btrfs,
    /// FAT32 (`mkfs.vfat -i`), found by its volume id.
    Vfat,
}

impl TargetFs {
    /// Every filesystem.
    pub const ALL: [TargetFs; 3] = [TargetFs::Xfs, TargetFs::Btrfs, TargetFs::Vfat];

    /// Name for `mount -t` and `panicdump arm --fs`.
    pub fn name(self) -> &'static str {
        match self {
            TargetFs::Xfs => "xfs",
            TargetFs::Btrfs => "btrfs",
            TargetFs::Vfat => "vfat",
        }
    }

    /// The UUID the host gives the filesystem and the capture looks for
    /// (`panicdump.target=UUID=...`).
    pub fn uuid(self) -> &'static str {
        match self {
            TargetFs::Xfs => "5eed1ab0-c4a1-4d0e-9a11-0000000c4a1f",
            TargetFs::Btrfs => "5eed1ab0-c4a1-4d0e-9a11-0000000c4a20",
            // FAT has a 32-bit volume id, shown as XXXX-XXXX.
            TargetFs::Vfat => "5EED-C4A1",
        }
    }

    /// Program and package making the filesystem.
    fn mkfs(self) -> (&'static str, &'static str) {
        match self {
            TargetFs::Xfs => ("mkfs.xfs", "xfsprogs"),
            TargetFs::Btrfs => ("mkfs.btrfs", "btrfs-progs"),
            TargetFs::Vfat => ("mkfs.vfat", "dosfstools"),
        }
    }

    /// Arguments of [`Self::mkfs`] before the image path.
    fn mkfs_args(self) -> Vec<String> {
        let v = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        match self {
            TargetFs::Xfs => v(&["-f", "-q", "-L", "pdchain", "-m"])
                .into_iter()
                .chain([format!("uuid={}", self.uuid())])
                .collect(),
            TargetFs::Btrfs => v(&["-f", "-q", "-L", "pdchain", "-U", self.uuid()]),
            TargetFs::Vfat => v(&[
                "-F",
                "32",
                "-n",
                "PDCHAIN",
                "-i",
                &self.uuid().replace('-', ""),
            ]),
        }
    }
}

impl fmt::Display for TargetFs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for TargetFs {
    type Err = LabError;
    fn from_str(s: &str) -> Result<Self> {
        TargetFs::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| LabError::Param(format!("unknown target fs {s:?} (xfs, btrfs, vfat)")))
    }
}

/// Guest parameters of a target run: 1 GiB and `crashkernel=160M`, as the
/// kdump scenarios.
pub fn default_params() -> Params {
    Params {
        memory_mib: 1024,
        smp: 1,
        crashkernel: "160M".into(),
    }
}

/// Cache directory name of a run.
pub fn key(fs: TargetFs, params: &Params) -> String {
    let mut k = format!("target-{fs}-m{}", params.memory_mib);
    if params.smp != 1 {
        k.push_str(&format!("-smp{}", params.smp));
    }
    k.push_str(&format!("-ck{}", params.crashkernel));
    k
}

/// `target.json` of a finished run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TargetMeta {
    /// The filesystem.
    pub fs: TargetFs,
    /// Guest parameters.
    pub params: Params,
    /// Guest kernel release.
    pub release: String,
    /// Kernel command line of the first boot.
    pub cmdline: String,
    /// The marker line written to `/dev/kmsg` before the panic.
    pub marker: String,
    /// Exit status of `panicdump collect` in the second boot.
    pub collect_rc: i32,
    /// `panicdump arm estimate` in the guest, e.g. `crashkernel=96M`.
    pub estimate: Option<String>,
    /// Size of the capture initramfs `panicdump arm` built.
    pub capture_initrd_bytes: Option<u64>,
    /// How the host read the disk (`mcopy -s`, `btrfs restore`, `guest cpio`).
    pub extracted_with: String,
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

/// A finished target run.
#[derive(Debug, Clone)]
pub struct TargetOutcome {
    /// Artifact directory.
    pub dir: PathBuf,
    /// Its `target.json`.
    pub meta: TargetMeta,
}

const META_FILE: &str = "target.json";
/// Size of the sparse target disk.
const DISK_MIB: u64 = 1024;
/// Size of the sparse raw disk the xfs run's second boot writes its cpio to.
const OUT_MIB: u64 = 512;

impl TargetOutcome {
    /// Load a complete run.
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

    /// The disk's capture directory, as extracted by the host.
    pub fn dump_dir(&self) -> PathBuf {
        self.dir.join(CHAIN_OUT_DIR).join(CHAIN_DUMP_DIR)
    }

    /// The disk's state directory of `panicdump collect`, as extracted.
    pub fn state_dir(&self) -> PathBuf {
        self.dir.join(CHAIN_OUT_DIR).join(CHAIN_STATE_DIR)
    }
}

impl Lab {
    /// The capture chain to a `fs` target with [`default_params`].
    pub fn target_chain(&self, fs: TargetFs) -> Result<TargetOutcome> {
        self.target_chain_with(fs, &default_params(), false)
    }

    /// The capture chain to a `fs` target, or its complete cached run built
    /// from the same inputs (see [`crate::cache`]) unless `force`.
    pub fn target_chain_with(
        &self,
        fs: TargetFs,
        params: &Params,
        force: bool,
    ) -> Result<TargetOutcome> {
        params.validate(Recipe::Chain)?;
        let kernel = self.kernel()?;
        let dir = self.root().join(&kernel.release).join(key(fs, params));
        let progress = Progress::new(&key(fs, params), self.config().progress);
        let fp = fingerprint(self, &kernel, fs, params, &progress)?;
        cache::reuse_or_build(
            &dir,
            META_FILE,
            &fp,
            force,
            &progress,
            TargetOutcome::load,
            |dir| run_target(self, &kernel, fs, params, dir, &progress),
        )
    }
}

/// The inputs a target run is built from (see [`crate::cache`]).
fn fingerprint(
    lab: &Lab,
    kernel: &Kernel,
    fs: TargetFs,
    params: &Params,
    progress: &Progress,
) -> Result<Fingerprint> {
    let (insmods, _) = resolve_modules(kernel, fs)?;
    Ok(
        crate::run::base_fingerprint(lab, kernel, Recipe::Chain, progress)?
            .with(cache::IN_RUN, key(fs, params))
            .with(
                cache::IN_CMDLINE,
                guest_cmdline(params, cache::TOKEN_PLACEHOLDER),
            )
            .with_bytes(
                cache::IN_INIT,
                init_script(fs, &kernel.release, &insmods).as_bytes(),
            ),
    )
}

/// The modules of a target guest: their paths under the modules directory
/// (the order `/init` loads them in) and the modules themselves.
fn resolve_modules(kernel: &Kernel, fs: TargetFs) -> Result<(Vec<String>, Vec<Module>)> {
    let deps = ModuleDeps::load(&kernel.modules_dir)?;
    let names = guest_modules(fs);
    let wanted: Vec<&str> = names
        .iter()
        .map(String::as_str)
        .filter(|m| deps.has(m))
        .collect();
    let modules = deps.closure(&wanted)?;
    let insmods = modules.iter().map(|m| m.rel_path.clone()).collect();
    Ok((insmods, modules))
}

/// Kernel command line of a target run's first boot.
fn guest_cmdline(params: &Params, token: &str) -> String {
    [
        "console=ttyS0,115200".to_string(),
        "panic=1".into(),
        "loglevel=6".into(),
        // See the scenarios: the IO-APIC timer check fails under a loaded TCG host.
        "no_timer_check".into(),
        format!("crashkernel={}", params.crashkernel),
        format!("log_buf_len={KDUMP_LOG_BUF_LEN}"),
        format!("{}={token}", cmdline::TOKEN_PARAM),
    ]
    .join(" ")
}

/// Modules the guest's `/init` loads: the disk and what `panicdump arm
/// --fs` puts in the capture initramfs (so both boots can mount it too).
fn guest_modules(fs: TargetFs) -> Vec<String> {
    ["virtio_pci", "virtio_blk"]
        .into_iter()
        .map(String::from)
        .chain(
            ::initramfs::capture::fs_modules(fs.name())
                .into_iter()
                .map(|w| w.name),
        )
        .collect()
}

/// The guest's `/init` of a target run.
pub fn init_script(fs: TargetFs, release: &str, insmods: &[String]) -> String {
    let mut s = prelude(Fill::UNUSED);
    s.push_str(&load_modules_fn(
        release,
        insmods.iter().map(|m| (m.as_str(), "")),
    ));
    // XFS: no host extractor, so the second boot archives the directories
    // onto a raw disk (busybox cpio, independent of panicdump).
    let archive = if fs == TargetFs::Xfs {
        format!(
            r#"OUT=$(find_disk {OUT_SERIAL}) || fail "no output disk"
    (cd /mnt/disk && find {CHAIN_DUMP_DIR} {CHAIN_STATE_DIR} | cpio -o -H newc > /tmp/out.cpio) || fail "cpio"
    say "cpio-bytes $(stat -c %s /tmp/out.cpio)"
    dd if=/tmp/out.cpio of="$OUT" bs=1M 2>/dev/null || fail "dd cpio"
    "#
        )
    } else {
        String::new()
    };
    s.push_str(&format!(
        r#"say "init target {fs} on $(uname -r)"
load_modules
DISK=$(find_disk {CHAIN_SERIAL}) || fail "no target disk"
mkdir -p /mnt/disk
mount -t {fs} "$DISK" /mnt/disk || fail "mount $DISK"
if [ -e /mnt/disk/lab-armed ]; then
    phase collect
    ls -lR /mnt/disk/{CHAIN_DUMP_DIR}
    panicdump collect --dump-dir /mnt/disk/{CHAIN_DUMP_DIR} \
        --state-dir /mnt/disk/{CHAIN_STATE_DIR} --json > /tmp/collect.json
    RC=$?
    cat /tmp/collect.json
    {archive}umount /mnt/disk || sync
    sync
    say "collected $RC"
    poweroff -f
    sleep 30
fi
echo "$TOKEN" > /mnt/disk/lab-armed
mkdir -p /mnt/disk/{CHAIN_DUMP_DIR}
umount /mnt/disk || fail "umount $DISK"
phase arm
panicdump arm --kernel /{CRASH_KERNEL} --initrd-out /tmp/capture.img \
    --block-driver virtio_blk --fs {fs} --no-pstore \
    --append panicdump.target=UUID={uuid} --append panicdump.dir={CHAIN_DUMP_DIR} \
    --append panicdump.on_success=reboot --append panicdump.on_failure=reboot \
    || fail "panicdump arm"
[ "$(cat /sys/kernel/kexec_crash_loaded)" = 1 ] || fail "crash kernel not loaded"
say "capture-initrd-bytes $(stat -c %s /tmp/capture.img)"
EST=$(panicdump arm estimate --kernel /{CRASH_KERNEL} --initrd /tmp/capture.img) || fail "panicdump arm estimate"
echo "$EST"
say "estimate $(echo "$EST" | grep -o 'crashkernel=[0-9]*[KMG]' | head -1)"
say "armed $(cat /proc/sys/kernel/panic_on_oops)"
marker
crash
"#,
        uuid = fs.uuid(),
    ));
    s
}

/// A sparse image of `mib` MiB holding an empty `fs` with its UUID.
pub fn make_image(fs: TargetFs, path: &Path, mib: u64) -> Result<()> {
    let f = std::fs::File::create(path).ctx("create", path)?;
    f.set_len(mib << 20).ctx("resize", path)?;
    drop(f);
    let (name, package) = fs.mkfs();
    let mkfs = host::find_program(None, name, package)?;
    let out = Command::new(&mkfs)
        .args(fs.mkfs_args())
        .arg(path)
        .output()
        .ctx("run", &mkfs)?;
    tool_ok(&mkfs.display().to_string(), &out)
}

fn tool_ok(program: &str, out: &std::process::Output) -> Result<()> {
    if out.status.success() {
        return Ok(());
    }
    Err(LabError::Tool {
        program: program.to_string(),
        msg: format!(
            "{}: {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        ),
    })
}

/// Copy the capture and state directories out of a vfat or btrfs image
/// into `dest` without mounting it; returns the tool used.
pub fn extract_image(fs: TargetFs, image: &Path, dest: &Path) -> Result<&'static str> {
    std::fs::create_dir_all(dest).ctx("create", dest)?;
    let used = match fs {
        TargetFs::Vfat => {
            let mcopy = host::find_program(None, "mcopy", "mtools")?;
            let out = Command::new(&mcopy)
                // No ~/.mtoolsrc needed; the image is not a floppy.
                .env("MTOOLS_SKIP_CHECK", "1")
                .arg("-s")
                .arg("-n")
                .arg("-i")
                .arg(image)
                .args([
                    format!("::/{CHAIN_DUMP_DIR}"),
                    format!("::/{CHAIN_STATE_DIR}"),
                ])
                .arg(dest)
                .output()
                .ctx("run", &mcopy)?;
            tool_ok(&format!("{} -s", mcopy.display()), &out)?;
            "mcopy -s"
        }
        TargetFs::Btrfs => {
            let btrfs = host::find_program(None, "btrfs", "btrfs-progs")?;
            let out = Command::new(&btrfs)
                .arg("restore")
                .arg(image)
                .arg(dest)
                .output()
                .ctx("run", &btrfs)?;
            tool_ok(&format!("{} restore", btrfs.display()), &out)?;
            "btrfs restore"
        }
        TargetFs::Xfs => {
            return Err(LabError::Param(
                "xfs images are read through the guest's cpio".into(),
            ))
        }
    };
    for d in [CHAIN_DUMP_DIR, CHAIN_STATE_DIR] {
        if !dest.join(d).is_dir() {
            return Err(LabError::Tool {
                program: used.into(),
                msg: format!("/{d} not extracted into {}", dest.display()),
            });
        }
    }
    Ok(used)
}

/// Write the members of a newc archive (relative paths only) under `dest`.
pub fn unpack_cpio(archive: &[u8], dest: &Path) -> Result<usize> {
    let entries =
        crate::cpio::parse_newc(archive).map_err(|e| LabError::Cpio(format!("guest cpio: {e}")))?;
    let mut n = 0;
    for e in entries {
        let name = e.name.trim_start_matches("./");
        if name.is_empty()
            || name.starts_with('/')
            || name.split('/').any(|c| c == ".." || c == ".")
        {
            return Err(LabError::Cpio(format!("unsafe member name {:?}", e.name)));
        }
        let path = dest.join(name);
        match e.mode & 0o170000 {
            0o040000 => std::fs::create_dir_all(&path).ctx("create", &path)?,
            0o100000 => {
                if let Some(p) = path.parent() {
                    std::fs::create_dir_all(p).ctx("create", p)?;
                }
                std::fs::write(&path, &e.data).ctx("write", &path)?;
                n += 1;
            }
            _ => {}
        }
    }
    Ok(n)
}

fn run_target(
    lab: &Lab,
    kernel: &Kernel,
    fs: TargetFs,
    params: &Params,
    dir: &Path,
    progress: &Progress,
) -> Result<TargetMeta> {
    let start = Instant::now();
    let tools = Tools::find(lab, Recipe::Chain, progress)?;
    let token = random_token()?;

    let (insmods, modules) = resolve_modules(kernel, fs)?;
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
        CRASH_KERNEL.to_string(),
        std::fs::read(&kernel.path).ctx("read", &kernel.path)?,
    ));
    let contents = Contents {
        kernel,
        busybox: &tools.busybox,
        kexec: None,
        panicdump: &tools.panicdump,
        modules: &modules,
        init: init_script(fs, &kernel.release, &insmods),
        extra_files,
    };
    // Uncompressed, as the scenarios: gzip in a debug build is slower than
    // the kernel unpacking the plain archive.
    let initrd = initramfs::base_archive(&contents)?
        .write_newc(Vec::new())
        .map_err(|e| LabError::Cpio(e.to_string()))?;
    let initrd_path = dir.join("initramfs.cpio");
    std::fs::write(&initrd_path, &initrd).ctx("write", &initrd_path)?;

    let guest_cmdline = guest_cmdline(params, &token);

    let disk = dir.join("disk.img");
    make_image(fs, &disk, DISK_MIB)?;
    let mut disks = vec![Disk {
        path: disk.clone(),
        serial: CHAIN_SERIAL.into(),
    }];
    let out = dir.join("out.img");
    if fs == TargetFs::Xfs {
        let f = std::fs::File::create(&out).ctx("create", &out)?;
        f.set_len(OUT_MIB << 20).ctx("resize", &out)?;
        disks.push(Disk {
            path: out.clone(),
            serial: OUT_SERIAL.into(),
        });
    }
    let spec = QemuSpec {
        qemu: &tools.qemu,
        kernel: &kernel.path,
        initrd: &initrd_path,
        cmdline: guest_cmdline.clone(),
        params,
        disks,
        qmp: None,
        // The capture reboots the guest into the collecting boot.
        no_reboot: false,
        vmcoreinfo: false,
    };
    let argv = cmdline::qemu_argv(&spec);
    let t = Instant::now();
    let mut run = QemuRun::spawn(
        &argv,
        &dir.join("console.log"),
        &dir.join("qemu.stderr"),
        lab.timeout,
        &key(fs, params),
        // First kernel, crash kernel, collecting boot.
        3,
        progress.clone(),
    )?;
    let capture_initrd_bytes = run.wait_for("capture-initrd-bytes")?.parse().ok();
    let estimate = Some(run.wait_for("estimate")?).filter(|e| !e.is_empty());
    let armed = run.wait_for("armed")?;
    progress.note(&format!(
        "armed (panic_on_oops {armed}); capture initramfs {capture_initrd_bytes:?} B, estimate {estimate:?}"
    ));
    let cpio_bytes = if fs == TargetFs::Xfs {
        Some(run.wait_for("cpio-bytes")?)
    } else {
        None
    };
    let rc = run.wait_for("collected")?;
    run.wait_exit()?;
    let qemu_s = t.elapsed().as_secs_f64();
    let dest = dir.join(CHAIN_OUT_DIR);
    let extracted_with = match cpio_bytes {
        Some(n) => {
            let n: usize = n
                .parse()
                .map_err(|_| run.fail(&format!("bad cpio size {n:?}")))?;
            let mut buf = std::fs::read(&out).ctx("read", &out)?;
            if n > buf.len() {
                return Err(run.fail(&format!("cpio of {n} bytes exceeds the output disk")));
            }
            buf.truncate(n);
            std::fs::create_dir_all(&dest).ctx("create", &dest)?;
            let files = unpack_cpio(&buf, &dest)
                .map_err(|e| run.fail(&format!("reading the guest's cpio: {e}")))?;
            progress.note(&format!("{files} file(s) from the guest's cpio"));
            "guest cpio"
        }
        None => extract_image(fs, &disk, &dest)
            .map_err(|e| run.fail(&format!("reading the disk: {e}")))?,
    };
    let phases = run.phases().to_vec();
    drop(run);
    let _ = std::fs::remove_file(&disk);
    let _ = std::fs::remove_file(&out);
    let _ = std::fs::remove_file(&initrd_path);
    Ok(TargetMeta {
        fs,
        params: params.clone(),
        release: kernel.release.clone(),
        cmdline: guest_cmdline,
        marker: format!("{MARKER_PREFIX} {token}"),
        collect_rc: rc.parse().unwrap_or(-1),
        estimate,
        capture_initrd_bytes,
        extracted_with: extracted_with.into(),
        phases,
        qemu_s: round(qemu_s),
        total_s: round(start.elapsed().as_secs_f64()),
        fingerprint: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        for fs in TargetFs::ALL {
            assert_eq!(fs.name().parse::<TargetFs>().unwrap(), fs);
        }
        assert!("ext3".parse::<TargetFs>().is_err());
        assert_eq!(
            key(TargetFs::Btrfs, &default_params()),
            "target-btrfs-m1024-ck160M"
        );
        assert!(TargetFs::Vfat
            .mkfs_args()
            .windows(2)
            .any(|w| w == ["-i", "5EEDC4A1"]));
    }

    #[test]
    fn scripts_parse() {
        for fs in TargetFs::ALL {
            let s = init_script(fs, "6.1.0-test", &["kernel/fs/xfs/xfs.ko".into()]);
            assert!(!s.contains('@'), "{fs}: placeholder left");
            assert!(s.contains(&format!("--fs {fs}")));
            assert!(s.contains(&format!("panicdump.target=UUID={}", fs.uuid())));
            assert_eq!(s.contains("cpio -o -H newc"), fs == TargetFs::Xfs);
            let path = std::env::temp_dir()
                .join(format!("panicdump-lab-target-{}-{fs}", std::process::id()));
            std::fs::write(&path, &s).unwrap();
            let st = Command::new("sh").arg("-n").arg(&path).status();
            let _ = std::fs::remove_file(&path);
            if let Ok(st) = st {
                assert!(st.success(), "{fs}: sh -n failed");
            }
        }
    }

    #[test]
    fn cpio_unpack_refuses_escapes() {
        let mut a = crate::cpio::Archive::new();
        a.dir("crash", 0o755).unwrap();
        a.file("crash/x/status.json", 0o644, b"{}".to_vec())
            .unwrap();
        let bytes = a.write_newc(Vec::new()).unwrap();
        let dest = std::env::temp_dir().join(format!("pd-lab-unpack-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dest);
        assert_eq!(unpack_cpio(&bytes, &dest).unwrap(), 1);
        assert_eq!(
            std::fs::read(dest.join("crash/x/status.json")).unwrap(),
            b"{}"
        );
        let mut bad = crate::cpio::Archive::new();
        bad.file("aa/evil", 0o644, b"x".to_vec()).unwrap();
        // The builder refuses `..`; patch the name in place (same length).
        let mut bytes = bad.write_newc(Vec::new()).unwrap();
        let at = bytes.windows(7).position(|w| w == b"aa/evil").unwrap();
        bytes[at..at + 2].copy_from_slice(b"..");
        assert!(unpack_cpio(&bytes, &dest).is_err());
        let _ = std::fs::remove_dir_all(&dest);
    }
}
