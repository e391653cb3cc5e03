//! Report bundles: a `.tar.gz` with `manifest.json`, `log-tail.txt`,
//! `report.json`, `system.json` and optionally the dump, redacted by
//! default and held under a size cap.
//!
//! The bundle is built in memory first ([`Bundle::build`]) so `--preview`
//! prints exactly the text that [`Bundle::write`] puts in the archive.
//! Under the cap, the dump is dropped first, then the log tail shrinks
//! (lines far before the crash first, then lines after it); the manifest
//! says what was dropped.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, IoContext, Result};
use crate::fsutil::{commit, incomplete_name};
use crate::record::Record;
use crate::redact::{RedactOptions, Redactor, RuleCount};
use crate::sha256;
use crate::tar::{member_len, TarWriter, TRAILER_LEN};
use crate::time;

/// Default size cap: 8 MiB of archive contents.
pub const DEFAULT_MAX_BYTES: u64 = 8 << 20;

/// How to build a bundle.
#[derive(Debug, Clone)]
pub struct BundleOptions {
    /// Redaction.
    pub redact: RedactOptions,
    /// Include the record's dump (never redacted: it is raw memory).
    pub include_dump: bool,
    /// Cap on the archive's uncompressed size (headers included); the
    /// `.tar.gz` is smaller.
    pub max_bytes: u64,
    /// Log lines kept before the crash report's first line.
    pub lines_before: usize,
    /// Log lines kept from the report's first line on.
    pub lines_after: usize,
}

impl Default for BundleOptions {
    fn default() -> Self {
        BundleOptions {
            redact: RedactOptions::default(),
            include_dump: false,
            max_bytes: DEFAULT_MAX_BYTES,
            lines_before: 1000,
            lines_after: 1000,
        }
    }
}

/// One file of the manifest's list.
#[derive(Debug, Clone, Serialize)]
pub struct FileInfo {
    /// Name inside the archive (without the top directory).
    pub name: String,
    /// Size.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
    /// Whether redaction ran over this file.
    pub redacted: bool,
}

/// Which part of the log the bundle holds.
#[derive(Debug, Clone, Serialize)]
pub struct LogTail {
    /// First line kept (1-based).
    pub first_line: usize,
    /// Last line kept (1-based, inclusive).
    pub last_line: usize,
    /// Lines in the whole log.
    pub total_lines: usize,
    /// First line of the crash report, if one was found.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_line: Option<usize>,
    /// Lines were dropped to meet the size cap.
    pub shrunk_to_fit: bool,
}

/// Redaction summary.
#[derive(Debug, Clone, Serialize)]
pub struct RedactionInfo {
    /// Whether redaction ran.
    pub enabled: bool,
    /// Whether kernel pointers were redacted.
    pub pointers: bool,
    /// Replacements per rule, over all redacted files.
    pub rules: Vec<RuleCount>,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// `panicdump-bundle`.
    pub format: &'static str,
    /// Manifest version.
    pub version: u32,
    /// Record id.
    pub record: String,
    /// Crash title (redacted).
    pub title: Option<String>,
    /// Crash kind.
    pub kind: Option<String>,
    /// Signature hash (bucketing key).
    pub signature_hash: Option<String>,
    /// Crashed kernel release.
    pub release: Option<String>,
    /// Crash time, RFC 3339, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crash_time: Option<String>,
    /// Collection time, RFC 3339.
    pub collected_at: String,
    /// Where the record's data came from (redacted descriptions).
    pub sources: Vec<String>,
    /// Files in the archive besides this manifest.
    pub files: Vec<FileInfo>,
    /// Redaction applied.
    pub redaction: RedactionInfo,
    /// The log excerpt.
    pub log_tail: LogTail,
    /// What happened to the dump.
    pub dump: String,
    /// The size cap and the archive's uncompressed size.
    pub max_bytes: u64,
    /// Uncompressed archive size.
    pub total_bytes: u64,
}

/// A member's content.
#[derive(Debug, Clone)]
pub enum Content {
    /// Text built in memory (redacted unless disabled).
    Text(Vec<u8>),
    /// A file streamed from disk (the dump), of this size.
    File(std::path::PathBuf, u64),
}

/// A bundle ready to preview or write.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Top directory inside the archive (`panicdump-<id>`).
    pub top: String,
    /// Members in archive order (manifest first).
    pub members: Vec<(String, Content)>,
    /// The manifest (also the first member, serialized).
    pub manifest: Manifest,
    mtime: i64,
}

struct Parts {
    tail: Vec<u8>,
    report: Vec<u8>,
    system: Vec<u8>,
    title: Option<String>,
    sources: Vec<String>,
    redactor: Redactor,
}

