//! The dump target's drivers, found in /proc/mounts and /sys (under a [`Root`]).
//!
//! The capture initramfs needs the filesystem of the target directory and
//! every driver between the disk and the bus: `/sys/class/block/vda1` is a
//! partition of `vda`, whose `device` is a virtio device bound to
//! `virtio_blk`, whose parent PCI function is bound to `virtio_pci`.

use crate::root::Root;
use std::path::{Path, PathBuf};

/// What was found for a target directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// Mount source (`/dev/vda1`).
    pub source: String,
    /// Filesystem type (`ext4`).
    pub fstype: String,
    /// Drivers from the disk up to the bus, innermost first (`virtio_blk`, `virtio_pci`).
    pub drivers: Vec<String>,
}

/// The mount holding `dir`: (source, fstype) of the longest matching mount point.
pub fn mount_of(mounts: &str, dir: &str) -> Option<(String, String)> {
    let mut best: Option<(usize, String, String)> = None;
    for l in mounts.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        let [src, mnt, fstype, ..] = f[..] else {
            continue;
        };
        // Mount points escape spaces as \040.
        let mnt = mnt.replace("\\040", " ");
        let inside = dir == mnt
            || mnt == "/"
            || dir
                .strip_prefix(mnt.as_str())
                .is_some_and(|r| r.starts_with('/'));
        // Later lines shadow earlier ones on the same mount point.
        if inside && best.as_ref().is_none_or(|b| mnt.len() >= b.0) {
            best = Some((mnt.len(), src.to_string(), fstype.to_string()));
        }
    }
    best.map(|(_, s, t)| (s, t))
}

fn link_name(p: &Path) -> Option<String> {
    std::fs::read_link(p)
        .ok()?
        .file_name()
        .map(|n| n.to_string_lossy().replace('-', "_"))
}

/// Drivers of block device `name` (`vda1`, `nvme0n1p2`), innermost first.
pub fn block_drivers(root: &Root, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Ok(mut dev) = std::fs::canonicalize(root.path(format!("/sys/class/block/{name}"))) else {
        return out;
    };
    // A partition has no `device`: its disk (the parent directory) does.
    if !dev.join("device").exists() {
        dev.pop();
    }
    let Ok(mut cur) = std::fs::canonicalize(dev.join("device")) else {
        return out;
    };
    let top = root.path("/sys/devices");
    while cur.starts_with(&top) && cur != top {
        // The module name (driver/module) is what modprobe wants; a
        // built-in driver has no module link and keeps its driver name.
        let name = link_name(&cur.join("driver/module")).or_else(|| link_name(&cur.join("driver")));
        if let Some(n) = name {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        cur.pop();
    }
    out
}

/// Find the target of directory `dir` (an absolute path on the system).
pub fn find(root: &Root, dir: &str) -> Option<Target> {
    let mounts = std::fs::read_to_string(root.path("/proc/mounts")).ok()?;
    let (source, fstype) = mount_of(&mounts, dir)?;
    let dev: PathBuf = source.strip_prefix("/dev/").map(PathBuf::from)?;
    let name = dev.file_name()?.to_string_lossy().into_owned();
    Some(Target {
        drivers: block_drivers(root, &name),
        source,
        fstype,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn mounts() {
        let m = "\
/dev/vda1 / ext4 rw 0 0
proc /proc proc rw 0 0
/dev/vdb1 /var/crash xfs rw 0 0
/dev/vdc1 /var/crash\\040x btrfs rw 0 0
";
        assert_eq!(mount_of(m, "/var/crash/2024").unwrap().1, "xfs");
        assert_eq!(mount_of(m, "/var/crashes").unwrap().1, "ext4");
        assert_eq!(mount_of(m, "/var/crash x").unwrap().1, "btrfs");
        assert_eq!(mount_of(m, "/").unwrap().0, "/dev/vda1");
    }

    /// A sysfs tree shaped like QEMU's virtio disk, with relative links as in sysfs.
    #[test]
    fn virtio_partition_drivers() {
        let dir = std::env::temp_dir().join(format!("arm-target-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let pci = dir.join("sys/devices/pci0000:00/0000:00:04.0");
        let disk = pci.join("virtio1/block/vda");
        std::fs::create_dir_all(disk.join("vda1")).unwrap();
        std::fs::create_dir_all(dir.join("sys/class/block")).unwrap();
        std::fs::create_dir_all(dir.join("sys/bus/virtio/drivers/virtio_blk")).unwrap();
        std::fs::create_dir_all(dir.join("sys/bus/pci/drivers/virtio-pci")).unwrap();
        std::fs::create_dir_all(dir.join("sys/module/virtio_blk")).unwrap();
        std::fs::create_dir_all(dir.join("sys/module/virtio_pci")).unwrap();
        std::fs::create_dir_all(dir.join("proc")).unwrap();
        symlink(
            "../../devices/pci0000:00/0000:00:04.0/virtio1/block/vda/vda1",
            dir.join("sys/class/block/vda1"),
        )
        .unwrap();
        symlink("../../../virtio1", disk.join("device")).unwrap();
        symlink(
            "../../../../bus/virtio/drivers/virtio_blk",
            pci.join("virtio1/driver"),
        )
        .unwrap();
        symlink(
            "../../../../module/virtio_blk",
            dir.join("sys/bus/virtio/drivers/virtio_blk/module"),
        )
        .unwrap();
        symlink("../../../bus/pci/drivers/virtio-pci", pci.join("driver")).unwrap();
        symlink(
            "../../../../module/virtio_pci",
            dir.join("sys/bus/pci/drivers/virtio-pci/module"),
        )
        .unwrap();
        std::fs::write(dir.join("proc/mounts"), "/dev/vda1 / ext4 rw 0 0\n").unwrap();
        let t = find(&Root::new(&dir), "/var/crash").unwrap();
        assert_eq!(
            t,
            Target {
                source: "/dev/vda1".into(),
                fstype: "ext4".into(),
                drivers: vec!["virtio_blk".into(), "virtio_pci".into()],
            }
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
