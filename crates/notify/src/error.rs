//! Errors of the notification paths.

use std::path::PathBuf;

/// Why an announcement could not be made.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// A journal field name breaks journald's rules (uppercase ASCII
    /// letters, digits and `_`, not starting with a digit or `_`, at most
    /// 64 bytes).
    #[error("invalid journal field name {0:?}")]
    FieldName(String),
    /// The journal socket does not exist (no journald on this system).
    #[error("no journal socket at {}", .0.display())]
    NoJournal(PathBuf),
    /// Sending the datagram failed.
    #[error("sending to the journal socket {}: {source}", path.display())]
    JournalSend {
        /// The socket.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// Reading logind's state failed.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// What was read.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// A helper program could not be started.
    #[error("running {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The error.
        source: std::io::Error,
    },
    /// The `Notify` call failed on a user's bus.
    #[error("notification for {user} (uid {uid}) failed: {message}")]
    Desktop {
        /// User name.
        user: String,
        /// User id.
        uid: u32,
        /// What the bus or busctl said.
        message: String,
    },
}
