//! Crash records on disk: `<state>/crashes/<id>/` with `record.json`,
//! `dmesg.txt`, `report.json` and `raw/`.
//!
//! A record is built in `crashes/.tmp-<id>`, every file fsynced, then the
//! directory is renamed into place and `crashes/` fsynced: a record either
//! exists whole or not at all, so `collect` may delete its sources (pstore
//! entries, a dump) once [`Store::write`] returns. Ids are
//! `<UTC time>-<12 hex of the content hash>`; writing the same content
//! again returns the existing record instead of a duplicate.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, IoContext, Result};
use crate::fsutil::{sync_dir, write_synced};
use crate::sha256::{self, Sha256};
use crate::sysinfo::SystemInfo;
use crate::time;

/// Schema of `record.json` written by this version.
pub const SCHEMA: u32 = 1;

/// Default state directory.
pub const DEFAULT_STATE_DIR: &str = "/var/lib/panicdump";

/// Where a piece of a record came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A pstore file (`/sys/fs/pstore/dmesg-ramoops-0`, EFI parts).
    Pstore,
    /// The kernel log extracted from a dump.
    VmcoreDmesg,
    /// A memory dump (vmcore, kdump-compressed file).
    Dump,
    /// The running kernel's log (`/dev/kmsg`, journal).
    Kmsg,
    /// Any other file given by the user.
    File,
    /// The log a panic screen's QR code carried (drm_panic), as scanned.
    DrmPanic,
}

/// A source of the record, as given by the collector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// What sort of source.
    pub kind: SourceKind,
    /// Human description: the original path, backend, record id.
    pub description: String,
    /// File inside the record that holds its bytes (`raw/dmesg-ramoops-0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// A file stored in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// Path relative to the record directory.
    pub file: String,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256, hex.
    pub sha256: String,
}

/// `record.json`: what `list` and `show` print without reading the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordMeta {
    /// Schema version ([`SCHEMA`]).
    pub schema: u32,
    /// Record id.
    pub id: String,
    /// When the record was written (Unix seconds).
    pub collected_at: i64,
    /// When the crash happened, if the sources tell (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crash_time: Option<i64>,
    /// SHA-256 of the content that names the record (log, raw files, dump size).
    pub content_hash: String,
    /// Where the data came from.
    pub sources: Vec<Source>,
    /// Crash title; `None` when the log holds no crash report.
    #[serde(default)]
    pub title: Option<String>,
    /// Crash kind (`panic`, `warning`, ...).
    #[serde(default)]
    pub kind: Option<String>,
    /// Bucketing signature.
    #[serde(default)]
    pub signature: Option<String>,
    /// Hash of the signature.
    #[serde(default)]
    pub signature_hash: Option<String>,
    /// Kernel release of the crashed kernel (from the report).
    #[serde(default)]
    pub release: Option<String>,
    /// The kernel log (`dmesg.txt`).
    pub dmesg: StoredFile,
    /// Original files under `raw/`.
    #[serde(default)]
    pub raw: Vec<StoredFile>,
    /// The dump, if one was kept.
    #[serde(default)]
    pub dump: Option<StoredFile>,
    /// The machine.
    #[serde(default)]
    pub system: SystemInfo,
}

impl RecordMeta {
    /// Crash time if known, else collection time.
    pub fn time(&self) -> i64 {
        self.crash_time.unwrap_or(self.collected_at)
    }
}

/// How a dump gets into a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpMode {
    /// Copy it; the original stays.
    Copy,
    /// Rename it into the record (same filesystem); falls back to a copy
    /// across filesystems, leaving the original for the caller to delete.
    Move,
}

/// Inputs of a new record, already harvested by the caller.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// The kernel log to analyze and keep.
    pub dmesg: Vec<u8>,
    /// Description of the log's origin.
    pub dmesg_source: Source,
    /// Original files: (name under `raw/`, bytes, source).
    pub raw: Vec<(String, Vec<u8>, Source)>,
    /// A dump file and how to take it.
    pub dump: Option<(PathBuf, DumpMode, Source)>,
    /// Crash time, when known.
    pub crash_time: Option<i64>,
    /// The machine.
    pub system: SystemInfo,
}

impl NewRecord {
    /// A record of a kernel log from `kind` described by `description`.
    pub fn new(dmesg: Vec<u8>, kind: SourceKind, description: impl Into<String>) -> Self {
        NewRecord {
            dmesg,
            dmesg_source: Source {
                kind,
                description: description.into(),
                file: None,
            },
            raw: Vec::new(),
            dump: None,
            crash_time: None,
            system: SystemInfo::default(),
        }
    }

