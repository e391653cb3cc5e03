//! Contents of dmesg records: the `<Reason>#<count> Part<n>` header that
//! `pstore_dump` writes before every part, the ECC notice ramoops appends,
//! and the syslog-style `<N>[  t.tttttt] msg` body lines.

/// Why the kernel dumped its log (`kmsg_dump_reason_str`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// `Panic`.
    Panic,
    /// `Oops`.
    Oops,
    /// `Emergency` (emergency restart).
    Emergency,
    /// `Shutdown` (clean shutdown, v5.8+ with max_reason ≥ 4).
    Shutdown,
    /// `Restart` (before v5.8).
    Restart,
    /// `Halt` (before v5.8).
    Halt,
    /// `Poweroff` (before v5.8).
    Poweroff,
    /// `Unknown`, as the kernel writes for other reasons.
    Unknown,
    /// A reason word this crate does not know, kept verbatim.
    Other(String),
}

impl Reason {
    /// Map the header word.
    pub fn from_word(w: &str) -> Reason {
        match w {
            "Panic" => Reason::Panic,
            "Oops" => Reason::Oops,
            "Emergency" => Reason::Emergency,
            "Shutdown" => Reason::Shutdown,
            "Restart" => Reason::Restart,
            "Halt" => Reason::Halt,
            "Poweroff" => Reason::Poweroff,
            "Unknown" => Reason::Unknown,
            other => Reason::Other(other.to_string()),
        }
    }

    /// The word as the kernel writes it.
    pub fn as_str(&self) -> &str {
        match self {
            Reason::Panic => "Panic",
            Reason::Oops => "Oops",
            Reason::Emergency => "Emergency",
            Reason::Shutdown => "Shutdown",
            Reason::Restart => "Restart",
            Reason::Halt => "Halt",
            Reason::Poweroff => "Poweroff",
            Reason::Unknown => "Unknown",
            Reason::Other(s) => s,
        }
    }
}

/// The first line of every dmesg part: `Panic#1 Part2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DmesgHeader {
    /// Dump reason.
    pub reason: Reason,
    /// Oops counter of the boot (starts at 1).
    pub count: i64,
    /// Part number; 1 is the newest chunk of the log.
    pub part: u32,
}

/// Parse the header line at the very start of `data`; returns it and the
/// number of bytes it occupies (newline included).
pub fn parse_header(data: &[u8]) -> Option<(DmesgHeader, usize)> {
    // The header is short; never scan far into damaged data for it.
    let window = &data[..data.len().min(128)];
    let nl = window.iter().position(|&b| b == b'\n')?;
    let line = std::str::from_utf8(&window[..nl]).ok()?;
    let (reason, rest) = line.split_once('#')?;
    if reason.is_empty() || reason.len() > 32 || !reason.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let (count, part) = rest.split_once(" Part")?;
    let count: i64 = count.parse().ok()?;
    // ChromeOS documents "Part#1"; accept both.
    let part: u32 = part.strip_prefix('#').unwrap_or(part).parse().ok()?;
    Some((
        DmesgHeader {
            reason: Reason::from_word(reason),
            count,
            part,
        },
        nl + 1,
    ))
}

/// The notice ramoops appends when the zone has ECC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EccNotice {
    /// `ECC: No errors detected`.
    NoErrors,
    /// `ECC: N Corrected bytes, M unrecoverable blocks`.
    Errors {
        /// Bytes Reed-Solomon corrected.
        corrected_bytes: i64,
        /// Blocks it could not correct (their bytes are suspect).
        bad_blocks: i64,
    },
}

impl EccNotice {
    /// Whether the notice reports any damage.
    pub fn has_errors(&self) -> bool {
        matches!(self, EccNotice::Errors { corrected_bytes, bad_blocks } if *corrected_bytes != 0 || *bad_blocks != 0)
    }
}

/// Split an ECC notice off the end of `data`: returns the data without it
/// and the notice.
pub fn split_ecc(data: &[u8]) -> (&[u8], Option<EccNotice>) {
    const TAG: &[u8] = b"\nECC: ";
    // The notice is at most ~70 bytes; look only at the tail.
    let from = data.len().saturating_sub(96);
    let tail = &data[from..];
    let Some(pos) = tail.windows(TAG.len()).rposition(|w| w == TAG) else {
        return (data, None);
    };
    let text = &tail[pos + TAG.len()..];
    let text = text.strip_suffix(b"\0").unwrap_or(text);
    let Some(text) = text.strip_suffix(b"\n") else {
        return (data, None);
    };
    let Ok(text) = std::str::from_utf8(text) else {
        return (data, None);
    };
    let notice = if text == "No errors detected" {
        EccNotice::NoErrors
    } else {
        let parsed = (|| {
            let (a, b) = text.split_once(" Corrected bytes, ")?;
            let b = b.strip_suffix(" unrecoverable blocks")?;
            Some(EccNotice::Errors {
                corrected_bytes: a.parse().ok()?,
                bad_blocks: b.parse().ok()?,
            })
        })();
        match parsed {
            Some(n) => n,
            None => return (data, None),
        }
    };
    (&data[..from + pos], Some(notice))
}

