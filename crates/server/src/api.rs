//! The JSON API (`/api/v1/...`), per `docs/server-api.md`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::blobs::Blobs;
use crate::config::Config;
use crate::ingest::{self, BundleError};
use crate::ratelimit::MinuteLimiter;
use crate::store::{BucketFilter, Inserted, NewReport, Sort, Store};

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// Bundle storage.
    pub blobs: Blobs,
    /// Settings.
    pub config: Arc<Config>,
    /// drm_panic submissions per client address in the current minute.
    pub drm_limiter: Arc<MinuteLimiter<std::net::IpAddr>>,
    /// Uploads per token name in the current minute.
    pub token_limiter: Arc<MinuteLimiter<String>>,
}

/// An API error: a status and `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code.
    pub code: &'static str,
    /// Human text.
    pub message: String,
    /// Seconds after which a refused request may be retried (429).
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// A new error.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }

    fn bad(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no such {what}"),
        )
    }
}

impl From<crate::error::Error> for ApiError {
    fn from(e: crate::error::Error) -> Self {
        // The detail goes to the server's log, not to the client.
        eprintln!("panicdump serve: internal error: {e}");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal error; see the server's log",
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        crate::error::Error::from(e).into()
    }
}

impl From<BundleError> for ApiError {
    fn from(e: BundleError) -> Self {
        let status = match e {
            BundleError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError::new(status, e.code(), e.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            Json(json!({"error": {"code": self.code, "message": self.message}})),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// The API routes (with state applied by [`crate::router`]).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/reports", post(post_report))
        .route("/api/v1/reports/{id}", get(get_report))
        .route("/api/v1/reports/{id}/bundle", get(get_bundle))
        .route("/api/v1/buckets", get(list_buckets))
        .route("/api/v1/buckets/{id}", get(get_bucket))
        .route("/api/v1/stats/series", get(stats_series))
        .route("/api/v1/facets", get(facets))
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/drm-panic", post(crate::drm::post_drm_panic))
        .route("/drm-panic", get(crate::drm::get_drm_panic))
        .route("/healthz", get(|| async { "ok" }))
        .fallback(api_fallback)
        .method_not_allowed_fallback(|| async {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "this path does not take that method",
            )
        })
}

async fn api_fallback(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::not_found("API endpoint").into_response()
    } else {
        (StatusCode::NOT_FOUND, "not found\n").into_response()
    }
}

async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

/// Now, Unix seconds.
pub fn now() -> i64 {
    crashdb::time::unix(std::time::SystemTime::now())
}

/// SHA-256, hex.
pub fn sha256_hex(data: &[u8]) -> String {
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// The request's `Content-Type` as sent (`""` when absent or not ASCII),
/// and its media type without parameters, lower-cased, to compare.
pub fn media_type(headers: &HeaderMap) -> (&str, String) {
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = ctype
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    (ctype, mime)
}

/// The name of the token in `Authorization: Bearer`, or a 401.
pub async fn authenticate(state: &AppState, headers: &HeaderMap) -> Result<String, ApiError> {
    let unauthorized =
        |m: &str| ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", m.to_string());
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| unauthorized("missing Authorization: Bearer <token>"))?;
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 256)
        .ok_or_else(|| unauthorized("Authorization is not `Bearer <token>`"))?;
    state
        .store
        .token_by_hash(&sha256_hex(token.as_bytes()))
        .await?
        .ok_or_else(|| unauthorized("unknown or revoked token"))
}

/// Read a request body under the upload cap and the body timeout.
pub async fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<bytes::Bytes, ApiError> {
    let cap = state.config.max_upload;
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "too_large",
            format!("uploads are capped at {cap} bytes"),
        )
    };
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if len > cap {
            return Err(too_large());
        }
    }
    let limit = usize::try_from(cap).unwrap_or(usize::MAX);
    match tokio::time::timeout(state.config.body_timeout, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "timeout",
            "the request body did not arrive in time",
        )),
        Ok(Err(e)) => {
            // to_bytes reports the cap as a LengthLimitError in its chain.
            let mut src: Option<&(dyn std::error::Error + 'static)> = Some(&e);
            while let Some(s) = src {
                if s.is::<http_body_util::LengthLimitError>() {
                    return Err(too_large());
                }
                src = s.source();
            }
            Err(ApiError::bad(
                "incomplete_body",
                format!("reading the body failed: {e}"),
            ))
        }
        Ok(Ok(b)) => Ok(b),
    }
}

/// Answer of an ingest.
#[derive(Debug, serde::Serialize)]
pub struct IngestAnswer {
    /// Report id.
    pub report_id: String,
    /// Bucket id.
    pub bucket_id: String,
    /// Whether this machine had already sent this record.
    pub duplicate: bool,
    /// The server's title.
    pub title: String,
    /// The server's kind.
    pub kind: String,
    /// The server's signature hash.
    pub signature_hash: String,
}