    /// Keep an original file under `raw/<name>`.
    pub fn raw_file(
        mut self,
        name: impl Into<String>,
        data: Vec<u8>,
        kind: SourceKind,
        description: impl Into<String>,
    ) -> Self {
        self.raw.push((
            name.into(),
            data,
            Source {
                kind,
                description: description.into(),
                file: None,
            },
        ));
        self
    }

    /// Keep a dump file.
    pub fn dump(
        mut self,
        path: impl Into<PathBuf>,
        mode: DumpMode,
        description: impl Into<String>,
    ) -> Self {
        self.dump = Some((
            path.into(),
            mode,
            Source {
                kind: SourceKind::Dump,
                description: description.into(),
                file: None,
            },
        ));
        self
    }

    /// Set the crash time (Unix seconds).
    pub fn crash_time(mut self, t: i64) -> Self {
        self.crash_time = Some(t);
        self
    }

    /// Set the system information.
    pub fn system(mut self, s: SystemInfo) -> Self {
        self.system = s;
        self
    }
}

/// Result of [`Store::write`].
#[derive(Debug, Clone)]
pub struct Written {
    /// The record's id.
    pub id: String,
    /// Its directory.
    pub dir: PathBuf,
    /// False when a record with the same content already existed.
    pub created: bool,
}

/// A record on disk.
#[derive(Debug, Clone)]
pub struct Record {
    /// Its directory.
    pub dir: PathBuf,
    /// Its `record.json`.
    pub meta: RecordMeta,
}

impl Record {
    /// Read the kernel log.
    pub fn dmesg(&self) -> Result<Vec<u8>> {
        let p = self.dir.join(&self.meta.dmesg.file);
        fs::read(&p).ctx("reading", &p)
    }

    /// Read `report.json` as stored.
    pub fn report_json(&self) -> Result<Vec<u8>> {
        let p = self.dir.join("report.json");
        fs::read(&p).ctx("reading", &p)
    }

    /// Analyze the stored log again (the structured report).
    pub fn analysis(&self) -> Result<oops::Analysis> {
        Ok(oops::analyze(&self.dmesg()?))
    }

    /// Path of the kept dump, if any.
    pub fn dump_path(&self) -> Option<PathBuf> {
        self.meta.dump.as_ref().map(|d| self.dir.join(&d.file))
    }
}

/// One entry of [`Store::list`]: a record, or a directory that could not
/// be read as one (shown, not hidden, so nothing is lost silently).
#[derive(Debug, Clone)]
pub struct Entry {
    /// Directory name (the id).
    pub id: String,
    /// Directory.
    pub dir: PathBuf,
    /// The metadata, or why it could not be read.
    pub meta: std::result::Result<RecordMeta, String>,
    /// Bytes used on disk (sum of file sizes).
    pub bytes: u64,
}

impl Entry {
    /// Crash time, collection time, or 0 for unreadable records.
    pub fn time(&self) -> i64 {
        self.meta.as_ref().map(RecordMeta::time).unwrap_or(0)
    }
}