impl Bundle {
    /// Build the bundle of a record.
    pub fn build(rec: &Record, opts: &BundleOptions) -> Result<Bundle> {
        let m = &rec.meta;
        let dmesg = rec.dmesg()?;
        let report = rec.report_json()?;
        let analysis = oops::analyze(&dmesg);
        let report_line = analysis
            .primary()
            .and_then(|r| usize::try_from(r.line).ok());

        // Learn names once from everything the bundle may contain.
        let mut base = Redactor::new(opts.redact.clone());
        if let Some(h) = &m.system.hostname {
            base.add_hostname(h);
        }
        base.learn(&dmesg);
        for s in &m.sources {
            base.learn(s.description.as_bytes());
        }

        let lines: Vec<&[u8]> = {
            let mut v: Vec<&[u8]> = dmesg.split(|&b| b == b'\n').collect();
            if dmesg.ends_with(b"\n") {
                v.pop();
            }
            v
        };
        let total_lines = lines.len();
        // Window [start, end) of 0-based line indices.
        let (mut start, mut end) = match report_line {
            Some(l) => {
                let at = l.saturating_sub(1).min(total_lines);
                (
                    at.saturating_sub(opts.lines_before),
                    at.saturating_add(opts.lines_after).min(total_lines),
                )
            }
            None => (
                total_lines.saturating_sub(opts.lines_before + opts.lines_after),
                total_lines,
            ),
        };
        let anchor = report_line.map(|l| l.saturating_sub(1)).unwrap_or(end);
        let dump_path = rec.dump_path();
        let mut dump_state = match (&m.dump, opts.include_dump) {
            (None, true) => "requested, but the record has no dump".to_string(),
            (None, false) | (Some(_), false) => "not included (not requested)".to_string(),
            (Some(_), true) => "included, NOT redacted (raw memory)".to_string(),
        };
        let mut with_dump = opts.include_dump && m.dump.is_some();
        let mut shrunk = false;
        let top = format!("panicdump-{}", m.id);

        // Fit under the cap: each round rebuilds with a fresh redactor so
        // the counts describe exactly what is in the archive.
        for _round in 0..200 {
            let parts = Self::parts(m, &base, &lines[start..end], &report);
            let mut bundle = Bundle {
                top: top.clone(),
                members: Vec::new(),
                manifest: Manifest {
                    format: "panicdump-bundle",
                    version: 1,
                    record: m.id.clone(),
                    title: parts.title.clone(),
                    kind: m.kind.clone(),
                    signature_hash: m.signature_hash.clone(),
                    release: m.release.clone(),
                    crash_time: m.crash_time.map(time::rfc3339),
                    collected_at: time::rfc3339(m.collected_at),
                    sources: parts.sources.clone(),
                    files: Vec::new(),
                    redaction: RedactionInfo {
                        enabled: opts.redact.enabled,
                        pointers: opts.redact.enabled && opts.redact.pointers,
                        rules: if opts.redact.enabled {
                            parts.redactor.counts()
                        } else {
                            Vec::new()
                        },
                    },
                    log_tail: LogTail {
                        first_line: start + 1,
                        last_line: end,
                        total_lines,
                        report_line,
                        shrunk_to_fit: shrunk,
                    },
                    dump: dump_state.clone(),
                    max_bytes: opts.max_bytes,
                    total_bytes: 0,
                },
                mtime: m.collected_at,
            };
            let redacted = opts.redact.enabled;
            for (name, data) in [
                ("log-tail.txt", parts.tail),
                ("report.json", parts.report),
                ("system.json", parts.system),
            ] {
                bundle.manifest.files.push(FileInfo {
                    name: name.to_string(),
                    bytes: data.len() as u64,
                    sha256: sha256::hex(&data),
                    redacted,
                });
                bundle.members.push((name.to_string(), Content::Text(data)));
            }
            if with_dump {
                if let (Some(d), Some(p)) = (&m.dump, &dump_path) {
                    let name = d.file.clone();
                    bundle.manifest.files.push(FileInfo {
                        name: name.clone(),
                        bytes: d.bytes,
                        sha256: d.sha256.clone(),
                        redacted: false,
                    });
                    bundle
                        .members
                        .push((name, Content::File(p.clone(), d.bytes)));
                }
            }
            let others: u64 = bundle
                .members
                .iter()
                .map(|(_, c)| member_len(content_len(c)))
                .sum();
            // The manifest's own size depends on total_bytes; iterate to a
            // fixed point (digit counts settle within a few rounds).
            for _ in 0..4 {
                let manifest_json = to_json(&bundle.manifest)?;
                let total = others + member_len(manifest_json.len() as u64) + TRAILER_LEN;
                if total == bundle.manifest.total_bytes {
                    break;
                }
                bundle.manifest.total_bytes = total;
            }
            let manifest_json = to_json(&bundle.manifest)?;
            let total = bundle.manifest.total_bytes;
            if total <= opts.max_bytes {
                bundle
                    .members
                    .insert(0, ("manifest.json".into(), Content::Text(manifest_json)));
                return Ok(bundle);
            }
            let excess = total - opts.max_bytes;
            if with_dump {
                with_dump = false;
                dump_state = format!(
                    "dropped: the dump ({} bytes) does not fit the size cap of {} bytes",
                    m.dump.as_ref().map(|d| d.bytes).unwrap_or(0),
                    opts.max_bytes
                );
                continue;
            }
            if end <= start {
                return Err(Error::CapTooSmall {
                    cap: opts.max_bytes,
                    needed: total,
                });
            }
            shrunk = true;
            // Drop raw bytes worth the excess (+ slack for placeholders
            // longer than what they replace), oldest lines first.
            let mut need = excess + 64;
            while need > 0 && end > start {
                let take_front = start < anchor;
                let i = if take_front { start } else { end - 1 };
                let n = lines[i].len() as u64 + 1;
                need = need.saturating_sub(n);
                if take_front {
                    start += 1;
                } else {
                    end -= 1;
                }
            }
        }
        Err(Error::Invalid(format!(
            "could not fit the bundle under {} bytes",
            opts.max_bytes
        )))
    }

