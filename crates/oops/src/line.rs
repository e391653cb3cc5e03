//! Turning one raw log line into the kernel message it carries.
//!
//! Kernel logs reach us wrapped in many ways: `<N>` syslog levels (pstore,
//! `/dev/kmsg`), `[ t.tttttt]` stamps, `[T123]`/`[C1]` caller tags, syslog
//! or journal prefixes (`Apr 01 07:07:51 host kernel: `), `dmesg -x`
//! facility/level columns. We peel those off so the scanner only ever sees
//! the message text, and remember the caller tag so interleaved output from
//! several CPUs can be told apart.

/// Longest line we look at; the rest of a longer line is dropped. Kernel
/// messages are at most 1024 bytes (`LOG_LINE_MAX`), so this only cuts
/// garbage and keeps memory bounded on 1 MB lines.
pub const MAX_LINE: usize = 2048;

/// One log line after its wrappers were removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The message, trimmed of surrounding whitespace.
    pub text: String,
    /// The printk caller tag (`T123` for a task, `C1` for a CPU), if any.
    pub caller: Option<String>,
    /// The line was not kernel output (a syslog line from another program).
    pub foreign: bool,
    /// The line held bytes that are not text (invalid UTF-8, control bytes)
    /// or was longer than [`MAX_LINE`].
    pub damaged: bool,
}

/// Clean one raw line (without its `\n`).
pub fn clean(raw: &[u8]) -> Line {
    let mut damaged = raw.len() > MAX_LINE;
    let raw = &raw[..raw.len().min(MAX_LINE)];
    // Fast path: printable ASCII (almost every kernel line) is copied as is.
    let plain = raw.iter().all(|&b| (0x20..0x7f).contains(&b));
    let text = if plain {
        // All bytes are ASCII, so this cannot fail.
        String::from_utf8(raw.to_vec()).unwrap_or_default()
    } else {
        let mut text = String::with_capacity(raw.len());
        for chunk in raw.utf8_chunks() {
            for c in chunk.valid().chars() {
                if c == '\t' || c == '\r' {
                    text.push(' ');
                } else if c.is_control() {
                    damaged = true;
                    text.push(' ');
                } else {
                    text.push(c);
                }
            }
            if !chunk.invalid().is_empty() {
                damaged = true;
                text.push('\u{FFFD}');
            }
        }
        text
    };
    let mut caller = None;
    let mut foreign = false;
    let mut s: &str = &text;
    // Each wrapper can appear at most once, in this order; a few rounds are
    // enough for journal + level + stamp + caller combinations.
    s = s.trim_start();
    s = skip_to_stamp(s);
    for _ in 0..4 {
        let before = s.len();
        if let Some(rest) = strip_syslog(s) {
            match rest {
                Some(r) => s = r,
                None => {
                    foreign = true;
                    break;
                }
            }
        }
        s = strip_quote(s);
        s = strip_kmsg_record(s);
        s = strip_dmesg_x(s);
        s = strip_level(s);
        let (r, c) = strip_stamp(s);
        s = r;
        if c.is_some() {
            caller = c;
        }
        if s.len() == before {
            break;
        }
    }
    Line {
        text: s.trim().to_string(),
        caller,
        foreign,
        damaged,
    }
}

/// Serial consoles mix other output (a shell prompt, escape sequences)
/// into the start of kernel lines: `/ # [ 12.345] msg`. Skip to a stamp
/// found near the start.
fn skip_to_stamp(s: &str) -> &str {
    // A stamp whose "[" was lost when the log was cut: "60836.026949] msg".
    if let Some(i) = s.find("] ").filter(|&i| i <= 16) {
        if is_stamp(&s[..i]) {
            return &s[i + 2..];
        }
    }
    let head = &s.as_bytes()[..s.len().min(48)];
    for (i, &c) in head.iter().enumerate().skip(1) {
        if c == b'[' {
            if let Some(inner) = bracket(&s[i..]) {
                if is_stamp(inner.trim()) && s.is_char_boundary(i) {
                    return &s[i..];
                }
            }
        }
    }
    s
}

