//! The on-disk queue under `<state>/submit/`:
//!
//! ```text
//! lock                  flock held by the run that owns the queue
//! queue/<record id>/    one entry: bundle.tar.gz + state.json
//! queue/.tmp-<id>/      an entry being written (renamed into place whole)
//! sent/<record id>.json the server's answer: this record is never queued again
//! ledger.json           what was sent in the last 24 h (rate limit)
//! ```
//!
//! Every file is written to a temporary name, fsynced and renamed. A sent
//! marker is written before its queue entry is removed, so a run killed at
//! any point either resends (the server answers "duplicate", counted once)
//! or finds the marker and only finishes the cleanup.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backoff;
use crate::error::{Error, IoContext, Result};
use crate::fsutil::{sync_dir, write_atomic, write_synced, QueueLock};
use crate::http::{self, Accepted, Upload};
use crate::ledger::{Admission, Ledger, Usage};
use crate::machine;
use crate::settings::Settings;

/// `state.json` version written by this code.
pub const STATE_VERSION: u32 = 1;
const BUNDLE: &str = "bundle.tar.gz";
const STATE: &str = "state.json";

/// Where an entry stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Waiting for its next attempt.
    Pending,
    /// Refused for good (a 4xx other than 408/429); kept with the server's
    /// message until `panicdump submit <id>` re-arms it.
    Failed,
}

/// `state.json` of a queue entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryState {
    /// [`STATE_VERSION`].
    pub version: u32,
    /// Record id (also the directory name).
    pub record: String,
    /// Crash title, for `--status`.
    #[serde(default)]
    pub title: Option<String>,
    /// Size of `bundle.tar.gz`.
    pub bundle_bytes: u64,
    /// SHA-256 of `bundle.tar.gz`, checked before sending.
    pub bundle_sha256: String,
    /// When it was queued (Unix seconds).
    pub queued_at: i64,
    /// Uploads started so far.
    pub attempts: u32,
    /// Not before this time (Unix seconds).
    pub next_attempt_at: i64,
    /// Pending or failed.
    pub status: Status,
    /// Last error, or why the entry waits.
    #[serde(default)]
    pub last_error: Option<String>,
    /// HTTP status of the last answer, if any.
    #[serde(default)]
    pub last_status: Option<u16>,
    /// When the last upload started.
    #[serde(default)]
    pub last_attempt_at: Option<i64>,
}

/// `sent/<id>.json`: proof a record reached the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentMarker {
    /// Record id.
    pub record: String,
    /// When (Unix seconds).
    pub sent_at: i64,
    /// Bundle size.
    pub bytes: u64,
    /// Uploads it took.
    pub attempts: u32,
    /// The endpoint.
    pub url: String,
    /// The server's answer.
    pub answer: Accepted,
}

/// One entry as read from disk; a corrupt `state.json` is reported, never
/// deleted. As JSON: `{"id", "state": {...} | null, "corrupt": null | "why"}`.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Directory name (the record id).
    pub id: String,
    /// The state, or why it could not be read.
    pub state: std::result::Result<EntryState, String>,
}

impl Serialize for Entry {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut m = s.serialize_struct("Entry", 3)?;
        m.serialize_field("id", &self.id)?;
        m.serialize_field("state", &self.state.as_ref().ok())?;
        m.serialize_field("corrupt", &self.state.as_ref().err())?;
        m.end()
    }
}

/// What `enqueue` did.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Enqueued {
    /// Newly queued.
    Queued {
        /// Its state.
        state: EntryState,
    },
    /// Already in the queue (re-armed for now if it had failed).
    AlreadyQueued {
        /// Its state.
        state: EntryState,
    },
    /// Already sent; not queued again.
    AlreadySent {
        /// The marker.
        marker: SentMarker,
    },
}

