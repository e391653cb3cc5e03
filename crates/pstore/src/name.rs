//! Record names: `/sys/fs/pstore` file names and efi-pstore variable names.
//!
//! The kernel names files `<type>-<backend>-<id>[.enc.z]` (`pstore_mkfile`);
//! 3.x kernels left the id out for console/ftrace. efi-pstore stores one UEFI
//! variable per part, named `dump-type<T>-<part>-<count>-<secs>-<C|D>`, and
//! packs those numbers into the record id that ends up in the file name.

use crate::error::NameError;

/// Suffix the kernel appends when it could not decompress a record.
pub const COMPRESSED_SUFFIX: &str = ".enc.z";

/// Which pstore frontend wrote a record (`enum pstore_type_id`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RecordType {
    /// Kernel log dumped by kmsg_dump (panic, oops, ...).
    Dmesg,
    /// Machine-check record.
    Mce,
    /// Console output of the previous boot.
    Console,
    /// Function trace.
    Ftrace,
    /// powerpc RTAS error log.
    Rtas,
    /// powerpc OF config partition.
    PowerpcOfw,
    /// powerpc common partition.
    PowerpcCommon,
    /// Userspace messages written to /dev/pmsg0.
    Pmsg,
    /// powerpc OPAL log.
    PowerpcOpal,
    /// A type name or number this crate does not know.
    Unknown(String),
}

/// Type names in the order of their numbers (`pstore_type_names`).
const TYPE_NAMES: [&str; 9] = [
    "dmesg",
    "mce",
    "console",
    "ftrace",
    "rtas",
    "powerpc-ofw",
    "powerpc-common",
    "pmsg",
    "powerpc-opal",
];

impl RecordType {
    fn all() -> [RecordType; 9] {
        use RecordType::*;
        [
            Dmesg,
            Mce,
            Console,
            Ftrace,
            Rtas,
            PowerpcOfw,
            PowerpcCommon,
            Pmsg,
            PowerpcOpal,
        ]
    }

    /// The type for a `pstore_type_id` number (efi variable names carry it).
    pub fn from_number(n: u32) -> RecordType {
        Self::all()
            .into_iter()
            .nth(n as usize)
            .unwrap_or_else(|| RecordType::Unknown(format!("type{n}")))
    }

    /// The name used in file names (`dmesg`, `powerpc-ofw`, ...).
    pub fn name(&self) -> &str {
        match self {
            RecordType::Unknown(s) => s,
            known => {
                let i = Self::all().iter().position(|t| t == known).unwrap_or(0);
                TYPE_NAMES[i]
            }
        }
    }
}

/// Which storage backend holds a record.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Backend {
    /// Persistent RAM (`ramoops`).
    Ramoops,
    /// UEFI variables (`efi` before v6.2, `efi_pstore` after).
    Efi,
    /// ACPI Error Record Serialization Table.
    Erst,
    /// pstore/blk and pstore/zone on a block or MTD device.
    PstoreBlk,
    /// powerpc NVRAM partitions.
    Nvram,
    /// Any other backend name, kept verbatim.
    Unknown(String),
}

impl Backend {
    /// Map a backend name as it appears in file names.
    pub fn from_name(s: &str) -> Backend {
        match s {
            "ramoops" => Backend::Ramoops,
            "efi" | "efi_pstore" => Backend::Efi,
            "erst" => Backend::Erst,
            "pstore_blk" | "pstore_zone" | "mtdpstore" => Backend::PstoreBlk,
            "nvram" => Backend::Nvram,
            other => Backend::Unknown(other.to_string()),
        }
    }
}

/// A parsed `/sys/fs/pstore` file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordName {
    /// Frontend type.
    pub rtype: RecordType,
    /// Backend.
    pub backend: Backend,
    /// Backend name exactly as in the file name (`efi` vs `efi_pstore`).
    pub backend_name: String,
    /// Record id; `None` for 3.x names such as `console-ramoops`.
    pub id: Option<u64>,
    /// The `.enc.z` suffix: the kernel could not decompress the record.
    pub compressed: bool,
}

