//! Redaction of what identifies a person or a machine in text that leaves
//! the machine: MAC, IPv4 and IPv6 addresses, serial numbers, host names,
//! user names and home paths, e-mail addresses and, on request, kernel
//! pointers (which defeat KASLR).
//!
//! Each distinct value gets a stable placeholder (`<mac-1>`, `<ip-2>`) for
//! the life of one [`Redactor`], so a log stays readable ("the same card
//! went down twice") and all files of a bundle agree. Host and user names
//! are learned first ([`Redactor::learn`]) from the whole record, then
//! replaced wherever they occur, because a name seen once in a syslog
//! prefix may appear elsewhere in plain text.
//!
//! The scanner works on bytes and only replaces spans that start and end at
//! ASCII characters, so UTF-8 text stays valid and binary junk is harmless.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;

/// One kind of private data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// MAC and other colon-separated hardware addresses (EUI-48/64, IPoIB).
    Mac,
    /// IPv4 addresses (loopback, 0.0.0.0 and netmasks are kept).
    Ipv4,
    /// IPv6 addresses (`::`, `::1` are kept).
    Ipv6,
    /// Serial numbers: DMI `Serial Number:`, USB `SerialNumber:`,
    /// `ID_SERIAL=`, `/dev/disk/by-id/` names.
    Serial,
    /// Host names learned from the record and the log.
    Hostname,
    /// User names learned from home paths and login messages.
    User,
    /// The user part of `/home/<user>` paths.
    HomePath,
    /// E-mail-like `user@host` (also the kernel builder in `Linux version`).
    Email,
    /// Kernel pointers (`ffff8880...`, `Kernel Offset:`), only on request.
    Pointer,
}

impl Rule {
    /// Name used in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Rule::Mac => "mac",
            Rule::Ipv4 => "ipv4",
            Rule::Ipv6 => "ipv6",
            Rule::Serial => "serial",
            Rule::Hostname => "hostname",
            Rule::User => "user",
            Rule::HomePath => "home-path",
            Rule::Email => "email",
            Rule::Pointer => "pointer",
        }
    }

    /// Placeholder stem: IPv4 and IPv6 share `ip`, users and home paths
    /// share `user`, so one value has one name everywhere.
    fn stem(self) -> &'static str {
        match self {
            Rule::Mac => "mac",
            Rule::Ipv4 | Rule::Ipv6 => "ip",
            Rule::Serial => "serial",
            Rule::Hostname => "host",
            Rule::User | Rule::HomePath => "user",
            Rule::Email => "email",
            Rule::Pointer => "ptr",
        }
    }
}

/// What to redact.
#[derive(Debug, Clone)]
pub struct RedactOptions {
    /// Redact at all (`--no-redact` turns this off).
    pub enabled: bool,
    /// Also redact kernel pointers (`--redact-pointers`).
    pub pointers: bool,
}

impl Default for RedactOptions {
    fn default() -> Self {
        RedactOptions {
            enabled: true,
            pointers: false,
        }
    }
}

/// Count of replacements made by one rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RuleCount {
    /// The rule.
    pub rule: Rule,
    /// Occurrences replaced.
    pub replaced: u64,
}

/// Names that are never treated as a private host or user name: they
/// identify nobody and replacing them would wreck the log (`/dev/...`).
const NOT_PRIVATE: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "(none)",
    "none",
    "root",
    "nobody",
    "user",
    "dev",
    "sys",
    "proc",
    "run",
    "tmp",
    "var",
    "usr",
    "bin",
    "sbin",
    "etc",
    "lib",
    "boot",
    "mnt",
    "media",
    "opt",
    "srv",
    "home",
    "kernel",
    "linux",
    "ubuntu",
];

/// Replaces private data with placeholders; see the module docs.
#[derive(Debug, Clone)]
pub struct Redactor {
    opts: RedactOptions,
    /// Lowercased host names, longest first.
    hosts: Vec<String>,
    /// User names (case-sensitive, as Unix names are), longest first.
    users: Vec<String>,
    names: HashMap<(&'static str, String), usize>,
    next: HashMap<&'static str, usize>,
    counts: BTreeMap<Rule, u64>,
}

impl Redactor {
    /// A redactor with nothing learned yet.
    pub fn new(opts: RedactOptions) -> Self {
        Redactor {
            opts,
            hosts: Vec::new(),
            users: Vec::new(),
            names: HashMap::new(),
            next: HashMap::new(),
            counts: BTreeMap::new(),
        }
    }

