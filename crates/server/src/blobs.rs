//! Bundle blobs: the raw `.tar.gz` of each report, in a directory or in
//! S3-compatible object storage. Keys are made by the server
//! (`<report id>-<12 hex of the bundle's SHA-256>.tar.gz`), never by clients.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::path::Path as ObjPath;
use object_store::ObjectStore;

use crate::error::{Error, Result};

/// Where bundles are kept.
#[derive(Clone)]
pub enum Blobs {
    /// A local directory (created when missing).
    Dir(PathBuf),
    /// An S3-compatible bucket and key prefix.
    S3 {
        /// The store.
        store: Arc<dyn ObjectStore>,
        /// Prefix of every key.
        prefix: String,
    },
}

impl std::fmt::Debug for Blobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Blobs::Dir(d) => write!(f, "Blobs::Dir({})", d.display()),
            Blobs::S3 { prefix, .. } => write!(f, "Blobs::S3({prefix})"),
        }
    }
}

fn io<'a>(op: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Io {
        op,
        path: path.to_path_buf(),
        source,
    }
}

/// Keys are server-made; refuse anything else so a stored key can never
/// name a file outside the blob directory.
fn check_key(key: &str) -> Result<()> {
    let ok = !key.is_empty()
        && key.len() <= 128
        && !key.starts_with('.')
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::Config(format!("bad blob key {key:?}")))
    }
}

impl Blobs {
    /// Open a blob location: `s3://bucket/prefix` (credentials, region and
    /// endpoint from the usual `AWS_*` environment variables, e.g.
    /// `AWS_ENDPOINT_URL` for a non-AWS server), or a directory.
    pub fn open(spec: &str) -> Result<Blobs> {
        if let Some(rest) = spec.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(Error::Config(format!("no bucket in {spec:?}")));
            }
            let mut b = object_store::aws::AmazonS3Builder::from_env().with_bucket_name(bucket);
            if let Ok(endpoint) = std::env::var("AWS_ENDPOINT_URL") {
                let http = endpoint.starts_with("http://");
                b = b.with_endpoint(endpoint).with_allow_http(http);
            }
            let store = b.build()?;
            Ok(Blobs::S3 {
                store: Arc::new(store),
                prefix: prefix.trim_matches('/').to_string(),
            })
        } else {
            let dir = PathBuf::from(spec.strip_prefix("file://").unwrap_or(spec));
            std::fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
            Ok(Blobs::Dir(dir))
        }
    }

    fn obj_path(prefix: &str, key: &str) -> ObjPath {
        if prefix.is_empty() {
            ObjPath::from(key)
        } else {
            ObjPath::from(format!("{prefix}/{key}"))
        }
    }

    /// Store `data` under `key` durably: a file is written under a
    /// temporary name, fsynced, renamed and its directory fsynced; an
    /// object PUT is atomic.
    pub async fn put(&self, key: &str, data: bytes::Bytes) -> Result<()> {
        check_key(key)?;
        match self {
            Blobs::Dir(dir) => {
                let dir = dir.clone();
                let key = key.to_string();
                tokio::task::spawn_blocking(move || write_durable(&dir, &key, &data))
                    .await
                    .map_err(|e| Error::Config(format!("blob writer task failed: {e}")))?
            }
            Blobs::S3 { store, prefix } => {
                store.put(&Self::obj_path(prefix, key), data.into()).await?;
                Ok(())
            }
        }
    }

    /// Read a blob; `None` when it does not exist.
    pub async fn get(&self, key: &str) -> Result<Option<bytes::Bytes>> {
        check_key(key)?;
        match self {
            Blobs::Dir(dir) => {
                let p = dir.join(key);
                match tokio::fs::read(&p).await {
                    Ok(v) => Ok(Some(v.into())),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(io("reading", &p)(e)),
                }
            }
            Blobs::S3 { store, prefix } => match store.get(&Self::obj_path(prefix, key)).await {
                Ok(r) => Ok(Some(r.bytes().await?)),
                Err(object_store::Error::NotFound { .. }) => Ok(None),
                Err(e) => Err(e.into()),
            },
        }
    }

    /// Remove a blob; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        check_key(key)?;
        match self {
            Blobs::Dir(dir) => {
                let p = dir.join(key);
                match tokio::fs::remove_file(&p).await {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io("removing", &p)(e)),
                }
            }
            Blobs::S3 { store, prefix } => match store.delete(&Self::obj_path(prefix, key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e.into()),
            },
        }
    }
}

fn write_durable(dir: &Path, key: &str, data: &[u8]) -> Result<()> {
    let path = dir.join(key);
    // A unique temporary name: two uploads of the same bundle may race.
    let tmp = dir.join(format!(
        ".{key}.{}.{}.part",
        std::process::id(),
        rand::random::<u64>()
    ));
    let res = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io("creating", &tmp))?;
        f.write_all(data).map_err(io("writing", &tmp))?;
        f.sync_all().map_err(io("syncing", &tmp))?;
        std::fs::rename(&tmp, &path).map_err(io("renaming", &tmp))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io("syncing", dir))
    })();
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}
