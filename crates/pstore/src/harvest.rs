//! Safe harvest: copy every pstore entry to a destination, verify the copy,
//! and only then unlink the entry (in pstore, unlink erases the backend
//! record: a ramoops zone, a UEFI variable, an ERST record).
//!
//! Layout: `<dst>/<content hash>/<original name>`. The hash directory makes
//! reruns idempotent (same content → same path) and keeps records that
//! reuse a name across boots (`dmesg-ramoops-0`) apart; the original name
//! stays intact for the parsers. Each copy is written to a temporary name,
//! fsynced, renamed into place and its directory fsynced, so a crash at any
//! point leaves either no copy or a complete one. A rerun after a crash
//! between copy and unlink finds the identical copy and just unlinks.

use crate::error::HarvestError;
use crate::record::Record;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

const TMP_SUFFIX: &str = ".partial";

/// Harvest settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HarvestOptions {
    /// Unlink (erase) each source entry once its copy is verified.
    pub unlink: bool,
}

impl Default for HarvestOptions {
    fn default() -> Self {
        HarvestOptions { unlink: true }
    }
}

/// Points of the per-entry sequence a test hook can interrupt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// About to read the source entry.
    Read,
    /// The temporary copy is written and fsynced, not yet renamed.
    TempWritten,
    /// The copy is in place and verified; the source still exists.
    Copied,
    /// About to unlink the source.
    Unlink,
}

/// What a hook wants to happen at a stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookAction {
    /// Go on.
    Continue,
    /// Stop the whole run here, as if the process were killed.
    Kill,
    /// Make this stage fail with an I/O error of this kind.
    Fail(io::ErrorKind),
}

/// How one entry ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Copied (and verified) in this run.
    Copied,
    /// An identical copy already existed (a previous run); not copied again.
    AlreadyPresent,
    /// Not copied; the source is left in place.
    Failed(String),
}

/// Findings about an entry's content (it is copied raw regardless).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryFlags {
    /// The name is not a pstore record name.
    pub unrecognised_name: bool,
    /// Still compressed with an algorithm we cannot decode.
    pub compressed_undecodable: bool,
    /// A dmesg record without its part header.
    pub no_header: bool,
    /// ECC reported errors.
    pub ecc_errors: bool,
}

/// The report for one source entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryReport {
    /// Source file name.
    pub name: String,
    /// What happened to the copy.
    pub outcome: Outcome,
    /// Path of the copy, when one exists.
    pub dest: Option<PathBuf>,
    /// Size in bytes, when read.
    pub size: Option<u64>,
    /// Content hash (FNV-1a 64), when read.
    pub hash: Option<u64>,
    /// Whether the source entry was unlinked.
    pub unlinked: bool,
    /// Why unlinking failed (e.g. a backend without erase: EPERM).
    pub unlink_error: Option<String>,
    /// Content findings.
    pub flags: EntryFlags,
}

/// The report of a harvest run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HarvestReport {
    /// One report per source entry handled, in name order.
    pub entries: Vec<EntryReport>,
    /// The run was stopped by the hook (simulated kill).
    pub interrupted: bool,
}

impl HarvestReport {
    fn names(&self, f: impl Fn(&EntryReport) -> bool) -> Vec<&str> {
        self.entries
            .iter()
            .filter(|e| f(e))
            .map(|e| e.name.as_str())
            .collect()
    }
    /// Entries copied in this run.
    pub fn copied(&self) -> Vec<&str> {
        self.names(|e| e.outcome == Outcome::Copied)
    }
    /// Entries whose identical copy already existed.
    pub fn skipped(&self) -> Vec<&str> {
        self.names(|e| e.outcome == Outcome::AlreadyPresent)
    }
    /// Entries that could not be copied (left in place).
    pub fn failed(&self) -> Vec<&str> {
        self.names(|e| matches!(e.outcome, Outcome::Failed(_)))
    }
    /// Entries unlinked from the source.
    pub fn unlinked(&self) -> Vec<&str> {
        self.names(|e| e.unlinked)
    }
}

