//! Shared test harness: a real server on loopback over SQLite or a private
//! PostgreSQL cluster, real bundles, a raw HTTP client.

#![allow(dead_code)]

pub mod bundles;
pub mod http;
pub mod load;
pub mod pg;

use std::path::PathBuf;

use server::{Config, Running, Store};

pub use http::Answer;

/// Run a future on a small runtime of its own.
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// The backends to test: SQLite always, PostgreSQL when it can run.
pub fn backends() -> Vec<&'static str> {
    let mut v = vec!["sqlite"];
    if pg::cluster().is_some() {
        v.push("postgres");
    }
    v
}

pub struct Env {
    pub backend: &'static str,
    pub server: Option<Running>,
    pub dir: tempfile::TempDir,
    pub db: String,
    pub blobs: PathBuf,
    pub token: String,
    pub config: Config,
}

pub fn start(backend: &'static str, tweak: impl FnOnce(&mut Config)) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let db = match backend {
        "sqlite" => format!("sqlite://{}", dir.path().join("db.sqlite").display()),
        _ => pg::cluster().expect("postgres").new_database(),
    };
    let blobs = dir.path().join("blobs");
    let mut config = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        db: db.clone(),
        blobs: blobs.display().to_string(),
        ..Config::default()
    };
    tweak(&mut config);
    let token = block_on(async {
        let store = Store::open(&db).await.expect("open store");
        let t = server::admin::add_token(&store, "test-client")
            .await
            .unwrap();
        store.close().await;
        t
    });
    let server = server::run(config.clone()).expect("server starts");
    Env {
        backend,
        server: Some(server),
        dir,
        db,
        blobs,
        token,
        config,
    }
}

impl Env {
    pub fn addr(&self) -> std::net::SocketAddr {
        self.server.as_ref().unwrap().addr
    }

    pub fn post_bundle(&self, machine: &str, gz: &[u8]) -> Answer {
        let auth = format!("Bearer {}", self.token);
        http::request(
            self.addr(),
            "POST",
            "/api/v1/reports",
            &[
                ("Authorization", &auth),
                ("Content-Type", "application/gzip"),
                ("X-Panicdump-Machine", machine),
            ],
            gz,
        )
        .expect("request")
    }

    pub fn get(&self, path: &str) -> Answer {
        http::request(self.addr(), "GET", path, &[], b"").expect("request")
    }

    /// Reports stored, straight from the database.
    pub fn report_count(&self) -> i64 {
        block_on(async {
            let s = Store::open(&self.db).await.unwrap();
            let n = s.report_count().await.unwrap();
            s.close().await;
            n
        })
    }

    /// Files in the blob directory (temporary ones included: none may be
    /// left behind).
    pub fn blob_files(&self) -> Vec<String> {
        match std::fs::read_dir(&self.blobs) {
            Ok(rd) => rd
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Nothing stored: no report row, no blob file.
    pub fn assert_empty(&self, what: &str) {
        assert_eq!(
            self.report_count(),
            0,
            "{}: {what}: a report was stored",
            self.backend
        );
        assert!(
            self.blob_files().is_empty(),
            "{}: {what}: blob files left: {:?}",
            self.backend,
            self.blob_files()
        );
    }
}
