//! `panicdump submit`: send crash records to a panicdump crash server
//! through the on-disk queue of the `submit` crate (consent, retry with
//! backoff, daily limits, sent once).
//!
//! Settings come from, later winning: the defaults of
//! [`submit::Settings`], the config file's `[submit]` section
//! (`PANICDUMP_CONFIG`, else `/etc/panicdump/config.toml`),
//! `PANICDUMP_SUBMIT_<KEY>` environment variables
//! (one per settings key, e.g. `PANICDUMP_SUBMIT_URL`,
//! `PANICDUMP_SUBMIT_TOKEN`, `PANICDUMP_SUBMIT_CONSENT=1`), then flags.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};

use super::capture::now;
use super::records::{json_line, out_all};
use submit::{Enqueued, Outcome, Queue, RunOptions, Settings};

/// Exit status when something stays queued for a later retry
/// (`EX_TEMPFAIL` of sysexits.h).
pub const EXIT_QUEUED: u8 = 75;

/// How long a run waits for another run's queue lock.
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// Arguments of `panicdump submit`.
#[derive(clap::Args, Debug)]
pub struct SubmitArgs {
    /// Record id, unique prefix or hash suffix, or `latest` (the default).
    #[arg(conflicts_with_all = ["all", "pending", "status"])]
    pub id: Option<String>,
    /// Queue and send every record not sent yet.
    #[arg(long, conflicts_with_all = ["pending", "status"])]
    pub all: bool,
    /// Queue nothing new: send what is queued and due (for a timer).
    #[arg(long, conflicts_with = "status")]
    pub pending: bool,
    /// Ignore the retry backoff of queued entries (daily limits still hold).
    #[arg(long)]
    pub now: bool,
    /// Only queue; send later (`--pending`, or after the next collect).
    #[arg(long, conflicts_with_all = ["pending", "status"])]
    pub queue_only: bool,
    /// Show the queue, next retries and the daily limit usage; send nothing.
    #[arg(long)]
    pub status: bool,
    /// Crash server base URL [env: PANICDUMP_SUBMIT_URL].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Client token [env: PANICDUMP_SUBMIT_TOKEN].
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// State directory holding `crashes/` and `submit/` [env: PANICDUMP_STATE_DIR] [default: /var/lib/panicdump].
    #[arg(long, alias = "state", value_name = "DIR")]
    pub state_dir: Option<PathBuf>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

fn state_dir(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf)
        .or_else(|| std::env::var_os("PANICDUMP_STATE_DIR").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from(crashdb::DEFAULT_STATE_DIR))
}

/// Apply `PANICDUMP_SUBMIT_<KEY>` variables over `base`, one per settings
/// key, parsed by the type the key has (booleans take 1/0, true/false,
/// yes/no).
pub fn settings_from_env(base: Settings) -> anyhow::Result<Settings> {
    let mut v = serde_json::to_value(&base).context("encoding the submit settings")?;
    let obj = v
        .as_object_mut()
        .context("submit settings are not a JSON object")?;
    for (key, val) in obj.iter_mut() {
        let name = format!("PANICDUMP_SUBMIT_{}", key.to_ascii_uppercase());
        let Some(raw) = std::env::var_os(&name) else {
            continue;
        };
        let raw = raw
            .into_string()
            .map_err(|_| anyhow::anyhow!("{name} is not UTF-8"))?;
        let raw = raw.trim();
        *val = match val {
            serde_json::Value::Bool(_) => match raw.to_ascii_lowercase().as_str() {
                "1" | "true" | "yes" | "on" => true.into(),
                "0" | "false" | "no" | "off" | "" => false.into(),
                _ => bail!("{name}={raw:?}: expected 1 or 0"),
            },
            serde_json::Value::Number(_) => raw
                .parse::<u64>()
                .map(Into::into)
                .map_err(|_| anyhow::anyhow!("{name}={raw:?}: expected a whole number"))?,
            _ if raw.is_empty() => serde_json::Value::Null,
            _ => raw.into(),
        };
    }
    serde_json::from_value(v).context("applying PANICDUMP_SUBMIT_* settings")
}

