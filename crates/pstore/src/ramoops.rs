//! A whole ramoops memory image (a `memmap=` region read through /dev/mem,
//! or a saved copy), decoded without the kernel.
//!
//! The region is cut into dmesg zones, then console, ftrace and pmsg zones
//! (`ramoops_probe`). Each zone starts with a 12-byte little-endian header
//! `{sig, start, size}`; `sig` is "DBGC" XOR a per-kind value, `start` the
//! ring write position and `size` the valid byte count. Damaged zones are
//! reported with their raw bytes, never dropped.

use crate::error::LayoutError;
use crate::name::{Backend, RecordName, RecordType};
use crate::record::{Record, RecordTime};

/// `PERSISTENT_RAM_SIG`: "DBGC" read as a little-endian u32.
pub const PERSISTENT_RAM_SIG: u32 = 0x4347_4244;

/// Bytes of `struct persistent_ram_buffer` before the data.
pub const HEADER_LEN: usize = 12;

/// Default Reed-Solomon block size over which ECC parity is computed.
const ECC_BLOCK: u64 = 128;

/// The ramoops module parameters that fix the layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RamoopsLayout {
    /// `mem_size`.
    pub mem_size: u64,
    /// `record_size` (dmesg zone size).
    pub record_size: u64,
    /// `console_size`.
    pub console_size: u64,
    /// `ftrace_size`.
    pub ftrace_size: u64,
    /// `pmsg_size`.
    pub pmsg_size: u64,
    /// `ecc`: 0 off, 1 means 16 bytes, else parity bytes per block.
    pub ecc: u32,
    /// Number of per-CPU ftrace zones (module instantiation sets
    /// `RAMOOPS_FLAG_FTRACE_PER_CPU`); 0 or 1 means one zone.
    pub ftrace_cpus: u32,
}

/// Which frontend a zone serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ZoneKind {
    /// dmesg zone number n (the `dmesg-ramoops-<n>` id).
    Dmesg(u32),
    /// The console zone.
    Console,
    /// ftrace zone n (one per CPU with the per-CPU flag).
    Ftrace(u32),
    /// The pmsg zone.
    Pmsg,
}

/// Where a zone lies in the image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneSpec {
    /// Kind.
    pub kind: ZoneKind,
    /// Byte offset in the region.
    pub offset: u64,
    /// Zone size in bytes (header, data and ECC parity).
    pub size: u64,
    /// Data capacity (size minus header and parity).
    pub capacity: u64,
}

fn pow2_floor(v: u64) -> u64 {
    if v == 0 {
        0
    } else {
        1 << (63 - v.leading_zeros())
    }
}

impl RamoopsLayout {
    /// Zones in region order, as `ramoops_probe` lays them out (sizes
    /// rounded down to powers of two, zone sizes to even numbers).
    pub fn zones(&self) -> Result<Vec<ZoneSpec>, LayoutError> {
        let record = pow2_floor(self.record_size);
        let console = pow2_floor(self.console_size);
        let ftrace = pow2_floor(self.ftrace_size);
        let pmsg = pow2_floor(self.pmsg_size);
        let others = console.saturating_add(ftrace).saturating_add(pmsg);
        if others > self.mem_size {
            return Err(LayoutError::ZonesExceedRegion {
                zones: others,
                mem_size: self.mem_size,
            });
        }
        let dump = self.mem_size - others;
        let mut out = Vec::new();
        let mut off = 0u64;
        let mut push = |kind: &dyn Fn(u32) -> ZoneKind,
                        name: &'static str,
                        count: u64,
                        area: u64,
                        out: &mut Vec<ZoneSpec>|
         -> Result<(), LayoutError> {
            if count == 0 || area == 0 {
                return Ok(());
            }
            if count > 65_536 {
                return Err(LayoutError::TooManyZones(count));
            }
            let size = (area / count) & !1;
            let capacity = self
                .capacity(size)
                .ok_or(LayoutError::ZoneTooSmall { zone: name, size })?;
            for i in 0..count {
                out.push(ZoneSpec {
                    kind: kind(i as u32),
                    offset: off,
                    size,
                    capacity,
                });
                off += size;
            }
            Ok(())
        };
        let dmesg_count = dump.checked_div(record).unwrap_or(0);
        push(&ZoneKind::Dmesg, "dmesg", dmesg_count, dump, &mut out)?;
        push(&|_| ZoneKind::Console, "console", 1, console, &mut out)?;
        push(
            &ZoneKind::Ftrace,
            "ftrace",
            u64::from(self.ftrace_cpus.max(1)),
            ftrace,
            &mut out,
        )?;
        push(&|_| ZoneKind::Pmsg, "pmsg", 1, pmsg, &mut out)?;
        Ok(out)
    }

