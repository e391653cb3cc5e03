//! panicdump's own capture initramfs.
//!
//! The crash kernel runs in the small `crashkernel=` reservation, and its
//! rootfs tmpfs is capped at half of it (lab-notes): every byte of the
//! initramfs counts twice (compressed image in the reservation, unpacked
//! copy in tmpfs). So the archive holds only:
//!
//! - `/init`: the static panicdump binary (no shell, no libc);
//! - the modules needed to reach the dump target, in load order, listed in
//!   `/etc/panicdump/modules.order` so `/init` does not parse `modules.dep`;
//! - a few device nodes the kernel needs before devtmpfs is mounted;
//! - optional small configuration files.
//!
//! A content hash over every input (file bytes included) names the build,
//! so [`build_cached`] rewrites the image only when an input changed.

use crate::cpio::Archive;
use crate::error::{io, Error, Result};
use crate::hash::Fnv128;
use crate::modules::{Module, ModuleDeps};
use flate2::write::GzEncoder;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bumped whenever the archive layout changes, so old caches are rebuilt.
const LAYOUT_VERSION: &str = "panicdump-capture-initramfs-1";
/// Load order of the modules inside the archive.
pub const MODULES_ORDER: &str = "etc/panicdump/modules.order";

/// Compression of the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Plain newc (every kernel unpacks it; largest).
    None,
    /// gzip (`CONFIG_RD_GZIP`, enabled on every distribution kernel).
    #[default]
    Gzip,
    /// zstd (`CONFIG_RD_ZSTD`, Linux ≥ 5.9): smaller than gzip and faster to
    /// unpack; the kernel's decompressor needs single-segment frames, which
    /// the one-shot encoder produces.
    Zstd,
}

/// Inputs of a capture initramfs.
#[derive(Debug, Clone, Default)]
pub struct CaptureSpec {
    /// The static panicdump binary, stored as `/init`.
    pub init: PathBuf,
    /// `/lib/modules/<release>` of the crash kernel.
    pub modules_dir: PathBuf,
    /// Kernel release (directory name inside the archive).
    pub release: String,
    /// Drivers of the block device holding the dump target (`virtio_blk`, `nvme`, `ahci`...).
    pub block_drivers: Vec<String>,
    /// Filesystem types of the dump target (`ext4`, `xfs`...).
    pub filesystems: Vec<String>,
    /// Further modules wanted as they are.
    pub extra_modules: Vec<String>,
    /// Small extra files: (path inside the archive, contents).
    pub files: Vec<(String, Vec<u8>)>,
    /// Compression of the output.
    pub compression: Compression,
}

/// What went into a built archive and how big it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SizeReport {
    /// Size of `/init` (the panicdump binary).
    pub init_bytes: u64,
    /// Modules in load order with their sizes.
    pub modules: Vec<(String, u64)>,
    /// Wanted drivers that are compiled into the kernel (nothing to add).
    pub builtin: Vec<String>,
    /// Optional helpers (soft dependencies) absent from this kernel.
    pub missing_optional: Vec<String>,
    /// Size of the uncompressed newc archive (what the crash kernel's tmpfs holds, roughly).
    pub unpacked_bytes: u64,
    /// Size of the image handed to the kernel.
    pub compressed_bytes: u64,
}

impl SizeReport {
    /// Total size of the modules.
    pub fn modules_bytes(&self) -> u64 {
        self.modules.iter().map(|m| m.1).sum()
    }
}

/// A built archive.
#[derive(Debug, Clone)]
pub struct Built {
    /// The image (compressed as asked).
    pub bytes: Vec<u8>,
    /// Content hash of the inputs.
    pub hash: String,
    /// Sizes.
    pub report: SizeReport,
}

/// A wanted module: required, or an optional helper (a soft dependency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    /// Module name.
    pub name: String,
    /// Whether its absence is an error.
    pub required: bool,
}

fn want(name: &str, required: bool) -> Want {
    Want {
        name: name.to_string(),
        required,
    }
}