use super::config::system_config_path as config_path;

/// Map the config file's `[submit]` section onto the client's settings.
pub fn settings_from_config(c: &config::Submit) -> Settings {
    Settings {
        url: c.url.clone(),
        token: c.token.clone(),
        token_file: c.token_file.clone(),
        consent: c.consent,
        auto: c.auto,
        max_reports_per_day: c.max_reports_per_day,
        max_bytes_per_day: c.max_bytes_per_day.0,
        redact_pointers: c.redact_pointers,
        ..Settings::default()
    }
}

/// The settings in force: defaults, the config file's `[submit]` section
/// (a missing file is all defaults), environment, then these flags.
pub fn resolve_settings(url: Option<&str>, token: Option<&str>) -> anyhow::Result<Settings> {
    let path = config_path();
    let loaded = config::load(&path).with_context(|| format!("reading {}", path.display()))?;
    for w in loaded.warnings() {
        eprintln!("panicdump: warning: {w}");
    }
    let mut s = settings_from_env(settings_from_config(&loaded.config.submit))?;
    if let Some(u) = url {
        s.url = Some(u.to_string());
    }
    if let Some(t) = token {
        s.token = Some(t.to_string());
    }
    Ok(s)
}

/// `in 55 s (2026-11-21 19:40:00 UTC)`.
fn when(at: i64, now: i64) -> String {
    let d = at - now;
    let rel = if d <= 0 {
        "now".to_string()
    } else if d < 120 {
        format!("in {d} s")
    } else if d < 7200 {
        format!("in {} min", d / 60)
    } else {
        format!("in {} h", d / 3600)
    };
    format!("{rel} ({} UTC)", crashdb::time::human(at))
}

fn describe(id: &str, o: &Outcome, now: i64) -> String {
    match o {
        Outcome::Sent { marker } => format!(
            "sent {id}: report {} in bucket {}{}",
            marker.answer.report_id,
            marker.answer.bucket_id,
            if marker.answer.duplicate {
                " (the server already had it: counted once)"
            } else {
                ""
            }
        ),
        Outcome::AlreadySent => format!("sent {id} (by an earlier run)"),
        Outcome::Retry {
            error,
            attempts,
            next_attempt_at,
        } => format!(
            "queued {id}: attempt {attempts} failed: {error}; next attempt {}",
            when(*next_attempt_at, now)
        ),
        Outcome::Failed { status: _, error } => {
            format!("FAILED {id}: {error} (kept in the queue; `panicdump submit {id}` tries again)")
        }
        Outcome::RateLimited {
            reason,
            next_attempt_at,
        } => format!(
            "queued {id}: {reason}; it goes {}",
            when(*next_attempt_at, now)
        ),
        Outcome::NotDue { next_attempt_at } => {
            format!("queued {id}: next attempt {}", when(*next_attempt_at, now))
        }
        Outcome::Parked { error } => {
            format!("failed {id} earlier: {error} (`panicdump submit {id}` tries again)")
        }
        Outcome::Corrupt { error } => format!("CORRUPT queue entry {id}, kept: {error}"),
    }
}

/// Exit status of a run: 1 if anything failed or is corrupt, 75 if
/// something stays queued, else 0.
fn exit_of(outcomes: &[submit::EntryOutcome]) -> ExitCode {
    let bad = outcomes.iter().any(|o| {
        matches!(
            o.outcome,
            Outcome::Failed { .. } | Outcome::Corrupt { .. } | Outcome::Parked { .. }
        )
    });
    let waiting = outcomes.iter().any(|o| {
        matches!(
            o.outcome,
            Outcome::Retry { .. } | Outcome::RateLimited { .. } | Outcome::NotDue { .. }
        )
    });
    if bad {
        ExitCode::from(1)
    } else if waiting {
        ExitCode::from(EXIT_QUEUED)
    } else {
        ExitCode::SUCCESS
    }
}