impl RecordName {
    /// Parse a file name. Unknown types and backends are kept as
    /// `Unknown`; only names that cannot be a pstore file are rejected.
    pub fn parse(name: &str) -> Result<RecordName, NameError> {
        let bad = || NameError::NotARecord(name.to_string());
        if name.is_empty() || name.contains('/') || name.contains('\0') {
            return Err(bad());
        }
        let (stem, compressed) = match name.strip_suffix(COMPRESSED_SUFFIX) {
            Some(s) => (s, true),
            None => (name, false),
        };
        // Longest known type first: "powerpc-ofw" must win over a split at
        // the first dash.
        let known = RecordType::all()
            .into_iter()
            .filter_map(|t| {
                let rest = stem.strip_prefix(t.name())?.strip_prefix('-')?;
                Some((t.name().len(), t, rest))
            })
            .max_by_key(|(len, _, _)| *len);
        let (rtype, rest) = match known {
            Some((_, t, rest)) => (t, rest),
            None => {
                let (t, rest) = stem.split_once('-').ok_or_else(bad)?;
                (RecordType::Unknown(t.to_string()), rest)
            }
        };
        if rest.is_empty() || matches!(&rtype, RecordType::Unknown(t) if t.is_empty()) {
            return Err(bad());
        }
        let (backend_name, id) = match rest.rsplit_once('-') {
            Some((b, digits)) if !b.is_empty() && is_decimal(digits) => {
                // Ids above u64::MAX cannot be written by the kernel.
                (b, Some(digits.parse::<u64>().map_err(|_| bad())?))
            }
            _ => (rest, None),
        };
        Ok(RecordName {
            rtype,
            backend: Backend::from_name(backend_name),
            backend_name: backend_name.to_string(),
            id,
            compressed,
        })
    }

    /// For efi records, the fields packed into the id.
    pub fn efi_id(&self) -> Option<EfiId> {
        match (&self.backend, self.id) {
            (Backend::Efi, Some(id)) => Some(EfiId::decode(id)),
            _ => None,
        }
    }
}

fn is_decimal(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The fields of an efi-pstore record id
/// `(timestamp * 100 + part) * 1000 + count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EfiId {
    /// Seconds since the epoch when the part was written.
    pub timestamp: u64,
    /// Part number (1 = newest text); only meaningful below 100.
    pub part: u32,
    /// Oops count of the boot; only meaningful below 1000.
    pub count: u32,
}

impl EfiId {
    /// Split an id into its fields.
    pub fn decode(id: u64) -> EfiId {
        EfiId {
            timestamp: id / 100_000,
            part: ((id / 1000) % 100) as u32,
            count: (id % 1000) as u32,
        }
    }

    /// The record id the kernel computes (wrapping like its u64 maths).
    pub fn encode(timestamp: u64, part: u32, count: i32) -> u64 {
        timestamp
            .wrapping_mul(100)
            .wrapping_add(u64::from(part))
            .wrapping_mul(1000)
            .wrapping_add(count as i64 as u64)
    }
}

/// The GUID efi-pstore variables live under (`LINUX_EFI_CRASH_GUID`).
pub const EFI_CRASH_GUID: &str = "cfc8fc79-be2e-4ddc-97f0-9f98bfe298a0";

/// A parsed efi-pstore variable name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EfiVarName {
    /// Frontend type (from the `type%u` number).
    pub rtype: RecordType,
    /// Raw type number.
    pub type_number: u32,
    /// Part number (1 = newest text).
    pub part: u32,
    /// Oops count; 0 for the oldest 3-field names.
    pub count: i32,
    /// Seconds since the epoch.
    pub timestamp: u64,
    /// `C` flag; `None` for names older than the flag.
    pub compressed: Option<bool>,
    /// The record id the kernel derives, as seen in `dmesg-efi-<id>`.
    pub id: u64,
}