    /// Data capacity of a zone of `size` bytes (`persistent_ram_init_ecc`).
    fn capacity(&self, size: u64) -> Option<u64> {
        let buf = size.checked_sub(HEADER_LEN as u64)?;
        let ecc = match self.ecc {
            0 => return (buf > 0).then_some(buf),
            1 => 16,
            n => u64::from(n),
        };
        let blocks = buf.checked_sub(ecc)?.div_ceil(ECC_BLOCK + ecc);
        buf.checked_sub((blocks + 1) * ecc).filter(|&c| c > 0)
    }
}

/// What the zone header says about the zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ZoneState {
    /// Valid header, no data (zapped, or never written).
    Empty,
    /// Valid header and data.
    Valid,
    /// The image ends before this zone does.
    Truncated,
    /// All bytes zero: never initialised.
    Blank,
    /// The signature does not match: never initialised, another layout, or
    /// flipped bits. `raw` keeps the zone.
    BadSignature {
        /// The signature found.
        found: u32,
    },
    /// The signature matches but start/size are impossible (the kernel
    /// zaps such zones: "found existing invalid buffer").
    BadHeader {
        /// `start` found.
        start: u32,
        /// `size` found.
        size: u32,
    },
    /// A dmesg zone whose data does not begin with `====` (the kernel
    /// zaps it).
    NoDmesgHeader,
}

/// The `====<sec>.<usec>-<C|D>` line ramoops writes before dmesg data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneTime {
    /// Seconds since the epoch.
    pub secs: i64,
    /// Fraction as printed (microseconds).
    pub usecs: u64,
    /// `C`/`D` flag; `None` for the old form without it.
    pub compressed: Option<bool>,
}

/// One decoded zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Zone {
    /// Where it lies.
    pub spec: ZoneSpec,
    /// Header verdict.
    pub state: ZoneState,
    /// For ftrace zones, the `LINUX_VERSION_CODE` recovered from the
    /// signature (ftrace data is only kept by the same kernel version).
    pub version_code: Option<u32>,
    /// For dmesg zones, the `====` line.
    pub time: Option<ZoneTime>,
    /// The valid old data in write order (ring unwrapped), without the
    /// `====` line. Empty unless the header is usable.
    pub data: Vec<u8>,
    /// The whole zone as found, kept whenever the state is not `Valid` or
    /// `Empty` so that nothing is lost.
    pub raw: Option<Vec<u8>>,
}

impl Zone {
    /// Whether the zone's bytes need a human (damaged or unknown).
    pub fn is_corrupt(&self) -> bool {
        matches!(
            self.state,
            ZoneState::BadSignature { .. }
                | ZoneState::BadHeader { .. }
                | ZoneState::NoDmesgHeader
                | ZoneState::Truncated
        )
    }

    /// The pstore record the kernel would have made of this zone (dmesg,
    /// console, ftrace raw bytes, pmsg), named like its /sys/fs/pstore file.
    pub fn to_record(&self) -> Option<Record> {
        if self.state != ZoneState::Valid {
            return None;
        }
        let (rtype, id) = match self.spec.kind {
            ZoneKind::Dmesg(i) => (RecordType::Dmesg, u64::from(i)),
            ZoneKind::Console => (RecordType::Console, 0),
            ZoneKind::Ftrace(i) => (RecordType::Ftrace, u64::from(i)),
            ZoneKind::Pmsg => (RecordType::Pmsg, 0),
        };
        let compressed = self.time.and_then(|t| t.compressed).unwrap_or(false);
        let name = RecordName {
            rtype,
            backend: Backend::Ramoops,
            backend_name: "ramoops".into(),
            id: Some(id),
            compressed,
        };
        let file_name = format!(
            "{}-ramoops-{id}{}",
            name.rtype.name(),
            if compressed {
                crate::name::COMPRESSED_SUFFIX
            } else {
                ""
            }
        );
        let time = self.time.map(|t| RecordTime {
            secs: t.secs,
            nanos: (t.usecs.min(999_999) * 1000) as u32,
        });
        Some(Record {
            file_name,
            name: Some(name),
            raw: self.data.clone(),
            time,
        })
    }
}