/// One line of a dmesg body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine<'a> {
    /// Log level (0 emerg .. 7 debug) from `<N>`.
    pub level: Option<u8>,
    /// Syslog facility from `<N>` (0 kernel, 1 user, ...).
    pub facility: Option<u32>,
    /// Timestamp as seconds and microseconds.
    pub time: Option<(u64, u32)>,
    /// Message text (prefix removed).
    pub text: &'a [u8],
}

/// Parse one body line (without its newline). Lines without the prefixes
/// (continuations, damaged text) keep all their bytes in `text`.
pub fn parse_line(line: &[u8]) -> LogLine<'_> {
    let mut out = LogLine {
        level: None,
        facility: None,
        time: None,
        text: line,
    };
    let mut rest = line;
    if let Some((prio, after)) = syslog_prio(rest) {
        out.level = Some((prio & 7) as u8);
        out.facility = Some(prio >> 3);
        rest = after;
    }
    if let Some((t, after)) = timestamp(rest) {
        out.time = Some(t);
        rest = after.strip_prefix(b" ").unwrap_or(after);
    }
    out.text = rest;
    out
}

fn syslog_prio(s: &[u8]) -> Option<(u32, &[u8])> {
    let s = s.strip_prefix(b"<")?;
    let n = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if n == 0 || n > 4 || s.get(n) != Some(&b'>') {
        return None;
    }
    let v = std::str::from_utf8(&s[..n]).ok()?.parse().ok()?;
    Some((v, &s[n + 1..]))
}

fn timestamp(s: &[u8]) -> Option<((u64, u32), &[u8])> {
    let s = s.strip_prefix(b"[")?;
    let close = s.iter().take(32).position(|&b| b == b']')?;
    let inner = std::str::from_utf8(&s[..close]).ok()?.trim_start();
    let (secs, frac) = inner.split_once('.')?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let secs = secs.parse().ok()?;
    // Scale whatever precision was printed to microseconds.
    let mut usecs: u64 = frac.parse().ok()?;
    for _ in frac.len()..6 {
        usecs *= 10;
    }
    for _ in 6..frac.len() {
        usecs /= 10;
    }
    Some(((secs, usecs as u32), &s[close + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let (h, n) = parse_header(b"Panic#1 Part1\n<0>[ 1.0] x").unwrap();
        assert_eq!(
            h,
            DmesgHeader {
                reason: Reason::Panic,
                count: 1,
                part: 1
            }
        );
        assert_eq!(n, 14);
        for (w, r) in [
            ("Oops", Reason::Oops),
            ("Emergency", Reason::Emergency),
            ("Shutdown", Reason::Shutdown),
            ("Unknown", Reason::Unknown),
            ("Restart", Reason::Restart),
            ("Halt", Reason::Halt),
            ("Poweroff", Reason::Poweroff),
            ("Weird", Reason::Other("Weird".into())),
        ] {
            let (h, _) = parse_header(format!("{w}#12 Part34\n").as_bytes()).unwrap();
            assert_eq!((h.reason.clone(), h.count, h.part), (r, 12, 34));
            assert_eq!(h.reason.as_str(), w);
        }
        assert_eq!(parse_header(b"Panic#1 Part#2\n").unwrap().0.part, 2);
        for bad in [
            &b"Panic#1 Part1"[..],
            b"<6>[ 0.1] hi\n",
            b"#1 Part1\n",
            b"Panic#x Part1\n",
            b"Pa nic#1 Part1\n",
            b"",
        ] {
            assert!(
                parse_header(bad).is_none(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn ecc_notices() {
        let (d, n) = split_ecc(b"text\nmore\n\nECC: No errors detected\n");
        assert_eq!((d, n), (&b"text\nmore\n"[..], Some(EccNotice::NoErrors)));
        let (d, n) = split_ecc(b"abc\nECC: 3 Corrected bytes, 1 unrecoverable blocks\n");
        assert_eq!(d, b"abc");
        assert_eq!(
            n,
            Some(EccNotice::Errors {
                corrected_bytes: 3,
                bad_blocks: 1
            })
        );
        assert!(n.unwrap().has_errors());
        assert!(!EccNotice::NoErrors.has_errors());
        let (d, n) = split_ecc(b"abc\nECC: garbage\n");
        assert_eq!((d.len(), n), (17, None));
        assert_eq!(split_ecc(b"").1, None);
    }

    #[test]
    fn lines() {
        let l = parse_line(b"<6>[    2.785117] Kernel panic");
        assert_eq!(
            (l.level, l.facility, l.time),
            (Some(6), Some(0), Some((2, 785117)))
        );
        assert_eq!(l.text, b"Kernel panic");
        let l = parse_line(b"<12>[12345.5] marker");
        assert_eq!(
            (l.level, l.facility, l.time),
            (Some(4), Some(1), Some((12345, 500000)))
        );
        let l = parse_line(b"[    1.123456789] no prio");
        assert_eq!((l.level, l.time), (None, Some((1, 123456))));
        let l = parse_line(b" continuation");
        assert_eq!(
            (l.level, l.time, l.text),
            (None, None, &b" continuation"[..])
        );
        for junk in [
            &b"<"[..],
            b"<99999>",
            b"<1>[",
            b"<1>[ x.y]",
            b"[1.]",
            b"<1>[1.1",
        ] {
            let _ = parse_line(junk);
        }
    }
}