impl EfiVarName {
    /// Parse `dump-type%u-%u-%d-%llu-%c`, `dump-type%u-%u-%d-%llu` or
    /// `dump-type%u-%u-%llu`, optionally followed by `-<GUID>` as efivarfs
    /// shows it.
    pub fn parse(name: &str) -> Result<EfiVarName, NameError> {
        let bad = || NameError::NotEfiVariable(name.to_string());
        let mut body = name;
        // efivarfs appends "-" and a 36-character GUID.
        if body.len() > 37 && body.is_char_boundary(body.len() - 37) {
            let (head, tail) = body.split_at(body.len() - 37);
            if tail.starts_with('-') && looks_like_guid(&tail[1..]) {
                body = head;
            }
        }
        let rest = body.strip_prefix("dump-type").ok_or_else(bad)?;
        let mut s = Scanner(rest.as_bytes());
        let type_number = s.unsigned().ok_or_else(bad)?;
        let type_number = u32::try_from(type_number).map_err(|_| bad())?;
        s.dash().ok_or_else(bad)?;
        let part = s
            .unsigned()
            .and_then(|p| u32::try_from(p).ok())
            .ok_or_else(bad)?;
        s.dash().ok_or_else(bad)?;
        // Try the 4/5-field forms first (like the kernel), on a copy.
        let mut full = Scanner(s.0);
        let four = full.signed().and_then(|count| {
            full.dash()?;
            let time = full.unsigned()?;
            Some((count, time))
        });
        let (count, timestamp, compressed) = match four {
            Some((count, time)) => {
                let count = i32::try_from(count).map_err(|_| bad())?;
                let flag = match full.0 {
                    [] => None,
                    [b'-', c, ..] => Some(*c == b'C'),
                    _ => return Err(bad()),
                };
                (count, time, flag)
            }
            None => {
                let time = s.unsigned().ok_or_else(bad)?;
                if !s.0.is_empty() {
                    return Err(bad());
                }
                (0, time, None)
            }
        };
        Ok(EfiVarName {
            rtype: RecordType::from_number(type_number),
            type_number,
            part,
            count,
            timestamp,
            compressed,
            id: EfiId::encode(timestamp, part, count),
        })
    }
}

fn looks_like_guid(s: &str) -> bool {
    s.len() == 36
        && s.bytes().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => b == b'-',
            _ => b.is_ascii_hexdigit(),
        })
}

/// A minimal sscanf-like cursor over ASCII.
struct Scanner<'a>(&'a [u8]);