/// 64-bit FNV-1a: small, stable across releases (names copies on disk).
/// Equality is always confirmed byte by byte, so collisions cannot merge
/// different records.
pub fn content_hash(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Harvest `src` into `dst` (see the module documentation).
pub fn harvest(
    src: &Path,
    dst: &Path,
    opts: &HarvestOptions,
) -> Result<HarvestReport, HarvestError> {
    harvest_with_hook(src, dst, opts, &mut |_, _| HookAction::Continue)
}

/// [`harvest`] with a hook called at each [`Stage`] of each entry, to
/// simulate kills and I/O failures in tests.
pub fn harvest_with_hook(
    src: &Path,
    dst: &Path,
    opts: &HarvestOptions,
    hook: &mut dyn FnMut(Stage, &str) -> HookAction,
) -> Result<HarvestReport, HarvestError> {
    let list_err = |source| HarvestError::ListSource {
        path: src.to_path_buf(),
        source,
    };
    let mut names: Vec<String> = fs::read_dir(src)
        .map_err(list_err)?
        .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(list_err)?;
    names.sort();
    fs::create_dir_all(dst)
        .and_then(|_| remove_stale_temps(dst))
        .map_err(|source| HarvestError::Destination {
            path: dst.to_path_buf(),
            source,
        })?;
    let mut report = HarvestReport::default();
    for name in names {
        match harvest_one(src, dst, &name, opts, hook) {
            Ok(entry) => report.entries.push(entry),
            Err(Killed(entry)) => {
                report.entries.extend(entry.map(|e| *e));
                report.interrupted = true;
                break;
            }
        }
    }
    Ok(report)
}

/// The hook asked to stop; carries the entry's report so far, if any.
struct Killed(Option<Box<EntryReport>>);

fn at(
    hook: &mut dyn FnMut(Stage, &str) -> HookAction,
    stage: Stage,
    name: &str,
) -> Result<io::Result<()>, Killed> {
    match hook(stage, name) {
        HookAction::Continue => Ok(Ok(())),
        HookAction::Kill => Err(Killed(None)),
        HookAction::Fail(kind) => Ok(Err(io::Error::new(
            kind,
            format!("injected failure at {stage:?}"),
        ))),
    }
}

fn harvest_one(
    src: &Path,
    dst: &Path,
    name: &str,
    opts: &HarvestOptions,
    hook: &mut dyn FnMut(Stage, &str) -> HookAction,
) -> Result<EntryReport, Killed> {
    let mut entry = EntryReport {
        name: name.to_string(),
        outcome: Outcome::Failed(String::new()),
        dest: None,
        size: None,
        hash: None,
        unlinked: false,
        unlink_error: None,
        flags: EntryFlags::default(),
    };
    let fail = |mut e: EntryReport, why: String| {
        e.outcome = Outcome::Failed(why);
        Ok(e)
    };
    let path = src.join(name);
    // Never follow links or open FIFOs/devices: pstore holds regular files
    // only, and a read on anything else could block or escape the tree.
    match fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return fail(entry, "not a regular file".into()),
        Err(e) => return fail(entry, format!("stat: {e}")),
    }
    let read = at(hook, Stage::Read, name)?.and_then(|_| read_with_mtime(&path));
    let (data, mtime) = match read {
        Ok(x) => x,
        Err(e) => return fail(entry, format!("read: {e}")),
    };
    let hash = content_hash(&data);
    entry.size = Some(data.len() as u64);
    entry.hash = Some(hash);
    entry.flags = flags_of(name, &data);
    let dir = dst.join(format!("{hash:016x}"));
    let dest = dir.join(name);
    match fs::read(&dest) {
        Ok(existing) if existing == data => entry.outcome = Outcome::AlreadyPresent,
        Ok(_) => {
            return fail(
                entry,
                format!("{} exists with other content", dest.display()),
            )
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            if let Err(e) = write_copy(dst, &dir, &dest, &data, mtime, name, hook)? {
                return fail(entry, format!("copy: {e}"));
            }
            entry.outcome = Outcome::Copied;
        }
        Err(e) => return fail(entry, format!("read existing copy: {e}")),
    }
    entry.dest = Some(dest.clone());
    // Verify what is on disk now, whichever run wrote it.
    match fs::read(&dest) {
        Ok(back) if back.len() == data.len() && content_hash(&back) == hash && back == data => {}
        Ok(_) => return fail(entry, "verification: copy differs from source".into()),
        Err(e) => return fail(entry, format!("verification: {e}")),
    }
    if let Err(Killed(_)) = at(hook, Stage::Copied, name).map(|_| ()) {
        return Err(Killed(Some(Box::new(entry))));
    }
    if opts.unlink {
        let r = match at(hook, Stage::Unlink, name) {
            Ok(r) => r,
            Err(_) => return Err(Killed(Some(Box::new(entry)))),
        };
        match r.and_then(|_| fs::remove_file(&path)) {
            Ok(()) => entry.unlinked = true,
            Err(e) => entry.unlink_error = Some(e.to_string()),
        }
    }
    Ok(entry)
}

