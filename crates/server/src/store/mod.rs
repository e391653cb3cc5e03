//! The database: SQLite (one file, the default) or PostgreSQL, through
//! sqlx's `Any` driver with one schema and one set of queries written in the
//! SQL both understand (`$N` parameters, `ON CONFLICT`, `BIGINT`, `TEXT`).

mod queries;

pub use queries::{day_string, BucketFilter, BucketRow, DayCount, ReportRow, Sort};

use std::sync::Arc;

use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::Row;
use tokio::sync::Mutex;

use crate::error::{Error, Result};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Which database is behind the pool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// A report to insert.
#[derive(Debug, Clone)]
pub struct NewReport {
    /// Report id (derived from machine and record, so a retry has the same one).
    pub id: String,
    /// Bucket id (the server's signature hash).
    pub bucket_id: String,
    /// Full signature of the bucket.
    pub signature: String,
    /// Hashed machine id (64 hex).
    pub machine: String,
    /// The client's record id.
    pub record_id: String,
    /// Unix seconds.
    pub received_at: i64,
    /// Unix seconds, when known.
    pub crash_time: Option<i64>,
    /// Kernel release.
    pub release: Option<String>,
    /// `bundle` or `drm_panic`.
    pub source: String,
    /// The server's title.
    pub title: String,
    /// The server's kind.
    pub kind: String,
    /// The client's title.
    pub client_title: Option<String>,
    /// The client's kind.
    pub client_kind: Option<String>,
    /// The client's signature hash.
    pub client_signature_hash: Option<String>,
    /// Name of the token that sent it.
    pub token_name: Option<String>,
    /// The log text.
    pub log: String,
    /// 1-based report line in `log`.
    pub report_line: Option<i64>,
    /// Blob key of the stored bundle.
    pub blob_key: Option<String>,
    /// Size of the stored bundle.
    pub blob_bytes: Option<i64>,
}

/// What happened to an insert.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inserted {
    /// A new report.
    New,
    /// The report existed; its blob key as stored.
    Duplicate {
        /// The stored report's blob key.
        blob_key: Option<String>,
    },
}

/// A token as listed.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenInfo {
    /// Its name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds, when revoked.
    pub revoked_at: Option<i64>,
}

/// The database handle.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    /// SQLite has one writer at a time and answers `SQLITE_BUSY` at once
    /// when two deferred transactions both try to write, so writes queue
    /// here instead.
    write_lock: Arc<Mutex<()>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Store({:?})", self.backend)
    }
}