/// The record store under a state directory.
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store under `state_dir` (records live in `state_dir/crashes`).
    /// Nothing is created until a record is written.
    pub fn new(state_dir: impl Into<PathBuf>) -> Self {
        Store {
            root: state_dir.into().join("crashes"),
        }
    }

    /// The `crashes` directory.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Write a record; see the module docs for atomicity and idempotency.
    /// `collected_at` is the current time (Unix seconds).
    pub fn write(&self, rec: &NewRecord, collected_at: i64) -> Result<Written> {
        let raw_names = raw_names(&rec.raw)?;
        let dump_len = match &rec.dump {
            Some((p, _, _)) => Some(fs::metadata(p).ctx("reading metadata of", p)?.len()),
            None => None,
        };
        let content_hash = content_hash(rec, &raw_names, dump_len);
        let short = &content_hash[..12];
        fs::create_dir_all(&self.root).ctx("creating", &self.root)?;
        for e in self.list()? {
            if e.id.ends_with(&format!("-{short}")) {
                return Ok(Written {
                    id: e.id,
                    dir: e.dir,
                    created: false,
                });
            }
        }
        let id = format!(
            "{}-{short}",
            time::compact(rec.crash_time.unwrap_or(collected_at))
        );
        let tmp = self.root.join(format!(".tmp-{id}"));
        if tmp.exists() {
            // Left by a collect that died midway: nothing in it was committed.
            fs::remove_dir_all(&tmp).ctx("removing stale", &tmp)?;
        }
        fs::create_dir(&tmp).ctx("creating", &tmp)?;
        let result = self.fill(
            &tmp,
            &id,
            rec,
            &raw_names,
            collected_at,
            content_hash.clone(),
        );
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        let dir = self.root.join(&id);
        if let Err(e) = fs::rename(&tmp, &dir) {
            let _ = fs::remove_dir_all(&tmp);
            if dir.join("record.json").exists() {
                // Another collect wrote the same record meanwhile.
                return Ok(Written {
                    id,
                    dir,
                    created: false,
                });
            }
            return Err(Error::Io {
                op: "renaming into place",
                path: dir,
                source: e,
            });
        }
        sync_dir(&self.root)?;
        if let Some((src, DumpMode::Move, _)) = &rec.dump {
            // A moved dump left its old directory: make that durable too.
            if let Some(parent) = src.parent().filter(|p| !p.as_os_str().is_empty()) {
                let _ = sync_dir(parent);
            }
        }
        Ok(Written {
            id,
            dir,
            created: true,
        })
    }

    fn fill(
        &self,
        tmp: &Path,
        id: &str,
        rec: &NewRecord,
        raw_names: &[String],
        collected_at: i64,
        content_hash: String,
    ) -> Result<()> {
        let analysis = oops::analyze(&rec.dmesg);
        let report = serde_json::to_vec_pretty(&analysis).map_err(|source| Error::Json {
            path: tmp.join("report.json"),
            source,
        })?;
        write_synced(&tmp.join("dmesg.txt"), &rec.dmesg)?;
        write_synced(&tmp.join("report.json"), &report)?;
        let mut sources = vec![rec.dmesg_source.clone()];
        sources[0].file = Some("dmesg.txt".into());
        let mut raw = Vec::new();
        if !rec.raw.is_empty() {
            let rawdir = tmp.join("raw");
            fs::create_dir(&rawdir).ctx("creating", &rawdir)?;
            for ((_, data, src), name) in rec.raw.iter().zip(raw_names) {
                write_synced(&rawdir.join(name), data)?;
                let file = format!("raw/{name}");
                raw.push(StoredFile {
                    file: file.clone(),
                    bytes: data.len() as u64,
                    sha256: sha256::hex(data),
                });
                let mut s = src.clone();
                s.file = Some(file);
                sources.push(s);
            }
            sync_dir(&rawdir)?;
        }
        let mut dump = None;
        if let Some((path, mode, src)) = &rec.dump {
            let name = path
                .file_name()
                .map(|n| sanitize(&n.to_string_lossy()))
                .unwrap_or_else(|| "dump".into());
            let file = format!("dump-{name}");
            let stored = take_dump(path, &tmp.join(&file), *mode)?;
            dump = Some(StoredFile {
                file: file.clone(),
                bytes: stored.0,
                sha256: stored.1,
            });
            let mut s = src.clone();
            s.file = Some(file);
            sources.push(s);
        }
        let p = analysis.primary();
        let meta = RecordMeta {
            schema: SCHEMA,
            id: id.to_string(),
            collected_at,
            crash_time: rec.crash_time,
            content_hash,
            sources,
            title: p.map(|r| r.title.clone()),
            kind: p.map(|r| r.kind.to_string()),
            signature: p.map(|r| r.signature().to_string()),
            signature_hash: p.map(|r| r.signature_hash().to_string()),
            release: p.and_then(|r| r.release.clone()),
            dmesg: StoredFile {
                file: "dmesg.txt".into(),
                bytes: rec.dmesg.len() as u64,
                sha256: sha256::hex(&rec.dmesg),
            },
            raw,
            dump,
            system: rec.system.clone(),
        };
        let json = serde_json::to_vec_pretty(&meta).map_err(|source| Error::Json {
            path: tmp.join("record.json"),
            source,
        })?;
        // record.json last: a directory without it was never finished.
        write_synced(&tmp.join("record.json"), &json)?;
        sync_dir(tmp)
    }

    /// All records, oldest first (by crash time, then id).
    pub fn list(&self) -> Result<Vec<Entry>> {
        let rd = match fs::read_dir(&self.root) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => {
                return Err(Error::Io {
                    op: "listing",
                    path: self.root.clone(),
                    source,
                })
            }
        };
        let mut out = Vec::new();
        for ent in rd {
            let ent = ent.ctx("listing", &self.root)?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !ent.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let dir = ent.path();
            let meta = read_meta(&dir).map_err(|e| e.to_string());
            out.push(Entry {
                bytes: dir_bytes(&dir),
                id: name,
                dir,
                meta,
            });
        }
        out.sort_by(|a, b| (a.time(), &a.id).cmp(&(b.time(), &b.id)));
        Ok(out)
    }

    /// Find a record by `latest`, full id, or unique id prefix.
    pub fn resolve(&self, query: &str) -> Result<Record> {
        let entries = self.list()?;
        let ok = |e: &Entry| -> Result<Record> {
            match &e.meta {
                Ok(m) => Ok(Record {
                    dir: e.dir.clone(),
                    meta: m.clone(),
                }),
                Err(_) => read_meta(&e.dir).map(|meta| Record {
                    dir: e.dir.clone(),
                    meta,
                }),
            }
        };
        if query == "latest" {
            let e = entries
                .iter()
                .rev()
                .find(|e| e.meta.is_ok())
                .ok_or_else(|| Error::Empty(self.root.clone()))?;
            return ok(e);
        }
        if let Some(e) = entries.iter().find(|e| e.id == query) {
            return ok(e);
        }
        let m: Vec<&Entry> = entries
            .iter()
            .filter(|e| {
                !query.is_empty()
                    && (e.id.starts_with(query) || e.id.ends_with(&format!("-{query}")))
            })
            .collect();
        match m.as_slice() {
            [] => Err(Error::NotFound(query.to_string())),
            [e] => ok(e),
            many => Err(Error::Ambiguous {
                query: query.to_string(),
                matches: many.iter().map(|e| e.id.clone()).collect(),
            }),
        }
    }

    /// Delete a record: renamed to `.del-<id>` first so a half-deleted
    /// record never looks like a damaged one.
    pub fn remove(&self, id: &str) -> Result<()> {
        if id.is_empty() || id.starts_with('.') || id.contains('/') {
            return Err(Error::Invalid(format!("record id {id:?}")));
        }
        let dir = self.root.join(id);
        let del = self.root.join(format!(".del-{id}"));
        fs::rename(&dir, &del).ctx("renaming for deletion", &dir)?;
        sync_dir(&self.root)?;
        fs::remove_dir_all(&del).ctx("removing", &del)
    }
}