/// The first `n` bytes of `s`, shortened to a character boundary.
fn head(s: &str, n: usize) -> &str {
    let mut n = n.min(s.len());
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    &s[..n]
}

/// Mail quoting (`> `, `>> `, `> > `) of logs pasted into replies.
fn strip_quote(s: &str) -> &str {
    let t = s.trim_start_matches(['>', ' ']);
    if s.starts_with('>') && t.len() < s.len() {
        t
    } else {
        s
    }
}

/// `<6>` syslog level.
fn strip_level(s: &str) -> &str {
    let b = s.as_bytes();
    if b.first() != Some(&b'<') {
        return s;
    }
    let digits = b[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if (1..=3).contains(&digits) && b.get(1 + digits) == Some(&b'>') {
        &s[digits + 2..]
    } else {
        s
    }
}

/// `[  123.456789]` stamp, optionally followed (inside the same or its own
/// brackets) by a caller tag: `[ 12.3][ T45]` or `[ 12.3 T45]`.
fn strip_stamp(s: &str) -> (&str, Option<String>) {
    let mut caller = None;
    let mut rest = s.trim_start();
    let Some(inner) = bracket(rest) else {
        return (s, None);
    };
    let mut parts = inner.split_whitespace();
    let first = parts.next().unwrap_or("");
    if is_ctime(inner) || is_datetime(inner) {
        // Nothing more inside the brackets.
    } else if is_stamp(first) {
        if let Some(tag) = parts.next() {
            if is_caller(tag) {
                caller = Some(tag.to_string());
            } else {
                return (s, None);
            }
        }
    } else if is_caller(first) && parts.next().is_none() {
        caller = Some(first.to_string());
    } else {
        return (s, None);
    }
    rest = &rest[inner.len() + 2..];
    // A separate caller bracket after the stamp.
    if caller.is_none() {
        if let Some(tag) = bracket(rest) {
            let tag = tag.trim();
            if is_caller(tag) {
                caller = Some(tag.to_string());
                rest = &rest[rest.find(']').map_or(0, |i| i + 1)..];
            }
        }
    }
    (rest.strip_prefix(' ').unwrap_or(rest), caller)
}

/// Content of a leading `[...]` group (short).
fn bracket(s: &str) -> Option<&str> {
    let s2 = s.strip_prefix('[')?;
    let end = s2.find(']')?;
    (end <= 32).then(|| &s2[..end])
}

fn is_stamp(t: &str) -> bool {
    // "123.456789"; some consoles print "240." with the fraction lost;
    // `dmesg -H` prints deltas "+0.000005".
    let t = t.strip_prefix('+').unwrap_or(t);
    let Some((a, b)) = t.split_once('.') else {
        return false;
    };
    !a.is_empty() && a.bytes().all(|c| c.is_ascii_digit()) && b.bytes().all(|c| c.is_ascii_digit())
}

/// A logger's own stamp: `[2021/07/05, 13:43:52.334]`, `[2024-01-02 03:04:05]`.
fn is_datetime(t: &str) -> bool {
    t.len() >= 8
        && t.contains(':')
        && t.bytes().filter(u8::is_ascii_digit).count() >= 6
        && t.bytes()
            .all(|c| c.is_ascii_digit() || b"/:.,- T".contains(&c))
}

/// `dmesg -T` stamp: `[Wed Dec 19 03:36:07 2018]`.
fn is_ctime(t: &str) -> bool {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    // `dmesg -T` "Wed Dec 19 03:36:07 2018"; `dmesg -H` "Mar 8 17:07".
    (t.len() >= 20 && t.len() <= 30 && DAYS.iter().any(|d| t.starts_with(d)) && t.contains(':'))
        || (t.len() >= 9
            && t.len() <= 16
            && MONTHS.iter().any(|m| t.starts_with(m))
            && t.contains(':'))
}

fn is_caller(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 2 && (b[0] == b'T' || b[0] == b'C') && b[1..].iter().all(u8::is_ascii_digit)
}

/// `/dev/kmsg` record: `6,1234,5678901,-;message` (also with `,caller=T1`).
fn strip_kmsg_record(s: &str) -> &str {
    let Some(semi) = s.find(';') else { return s };
    if semi > 64 {
        return s;
    }
    let head = &s[..semi];
    let mut fields = head.split(',');
    let ok = fields
        .next()
        .is_some_and(|f| !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()))
        && fields
            .next()
            .is_some_and(|f| !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()))
        && fields
            .next()
            .is_some_and(|f| !f.is_empty() && f.bytes().all(|c| c.is_ascii_digit()))
        && fields.next().is_some_and(|f| f.len() == 1);
    if ok {
        &s[semi + 1..]
    } else {
        s
    }
}

