//! `panicdump list`, `show`, `report`, `prune`: the crash records kept in
//! the state directory (crashdb) and the bundles made from them.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use crashdb::{Bundle, BundleOptions, Policy, RedactOptions, Store};

use super::capture::now;

/// Where records live: `--state-dir`, else `$PANICDUMP_STATE_DIR`, else
/// `/var/lib/panicdump`.
#[derive(clap::Args, Debug, Clone)]
pub struct StateArgs {
    /// State directory holding `crashes/` [env: PANICDUMP_STATE_DIR] [default: /var/lib/panicdump].
    #[arg(long, value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
}

impl StateArgs {
    /// The record store these arguments name.
    pub(crate) fn store(&self) -> Store {
        let dir = self
            .state_dir
            .clone()
            .or_else(|| std::env::var_os("PANICDUMP_STATE_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(crashdb::DEFAULT_STATE_DIR));
        Store::new(dir)
    }
}

/// Arguments of `panicdump list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    pub state: StateArgs,
    /// Print JSON (an array, oldest first).
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `panicdump show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    /// Record id, unique prefix or hash suffix, or `latest`.
    #[arg(default_value = "latest")]
    pub id: String,
    #[command(flatten)]
    pub state: StateArgs,
    /// Print JSON: the record metadata and the structured report.
    #[arg(long)]
    pub json: bool,
    /// Also print the whole kernel log.
    #[arg(long)]
    pub log: bool,
}

/// Arguments of `panicdump report`.
#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// Record id, unique prefix or hash suffix, or `latest`.
    #[arg(default_value = "latest")]
    pub id: String,
    /// The bundle to write (`.tar.gz`).
    #[arg(
        short = 'o',
        long = "output",
        value_name = "FILE",
        required_unless_present = "preview"
    )]
    pub output: Option<PathBuf>,
    /// Print exactly the text files the bundle would hold, write nothing.
    #[arg(long)]
    pub preview: bool,
    /// Keep addresses, serials, host and user names (redaction is on by default).
    #[arg(long)]
    pub no_redact: bool,
    /// Also redact kernel pointers and the KASLR offset.
    #[arg(long, conflicts_with = "no_redact")]
    pub redact_pointers: bool,
    /// Include the record's dump (raw memory: it cannot be redacted).
    #[arg(long)]
    pub include_dump: bool,
    /// Size cap of the archive contents (K, M, G suffixes): the dump is
    /// dropped first, then the log tail shrinks.
    #[arg(long, value_name = "SIZE", default_value = "8M", value_parser = parse_size)]
    pub max_size: u64,
    /// Log lines kept before the crash report.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub lines_before: usize,
    /// Log lines kept from the crash report on.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub lines_after: usize,
    #[command(flatten)]
    pub state: StateArgs,
    /// Print the manifest as JSON after writing.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `panicdump prune`.
#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Keep at most N records (without any limit flag: the config's [retention], by default 50).
    #[arg(long, value_name = "N")]
    pub keep: Option<usize>,
    /// Delete records older than D days (without any limit flag: [retention], by default 90).
    #[arg(long, value_name = "D")]
    pub keep_days: Option<u32>,
    /// Keep the newest records up to SIZE in total (without any limit flag: [retention], by default 2G).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub keep_bytes: Option<u64>,
    /// Only say what would be deleted.
    #[arg(long)]
    pub dry_run: bool,
    #[command(flatten)]
    pub state: StateArgs,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `8M`, `512K`, `1G`, `1000` (bytes).
fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let (num, mul) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m: u64 = match c.to_ascii_uppercase() {
                'K' => 1 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'B' => 1,
                _ => return Err(format!("unknown size suffix in {s:?} (use K, M or G)")),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: u64 = num
        .trim()
        .parse()
        .map_err(|_| format!("not a size: {s:?}"))?;
    n.checked_mul(mul)
        .ok_or_else(|| format!("size too large: {s:?}"))
}

/// Write all of `bytes` to stdout and flush.
pub(crate) fn out_all(bytes: &[u8]) -> anyhow::Result<()> {
    let mut o = io::stdout().lock();
    o.write_all(bytes).context("writing to stdout")?;
    o.flush().context("writing to stdout")
}

/// Print `v` as pretty JSON and a newline.
pub(crate) fn json_line<T: serde::Serialize>(v: &T) -> anyhow::Result<()> {
    let mut s = serde_json::to_vec_pretty(v).context("encoding JSON")?;
    s.push(b'\n');
    out_all(&s)
}

/// Run `panicdump list`.
pub fn run_list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let store = args.state.store();
    let entries = store
        .list()
        .with_context(|| format!("listing {}", store.dir().display()))?;
    if args.json {
        #[derive(serde::Serialize)]
        struct Item<'a> {
            id: &'a str,
            time: Option<String>,
            title: Option<&'a str>,
            kind: Option<&'a str>,
            signature_hash: Option<&'a str>,
            release: Option<&'a str>,
            bytes: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<&'a str>,
        }
        let items: Vec<Item> = entries
            .iter()
            .map(|e| {
                let m = e.meta.as_ref().ok();
                Item {
                    id: &e.id,
                    time: m.map(|m| crashdb::time::rfc3339(m.time())),
                    title: m.and_then(|m| m.title.as_deref()),
                    kind: m.and_then(|m| m.kind.as_deref()),
                    signature_hash: m.and_then(|m| m.signature_hash.as_deref()),
                    release: m.and_then(|m| m.release.as_deref()),
                    bytes: e.bytes,
                    error: e.meta.as_ref().err().map(String::as_str),
                }
            })
            .collect();
        json_line(&items)?;
        return Ok(ExitCode::SUCCESS);
    }
    if entries.is_empty() {
        out_all(format!("no crash records in {}\n", store.dir().display()).as_bytes())?;
        return Ok(ExitCode::SUCCESS);
    }
    let idw = entries.iter().map(|e| e.id.len()).max().unwrap_or(2).max(2);
    let mut s = format!("{:idw$}  {:19}  {:12}  TITLE\n", "ID", "TIME (UTC)", "KIND");
    for e in &entries {
        match &e.meta {
            Ok(m) => {
                let _ = writeln!(
                    s,
                    "{:idw$}  {:19}  {:12}  {}",
                    e.id,
                    crashdb::time::human(m.time()),
                    m.kind.as_deref().unwrap_or("-"),
                    m.title.as_deref().unwrap_or("(no crash report in the log)")
                );
            }
            Err(err) => {
                let _ = writeln!(
                    s,
                    "{:idw$}  {:19}  {:12}  unreadable: {err}",
                    e.id, "-", "-"
                );
            }
        }
    }
    out_all(s.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// Run `panicdump show`.
pub fn run_show(args: ShowArgs) -> anyhow::Result<ExitCode> {
    let store = args.state.store();
    let rec = store.resolve(&args.id)?;
    let m = &rec.meta;
    if args.json {
        let report: serde_json::Value = serde_json::from_slice(&rec.report_json()?)
            .with_context(|| format!("parsing {}/report.json", rec.dir.display()))?;
        #[derive(serde::Serialize)]
        struct Show<'a> {
            dir: String,
            record: &'a crashdb::RecordMeta,
            report: serde_json::Value,
            #[serde(skip_serializing_if = "Option::is_none")]
            log: Option<String>,
        }
        let log = if args.log {
            Some(String::from_utf8_lossy(&rec.dmesg()?).into_owned())
        } else {
            None
        };
        json_line(&Show {
            dir: rec.dir.display().to_string(),
            record: m,
            report,
            log,
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut s = String::new();
    let _ = writeln!(s, "id:         {}", m.id);
    let _ = writeln!(
        s,
        "title:      {}",
        m.title.as_deref().unwrap_or("(no crash report in the log)")
    );
    if let Some(k) = &m.kind {
        let _ = writeln!(s, "kind:       {k}");
    }
    if let (Some(h), Some(sig)) = (&m.signature_hash, &m.signature) {
        let _ = writeln!(s, "signature:  {h} ({sig})");
    }
    if let Some(r) = &m.release {
        let _ = writeln!(s, "release:    {r}");
    }
    if let Some(t) = m.crash_time {
        let _ = writeln!(s, "crashed:    {}", crashdb::time::rfc3339(t));
    }
    let _ = writeln!(s, "collected:  {}", crashdb::time::rfc3339(m.collected_at));
    let _ = writeln!(s, "directory:  {}", rec.dir.display());
    let _ = writeln!(s, "sources:");
    for src in &m.sources {
        let kind = serde_json::to_value(src.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(
            s,
            "  {kind}: {}{}",
            src.description,
            src.file
                .as_ref()
                .map(|f| format!(" -> {f}"))
                .unwrap_or_default()
        );
    }
    let _ = writeln!(s, "files:");
    for f in std::iter::once(&m.dmesg).chain(&m.raw).chain(m.dump.iter()) {
        let _ = writeln!(
            s,
            "  {} ({} bytes, sha256 {})",
            f.file,
            f.bytes,
            &f.sha256[..16.min(f.sha256.len())]
        );
    }
    let analysis = rec.analysis()?;
    if let Some(r) = analysis.primary() {
        if let Some(p) = &r.panic {
            let _ = writeln!(s, "panic:      {p}");
        }
        if let (Some(cpu), Some(pid)) = (r.cpu, r.pid) {
            let _ = writeln!(
                s,
                "task:       CPU {cpu} PID {pid} {}",
                r.comm.as_deref().unwrap_or("")
            );
        }
        if !r.frames.is_empty() {
            let _ = writeln!(s, "call trace:");
            for f in &r.frames {
                let _ = writeln!(
                    s,
                    "  {}{}{}",
                    if f.reliable { "" } else { "? " },
                    f.function,
                    f.module
                        .as_ref()
                        .map(|m| format!(" [{m}]"))
                        .unwrap_or_default()
                );
            }
        }
        if analysis.reports.len() > 1 {
            let _ = writeln!(
                s,
                "({} more report(s) in the log)",
                analysis.reports.len() - 1
            );
        }
    }
    out_all(s.as_bytes())?;
    if args.log {
        out_all(b"\n")?;
        out_all(&rec.dmesg()?)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Run `panicdump report`.
pub fn run_report(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let store = args.state.store();
    let rec = store.resolve(&args.id)?;
    let opts = BundleOptions {
        redact: RedactOptions {
            enabled: !args.no_redact,
            pointers: args.redact_pointers,
        },
        include_dump: args.include_dump,
        max_bytes: args.max_size,
        lines_before: args.lines_before,
        lines_after: args.lines_after,
    };
    let bundle = Bundle::build(&rec, &opts)
        .with_context(|| format!("building the bundle of {}", rec.meta.id))?;
    if args.preview {
        out_all(&bundle.preview())?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(out) = &args.output else {
        bail!("-o FILE is required (or --preview)");
    };
    if args.no_redact {
        eprintln!("panicdump: warning: redaction is off: the bundle may identify this machine and its users");
    }
    let n = bundle
        .write(out)
        .with_context(|| format!("writing {}", out.display()))?;
    let m = &bundle.manifest;
    if args.json {
        json_line(m)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut s = format!("wrote {} ({n} bytes)\n", out.display());
    for f in &m.files {
        let _ = writeln!(s, "  {} ({} bytes)", f.name, f.bytes);
    }
    let _ = writeln!(
        s,
        "log tail: lines {}-{} of {}{}",
        m.log_tail.first_line,
        m.log_tail.last_line,
        m.log_tail.total_lines,
        if m.log_tail.shrunk_to_fit {
            " (shrunk to fit the size cap)"
        } else {
            ""
        }
    );
    if m.redaction.enabled {
        let counts: Vec<String> = m
            .redaction
            .rules
            .iter()
            .filter(|c| c.replaced > 0)
            .map(|c| format!("{} {}", c.rule.as_str(), c.replaced))
            .collect();
        let _ = writeln!(
            s,
            "redacted: {}",
            if counts.is_empty() {
                "nothing found".to_string()
            } else {
                counts.join(", ")
            }
        );
    } else {
        let _ = writeln!(s, "redacted: nothing (--no-redact)");
    }
    let _ = writeln!(s, "dump: {}", m.dump);
    out_all(s.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// The `[retention]` limits of the configuration (0: no limit of that sort).
pub(crate) fn retention_policy(r: &config::Retention) -> Policy {
    Policy {
        max_count: (r.max_count > 0).then_some(r.max_count as usize),
        max_age_secs: (r.max_age_days > 0).then_some(i64::from(r.max_age_days) * 86_400),
        max_bytes: (r.max_size.0 > 0).then_some(r.max_size.0),
    }
}

/// Run `panicdump prune`.
pub fn run_prune(args: PruneArgs) -> anyhow::Result<ExitCode> {
    let store = args.state.store();
    let policy = if args.keep.is_none() && args.keep_days.is_none() && args.keep_bytes.is_none() {
        // The limits `collect` applies, so a manual prune agrees with it.
        // An unreadable config is an error, never a guess at the limits.
        let path = super::config::system_config_path();
        let loaded = config::load(&path)
            .with_context(|| format!("reading [retention] from {}", path.display()))?;
        retention_policy(&loaded.config.retention)
    } else {
        Policy {
            max_count: args.keep,
            max_age_secs: args.keep_days.map(|d| i64::from(d) * 86_400),
            max_bytes: args.keep_bytes,
        }
    };
    let pruned = crashdb::retention::prune(&store, &policy, now(), args.dry_run)
        .with_context(|| format!("pruning {}", store.dir().display()))?;
    if args.json {
        json_line(&pruned)?;
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    let mut s = String::new();
    for p in &pruned {
        let reason = serde_json::to_value(p.reason)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        let _ = writeln!(s, "{verb} {} ({} bytes, {reason})", p.id, p.bytes);
    }
    if pruned.is_empty() {
        s.push_str("nothing to delete\n");
    }
    out_all(s.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