/// What happened to one entry in a run.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The server stored it (or already had it).
    Sent {
        /// The marker written.
        marker: SentMarker,
    },
    /// A marker existed: an earlier run sent it; only its entry was left.
    AlreadySent,
    /// The upload failed; retried at `next_attempt_at`.
    Retry {
        /// The error.
        error: String,
        /// Uploads so far.
        attempts: u32,
        /// Next try (Unix seconds).
        next_attempt_at: i64,
    },
    /// Refused for good; kept with the server's message.
    Failed {
        /// HTTP status.
        status: Option<u16>,
        /// The server's message.
        error: String,
    },
    /// Over the daily limit; stays queued.
    RateLimited {
        /// Which limit.
        reason: String,
        /// When it fits (Unix seconds).
        next_attempt_at: i64,
    },
    /// Its backoff has not elapsed.
    NotDue {
        /// Next try (Unix seconds).
        next_attempt_at: i64,
    },
    /// Failed earlier and not re-armed.
    Parked {
        /// The kept error.
        error: String,
    },
    /// Its files are unreadable or do not match; kept for inspection.
    Corrupt {
        /// What is wrong.
        error: String,
    },
}

/// One entry's outcome.
#[derive(Debug, Clone, Serialize)]
pub struct EntryOutcome {
    /// Record id.
    pub id: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Which entries a run sends.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Send these now, whatever their backoff (the user asked by name).
    pub now_ids: Vec<String>,
    /// Send every pending entry now, whatever its backoff.
    pub ignore_backoff: bool,
}

/// The queue, its ledger and sent markers, under `<state>/submit`.
#[derive(Debug, Clone)]
pub struct Queue {
    root: PathBuf,
}

fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id.len() <= 200
        && !id.starts_with('.')
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidId(id.to_string()))
    }
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn to_json<T: Serialize>(v: &T, path: &Path) -> Result<Vec<u8>> {
    let mut out = serde_json::to_vec_pretty(v).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })?;
    out.push(b'\n');
    Ok(out)
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T> {
    let data = fs::read(path).ctx("reading", path)?;
    serde_json::from_slice(&data).map_err(|source| Error::Json {
        path: path.to_path_buf(),
        source,
    })
}

impl Queue {
    /// The queue of the state directory `state_dir` (`<state_dir>/submit`).
    /// Nothing is created until it is locked.
    pub fn new(state_dir: impl AsRef<Path>) -> Queue {
        Queue {
            root: state_dir.as_ref().join("submit"),
        }
    }

