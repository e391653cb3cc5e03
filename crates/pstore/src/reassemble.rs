//! Reassembly: group the dmesg parts of one crash, put them in reading
//! order and attach the other records of the crashed boot.
//!
//! `pstore_dump` walks the log backwards, so Part1 is the newest chunk and
//! the highest part the oldest. Parts of one dump share backend, reason and
//! oops count and were written within moments of each other; the count
//! restarts every boot, so the time keeps different boots apart.

use crate::dmesg::{parse_line, Reason};
use crate::name::{Backend, RecordType};
use crate::record::{DecodeFlags, Decoded, Record, RecordTime};

/// Parts further apart than this (seconds) are not one dump. A dump takes
/// well under a second even on slow UEFI variable stores; boots take longer.
const SAME_DUMP_SECS: i64 = 60;

/// At most this many lines are compared when removing overlap between parts.
const MAX_OVERLAP_LINES: usize = 256;

/// What is known to be wrong with a reassembled crash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CrashFlags {
    /// Some part is still compressed in an algorithm we cannot decode; its
    /// raw bytes are in `Crash::undecoded`.
    pub compressed_undecodable: bool,
    /// A compressed part ended early.
    pub truncated_stream: bool,
    /// ramoops reported corrected or unrecoverable ECC errors.
    pub ecc_errors: bool,
    /// Part numbers between 1 and the highest seen are absent.
    pub missing_parts: bool,
    /// The record has no valid `Reason#N PartM` header.
    pub corrupt: bool,
}

impl CrashFlags {
    fn absorb(&mut self, f: &DecodeFlags) {
        self.compressed_undecodable |= f.compressed_undecodable;
        self.truncated_stream |= f.truncated_stream;
        self.ecc_errors |= f.ecc_errors;
        self.corrupt |= f.no_header;
    }
}

/// A non-dmesg record (console, pmsg, ftrace, ...), decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// Its type.
    pub rtype: RecordType,
    /// Its file name.
    pub file_name: String,
    /// Its content (ECC notice removed).
    pub data: Vec<u8>,
    /// Decoding findings.
    pub flags: DecodeFlags,
}

/// One crash, reassembled from one or more dmesg records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crash {
    /// Backend the parts came from (`None` if the names did not parse).
    pub backend: Option<Backend>,
    /// Dump reason (`Unknown` when no header survived).
    pub reason: Reason,
    /// Oops count of the boot.
    pub count: Option<i64>,
    /// Time of the newest part present.
    pub time: Option<RecordTime>,
    /// The log text, oldest line first, part headers and overlap removed.
    pub dmesg: Vec<u8>,
    /// Part numbers present, ascending.
    pub parts: Vec<u32>,
    /// Part numbers between 1 and the highest present that are absent.
    pub missing_parts: Vec<u32>,
    /// Source file names in reading order (oldest text first).
    pub records: Vec<String>,
    /// Parts still compressed in a format we cannot decode, raw (their
    /// part numbers count as present; their bytes are not in `dmesg`).
    pub undecoded: Vec<Attachment>,
    /// Console, pmsg, ftrace, ... records of the same boot.
    pub attached: Vec<Attachment>,
    /// What is wrong with it.
    pub flags: CrashFlags,
}

impl Crash {
    /// The dmesg text as (lossy) UTF-8.
    pub fn dmesg_lossy(&self) -> String {
        String::from_utf8_lossy(&self.dmesg).into_owned()
    }
}

/// Everything found in a set of records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Collection {
    /// Crashes, oldest first.
    pub crashes: Vec<Crash>,
    /// Non-dmesg records with no crash to attach to.
    pub unattached: Vec<Attachment>,
}

struct Part<'a> {
    rec: &'a Record,
    dec: Decoded,
}

/// Decode and reassemble `records` (see the module documentation).
pub fn reassemble(records: &[Record]) -> Collection {
    reassemble_with_cap(records, crate::decompress::DEFAULT_INFLATE_CAP)
}

