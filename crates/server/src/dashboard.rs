//! The dashboard: three HTML pages and their static assets, embedded in the
//! binary (no front-end build step, nothing fetched from elsewhere).
//!
//! The pages are static shells; a little JavaScript (`assets/*.js`, ES
//! modules) fills them from the read-only JSON API, so the dashboard shows
//! exactly what the API answers and needs no server-side templates. Every
//! string from the API reaches the page through `textContent`, and the
//! Content-Security-Policy below forbids inline scripts, so a crash title
//! can never run code in the browser.

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
struct Asset {
    /// Name under `/static/` (or the page's name).
    name: &'static str,
    /// `Content-Type` header value.
    content_type: &'static str,
    /// The bytes.
    body: &'static [u8],
    /// Strong validator, computed at compile time from the bytes.
    etag: &'static str,
}

/// FNV-1a 64 at compile time: a content hash for ETags, so browsers
/// revalidate cheaply and never keep an asset of an older server.
const fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        h ^= bytes[i] as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    h
}

/// `"<16 hex digits>"`, quotes included, as an ETag is written.
const fn etag_of(bytes: &[u8]) -> [u8; 18] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let h = fnv1a(bytes);
    let mut out = [b'"'; 18];
    let mut i = 0;
    while i < 16 {
        out[1 + i] = HEX[((h >> (60 - 4 * i)) & 0xf) as usize];
        i += 1;
    }
    out
}

/// Declare an embedded asset with its compile-time ETag.
macro_rules! asset {
    ($name:literal, $ct:expr) => {{
        const BODY: &[u8] = include_bytes!(concat!("../assets/", $name));
        const TAG: [u8; 18] = etag_of(BODY);
        Asset {
            name: $name,
            content_type: $ct,
            body: BODY,
            etag: match std::str::from_utf8(&TAG) {
                Ok(s) => s,
                Err(_) => panic!("etag is ASCII"),
            },
        }
    }};
}

const JS: &str = "text/javascript; charset=utf-8";
const HTML: &str = "text/html; charset=utf-8";

static TOP_PAGE: Asset = asset!("index.html", HTML);
static BUCKET_PAGE: Asset = asset!("bucket.html", HTML);
static REPORT_PAGE: Asset = asset!("report.html", HTML);

/// Everything under `/static/`.
static STATIC: &[Asset] = &[
    asset!("dashboard.css", "text/css; charset=utf-8"),
    asset!("common.js", JS),
    asset!("top.js", JS),
    asset!("bucket.js", JS),
    asset!("report.js", JS),
    asset!("favicon.svg", "image/svg+xml"),
    asset!("drm-forward.js", JS),
];

/// Scripts and styles only from this server, no inline code, no framing:
/// API data drawn into the page cannot turn into markup or script.
pub(crate) const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'self'; frame-ancestors 'none'";

/// Routes of the dashboard, merged into the server's router: `/`,
/// `/buckets/{id}`, `/reports/{id}` and `/static/{file}`.
pub fn routes() -> Router {
    Router::new()
        .route("/", get(|h: HeaderMap| async move { serve(&TOP_PAGE, &h) }))
        .route(
            "/buckets/{id}",
            get(|h: HeaderMap| async move { serve(&BUCKET_PAGE, &h) }),
        )
        .route(
            "/reports/{id}",
            get(|h: HeaderMap| async move { serve(&REPORT_PAGE, &h) }),
        )
        .route("/static/{*file}", get(static_file))
}

async fn static_file(Path(file): Path<String>, headers: HeaderMap) -> Response {
    match STATIC.iter().find(|a| a.name == file) {
        Some(asset) => serve(asset, &headers),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such dashboard asset\n",
        )
            .into_response(),
    }
}

/// Answer with `asset`, or 304 when the browser's copy is current.
fn serve(asset: &'static Asset, request: &HeaderMap) -> Response {
    let fresh = request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == asset.etag || t.trim() == "*");
    let status = if fresh {
        StatusCode::NOT_MODIFIED
    } else {
        StatusCode::OK
    };
    let mut resp = if fresh {
        status.into_response()
    } else {
        (status, asset.body).into_response()
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    h.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    // Revalidate every time: a 304 is cheap and an upgraded server's pages
    // never run with stale scripts.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if asset.content_type == HTML {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_asset_the_pages_name_is_served() {
        for page in [&TOP_PAGE, &BUCKET_PAGE, &REPORT_PAGE] {
            let html = std::str::from_utf8(page.body).unwrap();
            for part in html.split("/static/").skip(1) {
                let name = part.split('"').next().unwrap();
                assert!(
                    STATIC.iter().any(|a| a.name == name),
                    "{} names /static/{name}, which is not embedded",
                    page.name
                );
            }
        }
    }

    #[test]
    fn every_module_import_is_served() {
        for a in STATIC.iter().filter(|a| a.content_type == JS) {
            let js = std::str::from_utf8(a.body).unwrap();
            for part in js.split("from \"./").skip(1) {
                let name = part.split('"').next().unwrap();
                assert!(
                    STATIC.iter().any(|s| s.name == name),
                    "{} imports ./{name}, which is not embedded",
                    a.name
                );
            }
        }
    }

    #[test]
    fn etags_differ_by_content_and_are_quoted() {
        assert_eq!(TOP_PAGE.etag.len(), 18);
        assert!(TOP_PAGE.etag.starts_with('"') && TOP_PAGE.etag.ends_with('"'));
        assert_ne!(TOP_PAGE.etag, BUCKET_PAGE.etag);
    }

    #[test]
    fn if_none_match_gives_304_without_body() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static(STATIC[0].etag),
        );
        let resp = serve(&STATIC[0], &h);
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        let resp = serve(&STATIC[0], &HeaderMap::new());
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()[header::CONTENT_TYPE],
            "text/css; charset=utf-8"
        );
    }
}