    /// `<state>/submit`.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    fn queue_dir(&self) -> PathBuf {
        self.root.join("queue")
    }

    fn sent_dir(&self) -> PathBuf {
        self.root.join("sent")
    }

    fn ledger_path(&self) -> PathBuf {
        self.root.join("ledger.json")
    }

    fn entry_dir(&self, id: &str) -> PathBuf {
        self.queue_dir().join(id)
    }

    /// Take the queue lock (creating the directories), waiting up to `wait`.
    pub fn lock(&self, wait: Duration) -> Result<QueueLock> {
        for d in [&self.root, &self.queue_dir(), &self.sent_dir()] {
            fs::create_dir_all(d).ctx("creating", d)?;
        }
        QueueLock::acquire(&self.root.join("lock"), wait)
    }

    /// The sent marker of a record, if it was sent.
    pub fn sent(&self, id: &str) -> Result<Option<SentMarker>> {
        check_id(id)?;
        let p = self.sent_dir().join(format!("{id}.json"));
        if !p.exists() {
            return Ok(None);
        }
        read_json(&p).map(Some)
    }

    /// All sent markers (unreadable ones are skipped: they still block
    /// re-queueing through [`Queue::sent`]'s error).
    pub fn sent_markers(&self) -> Vec<SentMarker> {
        let mut v: Vec<SentMarker> = fs::read_dir(self.sent_dir())
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
            .filter_map(|e| read_json(&e.path()).ok())
            .collect();
        v.sort_by(|a, b| (a.sent_at, &a.record).cmp(&(b.sent_at, &b.record)));
        v
    }

    /// The ledger (empty when none was written yet).
    pub fn ledger(&self) -> Result<Ledger> {
        let p = self.ledger_path();
        if !p.exists() {
            return Ok(Ledger::default());
        }
        read_json(&p)
    }

    /// Rate-limit usage at `now`.
    pub fn usage(&self, settings: &Settings, now: i64) -> Result<Usage> {
        Ok(self.ledger()?.usage(
            now,
            settings.max_reports_per_day,
            settings.max_bytes_per_day,
        ))
    }

    /// Every entry, oldest first; corrupt ones included with their error.
    pub fn entries(&self) -> Result<Vec<Entry>> {
        let qd = self.queue_dir();
        let rd = match fs::read_dir(&qd) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e).ctx("listing", &qd),
        };
        let mut v = Vec::new();
        for de in rd {
            let de = de.ctx("listing", &qd)?;
            let id = de.file_name().to_string_lossy().into_owned();
            if id.starts_with('.') || !de.path().is_dir() {
                continue;
            }
            let state = self.read_state(&id);
            v.push(Entry { id, state });
        }
        v.sort_by(|a, b| {
            let ka = a.state.as_ref().map(|s| s.queued_at).unwrap_or(i64::MIN);
            let kb = b.state.as_ref().map(|s| s.queued_at).unwrap_or(i64::MIN);
            (ka, &a.id).cmp(&(kb, &b.id))
        });
        Ok(v)
    }

    fn read_state(&self, id: &str) -> std::result::Result<EntryState, String> {
        let p = self.entry_dir(id).join(STATE);
        let s: EntryState = read_json(&p).map_err(|e| e.to_string())?;
        if s.version > STATE_VERSION {
            return Err(format!(
                "{}: state version {} is newer than this panicdump understands",
                p.display(),
                s.version
            ));
        }
        if s.record != id {
            return Err(format!(
                "{}: names record {:?}, not its directory {id:?}",
                p.display(),
                s.record
            ));
        }
        Ok(s)
    }

    fn write_state(&self, s: &EntryState) -> Result<()> {
        let p = self.entry_dir(&s.record).join(STATE);
        write_atomic(&p, &to_json(s, &p)?)
    }

    /// Queue a record: build its redacted bundle and write the entry.
    /// A record already sent is not queued again; one already queued is
    /// left alone, except that a failed one is re-armed to go now.
    pub fn enqueue(
        &self,
        _lock: &QueueLock,
        rec: &crashdb::Record,
        settings: &Settings,
        now: i64,
    ) -> Result<Enqueued> {
        settings.require_consent()?;
        let id = rec.meta.id.clone();
        check_id(&id)?;
        if let Some(marker) = self.sent(&id)? {
            return Ok(Enqueued::AlreadySent { marker });
        }
        let dir = self.entry_dir(&id);
        if dir.exists() {
            let mut state = self.read_state(&id).map_err(|e| {
                Error::Settings(format!(
                    "queue entry {} is corrupt and kept for inspection: {e}",
                    dir.display()
                ))
            })?;
            if state.status == Status::Failed {
                state.status = Status::Pending;
                state.next_attempt_at = now;
                self.write_state(&state)?;
            }
            return Ok(Enqueued::AlreadyQueued { state });
        }
        let opts = crashdb::BundleOptions {
            redact: crashdb::RedactOptions {
                enabled: true,
                pointers: settings.redact_pointers,
            },
            max_bytes: settings.max_bundle_bytes,
            ..crashdb::BundleOptions::default()
        };
        let bundle = crashdb::Bundle::build(rec, &opts).map_err(|source| Error::Bundle {
            record: id.clone(),
            source,
        })?;
        let tmp = self.queue_dir().join(format!(".tmp-{id}"));
        if tmp.exists() {
            // Left by a run killed while queueing: nothing in it was ever
            // visible as an entry, and the record itself is untouched.
            fs::remove_dir_all(&tmp).ctx("removing", &tmp)?;
        }
        fs::create_dir(&tmp).ctx("creating", &tmp)?;
        let bpath = tmp.join(BUNDLE);
        bundle.write(&bpath).map_err(|source| Error::Bundle {
            record: id.clone(),
            source,
        })?;
        let data = fs::read(&bpath).ctx("reading", &bpath)?;
        let state = EntryState {
            version: STATE_VERSION,
            record: id.clone(),
            title: rec.meta.title.clone(),
            bundle_bytes: data.len() as u64,
            bundle_sha256: sha256_hex(&data),
            queued_at: now,
            attempts: 0,
            next_attempt_at: now,
            status: Status::Pending,
            last_error: None,
            last_status: None,
            last_attempt_at: None,
        };
        let sp = tmp.join(STATE);
        write_synced(&sp, &to_json(&state, &sp)?)?;
        sync_dir(&tmp)?;
        fs::rename(&tmp, &dir).ctx("renaming into place", &dir)?;
        sync_dir(&self.queue_dir())?;
        Ok(Enqueued::Queued { state })
    }

    fn remove_entry(&self, id: &str) -> Result<()> {
        let dir = self.entry_dir(id);
        fs::remove_dir_all(&dir).ctx("removing", &dir)?;
        sync_dir(&self.queue_dir())
    }

    /// Send what is due, oldest first, within the daily limits.
    /// `now` (Unix seconds) drives every schedule decision.
    pub fn run(
        &self,
        lock: &QueueLock,
        settings: &Settings,
        opts: &RunOptions,
        now: i64,
    ) -> Result<Vec<EntryOutcome>> {
        self.run_with(lock, settings, opts, now, &mut |s, r| http::upload(s, r))
    }

    /// [`Queue::run`] with the upload function given (tests count calls).
    pub fn run_with(
        &self,
        _lock: &QueueLock,
        settings: &Settings,
        opts: &RunOptions,
        now: i64,
        send: &mut dyn FnMut(&Settings, http::Request<'_>) -> Upload,
    ) -> Result<Vec<EntryOutcome>> {
        settings.require_consent()?;
        let url = settings.reports_url()?;
        let token = settings.bearer_token()?;
        let machine = machine::machine_hash(&settings.machine_id_path)?;
        let mut ledger = self.ledger()?;
        let mut out = Vec::new();
        for entry in self.entries()? {
            let id = entry.id.clone();
            let outcome = match entry.state {
                Err(error) => Outcome::Corrupt { error },
                Ok(state) => self.run_one(
                    state,
                    settings,
                    opts,
                    now,
                    &mut ledger,
                    http::Request {
                        url: &url,
                        token: &token,
                        machine: &machine,
                        record: &id,
                        body: &[],
                    },
                    send,
                )?,
            };
            out.push(EntryOutcome { id, outcome });
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_one(
        &self,
        mut state: EntryState,
        settings: &Settings,
        opts: &RunOptions,
        now: i64,
        ledger: &mut Ledger,
        req: http::Request<'_>,
        send: &mut dyn FnMut(&Settings, http::Request<'_>) -> Upload,
    ) -> Result<Outcome> {
        let id = state.record.clone();
        // A marker means an earlier run got the server's answer and was
        // stopped before removing the entry.
        if self.sent(&id)?.is_some() {
            self.remove_entry(&id)?;
            return Ok(Outcome::AlreadySent);
        }
        let named = opts.now_ids.iter().any(|n| n == &id);
        if state.status == Status::Failed && !named {
            return Ok(Outcome::Parked {
                error: state.last_error.clone().unwrap_or_default(),
            });
        }
        // A time further ahead than any schedule this code sets means the
        // clock was set back: do not park the entry for that long.
        let longest = i64::try_from(settings.backoff_max_secs)
            .unwrap_or(i64::MAX)
            .max(http::MAX_RETRY_AFTER.as_secs() as i64)
            .max(crate::ledger::WINDOW_SECS);
        let clock_went_back = state.next_attempt_at > now.saturating_add(longest);
        if state.next_attempt_at > now && !clock_went_back && !named && !opts.ignore_backoff {
            return Ok(Outcome::NotDue {
                next_attempt_at: state.next_attempt_at,
            });
        }
        match ledger.admit(
            now,
            state.bundle_bytes,
            settings.max_reports_per_day,
            settings.max_bytes_per_day,
        ) {
            Admission::Now => {}
            Admission::Later(at, reason) => {
                state.status = Status::Pending;
                state.next_attempt_at = at;
                state.last_error = Some(format!("waiting: {reason}"));
                self.write_state(&state)?;
                return Ok(Outcome::RateLimited {
                    reason,
                    next_attempt_at: at,
                });
            }
            Admission::Never(reason) => {
                state.status = Status::Failed;
                state.last_error = Some(reason.clone());
                state.last_status = None;
                self.write_state(&state)?;
                return Ok(Outcome::Failed {
                    status: None,
                    error: reason,
                });
            }
        }
        let bpath = self.entry_dir(&id).join(BUNDLE);
        let body = match fs::read(&bpath) {
            Ok(b) => b,
            Err(e) => {
                return Ok(Outcome::Corrupt {
                    error: format!("reading {}: {e}", bpath.display()),
                })
            }
        };
        if sha256_hex(&body) != state.bundle_sha256 || body.len() as u64 != state.bundle_bytes {
            return Ok(Outcome::Corrupt {
                error: format!(
                    "{} does not match the size and SHA-256 in its state.json",
                    bpath.display()
                ),
            });
        }
        // Count the attempt and schedule the next one before sending, so a
        // run killed mid-upload leaves an entry that is retried with backoff.
        let attempts = state.attempts.saturating_add(1);
        let delay = backoff::delay(
            attempts,
            settings.backoff_base_secs,
            settings.backoff_max_secs,
            backoff::random_jitter(),
        );
        state.status = Status::Pending;
        state.attempts = attempts;
        state.last_attempt_at = Some(now);
        state.next_attempt_at = now.saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
        state.last_error = Some(format!("upload attempt {attempts} did not finish"));
        state.last_status = None;
        self.write_state(&state)?;

        match send(settings, http::Request { body: &body, ..req }) {
            Upload::Accepted(answer) => {
                let marker = SentMarker {
                    record: id.clone(),
                    sent_at: now,
                    bytes: state.bundle_bytes,
                    attempts,
                    url: req.url.to_string(),
                    answer,
                };
                let mp = self.sent_dir().join(format!("{id}.json"));
                write_atomic(&mp, &to_json(&marker, &mp)?)?;
                ledger.record(&id, now, state.bundle_bytes);
                let lp = self.ledger_path();
                write_atomic(&lp, &to_json(&*ledger, &lp)?)?;
                self.remove_entry(&id)?;
                Ok(Outcome::Sent { marker })
            }
            Upload::Retry {
                status,
                message,
                retry_after,
            } => {
                if let Some(ra) = retry_after {
                    let ra = ra.min(http::MAX_RETRY_AFTER.as_secs()) as i64;
                    state.next_attempt_at = state.next_attempt_at.max(now.saturating_add(ra));
                }
                state.last_error = Some(message.clone());
                state.last_status = status;
                self.write_state(&state)?;
                Ok(Outcome::Retry {
                    error: message,
                    attempts,
                    next_attempt_at: state.next_attempt_at,
                })
            }
            Upload::Failed { status, message } => {
                state.status = Status::Failed;
                state.last_error = Some(message.clone());
                state.last_status = Some(status);
                self.write_state(&state)?;
                Ok(Outcome::Failed {
                    status: Some(status),
                    error: message,
                })
            }
        }
    }
}
