//! One pstore record (a file's name, bytes and time) and its decoding:
//! decompression, ECC notice, dmesg part header.

use crate::decompress::{inflate, DEFAULT_INFLATE_CAP};
use crate::dmesg::{parse_header, split_ecc, DmesgHeader, EccNotice};
use crate::name::{RecordName, RecordType};

/// A time as the kernel records it (seconds since the epoch + fraction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RecordTime {
    /// Seconds since the Unix epoch.
    pub secs: i64,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

/// A record as found: file name, raw content, time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The file name (`dmesg-ramoops-0`).
    pub file_name: String,
    /// The parsed name; `None` if the name is not a pstore name.
    pub name: Option<RecordName>,
    /// File content exactly as read.
    pub raw: Vec<u8>,
    /// Record time: file mtime (pstore sets it from the record), or the
    /// efi timestamp, or a ramoops zone header.
    pub time: Option<RecordTime>,
}

impl Record {
    /// Build a record from a file name and its bytes.
    pub fn new(file_name: &str, raw: Vec<u8>, time: Option<RecordTime>) -> Record {
        let name = RecordName::parse(file_name).ok();
        // pstore leaves mtime at 0 when the backend has no time; the efi id
        // still carries one.
        let time = time.filter(|t| t.secs != 0).or_else(|| {
            let efi = name.as_ref()?.efi_id()?;
            Some(RecordTime {
                secs: i64::try_from(efi.timestamp).ok()?,
                nanos: 0,
            })
        });
        Record {
            file_name: file_name.to_string(),
            name,
            raw,
            time,
        }
    }

    /// The record type (`Unknown("")` for names that did not parse).
    pub fn rtype(&self) -> RecordType {
        self.name
            .as_ref()
            .map(|n| n.rtype.clone())
            .unwrap_or(RecordType::Unknown(String::new()))
    }

    /// Decode with the default inflate cap.
    pub fn decode(&self) -> Decoded {
        self.decode_with_cap(DEFAULT_INFLATE_CAP)
    }

    /// Decode: split the ECC notice, inflate `.enc.z` data (at most `cap`
    /// bytes), and for dmesg records split the part header off the text.
    pub fn decode_with_cap(&self, cap: usize) -> Decoded {
        let mut flags = DecodeFlags::default();
        // ramoops appends the ECC notice after the (possibly compressed)
        // payload, so it must come off before inflating.
        let (payload, ecc) = split_ecc(&self.raw);
        if ecc.is_some_and(|e| e.has_errors()) {
            flags.ecc_errors = true;
        }
        let compressed = self.name.as_ref().is_some_and(|n| n.compressed);
        let mut text: Vec<u8> = if compressed {
            match inflate(payload, cap) {
                Ok(i) => {
                    flags.truncated_stream = !i.complete;
                    i.data
                }
                Err(_) => {
                    flags.compressed_undecodable = true;
                    payload.to_vec()
                }
            }
        } else {
            payload.to_vec()
        };
        let mut header = None;
        if self.rtype() == RecordType::Dmesg && !flags.compressed_undecodable {
            match parse_header(&text) {
                Some((h, n)) => {
                    header = Some(h);
                    text.drain(..n);
                }
                None => flags.no_header = true,
            }
        }
        Decoded {
            header,
            text,
            ecc,
            flags,
        }
    }
}

/// What decoding found out about a record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeFlags {
    /// `.enc.z` data that neither raw deflate nor zlib decode (text holds
    /// the raw bytes).
    pub compressed_undecodable: bool,
    /// The compressed stream ended early; text holds what decoded.
    pub truncated_stream: bool,
    /// The ECC notice reports corrected or unrecoverable bytes.
    pub ecc_errors: bool,
    /// A dmesg record without its `Reason#N PartM` line.
    pub no_header: bool,
}

