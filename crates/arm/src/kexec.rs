//! `kexec_file_load(2)`: the kernel reads and (if configured) verifies the
//! capture kernel and initramfs itself, from file descriptors. Unlike the
//! older `kexec_load(2)` used by `kexec -p`, there is no userspace image
//! parsing and it works under lockdown with a signed kernel.

use std::ffi::CString;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Unload the current image instead of loading one (`include/uapi/linux/kexec.h`).
pub const KEXEC_FILE_UNLOAD: u64 = 0x1;
/// Load into the crash kernel reservation (run on panic).
pub const KEXEC_FILE_ON_CRASH: u64 = 0x2;
/// No initramfs: the initrd descriptor is ignored.
pub const KEXEC_FILE_NO_INITRAMFS: u64 = 0x4;

/// System call number of `kexec_file_load` on x86_64.
#[cfg(target_arch = "x86_64")]
const SYS_KEXEC_FILE_LOAD: libc::c_long = 320;

/// Why the kernel refused, from the errno of `kexec_file_load`.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KexecError {
    /// EPERM: not root (CAP_SYS_BOOT), `kernel.kexec_load_disabled=1`, or lockdown.
    #[error("kexec_file_load: permission denied (EPERM): run as root; check kernel.kexec_load_disabled and lockdown (/sys/kernel/security/lockdown)")]
    Permission,
    /// EKEYREJECTED, EBADMSG, ENOKEY, ENODATA: signature verification failed or a signature is missing.
    #[error("kexec_file_load: the kernel image's signature was rejected or is missing ({0}): use the distribution's signed vmlinuz, or disable lockdown/KEXEC_SIG_FORCE")]
    Signature(&'static str),
    /// ENOMEM, EADDRNOTAVAIL: the crash reservation is missing or too small.
    #[error("kexec_file_load: no room in the crash kernel reservation ({errno}); reserved {reserved}: add or raise crashkernel= on the kernel command line (see `panicdump estimate`) and reboot")]
    NoReservation {
        /// The errno name.
        errno: &'static str,
        /// Reserved size as read from /sys/kernel/kexec_crash_size, if known.
        reserved: String,
    },
    /// ENOEXEC: not a kernel image this kernel can load (e.g. not a bzImage).
    #[error("kexec_file_load: not a loadable kernel image (ENOEXEC): pass a bzImage (vmlinuz), not vmlinux or an EFI zboot image")]
    NotAKernel,
    /// ENOSYS: the running kernel was built without CONFIG_KEXEC_FILE.
    #[error(
        "kexec_file_load: not supported by the running kernel (ENOSYS, CONFIG_KEXEC_FILE unset)"
    )]
    Unsupported,
    /// EBUSY: another kexec operation is in progress.
    #[error("kexec_file_load: another kexec load is in progress (EBUSY); retry")]
    Busy,
    /// EINVAL: bad flags or command line (too long, or no NUL).
    #[error(
        "kexec_file_load: invalid argument (EINVAL): command line too long or flags not supported"
    )]
    Invalid,
    /// EFBIG: an image larger than the kernel accepts.
    #[error("kexec_file_load: kernel or initramfs too large (EFBIG)")]
    TooBig,
    /// The command line contains a NUL byte.
    #[error("capture command line contains a NUL byte")]
    NulInCmdline,
    /// Opening an input failed.
    #[error("open {}: {msg}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// The error text.
        msg: String,
    },
    /// Any other errno.
    #[error("kexec_file_load failed: {0}")]
    Other(String),
}

impl KexecError {
    /// Map an errno of `kexec_file_load` to its likely cause. `reserved` is
    /// the crash reservation as read from sysfs, for the message.
    pub fn from_errno(errno: i32, reserved: Option<u64>) -> Self {
        let reserved = match reserved {
            Some(0) => "nothing (no crashkernel=)".to_string(),
            Some(n) => format!("{} MiB", n >> 20),
            None => "unknown".to_string(),
        };
        match errno {
            libc::EPERM => Self::Permission,
            libc::EKEYREJECTED => Self::Signature("EKEYREJECTED"),
            libc::EBADMSG => Self::Signature("EBADMSG"),
            libc::ENOKEY => Self::Signature("ENOKEY"),
            libc::ENODATA => Self::Signature("ENODATA"),
            libc::ENOMEM => Self::NoReservation {
                errno: "ENOMEM",
                reserved,
            },
            libc::EADDRNOTAVAIL => Self::NoReservation {
                errno: "EADDRNOTAVAIL",
                reserved,
            },
            libc::ENOEXEC => Self::NotAKernel,
            libc::ENOSYS => Self::Unsupported,
            libc::EBUSY => Self::Busy,
            libc::EINVAL => Self::Invalid,
            libc::EFBIG => Self::TooBig,
            e => Self::Other(std::io::Error::from_raw_os_error(e).to_string()),
        }
    }
}