/// Modules a block driver needs besides itself.
///
/// modules.dep only lists symbol dependencies: the *bus* a disk sits on
/// (virtio-pci under virtio_blk, the SCSI disk driver above a host adapter)
/// is not a symbol dependency, so it is added here.
pub fn block_modules(driver: &str) -> Vec<Want> {
    let d = crate::modules::module_name(driver);
    match d.as_str() {
        "virtio_blk" => vec![want("virtio_pci", true), want(&d, true)],
        "virtio_scsi" => vec![
            want("virtio_pci", true),
            want(&d, true),
            want("sd_mod", true),
        ],
        "ahci" | "ata_piix" | "mptsas" | "mpt3sas" | "megaraid_sas" | "hpsa" | "smartpqi"
        | "vmw_pvscsi" | "hv_storvsc" | "aacraid" => vec![want(&d, true), want("sd_mod", true)],
        "usb_storage" | "uas" => vec![
            want("xhci_pci", false),
            want("ehci_pci", false),
            want(&d, true),
            want("sd_mod", true),
        ],
        "mmc_block" => vec![want("sdhci_pci", false), want(&d, true)],
        _ => vec![want(&d, true)],
    }
}

/// Modules a filesystem type needs: the driver and its checksum soft
/// dependencies (`softdep ext4 pre: crc32c`, which modules.dep omits).
pub fn fs_modules(fstype: &str) -> Vec<Want> {
    match fstype {
        "ext2" | "ext3" | "ext4" => vec![want("crc32c_generic", false), want("ext4", true)],
        "xfs" | "btrfs" => vec![want("crc32c_generic", false), want(fstype, true)],
        // FAT's default codepage and iocharset are separate modules, and a
        // mount without options fails when the iocharset is absent ("IO
        // charset ascii not found"). The defaults are build options:
        // codepage 437 everywhere; iocharset iso8859-1 upstream, ascii on
        // Debian, utf8 on others. All are a few KiB, so all go in.
        "vfat" | "msdos" => vec![
            want("nls_cp437", false),
            want("nls_iso8859_1", false),
            want("nls_ascii", false),
            want("nls_utf8", false),
            want(fstype, true),
        ],
        other => vec![want(other, true)],
    }
}

impl CaptureSpec {
    /// Every wanted module, in the order asked.
    pub fn wants(&self) -> Vec<Want> {
        let mut out: Vec<Want> = Vec::new();
        let all = self
            .block_drivers
            .iter()
            .flat_map(|d| block_modules(d))
            .chain(self.filesystems.iter().flat_map(|f| fs_modules(f)))
            .chain(self.extra_modules.iter().map(|m| want(m, true)));
        for w in all {
            match out.iter_mut().find(|x| x.name == w.name) {
                Some(x) => x.required |= w.required,
                None => out.push(w),
            }
        }
        out
    }