impl Store {
    /// Connect to `sqlite://PATH` (created when missing) or
    /// `postgres://...`, and bring the schema up to date.
    pub async fn open(url: &str) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let (backend, url) = if let Some(path) = url.strip_prefix("sqlite://") {
            let file = path.split('?').next().unwrap_or(path);
            if file.is_empty() {
                return Err(Error::Config(format!("no file in {url:?}")));
            }
            if let Some(dir) = std::path::Path::new(file).parent() {
                if !dir.as_os_str().is_empty() {
                    std::fs::create_dir_all(dir).map_err(|source| Error::Io {
                        op: "creating",
                        path: dir.to_path_buf(),
                        source,
                    })?;
                }
            }
            let url = if path.contains("mode=") {
                url.to_string()
            } else if path.contains('?') {
                format!("{url}&mode=rwc")
            } else {
                format!("{url}?mode=rwc")
            };
            (Backend::Sqlite, url)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            (Backend::Postgres, url.to_string())
        } else {
            return Err(Error::Config(format!(
                "database URL {url:?} is neither sqlite://PATH nor postgres://..."
            )));
        };
        let mut opts = AnyPoolOptions::new().max_connections(match backend {
            Backend::Sqlite => 8,
            Backend::Postgres => 16,
        });
        if backend == Backend::Sqlite {
            opts = opts.after_connect(|conn, _| {
                Box::pin(async move {
                    // WAL: readers never wait for the writer; FULL: a
                    // commit survives a power cut.
                    sqlx::query("PRAGMA journal_mode = WAL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA synchronous = FULL")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA busy_timeout = 10000")
                        .execute(&mut *conn)
                        .await?;
                    sqlx::query("PRAGMA foreign_keys = ON")
                        .execute(&mut *conn)
                        .await?;
                    Ok(())
                })
            });
        }
        let pool = opts.connect(&url).await?;
        MIGRATOR.run(&pool).await?;
        Ok(Store {
            pool,
            backend,
            write_lock: Arc::new(Mutex::new(())),
        })
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The pool, for queries in this crate.
    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    /// Close the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    async fn write_guard(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match self.backend {
            Backend::Sqlite => Some(self.write_lock.lock().await),
            Backend::Postgres => None,
        }
    }

    /// The blob key of a stored report of (machine, record), if any.
    pub async fn find_report(
        &self,
        machine: &str,
        record_id: &str,
    ) -> Result<Option<(String, Option<String>)>> {
        let row =
            sqlx::query("SELECT id, blob_key FROM reports WHERE machine = $1 AND record_id = $2")
                .bind(machine)
                .bind(record_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(match row {
            Some(r) => Some((r.try_get(0)?, r.try_get(1)?)),
            None => None,
        })
    }

    /// Insert a report and its bucket in one transaction; a report that
    /// already exists (same machine and record) changes nothing.
    pub async fn insert_report(&self, r: &NewReport) -> Result<Inserted> {
        let _g = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO buckets (id, signature, title, kind, created_at) VALUES ($1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&r.bucket_id)
        .bind(&r.signature)
        .bind(&r.title)
        .bind(&r.kind)
        .bind(r.received_at)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(
            "INSERT INTO reports (id, bucket_id, machine, record_id, received_at, crash_time, \
             kernel_release, source, title, kind, signature_hash, client_title, client_kind, \
             client_signature_hash, token_name, log, report_line, blob_key, blob_bytes) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&r.id)
        .bind(&r.bucket_id)
        .bind(&r.machine)
        .bind(&r.record_id)
        .bind(r.received_at)
        .bind(r.crash_time)
        .bind(&r.release)
        .bind(&r.source)
        .bind(&r.title)
        .bind(&r.kind)
        .bind(&r.bucket_id)
        .bind(&r.client_title)
        .bind(&r.client_kind)
        .bind(&r.client_signature_hash)
        .bind(&r.token_name)
        .bind(&r.log)
        .bind(r.report_line)
        .bind(&r.blob_key)
        .bind(r.blob_bytes)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.rollback().await?;
            let stored = self.find_report(&r.machine, &r.record_id).await?;
            return Ok(Inserted::Duplicate {
                blob_key: stored.and_then(|(_, k)| k),
            });
        }
        tx.commit().await?;
        Ok(Inserted::New)
    }

    /// The name of the active token with this SHA-256 hash.
    pub async fn token_by_hash(&self, hash: &str) -> Result<Option<String>> {
        let row = sqlx::query("SELECT name FROM tokens WHERE hash = $1 AND revoked_at IS NULL")
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(match row {
            Some(r) => Some(r.try_get(0)?),
            None => None,
        })
    }

    /// Add a token by name and hash; a revoked token of the same name is
    /// replaced.
    pub async fn add_token(&self, name: &str, hash: &str, now: i64) -> Result<()> {
        let _g = self.write_guard().await;
        let mut tx = self.pool.begin().await?;
        let row = sqlx::query("SELECT revoked_at FROM tokens WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *tx)
            .await?;
        if let Some(row) = row {
            let revoked: Option<i64> = row.try_get(0)?;
            if revoked.is_none() {
                return Err(Error::TokenExists(name.to_string()));
            }
            sqlx::query("DELETE FROM tokens WHERE name = $1")
                .bind(name)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("INSERT INTO tokens (name, hash, created_at) VALUES ($1, $2, $3)")
            .bind(name)
            .bind(hash)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// All tokens, by name.
    pub async fn list_tokens(&self) -> Result<Vec<TokenInfo>> {
        let rows = sqlx::query("SELECT name, created_at, revoked_at FROM tokens ORDER BY name")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                Ok(TokenInfo {
                    name: r.try_get(0)?,
                    created_at: r.try_get(1)?,
                    revoked_at: r.try_get(2)?,
                })
            })
            .collect()
    }

    /// Revoke the active token of this name.
    pub async fn revoke_token(&self, name: &str, now: i64) -> Result<()> {
        let _g = self.write_guard().await;
        let done =
            sqlx::query("UPDATE tokens SET revoked_at = $1 WHERE name = $2 AND revoked_at IS NULL")
                .bind(now)
                .bind(name)
                .execute(&self.pool)
                .await?;
        if done.rows_affected() == 0 {
            return Err(Error::NoSuchToken(name.to_string()));
        }
        Ok(())
    }

    /// Reports received before `cutoff` that still hold a bundle: (id, key).
    pub async fn expired_blobs(&self, cutoff: i64) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query(
            "SELECT id, blob_key FROM reports WHERE received_at < $1 AND blob_key IS NOT NULL ORDER BY received_at",
        )
        .bind(cutoff)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect()
    }

    /// Forget a report's raw data (bundle key and log); its summary row,
    /// and so every statistic, stays.
    pub async fn drop_raw(&self, report_id: &str) -> Result<()> {
        let _g = self.write_guard().await;
        sqlx::query(
            "UPDATE reports SET blob_key = NULL, blob_bytes = NULL, log = NULL WHERE id = $1",
        )
        .bind(report_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
