//! Desktop notifications to logged-in graphical users.
//!
//! Users come from logind's state files: `/run/systemd/users/<uid>` names
//! the user, its runtime directory and its display session
//! (`DISPLAY=<session id>`), and `/run/systemd/sessions/<id>` says whether
//! that session is graphical (`TYPE=x11|wayland|mir`). Each such user's
//! session bus is `<runtime dir>/bus`.
//!
//! The `Notify` call is made **as the user**: a session `dbus-daemon`
//! refuses a root client (EXTERNAL authentication only admits the bus
//! owner; checked on Debian's dbus-daemon), so the call runs in a child
//! process with the user's uid and gid and no supplementary groups,
//! using systemd's `busctl` (present wherever logind is). A child keeps
//! privileges dropped for good and keeps a D-Bus stack out of the static
//! capture binary; forking a multi-threaded process to set the uid in
//! place would not be safe.

use crate::NotifyError;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One logged-in graphical user and their session bus.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserBus {
    /// User id.
    pub uid: u32,
    /// Primary group id (from the password database; the uid when unknown).
    pub gid: u32,
    /// User name.
    pub name: String,
    /// The session bus socket.
    pub bus: PathBuf,
}

/// Parse a logind state file (`KEY=value` lines).
fn state_value<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

/// Whether logind's session `id` under `run_dir` is graphical.
fn session_is_graphical(run_dir: &Path, id: &str) -> bool {
    if id.contains('/') || id.starts_with('.') {
        return false;
    }
    let path = run_dir.join("systemd/sessions").join(id);
    let Ok(text) = std::fs::read_to_string(path) else {
        return false;
    };
    matches!(state_value(&text, "TYPE"), Some("x11" | "wayland" | "mir"))
}

/// The primary gid of `uid` from the password database.
fn primary_gid(uid: u32) -> Option<u32> {
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: passwd is plain data; getpwuid_r writes only into `pwd` and
    // `buf` (its length is passed) and sets `result` to null or &pwd.
    unsafe {
        let mut pwd: libc::passwd = std::mem::zeroed();
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        let rc = libc::getpwuid_r(
            uid,
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        );
        if rc != 0 || result.is_null() {
            return None;
        }
        Some(pwd.pw_gid)
    }
}

/// Logged-in users with a graphical session and a session bus, from the
/// logind state under `run_dir` (normally `/run`). No logind (no
/// `systemd/users` directory) means no users, not an error.
pub fn graphical_users(run_dir: &Path) -> Result<Vec<UserBus>, NotifyError> {
    let users_dir = run_dir.join("systemd/users");
    let entries = match std::fs::read_dir(&users_dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(NotifyError::Read {
                path: users_dir,
                source,
            })
        }
    };
    let mut users = Vec::new();
    for entry in entries.flatten() {
        let Some(uid) = entry
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(entry.path()) else {
            continue;
        };
        let Some(display) = state_value(&text, "DISPLAY") else {
            continue;
        };
        if !session_is_graphical(run_dir, display) {
            continue;
        }
        let runtime = state_value(&text, "RUNTIME")
            .map(PathBuf::from)
            .unwrap_or_else(|| run_dir.join("user").join(uid.to_string()));
        let bus = runtime.join("bus");
        let is_socket = std::fs::metadata(&bus)
            .map(|m| m.file_type().is_socket())
            .unwrap_or(false);
        if !is_socket {
            continue;
        }
        users.push(UserBus {
            uid,
            gid: primary_gid(uid).unwrap_or(uid),
            name: state_value(&text, "NAME").unwrap_or("?").to_string(),
            bus,
        });
    }
    users.sort_by_key(|u| u.uid);
    Ok(users)
}

/// How urgent a notification is (the spec's `urgency` hint).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Urgency {
    /// 0.
    Low,
    /// 1.
    Normal,
    /// 2: stays on screen until dismissed on most servers.
    Critical,
}

/// A notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Application name shown by the server.
    pub app_name: String,
    /// Icon name from the icon theme.
    pub icon: String,
    /// One line: what happened.
    pub summary: String,
    /// Plain text: details and where the report is (markup is escaped).
    pub body: String,
    /// Urgency.
    pub urgency: Urgency,
    /// Extra string hints (`x-panicdump-record` and the like).
    pub hints: Vec<(String, String)>,
}

