//! The panicdump crash server: `panicdump serve`.
//!
//! Clients upload the report bundles `panicdump report` writes
//! (`POST /api/v1/reports`); the server validates them strictly
//! ([`ingest`]), names the crash again from the log with the same `oops`
//! code as the client, stores the bundle ([`blobs`]: a directory or
//! S3-compatible storage) and a report row ([`store`]: SQLite or
//! PostgreSQL), and counts it once per (machine, record) in the bucket of
//! its signature. The JSON API ([`api`], described by [`openapi`] and
//! `docs/server-api.md`) serves the dashboard ([`dashboard`]) and scripts.
//! [`admin`] has token management, retention and export.

pub mod admin;
pub mod api;
pub mod blobs;
pub mod config;
pub mod dashboard;
pub mod drm;
pub mod error;
pub use crashdb::upload as ingest;
pub mod openapi;
pub mod ratelimit;
mod serve;
pub mod store;

pub use api::AppState;
pub use blobs::Blobs;
pub use config::Config;
pub use error::{Error, Result};
pub use serve::{block_on, run, serve, serve_until_signal, Running};
pub use store::Store;

/// The whole application: API, drm_panic endpoint and dashboard.
pub fn router(state: AppState) -> axum::Router {
    let api = api::routes().with_state(state);
    dashboard::routes().merge(api)
}

/// Open the database and the blob store of `config`.
pub async fn open(config: Config) -> Result<AppState> {
    let store = Store::open(&config.db).await?;
    let blobs = Blobs::open(&config.blobs)?;
    Ok(AppState {
        store,
        blobs,
        config: std::sync::Arc::new(config),
        drm_limiter: Default::default(),
        token_limiter: Default::default(),
    })
}