/// What to load into the crash reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KexecLoad {
    /// The capture kernel (bzImage).
    pub kernel: PathBuf,
    /// Its initramfs; `None` loads without one.
    pub initrd: Option<PathBuf>,
    /// Its command line.
    pub cmdline: String,
}

/// Raw syscall wrapper; returns the errno on failure.
#[cfg(target_arch = "x86_64")]
fn sys_kexec_file_load(
    kernel_fd: i32,
    initrd_fd: i32,
    cmdline: &CString,
    flags: u64,
) -> Result<(), i32> {
    let bytes = cmdline.as_bytes_with_nul();
    // The length counts the terminating NUL; an empty line is passed as length 0.
    let (len, ptr) = if bytes.len() <= 1 {
        (0usize, std::ptr::null())
    } else {
        (bytes.len(), bytes.as_ptr())
    };
    // SAFETY: the descriptors are open (or -1 where the kernel ignores
    // them), `ptr` points to `len` readable bytes that outlive the call.
    let r = unsafe {
        libc::syscall(
            SYS_KEXEC_FILE_LOAD,
            kernel_fd as libc::c_long,
            initrd_fd as libc::c_long,
            len as libc::c_ulong,
            ptr,
            flags as libc::c_ulong,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error()
            .raw_os_error()
            .unwrap_or(libc::EIO))
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn sys_kexec_file_load(_: i32, _: i32, _: &CString, _: u64) -> Result<(), i32> {
    Err(libc::ENOSYS)
}

fn open(path: &Path) -> Result<std::fs::File, KexecError> {
    std::fs::File::open(path).map_err(|e| KexecError::Open {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })
}

/// Load the capture kernel into the crash reservation (`KEXEC_FILE_ON_CRASH`).
/// `reserved` is only used to explain a failure.
pub fn load_on_crash(l: &KexecLoad, reserved: Option<u64>) -> Result<(), KexecError> {
    let cmdline = CString::new(l.cmdline.as_bytes()).map_err(|_| KexecError::NulInCmdline)?;
    let kernel = open(&l.kernel)?;
    let initrd = l.initrd.as_deref().map(open).transpose()?;
    let mut flags = KEXEC_FILE_ON_CRASH;
    let initrd_fd = match &initrd {
        Some(f) => f.as_raw_fd(),
        None => {
            flags |= KEXEC_FILE_NO_INITRAMFS;
            -1
        }
    };
    sys_kexec_file_load(kernel.as_raw_fd(), initrd_fd, &cmdline, flags)
        .map_err(|e| KexecError::from_errno(e, reserved))
}

/// Unload the crash kernel (`KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH`).
pub fn unload_on_crash() -> Result<(), KexecError> {
    let empty = CString::default();
    sys_kexec_file_load(-1, -1, &empty, KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH)
        .map_err(|e| KexecError::from_errno(e, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_table() {
        let cases: &[(i32, &str)] = &[
            (libc::EPERM, "EPERM"),
            (libc::EKEYREJECTED, "signature"),
            (libc::EBADMSG, "EBADMSG"),
            (libc::ENOKEY, "ENOKEY"),
            (libc::ENOMEM, "crashkernel="),
            (libc::EADDRNOTAVAIL, "EADDRNOTAVAIL"),
            (libc::ENOEXEC, "bzImage"),
            (libc::ENOSYS, "CONFIG_KEXEC_FILE"),
            (libc::EBUSY, "EBUSY"),
            (libc::EINVAL, "EINVAL"),
            (libc::EFBIG, "EFBIG"),
            (libc::EIO, "failed"),
        ];
        for (errno, needle) in cases {
            let msg = KexecError::from_errno(*errno, Some(0)).to_string();
            assert!(msg.contains(needle), "errno {errno}: {msg}");
        }
        assert!(KexecError::from_errno(libc::ENOMEM, Some(0))
            .to_string()
            .contains("nothing (no crashkernel=)"));
        assert!(KexecError::from_errno(libc::ENOMEM, Some(64 << 20))
            .to_string()
            .contains("64 MiB"));
        assert_eq!(
            KexecError::from_errno(libc::EPERM, None),
            KexecError::Permission
        );
    }

    #[test]
    fn flags_match_uapi() {
        assert_eq!(KEXEC_FILE_UNLOAD | KEXEC_FILE_ON_CRASH, 3);
        assert_eq!(KEXEC_FILE_NO_INITRAMFS, 4);
    }

    #[test]
    fn load_errors_before_syscall() {
        let l = KexecLoad {
            kernel: "/nonexistent/vmlinuz".into(),
            initrd: None,
            cmdline: "a\0b".into(),
        };
        assert_eq!(load_on_crash(&l, None), Err(KexecError::NulInCmdline));
        let l = KexecLoad {
            cmdline: "console=ttyS0".into(),
            ..l
        };
        assert!(matches!(
            load_on_crash(&l, None),
            Err(KexecError::Open { .. })
        ));
    }
}