/// Escape the few characters servers treat as markup in bodies.
pub fn escape_body(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

impl Notification {
    /// The `busctl call` arguments after `--` for `Notify(susssasa{sv}i)`.
    pub fn busctl_args(&self) -> Vec<String> {
        let mut a: Vec<String> = [
            "org.freedesktop.Notifications",
            "/org/freedesktop/Notifications",
            "org.freedesktop.Notifications",
            "Notify",
            "susssasa{sv}i",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        a.push(self.app_name.clone());
        a.push("0".into()); // replaces_id: a new notification
        a.push(self.icon.clone());
        a.push(self.summary.clone());
        a.push(escape_body(&self.body));
        a.push("0".into()); // no actions
        a.push((1 + self.hints.len()).to_string());
        let urgency = match self.urgency {
            Urgency::Low => "0",
            Urgency::Normal => "1",
            Urgency::Critical => "2",
        };
        a.extend(["urgency", "y", urgency].map(String::from));
        for (k, v) in &self.hints {
            a.extend([k.clone(), "s".into(), v.clone()]);
        }
        a.push("-1".into()); // expire timeout: the server's default
        a
    }
}

/// How to reach users' buses.
#[derive(Debug, Clone)]
pub struct Sender {
    /// The `busctl` program.
    pub busctl: PathBuf,
    /// Seconds to wait for the server's reply.
    pub timeout_secs: u32,
}

impl Default for Sender {
    fn default() -> Self {
        Self {
            busctl: PathBuf::from("busctl"),
            timeout_secs: 5,
        }
    }
}

impl Sender {
    /// Call `Notify` on `user`'s bus as that user. Returns the notification
    /// id the server assigned.
    pub fn send(&self, user: &UserBus, n: &Notification) -> Result<u32, NotifyError> {
        let mut cmd = Command::new(&self.busctl);
        cmd.env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .current_dir("/")
            .arg(format!("--address=unix:path={}", user.bus.display()))
            .arg(format!("--timeout={}", self.timeout_secs))
            .arg("call")
            .arg("--")
            .args(n.busctl_args())
            .stdin(Stdio::null());
        // std sets the gid, clears the supplementary groups (when started
        // as root) and sets the uid in the child before exec. Skipped when
        // already that user (tests, a user running collect by hand).
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != user.uid {
            cmd.gid(user.gid).uid(user.uid);
        }
        let out = cmd.output().map_err(|source| NotifyError::Spawn {
            program: self.busctl.display().to_string(),
            source,
        })?;
        if !out.status.success() {
            return Err(NotifyError::Desktop {
                user: user.name.clone(),
                uid: user.uid,
                message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            });
        }
        // busctl prints the reply as `u 42`.
        let reply = String::from_utf8_lossy(&out.stdout);
        Ok(reply
            .trim()
            .strip_prefix("u ")
            .and_then(|s| s.parse().ok())
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_values() {
        let t = "# comment\nNAME=deck\nRUNTIME=/run/user/1000\nDISPLAY=\n";
        assert_eq!(state_value(t, "NAME"), Some("deck"));
        assert_eq!(state_value(t, "DISPLAY"), None);
        assert_eq!(state_value(t, "NAM"), None);
    }

    #[test]
    fn session_ids_cannot_escape_the_sessions_dir() {
        assert!(!session_is_graphical(Path::new("/run"), "../users/0"));
        assert!(!session_is_graphical(Path::new("/run"), ".."));
    }

    #[test]
    fn args_carry_hints_and_escaped_body() {
        let n = Notification {
            app_name: "panicdump".into(),
            icon: "dialog-warning".into(),
            summary: "Kernel crash".into(),
            body: "a <b> & c".into(),
            urgency: Urgency::Critical,
            hints: vec![("x-panicdump-record".into(), "r1".into())],
        };
        let a = n.busctl_args();
        assert_eq!(a[4], "susssasa{sv}i");
        assert_eq!(a[9], "a &lt;b&gt; &amp; c");
        assert_eq!(
            &a[10..],
            [
                "0",
                "2",
                "urgency",
                "y",
                "2",
                "x-panicdump-record",
                "s",
                "r1",
                "-1"
            ]
        );
    }

    #[test]
    fn no_logind_means_no_users() {
        assert_eq!(graphical_users(Path::new("/nonexistent")).unwrap(), vec![]);
    }
}
