//! One upload: `POST /api/v1/reports` with the bundle, sorted into
//! accepted, retry later, or failed for good (docs/server-api.md).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::settings::Settings;

/// What the server answered to an accepted upload (201 new, 200 duplicate).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accepted {
    /// HTTP status (201 or 200).
    pub status: u16,
    /// The server's report id.
    pub report_id: String,
    /// The bucket the report landed in.
    pub bucket_id: String,
    /// The server already had this record from this machine.
    #[serde(default)]
    pub duplicate: bool,
    /// The server's title of the crash.
    #[serde(default)]
    pub title: Option<String>,
}

/// The result of one upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upload {
    /// Stored (or already stored) by the server.
    Accepted(Accepted),
    /// Worth retrying: network error, timeout, 408, 429, 5xx.
    Retry {
        /// HTTP status, if the server answered.
        status: Option<u16>,
        /// What went wrong (the server's message when it gave one).
        message: String,
        /// The server's `Retry-After`, in seconds.
        retry_after: Option<u64>,
    },
    /// Retrying the same upload cannot help: other 4xx, redirects, or an
    /// answer that is not the panicdump API.
    Failed {
        /// HTTP status.
        status: u16,
        /// The server's message, kept for the administrator.
        message: String,
    },
}

/// The request of one upload.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// The endpoint (`Settings::reports_url`).
    pub url: &'a str,
    /// The client token.
    pub token: &'a str,
    /// The hashed machine id.
    pub machine: &'a str,
    /// The record id (`Idempotency-Key`).
    pub record: &'a str,
    /// The `.tar.gz` bundle.
    pub body: &'a [u8],
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The server's `{"error": {...}}` message, or the start of the body.
fn server_message(status: u16, body: &str) -> String {
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) if !e.error.message.is_empty() => {
            if e.error.code.is_empty() {
                format!("HTTP {status}: {}", e.error.message)
            } else {
                format!("HTTP {status} {}: {}", e.error.code, e.error.message)
            }
        }
        _ => {
            let t: String = body.trim().chars().take(200).collect();
            if t.is_empty() {
                format!("HTTP {status}")
            } else {
                format!("HTTP {status}: {t}")
            }
        }
    }
}

/// Sort an answer (status, `Retry-After`, body) into an [`Upload`].
pub fn classify(status: u16, retry_after: Option<&str>, body: &str) -> Upload {
    match status {
        200 | 201 => match serde_json::from_str::<Accepted>(&{
            // `status` is ours, not the server's: add it before parsing.
            let mut v: serde_json::Value =
                serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("status".into(), status.into());
            }
            v.to_string()
        }) {
            Ok(a) => Upload::Accepted(a),
            Err(_) => Upload::Failed {
                status,
                message: format!(
                    "the server answered {status} but not with a panicdump report (is the URL a panicdump server?): {}",
                    body.trim().chars().take(200).collect::<String>()
                ),
            },
        },
        408 | 429 | 500..=599 => Upload::Retry {
            status: Some(status),
            message: server_message(status, body),
            retry_after: retry_after.and_then(|v| v.trim().parse().ok()),
        },
        300..=399 => Upload::Failed {
            status,
            message: format!(
                "HTTP {status}: the server redirects; set the URL to the server's final address"
            ),
        },
        _ => Upload::Failed {
            status,
            message: server_message(status, body),
        },
    }
}

/// Send one bundle.
pub fn upload(settings: &Settings, req: Request<'_>) -> Upload {
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(settings.connect_timeout())
        .timeout(settings.timeout())
        .redirects(0)
        .user_agent(concat!("panicdump/", env!("CARGO_PKG_VERSION")))
        .build();
    let res = agent
        .post(req.url)
        .set("Authorization", &format!("Bearer {}", req.token))
        .set("Content-Type", "application/gzip")
        .set("X-Panicdump-Machine", req.machine)
        .set("Idempotency-Key", req.record)
        .send_bytes(req.body);
    let resp = match res {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(ureq::Error::Transport(t)) => {
            return Upload::Retry {
                status: None,
                message: format!("{} unreachable: {t}", req.url),
                retry_after: None,
            }
        }
    };
    let status = resp.status();
    let retry_after = resp.header("Retry-After").map(str::to_string);
    match resp.into_string() {
        Ok(body) => classify(status, retry_after.as_deref(), &body),
        // The answer was cut off: the server may or may not have stored the
        // report; retrying is safe because it deduplicates.
        Err(e) => Upload::Retry {
            status: Some(status),
            message: format!("reading the answer of {}: {e}", req.url),
            retry_after: None,
        },
    }
}

/// Longest `Retry-After` honoured, so a confused server cannot park the
/// queue for years.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(7 * 86_400);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepted_and_duplicate() {
        let b = r#"{"report_id":"r1","bucket_id":"b1","duplicate":false,"title":"t","kind":"k","signature_hash":"s"}"#;
        match classify(201, None, b) {
            Upload::Accepted(a) => {
                assert_eq!(
                    (a.status, a.report_id.as_str(), a.duplicate),
                    (201, "r1", false)
                )
            }
            o => panic!("{o:?}"),
        }
        let b = r#"{"report_id":"r1","bucket_id":"b1","duplicate":true}"#;
        assert!(matches!(classify(200, None, b), Upload::Accepted(a) if a.duplicate));
    }

    #[test]
    fn errors_keep_the_server_message() {
        let b = r#"{"error":{"code":"unauthorized","message":"unknown token"}}"#;
        assert_eq!(
            classify(401, None, b),
            Upload::Failed {
                status: 401,
                message: "HTTP 401 unauthorized: unknown token".into()
            }
        );
        assert!(matches!(
            classify(429, Some("120"), b),
            Upload::Retry {
                status: Some(429),
                retry_after: Some(120),
                ..
            }
        ));
        assert!(matches!(
            classify(503, None, "<html>"),
            Upload::Retry { .. }
        ));
        assert!(matches!(
            classify(302, None, ""),
            Upload::Failed { status: 302, .. }
        ));
        assert!(matches!(
            classify(200, None, "<html>hello</html>"),
            Upload::Failed { status: 200, .. }
        ));
    }
}