/// A decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// The dmesg part header, if the record is dmesg and has one.
    pub header: Option<DmesgHeader>,
    /// The text (or raw bytes when undecodable), without header and ECC notice.
    pub text: Vec<u8>,
    /// The ECC notice, if ramoops appended one.
    pub ecc: Option<EccNotice>,
    /// Findings.
    pub flags: DecodeFlags,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dmesg::Reason;
    use flate2::write::DeflateEncoder;
    use flate2::Compression;
    use std::io::Write;

    #[test]
    fn plain_dmesg() {
        let r = Record::new(
            "dmesg-ramoops-0",
            b"Oops#2 Part1\n<4>[ 1.000000] x\n".to_vec(),
            None,
        );
        let d = r.decode();
        assert_eq!(d.header.unwrap().reason, Reason::Oops);
        assert_eq!(d.text, b"<4>[ 1.000000] x\n");
        assert_eq!(d.flags, DecodeFlags::default());
    }

    #[test]
    fn compressed_with_ecc_notice() {
        let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
        e.write_all(b"Panic#1 Part1\n<0>[ 2.000000] Kernel panic\n")
            .unwrap();
        let mut raw = e.finish().unwrap();
        raw.extend_from_slice(b"\nECC: 2 Corrected bytes, 0 unrecoverable blocks\n");
        let d = Record::new("dmesg-ramoops-1.enc.z", raw, None).decode();
        assert_eq!(d.header.unwrap().part, 1);
        assert_eq!(d.text, b"<0>[ 2.000000] Kernel panic\n");
        assert!(d.flags.ecc_errors);
        assert!(!d.flags.compressed_undecodable);
    }

    #[test]
    fn undecodable_keeps_raw() {
        let raw = b"\x04\x22\x4d\x18 lz4 or lzo, not deflate".to_vec();
        let d = Record::new("dmesg-erst-5.enc.z", raw.clone(), None).decode();
        assert!(d.flags.compressed_undecodable);
        assert_eq!(d.text, raw);
        assert_eq!(d.header, None);
    }

    #[test]
    fn flipped_bits_in_header_and_trailer_keep_the_body() {
        let raw = b"Panic#1 Part1\n<0>[    2.785117] Kernel panic - not syncing: sysrq\n<0>[    2.793656] Kernel Offset: 0x1da00000\n\nECC: No errors detected\n".to_vec();
        let positions: Vec<usize> = (0..20).chain(raw.len() - 30..raw.len()).collect();
        for &i in &positions {
            for bit in 0..8 {
                let mut m = raw.clone();
                m[i] ^= 1 << bit;
                for name in [
                    "dmesg-ramoops-0",
                    "dmesg-efi-170000000001001",
                    "dmesg-ramoops-0.enc.z",
                ] {
                    let r = Record::new(name, m.clone(), None);
                    let d = r.decode_with_cap(1 << 16);
                    if !name.ends_with(".enc.z") {
                        // Only the recognised header and ECC notice are
                        // removed; every other byte is kept, in place.
                        assert!(
                            m.windows(d.text.len()).any(|w| w == d.text.as_slice()),
                            "{i}/{bit}"
                        );
                        assert!(d.text.len() + 14 + 25 >= m.len(), "{i}/{bit}");
                    } else {
                        assert!(d.flags.compressed_undecodable);
                        assert!(d.text.len() + 25 >= m.len());
                    }
                    let c = crate::reassemble(&[r]);
                    assert_eq!(c.crashes.len(), 1);
                    let k = &c.crashes[0];
                    assert!(!k.dmesg.is_empty() || !k.undecoded.is_empty());
                }
            }
        }
    }

    #[test]
    fn efi_time_from_id_and_zero_mtime() {
        let id = crate::name::EfiId::encode(1_700_000_000, 1, 1);
        let r = Record::new(
            &format!("dmesg-efi_pstore-{id}"),
            vec![],
            Some(RecordTime { secs: 0, nanos: 0 }),
        );
        assert_eq!(r.time.unwrap().secs, 1_700_000_000);
        let r = Record::new("console-ramoops-0", b"hello".to_vec(), None);
        let d = r.decode();
        assert_eq!(
            (d.text.as_slice(), d.flags.no_header),
            (&b"hello"[..], false)
        );
    }
}