/// `dmesg -x` columns: `kern  :err   : message`.
fn strip_dmesg_x(s: &str) -> &str {
    const FACILITIES: [&str; 4] = ["kern", "user", "daemon", "syslog"];
    for f in FACILITIES {
        if let Some(rest) = s.strip_prefix(f) {
            let rest = rest.trim_start();
            if let Some(rest) = rest.strip_prefix(':') {
                if let Some(colon) = rest.find(':') {
                    let level = rest[..colon].trim();
                    if !level.is_empty()
                        && level.len() <= 6
                        && level.bytes().all(|c| c.is_ascii_lowercase())
                    {
                        return rest[colon + 1..]
                            .strip_prefix(' ')
                            .unwrap_or(&rest[colon + 1..]);
                    }
                }
            }
        }
    }
    s
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Syslog / journal prefix. `None`: not a syslog line. `Some(Some(rest))`:
/// a kernel line. `Some(None)`: a line from another program.
fn strip_syslog(s: &str) -> Option<Option<&str>> {
    let b = s.as_bytes();
    // `journalctl -k -o cat`-like "kernel: msg" with nothing in front.
    if let Some(rest) = s.strip_prefix("kernel: ") {
        return Some(Some(rest));
    }
    // Date: "Apr  1 07:07:51" or ISO "2024-04-01T07:07:51.123+00:00" or
    // "2024-04-01 07:07:51".
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    if b.len() > 24 && DAYS.iter().any(|d| s.starts_with(d)) && b[3] == b' ' {
        // logread: "Sun Sep  1 19:30:19 2019 kern.warn kernel: msg".
        let i = head(s, 64).find(" kernel: ")?;
        return Some(Some(&s[i + 9..]));
    }
    // A bare "host kernel: msg" (syslog line whose date was cut off).
    if let Some(i) = head(s, 64).find(" kernel: ") {
        let host = &s[..i];
        if !host.is_empty() && !host.contains(' ') && !host.contains(':') {
            return Some(Some(&s[i + 9..]));
        }
    }
    // Any other date format (localized month names, custom stamps) with a
    // clock time before "kernel: " near the start.
    if let Some(i) = head(s, 64).find(" kernel: ") {
        let pre = &s[..i];
        let clock = pre.as_bytes().windows(8).any(|w| {
            w[2] == b':'
                && w[5] == b':'
                && [0, 1, 3, 4, 6, 7].iter().all(|&k| w[k].is_ascii_digit())
        });
        let iso = b.len() > 10 && b[4] == b'-' && b[7] == b'-';
        if clock && !iso && !MONTHS.iter().any(|m| s.starts_with(m)) {
            return Some(Some(&s[i + 9..]));
        }
    }
    let after_date = if b.len() > 15 && MONTHS.iter().any(|m| s.starts_with(m)) && b[3] == b' ' {
        let t = s[4..].trim_start();
        let day = t.bytes().take_while(u8::is_ascii_digit).count();
        if day == 0 || day > 2 {
            return None;
        }
        let t = t[day..].trim_start();
        time_prefix(t)?
    } else if b.len() > 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && (b[10] == b'T' || b[10] == b' ')
    {
        let t = &s[11..];
        let end = t.find(' ')?;
        if !t[..end].contains(':') {
            return None;
        }
        &t[end..]
    } else {
        return None;
    };
    // host, then "tag:" or "tag[pid]:"; the host is missing in some setups.
    let t = after_date.trim_start();
    if let Some(rest) = t.strip_prefix("kernel: ") {
        return Some(Some(rest));
    }
    let host_end = t.find(' ')?;
    let t = t[host_end..].trim_start();
    let colon = t
        .find(": ")
        .or_else(|| t.strip_suffix(':').map(|x| x.len()))?;
    let tag = &t[..colon];
    if tag.contains(' ') || tag.is_empty() {
        return None;
    }
    let rest = t.get(colon + 2..).unwrap_or("");
    if tag == "kernel" {
        Some(Some(rest))
    } else {
        Some(None)
    }
}

/// `07:07:51` or `07:07:51.123` at the start; returns what follows.
fn time_prefix(t: &str) -> Option<&str> {
    let b = t.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let end = t.find(' ')?;
    Some(&t[end..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_wrappers() {
        let l = clean(b"<4>[  12.345678] [  T123] WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2");
        assert_eq!(l.text, "WARNING: CPU: 0 PID: 1 at x.c:1 f+0x1/0x2");
        assert_eq!(l.caller.as_deref(), Some("T123"));
        let l = clean(b"[   12.345678][ T4567] BUG: KASAN: x");
        assert_eq!(l.text, "BUG: KASAN: x");
        assert_eq!(l.caller.as_deref(), Some("T4567"));
        let l = clean(b"Apr 01 07:07:51 lucy kernel: [ 3846.639479]  ? foo+0x1/0x2");
        assert_eq!(l.text, "? foo+0x1/0x2");
        let l = clean(b"Apr 01 07:07:51 lucy systemd[1]: BUG: not kernel");
        assert!(l.foreign);
        let l = clean(b"2024-04-01T07:07:51.123456+00:00 host kernel: Oops: 0000 [#1] SMP");
        assert_eq!(l.text, "Oops: 0000 [#1] SMP");
        let l = clean(b"6,1234,5678,-;Kernel panic - not syncing: x");
        assert_eq!(l.text, "Kernel panic - not syncing: x");
        let l = clean(b"kern  :emerg : [  1.0] Kernel panic - not syncing: y");
        assert_eq!(l.text, "Kernel panic - not syncing: y");
        let l = clean(b"Sun Sep  1 19:30:19 2019 kern.warn kernel: [138620.534103] Call trace:");
        assert_eq!(l.text, "Call trace:");
        let l =
            clean(b"raspberrypi-02 kernel: [509490.688179] ------------[ cut here ]------------");
        assert_eq!(l.text, "------------[ cut here ]------------");
        let l = clean(b"> > [   74.783244] Kernel panic - not syncing: sysrq triggered crash");
        assert_eq!(l.text, "Kernel panic - not syncing: sysrq triggered crash");
        let l = clean(b"[  240.] INFO: task a:64 blocked for more than 120 seconds.");
        assert!(l.text.starts_with("INFO: task"));
        let l = clean(b"[Wed Dec 19 03:36:07 2018] INFO: task b:1 blocked");
        assert!(l.text.starts_with("INFO: task"));
        let l = clean(b"    May 17 18:48:11 kernel: [ 6141.921740] INFO: task x");
        assert_eq!(l.text, "INFO: task x");
        let l = clean(b"/ # [90216.140000] watchdog: BUG: soft lockup");
        assert_eq!(l.text, "watchdog: BUG: soft lockup");
        let l = clean(b"[  +0.000005] kernel BUG at mm/uksm.c:3328!");
        assert_eq!(l.text, "kernel BUG at mm/uksm.c:3328!");
        let l = clean(b"[Mar 8 17:07] ------------[ cut here ]------------");
        assert_eq!(l.text, "------------[ cut here ]------------");
        let l = clean("8月 14 10:24:12 xxxx kernel: Unable to handle".as_bytes());
        assert_eq!(l.text, "Unable to handle");
        let l = clean(b"[  1.000000] ");
        assert_eq!(l.text, "");
    }

    #[test]
    fn damaged_bytes() {
        let l = clean(b"\xff\xfe BUG: x\x01");
        assert!(l.damaged);
        assert!(l.text.contains("BUG: x"));
        let long = vec![b'a'; MAX_LINE * 3];
        let l = clean(&long);
        assert!(l.damaged);
        assert_eq!(l.text.len(), MAX_LINE);
    }
}
