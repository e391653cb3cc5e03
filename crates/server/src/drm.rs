//! Crash logs from the kernel's panic-screen QR code (drm_panic, Linux
//! 6.12+): the URL a phone opens is decoded by the `drmpanic` crate and
//! filed like any other report, with source `drm_panic`.
//!
//! A QR code names no machine, so every drm_panic report counts under one
//! pseudo-machine; the record id is a hash of the log, so the same screen
//! scanned twice is one report.

use axum::body::Body;
use axum::extract::{OriginalUri, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::{Extension, Json};

use crate::api::{self, ApiError, AppState, Peer};
use crate::ingest;
use crate::store::NewReport;

/// The pseudo-machine of drm_panic reports.
pub fn drm_machine() -> String {
    api::sha256_hex(b"panicdump-machine:drm_panic")
}

fn decode(url: &str) -> Result<drmpanic::Decoded, ApiError> {
    drmpanic::decode_url(url).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_drm_panic_url",
            format!("not a drm_panic URL: {e}"),
        )
    })
}

async fn file(
    state: &AppState,
    d: drmpanic::Decoded,
    token: Option<String>,
) -> Result<(StatusCode, api::IngestAnswer), ApiError> {
    let log = d.log;
    let (title, kind, signature, signature_hash, report_line, release_seen) =
        tokio::task::spawn_blocking({
            let log = log.clone();
            move || ingest::name_crash(&log)
        })
        .await
        .map_err(|e| {
            ApiError::from(crate::error::Error::Config(format!(
                "analysis task failed: {e}"
            )))
        })?;
    let machine = drm_machine();
    let record = format!("drm-{}", &api::sha256_hex(&log)[..24]);
    let report = NewReport {
        id: api::report_id(&machine, &record),
        bucket_id: signature_hash,
        signature,
        machine,
        record_id: record,
        received_at: api::now(),
        crash_time: None,
        release: d.version.filter(|v| !v.is_empty()).or(release_seen),
        source: "drm_panic".into(),
        title,
        kind,
        client_title: None,
        client_kind: None,
        client_signature_hash: None,
        token_name: token,
        log: String::from_utf8_lossy(&log).into_owned(),
        report_line,
        blob_key: None,
        blob_bytes: None,
    };
    api::store_report(state, report, None).await
}

fn escape(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '&' => o.push_str("&amp;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

fn page(status: StatusCode, title: &str, body: &str) -> Response {
    (
        status,
        // The dashboard's policy: the only script is the server's own file.
        [(header::CONTENT_SECURITY_POLICY, crate::dashboard::CSP)],
        Html(format!(
            "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{t}</title></head><body><h1>{t}</h1>{body}</body></html>\n",
            t = escape(title)
        )),
    )
        .into_response()
}

/// `GET /drm-panic?a=..&v=..&z=..`: the URL a phone opens from the QR code.
/// No token (the phone has none); rate-limited per client address.
pub async fn get_drm_panic(
    State(state): State<AppState>,
    Extension(peer): Extension<Peer>,
    OriginalUri(uri): OriginalUri,
) -> Response {
    let query = uri.query().unwrap_or("");
    if query.is_empty() {
        // Either someone opened the bare address, or the kernel's URL
        // prefix ended in '#' and the data sits in the fragment, which the
        // browser kept to itself. The script moves it into the query.
        return page(
            StatusCode::OK,
            "Crash reports from panic screens",
            "<p id=\"forwarding\">This address files the kernel log that a crashed \
             Linux machine shows as a QR code (drm_panic). The link you opened \
             holds no crash data.</p>\
             <noscript><p>If the link had a '#' before '?a=', replace the '#' with \
             nothing and open it again.</p></noscript>\
             <script src=\"/static/drm-forward.js\"></script>",
        );
    }
    if !api::drm_allowed(&state, peer.0.ip()) {
        return page(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many reports",
            "<p>This address sent too many crash reports this minute; try again later.</p>",
        );
    }
    let decoded = match decode(query) {
        Ok(d) => d,
        Err(e) => {
            return page(
                e.status,
                "Not a readable crash QR code",
                &format!("<p>{}</p>", escape(&e.message)),
            )
        }
    };
    match file(&state, decoded, None).await {
        Ok((status, a)) => page(
            status,
            &a.title,
            &format!(
                "<p>{} Kind: {}.</p><p><a href=\"/buckets/{}\">All reports of this crash</a> \
                 &middot; <a href=\"/reports/{}\">this report</a></p>",
                if a.duplicate {
                    "This crash log was already filed."
                } else {
                    "The crash log was filed."
                },
                escape(&a.kind),
                escape(&a.bucket_id),
                escape(&a.report_id)
            ),
        ),
        Err(e) => page(
            e.status,
            "The report could not be filed",
            &format!("<p>{}</p>", escape(&e.message)),
        ),
    }
}

/// `POST /api/v1/drm-panic` with the URL as a `text/plain` body (token
/// required).
pub async fn post_drm_panic(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let token = api::authenticate(&state, &headers).await?;
    api::admit_token(&state, &token)?;
    let (ctype, mime) = api::media_type(&headers);
    if mime != "text/plain" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type must be text/plain, not {ctype:?}"),
        ));
    }
    let body = api::read_body(&state, &headers, body).await?;
    let text = std::str::from_utf8(&body).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "bad_drm_panic_url",
            "the body is not UTF-8",
        )
    })?;
    let decoded = decode(text.trim())?;
    let (status, a) = file(&state, decoded, Some(token)).await?;
    Ok((status, Json(a)).into_response())
}