    /// The options in force.
    pub fn options(&self) -> &RedactOptions {
        &self.opts
    }

    /// Add a host name known from elsewhere (the record's utsname). A
    /// fully qualified name also adds its first label.
    pub fn add_hostname(&mut self, name: &str) {
        let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
        if !plausible_name(&name) {
            return;
        }
        if let Some((first, _)) = name.split_once('.') {
            self.add_hostname(first);
        }
        if !self.hosts.contains(&name) {
            self.hosts.push(name);
            self.hosts.sort_by_key(|h| std::cmp::Reverse(h.len()));
        }
    }

    /// Add a user name known from elsewhere.
    pub fn add_user(&mut self, name: &str) {
        let name = name.trim();
        if !plausible_name(name) || name.contains('.') {
            return;
        }
        if !self.users.iter().any(|u| u == name) {
            self.users.push(name.to_string());
            self.users.sort_by_key(|u| std::cmp::Reverse(u.len()));
        }
    }

    /// Host names learned so far (lowercase).
    pub fn hostnames(&self) -> &[String] {
        &self.hosts
    }

    /// User names learned so far.
    pub fn users(&self) -> &[String] {
        &self.users
    }

    /// Learn host and user names from text: syslog/journal line prefixes,
    /// `Hostname set to <x>`, `hostname: x`, `/home/<user>`, `for user x`,
    /// `USER=x`.
    pub fn learn(&mut self, text: &[u8]) {
        for line in text.split(|&b| b == b'\n') {
            let line = String::from_utf8_lossy(line);
            let toks: Vec<&str> = line.split_whitespace().collect();
            // `Nov 21 16:42:11 host kernel: ...`
            if toks.len() >= 5
                && is_month(toks[0])
                && toks[1].bytes().all(|b| b.is_ascii_digit())
                && toks[2].contains(':')
                && toks[4].ends_with(':')
            {
                self.add_hostname(toks[3]);
            }
            // `2026-11-21T16:42:11+0000 host kernel: ...` (journalctl -o short-iso)
            if toks.len() >= 3
                && toks[0].len() >= 19
                && toks[0].as_bytes()[4] == b'-'
                && toks[0].as_bytes()[10] == b'T'
                && toks[2].ends_with(':')
            {
                self.add_hostname(toks[1]);
            }
            for key in [
                "Hostname set to <",
                "hostname: ",
                "Hostname: ",
                "hostname=",
                "HOSTNAME=",
            ] {
                if let Some(i) = line.find(key) {
                    let v = &line[i + key.len()..];
                    let end = v
                        .find(|c: char| {
                            !(c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
                        })
                        .unwrap_or(v.len());
                    self.add_hostname(&v[..end]);
                }
            }
            let mut rest: &str = &line;
            while let Some(i) = rest.find("/home/") {
                let v = &rest[i + 6..];
                let end = v.find(|c: char| !is_user_char(c)).unwrap_or(v.len());
                self.add_user(&v[..end]);
                rest = v;
            }
            for key in ["for user ", "USER=", "LOGNAME=", "SUDO_USER="] {
                if let Some(i) = line.find(key) {
                    let v = &line[i + key.len()..];
                    let end = v.find(|c: char| !is_user_char(c)).unwrap_or(v.len());
                    self.add_user(&v[..end]);
                }
            }
        }
    }

    /// Replacements made so far, per rule (rules that matched nothing are
    /// listed with 0 so a manifest shows what was checked).
    pub fn counts(&self) -> Vec<RuleCount> {
        let mut rules = vec![
            Rule::Mac,
            Rule::Ipv4,
            Rule::Ipv6,
            Rule::Serial,
            Rule::Hostname,
            Rule::User,
            Rule::HomePath,
            Rule::Email,
        ];
        if self.opts.pointers {
            rules.push(Rule::Pointer);
        }
        rules
            .into_iter()
            .map(|rule| RuleCount {
                rule,
                replaced: self.counts.get(&rule).copied().unwrap_or(0),
            })
            .collect()
    }

    /// Redact a text. With redaction disabled, returns it unchanged.
    pub fn redact(&mut self, text: &[u8]) -> Vec<u8> {
        if !self.opts.enabled {
            return text.to_vec();
        }
        let lower = text.to_ascii_lowercase();
        let mut out = Vec::with_capacity(text.len());
        let mut i = 0;
        while i < text.len() {
            if let Some(n) = placeholder_len(text, i) {
                out.extend_from_slice(&text[i..i + n]);
                i += n;
                continue;
            }
            match self.match_at(text, &lower, i) {
                Some(m) => {
                    out.extend_from_slice(&text[i..m.start]);
                    let key = if m.case_sensitive {
                        String::from_utf8_lossy(&text[m.start..m.end]).into_owned()
                    } else {
                        String::from_utf8_lossy(&lower[m.start..m.end]).into_owned()
                    };
                    let ph = self.placeholder(m.rule, key);
                    out.extend_from_slice(ph.as_bytes());
                    i = m.end.max(i + 1);
                }
                None => {
                    out.push(text[i]);
                    i += 1;
                }
            }
        }
        out
    }

    fn placeholder(&mut self, rule: Rule, key: String) -> String {
        *self.counts.entry(rule).or_insert(0) += 1;
        let stem = rule.stem();
        let n = match self.names.get(&(stem, key.clone())) {
            Some(&n) => n,
            None => {
                let next = self.next.entry(stem).or_insert(0);
                *next += 1;
                let n = *next;
                self.names.insert((stem, key), n);
                n
            }
        };
        format!("<{stem}-{n}>")
    }

    /// The first rule that matches at `i`, in priority order.
    fn match_at(&self, t: &[u8], lower: &[u8], i: usize) -> Option<Match> {
        let prev = if i == 0 { None } else { Some(t[i - 1]) };
        let word_start = prev.is_none_or(|p| !p.is_ascii_alphanumeric() && p != b'_');
        if word_start {
            if let Some(m) = serial_at(t, lower, i) {
                return Some(m);
            }
            if let Some(m) = email_at(t, i) {
                return Some(m);
            }
        }
        if lower[i..].starts_with(b"/home/") {
            let s = i + 6;
            let e = s + t[s..]
                .iter()
                .take_while(|&&c| is_user_char(c as char))
                .count();
            if e > s {
                return Some(Match::new(s, e, Rule::HomePath).exact());
            }
        }
        if lower[i..].starts_with(b"/by-id/") {
            let s = i + 7;
            let e = s + t[s..]
                .iter()
                .take_while(|&&c| !c.is_ascii_whitespace() && !b"/,;\"'".contains(&c))
                .count();
            if e > s {
                return Some(Match::new(s, e, Rule::Serial));
            }
        }
        if word_start {
            if let Some(m) = mac_at(t, i) {
                return Some(m);
            }
            if let Some(m) = ipv6_at(t, i) {
                return Some(m);
            }
            if let Some(m) = ipv4_at(t, i) {
                return Some(m);
            }
            if self.opts.pointers {
                if let Some(m) = pointer_at(t, lower, i) {
                    return Some(m);
                }
            }
        }
        let name_start = prev.is_none_or(|p| !is_name_byte(p));
        if name_start {
            for h in &self.hosts {
                let e = i + h.len();
                if lower[i..].starts_with(h.as_bytes())
                    && t.get(e).is_none_or(|&c| !is_name_byte(c))
                {
                    return Some(Match::new(i, e, Rule::Hostname));
                }
            }
            for u in &self.users {
                let e = i + u.len();
                if t[i..].starts_with(u.as_bytes()) && t.get(e).is_none_or(|&c| !is_name_byte(c)) {
                    return Some(Match::new(i, e, Rule::User).exact());
                }
            }
        }
        None
    }
}

#[derive(Debug)]
struct Match {
    start: usize,
    end: usize,
    rule: Rule,
    case_sensitive: bool,
}

impl Match {
    fn new(start: usize, end: usize, rule: Rule) -> Self {
        Match {
            start,
            end,
            rule,
            case_sensitive: false,
        }
    }
    fn exact(mut self) -> Self {
        self.case_sensitive = true;
        self
    }
}

fn is_month(s: &str) -> bool {
    [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ]
    .contains(&s)
}

fn is_user_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.'
}

/// Bytes that continue a host or user name: a match must not be part of a
/// longer name.
fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

fn plausible_name(n: &str) -> bool {
    n.len() >= 2
        && n.len() <= 253
        && n.bytes().all(|b| is_name_byte(b) || b == b'.')
        && n.bytes().any(|b| b.is_ascii_alphabetic())
        && !NOT_PRIVATE.contains(&n)
}

/// `<stem-N>`: a placeholder already in the text is copied, never matched.
fn placeholder_len(t: &[u8], i: usize) -> Option<usize> {
    if t[i] != b'<' {
        return None;
    }
    let rest = &t[i + 1..];
    let letters = rest.iter().take_while(|b| b.is_ascii_lowercase()).count();
    if letters == 0 || rest.get(letters) != Some(&b'-') {
        return None;
    }
    let digits = rest[letters + 1..]
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .count();
    if digits == 0 || rest.get(letters + 1 + digits) != Some(&b'>') {
        return None;
    }
    Some(letters + digits + 3)
}

fn hexval(b: u8) -> bool {
    b.is_ascii_hexdigit()
}

/// Six or more colon- (or dash-) separated hex pairs. All-zero and
/// all-ones (broadcast) addresses identify nothing and are kept.
fn mac_at(t: &[u8], i: usize) -> Option<Match> {
    let pair = |j: usize| t.len() >= j + 2 && hexval(t[j]) && hexval(t[j + 1]);
    if !pair(i) {
        return None;
    }
    let sep = *t.get(i + 2)?;
    if sep != b':' && sep != b'-' {
        return None;
    }
    let mut groups = 1;
    let mut e = i + 2;
    while t.get(e) == Some(&sep) && pair(e + 1) && t.get(e + 3).is_none_or(|&c| !hexval(c)) {
        groups += 1;
        e += 3;
    }
    if groups < 6 || t.get(e).is_some_and(|&c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let digits: Vec<u8> = t[i..e].iter().copied().filter(|&c| hexval(c)).collect();
    if digits.iter().all(|&c| c == b'0') || digits.iter().all(|&c| c == b'f' || c == b'F') {
        return None;
    }
    Some(Match::new(i, e, Rule::Mac))
}

fn ipv4_len(t: &[u8], i: usize) -> Option<(usize, [u32; 4])> {
    let mut j = i;
    let mut oct = [0u32; 4];
    for (k, o) in oct.iter_mut().enumerate() {
        if k > 0 {
            if t.get(j) != Some(&b'.') {
                return None;
            }
            j += 1;
        }
        let n = t[j.min(t.len())..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if n == 0 || n > 3 {
            return None;
        }
        *o = std::str::from_utf8(&t[j..j + n]).ok()?.parse().ok()?;
        if *o > 255 {
            return None;
        }
        j += n;
    }
    Some((j - i, oct))
}

fn ipv4_at(t: &[u8], i: usize) -> Option<Match> {
    if i > 0 && t[i - 1] == b'.' {
        return None;
    }
    let (n, o) = ipv4_len(t, i)?;
    let e = i + n;
    // Not part of a longer dotted number (`1.2.3.4.5`, version strings).
    if t.get(e).is_some_and(|c| c.is_ascii_alphanumeric())
        || (t.get(e) == Some(&b'.') && t.get(e + 1).is_some_and(|c| c.is_ascii_digit()))
    {
        return None;
    }
    if o[0] == 127 || o == [0, 0, 0, 0] || o[0] == 255 {
        return None;
    }
    Some(Match::new(i, e, Rule::Ipv4))
}

fn ipv6_at(t: &[u8], i: usize) -> Option<Match> {
    // Start at a token start: after `addr:` is fine, inside `1:2:...` not.
    if i > 0 && (t[i - 1] == b':' || t[i - 1] == b'.') {
        let before = if i >= 2 { t[i - 2] } else { b' ' };
        if hexval(before) || before == b':' || before == b'.' || t[i - 1] == b'.' {
            return None;
        }
    }
    let run = t[i..]
        .iter()
        .take_while(|&&c| hexval(c) || c == b':' || c == b'.')
        .count();
    let mut cand = &t[i..i + run];
    // Log punctuation: a trailing `:` or `.` that is not `::`.
    while let Some((&last, rest)) = cand.split_last() {
        if (last == b':' && !cand.ends_with(b"::")) || last == b'.' {
            cand = rest;
        } else {
            break;
        }
    }
    let e = i + cand.len();
    if t.get(e)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
        && e == i + run
    {
        return None;
    }
    if !valid_ipv6(cand) {
        return None;
    }
    let s = String::from_utf8_lossy(cand).to_ascii_lowercase();
    if s == "::" || s == "::1" || s == "::0" {
        return None;
    }
    Some(Match::new(i, e, Rule::Ipv6))
}

fn valid_ipv6(c: &[u8]) -> bool {
    if c.iter().filter(|&&b| b == b':').count() < 2 {
        return false;
    }
    let s = match std::str::from_utf8(c) {
        Ok(s) => s,
        Err(_) => return false,
    };
    let (head, tail, compressed) = match s.split_once("::") {
        Some((h, t)) => {
            if t.contains("::") {
                return false;
            }
            (h, t, true)
        }
        None => (s, "", false),
    };
    let mut groups = 0;
    let parts: Vec<&str> = [head, tail]
        .iter()
        .filter(|p| !p.is_empty())
        .flat_map(|p| p.split(':'))
        .collect();
    for (k, p) in parts.iter().enumerate() {
        if p.contains('.') {
            // Embedded IPv4 only as the last group.
            if k + 1 != parts.len() || ipv4_len(p.as_bytes(), 0).map(|x| x.0) != Some(p.len()) {
                return false;
            }
            groups += 2;
        } else if p.is_empty() || p.len() > 4 || !p.bytes().all(hexval) {
            return false;
        } else {
            groups += 1;
        }
    }
    if compressed {
        groups < 8
    } else {
        groups == 8
    }
}

/// A 64-bit kernel address (`ffff888003a1b2c0`, with or without `0x`),
/// excluding error values (`ffffffffffffffda` is -38, not an address);
/// and the KASLR offset after `Kernel Offset: `.
fn pointer_at(t: &[u8], lower: &[u8], i: usize) -> Option<Match> {
    if lower[i..].starts_with(b"kernel offset: 0x") {
        let s = i + 15;
        let e = s + 2 + t[s + 2..].iter().take_while(|&&c| hexval(c)).count();
        return Some(Match::new(s, e, Rule::Pointer));
    }
    let s = if lower[i..].starts_with(b"0x") {
        i + 2
    } else {
        i
    };
    let n = t[s..].iter().take_while(|&&c| hexval(c)).count();
    if n != 16
        || !lower[s..].starts_with(b"ffff")
        || t.get(s + n).is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return None;
    }
    let v = u64::from_str_radix(std::str::from_utf8(&t[s..s + n]).ok()?, 16).ok()?;
    if v >= 0xffff_ffff_ffff_f001 {
        return None;
    }
    Some(Match::new(i, s + n, Rule::Pointer))
}

/// Keys after which a serial number follows (lowercase, longest first).
const SERIAL_KEYS: &[&str] = &[
    "id_serial_short",
    "chassis_serial",
    "product_serial",
    "serial number",
    "board_serial",
    "serialnumber",
    "serial_number",
    "serial-number",
    "id_serial",
    "serial no",
    "serial",
];

/// `Serial Number: X` (value to the end of the line or `,`), `serial=X`
/// (value to whitespace). A bare `serial:` is not a key: the kernel prints
/// `Serial: 8250/16550 driver`.
fn serial_at(t: &[u8], lower: &[u8], i: usize) -> Option<Match> {
    if !matches!(lower[i], b's' | b'i' | b'c' | b'p' | b'b') {
        return None;
    }
    let key = SERIAL_KEYS
        .iter()
        .find(|k| lower[i..].starts_with(k.as_bytes()))?;
    let mut j = i + key.len();
    if t.get(j)
        .is_some_and(|&c| c.is_ascii_alphanumeric() || c == b'_')
    {
        return None;
    }
    while t.get(j).is_some_and(|&c| c == b' ' || c == b'\t') {
        j += 1;
    }
    let sep = *t.get(j)?;
    if sep != b':' && sep != b'=' {
        return None;
    }
    if sep == b':' && *key == "serial" {
        return None;
    }
    j += 1;
    while t
        .get(j)
        .is_some_and(|&c| c == b' ' || c == b'\t' || c == b'"')
    {
        j += 1;
    }
    let stop: &[u8] = if sep == b'=' {
        b" \t\r\n,;\"'"
    } else {
        b"\r\n,;\"\\"
    };
    let mut e = j + t[j..].iter().take_while(|c| !stop.contains(c)).count();
    while e > j && t[e - 1].is_ascii_whitespace() {
        e -= 1;
    }
    if e == j || placeholder_len(t, j).is_some() {
        return None;
    }
    Some(Match::new(j, e, Rule::Serial).exact())
}

/// `local@domain`: e-mail addresses and `user@host` (the kernel builder in
/// `Linux version ... (alice@laptop)`). Not `0x100000@0x3f000000`
/// (ramoops), `256M@16M` (crashkernel) or `getty@tty1.service` (units).
fn email_at(t: &[u8], i: usize) -> Option<Match> {
    let local = |c: u8| c.is_ascii_alphanumeric() || b"._%+-".contains(&c);
    let n = t[i..].iter().take_while(|&&c| local(c)).count();
    if n == 0 || t.get(i + n) != Some(&b'@') || t[i].is_ascii_digit() {
        return None;
    }
    let s = i + n + 1;
    let m = t[s..]
        .iter()
        .take_while(|&&c| c.is_ascii_alphanumeric() || c == b'.' || c == b'-')
        .count();
    let mut e = s + m;
    while e > s && t[e - 1] == b'.' {
        e -= 1;
    }
    if e == s || t[s].is_ascii_digit() {
        return None;
    }
    let dom = String::from_utf8_lossy(&t[s..e]).to_ascii_lowercase();
    let units = [
        ".service", ".socket", ".target", ".mount", ".timer", ".slice", ".scope", ".path",
        ".device", ".swap",
    ];
    if units.iter().any(|u| dom.ends_with(u)) {
        return None;
    }
    Some(Match::new(i, e, Rule::Email))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red(text: &str, pointers: bool) -> (String, Redactor) {
        let mut r = Redactor::new(RedactOptions {
            enabled: true,
            pointers,
        });
        r.learn(text.as_bytes());
        let out = String::from_utf8(r.redact(text.as_bytes())).unwrap();
        (out, r)
    }

    #[test]
    fn macs_consistent_placeholders() {
        let (o, _) = red(
            "e1000e 0000:00:19.0 eth0: 52:54:00:12:34:56\nvirtio addr:52:54:00:12:34:56 other AA-BB-CC-DD-EE-0F\nbcast ff:ff:ff:ff:ff:ff zero 00:00:00:00:00:00",
            false,
        );
        assert_eq!(
            o,
            "e1000e 0000:00:19.0 eth0: <mac-1>\nvirtio addr:<mac-1> other <mac-2>\nbcast ff:ff:ff:ff:ff:ff zero 00:00:00:00:00:00"
        );
    }

    #[test]
    fn ip_addresses() {
        let (o, r) = red(
            "inet6 addr:fe80::1234 inet 192.168.1.23/24 brd 192.168.1.255 lo 127.0.0.1 mask 255.255.255.0\nfe80::5054:ff:fe12:3456%eth0 and 2001:db8:0:0:1:0:0:1, ::1 ok\nversion 1.2.3.4.5 stays, time 16:42:11 stays, pci 0000:00:1f.2 stays",
            false,
        );
        assert!(
            o.contains("addr:<ip-1> inet <ip-2>/24 brd <ip-3> lo 127.0.0.1 mask 255.255.255.0"),
            "{o}"
        );
        assert!(o.contains("<ip-4>%eth0 and <ip-5>, ::1 ok"), "{o}");
        assert!(
            o.contains("1.2.3.4.5 stays, time 16:42:11 stays, pci 0000:00:1f.2 stays"),
            "{o}"
        );
        let c = r.counts();
        assert_eq!(c.iter().find(|c| c.rule == Rule::Ipv4).unwrap().replaced, 2);
        assert_eq!(c.iter().find(|c| c.rule == Rule::Ipv6).unwrap().replaced, 3);
    }

    #[test]
    fn serials() {
        let (o, _) = red(
            "\tSerial Number: PF2ABCDE\nusb 1-1: SerialNumber: 0123456789AB\nE: ID_SERIAL_SHORT=S21PNXAG123456X\n/dev/disk/by-id/ata-Samsung_SSD_S21PNXAG123456X-part1\nSerial: 8250/16550 driver, 4 ports",
            false,
        );
        assert_eq!(
            o,
            "\tSerial Number: <serial-1>\nusb 1-1: SerialNumber: <serial-2>\nE: ID_SERIAL_SHORT=<serial-3>\n/dev/disk/by-id/<serial-4>\nSerial: 8250/16550 driver, 4 ports"
        );
    }

    #[test]
    fn hosts_users_emails() {
        let (o, _) = red(
            "Nov 21 16:42:11 alice-laptop kernel: Linux version 6.1 (bob@buildhost) #1\nNov 21 16:42:12 alice-laptop sudo: pam_unix(sudo:session): session opened for user carol\nopen /home/alice/x failed; carol again; alice-laptop.local; getty@tty1.service; ramoops 0x100000@0x3f000000",
            false,
        );
        assert!(!o.contains("alice"), "{o}");
        assert!(!o.contains("carol"), "{o}");
        assert!(!o.contains("bob"), "{o}");
        assert!(o.contains("<host-1> kernel:"), "{o}");
        assert!(o.contains("getty@tty1.service"), "{o}");
        assert!(o.contains("0x100000@0x3f000000"), "{o}");
        assert!(o.contains("/home/<user-"), "{o}");
    }

    #[test]
    fn pointers_only_on_request() {
        let log = "RIP: 0010:foo+0x1/0x2 RAX: ffff888003a1b2c0 RBX: ffffffffffffffda\nKernel Offset: 0x1da00000 from 0xffffffff81000000";
        let (o, _) = red(log, false);
        assert_eq!(o, log);
        let (o, _) = red(log, true);
        assert_eq!(
            o,
            "RIP: 0010:foo+0x1/0x2 RAX: <ptr-1> RBX: ffffffffffffffda\nKernel Offset: <ptr-2> from <ptr-3>"
        );
    }

    #[test]
    fn disabled_and_binary_input() {
        let mut r = Redactor::new(RedactOptions {
            enabled: false,
            pointers: true,
        });
        assert_eq!(r.redact(b"10.1.2.3"), b"10.1.2.3");
        let mut r = Redactor::new(RedactOptions::default());
        let junk: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
        r.learn(&junk);
        let _ = r.redact(&junk);
        let _ = r.redact(b"<");
        let _ = r.redact(b"Serial Number:");
        let _ = r.redact(b"a@");
        let _ = r.redact(b"1.2.3.");
        let _ = r.redact(b"12:34:56:78:9a:bc:");
    }

    #[test]
    fn random_text_never_panics_and_stays_utf8() {
        // A cheap deterministic fuzz over the characters the matchers
        // care about.
        let alphabet = "0123456789abcdefABCDEF:.-@/<>=_ \n\"xyzSerial NumberID_SERIAL=home/ffff:ffkernel offset: 0x\u{e9}";
        let chars: Vec<char> = alphabet.chars().collect();
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for _ in 0..3000 {
            let mut s = String::new();
            for _ in 0..(x % 80) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(chars[(x % chars.len() as u64) as usize]);
            }
            let mut r = Redactor::new(RedactOptions {
                enabled: true,
                pointers: true,
            });
            r.learn(s.as_bytes());
            let out = r.redact(s.as_bytes());
            assert!(String::from_utf8(out).is_ok(), "{s:?}");
        }
    }
}