/// [`reassemble`] with an explicit inflate cap per record.
pub fn reassemble_with_cap(records: &[Record], cap: usize) -> Collection {
    let mut dmesg = Vec::new();
    let mut others = Vec::new();
    for rec in records {
        let dec = rec.decode_with_cap(cap);
        if rec.rtype() == RecordType::Dmesg {
            dmesg.push(Part { rec, dec });
        } else {
            others.push((rec, dec));
        }
    }
    let mut crashes: Vec<Crash> = group(dmesg).into_iter().map(build).collect();
    crashes.sort_by_key(|c| c.time);

    let mut unattached = Vec::new();
    for (rec, dec) in others {
        let att = Attachment {
            rtype: rec.rtype(),
            file_name: rec.file_name.clone(),
            data: dec.text,
            flags: dec.flags,
        };
        let backend = rec.name.as_ref().map(|n| &n.backend);
        // Console/pmsg/ftrace hold the previous boot, which is the newest
        // crash; prefer one from the same backend.
        let target = crashes
            .iter()
            .rposition(|c| c.backend.as_ref() == backend)
            .or(crashes.len().checked_sub(1));
        match target {
            Some(i) => crashes[i].attached.push(att),
            None => unattached.push(att),
        }
    }
    Collection {
        crashes,
        unattached,
    }
}

impl Part<'_> {
    fn backend(&self) -> Option<&Backend> {
        self.rec.name.as_ref().map(|n| &n.backend)
    }

    /// Part number from the header, else from the efi record id (an
    /// undecodable efi part still knows its place).
    fn number(&self) -> Option<u32> {
        let efi = || self.rec.name.as_ref()?.efi_id().map(|e| e.part);
        self.dec.header.as_ref().map(|h| h.part).or_else(efi)
    }

    fn count(&self) -> Option<i64> {
        let efi = || self.rec.name.as_ref()?.efi_id().map(|e| i64::from(e.count));
        self.dec.header.as_ref().map(|h| h.count).or_else(efi)
    }

    fn reason(&self) -> Option<&Reason> {
        self.dec.header.as_ref().map(|h| &h.reason)
    }

    fn belongs_to(&self, g: &[Part<'_>]) -> bool {
        let (Some(n), Some(count)) = (self.number(), self.count()) else {
            return false;
        };
        let first = &g[0];
        let reason_ok = match (first.reason(), self.reason()) {
            (Some(a), Some(b)) => a == b,
            // Only efi parts get here without a header (number from the id).
            _ => true,
        };
        first.backend() == self.backend()
            && first.count() == Some(count)
            && reason_ok
            && g.iter().all(|q| q.number() != Some(n))
            && g.iter().any(|q| close_in_time(q.rec.time, self.rec.time))
    }
}

