//! `panicdump collect`: the next boot's side of the capture chain.
//!
//! `collect` runs at boot: it copies the pstore entries into a spool under
//! the state directory (durably, without erasing them), reassembles them,
//! picks up capture directories, reconciles the pstore and kdump data of the
//! same crash, writes one crashdb record per crash, marks what it consumed,
//! and only then erases the pstore entries. Every source is named in the
//! record (`pstore:<hash>/<name>`, `capture:<id>/...`), so a rerun after a
//! kill finds what was already recorded and records nothing twice.
//!
//! One collect runs at a time (an flock on `<state>/collect.lock`), and
//! spool directories whose entries are recorded and erased from pstore are
//! removed at the end, so the spool does not grow forever.
//!
//! A run without errors then applies the configuration's `[retention]`
//! limits: the oldest records beyond them are deleted, never one this run
//! wrote or found and never a directory that does not read as a complete
//! record.

use super::capture::{now, sync_dir, write_atomic, Status};
use anyhow::{bail, Context, Result};
use crashdb::{DumpMode, NewRecord, SourceKind, Store};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `panicdump collect`.
#[derive(clap::Args, Debug)]
pub struct CollectArgs {
    /// The pstore filesystem.
    #[arg(long, value_name = "DIR", default_value = "/sys/fs/pstore")]
    pub pstore_dir: PathBuf,
    /// Where captures were written (default: /var/crash, and always the
    /// state directory's `incoming/`).
    #[arg(long, value_name = "DIR")]
    pub dump_dir: Option<PathBuf>,
    /// State directory [env: PANICDUMP_STATE_DIR] [default: /var/lib/panicdump].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Do not erase the pstore entries once recorded.
    #[arg(long)]
    pub keep_pstore: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// One pstore entry in the spool.
struct Spooled {
    /// `<hash dir>/<file name>`.
    key: String,
    hash_dir: PathBuf,
    record: pstore::Record,
}

/// One capture directory.
struct Capture {
    id: String,
    dir: PathBuf,
    dmesg: Option<Vec<u8>>,
    status_raw: Option<Vec<u8>>,
    status: Option<Status>,
    dump: Option<PathBuf>,
}

/// Summary entry of one record.
#[derive(Serialize, Debug)]
struct RecordSummary {
    id: String,
    created: bool,
    title: Option<String>,
    kind: Option<String>,
    signature_hash: Option<String>,
    crash_time: Option<i64>,
    sources: Vec<String>,
    flags: Vec<String>,
}

#[derive(Serialize, Debug, Default)]
struct CollectSummary {
    state_dir: String,
    pstore_harvested: usize,
    pstore_unlinked: usize,
    captures: usize,
    records: Vec<RecordSummary>,
    /// Journal entries and desktop notifications delivered.
    notified: usize,
    /// What auto-submit did, when it is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    submit: Option<String>,
    /// Older records deleted by the `[retention]` limits.
    pruned: Vec<crashdb::retention::Pruned>,
    errors: Vec<String>,
}

/// Test hook: `PANICDUMP_COLLECT_EXIT_AFTER=harvest|record|mark` exits the
/// process right after that step, as if it were killed there.
fn kill_point(stage: &str) {
    if std::env::var("PANICDUMP_COLLECT_EXIT_AFTER").is_ok_and(|v| v == stage) {
        eprintln!("panicdump collect: exiting after {stage} (PANICDUMP_COLLECT_EXIT_AFTER)");
        std::process::exit(137);
    }
}

const MARK: &str = ".collected";

/// Run `panicdump collect`.
pub fn run_collect(args: CollectArgs) -> Result<ExitCode> {
    let state = args
        .state_dir
        .clone()
        .or_else(|| std::env::var_os("PANICDUMP_STATE_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(crashdb::DEFAULT_STATE_DIR));
    let _lock = lock(&state)?;
    let store = Store::new(&state);
    let spool = state.join("spool/pstore");
    let mut sum = CollectSummary {
        state_dir: state.display().to_string(),
        ..Default::default()
    };

    // 1. Durable copies of the pstore entries; nothing erased yet.
    let have_pstore = args.pstore_dir.is_dir();
    if have_pstore {
        let rep = pstore::harvest::harvest(
            &args.pstore_dir,
            &spool,
            &pstore::harvest::HarvestOptions { unlink: false },
        )
        .context("harvesting pstore")?;
        sum.pstore_harvested = rep.copied().len() + rep.skipped().len();
        for f in rep.failed() {
            sum.errors
                .push(format!("pstore entry {f} could not be copied"));
        }
    }
    kill_point("harvest");

    // 2. What is already recorded.
    let mut recorded = BTreeSet::new();
    for e in store.list()? {
        if let Ok(m) = e.meta {
            recorded.extend(m.sources.into_iter().map(|s| s.description));
        }
    }
    let is_recorded = |key: &str| recorded.iter().any(|d| d.split(' ').next() == Some(key));

    // 3. The spool, minus what was already collected.
    let mut spooled = Vec::new();
    let mut done_dirs = Vec::new();
    if spool.is_dir() {
        let mut dirs: Vec<_> = fs::read_dir(&spool)?.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for d in dirs.into_iter().filter(|d| d.is_dir()) {
            if d.join(MARK).exists() {
                continue;
            }
            let hash = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let contents = pstore::read_dir(&d)?;
            for (name, err) in contents.unreadable {
                sum.errors.push(format!("spool {hash}/{name}: {err}"));
            }
            let mut all_recorded = true;
            for r in contents.records {
                if r.file_name.starts_with('.') {
                    continue;
                }
                let key = format!("pstore:{hash}/{}", r.file_name);
                if is_recorded(&key) {
                    continue;
                }
                all_recorded = false;
                spooled.push(Spooled {
                    key,
                    hash_dir: d.clone(),
                    record: r,
                });
            }
            if all_recorded {
                done_dirs.push(d);
            }
        }
    }
    for d in done_dirs {
        mark(&d.join(MARK), "recorded earlier")?;
    }

    // 4. Capture directories.
    let mut dump_dirs = vec![args
        .dump_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/var/crash"))];
    dump_dirs.push(state.join("incoming"));
    let mut captures = Vec::new();
    for dd in &dump_dirs {
        let Ok(rd) = fs::read_dir(dd) else { continue };
        let mut dirs: Vec<_> = rd.flatten().map(|e| e.path()).collect();
        dirs.sort();
        for d in dirs.into_iter().filter(|d| d.is_dir()) {
            let id = d
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            // A dump whose copy is in a record (durably) is dropped here,
            // also when an earlier run was killed before dropping it.
            let dump = d.join("vmcore.kdump");
            if is_recorded(&format!("capture:{id}/vmcore.kdump")) && dump.is_file() {
                if let Err(e) = fs::remove_file(&dump) {
                    sum.errors.push(format!("removing {}: {e}", dump.display()));
                }
                sync_dir(&d);
            }
            if d.join(MARK).exists() {
                continue;
            }
            let dmesg = fs::read(d.join("dmesg.txt")).ok();
            let status_raw = fs::read(d.join("status.json")).ok();
            if dmesg.is_none() && status_raw.is_none() {
                continue;
            }
            if is_recorded(&format!("capture:{id}/dmesg.txt"))
                || is_recorded(&format!("capture:{id}/status.json"))
            {
                // Recorded by a run killed before its marks.
                mark(&d.join(MARK), "recorded earlier")?;
                continue;
            }
            let status = status_raw
                .as_deref()
                .and_then(|s| serde_json::from_slice(s).ok());
            let dump = Some(d.join("vmcore.kdump")).filter(|p| p.is_file());
            captures.push(Capture {
                id,
                dir: d,
                dmesg,
                status_raw,
                status,
                dump,
            });
        }
    }
    sum.captures = captures.len();

    // 5. Reassemble and reconcile.
    let records: Vec<pstore::Record> = spooled.iter().map(|s| s.record.clone()).collect();
    let coll = pstore::reassemble(&records);
    let mut used_captures = vec![false; captures.len()];
    let mut plans = Vec::new();
    for crash in &coll.crashes {
        let text = crash.dmesg.clone();
        let m = captures
            .iter()
            .enumerate()
            .filter(|(i, _)| !used_captures[*i])
            .find(|(_, c)| matches(crash, &text, c))
            .map(|(i, _)| i);
        if let Some(i) = m {
            used_captures[i] = true;
        }
        plans.push((Some(crash), m));
    }
    for (i, used) in used_captures.iter().enumerate() {
        if !used {
            plans.push((None, Some(i)));
        }
    }

    let mut all_ok = sum.errors.is_empty();
    for (crash, cap) in plans {
        let cap = cap.map(|i| &captures[i]);
        let members = crash.map(|c| members_of(c, &spooled)).unwrap_or_default();
        match write_record(&store, crash, &members, cap) {
            Ok(rs) => {
                kill_point("record");
                // Mark what this record consumed.
                let mut dirs: Vec<&Path> = members.iter().map(|s| s.hash_dir.as_path()).collect();
                dirs.dedup();
                for d in dirs {
                    mark(&d.join(MARK), &rs.id)?;
                }
                if let Some(c) = cap {
                    mark(&c.dir.join(MARK), &rs.id)?;
                    // The dump's copy in the record is durable: drop the original.
                    if let Some(d) = &c.dump {
                        if let Err(e) = fs::remove_file(d) {
                            sum.errors.push(format!("removing {}: {e}", d.display()));
                        } else {
                            sync_dir(&c.dir);
                        }
                    }
                }
                kill_point("mark");
                sum.records.push(rs);
            }
            Err(e) => {
                all_ok = false;
                sum.errors.push(format!("{e:#}"));
            }
        }
    }

    // 6. Erase pstore entries, now that their records exist.
    if have_pstore && !args.keep_pstore && all_ok {
        let rep = pstore::harvest::harvest(
            &args.pstore_dir,
            &spool,
            &pstore::harvest::HarvestOptions { unlink: true },
        )
        .context("erasing harvested pstore entries")?;
        sum.pstore_unlinked = rep.unlinked().len();
        clean_spool(&spool, &args.pstore_dir, &mut sum);
    }

    announce(&store, &mut sum);

    // 7. Retention, only after a run that lost nothing (and after the
    // announcement, so queued submissions get their chance first).
    if sum.errors.is_empty() {
        apply_retention(&store, &mut sum);
    }

    if args.json {
        println!("{}", serde_json::to_string_pretty(&sum)?);
    } else {
        print_summary(&sum, &args);
    }
    Ok(if sum.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Tell the world about the records this run created: a journal entry and
/// desktop notifications, then (when consent and auto-submit are
/// configured) a submission to the crash server. Neither can fail collect:
/// the records are already safe on disk.
fn announce(store: &Store, sum: &mut CollectSummary) {
    let new: Vec<&RecordSummary> = sum.records.iter().filter(|r| r.created).collect();
    if new.is_empty() {
        return;
    }
    let dirs: Vec<PathBuf> = new.iter().map(|r| store.dir().join(&r.id)).collect();
    let crashes: Vec<super::notify::CollectedCrash<'_>> = new
        .iter()
        .zip(&dirs)
        .map(|(r, dir)| super::notify::CollectedCrash {
            id: &r.id,
            title: r.title.as_deref(),
            kind: r.kind.as_deref(),
            signature: r.signature_hash.as_deref(),
            report_path: dir,
        })
        .collect();
    let outcome =
        super::notify::notify_collected(&crashes, &super::notify::NotifySettings::from_config());
    sum.notified = outcome.journal_entries + outcome.desktop_delivered;
    #[cfg(feature = "submit")]
    {
        let ids: Vec<String> = new.iter().map(|r| r.id.clone()).collect();
        let state = store.dir().parent().unwrap_or(store.dir());
        match super::submit::after_collect(state, &ids) {
            Ok(Some(line)) => sum.submit = Some(line),
            Ok(None) => {}
            Err(e) => sum.submit = Some(format!("submit: {e:#} (the records stay queued)")),
        }
    }
}

/// Delete the oldest records beyond the configured `[retention]` limits;
/// never one this run wrote or found, never one that cannot be read. An
/// unreadable configuration deletes nothing: its defaults might be far
/// below what the administrator asked for.
fn apply_retention(store: &Store, sum: &mut CollectSummary) {
    let path = super::config::system_config_path();
    let cfg = match config::load(&path) {
        Ok(c) => c.config,
        Err(e) => {
            sum.errors
                .push(format!("retention skipped, nothing deleted: {e}"));
            return;
        }
    };
    let keep: Vec<String> = sum.records.iter().map(|r| r.id.clone()).collect();
    let policy = super::records::retention_policy(&cfg.retention);
    match crashdb::retention::prune_after_collect(store, &policy, now(), &keep) {
        Ok(p) => sum.pruned = p,
        Err(e) => sum.errors.push(format!("retention: {e}")),
    }
}

/// Take `<state>/collect.lock` (created if needed) for the whole run: a
/// second collect (a manual run during the boot one) waits instead of
/// recording the same entries twice.
fn lock(state: &Path) -> Result<fs::File> {
    fs::create_dir_all(state).with_context(|| format!("creating {}", state.display()))?;
    let path = state.join("collect.lock");
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .with_context(|| format!("opening {}", path.display()))?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        eprintln!(
            "panicdump collect: another collect holds {}; waiting",
            path.display()
        );
        // SAFETY: as above.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } != 0 {
            return Err(std::io::Error::last_os_error())
                .with_context(|| format!("locking {}", path.display()));
        }
    }
    Ok(f)
}

/// Remove spool directories that are marked collected and whose entries are
/// gone from pstore: their bytes live on in the records' `raw/` copies. A
/// directory whose entry is still in pstore (erase failed, `--keep-pstore`)
/// stays, so the next run recognises the entry instead of copying it again.
fn clean_spool(spool: &Path, pstore_dir: &Path, sum: &mut CollectSummary) {
    let Ok(rd) = fs::read_dir(spool) else { return };
    let mut removed = false;
    for d in rd.flatten().map(|e| e.path()).filter(|d| d.is_dir()) {
        if !d.join(MARK).is_file() {
            continue;
        }
        let still_in_pstore = fs::read_dir(&d).into_iter().flatten().flatten().any(|e| {
            let name = e.file_name();
            !name.to_string_lossy().starts_with('.') && pstore_dir.join(&name).exists()
        });
        if still_in_pstore {
            continue;
        }
        match fs::remove_dir_all(&d) {
            Ok(()) => removed = true,
            Err(e) => sum
                .errors
                .push(format!("cleaning spool {}: {e}", d.display())),
        }
    }
    if removed {
        sync_dir(spool);
    }
}

/// The spooled files of a crash: its dmesg parts and attached records
/// (console, pmsg...). A name found in several spool directories (the same
/// `dmesg-ramoops-0` of different boots) goes by the record time.
fn members_of<'a>(c: &pstore::Crash, spooled: &'a [Spooled]) -> Vec<&'a Spooled> {
    let names = c
        .records
        .iter()
        .chain(c.attached.iter().map(|a| &a.file_name));
    let mut out: Vec<&Spooled> = Vec::new();
    for name in names {
        let cands: Vec<&Spooled> = spooled
            .iter()
            .filter(|s| &s.record.file_name == name)
            .collect();
        let same_time: Vec<&Spooled> = cands
            .iter()
            .copied()
            .filter(|s| s.record.time == c.time)
            .collect();
        let pick = if cands.len() > 1 && !same_time.is_empty() {
            same_time
        } else {
            cands
        };
        for s in pick {
            if !out.iter().any(|o| o.key == s.key) {
                out.push(s);
            }
        }
    }
    out
}

fn print_summary(sum: &CollectSummary, args: &CollectArgs) {
    println!(
        "pstore: {} entr{} copied to the spool, {} erased{}; {} capture(s)",
        sum.pstore_harvested,
        if sum.pstore_harvested == 1 {
            "y"
        } else {
            "ies"
        },
        sum.pstore_unlinked,
        if args.keep_pstore {
            " (--keep-pstore)"
        } else {
            ""
        },
        sum.captures
    );
    let created = sum.records.iter().filter(|r| r.created).count();
    println!(
        "{} record(s), {} new, in {}",
        sum.records.len(),
        created,
        sum.state_dir
    );
    for r in &sum.records {
        println!(
            "  {} {}{}",
            r.id,
            r.title.as_deref().unwrap_or("(no title)"),
            if r.created { "" } else { " (already recorded)" }
        );
        if !r.flags.is_empty() {
            println!("    flagged: {}", r.flags.join(", "));
        }
    }
    if let Some(s) = &sum.submit {
        println!("{s}");
    }
    for p in &sum.pruned {
        let reason = serde_json::to_value(p.reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        println!(
            "  deleted older record {} ({} bytes, retention: {reason})",
            p.id, p.bytes
        );
    }
    for e in &sum.errors {
        println!("error: {e}");
    }
}

fn mark(path: &Path, id: &str) -> Result<()> {
    if path.exists() {
        return Ok(());
    }
    write_atomic(path, |w| {
        writeln!(w, "{id}")?;
        Ok(())
    })
}

/// Log lines without the `<N>` level prefix and the `[ts]` timestamp.
fn norm_lines(text: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(text)
        .lines()
        .map(|l| {
            let mut l = l.trim_end();
            if l.starts_with('<') {
                if let Some(i) = l.find('>') {
                    l = &l[i + 1..];
                }
            }
            if l.starts_with('[') {
                if let Some(i) = l.find(']') {
                    l = &l[i + 1..];
                }
            }
            l.trim_start().to_string()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

fn panic_line(lines: &[String]) -> Option<&str> {
    lines
        .iter()
        .find(|l| l.starts_with("Kernel panic - not syncing"))
        .map(String::as_str)
}

fn release_of(lines: &[String]) -> Option<&str> {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("Linux version "))
        .and_then(|r| r.split_whitespace().next())
}

/// Whether a pstore crash and a capture are the same crash: the pstore log
/// tail appears in the capture's log, or the panic message and the kernel
/// release agree and the times are within half an hour.
fn matches(crash: &pstore::Crash, text: &[u8], cap: &Capture) -> bool {
    let Some(cd) = &cap.dmesg else { return false };
    let a = norm_lines(text);
    let b = norm_lines(cd);
    let tail: Vec<&String> = a.iter().rev().take(8).rev().collect();
    if tail.len() >= 3
        && b.windows(tail.len())
            .any(|w| w.iter().eq(tail.iter().copied()))
    {
        return true;
    }
    let (Some(pa), Some(pb)) = (panic_line(&a), panic_line(&b)) else {
        return false;
    };
    if pa != pb {
        return false;
    }
    let rel_b = release_of(&b).or(cap.status.as_ref().and_then(|s| s.release.as_deref()));
    if let (Some(x), Some(y)) = (release_of(&a), rel_b) {
        if x != y {
            return false;
        }
    }
    let tc = cap
        .status
        .as_ref()
        .map(|s| s.crash_time.unwrap_or(s.started));
    match (crash.time.map(|t| t.secs), tc) {
        (Some(x), Some(y)) => (x - y).abs() <= 1800,
        _ => true,
    }
}

/// What is wrong with a pstore crash, for the record and the summary.
fn crash_flags(c: &pstore::Crash) -> Vec<String> {
    let mut f = Vec::new();
    if c.flags.corrupt {
        f.push("corrupt: no valid header".to_string());
    }
    if c.flags.ecc_errors {
        f.push("ecc-errors".to_string());
    }
    if c.flags.truncated_stream {
        f.push("truncated-stream".to_string());
    }
    if c.flags.compressed_undecodable {
        f.push("compressed-undecodable".to_string());
    }
    if c.flags.missing_parts {
        f.push("missing-parts".to_string());
    }
    let bad = std::str::from_utf8(&c.dmesg).is_err()
        || c.dmesg
            .iter()
            .any(|&b| b < 0x20 && b != b'\n' && b != b'\t' && b != b'\r');
    if bad {
        f.push("corrupt: non-text bytes in the log".to_string());
    }
    f
}

fn write_record(
    store: &Store,
    crash: Option<&pstore::Crash>,
    members: &[&Spooled],
    cap: Option<&Capture>,
) -> Result<RecordSummary> {
    let flags = crash.map(crash_flags).unwrap_or_default();
    let flag_note = if flags.is_empty() {
        String::new()
    } else {
        format!(" [flagged: {}]", flags.join("; "))
    };
    let (dmesg, kind, desc) = match (cap.and_then(|c| c.dmesg.clone()), crash) {
        (Some(d), _) => {
            let id = cap.map(|c| c.id.as_str()).unwrap_or_default();
            (
                d,
                SourceKind::VmcoreDmesg,
                format!("capture:{id}/dmesg.txt"),
            )
        }
        (None, Some(c)) => (
            c.dmesg.clone(),
            SourceKind::Pstore,
            format!(
                "pstore {} {:?} #{}{flag_note}",
                c.backend
                    .as_ref()
                    .map(|b| format!("{b:?}"))
                    .unwrap_or_default(),
                c.reason,
                c.count.unwrap_or(0)
            ),
        ),
        (None, None) => match cap {
            // A capture that could not save the log still has its status
            // (what failed): recorded, with an empty log.
            Some(c) => (
                Vec::new(),
                SourceKind::File,
                format!("capture:{}/status.json (no kernel log)", c.id),
            ),
            None => bail!("nothing to record"),
        },
    };
    let mut rec = NewRecord::new(dmesg, kind, desc);
    let mut names = BTreeMap::new();
    for s in members {
        let n = names.entry(s.record.file_name.clone()).or_insert(0u32);
        *n += 1;
        let name = if *n == 1 {
            s.record.file_name.clone()
        } else {
            format!("{}.{}", s.record.file_name, n)
        };
        rec = rec.raw_file(
            name,
            s.record.raw.clone(),
            SourceKind::Pstore,
            format!("{}{flag_note}", s.key),
        );
    }
    let mut crash_time = crash.and_then(|c| c.time.map(|t| t.secs));
    if let Some(c) = cap {
        if let Some(s) = &c.status_raw {
            rec = rec.raw_file(
                "capture-status.json",
                s.clone(),
                SourceKind::File,
                format!("capture:{}/status.json", c.id),
            );
        }
        if let Some(d) = &c.dump {
            rec = rec.dump(d, DumpMode::Copy, format!("capture:{}/vmcore.kdump", c.id));
        }
        if let Some(st) = &c.status {
            crash_time = st.crash_time.or(crash_time).or(Some(st.started));
        }
    }
    if let Some(t) = crash_time {
        rec = rec.crash_time(t);
    }
    let analysis = oops::analyze(&rec.dmesg);
    let primary = analysis.primary();
    let title = primary.map(|r| r.title.clone());
    let kind = primary.map(|r| r.kind.as_str().to_string());
    let signature_hash = primary.map(|r| r.signature_hash().to_string());
    let sources = std::iter::once(rec.dmesg_source.description.clone())
        .chain(rec.raw.iter().map(|r| r.2.description.clone()))
        .chain(rec.dump.iter().map(|d| d.2.description.clone()))
        .collect();
    let w = store
        .write(&rec, now())
        .context("writing the crash record")?;
    Ok(RecordSummary {
        id: w.id,
        created: w.created,
        title,
        kind,
        signature_hash,
        crash_time,
        sources,
        flags,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_lines_drop_level_and_time() {
        let l = norm_lines(b"<0>[    1.5] Kernel panic - not syncing: x\n[ 2.0] y\n\n");
        assert_eq!(l, vec!["Kernel panic - not syncing: x", "y"]);
    }
}
