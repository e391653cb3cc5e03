//! Recipes and their parameters.

use crate::error::{LabError, Result};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What a lab run produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Recipe {
    /// A kdump `/proc/vmcore` (ELF) saved by the crash kernel after `sysrq-c`.
    Kdump,
    /// QEMU `dump-guest-memory` of one paused guest, as ELF and kdump-zlib (flattened).
    QemuDump,
    /// ramoops records left by a panic and collected after a warm reset.
    Pstore,
    /// The crash kernel loaded by `panicdump arm` (its own `kexec_file_load`)
    /// instead of `kexec -p`; proves the crash kernel reaches `/init` with
    /// `/proc/vmcore` (no vmcore is kept).
    ArmKdump,
    /// The whole capture chain: `panicdump arm` with its own capture
    /// initramfs, `sysrq-c`, `panicdump capture` as the crash kernel's
    /// `/init` writing to an ext4 disk found by UUID, reboot, and
    /// `panicdump collect` in the second boot.
    Chain,
}

impl Recipe {
    /// Every recipe.
    pub const ALL: [Recipe; 5] = [
        Recipe::Kdump,
        Recipe::QemuDump,
        Recipe::Pstore,
        Recipe::ArmKdump,
        Recipe::Chain,
    ];

    /// Name used on the command line and in cache keys.
    pub fn name(self) -> &'static str {
        match self {
            Recipe::Kdump => "kdump",
            Recipe::QemuDump => "qemu-dump",
            Recipe::Pstore => "pstore",
            Recipe::ArmKdump => "arm-kdump",
            Recipe::Chain => "chain",
        }
    }

    /// Whether the recipe reserves memory with `crashkernel=` and panics into a crash kernel.
    pub fn uses_crash_kernel(self) -> bool {
        matches!(self, Recipe::Kdump | Recipe::ArmKdump | Recipe::Chain)
    }
}

impl fmt::Display for Recipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Recipe {
    type Err = LabError;
    fn from_str(s: &str) -> Result<Self> {
        Recipe::ALL
            .into_iter()
            .find(|r| r.name() == s)
            .ok_or_else(|| {
                LabError::Param(format!(
                    "unknown recipe {s:?} (kdump, qemu-dump, pstore, arm-kdump, chain)"
                ))
            })
    }
}

/// Guest parameters of one run; they are part of the cache key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    /// Guest RAM in MiB (`-m`).
    pub memory_mib: u32,
    /// Virtual CPUs (`-smp`).
    pub smp: u32,
    /// `crashkernel=` reservation (kdump only), e.g. `256M`.
    pub crashkernel: String,
}

impl Default for Params {
    fn default() -> Self {
        Self {
            memory_mib: 1024,
            smp: 1,
            crashkernel: "256M".into(),
        }
    }
}

impl Params {
    /// Check the values are usable.
    pub fn validate(&self, recipe: Recipe) -> Result<()> {
        if !(256..=16384).contains(&self.memory_mib) {
            return Err(LabError::Param(format!(
                "memory {} MiB out of range 256..=16384",
                self.memory_mib
            )));
        }
        if !(1..=8).contains(&self.smp) {
            return Err(LabError::Param(format!(
                "smp {} out of range 1..=8",
                self.smp
            )));
        }
        if recipe.uses_crash_kernel() {
            let mib = parse_size_mib(&self.crashkernel)?;
            // Below ~64M kexec finds no hole; the rest of RAM must hold the first kernel.
            if mib < 64 || mib + 192 > u64::from(self.memory_mib) {
                return Err(LabError::Param(format!(
                    "crashkernel={} must be >= 64M and leave 192M for the first kernel of a {} MiB guest",
                    self.crashkernel, self.memory_mib
                )));
            }
        }
        Ok(())
    }

    /// Directory name of an artifact, e.g. `kdump-m1024-ck256M`.
    pub fn key(&self, recipe: Recipe) -> String {
        let mut k = format!("{}-m{}", recipe.name(), self.memory_mib);
        if self.smp != 1 {
            k.push_str(&format!("-smp{}", self.smp));
        }
        if recipe.uses_crash_kernel() {
            k.push_str(&format!("-ck{}", self.crashkernel));
        }
        k
    }
}

/// Parse `256M`, `1G`, `262144K` into MiB (plain `crashkernel=` sizes only).
pub fn parse_size_mib(s: &str) -> Result<u64> {
    let bad = || LabError::Param(format!("bad size {s:?} (use e.g. 256M)"));
    let (num, mult_kib) = match s.chars().last() {
        Some('K' | 'k') => (&s[..s.len() - 1], 1u64),
        Some('M' | 'm') => (&s[..s.len() - 1], 1024),
        Some('G' | 'g') => (&s[..s.len() - 1], 1024 * 1024),
        _ => return Err(bad()),
    };
    let n: u64 = num.parse().map_err(|_| bad())?;
    n.checked_mul(mult_kib).map(|k| k / 1024).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipe_names_round_trip() {
        for r in Recipe::ALL {
            assert_eq!(r.name().parse::<Recipe>().unwrap(), r);
        }
        assert!("nope".parse::<Recipe>().is_err());
    }

    #[test]
    fn keys() {
        let p = Params::default();
        assert_eq!(p.key(Recipe::Kdump), "kdump-m1024-ck256M");
        assert_eq!(p.key(Recipe::QemuDump), "qemu-dump-m1024");
        let p = Params {
            smp: 2,
            memory_mib: 2048,
            ..Params::default()
        };
        assert_eq!(p.key(Recipe::Pstore), "pstore-m2048-smp2");
    }

    #[test]
    fn sizes_and_validation() {
        assert_eq!(parse_size_mib("256M").unwrap(), 256);
        assert_eq!(parse_size_mib("1G").unwrap(), 1024);
        assert_eq!(parse_size_mib("131072K").unwrap(), 128);
        assert!(parse_size_mib("256").is_err());
        assert!(Params::default().validate(Recipe::Kdump).is_ok());
        let p = Params {
            crashkernel: "32M".into(),
            ..Params::default()
        };
        assert!(p.validate(Recipe::Kdump).is_err());
        assert!(p.validate(Recipe::Pstore).is_ok());
        let p = Params {
            memory_mib: 100,
            ..Params::default()
        };
        assert!(p.validate(Recipe::QemuDump).is_err());
    }
}