fn group(mut parts: Vec<Part<'_>>) -> Vec<Vec<Part<'_>>> {
    parts.sort_by(|a, b| {
        let key = |p: &Part| {
            (
                p.backend().cloned(),
                p.count(),
                p.rec.time,
                p.number(),
                p.rec.file_name.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    let mut groups: Vec<Vec<Part>> = Vec::new();
    for p in parts {
        match groups.iter().position(|g| p.belongs_to(g)) {
            Some(i) => groups[i].push(p),
            None => groups.push(vec![p]),
        }
    }
    groups
}

fn close_in_time(a: Option<RecordTime>, b: Option<RecordTime>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a.secs.abs_diff(b.secs) <= SAME_DUMP_SECS as u64,
        (None, None) => true,
        _ => false,
    }
}

fn build(mut parts: Vec<Part<'_>>) -> Crash {
    // Highest part (oldest text) first.
    parts.sort_by_key(|p| std::cmp::Reverse(p.number()));
    let first_header = parts.iter().find_map(|p| p.dec.header.clone());
    let mut flags = CrashFlags::default();
    let mut dmesg: Vec<u8> = Vec::new();
    let mut records = Vec::new();
    let mut nums = Vec::new();
    let mut undecoded = Vec::new();
    for p in &parts {
        flags.absorb(&p.dec.flags);
        records.push(p.rec.file_name.clone());
        nums.extend(p.number());
        if p.dec.flags.compressed_undecodable {
            // Compressed bytes are not text: keep them aside, raw.
            undecoded.push(Attachment {
                rtype: RecordType::Dmesg,
                file_name: p.rec.file_name.clone(),
                data: p.dec.text.clone(),
                flags: p.dec.flags,
            });
        } else {
            append_part(&mut dmesg, &p.dec.text);
        }
    }
    nums.sort_unstable();
    let missing_parts = missing(&nums);
    flags.missing_parts = !missing_parts.is_empty();
    // The newest part (Part1 ideally) dates the crash.
    let time = parts
        .last()
        .and_then(|p| p.rec.time)
        .or_else(|| parts.iter().filter_map(|p| p.rec.time).max());
    Crash {
        backend: parts[0].rec.name.as_ref().map(|n| n.backend.clone()),
        reason: first_header
            .as_ref()
            .map(|h| h.reason.clone())
            .unwrap_or(Reason::Unknown),
        count: first_header.map(|h| h.count),
        time,
        dmesg,
        parts: nums,
        missing_parts,
        records,
        undecoded,
        attached: Vec::new(),
        flags,
    }
}

fn missing(sorted: &[u32]) -> Vec<u32> {
    let Some(&max) = sorted.last() else {
        return Vec::new();
    };
    // A damaged header could claim Part4000000000: report at most a range
    // of sane size rather than allocating billions of numbers.
    let max = max.min(10_000);
    (1..max)
        .filter(|n| sorted.binary_search(n).is_err())
        .collect()
}

/// Append the next (newer) part, dropping lines it repeats from the end of
/// what is already there.
fn append_part(acc: &mut Vec<u8>, next: &[u8]) {
    if !acc.is_empty() && !acc.ends_with(b"\n") {
        acc.push(b'\n');
    }
    let skip = overlap(acc, next);
    acc.extend_from_slice(&next[skip..]);
}

/// Length of the longest prefix of `next` made of whole lines that `acc`
/// ends with, provided the first of those lines carries a timestamp (plain
/// repeated text is not proof of overlap).
fn overlap(acc: &[u8], next: &[u8]) -> usize {
    let ends: Vec<usize> = next
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .map(|(i, _)| i + 1)
        .take(MAX_OVERLAP_LINES)
        .collect();
    let first_line = &next[..ends.first().copied().unwrap_or(0)];
    if ends.is_empty()
        || parse_line(first_line.strip_suffix(b"\n").unwrap_or(first_line))
            .time
            .is_none()
    {
        return 0;
    }
    ends.iter()
        .rev()
        .copied()
        .find(|&e| acc.ends_with(&next[..e]) && (acc.len() == e || acc[acc.len() - e - 1] == b'\n'))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::name::EfiId;

    fn efi(part: u32, count: i32, ts: u64, body: &str) -> Record {
        let id = EfiId::encode(ts, part, count);
        Record::new(
            &format!("dmesg-efi_pstore-{id}"),
            format!("Panic#{count} Part{part}\n{body}").into_bytes(),
            None,
        )
    }

    #[test]
    fn efi_parts_in_reading_order() {
        let recs = vec![
            efi(1, 1, 1000, "<0>[ 3.000000] c\n"),
            efi(3, 1, 1000, "<6>[ 1.000000] a\n"),
            efi(2, 1, 1001, "<6>[ 2.000000] b\n"),
        ];
        let c = reassemble(&recs);
        assert_eq!(c.crashes.len(), 1);
        let k = &c.crashes[0];
        assert_eq!(
            k.dmesg_lossy(),
            "<6>[ 1.000000] a\n<6>[ 2.000000] b\n<0>[ 3.000000] c\n"
        );
        assert_eq!(k.parts, vec![1, 2, 3]);
        assert!(k.missing_parts.is_empty());
        assert_eq!(k.reason, Reason::Panic);
        assert_eq!(k.backend, Some(Backend::Efi));
        assert_eq!(k.time.unwrap().secs, 1000);
    }

    #[test]
    fn missing_parts_and_separate_boots() {
        let recs = vec![
            efi(1, 1, 1000, "<0>[ 3.0] c\n"),
            efi(3, 1, 1000, "<6>[ 1.0] a\n"),
            // Same count, another boot an hour later.
            efi(1, 1, 4600, "<0>[ 9.0] z\n"),
        ];
        let c = reassemble(&recs);
        assert_eq!(c.crashes.len(), 2);
        assert_eq!(c.crashes[0].missing_parts, vec![2]);
        assert!(c.crashes[0].flags.missing_parts);
        assert_eq!(c.crashes[1].dmesg_lossy(), "<0>[ 9.0] z\n");
    }

    #[test]
    fn overlap_removed() {
        let recs = vec![
            efi(2, 1, 1000, "<6>[ 1.0] a\n<6>[ 2.0] b\n"),
            efi(1, 1, 1000, "<6>[ 2.0] b\n<0>[ 3.0] c\n"),
        ];
        let k = &reassemble(&recs).crashes[0];
        assert_eq!(k.dmesg_lossy(), "<6>[ 1.0] a\n<6>[ 2.0] b\n<0>[ 3.0] c\n");
        // Untimestamped repeats are kept.
        let recs = vec![efi(2, 1, 1000, "x\n"), efi(1, 1, 1000, "x\n")];
        assert_eq!(reassemble(&recs).crashes[0].dmesg_lossy(), "x\nx\n");
    }

    #[test]
    fn ramoops_zones_stay_apart_and_attachments() {
        let t = Some(RecordTime {
            secs: 500,
            nanos: 0,
        });
        let recs = vec![
            Record::new(
                "dmesg-ramoops-0",
                b"Oops#1 Part1\n<4>[ 1.0] first\n".to_vec(),
                t,
            ),
            Record::new(
                "dmesg-ramoops-1",
                b"Oops#1 Part1\n<4>[ 1.0] second\n".to_vec(),
                t,
            ),
            Record::new("dmesg-ramoops-2", b"garbage without header".to_vec(), t),
            Record::new("console-ramoops-0", b"console text".to_vec(), None),
            Record::new("pmsg-ramoops-0", b"user text".to_vec(), None),
        ];
        let c = reassemble(&recs);
        assert_eq!(c.crashes.len(), 3);
        let corrupt: Vec<_> = c.crashes.iter().filter(|k| k.flags.corrupt).collect();
        assert_eq!(corrupt.len(), 1);
        assert_eq!(corrupt[0].dmesg, b"garbage without header");
        let att: usize = c.crashes.iter().map(|k| k.attached.len()).sum();
        assert_eq!(att, 2);
        assert!(c.unattached.is_empty());
        let only_console = reassemble(&recs[3..]);
        assert_eq!(
            (only_console.crashes.len(), only_console.unattached.len()),
            (0, 2)
        );
    }

    #[test]
    fn undecodable_efi_part_keeps_its_place() {
        let id = EfiId::encode(1000, 2, 1);
        let mut recs = vec![
            efi(1, 1, 1000, "<0>[ 3.0] c\n"),
            efi(3, 1, 1000, "<6>[ 1.0] a\n"),
        ];
        recs.push(Record::new(
            &format!("dmesg-efi_pstore-{id}.enc.z"),
            b"\x04\x22 lz4".to_vec(),
            None,
        ));
        let c = reassemble(&recs);
        assert_eq!(c.crashes.len(), 1);
        let k = &c.crashes[0];
        assert_eq!(k.parts, vec![1, 2, 3]);
        assert!(k.missing_parts.is_empty() && k.flags.compressed_undecodable);
        assert_eq!(k.dmesg_lossy(), "<6>[ 1.0] a\n<0>[ 3.0] c\n");
        assert_eq!(k.undecoded[0].data, b"\x04\x22 lz4");
    }

    #[test]
    fn absurd_part_numbers_are_bounded() {
        let recs = vec![Record::new(
            "dmesg-erst-1",
            b"Panic#1 Part4000000000\nx\n".to_vec(),
            None,
        )];
        let k = &reassemble(&recs).crashes[0];
        assert_eq!(k.missing_parts.len(), 9_999);
    }
}