/// Report id of (machine, record): a retry has the same id.
pub fn report_id(machine: &str, record: &str) -> String {
    sha256_hex(format!("{machine}\0{record}").as_bytes())[..20].to_string()
}

/// Store a report: the blob first (durable), then the rows; a duplicate
/// changes nothing.
pub async fn store_report(
    state: &AppState,
    mut report: NewReport,
    bundle: Option<bytes::Bytes>,
) -> Result<(StatusCode, IngestAnswer), ApiError> {
    let answer = |dup: bool, r: &NewReport| IngestAnswer {
        report_id: r.id.clone(),
        bucket_id: r.bucket_id.clone(),
        duplicate: dup,
        title: r.title.clone(),
        kind: r.kind.clone(),
        signature_hash: r.bucket_id.clone(),
    };
    if state
        .store
        .find_report(&report.machine, &report.record_id)
        .await?
        .is_some()
    {
        return Ok((StatusCode::OK, answer(true, &report)));
    }
    if let Some(data) = bundle {
        let key = format!("{}-{}.tar.gz", report.id, &sha256_hex(&data)[..12]);
        report.blob_bytes = Some(data.len() as i64);
        state.blobs.put(&key, data).await?;
        report.blob_key = Some(key);
    }
    match state.store.insert_report(&report).await? {
        Inserted::New => Ok((StatusCode::CREATED, answer(false, &report))),
        Inserted::Duplicate { blob_key } => {
            // A concurrent upload of the same record won; drop our copy
            // unless it is the very file the stored row names.
            if let Some(ours) = &report.blob_key {
                if blob_key.as_deref() != Some(ours.as_str()) {
                    state.blobs.delete(ours).await?;
                }
            }
            Ok((StatusCode::OK, answer(true, &report)))
        }
    }
}

async fn post_report(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let token = authenticate(&state, &headers).await?;
    admit_token(&state, &token)?;
    let (ctype, mime) = media_type(&headers);
    if mime != "application/gzip" && mime != "application/x-gzip" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("Content-Type must be application/gzip, not {ctype:?}"),
        ));
    }
    let machine = headers
        .get("x-panicdump-machine")
        .and_then(|v| v.to_str().ok())
        .map(str::to_ascii_lowercase)
        .filter(|m| m.len() == 64 && m.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            ApiError::bad(
                "bad_machine",
                "X-Panicdump-Machine must be 64 hex digits (SHA-256 of the machine id)",
            )
        })?;
    let data = read_body(&state, &headers, body).await?;
    let max_unpacked = state.config.max_unpacked;
    let data2 = data.clone();
    let parsed = tokio::task::spawn_blocking(move || ingest::parse(&data2, max_unpacked))
        .await
        .map_err(|e| {
            ApiError::from(crate::error::Error::Config(format!(
                "parser task failed: {e}"
            )))
        })??;
    let m = &parsed.manifest;
    let report = NewReport {
        id: report_id(&machine, &m.record),
        bucket_id: parsed.signature_hash.clone(),
        signature: parsed.signature.clone(),
        machine,
        record_id: m.record.clone(),
        received_at: now(),
        crash_time: parsed.crash_time,
        release: parsed.release.clone(),
        source: "bundle".into(),
        title: parsed.title.clone(),
        kind: parsed.kind.clone(),
        client_title: m.title.clone(),
        client_kind: m.kind.clone(),
        client_signature_hash: m.signature_hash.clone(),
        token_name: Some(token),
        log: parsed.log,
        report_line: parsed.report_line,
        blob_key: None,
        blob_bytes: None,
    };
    let (status, answer) = store_report(&state, report, Some(data)).await?;
    Ok((status, Json(answer)).into_response())
}

/// Query parameters arrive as strings so a bad value is our 400 with our
/// error body, not the extractor's.
type Params = Query<HashMap<String, String>>;

fn int_param(p: &HashMap<String, String>, name: &str) -> Result<Option<i64>, ApiError> {
    match p.get(name).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(v) => v
            .parse::<i64>()
            .map(Some)
            .map_err(|_| ApiError::bad("bad_parameter", format!("{name}={v:?} is not an integer"))),
    }
}

