//! Announcing what `collect` found: one journal entry per new crash record
//! and a desktop notification to each logged-in graphical user.
//!
//! `collect` calls [`notify_collected`] once with its new records. The
//! `[notify]` section of the config file switches each channel (both on by
//! default). Without the `notify` feature (the static capture binary) the
//! call does nothing: the crash kernel has neither journal nor desktop.
//!
//! Environment overrides, for tests and unusual systems:
//! `PANICDUMP_JOURNAL_SOCKET` (default `/run/systemd/journal/socket`) and
//! `PANICDUMP_RUN_DIR` (logind state, default `/run`).

// The lean build (no `notify` feature) only prints a line per record and
// leaves most of what collect passes unused.
#![cfg_attr(not(feature = "notify"), allow(dead_code))]

use std::path::{Path, PathBuf};

/// What `collect` knows about one new crash record.
#[derive(Debug, Clone, Copy)]
pub struct CollectedCrash<'a> {
    /// The record id (`panicdump show <id>`).
    pub id: &'a str,
    /// The crash title, when the log had a recognizable report.
    pub title: Option<&'a str>,
    /// The crash kind (`panic`, `oops`, `warning`...), when known.
    pub kind: Option<&'a str>,
    /// The bucketing signature, when known.
    pub signature: Option<&'a str>,
    /// The record's directory.
    pub report_path: &'a Path,
}

/// Which channels to use and where they are.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    /// Send journal entries.
    pub journal: bool,
    /// Send desktop notifications.
    pub desktop: bool,
    /// journald's native socket.
    pub journal_socket: PathBuf,
    /// Where logind keeps its state (`systemd/users`, `systemd/sessions`).
    pub run_dir: PathBuf,
}

impl Default for NotifySettings {
    fn default() -> Self {
        let env_path = |k: &str, d: &str| {
            std::env::var_os(k)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from(d))
        };
        Self {
            journal: true,
            desktop: true,
            journal_socket: env_path("PANICDUMP_JOURNAL_SOCKET", "/run/systemd/journal/socket"),
            run_dir: env_path("PANICDUMP_RUN_DIR", "/run"),
        }
    }
}

impl NotifySettings {
    /// Defaults, with the channels switched by the `[notify]` section of
    /// the config file (`PANICDUMP_CONFIG`, else /etc/panicdump/config.toml).
    /// A missing file means defaults; an unreadable or invalid one is
    /// reported and defaults are used, since a bad config must not
    /// silence a crash.
    pub fn from_config() -> Self {
        let mut s = Self::default();
        let path = super::config::system_config_path();
        match config::load(&path) {
            Ok(loaded) => {
                s.journal = loaded.config.notify.journal;
                s.desktop = loaded.config.notify.desktop;
            }
            Err(e) => eprintln!("panicdump: notify: {e}; announcing with defaults"),
        }
        s
    }
}

/// What was announced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyOutcome {
    /// Journal entries journald accepted (the rest went to stderr).
    pub journal_entries: usize,
    /// Desktop notifications delivered (one per user and record).
    pub desktop_delivered: usize,
    /// Problems, one line each (also printed to stderr).
    pub problems: Vec<String>,
}

/// The one-line summary of a crash.
fn summary(c: &CollectedCrash<'_>) -> String {
    match c.title {
        Some(t) => format!("Kernel crash: {}", t.lines().next().unwrap_or(t)),
        None => "Kernel crash (no crash report recognized in the log)".to_string(),
    }
}

/// The journal entry for one record.
#[cfg(feature = "notify")]
fn journal_entry(c: &CollectedCrash<'_>) -> Result<notify::journal::Entry, notify::NotifyError> {
    use notify::journal::{Entry, MESSAGE_ID, PRIORITY_ERR};
    let mut e = Entry::new()
        .field(
            "MESSAGE",
            format!(
                "{} (record {}; see `panicdump show {}`, report in {})",
                summary(c),
                c.id,
                c.id,
                c.report_path.display()
            ),
        )?
        .field("MESSAGE_ID", MESSAGE_ID)?
        .field("PRIORITY", PRIORITY_ERR.to_string())?
        .field("SYSLOG_IDENTIFIER", "panicdump")?
        .field("PANICDUMP_RECORD", c.id)?
        .field(
            "PANICDUMP_REPORT_PATH",
            c.report_path.as_os_str().as_encoded_bytes(),
        )?;
    if let Some(t) = c.title {
        e = e.field("PANICDUMP_TITLE", t)?;
    }
    if let Some(k) = c.kind {
        e = e.field("PANICDUMP_KIND", k)?;
    }
    if let Some(s) = c.signature {
        e = e.field("PANICDUMP_SIGNATURE", s)?;
    }
    Ok(e)
}

/// The desktop notification for one record.
#[cfg(feature = "notify")]
fn desktop_notification(c: &CollectedCrash<'_>) -> notify::desktop::Notification {
    use notify::desktop::{Notification, Urgency};
    Notification {
        app_name: "panicdump".into(),
        icon: "dialog-warning".into(),
        summary: summary(c),
        body: format!(
            "The system crashed before this boot. panicdump saved what the kernel left \
             behind.\nRecord: {}\nReport: {}\nDetails: panicdump show {}",
            c.id,
            c.report_path.display(),
            c.id
        ),
        urgency: Urgency::Critical,
        hints: vec![("x-panicdump-record".into(), c.id.to_string())],
    }
}

