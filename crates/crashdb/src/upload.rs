//! Reading an uploaded bundle strictly: the `.tar.gz` that [`Bundle`]
//! writes, read back with caps and member-name rules, and the crash named
//! again from its log with the same `oops` code the client runs. The crash
//! server ingests with this; it lives next to the writer so the format has
//! one home, and so it can be fuzzed without the server's stack.
//!
//! [`Bundle`]: crate::Bundle

use std::io::Read;

use serde::Deserialize;

/// Largest number of members a bundle may hold.
pub const MAX_MEMBERS: usize = 64;

/// Why a bundle was refused. Every variant is the client's fault (4xx).
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// Not gzip, or a damaged gzip stream.
    #[error("not a gzip stream: {0}")]
    Gzip(std::io::Error),
    /// Unpacked, the bundle is over the cap.
    #[error("the bundle unpacks to more than {0} bytes")]
    TooLarge(u64),
    /// Not a tar archive, or a damaged one.
    #[error("not a tar archive: {0}")]
    Tar(String),
    /// A member name that could escape a directory or is not ours.
    #[error("refused member name {0:?}: {1}")]
    BadName(String, &'static str),
    /// A member that is not a regular file (link, device, ...).
    #[error("refused member {0:?}: only regular files are accepted")]
    BadType(String),
    /// More than [`MAX_MEMBERS`] members or the same name twice.
    #[error("{0}")]
    Layout(String),
    /// A required member is missing.
    #[error("the bundle has no {0}")]
    Missing(&'static str),
    /// `manifest.json` is not valid JSON of the right shape.
    #[error("manifest.json: {0}")]
    Manifest(String),
}

impl BundleError {
    /// Stable snake_case code for API errors.
    pub fn code(&self) -> &'static str {
        match self {
            BundleError::Gzip(_) => "bad_gzip",
            BundleError::TooLarge(_) => "too_large",
            BundleError::Tar(_) | BundleError::Layout(_) | BundleError::BadType(_) => "bad_tar",
            BundleError::BadName(..) => "bad_member_name",
            BundleError::Missing(_) => "incomplete_bundle",
            BundleError::Manifest(_) => "bad_manifest",
        }
    }
}

/// The fields of `manifest.json` the server reads; types are checked
/// strictly (a number where a string belongs is a 400).
#[derive(Debug, Clone, Deserialize)]
pub struct ManifestIn {
    /// Must be `panicdump-bundle`.
    pub format: String,
    /// Must be 1.
    pub version: u32,
    /// The client's record id.
    pub record: String,
    /// The client's title.
    #[serde(default)]
    pub title: Option<String>,
    /// The client's kind.
    #[serde(default)]
    pub kind: Option<String>,
    /// The client's signature hash.
    #[serde(default)]
    pub signature_hash: Option<String>,
    /// Crashed kernel release.
    #[serde(default)]
    pub release: Option<String>,
    /// Crash time, RFC 3339.
    #[serde(default)]
    pub crash_time: Option<String>,
}

/// A validated bundle with the crash named by the server.
#[derive(Debug, Clone)]
pub struct Parsed {
    /// The manifest.
    pub manifest: ManifestIn,
    /// `log-tail.txt`, lossily decoded.
    pub log: String,
    /// The server's title (or a placeholder when the log holds no report).
    pub title: String,
    /// The server's kind (`none` when no report was found).
    pub kind: String,
    /// The server's signature.
    pub signature: String,
    /// The server's signature hash; the bucket id.
    pub signature_hash: String,
    /// 1-based line of the report in `log`.
    pub report_line: Option<i64>,
    /// Kernel release (manifest, else the report's CPU line).
    pub release: Option<String>,
    /// Crash time, Unix seconds.
    pub crash_time: Option<i64>,
}

/// Bucket id of logs with no crash report in them.
pub const NO_REPORT_BUCKET: &str = "no-report";

/// The crash named from a log by `oops`: (title, kind, signature, hash,
/// report line, release).
pub fn name_crash(log: &[u8]) -> (String, String, String, String, Option<i64>, Option<String>) {
    let a = oops::analyze(log);
    match a.primary() {
        Some(r) => (
            r.title.clone(),
            r.kind.as_str().to_string(),
            r.signature().to_string(),
            r.signature_hash().to_string(),
            i64::try_from(r.line).ok(),
            r.release.clone(),
        ),
        None => (
            "no crash report in the log".to_string(),
            "none".to_string(),
            "none".to_string(),
            NO_REPORT_BUCKET.to_string(),
            None,
            None,
        ),
    }
}

/// Record ids as `crashdb` makes them, with some room: no separators, no
/// dots first, so the top directory name is harmless.
fn valid_record(r: &str) -> bool {
    !r.is_empty()
        && r.len() <= 128
        && !r.starts_with('.')
        && r.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

fn check_name(name: &str) -> Result<(), BundleError> {
    let bad = |why| Err(BundleError::BadName(name.to_string(), why));
    if name.is_empty() || name.len() > 255 {
        return bad("empty or too long");
    }
    if name.starts_with('/') {
        return bad("absolute path");
    }
    if name.contains('\\') || name.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return bad("backslash or control character");
    }
    for part in name.split('/') {
        match part {
            ".." => return bad("parent directory component"),
            "." | "" => return bad("empty or `.` component"),
            _ => {}
        }
    }
    Ok(())
}