impl Scanner<'_> {
    fn unsigned(&mut self) -> Option<u64> {
        let n = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        let v = std::str::from_utf8(&self.0[..n]).ok()?.parse().ok()?;
        self.0 = &self.0[n..];
        Some(v)
    }

    fn signed(&mut self) -> Option<i64> {
        if let [b'-', rest @ ..] = self.0 {
            let mut inner = Scanner(rest);
            let v = inner.unsigned()?;
            self.0 = inner.0;
            return i64::try_from(v).ok().map(|v| -v);
        }
        self.unsigned().and_then(|v| i64::try_from(v).ok())
    }

    fn dash(&mut self) -> Option<()> {
        self.0 = self.0.strip_prefix(b"-")?;
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(n: &str) -> RecordName {
        RecordName::parse(n).unwrap()
    }

    #[test]
    fn file_names_of_every_type_and_backend() {
        let r = p("dmesg-ramoops-0");
        assert_eq!(r.rtype, RecordType::Dmesg);
        assert_eq!(r.backend, Backend::Ramoops);
        assert_eq!(r.id, Some(0));
        assert!(!r.compressed);
        for (i, t) in TYPE_NAMES.iter().enumerate() {
            for b in [
                "ramoops",
                "efi",
                "efi_pstore",
                "erst",
                "pstore_blk",
                "nvram",
                "zzz",
            ] {
                let r = p(&format!("{t}-{b}-17"));
                assert_eq!(r.rtype, RecordType::from_number(i as u32));
                assert_eq!(r.rtype.name(), *t);
                assert_eq!(r.backend_name, b);
                assert_eq!(r.id, Some(17));
            }
        }
        assert_eq!(p("dmesg-efi_pstore-1").backend, Backend::Efi);
        assert_eq!(p("dmesg-efi-1").backend, Backend::Efi);
        assert_eq!(p("dmesg-zzz-1").backend, Backend::Unknown("zzz".into()));
        assert_eq!(p("powerpc-opal-nvram-3").rtype, RecordType::PowerpcOpal);
    }

    #[test]
    fn old_names_and_compressed_suffix() {
        let r = p("console-ramoops");
        assert_eq!(
            (r.rtype, r.backend, r.id),
            (RecordType::Console, Backend::Ramoops, None)
        );
        let r = p("dmesg-ramoops-3.enc.z");
        assert!(r.compressed);
        assert_eq!(r.id, Some(3));
        let r = p("weird-thing-5");
        assert_eq!(r.rtype, RecordType::Unknown("weird".into()));
        assert_eq!(r.backend_name, "thing");
        for bad in ["", "dmesg", "-x-1", "a/b-c-1", "dmesg-"] {
            assert!(RecordName::parse(bad).is_err(), "{bad}");
        }
        // An id that overflows u64 is not a kernel name.
        assert!(RecordName::parse("dmesg-erst-99999999999999999999999").is_err());
    }

    #[test]
    fn efi_ids() {
        let id = EfiId::encode(1_700_000_000, 3, 1);
        assert_eq!(id, 170_000_000_003_001);
        let r = p(&format!("dmesg-efi_pstore-{id}"));
        assert_eq!(
            r.efi_id(),
            Some(EfiId {
                timestamp: 1_700_000_000,
                part: 3,
                count: 1
            })
        );
        assert_eq!(p("dmesg-ramoops-5").efi_id(), None);
    }

    #[test]
    fn efi_variable_names() {
        let v = EfiVarName::parse("dump-type0-2-1-1700000000-C").unwrap();
        assert_eq!(v.rtype, RecordType::Dmesg);
        assert_eq!((v.part, v.count, v.timestamp), (2, 1, 1_700_000_000));
        assert_eq!(v.compressed, Some(true));
        assert_eq!(v.id, EfiId::encode(1_700_000_000, 2, 1));
        let v =
            EfiVarName::parse(&format!("dump-type0-1-1-1700000000-D-{EFI_CRASH_GUID}")).unwrap();
        assert_eq!(v.compressed, Some(false));
        let v = EfiVarName::parse("dump-type0-1-2-1700000000").unwrap();
        assert_eq!((v.count, v.compressed), (2, None));
        let v = EfiVarName::parse(&format!("dump-type0-1-2-1700000000-{EFI_CRASH_GUID}")).unwrap();
        assert_eq!(
            (v.count, v.timestamp, v.compressed),
            (2, 1_700_000_000, None)
        );
        let v = EfiVarName::parse("dump-type2-1-1300000000").unwrap();
        // The 4-field attempt reads "1300000000" as a count and then misses
        // the time, so this is the 3-field form.
        assert_eq!(
            (v.rtype, v.part, v.count, v.timestamp),
            (RecordType::Console, 1, 0, 1_300_000_000)
        );
        let v = EfiVarName::parse("dump-type0-1--1-5-D").unwrap();
        assert_eq!(v.count, -1);
        for bad in [
            "dump-type",
            "dump-typeX-1-1",
            "dump-type0",
            "dump-type0-1-",
            "Boot0001",
            "dump-type0-1-1-1x",
        ] {
            assert!(EfiVarName::parse(bad).is_err(), "{bad}");
        }
        assert!(EfiVarName::parse("dump-type99999999999-1-1").is_err());
    }

    #[test]
    fn arbitrary_names_never_panic() {
        let seeds = [
            "dmesg-efi_pstore-170000000000003001.enc.z",
            "dump-type0-1-1-1700000000-C",
        ];
        for s in seeds {
            let b = s.as_bytes();
            for i in 0..b.len() {
                for bit in 0..8 {
                    let mut m = b.to_vec();
                    m[i] ^= 1 << bit;
                    let n = String::from_utf8_lossy(&m);
                    let _ = RecordName::parse(&n);
                    let _ = EfiVarName::parse(&n);
                }
                let _ = RecordName::parse(&s[..i]);
                let _ = EfiVarName::parse(&s[..i]);
            }
        }
    }
}
