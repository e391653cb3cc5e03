//! Server settings.

use std::net::SocketAddr;
use std::time::Duration;

/// Default cap on an uploaded bundle (compressed).
pub const DEFAULT_MAX_UPLOAD: u64 = 16 << 20;
/// Default cap on a bundle's unpacked size.
pub const DEFAULT_MAX_UNPACKED: u64 = 64 << 20;
/// Default upload budget of one token per minute: far above what one
/// machine sends (the client allows itself 32 reports a day), low enough
/// that a leaked token cannot fill the disk quickly.
pub const DEFAULT_TOKEN_PER_MINUTE: u32 = 600;
/// Default database: one SQLite file.
pub const DEFAULT_DB: &str = "sqlite:///var/lib/panicdump-server/db.sqlite";
/// Default blob directory.
pub const DEFAULT_BLOBS: &str = "/var/lib/panicdump-server/blobs";

/// How the server runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// `sqlite://PATH` or `postgres://...`.
    pub db: String,
    /// A directory, or `s3://bucket/prefix`.
    pub blobs: String,
    /// Cap on an upload's compressed size (413 above).
    pub max_upload: u64,
    /// Cap on a bundle's unpacked size (413 above).
    pub max_unpacked: u64,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
    /// Time a client has to send a whole request body.
    pub body_timeout: Duration,
    /// drm_panic reports accepted per client address and minute.
    pub drm_per_minute: u32,
    /// Uploads accepted per client token and minute (0: unlimited).
    pub token_per_minute: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: DEFAULT_DB.to_string(),
            blobs: DEFAULT_BLOBS.to_string(),
            max_upload: DEFAULT_MAX_UPLOAD,
            max_unpacked: DEFAULT_MAX_UNPACKED,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            drm_per_minute: 10,
            token_per_minute: DEFAULT_TOKEN_PER_MINUTE,
        }
    }
}