/// Unpack and validate a bundle; `max_unpacked` caps the tar's size.
pub fn parse(gz: &[u8], max_unpacked: u64) -> Result<Parsed, BundleError> {
    let mut raw = Vec::new();
    flate2::read::GzDecoder::new(gz)
        .take(max_unpacked.saturating_add(1))
        .read_to_end(&mut raw)
        .map_err(BundleError::Gzip)?;
    if raw.len() as u64 > max_unpacked {
        return Err(BundleError::TooLarge(max_unpacked));
    }
    let mut archive = ::tar::Archive::new(&raw[..]);
    let mut top: Option<String> = None;
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let entries = archive
        .entries()
        .map_err(|e| BundleError::Tar(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| BundleError::Tar(e.to_string()))?;
        let name_bytes = entry.path_bytes().into_owned();
        let name = String::from_utf8(name_bytes).map_err(|e| {
            BundleError::BadName(
                String::from_utf8_lossy(e.as_bytes()).into_owned(),
                "not UTF-8",
            )
        })?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            check_name(name.trim_end_matches('/'))?;
            continue;
        }
        check_name(&name)?;
        if !kind.is_file() {
            return Err(BundleError::BadType(name));
        }
        let (dir, file) = name.split_once('/').ok_or_else(|| {
            BundleError::BadName(name.clone(), "not inside the bundle's top directory")
        })?;
        match &top {
            None => top = Some(dir.to_string()),
            Some(t) if t != dir => {
                return Err(BundleError::BadName(name.clone(), "a second top directory"))
            }
            _ => {}
        }
        if members.len() >= MAX_MEMBERS {
            return Err(BundleError::Layout(format!(
                "more than {MAX_MEMBERS} members"
            )));
        }
        if members.iter().any(|(n, _)| n == file) {
            return Err(BundleError::Layout(format!(
                "member {name:?} appears twice"
            )));
        }
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .map_err(|e| BundleError::Tar(e.to_string()))?;
        members.push((file.to_string(), data));
    }
    let top = top.ok_or(BundleError::Missing("members"))?;
    let get = |n: &str| members.iter().find(|(m, _)| m == n).map(|(_, d)| d);
    let manifest_bytes = get("manifest.json").ok_or(BundleError::Missing("manifest.json"))?;
    let manifest: ManifestIn =
        serde_json::from_slice(manifest_bytes).map_err(|e| BundleError::Manifest(e.to_string()))?;
    if manifest.format != "panicdump-bundle" {
        return Err(BundleError::Manifest(format!(
            "format is {:?}, not \"panicdump-bundle\"",
            manifest.format
        )));
    }
    if manifest.version != 1 {
        return Err(BundleError::Manifest(format!(
            "version {} is not supported (1 is)",
            manifest.version
        )));
    }
    if !valid_record(&manifest.record) {
        return Err(BundleError::Manifest(format!(
            "record {:?} is not a record id",
            manifest.record
        )));
    }
    if top != format!("panicdump-{}", manifest.record) {
        return Err(BundleError::BadName(
            top,
            "the top directory is not panicdump-<manifest record>",
        ));
    }
    let log = get("log-tail.txt").ok_or(BundleError::Missing("log-tail.txt"))?;
    let (title, kind, signature, signature_hash, report_line, release_seen) = name_crash(log);
    let crash_time = manifest.crash_time.as_deref().and_then(parse_rfc3339);
    let release = manifest.release.clone().or(release_seen);
    Ok(Parsed {
        log: String::from_utf8_lossy(log).into_owned(),
        manifest,
        title,
        kind,
        signature,
        signature_hash,
        report_line,
        release,
        crash_time,
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS` with `Z` or `±HH:MM` (fractions ignored) to Unix
/// seconds; `None` when it is not that.
pub fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> { s.get(r)?.parse().ok() };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let mut rest = &s[19..];
    if let Some(r) = rest.strip_prefix('.') {
        rest = r.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    let offset = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6 && matches!(&rest[..1], "+" | "-") && &rest[3..4] == ":" => {
            let oh: i64 = rest[1..3].parse().ok()?;
            let om: i64 = rest[4..6].parse().ok()?;
            let o = oh * 3600 + om * 60;
            if rest.starts_with('-') {
                -o
            } else {
                o
            }
        }
        _ => return None,
    };
    Some(days_from_civil(y, mo as u32, d as u32) * 86_400 + h * 3600 + mi * 60 + se - offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_rfc3339("2024-02-29T12:00:00Z"), Some(1_709_208_000));
        assert_eq!(
            parse_rfc3339("2024-02-29T14:00:00.5+02:00"),
            Some(1_709_208_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
        assert_eq!(parse_rfc3339("2024-13-01T00:00:00Z"), None);
    }

    #[test]
    fn names() {
        assert!(check_name("panicdump-x/manifest.json").is_ok());
        for bad in [
            "/etc/passwd",
            "a/../b",
            "../x",
            "a//b",
            "a/./b",
            "a\\b",
            "a/\nb",
        ] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert!(valid_record("20240101T000000Z-0123456789ab"));
        assert!(!valid_record("../x"));
        assert!(!valid_record("a/b"));
    }
}