/// Run `panicdump submit`.
pub fn run(args: SubmitArgs) -> anyhow::Result<ExitCode> {
    let state = state_dir(args.state_dir.as_deref());
    let settings = resolve_settings(args.url.as_deref(), args.token.as_deref())?;
    let queue = Queue::new(&state);
    if args.status {
        return run_status(&queue, &settings, args.json);
    }
    settings.require_consent()?;
    if !args.queue_only {
        // Fail before queueing anything when sending cannot work.
        settings.reports_url()?;
        settings.bearer_token()?;
    }
    let lock = queue
        .lock(LOCK_WAIT)
        .with_context(|| format!("locking {}", queue.dir().display()))?;
    let t = now();
    let mut queued = Vec::new();
    if !args.pending {
        let store = crashdb::Store::new(&state);
        let records: Vec<crashdb::Record> = if args.all {
            let mut v = Vec::new();
            for e in store
                .list()
                .with_context(|| format!("listing {}", store.dir().display()))?
            {
                match &e.meta {
                    Ok(_) => v.push(store.resolve(&e.id)?),
                    Err(err) => eprintln!("panicdump: skipping unreadable record {}: {err}", e.id),
                }
            }
            v
        } else {
            vec![store.resolve(args.id.as_deref().unwrap_or("latest"))?]
        };
        for rec in &records {
            let r = queue
                .enqueue(&lock, rec, &settings, t)
                .with_context(|| format!("queueing {}", rec.meta.id))?;
            queued.push((rec.meta.id.clone(), r));
        }
    }
    let outcomes = if args.queue_only {
        Vec::new()
    } else {
        let opts = RunOptions {
            now_ids: queued.iter().map(|(id, _)| id.clone()).collect(),
            ignore_backoff: args.now,
        };
        queue
            .run(&lock, &settings, &opts, t)
            .with_context(|| format!("sending the queue {}", queue.dir().display()))?
    };
    drop(lock);
    if args.json {
        #[derive(serde::Serialize)]
        struct Out<'a> {
            queued: Vec<serde_json::Value>,
            outcomes: &'a [submit::EntryOutcome],
        }
        let queued = queued
            .iter()
            .map(|(id, r)| {
                let mut v = serde_json::to_value(r).unwrap_or_default();
                if let Some(o) = v.as_object_mut() {
                    o.insert("id".into(), id.clone().into());
                }
                v
            })
            .collect();
        json_line(&Out {
            queued,
            outcomes: &outcomes,
        })?;
    } else {
        let mut s = String::new();
        for (id, r) in &queued {
            match r {
                Enqueued::Queued { .. } => {
                    let _ = writeln!(s, "queued {id}");
                }
                Enqueued::AlreadyQueued { .. } => {}
                Enqueued::AlreadySent { marker } => {
                    let _ = writeln!(
                        s,
                        "already sent {id} on {} UTC: report {}",
                        crashdb::time::human(marker.sent_at),
                        marker.answer.report_id
                    );
                }
            }
        }
        for o in &outcomes {
            let _ = writeln!(s, "{}", describe(&o.id, &o.outcome, t));
        }
        if queued.is_empty() && outcomes.is_empty() {
            s.push_str("nothing to send\n");
        }
        out_all(s.as_bytes())?;
    }
    Ok(exit_of(&outcomes))
}