fn str_param(p: &HashMap<String, String>, name: &str) -> Option<String> {
    p.get(name)
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

fn bucket_filter(p: &HashMap<String, String>) -> Result<BucketFilter, ApiError> {
    let sort = match str_param(p, "sort") {
        None => Sort::Count,
        Some(s) => Sort::parse(&s).ok_or_else(|| {
            ApiError::bad(
                "bad_parameter",
                format!("sort={s:?}: use count, machines, first_seen or last_seen"),
            )
        })?,
    };
    let ascending = match str_param(p, "order").as_deref() {
        None | Some("desc") => false,
        Some("asc") => true,
        Some(o) => {
            return Err(ApiError::bad(
                "bad_parameter",
                format!("order={o:?}: use asc or desc"),
            ))
        }
    };
    let limit = int_param(p, "limit")?.unwrap_or(50);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad("bad_parameter", "limit must be 1 to 500"));
    }
    let offset = int_param(p, "offset")?.unwrap_or(0);
    if offset < 0 {
        return Err(ApiError::bad(
            "bad_parameter",
            "offset must not be negative",
        ));
    }
    Ok(BucketFilter {
        release: str_param(p, "release"),
        kind: str_param(p, "kind"),
        since: int_param(p, "since")?,
        until: int_param(p, "until")?,
        q: str_param(p, "q"),
        sort,
        ascending,
        limit,
        offset,
    })
}

async fn list_buckets(
    State(state): State<AppState>,
    Query(p): Params,
) -> Result<Json<serde_json::Value>, ApiError> {
    let f = bucket_filter(&p)?;
    let (total, buckets) = state.store.list_buckets(&f).await?;
    Ok(Json(json!({"total": total, "buckets": buckets})))
}

/// Longest series a bucket page shows, in days.
const MAX_SERIES_DAYS: i64 = 366;

async fn get_bucket(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let bucket = state
        .store
        .bucket(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("bucket"))?;
    let last = bucket.last_seen.div_euclid(86_400);
    let first = bucket
        .first_seen
        .div_euclid(86_400)
        .max(last - (MAX_SERIES_DAYS - 1));
    let series = state
        .store
        .series(Some(&id), &BucketFilter::default(), first, last)
        .await?;
    let reports = state.store.bucket_reports(&id, 50).await?;
    // Summaries: the log stays on the report's own page.
    let mut reports = serde_json::to_value(reports).unwrap_or_default();
    if let Some(list) = reports.as_array_mut() {
        for r in list {
            if let Some(o) = r.as_object_mut() {
                o.remove("log");
            }
        }
    }
    Ok(Json(
        json!({"bucket": bucket, "series": series, "reports": reports}),
    ))
}

async fn get_report(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let r = state
        .store
        .report(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    let analysis = r.log.as_deref().map(|l| {
        serde_json::to_value(oops::analyze(l.as_bytes())).unwrap_or(serde_json::Value::Null)
    });
    let mut v = serde_json::to_value(&r)
        .map_err(|e| ApiError::from(crate::error::Error::Config(e.to_string())))?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            "analysis".into(),
            analysis.unwrap_or(serde_json::Value::Null),
        );
    }
    Ok(Json(v))
}

async fn get_bundle(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let r = state
        .store
        .report(&id)
        .await?
        .ok_or_else(|| ApiError::not_found("report"))?;
    let key = r.blob_key.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            "this report has no stored bundle (retention removed it, or it came from drm_panic)",
        )
    })?;
    let data =
        state.blobs.get(&key).await?.ok_or_else(|| {
            ApiError::new(StatusCode::NOT_FOUND, "not_found", "the bundle is gone")
        })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/gzip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"panicdump-{}.tar.gz\"", r.id),
            ),
        ],
        data,
    )
        .into_response())
}

async fn stats_series(
    State(state): State<AppState>,
    Query(p): Params,
) -> Result<Json<serde_json::Value>, ApiError> {
    let days = int_param(&p, "days")?.unwrap_or(30);
    if !(1..=3660).contains(&days) {
        return Err(ApiError::bad("bad_parameter", "days must be 1 to 3660"));
    }
    let f = BucketFilter {
        release: str_param(&p, "release"),
        kind: str_param(&p, "kind"),
        ..BucketFilter::default()
    };
    let today = now().div_euclid(86_400);
    let series = state
        .store
        .series(None, &f, today - days + 1, today)
        .await?;
    Ok(Json(json!({"series": series})))
}

async fn facets(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let (releases, kinds) = state.store.facets().await?;
    Ok(Json(json!({"releases": releases, "kinds": kinds})))
}

/// Whether another drm_panic report from `ip` fits this minute's budget.
pub fn drm_allowed(state: &AppState, ip: std::net::IpAddr) -> bool {
    state
        .drm_limiter
        .admit(ip, state.config.drm_per_minute)
        .is_ok()
}

/// Count an upload of token `name` against its budget: 429 with
/// `Retry-After` when the token already used this minute's uploads, so a
/// leaked token cannot flood the server.
pub fn admit_token(state: &AppState, name: &str) -> Result<(), ApiError> {
    state
        .token_limiter
        .admit(name.to_string(), state.config.token_per_minute)
        .map_err(|secs| ApiError {
            retry_after: Some(secs),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "this token sent {} uploads this minute; retry in {secs} s",
                    state.config.token_per_minute
                ),
            )
        })
}

/// The client address the connection loop recorded.
pub type Peer = ConnectInfo<SocketAddr>;
