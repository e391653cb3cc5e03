//! [`Settings`]: where and how reports are sent, as plain serde data.
//!
//! The config file's `[submit]` section maps onto this struct key for key;
//! every field has a default, so an empty section is valid (and sends
//! nothing: there is no URL and no consent).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Default daily report limit.
pub const DEFAULT_MAX_REPORTS_PER_DAY: u32 = 32;
/// Default daily byte limit (compressed bundles): 24 MiB.
pub const DEFAULT_MAX_BYTES_PER_DAY: u64 = 24 << 20;
/// Default machine id file.
pub const DEFAULT_MACHINE_ID_PATH: &str = "/etc/machine-id";

/// Settings of the submit client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Base URL of the crash server (`https://crashes.example.org`); reports
    /// go to `<url>/api/v1/reports`. Default: none (nothing is sent).
    pub url: Option<String>,
    /// The client token (`panicdump server token add`), sent as
    /// `Authorization: Bearer`. Default: none.
    pub token: Option<String>,
    /// File whose first line is the client token, used when `token` is
    /// unset (keeps the token out of a world-readable config). Default: none.
    pub token_file: Option<PathBuf>,
    /// The administrator agreed to send crash reports off this machine.
    /// Default: `false`; without it nothing is queued or sent.
    pub consent: bool,
    /// Send newly collected crashes automatically after `collect`.
    /// Default: `false` (only `panicdump submit` sends).
    pub auto: bool,
    /// At most this many reports sent in any 24 hours. Default: 32.
    pub max_reports_per_day: u32,
    /// At most this many bundle bytes sent in any 24 hours. Default: 24 MiB.
    pub max_bytes_per_day: u64,
    /// Connection timeout in seconds. Default: 10.
    pub connect_timeout_secs: u64,
    /// Timeout of a whole upload (connect, send, answer) in seconds.
    /// Default: 120.
    pub timeout_secs: u64,
    /// First retry delay after a failed attempt, in seconds; it doubles per
    /// attempt. Default: 60.
    pub backoff_base_secs: u64,
    /// Longest retry delay in seconds. Default: 21600 (6 hours).
    pub backoff_max_secs: u64,
    /// File holding the machine id that is hashed into
    /// `X-Panicdump-Machine`. Default: `/etc/machine-id`.
    pub machine_id_path: PathBuf,
    /// Also redact kernel pointers in the bundles. Default: `false`
    /// (addresses, serials, host and user names are always redacted).
    pub redact_pointers: bool,
    /// Size cap of a bundle's contents in bytes. Default: 8 MiB
    /// (`crashdb`'s default; the server refuses more than 16 MiB).
    pub max_bundle_bytes: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            url: None,
            token: None,
            token_file: None,
            consent: false,
            auto: false,
            max_reports_per_day: DEFAULT_MAX_REPORTS_PER_DAY,
            max_bytes_per_day: DEFAULT_MAX_BYTES_PER_DAY,
            connect_timeout_secs: 10,
            timeout_secs: 120,
            backoff_base_secs: 60,
            backoff_max_secs: 6 * 3600,
            machine_id_path: PathBuf::from(DEFAULT_MACHINE_ID_PATH),
            redact_pointers: false,
            max_bundle_bytes: crashdb::bundle::DEFAULT_MAX_BYTES,
        }
    }
}

/// How to consent, for error messages.
pub const CONSENT_HINT: &str = "set `consent = true` in the [submit] section of \
/etc/panicdump/config.toml, or PANICDUMP_SUBMIT_CONSENT=1 in the environment";

impl Settings {
    /// Refuse unless consent is configured.
    pub fn require_consent(&self) -> Result<()> {
        if self.consent {
            Ok(())
        } else {
            Err(Error::NoConsent(format!(
                "no consent is configured; to allow panicdump to send redacted crash reports to {}, {CONSENT_HINT}",
                self.url.as_deref().unwrap_or("a crash server")
            )))
        }
    }