    /// Resolve modules against `modules.dep`: (load order, built-in names,
    /// absent optional names). A required name that is neither a module
    /// nor built in is an error.
    pub fn resolve(&self, deps: &ModuleDeps) -> Result<(Vec<Module>, Vec<String>, Vec<String>)> {
        let (mut names, mut builtin, mut missing) = (Vec::new(), Vec::new(), Vec::new());
        for w in self.wants() {
            if deps.has(&w.name) {
                names.push(w.name);
            } else if deps.is_builtin(&w.name) {
                builtin.push(w.name);
            } else if w.required {
                return Err(Error::Modules {
                    path: deps.dir().join("modules.dep"),
                    msg: format!(
                        "{} is neither a module nor listed in modules.builtin",
                        w.name
                    ),
                });
            } else {
                missing.push(w.name);
            }
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        Ok((deps.closure(&refs)?, builtin, missing))
    }

    /// Content hash of every input: layout version, release, resolved
    /// module list and bytes, `/init` bytes, extra files, compression.
    pub fn input_hash(&self, deps: &ModuleDeps) -> Result<String> {
        let (modules, builtin, _) = self.resolve(deps)?;
        let mut h = Fnv128::new();
        h.field(LAYOUT_VERSION.as_bytes());
        h.field(self.release.as_bytes());
        h.field(format!("{:?}", self.compression).as_bytes());
        h.field(&read(&self.init)?);
        for m in &modules {
            h.field(m.rel_path.as_bytes());
            h.field(&read(&self.modules_dir.join(&m.rel_path))?);
        }
        for b in &builtin {
            h.field(b.as_bytes());
        }
        for (path, data) in &self.files {
            h.field(path.as_bytes());
            h.field(data);
        }
        Ok(h.hex())
    }

    /// Build the archive.
    pub fn build(&self) -> Result<Built> {
        if self.release.is_empty() || self.release.contains('/') {
            return Err(Error::Spec(format!(
                "bad kernel release {:?}",
                self.release
            )));
        }
        let deps = ModuleDeps::load(&self.modules_dir)?;
        let hash = self.input_hash(&deps)?;
        let (modules, builtin, missing_optional) = self.resolve(&deps)?;
        let mut a = Archive::new();
        for d in ["proc", "sys", "dev", "run", "mnt", "etc/panicdump"] {
            a.dir(d, 0o755)?;
        }
        a.dir("tmp", 0o1777)?;
        // The kernel opens /dev/console for init before devtmpfs exists.
        a.char_dev("dev/console", 0o600, 5, 1)?;
        a.char_dev("dev/null", 0o666, 1, 3)?;
        let init = read(&self.init)?;
        let mut report = SizeReport {
            init_bytes: init.len() as u64,
            builtin,
            missing_optional,
            ..SizeReport::default()
        };
        a.file("init", 0o755, init)?;
        let moddir = format!("lib/modules/{}", self.release);
        let mut order = String::new();
        for m in &modules {
            let data = read(&self.modules_dir.join(&m.rel_path))?;
            report.modules.push((m.name.clone(), data.len() as u64));
            a.file(&format!("{moddir}/{}", m.rel_path), 0o644, data)?;
            order.push_str(&format!("/{moddir}/{}\n", m.rel_path));
        }
        a.file(MODULES_ORDER, 0o644, order.into_bytes())?;
        for (path, data) in &self.files {
            a.file(path, 0o644, data.clone())?;
        }
        let raw = a
            .write_newc(Vec::new())
            .map_err(|e| Error::Cpio(e.to_string()))?;
        report.unpacked_bytes = raw.len() as u64;
        let bytes = match self.compression {
            Compression::None => raw,
            Compression::Gzip => {
                let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::best());
                enc.write_all(&raw)
                    .and_then(|_| enc.finish())
                    .map_err(|e| Error::Cpio(e.to_string()))?
            }
            Compression::Zstd => {
                zstd::bulk::compress(&raw, 19).map_err(|e| Error::Cpio(format!("zstd: {e}")))?
            }
        };
        report.compressed_bytes = bytes.len() as u64;
        Ok(Built {
            bytes,
            hash,
            report,
        })
    }
}

/// Result of [`build_cached`].
#[derive(Debug, Clone)]
pub enum Cached {
    /// The image at the output path already matched the inputs.
    UpToDate {
        /// Content hash of the inputs.
        hash: String,
        /// Size of the existing image.
        bytes: u64,
    },
    /// The image was (re)written.
    Rebuilt(SizeReport, String),
}

/// Path of the hash sidecar of an image.
pub fn hash_path(out: &Path) -> PathBuf {
    let mut s = out.as_os_str().to_owned();
    s.push(".hash");
    PathBuf::from(s)
}

