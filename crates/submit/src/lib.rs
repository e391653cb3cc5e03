//! The client side of the crash server: send redacted report bundles to
//! `panicdump serve` (`POST /api/v1/reports`, docs/server-api.md).
//!
//! - [`Settings`]: server URL, client token, consent, daily limits,
//!   timeouts, backoff; plain serde data with documented defaults.
//! - [`Queue`]: an on-disk queue under `<state>/submit/`, one entry per
//!   record (bundle + `state.json`), written atomically; [`Queue::run`]
//!   sends what is due with exponential backoff and jitter, keeps
//!   permanent failures with the server's message, defers reports over the
//!   daily limit (never drops them), and writes a sent marker per record
//!   so the same crash is never queued or counted twice.
//! - A `flock` ([`QueueLock`]) keeps two runs from sending the same entry.
//! - [`machine::machine_hash`]: the hashed machine id the server counts
//!   machines by.
//!
//! Nothing is queued or sent without consent ([`Settings::consent`]).

pub mod backoff;
mod error;
mod fsutil;
pub mod http;
pub mod ledger;
pub mod machine;
mod queue;
mod settings;

pub use error::{Error, Result};
pub use fsutil::QueueLock;
pub use http::{Accepted, Upload};
pub use ledger::{Ledger, Usage};
pub use queue::{
    Enqueued, Entry, EntryOutcome, EntryState, Outcome, Queue, RunOptions, SentMarker, Status,
    STATE_VERSION,
};
pub use settings::{
    Settings, CONSENT_HINT, DEFAULT_MACHINE_ID_PATH, DEFAULT_MAX_BYTES_PER_DAY,
    DEFAULT_MAX_REPORTS_PER_DAY,
};