    fn parts(
        m: &crate::record::RecordMeta,
        base: &Redactor,
        tail: &[&[u8]],
        report: &[u8],
    ) -> Parts {
        let mut r = base.clone();
        let mut text = Vec::new();
        for l in tail {
            text.extend_from_slice(l);
            text.push(b'\n');
        }
        let tail = r.redact(&text);
        let report = r.redact(report);
        #[derive(Serialize)]
        struct System<'a> {
            crashed_release: Option<&'a str>,
            #[serde(flatten)]
            system: &'a crate::sysinfo::SystemInfo,
        }
        let sys = serde_json::to_vec_pretty(&System {
            crashed_release: m.release.as_deref(),
            system: &m.system,
        })
        .unwrap_or_default();
        let mut system = r.redact(&sys);
        system.push(b'\n');
        let title = m
            .title
            .as_ref()
            .map(|t| String::from_utf8_lossy(&r.redact(t.as_bytes())).into_owned());
        let sources = m
            .sources
            .iter()
            .map(|s| {
                let d = format!(
                    "{}: {}",
                    serde_json::to_value(s.kind)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default(),
                    s.description
                );
                String::from_utf8_lossy(&r.redact(d.as_bytes())).into_owned()
            })
            .collect();
        Parts {
            tail,
            report,
            system,
            title,
            sources,
            redactor: r,
        }
    }

    /// Exactly the text files of the bundle, each under a `==> name <==`
    /// header, and a line per binary member; this is `--preview`.
    pub fn preview(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, c) in &self.members {
            match c {
                Content::Text(data) => {
                    out.extend_from_slice(
                        format!("==> {}/{} ({} bytes) <==\n", self.top, name, data.len())
                            .as_bytes(),
                    );
                    out.extend_from_slice(data);
                    if !data.ends_with(b"\n") {
                        out.push(b'\n');
                    }
                }
                Content::File(_, n) => out.extend_from_slice(
                    format!(
                        "==> {}/{} ({n} bytes, binary, NOT redacted: raw memory) <==\n",
                        self.top, name
                    )
                    .as_bytes(),
                ),
            }
        }
        out
    }

    /// Write the bundle as `.tar.gz` to `path` (temporary name, fsync,
    /// rename). Returns the compressed size.
    pub fn write(&self, path: &Path) -> Result<u64> {
        let tmp = incomplete_name(path);
        let res = (|| -> Result<u64> {
            let f = File::create(&tmp).ctx("creating", &tmp)?;
            let gz =
                flate2::write::GzEncoder::new(BufWriter::new(f), flate2::Compression::default());
            let mut tar = TarWriter::new(gz);
            for (name, c) in &self.members {
                let full = format!("{}/{}", self.top, name);
                match c {
                    Content::Text(data) => {
                        tar.file(&full, self.mtime, data).ctx("writing", &tmp)?
                    }
                    Content::File(p, n) => {
                        let mut r = File::open(p).ctx("opening", p)?;
                        tar.stream(&full, self.mtime, *n, &mut r)
                            .ctx("copying", p)?;
                    }
                }
            }
            let gz = tar.finish().ctx("writing", &tmp)?;
            let mut w = gz.finish().ctx("writing", &tmp)?;
            w.flush().ctx("writing", &tmp)?;
            let f = w.into_inner().map_err(|e| Error::Io {
                op: "writing",
                path: tmp.clone(),
                source: e.into_error(),
            })?;
            f.sync_all().ctx("syncing", &tmp)?;
            Ok(f.metadata().ctx("reading metadata of", &tmp)?.len())
        })();
        match res {
            Ok(n) => {
                commit(&tmp, path)?;
                Ok(n)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(e)
            }
        }
    }
}

fn content_len(c: &Content) -> u64 {
    match c {
        Content::Text(d) => d.len() as u64,
        Content::File(_, n) => *n,
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v).map_err(|source| Error::Json {
        path: "manifest.json".into(),
        source,
    })?;
    out.push(b'\n');
    Ok(out)
}

/// Read a bundle back: the members (full names, contents) of a `.tar.gz`
/// written by [`Bundle::write`]. For tests, servers and checks; holds the
/// whole archive in memory.
pub fn read_tar_gz(gz: &[u8]) -> std::io::Result<Vec<(String, Vec<u8>)>> {
    crate::tar::read_members(&gunzip(gz)?)
}

/// Decompress a `.tar.gz` to its raw tar bytes (headers included), so a
/// test can scan every byte that would leave the machine.
pub fn gunzip(gz: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut tar = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(gz), &mut tar)?;
    Ok(tar)
}
