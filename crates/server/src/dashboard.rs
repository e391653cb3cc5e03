//! The dashboard's HTML pages and assets (owned by the dashboard work; this
//! stub serves nothing until it lands).

/// Routes of the dashboard, merged into the server's router.
pub fn routes() -> axum::Router {
    axum::Router::new()
}