/// Announce the new records. Never fails: a crash must not stay
/// unrecorded because a notification could not be shown, so problems are
/// returned and printed, not raised.
pub fn notify_collected(
    crashes: &[CollectedCrash<'_>],
    settings: &NotifySettings,
) -> NotifyOutcome {
    let mut out = NotifyOutcome::default();
    if crashes.is_empty() {
        return out;
    }
    imp(crashes, settings, &mut out);
    for p in &out.problems {
        eprintln!("panicdump: notify: {p}");
    }
    out
}

#[cfg(feature = "notify")]
fn imp(crashes: &[CollectedCrash<'_>], settings: &NotifySettings, out: &mut NotifyOutcome) {
    if settings.journal {
        for c in crashes {
            match journal_entry(c) {
                Ok(e) => {
                    if e.send_or_stderr(&settings.journal_socket) {
                        out.journal_entries += 1;
                    }
                }
                Err(e) => out
                    .problems
                    .push(format!("journal entry for {}: {e}", c.id)),
            }
        }
    }
    if settings.desktop {
        let users = match notify::desktop::graphical_users(&settings.run_dir) {
            Ok(u) => u,
            Err(e) => {
                out.problems.push(format!("finding logged-in users: {e}"));
                Vec::new()
            }
        };
        let sender = notify::desktop::Sender::default();
        for user in &users {
            for c in crashes {
                match sender.send(user, &desktop_notification(c)) {
                    Ok(_) => out.desktop_delivered += 1,
                    Err(e) => {
                        out.problems.push(e.to_string());
                        break; // one failure per user is enough to report
                    }
                }
            }
        }
    }
}

#[cfg(not(feature = "notify"))]
fn imp(crashes: &[CollectedCrash<'_>], settings: &NotifySettings, _out: &mut NotifyOutcome) {
    // The lean build has no notification channels; say what was collected
    // so a console reader still sees it.
    let _ = settings;
    for c in crashes {
        eprintln!("panicdump: {} (record {})", summary(c), c.id);
    }
}

#[cfg(all(test, feature = "notify"))]
mod tests {
    use super::*;
    use std::os::unix::net::UnixDatagram;

    #[test]
    fn one_journal_entry_per_record_with_every_field() {
        let dir = std::env::temp_dir().join(format!("pd-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("journal");
        let _ = std::fs::remove_file(&sock);
        let server = UnixDatagram::bind(&sock).unwrap();
        let settings = NotifySettings {
            journal: true,
            desktop: true,
            journal_socket: sock.clone(),
            run_dir: dir.join("no-logind"),
        };
        let crashes = [
            CollectedCrash {
                id: "20261121-1200-ab12",
                title: Some("BUG: kernel NULL pointer dereference in foo_probe"),
                kind: Some("oops"),
                signature: Some("sig-1"),
                report_path: Path::new("/var/lib/panicdump/crashes/20261121-1200-ab12"),
            },
            CollectedCrash {
                id: "r2",
                title: None,
                kind: None,
                signature: None,
                report_path: Path::new("/var/lib/panicdump/crashes/r2"),
            },
        ];
        let out = notify_collected(&crashes, &settings);
        assert_eq!(out.journal_entries, 2);
        assert_eq!(out.desktop_delivered, 0, "no logind state, no users");
        let mut buf = vec![0u8; 65536];
        let n = server.recv(&mut buf).unwrap();
        let f = notify::journal::decode(&buf[..n]).unwrap();
        let get = |k: &str| {
            f.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        assert_eq!(get("MESSAGE_ID").unwrap(), notify::journal::MESSAGE_ID);
        assert_eq!(get("PRIORITY").unwrap(), "3");
        assert_eq!(get("PANICDUMP_RECORD").unwrap(), "20261121-1200-ab12");
        assert_eq!(get("PANICDUMP_KIND").unwrap(), "oops");
        assert_eq!(get("PANICDUMP_SIGNATURE").unwrap(), "sig-1");
        assert!(get("MESSAGE").unwrap().contains("foo_probe"));
        let n = server.recv(&mut buf).unwrap();
        let f = notify::journal::decode(&buf[..n]).unwrap();
        assert!(f.iter().all(|(k, _)| k != "PANICDUMP_TITLE"));
        assert!(f
            .iter()
            .any(|(k, v)| k == "MESSAGE" && v.starts_with(b"Kernel crash (no crash")));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn switched_off_channels_send_nothing() {
        let settings = NotifySettings {
            journal: false,
            desktop: false,
            journal_socket: PathBuf::from("/nonexistent"),
            run_dir: PathBuf::from("/nonexistent"),
        };
        let c = CollectedCrash {
            id: "r",
            title: None,
            kind: None,
            signature: None,
            report_path: Path::new("/x"),
        };
        assert_eq!(notify_collected(&[c], &settings), NotifyOutcome::default());
    }
}
