//! Crash records on disk, report bundles, redaction and retention.
//!
//! - [`Store`] keeps one directory per crash under `<state>/crashes/<id>/`:
//!   `record.json` ([`RecordMeta`]), `dmesg.txt`, `report.json` (the
//!   [`oops`] analysis) and `raw/` (original files), written atomically
//!   from inputs the collector already harvested ([`NewRecord`]).
//! - [`Bundle`] turns a record into a `.tar.gz` to share: manifest, log
//!   tail around the crash, structured report, system information,
//!   optionally the dump; redacted by default ([`Redactor`]) and capped in
//!   size.
//! - [`retention`] decides which old records to delete.
//!
//! On disk (`record.json` schema 1):
//!
//! ```text
//! <state>/crashes/20261121-162211-8caf4a8ab3ac/   <UTC crash time>-<12 hex of the content hash>
//!   record.json   schema, id, collected_at, crash_time, content_hash, sources,
//!                 title, kind, signature(_hash), release, dmesg/raw/dump sizes and sha256, system
//!   dmesg.txt     the kernel log
//!   report.json   oops::Analysis of dmesg.txt
//!   raw/          original files (pstore records, ...)
//!   dump-<name>   the dump, when kept
//! ```
//!
//! A bundle (`panicdump report`) is a `.tar.gz` with one top directory
//! `panicdump-<id>/` holding `manifest.json` (first), `log-tail.txt`,
//! `report.json`, `system.json` and, only on request, the dump.
//!
//! ```no_run
//! use crashdb::{NewRecord, SourceKind, Store};
//! let store = Store::new("/var/lib/panicdump");
//! let log = std::fs::read("/sys/fs/pstore/dmesg-ramoops-0")?;
//! let rec = NewRecord::new(log.clone(), SourceKind::Pstore, "ramoops dmesg-ramoops-0")
//!     .raw_file("dmesg-ramoops-0", log, SourceKind::Pstore, "/sys/fs/pstore/dmesg-ramoops-0");
//! let written = store.write(&rec, 1_800_000_000)?;
//! println!("{}", written.id);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod bundle;
mod error;
pub mod fsutil;
mod record;
pub mod redact;
pub mod retention;
pub mod sha256;
mod sysinfo;
pub mod tar;
pub mod time;
pub mod upload;

pub use bundle::{read_tar_gz, Bundle, BundleOptions, Manifest};
pub use error::{Error, Result};
pub use record::{
    DumpMode, Entry, NewRecord, Record, RecordMeta, Source, SourceKind, Store, StoredFile, Written,
    DEFAULT_STATE_DIR, SCHEMA,
};
pub use redact::{RedactOptions, Redactor, Rule, RuleCount};
pub use retention::Policy;
pub use sysinfo::{parse_os_release, SystemInfo};