/// The decoded image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Region {
    /// Every zone of the layout, in region order.
    pub zones: Vec<Zone>,
}

impl Region {
    /// Records of all valid zones (feed them to [`crate::reassemble`]).
    pub fn records(&self) -> Vec<Record> {
        self.zones.iter().filter_map(Zone::to_record).collect()
    }
}

/// Decode `image` (the region from `mem_address`) with `layout`.
pub fn parse_region(image: &[u8], layout: &RamoopsLayout) -> Result<Region, LayoutError> {
    let zones = layout
        .zones()?
        .into_iter()
        .map(|spec| parse_zone(image, spec))
        .collect();
    Ok(Region { zones })
}

fn le32(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Decode one zone.
pub fn parse_zone(image: &[u8], spec: ZoneSpec) -> Zone {
    let mut zone = Zone {
        spec,
        state: ZoneState::Empty,
        version_code: None,
        time: None,
        data: Vec::new(),
        raw: None,
    };
    let start = usize::try_from(spec.offset).unwrap_or(usize::MAX);
    let end = usize::try_from(spec.offset.saturating_add(spec.size)).unwrap_or(usize::MAX);
    if end > image.len() {
        zone.state = ZoneState::Truncated;
        zone.raw = Some(image.get(start..).unwrap_or(&[]).to_vec());
        return zone;
    }
    let bytes = &image[start..end];
    let sig = le32(bytes, 0);
    let rstart = le32(bytes, 4);
    let rsize = le32(bytes, 8);
    let expected_ok = match spec.kind {
        // ftrace zones carry the kernel version: accept any plausible
        // LINUX_VERSION_CODE (major < 256 fits in 3 bytes).
        ZoneKind::Ftrace(_) => {
            let v = sig ^ PERSISTENT_RAM_SIG;
            let ok = v != 0 && v >> 24 == 0;
            if ok {
                zone.version_code = Some(v);
            }
            ok
        }
        _ => sig == PERSISTENT_RAM_SIG,
    };
    if !expected_ok {
        zone.state = if bytes.iter().all(|&b| b == 0) {
            ZoneState::Blank
        } else {
            ZoneState::BadSignature { found: sig }
        };
        if zone.state != ZoneState::Blank {
            zone.raw = Some(bytes.to_vec());
        }
        return zone;
    }
    let cap = spec.capacity;
    if u64::from(rsize) > cap || rstart > rsize {
        zone.state = ZoneState::BadHeader {
            start: rstart,
            size: rsize,
        };
        zone.raw = Some(bytes.to_vec());
        return zone;
    }
    if rsize == 0 {
        return zone;
    }
    // Old data is data[start..size] followed by data[0..start]
    // (persistent_ram_save_old).
    let data = &bytes[HEADER_LEN..];
    let (s, n) = (rstart as usize, rsize as usize);
    let mut old = Vec::with_capacity(n);
    old.extend_from_slice(&data[s..n]);
    old.extend_from_slice(&data[..s]);
    if let ZoneKind::Dmesg(_) = spec.kind {
        match parse_time_header(&old) {
            Some((t, len)) => {
                zone.time = Some(t);
                old.drain(..len);
            }
            None => {
                zone.state = ZoneState::NoDmesgHeader;
                zone.raw = Some(bytes.to_vec());
                zone.data = old;
                return zone;
            }
        }
    }
    zone.state = ZoneState::Valid;
    zone.data = old;
    zone
}

/// Parse `====%lld.%06lu-%c\n` or the older `====%lld.%lu\n`.
pub fn parse_time_header(data: &[u8]) -> Option<(ZoneTime, usize)> {
    let rest = data.strip_prefix(b"====")?;
    let window = &rest[..rest.len().min(48)];
    let nl = window.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&window[..nl]).ok()?;
    let (secs, tail) = line.split_once('.')?;
    let (usecs, flag) = match tail.split_once('-') {
        Some((u, f)) => (u, Some(f)),
        None => (tail, None),
    };
    let compressed = match flag {
        None => None,
        Some("C") => Some(true),
        Some("D") => Some(false),
        Some(_) => return None,
    };
    if usecs.is_empty() || !usecs.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((
        ZoneTime {
            secs: secs.parse().ok()?,
            usecs: usecs.parse().ok()?,
            compressed,
        },
        4 + nl + 1,
    ))
}

#[cfg(test)]
mod tests;