    /// The upload endpoint, checked: `http` or `https` URL.
    pub fn reports_url(&self) -> Result<String> {
        let url = self.url.as_deref().map(str::trim).unwrap_or("");
        if url.is_empty() {
            return Err(Error::Settings(
                "no server URL: set `url` in the [submit] section of /etc/panicdump/config.toml, \
                 PANICDUMP_SUBMIT_URL, or --url"
                    .into(),
            ));
        }
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(Error::Settings(format!(
                "server URL {url:?} must start with http:// or https://"
            )));
        }
        let base = url.trim_end_matches('/');
        if base.ends_with("/api/v1/reports") {
            Ok(base.to_string())
        } else {
            Ok(format!("{base}/api/v1/reports"))
        }
    }

    /// The token (from `token`, else the first line of `token_file`),
    /// checked to be present and a single header-safe word.
    pub fn bearer_token(&self) -> Result<String> {
        let from_file;
        let t = match (self.token.as_deref().map(str::trim), &self.token_file) {
            (Some(t), _) if !t.is_empty() => t,
            (_, Some(f)) => {
                let text = std::fs::read_to_string(f).map_err(|e| {
                    Error::Settings(format!("reading the token file {}: {e}", f.display()))
                })?;
                from_file = text.lines().next().unwrap_or("").trim().to_string();
                if from_file.is_empty() {
                    return Err(Error::Settings(format!(
                        "the token file {} is empty",
                        f.display()
                    )));
                }
                &from_file
            }
            _ => {
                return Err(Error::Settings(
                    "no client token: set `token` or `token_file` in the [submit] section of \
                     /etc/panicdump/config.toml, PANICDUMP_SUBMIT_TOKEN, or --token (the server's \
                     `panicdump server token add` makes one)"
                        .into(),
                ))
            }
        };
        if !t.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::Settings(
                "the client token has spaces or control characters".into(),
            ));
        }
        Ok(t.to_string())
    }

    /// Connection timeout.
    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(self.connect_timeout_secs.max(1))
    }

    /// Whole-upload timeout.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_section_is_defaults() {
        let s: Settings = serde_json::from_str("{}").unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.max_reports_per_day, 32);
        assert_eq!(s.max_bytes_per_day, 24 << 20);
        assert!(s.require_consent().is_err());
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(serde_json::from_str::<Settings>(r#"{"urll": "x"}"#).is_err());
    }

    #[test]
    fn urls() {
        let mut s = Settings {
            url: Some("http://h:1/".into()),
            ..Settings::default()
        };
        assert_eq!(s.reports_url().unwrap(), "http://h:1/api/v1/reports");
        s.url = Some("https://h/api/v1/reports".into());
        assert_eq!(s.reports_url().unwrap(), "https://h/api/v1/reports");
        s.url = Some("ftp://h".into());
        assert!(s.reports_url().is_err());
        s.url = None;
        assert!(s.reports_url().is_err());
    }

    #[test]
    fn token_from_file() {
        let f = std::env::temp_dir().join(format!("submit-token-{}", std::process::id()));
        std::fs::write(&f, "pdt_abc\nrest\n").unwrap();
        let mut s = Settings {
            token_file: Some(f.clone()),
            ..Settings::default()
        };
        assert_eq!(s.bearer_token().unwrap(), "pdt_abc");
        s.token = Some("pdt_inline".into());
        assert_eq!(s.bearer_token().unwrap(), "pdt_inline");
        std::fs::write(&f, "\n").unwrap();
        s.token = None;
        assert!(s.bearer_token().unwrap_err().to_string().contains("empty"));
        std::fs::remove_file(&f).unwrap();
        assert!(s.bearer_token().is_err());
        assert!(Settings::default().bearer_token().is_err());
    }

    #[test]
    fn consent_message_says_how() {
        let e = Settings::default()
            .require_consent()
            .unwrap_err()
            .to_string();
        assert!(e.contains("consent = true"), "{e}");
        assert!(e.contains("PANICDUMP_SUBMIT_CONSENT=1"), "{e}");
    }
}