fn read_meta(dir: &Path) -> Result<RecordMeta> {
    let p = dir.join("record.json");
    let bytes = fs::read(&p).ctx("reading", &p)?;
    #[derive(Deserialize)]
    struct Version {
        schema: u32,
    }
    let v: Version = serde_json::from_slice(&bytes).map_err(|source| Error::Json {
        path: p.clone(),
        source,
    })?;
    if v.schema > SCHEMA {
        return Err(Error::Schema {
            path: p,
            found: v.schema,
            supported: SCHEMA,
        });
    }
    serde_json::from_slice(&bytes).map_err(|source| Error::Json { path: p, source })
}

fn dir_bytes(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => stack.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

/// File names safe inside `raw/`: no separators, no dot files, bounded.
fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(80)
        .collect();
    let s = s.trim_start_matches('.').to_string();
    if s.is_empty() {
        "file".into()
    } else {
        s
    }
}

fn raw_names(raw: &[(String, Vec<u8>, Source)]) -> Result<Vec<String>> {
    let mut names: Vec<String> = Vec::new();
    for (name, _, _) in raw {
        let base = sanitize(name);
        let mut n = base.clone();
        let mut k = 1;
        while names.contains(&n) {
            k += 1;
            n = format!("{base}.{k}");
        }
        names.push(n);
    }
    Ok(names)
}

fn content_hash(rec: &NewRecord, names: &[String], dump_len: Option<u64>) -> String {
    let mut h = Sha256::new();
    let mut part = |tag: &str, data: &[u8]| {
        h.update(tag.as_bytes());
        h.update(&(data.len() as u64).to_le_bytes());
        h.update(data);
    };
    part("dmesg", &rec.dmesg);
    for ((_, data, _), name) in rec.raw.iter().zip(names) {
        part("raw", name.as_bytes());
        part("data", data);
    }
    if let Some(n) = dump_len {
        // The dump's size, not its bytes: hashing gigabytes to name a record
        // whose log already identifies the crash is not worth it.
        part("dump", &n.to_le_bytes());
    }
    h.hex()
}

/// Copy or move a dump, returning (bytes, sha256).
fn take_dump(src: &Path, dst: &Path, mode: DumpMode) -> Result<(u64, String)> {
    if mode == DumpMode::Move && fs::rename(src, dst).is_ok() {
        let mut f = File::open(dst).ctx("opening", dst)?;
        return hash_reader(&mut f, dst, None);
    }
    let mut r = File::open(src).ctx("opening", src)?;
    let mut w = File::create(dst).ctx("creating", dst)?;
    let out = hash_reader(&mut r, src, Some((&mut w, dst)))?;
    w.sync_all().ctx("syncing", dst)?;
    Ok(out)
}

fn hash_reader(
    r: &mut dyn Read,
    path: &Path,
    mut w: Option<(&mut File, &Path)>,
) -> Result<(u64, String)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(source) => {
                return Err(Error::Io {
                    op: "reading",
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        h.update(&buf[..k]);
        if let Some((f, p)) = w.as_mut() {
            f.write_all(&buf[..k]).ctx("writing", p)?;
        }
        n += k as u64;
    }
    Ok((n, h.hex()))
}