fn run_status(queue: &Queue, settings: &Settings, json: bool) -> anyhow::Result<ExitCode> {
    let t = now();
    let entries = queue
        .entries()
        .with_context(|| format!("reading {}", queue.dir().display()))?;
    let usage = queue
        .usage(settings, t)
        .with_context(|| format!("reading {}/ledger.json", queue.dir().display()))?;
    let sent = queue.sent_markers();
    if json {
        #[derive(serde::Serialize)]
        struct Status<'a> {
            dir: String,
            url: Option<&'a str>,
            consent: bool,
            auto: bool,
            entries: &'a [submit::Entry],
            usage: submit::Usage,
            sent: usize,
        }
        json_line(&Status {
            dir: queue.dir().display().to_string(),
            url: settings.url.as_deref(),
            consent: settings.consent,
            auto: settings.auto,
            entries: &entries,
            usage,
            sent: sent.len(),
        })?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "server:   {}",
        settings.url.as_deref().unwrap_or("(none configured)")
    );
    let _ = writeln!(
        s,
        "consent:  {}",
        if settings.consent {
            "yes"
        } else {
            "no (nothing is sent)"
        }
    );
    let _ = writeln!(
        s,
        "last 24h: {} of {} reports, {} of {} bytes",
        usage.reports, usage.max_reports, usage.bytes, usage.max_bytes
    );
    let _ = writeln!(s, "sent:     {} record(s) in all", sent.len());
    if entries.is_empty() {
        let _ = writeln!(s, "queue:    empty ({})", queue.dir().display());
    } else {
        let _ = writeln!(
            s,
            "queue:    {} entr{} ({})",
            entries.len(),
            if entries.len() == 1 { "y" } else { "ies" },
            queue.dir().display()
        );
        for e in &entries {
            match &e.state {
                Ok(st) => {
                    let status = match st.status {
                        submit::Status::Pending => "pending",
                        submit::Status::Failed => "FAILED",
                    };
                    let _ = writeln!(
                        s,
                        "  {}  {status}  {} attempt(s)  {} bytes{}",
                        e.id,
                        st.attempts,
                        st.bundle_bytes,
                        match st.status {
                            submit::Status::Pending =>
                                format!("  next {}", when(st.next_attempt_at, t)),
                            submit::Status::Failed => String::new(),
                        }
                    );
                    if let Some(title) = &st.title {
                        let _ = writeln!(s, "      {title}");
                    }
                    if let Some(err) = &st.last_error {
                        let _ = writeln!(s, "      last error: {err}");
                    }
                }
                Err(err) => {
                    let _ = writeln!(s, "  {}  CORRUPT (kept): {err}", e.id);
                }
            }
        }
    }
    out_all(s.as_bytes())?;
    Ok(ExitCode::SUCCESS)
}

/// After `collect`: when consent and `auto` are configured, queue the
/// records it just wrote and send what is due, once. Returns a one-line
/// summary for collect to print, or `None` when auto-submit is off.
/// Errors are worth a warning, never a failure of collect: the records
/// are safe on disk and `panicdump submit --pending` sends them later.
pub fn after_collect(state_dir: &Path, new_ids: &[String]) -> anyhow::Result<Option<String>> {
    let settings = resolve_settings(None, None)?;
    if !settings.consent || !settings.auto {
        return Ok(None);
    }
    let queue = Queue::new(state_dir);
    let lock = queue
        .lock(LOCK_WAIT)
        .with_context(|| format!("locking {}", queue.dir().display()))?;
    let t = now();
    let store = crashdb::Store::new(state_dir);
    for id in new_ids {
        let rec = store.resolve(id)?;
        queue
            .enqueue(&lock, &rec, &settings, t)
            .with_context(|| format!("queueing {id}"))?;
    }
    let outcomes = queue.run(&lock, &settings, &RunOptions::default(), t)?;
    let count = |f: fn(&Outcome) -> bool| outcomes.iter().filter(|o| f(&o.outcome)).count();
    Ok(Some(format!(
        "submit: {} sent, {} queued for retry, {} failed",
        count(|o| matches!(o, Outcome::Sent { .. } | Outcome::AlreadySent)),
        count(|o| matches!(
            o,
            Outcome::Retry { .. } | Outcome::RateLimited { .. } | Outcome::NotDue { .. }
        )),
        count(|o| matches!(
            o,
            Outcome::Failed { .. } | Outcome::Parked { .. } | Outcome::Corrupt { .. }
        )),
    )))
}