/// Build into `out` unless `out` exists and its `.hash` sidecar matches the
/// inputs. The image is written to a temporary name and renamed, and the
/// sidecar last, so an interrupted build is never taken as up to date.
pub fn build_cached(spec: &CaptureSpec, out: &Path) -> Result<Cached> {
    let deps = ModuleDeps::load(&spec.modules_dir)?;
    let hash = spec.input_hash(&deps)?;
    let side = hash_path(out);
    if let (Ok(old), Ok(meta)) = (std::fs::read_to_string(&side), std::fs::metadata(out)) {
        if old.trim() == hash {
            return Ok(Cached::UpToDate {
                hash,
                bytes: meta.len(),
            });
        }
    }
    let built = spec.build()?;
    let mut tmp = out.as_os_str().to_owned();
    tmp.push(".incomplete");
    let tmp = PathBuf::from(tmp);
    std::fs::write(&tmp, &built.bytes).map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, out).map_err(io("rename", &tmp))?;
    std::fs::write(&side, format!("{}\n", built.hash)).map_err(io("write", &side))?;
    Ok(Cached::Rebuilt(built.report, built.hash))
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(io("read", path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpio::parse_newc;
    use std::io::Read;

    /// A fake modules tree in a temp dir.
    fn fake_tree(tag: &str) -> (PathBuf, CaptureSpec) {
        let dir =
            std::env::temp_dir().join(format!("initramfs-capture-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let md = dir.join("lib/modules/6.1.0-test");
        let dep = "\
kernel/v/virtio_ring.ko:
kernel/v/virtio.ko: kernel/v/virtio_ring.ko
kernel/v/virtio_pci.ko: kernel/v/virtio.ko kernel/v/virtio_ring.ko
kernel/b/virtio_blk.ko: kernel/v/virtio.ko kernel/v/virtio_ring.ko
kernel/lib/crc16.ko:
kernel/fs/jbd2.ko:
kernel/fs/mbcache.ko:
kernel/fs/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2.ko
";
        for line in dep.lines() {
            let rel = line.split(':').next().unwrap();
            let p = md.join(rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, format!("module {rel}")).unwrap();
        }
        std::fs::write(md.join("modules.dep"), dep).unwrap();
        std::fs::write(
            md.join("modules.builtin"),
            "kernel/crypto/crc32c_generic.ko\n",
        )
        .unwrap();
        let init = dir.join("panicdump");
        std::fs::write(&init, b"\x7fELF static").unwrap();
        let spec = CaptureSpec {
            init,
            modules_dir: md,
            release: "6.1.0-test".into(),
            block_drivers: vec!["virtio_blk".into()],
            filesystems: vec!["ext4".into()],
            ..CaptureSpec::default()
        };
        (dir, spec)
    }

    #[test]
    fn virtio_ext4_layout() {
        let (dir, spec) = fake_tree("layout");
        let b = spec.build().unwrap();
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&b.bytes[..])
            .read_to_end(&mut raw)
            .unwrap();
        assert_eq!(raw.len() as u64, b.report.unpacked_bytes);
        let e = parse_newc(&raw).unwrap();
        let find = |n: &str| e.iter().find(|x| x.name == n);
        assert_eq!(find("init").unwrap().mode, 0o100755);
        assert_eq!(find("init").unwrap().data, b"\x7fELF static");
        assert_eq!(find("dev/console").unwrap().rdev, (5, 1));
        let order = String::from_utf8(find(MODULES_ORDER).unwrap().data.clone()).unwrap();
        let names: Vec<_> = b.report.modules.iter().map(|m| m.0.as_str()).collect();
        assert_eq!(
            names,
            [
                "virtio_ring",
                "virtio",
                "virtio_pci",
                "virtio_blk",
                "crc16",
                "mbcache",
                "jbd2",
                "ext4"
            ]
        );
        assert!(order.starts_with("/lib/modules/6.1.0-test/kernel/v/virtio_ring.ko\n"));
        assert_eq!(b.report.builtin, ["crc32c_generic"]);
        assert!(find("lib/modules/6.1.0-test/kernel/fs/ext4.ko").is_some());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn zstd_round_trip() {
        let (dir, spec) = fake_tree("zstd");
        let plain = CaptureSpec {
            compression: Compression::None,
            ..spec.clone()
        }
        .build()
        .unwrap();
        let z = CaptureSpec {
            compression: Compression::Zstd,
            ..spec
        }
        .build()
        .unwrap();
        assert_ne!(plain.hash, z.hash);
        let raw = zstd::bulk::decompress(&z.bytes, 1 << 24).unwrap();
        assert_eq!(raw, plain.bytes);
        assert_eq!(z.report.unpacked_bytes, plain.bytes.len() as u64);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// vfat's mount loads its default iocharset (Debian: ascii) and
    /// codepage; btrfs and xfs checksum with crc32c, a soft dependency.
    #[test]
    fn filesystem_soft_dependencies() {
        let names =
            |fs: &str| -> Vec<String> { fs_modules(fs).into_iter().map(|w| w.name).collect() };
        let vfat = names("vfat");
        for nls in ["nls_cp437", "nls_ascii", "nls_iso8859_1", "nls_utf8"] {
            assert!(vfat.iter().any(|n| n == nls), "vfat lacks {nls}: {vfat:?}");
        }
        assert!(fs_modules("vfat")
            .iter()
            .all(|w| w.required == (w.name == "vfat")));
        for fs in ["xfs", "btrfs"] {
            assert_eq!(names(fs), ["crc32c_generic", fs]);
        }
    }

    #[test]
    fn missing_required_module_is_an_error() {
        let (dir, mut spec) = fake_tree("missing");
        spec.filesystems = vec!["xfs".into()];
        let err = spec.build().unwrap_err().to_string();
        assert!(err.contains("xfs is neither a module"), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn cache_rebuilds_only_on_change() {
        let (dir, spec) = fake_tree("cache");
        let out = dir.join("capture.img");
        assert!(matches!(
            build_cached(&spec, &out).unwrap(),
            Cached::Rebuilt(..)
        ));
        assert!(matches!(
            build_cached(&spec, &out).unwrap(),
            Cached::UpToDate { .. }
        ));
        // A changed module (same path) changes the hash.
        let ext4 = spec.modules_dir.join("kernel/fs/ext4.ko");
        std::fs::write(&ext4, b"new ext4").unwrap();
        assert!(matches!(
            build_cached(&spec, &out).unwrap(),
            Cached::Rebuilt(..)
        ));
        // Asking for a module already in the closure changes nothing...
        let mut s2 = spec.clone();
        s2.extra_modules.push("crc16".into());
        assert!(matches!(
            build_cached(&s2, &out).unwrap(),
            Cached::UpToDate { .. }
        ));
        // ...a new file does.
        s2.files
            .push(("etc/panicdump/target".into(), b"UUID=x".to_vec()));
        assert!(matches!(
            build_cached(&s2, &out).unwrap(),
            Cached::Rebuilt(..)
        ));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn wants_merge_duplicates() {
        let spec = CaptureSpec {
            block_drivers: vec!["virtio_blk".into(), "virtio_scsi".into()],
            filesystems: vec!["ext4".into()],
            ..CaptureSpec::default()
        };
        let names: Vec<_> = spec.wants().into_iter().map(|w| w.name).collect();
        assert_eq!(
            names,
            [
                "virtio_pci",
                "virtio_blk",
                "virtio_scsi",
                "sd_mod",
                "crc32c_generic",
                "ext4"
            ]
        );
    }

    /// The real virtio + ext4 case on this machine's kernel: measured size.
    #[test]
    fn real_virtio_ext4_size() {
        let Some(md) = std::fs::read_dir("/lib/modules")
            .ok()
            .and_then(|mut r| r.find_map(|e| e.ok()))
            .map(|e| e.path())
            .filter(|p| p.join("modules.dep").exists())
        else {
            eprintln!("no /lib/modules/*/modules.dep; skipping");
            return;
        };
        // Any sizeable static-ish binary stands in for panicdump when the
        // real one is not built.
        let init = std::env::var_os("PANICDUMP_STATIC_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/bin/busybox"));
        if !init.is_file() {
            return;
        }
        let spec = CaptureSpec {
            init,
            release: md.file_name().unwrap().to_string_lossy().into_owned(),
            modules_dir: md,
            block_drivers: vec!["virtio_blk".into()],
            filesystems: vec!["ext4".into()],
            ..CaptureSpec::default()
        };
        let mut b = spec.build().unwrap();
        let zstd = CaptureSpec {
            compression: Compression::Zstd,
            ..spec.clone()
        }
        .build()
        .unwrap();
        assert!(zstd.bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]));
        eprintln!("virtio+ext4 zstd: {} B", zstd.report.compressed_bytes);
        b.report.compressed_bytes = b.report.compressed_bytes.max(zstd.report.compressed_bytes);
        eprintln!(
            "virtio+ext4: init {} B, {} modules {} B, unpacked {} B, gzip {} B",
            b.report.init_bytes,
            b.report.modules.len(),
            b.report.modules_bytes(),
            b.report.unpacked_bytes,
            b.report.compressed_bytes
        );
        assert!(b.report.compressed_bytes <= 8 << 20);
    }
}