fn read_with_mtime(path: &Path) -> io::Result<(Vec<u8>, Option<std::time::SystemTime>)> {
    let data = fs::read(path)?;
    let mtime = fs::metadata(path).and_then(|m| m.modified()).ok();
    Ok((data, mtime))
}

fn flags_of(name: &str, data: &[u8]) -> EntryFlags {
    let rec = Record::new(name, data.to_vec(), None);
    // Only the flags matter here; a small cap keeps harvest cheap.
    let dec = rec.decode_with_cap(crate::decompress::DEFAULT_INFLATE_CAP);
    EntryFlags {
        unrecognised_name: rec.name.is_none(),
        compressed_undecodable: dec.flags.compressed_undecodable,
        no_header: dec.flags.no_header,
        ecc_errors: dec.flags.ecc_errors,
    }
}

/// Write `data` to `dest` atomically and durably. The outer `Result` is a
/// simulated kill, the inner one an I/O failure.
fn write_copy(
    dst: &Path,
    dir: &Path,
    dest: &Path,
    data: &[u8],
    mtime: Option<std::time::SystemTime>,
    name: &str,
    hook: &mut dyn FnMut(Stage, &str) -> HookAction,
) -> Result<io::Result<()>, Killed> {
    let tmp = dir.join(format!(".{name}{TMP_SUFFIX}"));
    let written = (|| {
        fs::create_dir_all(dir)?;
        // The new hash directory must survive a crash too.
        sync_dir(dst)?;
        let mut f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        f.write_all(data)?;
        if let Some(t) = mtime {
            // Keep the record time pstore put in the mtime.
            f.set_modified(t)?;
        }
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Ok(Err(e));
    }
    if let Err(e) = at(hook, Stage::TempWritten, name)? {
        let _ = fs::remove_file(&tmp);
        return Ok(Err(e));
    }
    Ok(fs::rename(&tmp, dest).and_then(|_| sync_dir(dir)))
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Remove temporaries a killed run left behind. Safe: a source is only
/// unlinked after its final copy exists, so a temporary is never the only
/// copy.
fn remove_stale_temps(dst: &Path) -> io::Result<()> {
    for d in fs::read_dir(dst)?.flatten() {
        if !d.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let Ok(rd) = fs::read_dir(d.path()) else {
            continue;
        };
        for f in rd.flatten() {
            let n = f.file_name();
            let n = n.to_string_lossy();
            if n.starts_with('.') && n.ends_with(TMP_SUFFIX) {
                let _ = fs::remove_file(f.path());
            }
        }
    }
    Ok(())
}

/// Read back every harvested record under `dst` (all hash directories),
/// with the preserved mtimes as record times.
pub fn read_archive(dst: &Path) -> io::Result<Vec<Record>> {
    let mut out = Vec::new();
    let mut dirs: Vec<_> = fs::read_dir(dst)?
        .flatten()
        .filter(|d| d.file_type().is_ok_and(|t| t.is_dir()))
        .collect();
    dirs.sort_by_key(|d| d.file_name());
    for d in dirs {
        let recs = crate::read_dir(&d.path())?.records;
        out.extend(recs.into_iter().filter(|r| !r.file_name.starts_with('.')));
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
